//! Any JSON as the spec of every mesh configuration kind `meshtop meshconfig` explains,
//! beside a few pods and Services: a summary and warnings, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::mesh::meshconfig::{Inventory, KINDS, MeshObject, explain};
use meshtop::model::{PodInfo, ServiceInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let objects: Vec<MeshObject> = KINDS
        .iter()
        .map(|k| MeshObject {
            group: k.group.into(),
            kind: k.kind.into(),
            namespace: "ns".into(),
            name: "fuzz.ns.svc.cluster.local".into(),
            spec: spec.clone(),
        })
        .collect();
    let pods = vec![PodInfo {
        namespace: "ns".into(),
        name: "p".into(),
        labels: [("app".to_string(), "fuzz".to_string())].into(),
        ..PodInfo::default()
    }];
    let services = vec![ServiceInfo {
        namespace: "ns".into(),
        name: "fuzz".into(),
        selector: [("app".to_string(), "fuzz".to_string())].into(),
        ..ServiceInfo::default()
    }];
    // Read everywhere, then as if only namespace "ns" had been read (-n).
    let only = ["ns".to_string()];
    for read in [None, Some(&only[..])] {
        let out = explain(&Inventory {
            pods: &pods,
            services: &services,
            objects: &objects,
            istio_root: "ns",
            read,
            pods_read: true,
            services_read: true,
        });
        assert_eq!(out.len(), objects.len());
    }
});

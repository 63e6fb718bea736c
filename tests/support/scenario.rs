//! A fixed, realistic cluster as a list of updates: two meshes' control planes (one
//! degraded), meshed and unmeshed namespaces, ambient pods, a pod missing its proxy and a
//! namespace forbidden by RBAC. Pods go through the same `pod_info` conversion as live ones.

use k8s_openapi::api::core::v1::Pod;
use meshtop::app::{Stamped, Update};
use meshtop::mesh::detect::WorkloadInfo;
use meshtop::metrics::golden::{Dialect, Totals};
use meshtop::model::{ClusterInfo, ContainerUsage, ErrorKind, NamespaceInfo, PodUsage, Resource};
use meshtop::source::kube::pod_info;

pub const T0: i64 = 1_790_000_000_000;

/// The resources the scenario lists (and finishes listing).
const LISTED: [Resource; 5] = [
    Resource::Namespaces,
    Resource::Pods,
    Resource::Deployments,
    Resource::DaemonSets,
    Resource::Crds,
];

fn ns(name: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Update {
    Update::NamespaceApplied {
        namespace: NamespaceInfo {
            name: name.into(),
            phase: "Active".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            created: Some(T0 - 86_400_000 * 3),
        },
    }
}

fn workload(
    kind: &str,
    ns: &str,
    name: &str,
    labels: &[(&str, &str)],
    ready: u32,
    desired: u32,
    image: &str,
) -> Update {
    Update::WorkloadApplied {
        workload: WorkloadInfo {
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ready,
            desired,
            images: vec![image.into()],
            created: Some(T0 - 86_400_000 * 2),
        },
    }
}

/// A Running pod from a compact YAML spec; `ip_last` is the last octet of 10.77.16.x.
fn pod(yaml_meta: &str, containers: &str, ip_last: u8, age_s: i64) -> Update {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n{yaml_meta}\n  creationTimestamp: \"{}\"\nspec:\n  nodeName: kwok-node-0\n{containers}\nstatus:\n  phase: Running\n  podIP: 10.77.16.{ip_last}\n",
        jiff::Timestamp::from_millisecond(T0 - age_s * 1000).unwrap()
    );
    let mut p: Pod = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
    // Every container ready.
    let spec = p.spec.as_ref().unwrap();
    let names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let st = p.status.as_mut().unwrap();
    st.container_statuses = Some(
        names
            .into_iter()
            .map(|name| k8s_openapi::api::core::v1::ContainerStatus {
                name,
                ready: true,
                ..Default::default()
            })
            .collect(),
    );
    Update::PodApplied { pod: pod_info(&p) }
}

const APP: &str = "  containers:\n  - {name: app, image: example/app:1.0}";
const ISTIO_SIDECAR: &str = "  containers:\n  - {name: app, image: example/app:1.0}\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}";
const LINKERD_SIDECAR: &str = "  containers:\n  - {name: app, image: example/app:1.0}\n  - {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10}";

/// One pod's metrics-server reading: (container, millicores, bytes) each.
pub fn usage(ns: &str, pod: &str, c: &[(&str, f64, u64)]) -> PodUsage {
    PodUsage {
        namespace: ns.into(),
        name: pod.into(),
        timestamp: None,
        window_s: Some(15.0),
        containers: c
            .iter()
            .map(|(n, cpu, mem)| ContainerUsage {
                name: n.to_string(),
                cpu_millicores: *cpu,
                memory_bytes: *mem,
            })
            .collect(),
    }
}

pub fn updates() -> Vec<Stamped> {
    let mut u = vec![
        Update::Connected {
            cluster: ClusterInfo {
                context: "meshtop-testbed".into(),
                cluster: "meshtop-testbed".into(),
                server: "https://127.0.0.1:26443".into(),
                version: "v1.34.4".into(),
                namespace: "shop".into(),
                named_namespaces: Vec::new(),
            },
        },
        Update::ApiLatency { millis: 3 },
    ];
    for r in LISTED {
        u.push(Update::ListStarted {
            seen: Vec::new(),
            resource: r,
            namespace: None,
        });
    }
    u.extend([
        ns("istio-system", &[], &[]),
        ns("linkerd", &[("linkerd.io/is-control-plane", "true")], &[]),
        ns("bookinfo", &[("istio-injection", "enabled")], &[]),
        ns("emojivoto", &[], &[("linkerd.io/inject", "enabled")]),
        ns("ambient-demo", &[("istio.io/dataplane-mode", "ambient")], &[]),
        ns("legacy", &[("istio-injection", "enabled")], &[]),
        ns("default", &[], &[]),
        workload("Deployment", "istio-system", "istiod", &[("app", "istiod"), ("istio.io/rev", "default")], 1, 1, "docker.io/istio/pilot:1.24.0"),
        workload("DaemonSet", "istio-system", "ztunnel", &[("app", "ztunnel")], 2, 2, "docker.io/istio/ztunnel:1.24.0"),
        workload("Deployment", "linkerd", "linkerd-destination", &[("linkerd.io/control-plane-component", "destination")], 1, 1, "cr.l5d.io/linkerd/controller:stable-2.14.10"),
        workload("Deployment", "linkerd", "linkerd-identity", &[("linkerd.io/control-plane-component", "identity")], 1, 1, "cr.l5d.io/linkerd/controller:stable-2.14.10"),
        workload("Deployment", "linkerd", "linkerd-proxy-injector", &[("linkerd.io/control-plane-component", "proxy-injector")], 0, 1, "cr.l5d.io/linkerd/controller:stable-2.14.10"),
        Update::CrdApplied { name: "virtualservices.networking.istio.io".into(), group: "networking.istio.io".into() },
        Update::CrdApplied { name: "servers.policy.linkerd.io".into(), group: "policy.linkerd.io".into() },
        pod("  name: istiod-7d4b9c-x1\n  namespace: istio-system\n  labels: {app: istiod, istio.io/rev: default, pod-template-hash: 7d4b9c}\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: istiod-7d4b9c, uid: a, controller: true}]", "  containers:\n  - {name: discovery, image: docker.io/istio/pilot:1.24.0}", 2, 7200),
        pod("  name: ztunnel-abcde\n  namespace: istio-system\n  labels: {app: ztunnel}\n  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: ztunnel, uid: b, controller: true}]", "  containers:\n  - {name: istio-proxy, image: docker.io/istio/ztunnel:1.24.0}", 3, 7100),
        pod("  name: productpage-v1-5d7f-q2\n  namespace: bookinfo", ISTIO_SIDECAR, 10, 600),
        pod("  name: reviews-v2-8c9d-k7\n  namespace: bookinfo", ISTIO_SIDECAR, 11, 590),
        pod("  name: ratings-v1-6f5c-z9\n  namespace: ambient-demo\n  annotations: {ambient.istio.io/redirection: enabled}", APP, 12, 300),
        pod("  name: linkerd-destination-6c8-d1\n  namespace: linkerd\n  labels: {linkerd.io/control-plane-component: destination, pod-template-hash: 6c8}\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: linkerd-destination-6c8, uid: c, controller: true}]", LINKERD_SIDECAR, 20, 7000),
        pod("  name: web-5f86-58p7k\n  namespace: emojivoto\n  annotations: {linkerd.io/proxy-version: stable-2.14.10}", LINKERD_SIDECAR, 21, 45),
        pod("  name: vote-bot-7d8f-jq2ht\n  namespace: emojivoto\n  annotations: {linkerd.io/proxy-version: stable-2.14.10}", LINKERD_SIDECAR, 22, 40),
        pod("  name: old-batch-job\n  namespace: legacy", APP, 30, 90_000),
        pod("  name: toolbox\n  namespace: default", APP, 31, 120),
    ]);
    for r in LISTED {
        u.push(Update::ListDone {
            resource: r,
            namespace: None,
        });
    }
    const MI: u64 = 1024 * 1024;
    u.push(Update::PodUsage {
        usages: vec![
            usage(
                "bookinfo",
                "productpage-v1-5d7f-q2",
                &[("app", 120.4, 96 * MI), ("istio-proxy", 31.2, 48 * MI)],
            ),
            usage(
                "bookinfo",
                "reviews-v2-8c9d-k7",
                &[("app", 80.0, 256 * MI), ("istio-proxy", 25.0, 44 * MI)],
            ),
            usage(
                "emojivoto",
                "web-5f86-58p7k",
                &[("app", 12.0, 20 * MI), ("linkerd-proxy", 3.0, 12 * MI)],
            ),
            usage("istio-system", "ztunnel-abcde", &[("istio-proxy", 8.0, 30 * MI)]),
            usage("default", "toolbox", &[("app", 1.0, 5 * MI)]),
        ],
        origin: meshtop::model::UsageOrigin::MetricsServer,
    });
    u.push(Update::SourceError {
        resource: Resource::Pods,
        namespace: Some("secret-team".into()),
        kind: ErrorKind::Forbidden,
        message: "pods is forbidden: User \"viewer\" cannot list resource \"pods\" in the namespace \"secret-team\""
            .into(),
    });
    let mut out: Vec<Stamped> = u.into_iter().map(|update| Stamped { at: T0, update }).collect();
    // Two scrapes of productpage's proxy 10 s apart: 1,000 requests, 5 of them 5xx, over mTLS.
    let totals = |requests: f64, successes: f64, buckets: &[(f64, f64)]| Totals {
        requests,
        successes,
        mtls_requests: requests,
        latency_ms: buckets.to_vec(),
        ..Totals::default()
    };
    // Its calls to reviews: 600 in the window, 20 of them failed, p99 within 50 ms.
    let scraped = |t: Totals, calls: Totals| Update::ProxyScraped {
        namespace: "bookinfo".into(),
        pod: "productpage-v1-5d7f-q2".into(),
        dialect: Dialect::Istio,
        inbound: Totals {
            tcp_open_connections: 12.0,
            ..t
        },
        outbound: calls.clone(),
        edges: [("reviews.bookinfo.svc.cluster.local".to_string(), calls)].into(),
        described: Default::default(),
        // One series over a limit: the pod's detail says what was not read.
        bad_lines: 1,
        first_bad_line: Some("line 4812: a label value longer than 16 KiB".into()),
    };
    let calls_before = totals(
        2000.0,
        1990.0,
        &[(25.0, 1900.0), (50.0, 2000.0), (f64::INFINITY, 2000.0)],
    );
    let calls_after = totals(
        2600.0,
        2570.0,
        &[(25.0, 2400.0), (50.0, 2600.0), (f64::INFINITY, 2600.0)],
    );
    let before = totals(
        4000.0,
        3990.0,
        &[(5.0, 3000.0), (10.0, 3900.0), (25.0, 3990.0), (f64::INFINITY, 4000.0)],
    );
    let after = totals(
        5000.0,
        4985.0,
        &[(5.0, 3700.0), (10.0, 4800.0), (25.0, 4985.0), (f64::INFINITY, 5000.0)],
    );
    out.insert(
        0,
        Stamped {
            at: T0 - 10_000,
            update: scraped(before, calls_before),
        },
    );
    out.push(Stamped {
        at: T0,
        update: scraped(after, calls_after),
    });
    out
}

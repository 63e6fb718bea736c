//! Per-mesh knowledge. Detection rules are data (`rules/*.toml`, one file per mesh):
//! workloads, sidecars, injection, metrics ports and paths, the proxies' metric dialect,
//! the labels that configure the mesh and where its Prometheus lives. `detect` applies
//! them. Adding a mesh means adding a rules file and an enum value.

pub mod detect;
pub mod meshconfig;
pub mod rules;

use serde::{Deserialize, Serialize};

/// Prometheus Service names meshes and common charts install.
pub const PROMETHEUS_SERVICES: &[&str] = &[
    "prometheus",
    "prometheus-server",
    "prometheus-k8s",
    "prometheus-operated",
    "kube-prometheus-stack-prometheus",
];

/// Where a cluster-wide Prometheus usually lives, after the meshes' own namespaces.
const SHARED_PROMETHEUS_NAMESPACES: &[&str] = &["monitoring", "prometheus", "kube-system"];

/// Namespaces to look for Prometheus in, most likely first: each mesh's, then shared ones.
pub fn prometheus_namespaces() -> Vec<&'static str> {
    rules::all()
        .iter()
        .flat_map(|r| r.prometheus_namespaces.iter().map(String::as_str))
        .chain(SHARED_PROMETHEUS_NAMESPACES.iter().copied())
        .collect()
}

/// Label and annotation prefixes that are not any one mesh's but matter to it.
const SHARED_KEY_PREFIXES: &[&str] = &["prometheus.io/", "gateway.networking.k8s.io/"];

/// Whether a label or annotation configures a mesh, injection or scraping.
pub fn is_mesh_key(key: &str) -> bool {
    SHARED_KEY_PREFIXES.iter().any(|p| key.starts_with(p))
        || rules::all()
            .iter()
            .any(|r| r.key_prefixes.iter().any(|p| key.starts_with(p.as_str())))
}

/// The metric dialect of a mesh's proxies, when the mesh alone says it.
pub fn dialect(mesh: Option<Mesh>) -> Option<crate::model::Dialect> {
    let mesh = mesh?;
    rules::all().iter().find(|r| r.mesh == mesh)?.dialect
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mesh {
    Istio,
    Linkerd,
    Consul,
    Kuma,
    Cilium,
    Osm,
    Traefik,
    Nginx,
}

impl Mesh {
    pub fn as_str(self) -> &'static str {
        match self {
            Mesh::Istio => "istio",
            Mesh::Linkerd => "linkerd",
            Mesh::Consul => "consul",
            Mesh::Kuma => "kuma",
            Mesh::Cilium => "cilium",
            Mesh::Osm => "osm",
            Mesh::Traefik => "traefik",
            Mesh::Nginx => "nginx",
        }
    }
}

/// How a pod's traffic reaches the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// A proxy container in the pod.
    Sidecar,
    /// Istio ambient: redirected to the node's ztunnel; no proxy in the pod.
    Ambient,
    /// The pod *is* a per-node proxy (ztunnel, cilium-envoy, traefik-mesh-proxy).
    Node,
    /// The pod is a mesh gateway or waypoint.
    Gateway,
    None,
}

impl Model {
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Sidecar => "sidecar",
            Model::Ambient => "ambient",
            Model::Node => "node",
            Model::Gateway => "gateway",
            Model::None => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dialect;

    #[test]
    fn per_mesh_facts_come_from_the_rules() {
        assert_eq!(dialect(Some(Mesh::Istio)), Some(Dialect::Istio));
        assert_eq!(dialect(Some(Mesh::Linkerd)), Some(Dialect::Linkerd));
        assert_eq!(dialect(Some(Mesh::Kuma)), Some(Dialect::Envoy));
        assert_eq!(dialect(Some(Mesh::Cilium)), None);
        assert_eq!(dialect(None), None);
        assert!(is_mesh_key("sidecar.istio.io/status"));
        assert!(is_mesh_key("config.linkerd.io/proxy-cpu-limit"));
        assert!(is_mesh_key("prometheus.io/scrape"));
        assert!(!is_mesh_key("app.kubernetes.io/name"));
        let ns = prometheus_namespaces();
        assert_eq!(&ns[..3], ["istio-system", "linkerd-viz", "linkerd"]);
        assert_eq!(ns.last(), Some(&"kube-system"));
    }
}

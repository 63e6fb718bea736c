//! Per-mesh knowledge. Detection rules are data (`rules/*.toml`, one file per mesh);
//! `detect` applies them. Adding a mesh means adding a rules file and an enum value.

pub mod detect;
pub mod rules;

use serde::{Deserialize, Serialize};

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

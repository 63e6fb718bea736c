//! Domain types with no I/O. Sources convert API objects into these, so the fold,
//! the views and recordings never depend on the Kubernetes client types.

pub mod access;
pub mod bench;
pub mod sweep;
pub mod tap;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. Plain integers keep updates serialisable and
/// comparable. The same clock as the load generator's, so its times need no conversion.
pub use loadgen::{UnixMillis, now_millis};

/// What meshtop is connected to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// kubeconfig context name, or "in-cluster".
    pub context: String,
    /// Cluster name from the kubeconfig (or the server URL when unnamed).
    pub cluster: String,
    pub server: String,
    /// `gitVersion` reported by `/version`.
    pub version: String,
    /// The context's namespace (`default` when it names none): what a command without `-n`
    /// means, as in kubectl. Empty in recordings made before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The namespaces named with `-n` (or the config), when any: a user who may not read
    /// Namespace objects still sees these listed, their labels unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_namespaces: Vec<String>,
}

impl ClusterInfo {
    /// The namespace a command without `-n` means.
    pub fn default_namespace(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    pub phase: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub created: Option<UnixMillis>,
}

/// An aggregated API registration (e.g. `v1alpha1.tap.linkerd.io`, `v1beta1.metrics.k8s.io`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiServiceInfo {
    pub name: String,
    pub group: String,
    /// `namespace/name` of the backing Service; None for APIs served by kube-apiserver itself.
    pub service: Option<String>,
    pub available: bool,
    /// The Available condition's message when not available.
    pub message: Option<String>,
}

/// A Service, for benchmark targets: how to reach it from inside and outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    /// ClusterIP, NodePort, LoadBalancer or ExternalName.
    pub kind: String,
    /// None for headless services.
    pub cluster_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Load-balancer ingress addresses (IP or hostname).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: i32,
    pub node_port: Option<i32>,
    pub protocol: String,
}

/// A pod as meshtop needs it: enough of the spec to classify its mesh, and its status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub phase: String,
    /// Ready containers / all containers (regular containers plus native sidecars).
    pub ready: u32,
    pub containers: u32,
    pub restarts: u32,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub created: Option<UnixMillis>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers_info: Vec<ContainerInfo>,
    /// The controlling workload; a ReplicaSet is resolved to its Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerRef>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
}

/// Where a container sits in the pod spec. Native sidecars are init containers with
/// `restartPolicy: Always`; mesh proxies run that way in recent Istio and Linkerd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    Main,
    Init,
    NativeSidecar,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub name: String,
    pub image: String,
    pub kind: ContainerKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortInfo>,
    pub ready: bool,
    pub restarts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    pub name: Option<String>,
    pub port: u16,
}

impl ContainerInfo {
    /// The image tag, e.g. `1.22.1` of `docker.io/istio/proxyv2:1.22.1`; digests are ignored.
    pub fn image_tag(&self) -> Option<&str> {
        image_tag(&self.image)
    }
}

/// The tag of an image reference, e.g. `1.22.1` of `docker.io/istio/proxyv2:1.22.1`.
/// Digests are ignored; a registry port (`host:5000/img`) is not a tag.
pub fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, t)| t).filter(|t| !t.is_empty())
}

impl PodInfo {
    pub fn key(&self) -> (String, String) {
        (self.namespace.clone(), self.name.clone())
    }
}

/// How a proxy names its request metrics (a fact of the mesh rules, read by `metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// `istio_requests_total`, `istio_request_duration_milliseconds` (Envoy in Istio, waypoints).
    Istio,
    /// linkerd2-proxy: `response_total`, `response_latency_ms`, `tcp_open_connections`.
    Linkerd,
    /// Plain Envoy stats: `envoy_cluster_upstream_rq_*` per cluster.
    Envoy,
    /// Cilium's Hubble (`hubble_http_*`, httpV2 with workload labels): the node's view of
    /// every workload's HTTP, `reporter="server"` and `"client"`.
    Hubble,
    /// Traefik (Traefik Mesh's per-node proxy): `traefik_service_*` and `traefik_entrypoint_*`.
    Traefik,
}

/// Which resource a source watches or lists, used to attribute errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cluster,
    Namespaces,
    Pods,
    Deployments,
    DaemonSets,
    StatefulSets,
    Crds,
    ApiServices,
    Services,
    /// metrics.k8s.io PodMetrics (CPU and memory per container).
    PodMetrics,
    /// Direct scrapes of proxy metrics endpoints (errors are per pod: `namespace/pod`).
    ProxyScrape,
    /// PromQL queries to a Prometheus server (golden signals, cAdvisor usage).
    Prometheus,
    /// Linkerd's tap API (tap.linkerd.io, through the aggregation layer).
    Tap,
    /// Container logs (Envoy access logs for tap).
    Logs,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Cluster => "cluster",
            Resource::Namespaces => "namespaces",
            Resource::Pods => "pods",
            Resource::Deployments => "deployments",
            Resource::DaemonSets => "daemonsets",
            Resource::StatefulSets => "statefulsets",
            Resource::Crds => "customresourcedefinitions",
            Resource::ApiServices => "apiservices",
            Resource::Services => "services",
            Resource::PodMetrics => "pod metrics",
            Resource::ProxyScrape => "proxy scrape",
            Resource::Prometheus => "prometheus",
            Resource::Tap => "tap",
            Resource::Logs => "pod logs",
        }
    }
}

/// Why a source could not deliver. Kept coarse so the status line can say *why* in a few words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The API answered 403.
    Forbidden,
    /// The API server could not be reached (connect error, timeout, TLS).
    Unreachable,
    /// Anything else the API returned.
    Api,
    /// The source itself panicked; it restarts after a backoff.
    Crashed,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Api => "error",
            ErrorKind::Crashed => "crashed",
        }
    }
}

/// CPU and memory of one container, from metrics.k8s.io.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerUsage {
    pub name: String,
    pub cpu_millicores: f64,
    pub memory_bytes: u64,
}

/// Where CPU and memory figures come from. metrics-server is preferred (it is what
/// `kubectl top` shows); cAdvisor series from Prometheus fill in when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageOrigin {
    #[default]
    MetricsServer,
    Cadvisor,
}

impl UsageOrigin {
    pub fn label(self) -> &'static str {
        match self {
            UsageOrigin::MetricsServer => "metrics-server",
            UsageOrigin::Cadvisor => "cAdvisor via Prometheus",
        }
    }
}

/// One pod's usage sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodUsage {
    pub namespace: String,
    pub name: String,
    /// When metrics-server measured it, and over how long.
    pub timestamp: Option<String>,
    pub window_s: Option<f64>,
    pub containers: Vec<ContainerUsage>,
}

/// A bounded ring buffer of samples: memory stays flat however long meshtop runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    values: std::collections::VecDeque<f64>,
}

impl Series {
    /// 10 minutes at one sample every 5 s.
    pub const CAPACITY: usize = 120;

    pub fn push(&mut self, v: f64) {
        if self.values.len() == Self::CAPACITY {
            self.values.pop_front();
        }
        self.values.push_back(v);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn last(&self) -> Option<f64> {
        self.values.back().copied()
    }

    /// The newest `n` samples, oldest first.
    /// (A series also collects from an iterator, keeping the newest `CAPACITY`.)
    pub fn tail(&self, n: usize) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().skip(self.values.len().saturating_sub(n)).copied()
    }
}

impl FromIterator<f64> for Series {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = Series::default();
        for v in iter {
            s.push(v);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_is_bounded() {
        let mut s = Series::default();
        for i in 0..(Series::CAPACITY + 30) {
            s.push(i as f64);
        }
        assert_eq!(s.len(), Series::CAPACITY);
        assert_eq!(s.last(), Some((Series::CAPACITY + 29) as f64));
        assert_eq!(s.tail(3).collect::<Vec<_>>(), [147.0, 148.0, 149.0]);
        assert_eq!(s.tail(1000).next(), Some(30.0));
    }
}

//! Applies the rules: classifies pods, namespaces' injection settings and control planes.
//! Pure functions over model types, so they are tested on real manifests without a cluster.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::rules::{self, MeshRules, Role, glob};
use super::{Mesh, Model};
use crate::model::{ContainerInfo, ContainerKind, PodInfo, UnixMillis};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyInfo {
    pub container: String,
    pub version: Option<String>,
    pub metrics_port: Option<u16>,
    pub metrics_path: Option<String>,
}

/// What the mesh rules say about one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodMesh {
    pub mesh: Option<Mesh>,
    pub model: Model,
    /// Set when the pod belongs to a mesh's own workloads (control plane, add-on, node proxy, gateway).
    pub role: Option<Role>,
    pub proxy: Option<ProxyInfo>,
    pub revision: Option<String>,
}

impl PodMesh {
    pub const NONE: PodMesh = PodMesh {
        mesh: None,
        model: Model::None,
        role: None,
        proxy: None,
        revision: None,
    };
}

/// The workload a pod belongs to, for matching component rules: (kind, name).
fn workload_of(pod: &PodInfo) -> (&str, &str) {
    match &pod.owner {
        Some(o) => (o.kind.as_str(), o.name.as_str()),
        None => ("Pod", pod.name.as_str()),
    }
}

fn labels_match(want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> bool {
    want.iter()
        .all(|(k, v)| have.get(k).is_some_and(|hv| v == "*" || hv == v))
}

/// What else identifies a component besides its owner: its containers' images and port names.
#[derive(Debug, Default)]
pub struct Seen<'a> {
    pub images: Vec<&'a str>,
    pub port_names: Vec<&'a str>,
}

impl<'a> Seen<'a> {
    pub fn pod(pod: &'a PodInfo) -> Self {
        Seen {
            images: pod.containers_info.iter().map(|c| c.image.as_str()).collect(),
            port_names: pod
                .containers_info
                .iter()
                .flat_map(|c| c.ports.iter().filter_map(|p| p.name.as_deref()))
                .collect(),
        }
    }

    pub fn workload(w: &'a WorkloadInfo) -> Self {
        Seen {
            images: w.images.iter().map(String::as_str).collect(),
            port_names: Vec::new(),
        }
    }
}

/// The first component rule of any mesh matching this workload: by kind, name and labels,
/// or by one of its container images or port names alone.
pub fn match_component<'r>(
    all: &'r [MeshRules],
    kind: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    seen: &Seen<'_>,
) -> Option<(&'r MeshRules, &'r rules::ComponentRule)> {
    all.iter().find_map(|r| {
        r.components
            .iter()
            .find(|c| {
                ((c.kinds.is_empty() || c.kinds.iter().any(|k| k == kind))
                    && c.names.iter().any(|n| glob(n, name))
                    && labels_match(&c.labels, labels))
                    || c.images.iter().any(|g| seen.images.iter().any(|i| glob(g, i)))
                    || c.port_names.iter().any(|n| seen.port_names.contains(&n.as_str()))
            })
            .map(|c| (r, c))
    })
}

fn proxy_container<'p>(pod: &'p PodInfo, names: &[String]) -> Option<&'p ContainerInfo> {
    pod.containers_info
        .iter()
        .find(|c| c.kind != ContainerKind::Init && names.iter().any(|n| n == &c.name))
}

pub fn classify_pod(pod: &PodInfo) -> PodMesh {
    classify_pod_with(rules::all(), pod)
}

pub fn classify_pod_with(all: &[MeshRules], pod: &PodInfo) -> PodMesh {
    let (kind, name) = workload_of(pod);
    // Components first: a ztunnel pod has an `istio-proxy` container but is no sidecar.
    if let Some((r, c)) = match_component(all, kind, name, &pod.labels, &Seen::pod(pod)) {
        let revision = c.revision_key.as_ref().and_then(|k| meta_value(pod, k));
        let sidecar = r
            .sidecar
            .as_ref()
            .and_then(|s| proxy_container(pod, &s.containers).map(|c| (s, c)));
        let (model, proxy) = match (c.role, sidecar) {
            (Role::NodeProxy | Role::Gateway, _) => {
                let container = sidecar
                    .map(|(_, c)| c)
                    .or_else(|| pod.containers_info.iter().find(|c| c.kind == ContainerKind::Main));
                let model = if c.role == Role::NodeProxy {
                    Model::Node
                } else {
                    Model::Gateway
                };
                let proxy = container.map(|ct| ProxyInfo {
                    container: ct.name.clone(),
                    version: ct.image_tag().map(str::to_owned),
                    metrics_port: c.metrics_port,
                    metrics_path: c.metrics_path.clone(),
                });
                (model, proxy)
            }
            // Control-plane pods may be meshed themselves (Linkerd's are).
            (_, Some((s, ct))) => (Model::Sidecar, Some(sidecar_proxy(pod, s, ct))),
            (_, None) => (Model::None, None),
        };
        return PodMesh {
            mesh: Some(r.mesh),
            model,
            role: Some(c.role),
            proxy,
            revision,
        };
    }
    for r in all {
        for g in &r.gateways {
            if pod
                .labels
                .get(&g.label)
                .is_some_and(|v| g.value == "*" || *v == g.value)
            {
                let ct = pod.containers_info.iter().find(|c| c.name == g.container);
                return PodMesh {
                    mesh: Some(r.mesh),
                    model: Model::Gateway,
                    role: Some(Role::Gateway),
                    proxy: ct.map(|ct| ProxyInfo {
                        container: ct.name.clone(),
                        version: ct.image_tag().map(str::to_owned),
                        metrics_port: g.metrics_port,
                        metrics_path: g.metrics_path.clone(),
                    }),
                    revision: None,
                };
            }
        }
    }
    for r in all {
        let Some(s) = &r.sidecar else { continue };
        let Some(ct) = proxy_container(pod, &s.containers) else {
            continue;
        };
        if s.corroborate && !corroborated(pod, s) {
            continue;
        }
        let revision = s.revision_key.as_ref().and_then(|k| meta_value(pod, k));
        return PodMesh {
            mesh: Some(r.mesh),
            model: Model::Sidecar,
            role: None,
            proxy: Some(sidecar_proxy(pod, s, ct)),
            revision,
        };
    }
    for r in all {
        if let Some(a) = &r.ambient
            && pod.annotations.get(&a.pod_annotation) == Some(&a.pod_annotation_value)
        {
            return PodMesh {
                mesh: Some(r.mesh),
                model: Model::Ambient,
                role: None,
                proxy: None,
                revision: None,
            };
        }
    }
    PodMesh::NONE
}

/// A label, or else an annotation, of the pod (Istio puts `istio.io/rev` in either).
fn meta_value(pod: &PodInfo, key: &str) -> Option<String> {
    pod.labels.get(key).or_else(|| pod.annotations.get(key)).cloned()
}

fn corroborated(pod: &PodInfo, s: &rules::SidecarRule) -> bool {
    pod.containers_info
        .iter()
        .any(|c| c.kind == ContainerKind::Init && s.init_containers.contains(&c.name))
        || s.labels.iter().any(|l| pod.labels.contains_key(l))
        || s.annotations.iter().any(|a| pod.annotations.contains_key(a))
}

fn sidecar_proxy(pod: &PodInfo, s: &rules::SidecarRule, ct: &ContainerInfo) -> ProxyInfo {
    let version = s
        .version_annotation
        .as_ref()
        .and_then(|a| pod.annotations.get(a).cloned())
        .or_else(|| ct.image_tag().map(str::to_owned));
    ProxyInfo {
        container: ct.name.clone(),
        version,
        metrics_port: s.metrics_port,
        metrics_path: s.metrics_path.clone(),
    }
}

/// A namespace's injection setting for one mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injection {
    pub mesh: Mesh,
    /// `enabled`, `disabled`, `ambient`, or `rev=<revision>`.
    pub setting: String,
    /// The label or annotation that says so, e.g. `istio-injection=enabled`.
    pub source: String,
}

impl Injection {
    /// Pods in this namespace are expected to carry this mesh's sidecar.
    pub fn expects_sidecar(&self) -> bool {
        self.setting == "enabled" || self.setting.starts_with("rev=")
    }
}

pub fn namespace_injection(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Vec<Injection> {
    let mut out = Vec::new();
    for r in rules::all() {
        if let Some(a) = &r.ambient
            && labels.get(&a.namespace_label) == Some(&a.namespace_label_value)
        {
            out.push(Injection {
                mesh: r.mesh,
                setting: "ambient".into(),
                source: format!("{}={}", a.namespace_label, a.namespace_label_value),
            });
            continue;
        }
        for i in &r.injection {
            let (key, value) = match (&i.label, &i.annotation) {
                (Some(l), _) => (l, labels.get(l)),
                (None, Some(a)) => (a, annotations.get(a)),
                (None, None) => continue,
            };
            let Some(value) = value else { continue };
            let setting = if i.disabled.contains(value) {
                "disabled".to_string()
            } else if i.enabled.iter().any(|e| e == value) {
                "enabled".to_string()
            } else if i.enabled.iter().any(|e| e == "*") {
                format!("rev={value}")
            } else {
                continue;
            };
            out.push(Injection {
                mesh: r.mesh,
                setting,
                source: format!("{key}={value}"),
            });
            break;
        }
    }
    out
}

/// Whether the pod opted out of its namespace's injection.
pub fn opted_out(mesh: Mesh, pod: &PodInfo) -> bool {
    rules::all()
        .iter()
        .filter(|r| r.mesh == mesh)
        .flat_map(|r| &r.opt_out)
        .any(|o| {
            let v = match (&o.label, &o.annotation) {
                (Some(l), _) => pod.labels.get(l),
                (None, Some(a)) => pod.annotations.get(a),
                _ => None,
            };
            v.is_some_and(|v| o.values.contains(v))
        })
}

/// Why a pod that should be in the mesh is not, or None when all is as expected.
pub fn missing_proxy(pod: &PodInfo, class: &PodMesh, injections: &[Injection]) -> Option<String> {
    if pod.host_network || class.role.is_some() || matches!(pod.phase.as_str(), "Succeeded" | "Failed") {
        return None;
    }
    for inj in injections {
        let expected = match inj.setting.as_str() {
            "ambient" => Model::Ambient,
            _ if inj.expects_sidecar() => Model::Sidecar,
            _ => continue,
        };
        // Any proxy at all (another mesh's, or ambient in a sidecar namespace) is a deliberate
        // choice, not a missing injection.
        if class.mesh.is_some() {
            return None;
        }
        if opted_out(inj.mesh, pod) {
            return None;
        }
        return Some(format!(
            "namespace has {} but the pod has no {} {}",
            inj.source,
            inj.mesh.as_str(),
            expected.as_str()
        ));
    }
    None
}

/// A workload (Deployment, DaemonSet, StatefulSet) as discovery needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Pod template labels (what component rules match, as for pods).
    pub labels: BTreeMap<String, String>,
    pub ready: u32,
    pub desired: u32,
    pub images: Vec<String>,
    pub created: Option<UnixMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub kind: String,
    pub name: String,
    pub role: Role,
    pub ready: u32,
    pub desired: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPlane {
    pub mesh: Mesh,
    pub namespace: String,
    pub revision: Option<String>,
    pub version: Option<String>,
    pub components: Vec<Component>,
    pub healthy: bool,
    pub created: Option<UnixMillis>,
}

/// Groups mesh workloads into control planes by (mesh, namespace, revision).
pub fn control_planes<'a>(workloads: impl IntoIterator<Item = &'a WorkloadInfo>) -> Vec<ControlPlane> {
    let all = rules::all();
    // (mesh, namespace, revision) → (components, control-plane images, oldest creation).
    type Group = (Vec<Component>, Vec<String>, Option<UnixMillis>);
    let mut groups: BTreeMap<(Mesh, String, Option<String>), Group> = BTreeMap::new();
    for w in workloads {
        let Some((r, c)) = match_component(all, &w.kind, &w.name, &w.labels, &Seen::workload(w)) else {
            continue;
        };
        // "default" is what a revision-less install is called; components without a
        // revision (ztunnel, istio-cni) belong with it.
        let revision = c
            .revision_key
            .as_ref()
            .and_then(|l| w.labels.get(l).cloned())
            .filter(|r| r != "default");
        let g = groups.entry((r.mesh, w.namespace.clone(), revision)).or_default();
        g.0.push(Component {
            kind: w.kind.clone(),
            name: w.name.clone(),
            role: c.role,
            ready: w.ready,
            desired: w.desired,
        });
        if c.role == Role::Control {
            g.1.extend(w.images.iter().cloned());
        }
        g.2 = match (g.2, w.created) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    // Revision-less components (ztunnel, istio-cni) serve every revision; when a namespace
    // has exactly one revisioned control plane, they are part of it.
    let keys: Vec<_> = groups.keys().cloned().collect();
    for (mesh, ns, rev) in &keys {
        if rev.is_some() {
            continue;
        }
        let revisioned: Vec<_> = keys
            .iter()
            .filter(|(m, n, r)| m == mesh && n == ns && r.is_some())
            .collect();
        if let [only] = revisioned.as_slice()
            && let Some(shared) = groups.remove(&(*mesh, ns.clone(), None))
        {
            let g = groups.get_mut(only).expect("key listed above");
            g.0.extend(shared.0);
            g.1.extend(shared.1);
            g.2 = g.2.min(shared.2).or(g.2).or(shared.2);
        }
    }
    groups
        .into_iter()
        .map(|((mesh, namespace, revision), (mut components, images, created))| {
            components.sort_by(|a, b| (a.role, &a.name).cmp(&(b.role, &b.name)));
            let healthy = components.iter().all(|c| c.desired > 0 && c.ready >= c.desired);
            ControlPlane {
                mesh,
                namespace,
                revision,
                version: common_tag(&images),
                components,
                healthy,
                created,
            }
        })
        .collect()
}

/// The most frequent image tag among control-plane images (`pilot:1.22.1` → `1.22.1`).
fn common_tag(images: &[String]) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for image in images {
        if let Some(t) = crate::model::image_tag(image) {
            *counts.entry(t.to_string()).or_default() += 1;
        }
    }
    // Most frequent; ties go to the alphabetically first tag so the answer is stable.
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(t, _)| t)
}

/// Meshes whose CRD groups or APIServices are installed, with that evidence.
pub fn installed_by_crds(
    crd_groups: &BTreeSet<String>,
    api_services: &BTreeSet<String>,
) -> BTreeMap<Mesh, Vec<String>> {
    let mut out: BTreeMap<Mesh, Vec<String>> = BTreeMap::new();
    for r in rules::all() {
        for g in &r.crd_groups {
            if crd_groups.contains(g) {
                out.entry(r.mesh).or_default().push(format!("CRDs {g}"));
            }
        }
        for a in &r.api_services {
            if api_services.iter().any(|s| s.ends_with(a.as_str())) {
                out.entry(r.mesh).or_default().push(format!("APIService {a}"));
            }
        }
    }
    out
}

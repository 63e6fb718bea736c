//! The meshes' configuration objects explained: what each one does in plain words, which
//! workloads it affects, and what in it is wrong (a subset that selects no pod, a host that
//! matches no Service, weights that do not sum to 100…), each warning naming the field.
//!
//! Pure: the objects come in as their kind and spec (JSON, as the API serves them), with the
//! pods and Services beside them; `source::meshconfig` reads them from a cluster. One file
//! per family of objects: [`istio`], [`linkerd`], [`gateway`] (Gateway API), [`kuma`],
//! [`consul`].

mod consul;
mod gateway;
mod istio;
mod kuma;
mod linkerd;
mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{PodInfo, ServiceInfo};

/// Istio's default root namespace: a policy there without a selector is mesh-wide.
pub const ISTIO_ROOT: &str = "istio-system";

/// Every kind explained, with where it is served: the reader lists these, the CLI and the
/// view show them in this order.
pub const KINDS: &[KindInfo] = &[
    KindInfo::new("networking.istio.io", "VirtualService", "virtualservices", "istio"),
    KindInfo::new("networking.istio.io", "DestinationRule", "destinationrules", "istio"),
    KindInfo::new("networking.istio.io", "Gateway", "gateways", "istio"),
    KindInfo::new("networking.istio.io", "ServiceEntry", "serviceentries", "istio"),
    KindInfo::new("networking.istio.io", "Sidecar", "sidecars", "istio"),
    KindInfo::new(
        "security.istio.io",
        "PeerAuthentication",
        "peerauthentications",
        "istio",
    ),
    KindInfo::new(
        "security.istio.io",
        "AuthorizationPolicy",
        "authorizationpolicies",
        "istio",
    ),
    KindInfo::new(
        "security.istio.io",
        "RequestAuthentication",
        "requestauthentications",
        "istio",
    ),
    KindInfo::new("telemetry.istio.io", "Telemetry", "telemetries", "istio"),
    KindInfo::new("policy.linkerd.io", "Server", "servers", "linkerd"),
    KindInfo::new("policy.linkerd.io", "HTTPRoute", "httproutes", "linkerd"),
    KindInfo::new(
        "policy.linkerd.io",
        "AuthorizationPolicy",
        "authorizationpolicies",
        "linkerd",
    ),
    KindInfo::new(
        "policy.linkerd.io",
        "MeshTLSAuthentication",
        "meshtlsauthentications",
        "linkerd",
    ),
    KindInfo::new("linkerd.io", "ServiceProfile", "serviceprofiles", "linkerd"),
    KindInfo::new("gateway.networking.k8s.io", "Gateway", "gateways", "gateway-api"),
    KindInfo::new("gateway.networking.k8s.io", "HTTPRoute", "httproutes", "gateway-api"),
    KindInfo::new("gateway.networking.k8s.io", "GRPCRoute", "grpcroutes", "gateway-api"),
    KindInfo::new("kuma.io", "MeshTrafficPermission", "meshtrafficpermissions", "kuma"),
    KindInfo::new("kuma.io", "MeshTimeout", "meshtimeouts", "kuma"),
    KindInfo::new("kuma.io", "MeshRetry", "meshretries", "kuma"),
    KindInfo::new(
        "consul.hashicorp.com",
        "ServiceIntentions",
        "serviceintentions",
        "consul",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    /// "istio", "linkerd", "gateway-api", "kuma" or "consul".
    pub mesh: &'static str,
}

impl KindInfo {
    const fn new(group: &'static str, kind: &'static str, plural: &'static str, mesh: &'static str) -> KindInfo {
        KindInfo {
            group,
            kind,
            plural,
            mesh,
        }
    }
}

/// One object as read from the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshObject {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `spec` as served (Null when the object has none).
    #[serde(default)]
    pub spec: Value,
}

/// An object explained: the `meshtop meshconfig -o json` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub mesh: String,
    pub summary: String,
    /// Workloads (or bare pods) it applies to, as `namespace/name`, sorted.
    pub affects: Vec<String>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The field at fault, as a path into the object (`spec.subsets[2].labels`).
    pub field: String,
    pub message: String,
}

/// What the objects are checked against.
pub struct Inventory<'a> {
    pub pods: &'a [PodInfo],
    pub services: &'a [ServiceInfo],
    /// All the objects read, so that one may refer to another (a route to its gateway).
    pub objects: &'a [MeshObject],
    /// Istio's root namespace: a policy there without a selector applies mesh-wide.
    pub istio_root: &'a str,
    /// The namespaces read (`-n`), or None for all: a reference into another one is not
    /// called missing, since it was not looked for.
    pub read: Option<&'a [String]>,
    /// Pods and Services could be listed: checks against them are made only then.
    pub pods_read: bool,
    pub services_read: bool,
}

impl Inventory<'_> {
    /// Whether objects in `namespace` were read, so that one not found there is missing.
    fn looked_in(&self, namespace: &str) -> bool {
        self.read.is_none_or(|r| r.iter().any(|n| n == namespace))
    }
}

/// Explains every object, in [`KINDS`] order, then by namespace and name. Objects of other
/// kinds are left out.
pub fn explain(inv: &Inventory) -> Vec<Explained> {
    let mut out: Vec<(usize, Explained)> = inv
        .objects
        .iter()
        .filter_map(|o| {
            let at = KINDS.iter().position(|k| k.group == o.group && k.kind == o.kind)?;
            Some((at, explain_one(inv, &KINDS[at], o)))
        })
        .collect();
    out.sort_by(|(a, x), (b, y)| (a, &x.namespace, &x.name).cmp(&(b, &y.namespace, &y.name)));
    out.into_iter().map(|(_, e)| e).collect()
}

fn explain_one(inv: &Inventory, kind: &KindInfo, o: &MeshObject) -> Explained {
    let mut e = Explained {
        kind: o.kind.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        mesh: kind.mesh.to_string(),
        summary: String::new(),
        affects: Vec::new(),
        warnings: Vec::new(),
    };
    let mut found = Found::default();
    e.summary = match kind.mesh {
        "istio" => istio::explain(inv, o, &mut found),
        "linkerd" => linkerd::explain(inv, o, &mut found),
        "gateway-api" => gateway::explain(inv, o, &mut found),
        "kuma" => kuma::explain(inv, o, &mut found),
        _ => consul::explain(inv, o, &mut found),
    };
    e.affects = found.affects.into_iter().collect();
    e.warnings = found.warnings;
    e
}

/// What explaining one object found beside its summary.
#[derive(Default)]
struct Found {
    affects: BTreeSet<String>,
    warnings: Vec<Warning>,
}

impl Found {
    fn warn(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            field: field.into(),
            message: message.into(),
        });
    }

    fn affect<'p>(&mut self, pods: impl IntoIterator<Item = &'p PodInfo>) {
        self.affects.extend(pods.into_iter().map(workload_of));
    }
}

/// `namespace/workload`, or the pod's own name when nothing controls it.
fn workload_of(p: &PodInfo) -> String {
    match &p.owner {
        Some(o) => format!("{}/{}", p.namespace, o.name),
        None => format!("{}/{}", p.namespace, p.name),
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`), or Istio's plain
/// `matchLabels` map.
#[derive(Debug, Default, Clone, PartialEq)]
struct Selector {
    labels: BTreeMap<String, String>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    /// From a `{matchLabels, matchExpressions}` value; None when absent.
    fn from_value(v: &Value) -> Option<Selector> {
        if !v.is_object() {
            return None;
        }
        let labels = string_map(&v["matchLabels"]);
        let expressions = v["matchExpressions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            str_of(&e["key"]).to_string(),
                            str_of(&e["operator"]).to_string(),
                            strings(&e["values"]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Selector { labels, expressions })
    }

    fn from_labels(labels: BTreeMap<String, String>) -> Selector {
        Selector {
            labels,
            expressions: Vec::new(),
        }
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let have = labels.get(k);
                match op.as_str() {
                    "In" => have.is_some_and(|v| values.contains(v)),
                    "NotIn" => have.is_none_or(|v| !values.contains(v)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }

    fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// `app=web, version in (v1,v2)`.
    fn text(&self) -> String {
        let mut parts: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for (k, op, values) in &self.expressions {
            parts.push(match op.as_str() {
                "Exists" => k.clone(),
                "DoesNotExist" => format!("!{k}"),
                op => format!("{k} {} ({})", op.to_lowercase(), values.join(",")),
            });
        }
        parts.join(", ")
    }
}

/// The pods of `namespace` (any namespace when None) the selector picks; finished pods aside.
fn selected<'a>(inv: &Inventory<'a>, namespace: Option<&str>, sel: &Selector) -> Vec<&'a PodInfo> {
    inv.pods
        .iter()
        .filter(|p| namespace.is_none_or(|ns| p.namespace == ns))
        .filter(|p| !matches!(p.phase.as_str(), "Succeeded" | "Failed"))
        .filter(|p| sel.matches(&p.labels))
        .collect()
}

/// The Service a mesh host names, from the object's namespace: `reviews`,
/// `reviews.bookinfo`, `reviews.bookinfo.svc` or `reviews.bookinfo.svc.cluster.local`.
fn service_for<'a>(inv: &Inventory<'a>, from_namespace: &str, host: &str) -> Option<&'a ServiceInfo> {
    let (name, namespace) = service_name(host, from_namespace)?;
    inv.services.iter().find(|s| s.name == name && s.namespace == namespace)
}

/// (name, namespace) of a Service host as Istio and Linkerd read it: a short name is in the
/// object's namespace, else only the full `name.ns.svc.cluster.local` names a Service
/// (Istio takes `reviews.bookinfo` literally, so it matches none). None for other names.
fn service_name<'h>(host: &'h str, from_namespace: &'h str) -> Option<(&'h str, &'h str)> {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some((name, from_namespace)),
        [name, ns, "svc", "cluster", "local"] => Some((name, ns)),
        _ => None,
    }
}

/// The pods behind a Service (its selector in its namespace); none for a selector-less one.
fn service_pods<'a>(inv: &Inventory<'a>, svc: &ServiceInfo) -> Vec<&'a PodInfo> {
    if svc.selector.is_empty() {
        return Vec::new();
    }
    selected(inv, Some(&svc.namespace), &Selector::from_labels(svc.selector.clone()))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

#[cfg(test)]
mod tests;

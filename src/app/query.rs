//! Filtering and sorting of table rows. Pure and shared by the fold (to clamp the
//! selection and resolve `enter`) and the views (to build the visible slice only).

use std::cmp::Ordering;

use super::state::{NamespaceEntry, PodEntry, State, View, ViewEntry};
use crate::mesh::detect::{self, ControlPlane};

/// A parsed `/` filter: whitespace-separated terms that must all match.
/// `field=value` matches a named column (case-insensitive substring, `field==value` exact);
/// any other term is a substring of the row's name or namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Text(String),
    Field { name: String, value: String, exact: bool },
}

impl Filter {
    pub fn parse(s: &str) -> Self {
        let terms = s
            .split_whitespace()
            .map(|t| {
                if let Some((name, value)) = t.split_once("==") {
                    Term::Field {
                        name: alias(&name.to_lowercase()).into(),
                        value: value.to_lowercase(),
                        exact: true,
                    }
                } else if let Some((name, value)) = t.split_once('=') {
                    Term::Field {
                        name: alias(&name.to_lowercase()).into(),
                        value: value.to_lowercase(),
                        exact: false,
                    }
                } else {
                    Term::Text(t.to_lowercase())
                }
            })
            .collect();
        Filter { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// `text` is what plain terms search; `fields` are (column name, value) pairs.
    pub fn matches(&self, text: &[&str], fields: &[(&str, &str)]) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Text(t) => text.iter().any(|s| contains_ci(s, t)),
            Term::Field { name, value, exact } => fields.iter().any(|(n, v)| {
                n == name
                    && if *exact {
                        v.eq_ignore_ascii_case(value)
                    } else {
                        contains_ci(v, value)
                    }
            }),
        })
    }
}

fn alias(name: &str) -> &str {
    match name {
        "ns" => "namespace",
        "status" => "phase",
        "rev" => "revision",
        other => other,
    }
}

fn contains_ci(haystack: &str, lower_needle: &str) -> bool {
    lower_needle.is_empty() || haystack.to_lowercase().contains(lower_needle)
}

pub const POD_COLUMNS: &[&str] = &[
    "NAMESPACE",
    "NAME",
    "MESH",
    "MODEL",
    "PROXY",
    "READY",
    "STATUS",
    "RESTARTS",
    "RPS",
    "SUCCESS",
    "P50",
    "P90",
    "P99",
    "TCP",
    "mTLS",
    "CPU APP/PROXY",
    "MEM APP/PROXY",
    "NODE",
    "IP",
    "METRICS",
    "AGE",
];
pub const WORKLOAD_COLUMNS: &[&str] = &[
    "NAMESPACE",
    "NAME",
    "KIND",
    "MESH",
    "PODS",
    "RPS",
    "SUCCESS",
    "P50",
    "P90",
    "P99",
    "TCP",
    "mTLS",
    "CPU APP/PROXY",
    "MEM APP/PROXY",
    "TAX CPU/MEM",
];
pub const BENCH_COLUMNS: &[&str] = &[
    "#", "STATUS", "TARGET", "MODE", "RPS", "P50", "P99", "P99.9", "SUCCESS", "ERRORS",
];
pub const EDGE_COLUMNS: &[&str] = &["SOURCE", "DESTINATION", "RPS", "SUCCESS", "P50", "P90", "P99", "mTLS"];
/// Columns hidden first, in this order, when a table is wider than the terminal.
pub const DROP_ORDER: &[&str] = &[
    "METRICS",
    "IP",
    "NODE",
    "RESTARTS",
    "P50",
    "P90",
    "TCP",
    "TAX CPU/MEM",
    "MEM APP/PROXY",
    "AGE",
    "mTLS",
    "KIND",
    "P99",
    "SUCCESS",
    "PROXY",
    "COVERAGE",
];

pub const NAMESPACE_COLUMNS: &[&str] = &[
    "NAME",
    "INJECTION",
    "MESHED",
    "PODS",
    "COVERAGE",
    "MISSING",
    "CPU APP/PROXY",
    "MEM APP/PROXY",
    "TAX CPU/MEM",
    "AGE",
];
pub const CONTROL_PLANE_COLUMNS: &[&str] = &[
    "MESH",
    "NAMESPACE",
    "REVISION",
    "VERSION",
    "COMPONENTS",
    "HEALTH",
    "AGE",
];

pub fn columns(view: &View) -> &'static [&'static str] {
    match view {
        View::Pods => POD_COLUMNS,
        View::Workloads => WORKLOAD_COLUMNS,
        View::Edges => EDGE_COLUMNS,
        View::Namespaces => NAMESPACE_COLUMNS,
        View::ControlPlanes => CONTROL_PLANE_COLUMNS,
        View::Overview | View::PodDetail { .. } => &[],
        View::Bench => BENCH_COLUMNS,
    }
}

/// Text shown for an absent mesh value in tables.
pub const NONE: &str = "<none>";

/// Why a pod expected in the mesh has no proxy, if it is one of those.
pub fn missing_proxy(state: &State, p: &PodEntry) -> Option<String> {
    let injection = state
        .namespaces
        .get(&p.info.namespace)
        .map_or(&[][..], |n| &n.injection[..]);
    detect::missing_proxy(&p.info, &p.mesh, injection)
}

fn pod_fields(p: &PodEntry) -> [(&'static str, &str); 9] {
    let i = &p.info;
    [
        ("namespace", &i.namespace),
        ("name", &i.name),
        ("mesh", p.mesh.mesh.map_or("none", |m| m.as_str())),
        ("model", p.mesh.model.as_str()),
        ("phase", &i.phase),
        ("node", i.node.as_deref().unwrap_or("")),
        ("ip", i.ip.as_deref().unwrap_or("")),
        ("proxy", p.mesh.proxy.as_ref().map_or("", |x| x.container.as_str())),
        ("workload", workload_of(p).1),
    ]
}

/// Pods matching the entry's filter, in the entry's sort order.
pub fn pods<'a>(state: &'a State, entry: &ViewEntry) -> Vec<&'a PodEntry> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<&PodEntry> = state
        .pods
        .values()
        .filter(|p| filter.is_empty() || filter.matches(&[&p.info.name, &p.info.namespace], &pod_fields(p)))
        .collect();
    // The map is already ordered by (namespace, name): only sort for other columns.
    if entry.sort_column != 0 || entry.sort_reverse {
        let column = POD_COLUMNS.get(entry.sort_column).copied().unwrap_or("");
        rows.sort_by(|a, b| {
            let (x, y) = (&a.info, &b.info);
            let r = |p| rate(state, p);
            let o = match column {
                "NAME" => x.name.cmp(&y.name),
                "MESH" => a.mesh.mesh.cmp(&b.mesh.mesh),
                "MODEL" => a.mesh.model.cmp(&b.mesh.model),
                "PROXY" => a
                    .mesh
                    .proxy
                    .as_ref()
                    .map(|p| &p.version)
                    .cmp(&b.mesh.proxy.as_ref().map(|p| &p.version)),
                "READY" => (x.ready, x.containers).cmp(&(y.ready, y.containers)),
                "STATUS" => x.phase.cmp(&y.phase),
                "RESTARTS" => x.restarts.cmp(&y.restarts),
                "NODE" => x.node.cmp(&y.node),
                "IP" => cmp_ip(x.ip.as_deref(), y.ip.as_deref()),
                "METRICS" => a
                    .mesh
                    .proxy
                    .as_ref()
                    .map(|p| p.metrics_port)
                    .cmp(&b.mesh.proxy.as_ref().map(|p| p.metrics_port)),
                // Age ascending means youngest first, as with `kubectl get --sort-by`.
                "AGE" => y.created.cmp(&x.created),
                "CPU APP/PROXY" => {
                    let cpu = |p| usage_split(state, p).map(|u| u.total_cpu());
                    cmp_f64(cpu(a), cpu(b))
                }
                "MEM APP/PROXY" => usage_split(state, a)
                    .map(|u| u.total_mem())
                    .cmp(&usage_split(state, b).map(|u| u.total_mem())),
                other => cmp_f64(
                    r(a).and_then(|r| rate_column(&r, other)),
                    r(b).and_then(|r| rate_column(&r, other)),
                ),
            };
            let o = o.then_with(|| (&x.namespace, &x.name).cmp(&(&y.namespace, &y.name)));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

/// The value of a traffic column (RPS, SUCCESS, P50, P90, P99, TCP, mTLS), for sorting.
fn rate_column(r: &super::state::Rates, column: &str) -> Option<f64> {
    match column {
        "RPS" => Some(r.rps),
        "SUCCESS" => r.success,
        "P50" => r.p50_ms,
        "P90" => r.p90_ms,
        "P99" => r.p99_ms,
        "TCP" => Some(r.tcp_open),
        "mTLS" => r.mtls,
        _ => None,
    }
}

fn cmp_ip(a: Option<&str>, b: Option<&str>) -> Ordering {
    let parse = |s: Option<&str>| s.and_then(|s| s.parse::<std::net::IpAddr>().ok());
    parse(a).cmp(&parse(b))
}

/// A namespace with its pod counts and cost, derived at query time.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceRow<'a> {
    pub ns: &'a NamespaceEntry,
    pub pods: usize,
    pub meshed: usize,
    /// Pods the namespace's injection setting expects in the mesh but that are not.
    pub missing: usize,
    pub cpu_millicores: AppProxy<f64>,
    pub memory_bytes: AppProxy<u64>,
}

impl NamespaceRow<'_> {
    pub fn coverage_percent(&self) -> Option<u32> {
        (self.pods > 0).then(|| (self.meshed * 100 / self.pods) as u32)
    }

    pub fn injection_text(&self) -> String {
        if self.ns.injection.is_empty() {
            return NONE.into();
        }
        self.ns
            .injection
            .iter()
            .map(|i| format!("{} {}", i.mesh.as_str(), i.setting))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn namespace_row<'a>(state: &'a State, ns: &'a NamespaceEntry) -> NamespaceRow<'a> {
    let (mut pods, mut meshed, mut missing) = (0, 0, 0);
    let mut cost = CostAcc::default();
    for ((pns, _), p) in state.pods.range((ns.info.name.clone(), String::new())..) {
        if *pns != ns.info.name {
            break;
        }
        pods += 1;
        meshed += usize::from(p.mesh.mesh.is_some());
        missing += usize::from(detect::missing_proxy(&p.info, &p.mesh, &ns.injection).is_some());
        cost.add(state, p);
    }
    NamespaceRow {
        ns,
        pods,
        meshed,
        missing,
        cpu_millicores: cost.cpu,
        memory_bytes: cost.mem,
    }
}

pub fn namespaces<'a>(state: &'a State, entry: &ViewEntry) -> Vec<NamespaceRow<'a>> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<NamespaceRow<'a>> = state
        .namespaces
        .values()
        .filter(|n| {
            let inj = n
                .injection
                .iter()
                .map(|i| i.mesh.as_str())
                .collect::<Vec<_>>()
                .join(",");
            filter.matches(
                &[&n.info.name],
                &[("name", &n.info.name), ("phase", &n.info.phase), ("mesh", &inj)],
            )
        })
        .map(|ns| namespace_row(state, ns))
        .collect();
    if entry.sort_column != 0 || entry.sort_reverse {
        rows.sort_by(|a, b| {
            let o = match entry.sort_column {
                1 => a.injection_text().cmp(&b.injection_text()),
                2 => a.meshed.cmp(&b.meshed),
                3 => a.pods.cmp(&b.pods),
                4 => a.coverage_percent().cmp(&b.coverage_percent()),
                5 => a.missing.cmp(&b.missing),
                6 => cmp_f64(Some(total_cpu(&a.cpu_millicores)), Some(total_cpu(&b.cpu_millicores))),
                7 => total_mem(&a.memory_bytes).cmp(&total_mem(&b.memory_bytes)),
                8 => cmp_f64(tax(a.cpu_millicores).0, tax(b.cpu_millicores).0),
                9 => b.ns.info.created.cmp(&a.ns.info.created),
                _ => Ordering::Equal,
            }
            .then_with(|| a.ns.info.name.cmp(&b.ns.info.name));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

pub fn control_planes<'a>(state: &'a State, entry: &ViewEntry) -> Vec<&'a ControlPlane> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<&ControlPlane> = state
        .control_planes
        .iter()
        .filter(|c| {
            filter.matches(
                &[c.mesh.as_str(), &c.namespace],
                &[
                    ("mesh", c.mesh.as_str()),
                    ("namespace", &c.namespace),
                    ("revision", c.revision.as_deref().unwrap_or("")),
                    ("version", c.version.as_deref().unwrap_or("")),
                ],
            )
        })
        .collect();
    if entry.sort_column != 0 || entry.sort_reverse {
        rows.sort_by(|a, b| {
            let o = match entry.sort_column {
                1 => a.namespace.cmp(&b.namespace),
                2 => a.revision.cmp(&b.revision),
                3 => a.version.cmp(&b.version),
                4 => a.components.len().cmp(&b.components.len()),
                5 => a.healthy.cmp(&b.healthy),
                6 => b.created.cmp(&a.created),
                _ => Ordering::Equal,
            }
            .then_with(|| (a.mesh, &a.namespace, &a.revision).cmp(&(b.mesh, &b.namespace, &b.revision)));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

/// Number of rows the current view shows, for clamping the selection.
pub fn row_count(state: &State) -> usize {
    let entry = state.entry();
    match entry.view {
        View::Pods => pods(state, entry).len(),
        View::Namespaces => namespaces(state, entry).len(),
        View::ControlPlanes => control_planes(state, entry).len(),
        View::Workloads => workloads_view(state, entry).len(),
        View::Edges => edges_view(state, entry).len(),
        View::Bench => state.benches.len(),
        View::Overview | View::PodDetail { .. } => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_terms() {
        let f = Filter::parse("web ns=prod");
        assert!(f.matches(&["web-1", "prod"], &[("namespace", "prod")]));
        assert!(!f.matches(&["api-1", "prod"], &[("namespace", "prod")]));
        assert!(!f.matches(&["web-1", "dev"], &[("namespace", "dev")]));
        let exact = Filter::parse("phase==running");
        assert!(exact.matches(&[], &[("phase", "Running")]));
        assert!(!Filter::parse("phase==run").matches(&[], &[("phase", "Running")]));
        assert!(Filter::parse("mesh=istio").matches(&[], &[("mesh", "istio")]));
        assert!(Filter::parse("").matches(&[], &[]));
    }
}

/// One mesh as the overview shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshSummary<'a> {
    pub mesh: crate::mesh::Mesh,
    pub name: &'a str,
    pub control_planes: Vec<&'a ControlPlane>,
    /// CRD groups and APIServices that show the mesh is installed.
    pub evidence: Vec<String>,
    /// Pods per data-plane model (sidecar, ambient, node, gateway), mesh components included.
    pub by_model: std::collections::BTreeMap<crate::mesh::Model, usize>,
    /// Namespaces whose injection setting names this mesh (with the setting).
    pub injected_namespaces: Vec<(&'a str, &'a str)>,
    /// Pods in those namespaces, and how many of them are in the mesh.
    pub injected_pods: usize,
    pub injected_meshed: usize,
    pub missing: usize,
    /// What the mesh costs: its proxies (sidecars, node proxies, gateways) and its control plane.
    pub cost: MeshCost,
}

/// CPU (millicores) and memory of a mesh's proxies and control plane, and the proxies'
/// share of the pods they run in ("sidecar tax"). Zero where no pod reported usage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeshCost {
    pub proxy_cpu_m: f64,
    pub proxy_mem: u64,
    /// CPU and memory of the pods that carry those proxies, proxies included.
    pub pods_cpu_m: f64,
    pub pods_mem: u64,
    pub control_cpu_m: f64,
    pub control_mem: u64,
    /// Pods that contributed a usage sample.
    pub sampled: usize,
}

impl MeshCost {
    pub fn proxy_cpu_share(&self) -> Option<f64> {
        (self.pods_cpu_m > 0.0).then(|| self.proxy_cpu_m / self.pods_cpu_m)
    }
}

impl MeshSummary<'_> {
    pub fn healthy(&self) -> bool {
        !self.control_planes.is_empty() && self.control_planes.iter().all(|c| c.healthy)
    }
}

/// Every mesh with any sign of life: a control plane, CRDs, or pods.
pub fn mesh_summaries(state: &State) -> Vec<MeshSummary<'_>> {
    use crate::mesh::rules;
    let groups: std::collections::BTreeSet<String> = state.crds.values().cloned().collect();
    let services: std::collections::BTreeSet<String> = state.api_services.keys().cloned().collect();
    let evidence = detect::installed_by_crds(&groups, &services);
    let mut out: Vec<MeshSummary<'_>> = rules::all()
        .iter()
        .map(|r| MeshSummary {
            mesh: r.mesh,
            name: &r.name,
            control_planes: state.control_planes.iter().filter(|c| c.mesh == r.mesh).collect(),
            evidence: evidence.get(&r.mesh).cloned().unwrap_or_default(),
            by_model: Default::default(),
            injected_namespaces: state
                .namespaces
                .values()
                .flat_map(|n| {
                    n.injection
                        .iter()
                        .filter(|i| i.mesh == r.mesh)
                        .map(|i| (n.info.name.as_str(), i.setting.as_str()))
                })
                .collect(),
            injected_pods: 0,
            injected_meshed: 0,
            missing: 0,
            cost: MeshCost::default(),
        })
        .collect();
    for p in state.pods.values() {
        // Control-plane pods without a proxy are counted as control planes, not data plane.
        if let Some(m) = p.mesh.mesh
            && p.mesh.model != crate::mesh::Model::None
            && let Some(s) = out.iter_mut().find(|s| s.mesh == m)
        {
            *s.by_model.entry(p.mesh.model).or_default() += 1;
        }
        if let Some(m) = p.mesh.mesh
            && let Some(u) = usage_split(state, p)
            && let Some(s) = out.iter_mut().find(|s| s.mesh == m)
        {
            let c = &mut s.cost;
            c.sampled += 1;
            if p.mesh.proxy.is_some() {
                c.proxy_cpu_m += u.proxy_cpu_m;
                c.proxy_mem += u.proxy_mem;
                c.pods_cpu_m += u.total_cpu();
                c.pods_mem += u.total_mem();
            } else if matches!(
                p.mesh.role,
                Some(crate::mesh::rules::Role::Control | crate::mesh::rules::Role::Addon)
            ) {
                c.control_cpu_m += u.total_cpu();
                c.control_mem += u.total_mem();
            }
        }
        let Some(ns) = state.namespaces.get(&p.info.namespace) else {
            continue;
        };
        for inj in &ns.injection {
            if let Some(s) = out.iter_mut().find(|s| s.mesh == inj.mesh) {
                s.injected_pods += 1;
                s.injected_meshed += usize::from(p.mesh.mesh == Some(inj.mesh));
                s.missing += usize::from(detect::missing_proxy(&p.info, &p.mesh, &ns.injection).is_some());
            }
        }
    }
    out.retain(|s| !s.control_planes.is_empty() || !s.evidence.is_empty() || !s.by_model.is_empty());
    out
}

/// A pod's CPU and memory with the proxy apart from the app containers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsageSplit {
    pub app_cpu_m: f64,
    pub proxy_cpu_m: f64,
    pub app_mem: u64,
    pub proxy_mem: u64,
}

impl UsageSplit {
    pub fn total_cpu(&self) -> f64 {
        self.app_cpu_m + self.proxy_cpu_m
    }
    pub fn total_mem(&self) -> u64 {
        self.app_mem + self.proxy_mem
    }
}

/// Splits a pod's usage by its proxy container; a per-node proxy pod is all proxy.
pub fn usage_split(state: &State, p: &PodEntry) -> Option<UsageSplit> {
    let u = state.usage.get(&(p.info.namespace.clone(), p.info.name.clone()))?;
    let proxy = p.mesh.proxy.as_ref().map(|x| x.container.as_str());
    let all_proxy = p.mesh.model == crate::mesh::Model::Node;
    let mut s = UsageSplit {
        app_cpu_m: 0.0,
        proxy_cpu_m: 0.0,
        app_mem: 0,
        proxy_mem: 0,
    };
    for c in &u.containers {
        if all_proxy || Some(c.name.as_str()) == proxy {
            s.proxy_cpu_m += c.cpu_millicores;
            s.proxy_mem += c.memory_bytes;
        } else {
            s.app_cpu_m += c.cpu_millicores;
            s.app_mem += c.memory_bytes;
        }
    }
    Some(s)
}

/// The pod's traffic rates from its last two scrapes, if any.
pub fn rate(state: &State, p: &PodEntry) -> Option<super::state::Rates> {
    state
        .traffic
        .get(&(p.info.namespace.clone(), p.info.name.clone()))
        .and_then(|t| t.rates())
}

/// Why a pod has no traffic figures, in the user's terms; None when it has them.
pub fn traffic_gap(state: &State, p: &PodEntry) -> Option<String> {
    let key = (p.info.namespace.clone(), p.info.name.clone());
    let t = state.traffic.get(&key);
    if t.is_some_and(|t| t.window.is_some()) {
        return None;
    }
    let Some(proxy) = &p.mesh.proxy else {
        return Some("no proxy: the pod is not in a mesh".into());
    };
    if let Some(e) = state.errors.get(&(crate::model::Resource::Prometheus, None)) {
        return Some(format!("Prometheus {}: {}", e.kind.label(), e.message));
    }
    if matches!(
        state.traffic_origin,
        Some(super::state::TrafficOrigin::Prometheus { .. })
    ) {
        return Some("Prometheus has no request metrics for this pod in the window".into());
    }
    if proxy.metrics_port.is_none() {
        return Some(format!("no known metrics port for the {} proxy", proxy.container));
    }
    if let Some(e) = state.errors.get(&(
        crate::model::Resource::ProxyScrape,
        Some(format!("{}/{}", key.0, key.1)),
    )) {
        return Some(format!("scrape failed: {}", e.message));
    }
    Some(match t {
        Some(_) => "one scrape so far; rates need a second".into(),
        None => "not scraped yet".into(),
    })
}

fn cmp_f64(a: Option<f64>, b: Option<f64>) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// One workload (the pods' controller, or the pod itself) with its traffic and cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkloadRow {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub mesh: Option<&'static str>,
    pub pods: usize,
    /// None until a window of at least one of its proxies is known.
    pub rps: Option<f64>,
    pub success_rate: Option<f64>,
    pub latency_ms: WorkloadLatency,
    /// Share of requests that were mutual TLS.
    pub mtls: Option<f64>,
    pub tcp_open_connections: Option<f64>,
    pub cpu_millicores: AppProxy<f64>,
    pub memory_bytes: AppProxy<u64>,
    /// Seconds the traffic figures cover.
    pub window_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WorkloadLatency {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl WorkloadLatency {
    fn of(r: Option<&super::state::Rates>) -> Self {
        WorkloadLatency {
            p50: r.and_then(|r| r.p50_ms),
            p90: r.and_then(|r| r.p90_ms),
            p99: r.and_then(|r| r.p99_ms),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct AppProxy<T> {
    pub app: Option<T>,
    pub proxy: Option<T>,
}

fn total_cpu(a: &AppProxy<f64>) -> f64 {
    a.app.unwrap_or(0.0) + a.proxy.unwrap_or(0.0)
}

fn total_mem(a: &AppProxy<u64>) -> u64 {
    a.app.unwrap_or(0) + a.proxy.unwrap_or(0)
}

/// The sidecar tax: the proxies' share of what their pods use. `(share, proxy, total)`;
/// None while nothing reported usage or there is no proxy.
pub fn tax<T: Copy + Into<f64>>(a: AppProxy<T>) -> (Option<f64>, f64, f64) {
    let proxy = a.proxy.map_or(0.0, Into::into);
    let total = a.app.map_or(0.0, Into::into) + proxy;
    ((a.proxy.is_some() && total > 0.0).then(|| proxy / total), proxy, total)
}

/// Sums the app and proxy usage of pods (the proxy side only for pods with a proxy).
#[derive(Default)]
struct CostAcc {
    cpu: AppProxy<f64>,
    mem: AppProxy<u64>,
}

impl CostAcc {
    fn add(&mut self, state: &State, p: &PodEntry) {
        if let Some(u) = usage_split(state, p) {
            self.cpu.app = Some(self.cpu.app.unwrap_or(0.0) + u.app_cpu_m);
            self.mem.app = Some(self.mem.app.unwrap_or(0) + u.app_mem);
            if p.mesh.proxy.is_some() {
                self.cpu.proxy = Some(self.cpu.proxy.unwrap_or(0.0) + u.proxy_cpu_m);
                self.mem.proxy = Some(self.mem.proxy.unwrap_or(0) + u.proxy_mem);
            }
        }
    }
}

/// The workload a pod belongs to: its controller, or the pod itself.
pub fn workload_of(p: &PodEntry) -> (&str, &str) {
    match &p.info.owner {
        Some(o) => (o.kind.as_str(), o.name.as_str()),
        None => ("Pod", p.info.name.as_str()),
    }
}

/// Sums window increases; quantiles then come from the summed buckets, never from
/// averaging the pods' percentiles.
#[derive(Default)]
struct TrafficAcc(Option<(f64, crate::metrics::golden::Totals)>);

impl TrafficAcc {
    fn add(&mut self, secs: f64, d: &crate::metrics::golden::Totals) {
        let (s, t) = self.0.get_or_insert_with(|| (secs, Default::default()));
        *s = s.max(secs);
        t.add(d);
    }
    fn rates(&self) -> Option<super::state::Rates> {
        self.0.as_ref().map(|(s, t)| super::state::Rates::of(*s, t))
    }
}

/// Pods grouped by workload, with traffic merged over the current window.
pub fn workloads(state: &State) -> Vec<WorkloadRow> {
    struct Acc {
        kind: String,
        mesh: Option<&'static str>,
        pods: usize,
        traffic: TrafficAcc,
        cost: CostAcc,
    }
    let mut groups: std::collections::BTreeMap<(&str, &str), Acc> = Default::default();
    for p in state.pods.values() {
        let (kind, name) = workload_of(p);
        let acc = groups.entry((&p.info.namespace, name)).or_insert_with(|| Acc {
            kind: kind.to_string(),
            mesh: None,
            pods: 0,
            traffic: TrafficAcc::default(),
            cost: CostAcc::default(),
        });
        acc.pods += 1;
        acc.mesh = acc.mesh.or(p.mesh.mesh.map(|m| m.as_str()));
        if let Some(w) = state
            .traffic
            .get(&(p.info.namespace.clone(), p.info.name.clone()))
            .and_then(|t| t.window.as_ref())
        {
            acc.traffic.add(w.secs, &w.increase.own);
        }
        acc.cost.add(state, p);
    }
    groups
        .into_iter()
        .map(|((namespace, name), a)| {
            let r = a.traffic.rates();
            WorkloadRow {
                namespace: namespace.to_string(),
                name: name.to_string(),
                kind: a.kind,
                mesh: a.mesh,
                pods: a.pods,
                rps: r.map(|r| r.rps),
                success_rate: r.and_then(|r| r.success),
                latency_ms: WorkloadLatency::of(r.as_ref()),
                mtls: r.and_then(|r| r.mtls),
                tcp_open_connections: r.map(|r| r.tcp_open),
                cpu_millicores: a.cost.cpu,
                memory_bytes: a.cost.mem,
                window_s: r.map(|r| r.window_s),
            }
        })
        .collect()
}

fn workload_fields(w: &WorkloadRow) -> [(&'static str, &str); 4] {
    [
        ("namespace", &w.namespace),
        ("name", &w.name),
        ("kind", &w.kind),
        ("mesh", w.mesh.unwrap_or("none")),
    ]
}

/// Workloads matching the entry's filter, in its sort order.
pub fn workloads_view(state: &State, entry: &ViewEntry) -> Vec<WorkloadRow> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<WorkloadRow> = workloads(state)
        .into_iter()
        .filter(|w| filter.is_empty() || filter.matches(&[&w.name, &w.namespace], &workload_fields(w)))
        .collect();
    if entry.sort_column != 0 || entry.sort_reverse {
        let column = WORKLOAD_COLUMNS.get(entry.sort_column).copied().unwrap_or("");
        rows.sort_by(|a, b| {
            let o = match column {
                "NAME" => a.name.cmp(&b.name),
                "KIND" => a.kind.cmp(&b.kind),
                "MESH" => a.mesh.cmp(&b.mesh),
                "PODS" => a.pods.cmp(&b.pods),
                "CPU APP/PROXY" => cmp_f64(Some(total_cpu(&a.cpu_millicores)), Some(total_cpu(&b.cpu_millicores))),
                "MEM APP/PROXY" => total_mem(&a.memory_bytes).cmp(&total_mem(&b.memory_bytes)),
                "TAX CPU/MEM" => cmp_f64(tax(a.cpu_millicores).0, tax(b.cpu_millicores).0),
                other => cmp_f64(
                    a.rates().and_then(|r| rate_column(&r, other)),
                    b.rates().and_then(|r| rate_column(&r, other)),
                ),
            }
            .then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

impl WorkloadRow {
    /// The traffic figures as `Rates`, for the shared cells and sorting; None before a window.
    pub fn rates(&self) -> Option<super::state::Rates> {
        Some(super::state::Rates {
            rps: self.rps?,
            success: self.success_rate,
            mtls: self.mtls,
            p50_ms: self.latency_ms.p50,
            p90_ms: self.latency_ms.p90,
            p99_ms: self.latency_ms.p99,
            window_s: self.window_s.unwrap_or(0.0),
            tcp_open: self.tcp_open_connections.unwrap_or(0.0),
        })
    }
}

/// Traffic from one workload to one destination, summed over the source's pods.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EdgeRow {
    /// `namespace/workload` of the client side.
    pub source: String,
    /// Service, workload or authority, as the source's proxy names it.
    pub destination: String,
    pub rps: f64,
    pub success_rate: Option<f64>,
    pub latency_ms: WorkloadLatency,
    pub mtls: Option<f64>,
    pub window_s: f64,
}

impl EdgeRow {
    /// The traffic figures as `Rates` (edges carry no connection count).
    pub fn rates(&self) -> super::state::Rates {
        super::state::Rates {
            rps: self.rps,
            success: self.success_rate,
            mtls: self.mtls,
            p50_ms: self.latency_ms.p50,
            p90_ms: self.latency_ms.p90,
            p99_ms: self.latency_ms.p99,
            window_s: self.window_s,
            tcp_open: 0.0,
        }
    }
}

/// Every (source workload → destination) pair seen by outbound proxies in the window.
pub fn edges(state: &State) -> Vec<EdgeRow> {
    let mut acc: std::collections::BTreeMap<(String, &str), TrafficAcc> = Default::default();
    for (key, t) in &state.traffic {
        let Some(w) = &t.window else { continue };
        let source = match state.pods.get(key) {
            Some(p) => format!("{}/{}", p.info.namespace, workload_of(p).1),
            None => format!("{}/{}", key.0, key.1),
        };
        for (dst, d) in &w.increase.edges {
            acc.entry((source.clone(), dst)).or_default().add(w.secs, d);
        }
    }
    acc.into_iter()
        .filter_map(|((source, destination), t)| {
            let r = t.rates()?;
            Some(EdgeRow {
                source,
                destination: destination.to_string(),
                rps: r.rps,
                success_rate: r.success,
                latency_ms: WorkloadLatency::of(Some(&r)),
                mtls: r.mtls,
                window_s: r.window_s,
            })
        })
        .collect()
}

pub fn edges_view(state: &State, entry: &ViewEntry) -> Vec<EdgeRow> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<EdgeRow> = edges(state)
        .into_iter()
        .filter(|e| {
            filter.is_empty()
                || filter.matches(
                    &[&e.source, &e.destination],
                    &[
                        ("source", &e.source),
                        ("destination", &e.destination),
                        ("dst", &e.destination),
                    ],
                )
        })
        .collect();
    if entry.sort_column != 0 || entry.sort_reverse {
        let column = EDGE_COLUMNS.get(entry.sort_column).copied().unwrap_or("");
        rows.sort_by(|a, b| {
            let o = match column {
                "DESTINATION" => a.destination.cmp(&b.destination),
                other => cmp_f64(rate_column(&a.rates(), other), rate_column(&b.rates(), other)),
            }
            .then_with(|| (&a.source, &a.destination).cmp(&(&b.source, &b.destination)));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

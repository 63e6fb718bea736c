//! Figures derived from the world: each pod's rates, usage split (app and proxy) and why it
//! misses a proxy; workload and edge aggregates; namespace counts and cost; the meshes
//! overview. The fold computes them when their inputs change (a pod, a scrape, a usage
//! list, the window) and stores them; views and sorting only read them.
//!
//! Per-pod figures are computed at once. Aggregates are marked dirty and recomputed by
//! [`settle`], once per batch of updates, so a 30,000-pod list is not quadratic.
//!
//! Where p99 comes from: a proxy's cumulative histogram buckets (`metrics::golden`), their
//! increase over the window (`app::traffic`, pair by pair), summed over pods for workloads
//! and edges, then `metrics::window::Rates::of` → `metrics::quantile`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::state::{PodEntry, State};
use super::traffic::Rates;
use crate::mesh::detect::{self, ControlPlane};
use crate::mesh::{Mesh, Model};
use crate::metrics::golden::Totals;
use crate::model::{PodUsage, Resource};

/// (namespace, pod).
pub type PodKey = (String, String);
/// (namespace, workload name): the pods' controller, or the pod itself.
pub type WorkloadKey = (String, String);

/// A value for the app containers and for the proxy, each known or not.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AppProxy<T> {
    pub app: Option<T>,
    pub proxy: Option<T>,
}

impl<T: Copy + Default + std::ops::Add<Output = T>> AppProxy<T> {
    /// App plus proxy; None when neither is known.
    pub fn total(&self) -> Option<T> {
        match (self.app, self.proxy) {
            (None, None) => None,
            (a, p) => Some(a.unwrap_or_default() + p.unwrap_or_default()),
        }
    }
}

/// A pod's CPU (millicores) and memory (bytes), the proxy apart from the app containers.
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

    /// Splits a pod's usage by its proxy container; a per-node proxy or a gateway is all proxy.
    pub fn of(p: &PodEntry, u: &PodUsage) -> UsageSplit {
        let proxy = p.mesh.proxy.as_ref().map(|x| x.container.as_str());
        let all_proxy = is_infrastructure(p);
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
        s
    }
}

/// A pod that is itself a mesh proxy (a node proxy such as ztunnel, or a gateway): it has
/// no app for its proxy to tax.
pub fn is_infrastructure(p: &PodEntry) -> bool {
    matches!(p.mesh.model, Model::Node | Model::Gateway) && p.mesh.proxy.is_some()
}

/// The sidecars' share of what the pods use (the "sidecar tax").
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Tax {
    /// No usage sample, or no sidecar among the pods.
    #[default]
    Unknown,
    /// Every pod is a mesh proxy itself (node proxies, gateways): nothing to tax.
    Infrastructure(Model),
    Share {
        cpu: Option<f64>,
        mem: Option<f64>,
    },
}

/// Pods using less CPU than this in all get no proxy share: a share of almost nothing is
/// noise (an idle app at 0 m beside its proxy's 0.4 m read "100 %").
pub const MIN_SPLIT_CPU_M: f64 = 1.0;

/// What some pods use: app and proxy apart, and the sidecar tax they imply.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    pub cpu: AppProxy<f64>,
    pub mem: AppProxy<u64>,
    pub tax: Tax,
}

/// Sums pods' usage into a [`Cost`].
#[derive(Default)]
struct CostAcc {
    cost: Cost,
    sidecar: (f64, u64),
    taxed: (f64, u64),
    sidecars: usize,
    infrastructure: Option<Model>,
    apps: usize,
}

impl CostAcc {
    fn add(&mut self, p: &PodEntry) {
        let Some(u) = p.usage else { return };
        let c = &mut self.cost;
        if is_infrastructure(p) {
            c.cpu.proxy = Some(c.cpu.proxy.unwrap_or(0.0) + u.proxy_cpu_m);
            c.mem.proxy = Some(c.mem.proxy.unwrap_or(0) + u.proxy_mem);
            self.infrastructure = Some(p.mesh.model);
            return;
        }
        self.apps += 1;
        c.cpu.app = Some(c.cpu.app.unwrap_or(0.0) + u.app_cpu_m);
        c.mem.app = Some(c.mem.app.unwrap_or(0) + u.app_mem);
        self.taxed.0 += u.app_cpu_m;
        self.taxed.1 += u.app_mem;
        if p.mesh.proxy.is_some() {
            self.sidecars += 1;
            c.cpu.proxy = Some(c.cpu.proxy.unwrap_or(0.0) + u.proxy_cpu_m);
            c.mem.proxy = Some(c.mem.proxy.unwrap_or(0) + u.proxy_mem);
            self.sidecar.0 += u.proxy_cpu_m;
            self.sidecar.1 += u.proxy_mem;
            self.taxed.0 += u.proxy_cpu_m;
            self.taxed.1 += u.proxy_mem;
        }
    }

    /// A node proxy's share of its CPU and memory for a workload it carries (ambient): the
    /// workload's "sidecar", so the tax compares with a sidecar's.
    fn add_carried(&mut self, cpu_m: f64, mem: u64) {
        let c = &mut self.cost;
        c.cpu.proxy = Some(c.cpu.proxy.unwrap_or(0.0) + cpu_m);
        c.mem.proxy = Some(c.mem.proxy.unwrap_or(0) + mem);
        self.sidecars += 1;
        self.sidecar.0 += cpu_m;
        self.sidecar.1 += mem;
        self.taxed.0 += cpu_m;
        self.taxed.1 += mem;
    }

    fn finish(mut self) -> Cost {
        self.cost.tax = match (self.apps, self.infrastructure, self.sidecars) {
            (0, Some(model), _) => Tax::Infrastructure(model),
            (_, _, 0) => Tax::Unknown,
            _ => Tax::Share {
                cpu: (self.taxed.0 >= MIN_SPLIT_CPU_M).then(|| self.sidecar.0 / self.taxed.0),
                mem: (self.taxed.1 > 0).then(|| self.sidecar.1 as f64 / self.taxed.1 as f64),
            },
        };
        self.cost
    }
}

/// One workload (the pods' controller, or the pod itself) with its traffic and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadRow {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub mesh: Option<Mesh>,
    pub pods: usize,
    /// None until a window of at least one of its proxies is known.
    pub rates: Option<Rates>,
    pub cost: Cost,
    /// Proxies that reported its figures for it (ztunnel, waypoints), besides its own pods'.
    pub via: Vec<PodKey>,
}

/// Traffic from one workload to one destination, summed over the source's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRow {
    /// `namespace/workload` of the client side.
    pub source: String,
    /// Service, workload or authority, as the source's proxy names it.
    pub destination: String,
    pub rates: Rates,
}

/// A namespace's pods and what they cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NamespaceFigures {
    pub pods: usize,
    pub meshed: usize,
    /// Pods the namespace's injection setting expects in the mesh but that are not.
    pub missing: usize,
    pub cost: Cost,
}

impl NamespaceFigures {
    pub fn coverage_percent(&self) -> Option<u32> {
        (self.pods > 0).then(|| (self.meshed * 100 / self.pods) as u32)
    }
}

/// The meshes overview: a summary per mesh, and how many pods are in any mesh.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overview {
    pub meshes: Vec<MeshSummary>,
    pub meshed_pods: usize,
}

/// One mesh as the overview shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshSummary {
    pub mesh: Mesh,
    pub name: String,
    pub control_planes: Vec<ControlPlane>,
    /// CRD groups and APIServices that show the mesh is installed.
    pub evidence: Vec<String>,
    /// Pods per data-plane model (sidecar, ambient, node, gateway), mesh components included.
    pub by_model: BTreeMap<Model, usize>,
    /// Namespaces whose injection setting names this mesh (with the setting).
    pub injected_namespaces: Vec<(String, String)>,
    /// Pods in those namespaces, and how many of them are in the mesh.
    pub injected_pods: usize,
    pub injected_meshed: usize,
    pub missing: usize,
    /// What the mesh costs: its proxies (sidecars, node proxies, gateways) and its control plane.
    pub cost: MeshCost,
}

impl MeshSummary {
    pub fn healthy(&self) -> bool {
        !self.control_planes.is_empty() && self.control_planes.iter().all(|c| c.healthy)
    }
}

/// CPU (millicores) and memory of a mesh's proxies and control plane, and the proxies'
/// share of the pods they run in. Counts say what was measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeshCost {
    pub proxy_cpu_m: f64,
    pub proxy_mem: u64,
    /// The sidecars alone, and the pods that carry them (sidecars included).
    pub sidecar_cpu_m: f64,
    pub pods_cpu_m: f64,
    pub pods_mem: u64,
    pub control_cpu_m: f64,
    pub control_mem: u64,
    /// Pods with a proxy, and how many of them reported usage.
    pub proxies: usize,
    pub sampled: usize,
    /// Control-plane pods, and how many of them reported usage.
    pub control_pods: usize,
    pub control_sampled: usize,
}

impl MeshCost {
    fn add(&mut self, o: &MeshCost) {
        self.proxy_cpu_m += o.proxy_cpu_m;
        self.proxy_mem += o.proxy_mem;
        self.sidecar_cpu_m += o.sidecar_cpu_m;
        self.pods_cpu_m += o.pods_cpu_m;
        self.pods_mem += o.pods_mem;
        self.control_cpu_m += o.control_cpu_m;
        self.control_mem += o.control_mem;
        self.proxies += o.proxies;
        self.sampled += o.sampled;
        self.control_pods += o.control_pods;
        self.control_sampled += o.control_sampled;
    }

    pub fn proxy_cpu_share(&self) -> Option<f64> {
        (self.pods_cpu_m >= MIN_SPLIT_CPU_M).then(|| self.sidecar_cpu_m / self.pods_cpu_m)
    }
}

/// What changed since the aggregates were last computed, and the counters the row cache
/// keys on.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The pods of each workload, so one workload is recomputed without scanning every pod.
    pub workload_pods: BTreeMap<WorkloadKey, BTreeSet<String>>,
    dirty_workloads: BTreeSet<WorkloadKey>,
    dirty_namespaces: BTreeSet<String>,
    dirty_meshes: bool,
    /// Each namespace's pods summed for the overview, recomputed with the namespace: the
    /// overview then adds a few hundred of these instead of walking every pod on each pod
    /// change (at 10,000 pods under churn that walk was most of the fold's time).
    parts: BTreeMap<String, NamespacePart>,
    /// Bumped when rows appear, go or change what they are (names, status).
    pub rows_generation: u64,
    /// Bumped when rows appear or go (or may have): tables then rebuild their keys.
    pub members_generation: u64,
    /// Bumped when traffic or usage figures change.
    pub figures_generation: u64,
    /// The figures generation that live sort orders follow: caught up with
    /// `figures_generation` at most once a second (of update time). Scrapes arrive a few
    /// at a time, and re-sorting 30,000 rows for each batch would be per-frame work that
    /// grows with the rows not shown; cells always show the current figures, only the
    /// order lags, by a second at most (the clock ticks every second).
    pub sort_generation: u64,
    sorted_at: Option<i64>,
    /// The pods that came or went, each with the members generation it made:
    /// the pods table patches its cached keys and order with them instead of walking every
    /// pod again (at 30,000 pods under creates and deletes, that walk was most of a frame).
    pod_churn: std::collections::VecDeque<(u64, PodKeyRef)>,
    /// The source errors as the status line names them, regrouped when they change: one
    /// pass over thousands of failing proxies per change, not per frame.
    error_groups: Vec<ErrorGroup>,
    errors_dirty: bool,
}

/// One status-line entry: a source's error, or all its errors of one namespace or pod each
/// (thirty silent proxies are one entry), shown with the first of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorGroup {
    pub resource: Resource,
    pub scope: Option<String>,
    pub error: super::state::SourceErr,
    pub count: usize,
}

/// The errors' entries, most telling first: a crash, then a whole source's errors, then the
/// errors of namespaces or pods (a panicked source must not hide behind failing proxies);
/// in key order within a rank. The map's keys sort each source's errors together, the
/// unscoped one first.
pub fn error_groups(errors: &BTreeMap<(Resource, Option<String>), super::state::SourceErr>) -> Vec<ErrorGroup> {
    use crate::model::ErrorKind;
    let mut groups: Vec<ErrorGroup> = Vec::new();
    for ((resource, scope), error) in errors {
        match groups.last_mut() {
            Some(g)
                if g.scope.is_some()
                    && scope.is_some()
                    && g.resource == *resource
                    && error.kind != ErrorKind::Crashed =>
            {
                g.count += 1
            }
            _ => groups.push(ErrorGroup {
                resource: *resource,
                scope: scope.clone(),
                error: error.clone(),
                count: 1,
            }),
        }
    }
    groups.sort_by_key(|g| (g.error.kind != ErrorKind::Crashed, g.scope.is_some()));
    groups
}

/// A pod's shared key, as the pods table holds it.
pub type PodKeyRef = std::sync::Arc<(String, String)>;

/// How many pod comings and goings are remembered: past that many since a table last
/// looked, its keys and order are built again from every row. A bound on this log and on
/// one patch's work, not a measured crossover between patching and rebuilding.
const POD_CHURN_KEPT: usize = 256;

impl Derived {
    /// Rows may have appeared or gone.
    pub fn rows_changed(&mut self) {
        self.rows_generation += 1;
        self.members_generation += 1;
    }
    /// The same rows, some with other content (a pod's status): the keys are kept; orders
    /// and filters that read the content are computed again.
    pub fn row_changed_in_place(&mut self) {
        self.rows_generation += 1;
    }
    /// A pod came or went: rows changed, in a way the pods table can patch.
    pub fn pod_came_or_went(&mut self, key: PodKeyRef) {
        self.rows_changed();
        if self.pod_churn.len() == POD_CHURN_KEPT {
            self.pod_churn.pop_front();
        }
        self.pod_churn.push_back((self.members_generation, key));
    }
    /// The pods that came or went since members generation `since`; None when rows changed
    /// otherwise meanwhile, or too long ago to remember.
    pub fn pods_since(&self, since: u64) -> Option<Vec<PodKeyRef>> {
        let wanted = self.members_generation.checked_sub(since)?;
        let newer = self.pod_churn.iter().rev().take_while(|(g, _)| *g > since);
        let changes: Vec<_> = newer.map(|(_, k)| k.clone()).collect();
        // Each generation bumps once, so one change per generation means no other change
        // came between them.
        (changes.len() as u64 == wanted).then_some(changes)
    }
    pub fn figures_changed(&mut self) {
        self.figures_generation += 1;
    }
    /// Lets live orders catch up with the figures now (the clock's tick, once a second).
    pub fn catch_up_order(&mut self) {
        self.sort_generation = self.figures_generation;
    }
    /// Lets live orders catch up with the figures, if a second has passed since they last did.
    fn publish_order(&mut self, now: i64) {
        if self.sort_generation != self.figures_generation && self.sorted_at.is_none_or(|t| now - t >= 1000) {
            self.sort_generation = self.figures_generation;
            self.sorted_at = Some(now);
        }
    }
    pub fn workload(&mut self, key: WorkloadKey) {
        self.dirty_workloads.insert(key);
    }
    pub fn namespace(&mut self, ns: &str) {
        if !self.dirty_namespaces.contains(ns) {
            self.dirty_namespaces.insert(ns.to_string());
        }
    }
    pub fn meshes(&mut self) {
        self.dirty_meshes = true;
    }
    /// The source errors changed (one came, went or changed its message).
    pub fn errors_changed(&mut self) {
        self.errors_dirty = true;
    }
    pub fn error_groups(&self) -> &[ErrorGroup] {
        &self.error_groups
    }
    fn is_clean(&self) -> bool {
        self.dirty_workloads.is_empty() && self.dirty_namespaces.is_empty() && !self.dirty_meshes
    }
}

/// The workload a pod belongs to: its controller, or the pod itself. (kind, name).
pub fn workload_of(p: &PodEntry) -> (&str, &str) {
    match &p.info.owner {
        Some(o) => (o.kind.as_str(), o.name.as_str()),
        None => ("Pod", p.info.name.as_str()),
    }
}

pub fn workload_key(p: &PodEntry) -> WorkloadKey {
    (p.info.namespace.clone(), workload_of(p).1.to_string())
}

/// Recomputes a pod's own figures from the maps: traffic rates, usage split, missing proxy.
pub fn refresh_pod(state: &mut State, key: &PodKey) {
    let State {
        pods,
        traffic,
        usage,
        namespaces,
        ..
    } = state;
    if let Some(p) = pods.get_mut(key) {
        refresh(p, key, traffic, usage, namespaces);
    }
}

/// Recomputes the figures of every pod (a new usage list), or of one namespace's pods (its
/// injection setting changed), without copying the maps.
pub fn refresh_pods(state: &mut State, namespace: Option<&str>) {
    let State {
        pods,
        traffic,
        usage,
        namespaces,
        ..
    } = state;
    let range = match namespace {
        Some(ns) => pods.range_mut((ns.to_string(), String::new())..),
        None => pods.range_mut(..),
    };
    for (key, p) in range {
        if namespace.is_some_and(|ns| key.0 != ns) {
            break;
        }
        refresh(p, key, traffic, usage, namespaces);
    }
}

fn refresh(
    p: &mut PodEntry,
    key: &PodKey,
    traffic: &BTreeMap<PodKey, super::traffic::PodTraffic>,
    usage: &BTreeMap<PodKey, PodUsage>,
    namespaces: &BTreeMap<String, super::state::NamespaceEntry>,
) {
    p.rates = traffic.get(key).and_then(|t| t.rates);
    let split = usage.get(key).map(|u| UsageSplit::of(p, u));
    p.usage = split;
    let injection = namespaces.get(&key.0).map_or(&[][..], |n| &n.injection[..]);
    p.missing = detect::missing_proxy(&p.info, &p.mesh, injection);
}

/// Folds the pod's traffic rates into its entry and marks its workload for recomputing.
pub fn traffic_changed(state: &mut State, key: &PodKey) {
    let rates = state.traffic.get(key).and_then(|t| t.rates);
    if let Some(p) = state.pods.get_mut(key) {
        p.rates = rates;
        let wl = workload_key(p);
        state.derived.workload(wl);
    }
    state.derived.figures_changed();
}

/// Recomputes what is dirty. Cheap when nothing is.
pub fn settle(state: &mut State) {
    let now = state.now;
    state.derived.publish_order(now);
    if std::mem::take(&mut state.derived.errors_dirty) {
        state.derived.error_groups = error_groups(&state.errors);
    }
    if state.derived.is_clean() {
        return;
    }
    for key in std::mem::take(&mut state.derived.dirty_workloads) {
        settle_workload(state, key);
    }
    for ns in std::mem::take(&mut state.derived.dirty_namespaces) {
        settle_namespace(state, &ns);
    }
    if std::mem::take(&mut state.derived.dirty_meshes) {
        state.overview = overview(state);
    }
}

/// Sums window increases; quantiles then come from the summed buckets, never from
/// averaging the pods' percentiles.
#[derive(Default)]
struct TrafficAcc(Option<(f64, Totals)>);

impl TrafficAcc {
    fn add(&mut self, secs: f64, d: &Totals) {
        let (s, t) = self.0.get_or_insert_with(|| (secs, Totals::default()));
        *s = s.max(secs);
        t.add(d);
    }
    fn rates(&self) -> Option<Rates> {
        self.0.as_ref().map(|(s, t)| Rates::of(*s, t))
    }
}

fn settle_workload(state: &mut State, key: WorkloadKey) {
    let source = format!("{}/{}", key.0, key.1);
    // The edges of this source are rebuilt below.
    let old: Vec<(String, String)> = state
        .edges
        .range((source.clone(), String::new())..)
        .take_while(|((s, _), _)| *s == source)
        .map(|(k, _)| k.clone())
        .collect();
    for k in old {
        state.edges.remove(&k);
    }
    let Some(names) = state.derived.workload_pods.get(&key) else {
        state.workload_rows.remove(&key);
        return;
    };
    let mut row = WorkloadRow {
        namespace: key.0.clone(),
        name: key.1.clone(),
        kind: String::new(),
        mesh: None,
        pods: 0,
        rates: None,
        cost: Cost::default(),
        via: Vec::new(),
    };
    let mut traffic = TrafficAcc::default();
    let mut edges: BTreeMap<&str, TrafficAcc> = BTreeMap::new();
    let mut cost = CostAcc::default();
    for name in names {
        let pk = (key.0.clone(), name.clone());
        let Some(p) = state.pods.get(&pk) else { continue };
        if row.pods == 0 {
            row.kind = workload_of(p).0.to_string();
        }
        row.pods += 1;
        row.mesh = row.mesh.or(p.mesh.mesh);
        cost.add(p);
        if let Some(w) = state.traffic.get(&pk).and_then(|t| t.window.as_ref()) {
            traffic.add(w.secs, &w.increase.own);
            // A proxy that reports for others (ztunnel, a waypoint) carried these calls for
            // its workloads, whose rows have them as edges: not again as its own.
            if !state.carrier_bytes.contains_key(&pk) {
                for (dst, d) in &w.increase.edges {
                    edges.entry(dst).or_default().add(w.secs, d);
                }
            }
        }
    }
    // What ztunnel and waypoints reported for it: L4 from ztunnel, L7 from the waypoint
    // (`metrics::golden::described` keeps them apart), and the node proxy's cost shared by
    // the bytes each workload it carries moved over the window.
    if let Some(by) = state.carried.get(&key) {
        for (proxy, t) in by {
            let Some(w) = t.window.as_ref() else { continue };
            traffic.add(w.secs, &w.increase.own);
            for (dst, d) in &w.increase.edges {
                edges.entry(dst).or_default().add(w.secs, d);
            }
            row.via.push(proxy.clone());
            if let Some(p) = state.pods.get(proxy)
                && p.mesh.model == Model::Node
                && let Some(u) = p.usage
                && let Some(&(bytes, workloads)) = state.carrier_bytes.get(proxy)
                && workloads > 0
            {
                // By the bytes each moved; evenly while the node proxy moved none (idle, or
                // L7-only figures), so an idle ambient workload still shows its proxy cost.
                let share = if bytes > 0.0 && bytes.is_finite() {
                    w.increase.bytes() / bytes
                } else {
                    1.0 / workloads as f64
                };
                if share.is_finite() {
                    cost.add_carried(u.total_cpu() * share, (u.total_mem() as f64 * share).round() as u64);
                }
            }
        }
    }
    row.rates = traffic.rates();
    row.cost = cost.finish();
    let new_edges: Vec<((String, String), EdgeRow)> = edges
        .into_iter()
        .filter_map(|(dst, t)| {
            Some((
                (source.clone(), dst.to_string()),
                EdgeRow {
                    source: source.clone(),
                    destination: dst.to_string(),
                    rates: t.rates()?,
                },
            ))
        })
        .collect();
    state.edges.extend(new_edges);
    if row.pods == 0 {
        state.workload_rows.remove(&key);
    } else {
        state.workload_rows.insert(key, row);
    }
}

fn settle_namespace(state: &mut State, ns: &str) {
    let mut f = NamespaceFigures::default();
    let mut cost = CostAcc::default();
    let mut part = NamespacePart::default();
    let injection = state.namespaces.get(ns).map_or(&[][..], |n| &n.injection[..]);
    for ((pns, _), p) in state.pods.range((ns.to_string(), String::new())..) {
        if pns != ns {
            break;
        }
        f.pods += 1;
        f.meshed += usize::from(p.mesh.mesh.is_some());
        f.missing += usize::from(p.missing.is_some());
        cost.add(p);
        part.add(p, injection);
    }
    f.cost = cost.finish();
    if f.pods == 0 {
        state.derived.parts.remove(ns);
    } else {
        state.derived.parts.insert(ns.to_string(), part);
    }
    if let Some(n) = state.namespaces.get_mut(ns) {
        n.figures = f;
    }
}

/// One namespace's pods as the overview counts them: per mesh (by its place in the rules),
/// what the pods add to that mesh's summary.
#[derive(Debug, Clone, Default)]
struct NamespacePart {
    meshed_pods: usize,
    meshes: Vec<(usize, MeshPart)>,
}

#[derive(Debug, Clone, Default)]
struct MeshPart {
    by_model: BTreeMap<Model, usize>,
    cost: MeshCost,
    injected_pods: usize,
    injected_meshed: usize,
    missing: usize,
}

impl NamespacePart {
    fn mesh(&mut self, at: usize) -> &mut MeshPart {
        let i = match self.meshes.iter().position(|(m, _)| *m == at) {
            Some(i) => i,
            None => {
                self.meshes.push((at, MeshPart::default()));
                self.meshes.len() - 1
            }
        };
        &mut self.meshes[i].1
    }

    fn add(&mut self, p: &PodEntry, injection: &[detect::Injection]) {
        use crate::mesh::rules::Role;
        self.meshed_pods += usize::from(p.mesh.mesh.is_some());
        if let Some(s) = p.mesh.mesh.and_then(rule_index).map(|i| self.mesh(i)) {
            // Control-plane pods without a proxy are counted as control planes, not data plane.
            if p.mesh.model != Model::None {
                *s.by_model.entry(p.mesh.model).or_default() += 1;
            }
            // A control-plane pod may carry a proxy (Linkerd's do): its app containers
            // are the control plane, its proxy counts with the proxies.
            let control = matches!(p.mesh.role, Some(Role::Control | Role::Addon));
            let c = &mut s.cost;
            c.control_pods += usize::from(control);
            c.proxies += usize::from(p.mesh.proxy.is_some());
            if let Some(u) = p.usage {
                if p.mesh.proxy.is_some() {
                    c.sampled += 1;
                    c.proxy_cpu_m += u.proxy_cpu_m;
                    c.proxy_mem += u.proxy_mem;
                    if !is_infrastructure(p) {
                        c.sidecar_cpu_m += u.proxy_cpu_m;
                        c.pods_cpu_m += u.total_cpu();
                        c.pods_mem += u.total_mem();
                    }
                }
                if control {
                    c.control_sampled += 1;
                    c.control_cpu_m += u.app_cpu_m;
                    c.control_mem += u.app_mem;
                }
            }
        }
        for inj in injection {
            if let Some(s) = rule_index(inj.mesh).map(|i| self.mesh(i)) {
                s.injected_pods += 1;
                s.injected_meshed += usize::from(p.mesh.mesh == Some(inj.mesh));
                s.missing += usize::from(p.missing.is_some());
            }
        }
    }
}

/// A mesh's place in the detection rules, which is its place in the overview.
fn rule_index(m: Mesh) -> Option<usize> {
    crate::mesh::rules::all().iter().position(|r| r.mesh == m)
}

/// Every mesh with any sign of life (a control plane, CRDs, or pods), and the meshed pods.
fn overview(state: &State) -> Overview {
    use crate::mesh::rules;
    let groups: BTreeSet<String> = state.crds.values().cloned().collect();
    let services: BTreeSet<String> = state.api_services.keys().cloned().collect();
    let evidence = detect::installed_by_crds(&groups, &services);
    let mut out: Vec<MeshSummary> = rules::all()
        .iter()
        .map(|r| MeshSummary {
            mesh: r.mesh,
            name: r.name.clone(),
            control_planes: state
                .control_planes
                .iter()
                .filter(|c| c.mesh == r.mesh)
                .cloned()
                .collect(),
            evidence: evidence.get(&r.mesh).cloned().unwrap_or_default(),
            by_model: Default::default(),
            injected_namespaces: state
                .namespaces
                .values()
                .flat_map(|n| {
                    n.injection
                        .iter()
                        .filter(|i| i.mesh == r.mesh)
                        .map(|i| (n.info.name.clone(), i.setting.clone()))
                })
                .collect(),
            injected_pods: 0,
            injected_meshed: 0,
            missing: 0,
            cost: MeshCost::default(),
        })
        .collect();
    let mut meshed_pods = 0;
    for part in state.derived.parts.values() {
        meshed_pods += part.meshed_pods;
        for (i, m) in &part.meshes {
            let s = &mut out[*i];
            for (model, n) in &m.by_model {
                *s.by_model.entry(*model).or_default() += n;
            }
            s.cost.add(&m.cost);
            s.injected_pods += m.injected_pods;
            s.injected_meshed += m.injected_meshed;
            s.missing += m.missing;
        }
    }
    out.retain(|s| !s.control_planes.is_empty() || !s.evidence.is_empty() || !s.by_model.is_empty());
    Overview {
        meshes: out,
        meshed_pods,
    }
}

/// Why a pod has no traffic figures, in the user's terms; None when it has them.
pub fn traffic_gap(state: &State, p: &PodEntry) -> Option<String> {
    let key = (p.info.namespace.clone(), p.info.name.clone());
    let t = state.traffic.get(&key);
    if t.is_some_and(|t| t.window.is_some()) {
        return None;
    }
    let Some(proxy) = &p.mesh.proxy else {
        if p.mesh.model == Model::Ambient {
            let wk = workload_key(p);
            return Some(if state.carried.contains_key(&wk) {
                format!(
                    "ambient, no proxy in the pod: ztunnel reports per workload, see {}/{}",
                    wk.0, wk.1
                )
            } else {
                "ambient, no proxy in the pod: no ztunnel or waypoint has reported its workload yet".into()
            });
        }
        return Some("no proxy: the pod is not in a mesh".into());
    };
    if let Some(e) = state.errors.get(&(Resource::Prometheus, None)) {
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
    if let Some(e) = state
        .errors
        .get(&(Resource::ProxyScrape, Some(format!("{}/{}", key.0, key.1))))
    {
        return Some(format!("scrape failed: {}", e.message));
    }
    Some(match t {
        Some(_) => "one scrape so far; rates need a second".into(),
        None => "not scraped yet".into(),
    })
}

/// Why CPU and memory are missing, in the user's terms.
pub fn usage_gap(state: &State) -> String {
    usage_gap_in(state, None)
}

/// The same for the pods of one namespace: its own error first (metrics.k8s.io is read in
/// each named namespace on its own, and one may be forbidden while others are not).
pub fn usage_gap_in(state: &State, namespace: Option<&str>) -> String {
    let scoped = namespace.and_then(|ns| state.errors.get(&(Resource::PodMetrics, Some(ns.to_string()))));
    match scoped.or_else(|| state.errors.get(&(Resource::PodMetrics, None))) {
        Some(e) => e.message.clone(),
        None if state.usage_origin.is_none() => "waiting for metrics.k8s.io".into(),
        None => "no CPU/memory sample for them yet".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::state::SourceErr;
    use crate::app::{Keymap, Stamped, Update, fold};
    use crate::model::ErrorKind;

    fn err(kind: ErrorKind, message: &str) -> SourceErr {
        SourceErr {
            kind,
            message: message.into(),
            since: 0,
        }
    }

    /// A crash first, then whole-source errors, then each source's scoped errors as one
    /// entry counted, whatever the keys' order.
    #[test]
    fn error_groups_rank_and_count() {
        let mut errors = BTreeMap::new();
        errors.insert((Resource::Pods, Some("team-a".into())), err(ErrorKind::Forbidden, "a"));
        errors.insert((Resource::Pods, Some("team-b".into())), err(ErrorKind::Forbidden, "b"));
        errors.insert((Resource::PodMetrics, None), err(ErrorKind::Api, "m"));
        for i in 0..3 {
            errors.insert(
                (Resource::ProxyScrape, Some(format!("scale/p-{i}"))),
                err(ErrorKind::Api, "503"),
            );
        }
        errors.insert((Resource::Tap, None), err(ErrorKind::Crashed, "boom"));
        let seen: Vec<String> = error_groups(&errors)
            .iter()
            .map(|g| format!("{} {:?} {} {}", g.resource.as_str(), g.scope, g.count, g.error.message))
            .collect();
        assert_eq!(
            seen,
            [
                "tap None 1 boom",
                "pod metrics None 1 m",
                "pods Some(\"team-a\") 2 a",
                "proxy scrape Some(\"scale/p-0\") 3 503",
            ]
        );
        assert!(error_groups(&BTreeMap::new()).is_empty());
    }

    /// The fold keeps the groups current: an error that comes, changes its message or goes
    /// is in the next groups; a proxy that answers again, a pod deleted and a namespace
    /// deleted take their errors with them. (A group shows its first error's message.)
    #[test]
    fn the_fold_regroups_errors_when_they_change() {
        let mut s = State::new(Keymap::default());
        let at = |update| Stamped { at: 1, update };
        let failed = |pod: &str, message: &str| {
            at(Update::ScrapeFailed {
                namespace: "scale".into(),
                pod: pod.into(),
                message: message.into(),
            })
        };
        let summary = |s: &State| {
            s.derived
                .error_groups()
                .iter()
                .map(|g| format!("{} {} {}", g.resource.as_str(), g.count, g.error.message))
                .collect::<Vec<_>>()
        };
        fold(&mut s, failed("a", "503"));
        fold(&mut s, failed("b", "503"));
        assert_eq!(summary(&s), ["proxy scrape 2 503"]);
        fold(&mut s, failed("a", "timeout"));
        assert_eq!(summary(&s), ["proxy scrape 2 timeout"]);
        fold(
            &mut s,
            at(Update::SourceError {
                resource: Resource::PodMetrics,
                namespace: None,
                kind: ErrorKind::Forbidden,
                message: "no".into(),
            }),
        );
        assert_eq!(summary(&s), ["pod metrics 1 no", "proxy scrape 2 timeout"]);
        fold(
            &mut s,
            at(Update::SourceRecovered {
                resource: Resource::PodMetrics,
                namespace: None,
            }),
        );
        fold(
            &mut s,
            at(Update::SourceRecovered {
                resource: Resource::ProxyScrape,
                namespace: Some("scale/a".into()),
            }),
        );
        assert_eq!(summary(&s), ["proxy scrape 1 503"]);
        // Answers again: out of the group.
        fold(&mut s, failed("c", "503"));
        fold(
            &mut s,
            at(Update::ProxyScraped {
                namespace: "scale".into(),
                pod: "c".into(),
                dialect: crate::metrics::golden::Dialect::Istio,
                inbound: Default::default(),
                outbound: Default::default(),
                edges: Default::default(),
                described: Default::default(),
                bad_lines: 0,
                first_bad_line: None,
            }),
        );
        assert_eq!(summary(&s), ["proxy scrape 1 503"]);
        // Deleted: its error goes too.
        fold(
            &mut s,
            at(Update::PodDeleted {
                namespace: "scale".into(),
                name: "b".into(),
            }),
        );
        assert!(summary(&s).is_empty(), "{:?}", s.errors);
        // A namespace deleted takes its errors (a forbidden watch, its pods' scrapes).
        fold(&mut s, failed("d", "503"));
        fold(
            &mut s,
            at(Update::SourceError {
                resource: Resource::Pods,
                namespace: Some("scale".into()),
                kind: ErrorKind::Forbidden,
                message: "no".into(),
            }),
        );
        fold(&mut s, at(Update::NamespaceDeleted { name: "scale".into() }));
        assert_eq!(
            summary(&s),
            ["proxy scrape 1 503"],
            "scale/d is a pod's: it goes with the pod"
        );
        fold(
            &mut s,
            at(Update::PodDeleted {
                namespace: "scale".into(),
                name: "d".into(),
            }),
        );
        assert!(s.errors.is_empty() && summary(&s).is_empty());
        // Once the pods are listed, a failure of a pod not in the list raced its deletion:
        // not kept. And a relist drops the errors of pods it does not have.
        fold(&mut s, failed("e", "503"));
        fold(
            &mut s,
            at(Update::ListStarted {
                resource: Resource::Pods,
                namespace: None,
                seen: vec![],
            }),
        );
        fold(
            &mut s,
            at(Update::ListDone {
                resource: Resource::Pods,
                namespace: None,
            }),
        );
        assert!(s.listed(Resource::Pods));
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        fold(&mut s, failed("f", "503"));
        assert!(s.errors.is_empty() && summary(&s).is_empty(), "{:?}", s.errors);
    }

    /// Less than 1m of CPU in all is not split into shares: an idle pod's 0.4m, all of it
    /// its proxy's, is no "100 %".
    #[test]
    fn a_share_of_almost_nothing_is_not_given() {
        let share = |pods: f64| {
            MeshCost {
                pods_cpu_m: pods,
                sidecar_cpu_m: pods * 0.75,
                ..Default::default()
            }
            .proxy_cpu_share()
        };
        assert_eq!(share(0.4), None);
        assert_eq!(share(0.99), None);
        assert_eq!(share(1.0), Some(0.75));
        assert_eq!(share(8.0), Some(0.75));
    }
}

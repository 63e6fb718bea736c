//! The model of the world plus UI state. Mutated only by the fold.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

pub use super::figures::{EdgeRow, NamespaceFigures, UsageSplit, WorkloadKey, WorkloadRow};
pub use super::traffic::{PodTraffic, Rates};
use crate::app::keymap::Keymap;
use crate::mesh::detect::{ControlPlane, Injection, PodMesh, WorkloadInfo};
use crate::model::{
    ApiServiceInfo, ClusterInfo, ErrorKind, NamespaceInfo, PodInfo, PodUsage, Resource, Series, UnixMillis,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// One card per mesh: control-plane health, data-plane coverage and model.
    Overview,
    ControlPlanes,
    Namespaces,
    Pods,
    /// Pods grouped by their controller, with traffic and cost summed.
    Workloads,
    /// Traffic between workloads (source → destination), from the sources' proxies.
    Edges,
    PodDetail {
        namespace: String,
        name: String,
    },
    /// Benchmark runs of the session: the selected run's live panel and the list.
    Bench,
    /// The runs marked in the bench view, each against the first.
    Compare,
    /// Requests as tap sources see them, newest first.
    Tap,
    /// Tap requests grouped by source, destination, method and path.
    TapSummary,
    /// One tap request in full.
    TapEvent {
        seq: u64,
    },
}

/// A view without its arguments: what key bindings are scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViewKind {
    Overview,
    ControlPlanes,
    Namespaces,
    Pods,
    Workloads,
    Edges,
    PodDetail,
    Bench,
    Compare,
    Tap,
    TapSummary,
    TapEvent,
}

impl ViewKind {
    /// The views that are tables.
    pub const TABLES: &'static [ViewKind] = &[
        ViewKind::ControlPlanes,
        ViewKind::Namespaces,
        ViewKind::Pods,
        ViewKind::Workloads,
        ViewKind::Edges,
        ViewKind::Bench,
        ViewKind::Compare,
        ViewKind::Tap,
        ViewKind::TapSummary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Overview => "meshes",
            ViewKind::ControlPlanes => "control planes",
            ViewKind::Namespaces => "namespaces",
            ViewKind::Pods => "pods",
            ViewKind::Workloads => "workloads",
            ViewKind::Edges => "edges",
            ViewKind::PodDetail => "pod detail",
            ViewKind::Bench => "bench",
            ViewKind::Compare => "compare",
            ViewKind::Tap => "tap",
            ViewKind::TapSummary => "tap summary",
            ViewKind::TapEvent => "tap request",
        }
    }
}

impl View {
    pub fn kind(&self) -> ViewKind {
        match self {
            View::Overview => ViewKind::Overview,
            View::ControlPlanes => ViewKind::ControlPlanes,
            View::Namespaces => ViewKind::Namespaces,
            View::Pods => ViewKind::Pods,
            View::Workloads => ViewKind::Workloads,
            View::Edges => ViewKind::Edges,
            View::PodDetail { .. } => ViewKind::PodDetail,
            View::Bench => ViewKind::Bench,
            View::Compare => ViewKind::Compare,
            View::Tap => ViewKind::Tap,
            View::TapSummary => ViewKind::TapSummary,
            View::TapEvent { .. } => ViewKind::TapEvent,
        }
    }

    pub fn title(&self) -> String {
        match self {
            View::Overview => "meshes".into(),
            View::ControlPlanes => "control planes".into(),
            View::Namespaces => "namespaces".into(),
            View::Pods => "pods".into(),
            View::Workloads => "workloads".into(),
            View::Edges => "edges".into(),
            View::PodDetail { namespace, name } => format!("{namespace}/{name}"),
            View::Bench => "bench".into(),
            View::Compare => "compare".into(),
            View::Tap => "tap".into(),
            View::TapSummary => "tap summary".into(),
            View::TapEvent { seq } => format!("tap request #{seq}"),
        }
    }

    /// The resource whose watch feeds this view, for "why is it empty" messages.
    pub fn resource(&self) -> Resource {
        match self {
            View::Overview | View::ControlPlanes => Resource::Deployments,
            View::Namespaces => Resource::Namespaces,
            View::Pods | View::Workloads | View::PodDetail { .. } => Resource::Pods,
            View::Edges => Resource::ProxyScrape,
            View::Bench | View::Compare | View::Tap | View::TapSummary | View::TapEvent { .. } => Resource::Pods,
        }
    }
}

/// How keys are interpreted: normal navigation, or typing into the filter or command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    Filter,
    Command,
    /// Filling in the benchmark form.
    Form,
    /// Answering a confirmation (`state.confirm`): y or n.
    Confirm,
}

/// A question the user must answer before meshtop writes to the cluster: what will be
/// created or changed, and where, and what `y` starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub title: String,
    /// One line per object: "create Job ... in namespace load".
    pub writes: Vec<String>,
    pub effect: super::Effect,
}

/// One entry of the breadcrumb stack: a view with its own filter, selection and sort,
/// so `esc` returns to exactly where the user was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEntry {
    pub view: View,
    pub filter: String,
    pub selected: usize,
    pub sort_column: usize,
    pub sort_reverse: bool,
}

impl ViewEntry {
    pub fn new(view: View) -> Self {
        ViewEntry {
            view,
            filter: String::new(),
            selected: 0,
            sort_column: 0,
            sort_reverse: false,
        }
    }
}

/// A pod with its mesh classification and its figures, computed when their inputs change.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEntry {
    /// (namespace, name), shared: the tables' keys are clones of it, so rebuilding them
    /// when pods come and go allocates nothing per row (at 30,000 pods, cloning the two
    /// strings of every row was most of a frame under churn of creates and deletes).
    pub key: std::sync::Arc<(String, String)>,
    pub info: PodInfo,
    pub mesh: PodMesh,
    /// Why the pod should be in the mesh but is not (its namespace's injection setting).
    pub missing: Option<String>,
    /// Traffic over the current window, from its proxy.
    pub rates: Option<Rates>,
    /// CPU and memory, app and proxy apart, from the last usage list.
    pub usage: Option<UsageSplit>,
}

impl PodEntry {
    pub fn new(info: PodInfo, mesh: PodMesh) -> Self {
        PodEntry {
            key: std::sync::Arc::new((info.namespace.clone(), info.name.clone())),
            info,
            mesh,
            missing: None,
            rates: None,
            usage: None,
        }
    }
}

/// A namespace with its injection settings (from its labels and annotations) and the
/// counts and cost of its pods.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceEntry {
    pub info: NamespaceInfo,
    pub injection: Vec<Injection>,
    pub figures: NamespaceFigures,
    /// Named with `-n` but its object may not be read (the API's reason): listed for its
    /// pods' figures, with its labels, so its injection setting, unknown.
    pub unreadable: Option<String>,
}

/// A pod's CPU (millicores) and memory (bytes) over time, app and proxy apart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageHistory {
    pub cpu_app: Series,
    pub cpu_proxy: Series,
    pub mem_app: Series,
    pub mem_proxy: Series,
}

/// A pod's usage history written down, for restoring a session.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct UsageSnapshot {
    pub cpu_app: Vec<f64>,
    pub cpu_proxy: Vec<f64>,
    pub mem_app: Vec<f64>,
    pub mem_proxy: Vec<f64>,
}

impl From<&UsageHistory> for UsageSnapshot {
    fn from(h: &UsageHistory) -> Self {
        let all = |s: &Series| s.tail(Series::CAPACITY).collect();
        UsageSnapshot {
            cpu_app: all(&h.cpu_app),
            cpu_proxy: all(&h.cpu_proxy),
            mem_app: all(&h.mem_app),
            mem_proxy: all(&h.mem_proxy),
        }
    }
}

impl From<UsageSnapshot> for UsageHistory {
    fn from(s: UsageSnapshot) -> Self {
        UsageHistory {
            cpu_app: s.cpu_app.into_iter().collect(),
            cpu_proxy: s.cpu_proxy.into_iter().collect(),
            mem_app: s.mem_app.into_iter().collect(),
            mem_proxy: s.mem_proxy.into_iter().collect(),
        }
    }
}

/// Replay position and controls, for the status line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStatus {
    pub position_s: f64,
    pub duration_s: f64,
    pub speed: f64,
    pub paused: bool,
    pub looping: bool,
    /// Where the recording came from, as its header says.
    pub source: String,
    pub provenance: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingStatus {
    pub path: String,
    pub since: UnixMillis,
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficOrigin {
    Scrape,
    Prometheus { window_s: u32, source: String },
}

/// How many proxies there are to scrape against the scrape budget, and what was done about
/// it when there are too many.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScrapeLoad {
    pub proxies: usize,
    /// Proxies per scrape interval.
    pub budget: u32,
    /// Over budget: the Prometheus that took over, as the status line names it...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// ...or, with none found, how long a round of paced scrapes takes (each proxy that
    /// answers is scraped that often)...
    pub round_s: u32,
    /// ...and how many do not answer: they sit out, retried within a tenth of the budget.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub silent: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ScrapeLoad {
    pub fn over(&self) -> bool {
        self.proxies > self.budget as usize
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceErr {
    pub kind: ErrorKind,
    pub message: String,
    pub since: UnixMillis,
}

#[derive(Debug, Clone)]
pub struct State {
    // --- world ---
    pub cluster: Option<ClusterInfo>,
    pub api_latency_ms: Option<u32>,
    /// When the API server last answered meshtop's probe: what "no answer since" names.
    pub api_answered_at: Option<UnixMillis>,
    /// Time of the last update from any source (not the clock tick).
    pub last_update: Option<UnixMillis>,
    /// The session clock: the newest timestamp seen, so replays show recorded ages.
    pub now: UnixMillis,
    pub namespaces: BTreeMap<String, NamespaceEntry>,
    pub pods: BTreeMap<(String, String), PodEntry>,
    /// Keyed by (kind, namespace, name).
    pub workloads: BTreeMap<(String, String, String), WorkloadInfo>,
    /// Derived from `workloads` whenever one changes.
    pub control_planes: Vec<ControlPlane>,
    /// CRD name → API group.
    pub crds: BTreeMap<String, String>,
    pub api_services: BTreeMap<String, ApiServiceInfo>,
    /// Keyed by (namespace, name).
    pub services: BTreeMap<(String, String), crate::model::ServiceInfo>,
    /// Latest CPU and memory per pod (metrics.k8s.io).
    pub usage: BTreeMap<(String, String), PodUsage>,
    /// CPU and memory history per pod.
    pub usage_history: BTreeMap<(String, String), UsageHistory>,
    /// Proxy traffic per pod, from direct scrapes or Prometheus.
    pub traffic: BTreeMap<(String, String), PodTraffic>,
    /// Traffic that proxies reporting for other workloads (ztunnel, waypoints) counted, per
    /// workload (namespace, name) and per such proxy pod: the workload's figures add it up.
    pub carried: BTreeMap<(String, String), BTreeMap<(String, String), PodTraffic>>,
    /// Bytes each such proxy carried over the window, all workloads together, and how many
    /// workloads it reports for: the base of its cost's split.
    pub carrier_bytes: BTreeMap<(String, String), (f64, usize)>,
    /// Where traffic figures came from last: None (nothing yet), direct scrapes, or
    /// Prometheus with the window it computed.
    pub traffic_origin: Option<TrafficOrigin>,
    /// Set while there are more proxies than the scrape budget allows (after a hand-over to
    /// Prometheus: the count at that moment, for the rest of the session).
    pub scrape_load: Option<ScrapeLoad>,
    /// Where CPU and memory came from last, and when.
    pub usage_origin: Option<(crate::model::UsageOrigin, UnixMillis)>,
    /// Resources whose initial list has completed.
    pub synced: BTreeSet<Resource>,
    /// Per-namespace lists completed (when RBAC forced one watch per namespace).
    pub synced_ns: BTreeSet<(Resource, String)>,
    /// Keys seen since a (re-)list of (resource, namespace) started; what is missing at
    /// `ListDone` was deleted meanwhile.
    pub relisting: BTreeMap<(Resource, Option<String>), BTreeSet<String>>,
    /// Errors by (resource, namespace); namespace is None for cluster-wide failures.
    pub errors: BTreeMap<(Resource, Option<String>), SourceErr>,
    /// Benchmark runs of the session, oldest first.
    pub benches: Vec<super::bench::BenchSession>,
    /// Sweeps of the session, oldest first; their runs are in `benches`.
    pub sweeps: Vec<super::sweep::SweepSession>,
    /// Named points in the session, in order (recording bookmarks).
    pub markers: Vec<(UnixMillis, String)>,
    /// Tap: the last requests seen, their summary, and the tap sources.
    pub tap: super::tap::TapState,

    // --- figures derived from the world, computed in the fold (see `figures`) ---
    /// Pods grouped by workload, with traffic merged over the window and cost summed.
    pub workload_rows: BTreeMap<WorkloadKey, WorkloadRow>,
    /// (source workload, destination) → traffic, from the sources' proxies.
    pub edges: BTreeMap<(String, String), EdgeRow>,
    /// The meshes overview.
    pub overview: super::figures::Overview,
    pub derived: super::figures::Derived,

    // --- ui ---
    pub stack: Vec<ViewEntry>,
    pub mode: Mode,
    pub input: String,
    pub show_help: bool,
    /// First line of the help overlay shown; render keeps it in range.
    pub help_scroll: Cell<usize>,
    /// Set while replaying a recording: where the replay is, for the status line.
    pub replay: Option<ReplayStatus>,
    /// Set while the session is being recorded.
    pub recording: Option<RecordingStatus>,
    /// Whether features may ask to write to the cluster (`--allow-writes`); the status
    /// line says so while they may.
    pub writes: crate::model::access::Writes,
    /// The benchmark form while it is open.
    pub bench_form: Option<super::bench::BenchForm>,
    /// The question on screen before a write to the cluster (Mode::Confirm).
    pub confirm: Option<Confirmation>,
    /// Runs marked with `c` in the bench view, in marking order, and their comparison
    /// (recomputed when the marks change or a marked run ends).
    pub compare_marks: Vec<u32>,
    pub comparison: super::compare::Comparison,
    /// The rate window in seconds (one of `traffic::WINDOWS`).
    pub window_s: u32,
    /// A one-line message (unknown command, ...) shown until the next key.
    pub flash: Option<String>,
    /// The chosen theme, as an index into the UI's list; the UI resolves it, `T` cycles.
    pub theme: usize,
    pub theme_count: usize,
    pub keymap: Keymap,
    /// kubeconfig contexts, for `:ctx` completion and switching.
    pub contexts: Vec<String>,
    /// First visible row of the current table. Render keeps it so the selection stays in view.
    pub scroll: Cell<usize>,
    /// Rows the last rendered table could show; paging keys move by this much.
    pub last_page: Cell<usize>,
    /// The open table's filtered, sorted rows, kept until the rows, figures, filter or sort change.
    pub row_cache: super::table::RowCache,
    /// Set by every change; the main loop clears it after drawing.
    pub dirty: bool,
}

impl State {
    /// A state that knows nothing yet; the UI's theme choice and keys come from the caller.
    pub fn new(keymap: Keymap) -> Self {
        State {
            cluster: None,
            api_latency_ms: None,
            api_answered_at: None,
            last_update: None,
            now: 0,
            namespaces: BTreeMap::new(),
            pods: BTreeMap::new(),
            workloads: BTreeMap::new(),
            control_planes: Vec::new(),
            crds: BTreeMap::new(),
            api_services: BTreeMap::new(),
            services: BTreeMap::new(),
            usage: BTreeMap::new(),
            traffic: BTreeMap::new(),
            carried: BTreeMap::new(),
            carrier_bytes: BTreeMap::new(),
            traffic_origin: None,
            scrape_load: None,
            usage_origin: None,
            usage_history: BTreeMap::new(),
            synced: BTreeSet::new(),
            synced_ns: BTreeSet::new(),
            relisting: BTreeMap::new(),
            errors: BTreeMap::new(),
            markers: Vec::new(),
            tap: Default::default(),
            benches: Vec::new(),
            sweeps: Vec::new(),
            workload_rows: BTreeMap::new(),
            edges: BTreeMap::new(),
            overview: Default::default(),
            derived: Default::default(),
            bench_form: None,
            confirm: None,
            compare_marks: Vec::new(),
            comparison: Default::default(),
            replay: None,
            recording: None,
            writes: Default::default(),
            stack: vec![ViewEntry::new(View::Overview)],
            mode: Mode::Normal,
            input: String::new(),
            show_help: false,
            help_scroll: Cell::new(0),
            window_s: super::traffic::DEFAULT_WINDOW,
            flash: None,
            theme: 0,
            theme_count: 1,
            keymap,
            contexts: Vec::new(),
            scroll: Cell::new(0),
            last_page: Cell::new(20),
            row_cache: Default::default(),
            dirty: true,
        }
    }

    pub fn entry(&self) -> &ViewEntry {
        self.stack.last().expect("the view stack is never empty")
    }

    pub fn entry_mut(&mut self) -> &mut ViewEntry {
        self.stack.last_mut().expect("the view stack is never empty")
    }

    /// Uses theme `chosen` of `count` the UI offers (`T` cycles through them).
    pub fn with_themes(mut self, count: usize, chosen: usize) -> Self {
        self.theme_count = count.max(1);
        self.theme = chosen.min(self.theme_count - 1);
        self
    }

    /// Whether the first list of `resource` is complete: cluster-wide, or, after a forbidden
    /// cluster-wide list, in every known namespace (listed or itself forbidden).
    pub fn listed(&self, resource: Resource) -> bool {
        if self
            .errors
            .get(&(resource, None))
            .is_some_and(|e| e.kind == ErrorKind::Forbidden)
        {
            let namespaced = matches!(
                resource,
                Resource::Pods
                    | Resource::Deployments
                    | Resource::DaemonSets
                    | Resource::StatefulSets
                    | Resource::Services
            );
            return !namespaced
                || self.namespaces.keys().all(|ns| {
                    self.synced_ns.contains(&(resource, ns.clone()))
                        || self.errors.contains_key(&(resource, Some(ns.clone())))
                });
        }
        self.synced.contains(&resource)
    }

    /// The first error about this resource, cluster-wide or in any namespace.
    pub fn error_for(&self, resource: Resource) -> Option<(&Option<String>, &SourceErr)> {
        // Keys sort by resource, then scope (None first): the first at or after
        // (resource, None) is this resource's, if it has any.
        self.errors
            .range((resource, None)..)
            .next()
            .filter(|((r, _), _)| *r == resource)
            .map(|((_, ns), e)| (ns, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first error of a resource, looked up by range, is the one a scan finds first.
    #[test]
    fn error_for_finds_the_resources_first_error() {
        let mut s = State::new(Keymap::default());
        let err = |m: &str| SourceErr {
            kind: ErrorKind::Api,
            message: m.into(),
            since: 0,
        };
        assert!(s.error_for(Resource::Pods).is_none());
        s.errors
            .insert((Resource::ProxyScrape, Some("a/b".into())), err("scrape"));
        s.errors.insert((Resource::Pods, Some("shop".into())), err("shop"));
        s.errors.insert((Resource::Pods, Some("a".into())), err("a"));
        s.errors.insert((Resource::Tap, None), err("tap"));
        let first = |s: &State, r| s.error_for(r).map(|(ns, e)| (ns.clone(), e.message.clone()));
        assert_eq!(first(&s, Resource::Pods), Some((Some("a".into()), "a".into())));
        s.errors.insert((Resource::Pods, None), err("all"));
        assert_eq!(first(&s, Resource::Pods), Some((None, "all".into())));
        assert_eq!(first(&s, Resource::Tap), Some((None, "tap".into())));
        assert_eq!(first(&s, Resource::Namespaces), None);
        assert_eq!(first(&s, Resource::Logs), None);
    }
}

//! The model of the world plus UI state. Mutated only by the fold.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

pub use super::traffic::{PodTraffic, Rates};
use crate::app::keymap::Keymap;
use crate::mesh::detect::{ControlPlane, Injection, PodMesh, WorkloadInfo};
use crate::model::{
    ApiServiceInfo, ClusterInfo, ErrorKind, NamespaceInfo, PodInfo, PodUsage, Resource, Series, UnixMillis,
};
use crate::ui::theme::Theme;

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
}

impl View {
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
        }
    }

    /// The resource whose watch feeds this view, for "why is it empty" messages.
    pub fn resource(&self) -> Resource {
        match self {
            View::Overview | View::ControlPlanes => Resource::Deployments,
            View::Namespaces => Resource::Namespaces,
            View::Pods | View::Workloads | View::PodDetail { .. } => Resource::Pods,
            View::Edges => Resource::ProxyScrape,
            View::Bench => Resource::Pods,
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

/// A pod with its mesh classification, computed once when the pod changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEntry {
    pub info: PodInfo,
    pub mesh: PodMesh,
}

/// A namespace with its injection settings, derived from its labels and annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceEntry {
    pub info: NamespaceInfo,
    pub injection: Vec<Injection>,
}

/// A pod's CPU (millicores) and memory (bytes) over time, app and proxy apart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageHistory {
    pub cpu_app: Series,
    pub cpu_proxy: Series,
    pub mem_app: Series,
    pub mem_proxy: Series,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficOrigin {
    Scrape,
    Prometheus { window_s: u32, source: String },
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
    /// Where traffic figures came from last: None (nothing yet), direct scrapes, or
    /// Prometheus with the window it computed.
    pub traffic_origin: Option<TrafficOrigin>,
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
    /// Named points in the session, in order (recording bookmarks).
    pub markers: Vec<(UnixMillis, String)>,

    // --- ui ---
    pub stack: Vec<ViewEntry>,
    pub mode: Mode,
    pub input: String,
    pub show_help: bool,
    /// Set while replaying a recording: where the replay is, for the status line.
    pub replay: Option<ReplayStatus>,
    /// Set while the session is being recorded.
    pub recording: Option<RecordingStatus>,
    /// The benchmark form while it is open.
    pub bench_form: Option<super::bench::BenchForm>,
    /// The rate window in seconds (one of `traffic::WINDOWS`).
    pub window_s: u32,
    /// A one-line message (unknown command, ...) shown until the next key.
    pub flash: Option<String>,
    pub themes: Vec<Theme>,
    pub theme: usize,
    pub keymap: Keymap,
    /// kubeconfig contexts, for `:ctx` completion and switching.
    pub contexts: Vec<String>,
    /// First visible row of the current table. Render keeps it so the selection stays in view.
    pub scroll: Cell<usize>,
    /// Rows the last rendered table could show; paging keys move by this much.
    pub last_page: Cell<usize>,
    /// Set by every change; the main loop clears it after drawing.
    pub dirty: bool,
}

impl State {
    pub fn new(themes: Vec<Theme>, theme: usize, keymap: Keymap) -> Self {
        State {
            cluster: None,
            api_latency_ms: None,
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
            traffic_origin: None,
            usage_origin: None,
            usage_history: BTreeMap::new(),
            synced: BTreeSet::new(),
            synced_ns: BTreeSet::new(),
            relisting: BTreeMap::new(),
            errors: BTreeMap::new(),
            markers: Vec::new(),
            benches: Vec::new(),
            bench_form: None,
            replay: None,
            recording: None,
            stack: vec![ViewEntry::new(View::Overview)],
            mode: Mode::Normal,
            input: String::new(),
            show_help: false,
            window_s: super::traffic::DEFAULT_WINDOW,
            flash: None,
            themes,
            theme,
            keymap,
            contexts: Vec::new(),
            scroll: Cell::new(0),
            last_page: Cell::new(20),
            dirty: true,
        }
    }

    pub fn entry(&self) -> &ViewEntry {
        self.stack.last().expect("the view stack is never empty")
    }

    pub fn entry_mut(&mut self) -> &mut ViewEntry {
        self.stack.last_mut().expect("the view stack is never empty")
    }

    pub fn theme(&self) -> &Theme {
        &self.themes[self.theme]
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
        self.errors
            .iter()
            .find(|((r, _), _)| *r == resource)
            .map(|((_, ns), e)| (ns, e))
    }
}

//! The events sources emit. Every one is plain data and serialisable, so a recording
//! is just these values written down, and replay feeds them back through the same fold.

use serde::{Deserialize, Serialize};

use crate::mesh::detect::WorkloadInfo;
use crate::model::{ApiServiceInfo, ClusterInfo, ErrorKind, NamespaceInfo, PodInfo, PodUsage, Resource, UnixMillis};

pub use crate::metrics::window::PodWindow;

/// One update and the wall-clock time the source observed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    pub at: UnixMillis,
    pub update: Update,
}

impl Stamped {
    pub fn now(update: Update) -> Self {
        Stamped {
            at: crate::model::now_millis(),
            update,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// The session clock advanced (ages in tables depend on it).
    Tick,
    /// The kube source connected (or reconnected) and learned who it talks to.
    Connected {
        cluster: ClusterInfo,
    },
    /// Round-trip time of the last API request, for the status line.
    ApiLatency {
        millis: u32,
    },
    /// A watch starts a fresh list: everything previously known for `resource` (in
    /// `namespace`, when set) is replaced by the objects that follow until `ListDone`.
    ListStarted {
        resource: Resource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// Keys already seen in this list (a snapshot taken while it was under way).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        seen: Vec<String>,
    },
    ListDone {
        resource: Resource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    NamespaceApplied {
        namespace: NamespaceInfo,
    },
    NamespaceDeleted {
        name: String,
    },
    PodApplied {
        pod: PodInfo,
    },
    PodDeleted {
        namespace: String,
        name: String,
    },
    WorkloadApplied {
        workload: WorkloadInfo,
    },
    WorkloadDeleted {
        kind: String,
        namespace: String,
        name: String,
    },
    /// A CustomResourceDefinition, by name (`virtualservices.networking.istio.io`) and group.
    CrdApplied {
        name: String,
        group: String,
    },
    CrdDeleted {
        name: String,
    },
    ApiServiceApplied {
        api_service: ApiServiceInfo,
    },
    ApiServiceDeleted {
        name: String,
    },
    ServiceApplied {
        service: crate::model::ServiceInfo,
    },
    ServiceDeleted {
        namespace: String,
        name: String,
    },
    /// The complete metrics.k8s.io list: per-container CPU and memory of every pod.
    PodUsage {
        usages: Vec<PodUsage>,
        #[serde(default)]
        origin: crate::model::UsageOrigin,
    },
    /// A proxy's cumulative golden-signal counters, summed by direction.
    ProxyScraped {
        namespace: String,
        pod: String,
        dialect: crate::metrics::golden::Dialect,
        inbound: crate::metrics::golden::Totals,
        outbound: crate::metrics::golden::Totals,
        /// Outbound counters per destination (service, workload or authority).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        edges: std::collections::BTreeMap<String, crate::metrics::golden::Totals>,
        /// What a proxy that reports for other workloads (ztunnel, a waypoint) counted for
        /// each of them, by `namespace/workload` (`metrics::golden::described`).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        described: std::collections::BTreeMap<String, crate::metrics::window::Counters>,
        /// Malformed lines skipped in the exposition.
        bad_lines: usize,
        /// The first of them, with its line number and why (`line 12: a label value longer
        /// than 16 KiB`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_bad_line: Option<String>,
    },
    /// Every pod's traffic over the window, computed by Prometheus (`rate(...[window])`).
    /// A complete list: pods not in it had no traffic in the window.
    PromTraffic {
        window_s: u32,
        /// The Prometheus asked, as the status line names it.
        source: String,
        pods: Vec<PodWindow>,
    },
    /// Proxy scraping against its budget (`--scrape-budget`): sent when the proxies to
    /// scrape go over it or back under, and when scraping hands over to Prometheus.
    ScrapeLoad(super::state::ScrapeLoad),
    /// A scrape of one pod failed (timeout, 403, oversized, not an exposition...).
    ScrapeFailed {
        namespace: String,
        pod: String,
        message: String,
    },
    /// A source failed. It keeps retrying; the error stays shown until `SourceRecovered`.
    /// `namespace` is set when only that namespace failed (per-namespace fallback under RBAC).
    SourceError {
        resource: Resource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        kind: ErrorKind,
        message: String,
    },
    /// A source that had crashed has run a while without crashing: its `Crashed` error
    /// goes (an error of another kind, reported by the source itself, stays).
    CrashRecovered {
        resource: Resource,
    },
    SourceRecovered {
        resource: Resource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    /// A benchmark run started (its configuration with secrets redacted, and its target).
    BenchStarted {
        id: u32,
        config: Box<crate::model::bench::BenchSpec>,
        target: crate::app::bench::BenchTarget,
    },
    /// A live snapshot of a run (about every 200 ms).
    BenchProgress {
        id: u32,
        progress: Box<crate::model::bench::BenchProgress>,
    },
    /// A run ended (completed, or stopped with its partial result).
    BenchFinished {
        id: u32,
        result: Box<crate::model::bench::BenchResult>,
    },
    /// An in-cluster run's agents, live (with each progress snapshot).
    BenchAgents {
        id: u32,
        agents: Vec<crate::model::bench::AgentStatus>,
    },
    /// A run could not start or failed.
    BenchFailed {
        id: u32,
        message: String,
    },
    /// A sweep starts: its plan. Its runs follow as benchmark runs tagged with the sweep
    /// (`BenchTarget::sweep`), and its table is built from them.
    SweepStarted {
        id: u32,
        spec: Box<crate::model::sweep::SweepSpec>,
    },
    /// A sweep ended (its last run, or stopped).
    SweepFinished {
        id: u32,
        cancelled: bool,
    },
    /// Requests seen by a tap source (Linkerd's tap, access logs, meshtop's own load),
    /// already redacted.
    TapEvents {
        events: Vec<crate::model::tap::TapEvent>,
    },
    /// A tap source's state: streaming, failed (and why), lines that did not parse.
    TapSource {
        name: String,
        status: crate::model::tap::TapSourceStatus,
    },
    /// A named point in a session (a presenter's bookmark); replay can seek to it.
    Marker {
        name: String,
    },
    // --- Restoring a session: a recording started mid-session opens with these, after the
    // lists, so it replays to exactly the world the TUI knew (see `app::snapshot`). ---
    /// A pod's traffic as it was: the kept scrapes, the window and the charts' history.
    /// With `for_workload`, what that pod (ztunnel, a waypoint) reported for that workload.
    TrafficRestored {
        namespace: String,
        pod: String,
        traffic: Box<super::traffic::TrafficSnapshot>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        for_workload: Option<String>,
    },
    /// A pod's CPU and memory history, for its charts.
    UsageHistoryRestored {
        namespace: String,
        pod: String,
        history: super::state::UsageSnapshot,
    },
    /// A benchmark run of the session as it was (running, finished or failed).
    BenchRestored {
        session: Box<super::bench::BenchSession>,
    },
    /// A sweep of the session as it was.
    SweepRestored {
        session: Box<super::sweep::SweepSession>,
    },
    /// What the status line knew: freshness, API latency, where figures came from.
    SessionRestored {
        last_update: Option<UnixMillis>,
        api_latency_ms: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_answered_at: Option<UnixMillis>,
        traffic_origin: Option<super::state::TrafficOrigin>,
        usage_origin: Option<(crate::model::UsageOrigin, UnixMillis)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scrape_load: Option<super::state::ScrapeLoad>,
    },
}

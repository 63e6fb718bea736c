//! A benchmark run as it is recorded, stored and reported: what was asked ([`BenchSpec`]),
//! live snapshots ([`BenchProgress`]) and the result ([`BenchResult`]). These are wire
//! types: the load generator converts its own state into them at its edge, so the engine
//! can change without changing recordings or saved results. Version-1 recordings and
//! results read as they were written.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::UnixMillis;
// The same serde forms as the engine's types, so both read and write alike.
use loadgen::types::{opt_secs, secs, status_codes};

/// One rate step of a ramp: `rate` requests/s for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateStep {
    pub rate: f64,
    #[serde(with = "secs")]
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSpec {
    /// `http://` or `https://` URL.
    pub url: String,
    pub method: String,
    /// Extra request headers, in order. `Host` is derived from the URL unless given here.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub connections: u32,
    /// Concurrent HTTP/2 streams per connection (1 for HTTP/1.1).
    pub streams: u32,
    /// Worker threads, each a single-threaded runtime owning a share of the connections.
    pub threads: u32,
    /// Total requests/s across all connections; 0 = closed loop (as fast as possible).
    pub rate: f64,
    /// Rate steps run after the warm-up and before the main phase at `rate`.
    #[serde(default)]
    pub ramp: Vec<RateStep>,
    /// Length of the main phase (after the ramp); None = until `requests` are done.
    #[serde(with = "opt_secs")]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests (responses and errors).
    pub requests: Option<u64>,
    /// Sent but excluded from the results.
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// Per request, from send to the last body byte; also bounds connect and TLS handshake.
    #[serde(with = "secs")]
    pub timeout: Duration,
    pub http2: bool,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// CA bundle and client certificate files, when given (absent from older files).
    #[serde(default, skip_serializing_if = "TlsFiles::is_empty")]
    pub tls: TlsFiles,
    pub label: Option<String>,
    /// Why the run has `threads` when none were asked for ("default: ..."); absent when
    /// they were, and from older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_note: Option<String>,
}

/// PEM files that change how the server is verified and how meshtop proves itself to it.
/// Their paths are kept with a result so it says what it was verified against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsFiles {
    /// CA bundle the server's certificate is verified against, instead of the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<std::path::PathBuf>,
    /// Client certificate chain, for servers that ask for one (mTLS ingress gateways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<std::path::PathBuf>,
    /// The client certificate's private key. Kept as `keyfile`: a path, not a secret,
    /// which the redaction policy would blank under the name `key`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "keyfile")]
    pub key: Option<std::path::PathBuf>,
}

impl TlsFiles {
    pub fn is_empty(&self) -> bool {
        *self == TlsFiles::default()
    }
}

impl BenchSpec {
    /// What a result and the bench panel say about the server's certificate, when there is
    /// something to say: not checked (`--insecure`), or checked against a private CA.
    pub fn tls_note(&self) -> Option<String> {
        if !self.url.starts_with("https://") {
            return None;
        }
        if self.insecure {
            return Some("TLS not verified".into());
        }
        let mut parts = Vec::new();
        if let Some(ca) = &self.tls.cacert {
            parts.push(format!("TLS verified with {}", ca.display()));
        }
        if let Some(cert) = &self.tls.cert {
            parts.push(format!("client certificate {}", cert.display()));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    pub fn open_loop(&self) -> bool {
        self.rate > 0.0
    }

    /// Concurrent request slots: each has its own schedule and one request in flight.
    pub fn lanes(&self) -> u32 {
        self.connections.saturating_mul(self.streams)
    }

    /// Threads actually used: never more than connections.
    pub fn worker_threads(&self) -> u32 {
        self.threads.clamp(1, self.connections.max(1))
    }

    /// Warm-up, ramp and main phase, when the run is bounded by time.
    pub fn total_time(&self) -> Option<Duration> {
        let ramp: Duration = self.ramp.iter().map(|s| s.duration).sum();
        self.duration.map(|d| self.warmup + ramp + d)
    }
}

/// Version of the stored and printed result's shape: fields are added, never renamed or
/// removed, within a major version.
pub const SCHEMA_VERSION: u32 = 1;

fn first_version() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// TCP connect failed (refused, unreachable) or the name did not resolve.
    Connect,
    /// No complete response within the timeout (or connect/handshake took longer).
    Timeout,
    /// The server closed or reset the connection before the response was complete.
    Reset,
    /// TLS handshake failed (certificate not trusted, protocol mismatch).
    Tls,
    Other,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub connect: u64,
    pub timeout: u64,
    pub reset: u64,
    pub tls: u64,
    pub other: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.reset + self.tls + self.other
    }

    /// The total, or None where it would overflow (counts read from outside).
    pub fn total_checked(&self) -> Option<u64> {
        [self.timeout, self.reset, self.tls, self.other]
            .iter()
            .try_fold(self.connect, |a, b| a.checked_add(*b))
    }

    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Connect => self.connect,
            ErrorKind::Timeout => self.timeout,
            ErrorKind::Reset => self.reset,
            ErrorKind::Tls => self.tls,
            ErrorKind::Other => self.other,
        }
    }
}

/// One histogram bin, `[start, end)`, in the owner's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bin {
    pub start: u64,
    pub end: u64,
    pub count: u64,
}

/// Summary of a recorded distribution, from an HdrHistogram with 3 significant
/// figures: latencies in microseconds, sizes in bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: u64,
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    /// Non-empty log-spaced bins (10 per decade), for charts and fortio's `Data`.
    pub bins: Vec<Bin>,
}

/// One second of the measured run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecondStats {
    /// Seconds since the measurement start (this row covers `[second, second+1)`).
    pub second: u32,
    pub requests: u64,
    pub errors: u64,
    /// Requests completed per second in this row (the last row may be shorter than 1 s).
    pub rps: f64,
    /// Corrected latency of the responses completed in this second.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Where the run ran, when the caller knows (the TUI does; the headless CLI does not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub cores: Option<u32>,
    pub mem_mb: Option<u64>,
}

/// The mesh in the request path, when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshInfo {
    /// meshtop's mesh name (`istio`, `linkerd`, ...).
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// The shape's version, as every JSON output of meshtop says it.
    #[serde(default = "first_version")]
    pub schema_version: u32,
    /// The same number under the name results had before `schema_version`: kept, since
    /// fields are never removed.
    #[serde(default = "first_version")]
    pub format: u32,
    pub meshtop_version: String,
    pub label: Option<String>,
    pub url: String,
    /// The run's configuration, credential headers redacted.
    pub config: BenchSpec,
    pub body_bytes: u64,
    /// `HTTP/1.1` or `HTTP/2`.
    pub protocol: String,
    pub threads: u32,
    /// Measurement start and end (after the warm-up).
    pub started_at: UnixMillis,
    pub ended_at: UnixMillis,
    pub duration_s: f64,
    /// Stopped before its planned end; the numbers cover what ran.
    pub cancelled: bool,
    /// Main-phase rate; None for a closed loop.
    pub requested_rate: Option<f64>,
    /// Measured requests (responses + errors) per second of measured time.
    pub achieved_rate: f64,
    /// Responses plus errors.
    pub requests: u64,
    pub responses: u64,
    /// Sent during the warm-up and left out of everything else.
    pub warmup_requests: u64,
    #[serde(with = "status_codes")]
    pub status: BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    /// The first message seen for each kind of error, to say what went wrong.
    #[serde(default)]
    pub error_samples: BTreeMap<ErrorKind, String>,
    /// From the intended send time (coordinated omission corrected). Equal to the
    /// uncorrected one in a closed loop, where the intended time is the send time.
    pub latency: Distribution,
    /// From the actual send time.
    pub latency_uncorrected: Distribution,
    /// Actual minus intended send time; open loop only.
    pub schedule_lag: Option<Distribution>,
    pub body_sizes: Distribution,
    /// Computed from the parsed response headers (`name: value` lines), not the wire.
    pub header_sizes: Distribution,
    /// Requests' serialised size (HTTP/1.1 wire size; uncompressed headers for HTTP/2).
    pub bytes_sent: u64,
    /// Response bodies plus computed header sizes.
    pub bytes_received: u64,
    pub connections_opened: u64,
    /// Connections re-established after the server closed one (keep-alive limits).
    pub reconnects: u64,
    pub series: Vec<SecondStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshInfo>,
    /// A run sent from agent pods in the cluster (`bench --in-cluster`): where, and the
    /// shares missing from the figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentsInfo>,
}

/// One agent of an in-cluster run, live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub index: u32,
    pub pod: Option<String>,
    pub state: AgentPhase,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Its share of the run: "rate 250/s, 16 connections".
    pub share: String,
    pub requests: u64,
    /// Requests per second over its latest frame.
    pub rate: f64,
    /// A straggler: its latest frame is more than a second behind the newest agent's, or
    /// it started more than a second after the planned start.
    pub behind: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentPhase {
    Waiting,
    Running,
    Done,
    Failed,
}

/// The agents of an in-cluster run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentsInfo {
    pub count: u32,
    pub namespace: String,
    pub job: String,
    /// Agents whose share is not in the result, each with its share and why.
    #[serde(default)]
    pub missing: Vec<MissingShare>,
    /// Agents that started more than a second after the planned start, and how late.
    #[serde(default)]
    pub late: Vec<String>,
    /// Times an agent's stream through the API server broke and was resumed from the next
    /// frame it needed (no frame lost or counted twice: the merge checks).
    #[serde(default)]
    pub stream_reconnects: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingShare {
    pub index: u32,
    /// "rate 250/s, 12 connections".
    pub share: String,
    pub why: String,
}

impl BenchResult {
    /// Responses with a status below 400, over all requests (errors count as failures).
    pub fn success_ratio(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        let ok: u64 = self
            .status
            .iter()
            .filter(|(code, _)| **code < 400)
            .map(|(_, n)| n)
            .sum();
        ok as f64 / self.requests as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Resolving the target and opening the connections.
    Connecting,
    Warmup,
    Running,
    /// No new requests; waiting for those in flight.
    Draining,
    Finished,
}

/// A live snapshot, published about every 200 ms while a run goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchProgress {
    pub phase: Phase,
    /// Seconds since the measurement start (0 during the warm-up).
    pub elapsed_s: f64,
    pub warmup_left_s: f64,
    /// Ramp plus main phase, when bounded by time.
    pub target_duration_s: Option<f64>,
    pub target_requests: Option<u64>,
    pub requests: u64,
    pub responses: u64,
    /// Over the last second.
    pub current_rps: f64,
    /// What the schedule asks for now (ramp step or main rate); None in a closed loop.
    pub requested_rate: Option<f64>,
    /// Corrected latency of all measured responses so far, in microseconds.
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    /// About 30 log-spaced bins between the fastest and slowest response so far (µs).
    pub histogram: Vec<Bin>,
    #[serde(with = "status_codes")]
    pub status: BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl BenchProgress {
    pub fn starting(config: &BenchSpec) -> BenchProgress {
        BenchProgress {
            phase: Phase::Connecting,
            elapsed_s: 0.0,
            warmup_left_s: config.warmup.as_secs_f64(),
            target_duration_s: config.total_time().map(|t| (t - config.warmup).as_secs_f64()),
            target_requests: config.requests,
            requests: 0,
            responses: 0,
            current_rps: 0.0,
            requested_rate: None,
            p50_us: 0,
            p90_us: 0,
            p99_us: 0,
            p999_us: 0,
            histogram: Vec::new(),
            status: BTreeMap::new(),
            errors: ErrorCounts::default(),
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    /// 0..=1 of the planned run, by time or by requests, whichever is further.
    pub fn fraction_done(&self) -> f64 {
        let by_time = self.target_duration_s.filter(|d| *d > 0.0).map(|d| self.elapsed_s / d);
        let by_count = self
            .target_requests
            .filter(|n| *n > 0)
            .map(|n| self.requests as f64 / n as f64);
        by_time.into_iter().chain(by_count).fold(0.0, f64::max).clamp(0.0, 1.0)
    }
}

//! A tap event: one request seen by a proxy (Linkerd's tap), logged by one (an Envoy access
//! log line), or sent by meshtop's own load generator. Plain data: updates carry it,
//! recordings keep it, `meshtop tap -o json` prints it.

use serde::{Deserialize, Serialize};

use super::UnixMillis;

/// Which way the request crossed the proxy that reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// `in` or `out`, for narrow columns; `-` when unknown.
    pub fn short(d: Option<Direction>) -> &'static str {
        match d {
            Some(Direction::Inbound) => "in",
            Some(Direction::Outbound) => "out",
            None => "-",
        }
    }
}

/// Where a tap event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapOrigin {
    /// Linkerd's tap API (through the API server's aggregation layer).
    Linkerd,
    /// An Envoy access-log line (Istio, Consul, Kuma, OSM), followed through the pod log API
    /// or read from a file.
    Logs,
    /// A request meshtop's own load generator sent (sampled).
    Bench,
}

impl TapOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            TapOrigin::Linkerd => "linkerd",
            TapOrigin::Logs => "logs",
            TapOrigin::Bench => "bench",
        }
    }
}

/// One request (or, from an access log, one TCP connection) and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapEvent {
    /// When the request started.
    pub time: UnixMillis,
    pub origin: TapOrigin,
    pub direction: Option<Direction>,
    /// Who sent it: `namespace/pod` when known, else an address.
    pub source: String,
    /// Where it went: `namespace/pod`, a service (`web.emojivoto:80`) or an address.
    pub destination: String,
    /// None for a TCP entry of an access log.
    pub method: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    /// The HTTP status; None for a TCP entry or a request that got no response yet. 0 is
    /// Envoy's "no response" (e.g. the upstream failed).
    pub status: Option<u16>,
    pub duration_ms: Option<f64>,
    /// Request body bytes (as the proxy counted them).
    pub bytes_received: Option<u64>,
    /// Response body bytes.
    pub bytes_sent: Option<u64>,
    pub upstream_host: Option<String>,
    pub upstream_cluster: Option<String>,
    /// Envoy's response flags (`UF`, `UH`, `NR`...), None for none.
    pub response_flags: Option<String>,
    /// gRPC status from the trailers, when the request was gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    /// Why the request failed without a status: a stream reset, a connection error, no
    /// response within the time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The proxy or run that saw it: `namespace/pod`, or `bench #3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// Everything else the details pane shows (protocol, user agent, request id, TLS,
    /// headers), in the order the source gave them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<(String, String)>,
}

/// Longest path kept (the rest is cut with `…`): a path is a group key and a row.
pub const MAX_PATH: usize = 1024;
/// Longest other text kept (authorities, header values, labels).
pub const MAX_TEXT: usize = 512;

/// Cuts `s` to at most `max` bytes at a character boundary, and replaces control characters
/// (which would drive the terminal) with `?`.
fn bound_text(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    if s.chars().any(char::is_control) {
        *s = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    }
}

/// Detail fields whose values are addresses, numbers or Envoy's own codes.
const SAFE_DETAILS: &[&str] = &[
    "protocol",
    "response code details",
    "connection termination",
    "upstream service time ms",
    "request id",
    "upstream local address",
    "downstream local address",
    "downstream remote address",
    "requested server name",
    "route",
    "source address",
    "destination address",
    "time to first byte ms",
    "scheme",
];

impl TapEvent {
    /// Bounds every text field (memory stays bounded by the number of events kept, whatever
    /// a proxy writes) and takes out control characters.
    pub fn bound(&mut self) {
        if let Some(p) = &mut self.path {
            bound_text(p, MAX_PATH);
        }
        for s in [
            &mut self.method,
            &mut self.authority,
            &mut self.upstream_host,
            &mut self.upstream_cluster,
            &mut self.response_flags,
            &mut self.error,
            &mut self.reporter,
        ]
        .into_iter()
        .flatten()
        {
            bound_text(s, MAX_TEXT);
        }
        bound_text(&mut self.source, MAX_TEXT);
        bound_text(&mut self.destination, MAX_TEXT);
        self.details.truncate(64);
        for (k, v) in &mut self.details {
            bound_text(k, MAX_TEXT);
            bound_text(v, MAX_TEXT);
        }
    }

    /// Authority and path together, as a URL without its scheme (`-` when neither is known).
    pub fn target(&self) -> String {
        match (&self.authority, &self.path) {
            (Some(a), Some(p)) => format!("{a}{p}"),
            (None, Some(p)) => p.clone(),
            (Some(a), None) => a.clone(),
            (None, None) => "-".into(),
        }
    }

    /// An event with only its time, origin and endpoints; the rest is filled in by the source.
    pub fn new(time: UnixMillis, origin: TapOrigin, source: String, destination: String) -> Self {
        TapEvent {
            time,
            origin,
            direction: None,
            source,
            destination,
            method: None,
            authority: None,
            path: None,
            status: None,
            duration_ms: None,
            bytes_received: None,
            bytes_sent: None,
            upstream_host: None,
            upstream_cluster: None,
            response_flags: None,
            grpc_status: None,
            error: None,
            reporter: None,
            details: Vec::new(),
        }
    }

    /// Whether the request succeeded, as `linkerd viz top` counts it: a status below 500
    /// and, for gRPC, status OK; no error. A TCP entry succeeds without response flags.
    pub fn success(&self) -> bool {
        if self.error.is_some() || self.grpc_status.is_some_and(|g| g != 0) {
            return false;
        }
        match self.status {
            Some(s) => (1..500).contains(&s),
            None => self.method.is_none() && self.response_flags.is_none(),
        }
    }

    /// Takes secrets out before the event is shown, printed or written, by the one redaction
    /// policy: credential-looking query parameters and userinfo in paths and authorities,
    /// the values of credential-like headers (Authorization, Cookie, ...).
    pub fn redact(&mut self) {
        self.bound();
        for s in [&mut self.path, &mut self.authority, &mut self.upstream_host]
            .into_iter()
            .flatten()
        {
            if let Some(r) = crate::redact::redact_text(s) {
                *s = r;
            }
        }
        // An authority's userinfo (`u:pw@web:80`) has no scheme before it to be found by.
        if let Some(a) = &mut self.authority
            && let Some(at) = a.rfind('@')
            && a[..at] != *crate::redact::REDACTED
        {
            *a = format!("{}{}", crate::redact::REDACTED, &a[at..]);
        }
        for (name, value) in &mut self.details {
            // Addresses, sizes and Envoy's own words hold no secret; skipping them keeps the
            // parse of an access-log line fast (they are most of its fields).
            if SAFE_DETAILS.contains(&name.as_str()) {
                continue;
            }
            // Headers are kept as `header NAME`, `response header NAME`, `trailer NAME`.
            let header = ["header ", "response header ", "trailer "]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .unwrap_or(name);
            crate::redact::header_value(header, value);
        }
    }
}

/// How a tap source is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapSourceState {
    Connecting,
    Streaming,
    /// It ended on its own (a bench run finished, a log stream closed).
    Ended,
    /// It cannot go on; `message` says why.
    Failed,
}

impl TapSourceState {
    pub fn live(self) -> bool {
        matches!(self, TapSourceState::Connecting | TapSourceState::Streaming)
    }
}

/// What a tap source says about itself: shown in the tap view's title and by `meshtop tap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapSourceStatus {
    pub origin: TapOrigin,
    /// What it taps (`deploy/web in emojivoto`, `bench #2`).
    pub target: String,
    pub state: TapSourceState,
    /// Why it failed, or what it is doing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the user can do about it (turn access logs on, install linkerd-viz).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Log lines read, and those that were not access-log entries.
    #[serde(default)]
    pub lines: u64,
    #[serde(default)]
    pub unparsed: u64,
    /// The last line that did not parse (cut, redacted) and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_unparsed: Option<String>,
}

impl TapSourceStatus {
    pub fn new(origin: TapOrigin, target: impl Into<String>, state: TapSourceState) -> Self {
        TapSourceStatus {
            origin,
            target: target.into(),
            state,
            message: None,
            hint: None,
            lines: 0,
            unparsed: 0,
            last_unparsed: None,
        }
    }
}

/// Which source `meshtop tap` and `:tap` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapSourceChoice {
    /// Linkerd's tap API for Linkerd pods, access logs for Envoy meshes.
    #[default]
    Auto,
    Linkerd,
    Logs,
}

/// What to tap: a workload, a pod or a whole namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapTarget {
    pub namespace: String,
    /// `deployment`, `statefulset`, `daemonset`, `pod` or `namespace` (as Linkerd's tap
    /// API names resource types).
    pub kind: String,
    pub name: String,
}

impl TapTarget {
    /// `deploy/web`, `pod/web-1`, `ns/emojivoto`, `sts/db`, `ds/agent` (kubectl's short and
    /// long names); the namespace is `namespace` unless the target is one.
    pub fn parse(s: &str, namespace: &str) -> Result<Self, String> {
        let t = s.trim();
        let Some((kind, name)) = t.split_once('/') else {
            return Err(format!(
                "{t:?} is not a target: give TYPE/NAME, e.g. deploy/web, pod/web-1 or ns/emojivoto"
            ));
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "deploy" | "deployment" | "deployments" => "deployment",
            "sts" | "statefulset" | "statefulsets" => "statefulset",
            "ds" | "daemonset" | "daemonsets" => "daemonset",
            "po" | "pod" | "pods" => "pod",
            "ns" | "namespace" | "namespaces" => "namespace",
            other => {
                return Err(format!(
                    "{other:?} is not a type tap takes (deploy, sts, ds, pod or ns)"
                ));
            }
        };
        let valid = if kind == "namespace" {
            crate::input::is_namespace_name(name)
        } else {
            crate::input::is_object_name(name)
        };
        if !valid {
            return Err(format!("{name:?} is not a Kubernetes name"));
        }
        if kind != "namespace" && !crate::input::is_namespace_name(namespace) {
            return Err(format!("{namespace:?} is not a namespace name"));
        }
        let namespace = if kind == "namespace" { name } else { namespace };
        Ok(TapTarget {
            namespace: namespace.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
        })
    }

    /// `deploy/web in emojivoto`, `ns/emojivoto`.
    pub fn describe(&self) -> String {
        let short = match self.kind.as_str() {
            "deployment" => "deploy",
            "statefulset" => "sts",
            "daemonset" => "ds",
            "namespace" => return format!("ns/{}", self.name),
            other => other,
        };
        format!("{short}/{} in {}", self.name, self.namespace)
    }
}

/// A tap to start: the target, the source and what to ask of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapSpec {
    pub target: TapTarget,
    pub source: TapSourceChoice,
    /// Linkerd's `maxRps`: events the tap server inspects per second, across the pods.
    pub max_rps: f32,
    /// Asked of Linkerd's proxies (fewer events sent); meshtop filters again after the fact.
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> TapEvent {
        TapEvent::new(0, TapOrigin::Logs, "a".into(), "b".into())
    }

    #[test]
    fn success_follows_status_grpc_and_errors() {
        let mut e = ev();
        e.method = Some("GET".into());
        e.status = Some(200);
        assert!(e.success());
        e.status = Some(404);
        assert!(e.success());
        e.status = Some(503);
        assert!(!e.success());
        e.status = Some(0);
        assert!(!e.success(), "Envoy's 0 is no response");
        e.status = Some(200);
        e.grpc_status = Some(14);
        assert!(!e.success());
        e.grpc_status = Some(0);
        e.error = Some("reset".into());
        assert!(!e.success());
        // TCP entries: judged by their flags.
        let mut t = ev();
        assert!(t.success());
        t.response_flags = Some("UF".into());
        assert!(!t.success());
    }

    #[test]
    fn long_fields_are_cut_and_control_characters_replaced() {
        let mut e = ev();
        e.path = Some(format!("/{}", "é".repeat(2000)));
        e.authority = Some("web\u{1b}[2J:80".into());
        e.redact();
        let p = e.path.unwrap();
        assert!(p.len() <= MAX_PATH + '…'.len_utf8() && p.ends_with('…'), "{}", p.len());
        assert_eq!(e.authority.as_deref(), Some("web?[2J:80"));
    }

    #[test]
    fn targets() {
        let t = TapTarget::parse("deploy/web", "emojivoto").unwrap();
        assert_eq!(
            (t.kind.as_str(), t.name.as_str(), t.namespace.as_str()),
            ("deployment", "web", "emojivoto")
        );
        assert_eq!(t.describe(), "deploy/web in emojivoto");
        let n = TapTarget::parse("ns/shop", "default").unwrap();
        assert_eq!((n.kind.as_str(), n.namespace.as_str()), ("namespace", "shop"));
        assert_eq!(n.describe(), "ns/shop");
        assert!(TapTarget::parse("web", "default").unwrap_err().contains("TYPE/NAME"));
        assert!(TapTarget::parse("svc/web", "default").unwrap_err().contains("\"svc\""));
        assert!(TapTarget::parse("pod/Web_1", "default").is_err());
        assert!(TapTarget::parse("pod/", "default").is_err());
    }

    #[test]
    fn redaction_covers_paths_and_headers() {
        let mut e = ev();
        e.path = Some("/login?user=a&token=abc123".into());
        e.authority = Some("u:pw@web:80".into());
        e.details = vec![
            ("header authorization".into(), "Bearer xyz".into()),
            ("header cookie".into(), "session=1".into()),
            ("header user-agent".into(), "curl/8".into()),
        ];
        e.redact();
        assert_eq!(e.path.as_deref(), Some("/login?user=a&token=<redacted>"));
        assert_eq!(e.authority.as_deref(), Some("<redacted>@web:80"));
        assert_eq!(e.details[0].1, "<redacted>");
        assert_eq!(e.details[1].1, "<redacted>");
        assert_eq!(e.details[2].1, "curl/8");
    }
}

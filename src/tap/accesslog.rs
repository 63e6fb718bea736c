//! Envoy access-log lines into tap events: Istio's default TEXT format (1.9 and later, and
//! the older one with the mixer status), Istio's JSON encoding, and Envoy's own default
//! format. Consul, Kuma and OSM run Envoy, so their logs in these formats parse too.
//!
//! A line either gives one event or an error that says why; callers count the errors and
//! show them (never dropped silently). Fields are taken by position, so a custom format
//! with fields added or removed is an error, not a misread.

use crate::model::UnixMillis;
use crate::model::tap::{Direction, TapEvent, TapOrigin};

/// Why a line is not an access-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub &'static str);

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Lines longer than this are not access-log entries (and are not scanned).
pub const MAX_LINE: usize = 64 * 1024;

/// Parses one line. `reporter` is the pod whose proxy wrote it (`namespace/pod`), when
/// known: it is one end of the request (the destination of an inbound request, the source
/// of an outbound one).
pub fn parse_line(line: &str, reporter: Option<&str>) -> Result<TapEvent, LineError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.len() > MAX_LINE {
        return Err(LineError("longer than 64 KiB"));
    }
    let body = strip_log_prefix(line.trim_start());
    let mut event = if body.starts_with('{') {
        json(body)?
    } else if body.starts_with('[') {
        text(body)?
    } else if body.is_empty() {
        return Err(LineError("empty line"));
    } else {
        return Err(LineError("not an access-log entry (no [START_TIME] or JSON object)"));
    };
    if let Some(r) = reporter {
        event.reporter = Some(r.to_string());
    }
    // Kuma names both ends itself (its services); the others are placed from the cluster.
    if event.source.is_empty() {
        ends(&mut event, reporter);
    }
    event.redact();
    Ok(event)
}

/// `kubectl logs --timestamps` puts an RFC 3339 time and a space before each line.
fn strip_log_prefix(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest))
            if first.len() >= 20
                && first.as_bytes()[0].is_ascii_digit()
                && first.as_bytes().get(4) == Some(&b'-')
                && first.contains('T') =>
        {
            rest.trim_start()
        }
        _ => line,
    }
}

/// Splits a TEXT line into fields: `[...]`, `"..."` (spaces inside kept) or a run of
/// non-spaces. A bracket or quote left open means the line was cut.
fn fields(line: &str) -> Result<Vec<&str>, LineError> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(24);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'[' => {
                let end = memchr(b']', &b[i + 1..]).ok_or(LineError("cut short (a [ is not closed)"))?;
                out.push(&line[i + 1..i + 1 + end]);
                i += end + 2;
            }
            b'"' => {
                // A quote ends a field when a space or the end of the line follows it, so a
                // quote inside a user agent does not cut the field.
                let mut j = i + 1;
                let end = loop {
                    match memchr(b'"', &b[j..]) {
                        Some(k) if j + k + 1 == b.len() || b[j + k + 1] == b' ' => break j + k,
                        Some(k) => j += k + 1,
                        None => return Err(LineError("cut short (a quoted field is not closed)")),
                    }
                };
                out.push(&line[i + 1..end]);
                i = end + 1;
            }
            _ => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b' ' || c == b'\t')
                    .map_or(b.len(), |k| i + k);
                out.push(&line[i..end]);
                i = end;
            }
        }
    }
    Ok(out)
}

fn memchr(c: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&x| x == c)
}

/// `-` is Envoy's "no value".
fn opt(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "-").then_some(s)
}

fn opt_string(s: &str) -> Option<String> {
    opt(s).map(str::to_string)
}

fn number(s: &str, what: &'static str) -> Result<Option<u64>, LineError> {
    match opt(s) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| LineError(what)),
    }
}

fn start_time(s: &str) -> Result<UnixMillis, LineError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| LineError("START_TIME is not an RFC 3339 time"))
}

/// The request line `METHOD PATH PROTOCOL`; `- - -` for a TCP entry.
fn request_line(s: &str, e: &mut TapEvent) -> Result<(), LineError> {
    let mut parts = s.splitn(3, ' ');
    let (Some(method), Some(path), Some(protocol)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LineError("the request field is not \"METHOD PATH PROTOCOL\""));
    };
    e.method = opt_string(method);
    e.path = opt_string(path);
    if let Some(p) = opt(protocol) {
        e.details.push(("protocol".into(), p.into()));
    }
    Ok(())
}

/// Positions of the fields after the request line, per known TEXT format.
struct Layout {
    code: usize,
    flags: usize,
    details: Option<usize>,
    termination: Option<usize>,
    transport_failure: usize,
    bytes_received: usize,
    bytes_sent: usize,
    duration: usize,
    upstream_time: usize,
    forwarded_for: usize,
    user_agent: usize,
    request_id: usize,
    authority: usize,
    upstream_host: usize,
    /// The rest (upstream cluster, addresses, SNI, route) only in Istio's formats.
    istio_tail: Option<usize>,
}

/// Istio 1.9 and later (22 fields).
const ISTIO: Layout = Layout {
    code: 2,
    flags: 3,
    details: Some(4),
    termination: Some(5),
    transport_failure: 6,
    bytes_received: 7,
    bytes_sent: 8,
    duration: 9,
    upstream_time: 10,
    forwarded_for: 11,
    user_agent: 12,
    request_id: 13,
    authority: 14,
    upstream_host: 15,
    istio_tail: Some(16),
};

/// Istio 1.5–1.8, with `"%DYNAMIC_METADATA(istio.mixer:status)%"` (21 fields).
const ISTIO_MIXER: Layout = Layout {
    code: 2,
    flags: 3,
    details: None,
    termination: None,
    transport_failure: 5,
    bytes_received: 6,
    bytes_sent: 7,
    duration: 8,
    upstream_time: 9,
    forwarded_for: 10,
    user_agent: 11,
    request_id: 12,
    authority: 13,
    upstream_host: 14,
    istio_tail: Some(15),
};

/// Envoy's default format (13 fields).
const ENVOY: Layout = Layout {
    code: 2,
    flags: 3,
    details: None,
    termination: None,
    transport_failure: usize::MAX,
    bytes_received: 4,
    bytes_sent: 5,
    duration: 6,
    upstream_time: 7,
    forwarded_for: 8,
    user_agent: 9,
    request_id: 10,
    authority: 11,
    upstream_host: 12,
    istio_tail: None,
};

fn text(line: &str) -> Result<TapEvent, LineError> {
    let f = fields(line)?;
    // Kuma puts the mesh's name before the request line, and writes TCP entries as a sentence.
    if f.len() >= 3 && !f[1].contains(' ') {
        if matches!(f.len(), 17 | 18) && f[2].contains(' ') {
            return kuma_http(&f);
        }
        if f.len() == 12 && f[4] == "took" {
            return kuma_tcp(&f);
        }
    }
    let layout = match f.len() {
        22 => &ISTIO,
        21 => &ISTIO_MIXER,
        13 => &ENVOY,
        _ => {
            return Err(LineError(
                "not Istio's or Envoy's default format (unexpected number of fields)",
            ));
        }
    };
    let mut e = TapEvent::new(start_time(f[0])?, TapOrigin::Logs, String::new(), String::new());
    request_line(f[1], &mut e)?;
    let code = number(f[layout.code], "RESPONSE_CODE is not a number")?;
    e.status = match (e.method.is_some(), code) {
        (false, _) => None,
        (true, c) => Some(u16::try_from(c.unwrap_or(0)).map_err(|_| LineError("RESPONSE_CODE out of range"))?),
    };
    e.response_flags = opt_string(f[layout.flags]);
    e.bytes_received = number(f[layout.bytes_received], "BYTES_RECEIVED is not a number")?;
    e.bytes_sent = number(f[layout.bytes_sent], "BYTES_SENT is not a number")?;
    e.duration_ms = number(f[layout.duration], "DURATION is not a number")?.map(|d| d as f64);
    e.authority = opt_string(f[layout.authority]);
    e.upstream_host = opt_string(f[layout.upstream_host]);
    let mut detail = |name: &str, i: Option<usize>| {
        if let Some(v) = i.and_then(|i| f.get(i)).and_then(|v| opt(v)) {
            e.details.push((name.to_string(), v.to_string()));
        }
    };
    detail("response code details", layout.details);
    detail("connection termination", layout.termination);
    detail("upstream transport failure", Some(layout.transport_failure));
    detail("upstream service time ms", Some(layout.upstream_time));
    detail("x-forwarded-for", Some(layout.forwarded_for));
    detail("user agent", Some(layout.user_agent));
    detail("request id", Some(layout.request_id));
    if let Some(t) = layout.istio_tail {
        detail("upstream local address", Some(t + 1));
        detail("downstream local address", Some(t + 2));
        detail("downstream remote address", Some(t + 3));
        detail("requested server name", Some(t + 4));
        detail("route", Some(t + 5));
        e.upstream_cluster = opt_string(f[t]);
    }
    Ok(e)
}

/// Kuma's default HTTP format (MeshAccessLog): `[START] MESH "REQ" CODE FLAGS RECEIVED SENT
/// DURATION UPSTREAM_TIME "XFF" "UA" ["TRACE_ID"] "REQUEST_ID" "AUTHORITY" "SOURCE_SERVICE"
/// "DESTINATION_SERVICE" "SOURCE_ADDRESS" "UPSTREAM_HOST"` (the trace id since Kuma 1.x).
fn kuma_http(f: &[&str]) -> Result<TapEvent, LineError> {
    let mut e = TapEvent::new(start_time(f[0])?, TapOrigin::Logs, String::new(), String::new());
    e.details.push(("mesh".into(), f[1].to_string()));
    request_line(f[2], &mut e)?;
    let code = number(f[3], "RESPONSE_CODE is not a number")?;
    e.status = match e.method {
        None => None,
        Some(_) => Some(u16::try_from(code.unwrap_or(0)).map_err(|_| LineError("RESPONSE_CODE out of range"))?),
    };
    e.response_flags = opt_string(f[4]);
    e.bytes_received = number(f[5], "BYTES_RECEIVED is not a number")?;
    e.bytes_sent = number(f[6], "BYTES_SENT is not a number")?;
    e.duration_ms = number(f[7], "DURATION is not a number")?.map(|d| d as f64);
    let rest = &f[f.len() - 6..];
    let mut detail = |name: &str, v: &str| {
        if let Some(v) = opt(v) {
            e.details.push((name.to_string(), v.to_string()));
        }
    };
    detail("upstream service time ms", f[8]);
    detail("x-forwarded-for", f[9]);
    detail("user agent", f[10]);
    if f.len() == 18 {
        detail("trace id", f[11]);
    }
    detail("request id", rest[0]);
    detail("downstream remote address", rest[4]);
    e.authority = opt_string(rest[1]);
    e.upstream_host = opt_string(rest[5]);
    let (src, dst) = (opt_string(rest[2]), opt_string(rest[3]));
    e.details
        .push(("kuma source service".into(), src.clone().unwrap_or_else(|| "-".into())));
    e.details.push((
        "kuma destination service".into(),
        dst.clone().unwrap_or_else(|| "-".into()),
    ));
    e.source = src.or_else(|| opt_string(rest[4])).unwrap_or_else(|| "-".into());
    e.destination = dst.or_else(|| e.authority.clone()).unwrap_or_else(|| "-".into());
    Ok(e)
}

/// Kuma's default TCP format: `[START] FLAGS MESH SRC_ADDR(SRC_SVC)->UPSTREAM(DST_SVC) took
/// 12ms, sent 100 bytes, received: 200 bytes`.
fn kuma_tcp(f: &[&str]) -> Result<TapEvent, LineError> {
    let bad = LineError("not Kuma's TCP format");
    let mut e = TapEvent::new(start_time(f[0])?, TapOrigin::Logs, String::new(), String::new());
    e.response_flags = opt_string(f[1]);
    e.details.push(("mesh".into(), f[2].to_string()));
    let (from, to) = f[3].split_once(")->").ok_or(bad.clone())?;
    let svc = |s: &str| {
        s.split_once('(')
            .map(|(a, b)| (a.to_string(), b.trim_end_matches(')').to_string()))
    };
    let ((src_addr, src_svc), (upstream, dst_svc)) = (svc(from).ok_or(bad.clone())?, svc(to).ok_or(bad.clone())?);
    let num = |s: &str, what| number(s.trim_end_matches([',', 's']).trim_end_matches('m'), what);
    e.duration_ms = num(f[5], "DURATION is not a number")?.map(|d| d as f64);
    e.bytes_sent = number(f[7], "BYTES_SENT is not a number")?;
    e.bytes_received = number(f[10], "BYTES_RECEIVED is not a number")?;
    if f[6] != "sent" || f[9] != "received:" {
        return Err(bad);
    }
    e.upstream_host = opt_string(&upstream);
    e.details.push(("downstream remote address".into(), src_addr.clone()));
    e.source = if src_svc.is_empty() || src_svc == "-" {
        src_addr
    } else {
        src_svc
    };
    e.destination = if dst_svc.is_empty() || dst_svc == "-" {
        upstream
    } else {
        dst_svc
    };
    Ok(e)
}

/// Istio's JSON encoding (`accessLogEncoding: JSON`): the same fields under snake_case keys.
/// Envoy writes numbers as numbers and missing values as null or `-`; both are taken.
fn json(line: &str) -> Result<TapEvent, LineError> {
    let v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|_| LineError("not a JSON object (cut short or malformed)"))?;
    let s = |k: &str| -> Option<String> {
        match v.get(k)? {
            serde_json::Value::String(s) => opt_string(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let n = |k: &str, what: &'static str| -> Result<Option<u64>, LineError> {
        match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n.as_u64().map(Some).ok_or(LineError(what)),
            Some(serde_json::Value::String(t)) => number(t, what),
            Some(_) => Err(LineError(what)),
        }
    };
    let time = s("start_time").ok_or(LineError("no start_time"))?;
    if !v.contains_key("response_code") && !v.contains_key("method") {
        return Err(LineError("a JSON object without response_code or method"));
    }
    let mut e = TapEvent::new(start_time(&time)?, TapOrigin::Logs, String::new(), String::new());
    e.method = s("method");
    e.path = s("path");
    let code = n("response_code", "response_code is not a number")?;
    e.status = match e.method {
        None => None,
        Some(_) => Some(u16::try_from(code.unwrap_or(0)).map_err(|_| LineError("response_code out of range"))?),
    };
    e.response_flags = s("response_flags");
    e.bytes_received = n("bytes_received", "bytes_received is not a number")?;
    e.bytes_sent = n("bytes_sent", "bytes_sent is not a number")?;
    e.duration_ms = n("duration", "duration is not a number")?.map(|d| d as f64);
    e.authority = s("authority");
    e.upstream_host = s("upstream_host");
    e.upstream_cluster = s("upstream_cluster");
    for (key, name) in [
        ("protocol", "protocol"),
        ("response_code_details", "response code details"),
        ("connection_termination_details", "connection termination"),
        ("upstream_transport_failure_reason", "upstream transport failure"),
        ("upstream_service_time", "upstream service time ms"),
        ("x_forwarded_for", "x-forwarded-for"),
        ("user_agent", "user agent"),
        ("request_id", "request id"),
        ("upstream_local_address", "upstream local address"),
        ("downstream_local_address", "downstream local address"),
        ("downstream_remote_address", "downstream remote address"),
        ("requested_server_name", "requested server name"),
        ("route_name", "route"),
    ] {
        if let Some(val) = s(key) {
            e.details.push((name.to_string(), val));
        }
    }
    Ok(e)
}

/// The direction from the upstream cluster's name: Istio's `inbound|8080||` and
/// `outbound|8000||httpbin.foo.svc.cluster.local`, its passthrough clusters, Consul's
/// `local_app`, Kuma's `localhost:8080` and OSM's `ns/svc|8080|local` are inbound.
pub fn direction(cluster: &str) -> Option<Direction> {
    if cluster.starts_with("inbound|")
        || cluster.starts_with("inbound-vip|")
        || cluster == "InboundPassthroughCluster"
        || cluster == "InboundPassthroughClusterIpv4"
        || cluster == "InboundPassthroughClusterIpv6"
        || cluster == "local_app"
        || cluster.starts_with("localhost:")
        || cluster.ends_with("|local")
    {
        Some(Direction::Inbound)
    } else if cluster.starts_with("outbound|") || cluster == "PassthroughCluster" || cluster == "BlackHoleCluster" {
        Some(Direction::Outbound)
    } else {
        None
    }
}

/// `outbound|8000||httpbin.foo.svc.cluster.local` → `httpbin.foo:8000`.
fn cluster_service(cluster: &str) -> Option<String> {
    let mut parts = cluster.split('|');
    let (Some("outbound"), Some(port), Some(_subset), Some(host)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let host = host.strip_suffix(".svc.cluster.local").unwrap_or(host);
    (!host.is_empty()).then(|| format!("{host}:{port}"))
}

fn detail<'a>(e: &'a TapEvent, name: &str) -> Option<&'a str> {
    e.details.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The address without its port (`10.0.0.5:43210` → `10.0.0.5`, `[::1]:80` → `::1`).
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => addr,
    }
}

/// Source and destination: the reporting pod is the destination of inbound requests and
/// the source of outbound ones; the other end is the client's address (inbound) or the
/// service the cluster names, the authority or the upstream host (outbound).
fn ends(e: &mut TapEvent, reporter: Option<&str>) {
    e.direction = e.upstream_cluster.as_deref().and_then(direction);
    let remote = detail(e, "downstream remote address").map(|a| host_of(a).to_string());
    let local = detail(e, "downstream local address").map(str::to_string);
    let target = e
        .upstream_cluster
        .as_deref()
        .and_then(cluster_service)
        .or_else(|| e.authority.clone())
        .or_else(|| e.upstream_host.clone());
    let (source, destination) = match e.direction {
        Some(Direction::Inbound) => (remote, reporter.map(str::to_string).or(local).or(target)),
        Some(Direction::Outbound) => (reporter.map(str::to_string).or(remote), target),
        None => (remote.or_else(|| reporter.map(str::to_string)), target.or(local)),
    };
    e.source = source.unwrap_or_else(|| "-".into());
    e.destination = destination.unwrap_or_else(|| "-".into());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample of Istio's access-log task (istio.io, "Envoy Access Logs").
    const ISTIO_DOC: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;

    #[test]
    fn istio_text_sample_from_the_docs() {
        let e = parse_line(ISTIO_DOC, Some("foo/sleep-1")).unwrap();
        assert_eq!(e.time, 1_606_339_578_409);
        assert_eq!(e.direction, Some(Direction::Outbound));
        assert_eq!(e.method.as_deref(), Some("GET"));
        assert_eq!(e.path.as_deref(), Some("/status/418"));
        assert_eq!(e.status, Some(418));
        assert_eq!(e.response_flags, None);
        assert_eq!(
            (e.bytes_received, e.bytes_sent, e.duration_ms),
            (Some(0), Some(135), Some(4.0))
        );
        assert_eq!(e.authority.as_deref(), Some("httpbin:8000"));
        assert_eq!(e.upstream_host.as_deref(), Some("10.44.1.27:80"));
        assert_eq!(
            e.upstream_cluster.as_deref(),
            Some("outbound|8000||httpbin.foo.svc.cluster.local")
        );
        assert_eq!(e.source, "foo/sleep-1");
        assert_eq!(e.destination, "httpbin.foo:8000");
        assert_eq!(detail(&e, "user agent"), Some("curl/7.73.0-DEV"));
        assert_eq!(detail(&e, "route"), Some("default"));
        assert_eq!(detail(&e, "response code details"), Some("via_upstream"));
        assert!(e.success());
    }

    #[test]
    fn inbound_tcp_and_quoted_spaces() {
        let line = r#"[2024-03-01T10:00:00.000Z] "POST /api/v1/orders?id=7 HTTP/2" 503 UF,URX upstream_reset_before_response_started{connection_failure} - "delayed connect error: 111" 42 91 1500 - "-" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101" "req-1" "orders:8080" "10.1.0.9:8080" inbound|8080|| 127.0.0.6:41111 10.1.0.9:8080 10.1.0.4:50000 outbound_.8080_._.orders.shop.svc.cluster.local default"#;
        let e = parse_line(line, Some("shop/orders-0")).unwrap();
        assert_eq!(e.direction, Some(Direction::Inbound));
        assert_eq!(e.source, "10.1.0.4");
        assert_eq!(e.destination, "shop/orders-0");
        assert_eq!(e.status, Some(503));
        assert_eq!(e.response_flags.as_deref(), Some("UF,URX"));
        assert_eq!(
            detail(&e, "user agent"),
            Some("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101")
        );
        assert_eq!(
            detail(&e, "upstream transport failure"),
            Some("delayed connect error: 111")
        );
        assert!(!e.success());

        let tcp = r#"[2024-03-01T10:00:01.000Z] "- - -" 0 - - - "-" 1200 5600 3000 - "-" "-" "-" "-" "10.1.0.20:3306" outbound|3306||mysql.db.svc.cluster.local 10.1.0.9:51000 10.96.0.30:3306 10.1.0.9:40000 - -"#;
        let t = parse_line(tcp, None).unwrap();
        assert_eq!((t.method.as_deref(), t.status, t.path.as_deref()), (None, None, None));
        assert_eq!((t.bytes_received, t.bytes_sent), (Some(1200), Some(5600)));
        assert_eq!(t.destination, "mysql.db:3306");
        assert_eq!(t.source, "10.1.0.9");
        assert!(t.success());
    }

    #[test]
    fn envoy_default_and_old_istio_formats() {
        let envoy = r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80""#;
        let e = parse_line(envoy, None).unwrap();
        assert_eq!(e.status, Some(204));
        assert_eq!(e.duration_ms, Some(226.0));
        assert_eq!(e.direction, None);
        assert_eq!(e.destination, "locations");
        assert_eq!(e.upstream_host.as_deref(), Some("tcp://10.0.2.1:80"));

        let old = r#"[2019-09-03T20:46:22.034Z] "GET /productpage HTTP/1.1" 200 - "-" "-" 0 5183 44 43 "10.40.0.1" "curl/7.58.0" "69b5a2a2-1f5f-9d4c-9f0f-c4f1bdc1f2e1" "productpage:9080" "127.0.0.1:9080" inbound|9080|http|productpage.default.svc.cluster.local - 10.40.0.10:9080 10.40.0.1:0 - default"#;
        let o = parse_line(old, Some("default/productpage-v1")).unwrap();
        assert_eq!(o.direction, Some(Direction::Inbound));
        assert_eq!(o.status, Some(200));
        assert_eq!(o.bytes_sent, Some(5183));
        assert_eq!(o.destination, "default/productpage-v1");
    }

    #[test]
    fn json_encoding() {
        let line = r#"{"authority":"httpbin:8000","bytes_received":0,"bytes_sent":135,"connection_termination_details":null,"downstream_local_address":"10.0.45.184:8000","downstream_remote_address":"10.44.1.23:46520","duration":4,"method":"GET","path":"/status/418?api_key=s3cr3t","protocol":"HTTP/1.1","request_id":"84961386","requested_server_name":null,"response_code":418,"response_code_details":"via_upstream","response_flags":"-","route_name":"default","start_time":"2020-11-25T21:26:18.409Z","upstream_cluster":"outbound|8000||httpbin.foo.svc.cluster.local","upstream_host":"10.44.1.27:80","upstream_local_address":"10.44.1.23:37652","upstream_service_time":"4","upstream_transport_failure_reason":null,"user_agent":"curl/7.73.0-DEV","x_forwarded_for":null}"#;
        let e = parse_line(line, None).unwrap();
        assert_eq!(e.status, Some(418));
        assert_eq!(e.response_flags, None);
        assert_eq!(
            e.path.as_deref(),
            Some("/status/418?api_key=<redacted>"),
            "redacted before anyone sees it"
        );
        assert_eq!(e.direction, Some(Direction::Outbound));
        assert_eq!(e.source, "10.44.1.23");
        assert_eq!(e.destination, "httpbin.foo:8000");
        assert_eq!(detail(&e, "upstream service time ms"), Some("4"));
        // Strings for numbers, as some Envoy versions write them.
        let s = line.replace(r#""duration":4"#, r#""duration":"4""#);
        assert_eq!(parse_line(&s, None).unwrap().duration_ms, Some(4.0));
    }

    #[test]
    fn cut_and_foreign_lines_are_errors() {
        let half = &ISTIO_DOC[..ISTIO_DOC.len() / 2];
        assert!(parse_line(half, None).is_err());
        assert!(parse_line("", None).is_err());
        assert!(parse_line("2024-01-01T00:00:00Z info envoy main: starting", None).is_err());
        assert!(parse_line(r#"{"level":"info","msg":"x"}"#, None).is_err());
        assert!(
            parse_line(
                r#"{"start_time":"2020-11-25T21:26:18.409Z","method":"GET","response_code":"x"}"#,
                None
            )
            .is_err()
        );
        assert!(
            parse_line(
                "[not a time] \"GET / HTTP/1.1\" 200 - 0 0 1 - \"-\" \"-\" \"-\" \"a\" \"b\"",
                None
            )
            .is_err()
        );
        // kubectl logs --timestamps prefixes are taken off.
        let stamped = format!("2024-01-01T00:00:00.123456789Z {ISTIO_DOC}");
        assert_eq!(parse_line(&stamped, None).unwrap().status, Some(418));
    }

    #[test]
    fn kuma_http_and_tcp_formats() {
        let http = r#"[2024-05-01T10:00:00.000Z] default "GET /api/items?id=3 HTTP/1.1" 200 - 0 512 7 6 "-" "curl/8.5.0" "-" "f6b1c8b0-7c4a" "backend:3001" "demo-app_kuma-demo_svc_5000" "backend_kuma-demo_svc_3001" "10.42.0.15" "10.42.0.19:3001""#;
        let e = parse_line(http, Some("kuma-demo/demo-app-1")).unwrap();
        assert_eq!(
            (e.method.as_deref(), e.status, e.duration_ms, e.bytes_sent),
            (Some("GET"), Some(200), Some(7.0), Some(512))
        );
        assert_eq!(
            (e.source.as_str(), e.destination.as_str()),
            ("demo-app_kuma-demo_svc_5000", "backend_kuma-demo_svc_3001")
        );
        assert_eq!(e.authority.as_deref(), Some("backend:3001"));
        assert_eq!(e.upstream_host.as_deref(), Some("10.42.0.19:3001"));
        assert_eq!(detail(&e, "mesh"), Some("default"));
        // Without the trace id (Kuma before 1.x).
        let old = http.replace(r#" "-" "f6b1c8b0-7c4a""#, r#" "f6b1c8b0-7c4a""#);
        assert_eq!(
            parse_line(&old, None).unwrap().destination,
            "backend_kuma-demo_svc_3001"
        );
        let tcp = "[2024-05-01T10:00:01.000Z] - default 10.42.0.15(demo-app_kuma-demo_svc_5000)->10.42.0.20:6379(redis_kuma-demo_svc_6379) took 12ms, sent 100 bytes, received: 200 bytes";
        let t = parse_line(tcp, None).unwrap();
        assert_eq!((t.method.as_deref(), t.status, t.duration_ms), (None, None, Some(12.0)));
        assert_eq!((t.bytes_sent, t.bytes_received), (Some(100), Some(200)));
        assert_eq!(
            (t.source.as_str(), t.destination.as_str()),
            ("demo-app_kuma-demo_svc_5000", "redis_kuma-demo_svc_6379")
        );
        assert!(t.success());
    }

    #[test]
    fn directions_of_every_mesh() {
        assert_eq!(direction("inbound|80||"), Some(Direction::Inbound));
        assert_eq!(direction("InboundPassthroughCluster"), Some(Direction::Inbound));
        assert_eq!(direction("local_app"), Some(Direction::Inbound));
        assert_eq!(direction("localhost:8080"), Some(Direction::Inbound));
        assert_eq!(direction("bookstore/bookstore|14001|local"), Some(Direction::Inbound));
        assert_eq!(direction("PassthroughCluster"), Some(Direction::Outbound));
        assert_eq!(
            direction("outbound|9080|v1|reviews.default.svc.cluster.local"),
            Some(Direction::Outbound)
        );
        assert_eq!(direction("web"), None);
    }
}

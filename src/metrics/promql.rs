//! PromQL for the golden signals and for cAdvisor usage, and the assembly of the answers
//! into the same per-pod windows the direct scrapes produce. Pure: no I/O.
//!
//! Counters and histogram buckets are asked for as `rate(...[window])` grouped by pod,
//! direction and destination, and turned back into increases (rate × window). Quantiles
//! are then computed by meshtop from the summed buckets (the same interpolation as
//! `histogram_quantile`), so pods can be merged into workloads and edges correctly:
//! averaging per-pod percentiles would be wrong.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::exposition::parse_value;
use super::golden::{Dialect, Totals};
use super::window::{Counters, PodWindow, Window};
use crate::model::{ContainerUsage, PodUsage};

/// What a query's values add to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Requests,
    Successes,
    /// Envoy counts 5xx apart; successes are requests minus these.
    Failures,
    Mtls,
    Buckets,
    TcpOpen,
    /// Istio counts closed connections apart; open = opened − closed.
    TcpClosed,
    /// Rates of connections opened and closed, and of bytes read and written (see
    /// `Totals::bytes_read` for whose side).
    TcpOpenedRate,
    TcpClosedRate,
    BytesRead,
    BytesWritten,
    /// `istio_build{component="ztunnel"}`: which pods are ztunnel, whose series describe
    /// other workloads.
    Ztunnel,
}

/// One instant-vector sample of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// The labels each dialect's answers are grouped by (besides `le` for buckets).
fn group_labels(d: Dialect) -> &'static str {
    match d {
        Dialect::Istio => {
            "namespace, pod, reporter, destination_service, source_workload, source_workload_namespace, \
             destination_workload, destination_workload_namespace"
        }
        Dialect::Linkerd => "namespace, pod, direction, dst_namespace, dst_deployment, authority",
        Dialect::Envoy => "namespace, pod, envoy_cluster_name, cluster_name",
        Dialect::Hubble => {
            "namespace, pod, reporter, source_namespace, source_workload, destination_namespace, destination_workload"
        }
        Dialect::Traefik => "namespace, pod, service, entrypoint",
    }
}

/// The queries for one dialect over a window of `window_s` seconds.
pub fn traffic_queries(d: Dialect, window_s: u32) -> Vec<(Part, String)> {
    let by = group_labels(d);
    let w = format!("{window_s}s");
    let rate = |sel: &str| format!("sum by ({by}) (rate({sel}[{w}]))");
    let buckets = |m: &str| format!("sum by ({by}, le) (rate({m}[{w}]))");
    let gauge = |sel: &str| format!("sum by ({by}) ({sel})");
    match d {
        Dialect::Istio => vec![
            (Part::Requests, rate("istio_requests_total")),
            // Istio's success: a response that is not a 5xx (0 means none at all).
            (Part::Successes, rate(r#"istio_requests_total{response_code!~"5..|0"}"#)),
            (
                Part::Mtls,
                rate(r#"istio_requests_total{connection_security_policy="mutual_tls"}"#),
            ),
            (Part::Buckets, buckets("istio_request_duration_milliseconds_bucket")),
            (Part::TcpOpen, gauge("istio_tcp_connections_opened_total")),
            (Part::TcpClosed, gauge("istio_tcp_connections_closed_total")),
            (
                Part::Ztunnel,
                r#"max by (namespace, pod) (istio_build{component="ztunnel"})"#.to_string(),
            ),
            (Part::TcpOpenedRate, rate("istio_tcp_connections_opened_total")),
            (Part::TcpClosedRate, rate("istio_tcp_connections_closed_total")),
            // Istio counts bytes from the destination's side: the source reads what was sent.
            // HTTP has body sizes instead of TCP bytes (as golden::istio reads them).
            (
                Part::BytesRead,
                format!(
                    "{} or {}",
                    rate(r#"{__name__=~"istio_tcp_received_bytes_total|istio_request_bytes_sum",reporter!="source"}"#),
                    rate(r#"{__name__=~"istio_tcp_sent_bytes_total|istio_response_bytes_sum",reporter="source"}"#)
                ),
            ),
            (
                Part::BytesWritten,
                format!(
                    "{} or {}",
                    rate(r#"{__name__=~"istio_tcp_sent_bytes_total|istio_response_bytes_sum",reporter!="source"}"#),
                    rate(r#"{__name__=~"istio_tcp_received_bytes_total|istio_request_bytes_sum",reporter="source"}"#)
                ),
            ),
        ],
        Dialect::Linkerd => vec![
            (Part::Requests, rate("response_total")),
            (Part::Successes, rate(r#"response_total{classification="success"}"#)),
            (Part::Mtls, rate(r#"response_total{tls="true"}"#)),
            (Part::Buckets, buckets("response_latency_ms_bucket")),
            (Part::TcpOpen, linkerd_tcp(&gauge, "tcp_open_connections")),
            (Part::TcpOpenedRate, linkerd_tcp(&rate, "tcp_open_total")),
            (Part::TcpClosedRate, linkerd_tcp(&rate, "tcp_close_total")),
            (Part::BytesRead, linkerd_tcp(&rate, "tcp_read_bytes_total")),
            (Part::BytesWritten, linkerd_tcp(&rate, "tcp_write_bytes_total")),
        ],
        Dialect::Envoy => vec![
            (Part::Requests, rate("envoy_cluster_upstream_rq_total")),
            // Plain Envoy names the label envoy_response_code_class; Istio renames it.
            (
                Part::Failures,
                format!(
                    "{} or {}",
                    rate(r#"envoy_cluster_upstream_rq_xx{envoy_response_code_class="5"}"#),
                    rate(r#"envoy_cluster_upstream_rq_xx{response_code_class="5"}"#)
                ),
            ),
            (Part::Buckets, buckets("envoy_cluster_upstream_rq_time_bucket")),
            (Part::TcpOpen, gauge("envoy_cluster_upstream_cx_active")),
            (Part::TcpOpenedRate, rate("envoy_cluster_upstream_cx_total")),
            (Part::TcpClosedRate, rate("envoy_cluster_upstream_cx_destroy")),
            (Part::BytesRead, rate("envoy_cluster_upstream_cx_rx_bytes_total")),
            (Part::BytesWritten, rate("envoy_cluster_upstream_cx_tx_bytes_total")),
        ],
        Dialect::Hubble => vec![
            (Part::Requests, rate("hubble_http_requests_total")),
            (
                Part::Successes,
                rate(r#"hubble_http_requests_total{status=~"[1-4].."}"#),
            ),
            (Part::Buckets, buckets("hubble_http_request_duration_seconds_bucket")),
        ],
        Dialect::Traefik => {
            // Traefik's own entrypoints and services are not the mesh's traffic (as
            // golden::traefik_internal).
            let svc = r#"service!~".*@internal|readiness@.*""#;
            let ep = r#"entrypoint!~"traefik|readiness""#;
            let both = |f: &dyn Fn(&str) -> String, service: &str, entrypoint: &str| {
                format!("{} or {}", f(service), f(entrypoint))
            };
            vec![
                (
                    Part::Requests,
                    both(
                        &rate,
                        &format!("traefik_service_requests_total{{{svc}}}"),
                        &format!("traefik_entrypoint_requests_total{{{ep}}}"),
                    ),
                ),
                (
                    Part::Successes,
                    both(
                        &rate,
                        &format!(r#"traefik_service_requests_total{{{svc},code=~"[1-4].."}}"#),
                        &format!(r#"traefik_entrypoint_requests_total{{{ep},code=~"[1-4].."}}"#),
                    ),
                ),
                (
                    Part::Buckets,
                    both(
                        &buckets,
                        &format!("traefik_service_request_duration_seconds_bucket{{{svc}}}"),
                        &format!("traefik_entrypoint_request_duration_seconds_bucket{{{ep}}}"),
                    ),
                ),
                (
                    Part::TcpOpen,
                    both(
                        &gauge,
                        &format!(
                            "{{__name__=~\"traefik_service_open_connections|traefik_open_connections\",{svc},service!=\"\"}}"
                        ),
                        &format!(
                            "{{__name__=~\"traefik_entrypoint_open_connections|traefik_open_connections\",{ep},entrypoint!=\"\"}}"
                        ),
                    ),
                ),
            ]
        }
    }
}

/// A Linkerd TCP family over the connections the workload really has (as
/// `golden::linkerd_peer_side`): from its clients, and to its servers.
fn linkerd_tcp(f: &dyn Fn(&str) -> String, metric: &str) -> String {
    format!(
        "{} or {}",
        f(&format!(
            r#"{metric}{{direction="inbound",peer="src",target_port!~"4190|4191"}}"#
        )),
        f(&format!(r#"{metric}{{direction="outbound",peer="dst"}}"#))
    )
}

/// Direction and, for outbound series, the destination a sample is about.
fn direction(d: Dialect, s: &Sample) -> (bool, Option<String>) {
    let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_string());
    match d {
        Dialect::Istio => {
            let outbound = s.label("reporter") == "source";
            (
                outbound,
                outbound.then(|| non_empty(s.label("destination_service"))).flatten(),
            )
        }
        Dialect::Linkerd => {
            let outbound = s.label("direction") == "outbound";
            let dst = match (s.label("dst_namespace"), s.label("dst_deployment")) {
                (ns, d) if !ns.is_empty() && !d.is_empty() => Some(format!("{ns}/{d}")),
                _ => non_empty(s.label("authority")),
            };
            (outbound, if outbound { dst } else { None })
        }
        Dialect::Envoy => (
            true,
            non_empty(s.label("envoy_cluster_name")).or_else(|| non_empty(s.label("cluster_name"))),
        ),
        Dialect::Hubble => {
            let outbound = s.label("reporter") == "client";
            let dst = match (s.label("destination_namespace"), s.label("destination_workload")) {
                (ns, w) if !ns.is_empty() && !w.is_empty() => Some(format!("{ns}/{w}")),
                _ => None,
            };
            (outbound, if outbound { dst } else { None })
        }
        Dialect::Traefik => {
            let service = non_empty(s.label("service"));
            (service.is_some(), service)
        }
    }
}

#[derive(Default)]
struct PodAcc {
    inbound: Totals,
    outbound: Totals,
    edges: BTreeMap<String, Totals>,
}

impl PodAcc {
    fn counters(mut self) -> Counters {
        for t in [&mut self.inbound, &mut self.outbound]
            .into_iter()
            .chain(self.edges.values_mut())
        {
            t.latency_ms.sort_by(|x, y| x.0.total_cmp(&y.0));
        }
        Counters::from_directions(self.inbound, self.outbound, self.edges)
    }
}

/// Adds one answer's value to `t`: rates back to increases over the window (`increase`),
/// gauges as they are.
fn add_part(d: Dialect, part: Part, s: &Sample, increase: f64, t: &mut Totals) {
    match part {
        Part::Requests => {
            t.requests += increase;
            if d == Dialect::Envoy {
                t.successes += increase;
            }
        }
        Part::Successes => t.successes += increase,
        Part::Failures => t.successes -= increase,
        Part::Mtls => t.mtls_requests += increase,
        Part::Buckets => {
            if let Some(le) = parse_value(s.label("le")) {
                // Hubble and Traefik count seconds; meshtop's buckets are in ms.
                let le = if matches!(d, Dialect::Hubble | Dialect::Traefik) {
                    le * 1000.0
                } else {
                    le
                };
                add_bucket(t, le, increase);
            }
        }
        Part::TcpOpen => t.tcp_open_connections += s.value,
        Part::TcpClosed => t.tcp_open_connections -= s.value,
        Part::TcpOpenedRate | Part::TcpClosedRate | Part::BytesRead | Part::BytesWritten => {
            t.l4_seen = true;
            *match part {
                Part::TcpOpenedRate => &mut t.tcp_opened,
                Part::TcpClosedRate => &mut t.tcp_closed,
                Part::BytesRead => &mut t.bytes_read,
                _ => &mut t.bytes_written,
            } += increase;
        }
        Part::Ztunnel => {}
    }
}

/// Whom a sample of a proxy that reports for other workloads describes, as
/// `golden::described` decides for scrapes: (workload, outbound, edge destination). A
/// waypoint's series are its destination workload's (and only its L7 parts count: ztunnel
/// has the bytes); ztunnel's and Hubble's each side's by their reporter.
fn described_side(d: Dialect, s: &Sample, ztunnel: bool, part: Part) -> Option<(String, bool, Option<String>)> {
    let workload = |ns: &str, w: &str| (!ns.is_empty() && !w.is_empty()).then(|| format!("{ns}/{w}"));
    let src = || workload(s.label("source_workload_namespace"), s.label("source_workload"));
    let dst = || {
        workload(
            s.label("destination_workload_namespace"),
            s.label("destination_workload"),
        )
    };
    match (d, s.label("reporter")) {
        (Dialect::Istio, "waypoint") => {
            let l7 = matches!(part, Part::Requests | Part::Successes | Part::Mtls | Part::Buckets);
            l7.then(|| dst().map(|w| (w, false, None))).flatten()
        }
        (Dialect::Istio, "source") if ztunnel => {
            let to = s.label("destination_service");
            src().map(|w| (w, true, (!to.is_empty()).then(|| to.to_string())))
        }
        (Dialect::Istio, _) if ztunnel => dst().map(|w| (w, false, None)),
        (Dialect::Hubble, "client") => {
            let to = workload(s.label("destination_namespace"), s.label("destination_workload"));
            workload(s.label("source_namespace"), s.label("source_workload")).map(|w| (w, true, to))
        }
        (Dialect::Hubble, _) => {
            workload(s.label("destination_namespace"), s.label("destination_workload")).map(|w| (w, false, None))
        }
        _ => None,
    }
}

/// Turns one dialect's answers into per-pod windows. Pods in `skip` (already answered
/// by another dialect: an Istio sidecar also exports Envoy's stats) are left out. What
/// ztunnel (known by its `istio_build` answer), waypoints and Hubble report for other
/// workloads also goes to those workloads (`PodWindow::described`).
pub fn assemble(
    d: Dialect,
    window_s: u32,
    answers: &[(Part, Vec<Sample>)],
    skip: &std::collections::BTreeSet<(String, String)>,
) -> Vec<PodWindow> {
    let secs = f64::from(window_s);
    let key = |s: &Sample| (s.label("namespace").to_string(), s.label("pod").to_string());
    let ztunnels: std::collections::BTreeSet<(String, String)> = answers
        .iter()
        .filter(|(part, _)| *part == Part::Ztunnel)
        .flat_map(|(_, samples)| samples.iter().map(key))
        .collect();
    let mut pods: BTreeMap<(String, String), PodAcc> = BTreeMap::new();
    let mut described: BTreeMap<(String, String), BTreeMap<String, PodAcc>> = BTreeMap::new();
    for (part, samples) in answers.iter().filter(|(part, _)| *part != Part::Ztunnel) {
        for s in samples {
            let key = key(s);
            if key.1.is_empty() || skip.contains(&key) || !s.value.is_finite() {
                continue;
            }
            let increase = s.value * secs;
            if let Some((workload, outbound, edge)) = described_side(d, s, ztunnels.contains(&key), *part) {
                let acc = described.entry(key.clone()).or_default().entry(workload).or_default();
                add_part(
                    d,
                    *part,
                    s,
                    increase,
                    if outbound { &mut acc.outbound } else { &mut acc.inbound },
                );
                if let Some(edge) = edge {
                    add_part(d, *part, s, increase, acc.edges.entry(edge).or_default());
                }
            }
            let (outbound, dst) = direction(d, s);
            let acc = pods.entry(key).or_default();
            add_part(
                d,
                *part,
                s,
                increase,
                if outbound { &mut acc.outbound } else { &mut acc.inbound },
            );
            if let Some(dst) = dst {
                add_part(d, *part, s, increase, acc.edges.entry(dst).or_default());
            }
        }
    }
    pods.into_iter()
        .filter(|(_, a)| a.inbound != Totals::default() || a.outbound != Totals::default())
        .map(|(key, a)| {
            let window = |increase| Window {
                secs,
                increase,
                partial: false,
            };
            PodWindow {
                described: described
                    .remove(&key)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(w, acc)| (w, window(acc.counters())))
                    .collect(),
                window: window(a.counters()),
                namespace: key.0,
                pod: key.1,
            }
        })
        .collect()
}

fn add_bucket(t: &mut Totals, le: f64, v: f64) {
    match t.latency_ms.iter_mut().find(|(b, _)| *b == le) {
        Some(b) => b.1 += v,
        None => t.latency_ms.push((le, v)),
    }
}

/// cAdvisor's per-container CPU and working-set memory, the figures `kubectl top` shows.
/// CPU is `irate` (the last two samples within `window_s`): like metrics-server it shows
/// current use, and unlike `rate` it does not understate a pod younger than the range.
/// The pause container ("POD") and pod totals ("") are left out.
pub fn usage_queries(window_s: u32) -> [(bool, String); 2] {
    let sel = r#"{container!="", container!="POD"}"#;
    [
        (
            true,
            format!("sum by (namespace, pod, container) (irate(container_cpu_usage_seconds_total{sel}[{window_s}s]))"),
        ),
        (
            false,
            format!("sum by (namespace, pod, container) (container_memory_working_set_bytes{sel})"),
        ),
    ]
}

/// Joins the CPU and memory answers into per-pod usage.
pub fn assemble_usage(cpu: &[Sample], memory: &[Sample], window_s: u32) -> Vec<PodUsage> {
    let mut pods: BTreeMap<(String, String), BTreeMap<String, (f64, u64)>> = BTreeMap::new();
    let mut put = |s: &Sample, f: &dyn Fn(&mut (f64, u64))| {
        let (ns, pod, c) = (s.label("namespace"), s.label("pod"), s.label("container"));
        if pod.is_empty() || c.is_empty() || !s.value.is_finite() {
            return;
        }
        let entry = pods
            .entry((ns.to_string(), pod.to_string()))
            .or_default()
            .entry(c.to_string())
            .or_default();
        f(entry);
    };
    for s in cpu {
        put(s, &|e| e.0 = s.value * 1000.0);
    }
    for s in memory {
        put(s, &|e| e.1 = s.value.max(0.0) as u64);
    }
    pods.into_iter()
        .map(|((namespace, name), containers)| PodUsage {
            namespace,
            name,
            timestamp: None,
            window_s: Some(f64::from(window_s)),
            containers: containers
                .into_iter()
                .map(|(name, (cpu, mem))| ContainerUsage {
                    name,
                    cpu_millicores: cpu,
                    memory_bytes: mem,
                })
                .collect(),
        })
        .collect()
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(deserialize_with = "at_most_max_series")]
    result: Vec<VectorSample>,
}

/// Series in one answer beyond which it is refused: meshtop's queries sum by pod, so even
/// 30,000 pods give 30,000 series per query; a million (a query gone wrong, a cardinality
/// bomb) would cost hundreds of MiB to hold.
pub const MAX_SERIES: usize = 200_000;

/// `result`, refused as soon as it passes [`MAX_SERIES`] (before the rest is held).
fn at_most_max_series<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<VectorSample>, D::Error> {
    struct Capped;
    impl<'de> serde::de::Visitor<'de> for Capped {
        type Value = Vec<VectorSample>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_SERIES} series")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element()? {
                if out.len() == MAX_SERIES {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_SERIES} series in one answer, refused"
                    )));
                }
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Capped)
}

#[derive(Deserialize)]
struct VectorSample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Parses an instant-query answer of the Prometheus HTTP API (`/api/v1/query`).
pub fn parse_response(body: &[u8]) -> Result<Vec<Sample>, String> {
    let r: Response = serde_json::from_slice(body).map_err(|e| {
        let head = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        format!("not a Prometheus API answer ({e}): {head:?}")
    })?;
    if r.status != "success" {
        return Err(format!(
            "query failed: {}: {}",
            r.error_type.unwrap_or_default(),
            r.error.unwrap_or_default()
        ));
    }
    let data = r.data.ok_or("answer without data")?;
    if data.result_type != "vector" {
        return Err(format!("expected a vector, got a {}", data.result_type));
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|v| {
            Some(Sample {
                labels: v.metric,
                value: parse_value(&v.value.1)?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
        }
    }

    #[test]
    fn parses_the_api_answer_and_its_errors() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"a","pod":"p"},"value":[1700000000.1,"2.5"]},
            {"metric":{"namespace":"a","pod":"q"},"value":[1700000000.1,"NaN"]}]}}"#;
        let s = parse_response(body).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].value, 2.5);
        assert_eq!(s[0].label("pod"), "p");
        assert!(s[1].value.is_nan());
        let err = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(
            parse_response(err).unwrap_err(),
            "query failed: bad_data: parse error at char 5"
        );
        assert!(
            parse_response(b"<html>502</html>")
                .unwrap_err()
                .starts_with("not a Prometheus API answer")
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(parse_response(matrix).unwrap_err(), "expected a vector, got a matrix");
    }

    #[test]
    fn istio_answers_become_pod_windows_with_edges() {
        let inb = [("namespace", "shop"), ("pod", "web-1"), ("reporter", "destination")];
        let out = [
            ("namespace", "shop"),
            ("pod", "web-1"),
            ("reporter", "source"),
            ("destination_service", "db.shop.svc.cluster.local"),
        ];
        let with_le = |base: &[(&str, &str)], le: &str, v: f64| {
            let mut l = base.to_vec();
            l.push(("le", le));
            sample(&l, v)
        };
        let answers = vec![
            (Part::Requests, vec![sample(&inb, 10.0), sample(&out, 4.0)]),
            (Part::Successes, vec![sample(&inb, 9.0), sample(&out, 4.0)]),
            (Part::Mtls, vec![sample(&inb, 10.0)]),
            (
                Part::Buckets,
                vec![
                    with_le(&inb, "10", 5.0),
                    with_le(&inb, "100", 10.0),
                    with_le(&inb, "+Inf", 10.0),
                ],
            ),
            (Part::TcpOpen, vec![sample(&inb, 7.0)]),
            (Part::TcpClosed, vec![sample(&inb, 3.0)]),
        ];
        let pods = assemble(Dialect::Istio, 30, &answers, &Default::default());
        assert_eq!(pods.len(), 1);
        let w = &pods[0].window;
        assert_eq!(w.secs, 30.0);
        let own = &w.increase.own;
        assert_eq!(own.requests, 300.0);
        assert_eq!(own.successes, 270.0);
        assert_eq!(own.mtls_requests, 300.0);
        assert_eq!(own.tcp_open_connections, 4.0);
        assert_eq!(
            own.latency_ms,
            vec![(10.0, 150.0), (100.0, 300.0), (f64::INFINITY, 300.0)]
        );
        // Median: half of 300 falls exactly at the top of the first bucket.
        assert_eq!(own.quantile_ms(0.5), Some(10.0));
        assert_eq!(w.increase.edges["db.shop.svc.cluster.local"].requests, 120.0);
        let skip = [("shop".to_string(), "web-1".to_string())].into();
        assert!(assemble(Dialect::Istio, 30, &answers, &skip).is_empty());
    }

    #[test]
    fn ztunnel_and_waypoint_answers_go_to_the_workloads_they_describe() {
        let zt = [("namespace", "istio-system"), ("pod", "ztunnel-1")];
        let conn = |reporter: &'static str| {
            let mut l = zt.to_vec();
            l.extend([
                ("reporter", reporter),
                ("source_workload", "sleep"),
                ("source_workload_namespace", "ambient"),
                ("destination_workload", "httpbin"),
                ("destination_workload_namespace", "ambient"),
                ("destination_service", "httpbin.ambient.svc.cluster.local"),
            ]);
            l
        };
        let wp = [
            ("namespace", "ambient"),
            ("pod", "waypoint-1"),
            ("reporter", "waypoint"),
            ("destination_workload", "httpbin"),
            ("destination_workload_namespace", "ambient"),
        ];
        let answers = vec![
            (Part::Ztunnel, vec![sample(&zt, 1.0)]),
            (Part::Requests, vec![sample(&wp, 5.0)]),
            // Per second: httpbin read 48 B (the requests), sleep read 960 B (the answers).
            (
                Part::BytesRead,
                vec![
                    sample(&conn("destination"), 48.0),
                    sample(&conn("source"), 960.0),
                    sample(&wp, 999.0),
                ],
            ),
        ];
        let pods = assemble(Dialect::Istio, 30, &answers, &Default::default());
        let by_pod: BTreeMap<&str, &PodWindow> = pods.iter().map(|p| (p.pod.as_str(), p)).collect();
        let z = &by_pod["ztunnel-1"].described;
        assert_eq!(z["ambient/httpbin"].increase.own.bytes_read, 48.0 * 30.0);
        let sleep = &z["ambient/sleep"].increase;
        assert!(sleep.own_is_outbound);
        assert_eq!(sleep.own.bytes_read, 960.0 * 30.0);
        assert_eq!(
            sleep.edges["httpbin.ambient.svc.cluster.local"].bytes_read,
            960.0 * 30.0
        );
        // The waypoint's requests are httpbin's; its byte count of the same traffic is not.
        let w = &by_pod["waypoint-1"].described["ambient/httpbin"].increase.own;
        assert_eq!((w.requests, w.bytes_read, w.l4_seen), (150.0, 0.0, false));
        // Without the ztunnel answer, ztunnel's series stay its own (a sidecar's would).
        let plain = assemble(Dialect::Istio, 30, &answers[1..], &Default::default());
        assert!(
            plain
                .iter()
                .find(|p| p.pod == "ztunnel-1")
                .unwrap()
                .described
                .is_empty()
        );
    }

    #[test]
    fn hubble_answers_go_to_both_sides_workloads() {
        let side = |reporter: &'static str| {
            vec![
                ("namespace", "kube-system"),
                ("pod", "cilium-x1"),
                ("reporter", reporter),
                ("source_namespace", "shop"),
                ("source_workload", "loadgen"),
                ("destination_namespace", "shop"),
                ("destination_workload", "web"),
            ]
        };
        let bucket = |reporter, le| {
            let mut l = side(reporter);
            l.push(("le", le));
            l
        };
        let answers = vec![
            (
                Part::Requests,
                vec![sample(&side("server"), 2.0), sample(&side("client"), 2.0)],
            ),
            (
                Part::Buckets,
                vec![
                    sample(&bucket("server", "0.01"), 2.0),
                    sample(&bucket("server", "+Inf"), 2.0),
                ],
            ),
        ];
        let pods = assemble(Dialect::Hubble, 10, &answers, &Default::default());
        let d = &pods[0].described;
        assert_eq!(d["shop/web"].increase.own.requests, 20.0);
        assert_eq!(
            d["shop/web"].increase.own.latency_ms,
            [(10.0, 20.0), (f64::INFINITY, 20.0)],
            "seconds to ms"
        );
        assert!(d["shop/loadgen"].increase.own_is_outbound);
        assert_eq!(d["shop/loadgen"].increase.edges["shop/web"].requests, 20.0);
    }

    #[test]
    fn envoy_successes_are_requests_minus_5xx() {
        let l = [("namespace", "a"), ("pod", "p"), ("envoy_cluster_name", "backend")];
        let answers = vec![
            (Part::Requests, vec![sample(&l, 2.0)]),
            (Part::Failures, vec![sample(&l, 0.5)]),
        ];
        let pods = assemble(Dialect::Envoy, 10, &answers, &Default::default());
        let own = &pods[0].window.increase.own;
        assert_eq!((own.requests, own.successes), (20.0, 15.0));
        assert_eq!(pods[0].window.increase.edges["backend"].requests, 20.0);
    }

    #[test]
    fn usage_joins_cpu_and_memory_per_container() {
        let c = |pod: &str, c: &str, v: f64| sample(&[("namespace", "a"), ("pod", pod), ("container", c)], v);
        let u = assemble_usage(
            &[c("p", "app", 0.25), c("p", "istio-proxy", 0.01)],
            &[c("p", "app", 1048576.0), c("p", "istio-proxy", 2097152.0)],
            60,
        );
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].containers.len(), 2);
        assert_eq!(u[0].containers[0].name, "app");
        assert_eq!(u[0].containers[0].cpu_millicores, 250.0);
        assert_eq!(u[0].containers[1].memory_bytes, 2097152);
    }

    #[test]
    fn queries_name_the_window() {
        let q = traffic_queries(Dialect::Linkerd, 60);
        assert_eq!(
            q[0].1,
            "sum by (namespace, pod, direction, dst_namespace, dst_deployment, authority) (rate(response_total[60s]))"
        );
        assert!(q.iter().any(|(p, _)| *p == Part::Buckets));
    }

    /// A cardinality bomb is refused with its reason, not held.
    #[test]
    fn an_answer_with_too_many_series_is_refused() {
        let one = r#"{"metric":{"pod":"p"},"value":[1,"1"]}"#;
        let body = |n: usize| {
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
                vec![one; n].join(",")
            )
        };
        assert_eq!(parse_response(body(MAX_SERIES).as_bytes()).unwrap().len(), MAX_SERIES);
        let err = parse_response(body(MAX_SERIES + 1).as_bytes()).unwrap_err();
        assert!(err.contains("more than 200000 series in one answer, refused"), "{err}");
    }
}

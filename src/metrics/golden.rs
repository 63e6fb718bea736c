//! Golden signals (requests, success, latency, mTLS, open connections) from one proxy's
//! exposition, per mesh dialect, grouped by direction and workload (or authority).

use std::collections::BTreeMap;

use serde::Serialize;

use super::exposition::{Exposition, Sample};
use super::quantile::histogram_quantile;

pub use crate::model::Dialect;

/// Which dialect an exposition speaks, by its metric names.
pub fn detect(e: &Exposition) -> Option<Dialect> {
    let has = |p: &str| e.samples.iter().any(|s| s.name.starts_with(p));
    // ztunnel exports only Istio's TCP families (and its own); sidecars export both.
    if has("istio_requests_total") || has("istio_request_duration_milliseconds") || has("istio_tcp_") {
        Some(Dialect::Istio)
    } else if e
        .samples
        .iter()
        .any(|s| s.name == "response_total" && s.label("direction").is_some())
    {
        Some(Dialect::Linkerd)
    } else if has("envoy_cluster_upstream_rq") {
        Some(Dialect::Envoy)
    } else if has("hubble_http_request") {
        Some(Dialect::Hubble)
    } else if has("traefik_service_") || has("traefik_entrypoint_") {
        Some(Dialect::Traefik)
    } else {
        None
    }
}

/// The exposition is one that reports for other workloads whatever the pod's owner looks
/// like: ztunnel names itself (`istio_build{component="ztunnel"}`), and Hubble always
/// reports for the workloads on its node.
pub fn reports_for_others(e: &Exposition) -> bool {
    e.samples.iter().any(|s| {
        (s.name == "istio_build" && s.label("component").as_deref() == Some("ztunnel"))
            || s.name.starts_with("hubble_http_request")
    })
}

/// What an exposition comes from, as far as it says: Istio's `istio_build` names the
/// component (`ztunnel`, `proxy` for a sidecar, gateway or waypoint) and the version, and
/// `reporter="waypoint"` series mark a waypoint. For `meshtop metrics parse` to name.
pub fn describe(e: &Exposition, dialect: Dialect) -> Vec<String> {
    let mut found = Vec::new();
    for s in e.samples.iter().filter(|s| s.name == "istio_build") {
        let tag = s.label("tag").map(|t| format!(" {t}")).unwrap_or_default();
        match s.label("component").as_deref() {
            Some("ztunnel") => found.push(format!(
                "ztunnel{tag} (Istio ambient node proxy: L4 only, reports for the workloads it carries)"
            )),
            Some(c) => found.push(format!("istio {c}{tag}")),
            None => {}
        }
    }
    let reporters: std::collections::BTreeSet<String> = e
        .samples
        .iter()
        .filter(|s| s.name.starts_with("istio_"))
        .filter_map(|s| s.label("reporter").map(|r| r.into_owned()))
        .collect();
    if reporters.contains("waypoint") {
        found.push("waypoint (Istio ambient L7 proxy: reports for the destination workloads)".into());
    }
    let http = e.samples.iter().any(|s| {
        matches!(
            s.name,
            "istio_requests_total"
                | "response_total"
                | "envoy_cluster_upstream_rq_total"
                | "hubble_http_requests_total"
                | "traefik_service_requests_total"
                | "traefik_entrypoint_requests_total"
        )
    });
    if found.is_empty() {
        found.push(
            match dialect {
                Dialect::Istio => "istio proxy",
                Dialect::Linkerd => "linkerd2-proxy",
                Dialect::Envoy => "envoy",
                Dialect::Hubble => "hubble (Cilium's node agent: reports for the workloads on its node)",
                Dialect::Traefik => "traefik (Traefik Mesh's node proxy)",
            }
            .into(),
        );
    }
    if !http {
        found.push("no HTTP request metrics: L4 (TCP) figures only".into());
    }
    found
}

/// Where traffic is counted: `inbound` to the proxy's workload, `outbound` from it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKey {
    pub direction: &'static str,
    /// `namespace/workload`, `src → dst` for outbound edges, or an authority / cluster.
    pub name: String,
}

/// Cumulative counters of one group (as scraped; rates come from two of these).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Totals {
    #[serde(with = "json_float")]
    pub requests: f64,
    #[serde(with = "json_float")]
    pub successes: f64,
    #[serde(with = "json_float")]
    pub mtls_requests: f64,
    /// Cumulative histogram buckets (le, count), summed over the group's series.
    #[serde(with = "json_float::pairs")]
    pub latency_ms: Vec<(f64, f64)>,
    #[serde(with = "json_float")]
    pub tcp_open_connections: f64,
    /// TCP connections opened and closed (counters).
    #[serde(default, with = "json_float", skip_serializing_if = "is_zero")]
    pub tcp_opened: f64,
    #[serde(default, with = "json_float", skip_serializing_if = "is_zero")]
    pub tcp_closed: f64,
    /// Bytes read and written on the group's side (counters): for an inbound group what the
    /// workload's proxy read from its clients (requests) and wrote back (responses); for an
    /// outbound group or edge what the source read from the destination (responses) and
    /// wrote to it (requests). `linkerd viz`'s READ_BYTES/SEC and WRITE_BYTES/SEC.
    #[serde(default, with = "json_float", skip_serializing_if = "is_zero")]
    pub bytes_read: f64,
    #[serde(default, with = "json_float", skip_serializing_if = "is_zero")]
    pub bytes_written: f64,
    /// The proxy exports byte or connection counters at all: without them the L4 figures
    /// are unknown, not zero (an Istio sidecar without body-size histograms, a stand-in).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub l4_seen: bool,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Totals {
    pub fn success_ratio(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.successes / self.requests)
    }

    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let v = histogram_quantile(q, &self.latency_ms);
        (!v.is_nan()).then_some(v)
    }

    /// Adds another group's counters (bucket by bucket).
    pub fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.successes += other.successes;
        self.mtls_requests += other.mtls_requests;
        self.tcp_open_connections += other.tcp_open_connections;
        self.tcp_opened += other.tcp_opened;
        self.tcp_closed += other.tcp_closed;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.l4_seen |= other.l4_seen;
        // The same buckets (one dialect's, always): add in place, in one pass.
        if same_buckets(&self.latency_ms, &other.latency_ms) {
            for (mine, theirs) in self.latency_ms.iter_mut().zip(&other.latency_ms) {
                mine.1 += theirs.1;
            }
            return;
        }
        for (le, c) in &other.latency_ms {
            self.add_bucket(*le, *c);
        }
        self.latency_ms.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    fn add_bucket(&mut self, le: f64, count: f64) {
        match self.latency_ms.iter_mut().find(|(b, _)| *b == le) {
            Some(b) => b.1 += count,
            None => self.latency_ms.push((le, count)),
        }
    }

    /// `later - self` per counter, treating a decrease as a counter reset (the process
    /// restarted, so the later value is everything since): Prometheus' `rate` rule.
    pub fn delta_to(&self, later: &Totals) -> Totals {
        let d = |a: f64, b: f64| if b >= a { b - a } else { b };
        let latency_ms: Vec<(f64, f64)> = if same_buckets(&self.latency_ms, &later.latency_ms) {
            self.latency_ms
                .iter()
                .zip(&later.latency_ms)
                .map(|(a, b)| (b.0, d(a.1, b.1)))
                .collect()
        } else {
            let mut v: Vec<(f64, f64)> = later
                .latency_ms
                .iter()
                .map(|(le, b)| {
                    (
                        *le,
                        d(self.latency_ms.iter().find(|(x, _)| x == le).map_or(0.0, |x| x.1), *b),
                    )
                })
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v
        };
        Totals {
            requests: d(self.requests, later.requests),
            successes: d(self.successes, later.successes),
            mtls_requests: d(self.mtls_requests, later.mtls_requests),
            latency_ms,
            // A gauge: the later value is the current one.
            tcp_open_connections: later.tcp_open_connections,
            tcp_opened: d(self.tcp_opened, later.tcp_opened),
            tcp_closed: d(self.tcp_closed, later.tcp_closed),
            bytes_read: d(self.bytes_read, later.bytes_read),
            bytes_written: d(self.bytes_written, later.bytes_written),
            l4_seen: later.l4_seen,
        }
    }
}

impl Totals {
    /// Only the request (L7) figures: where ztunnel counts the bytes and connections of the
    /// same traffic, a waypoint's must not count them again.
    pub fn l7_only(&self) -> Totals {
        // (`l4_seen` stays false: the L4 figures come from elsewhere.)
        Totals {
            requests: self.requests,
            successes: self.successes,
            mtls_requests: self.mtls_requests,
            latency_ms: self.latency_ms.clone(),
            ..Totals::default()
        }
    }
}

/// Whether two histograms have the same bucket bounds in the same (ascending) order.
fn same_buckets(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0) && a.windows(2).all(|w| w[0].0 < w[1].0)
}

/// The destination of an outbound group: Istio's `src → dst` keys name the source too,
/// which is the scraped pod's own workload. None for groups that are not an edge.
pub fn edge_destination(k: &GroupKey) -> Option<&str> {
    if k.direction != "outbound" {
        return None;
    }
    // A series without a destination names no edge (PromQL's answers drop it the same way).
    Some(k.name.split_once(" → ").map_or(k.name.as_str(), |(_, dst)| dst)).filter(|d| !d.is_empty())
}

/// What a proxy that reports on behalf of other workloads counted for each of them
/// (`namespace/workload` → its counters): a waypoint's `reporter="waypoint"` series are its
/// destination workloads' requests (L7 only: ztunnel counts the bytes of the same traffic);
/// a node proxy's (ztunnel's) `destination` series are the destination workload's inbound,
/// its `source` series the source workload's outbound and edges. Each connection is seen by
/// the ztunnels of both ends, so taking each side from its own reporter counts it once.
/// Series without workload labels (`unknown`) are nobody's and stay with the proxy.
pub fn described(groups: &BTreeMap<GroupKey, Totals>, node_proxy: bool) -> BTreeMap<String, super::window::Counters> {
    type Sides = (Totals, Totals, BTreeMap<String, Totals>);
    let mut per: BTreeMap<&str, Sides> = BTreeMap::new();
    let workload = |w: &str| w.split_once('/').is_some_and(|(ns, n)| !ns.is_empty() && !n.is_empty());
    for (k, t) in groups {
        match k.direction {
            "waypoint" if workload(&k.name) => per.entry(&k.name).or_default().0.add(&t.l7_only()),
            "inbound" if node_proxy && workload(&k.name) => per.entry(&k.name).or_default().0.add(t),
            "outbound" if node_proxy => {
                if let Some((src, dst)) = k.name.split_once(" → ")
                    && workload(src)
                {
                    let s = per.entry(src).or_default();
                    s.1.add(t);
                    if !dst.is_empty() {
                        s.2.entry(dst.to_string()).or_default().add(t);
                    }
                }
            }
            _ => {}
        }
    }
    per.into_iter()
        .map(|(w, (i, o, e))| (w.to_string(), super::window::Counters::from_directions(i, o, e)))
        .collect()
}

/// Sums a proxy's groups into (inbound, outbound, outbound per destination).
pub fn by_direction(groups: &BTreeMap<GroupKey, Totals>) -> (Totals, Totals, BTreeMap<String, Totals>) {
    let (mut inbound, mut outbound, mut edges) = (Totals::default(), Totals::default(), BTreeMap::new());
    for (k, t) in groups {
        if k.direction == "outbound" {
            outbound.add(t);
            if let Some(dst) = edge_destination(k) {
                edges.entry(dst.to_string()).or_insert_with(Totals::default).add(t);
            }
        } else {
            inbound.add(t);
        }
    }
    (inbound, outbound, edges)
}

fn label(s: &Sample<'_>, name: &str) -> String {
    s.label(name).map(|v| v.into_owned()).unwrap_or_default()
}

/// Totals per group for the given dialect.
pub fn totals(e: &Exposition, dialect: Dialect) -> BTreeMap<GroupKey, Totals> {
    let mut out: BTreeMap<GroupKey, Totals> = BTreeMap::new();
    // A NaN or infinite counter would poison every sum and delta it joins.
    for s in e.samples.iter().filter(|s| s.value.is_finite()) {
        match dialect {
            Dialect::Istio => istio(&mut out, s),
            Dialect::Linkerd => linkerd(&mut out, s),
            Dialect::Envoy => envoy(&mut out, s),
            Dialect::Hubble => hubble(&mut out, s),
            Dialect::Traefik => traefik(&mut out, s),
        }
    }
    for t in out.values_mut() {
        t.latency_ms.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn istio_key(s: &Sample<'_>) -> GroupKey {
    // Istio's own word for a label it could not fill.
    let workload = |side: &str| match (
        label(s, &format!("{side}_workload_namespace")),
        label(s, &format!("{side}_workload")),
    ) {
        (ns, w) if ns.is_empty() && w.is_empty() => "unknown".to_string(),
        (ns, w) => format!("{ns}/{w}"),
    };
    if s.label("reporter").as_deref() == Some("waypoint") {
        // A waypoint reports for the destination workload it serves.
        return GroupKey {
            direction: "waypoint",
            name: workload("destination"),
        };
    }
    if istio_outbound(s) {
        let dst = s
            .label("destination_service")
            .or_else(|| s.label("destination_service_name"))
            .unwrap_or_default();
        GroupKey {
            direction: "outbound",
            name: format!("{} → {dst}", workload("source")),
        }
    } else {
        GroupKey {
            direction: "inbound",
            name: workload("destination"),
        }
    }
}

/// Reported by the source side (a client's sidecar, or the source's ztunnel); `destination`
/// and `waypoint` report for the destination workload.
fn istio_outbound(s: &Sample<'_>) -> bool {
    s.label("reporter").as_deref() == Some("source")
}

fn istio(out: &mut BTreeMap<GroupKey, Totals>, s: &Sample<'_>) {
    match s.name {
        "istio_requests_total" => {
            let t = out.entry(istio_key(s)).or_default();
            t.requests += s.value;
            // Istio's success: any response that is not a 5xx (0 means no response at all).
            let code: u16 = s.label("response_code").and_then(|c| c.parse().ok()).unwrap_or(0);
            if code != 0 && code < 500 {
                t.successes += s.value;
            }
            if s.label("connection_security_policy").as_deref() == Some("mutual_tls") {
                t.mtls_requests += s.value;
            }
        }
        // Istio has no open-connections gauge: opened minus closed is what is open now.
        "istio_tcp_connections_opened_total" => {
            let t = out.entry(istio_key(s)).or_default();
            t.tcp_open_connections += s.value;
            t.tcp_opened += s.value;
            t.l4_seen = true;
        }
        "istio_tcp_connections_closed_total" => {
            let t = out.entry(istio_key(s)).or_default();
            t.tcp_open_connections -= s.value;
            t.tcp_closed += s.value;
            t.l4_seen = true;
        }
        // Istio counts from the destination's side: received is what the client sent (the
        // request), sent what the server answered. The source reads the answer. For HTTP,
        // Istio has no TCP bytes but the body sizes' histograms, whose sums stand in.
        "istio_tcp_received_bytes_total" | "istio_request_bytes_sum" => {
            let outbound = istio_outbound(s);
            let t = out.entry(istio_key(s)).or_default();
            *if outbound {
                &mut t.bytes_written
            } else {
                &mut t.bytes_read
            } += s.value;
            t.l4_seen = true;
        }
        "istio_tcp_sent_bytes_total" | "istio_response_bytes_sum" => {
            let outbound = istio_outbound(s);
            let t = out.entry(istio_key(s)).or_default();
            *if outbound {
                &mut t.bytes_read
            } else {
                &mut t.bytes_written
            } += s.value;
            t.l4_seen = true;
        }
        "istio_request_duration_milliseconds_bucket" => {
            if let Some(le) = s.label("le").and_then(|l| super::exposition::parse_value(&l)) {
                out.entry(istio_key(s)).or_default().add_bucket(le, s.value);
            }
        }
        _ => {}
    }
}

fn linkerd_key(s: &Sample<'_>) -> GroupKey {
    let direction = if s.label("direction").as_deref() == Some("outbound") {
        "outbound"
    } else {
        "inbound"
    };
    let name = match (s.label("dst_namespace"), s.label("dst_deployment")) {
        (Some(ns), Some(d)) => format!("{ns}/{d}"),
        _ => s
            .label("authority")
            .or_else(|| s.label("target_addr"))
            .map(|a| a.into_owned())
            .unwrap_or_default(),
    };
    GroupKey { direction, name }
}

fn linkerd(out: &mut BTreeMap<GroupKey, Totals>, s: &Sample<'_>) {
    match s.name {
        // linkerd viz counts responses: a request that never got one is not in the RPS.
        "response_total" => {
            let t = out.entry(linkerd_key(s)).or_default();
            t.requests += s.value;
            if s.label("classification").as_deref() == Some("success") {
                t.successes += s.value;
            }
            if s.label("tls").as_deref() == Some("true") {
                t.mtls_requests += s.value;
            }
        }
        "response_latency_ms_bucket" => {
            if let Some(le) = s.label("le").and_then(|l| super::exposition::parse_value(&l)) {
                out.entry(linkerd_key(s)).or_default().add_bucket(le, s.value);
            }
        }
        "tcp_open_connections"
        | "tcp_open_total"
        | "tcp_close_total"
        | "tcp_read_bytes_total"
        | "tcp_write_bytes_total"
            if linkerd_peer_side(s) =>
        {
            let t = out.entry(linkerd_key(s)).or_default();
            t.l4_seen |= s.name != "tcp_open_connections";
            match s.name {
                "tcp_open_connections" => t.tcp_open_connections += s.value,
                "tcp_open_total" => t.tcp_opened += s.value,
                "tcp_close_total" => t.tcp_closed += s.value,
                "tcp_read_bytes_total" => t.bytes_read += s.value,
                _ => t.bytes_written += s.value,
            }
        }
        _ => {}
    }
}

/// The TCP series of the connections a workload really has: inbound from its clients
/// (`peer="src"`), outbound to its servers (`peer="dst"`). The other halves are the proxy's
/// loopback legs to and from the app, the same bytes again; the admin (4191) and tap (4190)
/// ports are the proxy's own (metrics scrapes, tap), not the app's.
fn linkerd_peer_side(s: &Sample<'_>) -> bool {
    match (s.label("direction").as_deref(), s.label("peer").as_deref()) {
        (Some("inbound"), Some("src")) => !matches!(s.label("target_port").as_deref(), Some("4190" | "4191")),
        (Some("outbound"), Some("dst")) => true,
        _ => false,
    }
}

fn envoy(out: &mut BTreeMap<GroupKey, Totals>, s: &Sample<'_>) {
    // Istio renames envoy_cluster_name to cluster_name; plain Envoy keeps it.
    let cluster = || {
        s.label("envoy_cluster_name")
            .or_else(|| s.label("cluster_name"))
            .map(|c| c.into_owned())
    };
    let key = |c: String| GroupKey {
        direction: "outbound",
        name: c,
    };
    match s.name {
        "envoy_cluster_upstream_rq_total" => {
            if let Some(c) = cluster() {
                let t = out.entry(key(c)).or_default();
                t.requests += s.value;
                t.successes += s.value;
            }
        }
        "envoy_cluster_upstream_rq_xx" => {
            let class = s
                .label("envoy_response_code_class")
                .or_else(|| s.label("response_code_class"));
            if class.as_deref().is_some_and(|c| c.starts_with('5'))
                && let Some(c) = cluster()
            {
                out.entry(key(c)).or_default().successes -= s.value;
            }
        }
        "envoy_cluster_upstream_cx_active"
        | "envoy_cluster_upstream_cx_total"
        | "envoy_cluster_upstream_cx_destroy"
        | "envoy_cluster_upstream_cx_rx_bytes_total"
        | "envoy_cluster_upstream_cx_tx_bytes_total" => {
            if let Some(c) = cluster() {
                let t = out.entry(key(c)).or_default();
                t.l4_seen |= s.name != "envoy_cluster_upstream_cx_active";
                match s.name {
                    "envoy_cluster_upstream_cx_active" => t.tcp_open_connections += s.value,
                    "envoy_cluster_upstream_cx_total" => t.tcp_opened += s.value,
                    "envoy_cluster_upstream_cx_destroy" => t.tcp_closed += s.value,
                    // Upstream: what Envoy read from the destination, and wrote to it.
                    "envoy_cluster_upstream_cx_rx_bytes_total" => t.bytes_read += s.value,
                    _ => t.bytes_written += s.value,
                }
            }
        }
        // Downstream connections per listener: what the proxy's workload is served on.
        "envoy_listener_downstream_cx_active"
        | "envoy_listener_downstream_cx_total"
        | "envoy_listener_downstream_cx_destroy" => {
            let listener = s
                .label("envoy_listener_address")
                .or_else(|| s.label("listener_address"))
                .map(|c| c.into_owned());
            if let Some(l) = listener {
                let t = out
                    .entry(GroupKey {
                        direction: "inbound",
                        name: l,
                    })
                    .or_default();
                t.l4_seen |= s.name != "envoy_listener_downstream_cx_active";
                match s.name {
                    "envoy_listener_downstream_cx_active" => t.tcp_open_connections += s.value,
                    "envoy_listener_downstream_cx_total" => t.tcp_opened += s.value,
                    _ => t.tcp_closed += s.value,
                }
            }
        }
        "envoy_cluster_upstream_rq_time_bucket" => {
            if let (Some(c), Some(le)) = (
                cluster(),
                s.label("le").and_then(|l| super::exposition::parse_value(&l)),
            ) {
                out.entry(key(c)).or_default().add_bucket(le, s.value);
            }
        }
        _ => {}
    }
}

/// A bucket bound in seconds as milliseconds (`+Inf` stays infinite).
fn le_ms(s: &Sample<'_>) -> Option<f64> {
    s.label("le")
        .and_then(|l| super::exposition::parse_value(&l))
        .map(|v| v * 1000.0)
}

/// `namespace/workload` of one side of a Hubble flow; `unknown` without the context labels
/// (httpV2 needs `labelsContext=source_namespace,source_workload,destination_namespace,...`).
fn hubble_key(s: &Sample<'_>) -> GroupKey {
    let side = |p: &str| match (label(s, &format!("{p}_namespace")), label(s, &format!("{p}_workload"))) {
        (ns, w) if ns.is_empty() || w.is_empty() => "unknown".to_string(),
        (ns, w) => format!("{ns}/{w}"),
    };
    if s.label("reporter").as_deref() == Some("client") {
        GroupKey {
            direction: "outbound",
            name: format!("{} → {}", side("source"), side("destination")),
        }
    } else {
        GroupKey {
            direction: "inbound",
            name: side("destination"),
        }
    }
}

fn hubble(out: &mut BTreeMap<GroupKey, Totals>, s: &Sample<'_>) {
    match s.name {
        "hubble_http_requests_total" => {
            let t = out.entry(hubble_key(s)).or_default();
            t.requests += s.value;
            // httpV2 labels the status; a request without one got no response.
            let code: u16 = s.label("status").and_then(|c| c.parse().ok()).unwrap_or(0);
            if code != 0 && code < 500 {
                t.successes += s.value;
            }
        }
        "hubble_http_request_duration_seconds_bucket" => {
            if let Some(le) = le_ms(s) {
                out.entry(hubble_key(s)).or_default().add_bucket(le, s.value);
            }
        }
        _ => {}
    }
}

/// Traefik's own entrypoints and services (its API, dashboard, metrics, ping; Traefik Mesh's
/// readiness): the proxy's, not the mesh's traffic.
fn traefik_internal(s: &Sample<'_>) -> bool {
    matches!(s.label("entrypoint").as_deref(), Some("traefik" | "readiness"))
        || s.label("service")
            .is_some_and(|v| v.ends_with("@internal") || v.starts_with("readiness@"))
}

/// A Traefik series about a service (the proxy's edge), not an entrypoint.
fn traefik_service(s: &Sample<'_>) -> bool {
    s.label("service").is_some()
}

fn traefik(out: &mut BTreeMap<GroupKey, Totals>, s: &Sample<'_>) {
    if !s.name.starts_with("traefik_") || traefik_internal(s) {
        return;
    }
    // Services are where the proxy sends (its edges), entrypoints where it is reached.
    let key = match (s.label("service"), s.label("entrypoint")) {
        (Some(svc), _) => GroupKey {
            direction: "outbound",
            name: svc.into_owned(),
        },
        (None, Some(ep)) => GroupKey {
            direction: "inbound",
            name: ep.into_owned(),
        },
        _ => return,
    };
    match s.name {
        "traefik_service_requests_total" | "traefik_entrypoint_requests_total" => {
            let t = out.entry(key).or_default();
            t.requests += s.value;
            let code: u16 = s.label("code").and_then(|c| c.parse().ok()).unwrap_or(0);
            if code != 0 && code < 500 {
                t.successes += s.value;
            }
        }
        "traefik_service_request_duration_seconds_bucket" | "traefik_entrypoint_request_duration_seconds_bucket" => {
            if let Some(le) = le_ms(s) {
                out.entry(key).or_default().add_bucket(le, s.value);
            }
        }
        // Bytes of the requests and answers: an entrypoint read the requests, a service (the
        // proxy's edge) read the answers.
        "traefik_entrypoint_requests_bytes_total" | "traefik_service_requests_bytes_total" => {
            let t = out.entry(key).or_default();
            t.l4_seen = true;
            *if traefik_service(s) {
                &mut t.bytes_written
            } else {
                &mut t.bytes_read
            } += s.value;
        }
        "traefik_entrypoint_responses_bytes_total" | "traefik_service_responses_bytes_total" => {
            let t = out.entry(key).or_default();
            t.l4_seen = true;
            *if traefik_service(s) {
                &mut t.bytes_read
            } else {
                &mut t.bytes_written
            } += s.value;
        }
        // v2 names the gauge per kind, v3 has one with either label.
        "traefik_service_open_connections" | "traefik_entrypoint_open_connections" | "traefik_open_connections" => {
            out.entry(key).or_default().tcp_open_connections += s.value;
        }
        _ => {}
    }
}

/// JSON has no infinities or NaN: serde_json writes them as `null`, which then fails to read back,
/// yet every histogram ends in the `+Inf` bucket and a gauge can be `NaN`. So recordings carry
/// non-finite values as the exposition spells them (`"+Inf"`, `"-Inf"`, `"NaN"`).
mod json_float {
    use serde::de::{Error, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        Float(*v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Float::deserialize(d).map(|f| f.0)
    }

    /// The same for a list of pairs, such as histogram buckets `(le, count)`.
    pub mod pairs {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[(f64, f64)], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|&(a, b)| (Float(a), Float(b))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
            let v = Vec::<(Float, Float)>::deserialize(d)?;
            Ok(v.into_iter().map(|(a, b)| (a.0, b.0)).collect())
        }
    }

    struct Float(f64);

    impl Serialize for Float {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                v if v.is_finite() => s.serialize_f64(v),
                v if v.is_nan() => s.serialize_str("NaN"),
                v if v > 0.0 => s.serialize_str("+Inf"),
                _ => s.serialize_str("-Inf"),
            }
        }
    }

    impl<'de> Deserialize<'de> for Float {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Float;

                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a number, \"+Inf\", \"-Inf\" or \"NaN\"")
                }

                fn visit_f64<E: Error>(self, v: f64) -> Result<Float, E> {
                    Ok(Float(v))
                }

                fn visit_i64<E: Error>(self, v: i64) -> Result<Float, E> {
                    Ok(Float(v as f64))
                }

                fn visit_u64<E: Error>(self, v: u64) -> Result<Float, E> {
                    Ok(Float(v as f64))
                }

                fn visit_str<E: Error>(self, v: &str) -> Result<Float, E> {
                    super::super::exposition::parse_value(v)
                        .filter(|f| !f.is_finite())
                        .map(Float)
                        .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            d.deserialize_any(V)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::Totals;

        #[test]
        fn infinite_buckets_and_nan_round_trip_through_json() {
            let t = Totals {
                requests: 7.0,
                tcp_open_connections: f64::NAN,
                latency_ms: vec![(5.0, 3.0), (f64::INFINITY, 7.0)],
                ..Totals::default()
            };
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(
                json,
                r#"{"requests":7.0,"successes":0.0,"mtls_requests":0.0,"latency_ms":[[5.0,3.0],["+Inf",7.0]],"tcp_open_connections":"NaN"}"#
            );
            let back: Totals = serde_json::from_str(&json).unwrap();
            assert_eq!(back.latency_ms, t.latency_ms);
            assert!(back.tcp_open_connections.is_nan());
            let bad = serde_json::from_str::<Totals>(&json.replace("\"NaN\"", "\"7\""));
            assert!(bad.is_err(), "a finite number spelled as text is not accepted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(buckets: &[(f64, f64)]) -> Totals {
        Totals {
            requests: buckets.last().map_or(0.0, |b| b.1),
            latency_ms: buckets.to_vec(),
            ..Totals::default()
        }
    }

    #[test]
    fn buckets_add_and_subtract_by_bound_whatever_the_bounds() {
        const INF: f64 = f64::INFINITY;
        let a = t(&[(5.0, 1.0), (10.0, 3.0), (INF, 4.0)]);
        // Same bounds: the one-pass path.
        let mut s = a.clone();
        s.add(&t(&[(5.0, 2.0), (10.0, 2.0), (INF, 5.0)]));
        assert_eq!(s.latency_ms, [(5.0, 3.0), (10.0, 5.0), (INF, 9.0)]);
        assert_eq!(s.requests, 9.0);
        // Other bounds: merged by bound, in order.
        let mut m = a.clone();
        m.add(&t(&[(1.0, 1.0), (10.0, 1.0), (INF, 2.0)]));
        assert_eq!(m.latency_ms, [(1.0, 1.0), (5.0, 1.0), (10.0, 4.0), (INF, 6.0)]);
        // Deltas, with a reset (a lower later count is everything since).
        let later = t(&[(5.0, 3.0), (10.0, 2.0), (INF, 7.0)]);
        assert_eq!(a.delta_to(&later).latency_ms, [(5.0, 2.0), (10.0, 2.0), (INF, 3.0)]);
        let other = t(&[(1.0, 1.0), (5.0, 2.0), (INF, 9.0)]);
        assert_eq!(a.delta_to(&other).latency_ms, [(1.0, 1.0), (5.0, 1.0), (INF, 5.0)]);
    }
}

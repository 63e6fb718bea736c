//! The report of `meshtop metrics parse`: golden signals from exposition dumps, offline.
//! Pure: the command reads the files and prints.

use std::time::Duration;

use color_eyre::eyre::{Result, bail};
use serde::Serialize;

use super::exposition;
use super::golden::{self, Dialect, GroupKey, Totals};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeshArg {
    Auto,
    Istio,
    Linkerd,
    Envoy,
    Hubble,
    Traefik,
}

/// Version of the JSON shape: fields are added, never renamed or removed, within a major version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize, PartialEq)]
pub struct Report {
    pub schema_version: u32,
    pub dialect: Dialect,
    /// What the exposition comes from, as far as it says (ztunnel, a waypoint, a sidecar).
    pub found: Vec<String>,
    /// Seconds between the two dumps, when two were given.
    pub interval_s: Option<f64>,
    pub groups: Vec<Row>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Row {
    pub direction: &'static str,
    pub name: String,
    /// Requests counted (cumulative for one dump; over the interval for two).
    pub requests: f64,
    pub rps: Option<f64>,
    pub success_ratio: Option<f64>,
    pub mtls_ratio: Option<f64>,
    pub latency_ms: Quantiles,
    pub tcp_open_connections: f64,
    /// `http` when the group counted requests, `tcp` when it has only L4 counters.
    pub protocol: &'static str,
    /// L4 counters (cumulative for one dump; over the interval for two). Bytes are the
    /// group's side's: an inbound group's received bytes are its clients' requests, an
    /// outbound group's received bytes the answers its destination sent.
    pub tcp_opened: f64,
    pub tcp_closed: f64,
    /// Open now (the later dump's gauge, or opened − closed where the mesh has no gauge).
    pub tcp_open: f64,
    pub bytes_received: f64,
    pub bytes_sent: f64,
    /// Per second over the interval, when two dumps were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates: Option<L4Rates>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct L4Rates {
    pub tcp_opened: f64,
    pub tcp_closed: f64,
    pub bytes_received: f64,
    pub bytes_sent: f64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

fn row(key: &GroupKey, t: &Totals, interval_s: Option<f64>) -> Row {
    Row {
        direction: key.direction,
        name: key.name.clone(),
        requests: t.requests,
        rps: interval_s.map(|s| t.requests / s),
        success_ratio: t.success_ratio(),
        mtls_ratio: (t.requests > 0.0).then(|| t.mtls_requests / t.requests),
        latency_ms: Quantiles {
            p50: t.quantile_ms(0.5),
            p90: t.quantile_ms(0.9),
            p99: t.quantile_ms(0.99),
        },
        tcp_open_connections: t.tcp_open_connections,
        protocol: if t.requests > 0.0 || t.latency_ms.iter().any(|b| b.1 > 0.0) {
            "http"
        } else {
            "tcp"
        },
        tcp_opened: t.tcp_opened,
        tcp_closed: t.tcp_closed,
        tcp_open: t.tcp_open_connections,
        bytes_received: t.bytes_read,
        bytes_sent: t.bytes_written,
        rates: interval_s.map(|s| L4Rates {
            tcp_opened: t.tcp_opened / s,
            tcp_closed: t.tcp_closed / s,
            bytes_received: t.bytes_read / s,
            bytes_sent: t.bytes_written / s,
        }),
    }
}

/// Builds the report from one dump (cumulative totals) or two (rates over `interval`).
pub fn report(first: &str, second: Option<&str>, interval: Duration, mesh: MeshArg) -> Result<Report> {
    let a = exposition::parse(first);
    let dialect = match mesh {
        MeshArg::Istio => Dialect::Istio,
        MeshArg::Linkerd => Dialect::Linkerd,
        MeshArg::Envoy => Dialect::Envoy,
        MeshArg::Hubble => Dialect::Hubble,
        MeshArg::Traefik => Dialect::Traefik,
        MeshArg::Auto => match golden::detect(&a) {
            Some(d) => d,
            None => bail!(
                "no mesh request metrics recognised (looked for istio_requests_total and istio_tcp_* (sidecars, \
                 waypoints, ztunnel), linkerd's response_total, envoy_cluster_upstream_rq_*, hubble_http_*, \
                 traefik_service_* and traefik_entrypoint_*); pass --mesh to choose"
            ),
        },
    };
    let ta = golden::totals(&a, dialect);
    let (groups, interval_s) = match second {
        None => (ta.iter().map(|(k, t)| row(k, t, None)).collect(), None),
        Some(text) => {
            let b = exposition::parse(text);
            let s = interval.as_secs_f64();
            if s <= 0.0 {
                bail!("--interval must be positive");
            }
            let tb = golden::totals(&b, dialect);
            let empty = Totals::default();
            (
                tb.iter()
                    .map(|(k, t)| row(k, &ta.get(k).unwrap_or(&empty).delta_to(t), Some(s)))
                    .collect(),
                Some(s),
            )
        }
    };
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        found: golden::describe(&a, dialect),
        dialect,
        interval_s,
        groups,
    })
}

pub fn table(r: &Report) -> String {
    let opt = |v: Option<f64>, digits: usize| v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"));
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.2}%", v * 100.0));
    let mut rows = vec![vec![
        "DIRECTION".to_string(),
        "NAME".into(),
        if r.interval_s.is_some() {
            "RPS".into()
        } else {
            "REQUESTS".into()
        },
        "SUCCESS".into(),
        "P50_MS".into(),
        "P90_MS".into(),
        "P99_MS".into(),
        "MTLS".into(),
        "TCP_CONN".into(),
        if r.interval_s.is_some() {
            "CONN_OPENED/S".into()
        } else {
            "CONN_OPENED".into()
        },
        if r.interval_s.is_some() {
            "READ_B/S".into()
        } else {
            "READ_B".into()
        },
        if r.interval_s.is_some() {
            "WRITE_B/S".into()
        } else {
            "WRITE_B".into()
        },
    ]];
    for g in &r.groups {
        rows.push(vec![
            g.direction.into(),
            g.name.clone(),
            match g.rps {
                Some(rps) => format!("{rps:.2}"),
                None => format!("{}", g.requests),
            },
            pct(g.success_ratio),
            opt(g.latency_ms.p50, 2),
            opt(g.latency_ms.p90, 2),
            opt(g.latency_ms.p99, 2),
            pct(g.mtls_ratio),
            format!("{}", g.tcp_open_connections),
            match &g.rates {
                Some(r) => format!("{:.2}", r.tcp_opened),
                None => format!("{}", g.tcp_opened),
            },
            match &g.rates {
                Some(r) => format!("{:.0}", r.bytes_received),
                None => format!("{}", g.bytes_received),
            },
            match &g.rates {
                Some(r) => format!("{:.0}", r.bytes_sent),
                None => format!("{}", g.bytes_sent),
            },
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!("dialect: {:?}\n", r.dialect).to_lowercase();
    for f in &r.found {
        out += &format!("found: {f}\n");
    }
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out += line.join("  ").trim_end();
        out += "\n";
    }
    out
}

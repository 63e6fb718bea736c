//! A proxy's counters over a window, and the figures users read from them: rate, success,
//! mTLS share and latency quantiles. Pure maths; the fold stores the results so render and
//! sort only read them. Quantiles come from `quantile.rs` over the window's bucket increases.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::golden::Totals;

/// What one proxy counted: its own traffic (served, or sent for a pure client) and its
/// outbound traffic per destination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub own: Totals,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub edges: BTreeMap<String, Totals>,
    /// `own` is the outbound side (a pure client), so the edges are the same traffic again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_is_outbound: bool,
}

impl Counters {
    /// A pod's own traffic is what its proxy serves; a pure client only has outbound.
    pub fn from_directions(inbound: Totals, outbound: Totals, edges: BTreeMap<String, Totals>) -> Self {
        // Connections are open in both directions; show them all.
        let tcp_open_connections = inbound.tcp_open_connections + outbound.tcp_open_connections;
        let served = |t: &Totals| t.requests > 0.0 || t.bytes_read > 0.0 || t.tcp_opened > 0.0;
        let own_is_outbound = !served(&inbound) && served(&outbound);
        let side = if own_is_outbound { outbound } else { inbound };
        Counters {
            own: Totals {
                tcp_open_connections,
                ..side
            },
            edges,
            own_is_outbound,
        }
    }

    /// Bytes read and written in both directions, each once.
    pub fn bytes(&self) -> f64 {
        let own = self.own.bytes_read + self.own.bytes_written;
        if self.own_is_outbound {
            own
        } else {
            own + self.edges.values().map(|t| t.bytes_read + t.bytes_written).sum::<f64>()
        }
    }

    pub fn add(&mut self, other: &Counters) {
        self.own.add(&other.own);
        self.own_is_outbound = other.own_is_outbound;
        for (dst, t) in &other.edges {
            self.edges.entry(dst.clone()).or_default().add(t);
        }
    }

    pub fn delta_to(&self, later: &Counters) -> Counters {
        let empty = Totals::default();
        Counters {
            own_is_outbound: later.own_is_outbound,
            own: self.own.delta_to(&later.own),
            edges: later
                .edges
                .iter()
                .map(|(dst, t)| (dst.clone(), self.edges.get(dst).unwrap_or(&empty).delta_to(t)))
                .collect(),
        }
    }
}

/// The counters' increase over a window of `secs` seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Window {
    pub secs: f64,
    pub increase: Counters,
    /// Fewer seconds of data than the window asked for (meshtop started recently).
    pub partial: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub rps: f64,
    pub success: Option<f64>,
    pub mtls: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub window_s: f64,
    pub tcp_open: f64,
    /// TCP bytes per second read and written (see [`Totals::bytes_read`]), and connections
    /// opened per second.
    /// None when the proxy exports no byte or connection counters (unknown, not zero).
    pub read_bps: Option<f64>,
    pub write_bps: Option<f64>,
    pub tcp_opened_per_s: Option<f64>,
}

impl Rates {
    pub fn of(secs: f64, d: &Totals) -> Self {
        let per_s = |v: f64| if secs > 0.0 { v / secs } else { 0.0 };
        Rates {
            rps: if secs > 0.0 { d.requests / secs } else { 0.0 },
            success: d.success_ratio(),
            mtls: (d.requests > 0.0).then(|| d.mtls_requests / d.requests),
            p50_ms: d.quantile_ms(0.5),
            p90_ms: d.quantile_ms(0.9),
            p99_ms: d.quantile_ms(0.99),
            window_s: secs,
            tcp_open: d.tcp_open_connections,
            read_bps: d.l4_seen.then(|| per_s(d.bytes_read)),
            write_bps: d.l4_seen.then(|| per_s(d.bytes_written)),
            tcp_opened_per_s: d.l4_seen.then(|| per_s(d.tcp_opened)),
        }
    }
}

/// One pod's traffic over a window, as the Prometheus source reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodWindow {
    pub namespace: String,
    pub pod: String,
    pub window: Window,
    /// What it reported for other workloads (ztunnel, a waypoint, Hubble), by
    /// `namespace/workload`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub described: BTreeMap<String, Window>,
}

//! A pod's proxy traffic over a selectable window. Direct scrapes give cumulative
//! counters: a bounded ring of them turns into the increase over the window, summed pair
//! by pair so a counter reset inside the window is handled as Prometheus' `rate` does.
//! The Prometheus source hands over the window's increase directly.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::metrics::golden::Totals;
use crate::model::{Series, UnixMillis};

/// The windows the user can switch between, in seconds.
pub const WINDOWS: [u32; 3] = [30, 60, 300];
pub const DEFAULT_WINDOW: u32 = 60;
/// At one scrape every 2.5 s this still covers the longest window; memory stays bounded
/// whatever the scrape interval.
const MAX_SAMPLES: usize = 128;

/// What one proxy counted: its own traffic (served, or sent for a pure client) and its
/// outbound traffic per destination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub own: Totals,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub edges: BTreeMap<String, Totals>,
}

impl Counters {
    /// A pod's own traffic is what its proxy serves; a pure client only has outbound.
    pub fn from_directions(inbound: Totals, outbound: Totals, edges: BTreeMap<String, Totals>) -> Self {
        // Connections are open in both directions; show them all.
        let tcp_open_connections = inbound.tcp_open_connections + outbound.tcp_open_connections;
        let side = if inbound.requests > 0.0 || outbound.requests == 0.0 {
            inbound
        } else {
            outbound
        };
        Counters {
            own: Totals {
                tcp_open_connections,
                ..side
            },
            edges,
        }
    }

    fn add(&mut self, other: &Counters) {
        self.own.add(&other.own);
        for (dst, t) in &other.edges {
            self.edges.entry(dst.clone()).or_default().add(t);
        }
    }

    fn delta_to(&self, later: &Counters) -> Counters {
        let empty = Totals::default();
        Counters {
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
}

impl Rates {
    pub fn of(secs: f64, d: &Totals) -> Self {
        Rates {
            rps: if secs > 0.0 { d.requests / secs } else { 0.0 },
            success: d.success_ratio(),
            mtls: (d.requests > 0.0).then(|| d.mtls_requests / d.requests),
            p50_ms: d.quantile_ms(0.5),
            p90_ms: d.quantile_ms(0.9),
            p99_ms: d.quantile_ms(0.99),
            window_s: secs,
            tcp_open: d.tcp_open_connections,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodTraffic {
    /// Cumulative counters per direct scrape, oldest first.
    samples: VecDeque<(UnixMillis, Counters)>,
    pub window: Option<Window>,
    /// Rates at each update (per scrape interval, or per Prometheus refresh), for charts.
    pub rps_history: Series,
    pub p99_history: Series,
}

impl PodTraffic {
    /// Adds a direct scrape and recomputes the window ending at it.
    pub fn push_scrape(&mut self, at: UnixMillis, counters: Counters, window_s: u32) {
        if let Some((prev_at, prev)) = self.samples.back() {
            if at <= *prev_at {
                return; // out of order: the newer scrape already counts
            }
            let d = prev.own.delta_to(&counters.own);
            let secs = (at - prev_at) as f64 / 1000.0;
            self.rps_history.push(d.requests / secs);
            if let Some(p99) = d.quantile_ms(0.99) {
                self.p99_history.push(p99);
            }
        }
        self.samples.push_back((at, counters));
        // Keep one sample at or before the start of the longest window.
        let horizon = at - i64::from(WINDOWS[WINDOWS.len() - 1]) * 1000;
        while self.samples.len() > MAX_SAMPLES || self.samples.get(1).is_some_and(|(t, _)| *t <= horizon) {
            self.samples.pop_front();
        }
        self.recompute(window_s);
    }

    /// The increase over the window ending at the last scrape: the sum of the increases
    /// between consecutive scrapes, from the newest scrape at or before the window's start
    /// (or the oldest one, then marked partial).
    pub fn recompute(&mut self, window_s: u32) {
        let Some((last_at, _)) = self.samples.back() else {
            return;
        };
        let start = last_at - i64::from(window_s) * 1000;
        let base = self.samples.iter().rposition(|(t, _)| *t <= start);
        let from = base.unwrap_or(0);
        if from + 1 >= self.samples.len() {
            self.window = None;
            return;
        }
        let mut increase = Counters::default();
        for i in from..self.samples.len() - 1 {
            increase.add(&self.samples[i].1.delta_to(&self.samples[i + 1].1));
        }
        // Open connections are a gauge: the newest value, not a sum over the pairs.
        let last = &self.samples[self.samples.len() - 1].1;
        increase.own.tcp_open_connections = last.own.tcp_open_connections;
        for (dst, t) in increase.edges.iter_mut() {
            t.tcp_open_connections = last.edges.get(dst).map_or(0.0, |l| l.tcp_open_connections);
        }
        self.window = Some(Window {
            secs: (last_at - self.samples[from].0) as f64 / 1000.0,
            increase,
            partial: base.is_none(),
        });
    }

    /// A window computed elsewhere (by Prometheus).
    pub fn set_window(&mut self, w: Window) {
        let r = Rates::of(w.secs, &w.increase.own);
        self.rps_history.push(r.rps);
        if let Some(p99) = r.p99_ms {
            self.p99_history.push(p99);
        }
        self.samples.clear();
        self.window = Some(w);
    }

    pub fn rates(&self) -> Option<Rates> {
        let w = self.window.as_ref()?;
        Some(Rates::of(w.secs, &w.increase.own))
    }

    pub fn samples(&self) -> usize {
        self.samples.len()
    }
}

pub fn window_label(secs: u32) -> String {
    if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(requests: f64, successes: f64) -> Counters {
        Counters {
            own: Totals {
                requests,
                successes,
                ..Totals::default()
            },
            edges: BTreeMap::from([(
                "b".to_string(),
                Totals {
                    requests: requests / 2.0,
                    ..Totals::default()
                },
            )]),
        }
    }

    #[test]
    fn window_spans_the_newest_scrape_at_or_before_its_start() {
        let mut t = PodTraffic::default();
        // 10 requests per second, scraped every 5 s for 2 minutes.
        for i in 0..=24 {
            t.push_scrape(i * 5000, c(i as f64 * 50.0, i as f64 * 45.0), 30);
        }
        let w = t.window.clone().unwrap();
        assert_eq!(w.secs, 30.0);
        assert!(!w.partial);
        assert_eq!(w.increase.own.requests, 300.0);
        assert_eq!(w.increase.edges["b"].requests, 150.0);
        let r = t.rates().unwrap();
        assert_eq!(r.rps, 10.0);
        assert_eq!(r.success, Some(0.9));
        t.recompute(300);
        let w = t.window.clone().unwrap();
        assert_eq!((w.secs, w.partial), (120.0, true));
        assert_eq!(t.rates().unwrap().rps, 10.0);
        t.recompute(60);
        assert_eq!(t.window.as_ref().unwrap().secs, 60.0);
    }

    #[test]
    fn a_counter_reset_inside_the_window_is_not_a_negative_rate() {
        let mut t = PodTraffic::default();
        t.push_scrape(0, c(1000.0, 1000.0), 60);
        t.push_scrape(10_000, c(1100.0, 1100.0), 60);
        // The proxy restarted: counters start again from zero.
        t.push_scrape(20_000, c(40.0, 40.0), 60);
        t.push_scrape(30_000, c(140.0, 140.0), 60);
        let w = t.window.unwrap();
        assert_eq!(w.increase.own.requests, 100.0 + 40.0 + 100.0);
        assert_eq!(w.secs, 30.0);
    }

    #[test]
    fn memory_is_bounded_by_the_longest_window() {
        let mut t = PodTraffic::default();
        for i in 0..10_000 {
            t.push_scrape(i * 1000, c(i as f64, i as f64), 60);
        }
        assert_eq!(t.samples(), MAX_SAMPLES);
        let mut t = PodTraffic::default();
        for i in 0..1000 {
            t.push_scrape(i * 10_000, c(i as f64, i as f64), 60);
        }
        // 300 s at 10 s intervals: 31 samples (one at the horizon).
        assert_eq!(t.samples(), 31);
    }

    #[test]
    fn out_of_order_scrapes_are_ignored_and_one_scrape_has_no_rate() {
        let mut t = PodTraffic::default();
        t.push_scrape(5000, c(10.0, 10.0), 30);
        assert_eq!(t.rates(), None);
        t.push_scrape(4000, c(5.0, 5.0), 30);
        assert_eq!(t.samples(), 1);
    }

    #[test]
    fn labels() {
        assert_eq!(window_label(30), "30s");
        assert_eq!(window_label(300), "5m");
    }
}

//! A pod's proxy traffic over a selectable window. Direct scrapes give cumulative
//! counters: a bounded ring of them turns into the increase over the window, counted pair
//! by pair so a counter reset inside the window is handled as Prometheus' `rate` does.
//! Each sample also keeps the running sum of those pair increases, so a window's increase
//! is one subtraction however many scrapes it spans. The Prometheus source hands over the
//! window's increase directly.

use std::collections::{BTreeMap, VecDeque};

pub use crate::metrics::window::{Counters, Rates, Window};
use crate::model::{Series, UnixMillis};

/// The windows the user can switch between, in seconds.
pub const WINDOWS: [u32; 3] = [30, 60, 300];
pub const DEFAULT_WINDOW: u32 = 60;
/// At one scrape every 2.5 s this still covers the longest window; memory stays bounded
/// whatever the scrape interval.
const MAX_SAMPLES: usize = 128;

#[derive(Debug, Clone)]
struct Sample {
    at: UnixMillis,
    /// The counters as scraped.
    counters: Counters,
    /// The sum of the increases between consecutive samples up to this one (resets
    /// handled), from the ring's first: never decreases, so any two subtract.
    running: Counters,
}

/// Two samples are the same scrape when they were taken at the same time with the same
/// counters. `running` is bookkeeping: its offset depends on which samples the ring has
/// already let go, so a restored ring (which starts it at 0) equals the live one.
impl PartialEq for Sample {
    fn eq(&self, other: &Sample) -> bool {
        self.at == other.at && self.counters == other.counters
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodTraffic {
    /// Direct scrapes, oldest first.
    samples: VecDeque<Sample>,
    pub window: Option<Window>,
    /// The window's figures, computed when the window changes: the pod's own, and per
    /// outbound destination.
    pub rates: Option<Rates>,
    pub edge_rates: BTreeMap<String, Rates>,
    /// Rates at each update (per scrape interval, or per Prometheus refresh), for charts.
    pub rps_history: Series,
    pub p99_history: Series,
    /// Lines of the last scrape that were not read (malformed, or over a limit), and the
    /// first of them: shown in the pod's detail.
    pub unread: Option<(usize, String)>,
}

impl PodTraffic {
    /// The counters of the newest scrape kept.
    pub fn last_counters(&self) -> Option<&Counters> {
        self.samples.back().map(|s| &s.counters)
    }

    /// Adds a direct scrape and recomputes the window ending at it.
    pub fn push_scrape(&mut self, at: UnixMillis, counters: Counters, window_s: u32) {
        if let Some(prev) = self.samples.back() {
            if at <= prev.at {
                return; // out of order: the newer scrape already counts
            }
            let d = prev.counters.own.delta_to(&counters.own);
            let secs = (at - prev.at) as f64 / 1000.0;
            self.rps_history.push(d.requests / secs);
            if let Some(p99) = d.quantile_ms(0.99) {
                self.p99_history.push(p99);
            }
        }
        self.push_sample(at, counters);
        // Keep one sample at or before the start of the longest window.
        let horizon = at - i64::from(WINDOWS[WINDOWS.len() - 1]) * 1000;
        while self.samples.len() > MAX_SAMPLES || self.samples.get(1).is_some_and(|s| s.at <= horizon) {
            self.samples.pop_front();
        }
        self.recompute(window_s);
    }

    fn push_sample(&mut self, at: UnixMillis, counters: Counters) {
        let running = match self.samples.back() {
            Some(prev) => {
                let mut running = prev.running.clone();
                running.add(&prev.counters.delta_to(&counters));
                running
            }
            None => Counters::default(),
        };
        self.samples.push_back(Sample { at, counters, running });
    }

    /// The increase over the window ending at the last scrape: the sum of the increases
    /// between consecutive scrapes, from the newest scrape at or before the window's start
    /// (or the oldest one, then marked partial).
    pub fn recompute(&mut self, window_s: u32) {
        let Some(last) = self.samples.back() else {
            return;
        };
        let start = last.at - i64::from(window_s) * 1000;
        let base = self.samples.iter().rposition(|s| s.at <= start);
        let from = base.unwrap_or(0);
        if from + 1 >= self.samples.len() {
            self.set_figures(None);
            return;
        }
        let first = &self.samples[from];
        let mut increase = first.running.delta_to(&last.running);
        // Destinations that only had traffic before the window are not part of it.
        increase
            .edges
            .retain(|dst, t| t.requests > 0.0 || last.counters.edges.contains_key(dst));
        // Open connections are a gauge: the newest value, not a sum over the pairs.
        increase.own.tcp_open_connections = last.counters.own.tcp_open_connections;
        for (dst, t) in increase.edges.iter_mut() {
            t.tcp_open_connections = last.counters.edges.get(dst).map_or(0.0, |l| l.tcp_open_connections);
        }
        let w = Window {
            secs: (last.at - first.at) as f64 / 1000.0,
            increase,
            partial: base.is_none(),
        };
        self.set_figures(Some(w));
    }

    /// Takes the window and computes its figures once.
    fn set_figures(&mut self, w: Option<Window>) {
        self.rates = w.as_ref().map(|w| Rates::of(w.secs, &w.increase.own));
        self.edge_rates = w
            .as_ref()
            .map(|w| {
                w.increase
                    .edges
                    .iter()
                    .map(|(dst, d)| (dst.clone(), Rates::of(w.secs, d)))
                    .collect()
            })
            .unwrap_or_default();
        self.window = w;
    }

    /// A window computed elsewhere (by Prometheus).
    pub fn set_window(&mut self, w: Window) {
        let r = Rates::of(w.secs, &w.increase.own);
        self.rps_history.push(r.rps);
        if let Some(p99) = r.p99_ms {
            self.p99_history.push(p99);
        }
        self.samples.clear();
        self.set_figures(Some(w));
    }

    pub fn samples(&self) -> usize {
        self.samples.len()
    }
}

/// A pod's traffic written down: what a recording started mid-session opens with.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TrafficSnapshot {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<(UnixMillis, Counters)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rps_history: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p99_history: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<(usize, String)>,
}

impl From<&PodTraffic> for TrafficSnapshot {
    fn from(t: &PodTraffic) -> Self {
        TrafficSnapshot {
            samples: t.samples.iter().map(|s| (s.at, s.counters.clone())).collect(),
            window: t.window.clone(),
            rps_history: t.rps_history.tail(Series::CAPACITY).collect(),
            p99_history: t.p99_history.tail(Series::CAPACITY).collect(),
            unread: t.unread.clone(),
        }
    }
}

impl From<Box<TrafficSnapshot>> for PodTraffic {
    fn from(s: Box<TrafficSnapshot>) -> Self {
        let s = *s;
        let mut t = PodTraffic {
            rps_history: s.rps_history.into_iter().collect(),
            p99_history: s.p99_history.into_iter().collect(),
            unread: s.unread,
            ..PodTraffic::default()
        };
        for (at, counters) in s.samples.into_iter().take(MAX_SAMPLES) {
            // A recording is outside data: keep only the increasing times push_scrape would.
            if t.samples.back().is_none_or(|prev| at > prev.at) {
                t.push_sample(at, counters);
            }
        }
        t.set_figures(s.window);
        t
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
    use crate::metrics::golden::Totals;
    use std::collections::BTreeMap;

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
            own_is_outbound: false,
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
        let r = t.rates.unwrap();
        assert_eq!(r.rps, 10.0);
        assert_eq!(r.success, Some(0.9));
        t.recompute(300);
        let w = t.window.clone().unwrap();
        assert_eq!((w.secs, w.partial), (120.0, true));
        assert_eq!(t.rates.unwrap().rps, 10.0);
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
    fn a_ring_that_let_samples_go_restores_equal() {
        let mut t = PodTraffic::default();
        for i in 0..400 {
            t.push_scrape(i * 1000, c(i as f64, i as f64), 60);
        }
        assert_eq!(t.samples(), MAX_SAMPLES);
        assert!(t.samples[0].running.own.requests > 0.0, "the live ring kept an offset");
        let back = PodTraffic::from(Box::new(TrafficSnapshot::from(&t)));
        assert_eq!(back.samples[0].running.own.requests, 0.0);
        assert_eq!(back.rates, t.rates);
        assert_eq!(back.edge_rates, t.edge_rates);
        assert_eq!(back, t);
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
        assert_eq!(t.rates, None);
        t.push_scrape(4000, c(5.0, 5.0), 30);
        assert_eq!(t.samples(), 1);
    }

    #[test]
    fn a_destination_seen_only_before_the_window_is_not_in_it() {
        let mut t = PodTraffic::default();
        let with = |requests: f64, dst: &str| Counters {
            own: Totals {
                requests,
                ..Totals::default()
            },
            edges: BTreeMap::from([(
                dst.to_string(),
                Totals {
                    requests,
                    ..Totals::default()
                },
            )]),
            own_is_outbound: false,
        };
        t.push_scrape(0, with(10.0, "old"), 30);
        t.push_scrape(10_000, with(20.0, "old"), 30);
        // The proxy restarted and now calls "new" only.
        t.push_scrape(20_000, with(5.0, "new"), 30);
        t.push_scrape(40_000, with(15.0, "new"), 30);
        t.push_scrape(50_000, with(25.0, "new"), 30);
        let w = t.window.clone().unwrap();
        assert_eq!(w.increase.own.requests, 20.0);
        assert_eq!(w.increase.edges.keys().collect::<Vec<_>>(), ["new"]);
        assert_eq!(w.increase.edges["new"].requests, 20.0);
        // The 300 s window spans both.
        t.recompute(300);
        let w = t.window.unwrap();
        assert_eq!(w.increase.edges["old"].requests, 10.0);
        assert_eq!(w.increase.edges["new"].requests, 5.0 + 20.0);
    }

    proptest::proptest! {
        /// The running sums give what summing each pair's increase over the window gives.
        #[test]
        fn the_window_is_the_sum_of_its_pairs(
            steps in proptest::collection::vec((1i64..40, 0u32..50, proptest::bool::weighted(0.1)), 1..80),
            window in proptest::sample::select(WINDOWS.to_vec()),
        ) {
            let mut t = PodTraffic::default();
            let (mut at, mut n) = (0i64, 0.0);
            let mut all = Vec::new();
            for (dt, add, reset) in steps {
                at += dt * 1000;
                n = if reset { f64::from(add) } else { n + f64::from(add) };
                all.push((at, c(n, n)));
                t.push_scrape(at, c(n, n), window);
            }
            // What the ring still holds: the last samples.len() scrapes.
            let kept = &all[all.len() - t.samples()..];
            let start = at - i64::from(window) * 1000;
            let from = kept.iter().rposition(|(t, _)| *t <= start).unwrap_or(0);
            let mut expected = Counters::default();
            for pair in kept[from..].windows(2) {
                expected.add(&pair[0].1.delta_to(&pair[1].1));
            }
            match &t.window {
                None => proptest::prop_assert_eq!(kept.len() - from, 1),
                Some(w) => {
                    proptest::prop_assert_eq!(w.increase.own.requests, expected.own.requests);
                    proptest::prop_assert_eq!(w.increase.own.successes, expected.own.successes);
                    proptest::prop_assert_eq!(w.increase.edges["b"].requests, expected.edges["b"].requests);
                    proptest::prop_assert_eq!(w.secs, (at - kept[from].0) as f64 / 1000.0);
                }
            }
        }
    }

    #[test]
    fn labels() {
        assert_eq!(window_label(30), "30s");
        assert_eq!(window_label(300), "5m");
    }
}

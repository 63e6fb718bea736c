//! Per-thread counters and HdrHistograms. Each worker records into its own `Stats`
//! and hands the filled one to the coordinator every tick, so the hot path takes no
//! lock and sends nothing across threads per request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::schedule::Timing;
use crate::types::{self, Bin, Distribution};

/// Latencies are kept in microseconds up to an hour, to 3 significant figures.
const LATENCY_MAX_US: u64 = 3_600_000_000;
const SIZE_MAX: u64 = 1 << 40;

pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant histogram bounds are valid")
}

fn size_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, SIZE_MAX, 2).expect("constant histogram bounds are valid")
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// Why a request failed, as the engine tells it. Converted to the reported
/// [`crate::types::ErrorKind`] in [`Failures::counts`] and [`Failures::samples`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    Connect,
    Timeout,
    Reset,
    Tls,
    Other,
}

impl FailureKind {
    const ALL: [FailureKind; 5] = [
        FailureKind::Connect,
        FailureKind::Timeout,
        FailureKind::Reset,
        FailureKind::Tls,
        FailureKind::Other,
    ];

    /// How tap names the failure.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect error",
            FailureKind::Timeout => "timeout",
            FailureKind::Reset => "stream reset",
            FailureKind::Tls => "TLS error",
            FailureKind::Other => "request error",
        }
    }

    fn wire(self) -> types::ErrorKind {
        match self {
            FailureKind::Connect => types::ErrorKind::Connect,
            FailureKind::Timeout => types::ErrorKind::Timeout,
            FailureKind::Reset => types::ErrorKind::Reset,
            FailureKind::Tls => types::ErrorKind::Tls,
            FailureKind::Other => types::ErrorKind::Other,
        }
    }
}

/// Failures by kind, and the first message of each kind (to say what went wrong).
#[derive(Debug, Clone, Default)]
pub struct Failures {
    counts: [u64; FailureKind::ALL.len()],
    samples: BTreeMap<FailureKind, String>,
}

impl Failures {
    pub fn add(&mut self, kind: FailureKind, message: &str) {
        self.counts[kind as usize] += 1;
        self.samples.entry(kind).or_insert_with(|| message.to_string());
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// From the wire's counts and samples (a shard's frame).
    pub fn from_wire(counts: &types::ErrorCounts, samples: &BTreeMap<types::ErrorKind, String>) -> Failures {
        let mut f = Failures::default();
        for kind in FailureKind::ALL {
            f.counts[kind as usize] = counts.get(kind.wire());
            if let Some(m) = samples.get(&kind.wire()) {
                f.samples.insert(kind, m.clone());
            }
        }
        f
    }

    pub fn merge(&mut self, other: &Failures) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        for (kind, message) in &other.samples {
            self.samples.entry(*kind).or_insert_with(|| message.clone());
        }
    }

    /// The counts as the wire reports them.
    pub fn counts(&self) -> types::ErrorCounts {
        types::ErrorCounts {
            connect: self.get(FailureKind::Connect),
            timeout: self.get(FailureKind::Timeout),
            reset: self.get(FailureKind::Reset),
            tls: self.get(FailureKind::Tls),
            other: self.get(FailureKind::Other),
        }
    }

    /// The first message of each kind, as the wire reports them.
    pub fn samples(&self) -> BTreeMap<types::ErrorKind, String> {
        self.samples.iter().map(|(k, m)| (k.wire(), m.clone())).collect()
    }

    pub fn get(&self, kind: FailureKind) -> u64 {
        self.counts[kind as usize]
    }
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    pub lag: Histogram<u64>,
    pub body_sizes: Histogram<u64>,
    pub header_sizes: Histogram<u64>,
    pub status: BTreeMap<u16, u64>,
    pub errors: Failures,
    pub responses: u64,
    pub warmup_requests: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connections_opened: u64,
    pub reconnects: u64,
    /// Completion of the last measured request.
    pub last_done: Option<Instant>,
    /// A uniform sample of this tick's requests (reservoir), for tap.
    pub samples: Vec<Sampled>,
    sample_seen: u64,
}

/// One request of the run, as tap shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    /// When it was sent, from the run's start.
    pub sent: Duration,
    pub latency: Duration,
    pub status: Option<u16>,
    /// Response bytes (headers and body).
    pub bytes: u64,
    pub error: Option<FailureKind>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            corrected: latency_histogram(),
            uncorrected: latency_histogram(),
            lag: latency_histogram(),
            body_sizes: size_histogram(),
            header_sizes: size_histogram(),
            status: BTreeMap::new(),
            errors: Failures::default(),
            responses: 0,
            warmup_requests: 0,
            bytes_sent: 0,
            bytes_received: 0,
            connections_opened: 0,
            reconnects: 0,
            last_done: None,
            samples: Vec::new(),
            sample_seen: 0,
        }
    }
}

/// A response, as a lane saw it.
#[derive(Debug, Clone, Copy)]
pub struct Response {
    pub status: u16,
    pub body_bytes: u64,
    pub header_bytes: u64,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.responses + self.errors.total()
    }

    pub fn record_response(&mut self, t: &Timing, done: Instant, open_loop: bool, sent_bytes: u64, r: Response) {
        self.corrected.saturating_record(micros(t.corrected()));
        self.uncorrected.saturating_record(micros(t.uncorrected()));
        if open_loop {
            self.lag.saturating_record(micros(t.lag()));
        }
        self.body_sizes.saturating_record(r.body_bytes);
        self.header_sizes.saturating_record(r.header_bytes);
        *self.status.entry(r.status).or_default() += 1;
        self.responses += 1;
        self.bytes_sent += sent_bytes;
        self.bytes_received += r.body_bytes + r.header_bytes;
        self.last_done = Some(done);
    }

    /// Offers a request to the tick's sample: every request has the same chance of being
    /// among the `cap` kept (reservoir sampling; the hash of the count stands in for a random
    /// number, which is plenty for picking samples).
    pub fn sample(&mut self, cap: usize, s: Sampled) {
        self.sample_seen += 1;
        if self.samples.len() < cap {
            self.samples.push(s);
            return;
        }
        let mut z = self.sample_seen.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let j = ((z ^ (z >> 31)) % self.sample_seen) as usize;
        if j < cap {
            self.samples[j] = s;
        }
    }

    /// Errors are counted, not timed: there is no response to time.
    pub fn record_error(&mut self, kind: FailureKind, message: &str, done: Instant) {
        self.errors.add(kind, message);
        self.last_done = Some(done);
    }

    pub fn merge(&mut self, other: &Stats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.corrected.add(&other.corrected);
        let _ = self.uncorrected.add(&other.uncorrected);
        let _ = self.lag.add(&other.lag);
        let _ = self.body_sizes.add(&other.body_sizes);
        let _ = self.header_sizes.add(&other.header_sizes);
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.errors.merge(&other.errors);
        self.responses += other.responses;
        self.warmup_requests += other.warmup_requests;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.connections_opened += other.connections_opened;
        self.reconnects += other.reconnects;
        self.last_done = self.last_done.max(other.last_done);
    }
}

/// Percentiles, moments and 10-per-decade bins of a histogram.
pub fn distribution(h: &Histogram<u64>) -> Distribution {
    if h.is_empty() {
        return Distribution::default();
    }
    let (lo, hi) = (h.min().max(1), h.max());
    let first = (10.0 * (lo as f64).log10()).floor() as i32;
    let last = (10.0 * (hi as f64).log10()).floor() as i32 + 1;
    let mut edges: Vec<u64> = (first..=last)
        .map(|k| 10f64.powf(k as f64 / 10.0).round() as u64)
        .collect();
    edges.dedup();
    let mut bins = count_bins(h, &edges);
    bins.retain(|b| b.count > 0);
    Distribution {
        count: h.len(),
        min: h.min(),
        max: h.max(),
        mean: h.mean(),
        stddev: h.stdev(),
        p50: h.value_at_quantile(0.50),
        p75: h.value_at_quantile(0.75),
        p90: h.value_at_quantile(0.90),
        p95: h.value_at_quantile(0.95),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        p9999: h.value_at_quantile(0.9999),
        bins,
    }
}

/// `n` log-spaced bins from the smallest to the largest value, empty ones included so
/// a chart keeps its axis.
pub fn live_bins(h: &Histogram<u64>, n: usize) -> Vec<Bin> {
    if h.is_empty() || n == 0 {
        return Vec::new();
    }
    let (lo, hi) = (h.min().max(1) as f64, (h.max() + 1) as f64);
    let ratio = (hi / lo).powf(1.0 / n as f64);
    let mut edges: Vec<u64> = (0..=n).map(|i| (lo * ratio.powi(i as i32)).round() as u64).collect();
    edges[0] = h.min();
    edges[n] = h.max() + 1;
    edges.dedup();
    count_bins(h, &edges)
}

/// Counts per `[edges[i], edges[i+1])`; values past the last edge go in the last bin.
fn count_bins(h: &Histogram<u64>, edges: &[u64]) -> Vec<Bin> {
    if edges.len() < 2 {
        return vec![Bin {
            start: h.min(),
            end: h.max() + 1,
            count: h.len(),
        }];
    }
    let mut bins: Vec<Bin> = edges
        .windows(2)
        .map(|w| Bin {
            start: w[0],
            end: w[1],
            count: 0,
        })
        .collect();
    for v in h.iter_recorded() {
        let value = h.lowest_equivalent(v.value_iterated_to());
        let i = edges
            .partition_point(|e| *e <= value)
            .saturating_sub(1)
            .min(bins.len() - 1);
        bins[i].count += v.count_at_value();
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_percentiles_and_bins() {
        let mut h = latency_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let d = distribution(&h);
        assert_eq!((d.count, d.min, d.max), (1000, 1, 1000));
        assert_eq!((d.p50, d.p90, d.p99, d.p999), (500, 900, 990, 999));
        assert_eq!(d.bins.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert!(d.bins.windows(2).all(|w| w[0].end <= w[1].start));
        let live = live_bins(&h, 30);
        assert!(live.len() <= 30 && live.len() > 10);
        assert_eq!(live.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(live[0].start, 1);
        assert_eq!(live.last().unwrap().end, 1001);
    }

    #[test]
    fn empty_and_single_value() {
        assert_eq!(distribution(&latency_histogram()), Distribution::default());
        let mut h = latency_histogram();
        h.record(42).unwrap();
        let d = distribution(&h);
        assert_eq!((d.min, d.p50, d.max), (42, 42, 42));
        assert_eq!(d.bins.iter().map(|b| b.count).sum::<u64>(), 1);
        assert_eq!(live_bins(&h, 30).iter().map(|b| b.count).sum::<u64>(), 1);
    }

    #[test]
    fn merge_adds_everything() {
        let now = Instant::now();
        let t = Timing {
            intended: Duration::ZERO,
            sent: Duration::from_micros(10),
            done: Duration::from_micros(60),
        };
        let r = Response {
            status: 200,
            body_bytes: 100,
            header_bytes: 20,
        };
        let mut a = Stats::default();
        a.record_response(&t, now, true, 50, r);
        let mut b = Stats::default();
        b.record_response(&t, now, true, 50, Response { status: 404, ..r });
        b.record_error(FailureKind::Timeout, "no response", now);
        a.merge(&b);
        assert_eq!(a.requests(), 3);
        assert_eq!(a.status[&200], 1);
        assert_eq!(a.status[&404], 1);
        assert_eq!(a.errors.get(FailureKind::Timeout), 1);
        assert_eq!(a.errors.counts().timeout, 1);
        assert_eq!(a.corrected.len(), 2);
        assert_eq!(a.corrected.max(), 60);
        assert_eq!(a.uncorrected.max(), 50);
        assert_eq!(a.lag.max(), 10);
        assert_eq!(a.bytes_received, 240);
    }
}

//! Starting, observing and stopping a run. A coordinator thread prepares the target,
//! starts one worker per thread, merges their per-tick stats into totals and a
//! per-second series, publishes a [`BenchProgress`] about every 200 ms, and builds the
//! [`BenchResult`] when the workers are done.
//!
//! ```no_run
//! # async fn demo() -> eyre::Result<()> {
//! use loadgen::{BenchConfig, engine};
//! let run = engine::start(BenchConfig::new("http://127.0.0.1:8080/"))?;
//! let mut progress = run.progress();
//! let stop = run.canceller(); // stop.cancel() ends the run early, keeping what ran
//! tokio::spawn(async move {
//!     while progress.changed().await.is_ok() {
//!         let p = progress.borrow_and_update().clone();
//!         println!("{:.1}s {} req p99 {} us", p.elapsed_s, p.requests, p.p99_us);
//!     }
//! });
//! let result = run.finish().await?;
//! # let _ = (result, stop); Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eyre::{Result, WrapErr, bail, eyre};
use hdrhistogram::Histogram;
use tokio::sync::{oneshot, watch};

use super::config::BenchConfig;
use super::conn::Target;
use super::schedule::RatePlan;
use super::shard;
use super::stats::{Stats, distribution, latency_histogram, live_bins};
use super::worker::{self, Shared, TICK, WorkerMsg, WorkerSpec};
use crate::types::{BenchProgress, BenchResult, Phase, SecondStats};

const TICKS_PER_SECOND: u64 = 5;
/// Requests per second the run hands to tap (a uniform sample of each tick's requests).
pub const SAMPLES_PER_SECOND: f64 = 100.0;

/// Samples kept for a reader that does not take them (`meshtop bench` alone).
const SAMPLES_KEPT: usize = 1000;

/// One request of the run, for tap: sampled, at most [`SAMPLES_PER_SECOND`].
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSample {
    /// When it was sent (wall clock).
    pub at: crate::UnixMillis,
    pub latency_ms: f64,
    pub status: Option<u16>,
    pub bytes: u64,
    pub error: Option<&'static str>,
}

type Samples = Arc<std::sync::Mutex<std::collections::VecDeque<RequestSample>>>;
const LIVE_BINS: usize = 30;

/// Stops a run early; cheap to clone and to send to another task or thread.
#[derive(Clone)]
pub struct Canceller(Arc<watch::Sender<bool>>);

impl Canceller {
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

/// A run in progress.
pub struct BenchRun {
    progress: watch::Receiver<BenchProgress>,
    cancel: Canceller,
    result: oneshot::Receiver<Result<BenchResult>>,
    samples: Samples,
    shard_failure: ShardFailure,
}

/// The snapshot of a run of `spec` whose figures so far are `t`: counts, corrected
/// percentiles, the live histogram, statuses, errors and bytes (phase, times and rates are
/// the caller's). Also what a live merge of several runs' shards shows.
pub fn progress_of(spec: &crate::types::BenchSpec, t: &Stats) -> BenchProgress {
    let mut p = BenchProgress::starting(spec);
    p.requests = t.requests();
    p.responses = t.responses;
    p.p50_us = t.corrected.value_at_quantile(0.5);
    p.p90_us = t.corrected.value_at_quantile(0.9);
    p.p99_us = t.corrected.value_at_quantile(0.99);
    p.p999_us = t.corrected.value_at_quantile(0.999);
    p.histogram = live_bins(&t.corrected, LIVE_BINS);
    p.status = t.status.clone();
    p.errors = t.errors.counts();
    p.bytes_sent = t.bytes_sent;
    p.bytes_received = t.bytes_received;
    p
}

/// Why the run's shard could not be written whole, once the run is over: the run's
/// result stands without it.
pub type ShardFailure = Arc<std::sync::Mutex<Option<String>>>;

impl BenchRun {
    /// Live snapshots; the last one has phase `Finished`.
    pub fn progress(&self) -> watch::Receiver<BenchProgress> {
        self.progress.clone()
    }

    pub fn canceller(&self) -> Canceller {
        self.cancel.clone()
    }

    /// Read after [`BenchRun::finish`]: whether the shard was written whole.
    pub fn shard_failure(&self) -> ShardFailure {
        self.shard_failure.clone()
    }

    /// The sampled requests since the last call (the newest [`SAMPLES_KEPT`] at most).
    pub fn take_samples(&self) -> Vec<RequestSample> {
        self.samples
            .lock()
            .map(|mut s| s.drain(..).collect())
            .unwrap_or_default()
    }

    /// Waits for the result (partial when cancelled).
    pub async fn finish(self) -> Result<BenchResult> {
        self.result
            .await
            .map_err(|_| eyre!("the benchmark thread stopped without a result"))?
    }
}

/// Validates `config` (nothing is sent when it is invalid) and starts the run on its
/// own threads. Needs no runtime; [`BenchRun::finish`] is awaited on any.
pub fn start(config: BenchConfig) -> Result<BenchRun> {
    start_with_shard(config, None)
}

/// The same, writing the run's shard frames ([`super::shard`]) to `shard` as it goes.
pub fn start_with_shard(config: BenchConfig, shard: Option<Box<dyn std::io::Write + Send>>) -> Result<BenchRun> {
    config.validate()?;
    let (progress_tx, progress) = watch::channel(BenchProgress::starting(&config.spec));
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let (result_tx, result) = oneshot::channel();
    let samples = Samples::default();
    let kept = samples.clone();
    let shard_failure = Arc::new(std::sync::Mutex::new(None));
    let failed = shard_failure.clone();
    std::thread::Builder::new()
        .name("meshtop-bench".into())
        .spawn(move || {
            let outcome = coordinate(
                config,
                &progress_tx,
                cancel_rx,
                &kept,
                shard.map(shard::Writer::new),
                &failed,
            );
            let _ = result_tx.send(outcome);
        })
        .wrap_err("starting the benchmark thread")?;
    Ok(BenchRun {
        progress,
        cancel: Canceller(Arc::new(cancel_tx)),
        result,
        samples,
        shard_failure,
    })
}

/// Runs to the end, calling `observer` with every snapshot.
pub async fn run(config: BenchConfig, mut observer: impl FnMut(&BenchProgress)) -> Result<BenchResult> {
    let run = start(config)?;
    let mut progress = run.progress();
    while progress.changed().await.is_ok() {
        let p = progress.borrow_and_update().clone();
        observer(&p);
        if p.phase == Phase::Finished {
            break;
        }
    }
    run.finish().await
}

fn coordinate(
    config: BenchConfig,
    progress: &watch::Sender<BenchProgress>,
    cancel: watch::Receiver<bool>,
    samples: &Samples,
    mut shard: Option<shard::Writer>,
    shard_failure: &std::sync::Mutex<Option<String>>,
) -> Result<BenchResult> {
    let target = Target::prepare(&config)?;
    let threads = config.spec.worker_threads() as usize;
    let ramp_time: Duration = config.spec.ramp.iter().map(|s| s.duration).sum();
    let shared = Arc::new(Shared {
        target,
        plan: RatePlan::new(config.spec.warmup, &config.spec.ramp, config.spec.rate),
        lanes: config.spec.lanes(),
        streams: config.spec.streams,
        warmup: config.spec.warmup,
        end: config.spec.duration.map(|d| config.spec.warmup + ramp_time + d),
        limit: config.spec.requests,
        claimed: AtomicU64::new(0),
        samples_per_tick: (SAMPLES_PER_SECOND * TICK.as_secs_f64()).round() as usize,
        threads,
    });
    let (tx, rx) = mpsc::channel();
    let mut starts = Vec::new();
    let mut joins = Vec::new();
    for index in 0..threads {
        let connections = (0..config.spec.connections)
            .filter(|c| *c as usize % threads == index)
            .collect();
        let (start_tx, start_rx) = oneshot::channel();
        let spec = WorkerSpec { index, connections };
        let join = worker::spawn(spec, shared.clone(), tx.clone(), start_rx, cancel.clone())
            .wrap_err("starting a benchmark worker thread")?;
        starts.push(start_tx);
        joins.push(join);
    }
    drop(tx);

    let mut agg = Aggregate::new(threads);
    // Connections first; then one start instant for all, so schedules line up.
    let mut ready = 0;
    while ready < threads {
        match rx.recv() {
            Ok(WorkerMsg::Ready { .. }) => ready += 1,
            // Dropping the start signals on return stops the other workers.
            Ok(WorkerMsg::Failed { message, .. }) => return Err(eyre!(message)),
            Ok(msg) => {
                ready += 1;
                agg.take(msg);
            }
            Err(_) => bail!("benchmark workers stopped before the run started"),
        }
    }
    let start = Instant::now() + Duration::from_millis(1);
    let wall_start = crate::now_millis() + 1;
    if let Some(w) = &mut shard {
        let probe = Stats::default();
        w.start(shard::Start {
            run: run_id(),
            spec: config.shown_spec(),
            protocol: protocol(&config).into(),
            threads: config.spec.worker_threads(),
            body_bytes: config.body.len() as u64,
            started_at: wall_start,
            meshtop_version: config
                .program_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
            latency_histogram: shard::settings(&probe.corrected),
            size_histogram: shard::settings(&probe.body_sizes),
        });
    }
    for s in starts {
        let _ = s.send(start);
    }
    let measure_start = start + config.spec.warmup;
    let main_end = config.spec.total_time().map(|t| start + t);

    let mut next_publish = Instant::now() + TICK;
    while !agg.all_done() {
        let wait = next_publish.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(mut msg) => {
                keep_samples(&mut msg, wall_start, samples);
                agg.take(msg);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if now >= next_publish {
            next_publish = now + TICK;
            let phase = if now < measure_start {
                Phase::Warmup
            } else if main_end.is_some_and(|e| now >= e) {
                Phase::Draining
            } else {
                Phase::Running
            };
            let requested = shared.plan.as_ref().map(|p| p.rate_at(now - start));
            progress.send_replace(agg.progress(&config, phase, now, measure_start, requested));
            if let Some(w) = &mut shard {
                w.interval(crate::now_millis(), &std::mem::take(&mut agg.interval));
            }
        }
    }
    joined(joins.into_iter().map(|j| j.join()).collect())?;
    let cancelled = *cancel.borrow();
    let result = agg.result(
        &config,
        &shared,
        measure_start,
        wall_start + config.spec.warmup.as_millis() as i64,
        cancelled,
    );
    if let Some(mut w) = shard {
        // What arrived since the last interval, then the whole: the intervals sum to it.
        w.interval(crate::now_millis(), &std::mem::take(&mut agg.interval));
        let ended = shard::counters_of(&agg.totals).and_then(|(counters, histograms)| {
            w.end(shard::End {
                intervals: 0,
                counters,
                histograms,
                measured_from: result.started_at,
                measured_s: result.duration_s,
                cancelled: result.cancelled,
                requested_rate: result.requested_rate,
            })
        });
        if let (Err(e), Ok(mut slot)) = (ended, shard_failure.lock()) {
            *slot = Some(e);
        }
    }
    let mut last = agg.progress(&config, Phase::Finished, Instant::now(), measure_start, None);
    last.requested_rate = result.requested_rate;
    progress.send_replace(last);
    Ok(result)
}

/// The workers' ends: a worker that panicked took its share of the requests with it, so
/// the run fails with the panic's message rather than report partial figures as whole.
fn joined(ends: Vec<std::thread::Result<()>>) -> Result<()> {
    let panics: Vec<String> = ends
        .into_iter()
        .enumerate()
        .filter_map(|(i, end)| {
            let payload = end.err()?;
            let message = crate::panic_message(payload.as_ref());
            Some(format!("worker {i}: {message}"))
        })
        .collect();
    if panics.is_empty() {
        return Ok(());
    }
    bail!(
        "a benchmark worker thread panicked ({}); its requests are missing from the figures, so none are reported",
        panics.join("; ")
    )
}

/// Moves a worker's sampled requests to the run's bounded list, on the wall clock.
fn keep_samples(msg: &mut WorkerMsg, wall_start: crate::UnixMillis, samples: &Samples) {
    let (WorkerMsg::Tick { stats, .. } | WorkerMsg::Done { stats, .. }) = msg else {
        return;
    };
    if stats.samples.is_empty() {
        return;
    }
    let Ok(mut kept) = samples.lock() else { return };
    for s in stats.samples.drain(..) {
        if kept.len() >= SAMPLES_KEPT {
            kept.pop_front();
        }
        kept.push_back(RequestSample {
            at: wall_start + s.sent.as_millis() as i64,
            latency_ms: s.latency.as_secs_f64() * 1e3,
            status: s.status,
            bytes: s.bytes,
            error: s.error.map(|e| e.label()),
        });
    }
}

/// 64 random bits in hex (std's per-process hash keys, the clock and the thread).
fn run_id() -> String {
    use std::hash::BuildHasher;
    let seed = (crate::now_millis(), std::process::id(), std::time::Instant::now());
    format!(
        "{:016x}",
        std::collections::hash_map::RandomState::new().hash_one(format!("{seed:?}"))
    )
}

fn protocol(config: &BenchConfig) -> &'static str {
    if config.spec.http2 { "HTTP/2" } else { "HTTP/1.1" }
}

/// Totals, open seconds of the series, and where each worker is.
struct Aggregate {
    totals: Stats,
    /// What arrived since the last shard interval.
    interval: Stats,
    last_tick: Vec<Option<u64>>,
    done: Vec<bool>,
    seconds: BTreeMap<u64, Second>,
    series: Vec<SecondStats>,
    tick_requests: BTreeMap<u64, u64>,
}

struct Second {
    latency: Histogram<u64>,
    requests: u64,
    errors: u64,
}

impl Aggregate {
    fn new(workers: usize) -> Aggregate {
        Aggregate {
            totals: Stats::default(),
            interval: Stats::default(),
            last_tick: vec![None; workers],
            done: vec![false; workers],
            seconds: BTreeMap::new(),
            series: Vec::new(),
            tick_requests: BTreeMap::new(),
        }
    }

    fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    fn take(&mut self, msg: WorkerMsg) {
        let (worker, tick, stats, done) = match msg {
            WorkerMsg::Tick { worker, tick, stats } => (worker, tick, stats, false),
            WorkerMsg::Done { worker, tick, stats } => (worker, tick, stats, true),
            WorkerMsg::Ready { .. } | WorkerMsg::Failed { .. } => return,
        };
        let second = self.seconds.entry(tick / TICKS_PER_SECOND).or_insert_with(|| Second {
            latency: latency_histogram(),
            requests: 0,
            errors: 0,
        });
        let _ = second.latency.add(&stats.corrected);
        second.requests += stats.requests();
        second.errors += stats.errors.total();
        *self.tick_requests.entry(tick).or_default() += stats.requests();
        self.totals.merge(&stats);
        self.interval.merge(&stats);
        self.last_tick[worker] = Some(tick);
        self.done[worker] |= done;
        self.close_seconds(false, None);
    }

    /// The tick every running worker has reported.
    fn complete_tick(&self) -> Option<u64> {
        self.last_tick
            .iter()
            .zip(&self.done)
            .filter(|(_, done)| !**done)
            .map(|(t, _)| *t)
            .min()
            .unwrap_or_else(|| self.last_tick.iter().flatten().max().copied())
    }

    /// Moves seconds no worker can still add to into the series; `all` at the end.
    fn close_seconds(&mut self, all: bool, measured: Option<Duration>) {
        let complete = self.complete_tick();
        while let Some((&s, _)) = self.seconds.first_key_value() {
            let closed = complete.is_some_and(|t| t + 1 >= (s + 1) * TICKS_PER_SECOND);
            if !(all || closed) {
                break;
            }
            let Some((_, sec)) = self.seconds.pop_first() else {
                break;
            };
            // The run's last second may be shorter than a second.
            let span = measured
                .filter(|_| all && self.seconds.is_empty())
                .map(|m| (m.as_secs_f64() - s as f64).clamp(0.001, 1.0))
                .unwrap_or(1.0);
            self.series.push(SecondStats {
                second: s as u32,
                requests: sec.requests,
                errors: sec.errors,
                rps: sec.requests as f64 / span,
                p50_us: sec.latency.value_at_quantile(0.5),
                p99_us: sec.latency.value_at_quantile(0.99),
                max_us: sec.latency.max(),
            });
        }
        if let Some(t) = complete {
            self.tick_requests = self.tick_requests.split_off(&t.saturating_sub(2 * TICKS_PER_SECOND));
        }
    }

    fn progress(
        &self,
        config: &BenchConfig,
        phase: Phase,
        now: Instant,
        measure_start: Instant,
        requested_rate: Option<f64>,
    ) -> BenchProgress {
        let t = &self.totals;
        let current_rps = self.complete_tick().map_or(0.0, |last| {
            let from = (last + 1).saturating_sub(TICKS_PER_SECOND);
            let n: u64 = self.tick_requests.range(from..=last).map(|(_, n)| n).sum();
            n as f64 / ((last + 1 - from) as f64 * TICK.as_secs_f64())
        });
        let mut p = progress_of(&config.spec, t);
        p.phase = phase;
        p.elapsed_s = now.saturating_duration_since(measure_start).as_secs_f64();
        p.warmup_left_s = measure_start.saturating_duration_since(now).as_secs_f64();
        p.current_rps = current_rps;
        p.requested_rate = requested_rate;
        p
    }

    fn result(
        &mut self,
        config: &BenchConfig,
        shared: &Shared,
        measure_start: Instant,
        wall_start: i64,
        cancelled: bool,
    ) -> BenchResult {
        let measured = self
            .totals
            .last_done
            .map_or(Duration::ZERO, |d| d.saturating_duration_since(measure_start));
        self.close_seconds(true, Some(measured));
        // The result carries the spec as the caller wants it shown (`BenchConfig::shown`:
        // meshtop's redacted one), not necessarily what was sent.
        result_of(
            &self.totals,
            Head {
                spec: config.shown_spec(),
                body_bytes: config.body.len() as u64,
                protocol: protocol(config).to_string(),
                threads: config.spec.worker_threads(),
                started_at: wall_start,
                ended_at: wall_start + measured.as_millis() as i64,
                duration_s: measured.as_secs_f64(),
                cancelled,
                requested_rate: config.spec.open_loop().then_some(config.spec.rate),
                open_loop: shared.plan.is_some(),
                series: std::mem::take(&mut self.series),
            },
        )
    }
}

/// What a result says besides its figures.
pub struct Head {
    /// Already through the redaction policy.
    pub spec: crate::types::BenchSpec,
    pub body_bytes: u64,
    pub protocol: String,
    pub threads: u32,
    /// Measurement start and end (after the warm-up).
    pub started_at: crate::UnixMillis,
    pub ended_at: crate::UnixMillis,
    pub duration_s: f64,
    pub cancelled: bool,
    pub requested_rate: Option<f64>,
    /// Whether the schedule lag was measured.
    pub open_loop: bool,
    pub series: Vec<SecondStats>,
}

/// A run's result from its figures: the engine's and `meshtop merge`'s one way to make it.
pub fn result_of(t: &Stats, head: Head) -> BenchResult {
    let requests = t.requests();
    let duration_s = head.duration_s;
    BenchResult {
        label: head.spec.label.clone(),
        url: head.spec.url.clone(),
        config: head.spec,
        body_bytes: head.body_bytes,
        protocol: head.protocol,
        threads: head.threads,
        started_at: head.started_at,
        ended_at: head.ended_at,
        duration_s,
        cancelled: head.cancelled,
        requested_rate: head.requested_rate,
        achieved_rate: if duration_s > 0.0 {
            requests as f64 / duration_s
        } else {
            0.0
        },
        requests,
        responses: t.responses,
        warmup_requests: t.warmup_requests,
        status: t.status.clone(),
        errors: t.errors.counts(),
        error_samples: t.errors.samples(),
        latency: distribution(&t.corrected),
        latency_uncorrected: distribution(&t.uncorrected),
        schedule_lag: head.open_loop.then(|| distribution(&t.lag)),
        body_sizes: distribution(&t.body_sizes),
        header_sizes: distribution(&t.header_sizes),
        bytes_sent: t.bytes_sent,
        bytes_received: t.bytes_received,
        connections_opened: t.connections_opened,
        reconnects: t.reconnects,
        series: head.series,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panicked_worker_fails_the_run_with_its_message() {
        assert!(super::joined(vec![Ok(()), Ok(())]).is_ok());
        // (The two panics print on the test's stderr: the hook is global, so it stays.)
        let ends = vec![
            Ok(()),
            std::thread::spawn(|| panic!("connection table full")).join(),
            std::thread::spawn(|| panic!("{} lanes", 3)).join(),
        ];
        let e = super::joined(ends).unwrap_err().to_string();
        assert_eq!(
            e,
            "a benchmark worker thread panicked (worker 1: connection table full; worker 2: 3 lanes); \
             its requests are missing from the figures, so none are reported"
        );
    }
}

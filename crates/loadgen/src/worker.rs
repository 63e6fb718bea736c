//! One worker thread: a single-threaded tokio runtime that owns a share of the
//! connections, runs their lanes, and hands its stats to the coordinator every tick.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::client::conn::http2;
use tokio::sync::{oneshot, watch};

use super::conn::{Body, Failure, Target, header_bytes};
use super::h1::{RawConn, RawError};
use super::schedule::{LaneSchedule, RatePlan, Timing};
use super::stats::FailureKind;
use super::stats::{Response, Stats};
use super::timer::{HrTimer, TimerKind, tighten_timer_slack};

/// How often workers hand over their stats: the live view's refresh and the time
/// series' resolution.
pub const TICK: Duration = Duration::from_millis(200);

/// What every worker shares, read-only except the request budget.
pub struct Shared {
    pub target: Target,
    pub plan: Option<RatePlan>,
    pub lanes: u32,
    pub streams: u32,
    pub warmup: Duration,
    /// Offset from the run start after which no request starts.
    pub end: Option<Duration>,
    pub limit: Option<u64>,
    pub claimed: AtomicU64,
    /// Requests the run keeps per tick for tap, over all workers (see
    /// `engine::SAMPLES_PER_SECOND`).
    pub samples_per_tick: usize,
    pub threads: usize,
}

impl Shared {
    /// What `worker` keeps of tick `tick`: the tick's share split evenly, the remainder going
    /// round the workers tick by tick, so the workers' caps add up to exactly
    /// `samples_per_tick` whatever the thread count (a ceiling per worker gave 64 threads
    /// 64 a tick instead of 20).
    pub fn sample_cap(&self, worker: usize, tick: u64) -> usize {
        sample_cap(self.samples_per_tick, self.threads, worker, tick)
    }

    /// Takes one request from the `-n` budget; one atomic add, no lock.
    fn claim(&self) -> bool {
        self.limit
            .is_none_or(|n| self.claimed.fetch_add(1, Ordering::Relaxed) < n)
    }
}

fn sample_cap(per_tick: usize, threads: usize, worker: usize, tick: u64) -> usize {
    let n = threads.max(1);
    let extra = (per_tick % n) as u64;
    per_tick / n + usize::from((worker as u64 + tick) % (n as u64) < extra)
}

pub enum WorkerMsg {
    /// Connections are open (or failed, to be retried inside the run).
    Ready { worker: usize },
    /// Stats of ticks up to `tick` (ticks count from the measurement start).
    Tick {
        worker: usize,
        tick: u64,
        stats: Box<Stats>,
    },
    /// The worker's lanes are finished; its last stats.
    Done {
        worker: usize,
        tick: u64,
        stats: Box<Stats>,
    },
    /// The worker could not run at all.
    Failed { worker: usize, message: String },
}

pub struct WorkerSpec {
    pub index: usize,
    /// Connection numbers this worker owns; connection c carries lanes c*streams.. (c+1)*streams.
    pub connections: Vec<u32>,
}

/// Starts the worker thread. It waits for the run's start instant on `start`.
pub fn spawn(
    spec: WorkerSpec,
    shared: Arc<Shared>,
    tx: mpsc::Sender<WorkerMsg>,
    start: oneshot::Receiver<Instant>,
    cancel: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("meshtop-bench-{}", spec.index))
        .spawn(move || {
            let worker = spec.index;
            tighten_timer_slack();
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(WorkerMsg::Failed {
                        worker,
                        message: format!("worker runtime: {e}"),
                    });
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, run(spec, shared, tx, start, cancel));
        })
}

struct Ctx {
    shared: Arc<Shared>,
    worker: usize,
    start: Instant,
    stats: RefCell<Stats>,
    /// The tick the stats being filled belong to.
    tick: std::cell::Cell<u64>,
    timer: HrTimer,
}

async fn cancelled(mut cancel: watch::Receiver<bool>) {
    // A dropped canceller can no longer cancel: wait for ever then.
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run(
    spec: WorkerSpec,
    shared: Arc<Shared>,
    tx: mpsc::Sender<WorkerMsg>,
    start: oneshot::Receiver<Instant>,
    cancel: watch::Receiver<bool>,
) {
    let worker = spec.index;
    let kind = TimerKind::from_env();
    let timer = match HrTimer::new(kind) {
        Ok(t) => t,
        Err(e) => {
            let _ = tx.send(WorkerMsg::Failed {
                worker,
                message: format!("high-resolution timer ({}): {e}", kind.label()),
            });
            return;
        }
    };
    tokio::task::spawn_local(timer.clone().drive());
    let mut stats = Stats::default();

    // Connect before the clock starts, as wrk does, so the first requests are not
    // charged a handshake. Failures are retried (and counted) inside the run.
    let lanes = tokio::select! {
        lanes = open_lanes(&spec, &shared, &mut stats) => lanes,
        _ = cancelled(cancel.clone()) => {
            let _ = tx.send(WorkerMsg::Done { worker, tick: 0, stats: Box::new(stats) });
            return;
        }
    };
    let _ = tx.send(WorkerMsg::Ready { worker });
    let start = tokio::select! {
        start = start => match start {
            Ok(s) => s,
            Err(_) => return,
        },
        _ = cancelled(cancel.clone()) => {
            let _ = tx.send(WorkerMsg::Done { worker, tick: 0, stats: Box::new(stats) });
            return;
        }
    };

    // Every worker begins at the same instant, so offsets from `start` are never negative.
    timer.sleep_until(start).await;
    let ctx = Rc::new(Ctx {
        shared,
        worker,
        start,
        stats: RefCell::new(stats),
        tick: Default::default(),
        timer: timer.clone(),
    });
    let handles: Vec<_> = lanes
        .into_iter()
        .map(|(lane, conn)| tokio::task::spawn_local(run_lane(ctx.clone(), lane, conn)))
        .collect();
    let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
    let ticker = tokio::task::spawn_local(tick(ctx.clone(), tx.clone(), worker));
    tokio::select! {
        _ = futures::future::join_all(handles) => {}
        _ = cancelled(cancel) => {
            // Requests in flight are dropped uncounted; recorded ones stay in `stats`.
            timer.cancel();
            aborts.iter().for_each(|a| a.abort());
        }
    }
    ticker.abort();
    let stats = std::mem::take(&mut *ctx.stats.borrow_mut());
    let _ = tx.send(WorkerMsg::Done {
        worker,
        tick: ctx.tick.get(),
        stats: Box::new(stats),
    });
}

async fn tick(ctx: Rc<Ctx>, tx: mpsc::Sender<WorkerMsg>, worker: usize) {
    let measure_start = ctx.start + ctx.shared.warmup;
    for k in 0u64.. {
        tokio::time::sleep_until((measure_start + TICK * (k as u32 + 1)).into()).await;
        let stats = std::mem::take(&mut *ctx.stats.borrow_mut());
        ctx.tick.set(k + 1);
        if tx
            .send(WorkerMsg::Tick {
                worker,
                tick: k,
                stats: Box::new(stats),
            })
            .is_err()
        {
            return;
        }
    }
}

/// A lane's way to the server: its own HTTP/1.1 connection, or a share of an HTTP/2 one.
enum LaneConn {
    H1(H1Conn),
    H2(Rc<H2Conn>),
}

struct H1Conn {
    sender: Option<RawConn>,
    /// Its connections are quiet ([`super::quiet`]): responses are read before the next send.
    quiet: bool,
    /// Responses on the current connection: a close after some is the server's keep-alive
    /// limit (reconnect quietly); a close before any is an error.
    served: u64,
    ever_connected: bool,
}

struct H2Conn {
    sender: RefCell<Option<http2::SendRequest<Body>>>,
    connecting: tokio::sync::Mutex<()>,
}

async fn open_lanes(spec: &WorkerSpec, shared: &Shared, stats: &mut Stats) -> Vec<(u32, LaneConn)> {
    let target = &shared.target;
    let mut lanes = Vec::new();
    if target.http2 {
        let conns = futures::future::join_all(spec.connections.iter().map(|_| target.connect_h2())).await;
        for (c, conn) in spec.connections.iter().zip(conns) {
            stats.connections_opened += u64::from(conn.is_ok());
            let shared_conn = Rc::new(H2Conn {
                sender: RefCell::new(conn.ok()),
                connecting: Default::default(),
            });
            for s in 0..shared.streams {
                lanes.push((c * shared.streams + s, LaneConn::H2(shared_conn.clone())));
            }
        }
    } else {
        let quiet = quiet_reads(shared);
        let conns = futures::future::join_all(spec.connections.iter().map(|_| target.connect_h1(quiet))).await;
        for (c, conn) in spec.connections.iter().zip(conns) {
            stats.connections_opened += u64::from(conn.is_ok());
            let ever_connected = conn.is_ok();
            lanes.push((
                *c,
                LaneConn::H1(H1Conn {
                    sender: conn.ok(),
                    quiet,
                    served: 0,
                    ever_connected,
                }),
            ));
        }
    }
    lanes
}

/// Whether this run's HTTP/1.1 lanes read each response just before their next send
/// ([`super::quiet`]): an open loop over plain TCP on Linux, unless `MESHTOP_BENCH_QUIET=0`
/// (the benchmarks compare both in one run).
fn quiet_reads(shared: &Shared) -> bool {
    cfg!(target_os = "linux")
        && shared.plan.is_some()
        && !shared.target.http2
        && shared.target.plain()
        && std::env::var("MESHTOP_BENCH_QUIET").as_deref() != Ok("0")
}

async fn run_lane(ctx: Rc<Ctx>, lane: u32, conn: LaneConn) {
    let mut conn = match conn {
        LaneConn::H1(c) if c.quiet => return run_quiet_lane(ctx, lane, c).await,
        conn => conn,
    };
    let shared = &ctx.shared;
    let mut schedule = shared.plan.clone().map(|p| LaneSchedule::new(p, lane, shared.lanes));
    let mut deadline = Box::pin(tokio::time::sleep(Duration::ZERO));
    let mut failures_in_row = 0u32;
    // The previous request's completion stands in for "now" at the top of a closed
    // loop: one clock read per request start and end, no more.
    let mut last_done: Option<Instant> = None;
    loop {
        let intended = match &mut schedule {
            Some(s) => {
                let at = s.next_send();
                if shared.end.is_some_and(|end| at >= end) {
                    break;
                }
                ctx.timer.sleep_until(ctx.start + at).await;
                Some(at)
            }
            None => None,
        };
        let measured = match intended {
            Some(at) => at >= shared.warmup,
            None => {
                let now = last_done.take().unwrap_or_else(Instant::now);
                let elapsed = now.saturating_duration_since(ctx.start);
                if shared.end.is_some_and(|end| elapsed >= end) {
                    break;
                }
                elapsed >= shared.warmup
            }
        };
        if measured && !shared.claim() {
            break;
        }
        let (sent, result) = match &mut conn {
            LaneConn::H1(c) => send_h1(&ctx, c, deadline.as_mut()).await,
            LaneConn::H2(c) => send_h2(&ctx, c, deadline.as_mut()).await,
        };
        let done = Instant::now();
        last_done = Some(done);
        let sent_at = sent.saturating_duration_since(ctx.start);
        let timing = Timing {
            // Closed loop: no schedule, so the intended time is the send time.
            intended: intended.unwrap_or(sent_at),
            sent: sent_at,
            done: done.saturating_duration_since(ctx.start),
        };
        let connect_failed = matches!(&result, Err(f) if matches!(f.kind, FailureKind::Connect | FailureKind::Tls));
        record(&ctx, measured, schedule.is_some(), &timing, done, result);
        // A closed loop against a refused port would spin; back off between failed
        // connects (an open loop keeps its schedule instead).
        if connect_failed && schedule.is_none() {
            failures_in_row += 1;
            let pause = Duration::from_millis(10u64 << failures_in_row.min(7)).min(Duration::from_secs(1));
            tokio::time::sleep(pause).await;
            last_done = None;
        } else {
            failures_in_row = 0;
        }
    }
}

/// Counts a finished request, or its failure, in the tick's stats, and offers it to the
/// tick's sample.
fn record(
    ctx: &Ctx,
    measured: bool,
    open_loop: bool,
    timing: &Timing,
    done: Instant,
    result: Result<Response, Failure>,
) {
    let mut stats = ctx.stats.borrow_mut();
    if !measured {
        stats.warmup_requests += 1;
        return;
    }
    let (status, bytes, error) = match &result {
        Ok(r) => (Some(r.status), r.body_bytes + r.header_bytes, None),
        Err(f) => (None, 0, Some(f.kind)),
    };
    match result {
        Ok(r) => stats.record_response(timing, done, open_loop, ctx.shared.target.request_bytes, r),
        Err(f) => stats.record_error(f.kind, &f.message, done),
    }
    let sample = super::stats::Sampled {
        sent: timing.sent,
        latency: timing.done.saturating_sub(timing.sent),
        status,
        bytes,
        error,
    };
    stats.sample(ctx.shared.sample_cap(ctx.worker, ctx.tick.get()), sample);
}

/// A request written on a quiet connection whose response is not read yet.
struct InFlight {
    /// Offset of its send time in the schedule.
    intended: Duration,
    sent: Instant,
    measured: bool,
}

/// What sending on a quiet connection came to.
enum Sent {
    InFlight(Instant),
    /// No response will be read later: the send failed, or the request had to be sent again
    /// on a new connection and was waited for there.
    Done(Instant, Result<Response, Failure>),
}

/// A quiet lane reads its last response by then at the latest, even when its next send is
/// later: the live figures and the per-second series show responses at most this late, and a
/// cancelled run drops unread responses no older than this, as it drops requests in flight.
const READ_BY: Duration = Duration::from_millis(100);

/// An open loop on a quiet HTTP/1.1 connection ([`super::quiet`]): each response is read
/// just before the lane's next send, or [`READ_BY`] after it was sent, or at its timeout,
/// whichever comes first, so the thread wakes for send times only; a response's latency
/// runs to when the kernel received it. A connection whose reads the kernel did not stamp
/// goes back to reading each response as it arrives.
async fn run_quiet_lane(ctx: Rc<Ctx>, lane: u32, mut conn: H1Conn) {
    let shared = &ctx.shared;
    let Some(plan) = shared.plan.clone() else {
        return;
    };
    let mut schedule = LaneSchedule::new(plan, lane, shared.lanes);
    let mut deadline = Box::pin(tokio::time::sleep(Duration::ZERO));
    let mut pending: Option<InFlight> = None;
    loop {
        let at = schedule.next_send();
        if shared.end.is_some_and(|end| at >= end) {
            break;
        }
        let due = ctx.start + at;
        if let Some(p) = pending.take() {
            let read_at = due.min(p.sent + shared.target.timeout.min(READ_BY));
            ctx.timer.sleep_until(read_at).await;
            finish_quiet(&ctx, &mut conn, p, deadline.as_mut()).await;
        }
        ctx.timer.sleep_until(due).await;
        let measured = at >= shared.warmup;
        if measured && !shared.claim() {
            break;
        }
        if conn.sender.as_ref().is_some_and(|s| !s.timed_by_kernel()) {
            // No kernel timestamps on this connection: read the response as it arrives.
            let (sent, result) = send_h1(&ctx, &mut conn, deadline.as_mut()).await;
            let done = Instant::now();
            let timing = timing_of(&ctx, at, sent, done);
            record(&ctx, measured, true, &timing, done, result);
            continue;
        }
        match send_quiet(&ctx, &mut conn, deadline.as_mut()).await {
            Sent::InFlight(sent) => {
                pending = Some(InFlight {
                    intended: at,
                    sent,
                    measured,
                })
            }
            Sent::Done(sent, result) => {
                let done = Instant::now();
                let timing = timing_of(&ctx, at, sent, done);
                record(&ctx, measured, true, &timing, done, result);
            }
        }
    }
    if let Some(p) = pending {
        finish_quiet(&ctx, &mut conn, p, deadline.as_mut()).await;
    }
}

fn timing_of(ctx: &Ctx, intended: Duration, sent: Instant, done: Instant) -> Timing {
    Timing {
        intended,
        sent: sent.saturating_duration_since(ctx.start),
        done: done.saturating_duration_since(ctx.start),
    }
}

/// Writes the request on a quiet connection, connecting first if need be.
async fn send_quiet(ctx: &Ctx, conn: &mut H1Conn, mut deadline: std::pin::Pin<&mut tokio::time::Sleep>) -> Sent {
    let target = &ctx.shared.target;
    if let Err(f) = ensure_h1(ctx, conn).await {
        return Sent::Done(Instant::now(), Err(f));
    }
    let Some(sender) = conn.sender.as_mut() else {
        return Sent::Done(Instant::now(), Err(Failure::new(FailureKind::Reset, "no connection")));
    };
    let sent = Instant::now();
    let outcome = tokio::select! {
        biased;
        r = sender.send(&target.raw_request) => r,
        _ = expire(deadline.as_mut(), sent + target.timeout) => Err(RawError::Failed(timeout_failure(target.timeout))),
    };
    match outcome {
        Ok(()) => Sent::InFlight(sent),
        Err(RawError::Closed(_)) if conn.served > 0 => {
            // The server's keep-alive close raced the request: send it again, waiting.
            conn.sender = None;
            let (sent, result) = send_h1(ctx, conn, deadline).await;
            Sent::Done(sent, result)
        }
        Err(RawError::Closed(f) | RawError::Failed(f)) => {
            conn.sender = None;
            Sent::Done(sent, Err(f))
        }
    }
}

/// Reads the response to `p` (waiting for it if it is not all there), and counts it.
async fn finish_quiet(ctx: &Ctx, conn: &mut H1Conn, p: InFlight, mut deadline: std::pin::Pin<&mut tokio::time::Sleep>) {
    let target = &ctx.shared.target;
    let expiry = p.sent + target.timeout;
    let Some(sender) = conn.sender.as_mut() else {
        // Cannot happen (a request in flight has its connection); counted all the same.
        let failure = Failure::new(
            FailureKind::Reset,
            "the connection was gone before the response was read",
        );
        let now = Instant::now();
        record(
            ctx,
            p.measured,
            true,
            &timing_of(ctx, p.intended, p.sent, now),
            now,
            Err(failure),
        );
        return;
    };
    let outcome = tokio::select! {
        biased;
        r = sender.receive(target.shape) => r,
        _ = expire(deadline.as_mut(), expiry) => Err(RawError::Failed(timeout_failure(target.timeout))),
    };
    let arrived = sender.arrived();
    let now = Instant::now();
    let (sent, done, result) = match outcome {
        Ok((response, keep_alive)) => {
            // The kernel's receive time, unless it has none or one that cannot be (a wall
            // clock stepped meanwhile): then the read's own time, as on other connections.
            let done = arrived.filter(|t| (p.sent..=now).contains(t)).unwrap_or(now);
            if done > expiry {
                // It came after its timeout while nobody was reading: a timeout, as it would
                // have been for a lane waiting on it.
                conn.sender = None;
                (p.sent, expiry, Err(timeout_failure(target.timeout)))
            } else {
                conn.served += 1;
                if !keep_alive {
                    conn.sender = None;
                }
                (p.sent, done, Ok(response))
            }
        }
        Err(RawError::Closed(_)) if conn.served > 0 => {
            // The server's keep-alive close raced the request: send it again, waiting.
            conn.sender = None;
            let (sent, result) = send_h1(ctx, conn, deadline).await;
            (sent, Instant::now(), result)
        }
        Err(RawError::Closed(f) | RawError::Failed(f)) => {
            conn.sender = None;
            (p.sent, now, Err(f))
        }
    };
    let timing = timing_of(ctx, p.intended, sent, done);
    record(ctx, p.measured, true, &timing, done, result);
}

/// Connects the lane if it has no connection, counting the connection (and a reconnect
/// when it had one before).
async fn ensure_h1(ctx: &Ctx, conn: &mut H1Conn) -> Result<(), Failure> {
    if conn.sender.is_some() {
        return Ok(());
    }
    let reconnect = conn.ever_connected;
    let s = ctx.shared.target.connect_h1(conn.quiet).await?;
    conn.sender = Some(s);
    conn.served = 0;
    conn.ever_connected = true;
    let mut stats = ctx.stats.borrow_mut();
    stats.connections_opened += 1;
    stats.reconnects += u64::from(reconnect);
    Ok(())
}

/// Sends on the lane's HTTP/1.1 connection, reconnecting when the server has closed it
/// after serving requests. Returns when the request was sent and its outcome.
async fn send_h1(
    ctx: &Ctx,
    conn: &mut H1Conn,
    mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
) -> (Instant, Result<Response, Failure>) {
    let target = &ctx.shared.target;
    for attempt in 0..2 {
        if let Err(f) = ensure_h1(ctx, conn).await {
            return (Instant::now(), Err(f));
        }
        let Some(sender) = conn.sender.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        let outcome = tokio::select! {
            biased;
            r = sender.round_trip(&target.raw_request, target.shape) => r,
            _ = expire(deadline.as_mut(), sent + target.timeout) => Err(RawError::Failed(timeout_failure(target.timeout))),
        };
        match outcome {
            Ok((response, keep_alive)) => {
                conn.served += 1;
                if !keep_alive {
                    conn.sender = None;
                }
                return (sent, Ok(response));
            }
            Err(RawError::Closed(f)) if attempt == 0 && conn.served > 0 => {
                // The server's keep-alive close raced our request: reconnect quietly.
                let _ = f;
                conn.sender = None;
            }
            Err(RawError::Closed(f) | RawError::Failed(f)) => {
                // An HTTP/1.1 connection with an abandoned request cannot be reused.
                conn.sender = None;
                return (sent, Err(f));
            }
        }
    }
    (
        Instant::now(),
        Err(Failure::new(
            FailureKind::Reset,
            "connection closed twice before the request was sent",
        )),
    )
}

/// Completes at `due`. The tokio timer is moved only when it fires early, not once per
/// request: in the common case a request finishes long before its timeout and the
/// timer, still set for an earlier request's deadline, is left alone.
async fn expire(mut deadline: std::pin::Pin<&mut tokio::time::Sleep>, due: Instant) {
    loop {
        deadline.as_mut().await;
        if Instant::now() >= due {
            return;
        }
        deadline.as_mut().reset(due.into());
    }
}

fn timeout_failure(timeout: Duration) -> Failure {
    Failure::new(FailureKind::Timeout, format!("no complete response within {timeout:?}"))
}

/// Counts the body's bytes frame by frame without keeping them. The flag says whether
/// the connection stays open.
async fn read_response(res: http::Response<hyper::body::Incoming>) -> Result<(Response, bool), Failure> {
    let (parts, mut body) = res.into_parts();
    let keep_alive = !parts
        .headers
        .get(http::header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let mut body_bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::from_hyper(&e))?;
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    let response = Response {
        status: parts.status.as_u16(),
        body_bytes,
        header_bytes: header_bytes(&parts),
    };
    Ok((response, keep_alive))
}

async fn h2_sender(ctx: &Ctx, conn: &H2Conn) -> Result<http2::SendRequest<Body>, Failure> {
    let usable = || conn.sender.borrow().as_ref().filter(|s| !s.is_closed()).cloned();
    if let Some(s) = usable() {
        return Ok(s);
    }
    // One lane reconnects; the connection's other lanes wait for it.
    let _guard = conn.connecting.lock().await;
    if let Some(s) = usable() {
        return Ok(s);
    }
    let reconnect = conn.sender.borrow().is_some();
    let s = ctx.shared.target.connect_h2().await?;
    let mut stats = ctx.stats.borrow_mut();
    stats.connections_opened += 1;
    stats.reconnects += u64::from(reconnect);
    *conn.sender.borrow_mut() = Some(s.clone());
    Ok(s)
}

async fn send_h2(
    ctx: &Ctx,
    conn: &H2Conn,
    mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
) -> (Instant, Result<Response, Failure>) {
    let target = &ctx.shared.target;
    let mut sender = match h2_sender(ctx, conn).await {
        Ok(s) => s,
        Err(f) => return (Instant::now(), Err(f)),
    };
    let sent = Instant::now();
    let work = async {
        let res = sender
            .send_request(target.request.clone())
            .await
            .map_err(|e| Failure::from_hyper(&e))?;
        read_response(res).await
    };
    let outcome = tokio::select! {
        biased;
        r = work => r,
        _ = expire(deadline.as_mut(), sent + target.timeout) => Err(timeout_failure(target.timeout)),
    };
    (sent, outcome.map(|(response, _)| response))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sample_caps_add_up_to_the_tick_s_share_and_rotate() {
        for threads in [1, 2, 3, 7, 20, 21, 64, 200] {
            for tick in 0..50 {
                let total: usize = (0..threads).map(|w| super::sample_cap(20, threads, w, tick)).sum();
                assert_eq!(total, 20, "{threads} threads, tick {tick}");
            }
        }
        // With more workers than samples, each worker gets its turn.
        let turns: usize = (0..64).map(|tick| super::sample_cap(20, 64, 5, tick)).sum();
        assert_eq!(turns, 20);
        assert_eq!(super::sample_cap(20, 3, 0, 0), 7);
        assert_eq!(super::sample_cap(20, 3, 2, 0), 6);
        assert_eq!(super::sample_cap(20, 0, 0, 0), 20, "no thread count means one");
    }
}

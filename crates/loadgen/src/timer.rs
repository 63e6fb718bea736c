//! A sub-millisecond timer for one worker thread.
//!
//! tokio's timer wheel has 1 ms steps, which would add up to a millisecond of made-up
//! latency to every open-loop request on a fast network. On Linux, one timerfd per thread,
//! armed for the earliest pending deadline or, when others fall due within
//! [`BATCH_WINDOW`] of it, for the latest of those (one wake-up for all), wakes the runtime
//! through its normal I/O driver, so waiting costs no spinning and no extra thread.
//!
//! Elsewhere (macOS) the portable timer sleeps on tokio's wheel: open-loop sends may then
//! start up to 1 ms late, which the schedule-lag figure of the report shows. The portable
//! timer is compiled and tested on Linux too (`MESHTOP_BENCH_TIMER=portable` selects it at
//! run time), so it cannot rot where nobody builds it.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Deadlines that fall due within this much of the earliest pending one are woken together
/// with it, at the latest of them: one wake-up of the thread (and one re-arm of the timer)
/// for all, and their requests go out together, so their responses tend to come back in one
/// wake-up too. The cost is schedule lag of up to this much more (which the report shows
/// as it was); a deadline with none this close is woken for exactly. At 10k req/s on one
/// thread deadlines are 100 µs apart on average. Measured there on the project's 2-core
/// machine against nginx (`bench/loadgen-open.sh`, 2026-12-01): a window of 50 µs saved
/// nothing, 100 µs a third of the CPU per request, 150 µs 30-38 % with the lag p50 at
/// about 135 µs and the p99 at 204-391 µs in quiet rounds, 250 µs half, with the lag p99
/// at 300-480 µs. 150 µs is the widest window whose lag stays near the 200 µs the engine
/// aims for on a quiet machine.
pub const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_micros(150);

/// The batch window: [`BATCH_WINDOW`], or `MESHTOP_BENCH_BATCH_US` microseconds (0 wakes
/// for every deadline exactly, as before batching: the benchmarks compare both in one run).
/// A value that is not a number of microseconds up to 10 ms is ignored.
pub fn batch_window() -> std::time::Duration {
    window_from(std::env::var("MESHTOP_BENCH_BATCH_US").ok().as_deref())
}

fn window_from(us: Option<&str>) -> std::time::Duration {
    us.and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|us| *us <= 10_000)
        .map_or(BATCH_WINDOW, std::time::Duration::from_micros)
}

/// Which timer a worker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Linux timerfd: microsecond wake-ups.
    #[cfg(target_os = "linux")]
    Fd,
    /// tokio's timer wheel: 1 ms steps, every platform.
    Portable,
}

impl TimerKind {
    /// timerfd on Linux unless `MESHTOP_BENCH_TIMER=portable`; the portable one elsewhere.
    pub fn from_env() -> TimerKind {
        #[cfg(target_os = "linux")]
        if std::env::var("MESHTOP_BENCH_TIMER").as_deref() != Ok("portable") {
            return TimerKind::Fd;
        }
        TimerKind::Portable
    }

    pub fn label(self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            TimerKind::Fd => "timerfd",
            TimerKind::Portable => "tokio timer (1 ms steps)",
        }
    }
}

/// Cheap to clone; all clones share the thread's timer.
#[derive(Clone)]
pub enum HrTimer {
    #[cfg(target_os = "linux")]
    Fd(fd::FdTimer),
    Portable(portable::PortableTimer),
}

impl HrTimer {
    /// Must be called inside a tokio runtime with I/O enabled; spawn [`HrTimer::drive`] on it.
    pub fn new(kind: TimerKind) -> io::Result<HrTimer> {
        Ok(match kind {
            #[cfg(target_os = "linux")]
            TimerKind::Fd => HrTimer::Fd(fd::FdTimer::new()?),
            TimerKind::Portable => HrTimer::Portable(portable::PortableTimer::default()),
        })
    }

    /// Completes at `at` or later, never earlier: within the timer's resolution, and for
    /// the timerfd within its batch window ([`BATCH_WINDOW`]); at once when cancelled.
    pub fn sleep_until(&self, at: Instant) -> Sleep {
        match self {
            #[cfg(target_os = "linux")]
            HrTimer::Fd(t) => Sleep::Fd(t.sleep_until(at)),
            HrTimer::Portable(t) => Sleep::Portable(t.sleep_until(at)),
        }
    }

    /// Wakes every sleeper now and makes future sleeps return at once.
    pub fn cancel(&self) {
        match self {
            #[cfg(target_os = "linux")]
            HrTimer::Fd(t) => t.cancel(),
            HrTimer::Portable(t) => t.cancel(),
        }
    }

    /// What fires the deadlines; runs until the runtime stops.
    pub async fn drive(self) {
        match self {
            #[cfg(target_os = "linux")]
            HrTimer::Fd(t) => t.drive().await,
            // tokio's own driver fires its sleeps.
            HrTimer::Portable(_) => {}
        }
    }
}

pub enum Sleep {
    #[cfg(target_os = "linux")]
    Fd(fd::Sleep),
    Portable(portable::Sleep),
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Both variants are Unpin (the portable one boxes tokio's Sleep).
        match self.get_mut() {
            #[cfg(target_os = "linux")]
            Sleep::Fd(s) => Pin::new(s).poll(cx),
            Sleep::Portable(s) => Pin::new(s).poll(cx),
        }
    }
}

/// Lowers this thread's timer slack from the default 50 µs, so timerfd wake-ups land
/// within a few microseconds of the deadline. Nothing to do elsewhere.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

mod portable {
    use super::*;

    /// The wakers of the sleeps now waiting (each removes its own when it ends), woken all
    /// at once on cancel.
    #[derive(Default)]
    struct Cancel {
        cancelled: bool,
        next: u64,
        wakers: std::collections::HashMap<u64, Waker>,
    }

    #[derive(Clone, Default)]
    pub struct PortableTimer {
        cancel: Rc<RefCell<Cancel>>,
    }

    impl PortableTimer {
        pub fn sleep_until(&self, at: Instant) -> Sleep {
            Sleep {
                cancel: self.cancel.clone(),
                sleep: Box::pin(tokio::time::sleep_until(at.into())),
                id: None,
            }
        }

        /// Sleeps now waiting (for tests).
        #[cfg(test)]
        pub fn waiting(&self) -> usize {
            self.cancel.borrow().wakers.len()
        }

        pub fn cancel(&self) {
            let mut c = self.cancel.borrow_mut();
            c.cancelled = true;
            for (_, w) in c.wakers.drain() {
                w.wake();
            }
        }
    }

    pub struct Sleep {
        cancel: Rc<RefCell<Cancel>>,
        sleep: Pin<Box<tokio::time::Sleep>>,
        /// Its key among the waiting wakers, once it waits.
        id: Option<u64>,
    }

    impl Sleep {
        fn forget(&mut self) {
            if let Some(id) = self.id.take() {
                self.cancel.borrow_mut().wakers.remove(&id);
            }
        }
    }

    impl Drop for Sleep {
        fn drop(&mut self) {
            self.forget();
        }
    }

    impl Future for Sleep {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.cancel.borrow().cancelled || self.sleep.as_mut().poll(cx).is_ready() {
                self.forget();
                return Poll::Ready(());
            }
            let mut c = self.cancel.borrow_mut();
            let id = match self.id {
                Some(id) => id,
                None => {
                    c.next += 1;
                    c.next
                }
            };
            c.wakers.insert(id, cx.waker().clone());
            drop(c);
            self.id = Some(id);
            Poll::Pending
        }
    }
}

#[cfg(target_os = "linux")]
mod fd {
    use std::collections::BTreeMap;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;

    use super::*;

    /// Cheap to clone; all clones share the thread's timerfd.
    #[derive(Clone)]
    pub struct FdTimer {
        inner: Rc<Inner>,
    }

    struct Inner {
        fd: AsyncFd<OwnedFd>,
        queue: RefCell<Queue>,
    }

    /// Pending deadlines by time (then by registration, so equal times stay distinct).
    #[derive(Default)]
    struct Queue {
        window: Duration,
        due: BTreeMap<(Instant, u64), Waker>,
        /// Wake-ups that fired deadlines: only the tests of batching count them.
        #[cfg(test)]
        fires: u64,
        armed: Option<Instant>,
        seq: u64,
        cancelled: bool,
    }

    impl Queue {
        /// When to wake next: at the latest deadline within the batch window of the
        /// earliest ([`super::BATCH_WINDOW`]), so all of them go in one wake-up. The
        /// earliest is then late by at most the window; a deadline with none near it is
        /// woken for exactly.
        fn wake_at(&self) -> Option<Instant> {
            let (&(first, _), _) = self.due.first_key_value()?;
            let limit = first + self.window;
            self.due.range(..=(limit, u64::MAX)).next_back().map(|(&(at, _), _)| at)
        }
    }

    impl FdTimer {
        pub fn new() -> io::Result<FdTimer> {
            // SAFETY: plain syscall; the returned descriptor is checked and then owned.
            let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh, valid descriptor nobody else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: the OwnedFd stays open, and the same descriptor, for the AsyncFd's life.
            let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
            Ok(FdTimer {
                inner: Rc::new(Inner {
                    fd,
                    queue: RefCell::new(Queue {
                        window: super::batch_window(),
                        ..Queue::default()
                    }),
                }),
            })
        }

        /// Completes at `at` or later, never earlier: within the batch window and the
        /// kernel's timer slack; at once when cancelled.
        pub fn sleep_until(&self, at: Instant) -> Sleep {
            Sleep {
                timer: self.clone(),
                at,
                registered: false,
            }
        }

        /// Wakes every sleeper now and makes future sleeps return at once.
        pub fn cancel(&self) {
            let mut q = self.inner.queue.borrow_mut();
            q.cancelled = true;
            for waker in std::mem::take(&mut q.due).into_values() {
                waker.wake();
            }
        }

        /// Fires due deadlines whenever the timerfd expires; runs until the runtime stops.
        ///
        /// The expiration count is never read: every arming goes through
        /// `timerfd_settime`, which resets the count, and tokio's edge-triggered epoll
        /// reports each new expiry. That saves a `read` syscall per wake-up, one per
        /// request in an open loop. A stale wake-up (none due) just re-arms.
        pub async fn drive(self) {
            loop {
                let Ok(mut guard) = self.inner.fd.readable().await else {
                    return;
                };
                guard.clear_ready();
                self.fire_due();
            }
        }

        fn fire_due(&self) {
            let mut q = self.inner.queue.borrow_mut();
            q.armed = None;
            #[cfg(test)]
            {
                q.fires += 1;
            }
            let now = Instant::now();
            while let Some(entry) = q.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                entry.remove().wake();
            }
            if let Some(next) = q.wake_at() {
                self.arm(&mut q, next);
            }
        }

        fn register(&self, at: Instant, waker: Waker) -> bool {
            let mut q = self.inner.queue.borrow_mut();
            if q.cancelled {
                return false;
            }
            q.seq += 1;
            let seq = q.seq;
            q.due.insert((at, seq), waker);
            // Re-armed only to wake earlier: a deadline that would widen the batch waits
            // for the next one rather than cost a syscall of its own.
            if let Some(next) = q.wake_at()
                && q.armed.is_none_or(|armed| next < armed)
            {
                self.arm(&mut q, next);
            }
            true
        }

        fn arm(&self, q: &mut Queue, at: Instant) {
            // Relative arming: Instant has no public clock value to pass as absolute time.
            // A zero it_value would disarm, so a due deadline fires after 1 ns instead.
            let rel = at
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec {
                    tv_sec: rel.as_secs() as libc::time_t,
                    tv_nsec: rel.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: valid descriptor and a fully initialised itimerspec; the old value is not wanted.
            let rc = unsafe { libc::timerfd_settime(self.inner.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
            if rc == 0 {
                q.armed = Some(at);
            }
        }
    }

    pub struct Sleep {
        timer: FdTimer,
        at: Instant,
        registered: bool,
    }

    impl Future for Sleep {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.timer.inner.queue.borrow().cancelled || Instant::now() >= self.at {
                return Poll::Ready(());
            }
            // Registered once: the task's waker stays valid for the task's life, and a
            // spurious poll before the deadline just returns Pending again.
            if !self.registered {
                let (timer, at) = (self.timer.clone(), self.at);
                if !timer.register(at, cx.waker().clone()) {
                    return Poll::Ready(());
                }
                self.registered = true;
            }
            Poll::Pending
        }
    }

    #[cfg(test)]
    mod batching {
        use super::*;

        fn queue(offsets_us: &[u64]) -> (Instant, Queue) {
            let t0 = Instant::now();
            let mut q = Queue {
                window: BATCH_WINDOW,
                ..Queue::default()
            };
            let waker = std::task::Waker::noop().clone();
            for (seq, us) in offsets_us.iter().enumerate() {
                q.due
                    .insert((t0 + Duration::from_micros(*us), seq as u64), waker.clone());
            }
            (t0, q)
        }

        #[test]
        fn deadlines_within_the_window_share_one_wake_up() {
            let at = |t0: Instant, us: u64| Some(t0 + Duration::from_micros(us));
            let (t0, q) = queue(&[0, 30, 150, 151, 200]);
            assert_eq!(
                q.wake_at(),
                at(t0, 150),
                "the window's last deadline, 150 µs after the first"
            );
            let (t0, q) = queue(&[500, 1_000]);
            assert_eq!(q.wake_at(), at(t0, 500), "none near it: woken for exactly");
            let (t0, q) = queue(&[40, 40, 40]);
            assert_eq!(q.wake_at(), at(t0, 40), "equal deadlines stay distinct entries");
            assert_eq!(q.due.len(), 3);
            assert_eq!(Queue::default().wake_at(), None);
            let (t0, mut q) = queue(&[0, 30]);
            q.window = Duration::ZERO;
            assert_eq!(q.wake_at(), at(t0, 0), "no window: every deadline exactly");
        }

        /// Sleeps at `offsets_us` after a point 20 ms ahead, registered in that order; the
        /// wake-ups that fired them. None completes before its deadline.
        fn fired(offsets_us: &[u64]) -> u64 {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async {
                let timer = FdTimer::new().unwrap();
                tokio::task::spawn_local(timer.clone().drive());
                let t0 = Instant::now() + Duration::from_millis(20);
                let sleeps: Vec<_> = offsets_us
                    .iter()
                    .map(|us| {
                        let at = t0 + Duration::from_micros(*us);
                        let sleep = timer.sleep_until(at);
                        tokio::task::spawn_local(async move {
                            sleep.await;
                            (at, Instant::now())
                        })
                    })
                    .collect();
                for s in sleeps {
                    let (at, done) = s.await.unwrap();
                    assert!(done >= at, "woken {:?} early", at - done);
                }
                timer.inner.queue.borrow().fires
            })
        }

        /// Registered latest first, three deadlines within the window keep the first arming
        /// (the latest) and go in one wake-up; earliest first, the first is woken for
        /// exactly (nothing was near it yet) and the other two together. A stalled machine
        /// can only make them due before they register, so fewer wake-ups, never more.
        #[test]
        fn a_batch_wakes_once_and_never_early() {
            assert!(fired(&[150, 90, 0]) <= 1);
            assert!(fired(&[0, 90, 150]) <= 2);
        }

        #[test]
        fn the_window_is_read_as_microseconds_up_to_10_ms() {
            let us = Duration::from_micros;
            assert_eq!(window_from(None), BATCH_WINDOW);
            assert_eq!(window_from(Some("0")), Duration::ZERO);
            assert_eq!(window_from(Some(" 250 ")), us(250));
            assert_eq!(window_from(Some("10000")), us(10_000));
            for ignored in ["10001", "150us", "-1", "", "1e3", "99999999999999999999999"] {
                assert_eq!(window_from(Some(ignored)), BATCH_WINDOW, "{ignored:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Both timers, the one this platform uses and the portable one, so neither rots.
    #[test]
    fn wakes_in_deadline_order_and_on_cancel() {
        #[cfg(target_os = "linux")]
        wakes_in_order(TimerKind::Fd);
        wakes_in_order(TimerKind::Portable);
    }

    /// The portable timer holds a waker only while its sleep waits: a paced run of many
    /// requests does not grow it (macOS builds use it for every request).
    #[test]
    fn the_portable_timer_forgets_finished_sleeps() {
        on_one_thread(async {
            let t = portable::PortableTimer::default();
            for _ in 0..200 {
                t.sleep_until(Instant::now() + Duration::from_micros(200)).await;
            }
            // One dropped while still waiting.
            let waiting = t.sleep_until(Instant::now() + Duration::from_secs(3600));
            let mut waiting = Box::pin(waiting);
            assert!(futures::poll!(&mut waiting).is_pending());
            assert_eq!(t.waiting(), 1);
            drop(waiting);
            assert_eq!(t.waiting(), 0, "no waker is kept for sleeps that ended");
        });
    }

    /// A worker's setting: one thread, tasks spawned locally.
    fn on_one_thread(f: impl Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f);
    }

    fn wakes_in_order(kind: TimerKind) {
        on_one_thread(async {
            let timer = HrTimer::new(kind).unwrap();
            tokio::task::spawn_local(timer.clone().drive());
            let start = Instant::now();
            let order = Rc::new(RefCell::new(Vec::new()));
            let mut tasks = Vec::new();
            for (i, us) in [(0, 3000u64), (1, 500), (2, 1500)] {
                let (timer, order) = (timer.clone(), order.clone());
                tasks.push(tokio::task::spawn_local(async move {
                    let at = start + Duration::from_micros(us);
                    timer.sleep_until(at).await;
                    assert!(Instant::now() >= at);
                    order.borrow_mut().push(i);
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.borrow(), [1, 2, 0]);
            // A far deadline returns as soon as the timer is cancelled.
            let far = tokio::task::spawn_local({
                let timer = timer.clone();
                async move { timer.sleep_until(Instant::now() + Duration::from_secs(3600)).await }
            });
            tokio::task::yield_now().await;
            timer.cancel();
            far.await.unwrap();
        });
    }
}

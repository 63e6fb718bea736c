//! A sub-millisecond timer for one worker thread.
//!
//! tokio's timer wheel has 1 ms steps, which would add up to a millisecond of made-up
//! latency to every open-loop request on a fast network. One Linux timerfd per thread,
//! always armed for the earliest pending deadline, wakes the runtime through its normal
//! I/O driver, so waiting costs no spinning and no extra thread.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

/// Cheap to clone; all clones share the thread's timerfd.
#[derive(Clone)]
pub struct HrTimer {
    inner: Rc<Inner>,
}

struct Inner {
    fd: AsyncFd<OwnedFd>,
    queue: RefCell<Queue>,
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    armed: Option<Instant>,
    seq: u64,
    cancelled: bool,
}

struct Entry {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl HrTimer {
    /// Must be called inside a tokio runtime with I/O enabled; spawn [`HrTimer::drive`] on it.
    pub fn new() -> io::Result<HrTimer> {
        // SAFETY: plain syscall; the returned descriptor is checked and then owned.
        let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh, valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd stays open, and the same descriptor, for the AsyncFd's life.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(HrTimer {
            inner: Rc::new(Inner {
                fd,
                queue: RefCell::new(Queue::default()),
            }),
        })
    }

    /// Completes at `at` (within the kernel's timer slack), or at once when cancelled.
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
        for Reverse(e) in q.heap.drain() {
            e.waker.wake();
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
        let now = Instant::now();
        while q.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = q.heap.pop() {
                e.waker.wake();
            }
        }
        if let Some(next) = q.heap.peek().map(|Reverse(e)| e.at) {
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
        q.heap.push(Reverse(Entry { at, seq, waker }));
        if q.armed.is_none_or(|armed| at < armed) {
            self.arm(&mut q, at);
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

/// Lowers this thread's timer slack from the default 50 µs, so timerfd wake-ups land
/// within a few microseconds of the deadline.
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

pub struct Sleep {
    timer: HrTimer,
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
mod tests {
    use super::*;

    #[test]
    fn wakes_in_deadline_order_and_on_cancel() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let timer = HrTimer::new().unwrap();
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

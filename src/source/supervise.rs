//! Sources run supervised: a panic in one is that source's error on the status line, and
//! the source starts again after a backoff, while the TUI keeps running in raw mode.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::UpdateTx;
use crate::app::{Stamped, Update};
use crate::model::{ErrorKind, Resource};

/// The first wait before a restart; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A restarted source that has run this long without panicking is well again: its error
/// is cleared and the backoff starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// Names the source that `MESHTOP_FAULT_PANIC` makes panic once, as it first starts: the
/// fault-injection hook of the end-to-end tests and the demo (a real panic has no trigger
/// from outside). `NAME` is the first source of that name started in the process; `NAME@N`
/// the Nth (a tap is a new source each time one is opened), so the demo can crash one late
/// in a session. `bench` makes `meshtop bench` panic on the main thread before it sends
/// (the canary test's forced panic). A value that names no source does nothing.
pub const FAULT_ENV: &str = "MESHTOP_FAULT_PANIC";

/// Sources started so far whose name the hook names: the count `NAME@N` compares with.
static FAULT_STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The hook's value as (source name, which start of it); anything after a last `@` that is
/// not a whole number from 1 is part of the name, so no value is an error.
fn fault_spec(value: &str) -> (&str, u32) {
    match value.rsplit_once('@') {
        Some((name, n)) => match n.parse::<u32>() {
            Ok(n) if n >= 1 => (name, n),
            _ => (value, 1),
        },
        None => (value, 1),
    }
}

/// Whether this start of `resource`'s source is the one the hook asks to panic.
fn inject_fault(resource: Resource) -> bool {
    let Ok(value) = std::env::var(FAULT_ENV) else {
        return false;
    };
    let (name, nth) = fault_spec(&value);
    name == resource.as_str() && FAULT_STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == nth
}

/// Aborts the task it holds when dropped, so aborting the supervisor stops its source
/// (and a source dropped mid-way stops the tasks it spawned).
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawns `make()` as `resource`'s source and restarts it with backoff whenever it panics.
/// Ends when the source returns (it does when the update channel closes).
pub fn spawn<F, Fut>(resource: Resource, tx: UpdateTx, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let inject = inject_fault(resource);
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        let mut failing = false;
        let mut first = true;
        loop {
            let fault = std::mem::take(&mut first) && inject;
            let source = make();
            let mut task = AbortOnDrop(tokio::spawn(async move {
                if fault {
                    panic!("injected fault ({FAULT_ENV})");
                }
                source.await
            }));
            let started = tokio::time::Instant::now();
            let ended = if failing {
                // Still marked as failed: clear the error once it has stayed up a while.
                tokio::select! {
                    r = &mut task.0 => r,
                    () = tokio::time::sleep(HEALTHY_AFTER) => {
                        backoff = FIRST_BACKOFF;
                        let recovered = Update::CrashRecovered { resource };
                        if tx.send(Stamped::now(recovered)).await.is_err() {
                            return;
                        }
                        (&mut task.0).await
                    }
                }
            } else {
                (&mut task.0).await
            };
            let panic = match ended {
                Ok(()) => return,
                Err(e) if e.is_cancelled() => return,
                Err(e) => crate::exit::panic_message(e.into_panic().as_ref()),
            };
            if started.elapsed() >= HEALTHY_AFTER {
                backoff = FIRST_BACKOFF;
            }
            tracing::error!(source = resource.as_str(), "source panicked: {panic}");
            let error = Update::SourceError {
                resource,
                namespace: None,
                kind: ErrorKind::Crashed,
                message: format!("{panic}; restarting in {} s", backoff.as_secs()),
            };
            if tx.send(Stamped::now(error)).await.is_err() {
                return;
            }
            failing = true;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A source that panics on its first two starts and then runs: the supervisor reports
    /// each panic with the backoff it waits, restarts it, and clears the error once it has
    /// stayed up.
    #[tokio::test(start_paused = true)]
    async fn a_panicking_source_is_reported_and_restarted_with_backoff() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        let sender = tx.clone();
        let handle = spawn(Resource::PodMetrics, tx, move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let tx = sender.clone();
            async move {
                if n < 2 {
                    panic!("boom {n}");
                }
                let _ = tx.send(Stamped::now(Update::Tick)).await;
                std::future::pending::<()>().await
            }
        });
        let mut seen = Vec::new();
        while seen.len() < 4 {
            match rx.recv().await.unwrap().update {
                Update::SourceError {
                    resource,
                    kind,
                    message,
                    ..
                } => seen.push(format!("{} {} {message}", resource.as_str(), kind.label())),
                Update::CrashRecovered { resource } => seen.push(format!("{} recovered", resource.as_str())),
                Update::Tick => seen.push("running".into()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            seen,
            [
                "pod metrics crashed boom 0; restarting in 1 s",
                "pod metrics crashed boom 1; restarting in 2 s",
                "running",
                "pod metrics recovered",
            ]
        );
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        handle.abort();
    }

    /// Aborting the supervisor stops the source it runs (a context switch must not leave
    /// the old cluster's watches running).
    #[tokio::test(start_paused = true)]
    async fn aborting_the_supervisor_stops_its_source() {
        let (tx, _rx) = tokio::sync::mpsc::channel(16);
        let alive = Arc::new(());
        let held = alive.clone();
        let handle = spawn(Resource::Pods, tx, move || {
            let held = held.clone();
            async move {
                let _held = held;
                std::future::pending::<()>().await
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            Arc::strong_count(&alive),
            3,
            "the factory's copy and the running source's"
        );
        handle.abort();
        let _ = handle.await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            Arc::strong_count(&alive),
            1,
            "the source was dropped with its supervisor"
        );
    }

    /// Every source's future is small: a supervisor builds it again on a worker thread,
    /// whose stack (2 MiB) a 140 KB future copied about in a debug build overflowed.
    #[test]
    fn source_futures_are_small_enough_to_restart_on_a_worker() {
        use crate::source;
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let target = source::kube::KubeTarget::default();
        let (_w, window) = tokio::sync::watch::channel(60u32);
        let (_e, every) = tokio::sync::watch::channel(Duration::from_secs(15));
        let (_s, stop) = tokio::sync::watch::channel(false);
        let spec = source::prometheus::Spec::parse("http://127.0.0.1:9090").unwrap();
        let tap = crate::model::tap::TapSpec {
            target: crate::model::tap::TapTarget::parse("deploy/web", "default").unwrap(),
            source: Default::default(),
            max_rps: 100.0,
            method: None,
            path_prefix: None,
        };
        let sizes = [
            (
                "kube",
                std::mem::size_of_val(&source::kube::run(target.clone(), tx.clone())),
            ),
            (
                "pod metrics",
                std::mem::size_of_val(&source::podmetrics::run_every(target.clone(), every, tx.clone())),
            ),
            (
                "scrape",
                std::mem::size_of_val(&source::scrape::run(
                    target.clone(),
                    source::scrape::Settings {
                        direct: false,
                        interval: Duration::from_secs(5),
                        budget: source::scrape::DEFAULT_BUDGET,
                        window: Some(window.clone()),
                    },
                    tx.clone(),
                )),
            ),
            (
                "prometheus",
                std::mem::size_of_val(&source::prometheus::run(
                    spec,
                    target.clone(),
                    window,
                    Duration::from_secs(5),
                    tx.clone(),
                )),
            ),
            ("tap", std::mem::size_of_val(&source::tap::run(target, tap, tx, stop))),
        ];
        for (name, size) in sizes {
            eprintln!("SIZE {name} {size}");
            assert!(size <= 32 * 1024, "the {name} source's future is {size} bytes");
        }
    }

    /// The hook's `NAME@N`: a start count from 1 after the last `@`, else all of it is the name.
    #[test]
    fn fault_spec_reads_name_and_start() {
        assert_eq!(fault_spec("linkerd tap@3"), ("linkerd tap", 3));
        assert_eq!(fault_spec("pod metrics"), ("pod metrics", 1));
        assert_eq!(fault_spec("pods@0"), ("pods@0", 1));
        assert_eq!(fault_spec("pods@x"), ("pods@x", 1));
        assert_eq!(fault_spec("a@b@2"), ("a@b", 2));
        assert_eq!(fault_spec("@"), ("@", 1));
        assert_eq!(fault_spec(""), ("", 1));
    }

    /// The supervisor's "recovered" clears its own crash only: an error the source itself
    /// reported since (the API does not answer) stays on the status line.
    #[test]
    fn a_crash_recovery_clears_only_the_crash() {
        use crate::app::{Keymap, State, fold};
        let error = |kind| Stamped {
            at: 1,
            update: Update::SourceError {
                resource: Resource::Cluster,
                namespace: None,
                kind,
                message: "m".into(),
            },
        };
        let recovered = || Stamped {
            at: 2,
            update: Update::CrashRecovered {
                resource: Resource::Cluster,
            },
        };
        let mut s = State::new(Keymap::default());
        fold(&mut s, error(ErrorKind::Crashed));
        fold(&mut s, recovered());
        assert!(s.errors.is_empty());
        fold(&mut s, error(ErrorKind::Crashed));
        fold(&mut s, error(ErrorKind::Unreachable));
        fold(&mut s, recovered());
        assert_eq!(s.errors[&(Resource::Cluster, None)].kind, ErrorKind::Unreachable);
    }
}

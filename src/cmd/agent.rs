//! `meshtop agent URL`: one share of a distributed run, headless. Its shard frames go to
//! stdout and, with --listen, to followers over HTTP; notes go to stderr; the exit status
//! says how it ended (0 done, 1 failed, 2 bad input, 4 cancelled).

use color_eyre::eyre::Result;

use crate::agents::serve::{self, FrameLog, Stop};
use crate::bench::engine;
use crate::cli::AgentArgs;
use crate::exit::{Cancelled, bad_input};

pub async fn run(args: AgentArgs) -> Result<()> {
    let mut config = super::bench::config_from_args(&args.load)?;
    let whole = config.spec.clone();
    config.spec = loadgen::split::share(&whole, args.index, args.agents).map_err(bad_input)?;
    if config.spec.threads_note.is_some() {
        // The default was chosen for this machine; the share may need fewer.
        config.spec.threads = config.spec.threads.min(config.spec.connections.max(1));
    }
    let log = FrameLog::default();
    let stop = stop_on_signal();
    if let Some(addr) = args.listen {
        let bound = serve::spawn(addr, log.clone(), stop.clone()).await?;
        eprintln!("meshtop agent: serving frames on http://{bound}/shard");
    }
    eprintln!(
        "meshtop agent: share {} of {}: {}",
        args.index + 1,
        args.agents,
        loadgen::split::describe(&config.spec)
    );

    if let Some(at) = args.start_at {
        let wait = at.duration_since(jiff::Timestamp::now());
        if wait.is_positive() {
            let wait = std::time::Duration::try_from(wait).unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.notified() => return Err(Cancelled("cancelled before the start time".into()).into()),
            }
        } else {
            eprintln!(
                "meshtop agent: started {} after --start-at",
                crate::input::human(std::time::Duration::try_from(-wait).unwrap_or_default())
            );
        }
    }

    let writer = log.writer(Box::new(std::io::stdout()));
    let run = engine::start_with_shard(config, Some(Box::new(writer)))?;
    let shard_failure = run.shard_failure();
    let canceller = run.canceller();
    let cancelled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let cancelled = cancelled.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            stop.notified().await;
            cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
            canceller.cancel();
        })
    };
    let result = run.finish().await;
    watcher.abort();
    log.close();
    let result = result?;
    eprintln!(
        "meshtop agent: {} requests, {:.0} req/s, p99 {:.2} ms",
        result.requests,
        result.achieved_rate,
        result.latency.p99 as f64 / 1e3
    );
    // A stopped run lingers too: its last frame is what the follower waits for. An
    // interrupt now ends the wait (a pod's deletion ends it with SIGKILL after its grace).
    if args.listen.is_some() && !args.linger.is_zero() {
        tokio::select! {
            () = log.collected() => {}
            () = tokio::time::sleep(args.linger) => eprintln!("meshtop agent: no follower read the last frame within --linger"),
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    if let Some(e) = shard_failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(color_eyre::eyre::eyre!("the shard stream is not whole: {e}"));
    }
    if cancelled.load(std::sync::atomic::Ordering::SeqCst) || result.cancelled {
        return Err(Cancelled("cancelled: the last frame holds what ran until then".into()).into());
    }
    Ok(())
}

/// Triggered at SIGTERM (a pod's deletion) or an interrupt.
fn stop_on_signal() -> std::sync::Arc<Stop> {
    let stop = std::sync::Arc::new(Stop::default());
    let s = stop.clone();
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut t) => {
                    t.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
        s.trigger();
    });
    stop
}

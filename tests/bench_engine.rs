//! The engine as the TUI uses it: start, watch progress snapshots, cancel, and get the
//! partial result. Against a real nginx; no assertion depends on timing.

mod support;

use std::time::Duration;

use meshtop::bench::{BenchConfig, BenchProgress, Phase, engine};
use support::servers::Nginx;

#[tokio::test]
async fn progress_snapshots_then_cancel_keeps_the_partial_result() {
    let nginx = Nginx::start();
    let mut config = BenchConfig::new(nginx.url("/"));
    config.spec.connections = 4;
    config.spec.threads = 2;
    config.spec.duration = Some(Duration::from_secs(600));
    let run = engine::start(config).unwrap();
    let mut progress = run.progress();
    let stop = run.canceller();
    // Wait (bounded) for a snapshot with measured responses, then stop the run.
    let seen: BenchProgress = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            progress.changed().await.expect("progress until the end");
            let p = progress.borrow_and_update().clone();
            if p.responses > 0 && p.phase == Phase::Running {
                return p;
            }
        }
    })
    .await
    .expect("a running snapshot with responses");
    assert_eq!(seen.target_duration_s, Some(600.0));
    assert!(seen.p50_us > 0 && seen.p50_us <= seen.p99_us && seen.p99_us <= seen.p999_us);
    assert_eq!(seen.histogram.iter().map(|b| b.count).sum::<u64>(), seen.responses);
    assert_eq!(seen.status.values().sum::<u64>(), seen.responses);
    // Snapshots travel as app updates and recordings. (Floats may come back one ulp
    // off: serde_json parses exactly only with its float_roundtrip feature.)
    let back: BenchProgress = serde_json::from_str(&serde_json::to_string(&seen).unwrap()).unwrap();
    assert_eq!(
        (back.requests, back.p99_us, &back.status, &back.histogram),
        (seen.requests, seen.p99_us, &seen.status, &seen.histogram)
    );

    stop.cancel();
    let result = tokio::time::timeout(Duration::from_secs(60), run.finish())
        .await
        .expect("cancel ends the run")
        .unwrap();
    assert!(result.cancelled);
    assert!(result.responses >= seen.responses);
    assert_eq!(result.status.get(&200), Some(&result.responses));
    assert_eq!(result.latency.count, result.responses);
    assert_eq!(result.series.iter().map(|s| s.requests).sum::<u64>(), result.requests);
    let last = progress.borrow().clone();
    assert_eq!(last.phase, Phase::Finished);
    assert_eq!(last.responses, result.responses);
    let back: meshtop::bench::BenchResult = serde_json::from_str(&serde_json::to_string(&result).unwrap()).unwrap();
    assert_eq!(
        (back.requests, &back.status, &back.latency.bins, back.series.len()),
        (
            result.requests,
            &result.status,
            &result.latency.bins,
            result.series.len()
        )
    );
}

#[tokio::test]
async fn run_calls_the_observer_until_finished() {
    let nginx = Nginx::start();
    let mut config = BenchConfig::new(nginx.url("/"));
    config.spec.connections = 2;
    config.spec.duration = None;
    config.spec.requests = Some(500);
    let mut phases = Vec::new();
    let result = engine::run(config, |p| phases.push(p.phase)).await.unwrap();
    assert_eq!(result.status.get(&200), Some(&500));
    assert_eq!(phases.last(), Some(&Phase::Finished));
    assert!(!result.cancelled);
}

#[test]
fn invalid_config_starts_nothing() {
    let mut config = BenchConfig::new("http://127.0.0.1:9/");
    config.spec.rate = -1.0;
    assert!(engine::start(config).is_err());
}

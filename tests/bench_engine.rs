//! The engine as meshtop sees it through its edge (`bench::engine`): snapshots and results
//! in meshtop's versioned wire types, which travel as app updates and recordings, and the
//! spec they carry redacted by the one policy while what is sent keeps its credentials.
//! Against a real nginx; no assertion depends on timing. The engine's own exact counts
//! are tested in its crate (`crates/loadgen/tests/engine.rs`).

mod support;

use std::time::Duration;

use meshtop::bench::{BenchConfig, BenchProgress, BenchResult, Phase, engine};
use support::servers::Nginx;

#[tokio::test]
async fn snapshots_and_results_arrive_converted_and_redacted() {
    let nginx = Nginx::start();
    // nginx's one location answers any path and query; the credentials reach it as sent.
    let url = nginx.url("/?token=tok-123&page=2");
    let mut config = BenchConfig::new(url.replace("http://", "http://alice:pw-456@"));
    config.spec.connections = 4;
    config.spec.threads = 2;
    config.spec.duration = Some(Duration::from_secs(600));
    config.spec.headers = vec![("Authorization".into(), "Bearer b-789".into())];
    let run = engine::start(config).unwrap();
    let mut progress = run.progress();
    let stop = run.canceller();
    let seen: BenchProgress = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            progress.changed().await.expect("progress until the end");
            let p = progress.latest();
            if p.responses > 0 && p.phase == Phase::Running {
                return p;
            }
        }
    })
    .await
    .expect("a running snapshot with responses");
    assert_eq!(seen.histogram.iter().map(|b| b.count).sum::<u64>(), seen.responses);
    assert_eq!(
        seen.status.get(&200).copied(),
        Some(seen.responses),
        "{:?}",
        seen.status
    );
    // Snapshots travel as app updates and recordings.
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
    assert_eq!(result.status.get(&200), Some(&result.responses));
    assert_eq!(result.schema_version, meshtop::model::bench::SCHEMA_VERSION);
    assert_eq!(result.meshtop_version, env!("CARGO_PKG_VERSION"));
    let port = nginx.port;
    assert_eq!(
        result.config.url,
        format!("http://alice:<redacted>@127.0.0.1:{port}/?token=<redacted>&page=2")
    );
    assert_eq!(result.url, result.config.url);
    assert_eq!(
        result.config.headers,
        vec![("Authorization".to_string(), "<redacted>".to_string())]
    );
    let json = serde_json::to_string(&result).unwrap();
    for secret in ["pw-456", "tok-123", "b-789"] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    let back: BenchResult = serde_json::from_str(&json).unwrap();
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
}

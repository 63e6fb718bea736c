//! The engine against real nginx and HAProxy started by the test, and against servers that
//! refuse, stall or hang up: counts, status codes and error kinds are exact; the run as a
//! library user drives it (start, watch snapshots, cancel, keep the partial result).
//! Nothing here depends on how fast the machine is, and nothing needs a cluster.

// meshtop's test servers, shared with its own tests (this crate has no others).
#[allow(dead_code)]
#[path = "../../../tests/support/servers.rs"]
mod servers;

use std::time::Duration;

use bytes::Bytes;
use loadgen::{BenchConfig, BenchProgress, BenchResult, BenchSpec, Phase, engine};
use servers::{Behaviour, Haproxy, Misbehaving, Nginx, free_port};

/// `n` requests over `c` connections, with any other change to the spec.
async fn run(url: &str, n: u64, c: u32, change: impl FnOnce(&mut BenchConfig)) -> BenchResult {
    let mut config = BenchConfig::new(url);
    config.spec.duration = None;
    config.spec.requests = Some(n);
    config.spec.connections = c;
    change(&mut config);
    engine::run(config, |_| {}).await.expect("the run ends with a result")
}

fn spec(change: impl FnOnce(&mut BenchSpec)) -> impl FnOnce(&mut BenchConfig) {
    move |c| change(&mut c.spec)
}

#[tokio::test]
async fn exact_count_of_200s_across_keepalive_limits() {
    let nginx = Nginx::start();
    // 2500 requests on 2 connections: nginx closes each after 1000 (keepalive_requests),
    // and the generator reconnects without counting an error.
    let r = run(&nginx.url("/"), 2500, 2, spec(|s| s.threads = 2)).await;
    #[cfg(target_os = "linux")]
    assert_eq!(
        loadgen::quiet::connections_made_to(std::net::SocketAddr::from(([127, 0, 0, 1], nginx.port))),
        0,
        "a closed loop reads each response as it comes"
    );
    assert_eq!(r.requests, 2500);
    assert_eq!(r.responses, 2500);
    assert_eq!(r.status.get(&200), Some(&2500), "{:?}", r.status);
    assert_eq!(r.errors.total(), 0, "{:?}", r.error_samples);
    assert!(
        r.reconnects >= 1,
        "nginx's keep-alive limit should have forced a reconnect"
    );
    assert_eq!(r.latency.count, 2500);
    assert_eq!(r.body_sizes.min, 6);
    assert_eq!(r.body_sizes.max, 6);
    assert_eq!(r.series.iter().map(|s| s.requests).sum::<u64>(), 2500);
}

#[tokio::test]
async fn not_found_is_counted_by_status() {
    let nginx = Nginx::start();
    let r = run(&nginx.url("/missing"), 300, 3, |_| {}).await;
    assert_eq!(r.status.get(&404), Some(&300), "{:?}", r.status);
    assert_eq!(r.status.len(), 1);
    assert_eq!(r.success_ratio(), 0.0);
}

#[tokio::test]
async fn open_loop_with_warmup_counts_only_measured_requests() {
    let nginx = Nginx::start();
    let r = run(
        &nginx.url("/"),
        200,
        4,
        spec(|s| {
            s.rate = 400.0;
            s.warmup = Duration::from_millis(300);
        }),
    )
    .await;
    assert_eq!(r.requests, 200);
    assert_eq!(r.status.get(&200), Some(&200));
    assert!(r.warmup_requests > 0, "the warm-up sent requests that are not counted");
    assert_eq!(r.requested_rate, Some(400.0));
    assert_eq!(r.schedule_lag.as_ref().map(|l| l.count), Some(200));
    assert_eq!(r.latency_uncorrected.count, 200);
}

/// An open loop over plain HTTP/1.1 reads each response just before the lane's next send
/// (quiet connections, which no response wakes): the counts are as exact as ever, across
/// nginx's keep-alive limit.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn open_loop_on_quiet_connections_counts_exactly() {
    let nginx = Nginx::start();
    let r = run(
        &nginx.url("/"),
        2500,
        2,
        spec(|s| {
            s.rate = 5000.0;
            s.threads = 2;
        }),
    )
    .await;
    // Each lane's 1,250 requests took two connections, and all four were quiet ones.
    assert_eq!(r.connections_opened, 4);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], nginx.port));
    assert_eq!(
        loadgen::quiet::connections_made_to(addr),
        4,
        "the open loop's connections are quiet"
    );
    assert_eq!(r.requests, 2500);
    assert_eq!(r.responses, 2500);
    assert_eq!(r.status.get(&200), Some(&2500), "{:?}", r.status);
    assert_eq!(r.errors.total(), 0, "{:?}", r.error_samples);
    assert!(r.reconnects >= 1, "nginx closes each connection after 1000 requests");
    assert_eq!(r.latency.count, 2500);
    assert_eq!(r.latency_uncorrected.count, 2500);
    assert_eq!(r.schedule_lag.as_ref().map(|l| l.count), Some(2500));
    assert_eq!((r.body_sizes.min, r.body_sizes.max), (6, 6));
    assert_eq!(r.series.iter().map(|s| s.requests).sum::<u64>(), 2500);
}

/// Quiet connections wait for what is not there when they come back for it: a server that
/// never answers, one that hangs up, one whose body never ends.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn open_loop_failures_on_quiet_connections_are_counted_by_kind() {
    let open = |timeout_ms| {
        spec(move |s| {
            s.rate = 20.0;
            s.timeout = Duration::from_millis(timeout_ms);
        })
    };
    let server = Misbehaving::start(Behaviour::Stall);
    let r = run(&server.url(), 3, 1, open(200)).await;
    assert_eq!(r.errors.timeout, 3, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!((r.requests, r.responses), (3, 0));

    let server = Misbehaving::start(Behaviour::HangUp);
    let r = run(&server.url(), 4, 1, open(2000)).await;
    assert_eq!(r.errors.reset, 4, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!((r.requests, r.responses), (4, 0));

    let server = Misbehaving::start(Behaviour::Endless);
    let r = run(&server.url(), 2, 1, open(200)).await;
    assert_eq!(r.errors.timeout, 2, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!((r.requests, r.responses), (2, 0));

    // Sends further apart than the timeout: each request times out before the next is due.
    let slow = |timeout_ms| {
        spec(move |s| {
            s.rate = 4.0;
            s.timeout = Duration::from_millis(timeout_ms);
        })
    };
    let server = Misbehaving::start(Behaviour::Stall);
    let r = run(&server.url(), 3, 1, slow(100)).await;
    assert_eq!(r.errors.timeout, 3, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!(
        server.accepted.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "a timed-out connection is not reused"
    );
    // And answered ones, read well before the next send is due.
    let nginx = Nginx::start();
    let r = run(&nginx.url("/"), 3, 1, slow(10_000)).await;
    assert_eq!(r.status.get(&200), Some(&3), "{:?} {:?}", r.status, r.error_samples);
    assert_eq!(r.errors.total(), 0);
}

#[tokio::test]
async fn haproxy_answers_are_counted_exactly() {
    let haproxy = Haproxy::start();
    let url = format!("http://127.0.0.1:{}/", haproxy.port);
    let r = run(&url, 1000, 8, |_| {}).await;
    assert_eq!(r.status.get(&200), Some(&1000), "{:?} {:?}", r.status, r.error_samples);
    assert_eq!(r.errors.total(), 0);
    // POST with a body: every request carries it, the result keeps only its length.
    let r = run(&url, 50, 2, |c| {
        c.spec.method = "POST".into();
        c.spec.headers = vec![("Content-Type".into(), "application/json".into())];
        c.body = Bytes::from_static(br#"{"hello":"world"}"#);
    })
    .await;
    assert_eq!(r.status.get(&200), Some(&50));
    assert_eq!(r.body_bytes, 17);
    assert_eq!(r.config.method, "POST");
}

#[tokio::test]
async fn http2_cleartext_and_over_tls() {
    let nginx = Nginx::start();
    let h2c = format!("http://127.0.0.1:{}/", nginx.h2c_port);
    let h2 = spec(|s| {
        s.http2 = true;
        s.streams = 4;
    });
    let r = run(&h2c, 400, 2, h2).await;
    assert_eq!(r.protocol, "HTTP/2");
    assert_eq!(r.status.get(&200), Some(&400), "{:?} {:?}", r.status, r.error_samples);
    assert_eq!(r.connections_opened, 2);
    let tls = format!("https://127.0.0.1:{}/", nginx.tls_port);
    let h2_tls = spec(|s| {
        s.http2 = true;
        s.streams = 2;
        s.insecure = true;
    });
    let r = run(&tls, 200, 2, h2_tls).await;
    assert_eq!(r.status.get(&200), Some(&200), "{:?} {:?}", r.status, r.error_samples);
}

#[tokio::test]
async fn tls_self_signed_fails_verification_unless_insecure() {
    let nginx = Nginx::start();
    let url = format!("https://127.0.0.1:{}/", nginx.tls_port);
    let r = run(&url, 4, 1, |_| {}).await;
    assert_eq!(r.errors.tls, 4, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!(r.responses, 0);
    let r = run(&url, 300, 3, spec(|s| s.insecure = true)).await;
    assert_eq!(r.status.get(&200), Some(&300), "{:?}", r.error_samples);
    assert_eq!(r.errors.total(), 0);
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let url = format!("http://127.0.0.1:{}/", free_port());
    let r = run(&url, 5, 1, |_| {}).await;
    assert_eq!(r.requests, 5);
    assert_eq!(r.errors.connect, 5, "{:?}", r.errors);
    assert_eq!(r.responses, 0);
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let server = Misbehaving::start(Behaviour::Stall);
    let r = run(&server.url(), 3, 1, spec(|s| s.timeout = Duration::from_millis(200))).await;
    assert_eq!(r.errors.timeout, 3, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!(r.responses, 0);
}

#[tokio::test]
async fn server_that_hangs_up_is_a_reset() {
    let server = Misbehaving::start(Behaviour::HangUp);
    let r = run(&server.url(), 4, 1, |_| {}).await;
    assert_eq!(r.errors.reset, 4, "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!(r.requests, 4);
}

/// What results and shards carry is the caller's `shown` spec; what is sent is `spec`.
#[tokio::test]
async fn results_carry_the_shown_spec() {
    let nginx = Nginx::start();
    let r = run(&nginx.url("/"), 10, 1, |c| {
        c.spec.headers = vec![("X-Token".into(), "secret".into())];
        let mut shown = c.spec.clone();
        shown.headers[0].1 = "<hidden>".into();
        c.shown = Some(shown);
    })
    .await;
    assert_eq!(r.status.get(&200), Some(&10));
    assert_eq!(r.config.headers, vec![("X-Token".to_string(), "<hidden>".to_string())]);
}

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
}

#[tokio::test]
async fn run_calls_the_observer_until_finished() {
    let nginx = Nginx::start();
    let mut phases = Vec::new();
    let mut config = BenchConfig::new(nginx.url("/"));
    config.spec.connections = 2;
    config.spec.duration = None;
    config.spec.requests = Some(500);
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

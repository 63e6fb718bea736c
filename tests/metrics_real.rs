//! Golden-signal maths on the real dumps in ../shared/fixtures/real. Expected values are
//! computed here by plain line scanning, independently of meshtop's parser.

mod support;

use std::time::Duration;

use meshtop::metrics::report::{MeshArg, Report, report};

/// Sum of the values of every sample line of `metric` whose text contains all of `having`.
fn scan_sum(text: &str, metric: &str, having: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .filter(|l| having.iter().all(|h| l.contains(h)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn parse_one(text: &str) -> Report {
    report(text, None, Duration::from_secs(10), MeshArg::Auto).unwrap()
}

#[test]
fn linkerd_proxy_dump() {
    let Some(dir) = support::real_fixtures() else { return };
    let text = support::read(&dir.join("linkerd/metrics/proxy-sampleMetrics.txt"));
    let r = parse_one(&text);
    assert_eq!(format!("{:?}", r.dialect), "Linkerd");
    let total: f64 = r.groups.iter().map(|g| g.requests).sum();
    assert_eq!(total, scan_sum(&text, "response_total", &[]));
    assert_eq!(total, 29.0);
    let g = r.groups.iter().find(|g| g.requests > 0.0).unwrap();
    let success = scan_sum(&text, "response_total", &["classification=\"success\""]);
    assert_eq!(g.success_ratio, Some(success / total));
    // tls="no_identity" everywhere: no mTLS.
    assert_eq!(g.mtls_ratio, Some(0.0));
    // All 29 responses are in the first bucket (le="1", count 29): interpolating from 0,
    // p50 = 0.5 ms, p90 = 0.9, p99 = 0.99.
    assert_eq!(scan_sum(&text, "response_latency_ms_bucket", &["le=\"1\""]), 29.0);
    assert_eq!(
        (g.latency_ms.p50, g.latency_ms.p90, g.latency_ms.p99),
        (Some(0.5), Some(0.9), Some(0.99))
    );
    // Open connections (a gauge) by direction.
    let tcp: f64 = r.groups.iter().map(|g| g.tcp_open_connections).sum();
    assert_eq!(tcp, scan_sum(&text, "tcp_open_connections", &[]));
}

#[test]
fn istio_dumps() {
    let Some(dir) = support::real_fixtures() else { return };
    // Envoy-only 15090 dump: source-reported requests from mongodb-v1 to three hosts.
    let text = support::read(&dir.join("istio/metrics/istio-1.11-envoy-15090.txt"));
    let r = parse_one(&text);
    let total: f64 = r.groups.iter().map(|g| g.requests).sum();
    assert_eq!(total, scan_sum(&text, "istio_requests_total", &[]));
    // Requests are all outbound; mongodb's own inbound side is TCP only: one connection
    // opened and one closed, so none open now.
    assert!(
        r.groups
            .iter()
            .filter(|g| g.requests > 0.0)
            .all(|g| g.direction == "outbound" && g.name.starts_with("default/mongodb-v1 → "))
    );
    let inbound: Vec<_> = r.groups.iter().filter(|g| g.direction == "inbound").collect();
    assert_eq!(inbound.len(), 1);
    assert_eq!(
        (
            inbound[0].name.as_str(),
            inbound[0].requests,
            inbound[0].tcp_open_connections
        ),
        ("default/mongodb-v1", 0.0, 0.0)
    );
    assert_eq!(
        scan_sum(&text, "istio_tcp_connections_opened_total", &[])
            - scan_sum(&text, "istio_tcp_connections_closed_total", &[]),
        0.0
    );
    let fivexx = scan_sum(&text, "istio_requests_total", &["response_code=\"5"]);
    let ok = total - fivexx;
    let got_ok: f64 = r
        .groups
        .iter()
        .map(|g| g.requests * g.success_ratio.unwrap_or(0.0))
        .sum();
    assert_eq!(got_ok, ok);

    // Merged 15020 dump: one destination-reported request to reviews-v1 over mTLS, in the
    // (1000, 2500] ms bucket: p50 = 1000 + 1500 * 0.5, p90 = 1000 + 1500 * 0.9, ...
    let text = support::read(&dir.join("istio/metrics/istio-1.11-merged-15020.txt"));
    let r = parse_one(&text);
    assert_eq!(r.groups.len(), 1);
    let g = &r.groups[0];
    assert_eq!(
        (g.direction, g.name.as_str(), g.requests),
        ("inbound", "default/reviews-v1", 1.0)
    );
    assert_eq!(
        scan_sum(&text, "istio_request_duration_milliseconds_bucket", &["le=\"1000\""]),
        0.0
    );
    assert_eq!(
        scan_sum(&text, "istio_request_duration_milliseconds_bucket", &["le=\"2500\""]),
        1.0
    );
    assert_eq!(
        (g.latency_ms.p50, g.latency_ms.p90, g.latency_ms.p99),
        (Some(1750.0), Some(2350.0), Some(2485.0))
    );
    assert_eq!(g.mtls_ratio, Some(1.0));
}

#[test]
fn two_dumps_give_rates_and_survive_counter_resets() {
    let a = "response_total{direction=\"inbound\",authority=\"web:80\",classification=\"success\",tls=\"true\"} 100\n\
             response_total{direction=\"inbound\",authority=\"web:80\",classification=\"failure\",tls=\"true\"} 10\n";
    let b = "response_total{direction=\"inbound\",authority=\"web:80\",classification=\"success\",tls=\"true\"} 154\n\
             response_total{direction=\"inbound\",authority=\"web:80\",classification=\"failure\",tls=\"true\"} 16\n";
    let r = report(a, Some(b), Duration::from_secs(10), MeshArg::Auto).unwrap();
    let g = &r.groups[0];
    assert_eq!((g.requests, g.rps, g.success_ratio), (60.0, Some(6.0), Some(0.9)));
    // The proxy restarted between dumps: the later counters are everything since.
    let restarted = "response_total{direction=\"inbound\",authority=\"web:80\",classification=\"success\",tls=\"true\"} 27\n\
                     response_total{direction=\"inbound\",authority=\"web:80\",classification=\"failure\",tls=\"true\"} 3\n";
    let r = report(a, Some(restarted), Duration::from_secs(10), MeshArg::Auto).unwrap();
    assert_eq!((r.groups[0].requests, r.groups[0].rps), (30.0, Some(3.0)));
}

#[test]
fn unknown_or_garbage_input_is_a_clear_error() {
    let e = report("garbage here\n\u{0}\u{1}", None, Duration::from_secs(1), MeshArg::Auto).unwrap_err();
    assert!(e.to_string().starts_with("no mesh request metrics recognised"), "{e}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args(["metrics", "parse", "/nonexistent/dump.txt"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    // A file that is not there is bad input: exit code 2, one line naming the file.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "meshtop: /nonexistent/dump.txt: No such file or directory (os error 2)\n"
    );
}

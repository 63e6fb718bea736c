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
    // TCP: only the workload's own connections count, inbound from its clients (peer="src")
    // and outbound to its servers (peer="dst"). The proxy's loopback legs (outbound
    // peer="src") carry the same bytes again, and port 4191 is the proxy's admin server.
    let own = |metric: &str| {
        scan_sum(&text, metric, &["direction=\"outbound\",peer=\"dst\""])
            + scan_sum(&text, metric, &["direction=\"inbound\",peer=\"src\""])
            - scan_sum(
                &text,
                metric,
                &["direction=\"inbound\",peer=\"src\"", "target_port=\"4191\""],
            )
    };
    let sum = |f: fn(&meshtop::metrics::report::Row) -> f64| r.groups.iter().map(f).sum::<f64>();
    assert_eq!(sum(|g| g.tcp_open_connections), own("tcp_open_connections"));
    assert_eq!(sum(|g| g.tcp_opened), own("tcp_open_total"));
    assert_eq!(sum(|g| g.bytes_received), own("tcp_read_bytes_total"));
    assert_eq!(sum(|g| g.bytes_sent), own("tcp_write_bytes_total"));
    // The dump's one app connection: to opaque-pod, 8,323 bytes read (its answers) and 3,763
    // written; nothing of the admin port's 63,256 written bytes.
    let opaque = r
        .groups
        .iter()
        .find(|g| g.name == "linkerd-opaque-ports-test/opaque-pod")
        .unwrap();
    assert_eq!(
        (
            opaque.direction,
            opaque.protocol,
            opaque.bytes_received,
            opaque.bytes_sent,
            opaque.tcp_open
        ),
        ("outbound", "tcp", 8323.0, 3763.0, 1.0)
    );
    assert_eq!(sum(|g| g.bytes_sent), 3763.0);
}

#[test]
fn ztunnel_dump_gives_l4_figures() {
    let Some(dir) = support::real_fixtures() else { return };
    // ztunnel (Istio 1.24): TCP families only, no labels at all.
    let text = support::read(&dir.join("istio/metrics/ztunnel-minimal.txt"));
    let r = parse_one(&text);
    assert_eq!(format!("{:?}", r.dialect), "Istio");
    assert!(r.found[0].starts_with("ztunnel 1.24.0 "), "{:?}", r.found);
    assert!(
        r.found.iter().any(|f| f.contains("L4 (TCP) figures only")),
        "{:?}",
        r.found
    );
    assert_eq!(r.groups.len(), 1);
    let g = &r.groups[0];
    assert_eq!(
        (g.direction, g.name.as_str(), g.protocol, g.requests),
        ("inbound", "unknown", "tcp", 0.0)
    );
    let v = |m: &str| scan_sum(&text, m, &[]);
    // Unreported side counts as the destination's: received bytes are what it read.
    assert_eq!(
        (g.tcp_opened, g.tcp_closed, g.tcp_open, g.bytes_received, g.bytes_sent),
        (
            v("istio_tcp_connections_opened_total"),
            v("istio_tcp_connections_closed_total"),
            v("istio_tcp_connections_opened_total") - v("istio_tcp_connections_closed_total"),
            v("istio_tcp_received_bytes_total"),
            v("istio_tcp_sent_bytes_total"),
        )
    );
    assert_eq!((g.tcp_open, g.bytes_received), (2.0, 2048.0));
}

#[test]
fn istio_sidecar_tcp_bytes_by_side() {
    let Some(dir) = support::real_fixtures() else { return };
    // mongodb-v1's sidecar: ratings-v2 → mongodb over TCP, reported by the destination.
    let text = support::read(&dir.join("istio/metrics/istio-1.11-envoy-15090.txt"));
    let r = parse_one(&text);
    let g = r.groups.iter().find(|g| g.direction == "inbound").unwrap();
    let dst = ["reporter=\"destination\""];
    assert_eq!(
        (g.protocol, g.bytes_received, g.bytes_sent, g.tcp_opened, g.tcp_closed),
        (
            "tcp",
            scan_sum(&text, "istio_tcp_received_bytes_total", &dst),
            scan_sum(&text, "istio_tcp_sent_bytes_total", &dst),
            scan_sum(&text, "istio_tcp_connections_opened_total", &dst),
            scan_sum(&text, "istio_tcp_connections_closed_total", &dst),
        )
    );
    assert_eq!((g.bytes_received, g.bytes_sent), (341.0, 429.0));
    // Its HTTP calls out (apt mirrors): no TCP bytes, but body sizes; the source read the
    // answers (response bytes) and wrote the requests.
    let out: Vec<_> = r.groups.iter().filter(|g| g.direction == "outbound").collect();
    let sum = |f: fn(&meshtop::metrics::report::Row) -> f64| out.iter().map(|g| f(g)).sum::<f64>();
    assert_eq!(
        sum(|g| g.bytes_received),
        scan_sum(&text, "istio_response_bytes_sum", &["reporter=\"source\""])
    );
    assert_eq!(
        sum(|g| g.bytes_sent),
        scan_sum(&text, "istio_request_bytes_sum", &["reporter=\"source\""])
    );
    assert_eq!(sum(|g| g.bytes_sent), 9100.0 + 6150.0 + 57250.0 + 2300.0 + 1150.0 * 3.0);
    // The same dump read as plain Envoy: per-cluster upstream bytes and connections.
    let r = report(&text, None, Duration::from_secs(10), MeshArg::Envoy).unwrap();
    let xds = r.groups.iter().find(|g| g.name == "xds-grpc").unwrap();
    let c = ["cluster_name=\"xds-grpc\""];
    assert_eq!(
        (xds.bytes_received, xds.bytes_sent, xds.tcp_opened),
        (
            scan_sum(&text, "envoy_cluster_upstream_cx_rx_bytes_total", &c),
            scan_sum(&text, "envoy_cluster_upstream_cx_tx_bytes_total", &c),
            scan_sum(&text, "envoy_cluster_upstream_cx_total", &c),
        )
    );
    assert_eq!((xds.bytes_received, xds.tcp_opened), (1_183_252.0, 2.0));
}

/// A ztunnel exposition as Istio 1.24's ztunnel writes it (OpenMetrics: `# UNIT`, `_total`
/// samples under a `counter` family, `# EOF`), with both sides of one connection: the
/// source's ztunnel reports `reporter="source"`, the destination's `reporter="destination"`.
const ZTUNNEL: &str = r#"# HELP istio_tcp_connections_opened The total number of TCP connections opened.
# TYPE istio_tcp_connections_opened counter
istio_tcp_connections_opened_total{reporter="destination",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 12
istio_tcp_connections_opened_total{reporter="source",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 12
# HELP istio_tcp_connections_closed The total number of TCP connections closed.
# TYPE istio_tcp_connections_closed counter
istio_tcp_connections_closed_total{reporter="destination",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 10
istio_tcp_connections_closed_total{reporter="source",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 10
# HELP istio_tcp_received_bytes The size of total bytes received during request in case of a TCP connection.
# TYPE istio_tcp_received_bytes counter
# UNIT istio_tcp_received_bytes bytes
istio_tcp_received_bytes_total{reporter="destination",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 4800
istio_tcp_received_bytes_total{reporter="source",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 4800
# HELP istio_tcp_sent_bytes The size of total bytes sent during response in case of a TCP connection.
# TYPE istio_tcp_sent_bytes counter
# UNIT istio_tcp_sent_bytes bytes
istio_tcp_sent_bytes_total{reporter="destination",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 96000
istio_tcp_sent_bytes_total{reporter="source",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls"} 96000
# TYPE istio_build gauge
istio_build{component="ztunnel",tag="1.24.0"} 1
# EOF
"#;

#[test]
fn ztunnel_openmetrics_each_side_once() {
    let r = parse_one(ZTUNNEL);
    assert!(r.found[0].starts_with("ztunnel 1.24.0"), "{:?}", r.found);
    let names: Vec<(&str, &str)> = r.groups.iter().map(|g| (g.direction, g.name.as_str())).collect();
    assert_eq!(
        names,
        [
            ("inbound", "ambient/httpbin"),
            ("outbound", "ambient/sleep → httpbin.ambient.svc.cluster.local")
        ]
    );
    // httpbin read the requests (4,800 B) and wrote the answers (96,000 B); sleep, the
    // source, wrote the requests and read the answers. 12 opened, 10 closed: 2 open.
    let (i, o) = (&r.groups[0], &r.groups[1]);
    assert_eq!(
        (i.bytes_received, i.bytes_sent, i.tcp_opened, i.tcp_open),
        (4800.0, 96000.0, 12.0, 2.0)
    );
    assert_eq!(
        (o.bytes_received, o.bytes_sent, o.tcp_opened, o.tcp_open),
        (96000.0, 4800.0, 12.0, 2.0)
    );
    // Two dumps 10 s apart: per-second rates.
    let later = ZTUNNEL
        .replace("} 12\n", "} 32\n")
        .replace("} 4800\n", "} 9800\n")
        .replace("} 96000\n", "} 196000\n");
    let r = report(ZTUNNEL, Some(&later), Duration::from_secs(10), MeshArg::Auto).unwrap();
    let rates = r.groups[0].rates.as_ref().unwrap();
    assert_eq!(
        (rates.tcp_opened, rates.bytes_received, rates.bytes_sent),
        (2.0, 500.0, 10_000.0)
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["groups"][0]["rates"]["bytes_sent"], 10_000.0);
    assert_eq!(json["groups"][0]["protocol"], "tcp");
    assert_eq!(json["groups"][0]["tcp_open"], 22.0, "32 opened, 10 closed");
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
    // reviews-v1 read a 545-byte request body and wrote a 2,150-byte answer.
    assert_eq!((g.bytes_received, g.bytes_sent), (545.0, 2150.0));
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

#[test]
fn traefik_dumps_leave_traefik_s_own_traffic_out() {
    let Some(dir) = support::real_fixtures() else { return };
    // Both dumps hold only Traefik's own entrypoints (traefik, readiness) and Traefik Mesh's
    // readiness service: 70,424 health checks that are not the mesh's traffic.
    for file in ["traefik_proxy.txt", "traefik_proxy_v3.txt"] {
        let text = support::read(&dir.join("traefik-mesh/metrics").join(file));
        assert_eq!(
            scan_sum(&text, "traefik_service_requests_total", &["readiness@http"]),
            70_424.0
        );
        let r = parse_one(&text);
        assert_eq!(format!("{:?}", r.dialect), "Traefik", "{file}");
        assert!(r.found[0].starts_with("traefik"), "{:?}", r.found);
        assert!(r.groups.is_empty(), "{file}: {:?}", r.groups);
    }
}

#[test]
fn traefik_app_traffic_by_service_and_entrypoint() {
    // Traefik v3's names (one open-connections gauge with either label), seconds buckets.
    let text = r#"# TYPE traefik_entrypoint_requests_total counter
traefik_entrypoint_requests_total{code="200",entrypoint="web",method="GET",protocol="http"} 90
traefik_entrypoint_requests_total{code="502",entrypoint="web",method="GET",protocol="http"} 10
traefik_entrypoint_requests_total{code="200",entrypoint="traefik",method="GET",protocol="http"} 5000
traefik_service_requests_total{code="200",method="GET",protocol="http",service="shop-web-80@kubernetes"} 90
traefik_service_requests_total{code="502",method="GET",protocol="http",service="shop-web-80@kubernetes"} 10
traefik_service_requests_total{code="200",method="GET",protocol="http",service="prometheus@internal"} 700
traefik_service_request_duration_seconds_bucket{code="200",method="GET",protocol="http",service="shop-web-80@kubernetes",le="0.1"} 80
traefik_service_request_duration_seconds_bucket{code="200",method="GET",protocol="http",service="shop-web-80@kubernetes",le="0.3"} 90
traefik_service_request_duration_seconds_bucket{code="200",method="GET",protocol="http",service="shop-web-80@kubernetes",le="+Inf"} 90
traefik_service_request_duration_seconds_bucket{code="502",method="GET",protocol="http",service="shop-web-80@kubernetes",le="0.1"} 10
traefik_service_request_duration_seconds_bucket{code="502",method="GET",protocol="http",service="shop-web-80@kubernetes",le="0.3"} 10
traefik_service_request_duration_seconds_bucket{code="502",method="GET",protocol="http",service="shop-web-80@kubernetes",le="+Inf"} 10
traefik_open_connections{method="GET",protocol="http",service="shop-web-80@kubernetes"} 3
traefik_open_connections{entrypoint="web",method="GET",protocol="http"} 4
"#;
    let r = parse_one(text);
    assert_eq!(format!("{:?}", r.dialect), "Traefik");
    let names: Vec<(&str, &str)> = r.groups.iter().map(|g| (g.direction, g.name.as_str())).collect();
    assert_eq!(names, [("inbound", "web"), ("outbound", "shop-web-80@kubernetes")]);
    let (ep, svc) = (&r.groups[0], &r.groups[1]);
    assert_eq!((ep.requests, ep.success_ratio, ep.tcp_open), (100.0, Some(0.9), 4.0));
    assert_eq!((svc.requests, svc.success_ratio, svc.tcp_open), (100.0, Some(0.9), 3.0));
    // 90 of 100 within 100 ms: p50 = 100 × 50/90, p99 inside (100, 300] ms.
    assert_eq!(svc.latency_ms.p50, Some(100.0 * 50.0 / 90.0));
    assert_eq!(svc.latency_ms.p99, Some(100.0 + 200.0 * (99.0 - 90.0) / 10.0));
}

#[test]
fn hubble_http_v2_by_reporter() {
    // Cilium's httpV2 metrics with labelsContext=source_namespace,source_workload,
    // destination_namespace,destination_workload: the server side and the client side of
    // the same 40 requests, seconds buckets.
    let l = |reporter: &str| {
        format!(
            r#"destination_namespace="shop",destination_workload="web",method="GET",protocol="HTTP/1.1",reporter="{reporter}",source_namespace="shop",source_workload="loadgen""#
        )
    };
    let mut text = String::from("# TYPE hubble_http_requests_total counter\n");
    for reporter in ["server", "client"] {
        let l = l(reporter);
        text += &format!(
            "hubble_http_requests_total{{{l},status=\"200\"}} 36\nhubble_http_requests_total{{{l},status=\"503\"}} 4\n\
             hubble_http_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 20\n\
             hubble_http_request_duration_seconds_bucket{{{l},le=\"0.025\"}} 40\n\
             hubble_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 40\n"
        );
    }
    let r = parse_one(&text);
    assert_eq!(format!("{:?}", r.dialect), "Hubble");
    let names: Vec<(&str, &str)> = r.groups.iter().map(|g| (g.direction, g.name.as_str())).collect();
    assert_eq!(
        names,
        [("inbound", "shop/web"), ("outbound", "shop/loadgen → shop/web")]
    );
    let g = &r.groups[0];
    assert_eq!((g.requests, g.success_ratio), (40.0, Some(0.9)));
    // Half within 5 ms: the median is the bucket's top.
    assert_eq!(g.latency_ms.p50, Some(5.0));
    // Attributed like ztunnel's: web's inbound from the server side, loadgen's outbound and
    // edge from the client side, 40 requests each, not 80.
    let e = meshtop::metrics::exposition::parse(&text);
    let groups = meshtop::metrics::golden::totals(&e, meshtop::metrics::golden::Dialect::Hubble);
    assert!(meshtop::metrics::golden::reports_for_others(&e));
    let d = meshtop::metrics::golden::described(&groups, true);
    assert_eq!(d["shop/web"].own.requests, 40.0);
    assert_eq!(d["shop/loadgen"].own.requests, 40.0);
    assert!(d["shop/loadgen"].own_is_outbound);
    assert_eq!(d["shop/loadgen"].edges["shop/web"].requests, 40.0);
}

//! Istio ambient through the fold: ztunnel's and a waypoint's expositions, parsed as the
//! scraper parses them, attributed to the workloads they describe (each side once, L4 from
//! ztunnel and L7 from the waypoint), with the node proxy's cost split by bytes. Expected
//! figures are computed here from the exposition numbers.

mod support;

use k8s_openapi::api::core::v1::Pod;
use meshtop::app::{Action, Keymap, Stamped, State, Update, apply_action, fold};
use meshtop::metrics::{exposition, golden};
use meshtop::model::UsageOrigin;
use meshtop::source::kube::pod_info;
use support::scenario::{T0, updates, usage};

const MI: u64 = 1024 * 1024;

fn pod(meta: &str, containers: &str, ip: u8) -> Update {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n{meta}\n  creationTimestamp: \"{}\"\nspec:\n  nodeName: kwok-node-0\n{containers}\nstatus:\n  phase: Running\n  podIP: 10.77.40.{ip}\n  containerStatuses: [{{name: app, ready: true}}, {{name: istio-proxy, ready: true}}]\n",
        jiff::Timestamp::from_millisecond(T0 - 300_000).unwrap()
    );
    let p: Pod = serde_yaml::from_str(&yaml).unwrap();
    Update::PodApplied { pod: pod_info(&p) }
}

/// One side's series of the sleep → httpbin TCP connection, as ztunnel writes them.
fn ztunnel_series(reporter: &str, opened: u64, closed: u64, received: u64, sent: u64) -> String {
    let l = format!(
        r#"reporter="{reporter}",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",request_protocol="tcp",connection_security_policy="mutual_tls""#
    );
    format!(
        "istio_tcp_connections_opened_total{{{l}}} {opened}\nistio_tcp_connections_closed_total{{{l}}} {closed}\n\
         istio_tcp_received_bytes_total{{{l}}} {received}\nistio_tcp_sent_bytes_total{{{l}}} {sent}\n"
    )
}

/// ztunnel on the node of both pods: it reports the connection as the source's and as the
/// destination's ztunnel (one node, one ztunnel: both series in one exposition). The source
/// side's byte counts are made 3x the destination's, so a figure taken from the wrong side
/// shows.
fn ztunnel(opened: u64, received: u64, sent: u64) -> String {
    format!(
        "# TYPE istio_tcp_connections_opened counter\n{}{}istio_build{{component=\"ztunnel\",tag=\"1.24.0\"}} 1\n# EOF\n",
        ztunnel_series("destination", opened, opened - 2, received, sent),
        ztunnel_series("source", opened, opened - 2, received * 3, sent * 3)
    )
}

/// The waypoint in front of httpbin: requests, 5xx, latency buckets and body sizes.
fn waypoint(requests: u64, failed: u64, fast: u64) -> String {
    let l = r#"reporter="waypoint",source_workload="sleep",source_workload_namespace="ambient",destination_workload="httpbin",destination_workload_namespace="ambient",destination_service="httpbin.ambient.svc.cluster.local",connection_security_policy="mutual_tls""#;
    format!(
        "istio_requests_total{{{l},response_code=\"200\"}} {}\nistio_requests_total{{{l},response_code=\"503\"}} {failed}\n\
         istio_request_duration_milliseconds_bucket{{{l},le=\"10\"}} {fast}\n\
         istio_request_duration_milliseconds_bucket{{{l},le=\"100\"}} {requests}\n\
         istio_request_duration_milliseconds_bucket{{{l},le=\"+Inf\"}} {requests}\n\
         istio_request_bytes_sum{{{l}}} 999999\n",
        requests - failed
    )
}

/// A scrape as the scraper makes it: parse, group, describe, by direction.
fn scraped(ns: &str, pod: &str, text: &str, node_proxy: bool) -> Update {
    let e = exposition::parse(text);
    let groups = golden::totals(&e, golden::Dialect::Istio);
    let described = golden::described(&groups, node_proxy || golden::reports_for_others(&e));
    let (inbound, outbound, edges) = golden::by_direction(&groups);
    Update::ProxyScraped {
        namespace: ns.into(),
        pod: pod.into(),
        dialect: golden::Dialect::Istio,
        inbound,
        outbound,
        edges,
        described,
        bad_lines: e.bad_lines,
        first_bad_line: e.errors.first().map(ToString::to_string),
    }
}

fn ambient_state() -> State {
    let mut s = State::new(Keymap::default());
    let mut u: Vec<Update> = updates().into_iter().map(|s| s.update).collect();
    let rs = |name: &str, hash: &str| {
        format!(
            "  labels: {{app: {name}, pod-template-hash: {hash}}}\n  annotations: {{ambient.istio.io/redirection: enabled}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: {name}-{hash}, uid: {name}, controller: true}}]"
        )
    };
    u.extend([
        pod(&format!("  name: httpbin-5c8f-a1\n  namespace: ambient\n{}", rs("httpbin", "5c8f")), "  containers:\n  - {name: app, image: kennethreitz/httpbin}", 2),
        pod(&format!("  name: sleep-6d9c-b2\n  namespace: ambient\n{}", rs("sleep", "6d9c")), "  containers:\n  - {name: app, image: curlimages/curl}", 3),
        pod(
            "  name: waypoint-7f6d-c3\n  namespace: ambient\n  labels: {gateway.istio.io/managed: istio.io-mesh-controller, istio.io/gateway-name: waypoint, pod-template-hash: 7f6d}\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: waypoint-7f6d, uid: w, controller: true}]",
            "  containers:\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}",
            4,
        ),
    ]);
    u.push(Update::PodUsage {
        usages: vec![
            usage("istio-system", "ztunnel-abcde", &[("istio-proxy", 8.0, 30 * MI)]),
            usage("ambient", "httpbin-5c8f-a1", &[("app", 12.0, 40 * MI)]),
            usage("ambient", "sleep-6d9c-b2", &[("app", 2.0, 10 * MI)]),
            usage("ambient", "waypoint-7f6d-c3", &[("istio-proxy", 5.0, 50 * MI)]),
        ],
        origin: UsageOrigin::MetricsServer,
    });
    for update in u {
        fold(&mut s, Stamped { at: T0, update });
    }
    // Two scrapes of each, 10 s apart: 20 connections, 4,800 B up and 96,000 B down; 500
    // requests through the waypoint, 25 of them 503, 400 within 10 ms.
    for (at, opened, received, sent, requests, failed, fast) in [
        (T0 + 1_000, 10, 1_000, 20_000, 1_000, 10, 900),
        (T0 + 11_000, 30, 5_800, 116_000, 1_500, 35, 1_300),
    ] {
        for update in [
            scraped("istio-system", "ztunnel-abcde", &ztunnel(opened, received, sent), false),
            scraped("ambient", "waypoint-7f6d-c3", &waypoint(requests, failed, fast), false),
        ] {
            fold(&mut s, Stamped { at, update });
        }
    }
    s
}

fn row<'a>(s: &'a State, ns: &str, name: &str) -> &'a meshtop::app::figures::WorkloadRow {
    s.workload_rows
        .get(&(ns.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("no row {ns}/{name}: {:?}", s.workload_rows.keys().collect::<Vec<_>>()))
}

#[test]
fn ambient_workloads_get_their_traffic_once() {
    let s = ambient_state();
    let httpbin = row(&s, "ambient", "httpbin");
    let r = httpbin.rates.expect("httpbin has figures");
    // L7 from the waypoint over the 10 s between scrapes: 500 requests, 25 failed.
    assert_eq!(r.rps, 50.0);
    assert_eq!(r.success, Some(475.0 / 500.0));
    // 400 of 500 within 10 ms: p50 inside (0, 10], p99 inside (10, 100].
    assert_eq!(r.p50_ms, Some(10.0 * 250.0 / 400.0));
    assert_eq!(r.p99_ms, Some(10.0 + 90.0 * (495.0 - 400.0) / 100.0));
    // L4 from ztunnel's destination side only (not the source side too, not the waypoint's
    // body bytes): it read the requests, wrote the answers.
    assert_eq!((r.read_bps, r.write_bps), (Some(480.0), Some(9_600.0)));
    assert_eq!(r.tcp_opened_per_s, Some(2.0));
    assert_eq!(r.tcp_open, 2.0);
    assert_eq!(httpbin.via.len(), 2, "{:?}", httpbin.via);
    // sleep, a pure client: its outbound side from ztunnel's source series, and its edge.
    let sleep = row(&s, "ambient", "sleep").rates.expect("sleep has figures");
    assert_eq!(
        (sleep.rps, sleep.read_bps, sleep.write_bps),
        (0.0, Some(28_800.0), Some(1_440.0))
    );
    let edge = &s.edges[&(
        "ambient/sleep".to_string(),
        "httpbin.ambient.svc.cluster.local".to_string(),
    )];
    assert_eq!(
        (edge.rates.read_bps, edge.rates.write_bps),
        (Some(28_800.0), Some(1_440.0))
    );
    // The calls appear once among the edges: as sleep's, not also as ztunnel's.
    let to_httpbin: Vec<&String> = s
        .edges
        .keys()
        .filter(|(_, dst)| dst.starts_with("httpbin."))
        .map(|(src, _)| src)
        .collect();
    assert_eq!(to_httpbin, ["ambient/sleep"]);
    // ztunnel's 8m CPU and 30Mi split by the bytes of each workload it carries: httpbin's
    // side moved a quarter of them (sleep's side counts 3x), so a quarter is its proxy cost.
    assert_eq!(httpbin.cost.cpu.proxy, Some(2.0));
    assert_eq!(httpbin.cost.mem.proxy, Some(30 * MI / 4));
    assert_eq!(httpbin.cost.cpu.app, Some(12.0));
    match httpbin.cost.tax {
        meshtop::app::figures::Tax::Share { cpu, .. } => assert_eq!(cpu, Some(2.0 / 14.0)),
        other => panic!("{other:?}"),
    }
    // The pods have no proxy of their own and no figures of their own.
    let pod = &s.pods[&("ambient".to_string(), "httpbin-5c8f-a1".to_string())];
    assert_eq!((pod.mesh.model, pod.rates), (meshtop::mesh::Model::Ambient, None));
}

/// A usage list in which only ztunnel's CPU moved re-sums the workloads it carries, not
/// only ztunnel's own row (a usage list re-sums only what moved).
#[test]
fn a_node_proxys_new_usage_reaches_the_workloads_it_carries() {
    let mut s = ambient_state();
    let same = |ztunnel_cpu: f64| Update::PodUsage {
        usages: vec![
            usage(
                "istio-system",
                "ztunnel-abcde",
                &[("istio-proxy", ztunnel_cpu, 30 * MI)],
            ),
            usage("ambient", "httpbin-5c8f-a1", &[("app", 12.0, 40 * MI)]),
            usage("ambient", "sleep-6d9c-b2", &[("app", 2.0, 10 * MI)]),
            usage("ambient", "waypoint-7f6d-c3", &[("istio-proxy", 5.0, 50 * MI)]),
        ],
        origin: UsageOrigin::MetricsServer,
    };
    fold(
        &mut s,
        Stamped {
            at: T0 + 12_000,
            update: same(8.0),
        },
    );
    assert_eq!(row(&s, "ambient", "httpbin").cost.cpu.proxy, Some(2.0));
    fold(
        &mut s,
        Stamped {
            at: T0 + 27_000,
            update: same(16.0),
        },
    );
    assert_eq!(row(&s, "ambient", "httpbin").cost.cpu.proxy, Some(4.0));
    assert_eq!(row(&s, "ambient", "httpbin").cost.cpu.app, Some(12.0));
}

#[test]
fn ambient_views_and_detail() {
    let mut s = ambient_state();
    for a in [Action::ShowPods, Action::StartFilter] {
        apply_action(&mut s, a);
    }
    for c in "ns=ambient".chars() {
        apply_action(&mut s, Action::InputChar(c));
    }
    apply_action(&mut s, Action::InputSubmit);
    insta::assert_snapshot!("ambient_pods", support::render_text(&s, 250, 9));
    apply_action(&mut s, Action::Select);
    insta::assert_snapshot!("ambient_pod_detail", support::render_text(&s, 160, 34));
    for a in [Action::ShowWorkloads, Action::StartFilter] {
        apply_action(&mut s, a);
    }
    for c in "ns=ambient".chars() {
        apply_action(&mut s, Action::InputChar(c));
    }
    apply_action(&mut s, Action::InputSubmit);
    insta::assert_snapshot!("ambient_workloads", support::render_text(&s, 200, 9));
}

/// An ingress gateway's Envoy reports its calls as their source: its own row, and its
/// routes as edges (it reports for nobody else).
#[test]
fn a_gateway_is_a_row_with_its_routes_as_edges() {
    let mut s = ambient_state();
    fold(
        &mut s,
        Stamped {
            at: T0,
            update: pod(
                "  name: istio-ingressgateway-6b7c-g1\n  namespace: istio-system\n  labels: {app: istio-ingressgateway, istio: ingressgateway, pod-template-hash: 6b7c}\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: istio-ingressgateway-6b7c, uid: g, controller: true}]",
                "  containers:\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}",
                9,
            ),
        },
    );
    let l = r#"reporter="source",source_workload="istio-ingressgateway",source_workload_namespace="istio-system",destination_workload="productpage-v1",destination_workload_namespace="bookinfo",destination_service="productpage.bookinfo.svc.cluster.local",connection_security_policy="unknown""#;
    for (at, ok, failed) in [(T0 + 1_000, 100, 0), (T0 + 11_000, 390, 10)] {
        let text = format!(
            "istio_requests_total{{{l},response_code=\"200\"}} {ok}\nistio_requests_total{{{l},response_code=\"503\"}} {failed}\n"
        );
        fold(
            &mut s,
            Stamped {
                at,
                update: scraped("istio-system", "istio-ingressgateway-6b7c-g1", &text, false),
            },
        );
    }
    let gw = row(&s, "istio-system", "istio-ingressgateway");
    let r = gw.rates.expect("the gateway has figures");
    assert_eq!((r.rps, r.success), (30.0, Some(290.0 / 300.0)));
    assert!(gw.via.is_empty(), "nobody reports for it: {:?}", gw.via);
    let edge = &s.edges[&(
        "istio-system/istio-ingressgateway".to_string(),
        "productpage.bookinfo.svc.cluster.local".to_string(),
    )];
    assert_eq!(edge.rates.rps, 30.0);
    assert!(
        !s.carried
            .contains_key(&("bookinfo".to_string(), "productpage-v1".to_string()))
    );
}

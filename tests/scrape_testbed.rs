//! Direct proxy scrapes through the API server's pod proxy, against a stand-in proxy
//! (tests/standin/proxy.py) that forwards real HTTP traffic in a pod's network namespace
//! and exports that traffic in Istio's and Linkerd's exact metric formats.

mod support;

use std::time::Duration;

use meshtop::app::{Keymap, Stamped, State, Update, fold};
use meshtop::metrics::golden::Dialect;
use meshtop::source::kube::pod_info;
use meshtop::source::scrape::scrape_one;
use support::standin::{get, standin};
use support::*;

const REQUESTS: usize = 120;

/// Scrape, send REQUESTS real requests, scrape again 10 s later (by the update clock):
/// the fold's rates must match the load that was sent.
async fn check_rates(client: &kube::Client, ns: &str, pod: &str, port: u16, path: &str, dialect: Dialect, ip: &str) {
    let mut state = State::new(Keymap::default());
    let p: k8s_openapi::api::core::v1::Pod = kube::Api::namespaced(client.clone(), ns).get(pod).await.unwrap();
    fold(
        &mut state,
        Stamped {
            at: 0,
            update: Update::PodApplied { pod: pod_info(&p) },
        },
    );
    let before = scrape_one(client, ns, pod, port, path, Some(dialect)).await;
    assert!(matches!(before, Update::ProxyScraped { .. }), "{before:?}");
    fold(
        &mut state,
        Stamped {
            at: 1_000_000,
            update: before,
        },
    );
    let addr = format!("{ip}:15001");
    for _ in 0..REQUESTS {
        assert!(
            get(&addr).is_some_and(|r| r.contains(" 200 ")),
            "request through the stand-in failed"
        );
    }
    let after = scrape_one(client, ns, pod, port, path, Some(dialect)).await;
    fold(
        &mut state,
        Stamped {
            at: 1_010_000,
            update: after,
        },
    );
    let t = &state.traffic[&(ns.to_string(), pod.to_string())];
    // The readiness probe in `standin` sent requests before the first scrape; only the
    // difference counts, so the rate is exact.
    let r = t.rates.expect("rates after two scrapes");
    assert_eq!(r.window_s, 10.0);
    assert_eq!(r.rps, REQUESTS as f64 / 10.0);
    assert_eq!((r.success, r.mtls), (Some(1.0), Some(1.0)));
    let p99 = r.p99_ms.unwrap();
    // Loopback forwarding: well under a second, and never zero.
    assert!(p99 > 0.0 && p99 <= 1000.0, "{r:?}");
    assert!(r.p50_ms.unwrap() <= p99, "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn istio_and_linkerd_metrics_through_the_pod_proxy_match_the_load() {
    let (client, ns) = setup("scrape").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: emoji, annotations: {linkerd.io/proxy-version: stable-2.14.10}}\nspec:\n  containers: [{name: app, image: app:1}, {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10}]\n",
    )
    .await;
    let (ip_web, _p1, _d1) = standin(&client, &ns, "web", "istio", 15020).await;
    check_rates(&client, &ns, "web", 15020, "/stats/prometheus", Dialect::Istio, &ip_web).await;
    let (ip, _p2, _d2) = standin(&client, &ns, "emoji", "linkerd", 4191).await;
    check_rates(&client, &ns, "emoji", 4191, "/metrics", Dialect::Linkerd, &ip).await;

    // `meshtop top` while traffic flows: the Istio workload shows live rates.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, addr) = (stop.clone(), format!("{ip_web}:15001"));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                get(&addr);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args(["top", "-o", "json", "--window", "3s", "-n", &ns, "--kubeconfig"])
        .arg(kubeconfig())
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["window_s"], 3.0);
    let web = j["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "web")
        .expect("web workload");
    assert_eq!(
        (web["kind"].as_str(), web["mesh"].as_str(), web["pods"].as_u64()),
        (Some("Pod"), Some("istio"), Some(1))
    );
    assert!(web["rps"].as_f64().unwrap() > 0.0, "{web:#}");
    assert_eq!(web["success_rate"], 1.0);
    assert!(web["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{web:#}");
    let emoji = j["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "emoji")
        .expect("emoji workload");
    assert_eq!(emoji["mesh"], "linkerd");
    assert_eq!(emoji["rps"], 0.0, "no traffic to emoji during the window");

    // Bad input, each a clear per-pod error and nothing else stops.
    let failed = |u: Update| match u {
        Update::ScrapeFailed { message, .. } => message,
        other => panic!("expected a failure, got {other:?}"),
    };
    let garbage = failed(scrape_one(&client, &ns, "web", 15020, "/garbage", Some(Dialect::Istio)).await);
    assert!(
        garbage.ends_with("not a metrics exposition (line 1: expected a metric name; 1 bad lines)"),
        "{garbage}"
    );
    let huge = failed(scrape_one(&client, &ns, "web", 15020, "/huge", Some(Dialect::Istio)).await);
    assert!(huge.ends_with("response larger than 10 MiB, not parsed"), "{huge}");
    let hang = failed(scrape_one(&client, &ns, "web", 15020, "/hang", Some(Dialect::Istio)).await);
    assert!(hang.ends_with("no answer within 5s"), "{hang}");
    let refused = failed(scrape_one(&client, &ns, "web", 9999, "/metrics", Some(Dialect::Istio)).await);
    assert!(refused.contains("/pods/web:9999/proxy/metrics"), "{refused}");

    // --scrape-direct: the same endpoints at the pod IP, without the API server.
    let via = meshtop::source::scrape::Via::direct().unwrap();
    let direct = |path: &'static str, port: u16| {
        let (via, ns, ip) = (via.clone(), ns.clone(), ip_web.clone());
        async move {
            meshtop::source::scrape::scrape_via(&via, &ns, "web", Some(&ip), port, path, Some(Dialect::Istio)).await
        }
    };
    match direct("/stats/prometheus", 15020).await {
        Update::ProxyScraped { inbound, .. } => assert!(inbound.requests >= REQUESTS as f64, "{inbound:?}"),
        other => panic!("direct scrape failed: {other:?}"),
    }
    let huge = failed(direct("/huge", 15020).await);
    assert_eq!(
        huge,
        format!("http://{ip_web}:15020/huge: response larger than 10 MiB, not parsed")
    );
    let refused = failed(direct("/metrics", 9999).await);
    assert!(refused.contains("Connection refused"), "{refused}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args([
            "top",
            "-o",
            "json",
            "--window",
            "1s",
            "--scrape-direct",
            "-n",
            &ns,
            "--kubeconfig",
        ])
        .arg(kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["source"], "proxy scrapes");
    assert!(j["errors"].as_array().unwrap().is_empty(), "{j:#}");

    // A user without pods/proxy permission: 403 with the API's reason.
    let dir = tempfile::tempdir().unwrap();
    let kc = impersonating_kubeconfig(dir.path(), "no-proxy-rights");
    let kc = kube::config::Kubeconfig::read_from(kc).unwrap();
    let restricted = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let forbidden = failed(
        scrape_one(
            &restricted,
            &ns,
            "web",
            15020,
            "/stats/prometheus",
            Some(Dialect::Istio),
        )
        .await,
    );
    assert!(
        forbidden.contains("forbidden") && forbidden.contains("(403)"),
        "{forbidden}"
    );
}

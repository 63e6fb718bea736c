//! The Prometheus source against a real Prometheus (Debian's) that scrapes the stand-in
//! proxies and a cAdvisor stand-in. Prometheus runs in a pod's network namespace behind a
//! Service, so auto-discovery reaches it through the API server's service proxy.
//!
//! What must agree: the traffic meshtop computes from its own direct scrapes, and what it
//! gets from Prometheus for the same load. Ratios (success, mTLS) and latency quantiles are
//! compared within 1% and 5% (Prometheus extrapolates each series on its own); request
//! counts are at most 15% over what was sent (measured 7.6-10.2%), from `rate()`'s
//! extrapolation to the ends of a range that Prometheus' samples only partly cover (it
//! started 20-30 s before).

mod support;

use std::time::Duration;

use meshtop::app::traffic::Window;
use meshtop::app::{Keymap, Stamped, State, Update, fold};
use meshtop::metrics::golden::Dialect;
use meshtop::source::kube::pod_info;
use meshtop::source::prometheus::{self, Endpoint};
use meshtop::source::scrape::scrape_one;
use support::standin::{get, get_path, standin, standin_with};
use support::*;

/// Requests sent to web during the measured load, and how many of them get a 503.
const WEB_OK: usize = 190;
const WEB_FAILED: usize = 10;
const EMOJI_OK: usize = 80;
const WINDOW_S: u32 = 120;

const MIB: u64 = 1024 * 1024;
/// Prometheus extrapolates each series to the range's ends on its own, stopping where the
/// counter would have been zero, so series that started at different values get slightly
/// different factors: ratios and quantiles agree closely, not exactly.
const RATIO_TOLERANCE: f64 = 0.01;
const QUANTILE_TOLERANCE: f64 = 0.05;

fn prometheus_config(dir: &std::path::Path, ns: &str, web_ip: &str, emoji_ip: &str, zt_ip: &str) -> std::path::PathBuf {
    let cfg = format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: istio-proxies
    metrics_path: /stats/prometheus
    static_configs:
      - targets: ["{web_ip}:15020"]
        labels: {{namespace: {ns}, pod: web}}
  - job_name: linkerd-proxies
    static_configs:
      - targets: ["{emoji_ip}:4191"]
        labels: {{namespace: {ns}, pod: emoji}}
  - job_name: ztunnel
    static_configs:
      - targets: ["{zt_ip}:15020"]
        labels: {{namespace: {ns}, pod: zt}}
  - job_name: cadvisor
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:9101"]
"#
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// The pod's own window from a list of Prometheus answers.
fn window_of<'a>(pods: &'a [meshtop::app::update::PodWindow], pod: &str) -> &'a Window {
    &pods
        .iter()
        .find(|p| p.pod == pod)
        .unwrap_or_else(|| panic!("{pod} in {pods:?}"))
        .window
}

/// Asserts `a` and `b` agree within `rel` (relative).
fn close(a: Option<f64>, b: Option<f64>, rel: f64, what: &str) {
    let (a, b) = (
        a.unwrap_or_else(|| panic!("{what}: none")),
        b.unwrap_or_else(|| panic!("{what}: none")),
    );
    eprintln!("{what}: {a} vs {b}");
    assert!(
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-9),
        "{what}: {a} vs {b}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_source_agrees_with_direct_scrapes() {
    let (client, ns) = setup("prom").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: emoji, annotations: {linkerd.io/proxy-version: stable-2.14.10}}\nspec:\n  containers: [{name: app, image: app:1}, {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: zt}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/ztunnel:1.24.0}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: prometheus-0, labels: {app: prometheus}}\nspec:\n  containers: [{name: prometheus, image: prom/prometheus:v2.42.0, ports: [{containerPort: 9090, name: http-web}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: prometheus, labels: {app: prometheus}}\nspec:\n  selector: {app: prometheus}\n  ports: [{name: http-web, port: 9090, targetPort: 9090}]\n",
    )
    .await;
    let (web_ip, _p1, _d1) = standin(&client, &ns, "web", "istio", 15020).await;
    let (emoji_ip, _p2, _d2) = standin(&client, &ns, "emoji", "linkerd", 4191).await;
    let web = format!("{web_ip}:15001");
    let emoji = format!("{emoji_ip}:15001");
    // ztunnel (the stand-in in its format, in front of its own http.server), reporting for
    // an ambient workload `mesh-app` and its client `loadgen`.
    let (zt_ip, _p3, _d3) = standin_with(
        &client,
        &ns,
        "zt",
        "ztunnel",
        15020,
        &["--workload", "mesh-app", "--source-workload", "loadgen"],
    )
    .await;
    let zt = format!("{zt_ip}:15001");
    // Every series the load will touch exists before Prometheus' first scrape, so all of a
    // target's series share the same samples and the same rate() extrapolation.
    // Enough of each that no series' extrapolation is cut short at zero.
    for _ in 0..4 {
        assert!(get_path(&web, "/status/503").is_some_and(|r| r.contains(" 503 ")));
    }
    for _ in 0..40 {
        assert!(get(&web).is_some());
        assert!(get(&emoji).is_some());
        assert!(get(&zt).is_some());
    }

    let prom_pod = running_pod(&client, &ns, "prometheus-0").await;
    let prom_ip = prom_pod.status.unwrap().pod_ip.unwrap();
    let netns = pod_netns(&ns, "prometheus-0");
    let dir = tempfile::tempdir().unwrap();
    let cfg = prometheus_config(dir.path(), &ns, &web_ip, &emoji_ip, &zt_ip);
    let data = dir.path().join("data");
    let _cadvisor = spawn_in_netns(
        &netns,
        &[
            "python3",
            repo().join("tests/standin/cadvisor.py").to_str().unwrap(),
            "--listen",
            "127.0.0.1:9101",
            &format!("{ns}/web/app=0.25,{}", 100 * MIB),
            &format!("{ns}/web/istio-proxy=0.05,{}", 30 * MIB),
            &format!("{ns}/emoji/app=0.1,{}", 20 * MIB),
            &format!("{ns}/emoji/linkerd-proxy=0.01,{}", 10 * MIB),
        ],
    );
    let _prometheus = spawn_in_netns(
        &netns,
        &[
            "prometheus",
            &format!("--config.file={}", cfg.display()),
            &format!("--storage.tsdb.path={}", data.display()),
            "--web.listen-address=0.0.0.0:9090",
            "--log.level=warn",
        ],
    );
    let direct = Endpoint::direct(&format!("http://{prom_ip}:9090")).unwrap();
    wait_for("Prometheus to scrape all four targets", Duration::from_secs(60), || {
        let direct = direct.clone();
        async move {
            let up = direct.query("sum(up)").await.ok()?;
            (up.first()?.value == 4.0).then_some(())
        }
    })
    .await;
    // A few samples of every series before the load starts.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // meshtop's own direct scrapes around the load, folded at their real times.
    let mut state = State::new(Keymap::default());
    state.window_s = WINDOW_S;
    for name in ["web", "emoji", "zt"] {
        let p: k8s_openapi::api::core::v1::Pod = kube::Api::namespaced(client.clone(), &ns).get(name).await.unwrap();
        fold(&mut state, Stamped::now(Update::PodApplied { pod: pod_info(&p) }));
    }
    let scrape_both = |client: kube::Client, ns: String| async move {
        vec![
            scrape_one(&client, &ns, "web", 15020, "/stats/prometheus", Some(Dialect::Istio)).await,
            scrape_one(&client, &ns, "emoji", 4191, "/metrics", Some(Dialect::Linkerd)).await,
            scrape_one(&client, &ns, "zt", 15020, "/metrics", Some(Dialect::Istio)).await,
        ]
    };
    for u in scrape_both(client.clone(), ns.clone()).await {
        fold(&mut state, Stamped::now(u));
    }
    for i in 0..(WEB_OK + WEB_FAILED) {
        let path = if i % 20 == 7 { "/status/503" } else { "/index.html" };
        assert!(get_path(&web, path).is_some(), "request {i} to web failed");
        if i < EMOJI_OK {
            assert!(get(&emoji).is_some_and(|r| r.contains(" 200 ")));
            assert!(get(&zt).is_some_and(|r| r.contains(" 200 ")));
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    for u in scrape_both(client.clone(), ns.clone()).await {
        fold(&mut state, Stamped::now(u));
    }
    // Prometheus' next scrapes see the final counters.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let scraped_web = state.traffic[&(ns.clone(), "web".to_string())].window.clone().unwrap();
    let scraped_emoji = state.traffic[&(ns.clone(), "emoji".to_string())]
        .window
        .clone()
        .unwrap();
    assert_eq!(scraped_web.increase.own.requests, (WEB_OK + WEB_FAILED) as f64);
    assert_eq!(scraped_web.increase.own.successes, WEB_OK as f64);
    assert_eq!(scraped_emoji.increase.own.requests, EMOJI_OK as f64);

    // The same window through meshtop's Prometheus source, reached directly...
    let (pods, usages) = prometheus::refresh(&direct, WINDOW_S).await.unwrap();
    // ...and through the API server's service proxy, found by discovery.
    let found = prometheus::discover(&client, std::slice::from_ref(&ns))
        .await
        .unwrap()
        .expect("Prometheus service found");
    assert_eq!(found.describe(), format!("{ns}/prometheus:9090 (via the API server)"));
    // Asked again after a failure, as the live source does at its next refresh, for up to a
    // minute: in full runs, after the fault tests, the API server's service proxy once gave
    // no answer within 10 s, and once answered 404 "services \"prometheus\" not found" for
    // ~20 s for the Service just listed (both passed alone on a fresh bed).
    let mut via_proxy = prometheus::refresh(&found, WINDOW_S).await;
    for _ in 0..12 {
        if via_proxy.is_ok() {
            break;
        }
        eprintln!(
            "through the service proxy: {:?}; asking again",
            via_proxy.as_ref().err()
        );
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        via_proxy = prometheus::refresh(&found, WINDOW_S).await;
    }
    let (pods_via_proxy, _) = via_proxy.unwrap();
    assert_eq!(pods_via_proxy.len(), pods.len());

    for (name, scraped, sent, dialect) in [
        ("web", &scraped_web, WEB_OK + WEB_FAILED, "istio"),
        ("emoji", &scraped_emoji, EMOJI_OK, "linkerd"),
    ] {
        let w = window_of(&pods, name);
        assert_eq!(w.secs, f64::from(WINDOW_S));
        let (p, s) = (&w.increase.own, &scraped.increase.own);
        let ratio = p.requests / sent as f64;
        assert!(
            (1.0..=1.15).contains(&ratio),
            "{dialect} {name}: {} requests from Prometheus for {sent} sent",
            p.requests
        );
        close(
            p.success_ratio(),
            s.success_ratio(),
            RATIO_TOLERANCE,
            &format!("{name} success"),
        );
        close(
            Some(p.mtls_requests / p.requests),
            Some(s.mtls_requests / s.requests),
            RATIO_TOLERANCE,
            &format!("{name} mTLS"),
        );
        for q in [0.5, 0.9, 0.99] {
            close(
                p.quantile_ms(q),
                s.quantile_ms(q),
                QUANTILE_TOLERANCE,
                &format!("{name} p{}", q * 100.0),
            );
        }
        assert_eq!(p.tcp_open_connections, s.tcp_open_connections, "{name} tcp");
        // The service-proxy path gives the same numbers.
        let v = window_of(&pods_via_proxy, name);
        close(
            v.increase.own.success_ratio(),
            p.success_ratio(),
            RATIO_TOLERANCE,
            &format!("{name} via proxy"),
        );
    }

    // ztunnel's report for the ambient workload (and its client), by the scrapes and through
    // PromQL: the bytes it read are exactly the requests sent through it; Prometheus' rate
    // gives them to the same workloads, within its extrapolation.
    let request = "GET /index.html HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n".len();
    let zt_key = (ns.clone(), "zt".to_string());
    let scraped = |w: &str| {
        state.carried[&(ns.clone(), w.to_string())][&zt_key]
            .window
            .clone()
            .unwrap()
            .increase
    };
    let (app, client_side) = (scraped("mesh-app"), scraped("loadgen"));
    assert_eq!(app.own.bytes_read, (EMOJI_OK * request) as f64);
    assert!(client_side.own_is_outbound);
    assert_eq!(client_side.own.bytes_written, app.own.bytes_read, "each side once");
    let described = &pods
        .iter()
        .find(|p| p.pod == "zt")
        .expect("zt from Prometheus")
        .described;
    for (w, s) in [("mesh-app", &app), ("loadgen", &client_side)] {
        let p = &described[&format!("{ns}/{w}")].increase;
        let ratio = (p.own.bytes_read + p.own.bytes_written) / (s.own.bytes_read + s.own.bytes_written);
        assert!((1.0..=1.15).contains(&ratio), "{w}: {ratio} ({p:?} vs {s:?})");
        close(
            Some(p.own.bytes_written / p.own.bytes_read),
            Some(s.own.bytes_written / s.own.bytes_read),
            RATIO_TOLERANCE,
            &format!("{w} written/read"),
        );
        assert_eq!(p.own_is_outbound, s.own_is_outbound, "{w}");
    }
    assert!(
        described[&format!("{ns}/loadgen")]
            .increase
            .edges
            .contains_key(&format!("mesh-app.{ns}.svc.cluster.local"))
    );

    // meshtop's quantile from the summed buckets equals Prometheus' own histogram_quantile.
    let hq = direct
        .query(&format!(
            "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{pod=\"web\",reporter=\"destination\"}}[{WINDOW_S}s])))"
        ))
        .await
        .unwrap();
    close(
        Some(hq[0].value),
        window_of(&pods, "web").increase.own.quantile_ms(0.99),
        // Not 1e-9: Prometheus extrapolates each bucket series on its own and stops a
        // series' extrapolation where its counter would reach zero, so the buckets' rates
        // are not one common multiple of their increases (seen: 1.07e-8 apart in CI).
        1e-6,
        "histogram_quantile",
    );

    // cAdvisor usage: per container, app and proxy apart; the pod cgroup and pause skipped.
    let web_usage = usages.iter().find(|u| u.name == "web").expect("cAdvisor usage for web");
    let names: Vec<&str> = web_usage.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "istio-proxy"]);
    let app = &web_usage.containers[0];
    assert!((app.cpu_millicores - 250.0).abs() < 5.0, "{app:?}");
    assert_eq!(app.memory_bytes, 100 * MIB);
    assert_eq!(web_usage.containers[1].memory_bytes, 30 * MIB);
    assert!((web_usage.containers[1].cpu_millicores - 50.0).abs() < 2.0);
    fold(
        &mut state,
        Stamped::now(Update::PodUsage {
            usages: usages.clone(),
            origin: meshtop::model::UsageOrigin::Cadvisor,
        }),
    );
    let web_pod = &state.pods[&(ns.clone(), "web".to_string())];
    let split = web_pod.usage.unwrap();
    assert_eq!((split.app_mem, split.proxy_mem), (100 * MIB, 30 * MIB));

    // `meshtop top --prometheus-url auto`: the CLI on the same numbers, found by itself.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args(["top", "-o", "json", "--window", &format!("{WINDOW_S}s"), "-n", &ns])
        .args(["--prometheus-url", "auto", "--kubeconfig"])
        .arg(kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        j["source"],
        format!("prometheus {ns}/prometheus:9090 (via the API server)")
    );
    let wl = j["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "web")
        .unwrap();
    let success = wl["success_rate"].as_f64().unwrap();
    assert!((success - WEB_OK as f64 / 200.0).abs() <= RATIO_TOLERANCE, "{wl:#}");
    assert_eq!(wl["mesh"], "istio");
    let rps = wl["rps"].as_f64().unwrap();
    assert!(rps > 0.0 && rps * f64::from(WINDOW_S) <= 200.0 * 1.15, "{wl:#}");

    // More proxies (web, emoji, zt) than a scrape budget of 2: the scraper says so and hands
    // over to the Prometheus it finds; with a budget of 3 it scrapes them itself.
    let target = meshtop::source::kube::KubeTarget {
        kubeconfig: Some(kubeconfig()),
        context: None,
        namespaces: vec![ns.clone()],
    };
    for budget in [2, 3] {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let (_w, window) = tokio::sync::watch::channel(60);
        let settings = meshtop::source::scrape::Settings {
            direct: false,
            interval: Duration::from_secs(2),
            budget,
            window: Some(window),
        };
        let source = tokio::spawn(meshtop::source::scrape::run(target.clone(), settings, tx));
        // The first round may start before the scraper's pod watch has all three proxies:
        // what counts is what follows the budget's verdict on all three.
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let enough = |seen: &Vec<String>| match budget {
            2 => {
                seen.iter()
                    .skip_while(|s| !s.starts_with("load ScrapeLoad { proxies: 3"))
                    .count()
                    >= 3
            }
            _ => ["web", "emoji", "zt"]
                .iter()
                .all(|p| seen.contains(&format!("scraped {p}"))),
        };
        while !enough(&seen) {
            let u = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .unwrap_or_else(|_| panic!("budget {budget}: only {seen:?}"))
                .unwrap()
                .update;
            match u {
                Update::ScrapeLoad(load) => seen.push(format!("load {load:?}")),
                Update::PromTraffic { source, pods, .. } => seen.push(format!("prometheus {source} {}", pods.len())),
                Update::ProxyScraped { pod, .. } => seen.push(format!("scraped {pod}")),
                _ => {}
            }
        }
        source.abort();
        if budget == 2 {
            let name = format!("{ns}/prometheus:9090 (via the API server)");
            // (A first round that saw fewer proxies says it is under the budget first.)
            let after: Vec<&String> = seen
                .iter()
                .skip_while(|s| !s.starts_with("load ScrapeLoad { proxies: 3"))
                .collect();
            assert_eq!(
                *after[0],
                format!(
                    "load ScrapeLoad {{ proxies: 3, budget: 2, prometheus: Some({name:?}), round_s: 3, silent: 0 }}"
                )
            );
            // Prometheus from then on, and no scrape of a proxy.
            assert!(
                after[1..].iter().all(|s| s.starts_with(&format!("prometheus {name} "))),
                "{seen:?}"
            );
        } else {
            // Under the budget: a load is said (a started scraper says where it stands),
            // never one that paces or hands over.
            assert!(
                seen.iter()
                    .filter(|s| s.starts_with("load"))
                    .all(|s| s.ends_with("prometheus: None, round_s: 0, silent: 0 }")),
                "{seen:?}"
            );
        }
    }

    // Prometheus unreachable: a clear error from the CLI, and a source error in the TUI.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args([
            "top",
            "-n",
            &ns,
            "--prometheus-url",
            "http://127.0.0.1:9",
            "--kubeconfig",
        ])
        .arg(kubeconfig())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("querying Prometheus at http://127.0.0.1:9:") && err.contains("Connection refused"),
        "{err}"
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (_w, window) = tokio::sync::watch::channel(60);
    let source = tokio::spawn(prometheus::run(
        prometheus::Spec::Url("http://127.0.0.1:9".into()),
        meshtop::source::kube::KubeTarget {
            kubeconfig: None,
            context: None,
            namespaces: Vec::new(),
        },
        window,
        Duration::from_secs(5),
        tx,
    ));
    match rx.recv().await.unwrap().update {
        Update::SourceError {
            resource,
            kind,
            message,
            ..
        } => {
            assert_eq!(
                (resource, kind),
                (
                    meshtop::model::Resource::Prometheus,
                    meshtop::model::ErrorKind::Unreachable
                )
            );
            assert!(
                message.starts_with("http://127.0.0.1:9: ") && message.contains("Connection refused"),
                "{message}"
            );
        }
        other => panic!("expected a source error, got {other:?}"),
    }
    source.abort();
}

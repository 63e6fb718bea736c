//! Traefik Mesh's data plane for real: the Traefik proxy built from its Go module
//! (`scripts/testbed-build traefik`) runs in a `traefik-mesh-proxy` DaemonSet pod's network
//! namespace in front of nginx in another pod's, carrying real HTTP. meshtop scrapes it
//! through the API server's pod proxy as the TUI does; the figures must match the requests
//! sent, and Traefik's own traffic (its metrics endpoint) must stay out of them.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use meshtop::app::{Keymap, Stamped, State, Update, fold};
use meshtop::mesh::detect::classify_pod;
use meshtop::metrics::golden::Dialect;
use meshtop::source::kube::pod_info;
use meshtop::source::scrape::{Via, scrape, target_of};
use support::standin::get_path;
use support::*;

const REQUESTS: usize = 50;

/// The binary `scripts/testbed-build traefik` made; `scripts/test` builds it first.
fn traefik_bin() -> Option<PathBuf> {
    let cache = std::env::var_os("MESHTOP_TESTBED_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/meshtop-testbed"));
    let version = std::env::var("MESHTOP_TRAEFIK_VERSION").unwrap_or_else(|_| "v3.6.12".into());
    let bin = cache.join(format!("traefik-{version}/bin/traefik"));
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} missing (scripts/testbed-build traefik); required under CI=true",
        bin.display()
    );
    eprintln!("SKIP: {} missing; run scripts/testbed-build traefik", bin.display());
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn real_traefik_figures_match_the_requests_sent() {
    let Some(bin) = traefik_bin() else { return };
    let (client, ns) = setup("traefik").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: traefik-mesh-proxy}\nspec:\n  selector: {matchLabels: {app: traefik-mesh-proxy}}\n  template:\n    metadata: {labels: {app: traefik-mesh-proxy}}\n    spec:\n      nodeSelector: {kubernetes.io/hostname: kwok-node-0}\n      containers: [{name: traefik-mesh-proxy, image: traefik:v3.6.12}]\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: nginx, image: nginx:1.27}]\n",
    )
    .await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), &ns);
    let proxy = wait_for("the DaemonSet's pod", Duration::from_secs(60), || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&kube::api::ListParams::default().labels("app=traefik-mesh-proxy"))
                .await
                .ok()?;
            list.items.into_iter().find_map(|p| p.metadata.name)
        }
    })
    .await;
    let web_ip = running_pod(&client, &ns, "web").await.status.unwrap().pod_ip.unwrap();
    let proxy_ip = running_pod(&client, &ns, &proxy).await.status.unwrap().pod_ip.unwrap();

    // nginx in web's network namespace.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 256; }}\n\
             http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
             server {{ listen 0.0.0.0:8080; location / {{ return 200 \"hello\\n\"; }} }} }}\n"
        ),
    )
    .unwrap();
    let conf = dir.path().join("nginx.conf");
    let _nginx = spawn_in_netns(
        &pod_netns(&ns, "web"),
        &["nginx", "-c", conf.to_str().unwrap(), "-p", &d],
    );
    // Traefik in the proxy pod's: a `web` entrypoint routed to nginx, its own `traefik`
    // entrypoint on 8080 serving /metrics (where the mesh rules scrape it).
    std::fs::write(
        dir.path().join("dynamic.yaml"),
        format!(
            "http:\n  routers:\n    web:\n      rule: \"PathPrefix(`/`)\"\n      entryPoints: [web]\n      service: web\n  services:\n    web:\n      loadBalancer:\n        servers: [{{url: \"http://{web_ip}:8080\"}}]\n"
        ),
    )
    .unwrap();
    let dynamic = format!(
        "--providers.file.filename={}",
        dir.path().join("dynamic.yaml").display()
    );
    let _traefik = spawn_in_netns(
        &pod_netns(&ns, &proxy),
        &[
            bin.to_str().unwrap(),
            "--entrypoints.web.address=:8000",
            "--entrypoints.traefik.address=:8080",
            "--metrics.prometheus=true",
            "--metrics.prometheus.entryPoint=traefik",
            "--metrics.prometheus.addEntryPointsLabels=true",
            "--metrics.prometheus.addServicesLabels=true",
            "--ping=true",
            &dynamic,
            "--log.level=ERROR",
        ],
    );
    let addr = format!("{proxy_ip}:8000");
    wait_for("Traefik to route to nginx", Duration::from_secs(30), || {
        let ok = get_path(&addr, "/").is_some_and(|r| r.starts_with("HTTP/1.1 200"));
        async move { ok.then_some(()) }
    })
    .await;

    // Scrape, send, scrape, 10 s apart by the updates' clock, as the scraper does.
    let mut state = State::new(Keymap::default());
    let mut target = None;
    for p in pods.list(&Default::default()).await.unwrap() {
        let info = pod_info(&p);
        if info.name == proxy {
            let mesh = classify_pod(&info);
            assert_eq!(mesh.model, meshtop::mesh::Model::Node, "{mesh:?}");
            target = target_of(&info, &mesh);
        }
        fold(
            &mut state,
            Stamped {
                at: 0,
                update: Update::PodApplied { pod: info },
            },
        );
    }
    let target = target.expect("the proxy is scraped");
    let via = Via::PodProxy(client.clone());
    let first = scrape(&via, &target).await;
    assert!(
        matches!(
            first,
            Update::ProxyScraped {
                dialect: Dialect::Traefik,
                ..
            }
        ),
        "{first:?}"
    );
    fold(
        &mut state,
        Stamped {
            at: 1_000_000,
            update: first,
        },
    );
    for _ in 0..REQUESTS {
        let r = get_path(&addr, "/").expect("a request through Traefik");
        assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("hello\n"), "{r}");
    }
    let second = scrape(&via, &target).await;
    fold(
        &mut state,
        Stamped {
            at: 1_010_000,
            update: second,
        },
    );
    let t = &state.traffic[&(ns.clone(), proxy.clone())];
    let r = t.rates.expect("rates after two scrapes");
    // The entrypoint's requests, the scrapes of /metrics (the traefik entrypoint) left out.
    assert_eq!(r.rps, REQUESTS as f64 / 10.0);
    assert_eq!(r.success, Some(1.0));
    assert!(r.p99_ms.is_some_and(|p| p > 0.0), "{r:?}");
    let edge = &t.edge_rates["web@file"];
    assert_eq!((edge.rps, edge.success), (REQUESTS as f64 / 10.0, Some(1.0)));

    // `meshtop metrics parse` on the real exposition names it and keeps Traefik's own out.
    let (status, body) = api_get(
        &client,
        &format!("/api/v1/namespaces/{ns}/pods/{proxy}:8080/proxy/metrics"),
    )
    .await;
    assert_eq!(status, 200);
    let report = meshtop::metrics::report::report(
        &body,
        None,
        Duration::from_secs(1),
        meshtop::metrics::report::MeshArg::Auto,
    )
    .unwrap();
    assert!(report.found[0].starts_with("traefik"), "{:?}", report.found);
    let names: Vec<(&str, &str)> = report.groups.iter().map(|g| (g.direction, g.name.as_str())).collect();
    assert_eq!(names, [("inbound", "web"), ("outbound", "web@file")]);
    // Every request through it: the readiness loop's and the measured ones.
    assert!(report.groups[1].requests >= REQUESTS as f64, "{:?}", report.groups[1]);
    // Each request closed its connection (the scrapes' own, on the traefik entrypoint, are
    // not the web entrypoint's).
    assert_eq!(report.groups[0].tcp_open, 0.0, "{:?}", report.groups[0]);
}

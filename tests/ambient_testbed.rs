//! Istio ambient on the test bed: a client's requests go through a ztunnel stand-in (L4, in
//! ztunnel's exact OpenMetrics exposition, counting the bytes on its sockets) and a waypoint
//! stand-in (L7, `reporter="waypoint"`) to the app, all real HTTP in the pods' network
//! namespaces. meshtop scrapes both through the API server's pod proxy, as the TUI does, and
//! must give the app's workload the traffic sent through it, counted once. The ztunnel (a
//! bare pod, recognised by its image alone) is a node proxy: its row shows what it carried,
//! its detail says for whom, and its calls are not edges of its own.

mod support;

use meshtop::app::{Keymap, Stamped, State, Update, fold};
use meshtop::mesh::Model;
use meshtop::mesh::detect::classify_pod;
use meshtop::source::kube::pod_info;
use meshtop::source::scrape::{Via, scrape, target_of};
use support::standin::{get_path, standin_with};
use support::*;

const REQUESTS: usize = 40;
/// What `support::standin::get_path` writes for `/index.html`.
const REQUEST: &str = "GET /index.html HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn ambient_traffic_is_counted_once_for_the_workloads_it_describes() {
    let (client, ns) = setup("ambient").await;
    label_namespace(&client, &ns, "istio.io/dataplane-mode", "ambient").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: httpbin, annotations: {ambient.istio.io/redirection: enabled}}\nspec:\n  containers: [{name: app, image: kennethreitz/httpbin:1}]\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata: {name: sleep, annotations: {ambient.istio.io/redirection: enabled}}\nspec:\n  containers: [{name: app, image: curlimages/curl:8}]\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata: {name: waypoint, labels: {gateway.istio.io/managed: istio.io-mesh-controller, istio.io/gateway-name: waypoint}}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata: {name: ztunnel-bare}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/ztunnel:1.24.0}]\n",
    )
    .await;
    // The app (the stand-in's listener in front of a real http.server, unscraped: an ambient
    // pod has no proxy), then the waypoint in front of it, then ztunnel in front of that.
    let (ip_app, _p1, _d1) = standin_with(&client, &ns, "httpbin", "istio", 15020, &[]).await;
    let to_app = format!("http://{ip_app}:15001");
    let roles = ["--workload", "httpbin", "--source-workload", "sleep"];
    let mut args = vec!["--upstream", &to_app];
    args.extend(roles);
    let (ip_wp, _p2, _d2) = standin_with(&client, &ns, "waypoint", "waypoint", 15020, &args).await;
    let to_wp = format!("http://{ip_wp}:15001");
    let mut args = vec!["--upstream", &to_wp];
    args.extend(roles);
    let (ip_zt, _p3, _d3) = standin_with(&client, &ns, "ztunnel-bare", "ztunnel", 15020, &args).await;

    // The world as the watches give it, then scrape, send, scrape (10 s apart by the clock
    // of the updates, so rates are exact).
    let mut state = State::new(Keymap::default());
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), &ns);
    let mut targets = Vec::new();
    for p in pods.list(&Default::default()).await.unwrap() {
        let info = pod_info(&p);
        if let Some(t) = target_of(&info, &classify_pod(&info)) {
            targets.push(t);
        }
        fold(
            &mut state,
            Stamped {
                at: 0,
                update: Update::PodApplied { pod: info },
            },
        );
    }
    let names: Vec<&str> = targets.iter().map(|t| t.pod.as_str()).collect();
    assert_eq!(names, ["waypoint", "ztunnel-bare"], "only the proxies are scraped");
    assert!(
        targets[1].node_proxy,
        "the bare ztunnel pod is a node proxy by its image"
    );
    let via = Via::PodProxy(client.clone());
    let scrape_all = |at: i64| {
        let (via, targets) = (via.clone(), targets.clone());
        async move {
            let mut out = Vec::new();
            for t in &targets {
                let u = scrape(&via, t).await;
                assert!(matches!(u, Update::ProxyScraped { .. }), "{u:?}");
                out.push(Stamped { at, update: u });
            }
            out
        }
    };
    for s in scrape_all(1_000_000).await {
        fold(&mut state, s);
    }
    let mut answered = 0;
    for _ in 0..REQUESTS {
        let r = get_path(&format!("{ip_zt}:15001"), "/index.html").expect("a request through ztunnel and the waypoint");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        answered += r.len();
    }
    for s in scrape_all(1_010_000).await {
        fold(&mut state, s);
    }

    let row = |name: &str| {
        let r = state
            .workload_rows
            .get(&(ns.clone(), name.to_string()))
            .unwrap_or_else(|| panic!("no row for {name}"));
        (r.rates.unwrap_or_else(|| panic!("{name} has no figures")), r.via.len())
    };
    let (read, written) = ((REQUESTS * REQUEST.len()) as f64 / 10.0, answered as f64 / 10.0);
    // httpbin: the waypoint's requests (not also ztunnel's), ztunnel's bytes from its
    // destination side only (not the source side too, not the waypoint's body sizes).
    let (app, via) = row("httpbin");
    assert_eq!(app.rps, REQUESTS as f64 / 10.0);
    assert_eq!(app.success, Some(1.0));
    assert!(app.p99_ms.is_some_and(|p| p > 0.0), "{app:?}");
    assert_eq!((app.read_bps, app.write_bps), (Some(read), Some(written)));
    assert_eq!(app.tcp_opened_per_s, Some(REQUESTS as f64 / 10.0));
    assert_eq!(via, 2, "reported by ztunnel and the waypoint");
    // sleep, the client: its outbound side, from ztunnel's source series.
    let (client_side, _) = row("sleep");
    assert_eq!(
        (client_side.rps, client_side.read_bps, client_side.write_bps),
        (0.0, Some(written), Some(read))
    );
    // The ztunnel pod is a node proxy, not an app: it carried these bytes for others.
    let zt = &state.pods[&(ns.clone(), "ztunnel-bare".to_string())];
    assert_eq!(zt.mesh.model, Model::Node);
    let carried = zt.rates.expect("the ztunnel row shows what it carried");
    assert_eq!((carried.rps, carried.read_bps), (0.0, Some(read)));
    let detail = {
        let mut s = state.clone();
        meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowPods);
        meshtop::app::apply_action(&mut s, meshtop::app::Action::StartFilter);
        for c in "ztunnel".chars() {
            meshtop::app::apply_action(&mut s, meshtop::app::Action::InputChar(c));
        }
        meshtop::app::apply_action(&mut s, meshtop::app::Action::InputSubmit);
        meshtop::app::apply_action(&mut s, meshtop::app::Action::Select);
        render_text(&s, 200, 40)
    };
    assert!(
        !state.edges.keys().any(|(src, _)| src.ends_with("/ztunnel-bare")),
        "{:?}",
        state.edges.keys().collect::<Vec<_>>()
    );
    let line = detail
        .lines()
        .find(|l| l.contains("reports for"))
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(
        line.contains(&format!(" 2 workloads: {ns}/httpbin, {ns}/sleep ")),
        "{line}"
    );
}

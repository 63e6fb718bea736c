//! Integration tests against the real test bed (etcd, kube-apiserver, controller-manager,
//! scheduler, kwok, metrics-server). `scripts/test` brings the bed up; run alone, the
//! harness starts it.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::DeleteParams;
use meshtop::app::{Keymap, State, fold};
use meshtop::model::Resource;
use meshtop::source::kube::{KubeTarget, connect, pod_info};
use support::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn kube_rs_connects_with_the_test_bed_kubeconfig() {
    install_crypto();
    let client = client().await;
    let v = client.apiserver_version().await.expect("/version");
    let want = k8s_version();
    let minor = want.split('.').nth(1).unwrap();
    assert_eq!(
        (v.major.as_str(), v.minor.as_str(), v.git_version.as_str()),
        ("1", minor, want.as_str())
    );

    // meshtop's own connection path reports the context and cluster names from the kubeconfig.
    let conn = connect(&KubeTarget {
        kubeconfig: Some(kubeconfig()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(conn.info.context, "meshtop-testbed");
    assert!(
        conn.info.server.starts_with("https://127.0.0.1:"),
        "{}",
        conn.info.server
    );
}

#[tokio::test]
async fn real_injected_istio_and_linkerd_pods_run_with_an_ip() {
    install_crypto();
    let Some(fixtures) = real_fixtures() else {
        return;
    };
    let client = client().await;
    let ns = namespace(&client, "fixture-pods").await;
    let istio = read(&fixtures.join("istio/pods/native-sidecar-opt-out.yaml.injected"));
    let linkerd = read(&fixtures.join("linkerd/pods/inject_emojivoto_pod.golden.yml"));
    assert_eq!(
        create_yaml(&client, &ns, &istio).await,
        [("Pod".to_string(), "hellopod".to_string())]
    );
    assert_eq!(
        create_yaml(&client, &ns, &linkerd).await,
        [("Pod".to_string(), "vote-bot".to_string())]
    );

    let hello = running_pod(&client, &ns, "hellopod").await;
    let vote = running_pod(&client, &ns, "vote-bot").await;
    for p in [&hello, &vote] {
        let ip: std::net::Ipv4Addr = p.status.as_ref().unwrap().pod_ip.as_ref().unwrap().parse().unwrap();
        assert!(
            ip.octets()[..2] == [10, 77],
            "pod IP {ip} outside the test bed's 10.77/16"
        );
    }
    // Classic Istio sidecar: app + istio-proxy in containers. Linkerd native sidecar:
    // linkerd-proxy is an init container with restartPolicy Always, and still counts.
    let h = pod_info(&hello);
    assert_eq!((h.containers, h.phase.as_str()), (2, "Running"));
    let v = pod_info(&vote);
    assert_eq!((v.containers, v.phase.as_str()), (2, "Running"));
    assert!(
        vote.spec
            .as_ref()
            .unwrap()
            .init_containers
            .as_ref()
            .unwrap()
            .iter()
            .any(|c| c.name == "linkerd-proxy")
    );
}

#[tokio::test]
async fn a_process_in_the_pod_netns_answers_through_the_pod_proxy() {
    let (client, ns) = setup("netns").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: echo\nspec:\n  containers:\n  - name: app\n    image: python:3\n",
    )
    .await;
    let pod = running_pod(&client, &ns, "echo").await;
    let ip = pod.status.unwrap().pod_ip.unwrap();
    let netns = pod_netns(&ns, "echo");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), format!("hello from {ip}\n")).unwrap();
    let _server = support::serve_dir_in_netns(&netns, "0.0.0.0", dir.path());
    let path = format!("/api/v1/namespaces/{ns}/pods/echo:8080/proxy/hello.txt");
    let body = wait_for(
        "the netns server to answer via the pod proxy",
        Duration::from_secs(20),
        || {
            let (client, path) = (client.clone(), path.clone());
            async move {
                let (code, body) = api_get(&client, &path).await;
                (code == 200).then_some(body)
            }
        },
    )
    .await;
    assert_eq!(body, format!("hello from {ip}\n"));
}

#[tokio::test]
async fn metrics_api_returns_per_container_pod_metrics() {
    let (client, ns) = setup("podmetrics").await;
    // kwok emulates usage from these annotations; metrics-server reads it from kwok's
    // kubelet-style /metrics/resource like from a real kubelet.
    create_yaml(
        &client,
        &ns,
        r#"apiVersion: v1
kind: Pod
metadata:
  name: busy
  annotations:
    kwok.x-k8s.io/usage-cpu: "250m"
    kwok.x-k8s.io/usage-memory: "64Mi"
spec:
  containers:
  - name: app
    image: app
  - name: istio-proxy
    image: proxyv2
"#,
    )
    .await;
    running_pod(&client, &ns, "busy").await;
    let path = format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/busy");
    let metrics: serde_json::Value = wait_for("PodMetrics for busy", Duration::from_secs(90), || {
        let (client, path) = (client.clone(), path.clone());
        async move {
            let (code, body) = api_get(&client, &path).await;
            (code == 200).then(|| serde_json::from_str(&body).unwrap())
        }
    })
    .await;
    assert_eq!(metrics["kind"], "PodMetrics");
    let mut names: Vec<&str> = metrics["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["app", "istio-proxy"]);
    for c in metrics["containers"].as_array().unwrap() {
        assert!(c["usage"]["cpu"].is_string() && c["usage"]["memory"].is_string(), "{c}");
    }
}

/// The real source → fold path: pods added and deleted on the API appear and disappear in State.
#[tokio::test]
async fn kube_source_folds_live_pod_changes_into_state() {
    let (client, ns) = setup("watch").await;
    let (tx, mut rx) = mpsc::channel(1024);
    let target = KubeTarget {
        kubeconfig: Some(kubeconfig()),
        namespaces: vec![ns.clone()],
        ..Default::default()
    };
    let source = tokio::spawn(meshtop::source::kube::run(target, tx));
    let mut state = State::new(Keymap::default());

    async fn fold_until(
        state: &mut State,
        rx: &mut mpsc::Receiver<meshtop::app::Stamped>,
        what: &str,
        done: impl Fn(&State) -> bool,
    ) {
        tokio::time::timeout(Duration::from_secs(30), async {
            while !done(state) {
                fold(state, rx.recv().await.expect("source alive"));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    // The version probe and the watches are separate tasks: wait for both.
    fold_until(&mut state, &mut rx, "initial pod list and server version", |s| {
        s.synced.contains(&Resource::Pods) && s.synced.contains(&Resource::Namespaces) && s.cluster.is_some()
    })
    .await;
    assert!(state.pods.is_empty());
    assert_eq!(state.cluster.as_ref().map(|c| c.version.clone()), Some(k8s_version()));
    assert!(state.namespaces.contains_key(&ns));

    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w1\nspec:\n  containers:\n  - name: a\n    image: a\n",
    )
    .await;
    let key = (ns.clone(), "w1".to_string());
    fold_until(&mut state, &mut rx, "w1 Running in state", |s| {
        s.pods
            .get(&key)
            .is_some_and(|p| p.info.phase == "Running" && p.info.ip.is_some())
    })
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.delete("w1", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    fold_until(&mut state, &mut rx, "w1 gone from state", |s| {
        !s.pods.contains_key(&key)
    })
    .await;

    // Services too (benchmark targets): ClusterIP and NodePort as the API allocated them.
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n",
    )
    .await;
    let skey = (ns.clone(), "web".to_string());
    fold_until(&mut state, &mut rx, "service web in state", |s| {
        s.services.contains_key(&skey)
    })
    .await;
    let svc = &state.services[&skey];
    assert_eq!(svc.kind, "NodePort");
    assert!(
        svc.cluster_ip.as_deref().is_some_and(|ip| ip.starts_with("10.")),
        "{svc:?}"
    );
    // The API allocates the NodePort (a fixed one could clash with an earlier run's).
    let node_port = svc.ports[0].node_port.expect("a NodePort allocated");
    assert!((30000..=32767).contains(&node_port), "{node_port}");
    assert_eq!(
        svc.ports,
        vec![meshtop::model::ServicePort {
            name: Some("http".into()),
            port: 80,
            node_port: Some(node_port),
            protocol: "TCP".into()
        }]
    );
    assert_eq!(svc.selector.get("app").map(String::as_str), Some("web"));
    assert!(state.errors.is_empty(), "{:?}", state.errors);
    source.abort();
}

/// metrics-server's per-container usage (kwok emulates it from the annotations below)
/// reaches the state and is split between the app and the proxy container.
#[tokio::test]
async fn pod_metrics_are_split_between_app_and_proxy() {
    let (client, ns) = setup("usage").await;
    create_yaml(
        &client,
        &ns,
        r#"apiVersion: v1
kind: Pod
metadata:
  name: shop
  annotations:
    meshtop.test/usage-cpu-app: 250m
    meshtop.test/usage-memory-app: 64Mi
    meshtop.test/usage-cpu-istio-proxy: 20m
    meshtop.test/usage-memory-istio-proxy: 16Mi
spec:
  containers:
  - {name: app, image: app:1}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}
"#,
    )
    .await;
    running_pod(&client, &ns, "shop").await;
    let (tx, mut rx) = mpsc::channel(1024);
    let target = KubeTarget {
        kubeconfig: Some(kubeconfig()),
        namespaces: vec![ns.clone()],
        ..Default::default()
    };
    let kube = tokio::spawn(meshtop::source::kube::run(target.clone(), tx.clone()));
    let metrics = tokio::spawn(meshtop::source::podmetrics::run(target, Duration::from_secs(1), tx));
    let mut state = State::new(Keymap::default());
    let key = (ns.clone(), "shop".to_string());
    let split = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            fold(&mut state, rx.recv().await.expect("sources alive"));
            if let Some(p) = state.pods.get(&key)
                && let Some(u) = p.usage
                && u.proxy_cpu_m > 0.0
                && u.app_cpu_m > 0.0
            {
                break u;
            }
        }
    })
    .await
    .expect("usage for shop within 90 s (metrics-server scrapes every 10 s)");
    assert!((split.app_cpu_m - 250.0).abs() < 1.0, "{split:?}");
    assert!((split.proxy_cpu_m - 20.0).abs() < 1.0, "{split:?}");
    assert_eq!((split.app_mem, split.proxy_mem), (64 * 1024 * 1024, 16 * 1024 * 1024));
    assert!(
        !state.errors.contains_key(&(Resource::PodMetrics, None)),
        "{:?}",
        state.errors
    );
    kube.abort();
    metrics.abort();
}

//! meshtop is read-only: run as a service account bound only to the shipped read-only
//! role, through every command that talks to the cluster and every view of the TUI (a
//! pod's detail, a tap started on it, a recording and a benchmark among them), it sends the API server no
//! mutating request. The proof is the API server's own audit log (scripts/testbed logs
//! every service account's requests at Metadata level to $RUN/audit.log).

mod support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use support::role::shipped;
use support::tmux::{Tmux, assert_terminal_restored};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");
const MUTATING: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

/// The admin kubeconfig with the service account's token as its only credential.
fn token_kubeconfig(dir: &std::path::Path, token: &str) -> std::path::PathBuf {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&read(&kubeconfig())).unwrap();
    for u in doc["users"].as_sequence_mut().expect("users") {
        u["user"] = serde_yaml::from_str(&format!("{{token: {token}}}")).unwrap();
    }
    let path = dir.join("meshtop-sa.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    path
}

fn run_ok(args: &[&str], kc: &std::path::Path) -> String {
    // Never the developer's own config file.
    let config = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(args)
        .arg("--kubeconfig")
        .arg(kc)
        .env("XDG_CONFIG_HOME", config.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "meshtop {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn meshtop_sends_no_mutating_request_under_the_read_only_role() {
    let (client, ns) = setup("audit").await;
    let user = format!("system:serviceaccount:{ns}:meshtop");
    create_yaml(&client, &ns, &shipped("ServiceAccount", "meshtop")).await;
    let role = format!("meshtop-readonly-{ns}");
    create_yaml(&client, &ns, &shipped("ClusterRole", &role)).await;
    create_yaml(
        &client,
        &ns,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {role}}}\n\
             subjects: [{{kind: ServiceAccount, name: meshtop, namespace: {ns}}}]\n\
             roleRef: {{kind: ClusterRole, name: {role}, apiGroup: rbac.authorization.k8s.io}}\n"
        ),
    )
    .await;
    // A meshed pod whose proxy port is a real server in its network namespace: scraped,
    // tapped (its log), and benchmarked from the TUI.
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\n  annotations: {sidecar.istio.io/status: '{}', meshtop.test/usage-cpu-app: 5m, meshtop.test/usage-memory-app: 20Mi}\nspec:\n  containers:\n  - {name: app, image: example/web:1.0, ports: [{containerPort: 8080}]}\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0, ports: [{containerPort: 15020, name: http-envoy-prom}]}\n",
    )
    .await;
    // Its proxy's access log, served by kwok through the pod log API (tap reads it).
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("proxy.log");
    std::fs::write(
        &log_file,
        // As a container runtime stores it (CRI), which kwok serves.
        "2026-11-30T09:00:00.000000000Z stdout F [2024-03-01T10:00:00.000Z] \"GET /index.html HTTP/1.1\" 200 - via_upstream - \"-\" 0 6 1 1 \"-\" \"curl/8\" \"id-1\" \"web:8080\" \"127.0.0.1:8080\" inbound|8080|| 127.0.0.6:1 10.0.0.1:8080 10.0.0.2:2 - default\n",
    )
    .unwrap();
    create_yaml(
        &client,
        &ns,
        &format!(
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Logs\nmetadata: {{name: web}}\nspec:\n  logs:\n  - containers: [istio-proxy]\n    logsFile: {}\n    follow: true\n",
            log_file.display()
        ),
    )
    .await;
    running_pod(&client, &ns, "web").await;
    let netns = pod_netns(&ns, "web");
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "hello\n").unwrap();
    let _server = serve_dir_in_netns(&netns, "0.0.0.0", www.path());

    let token = Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create_token_request(
            "meshtop",
            &PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![],
                    expiration_seconds: Some(3600),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("a token for the service account")
        .status
        .expect("a token")
        .token;
    let dir = tempfile::tempdir().unwrap();
    let kc = token_kubeconfig(dir.path(), &token);

    // Every command that talks to the cluster.
    let doctor = run_ok(&["doctor"], &kc);
    assert!(doctor.contains(&format!("USER {user}")), "{doctor}");
    assert!(doctor.contains("Everything meshtop reads is allowed."), "{doctor}");
    run_ok(&["discover", "-o", "json"], &kc);
    run_ok(&["top", "-n", &ns, "--window", "2s", "-o", "json"], &kc);
    let rec = dir.path().join("r.mtrec");
    run_ok(&["record", "--duration", "4s", "-o", rec.to_str().unwrap()], &kc);
    run_ok(&["tap", "pod/web", "-n", &ns, "--duration", "2s"], &kc);

    // The TUI: every view, a recording, and a benchmark opened with b on the pod.
    let data = tempfile::tempdir().unwrap();
    let t = Tmux::start(200, 40);
    t.run(&format!(
        "XDG_DATA_HOME={} XDG_CONFIG_HOME={} {BIN} --kubeconfig {} -n {ns}; echo EXIT=$?",
        data.path().display(),
        data.path().join("config").display(),
        kc.display()
    ));
    t.wait_text("web", Duration::from_secs(30));
    for view in ["2", "3", "4", "5", "6", "7", "8", "9", "0", "1"] {
        t.keys(&[view]);
        std::thread::sleep(Duration::from_millis(400));
    }
    t.keys(&["R"]);
    t.wait_text("REC", Duration::from_secs(10));
    t.keys(&["4"]);
    t.keys(&["/"]);
    t.keys(&["web", "Enter"]);
    // The pod's detail, then a tap of it started from there (its proxy's log), stopped.
    t.keys(&["Enter"]);
    let detail = format!("pod {ns}/web");
    t.wait("the pod detail", Duration::from_secs(10), |s| {
        s.contains(&detail) && s.contains("CONTAINERS")
    });
    t.keys(&["t"]);
    let tapping = format!("pod/web in {ns} (logs): streaming");
    t.wait_text(&tapping, Duration::from_secs(20));
    // A request the proxy logs while the tap follows: its row fills the tap view.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log_file).unwrap();
        f.write_all(
            b"2026-11-30T09:00:05.000000000Z stdout F [2024-03-01T10:00:05.000Z] \"GET /audit-tap-row HTTP/1.1\" 200 - via_upstream - \"-\" 0 6 1 1 \"-\" \"curl/8\" \"id-2\" \"web:8080\" \"127.0.0.1:8080\" inbound|8080|| 127.0.0.6:1 10.0.0.1:8080 10.0.0.2:2 - default\n",
        )
        .unwrap();
    }
    t.wait_text("/audit-tap-row", Duration::from_secs(20));
    t.keys(&["x"]);
    t.wait("the tap to stop", Duration::from_secs(10), |s| !s.contains(&tapping));
    // Back to the pods view, web still selected, for the benchmark.
    t.keys(&["4"]);
    t.keys(&["b"]);
    t.wait_text("enter starts", Duration::from_secs(10));
    t.keys(&["Enter"]);
    t.wait("the bench to end", Duration::from_secs(60), |s| {
        s.contains("bench #1 done")
    });
    t.keys(&["R"]);
    t.wait("the recording to stop", Duration::from_secs(10), |s| {
        !s.contains("● REC")
    });
    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(10));
    assert_terminal_restored(&t);

    // The test's own forbidden write, as the service account: the audit log must show it,
    // or a clean log proves nothing.
    let sa_client = {
        let kcfg = kube::config::Kubeconfig::read_from(&kc).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kcfg, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    };
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "canary"}})).unwrap();
    let refused = Api::namespaced(sa_client, &ns)
        .create(&PostParams::default(), &cm)
        .await;
    assert!(refused.is_err(), "the read-only role cannot create a ConfigMap");

    let log_path = kubeconfig().parent().unwrap().join("audit.log");
    let log = wait_for("the refused write in the audit log", Duration::from_secs(10), || {
        let (path, user) = (log_path.clone(), user.clone());
        async move {
            let text = std::fs::read_to_string(&path).ok()?;
            let events: Vec<serde_json::Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|e| e["user"]["username"] == user.as_str())
                .collect();
            events
                .iter()
                .any(|e| e["verb"] == "create" && e["objectRef"]["resource"] == "configmaps")
                .then_some(events)
        }
    })
    .await;
    let describe = |e: &serde_json::Value| {
        format!(
            "{} {}/{}{} {}",
            e["verb"].as_str().unwrap_or("?"),
            e["objectRef"]["apiGroup"].as_str().unwrap_or(""),
            e["objectRef"]["resource"]
                .as_str()
                .unwrap_or(e["requestURI"].as_str().unwrap_or("?")),
            e["objectRef"]["subresource"]
                .as_str()
                .map(|s| format!("/{s}"))
                .unwrap_or_default(),
            e["responseStatus"]["code"]
        )
    };
    let mutating: Vec<String> = log
        .iter()
        .filter(|e| MUTATING.contains(&e["verb"].as_str().unwrap_or("")))
        .filter(|e| {
            !["selfsubjectaccessreviews", "selfsubjectreviews"]
                .contains(&e["objectRef"]["resource"].as_str().unwrap_or(""))
        })
        .map(describe)
        .collect();
    assert_eq!(
        mutating,
        ["create /configmaps 403"],
        "only the test's own refused write"
    );
    // And the log saw meshtop read through every source: watches, the pod proxy (scrapes),
    // pod logs (tap), metrics.k8s.io (usage), and the access reviews of doctor.
    let read: std::collections::BTreeSet<String> = log
        .iter()
        .map(describe)
        .map(|d| d.rsplit_once(' ').map(|(r, _)| r.to_string()).unwrap_or(d))
        .collect();
    for seen in [
        "watch /pods",
        "list /namespaces",
        "get /pods/proxy",
        "get /pods/log",
        "list metrics.k8s.io/pods",
        "create authorization.k8s.io/selfsubjectaccessreviews",
    ] {
        assert!(read.contains(seen), "{seen} not in {read:#?}");
    }
}

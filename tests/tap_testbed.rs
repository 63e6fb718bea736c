//! Tap on the test bed, through the real kube-apiserver:
//! - Envoy access logs followed through the pod log API: the stand-in proxy writes one
//!   real-format line per request it forwards (Istio TEXT, Istio JSON), kwok serves the
//!   container log file as a kubelet would (CRI format), meshtop follows it.
//! - Linkerd's tap API through the aggregation layer: a real APIService
//!   v1alpha1.tap.linkerd.io backed by tests/standin/tapserver.py, which encodes with classes
//!   protoc generates from the real .proto files; its events are the requests the test sends
//!   through the stand-in proxy.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::standin::{append, get_path, get_with, serve_logs, standin_with};
use support::*;

/// The tap APIService is cluster-wide, and API discovery (creating objects from YAML) trips
/// over it while it comes and goes: the two tests take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn meshtop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshtop"))
}

/// `meshtop tap ARGS -o json` in the background, against the test bed.
fn tap(args: &[&str], kubeconfig: &Path) -> Child {
    meshtop()
        .arg("tap")
        .args(args)
        .args(["-o", "json", "--kubeconfig"])
        .arg(kubeconfig)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting meshtop tap")
}

/// Its exit code, JSON lines and stderr.
fn finish(child: Child) -> (Option<i32>, Vec<Value>, String) {
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("summary").is_none()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn envoy_access_logs_through_the_pod_log_api() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (client, ns) = setup("tap-logs").await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, annotations: {{sidecar.istio.io/status: '{{}}'}}}}\nspec:\n  containers: [{{name: app, image: app:1}}, {{name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}}]\n"
        )
    };
    create_yaml(
        &client,
        &ns,
        &[proxy("web"), proxy("api"), proxy("quiet")].join("---\n"),
    )
    .await;
    let log = |pod: &str| dir.path().join(format!("{pod}.log"));
    for pod in ["web", "api", "quiet"] {
        std::fs::write(log(pod), "").unwrap();
        serve_logs(&client, &ns, pod, "istio-proxy", &log(pod)).await;
    }
    let web_log = log("web");
    let api_log = log("api");
    let (web_ip, _w, _wd) = standin_with(
        &client,
        &ns,
        "web",
        "istio",
        15020,
        &[
            "--access-log",
            web_log.to_str().unwrap(),
            "--access-log-format",
            "istio",
        ],
    )
    .await;
    let (api_ip, _a, _ad) = standin_with(
        &client,
        &ns,
        "api",
        "istio",
        15020,
        &["--access-log", api_log.to_str().unwrap(), "--access-log-format", "json"],
    )
    .await;
    // What Envoy writes besides access logs. The quiet pod writes nothing at all.
    append(
        &web_log,
        "2026-11-30T09:00:00.000000Z\twarning\tenvoy config\tgRPC config stream closed: 13",
    );

    let kc = kubeconfig();
    let whole = format!("ns/{ns}");
    let all = tap(&[&whole, "--duration", "15s"], &kc);
    // The hint comes after 10 s without an entry; 20 s leave room for a slow start.
    let quiet = tap(&["pod/quiet", "-n", &ns, "--duration", "20s"], &kc);
    // The follow has started when the readiness requests of the stand-ins (in the log tail)
    // come back; give the streams a moment, then send the requests to find.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for i in 1..=4 {
        assert!(
            get_path(
                &format!("{web_ip}:15001"),
                &format!("/index.html?item={i}&token=s3cret")
            )
            .is_some()
        );
    }
    assert!(
        get_with(
            &format!("{web_ip}:15001"),
            "/index.html?agent",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
        )
        .is_some()
    );
    assert!(get_path(&format!("{api_ip}:15001"), "/status/503").is_some());
    assert!(get_path(&format!("{api_ip}:15001"), "/index.html?json").is_some());
    // Lines from other writers of the same formats: Envoy's default, a TCP entry with `-`
    // fields, and a line cut in half.
    append(
        &web_log,
        r#"[2026-11-30T09:00:05.000Z] "POST /envoy/default HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0" "locations" "tcp://10.0.2.1:80""#,
    );
    append(
        &web_log,
        r#"[2026-11-30T09:00:06.000Z] "- - -" 0 - - - "-" 1200 5600 3000 - "-" "-" "-" "-" "10.1.0.20:3306" outbound|3306||mysql.db.svc.cluster.local 10.1.0.9:51000 10.96.0.30:3306 10.1.0.9:40000 - -"#,
    );
    append(
        &web_log,
        r#"[2026-11-30T09:00:07.000Z] "GET /cut/in/half HTTP/1.1" 200 - via_upstream - "-" 0 13"#,
    );

    let (code, lines, stderr) = finish(all);
    assert_eq!(code, Some(0), "{stderr}");
    let ev = events(&lines);
    let path = |e: &Value| e["path"].as_str().unwrap_or("").to_string();
    // The requests sent (readiness probes of /index.html from the log tail aside).
    let web: Vec<&&Value> = ev.iter().filter(|e| path(e).contains("item=")).collect();
    assert_eq!(
        web.iter().map(|e| path(e)).collect::<Vec<_>>(),
        (1..=4)
            .map(|i| format!("/index.html?item={i}&token=<redacted>"))
            .collect::<Vec<_>>(),
        "{stderr}"
    );
    for e in &web {
        assert_eq!(
            (e["method"].as_str(), e["status"].as_u64(), e["direction"].as_str()),
            (Some("GET"), Some(200), Some("inbound"))
        );
        assert_eq!(e["destination"], format!("{ns}/web"));
        assert_eq!(e["upstream_cluster"], "inbound|15001||");
        assert_eq!(e["bytes_sent"], 6, "hello\\n");
        assert!(
            e["source"].as_str().unwrap().parse::<std::net::Ipv4Addr>().is_ok(),
            "{e}"
        );
        assert!(e["duration_ms"].as_f64().is_some());
    }
    assert_eq!(
        ev.iter().filter(|e| path(e) == "/index.html?agent").count(),
        1,
        "quoted spaces"
    );
    let failed: Vec<_> = ev.iter().filter(|e| path(e) == "/status/503").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0]["status"].as_u64(), failed[0]["response_flags"].as_str()),
        (Some(503), Some("URX"))
    );
    assert_eq!(failed[0]["destination"], format!("{ns}/api"), "from the JSON encoding");
    assert_eq!(ev.iter().filter(|e| path(e) == "/index.html?json").count(), 1);
    let envoy: Vec<_> = ev.iter().filter(|e| path(e) == "/envoy/default").collect();
    assert_eq!(
        (
            envoy.len(),
            envoy[0]["status"].as_u64(),
            envoy[0]["duration_ms"].as_f64()
        ),
        (1, Some(204), Some(226.0))
    );
    let tcp: Vec<_> = ev.iter().filter(|e| e["method"].is_null()).collect();
    assert_eq!(tcp.len(), 1);
    assert_eq!(
        (tcp[0]["status"].clone(), tcp[0]["bytes_sent"].as_u64()),
        (Value::Null, Some(5600))
    );
    assert_eq!(tcp[0]["destination"], "mysql.db:3306");
    // The cut line is counted, not dropped silently.
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["events"].as_u64(), Some(ev.len() as u64));
    assert!(
        summary["unparsed"].as_u64().unwrap() >= 2,
        "{summary} (the cut line and Envoy's own line)"
    );
    assert!(stderr.contains("unexpected number of fields"), "the cut line: {stderr}");

    // No access-log entry at all: meshtop says how to turn access logs on.
    let (code, lines, stderr) = finish(quiet);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(events(&lines).len(), 0);
    assert!(stderr.contains("access logs may be off"), "{stderr}");
    assert!(stderr.contains("telemetry.istio.io/v1"), "{stderr}");
}

const APISERVICE: &str = "v1alpha1.tap.linkerd.io";

/// Deletes the APIService when the test ends, passed or failed: a dead one breaks API
/// discovery for every later test.
struct ApiServiceGuard(kube::Client);

impl Drop for ApiServiceGuard {
    fn drop(&mut self) {
        let client = self.0.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(delete_apiservice(&client));
        })
        .join();
    }
}

async fn delete_apiservice(client: &kube::Client) {
    let req = http::Request::delete(format!("/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}"))
        .body(Vec::new())
        .unwrap();
    let _ = client.request_text(req).await;
}

/// The test bed's node IP (where aggregated servers listen: Endpoints reject 127.x).
async fn node_ip(client: &kube::Client) -> String {
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    let n = nodes.list(&Default::default()).await.unwrap();
    n.items[0]
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
        .map(|a| a.address.clone())
        .expect("node InternalIP")
}

fn pydeps() -> PathBuf {
    std::env::var_os("MESHTOP_TEST_PYDEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            dirs::home_dir()
                .unwrap()
                .join(".cache/meshtop-testbed/py/grpcio-tools-1.85.1")
        })
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the API server logged about this namespace's requests and its proxying, and what
/// the tap server wrote to stderr: printed when a tap stream breaks.
fn proxy_diagnostics(ns: &str, server_log: &Path) -> String {
    let log = kubeconfig().parent().unwrap().join("logs/kube-apiserver.log");
    let api: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(ns) || l.contains("ReverseProxy") || l.contains("tap.linkerd.io"))
        .map(|l| l.chars().take(400).collect())
        .collect();
    let tail = &api[api.len().saturating_sub(30)..];
    format!(
        "kube-apiserver ({}):\n{}\ntap server stderr:\n{}",
        log.display(),
        tail.join("\n"),
        std::fs::read_to_string(server_log).unwrap_or_default()
    )
}

/// A meshed pod's metadata and spec on one line each (flow style), for a Pod or a template.
fn linkerd_pod(name: &str, tap_enabled: bool) -> (String, String) {
    let tap = if tap_enabled {
        ", viz.linkerd.io/tap-enabled: 'true'"
    } else {
        ""
    };
    (
        format!("{{name: {name}, labels: {{app: {name}}}, annotations: {{linkerd.io/proxy-version: stable-2.14.10{tap}}}}}"),
        "{containers: [{name: app, image: app:1}, {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10}]}".into(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn linkerd_tap_through_the_aggregation_layer() {
    let Some(fixtures) = real_fixtures() else { return };
    let _turn = ONE_AT_A_TIME.lock().await;
    let (client, ns) = setup("tap-linkerd").await;
    let dir = tempfile::tempdir().unwrap();
    let ip = node_ip(&client).await;
    let port = 20000 + (std::process::id() % 20000) as u16;
    let (cert, key) = (dir.path().join("tap.crt"), dir.path().join("tap.key"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=tap", "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let (feed, requests) = (dir.path().join("feed.jsonl"), dir.path().join("requests.jsonl"));
    let server_log = dir.path().join("tapserver.err");
    std::fs::write(&feed, "").unwrap();
    let server = Killed(
        Command::new("python3")
            .arg(repo().join("tests/standin/tapserver.py"))
            .args(["--listen", &format!("{ip}:{port}"), "--cert"])
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--proto-dir")
            .arg(fixtures.join("linkerd/proto/viz"))
            .arg("--feed")
            .arg(&feed)
            .arg("--requests")
            .arg(&requests)
            .env("PYTHONPATH", pydeps())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&server_log).unwrap())
            .spawn()
            .unwrap(),
    );
    delete_apiservice(&client).await;
    let _cleanup = ApiServiceGuard(client.clone());
    create_yaml(
        &client,
        &ns,
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: tap}}\nspec:\n  ports: [{{name: https, port: 443, targetPort: {port}}}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {{name: tap}}\nsubsets:\n- addresses: [{{ip: {ip}}}]\n  ports: [{{name: https, port: {port}}}]\n---\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {{name: {APISERVICE}}}\nspec:\n  group: tap.linkerd.io\n  version: v1alpha1\n  groupPriorityMinimum: 1000\n  versionPriority: 100\n  insecureSkipTLSVerify: true\n  service: {{name: tap, namespace: {ns}, port: 443}}\n"
        ),
    )
    .await;
    wait_for("the tap APIService to answer", Duration::from_secs(60), || {
        let client = client.clone();
        async move { (api_get(&client, "/apis/tap.linkerd.io/v1alpha1").await.0 == 200).then_some(()) }
    })
    .await;
    // deploy/web (tap-enabled, with a stand-in proxy), deploy/old (started before
    // linkerd-viz: not tap-enabled), and pods the server answers badly for.
    let deploy = |name: &str, tap: bool| {
        let (meta, spec) = linkerd_pod(name, tap);
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template: {{metadata: {meta}, spec: {spec}}}\n"
        )
    };
    let pod = |name: &str| {
        let (meta, spec) = linkerd_pod(name, true);
        format!("apiVersion: v1\nkind: Pod\nmetadata: {meta}\nspec: {spec}\n")
    };
    create_yaml(
        &client,
        &ns,
        &[
            deploy("web", true),
            deploy("old", false),
            pod("truncated"),
            pod("oversize"),
            pod("refused"),
        ]
        .join("---\n"),
    )
    .await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), &ns);
    let web_pod = wait_for("the web pod", Duration::from_secs(60), || {
        let pods = pods.clone();
        async move {
            let l = pods
                .list(&kube::api::ListParams::default().labels("app=web"))
                .await
                .ok()?;
            l.items.first().and_then(|p| p.metadata.name.clone())
        }
    })
    .await;
    let (web_ip, _procs, _d) = standin_with(
        &client,
        &ns,
        &web_pod,
        "linkerd",
        4191,
        &["--tap-feed", feed.to_str().unwrap()],
    )
    .await;
    for p in ["truncated", "oversize", "refused"] {
        running_pod(&client, &ns, p).await;
    }
    wait_for("deploy/old's pod", Duration::from_secs(60), || {
        let pods = pods.clone();
        async move {
            let l = pods
                .list(&kube::api::ListParams::default().labels("app=old"))
                .await
                .ok()?;
            l.items
                .first()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .map(|_| ())
        }
    })
    .await;

    let kc = kubeconfig();
    let addr = format!("{web_ip}:15001");
    let sent = [
        "/index.html?n=1",
        "/index.html?token=s3cret",
        "/status/503",
        "/status/404",
    ];
    // Twice at most: two full runs in about twenty (and once in CI) lost this stream in the
    // API server's proxy a second into it, never reproduced alone. A second break fails the
    // test; each prints what the API server and the tap server said, for the next look.
    let mut attempt = 0;
    let (code, lines, stderr) = loop {
        let asked_before = std::fs::read_to_string(&requests).map_or(0, |s| s.lines().count());
        let child = tap(&["deploy/web", "-n", &ns, "--duration", "8s", "--max-rps", "50"], &kc);
        wait_for("the tap request to reach the server", Duration::from_secs(20), || {
            let has = std::fs::read_to_string(&requests).is_ok_and(|s| s.lines().count() > asked_before);
            async move { has.then_some(()) }
        })
        .await;
        for path in sent {
            assert!(get_with(&addr, path, "Authorization: Bearer abc.def\r\n").is_some());
        }
        let (code, lines, stderr) = finish(child);
        attempt += 1;
        if code == Some(0) || attempt == 2 || !stderr.contains("the tap stream broke") {
            if code != Some(0) {
                eprintln!("{}", proxy_diagnostics(&ns, &server_log));
            }
            break (code, lines, stderr);
        }
        eprintln!("attempt {attempt}: {stderr}\n{}", proxy_diagnostics(&ns, &server_log));
    };
    assert_eq!(code, Some(0), "{stderr}");
    let ev = events(&lines);
    let got: Vec<(String, String, u64)> = ev
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("GET".to_string(), "/index.html?n=1".to_string(), 200),
            ("GET".into(), "/index.html?token=<redacted>".into(), 200),
            ("GET".into(), "/status/503".into(), 503),
            ("GET".into(), "/status/404".into(), 404),
        ],
        "{stderr}"
    );
    // Latency: the proxy's own measure of each request, to the microsecond (the last
    // attempt's four).
    let fed: Vec<Value> = std::fs::read_to_string(&feed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains('?') || p.starts_with("/status/"))
        })
        .collect();
    assert_eq!(fed.len(), 4 * attempt);
    let fed = &fed[fed.len() - 4..];
    for (e, f) in ev.iter().zip(fed) {
        let want = f["total_ns"].as_f64().unwrap() / 1e6;
        assert!((e["duration_ms"].as_f64().unwrap() - want).abs() < 0.001, "{e} vs {f}");
        assert_eq!(e["direction"], "inbound");
        assert_eq!(e["origin"], "linkerd");
        assert_eq!(e["destination"], format!("{ns}/{web_pod}"));
        assert_eq!(e["bytes_sent"], f["bytes"]);
    }
    let asked: Value =
        serde_json::from_str(std::fs::read_to_string(&requests).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            asked["type"].as_str(),
            asked["name"].as_str(),
            asked["namespace"].as_str(),
            asked["max_rps"].as_f64()
        ),
        (Some("deployment"), Some("web"), Some(ns.as_str()), Some(50.0))
    );
    assert_eq!(asked["path_kind"], "deployment");

    // The failures, each a clear error and exit status 1.
    let fails = |target: &str, kubeconfig: &Path| {
        let c = tap(&[target, "-n", &ns, "--duration", "20s"], kubeconfig);
        let (code, _, stderr) = finish(c);
        assert_eq!(code, Some(1), "{target}: {stderr}");
        stderr
    };
    let e = fails("deploy/old", &kc);
    assert!(
        e.contains("not tap-enabled") && e.contains("kubectl rollout restart deployment/old"),
        "{e}"
    );
    let e = fails("pod/truncated", &kc);
    assert!(
        e.contains("the tap stream ended inside a frame (10 of 100 bytes)"),
        "{e}"
    );
    let e = fails("pod/oversize", &kc);
    assert!(
        e.contains("claims 104857600 bytes, more than the 4194304-byte limit"),
        "{e}"
    );
    let e = fails("pod/refused", &kc);
    assert!(
        e.contains("the tap server refused: no pods to tap for pod/refused"),
        "{e}"
    );
    // A user who may read pods and deployments but not tap.
    create_yaml(
        &client,
        &ns,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader}\nrules:\n- apiGroups: ['', apps]\n  resources: [pods, deployments]\n  verbs: [get, list, watch]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: reader}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\nsubjects: [{kind: User, name: tap-reader, apiGroup: rbac.authorization.k8s.io}]\n",
    )
    .await;
    let restricted = impersonating_kubeconfig(dir.path(), "tap-reader");
    let e = fails("deploy/web", &restricted);
    assert!(
        e.contains("not allowed to tap: it needs the verb watch on tap.linkerd.io"),
        "{e}"
    );
    // The APIService's server down.
    drop(server);
    let e = fails("deploy/web", &kc);
    assert!(e.contains("v1alpha1.tap.linkerd.io is unavailable"), "{e}");
    delete_apiservice(&client).await;
}

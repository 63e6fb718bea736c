//! Test bed harness shared by the integration tests.
//!
//! The first test that needs the cluster runs `scripts/testbed up` (which reuses a bed
//! that is already up), once per test binary. Each test gets its own namespace.
#![allow(dead_code)]

pub mod relay;
pub mod role;
pub mod scenario;
pub mod servers;
pub mod standin;
pub mod sweep;
pub mod tmux;
pub mod usage;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, Config, ResourceExt};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Kubernetes version the test bed runs: the default bed's, or the older one of the
/// support matrix that `scripts/test` runs the discovery and metrics tests on too.
pub fn k8s_version() -> String {
    std::env::var("MESHTOP_TEST_K8S_VERSION").unwrap_or_else(|_| "v1.34.4".into())
}

/// The running test bed's kubeconfig, starting the bed if needed.
pub fn kubeconfig() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(p) = std::env::var("MESHTOP_TEST_KUBECONFIG") {
            return PathBuf::from(p);
        }
        let out = Command::new(repo().join("scripts/testbed"))
            .arg("up")
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/testbed up");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "scripts/testbed up failed ({}): {stdout}",
            out.status
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("KUBECONFIG="))
            .unwrap_or_else(|| panic!("scripts/testbed up printed no KUBECONFIG= line: {stdout:?}"));
        PathBuf::from(line.trim())
    })
    .clone()
}

pub async fn client() -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig()).expect("reading the test bed kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig");
    Client::try_from(config).expect("client")
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The usual start of a test-bed test: TLS provider, client, and a fresh namespace.
pub async fn setup(test: &str) -> (Client, String) {
    install_crypto();
    let client = client().await;
    let ns = namespace(&client, test).await;
    (client, ns)
}

/// A fresh namespace for one test, named after it.
pub async fn namespace(client: &Client, test: &str) -> String {
    let suffix: u32 = std::process::id()
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos());
    let name = format!("t-{}-{:05x}", test.replace('_', "-"), suffix & 0xfffff);
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("creating test namespace");
    // ServiceAccount admission is on, as in real clusters: pods are rejected until the
    // controller manager has created the namespace's default ServiceAccount.
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), &name);
    // 90 s: right after a fault test restarted the API server, the controller manager's
    // informers are still backing off (once 30 s was not enough in a full run).
    wait_for("the default ServiceAccount", Duration::from_secs(90), || {
        let sas = sas.clone();
        async move { sas.get_opt("default").await.ok().flatten() }
    })
    .await;
    name
}

/// Creates every object of a (multi-document) YAML in `ns`, like `kubectl create -n ns -f`.
/// Returns (kind, name) of each object created.
pub async fn create_yaml(client: &Client, ns: &str, yaml: &str) -> Vec<(String, String)> {
    let discovery = Discovery::new(client.clone()).run().await.expect("API discovery");
    let mut created = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_yaml::Value::deserialize(doc).expect("valid YAML");
        if value.is_null() {
            continue;
        }
        let mut obj: DynamicObject = serde_yaml::from_value(value).expect("a Kubernetes object");
        let tm = obj.types.clone().expect("apiVersion and kind");
        let gvk = kube::api::GroupVersionKind::try_from(&tm).expect("group/version/kind");
        let (ar, caps): (ApiResource, _) = discovery
            .resolve_gvk(&gvk)
            .unwrap_or_else(|| panic!("{gvk:?} not served"));
        let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
            obj.metadata.namespace = Some(ns.to_string());
            Api::namespaced_with(client.clone(), ns, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        let o = api
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("creating {} {}: {e}", tm.kind, obj.name_any()));
        created.push((tm.kind.clone(), o.name_any()));
    }
    created
}

use serde::Deserialize as _;

/// Polls `f` every 100 ms until it returns Some, or panics with `what` after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until a pod is Running with an IP, and returns it.
pub async fn running_pod(client: &Client, ns: &str, name: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    wait_for(
        &format!("pod {ns}/{name} to be Running with an IP"),
        Duration::from_secs(60),
        || {
            let pods = pods.clone();
            async move {
                let p = pods.get_opt(name).await.ok().flatten()?;
                let st = p.status.as_ref()?;
                (st.phase.as_deref() == Some("Running") && st.pod_ip.is_some()).then_some(p)
            }
        },
    )
    .await
}

/// `../shared/fixtures/real`, read in place. Absent: skip (returns None) with a message,
/// except under CI=true, where a missing fixture folder is a failure.
pub fn real_fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("MESHTOP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/fixtures/real"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("real fixtures not found at {} (required under CI=true)", dir.display());
    }
    eprintln!(
        "SKIP: real fixtures not found at {}; set MESHTOP_FIXTURES",
        dir.display()
    );
    None
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A process running inside a pod's network namespace; killed when dropped.
pub struct NetnsProcess {
    child: Child,
}

impl NetnsProcess {
    /// The process itself: `ip netns exec` execs the command in place.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NetnsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Gives the pod a network namespace holding its IP (scripts/testbed pod-netns) and
/// returns the namespace's name.
pub fn pod_netns(ns: &str, pod: &str) -> String {
    let out = Command::new(repo().join("scripts/testbed"))
        .args(["pod-netns", ns, pod])
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/testbed pod-netns");
    assert!(
        out.status.success(),
        "pod-netns {ns}/{pod} failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Python's http.server on :8080 in a pod's network namespace, serving `dir`.
pub fn serve_dir_in_netns(netns: &str, bind: &str, dir: &Path) -> NetnsProcess {
    spawn_in_netns(
        netns,
        &[
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            bind,
            "--directory",
            dir.to_str().unwrap(),
        ],
    )
}

pub fn spawn_in_netns(netns: &str, argv: &[&str]) -> NetnsProcess {
    let child = Command::new("ip")
        .args(["netns", "exec", netns])
        .args(argv)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {argv:?} in netns {netns}: {e}"));
    NetnsProcess { child }
}

/// GET through the API server (pod proxy, aggregated APIs) and return status and body.
pub async fn api_get(client: &Client, path: &str) -> (u16, String) {
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    match client.request_text(req).await {
        Ok(body) => (200, body),
        Err(kube::Error::Api(s)) => (s.code, s.message.clone()),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

/// Sets a label on a namespace (merge patch).
pub async fn label_namespace(client: &Client, ns: &str, key: &str, value: &str) {
    let patch = serde_json::json!({"metadata": {"labels": {key: value}}});
    Api::<Namespace>::all(client.clone())
        .patch(ns, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("labelling namespace");
}

/// A directory to give meshtop as $XDG_CONFIG_HOME, its config file naming `namespaces`
/// (the list `-n` would give).
pub fn config_naming(namespaces: &[&str]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("meshtop")).unwrap();
    let list: Vec<String> = namespaces.iter().map(|n| format!("{n:?}")).collect();
    std::fs::write(
        home.path().join("meshtop/config.toml"),
        format!("namespaces = [{}]\n", list.join(", ")),
    )
    .unwrap();
    home
}

/// A copy of the test bed's admin kubeconfig that impersonates `user` (the API server
/// then authorizes every request as that user, exactly as for a real restricted user).
pub fn impersonating_kubeconfig(dir: &Path, user: &str) -> PathBuf {
    let text = read(&kubeconfig());
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    for u in doc["users"].as_sequence_mut().expect("users") {
        u["user"]["as"] = serde_yaml::Value::String(user.to_string());
    }
    let path = dir.join("restricted.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    path
}

/// The screen meshtop draws for `state` at this size, as text (trailing spaces trimmed).
pub fn render_text(state: &meshtop::app::State, w: u16, h: u16) -> String {
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    term.draw(|f| meshtop::ui::Ui::builtin().render(state, f)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| {
            let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            line.trim_end().to_string() + "\n"
        })
        .collect()
}

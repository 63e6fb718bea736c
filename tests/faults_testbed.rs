//! Faults on the real test bed, driven with `scripts/testbed stop|start|pause|resume`:
//! the API server killed mid-watch, the API server gone silent (a relay that drops every
//! byte and keeps the sockets open, as a laptop's sleep or a VPN drop does), and etcd
//! paused under the TUI. The tests of this file run one at a time (they take the shared
//! control plane down); the figures they print are the closing note's.

mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use meshtop::app::{Keymap, State, fold};
use meshtop::model::{ErrorKind, Resource};
use support::relay::Relay;
use support::tmux::{Tmux, assert_terminal_restored};
use support::webhook::TokenWebhook;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

/// One fault at a time: each takes part of the shared control plane down.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn testbed(args: &[&str]) {
    support::kubeconfig();
    let status = std::process::Command::new(support::repo().join("scripts/testbed"))
        .args(args)
        .status()
        .expect("running scripts/testbed");
    assert!(status.success(), "scripts/testbed {args:?} failed: {status}");
}

/// Undoes a fault when the test ends, also when it fails half-way.
struct Undo(&'static [&'static str]);

impl Drop for Undo {
    fn drop(&mut self) {
        let _ = std::process::Command::new(support::repo().join("scripts/testbed"))
            .args(self.0)
            .status();
    }
}

/// meshtop's kube source folded into a State, as the TUI's loop does (on this thread: a
/// State stays on the thread that draws it).
struct Watching {
    state: RefCell<State>,
    rx: RefCell<tokio::sync::mpsc::Receiver<meshtop::app::Stamped>>,
    source: tokio::task::JoinHandle<()>,
    extra: Vec<tokio::task::JoinHandle<()>>,
    /// Cluster errors folded so far, also those cleared within the same batch.
    cluster_errors: std::cell::Cell<usize>,
}

impl Watching {
    fn start(kubeconfig: PathBuf, ns: &str) -> Watching {
        let target = meshtop::source::kube::KubeTarget {
            kubeconfig: Some(kubeconfig),
            context: None,
            namespaces: vec![ns.to_string()],
        };
        let (tx, rx) = tokio::sync::mpsc::channel(meshtop::source::CHANNEL_CAPACITY);
        let source = tokio::spawn(meshtop::source::kube::run(target, tx));
        Watching {
            state: RefCell::new(State::new(Keymap::default())),
            rx: RefCell::new(rx),
            source,
            extra: Vec::new(),
            cluster_errors: Default::default(),
        }
    }

    /// The state with every update received so far folded in.
    fn state(&self) -> std::cell::RefMut<'_, State> {
        let mut s = self.state.borrow_mut();
        while let Ok(u) = self.rx.borrow_mut().try_recv() {
            if let meshtop::app::Update::SourceError {
                resource: Resource::Cluster,
                ..
            } = &u.update
            {
                self.cluster_errors.set(self.cluster_errors.get() + 1);
            }
            fold(&mut s, u);
        }
        s
    }

    /// Also the Prometheus source, on the same channel (as the TUI runs them).
    fn with_prometheus(&mut self, url: &str, tx_ns: &str) {
        let target = meshtop::source::kube::KubeTarget {
            kubeconfig: Some(support::kubeconfig()),
            context: None,
            namespaces: vec![tx_ns.to_string()],
        };
        let (tx, rx) = tokio::sync::mpsc::channel(meshtop::source::CHANNEL_CAPACITY);
        // The kube source keeps its own channel: merge the two into the one folded.
        let mut own = std::mem::replace(&mut *self.rx.borrow_mut(), rx);
        let merged = tx.clone();
        tokio::spawn(async move {
            while let Some(u) = own.recv().await {
                if merged.send(u).await.is_err() {
                    return;
                }
            }
        });
        let (window_tx, window) = tokio::sync::watch::channel(30u32);
        std::mem::forget(window_tx);
        let spec = meshtop::source::prometheus::Spec::parse(url).unwrap();
        self.extra.push(tokio::spawn(meshtop::source::prometheus::run(
            spec,
            target,
            window,
            Duration::from_secs(1),
            tx,
        )));
    }

    /// Every source's error, as `resource namespace: message`.
    fn errors(&self) -> Vec<String> {
        let s = self.state();
        s.errors
            .iter()
            .map(|((r, n), e)| format!("{} {n:?}: {}", r.as_str(), e.message))
            .collect()
    }

    fn error(&self, resource: Resource) -> Option<(ErrorKind, String)> {
        let s = self.state();
        s.errors.get(&(resource, None)).map(|e| (e.kind, e.message.clone()))
    }

    fn pods(&self, ns: &str) -> BTreeSet<String> {
        let s = self.state();
        s.pods.keys().filter(|(n, _)| n == ns).map(|(_, p)| p.clone()).collect()
    }

    fn cluster_error(&self) -> Option<(ErrorKind, String)> {
        let s = self.state();
        s.errors
            .get(&(Resource::Cluster, None))
            .map(|e| (e.kind, e.message.clone()))
    }

    fn status_line(&self) -> String {
        let s = self.state();
        let screen = support::render_text(&s, 250, 6);
        screen
            .lines()
            .find(|l| l.contains("ctx "))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.source.abort();
        for t in &self.extra {
            t.abort();
        }
    }
}

async fn api_pods(client: &kube::Client, ns: &str) -> BTreeSet<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&Default::default())
        .await
        .expect("listing pods")
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

fn pods_yaml(names: &[String]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}}}\nspec:\n  containers: [{{name: a, image: a}}]\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Deletes pods at once (no grace), so the API's list no longer has them.
async fn delete_pods(client: &kube::Client, ns: &str, names: &[String]) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for n in names {
        pods.delete(n, &DeleteParams::default().grace_period(0))
            .await
            .unwrap_or_else(|e| panic!("deleting {n}: {e}"));
    }
}

/// Waits until meshtop's pods are exactly the API's (no row lost, none left over), with
/// no cluster error; returns how long that took.
async fn wait_current(w: &Watching, client: &kube::Client, ns: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let want = api_pods(client, ns).await;
        let have = w.pods(ns);
        if have == want && w.cluster_error().is_none() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "meshtop not current after {limit:?}: it has {have:?}, the API has {want:?}, cluster error {:?}",
            w.cluster_error()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The API server is killed (SIGKILL) under live watches. meshtop says it is reconnecting
/// and since when; pods created and deleted the moment the API server is back (while
/// meshtop's watches are still in their backoff) all show, and nothing deleted stays.
// The guard serialises whole tests, each on its own runtime: nothing else awaits it.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_api_server_is_reconnected_and_no_row_is_lost_or_left() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-api").await;
    let first = names("before-", 6);
    support::create_yaml(&client, &ns, &pods_yaml(&first)).await;
    let w = Watching::start(support::kubeconfig(), &ns);
    wait_current(&w, &client, &ns, Duration::from_secs(30)).await;

    let _undo = Undo(&["start", "kube-apiserver"]);
    testbed(&["stop", "kube-apiserver", "--kill"]);
    let killed = Instant::now();
    support::wait_for("meshtop to notice", Duration::from_secs(30), || async {
        w.cluster_error().filter(|(k, _)| *k == ErrorKind::Unreachable)
    })
    .await;
    let noticed = killed.elapsed();
    let status = w.status_line();
    assert!(status.contains("· reconnecting: no answer since "), "{status}");
    assert!(status.contains("Connection refused"), "{status}");

    testbed(&["start", "kube-apiserver"]);
    let back = Instant::now();
    // The burst, made before meshtop's watches are back.
    let client = support::client().await;
    let burst = names("during-", 10);
    support::create_yaml(&client, &ns, &pods_yaml(&burst)).await;
    delete_pods(&client, &ns, &first[..3]).await;
    let current = wait_current(&w, &client, &ns, Duration::from_secs(60)).await;
    let have = w.pods(&ns);
    assert_eq!(have.len(), 13, "6 - 3 + 10 pods: {have:?}");
    assert!(
        first[..3].iter().all(|p| !have.contains(p)),
        "deleted pods are gone: {have:?}"
    );
    println!(
        "FIGURE api-server-kill: unreachable shown {:.1}s after the kill; current again {:.1}s after the API server was back ({:.1}s after its burst of 10 creates and 3 deletes)",
        noticed.as_secs_f64(),
        back.elapsed().as_secs_f64(),
        current.as_secs_f64()
    );
}

/// Compacts the test bed's etcd to its current revision (through etcd's JSON gateway), so
/// every resourceVersion a watch holds from before is gone. Returns the revision.
fn compact_etcd() -> u64 {
    let port = std::env::var("MESHTOP_TESTBED_ETCD_PORT").unwrap_or_else(|_| "23790".into());
    let post = |path: &str, body: &str| -> serde_json::Value {
        let out = std::process::Command::new("curl")
            .args([
                "-sf",
                "-X",
                "POST",
                &format!("http://127.0.0.1:{port}{path}"),
                "-d",
                body,
            ])
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "etcd {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("etcd answers JSON")
    };
    let revision: u64 = post("/v3/kv/range", r#"{"key":"AA=="}"#)["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("etcd's current revision");
    post(
        "/v3/kv/compaction",
        &format!(r#"{{"revision":"{revision}","physical":true}}"#),
    );
    revision
}

/// etcd compacted while the API server is down: when it is back, every watch's
/// resourceVersion is gone (410, "too old resource version"); the watches list afresh, the
/// pods are current and every source's error clears. Here the API server reports the 410
/// inside the watch, which kube's watcher handles itself; the case meshtop now handles too
/// (the 410 as the answer to starting the watch, which kube's watcher retries with the same
/// version forever: APIServices stayed in error after the restart while re-recording the
/// demo) was not reproduced by this test.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn watches_list_afresh_when_their_resource_version_is_compacted_away() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-gone").await;
    let first = names("before-", 3);
    support::create_yaml(&client, &ns, &pods_yaml(&first)).await;
    let w = Watching::start(support::kubeconfig(), &ns);
    wait_current(&w, &client, &ns, Duration::from_secs(30)).await;
    // Leader-election leases renew every 2 s: etcd's revision moves past every watch's.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let _undo = Undo(&["start", "kube-apiserver"]);
    testbed(&["stop", "kube-apiserver", "--kill"]);
    let revision = compact_etcd();
    testbed(&["start", "kube-apiserver"]);
    let client = support::client().await;
    let later = names("after-", 2);
    support::create_yaml(&client, &ns, &pods_yaml(&later)).await;
    let current = wait_current(&w, &client, &ns, Duration::from_secs(60)).await;
    assert_eq!(w.pods(&ns).len(), 5);
    let start = Instant::now();
    loop {
        let errors = w.errors();
        if errors.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sources still in error a minute after the pods were current: {errors:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "FIGURE compacted-restart: etcd compacted to revision {revision} while the API server was down; pods current {:.1}s and every source clear {:.1}s later",
        current.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
}

/// A short outage between two probes: right after a probe, every connection to the API
/// server is reset and new ones are refused for 2 s, so the probe (every 5 s) never sees
/// it. The watches do: each starts over with a fresh list, and every source's error
/// clears, the quiet ones included (APIServices, CRDs, namespaces: a watch that resumed
/// from its resourceVersion would get no event to clear its "Connection reset").
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_short_outage_the_probe_misses_leaves_no_source_in_error() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-reset").await;
    let dir = tempfile::tempdir().unwrap();
    let relay = std::sync::Arc::new(Relay::start(&api_server()));
    let kubeconfig = through(&relay, dir.path());
    support::create_yaml(&client, &ns, &pods_yaml(&names("p-", 2))).await;
    let w = Watching::start(kubeconfig, &ns);
    wait_current(&w, &client, &ns, Duration::from_secs(30)).await;
    // Every list done and every watch open, then quiet but for the probe.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        w.state().errors.is_empty(),
        "{:?}",
        w.state().errors.keys().collect::<Vec<_>>()
    );
    // Right after a request (the probe's, every 5 s, most likely: open watches send
    // nothing). Should the probe see the outage all the same (the request was another),
    // that attempt proves nothing about the case here, and the next one is made.
    let mut attempts = 0;
    let (seen, back) = loop {
        attempts += 1;
        assert!(attempts <= 5, "the probe saw every outage: the case was never tested");
        support::wait_for("a request to the API", Duration::from_secs(10), || async {
            (relay.quiet_for() < 300).then_some(())
        })
        .await;
        let probe_errors = w.cluster_errors.get();
        let outage = {
            let relay = relay.clone();
            tokio::task::spawn_blocking(move || relay.outage(Duration::from_secs(2)))
        };
        // The watches see it.
        let seen = support::wait_for("a watch to report the reset", Duration::from_secs(5), || async {
            let s = w.state();
            s.errors
                .iter()
                .find(|((r, _), e)| *r != Resource::Cluster && e.kind == ErrorKind::Unreachable)
                .map(|((r, _), e)| format!("{}: {}", r.as_str(), e.message))
        })
        .await;
        outage.await.unwrap();
        let back = Instant::now();
        let mut probe_saw = false;
        loop {
            let errors = w.errors();
            probe_saw |= w.cluster_error().is_some() || w.cluster_errors.get() > probe_errors;
            if errors.is_empty() {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(30),
                "sources still in error 30 s after a 2 s outage: {errors:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !probe_saw {
            break (seen, back);
        }
    };
    println!(
        "FIGURE reset-between-probes: attempt {attempts}; first error {seen:?}; every source clear {:.1}s after the 2 s outage ended",
        back.elapsed().as_secs_f64()
    );
}

/// The test bed's API server, host:port, as its kubeconfig names it.
fn api_server() -> String {
    support::read(&support::kubeconfig())
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .expect("the test bed kubeconfig names its server")
        .to_string()
}

/// A kubeconfig like the test bed's whose server is the relay.
fn through(relay: &Relay, dir: &Path) -> PathBuf {
    let text = support::read(&support::kubeconfig());
    let path = dir.join("relayed.kubeconfig");
    let relayed = text.replace(
        &format!("https://{}", api_server()),
        &format!("https://127.0.0.1:{}", relay.port),
    );
    std::fs::write(&path, relayed).unwrap();
    path
}

/// A laptop's sleep or a VPN drop: for 60 s every byte between meshtop and the API server
/// is dropped, sockets open, no RST, no FIN. meshtop says "no answer since …" instead of
/// hanging, and afterwards it is current again, including the changes made meanwhile.
// The guard serialises whole tests, each on its own runtime: nothing else awaits it.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_api_server_is_no_answer_since_and_meshtop_recovers() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-silent").await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&api_server());
    let kubeconfig = through(&relay, dir.path());
    let first = names("before-", 3);
    support::create_yaml(&client, &ns, &pods_yaml(&first)).await;
    let w = Watching::start(kubeconfig, &ns);
    wait_current(&w, &client, &ns, Duration::from_secs(30)).await;
    // The watches are established and quiet when the network goes.
    tokio::time::sleep(Duration::from_secs(2)).await;

    relay.set_blackhole(true);
    let dropped = Instant::now();
    let later = names("unseen-", 4);
    support::create_yaml(&client, &ns, &pods_yaml(&later)).await;
    delete_pods(&client, &ns, &first[..1]).await;
    support::wait_for(
        "meshtop to say the API does not answer",
        Duration::from_secs(40),
        || async {
            w.cluster_error()
                .filter(|(k, m)| *k == ErrorKind::Unreachable && m.contains("did not answer /version within 10s"))
        },
    )
    .await;
    let noticed = dropped.elapsed();
    let status = w.status_line();
    assert!(status.contains("· reconnecting: no answer since "), "{status}");
    assert!(
        !w.pods(&ns).contains("unseen-0"),
        "nothing passes the relay while it drops: {:?}",
        w.pods(&ns)
    );
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(dropped.elapsed())).await;

    relay.set_blackhole(false);
    let current = wait_current(&w, &client, &ns, Duration::from_secs(90)).await;
    let have = w.pods(&ns);
    assert_eq!(have.len(), 6, "3 - 1 + 4 pods: {have:?}");
    println!(
        "FIGURE blackhole-60s: 'no answer since' shown {:.1}s after the drop; current again {:.1}s after the network came back",
        noticed.as_secs_f64(),
        current.as_secs_f64()
    );
}

/// etcd is paused (SIGSTOP) for 20 s under the TUI: keys keep working all along, and
/// `q`, then ctrl-c in a second run, quit at once with the terminal restored.
#[test]
fn with_etcd_paused_keys_work_and_quit_is_immediate() {
    let _serial = serial();
    let kc = support::kubeconfig();
    for quit in ["q", "C-c"] {
        let t = Tmux::start(160, 30);
        t.run(&format!(
            "{BIN} --kubeconfig {} -n kube-system; echo EXIT=$?",
            kc.display()
        ));
        t.wait_text("ctx meshtop-testbed", Duration::from_secs(30));
        let _undo = Undo(&["resume", "etcd"]);
        testbed(&["pause", "etcd"]);
        let paused = Instant::now();
        // Before and after the API's requests start timing out (10 s).
        for at in [3, 14] {
            std::thread::sleep(Duration::from_secs(at).saturating_sub(paused.elapsed()));
            t.keys(&["?"]);
            t.wait_text("help · ", Duration::from_secs(2));
            t.keys(&["Escape"]);
            t.wait("help closed", Duration::from_secs(2), |s| !s.contains("help · "));
        }
        std::thread::sleep(Duration::from_secs(20).saturating_sub(paused.elapsed()));
        t.keys(&[quit]);
        let asked = Instant::now();
        t.wait_text("EXIT=0", Duration::from_secs(5));
        let took = asked.elapsed();
        testbed(&["resume", "etcd"]);
        assert_terminal_restored(&t);
        println!(
            "FIGURE etcd-paused: `{quit}` after {:.0}s of paused etcd: exited within {} ms (tmux polls every 100 ms)",
            paused.elapsed().as_secs_f64() - took.as_secs_f64(),
            took.as_millis()
        );
    }
}

/// Before its first successful list, a watch backs off like afterwards: against an API
/// server that drops every request unanswered, each of the five namespaced watches asks a
/// few times in 4 s, not thousands (the raw watcher retried at once).
#[tokio::test(flavor = "multi_thread")]
async fn watches_back_off_before_their_first_list() {
    use std::io::{BufRead, BufReader};
    support::install_crypto();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(Mutex::new(std::collections::BTreeMap::<String, u32>::new()));
    let counted = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
                .to_string();
            *counted.lock().unwrap().entry(path).or_default() += 1;
            // Dropped unanswered: the client sees the connection close.
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("dropping.kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: d\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: d\n    user: u\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let target = meshtop::source::kube::KubeTarget {
        kubeconfig: Some(kc),
        context: None,
        namespaces: Vec::new(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(meshtop::source::CHANNEL_CAPACITY);
    let source = tokio::spawn(meshtop::source::kube::run(target, tx));
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    tokio::time::sleep(Duration::from_secs(4)).await;
    source.abort();
    drain.abort();
    let seen = seen.lock().unwrap().clone();
    println!("FIGURE watch-backoff: requests in 4 s against a server that drops them: {seen:?}");
    for path in ["/api/v1/pods", "/apis/apps/v1/deployments", "/api/v1/services"] {
        let n = seen.get(path).copied().unwrap_or(0);
        assert!((1..=10).contains(&n), "{path}: {n} requests in 4 s: {seen:?}");
    }
}

/// A Prometheus whose answer never ends: meshtop stops reading at its 64 MiB cap and says
/// so; it never buffers the answer whole first (it could not: there is no end).
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_prometheus_answer_is_cut_at_the_cap_while_it_streams() {
    use support::servers::{Behaviour, Misbehaving};
    support::install_crypto();
    let server = Misbehaving::start(Behaviour::Endless);
    let prometheus = meshtop::source::prometheus::Endpoint::direct(&format!("http://{}", server.addr)).unwrap();
    let err = prometheus.query("up").await.expect_err("an endless answer is refused");
    assert_eq!(
        err,
        (ErrorKind::Api, "response larger than 64 MiB, not parsed".to_string())
    );
    let sent = server.sent.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "FIGURE prometheus-cap: refused after the server had sent {} MiB",
        sent >> 20
    );
    // What left the server before the client stopped reading: the cap plus socket buffers.
    assert!(sent < 80 << 20, "{sent} bytes sent");
}

/// A pod's network namespace disappears mid-bench (its veth, its IP and its server with
/// it): the run still ends on time, the failures are counted by kind, and the result says
/// so (its error counts and the exit code of a run with errors).
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_pod_network_namespace_that_disappears_mid_bench_is_counted_by_kind() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-netns").await;
    support::create_yaml(&client, &ns, &pods_yaml(&["web".to_string()])).await;
    let pod = support::running_pod(&client, &ns, "web").await;
    let ip = pod.status.unwrap().pod_ip.unwrap();
    let netns = support::pod_netns(&ns, "web");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello\n").unwrap();
    let _server = support::serve_dir_in_netns(&netns, "0.0.0.0", dir.path());
    let url = format!("http://{ip}:8080/index.html");
    support::wait_for("the pod's server", Duration::from_secs(20), || async {
        reqwest::get(&url).await.ok().filter(|r| r.status().is_success())
    })
    .await;
    let bench = std::process::Command::new(BIN)
        .args([
            "bench",
            "-o",
            "json",
            "--no-save",
            "-z",
            "6s",
            "-c",
            "4",
            "--threads",
            "1",
            "--timeout",
            "1s",
            &url,
        ])
        .env("XDG_DATA_HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    testbed(&["pod-netns-rm", &ns, "web"]);
    // Without the pod's /32 route the IP would follow the host's default route, to whatever
    // answers there; in a cluster a vanished pod IP is unreachable, so make it so here.
    let route = format!("{ip}/32");
    let added = std::process::Command::new("ip")
        .args(["route", "add", "unreachable", &route])
        .status()
        .unwrap();
    assert!(added.success());
    struct Unroute(String);
    impl Drop for Unroute {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["route", "del", "unreachable", &self.0])
                .status();
        }
    }
    let _unroute = Unroute(route);
    // A run that hangs would never end: 60 s is ten times its length.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || bench.wait_with_output()),
    )
    .await
    .expect("the bench ended")
    .unwrap()
    .unwrap();
    let r: meshtop::model::bench::BenchResult =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    println!(
        "FIGURE netns-gone: {} requests, {} answered {:?}, errors {:?}; exit {:?}; ran {:.1}s",
        r.requests,
        r.responses,
        r.status,
        r.errors,
        out.status.code(),
        r.duration_s
    );
    assert!(r.responses > 0, "requests were answered before the namespace went");
    assert_eq!(
        r.status.keys().collect::<Vec<_>>(),
        [&200],
        "only the pod answered: {:?}",
        r.status
    );
    assert!(r.errors.total() > 0, "{:?}", r.errors);
    assert_eq!(
        r.errors.total(),
        r.errors.connect + r.errors.timeout + r.errors.reset + r.errors.tls + r.errors.other
    );
    assert_eq!(
        r.errors.tls + r.errors.other,
        0,
        "only network failures: {:?}",
        r.errors
    );
    assert!(!r.cancelled, "the run ran to its end");
}

/// A real Prometheus on loopback; killed when dropped.
struct Prometheus {
    child: std::process::Child,
}

impl Prometheus {
    fn start(port: u16, dir: &Path) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global: {scrape_interval: 1s}\n").unwrap();
        let child = std::process::Command::new("prometheus")
            .args([
                &format!("--config.file={}", cfg.display()),
                &format!("--storage.tsdb.path={}", dir.join("data").display()),
                &format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting prometheus (scripts/install-deps installs it)");
        Prometheus { child }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prometheus stops under a live session: its error shows (and names it), the watches go
/// on (a pod created meanwhile is listed), and when Prometheus is back the figures come
/// from it again and the error is gone, with nobody doing anything.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_prometheus_is_its_own_error_and_recovers_by_itself() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-prom").await;
    let dir = tempfile::tempdir().unwrap();
    let port = support::servers::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let prometheus = Prometheus::start(port, dir.path());
    let mut w = Watching::start(support::kubeconfig(), &ns);
    w.with_prometheus(&url, &ns);
    let answered = |w: &Watching| {
        let s = w.state();
        matches!(
            &s.traffic_origin,
            Some(meshtop::app::state::TrafficOrigin::Prometheus { .. })
        ) && !s.errors.contains_key(&(Resource::Prometheus, None))
    };
    support::wait_for("figures from Prometheus", Duration::from_secs(60), || async {
        answered(&w).then_some(())
    })
    .await;

    drop(prometheus);
    let stopped = Instant::now();
    let (kind, message) = support::wait_for("the Prometheus error", Duration::from_secs(30), || async {
        w.error(Resource::Prometheus)
    })
    .await;
    let noticed = stopped.elapsed();
    assert_eq!(kind, ErrorKind::Unreachable, "{message}");
    assert!(
        message.starts_with(&format!("{url}: ")),
        "the error names the server: {message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
    let status = w.status_line();
    assert!(status.contains("· prometheus unreachable: "), "{status}");
    // Everything else works: the watches see a pod created while Prometheus is down.
    support::create_yaml(&client, &ns, &pods_yaml(&["meanwhile".to_string()])).await;
    support::wait_for("the pod made meanwhile", Duration::from_secs(30), || async {
        w.pods(&ns).contains("meanwhile").then_some(())
    })
    .await;
    assert!(w.error(Resource::Prometheus).is_some(), "still down, still said");

    let _prometheus = Prometheus::start(port, dir.path());
    let back = Instant::now();
    support::wait_for("figures from Prometheus again", Duration::from_secs(60), || async {
        answered(&w).then_some(())
    })
    .await;
    println!(
        "FIGURE prometheus-stopped: error shown {:.1}s after the stop; figures again {:.1}s after the restart",
        noticed.as_secs_f64(),
        back.elapsed().as_secs_f64()
    );
}

/// Behind a proxy, as managed clusters often are: the kubeconfig's `proxy-url`, or
/// `HTTPS_PROXY` when it names none (and `NO_PROXY` exempting the server). meshtop's
/// requests to the API server go through the tunnel the proxy opened, and work.
#[test]
fn the_api_server_is_reached_through_proxy_url_or_https_proxy() {
    let _serial = serial();
    use support::relay::ConnectProxy;
    let dir = tempfile::tempdir().unwrap();
    let server = api_server();
    let discover = |kubeconfig: &Path, env: &[(&str, String)]| {
        let out = std::process::Command::new(BIN)
            .args(["discover", "-o", "json", "-n", "kube-system", "--kubeconfig"])
            .arg(kubeconfig)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let model: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            model["cluster"]["version"].as_str().is_some_and(|v| v.starts_with('v')),
            "{model}"
        );
    };

    let proxy = ConnectProxy::start();
    let text = support::read(&support::kubeconfig());
    let with_url = dir.path().join("proxied.kubeconfig");
    std::fs::write(
        &with_url,
        text.replace(
            &format!("    server: https://{server}\n"),
            &format!(
                "    server: https://{server}\n    proxy-url: http://127.0.0.1:{}\n",
                proxy.port
            ),
        ),
    )
    .unwrap();
    assert!(support::read(&with_url).contains("proxy-url"));
    discover(&with_url, &[]);
    assert!(!proxy.tunnels().is_empty(), "no request went through the proxy");
    assert!(proxy.tunnels().iter().all(|t| *t == server), "{:?}", proxy.tunnels());

    // HTTPS_PROXY is never used for loopback (as kubectl): the API server is reached at the
    // test bed's node address instead, through a relay there.
    let node = Relay::start_on("10.77.0.1", &server);
    let remote = dir.path().join("remote.kubeconfig");
    std::fs::write(
        &remote,
        text.replace(
            &format!("https://{server}"),
            &format!("https://10.77.0.1:{}", node.port),
        ),
    )
    .unwrap();
    let env_proxy = ConnectProxy::start();
    let https_proxy = format!("http://127.0.0.1:{}", env_proxy.port);
    discover(&remote, &[("HTTPS_PROXY", https_proxy.clone())]);
    let through = env_proxy.tunnels().len();
    assert!(through > 0, "HTTPS_PROXY was not used");
    assert!(
        env_proxy
            .tunnels()
            .iter()
            .all(|t| *t == format!("10.77.0.1:{}", node.port)),
        "{:?}",
        env_proxy.tunnels()
    );
    // NO_PROXY naming the server (as a CIDR): straight there.
    discover(
        &remote,
        &[
            ("HTTPS_PROXY", https_proxy.clone()),
            ("NO_PROXY", "10.77.0.0/16".to_string()),
        ],
    );
    assert_eq!(env_proxy.tunnels().len(), through, "NO_PROXY was ignored");
    // A loopback server is never proxied.
    discover(&support::kubeconfig(), &[("HTTPS_PROXY", https_proxy)]);
    assert_eq!(env_proxy.tunnels().len(), through, "loopback went through the proxy");
    println!(
        "FIGURE proxy: {} tunnels through proxy-url, {through} through HTTPS_PROXY, none with NO_PROXY or to loopback",
        proxy.tunnels().len()
    );
}

/// A managed cluster's authentication: an exec credential plugin (as EKS, GKE and AKS's
/// kubelogin use) whose tokens expire after 6 s, and an API server that refuses an expired
/// one. Over 30 s of rotations, with an API server restart halfway (so the watches are
/// opened again with a fresh token), every pod created along the way shows and the
/// credentials are never refused.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn watches_keep_working_across_exec_plugin_token_rotations() {
    let _serial = serial();
    let (client, ns) = support::setup("fault-exec").await;
    let webhook = TokenWebhook::start();
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("calls");
    let plugin = dir.path().join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nn=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}\nexp=$(( $(date +%s) + 6 ))\n\
             printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"rot.%s.%s\",\"expirationTimestamp\":\"%s\"}}}}' \
             $exp $n $(date -u -d @$exp +%Y-%m-%dT%H:%M:%SZ)\n",
            c = counter.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(&plugin)
        .status()
        .unwrap();
    let admin = support::read(&support::kubeconfig());
    let ca = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .unwrap();
    let kubeconfig = dir.path().join("exec.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: bed\n  cluster:\n    server: https://{}\n    certificate-authority-data: {ca}\n\
             users:\n- name: rotator\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n\
             contexts:\n- name: bed\n  context: {{cluster: bed, user: rotator}}\ncurrent-context: bed\n",
            api_server(),
            plugin.display()
        ),
    )
    .unwrap();

    let w = Watching::start(kubeconfig, &ns);
    wait_current(&w, &client, &ns, Duration::from_secs(30)).await;
    let started = Instant::now();
    let mut made = 0;
    let _undo = Undo(&["start", "kube-apiserver"]);
    while started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if made == 3 {
            // Halfway, the API server restarts: every watch is opened again, with whatever
            // token the plugin gives then (the first ones have long expired).
            testbed(&["stop", "kube-apiserver", "--kill"]);
            testbed(&["start", "kube-apiserver"]);
        }
        let client = support::client().await;
        support::create_yaml(&client, &ns, &pods_yaml(&[format!("rotated-{made}")])).await;
        made += 1;
        let error = w.cluster_error();
        assert!(
            error.as_ref().is_none_or(|(k, _)| *k != ErrorKind::Forbidden),
            "after {:?}: {error:?}",
            started.elapsed()
        );
    }
    let client = support::client().await;
    wait_current(&w, &client, &ns, Duration::from_secs(30)).await;
    assert_eq!(w.pods(&ns).len(), made);
    let calls: u32 = support::read(&counter).trim().parse().unwrap();
    let accepted = webhook.accepted.lock().unwrap().len();
    let refused = webhook.refused.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "FIGURE exec-plugin: {made} pods over 30 s all shown; the plugin ran {calls} times, {accepted} distinct tokens accepted, {refused} expired ones refused"
    );
    assert!(
        calls >= 4 && accepted >= 4,
        "tokens rotated: {calls} plugin runs, {accepted} accepted"
    );
    // And the API server does refuse an expired token: rotation was needed, not decoration.
    let expired = std::process::Command::new(support::repo().join("scripts/testbed"))
        .args(["kubectl", "--kubeconfig"])
        .arg(dir.path().join("exec.kubeconfig"))
        .args(["--token", "rot.1.0", "get", "namespaces"])
        .output()
        .unwrap();
    assert!(!expired.status.success());
    let said = String::from_utf8_lossy(&expired.stderr);
    assert!(
        said.contains("the server has asked for the client to provide credentials") || said.contains("(Unauthorized)"),
        "401: {said}"
    );
    assert!(webhook.refused.load(std::sync::atomic::Ordering::Relaxed) > refused);
}

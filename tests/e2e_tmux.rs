//! End-to-end: the real binary in a real terminal (tmux), driven as a person would.

mod support;

use std::time::Duration;

use support::tmux::{Tmux, assert_terminal_restored};

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

/// A cluster that refuses every connection.
const DEAD_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:9\ncontexts:\n- name: dead\n  context:\n    cluster: nowhere\n    user: u\nusers:\n- name: u\n  user:\n    token: abc\n";

/// No cluster at all: the TUI still opens, says why it has no data, and quits cleanly.
#[test]
fn dead_api_server_is_reported_and_q_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("dead.kubeconfig");
    std::fs::write(&kc, DEAD_KUBECONFIG).unwrap();
    let t = Tmux::start(140, 20);
    t.run(&format!("{BIN} --kubeconfig {}; echo EXIT=$?", kc.display()));
    let s = t.wait_text("cluster unreachable", Duration::from_secs(30));
    assert!(s.contains("not connected"), "{s}");
    assert!(
        s.contains("https://127.0.0.1:9/: Connection refused"),
        "error names the server and cause: {s}"
    );
    assert!(!s.contains("updated"), "no data, so no 'updated' time: {s}");
    assert!(
        s.contains("pods unreachable: Connection refused"),
        "empty table says why: {s}"
    );
    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(10));
    assert_terminal_restored(&t);
}

/// `:sweep` in the real TUI, against real nginx and a real HAProxy hop: its runs go by in
/// the bench view, its slowdown table is in the Compare view (`8`), and it is saved.
#[test]
fn a_sweep_started_in_the_tui_fills_the_compare_view() {
    let nginx = support::servers::Nginx::start();
    let hop = support::servers::Haproxy::forward_to(nginx.port);
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("dead.kubeconfig");
    std::fs::write(&kc, DEAD_KUBECONFIG).unwrap();
    let t = Tmux::start(150, 30);
    t.run(&format!(
        "XDG_DATA_HOME={} {BIN} --kubeconfig {}; echo EXIT=$?",
        dir.path().display(),
        kc.display()
    ));
    t.wait_text("not connected", Duration::from_secs(30));
    t.keys(&[":"]);
    t.keys(&[&format!(
        "sweep nginx={} hop={} -c 2,4 -z 1s --warmup 0s --cooldown 0s",
        nginx.url("/"),
        hop.url("/")
    )]);
    t.keys(&["Enter"]);
    // The runs list's own title (the flash also says "sweep 1"): the sweep has started.
    t.wait_text("of 4 runs", Duration::from_secs(10));
    // 4 runs of a second; the runs list's title goes back to the session's when it ends.
    t.wait_text("runs this session", Duration::from_secs(60));
    t.keys(&["8"]);
    let s = t.wait_text("c=4 hop vs nginx: p99", Duration::from_secs(10));
    assert!(s.contains("c=2 hop vs nginx: p99"), "{s}");
    assert!(s.contains("sweep 1: 4 runs; baseline nginx; no cluster"), "{s}");
    assert!(s.contains("compare [4]"), "{s}");
    // Saved off the UI task: the file appears shortly after the sweep ends.
    let saved = || -> Vec<String> {
        std::fs::read_dir(dir.path().join("meshtop/results"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    for _ in 0..50 {
        if saved().iter().any(|n| n.contains("_sweep-nginx")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        saved().iter().filter(|n| n.contains("_sweep-nginx")).count(),
        1,
        "{:?}",
        saved()
    );
    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(10));
    assert_terminal_restored(&t);
}

/// Tap with no mesh at all: a benchmark started in the TUI shows its sampled requests in the
/// tap view (`9`) and their summary (`0`), filtered on the response with `/`.
#[test]
fn a_benchmark_shows_its_requests_in_the_tap_views() {
    let nginx = support::servers::Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("dead.kubeconfig");
    std::fs::write(&kc, DEAD_KUBECONFIG).unwrap();
    let t = Tmux::start(160, 30);
    t.run(&format!(
        "XDG_DATA_HOME={} {BIN} --kubeconfig {}; echo EXIT=$?",
        dir.path().display(),
        kc.display()
    ));
    t.wait_text("not connected", Duration::from_secs(30));
    let url = nginx.url("/?token=s3cret");
    t.keys(&[":"]);
    t.keys(&[&format!("bench {url}")]);
    t.keys(&["Enter"]);
    t.wait_text("enter starts", Duration::from_secs(10));
    t.keys(&["Enter"]);
    t.keys(&["9"]);
    let authority = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let s = t.wait_text(&format!("{authority}/?token=<redacted>"), Duration::from_secs(20));
    assert!(s.contains("bench #1: streaming"), "{s}");
    assert!(
        s.contains("meshtop") && s.contains(" GET ") && s.contains(" 200 "),
        "{s}"
    );
    assert!(!s.contains("s3cret"), "redacted before it is shown: {s}");
    // No 5xx in this run: the filter on the response leaves nothing.
    t.keys(&["/"]);
    t.keys(&["status=5xx"]);
    t.keys(&["Enter"]);
    t.wait_text("no request matches the filter", Duration::from_secs(10));
    // Alone: a terminal reads ESC followed at once by 0 as alt-0.
    t.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["0"]);
    let s = t.wait_text("tap summary", Duration::from_secs(10));
    assert!(s.contains("COUNT↓") && s.contains("100.00%"), "{s}");
    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(15));
    assert_terminal_restored(&t);
}

#[test]
fn bad_theme_file_is_a_clear_error_before_the_screen_changes() {
    let dir = tempfile::tempdir().unwrap();
    let theme = dir.path().join("broken.toml");
    std::fs::write(&theme, "[table]\nselected_bg = \"purplish\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--theme", theme.to_str().unwrap(), "--kubeconfig", "/nonexistent"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a theme file that is not one is bad input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[table] selected_bg: invalid colour \"purplish\""),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Against the real test bed: open, `:pods`, filter by a name, open the pod's detail,
/// `esc`, help, `q`, and the terminal is restored.
#[tokio::test(flavor = "multi_thread")]
async fn drives_the_tui_against_the_test_bed() {
    let (client, ns) = support::setup("e2e").await;
    support::label_namespace(&client, &ns, "istio-injection", "enabled").await;
    let pods = "apiVersion: v1\nkind: Pod\nmetadata: {name: alpha-web}\nspec:\n  containers: [{name: a, image: a}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: beta-api}\nspec:\n  containers: [{name: a, image: a}]\n";
    support::create_yaml(&client, &ns, pods).await;
    for name in ["alpha-web", "beta-api"] {
        support::running_pod(&client, &ns, name).await;
    }
    let kc = support::kubeconfig();
    let t = Tmux::start(160, 40);
    t.run(&format!("{BIN} --kubeconfig {} -n {ns}; echo EXIT=$?", kc.display()));
    // The overview: one Istio card with the sidecar pod and the pod that lacks one.
    t.wait_text("ctx meshtop-testbed", Duration::from_secs(30));
    let s = t.wait_text("1 pod should be in the mesh but is not", Duration::from_secs(30));
    assert!(s.contains("Istio") && s.contains("1 sidecar"), "{s}");

    t.keys(&[":"]);
    t.keys(&["-l", "po"]);
    t.wait_text(":po", Duration::from_secs(5));
    t.keys(&["Tab", "Enter"]);
    let s = t.wait_text("pods [2]", Duration::from_secs(5));
    assert!(
        s.contains("alpha-web") && s.contains("beta-api") && s.contains("none!"),
        "{s}"
    );
    t.keys(&["/"]);
    t.keys(&["-l", "alpha"]);
    let s = t.wait_text("pods /alpha [1]", Duration::from_secs(5));
    assert!(s.contains("alpha-web") && !s.contains("beta-api"), "{s}");
    t.keys(&["Enter"]);
    t.keys(&["Enter"]);
    let s = t.wait_text(&format!("pod {ns}/alpha-web"), Duration::from_secs(5));
    assert!(
        s.contains("istio-proxy (1.24.0)") && s.contains(":15020/stats/prometheus"),
        "{s}"
    );
    t.keys(&["Escape"]);
    t.wait_text("pods /alpha [1]", Duration::from_secs(5));
    t.keys(&["Escape"]);
    t.wait_text("pods [2]", Duration::from_secs(5));

    // The pods view's keys come first; a help taller than the terminal scrolls with j, and
    // any other key closes it.
    t.keys(&["?"]);
    let s = t.wait_text("help · ", Duration::from_secs(5));
    assert!(s.contains("PODS VIEW") && s.contains("sort by next column"), "{s}");
    if s.contains("scroll (1-") {
        t.keys(&["j"]);
        t.wait_text("scroll (2-", Duration::from_secs(5));
    }
    t.keys(&["Escape"]);
    t.wait("help closed", Duration::from_secs(5), |s| !s.contains("help · "));

    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(10));
    assert_terminal_restored(&t);
}

/// The pid of the program the pane's shell is running.
fn child_of_pane(t: &Tmux) -> u32 {
    let shell = t.pane_var("pane_pid");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-P", &shell])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(pid) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no program under the pane's shell {shell}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, SIGINT (from `kill`, not the ctrl-c key) and SIGHUP each end the TUI through
/// its normal exit, so the terminal is restored every time.
#[test]
fn signals_end_the_tui_with_the_terminal_restored() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("dead.kubeconfig");
    std::fs::write(&kc, DEAD_KUBECONFIG).unwrap();
    for signal in ["TERM", "INT", "HUP"] {
        let t = Tmux::start(140, 20);
        t.run(&format!("{BIN} --kubeconfig {}; echo EXIT=$?", kc.display()));
        t.wait_text("not connected", Duration::from_secs(30));
        assert_eq!(t.pane_var("alternate_on"), "1", "the TUI is up");
        let pid = child_of_pane(&t);
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        t.wait_text("EXIT=0", Duration::from_secs(10));
        assert_terminal_restored(&t);
    }
}

/// A panic in a source task (injected into the pod-metrics source) is that source's error
/// on the status line; the TUI keeps running in raw mode (a single key opens the help) and
/// quits cleanly.
#[test]
fn a_panicking_source_is_its_error_and_the_tui_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("meshtop.log");
    let kc = support::kubeconfig();
    let t = Tmux::start(170, 30);
    t.run(&format!(
        "MESHTOP_FAULT_PANIC='pod metrics' {BIN} --kubeconfig {} --log-file {} -n kube-system; echo EXIT=$?",
        kc.display(),
        log.display()
    ));
    let s = t.wait_text("pod metrics crashed", Duration::from_secs(30));
    assert!(
        s.contains("pod metrics crashed: injected fault (MESHTOP_FAULT_PANIC); restarting in 1 s"),
        "{s}"
    );
    assert!(!s.contains("panicked at"), "no panic report on the TUI's screen: {s}");
    assert_eq!(t.pane_var("alternate_on"), "1", "still on the TUI's screen");
    t.keys(&["?"]);
    t.wait_text("help · ", Duration::from_secs(5));
    t.keys(&["Escape"]);
    t.wait("help closed", Duration::from_secs(5), |s| !s.contains("help · "));
    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(10));
    assert_terminal_restored(&t);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("injected fault (MESHTOP_FAULT_PANIC)"),
        "the panic is in the log: {logged}"
    );
}

/// A recording started with `R` in a busy session (pods created as fast as the API takes
/// them) and cut by `kill -9`: it replays up to the last second the recorder flushed.
#[tokio::test(flavor = "multi_thread")]
async fn a_recording_cut_by_kill_9_replays_up_to_its_last_flushed_second() {
    let (client, ns) = support::setup("kill9").await;
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kubeconfig();
    let t = Tmux::start(160, 30);
    t.run(&format!(
        "XDG_DATA_HOME={} {BIN} --kubeconfig {} -n {ns}; echo EXIT=$?",
        dir.path().display(),
        kc.display()
    ));
    t.wait_text("ctx meshtop-testbed", Duration::from_secs(30));
    t.keys(&["R"]);
    t.wait_text("● REC", Duration::from_secs(5));
    // Busy: 40 pods, each created, scheduled and started while the recording runs.
    let pods = (0..40)
        .map(|i| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: busy-{i}}}\nspec:\n  containers: [{{name: a, image: a}}]\n"))
        .collect::<Vec<_>>()
        .join("---\n");
    support::create_yaml(&client, &ns, &pods).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pid = child_of_pane(&t);
    let killed_at = meshtop::model::now_millis();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    t.wait_text("EXIT=137", Duration::from_secs(10));
    t.run("stty sane");

    let recordings: Vec<_> = std::fs::read_dir(dir.path().join("meshtop/recordings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    let rec = meshtop::record::Recording::open(&recordings[0]).unwrap();
    let last = rec.entries.last().expect("entries were flushed").at;
    let lag = killed_at - last;
    println!(
        "FIGURE kill-9: {} updates kept; the last one {lag} ms before the kill ({:?})",
        rec.entries.len(),
        rec.stopped
    );
    assert!(rec.stopped.is_some(), "the cut shows: the last frame was never closed");
    let busy = rec
        .entries
        .iter()
        .filter(|e| matches!(&e.update, meshtop::app::Update::PodApplied { pod } if pod.name.starts_with("busy-")))
        .count();
    assert!(busy >= 40, "the busy pods are in the recording: {busy}");
}

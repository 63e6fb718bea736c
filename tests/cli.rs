//! The conventions every command follows: exit codes, one-line errors, `-n` per kind of
//! command, help that lists only what applies, versioned JSON, completions, man pages and
//! the debug log.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

/// Runs meshtop as a user would, without RUST_BACKTRACE (which turns on the full report).
fn meshtop(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("MESHTOP_LOG")
        .output()
        .expect("running meshtop")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_only_what_applies_and_the_exit_codes() {
    let top = meshtop(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    let help = stdout(&top);
    for code in [
        "0  success",
        "1  a failure at run time",
        "2  bad usage or bad input",
        "3  an objective was missed",
    ] {
        assert!(help.contains(code), "{code}: {help}");
    }
    assert!(help.contains("-n, --namespace <NS,NS...>"), "{help}");

    let help = stdout(&meshtop(&["bench", "--help"]));
    // The cluster's flags appear only under in-cluster load, which needs them.
    let (bench, in_cluster) = help
        .split_once("In-cluster load (needs --allow-writes):")
        .expect("an in-cluster section");
    for flag in [
        "--in-cluster",
        "--agents <AGENTS>",
        "--kubeconfig <FILE>",
        "--namespace <NS>",
        "--on-agent-failure",
    ] {
        assert!(in_cluster.contains(flag), "{flag}: {in_cluster}");
    }
    // Load flags can come from the environment, credentials never shown from it.
    assert!(
        bench.contains("[env: MESHTOP_URL]") && bench.contains("[env: MESHTOP_RATE="),
        "{bench}"
    );
    for absent in [
        "--all-namespaces",
        "--prometheus-url",
        "--scrape-direct",
        "--kubeconfig",
        "--theme",
        "--namespace",
    ] {
        assert!(!bench.contains(absent), "bench --help lists {absent}: {bench}");
    }
    assert!(bench.contains("-n, --requests <REQUESTS>"), "{bench}");
    assert!(bench.contains("oha and hey"), "{bench}");
    assert!(
        help.contains("--log-file <FILE>") && help.contains("Exit status"),
        "{help}"
    );

    for (cmd, present, absent) in [
        ("discover", "-n, --namespace <NS,NS...>", "--prometheus-url"),
        ("top", "--prometheus-url", "--theme"),
        ("record", "--provenance", "--theme"),
        ("demo", "--theme", "--kubeconfig"),
        ("replay", "--theme", "--namespace"),
    ] {
        let h = stdout(&meshtop(&[cmd, "--help"]));
        assert!(h.contains(present), "{cmd} --help lacks {present}: {h}");
        assert!(!h.contains(absent), "{cmd} --help lists {absent}: {h}");
    }
}

/// `bench --kubeconfig` reads $KUBECONFIG for in-cluster runs; a local run with it set
/// must not be refused for lacking --in-cluster.
#[test]
fn a_local_bench_runs_with_kubeconfig_set() {
    let o = Command::new(BIN)
        .args(["bench", "http://127.0.0.1:1/", "-n", "1", "--no-save", "-o", "json"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["errors"]["connect"], 1);
}

#[test]
fn bad_usage_and_bad_input_exit_2_with_one_line() {
    // A TUI flag before a command: refused by clap, which explains.
    let o = meshtop(&["-n", "shop", "bench", "http://127.0.0.1:1/"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Bad values of flags, files that are not what they should be.
    let dir = tempfile::tempdir().unwrap();
    let not_a_config = dir.path().join("config.toml");
    std::fs::write(&not_a_config, "colour = 1\n").unwrap();
    let not_a_recording = dir.path().join("x.mtrec");
    std::fs::write(&not_a_recording, "hello\n").unwrap();
    let not_a_dump = dir.path().join("dump.txt");
    std::fs::write(&not_a_dump, [0xff, 0xfe, 0x00]).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bench", "-z", "tomorrow", "http://h/"], "not a duration"),
        (
            vec!["bench", "-q", "0.0001", "http://127.0.0.1:1/"],
            "schedules no request",
        ),
        (vec!["discover", "--timeout=-1s"], "negative"),
        (vec!["top", "--window", "0"], "more than 0"),
        (
            vec!["demo", "--config", not_a_config.to_str().unwrap()],
            "unknown field `colour`",
        ),
        (vec!["demo", "--theme", "nosuch"], "unknown theme \"nosuch\""),
        (vec!["replay", not_a_recording.to_str().unwrap()], "x.mtrec"),
        (vec!["replay", "/dev/zero"], "/dev/zero is not a file"),
        (
            vec!["demo", "--theme", "/dev/zero"],
            "theme file /dev/zero: larger than",
        ),
        (
            vec!["metrics", "parse", not_a_dump.to_str().unwrap()],
            "not a text file",
        ),
        (vec!["top", "--prometheus-url", "prom:9090"], "only http and https"),
        (
            vec!["discover", "--kubeconfig", "/nonexistent/kubeconfig"],
            "/nonexistent/kubeconfig",
        ),
    ];
    for (args, needle) in cases {
        let o = meshtop(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?} should mention {needle:?}: {err}");
        assert!(
            !err.contains("Location:") && !err.contains("BACKTRACE"),
            "{args:?}: {err}"
        );
        if err.starts_with("error: ") {
            // clap's own: the error on its first line, then where to read more.
            assert!(err.lines().next().unwrap_or("").contains(needle), "{args:?}: {err}");
        } else {
            assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
            assert!(err.starts_with("meshtop: "), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_failure_at_run_time_exits_1_and_rust_backtrace_shows_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("dead.kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:9\ncontexts:\n- name: dead\n  context:\n    cluster: nowhere\n    user: u\nusers:\n- name: u\n  user:\n    token: abc\n",
    )
    .unwrap();
    let o = meshtop(&["discover", "--kubeconfig", kc.to_str().unwrap(), "--timeout", "2s"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("meshtop: cannot reach the cluster"), "{err}");
    let full = Command::new(BIN)
        .args(["discover", "--kubeconfig", kc.to_str().unwrap(), "--timeout", "2s"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert!(stderr(&full).contains("Location:"), "{}", stderr(&full));
}

#[test]
fn completions_for_every_shell_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = meshtop(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = stdout(&o);
        for word in ["bench", "discover", "replay", "log-file"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let bash = dir.path().join("meshtop.bash");
    std::fs::write(&bash, stdout(&meshtop(&["completions", "bash"]))).unwrap();
    let check = Command::new("bash").arg("-n").arg(&bash).status().unwrap();
    assert!(check.success());

    let man = stdout(&meshtop(&["man"]));
    assert!(man.contains(".TH meshtop 1"), "{man}");
    assert!(man.contains("Exit status"), "{man}");
    let pages = dir.path().join("man1");
    let o = meshtop(&["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bench = std::fs::read_to_string(pages.join("meshtop-bench.1")).unwrap();
    assert!(bench.contains("\\-\\-requests"), "{bench}");
    assert!(pages.join("meshtop-discover.1").exists() && pages.join("meshtop.1").exists());
}

#[test]
fn json_outputs_carry_a_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("a.txt");
    std::fs::write(
        &dump,
        "response_total{direction=\"inbound\",authority=\"web:80\",classification=\"success\",tls=\"true\"} 10\n",
    )
    .unwrap();
    let o = meshtop(&["metrics", "parse", dump.to_str().unwrap(), "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["groups"][0]["requests"], 10.0);
}

#[test]
fn the_debug_log_is_redacted_and_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("meshtop.log");
    let o = Command::new(BIN)
        .args(["bench", "-n", "1", "-c", "1", "--no-save", "--timeout", "2s"])
        .args([
            "-H",
            "Authorization: Bearer sekrit-token-123",
            "-H",
            "Authorization: Basic dXNlcjpwYXNz",
            "--header=Authorization: Basic aW5saW5lOnNlY3JldA==",
            "-HX-Api-Key: attached-222",
        ])
        .args([
            "-H",
            "X-Api-Key: keyvalue-456",
            "-H",
            "Cookie: session=cookie-789",
            "--log-file",
        ])
        .arg(&log)
        .arg("http://127.0.0.1:9/?api_key=hunter2")
        .env("MESHTOP_LOG", "debug")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "a refused connection is a result: {}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("meshtop started") && text.contains("benchmark starting"),
        "{text}"
    );
    assert!(text.contains("benchmark finished"), "{text}");
    assert!(
        [
            "sekrit-token-123",
            "hunter2",
            "dXNlcjpwYXNz",
            "keyvalue-456",
            "cookie-789",
            "aW5saW5lOnNlY3JldA",
            "attached-222"
        ]
        .iter()
        .all(|secret| !text.contains(secret)),
        "{text}"
    );
    // A bad level is bad input; without --log-file nothing is written anywhere.
    let o = Command::new(BIN)
        .args(["metrics", "parse", "/nonexistent", "--log-file"])
        .arg(dir.path().join("other.log"))
        .env("MESHTOP_LOG", "meshtop=loud")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("MESHTOP_LOG=\"meshtop=loud\""), "{}", stderr(&o));
    assert!(
        !dir.path().join("other.log").exists(),
        "nothing is written before the level is known"
    );
    // Without --log-file, a run leaves nothing behind where it ran.
    let cwd = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["metrics", "parse", "/nonexistent"])
        .current_dir(cwd.path())
        .env("MESHTOP_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

/// A usage error quotes no credential: an agent's errors land in its pod's log, where the
/// header came from the Job's Secret (MESHTOP_HEADERS).
#[test]
fn usage_errors_hide_secret_values() {
    let flag = meshtop(&["agent", "-H", "X-Token supersecret", "http://127.0.0.1:9/"]);
    let from_env = Command::new(BIN)
        .args(["agent", "http://127.0.0.1:9/"])
        .env("MESHTOP_HEADERS", "X-Token supersecret")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    for out in [flag, from_env] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(!err.contains("supersecret"), "{err}");
        assert!(
            err.contains("invalid value '<hidden>' for '--header <NAME: VALUE>'"),
            "{err}"
        );
        assert!(err.contains("\"<hidden>\" is not `Name: value`"), "{err}");
    }
    // A short value hides only itself; other flags' values are quoted as typed.
    let out = meshtop(&["agent", "-H", "a", "http://127.0.0.1:9/"]);
    assert!(
        stderr(&out).contains("invalid value '<hidden>' for '--header <NAME: VALUE>'"),
        "{}",
        stderr(&out)
    );
    let out = meshtop(&["bench", "-c", "many", "http://127.0.0.1:9/"]);
    assert!(stderr(&out).contains("invalid value 'many'"), "{}", stderr(&out));
}

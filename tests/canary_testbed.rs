//! No credential is ever written down or printed. A unique canary goes into each place a
//! user hands meshtop a secret: URL userinfo, a query parameter, an Authorization header, a
//! cookie, a request body, a label, a server's Set-Cookie, the token a kubeconfig's exec
//! plugin returns, and what a failing exec plugin prints. Then meshtop runs with a fresh
//! HOME, XDG directories and TMPDIR: benches in every report format, a saved result and its
//! report, a sweep in every report format, a failing bench (its error message), a forced
//! panic, `discover`/`doctor` with those kubeconfigs against the test bed, a recording made
//! with a token the API server accepts, and the TUI in tmux (a benchmark, its tap view and a
//! recording), each with a debug log. Every file meshtop wrote there, everything it printed
//! and every TUI screen read is searched for each canary, raw, in base64 (as Basic auth would
//! carry it) and percent-encoded.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use support::servers::{Nginx, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

/// The places, each with its own canary.
const PLACES: [&str; 13] = [
    "userinfo",
    "query",
    "header",
    "cookie",
    "body",
    "label",
    "exec",
    "proxyauth",
    "token",
    "setcookie",
    "execout",
    "execerr",
    "execbare",
];

struct Home {
    root: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let root = tempfile::tempdir().unwrap();
        for d in ["home", "data", "config", "cache", "state", "runtime", "tmp"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        Home { root }
    }

    fn path(&self, d: &str) -> PathBuf {
        self.root.path().join(d)
    }

    /// meshtop with only this home to write to: (exit code, stdout + stderr). What was
    /// printed is what is searched: the command line, which holds the canaries, is not in it.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
        let out = Command::new(BIN)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_RUNTIME_DIR", self.path("runtime"))
            .env("TMPDIR", self.path("tmp"))
            .env("MESHTOP_LOG", "debug")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }

    fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root.path(), &mut out);
        out
    }
}

/// Every form a canary must not take: raw, percent-encoded, and base64 (standard and
/// URL-safe) of it alone and as Basic auth's `user:canary`, at each of the three byte
/// offsets it may start at inside a longer encoded text.
fn forms(canary: &str) -> Vec<String> {
    let mut out = vec![
        canary.to_string(),
        percent_encoding::utf8_percent_encode(canary, percent_encoding::NON_ALPHANUMERIC).to_string(),
    ];
    for text in [canary.to_string(), format!("user:{canary}")] {
        for engine in [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
        ] {
            for k in 0..3usize {
                let bytes: Vec<u8> = std::iter::repeat_n(b'x', k).chain(text.bytes()).collect();
                let enc = engine.encode(&bytes);
                // The 4-character groups made of the text's bytes alone.
                let first = k.div_ceil(3);
                let last = bytes.len() / 3;
                if last > first + 1 {
                    out.push(enc[first * 4..last * 4].to_string());
                }
            }
        }
    }
    out
}

/// The admin kubeconfig with `plugin` as every user's exec credential plugin.
fn exec_kubeconfig(dir: &Path, plugin: &Path) -> PathBuf {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&support::read(&support::kubeconfig())).unwrap();
    for u in doc["users"].as_sequence_mut().expect("users") {
        u["user"] = serde_yaml::from_str(&format!(
            "{{exec: {{apiVersion: client.authentication.k8s.io/v1, command: {}, interactiveMode: Never}}}}",
            plugin.display()
        ))
        .unwrap();
    }
    let path = dir.join("exec.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    path
}

/// An HTTP/1.1 server (Python's) whose every answer sets a cookie holding `value`.
struct SetCookieServer {
    port: u16,
    child: std::process::Child,
}

impl SetCookieServer {
    fn start(value: &str) -> SetCookieServer {
        let port = free_port();
        let script = format!(
            "import http.server\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   protocol_version = 'HTTP/1.1'\n\
             \x20   def do_GET(self):\n\
             \x20       self.send_response(200)\n\
             \x20       self.send_header('Set-Cookie', 'session={value}; HttpOnly')\n\
             \x20       self.send_header('Content-Length', '3')\n\
             \x20       self.end_headers()\n\
             \x20       self.wfile.write(b'ok\\n')\n\
             \x20   def log_message(self, *a):\n\
             \x20       pass\n\
             http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
        );
        let child = Command::new("python3").args(["-c", &script]).spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the Set-Cookie server did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        SetCookieServer { port, child }
    }
}

impl Drop for SetCookieServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn no_canary_is_written_or_printed_anywhere() {
    let (_client, ns) = support::setup("canary").await;
    let run = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 0xffff_ffff
    );
    let canary = |place: &str| format!("cnry-{run}-{place}");
    let home = Home::new();
    let nginx = Nginx::start();
    // What the test itself writes (the exec plugin and its kubeconfig) stays outside the home.
    let outside = tempfile::tempdir().unwrap();

    let url = format!(
        "http://user:{}@127.0.0.1:{}/?token={}&page=2",
        canary("userinfo"),
        nginx.port,
        canary("query")
    );
    let auth = format!("Authorization: Bearer {}", canary("header"));
    let cookie = format!("Cookie: session={}", canary("cookie"));
    let proxy = format!("Proxy-Authorization: Basic {}", canary("proxyauth"));
    let body = canary("body");
    let label = format!("run-token={}", canary("label"));
    let log = |name: &str| home.path("home").join(format!("{name}.log")).display().to_string();
    let mut printed = Vec::new();
    let mut expect = |(code, text): (Option<i32>, String), want: Option<i32>| {
        assert_eq!(code, want, "{text}");
        printed.push(text);
    };

    let common = [
        "-H", &auth, "-H", &cookie, "-H", &proxy, "-d", &body, "-m", "POST", "--label", &label,
    ];
    // Benches in every format, saved, to stdout and to a file.
    for (i, format) in ["text", "json", "smp", "fortio", "csv"].iter().enumerate() {
        let out = home.path("home").join(format!("report.{format}"));
        let mut args = vec!["bench", &url, "-n", "20", "-c", "1", "-o", format, "--log-file"];
        let log_file = log(&format!("bench-{format}"));
        args.push(&log_file);
        args.extend(common);
        let out_str = out.display().to_string();
        if i % 2 == 1 {
            args.extend(["--out", &out_str]);
        }
        expect(home.run(&args, &[]), Some(0));
    }
    let results: Vec<PathBuf> = std::fs::read_dir(home.path("data").join("meshtop/results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(results.len(), 5, "{results:?}");
    let saved = results[0].display().to_string();
    let saved_text = std::fs::read_to_string(&results[0]).unwrap();
    assert!(
        saved_text.contains("\"responses\": 20"),
        "the requests were answered: {saved_text}"
    );
    let svg = home.path("home").join("report.svg").display().to_string();
    expect(
        home.run(&["report", &saved, "--svg", &svg, "--log-file", &log("report")], &[]),
        Some(0),
    );

    // A sweep in every report format, saved, to stdout and to a file.
    let b = format!("b={url}");
    let a = format!("a={url}");
    for (i, format) in ["table", "md", "json", "csv", "smp"].iter().enumerate() {
        let mut args = vec![
            "sweep", "--target", &a, "--target", &b, "-c", "1,2", "-n", "10", "--warmup", "0s",
        ];
        args.extend(["--cooldown", "0s", "--no-cluster", "-o", format, "--log-file"]);
        let sweep_log = log(&format!("sweep-{format}"));
        args.push(&sweep_log);
        let out = home.path("home").join(format!("sweep.{format}")).display().to_string();
        if i % 2 == 1 {
            args.extend(["--out", &out]);
        }
        args.extend(common.iter().filter(|a| **a != "-d" && **a != body.as_str()));
        expect(home.run(&args, &[]), Some(0));
    }

    // A server whose answer sets a cookie: benched, saved, its debug log written.
    let set_cookie = SetCookieServer::start(&canary("setcookie"));
    let set_url = format!("http://127.0.0.1:{}/", set_cookie.port);
    let set_log = log("setcookie");
    for format in ["text", "json"] {
        let args = [
            "bench",
            &set_url,
            "-n",
            "5",
            "-c",
            "1",
            "-o",
            format,
            "--log-file",
            &set_log,
        ];
        expect(home.run(&args, &[]), Some(0));
    }

    // Errors that quote what was typed: a refused connection, a bad scheme, verbose too.
    let refused = url.replace(&nginx.port.to_string(), &free_port().to_string());
    let mut args = vec!["bench", &refused, "-n", "2", "-c", "1", "--no-save", "--log-file"];
    let refused_log = log("refused");
    args.push(&refused_log);
    args.extend(common);
    expect(home.run(&args, &[]), Some(0));
    let ftp = url.replace("http://", "ftp://");
    let args = ["bench", &ftp, "-n", "1", "-H", &auth];
    expect(home.run(&args, &[]), Some(2));
    expect(home.run(&args, &[("RUST_BACKTRACE", "1")]), Some(2));

    // A forced panic quoting the request, with and without a backtrace.
    let mut args = vec!["bench", &url, "-n", "1", "--log-file"];
    let panic_log = log("panic");
    args.push(&panic_log);
    args.extend(common);
    for env in [
        vec![("MESHTOP_FAULT_PANIC", "bench")],
        vec![("MESHTOP_FAULT_PANIC", "bench"), ("RUST_BACKTRACE", "1")],
    ] {
        let (code, text) = home.run(&args, &env);
        assert!(
            text.contains("injected fault (MESHTOP_FAULT_PANIC) sending POST http://user:<redacted>@"),
            "{text}"
        );
        expect((code, text), Some(101));
    }

    // The cluster, with a kubeconfig whose exec plugin fails, its output quoting a token
    // (kube's error quotes the plugin's whole output).
    let plugin = outside.path().join("credential.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"status\":{{\"token\":\"{}\"}}}}'\necho 'error: token {} has expired' >&2\nexit 1\n",
            canary("execout"),
            canary("execerr")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let kubeconfig = exec_kubeconfig(outside.path(), &plugin);
    let kc = kubeconfig.display().to_string();
    for command in ["discover", "doctor"] {
        let (code, text) = home.run(
            &[
                command,
                "--kubeconfig",
                &kc,
                "--log-file",
                &log(&format!("{command}-execfail")),
            ],
            &[],
        );
        assert_ne!(code, Some(0), "{text}");
        // Still says what failed, and how.
        assert!(
            text.contains(&format!(
                "the kubeconfig's credential plugin {} failed (exit status: 1); its output is not shown",
                plugin.display()
            )),
            "{command}: {text}"
        );
        printed.push(text);
    }
    // A plugin that prints a bare token and succeeds: the parser's error would quote it.
    std::fs::write(&plugin, format!("#!/bin/sh\necho '{}'\n", canary("execbare"))).unwrap();
    let (code, text) = home.run(
        &["discover", "--kubeconfig", &kc, "--log-file", &log("discover-execbare")],
        &[],
    );
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("the kubeconfig's credential plugin printed something that is not an ExecCredential"),
        "{text}"
    );
    printed.push(text);

    // The same kubeconfig, its exec plugin handing out a token the API refuses.
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            canary("exec")
        ),
    )
    .unwrap();
    let (code, text) = home.run(&["discover", "--kubeconfig", &kc, "--log-file", &log("discover")], &[]);
    assert!(
        text.contains("401") || text.to_lowercase().contains("unauthorized"),
        "{text}"
    );
    assert_ne!(code, Some(0), "{text}");
    printed.push(text);
    let (code, text) = home.run(&["doctor", "--kubeconfig", &kc, "--log-file", &log("doctor")], &[]);
    assert_ne!(code, Some(0), "{text}");
    printed.push(text);

    // The same plugin handing out a token the API server accepts (the bed's token webhook
    // takes `rot.<expiry>.<anything>`): a recording made with it, and `discover`, succeed,
    // and neither the recording (read decompressed) nor anything else holds the token.
    let _webhook = support::webhook::TokenWebhook::start();
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"rot.{expiry}.{}\"}}}}'\n",
            canary("token")
        ),
    )
    .unwrap();
    let recording = home.path("home").join("session.ndjson.zst").display().to_string();
    let (code, text) = home.run(
        &[
            "record",
            "-o",
            &recording,
            "--duration",
            "4s",
            "--kubeconfig",
            &kc,
            "--log-file",
            &log("record"),
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{text}");
    printed.push(text);
    let recorded = zstd::decode_all(&std::fs::read(&recording).unwrap()[..]).unwrap();
    assert!(
        String::from_utf8_lossy(&recorded).contains(&ns),
        "the recording holds the cluster it read"
    );
    let (code, text) = home.run(&["discover", "--kubeconfig", &kc], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&ns), "discover read the cluster: {text}");
    printed.push(text);

    // The TUI with that kubeconfig, in tmux with only this home: a benchmark of the URL
    // (its userinfo and token) typed as a command, its requests in the tap view, and a
    // recording; every screen is searched too.
    let env: Vec<String> = [
        ("HOME", "home"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "runtime"),
        ("TMPDIR", "tmp"),
    ]
    .iter()
    .map(|(k, d)| format!("{k}={}", home.path(d).display()))
    .collect();
    let t = support::tmux::Tmux::start(200, 40);
    t.run(&format!(
        "env -i PATH=\"$PATH\" TERM=xterm-256color MESHTOP_LOG=debug {} {BIN} --kubeconfig {kc} --log-file {}; echo EXIT=$?",
        env.join(" "),
        log("tui")
    ));
    // Connected with the plugin's token: the overview counts the bed's pods.
    t.wait("the cluster's pods", std::time::Duration::from_secs(30), |s| {
        s.contains(" pods in ") && s.contains(" namespaces")
    });
    t.keys(&["R"]);
    t.wait_text("REC", std::time::Duration::from_secs(10));
    t.keys(&[":"]);
    t.keys(&[&format!("bench {url}")]);
    t.keys(&["Enter"]);
    // The form's URL field shows what was typed, as typed, while it is edited (as a shell
    // shows a command line): that screen is not searched; every one after it is.
    t.wait_text("enter starts", std::time::Duration::from_secs(10));
    t.keys(&["Enter"]);
    printed.push(t.wait_text("bench #1 done", std::time::Duration::from_secs(60)));
    t.keys(&["9"]);
    printed.push(t.wait_text("?token=<redacted>", std::time::Duration::from_secs(10)));
    t.keys(&["R"]);
    printed.push(
        t.wait("the recording to stop", std::time::Duration::from_secs(10), |s| {
            !s.contains("● REC")
        }),
    );
    t.keys(&["q"]);
    printed.push(t.wait_text("EXIT=0", std::time::Duration::from_secs(10)));

    // Where to look, and that there is something to look at.
    let files = home.files();
    for must in [
        "bench-json.log",
        "discover.log",
        "panic.log",
        "report.svg",
        "report.json",
        "report.fortio",
        "sweep-table.log",
        "sweep.md",
        "sweep.csv",
        "setcookie.log",
        "discover-execfail.log",
        "discover-execbare.log",
        "tui.log",
        "refused.log",
        "record.log",
        "session.ndjson.zst",
    ] {
        assert!(files.iter().any(|f| f.ends_with(must)), "{must} was written: {files:?}");
    }
    let mut found = Vec::new();
    for place in PLACES {
        for form in forms(&canary(place)) {
            for f in &files {
                if f.display().to_string().contains(&form) {
                    found.push(format!("{place} as {form:?} in the name {}", f.display()));
                }
                let mut bytes = std::fs::read(f).unwrap();
                if f.extension().is_some_and(|e| e == "zst") {
                    bytes = zstd::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                }
                if String::from_utf8_lossy(&bytes).contains(&form) {
                    found.push(format!("{place} as {form:?} in {}", f.display()));
                }
            }
            for (i, p) in printed.iter().enumerate() {
                if p.contains(&form) {
                    let line = p.lines().find(|l| l.contains(&form)).unwrap_or_default();
                    found.push(format!("{place} as {form:?} in output {i}: {line}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
    println!(
        "FIGURE canary: {} places x {} forms, {} files and {} outputs searched, none found",
        PLACES.len(),
        forms(&canary("x")).len(),
        files.len(),
        printed.len()
    );
}

//! `meshtop bench` end to end against real nginx and HAProxy started by the test: the
//! command line, reports, objectives, saved results, shards and merges. The engine's own
//! exact counts, statuses and error kinds are tested in its crate
//! (`crates/loadgen/tests/engine.rs`); nothing here depends on how fast the machine is.

mod support;

use std::process::{Command, Output};

use meshtop::bench::BenchResult;
use serde_json::Value;
use support::servers::{Haproxy, Nginx, Witness};

fn bench(args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    bench_in(data.path(), args)
}

fn bench_in(data_home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .arg("bench")
        .args(args)
        .env("XDG_DATA_HOME", data_home)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running meshtop bench")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "meshtop bench failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn result(args: &[&str]) -> BenchResult {
    let mut all = vec!["-o", "json", "--no-save"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&bench(&all))).expect("the JSON output is a BenchResult")
}

/// The portable timer (what macOS builds use) runs the same open loop on Linux, selected
/// at run time, so the path no Mac here builds is still exercised: exact counts, a
/// schedule kept within its 1 ms steps.
#[test]
fn the_portable_timer_keeps_an_open_loop_exact() {
    let nginx = Nginx::start();
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args([
            "bench",
            "-o",
            "json",
            "--no-save",
            "-n",
            "300",
            "-q",
            "500",
            "-c",
            "4",
            &nginx.url("/"),
        ])
        .env("XDG_DATA_HOME", data.path())
        .env("MESHTOP_BENCH_TIMER", "portable")
        .output()
        .unwrap();
    let r: BenchResult = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(r.requests, 300);
    assert_eq!(r.status.get(&200), Some(&300));
    assert_eq!(r.requested_rate, Some(500.0));
    let lag = r.schedule_lag.as_ref().expect("an open loop reports its lag");
    assert_eq!(lag.count, 300);
    println!(
        "FIGURE portable-timer: schedule lag p50 {} µs, p99 {} µs",
        lag.p50, lag.p99
    );
}

/// The flags reach the engine (whose own counts are tested in its crate): a method in any
/// case, a body from a file with a header, HTTP/2 with streams, a rate with a warm-up.
#[test]
fn the_command_line_reaches_the_engine() {
    let haproxy = Haproxy::start();
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, br#"{"hello":"world"}"#).unwrap();
    let r = result(&[
        "-n",
        "50",
        "-c",
        "2",
        "-m",
        "post",
        "--body-file",
        body.to_str().unwrap(),
        "-H",
        "Content-Type: application/json",
        &haproxy.url("/"),
    ]);
    assert_eq!(r.status.get(&200), Some(&50), "{:?}", r.error_samples);
    assert_eq!((r.body_bytes, r.config.method.as_str()), (17, "POST"));
    assert_eq!(
        r.config.headers,
        vec![("Content-Type".to_string(), "application/json".to_string())]
    );

    let nginx = Nginx::start();
    let h2c = format!("http://127.0.0.1:{}/", nginx.h2c_port);
    let r = result(&["-n", "400", "-c", "2", "--http2", "--streams", "4", &h2c]);
    assert_eq!((r.protocol.as_str(), r.config.streams), ("HTTP/2", 4));
    assert_eq!(r.status.get(&200), Some(&400), "{:?}", r.error_samples);
    assert_eq!(r.connections_opened, 2);

    let r = result(&[
        "-n",
        "200",
        "-q",
        "400",
        "-c",
        "4",
        "--warmup",
        "300ms",
        &nginx.url("/"),
    ]);
    assert_eq!((r.requests, r.requested_rate), (200, Some(400.0)));
    assert_eq!(r.config.warmup, std::time::Duration::from_millis(300));
    assert!(r.warmup_requests > 0, "the warm-up sent requests that are not counted");
}

/// A gateway with a private CA: refused against the system's roots, verified with
/// `--cacert`; and one that requires a client certificate: 400 without, 200 with
/// `--cert`/`--key`. The text report says what the server was verified with, or that it
/// was not.
#[test]
fn private_ca_and_client_certificates() {
    let nginx = Nginx::start();
    let pki = &nginx.pki;
    let ca = pki.ca.to_str().unwrap();
    let url = format!("https://127.0.0.1:{}/", nginx.ca_port);
    let r = result(&["-n", "3", "-c", "1", &url]);
    assert_eq!(r.errors.tls, 3, "{:?} {:?}", r.errors, r.error_samples);
    let r = result(&["-n", "50", "-c", "2", "--cacert", ca, &url]);
    assert_eq!(r.status.get(&200), Some(&50), "{:?} {:?}", r.errors, r.error_samples);
    assert_eq!(r.config.tls.cacert.as_deref(), Some(pki.ca.as_path()));
    assert!(!r.config.insecure);

    let mtls = format!("https://127.0.0.1:{}/", nginx.mtls_port);
    let r = result(&["-n", "5", "-c", "1", "--cacert", ca, &mtls]);
    assert_eq!(
        r.status.get(&400),
        Some(&5),
        "no client certificate: {:?} {:?}",
        r.status,
        r.error_samples
    );
    let (cert, key) = (pki.client_cert.to_str().unwrap(), pki.client_key.to_str().unwrap());
    let r = result(&[
        "-n", "50", "-c", "2", "--cacert", ca, "--cert", cert, "--key", key, &mtls,
    ]);
    assert_eq!(r.status.get(&200), Some(&50), "{:?} {:?}", r.status, r.error_samples);
    assert_eq!(r.config.tls.cert.as_deref(), Some(pki.client_cert.as_path()));

    // The text report's second line: protocol, then what the certificate was checked with.
    let second_line = |args: &[&str]| {
        let mut all = vec!["-n", "5", "-c", "1", "--no-save"];
        all.extend_from_slice(args);
        ok(&bench(&all)).lines().nth(1).unwrap().to_string()
    };
    let line = second_line(&["--cacert", ca, "--cert", cert, "--key", key, &mtls]);
    assert!(
        line.starts_with(&format!(
            "  HTTP/1.1, TLS verified with {ca}, client certificate {cert}, 1 connections"
        )),
        "{line}"
    );
    let line = second_line(&["--insecure", &url]);
    assert!(
        line.starts_with("  HTTP/1.1, TLS not verified, 1 connections"),
        "{line}"
    );
    // Plain http:// has no TLS to speak of.
    let line = second_line(&["--insecure", &nginx.url("/")]);
    assert!(line.starts_with("  HTTP/1.1, 1 connections"), "{line}");
}

/// Bad certificate files are refused before anything is sent, naming the flag and file.
#[test]
fn bad_certificate_files_are_named() {
    let witness = Witness::start();
    let url = witness.url().replace("http://", "https://");
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "just words\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let pki = support::servers::pki(dir.path());
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--cacert".into(), missing.display().to_string()],
            format!("--cacert {}: ", missing.display()),
        ),
        (
            vec!["--cacert".into(), not_pem.display().to_string()],
            format!("--cacert {}: no PEM certificate in it", not_pem.display()),
        ),
        (
            vec![
                "--cert".into(),
                pki.client_cert.display().to_string(),
                "--key".into(),
                not_pem.display().to_string(),
            ],
            format!("--key {}: ", not_pem.display()),
        ),
        (
            // A key that is not the certificate's.
            vec![
                "--cert".into(),
                pki.client_cert.display().to_string(),
                "--key".into(),
                pki.server_key.display().to_string(),
            ],
            format!(
                "--cert {} with --key {}: ",
                pki.client_cert.display(),
                pki.server_key.display()
            ),
        ),
    ];
    for (flags, expected) in cases {
        let mut args: Vec<&str> = vec!["-n", "1", "--no-save"];
        args.extend(flags.iter().map(String::as_str));
        args.push(&url);
        let out = bench(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(&expected), "{flags:?}: expected {expected:?} in {err}");
        assert!(!witness.contacted(), "{flags:?}: nothing may be sent");
    }
    // --cert needs --key, and --cacert contradicts --insecure: usage errors.
    for flags in [vec!["--cert", "x.pem"], vec!["--cacert", "x.pem", "--insecure"]] {
        let mut args = vec!["-n", "1", "--no-save"];
        args.extend(flags.iter());
        args.push(&url);
        let out = bench(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
    }
}

#[test]
fn json_smp_fortio_and_csv_carry_the_same_numbers() {
    let nginx = Nginx::start();
    let url = nginx.url("/");
    let data = tempfile::tempdir().unwrap();
    let out = ok(&bench_in(
        data.path(),
        &["-n", "500", "-c", "5", "--label", "fmt check", "-o", "fortio", &url],
    ));
    let fortio: Value = serde_json::from_str(&out).expect("fortio output is JSON");
    assert_eq!(fortio["RetCodes"]["200"], 500);
    assert_eq!(fortio["DurationHistogram"]["Count"], 500);
    assert_eq!(fortio["RequestedQPS"], "max");
    assert_eq!(fortio["RequestedDuration"], "exactly 500 calls");
    assert_eq!(fortio["Labels"], "fmt check");
    assert_eq!(fortio["URL"], url);
    let data_sum: u64 = fortio["DurationHistogram"]["Data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["Count"].as_u64().unwrap())
        .sum();
    assert_eq!(data_sum, 500);
    let last = fortio["DurationHistogram"]["Data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["Percent"], 100.0);
    assert!(
        fortio["DurationHistogram"]["Max"].as_f64().unwrap() < 10.0,
        "seconds, not microseconds"
    );

    // The saved result (default directory under XDG_DATA_HOME) is the JSON report.
    let saved = std::fs::read_dir(data.path().join("meshtop/results"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        saved
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("_fmt-check.json"),
        "{saved:?}"
    );
    let stored: BenchResult = meshtop::bench::store::load(&saved).unwrap();
    assert_eq!(stored.status.get(&200), Some(&500));
    // The owner's alone: the file 0600, meshtop's directory 0700.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&saved), 0o600);
        assert_eq!(mode(&data.path().join("meshtop/results")), 0o700);
    }
    // Versioned: the saved JSON says its schema, and keeps the field older results had;
    // a result saved before schema_version still loads.
    let text = std::fs::read_to_string(&saved).unwrap();
    let raw: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (raw["schema_version"].as_u64(), raw["format"].as_u64()),
        (Some(1), Some(1))
    );
    let old = text.replacen("\"schema_version\": 1,", "", 1);
    assert_ne!(old, text);
    let old: BenchResult = serde_json::from_str(&old).expect("a result saved before schema_version loads");
    assert_eq!(old.schema_version, 1);
    assert_eq!(stored.label.as_deref(), Some("fmt check"));

    let smp: Value = serde_json::from_str(&ok(&bench(&[
        "-n",
        "200",
        "-c",
        "2",
        "-q",
        "1000",
        "--no-save",
        "-o",
        "smp",
        &url,
    ])))
    .unwrap();
    let lat = &smp["latencies_ms"];
    for k in ["min", "average", "p50", "p90", "p99", "max"] {
        assert!(lat[k].as_f64().is_some(), "latencies_ms.{k}");
    }
    assert!(lat["min"].as_f64() <= lat["p50"].as_f64() && lat["p50"].as_f64() <= lat["max"].as_f64());
    assert!(smp["actual_qps"].as_f64().unwrap() > 0.0);
    assert_eq!(smp["smp_version"], meshtop::bench::output::smp::SMP_VERSION);
    assert_eq!(smp["config"]["smp_version"], meshtop::bench::output::smp::SMP_VERSION);
    assert_eq!(smp["config"]["clients"][0]["connections"], 2);
    assert_eq!(smp["config"]["clients"][0]["rps"], 1000);
    assert_eq!(smp["config"]["clients"][0]["endpoint_urls"][0], url);
    // The headless run knows neither the cluster nor the mesh, and says nothing about them.
    assert!(smp.get("environment").is_none() && smp.get("mesh").is_none());

    let csv = ok(&bench(&["-n", "300", "-c", "3", "--no-save", "-o", "csv", &url]));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("second,requests,errors,rps,p50_ms,p99_ms,max_ms"));
    let total: u64 = lines
        .map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 300);

    // --out writes the report to a file instead of stdout.
    let file = data.path().join("report.txt");
    let out = bench(&[
        "-n",
        "10",
        "-c",
        "1",
        "--no-save",
        "--out",
        file.to_str().unwrap(),
        &url,
    ]);
    assert!(ok(&out).is_empty());
    assert!(std::fs::read_to_string(&file).unwrap().contains("200: 10"));
}

/// The fortio output has the shape of a real fortio result as Meshery stores it.
#[test]
fn fortio_output_matches_a_real_fortio_result() {
    let Some(fixtures) = support::real_fixtures() else {
        return;
    };
    let real: Value = serde_json::from_str(&support::read(&fixtures.join("smp/test-results.json"))).unwrap();
    let runner = &real[0]["runner_results"][0];
    let nginx = Nginx::start();
    let ours: Value = serde_json::from_str(&ok(&bench(&[
        "-n",
        "100",
        "-c",
        "2",
        "--no-save",
        "-o",
        "fortio",
        &nginx.url("/"),
    ])))
    .unwrap();

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
    // Meshery's own additions: the cluster, which a headless run does not know.
    for (key, value) in runner.as_object().unwrap() {
        if key == "kubernetes" {
            continue;
        }
        let mine = ours.get(key).unwrap_or_else(|| panic!("fortio output lacks {key}"));
        assert_eq!(kind(mine), kind(value), "{key}: ours {mine}, real {value}");
    }
    for hist in ["DurationHistogram", "Sizes", "HeaderSizes"] {
        let real_keys: Vec<&String> = runner[hist].as_object().unwrap().keys().collect();
        let our_keys: Vec<&String> = ours[hist].as_object().unwrap().keys().collect();
        assert_eq!(our_keys, real_keys, "{hist} keys");
        let real_bin: Vec<&String> = runner[hist]["Data"][0].as_object().unwrap().keys().collect();
        let our_bin: Vec<&String> = ours[hist]["Data"][0].as_object().unwrap().keys().collect();
        assert_eq!(our_bin, real_bin, "{hist}.Data[] keys");
    }
    let real_pct: Vec<&String> = runner["DurationHistogram"]["Percentiles"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let our_pct: Vec<&String> = ours["DurationHistogram"]["Percentiles"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(our_pct, real_pct);
    let pcts: Vec<f64> = ours["DurationHistogram"]["Percentiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Percentile"].as_f64().unwrap())
        .collect();
    assert_eq!(pcts, [50.0, 75.0, 90.0, 99.0, 99.9], "fortio's default percentiles");
}

#[test]
fn slo_sets_the_exit_code() {
    let nginx = Nginx::start();
    let out = bench(&[
        "-n",
        "100",
        "-c",
        "2",
        "--no-save",
        "--slo",
        "p99<60s,success>=100%",
        &nginx.url("/"),
    ]);
    assert!(ok(&out).contains("SLO success>=100%"));
    let out = bench(&[
        "-n",
        "100",
        "-c",
        "2",
        "--no-save",
        "--slo",
        "p99<60s,success>99.9%",
        &nginx.url("/missing"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("meshtop: objective missed: success>99.9% (measured 0.000%)"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let witness = Witness::start();
    let url = witness.url();
    let missing = "/nonexistent/meshtop-body";
    for (args, needle) in [
        (vec!["--slo", "p99<", url.as_str()], "slo"),
        (vec!["--slo", "p97<5ms", url.as_str()], "unknown measure"),
        (vec!["-q", "-5", url.as_str()], "rate"),
        (vec!["-q", "0.0001", url.as_str()], "schedules no request"),
        (
            vec!["-q", "1e-300", "-n", "5", url.as_str()],
            "less than one request a day",
        ),
        (vec!["-z", "30 ", "-q", "-1", url.as_str()], "rate"),
        (vec!["-z=-5s", url.as_str()], "negative"),
        (vec!["-z", "2d", url.as_str()], "too long"),
        (vec!["-z", "0", url.as_str()], "more than 0"),
        (vec!["--timeout", "1e400", url.as_str()], "not a duration"),
        (vec!["--body-file", missing, url.as_str()], "body-file"),
        (vec!["-c", "0", url.as_str()], "connections"),
        (vec!["-n", "0", url.as_str()], "requests"),
        (vec!["-H", "no colon", url.as_str()], "Name: value"),
        (vec!["--ramp", "100:5s", url.as_str()], "ramp"),
        (vec!["not a url"], "URL"),
        (vec!["ftp://127.0.0.1/"], "scheme"),
        (vec!["--namespace", "shop", url.as_str()], "--namespace"),
    ] {
        let out = bench(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: bad input is exit code 2: {stderr}"
        );
        assert!(
            !stderr.contains("Location:") && !stderr.contains("BACKTRACE"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr should mention {needle:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: no report");
    }
    assert!(!witness.contacted(), "an invalid command must send nothing");
}

fn merge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .arg("merge")
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running meshtop merge")
}

/// Two real runs against nginx at the same time, open loops at two rates, one with a
/// warm-up, each with `--shard-out`: `meshtop merge` sums their counts exactly and merges
/// their histograms (extremes and the count-weighted mean agree to the bucket); a cut or
/// altered copy of one is named and the other still merges, with exit status 2.
#[test]
fn shards_of_two_runs_merge_exactly_and_a_damaged_one_is_named() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.shard"), dir.path().join("b.shard"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let url = nginx.url("/");
    let (ra, rb) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            result(&[
                "-q",
                "300",
                "-z",
                "2s",
                "-c",
                "2",
                "--threads",
                "1",
                "--shard-out",
                a_s,
                &url,
            ])
        });
        let b = s.spawn(|| {
            result(&[
                "-q",
                "400",
                "-z",
                "2s",
                "-c",
                "3",
                "--warmup",
                "500ms",
                "--shard-out",
                b_s,
                &url,
            ])
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&a).unwrap().permissions()) & 0o777,
        0o600
    );
    let out = merge(&["-o", "json", a_s, b_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // At the same time: no note that they were not.
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: BenchResult = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m.requests, ra.requests + rb.requests);
    assert_eq!(ra.requests, 600);
    assert_eq!(rb.requests, 800);
    assert_eq!(m.responses, ra.responses + rb.responses);
    assert_eq!(m.status.get(&200), Some(&(ra.responses + rb.responses)));
    assert_eq!(m.warmup_requests, ra.warmup_requests + rb.warmup_requests);
    assert!(rb.warmup_requests > 0);
    assert_eq!(m.bytes_sent, ra.bytes_sent + rb.bytes_sent);
    assert_eq!(m.bytes_received, ra.bytes_received + rb.bytes_received);
    assert_eq!(m.connections_opened, ra.connections_opened + rb.connections_opened);
    assert_eq!(m.latency.count, ra.latency.count + rb.latency.count);
    assert_eq!(m.latency.min, ra.latency.min.min(rb.latency.min));
    assert_eq!(m.latency.max, ra.latency.max.max(rb.latency.max));
    let weighted = (ra.latency.mean * ra.latency.count as f64 + rb.latency.mean * rb.latency.count as f64)
        / m.latency.count as f64;
    assert!(
        (m.latency.mean - weighted).abs() <= 1e-6 * weighted,
        "{} vs {weighted}",
        m.latency.mean
    );
    assert_eq!(m.config.connections, 5);
    assert_eq!(m.requested_rate, Some(700.0));
    assert!(m.started_at <= ra.started_at.min(rb.started_at) && m.ended_at >= ra.ended_at.max(rb.ended_at));
    assert_eq!(m.series.iter().map(|s| s.requests).sum::<u64>(), m.requests);

    // A shard carries the spec redacted, as results do, and meshtop's version.
    let c = dir.path().join("c.shard");
    let secret_url = nginx.url("/?token=tok-c7").replace("http://", "http://alice:pw-c7@");
    let rc = result(&[
        "-n",
        "20",
        "-c",
        "1",
        "-H",
        "Authorization: Bearer b-c7",
        "--shard-out",
        c.to_str().unwrap(),
        &secret_url,
    ]);
    assert_eq!(rc.status.get(&200), Some(&20));
    let shard = std::fs::read_to_string(&c).unwrap();
    for secret in ["pw-c7", "tok-c7", "b-c7"] {
        assert!(!shard.contains(secret), "{secret} in {shard}");
    }
    let start: serde_json::Value =
        serde_json::from_str(shard.lines().next().unwrap().splitn(3, ' ').nth(2).unwrap()).unwrap();
    assert_eq!(start["meshtop_version"], env!("CARGO_PKG_VERSION"), "{start}");
    assert_eq!(
        start["spec"]["url"].as_str().unwrap(),
        format!("http://alice:<redacted>@127.0.0.1:{}/?token=<redacted>", nginx.port)
    );

    // Cut in the middle of a line, and one byte changed: each named, the other merged.
    let text = std::fs::read_to_string(&a).unwrap();
    let cut = dir.path().join("cut.shard");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let altered = dir.path().join("altered.shard");
    let second = text.find('\n').unwrap() + 1;
    let at = second + text[second..].find("\"responses\":").unwrap() + "\"responses\":".len();
    let mut bytes = text.clone().into_bytes();
    bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
    std::fs::write(&altered, bytes).unwrap();
    for (bad, why) in [
        (&cut, "cut short (no end of line): truncated"),
        (&altered, "line 2: checksum mismatch: the frame was cut or altered"),
    ] {
        let out = merge(&["-o", "json", bad.to_str().unwrap(), b_s]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("1 of 2 shards left out of the merge")
                && stderr.contains(&format!("{}: ", bad.display()))
                && stderr.contains(why),
            "{stderr}"
        );
        let m: BenchResult = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(m.requests, rb.requests);
    }
    // Nothing mergeable: no report, the reasons.
    let out = merge(&[cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    println!(
        "FIGURE merge: {} + {} requests merged to {}; p99 {} µs and {} µs merged to {} µs",
        ra.requests, rb.requests, m.requests, ra.latency.p99, rb.latency.p99, m.latency.p99
    );
}

/// Without `--threads`, a target on this machine gets half the cores (at least one) and the
/// report says so; asked for, the count is used and no note is printed.
#[test]
fn the_default_threads_are_chosen_for_a_local_target_and_said() {
    let nginx = Nginx::start();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let want = (cores / 2).max(1);
    let r = result(&["-n", "200", "-c", "4", &nginx.url("/")]);
    assert_eq!(r.threads, want.min(4));
    let note = if cores == 1 {
        "default: this machine's one core, shared with the target running here".to_string()
    } else {
        format!("default: {want} of this machine's {cores} cores, the rest left to the target running here")
    };
    assert_eq!(r.config.threads_note.as_deref(), Some(note.as_str()));
    let text = ok(&bench(&["-n", "200", "-c", "4", "--no-save", &nginx.url("/")]));
    let plural = if want.min(4) == 1 { "" } else { "s" };
    assert!(
        text.contains(&format!("4 connections on {} thread{plural} ({note}", want.min(4))),
        "{text}"
    );
    let r = result(&["-n", "200", "-c", "4", "--threads", "2", &nginx.url("/")]);
    assert_eq!((r.threads, r.config.threads_note), (2, None));
}

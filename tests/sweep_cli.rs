//! `meshtop sweep` and `meshtop compare` end to end, against real nginx, a real HAProxy
//! hop in front of it and the stand-in proxy (tests/standin/proxy.py) in front of it, all
//! on loopback. Figures are checked by recomputing them from the runs the result keeps.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use meshtop::model::sweep::SweepResult;
use support::servers::{Haproxy, Nginx, Standin};

/// The tests of this file take turns: each loads real servers on this small machine, and
/// the p50 comparisons must not measure the other tests' load.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn meshtop(data_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args(args)
        .env("XDG_DATA_HOME", data_home)
        // No cluster: a developer's own kubeconfig must not change what these tests see.
        .env("HOME", data_home)
        .env_remove("KUBECONFIG")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running meshtop")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "meshtop failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn three_real_targets_ratios_recomputed_from_the_runs() {
    let _turn = turn();
    let nginx = Nginx::start();
    let haproxy = Haproxy::forward_to(nginx.port);
    let standin = Standin::start(nginx.port);
    let data = tempfile::tempdir().unwrap();
    let direct = format!("direct={}", nginx.url("/"));
    let hop = format!("haproxy-hop={}", haproxy.url("/"));
    let proxy = format!("standin={}", standin.url("/"));
    let out = meshtop(
        data.path(),
        &[
            "sweep",
            "--target",
            &direct,
            "--target",
            &hop,
            "--target",
            &proxy,
            "--connections",
            "2,4",
            "-z",
            "700ms",
            "--warmup",
            "200ms",
            "--cooldown",
            "0s",
            "--repeat",
            "3",
            "--threads",
            "1",
            "-o",
            "json",
        ],
    );
    let r: SweepResult = serde_json::from_str(&ok(&out)).expect("the JSON output is a sweep result");
    support::sweep::assert_recomputed(&r);
    assert_eq!(
        (r.schema_version, r.kind.as_str(), r.baseline.as_str()),
        (1, "sweep", "direct")
    );
    assert_eq!(r.varies, "connections");
    assert_eq!(r.repeat, 3);
    assert!(!r.cancelled);
    assert_eq!(
        r.steps.iter().map(|s| s.connections).collect::<Vec<_>>(),
        [Some(2), Some(4)]
    );
    let json: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    for step in &r.steps {
        let names: Vec<&str> = step.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["direct", "haproxy-hop", "standin"]);
        let base = &step.targets[0];
        for t in &step.targets {
            assert_eq!(t.runs.len(), 3, "{}", t.name);
            assert_eq!(t.errors, 0, "{}", t.name);
            assert_eq!(t.resources, None);
        }
        // A hop costs time: each proxied route is slower than nginx directly, in p50.
        assert!(
            step.targets[1].p50_ms > base.p50_ms,
            "haproxy {} vs direct {}",
            step.targets[1].p50_ms,
            base.p50_ms
        );
        assert!(
            step.targets[2].p50_ms > base.p50_ms,
            "stand-in {} vs direct {}",
            step.targets[2].p50_ms,
            base.p50_ms
        );
    }
    assert!(r.resources_note.as_deref().unwrap().starts_with("no cluster"));
    assert_eq!(json["steps"][0]["targets"][0]["resources"], serde_json::Value::Null);
    assert!(json["steps"][0]["targets"][2]["slowdown"]["p99"].is_number());
    // Saved too, where compare --last finds it.
    let saved = std::fs::read_dir(data.path().join("meshtop/results")).unwrap().count();
    assert_eq!(saved, 1);
    assert!(stderr(&out).contains("result saved to"));

    // The same sweep as a table, a gate it breaks, and a comparison of the two sweeps.
    let out = meshtop(
        data.path(),
        &[
            "sweep",
            "--target",
            &direct,
            "--target",
            &proxy,
            "--rates",
            "200",
            "-c",
            "2",
            "-z",
            "500ms",
            "--warmup",
            "0s",
            "--cooldown",
            "0s",
            "--max-slowdown",
            "p50<1.0",
            "--label",
            "gated",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("rate sweep at 2 connections, 0.5s per run"),
        "{table}"
    );
    let header = table.lines().nth(2).unwrap();
    assert!(
        header.starts_with("STEP     TARGET") && header.contains("P99 X") && header.ends_with("PROXY CPU/1K RPS"),
        "{header}"
    );
    let base_line = table.lines().nth(3).unwrap();
    assert!(
        base_line.starts_with("200 rps  direct (baseline)")
            && base_line.contains("1.00x")
            && base_line.ends_with("no cluster"),
        "{base_line}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("objective missed: 200 rps, standin: p50 slowdown"),
        "{err}"
    );
    assert!(err.contains("(limit p50<1.0)"), "{err}");

    let cmp = meshtop(data.path(), &["compare", "--last", "2"]);
    let text = ok(&cmp);
    assert!(text.contains("not run alike"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(" vs ") && l.contains(": p99 ") && l.contains("throughput")),
        "{text}"
    );
}

#[test]
fn compare_two_bench_runs_gives_a_verdict() {
    let _turn = turn();
    let nginx = Nginx::start();
    let data = tempfile::tempdir().unwrap();
    // Saved in the same second, the names sort by label.
    for label in ["1-before", "2-after"] {
        let out = meshtop(
            data.path(),
            &["bench", "-n", "300", "-c", "2", "--label", label, &nginx.url("/")],
        );
        ok(&out);
    }
    let files: Vec<String> = {
        let mut f: Vec<String> = std::fs::read_dir(data.path().join("meshtop/results"))
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        f.sort();
        f
    };
    assert_eq!(files.len(), 2);
    let text = ok(&meshtop(data.path(), &["compare", &files[0], &files[1]]));
    let verdict = text.lines().last().unwrap();
    assert!(
        verdict.contains("_2-after vs ") && verdict.contains("_1-before: p99 "),
        "{verdict}"
    );
    assert!(
        verdict.contains(", p50 ") && verdict.contains(", throughput "),
        "{verdict}"
    );
    assert!(!text.contains("not run alike"), "same target, same load: {text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&meshtop(data.path(), &["compare", "-o", "json", "--last", "2"]))).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["pairs"].as_array().unwrap().len(), 1);
    assert_eq!(json["pairs"][0]["base"]["requests"], 300);
}

#[test]
fn bad_input_names_the_culprit_writes_nothing_and_exits_2() {
    let data = tempfile::tempdir().unwrap();
    let out_file = data.path().join("report.txt");
    let out_arg = out_file.display().to_string();
    let corrupt = data.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema_version\": 1, \"url\": ").unwrap();
    let sweep_json = data.path().join("half.json");
    std::fs::write(&sweep_json, "{\"kind\": \"sweep\", \"steps\": 3}").unwrap();
    let experiment = data.path().join("exp.yaml");
    std::fs::write(
        &experiment,
        "targets:\n  - {name: a, url: 'http://127.0.0.1:9/'}\nconections: [8]\n",
    )
    .unwrap();
    let (experiment, corrupt, sweep_json) = (
        experiment.display().to_string(),
        corrupt.display().to_string(),
        sweep_json.display().to_string(),
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sweep", "--target", "http://127.0.0.1:9/", "-c", "8", "--out", &out_arg],
            "is not NAME=URL",
        ),
        (
            vec![
                "sweep",
                "--target",
                "a=http://127.0.0.1:9/",
                "--target",
                "a=http://127.0.0.1:8/",
                "-c",
                "8",
                "--out",
                &out_arg,
            ],
            "target name \"a\" is given twice",
        ),
        (
            vec!["sweep", "--target", "a=http://127.0.0.1:9/", "--out", &out_arg],
            "no step",
        ),
        (
            vec![
                "sweep",
                "--target",
                "a=http://127.0.0.1:9/",
                "-c",
                " , ",
                "--out",
                &out_arg,
            ],
            "no step in",
        ),
        (
            vec![
                "sweep",
                "--target",
                "a=http://127.0.0.1:9/",
                "-c",
                "8",
                "--baseline",
                "b",
            ],
            "--baseline \"b\" is not one of the targets (a)",
        ),
        (
            vec!["sweep", "--target", "a=ftp://x/", "-c", "8"],
            "target \"a\", c=8: invalid URL",
        ),
        (
            vec!["sweep", "--target", "a=http://x/", "-c", "8", "--max-added", "p99<5"],
            "give a unit",
        ),
        (vec!["sweep", "-f", &experiment], "conections"),
        (vec!["sweep", "-f", "/nonexistent/exp.yaml"], "/nonexistent/exp.yaml"),
        (vec!["compare", &corrupt, &corrupt], "corrupt.json: not JSON"),
        (
            vec!["compare", "/nonexistent/a.json", "/nonexistent/b.json"],
            "/nonexistent/a.json",
        ),
        (
            vec!["compare", &sweep_json, &corrupt],
            "half.json: not a meshtop sweep result",
        ),
        (vec!["compare", &corrupt], "give two result files or more"),
        (vec!["compare", "--last", "2"], "--last 2:"),
    ];
    for (args, expected) in cases {
        let out = meshtop(data.path(), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        // The first line names the culprit (clap adds a usage hint below its own errors).
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.contains(expected),
            "{args:?}: expected {expected:?} in the first line of {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out_file.exists(), "{args:?} wrote the report");
        assert!(!data.path().join("meshtop").exists(), "{args:?} saved a result");
    }
}

/// `meshtop report --svg`: well-formed SVG with the series, axis titles and units, for
/// bench results and for a sweep (parsed as XML, never byte-compared).
#[test]
fn report_draws_bench_runs_and_sweeps_as_svg() {
    let _turn = turn();
    let nginx = Nginx::start();
    let data = tempfile::tempdir().unwrap();
    for label in ["1-direct", "2-again"] {
        ok(&meshtop(
            data.path(),
            &["bench", "-n", "400", "-c", "2", "--label", label, &nginx.url("/")],
        ));
    }
    let direct = format!("direct={}", nginx.url("/"));
    let again = format!("again={}", nginx.url("/"));
    ok(&meshtop(
        data.path(),
        &[
            "sweep",
            "--target",
            &direct,
            "--target",
            &again,
            "-c",
            "1,2",
            "-n",
            "120",
            "--warmup",
            "0s",
            "--cooldown",
            "0s",
        ],
    ));
    let mut files: Vec<String> = std::fs::read_dir(data.path().join("meshtop/results"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    let (benches, sweeps): (Vec<String>, Vec<String>) = files.into_iter().partition(|f| !f.contains("_sweep-"));
    assert_eq!((benches.len(), sweeps.len()), (2, 1));
    // -n alone bounds every run by its count, as in bench.
    let sweep: SweepResult = serde_json::from_str(&std::fs::read_to_string(&sweeps[0]).unwrap()).unwrap();
    assert_eq!((sweep.requests_per_run, sweep.duration_s), (Some(120), 0.0));
    for step in &sweep.steps {
        for t in &step.targets {
            assert_eq!(
                t.runs.iter().map(|r| r.requests).collect::<Vec<_>>(),
                [120],
                "{}",
                t.name
            );
        }
    }

    let texts = |svg: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(svg).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(|t| t.trim().to_string())
            .collect()
    };
    let out = data.path().join("spectrum.svg");
    let mut args = vec!["report", "--svg", out.to_str().unwrap()];
    args.extend(benches.iter().map(String::as_str));
    ok(&meshtop(data.path(), &args));
    let t = texts(&out);
    for expected in [
        "Latency by percentile (corrected for coordinated omission)",
        "percentile",
        "latency (ms)",
        "90%",
        "99%",
    ] {
        assert!(t.iter().any(|x| x == expected), "{expected:?} not in {t:?}");
    }
    assert!(
        t.iter().any(|x| x.ends_with("_1-direct")) && t.iter().any(|x| x.ends_with("_2-again")),
        "{t:?}"
    );

    let out = data.path().join("sweep.svg");
    ok(&meshtop(
        data.path(),
        &["report", "--svg", out.to_str().unwrap(), &sweeps[0]],
    ));
    let t = texts(&out);
    for expected in [
        "Slowdown against direct by connections",
        "connections",
        "latency / baseline's latency (x)",
        "c=1",
        "c=2",
        "direct p99",
        "again p50",
        "again p99",
    ] {
        assert!(t.iter().any(|x| x == expected), "{expected:?} not in {t:?}");
    }

    // The same picture as PNG, twice the size, with its text drawn (the title band is
    // only text: no text, no dark pixels there).
    let png = data.path().join("sweep.png");
    ok(&meshtop(
        data.path(),
        &["report", "--png", png.to_str().unwrap(), &sweeps[0]],
    ));
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(&std::fs::read(&png).unwrap()).expect("a PNG");
    assert_eq!((pixmap.width(), pixmap.height()), (1920, 1080));
    let dark_in_title = (0..60u32)
        .flat_map(|y| (0..1920u32).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            pixmap
                .pixel(x, y)
                .is_some_and(|p| p.red() < 128 && p.green() < 128 && p.blue() < 128)
        })
        .count();
    assert!(
        dark_in_title > 200,
        "the title was not drawn ({dark_in_title} dark pixels)"
    );
    // Neither --svg nor --png: nothing to do, said so.
    let o = meshtop(data.path(), &["report", &sweeps[0]]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--svg OUT.svg, --png OUT.png, or both"),
        "{}",
        stderr(&o)
    );

    // Mixing kinds, or a file that is not a result, is bad input and writes nothing.
    let out = data.path().join("mixed.svg");
    let o = meshtop(
        data.path(),
        &["report", "--svg", out.to_str().unwrap(), &benches[0], &sweeps[0]],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not both"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// A sweep of an https:// target: with a private CA (`--cacert`) it is verified and says
/// nothing; with `--insecure` the report and the saved result say the certificate was not
/// checked.
#[test]
fn tls_targets_are_verified_or_said_not_to_be() {
    let _turn = turn();
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{}/", nginx.ca_port);
    let (direct, gateway) = (format!("direct={}", nginx.url("/")), format!("gateway={url}"));
    let base = [
        "sweep",
        "--target",
        &direct,
        "--target",
        &gateway,
        "-c",
        "1",
        "-n",
        "20",
        "--warmup",
        "0s",
        "--cooldown",
        "0s",
        "--no-cluster",
        "-o",
        "md",
    ];
    let ca = nginx.pki.ca.display().to_string();
    let mut verified: Vec<&str> = base.to_vec();
    verified.extend(["--cacert", &ca]);
    let text = ok(&meshtop(dir.path(), &verified));
    assert!(!text.contains("TLS not verified"), "{text}");
    assert!(
        !text.contains("error"),
        "every request answered over verified TLS: {text}"
    );
    let mut insecure: Vec<&str> = base.to_vec();
    insecure.push("--insecure");
    let text = ok(&meshtop(dir.path(), &insecure));
    assert!(
        text.contains("TLS not verified (--insecure): the https:// targets' certificates were not checked"),
        "{text}"
    );
    let saved: Vec<SweepResult> = std::fs::read_dir(dir.path().join("meshtop/results"))
        .unwrap()
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(
        saved.iter().filter(|r| r.tls_not_verified).count(),
        1,
        "one of the two sweeps"
    );
}

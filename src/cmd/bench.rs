//! `meshtop bench URL`: one run without the TUI. A progress line on stderr when it is
//! a terminal, the report on stdout (or --out), the JSON result saved, and exit code 3
//! when an objective (--slo) is missed.

use std::io::{IsTerminal, Write};

use bytes::Bytes;
use color_eyre::eyre::{Result, WrapErr};

use crate::bench::config::{BenchConfig, BenchSpec, default_threads, threads_note};
use crate::bench::{engine, output, slo, store};
use crate::cli::{BenchArgs, LoadArgs};
use crate::exit::{ObjectiveMissed, bad_input};
use crate::model::bench::{BenchProgress, BenchResult, Phase};

/// Every request carries the body; more than this is not a request body.
const MAX_BODY: u64 = 64 << 20;

/// Everything the command line says, checked; nothing has been sent yet.
pub fn config_from_args(args: &LoadArgs) -> Result<BenchConfig> {
    let body = match (&args.body, &args.body_file) {
        (Some(b), _) => Bytes::from(b.clone()),
        (None, Some(path)) => Bytes::from(crate::config::read_user_bytes(path, "--body-file", MAX_BODY)?),
        (None, None) => Bytes::new(),
    };
    let config = BenchConfig {
        spec: BenchSpec {
            url: args.url.clone(),
            method: args.method.to_ascii_uppercase(),
            headers: args.headers.clone(),
            connections: args.connections,
            streams: args.streams,
            threads: args.threads.unwrap_or_else(|| default_threads(&args.url)),
            threads_note: args.threads.is_none().then(|| threads_note(&args.url)),
            rate: args.rate,
            ramp: args.ramp.clone().map(|r| r.0).unwrap_or_default(),
            // -n alone runs until the count is reached; neither means 10 s.
            duration: match (args.duration, args.requests) {
                (None, Some(_)) => None,
                (None, None) => Some(std::time::Duration::from_secs(10)),
                (d, _) => d,
            },
            requests: args.requests,
            warmup: args.warmup,
            timeout: args.timeout,
            http2: args.http2,
            insecure: args.insecure,
            tls: args.tls.files(),
            label: args.label.clone(),
        },
        body,
        shown: None,
        program_version: None,
    };
    config.validate().map_err(|e| bad_input(format!("{e:#}")))?;
    Ok(config)
}

/// The fault hook's `bench`: a panic on the main thread that quotes the request, as a bug
/// in building it would; the canary test checks that its report is redacted.
fn injected_panic(config: &BenchConfig) {
    let env = crate::source::supervise::FAULT_ENV;
    if std::env::var(env).is_ok_and(|v| v == "bench") {
        let headers: Vec<String> = config.spec.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        panic!(
            "injected fault ({env}) sending {} {}\n{}",
            config.spec.method,
            config.spec.url,
            headers.join("\n")
        );
    }
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let config = config_from_args(&args.load)?;
    injected_panic(&config);
    if args.in_cluster.pods.in_cluster {
        return in_cluster(&args, config).await;
    }
    let results_dir = args.save.results_dir()?;
    tracing::info!(url = %config.spec.url, rate = config.spec.rate, connections = config.spec.connections, "benchmark starting");
    let shard: Option<Box<dyn std::io::Write + Send>> = match &args.shard_out {
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            crate::files::create(path).wrap_err_with(|| format!("creating the shard file {}", path.display()))?,
        ))),
        None => None,
    };
    let run = engine::start_with_shard(config, shard)?;
    let shard_failure = run.shard_failure();

    let stop = run.canceller();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let bar = std::io::stderr().is_terminal().then(|| {
        let mut progress = run.progress();
        tokio::spawn(async move {
            while progress.changed().await.is_ok() {
                let line = progress_line(&progress.latest());
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{line}");
                let _ = err.flush();
            }
        })
    });
    let result = run.finish().await;
    if let Some(bar) = bar {
        bar.abort();
        eprint!("\r\x1b[2K");
    }
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            // A run that failed leaves no shard: what it holds would only be refused.
            if let Some(path) = &args.shard_out {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    tracing::info!(
        requests = result.requests,
        rps = result.achieved_rate,
        p99_us = result.latency.p99,
        "benchmark finished"
    );

    deliver(&args, &result, results_dir.as_deref())?;
    let failure = shard_failure.lock().ok().and_then(|mut f| f.take());
    if let (Some(path), Some(e)) = (&args.shard_out, failure) {
        return Err(color_eyre::eyre::eyre!(
            "the shard {} is not whole ({e}); the result above is",
            path.display()
        ));
    }
    Ok(())
}

/// `--in-cluster`: the run from agent pods (crate::agents), reported like any run.
async fn in_cluster(args: &BenchArgs, config: BenchConfig) -> Result<()> {
    use crate::agents::run;
    let ic = &args.in_cluster;
    let results_dir = args.save.results_dir()?;
    if args.shard_out.is_some() {
        return Err(bad_input(
            "--shard-out with --in-cluster: the agents' frames are merged as they arrive; the result is saved instead",
        ));
    }
    check_shares(&config, ic.pods.agents)?;
    let tls_files = run::read_tls(&config)?;
    let file_config = crate::config::Config::load(None)?;
    // Reads the kubeconfig; sends nothing yet.
    let conn = crate::source::kube::connect(&ic.kube.target()).await?;
    let client = conn.client;
    let namespace = ic
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    if !crate::input::is_namespace_name(&namespace) {
        return Err(bad_input(format!("--namespace {namespace:?} is not a namespace name")));
    }
    let mut plan = ic.pods.template(&namespace).plan(config, tls_files);
    crate::model::access::Writes::new(args.common.allow_writes, file_config.allow_writes)
        .permit("bench --in-cluster", &plan.writes())
        .map_err(bad_input)?;
    if ic.pods.avoid_target_nodes {
        plan.avoid_nodes = run::target_nodes(&client, &plan.config.spec.url, &namespace).await?;
        eprintln!(
            "meshtop: agents avoid the target's nodes: {}",
            plan.avoid_nodes.join(", ")
        );
    }
    for w in plan.writes() {
        eprintln!("meshtop: {w}");
    }
    let bar = std::io::stderr().is_terminal();
    // Listening before the first write: an interrupt then stops the agents and cleans up,
    // never leaves a Job behind.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .wrap_err("listening for interrupts")?;
    let interrupted = async move {
        sigint.recv().await;
        eprintln!("\nmeshtop: interrupted: stopping the agents (their last frames are read, then the Job is deleted)");
    };
    let result = run::run(
        &client,
        &plan,
        ic.pods.on_agent_failure,
        interrupted,
        |live, reconnects| {
            if bar {
                run::progress_line(live, reconnects);
            }
        },
        |said| {
            if bar {
                eprint!("\r\x1b[2K");
            }
            eprintln!("meshtop: {said}");
        },
    )
    .await;
    if bar {
        eprint!("\r\x1b[2K");
    }
    deliver(args, &result?, results_dir.as_deref())
}

/// Every agent's share of `config` must hold some load; the first that would not is named.
pub fn check_shares(config: &BenchConfig, agents: u32) -> Result<()> {
    for i in 0..agents {
        loadgen::split::share(&config.spec, i, agents).map_err(|e| bad_input(format!("--agents {agents}: {e}")))?;
    }
    Ok(())
}

/// A finished run's report and saved result, and its objectives checked: the same for a
/// run from this machine and one from in-cluster agents.
pub fn deliver(args: &BenchArgs, result: &BenchResult, results_dir: Option<&std::path::Path>) -> Result<()> {
    let verdicts = args.slo.as_ref().map(|s| slo::check(s, result)).unwrap_or_default();
    let report = output::render(args.output, result, &verdicts)?;
    // Saved first, so a bad --out or a closed pipe does not lose the run.
    if let Some(dir) = results_dir {
        let path = store::save(dir, result)?;
        eprintln!("result saved to {}", path.display());
    }
    super::write_report(args.save.out.as_deref(), &report)?;
    let missed: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.met)
        .map(|v| format!("{} (measured {})", v.objective, v.actual))
        .collect();
    if !missed.is_empty() {
        return Err(ObjectiveMissed(missed).into());
    }
    Ok(())
}

fn progress_line(p: &BenchProgress) -> String {
    const WIDTH: usize = 24;
    let filled = (p.fraction_done() * WIDTH as f64).round() as usize;
    let bar: String = "#".repeat(filled) + &".".repeat(WIDTH - filled.min(WIDTH));
    let what = match p.phase {
        Phase::Connecting => "connecting".to_string(),
        Phase::Warmup => format!("warm-up {:.1}s left", p.warmup_left_s),
        Phase::Running | Phase::Draining | Phase::Finished => match p.target_duration_s {
            Some(d) => format!("{:.1}s/{d:.0}s", p.elapsed_s),
            None => format!("{:.1}s", p.elapsed_s),
        },
    };
    format!(
        "[{bar}] {what}  {} req  {:.0} req/s  p99 {:.2}ms  errors {}",
        p.requests,
        p.current_rps,
        p.p99_us as f64 / 1e3,
        p.errors.total()
    )
}

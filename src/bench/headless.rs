//! `meshtop bench URL`: one run without the TUI. A progress line on stderr when it is
//! a terminal, the report on stdout (or --out), the JSON result saved, and exit code 3
//! when an objective (--slo) is missed.

use std::io::{IsTerminal, Write};

use bytes::Bytes;
use color_eyre::eyre::{Result, WrapErr, eyre};

use super::config::{BenchConfig, default_threads};
use super::result::{BenchProgress, Phase};
use super::{engine, output, slo, store};
use crate::cli::BenchArgs;

/// Exit code when the run finished but missed an objective.
pub const SLO_MISSED: i32 = 3;

/// Everything the command line says, checked; nothing has been sent yet.
pub fn config_from_args(args: &BenchArgs) -> Result<BenchConfig> {
    let body = match (&args.body, &args.body_file) {
        (Some(b), _) => Bytes::from(b.clone()),
        (None, Some(path)) => {
            Bytes::from(std::fs::read(path).wrap_err_with(|| format!("reading the body file {}", path.display()))?)
        }
        (None, None) => Bytes::new(),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| eyre!("header {h:?}: use \"Name: value\""))
        })
        .collect::<Result<Vec<_>>>()?;
    let config = BenchConfig {
        url: args.url.clone(),
        method: args.method.to_ascii_uppercase(),
        headers,
        body,
        connections: args.connections,
        streams: args.streams,
        threads: args.threads.unwrap_or_else(default_threads),
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
        label: args.label.clone(),
    };
    config.validate()?;
    Ok(config)
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let config = config_from_args(&args)?;
    let results_dir = match (&args.results_dir, args.no_save) {
        (_, true) => None,
        (Some(d), false) => Some(d.clone()),
        (None, false) => Some(store::default_dir()?),
    };
    let run = engine::start(config)?;

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
                let line = progress_line(&progress.borrow_and_update());
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
    let result = result?;

    let verdicts = args.slo.as_ref().map(|s| slo::check(s, &result)).unwrap_or_default();
    let report = output::render(args.output, &result, &verdicts)?;
    match &args.out {
        Some(path) => std::fs::write(path, report).wrap_err_with(|| format!("writing {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(report.as_bytes()).wrap_err("writing the report")?;
            out.flush().wrap_err("writing the report")?;
        }
    }
    if let Some(dir) = results_dir {
        let path = store::save(&dir, &result)?;
        eprintln!("result saved to {}", path.display());
    }
    let missed: Vec<_> = verdicts.iter().filter(|v| !v.met).collect();
    if !missed.is_empty() {
        for v in &missed {
            eprintln!("SLO missed: {} (measured {})", v.objective, v.actual);
        }
        std::process::exit(SLO_MISSED);
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

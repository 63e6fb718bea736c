//! `meshtop sweep`: the slowdown table, headless. A progress line on stderr when it is a
//! terminal (quiet when `-o json` goes to a pipe), the table on stdout (or --out), the
//! JSON result saved, and exit code 3 when an overhead gate is broken.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use color_eyre::eyre::Result;

use crate::bench::store;
use crate::cli::SweepArgs;
use crate::exit::{ObjectiveMissed, bad_input};
use crate::input::{self, Bounds};
use crate::model::bench::Phase;
use crate::sweep::plan::{Experiment, field_duration};
use crate::sweep::{SweepPlan, Target, Varies, gate, output, run};

/// Most an experiment file may be: it is a page of YAML.
const MAX_EXPERIMENT: u64 = 1 << 20;

/// The plan the flags and the experiment file describe, checked; nothing has been sent.
pub fn plan_from_args(args: &SweepArgs) -> Result<(SweepPlan, Vec<gate::Gate>)> {
    let experiment = match &args.file {
        Some(path) => {
            let text = crate::config::read_user_file(path, "experiment file", MAX_EXPERIMENT)?;
            Experiment::parse(&text).map_err(|e| bad_input(format!("experiment file {}: {e}", path.display())))?
        }
        None => Experiment::default(),
    };
    let in_file = |e: String| match &args.file {
        Some(p) => bad_input(format!("experiment file {}: {e}", p.display())),
        None => bad_input(e),
    };
    let targets: Vec<Target> = if args.targets.is_empty() {
        experiment
            .targets
            .iter()
            .map(|t| Target {
                name: t.name.trim().to_string(),
                url: t.url.trim().to_string(),
            })
            .collect()
    } else {
        args.targets.clone()
    };
    let connections = args
        .connections
        .as_ref()
        .map(|c| c.0.clone())
        .or_else(|| experiment.connections.as_ref().map(|c| c.to_vec()));
    let rates = args
        .rates
        .as_ref()
        .map(|r| r.0.clone())
        .or_else(|| experiment.rates.as_ref().map(|r| r.to_vec()));
    let mut fixed_connections = None;
    let varies = match (connections, rates) {
        (Some(c), Some(r)) => {
            if c.len() != 1 {
                return Err(in_file(format!(
                    "connections given with rates must be one number (the connections of every rate step), not {} steps",
                    c.len()
                )));
            }
            fixed_connections = Some(c[0]);
            Varies::Rates(r)
        }
        (Some(c), None) => Varies::Connections(c),
        (None, Some(r)) => Varies::Rates(r),
        (None, None) => Varies::Connections(Vec::new()),
    };
    if let Varies::Rates(r) = &varies
        && let Some(bad) = r.iter().find(|v| !v.is_finite() || **v <= 0.0)
    {
        return Err(in_file(format!("rates: {bad} is not a rate above 0")));
    }
    if let Varies::Connections(c) = &varies
        && let Some(bad) = c.iter().find(|v| !(1..=100_000).contains(*v))
    {
        return Err(in_file(format!("connections: {bad} is not between 1 and 100000")));
    }
    let mut plan = SweepPlan::new(targets, varies);
    if let Some(c) = fixed_connections {
        plan.connections = c;
    }
    if let Some(b) = args.baseline.clone().or(experiment.baseline.clone()) {
        plan.baseline = b.trim().to_string();
    }
    match args.rate.or(experiment.rate) {
        Some(r) if !r.is_finite() || r < 0.0 => {
            return Err(in_file(format!("rate: {r} is not a rate (0 = closed loop)")));
        }
        Some(r) => plan.rate = r,
        None => {}
    }
    let file_duration = |field: &str, v: &Option<String>, b: Bounds| -> Result<Option<Duration>> {
        field_duration(field, v, b).map_err(in_file)
    };
    let duration = args
        .duration
        .or(file_duration("duration", &experiment.duration, Bounds::RUN)?);
    if let Some(d) = duration {
        plan.duration = d;
    }
    plan.requests = args.requests.or(experiment.requests);
    if plan.requests == Some(0) {
        return Err(in_file("requests: at least 1".into()));
    }
    // -n alone bounds each run by its count, as in bench; with -z, whichever comes first.
    plan.timed = duration.is_some() || plan.requests.is_none();
    if let Some(d) = args
        .warmup
        .or(file_duration("warmup", &experiment.warmup, Bounds::OFFSET)?)
    {
        plan.warmup = d;
    }
    if let Some(d) = args
        .cooldown
        .or(file_duration("cooldown", &experiment.cooldown, Bounds::OFFSET)?)
    {
        plan.cooldown = d;
    }
    if let Some(d) = args
        .timeout
        .or(file_duration("timeout", &experiment.timeout, Bounds::TIMEOUT)?)
    {
        plan.timeout = d;
    }
    if let Some(r) = args.repeat.or(experiment.repeat) {
        plan.repeat = r;
    }
    plan.http2 = args.http2 || experiment.http2.unwrap_or(false);
    if let Some(m) = args.method.clone().or(experiment.method.clone()) {
        plan.method = m.to_ascii_uppercase();
    }
    plan.headers = if args.headers.is_empty() {
        experiment
            .headers
            .iter()
            .map(|h| input::header(h).map_err(|e| in_file(format!("headers: {e}"))))
            .collect::<Result<_>>()?
    } else {
        args.headers.clone()
    };
    if let Some(t) = args.threads {
        plan.threads = t;
    }
    plan.insecure = args.insecure;
    plan.label = args.label.clone().or(experiment.label.clone());
    plan.validate().map_err(&in_file)?;

    let mut gates = Vec::new();
    match (&args.max_slowdown, &experiment.max_slowdown) {
        (Some(g), _) => gates.extend(g.0.iter().cloned()),
        (None, Some(text)) => {
            gates.extend(gate::parse_slowdown(text).map_err(|e| in_file(format!("max_slowdown: {e}")))?)
        }
        (None, None) => {}
    }
    match (&args.max_added, &experiment.max_added) {
        (Some(g), _) => gates.extend(g.0.iter().cloned()),
        (None, Some(text)) => gates.extend(gate::parse_added(text).map_err(|e| in_file(format!("max_added: {e}")))?),
        (None, None) => {}
    }
    Ok((plan, gates))
}

pub async fn run(args: SweepArgs) -> Result<()> {
    let (plan, gates) = plan_from_args(&args)?;
    let results_dir = args.save.results_dir()?;
    tracing::info!(targets = plan.targets.len(), runs = plan.runs(), "sweep starting");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
        // Keep the sender: a dropped one is not a request to stop.
        std::future::pending::<()>().await;
    });
    let quiet = args.output == output::Format::Json && args.save.out.is_none() && !std::io::stdout().is_terminal();
    let show = std::io::stderr().is_terminal() && !quiet;
    let result = run::run(&plan, stop, |e| {
        if show {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", progress_line(e));
            let _ = err.flush();
        }
    })
    .await;
    if show {
        eprint!("\r\x1b[2K");
    }
    let result = result?;
    tracing::info!(
        steps = result.steps.len(),
        cancelled = result.cancelled,
        "sweep finished"
    );

    // Saved first: hours of runs survive a bad --out or a closed pipe.
    if let Some(dir) = results_dir {
        let name = store::name_for(
            result.started_at,
            &format!("sweep-{}", result.label.as_deref().unwrap_or(&result.baseline)),
        );
        let text = output::render(output::Format::Json, &result)?;
        let path = store::save_text(&dir, &name, &text)?;
        eprintln!("result saved to {}", path.display());
    }
    let report = output::render(args.output, &result)?;
    super::write_report(args.save.out.as_deref(), &report)?;
    let missed = gate::check(&gates, &result);
    if !missed.is_empty() {
        return Err(ObjectiveMissed(missed).into());
    }
    Ok(())
}

fn progress_line(e: &run::Event) -> String {
    let head = format!("[{}/{}] {} {}", e.index + 1, e.total, e.step, e.target);
    let Some(p) = &e.progress else {
        return format!("{head}: cooling down");
    };
    let what = match p.phase {
        Phase::Connecting => "connecting".to_string(),
        Phase::Warmup => format!("warm-up {:.1}s left", p.warmup_left_s),
        _ => match p.target_duration_s {
            Some(d) => format!("{:.1}s/{d:.0}s", p.elapsed_s),
            None => format!("{:.1}s", p.elapsed_s),
        },
    };
    format!(
        "{head}: {what}  {:.0} req/s  p99 {:.2}ms  errors {}",
        p.current_rps,
        p.p99_us as f64 / 1e3,
        p.errors.total()
    )
}

//! Runs a [`SweepPlan`] with the load generator, one run at a time, and builds the result.

use color_eyre::eyre::Result;
use tokio::sync::watch;

use super::plan::SweepPlan;
use crate::bench::engine;
use crate::model::bench::{BenchProgress, Phase};
use crate::model::sweep::{self, RunFigures, StepResult, SweepResult, TargetStep};

/// What the runner reports as it goes.
#[derive(Debug, Clone)]
pub struct Event {
    /// 0-based index of the run, of `total`.
    pub index: usize,
    pub total: usize,
    pub step: String,
    pub target: String,
    pub repeat: u32,
    /// None between runs (cooling down).
    pub progress: Option<BenchProgress>,
}

/// Resolves when `stop` says true; never when its sender is gone (nobody can stop us then).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs every step; `stop` set to true cancels the run in progress and ends the sweep
/// with what ran (`cancelled`). A run that cannot be made (a name that does not resolve)
/// is written down for its target and step, and the sweep goes on.
pub async fn run(
    plan: &SweepPlan,
    mut stop: watch::Receiver<bool>,
    mut observe: impl FnMut(&Event),
) -> Result<SweepResult> {
    let started_at = crate::model::now_millis();
    let total = plan.runs();
    let mut runs: Vec<Vec<Vec<RunFigures>>> = vec![vec![Vec::new(); plan.targets.len()]; plan.varies.len()];
    let mut failures: Vec<Vec<Vec<String>>> = vec![vec![Vec::new(); plan.targets.len()]; plan.varies.len()];
    let mut cancelled = false;
    for (index, (step, repeat, target)) in plan.order().enumerate() {
        if *stop.borrow() {
            cancelled = true;
            break;
        }
        let mut event = Event {
            index,
            total,
            step: plan.step_name(step),
            target: plan.targets[target].name.clone(),
            repeat,
            progress: None,
        };
        if index > 0 && !plan.cooldown.is_zero() {
            observe(&event);
            tokio::select! {
                _ = tokio::time::sleep(plan.cooldown) => {}
                _ = stopped(&mut stop) => { cancelled = true; break; }
            }
        }
        let bench = match engine::start(plan.config(step, target)) {
            Ok(b) => b,
            Err(e) => {
                failures[step][target].push(format!("{e:#}"));
                continue;
            }
        };
        let canceller = bench.canceller();
        let mut progress = bench.progress();
        let mut asked_to_stop = false;
        loop {
            tokio::select! {
                changed = progress.changed() => {
                    if changed.is_err() { break; }
                    let p = progress.borrow_and_update().clone();
                    let finished = p.phase == Phase::Finished;
                    event.progress = Some(p);
                    observe(&event);
                    if finished { break; }
                }
                _ = stopped(&mut stop), if !asked_to_stop => {
                    canceller.cancel();
                    asked_to_stop = true;
                    cancelled = true;
                }
            }
        }
        match bench.finish().await {
            Ok(result) => {
                runs[step][target].push(RunFigures::of(&result));
                cancelled |= result.cancelled;
            }
            Err(e) => failures[step][target].push(format!("{e:#}")),
        }
        if cancelled {
            break;
        }
    }
    let mut steps = Vec::new();
    for (step, per_target) in runs.into_iter().enumerate() {
        let targets: Vec<TargetStep> = per_target
            .into_iter()
            .zip(std::mem::take(&mut failures[step]))
            .zip(&plan.targets)
            .filter(|((r, f), _)| !r.is_empty() || !f.is_empty())
            .map(|((r, f), t)| {
                let mut ts = TargetStep::from_runs(&t.name, &t.url, r, None);
                ts.run_errors = f;
                ts
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        steps.push(StepResult {
            connections: Some(plan.step_connections(step)),
            rate: Some(plan.step_rate(step)).filter(|r| *r > 0.0),
            targets,
        });
    }
    let mut result = SweepResult {
        schema_version: sweep::SCHEMA_VERSION,
        kind: sweep::KIND.into(),
        meshtop_version: env!("CARGO_PKG_VERSION").into(),
        label: plan.label.clone(),
        started_at,
        ended_at: crate::model::now_millis(),
        baseline: plan.baseline.clone(),
        varies: plan.varies.name().into(),
        duration_s: if plan.timed { plan.duration.as_secs_f64() } else { 0.0 },
        requests_per_run: plan.requests,
        warmup_s: plan.warmup.as_secs_f64(),
        cooldown_s: plan.cooldown.as_secs_f64(),
        repeat: plan.repeat,
        protocol: if plan.http2 { "HTTP/2" } else { "HTTP/1.1" }.into(),
        resources_note: Some(NO_CLUSTER.into()),
        cancelled,
        steps,
    };
    result.settle();
    Ok(result)
}

/// Why a headless sweep has no resource figures.
pub const NO_CLUSTER: &str = "no cluster: this sweep watched no pods, so there are no CPU or memory figures";

//! Runs a [`SweepPlan`] with the load generator, one run at a time, and builds the result.

use color_eyre::eyre::Result;
use tokio::sync::watch;

use super::plan::SweepPlan;
use crate::bench::engine;
use crate::model::bench::{BenchProgress, BenchResult, BenchSpec, Phase};
use crate::model::sweep::{RunFigures, SweepResult, SweepRuns, SweepSpec, SweepTarget, TargetPods};

/// What the runner reports as it goes. `index` is the run's place in the plan's order
/// (of `total`), which [`SweepSpec::run_at`] turns back into step, repeat and target.
#[derive(Debug, Clone)]
pub struct Event {
    pub index: usize,
    pub total: usize,
    pub step: String,
    pub target: String,
    pub repeat: u32,
    pub what: What,
}

#[derive(Debug, Clone)]
pub enum What {
    /// Between runs.
    CoolingDown,
    /// A run starts with this configuration (credentials redacted).
    Started(Box<BenchSpec>),
    /// A live snapshot of the run (about every 200 ms).
    Progress(Box<BenchProgress>),
    Finished(Box<BenchResult>),
    /// The run could not be made (e.g. a name that does not resolve); the sweep goes on.
    Failed(String),
    /// Something the user should read (an in-cluster run's Job created or deleted).
    Said(String),
}

/// Where each run's load comes from.
#[derive(Clone)]
pub enum Launch {
    /// This machine's load generator.
    Local,
    /// Agent pods in the cluster: a Job per run, created from `template` with a new run
    /// ID, followed, merged and deleted (crate::agents::run).
    InCluster {
        client: kube::Client,
        template: Box<crate::agents::plan::InCluster>,
        /// Nodes the agents must not run on (--avoid-target-nodes).
        avoid_nodes: Vec<String>,
    },
}

impl SweepPlan {
    /// What is recorded of the plan when it starts; `pods` are each target's pods, when a
    /// cluster is watched.
    pub fn spec(&self, pods: &[TargetPods]) -> SweepSpec {
        SweepSpec {
            label: self.label.as_deref().map(crate::redact::scrub),
            baseline: self.baseline.clone(),
            varies: self.varies.name().into(),
            steps: (0..self.varies.len())
                .map(|s| (self.step_connections(s), self.step_rate(s)))
                .collect(),
            targets: self
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| SweepTarget {
                    name: t.name.clone(),
                    url: crate::redact::scrub(&t.url),
                    pods: pods.get(i).map(|p| p.0.clone()).unwrap_or_default(),
                    pods_note: pods.get(i).and_then(|p| p.1.clone()),
                    mesh: None,
                    mesh_version: None,
                    mtls: None,
                })
                .collect(),
            duration_s: if self.timed { self.duration.as_secs_f64() } else { 0.0 },
            requests_per_run: self.requests,
            warmup_s: self.warmup.as_secs_f64(),
            cooldown_s: self.cooldown.as_secs_f64(),
            repeat: self.repeat,
            protocol: if self.http2 { "HTTP/2" } else { "HTTP/1.1" }.into(),
            kubernetes_version: None,
            tls_not_verified: self.insecure && self.targets.iter().any(|t| t.url.starts_with("https://")),
        }
    }
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
/// is written down for its target and step, and the sweep goes on. The result has no
/// resources: they come from the cluster, folded beside the runs (see `app::sweep`).
pub async fn run(
    plan: &SweepPlan,
    launch: &Launch,
    mut stop: watch::Receiver<bool>,
    mut observe: impl FnMut(&Event),
) -> Result<SweepResult> {
    let started_at = crate::model::now_millis();
    let spec = plan.spec(&[]);
    let total = plan.runs();
    let mut runs = SweepRuns::new(plan.varies.len(), plan.targets.len());
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
            what: What::CoolingDown,
        };
        if index > 0 && !plan.cooldown.is_zero() {
            observe(&event);
            tokio::select! {
                _ = tokio::time::sleep(plan.cooldown) => {}
                _ = stopped(&mut stop) => { cancelled = true; break; }
            }
        }
        let config = plan.config(step, target);
        event.what = What::Started(Box::new(crate::bench::config::shown_spec(&config)));
        observe(&event);
        let outcome = match launch {
            Launch::InCluster {
                client,
                template,
                avoid_nodes,
            } => {
                let outcome = in_cluster(
                    client,
                    template,
                    avoid_nodes,
                    config,
                    &mut stop,
                    &mut event,
                    &mut observe,
                )
                .await;
                cancelled |= *stop.borrow();
                outcome
            }
            Launch::Local => local(config, &mut stop, &mut event, &mut observe, &mut cancelled).await,
        };
        match outcome {
            Ok(result) => {
                runs.add(step, target, RunFigures::of(&result));
                cancelled |= result.cancelled;
                event.what = What::Finished(Box::new(result));
            }
            Err(e) => {
                let message = format!("{e:#}");
                runs.fail(step, target, message.clone());
                event.what = What::Failed(message);
            }
        }
        observe(&event);
        if cancelled {
            break;
        }
    }
    Ok(SweepResult::assemble(
        &spec,
        &runs,
        started_at,
        crate::model::now_millis(),
        cancelled,
        Some(NO_CLUSTER.into()),
    ))
}

/// One run from this machine's load generator, its progress reported as it comes; a stop
/// cancels it (`cancelled`) and its result holds what ran.
async fn local(
    config: crate::bench::config::BenchConfig,
    stop: &mut watch::Receiver<bool>,
    event: &mut Event,
    observe: &mut impl FnMut(&Event),
    cancelled: &mut bool,
) -> Result<BenchResult> {
    let bench = engine::start(config)?;
    let canceller = bench.canceller();
    let mut progress = bench.progress();
    let mut asked_to_stop = false;
    loop {
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() { break; }
                let p = progress.latest();
                let finished = p.phase == Phase::Finished;
                event.what = What::Progress(Box::new(p));
                observe(event);
                if finished { break; }
            }
            _ = stopped(stop), if !asked_to_stop => {
                canceller.cancel();
                asked_to_stop = true;
                *cancelled = true;
            }
        }
    }
    bench.finish().await
}

/// One run from agent pods: its own Job (a new run ID), its progress merged live.
async fn in_cluster(
    client: &kube::Client,
    template: &crate::agents::plan::InCluster,
    avoid_nodes: &[String],
    config: crate::bench::config::BenchConfig,
    stop: &mut watch::Receiver<bool>,
    event: &mut Event,
    observe: &mut impl FnMut(&Event),
) -> Result<BenchResult> {
    let tls = crate::agents::run::read_tls(&config)?;
    let mut this = template.clone();
    this.run = crate::agents::plan::run_id();
    let mut agents = this.plan(config, tls);
    agents.avoid_nodes = avoid_nodes.to_vec();
    let (whole, start) = (agents.config.spec.clone(), agents.start_at.as_millisecond());
    // Both callbacks report through `observe`; the run hands them out one at a time.
    // A Mutex, not a RefCell: the sweep's future is sent between threads.
    let shared = std::sync::Mutex::new((event, observe));
    let said = |s: String| {
        let Ok(mut guard) = shared.lock() else { return };
        let (event, observe) = &mut *guard;
        event.what = What::Said(s);
        observe(event);
    };
    let progress = |live: &crate::agents::live::Live, _reconnects: u64| {
        let Ok(mut guard) = shared.lock() else { return };
        let (event, observe) = &mut *guard;
        event.what = What::Progress(Box::new(live.progress(&whole, start, crate::model::now_millis())));
        observe(event);
    };
    crate::agents::run::run(client, &agents, template.on_failure, stopped(stop), progress, said).await
}

pub use crate::model::sweep::NO_CLUSTER;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::plan::{Target, Varies};

    #[test]
    fn the_spec_names_each_run_as_the_plan_orders_them() {
        let t = |n: &str| Target {
            name: n.into(),
            url: format!("http://user:secret@{n}.example/"),
        };
        let mut plan = SweepPlan::new(vec![t("a"), t("b"), t("c")], Varies::Rates(vec![10.0, 20.0]));
        plan.repeat = 3;
        let spec = plan.spec(&[]);
        assert_eq!(spec.runs(), plan.runs());
        for (i, run) in plan.order().enumerate() {
            assert_eq!(spec.run_at(i), Some(run), "run {i}");
        }
        assert_eq!(spec.run_at(plan.runs()), None);
        assert_eq!(spec.steps, [(50, 10.0), (50, 20.0)]);
        // Recorded and saved without the password.
        assert!(!spec.targets[0].url.contains("secret"), "{}", spec.targets[0].url);
    }
}

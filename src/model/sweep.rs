//! A sweep's result: the overhead question answered as a table. Each step (a number of
//! connections or a rate) ran every target, repeated; each target's figures in a step are
//! the medians over its repeats, and its slowdown is the ratio of its medians to the
//! baseline's (a ratio of medians, not a median of ratios). Pure: the runner fills
//! [`RunFigures`] and [`SweepResult::settle`] derives everything else, so a saved sweep can
//! be checked by recomputing it from its own runs.

use serde::{Deserialize, Serialize};

use super::UnixMillis;
use super::bench::BenchResult;

/// The shape's version; fields are added, never renamed or removed, within a major version.
pub const SCHEMA_VERSION: u32 = 1;

/// What one run of one target measured, as the sweep keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    /// Measured requests (responses plus errors) per second.
    pub rps: f64,
    pub requests: u64,
    pub responses: u64,
    /// Failed requests: transport errors plus responses with a status of 400 or more
    /// (a fast 503 is not a fast success).
    pub errors: u64,
    /// Of `errors`, the responses with a status of 400 or more.
    #[serde(default)]
    pub http_errors: u64,
    /// Corrected latency (from the intended send time) in milliseconds.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub started_at: UnixMillis,
    pub duration_s: f64,
}

impl RunFigures {
    pub fn of(r: &BenchResult) -> RunFigures {
        let ms = |us: u64| us as f64 / 1e3;
        let http_errors: u64 = r.status.iter().filter(|(code, _)| **code >= 400).map(|(_, n)| *n).sum();
        RunFigures {
            rps: r.achieved_rate,
            requests: r.requests,
            responses: r.responses,
            errors: r.errors.total().saturating_add(http_errors),
            http_errors,
            p50_ms: ms(r.latency.p50),
            p90_ms: ms(r.latency.p90),
            p99_ms: ms(r.latency.p99),
            p999_ms: ms(r.latency.p999),
            started_at: r.started_at,
            duration_s: r.duration_s,
        }
    }
}

/// p50, p90 and p99 of something derived (a ratio, added milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles<T> {
    pub p50: T,
    pub p90: T,
    pub p99: T,
}

/// The smallest and largest value over the repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// Min and max over the repeats of the figures the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub rps: Range,
    pub p50_ms: Range,
    pub p90_ms: Range,
    pub p99_ms: Range,
}

/// CPU and memory of a target's pods during a step, when a cluster was watched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Pods measured in the readings used; fewer than serve the target when some did not
    /// report usage, and then the sums cover only these.
    pub pods: u32,
    pub app_cpu_millis: Stat,
    pub proxy_cpu_millis: Stat,
    pub app_memory_mib: Stat,
    pub proxy_memory_mib: Stat,
    /// Proxy CPU (millicores, mean) per 1,000 requests/s of the step's median rate.
    pub proxy_cpu_millis_per_1k_rps: Option<f64>,
    /// Proxy memory (MiB, mean) per 1,000 requests/s.
    pub proxy_memory_mib_per_1k_rps: Option<f64>,
    pub control_plane_cpu_millis: Option<Stat>,
    pub control_plane_memory_mib: Option<Stat>,
}

/// Mean and max of the samples taken during a step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub max: f64,
}

/// One target in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStep {
    pub name: String,
    pub url: String,
    /// Medians over the repeats.
    pub rps: f64,
    /// Totals over the repeats, so an error in one repeat is never hidden by a median.
    pub requests: u64,
    /// Failed requests (transport errors and statuses of 400 or more), over the repeats.
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Against the baseline in the same step; `null` when it cannot be computed (`note`).
    pub slowdown: Quantiles<Option<f64>>,
    pub added_ms: Quantiles<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Present with two repeats or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
    /// `null` when no cluster was watched (`SweepResult::resources_note` says why) or
    /// nothing was measured for this target (`resources_note` says why).
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_note: Option<String>,
    /// Every repeat, in the order run: what the medians and ratios come from.
    pub runs: Vec<RunFigures>,
    /// Runs that could not be made at all (e.g. a name that does not resolve).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's connections (a connections sweep) or the fixed connections of a rate sweep.
    pub connections: Option<u32>,
    /// The step's rate (a rate sweep) or the fixed rate of a connections sweep; null = closed loop.
    pub rate: Option<f64>,
    pub targets: Vec<TargetStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub schema_version: u32,
    /// Tells a saved sweep from a saved bench result.
    pub kind: String,
    pub meshtop_version: String,
    pub label: Option<String>,
    pub started_at: UnixMillis,
    pub ended_at: UnixMillis,
    pub baseline: String,
    /// `connections` or `rate`: what the steps vary.
    pub varies: String,
    /// Length of each run; 0 when only `requests_per_run` bounded them.
    pub duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_run: Option<u64>,
    pub warmup_s: f64,
    pub cooldown_s: f64,
    pub repeat: u32,
    pub protocol: String,
    /// Why `resources` is null (e.g. "no cluster").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_note: Option<String>,
    /// Stopped before its last run; the steps hold what ran.
    pub cancelled: bool,
    pub steps: Vec<StepResult>,
    /// The targets as planned, with the pods and mesh found behind each (when a cluster
    /// was watched).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<SweepTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Run with `--insecure` against an https:// target: its certificate was not checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_not_verified: bool,
    /// The watched cluster's nodes (name, cores, memory), when they could be listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<super::bench::NodeInfo>,
}

pub const KIND: &str = "sweep";

/// Why a sweep has no resource figures when no cluster was watched.
pub const NO_CLUSTER: &str = "no cluster: this sweep watched no pods, so there are no CPU or memory figures";

/// The median of the values (the mean of the two middle ones for an even count); None
/// for none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn range(values: impl Iterator<Item = f64>) -> Range {
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    Range { min, max }
}

impl TargetStep {
    /// A target's figures from its runs (at least one); slowdowns are filled by [`StepResult::settle`].
    pub fn from_runs(name: &str, url: &str, runs: Vec<RunFigures>, resources: Option<Resources>) -> TargetStep {
        // Latencies come from the repeats that got responses: a repeat without any has a
        // p50 of 0, which would make a broken route look fast.
        let answered: Vec<&RunFigures> = runs.iter().filter(|r| r.responses > 0).collect();
        let med = |f: fn(&RunFigures) -> f64| median(&answered.iter().map(|r| f(r)).collect::<Vec<_>>()).unwrap_or(0.0);
        let rps = median(&runs.iter().map(|r| r.rps).collect::<Vec<_>>()).unwrap_or(0.0);
        let spread = (runs.len() >= 2 && !answered.is_empty()).then(|| Spread {
            rps: range(runs.iter().map(|r| r.rps)),
            p50_ms: range(answered.iter().map(|r| r.p50_ms)),
            p90_ms: range(answered.iter().map(|r| r.p90_ms)),
            p99_ms: range(answered.iter().map(|r| r.p99_ms)),
        });
        TargetStep {
            name: name.to_string(),
            url: url.to_string(),
            rps,
            requests: runs.iter().map(|r| r.requests).sum(),
            errors: runs.iter().map(|r| r.errors).sum(),
            p50_ms: med(|r| r.p50_ms),
            p90_ms: med(|r| r.p90_ms),
            p99_ms: med(|r| r.p99_ms),
            p999_ms: med(|r| r.p999_ms),
            slowdown: Quantiles::default(),
            added_ms: Quantiles::default(),
            note: None,
            spread,
            resources,
            resources_note: None,
            runs,
            run_errors: Vec::new(),
        }
    }

    /// Whether any repeat of this target got a response (latency figures mean something).
    pub fn answered(&self) -> bool {
        self.runs.iter().any(|r| r.responses > 0)
    }
}

impl StepResult {
    /// Fills each target's slowdown and added milliseconds against `baseline` (by name).
    /// Ratios are `null` with a note when the baseline had no response in this step or its
    /// figure is 0; never infinity or NaN.
    pub fn settle(&mut self, baseline: &str) {
        let Some(base) = self.targets.iter().find(|t| t.name == baseline).cloned() else {
            for t in &mut self.targets {
                t.slowdown = Quantiles::default();
                t.added_ms = Quantiles::default();
                t.note = Some(format!("the baseline {baseline:?} did not run in this step"));
            }
            return;
        };
        for t in &mut self.targets {
            let mut notes = Vec::new();
            if !base.answered() {
                notes.push(format!("the baseline {baseline:?} got no response in this step"));
            }
            if !t.answered() {
                notes.push(format!("{:?} got no response in this step", t.name));
            }
            let silent = t.runs.iter().filter(|r| r.responses == 0).count();
            if silent > 0 && t.answered() {
                notes.push(format!(
                    "{} of {} repeats got no response; latencies are from the others",
                    silent,
                    t.runs.len()
                ));
            }
            let http_errors: u64 = t.runs.iter().map(|r| r.http_errors).sum();
            if http_errors > 0 {
                notes.push(format!("{http_errors} responses with a status of 400 or more"));
            }
            for e in &t.run_errors {
                notes.push(format!("a run failed: {e}"));
            }
            let usable = base.answered() && t.answered();
            let pair = |mine: f64, theirs: f64, q: &str, notes: &mut Vec<String>| -> (Option<f64>, Option<f64>) {
                if !usable {
                    return (None, None);
                }
                let added = Some(mine - theirs);
                if theirs > 0.0 {
                    (Some(mine / theirs), added)
                } else {
                    notes.push(format!("the baseline's {q} is 0 ms, so no ratio"));
                    (None, added)
                }
            };
            let (s50, a50) = pair(t.p50_ms, base.p50_ms, "p50", &mut notes);
            let (s90, a90) = pair(t.p90_ms, base.p90_ms, "p90", &mut notes);
            let (s99, a99) = pair(t.p99_ms, base.p99_ms, "p99", &mut notes);
            t.slowdown = Quantiles {
                p50: s50,
                p90: s90,
                p99: s99,
            };
            t.added_ms = Quantiles {
                p50: a50,
                p90: a90,
                p99: a99,
            };
            t.note = (!notes.is_empty()).then(|| notes.join("; "));
        }
    }

    /// `c=32`, `100 rps` or `c=50, 100 rps`: how the step is named in tables and errors.
    pub fn name(&self, varies: &str) -> String {
        match (varies, self.connections, self.rate) {
            ("rate", _, Some(r)) => format!("{} rps", trim_number(r)),
            (_, Some(c), _) => format!("c={c}"),
            (_, None, Some(r)) => format!("{} rps", trim_number(r)),
            _ => "step".into(),
        }
    }
}

/// `100`, `2.5`: a rate without trailing zeros.
pub fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What a sweep will run, as its start is recorded: enough to name its runs and to build
/// its result from them (credentials already redacted from the URLs and headers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    pub label: Option<String>,
    pub baseline: String,
    /// `connections` or `rate`.
    pub varies: String,
    /// (connections, rate) of each step; a rate of 0 is a closed loop.
    pub steps: Vec<(u32, f64)>,
    pub targets: Vec<SweepTarget>,
    pub duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_run: Option<u64>,
    pub warmup_s: f64,
    pub cooldown_s: f64,
    pub repeat: u32,
    pub protocol: String,
    /// The watched cluster's Kubernetes version, when one was watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Run with `--insecure` against an https:// target.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_not_verified: bool,
}

/// The pods (namespace, name) that serve a target's URL, and why there are none.
pub type TargetPods = (Vec<(String, String)>, Option<String>);

/// A target of a sweep and the pods that serve it (whose CPU and memory the step reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepTarget {
    pub name: String,
    pub url: String,
    /// (namespace, pod); empty when no cluster was watched or none matched the URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<(String, String)>,
    /// Why `pods` is empty, when a cluster was watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods_note: Option<String>,
    /// The mesh the pods are in (`istio`, `linkerd`...) and its control plane's version,
    /// as discovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_version: Option<String>,
    /// The share of the pods' requests that came over mTLS, as their proxies reported it
    /// over the rate window at the end of each of the target's runs, averaged (None: no
    /// proxy figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<f64>,
}

impl SweepSpec {
    pub fn runs(&self) -> usize {
        self.steps
            .len()
            .saturating_mul(self.targets.len())
            .saturating_mul(self.repeat as usize)
    }

    /// (step, repeat, target) of run `index`, in the order runs are made (each step runs
    /// every target in turn, repeat after repeat).
    pub fn run_at(&self, index: usize) -> Option<(usize, u32, usize)> {
        let t = self.targets.len();
        let per_step = t * self.repeat as usize;
        (index < self.runs()).then(|| (index / per_step, ((index % per_step) / t) as u32, index % t))
    }

    pub fn step_name(&self, step: usize) -> String {
        let (c, r) = self.steps.get(step).copied().unwrap_or((0, 0.0));
        StepResult {
            connections: Some(c),
            rate: Some(r).filter(|r| *r > 0.0),
            targets: Vec::new(),
        }
        .name(&self.varies)
    }
}

/// One usage reading of a target's pods (summed), as metrics-server measured it: over the
/// window that ends at `end`. Control-plane figures are those of the meshes the pods are in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UsageSample {
    pub end: UnixMillis,
    pub window_ms: u32,
    /// Of the target's pods, how many reported usage (the sums cover only these).
    #[serde(default)]
    pub pods: u32,
    pub app_cpu_m: f64,
    pub proxy_cpu_m: f64,
    pub app_mem: f64,
    pub proxy_mem: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_cpu_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_mem: Option<f64>,
}

impl UsageSample {
    /// The middle of what it measured: a reading belongs to a run when its middle falls
    /// inside the run's measured period (so at least half of it is that run's load).
    pub fn middle(&self) -> UnixMillis {
        self.end - i64::from(self.window_ms / 2)
    }
}

fn stat(values: &[f64]) -> Option<Stat> {
    (!values.is_empty()).then(|| Stat {
        mean: values.iter().sum::<f64>() / values.len() as f64,
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

const MIB: f64 = 1024.0 * 1024.0;

impl Resources {
    /// A target's resources in a step from the readings taken while its runs were measured
    /// (`periods`: start and end of each run). None when no reading fell inside any run.
    /// `pods` is how many pods serve the target; only the readings that covered the most
    /// of them are used, and `Resources::pods` says how many that was.
    pub fn from_samples(
        samples: &[UsageSample],
        periods: &[(UnixMillis, UnixMillis)],
        pods: u32,
        rps: f64,
    ) -> Option<Resources> {
        let mut seen = std::collections::BTreeSet::new();
        let inside: Vec<&UsageSample> = samples
            .iter()
            .filter(|s| periods.iter().any(|(a, b)| (*a..=*b).contains(&s.middle())))
            .filter(|s| seen.insert(s.end))
            .collect();
        // Readings that missed some of the pods would pull the means down: only those
        // that covered the most pods are used, and `pods` says how many that was.
        let most = inside.iter().map(|s| s.pods).max().unwrap_or(0);
        let inside: Vec<&UsageSample> = inside.into_iter().filter(|s| s.pods == most).collect();
        let col = |f: fn(&UsageSample) -> f64| inside.iter().map(|s| f(s)).collect::<Vec<_>>();
        let opt = |f: fn(&UsageSample) -> Option<f64>| inside.iter().filter_map(|s| f(s)).collect::<Vec<_>>();
        let proxy_cpu = stat(&col(|s| s.proxy_cpu_m))?;
        let proxy_mem = stat(&col(|s| s.proxy_mem / MIB))?;
        let per_1k = |v: f64| (rps > 0.0).then(|| v / (rps / 1000.0));
        Some(Resources {
            // Readings from before the count was kept (0) count as all the pods.
            pods: if most > 0 { most.min(pods) } else { pods },
            app_cpu_millis: stat(&col(|s| s.app_cpu_m))?,
            proxy_cpu_millis: proxy_cpu,
            app_memory_mib: stat(&col(|s| s.app_mem / MIB))?,
            proxy_memory_mib: proxy_mem,
            proxy_cpu_millis_per_1k_rps: per_1k(proxy_cpu.mean),
            proxy_memory_mib_per_1k_rps: per_1k(proxy_mem.mean),
            control_plane_cpu_millis: stat(&opt(|s| s.control_cpu_m)),
            control_plane_memory_mib: stat(&opt(|s| s.control_mem.map(|m| m / MIB))),
        })
    }
}

/// What a sweep's result is built from: every run's figures by step and target, and the
/// runs that could not be made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepRuns {
    pub runs: Vec<Vec<Vec<RunFigures>>>,
    pub failures: Vec<Vec<Vec<String>>>,
}

impl SweepRuns {
    pub fn new(steps: usize, targets: usize) -> SweepRuns {
        SweepRuns {
            runs: vec![vec![Vec::new(); targets]; steps],
            failures: vec![vec![Vec::new(); targets]; steps],
        }
    }

    pub fn add(&mut self, step: usize, target: usize, run: RunFigures) {
        if let Some(v) = self.runs.get_mut(step).and_then(|s| s.get_mut(target)) {
            v.push(run);
        }
    }

    pub fn fail(&mut self, step: usize, target: usize, message: String) {
        if let Some(v) = self.failures.get_mut(step).and_then(|s| s.get_mut(target)) {
            v.push(message);
        }
    }
}

impl SweepResult {
    /// The result of what ran so far: steps in which nothing ran are left out, and
    /// resources are filled in later (they come from the cluster, not the runs).
    pub fn assemble(
        spec: &SweepSpec,
        runs: &SweepRuns,
        started_at: UnixMillis,
        ended_at: UnixMillis,
        cancelled: bool,
        resources_note: Option<String>,
    ) -> SweepResult {
        let mut steps = Vec::new();
        for (step, &(connections, rate)) in spec.steps.iter().enumerate() {
            let targets: Vec<TargetStep> = spec
                .targets
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    let r = runs.runs.get(step)?.get(i)?;
                    let f = runs.failures.get(step)?.get(i)?;
                    if r.is_empty() && f.is_empty() {
                        return None;
                    }
                    let mut ts = TargetStep::from_runs(&t.name, &t.url, r.clone(), None);
                    ts.run_errors = f.clone();
                    Some(ts)
                })
                .collect();
            if targets.is_empty() {
                continue;
            }
            steps.push(StepResult {
                connections: Some(connections),
                rate: Some(rate).filter(|r| *r > 0.0),
                targets,
            });
        }
        let mut result = SweepResult {
            schema_version: SCHEMA_VERSION,
            kind: KIND.into(),
            meshtop_version: env!("CARGO_PKG_VERSION").into(),
            label: spec.label.clone(),
            started_at,
            ended_at,
            baseline: spec.baseline.clone(),
            varies: spec.varies.clone(),
            duration_s: spec.duration_s,
            requests_per_run: spec.requests_per_run,
            warmup_s: spec.warmup_s,
            cooldown_s: spec.cooldown_s,
            repeat: spec.repeat,
            protocol: spec.protocol.clone(),
            resources_note,
            cancelled,
            steps,
            targets: spec.targets.clone(),
            kubernetes_version: spec.kubernetes_version.clone(),
            tls_not_verified: spec.tls_not_verified,
            nodes: Vec::new(),
        };
        result.settle();
        result
    }
}

impl SweepResult {
    /// Recomputes every step's slowdowns from its targets' medians.
    pub fn settle(&mut self) {
        let baseline = self.baseline.clone();
        for step in &mut self.steps {
            step.settle(&baseline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p50: f64, p90: f64, p99: f64, rps: f64, responses: u64) -> RunFigures {
        RunFigures {
            rps,
            requests: responses,
            responses,
            errors: 0,
            http_errors: 0,
            p50_ms: p50,
            p90_ms: p90,
            p99_ms: p99,
            p999_ms: p99 * 2.0,
            started_at: 0,
            duration_s: 1.0,
        }
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 2.0]), Some(2.0));
    }

    #[test]
    fn slowdown_is_a_ratio_of_medians() {
        // Ratios per repeat would be 2.0, 1.0, 4.0 (median 2.0); the ratio of medians is 1.5.
        let base = TargetStep::from_runs(
            "direct",
            "u",
            vec![
                run(1.0, 2.0, 4.0, 100.0, 10),
                run(2.0, 2.0, 4.0, 90.0, 10),
                run(1.0, 2.0, 4.0, 80.0, 10),
            ],
            None,
        );
        let mesh = TargetStep::from_runs(
            "mesh",
            "u",
            vec![
                run(2.0, 3.0, 5.0, 90.0, 10),
                run(2.0, 3.0, 6.0, 70.0, 10),
                run(4.0, 3.0, 7.0, 60.0, 10),
            ],
            None,
        );
        let mut step = StepResult {
            connections: Some(8),
            rate: None,
            targets: vec![base, mesh],
        };
        step.settle("direct");
        let (b, m) = (&step.targets[0], &step.targets[1]);
        assert_eq!(
            b.slowdown,
            Quantiles {
                p50: Some(1.0),
                p90: Some(1.0),
                p99: Some(1.0)
            }
        );
        assert_eq!(
            b.added_ms,
            Quantiles {
                p50: Some(0.0),
                p90: Some(0.0),
                p99: Some(0.0)
            }
        );
        assert_eq!(m.p50_ms, 2.0);
        assert_eq!(
            m.slowdown,
            Quantiles {
                p50: Some(2.0),
                p90: Some(1.5),
                p99: Some(1.5)
            }
        );
        assert_eq!(
            m.added_ms,
            Quantiles {
                p50: Some(1.0),
                p90: Some(1.0),
                p99: Some(2.0)
            }
        );
        assert_eq!(m.rps, 70.0);
        assert_eq!(m.requests, 30);
        let s = m.spread.unwrap();
        assert_eq!(
            (s.rps.min, s.rps.max, s.p99_ms.min, s.p99_ms.max),
            (60.0, 90.0, 5.0, 7.0)
        );
        assert_eq!(m.note, None);
    }

    #[test]
    fn no_ratio_without_a_baseline_figure() {
        let zero = TargetStep::from_runs("direct", "u", vec![run(0.0, 1.0, 2.0, 1.0, 1)], None);
        let mesh = TargetStep::from_runs("mesh", "u", vec![run(1.0, 2.0, 4.0, 1.0, 1)], None);
        let mut step = StepResult {
            connections: Some(8),
            rate: None,
            targets: vec![zero, mesh],
        };
        step.settle("direct");
        let m = &step.targets[1];
        assert_eq!(
            m.slowdown,
            Quantiles {
                p50: None,
                p90: Some(2.0),
                p99: Some(2.0)
            }
        );
        assert_eq!(m.added_ms.p50, Some(1.0));
        assert_eq!(m.note.as_deref(), Some("the baseline's p50 is 0 ms, so no ratio"));

        let silent = TargetStep::from_runs("direct", "u", vec![run(0.0, 0.0, 0.0, 0.0, 0)], None);
        let mesh = TargetStep::from_runs("mesh", "u", vec![run(1.0, 2.0, 4.0, 1.0, 1)], None);
        let mut step = StepResult {
            connections: Some(8),
            rate: None,
            targets: vec![silent, mesh],
        };
        step.settle("direct");
        let m = &step.targets[1];
        assert_eq!(m.slowdown, Quantiles::default());
        assert_eq!(m.added_ms, Quantiles::default());
        assert_eq!(
            m.note.as_deref(),
            Some("the baseline \"direct\" got no response in this step")
        );
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(json["slowdown"]["p99"], serde_json::Value::Null);
    }

    #[test]
    fn repeats_without_responses_do_not_make_a_route_look_fast() {
        let base = TargetStep::from_runs("direct", "u", vec![run(1.0, 2.0, 4.0, 100.0, 10)], None);
        let broken = TargetStep::from_runs(
            "mesh",
            "u",
            vec![
                run(0.0, 0.0, 0.0, 0.0, 0),
                run(0.0, 0.0, 0.0, 0.0, 0),
                run(5.0, 6.0, 8.0, 10.0, 10),
            ],
            None,
        );
        assert_eq!((broken.p50_ms, broken.p99_ms, broken.rps), (5.0, 8.0, 0.0));
        let mut step = StepResult {
            connections: Some(8),
            rate: None,
            targets: vec![base, broken],
        };
        step.settle("direct");
        let m = &step.targets[1];
        assert_eq!(m.slowdown.p99, Some(2.0));
        assert_eq!(
            m.note.as_deref(),
            Some("2 of 3 repeats got no response; latencies are from the others")
        );
    }

    #[test]
    fn steps_are_named_by_what_varies() {
        let step = |c, r| StepResult {
            connections: c,
            rate: r,
            targets: vec![],
        };
        assert_eq!(step(Some(32), None).name("connections"), "c=32");
        assert_eq!(step(Some(50), Some(2.5)).name("rate"), "2.5 rps");
        assert_eq!(step(Some(50), Some(1000.0)).name("rate"), "1000 rps");
    }

    fn sample(end: UnixMillis, window_ms: u32, proxy_cpu_m: f64) -> UsageSample {
        UsageSample {
            end,
            window_ms,
            pods: 2,
            app_cpu_m: 10.0,
            proxy_cpu_m,
            app_mem: 20.0 * MIB,
            proxy_mem: 40.0 * MIB,
            control_cpu_m: Some(35.0),
            control_mem: None,
        }
    }

    #[test]
    fn resources_come_from_readings_measured_during_the_runs() {
        let samples = [
            // Middle 5_000: before the run.
            sample(10_000, 10_000, 999.0),
            // Middles 15_000 and 25_000: inside it; the second is read twice.
            sample(20_000, 10_000, 100.0),
            sample(30_000, 10_000, 300.0),
            sample(30_000, 10_000, 300.0),
            // Middle 35_000: after it (its window is mostly the next run's).
            sample(40_000, 10_000, 999.0),
        ];
        let r = Resources::from_samples(&samples, &[(12_000, 31_000)], 2, 500.0).unwrap();
        assert_eq!(r.pods, 2);
        assert_eq!(
            r.proxy_cpu_millis,
            Stat {
                mean: 200.0,
                max: 300.0
            }
        );
        assert_eq!(r.app_cpu_millis, Stat { mean: 10.0, max: 10.0 });
        assert_eq!(r.proxy_memory_mib, Stat { mean: 40.0, max: 40.0 });
        assert_eq!(r.app_memory_mib.mean, 20.0);
        // 200m at 500 rps is 400m per 1,000 rps; 40 MiB is 80 MiB per 1,000 rps.
        assert_eq!(r.proxy_cpu_millis_per_1k_rps, Some(400.0));
        assert_eq!(r.proxy_memory_mib_per_1k_rps, Some(80.0));
        assert_eq!(r.control_plane_cpu_millis, Some(Stat { mean: 35.0, max: 35.0 }));
        assert_eq!(r.control_plane_memory_mib, None);
        // No reading inside any run, or no rate: nothing, or no per-1k figure.
        assert_eq!(Resources::from_samples(&samples, &[(41_000, 50_000)], 1, 500.0), None);
        let idle = Resources::from_samples(&samples, &[(12_000, 31_000)], 1, 0.0).unwrap();
        assert_eq!(idle.proxy_cpu_millis_per_1k_rps, None);
        // A reading that covered one of the two pods is left out (its sum would be low).
        let mut partial = samples;
        partial[1].pods = 1;
        let r = Resources::from_samples(&partial, &[(12_000, 31_000)], 2, 500.0).unwrap();
        assert_eq!(
            (r.pods, r.proxy_cpu_millis),
            (
                2,
                Stat {
                    mean: 300.0,
                    max: 300.0
                }
            )
        );
        // When every reading missed one, the count says so.
        for s in &mut partial {
            s.pods = 1;
        }
        let r = Resources::from_samples(&partial, &[(12_000, 31_000)], 2, 500.0).unwrap();
        assert_eq!((r.pods, r.proxy_cpu_millis.mean), (1, 200.0));
    }

    #[test]
    fn a_spec_names_its_runs_in_the_order_they_run() {
        let target = |n: &str| SweepTarget {
            name: n.into(),
            url: format!("http://{n}/"),
            pods: vec![],
            pods_note: None,
            mesh: None,
            mesh_version: None,
            mtls: None,
        };
        let spec = SweepSpec {
            label: None,
            baseline: "a".into(),
            varies: "connections".into(),
            steps: vec![(8, 0.0), (16, 0.0)],
            targets: vec![target("a"), target("b")],
            duration_s: 1.0,
            requests_per_run: None,
            warmup_s: 0.0,
            cooldown_s: 0.0,
            repeat: 2,
            protocol: "HTTP/1.1".into(),
            kubernetes_version: None,
            tls_not_verified: false,
        };
        assert_eq!(spec.runs(), 8);
        let order: Vec<_> = (0..9).map(|i| spec.run_at(i)).collect();
        assert_eq!(
            order,
            [
                Some((0, 0, 0)),
                Some((0, 0, 1)),
                Some((0, 1, 0)),
                Some((0, 1, 1)),
                Some((1, 0, 0)),
                Some((1, 0, 1)),
                Some((1, 1, 0)),
                Some((1, 1, 1)),
                None
            ]
        );
        assert_eq!(spec.step_name(1), "c=16");
    }
}

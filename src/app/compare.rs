//! The Compare view's figures: the bench runs marked with `c` in the bench view, compared
//! with [`crate::compare`] (the same code as `meshtop compare`). Recomputed when the marks
//! change or a marked run ends, never per frame.

use crate::compare::{self, Run, Saved};

use super::state::State;

/// One run in the Compare view, with the run it is measured against (the first marked).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// 1-based position in marking order.
    pub index: u32,
    pub run: Run,
    pub against: Option<Run>,
}

/// What the Compare view shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    pub rows: Vec<CompareRow>,
    /// One verdict line per run after the first.
    pub verdicts: Vec<String>,
    /// How runs were not run alike.
    pub differences: Vec<String>,
    /// Why there is nothing to compare yet.
    pub note: Option<String>,
}

/// Marks or unmarks run `id` and recomputes the comparison; returns the flash message.
pub fn toggle(state: &mut State, id: u32) -> String {
    let name = state
        .benches
        .iter()
        .find(|b| b.id == id)
        .map_or_else(|| format!("#{id}"), |b| b.name());
    let message = match state.compare_marks.iter().position(|m| *m == id) {
        Some(at) => {
            state.compare_marks.remove(at);
            format!("run {name} unmarked ({} marked)", state.compare_marks.len())
        }
        None => {
            state.compare_marks.push(id);
            match state.compare_marks.len() {
                1 => format!("run {name} marked: mark another with c, then 8 compares them"),
                n => format!("run {name} marked ({n} marked): 8 compares them"),
            }
        }
    };
    recompute(state);
    message
}

/// Rebuilds the comparison from the marked runs that have a result; with no run marked,
/// the latest sweep's table, each target against the baseline of its step.
pub fn recompute(state: &mut State) {
    if state.compare_marks.is_empty()
        && let Some(s) = state.sweeps.last()
    {
        state.comparison = of_sweep(s, &state.benches);
        state.derived.rows_changed();
        return;
    }
    let files: Vec<(String, Saved)> = state
        .compare_marks
        .iter()
        .filter_map(|id| state.benches.iter().find(|b| b.id == *id))
        .filter_map(|b| b.result.as_ref().map(|r| (b.name(), Saved::Bench(r.clone()))))
        .collect();
    let marked: Vec<&super::bench::BenchSession> = state
        .compare_marks
        .iter()
        .filter_map(|id| state.benches.iter().find(|b| b.id == *id))
        .collect();
    let waiting = marked.iter().filter(|b| b.running()).count();
    let failed: Vec<String> = marked
        .iter()
        .filter(|b| b.result.is_none() && !b.running())
        .map(|b| b.name())
        .collect();
    state.comparison = if files.len() < 2 {
        Comparison {
            note: Some(match (state.compare_marks.len(), waiting) {
                (0, _) => "no runs marked: mark two finished runs with c in the bench view (7)".into(),
                (_, w) if w > 0 => format!("{w} marked run(s) still running: the comparison appears when they end"),
                _ if !failed.is_empty() => format!(
                    "marked run(s) {} failed, with no result to compare: mark finished runs",
                    failed.join(", ")
                ),
                _ => "one run marked: mark another finished run with c in the bench view (7)".into(),
            }),
            ..Comparison::default()
        }
    } else {
        match compare::compare(&files) {
            Ok(mut c) => {
                // Runs on pods the cluster measured: their proxy CPU per 1k RPS, from the
                // readings taken while they ran (a saved bench result has none).
                let per_1k = |run: &mut Run| {
                    let Some(b) = marked.iter().find(|b| b.name() == run.name) else {
                        return;
                    };
                    let Some(r) = &b.result else { return };
                    run.proxy_cpu_millis_per_1k_rps = crate::model::sweep::Resources::from_samples(
                        &b.samples,
                        &[(r.started_at, r.ended_at)],
                        b.target.pods.len() as u32,
                        r.achieved_rate,
                    )
                    .and_then(|x| x.proxy_cpu_millis_per_1k_rps);
                };
                for p in &mut c.pairs {
                    per_1k(&mut p.base);
                    per_1k(&mut p.other);
                    p.verdict = compare::verdict(&p.base, &p.other);
                }
                let first = c.pairs.first().map(|p| p.base.clone());
                let mut rows: Vec<CompareRow> = first
                    .iter()
                    .map(|b| CompareRow {
                        index: 1,
                        run: b.clone(),
                        against: None,
                    })
                    .collect();
                rows.extend(c.pairs.iter().enumerate().map(|(i, p)| CompareRow {
                    index: i as u32 + 2,
                    run: p.other.clone(),
                    against: Some(p.base.clone()),
                }));
                let mut differences: Vec<String> = c
                    .pairs
                    .iter()
                    .filter(|p| !p.differences.is_empty())
                    .map(|p| format!("{} vs {}: {}", p.other.name, p.base.name, p.differences.join(", ")))
                    .collect();
                differences.dedup();
                Comparison {
                    rows,
                    verdicts: c.pairs.iter().map(|p| p.verdict.clone()).collect(),
                    differences,
                    note: match (waiting, failed.is_empty()) {
                        (0, true) => None,
                        (0, false) => Some(format!("marked run(s) {} failed and are left out", failed.join(", "))),
                        (w, _) => Some(format!("{w} marked run(s) still running")),
                    },
                }
            }
            Err(e) => Comparison {
                note: Some(e),
                ..Comparison::default()
            },
        }
    };
    state.derived.rows_changed();
}

/// A sweep as the Compare view shows it: a row per step and target, each against its
/// step's baseline, and a verdict per step for its slowest target.
fn of_sweep(s: &super::sweep::SweepSession, benches: &[super::bench::BenchSession]) -> Comparison {
    let r = &s.result;
    let name = format!("sweep {}", s.id);
    // Rows are named by step and target; the view's title lines name the sweep.
    let all: Vec<Run> = compare::runs("", &Saved::Sweep(Box::new(r.clone())))
        .into_iter()
        .map(|mut run| {
            run.name = run.name.trim_start().to_string();
            run
        })
        .collect();
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    let mut at = 0;
    for step in &r.steps {
        let these = &all[at..at + step.targets.len()];
        at += step.targets.len();
        let base = step
            .targets
            .iter()
            .position(|t| t.name == r.baseline)
            .map(|i| these[i].clone());
        let mut worst: Option<&Run> = None;
        for (t, run) in step.targets.iter().zip(these) {
            let is_base = t.name == r.baseline;
            // Against the baseline only where the sweep itself has a ratio: not when the
            // baseline or this target got no response (the sweep's note says which).
            let comparable = !is_base && t.slowdown.p99.is_some();
            rows.push(CompareRow {
                index: rows.len() as u32 + 1,
                run: run.clone(),
                against: if comparable { base.clone() } else { None },
            });
            if comparable && worst.is_none_or(|w| run.p99_ms > w.p99_ms) {
                worst = Some(run);
            }
        }
        // `c=8 mesh vs direct: p99 +3.1 ms (+42%), ...`: the step is said once.
        if let (Some(b), Some(w)) = (&base, worst) {
            let mut b = b.clone();
            b.name = r.baseline.clone();
            verdicts.push(compare::verdict(&b, w));
        }
    }
    let done = s.done(benches);
    let total = s.spec.runs();
    let state_line = match (s.running(), s.cancelled) {
        (true, _) => format!("{name} running: {done} of {total} runs done, the table fills in step by step"),
        (false, true) => format!("{name} stopped after {done} of {total} runs"),
        (false, false) => format!("{name}: {total} runs"),
    };
    let mut notes = vec![state_line, format!("baseline {}", r.baseline)];
    if let Some(n) = &r.resources_note {
        notes.push(n.clone());
    }
    notes.push("c marks runs in the bench view to compare them instead".into());
    Comparison {
        rows,
        verdicts,
        differences: Vec::new(),
        note: Some(notes.join("; ")),
    }
}

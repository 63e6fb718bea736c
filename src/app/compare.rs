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
    let message = match state.compare_marks.iter().position(|m| *m == id) {
        Some(at) => {
            state.compare_marks.remove(at);
            format!("run #{id} unmarked ({} marked)", state.compare_marks.len())
        }
        None => {
            state.compare_marks.push(id);
            match state.compare_marks.len() {
                1 => format!("run #{id} marked: mark another with c, then 8 compares them"),
                n => format!("run #{id} marked ({n} marked): 8 compares them"),
            }
        }
    };
    recompute(state);
    message
}

/// Rebuilds the comparison from the marked runs that have a result.
pub fn recompute(state: &mut State) {
    let files: Vec<(String, Saved)> = state
        .compare_marks
        .iter()
        .filter_map(|id| state.benches.iter().find(|b| b.id == *id))
        .filter_map(|b| {
            b.result
                .as_ref()
                .map(|r| (format!("#{}", b.id), Saved::Bench(r.clone())))
        })
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
        .map(|b| format!("#{}", b.id))
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
            Ok(c) => {
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

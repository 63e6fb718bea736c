//! The Compare view's table: the marked runs, each against the first; or a sweep's
//! steps and targets, each against its step's baseline.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, Width};
use crate::app::compare::CompareRow;
use crate::app::format;
use crate::app::state::State;

pub struct Compare;

/// As `meshtop compare` writes it: side by side, 1.82 and 2.4 must not both read "2ms".
fn ms(v: f64) -> String {
    if v < 1000.0 {
        crate::compare::latency(v)
    } else {
        format::millis(v)
    }
}

/// `+0.910ms (+100%)` against the first marked run.
fn delta(r: &CompareRow, f: fn(&crate::compare::Run) -> f64) -> String {
    match &r.against {
        None => "-".into(),
        Some(a) => {
            let (x, y) = (f(a), f(&r.run));
            let pct = if x > 0.0 {
                format!(" ({:+.0}%)", (y - x) / x * 100.0)
            } else {
                String::new()
            };
            let sign = if y >= x { "+" } else { "" };
            format!("{sign}{}{pct}", crate::compare::latency(y - x))
        }
    }
}

/// No ratio for a run without a latency (it got no response): a route that fails is not fast.
fn ratio(r: &CompareRow) -> Option<f64> {
    let a = r.against.as_ref()?;
    (a.p99_ms > 0.0 && r.run.p99_ms > 0.0).then(|| r.run.p99_ms / a.p99_ms)
}

static COLUMNS: &[Column<CompareRow>] = &[
    Column {
        sort: Some(|r| SortKey::Int(u128::from(r.index))),
        ..Column::new("#", |_, r| r.index.to_string())
    },
    Column {
        width: Width::Fill,
        sort: Some(|r| SortKey::Text(&r.run.name)),
        filter: Some((&["run", "target", "url"], |r| {
            Cow::Owned(format!("{} {}", r.run.name, r.run.url))
        })),
        search: true,
        ..Column::new("RUN", |_, r| format!("{} {}", r.run.name, r.run.url))
    },
    Column {
        sort: Some(|r| SortKey::Num(r.run.rps)),
        ..Column::new("RPS", |_, r| format!("{:.0}", r.run.rps))
    },
    Column {
        drop: 10,
        sort: Some(|r| SortKey::Num(r.run.p50_ms)),
        ..Column::new("P50", |_, r| ms(r.run.p50_ms))
    },
    Column {
        drop: 12,
        sort: Some(|r| SortKey::Num(r.run.p90_ms)),
        ..Column::new("P90", |_, r| ms(r.run.p90_ms))
    },
    Column {
        sort: Some(|r| SortKey::Num(r.run.p99_ms)),
        ..Column::new("P99", |_, r| ms(r.run.p99_ms))
    },
    Column {
        drop: 11,
        sort: Some(|r| SortKey::Int(u128::from(r.run.errors))),
        ..Column::new("ERRORS", |_, r| r.run.errors.to_string())
    },
    Column {
        sort: Some(|r| SortKey::num(ratio(r))),
        ..Column::new("P99 X", |_, r| {
            ratio(r).map_or_else(|| "-".into(), |v| format!("{v:.2}x"))
        })
    },
    Column {
        drop: 5,
        ..Column::new("P99 VS BASE", |_, r| delta(r, |x| x.p99_ms))
    },
    Column {
        drop: 4,
        ..Column::new("P50 VS BASE", |_, r| delta(r, |x| x.p50_ms))
    },
    Column {
        drop: 9,
        sort: Some(|r| SortKey::num(r.run.proxy_cpu_millis_per_1k_rps)),
        ..Column::new("PROXY CPU/1K RPS", |_, r| {
            r.run
                .proxy_cpu_millis_per_1k_rps
                .map_or_else(|| "-".into(), |v| format!("{v:.0}m"))
        })
    },
];

impl Table for Compare {
    type Row = CompareRow;
    type Key = u32;

    fn columns() -> &'static [Column<CompareRow>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &CompareRow> + '_> {
        Box::new(state.comparison.rows.iter())
    }
    fn key(r: &CompareRow) -> u32 {
        r.index
    }
    fn get<'a>(state: &'a State, key: &u32) -> Option<&'a CompareRow> {
        state.comparison.rows.iter().find(|r| r.index == *key)
    }
    /// Green to red by p99 slowdown against the base: within a fifth is fine, slower by a
    /// fifth or more is worth a look, twice is a problem.
    fn tone(_: &State, r: &CompareRow) -> Option<Tone> {
        Some(match ratio(r)? {
            x if x >= 2.0 => Tone::Error,
            x if x >= 1.2 => Tone::Warn,
            _ => Tone::Good,
        })
    }
}

//! The runs of the session, under the benchmark panel.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, Width};
use crate::app::bench::BenchSession;
use crate::app::format;
use crate::app::state::State;

pub struct BenchRuns;

fn us(v: u64) -> String {
    format::millis(v as f64 / 1000.0)
}

/// A latency of the run: the result's when it ended, the live one while it runs.
fn latency(
    s: &BenchSession,
    live: fn(&crate::model::bench::BenchProgress) -> u64,
    done: fn(&crate::model::bench::Distribution) -> u64,
) -> Option<u64> {
    match (&s.result, &s.progress) {
        (Some(r), _) => Some(done(&r.latency)),
        (None, Some(p)) => Some(live(p)),
        _ => None,
    }
}

fn rps(s: &BenchSession) -> Option<f64> {
    s.result
        .as_ref()
        .map(|r| r.achieved_rate)
        .or(s.progress.as_ref().map(|p| p.current_rps))
}

fn errors(s: &BenchSession) -> u64 {
    match (&s.result, &s.progress) {
        (Some(r), _) => r.errors.total(),
        (None, Some(p)) => p.errors.total(),
        _ => 0,
    }
}

static COLUMNS: &[Column<BenchSession>] = &[
    Column {
        sort: Some(|s| SortKey::Int(u128::from(s.id))),
        ..Column::new("#", |_, s| s.name().trim_start_matches('#').to_string())
    },
    Column {
        sort: Some(|s| SortKey::Text(s.status())),
        filter: Some((&["status"], |s| Cow::Borrowed(s.status()))),
        ..Column::new("STATUS", |_, s| s.status().to_string())
    },
    Column {
        width: Width::Fill,
        sort: Some(|s| SortKey::Text(&s.config.url)),
        filter: Some((&["target", "url"], |s| {
            Cow::Owned(format!("{} {}", s.target.origin, s.config.url))
        })),
        search: true,
        ..Column::new("TARGET", |_, s| format!("{} {}", s.target.origin, s.config.url))
    },
    Column {
        drop: 5,
        sort: Some(|s| SortKey::Num(s.config.rate)),
        ..Column::new("MODE", |_, s| {
            if s.config.rate > 0.0 {
                format!("{} rps", s.config.rate)
            } else {
                format!("{} conns", s.config.connections)
            }
        })
    },
    Column {
        sort: Some(|s| SortKey::num(rps(s))),
        live: true,
        ..Column::new("RPS", |_, s| rps(s).map_or_else(|| "-".into(), |r| format!("{r:.1}")))
    },
    Column {
        drop: 12,
        sort: Some(|s| SortKey::num(latency(s, |p| p.p50_us, |d| d.p50).map(|v| v as f64))),
        live: true,
        ..Column::new("P50", |_, s| {
            latency(s, |p| p.p50_us, |d| d.p50).map_or_else(|| "-".into(), us)
        })
    },
    Column {
        sort: Some(|s| SortKey::num(latency(s, |p| p.p99_us, |d| d.p99).map(|v| v as f64))),
        live: true,
        ..Column::new("P99", |_, s| {
            latency(s, |p| p.p99_us, |d| d.p99).map_or_else(|| "-".into(), us)
        })
    },
    Column {
        drop: 11,
        sort: Some(|s| SortKey::num(latency(s, |p| p.p999_us, |d| d.p999).map(|v| v as f64))),
        live: true,
        ..Column::new("P99.9", |_, s| {
            latency(s, |p| p.p999_us, |d| d.p999).map_or_else(|| "-".into(), us)
        })
    },
    Column {
        drop: 3,
        sort: Some(|s| SortKey::num(s.result.as_ref().map(|r| r.success_ratio()))),
        live: true,
        ..Column::new("SUCCESS", |_, s| {
            format::pct(s.result.as_ref().map(|r| r.success_ratio()))
        })
    },
    Column {
        sort: Some(|s| SortKey::Int(u128::from(errors(s)))),
        live: true,
        ..Column::new("ERRORS", |_, s| errors(s).to_string())
    },
];

impl Table for BenchRuns {
    type Row = BenchSession;
    type Key = u32;
    const LIVE_ROWS: bool = true;

    fn columns() -> &'static [Column<BenchSession>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &BenchSession> + '_> {
        Box::new(state.benches.iter())
    }
    fn key(s: &BenchSession) -> u32 {
        s.id
    }
    fn get<'a>(state: &'a State, key: &u32) -> Option<&'a BenchSession> {
        state.benches.iter().find(|s| s.id == *key)
    }
    fn tone(_: &State, s: &BenchSession) -> Option<Tone> {
        (s.error.is_some()).then_some(Tone::Error)
    }
}

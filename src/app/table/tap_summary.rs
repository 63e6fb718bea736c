//! The tap summary (`linkerd viz top`'s table): requests grouped by source, destination,
//! method and normalised path over the rate window.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, Width};
use crate::app::format;
use crate::app::state::{State, View};
use crate::tap::summary::{Group, GroupKey};

pub struct TapSummary;

fn fine(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), format::fine_millis)
}

/// The COUNT column, the summary's first order.
pub const COUNT: usize = 5;

/// Below this success rate a group is drawn as failing.
const FAILING: f64 = 0.95;

static COLUMNS: &[Column<Group>] = &[
    Column {
        sort: Some(|g| SortKey::Text(&g.key.source)),
        filter: Some((&["src", "source"], |g| Cow::Borrowed(&g.key.source))),
        search: true,
        ..Column::new("SOURCE", |_, g| g.key.source.clone())
    },
    Column {
        drop: 1,
        sort: Some(|g| SortKey::Text(&g.key.destination)),
        filter: Some((&["dst", "destination"], |g| Cow::Borrowed(&g.key.destination))),
        search: true,
        ..Column::new("DESTINATION", |_, g| g.key.destination.clone())
    },
    Column {
        drop: 2,
        sort: Some(|g| SortKey::Text(g.key.direction.map_or("-", |d| d.as_str()))),
        ..Column::new("DIR", |_, g| {
            crate::model::tap::Direction::short(g.key.direction).into()
        })
    },
    Column {
        sort: Some(|g| SortKey::Text(&g.key.method)),
        filter: Some((&["method"], |g| Cow::Borrowed(&g.key.method))),
        ..Column::new("METHOD", |_, g| g.key.method.clone())
    },
    Column {
        width: Width::Fill,
        sort: Some(|g| SortKey::Text(&g.key.path)),
        filter: Some((&["path"], |g| Cow::Borrowed(&g.key.path))),
        search: true,
        ..Column::new("PATH", |_, g| g.key.path.clone())
    },
    Column {
        live: true,
        sort: Some(|g| SortKey::Int(u128::from(g.count()))),
        ..Column::new("COUNT", |_, g| g.count().to_string())
    },
    Column {
        live: true,
        sort: Some(|g| SortKey::num(g.success_rate())),
        ..Column::new("SUCCESS", |_, g| format::pct(g.success_rate()))
    },
    Column {
        drop: 3,
        live: true,
        sort: Some(|g| SortKey::num(g.min_ms())),
        ..Column::new("BEST", |_, g| fine(g.min_ms()))
    },
    Column {
        drop: 2,
        live: true,
        sort: Some(|g| SortKey::num(g.max_ms())),
        ..Column::new("WORST", |_, g| fine(g.max_ms()))
    },
    Column {
        drop: 4,
        live: true,
        sort: Some(|g| SortKey::num(g.last_ms)),
        ..Column::new("LAST", |_, g| fine(g.last_ms))
    },
    Column {
        live: true,
        sort: Some(|g| SortKey::num(g.p99_ms())),
        ..Column::new("P99", |_, g| fine(g.p99_ms()))
    },
];

impl Table for TapSummary {
    type Row = Group;
    type Key = GroupKey;
    const LIVE_ROWS: bool = true;

    fn columns() -> &'static [Column<Group>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &Group> + '_> {
        Box::new(state.tap.summary.groups())
    }
    fn key(g: &Group) -> GroupKey {
        g.key.clone()
    }
    fn get<'a>(state: &'a State, key: &GroupKey) -> Option<&'a Group> {
        state.tap.summary.get(key)
    }
    /// The group's requests in the tap stream (the path up to its first `{id}`).
    fn open(g: &Group) -> Option<(View, String)> {
        if g.key.is_other() {
            return None;
        }
        let mut f = format!("src={} dst={}", g.key.source, g.key.destination);
        if g.key.method != "TCP" {
            f.push_str(&format!(" method={}", g.key.method));
        }
        let prefix = g.key.path.split("{id}").next().unwrap_or("");
        if !prefix.is_empty() && prefix != "-" {
            f.push_str(&format!(" path={prefix}"));
        }
        Some((View::Tap, f))
    }
    fn tone(_: &State, g: &Group) -> Option<Tone> {
        g.success_rate().is_some_and(|s| s < FAILING).then_some(Tone::Error)
    }
}

//! The edges view: source workload → destination, from the client side's proxies.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, Width, traffic};
use crate::app::figures::EdgeRow;
use crate::app::state::State;

pub struct Edges;

/// Below this success rate an edge is drawn as failing (the SUCCESS cell shows the figure).
pub const FAILING: f64 = 0.95;

static COLUMNS: &[Column<EdgeRow>] = &[
    Column {
        sort: Some(|e| SortKey::Text(&e.source)),
        filter: Some((&["source", "src"], |e| Cow::Borrowed(&e.source))),
        search: true,
        ..Column::new("SOURCE", |_, e| e.source.clone())
    },
    Column {
        sort: Some(|e| SortKey::Text(&e.destination)),
        filter: Some((&["destination", "dst"], |e| Cow::Borrowed(&e.destination))),
        search: true,
        ..Column::new("DESTINATION", |_, e| e.destination.clone())
    },
    Column {
        sort: Some(|e| SortKey::Num(e.rates.rps)),
        live: true,
        ..Column::new("RPS", |_, e| traffic::rps(&e.rates))
    },
    Column {
        drop: 3,
        sort: Some(|e| SortKey::num(e.rates.success)),
        live: true,
        ..Column::new("SUCCESS", |_, e| traffic::success(&e.rates))
    },
    Column {
        drop: 12,
        sort: Some(|e| SortKey::num(e.rates.p50_ms)),
        live: true,
        ..Column::new("P50", |_, e| traffic::p50(&e.rates))
    },
    Column {
        drop: 11,
        sort: Some(|e| SortKey::num(e.rates.p90_ms)),
        live: true,
        ..Column::new("P90", |_, e| traffic::p90(&e.rates))
    },
    Column {
        drop: 4,
        sort: Some(|e| SortKey::num(e.rates.p99_ms)),
        live: true,
        ..Column::new("P99", |_, e| traffic::p99(&e.rates))
    },
    Column {
        width: Width::Fill,
        drop: 6,
        sort: Some(|e| SortKey::num(e.rates.mtls)),
        live: true,
        ..Column::new("mTLS", |_, e| traffic::mtls(&e.rates))
    },
];

impl Table for Edges {
    type Row = EdgeRow;
    type Key = (String, String);
    const LIVE_ROWS: bool = true;

    fn columns() -> &'static [Column<EdgeRow>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &EdgeRow> + '_> {
        Box::new(state.edges.values())
    }
    fn key(e: &EdgeRow) -> (String, String) {
        (e.source.clone(), e.destination.clone())
    }
    fn get<'a>(state: &'a State, key: &(String, String)) -> Option<&'a EdgeRow> {
        state.edges.get(key)
    }
    fn tone(_: &State, e: &EdgeRow) -> Option<Tone> {
        e.rates.success.is_some_and(|s| s < FAILING).then_some(Tone::Error)
    }
}

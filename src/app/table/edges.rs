//! The edges view: source workload → destination, from the client side's proxies.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, Width, common};
use crate::app::figures::EdgeRow;
use crate::app::state::{State, View};

pub struct Edges;

impl common::Traffic for EdgeRow {
    fn rates(&self) -> Option<&crate::app::traffic::Rates> {
        Some(&self.rates)
    }
}

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
    common::rps(),
    common::success(),
    common::p50(),
    common::p90(),
    common::p99(),
    common::read(),
    common::write(),
    Column {
        width: Width::Fill,
        ..common::mtls()
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
    /// The source workload's pods.
    fn open(e: &EdgeRow) -> Option<(View, String)> {
        let (ns, wl) = e.source.split_once('/')?;
        Some((View::Pods, format!("ns=={ns} workload=={wl}")))
    }
    fn tone(_: &State, e: &EdgeRow) -> Option<Tone> {
        e.rates.success.is_some_and(|s| s < FAILING).then_some(Tone::Error)
    }
}

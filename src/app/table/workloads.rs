//! The workloads view: pods grouped by controller, traffic merged over the window (quantiles
//! from summed buckets) and cost summed.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Width, cost, traffic};
use crate::app::figures::{WorkloadKey, WorkloadRow};
use crate::app::state::State;
use crate::app::traffic::Rates;

pub struct Workloads;

fn t(w: &WorkloadRow, f: fn(&Rates) -> String) -> String {
    traffic::cell(w.rates.as_ref(), w.mesh.is_some(), f)
}

static COLUMNS: &[Column<WorkloadRow>] = &[
    Column {
        sort: Some(|w| SortKey::Text(&w.namespace)),
        filter: Some((&["namespace", "ns"], |w| Cow::Borrowed(&w.namespace))),
        search: true,
        ..Column::new("NAMESPACE", |_, w| w.namespace.clone())
    },
    Column {
        sort: Some(|w| SortKey::Text(&w.name)),
        filter: Some((&["name", "workload"], |w| Cow::Borrowed(&w.name))),
        search: true,
        ..Column::new("NAME", |_, w| w.name.clone())
    },
    Column {
        drop: 5,
        sort: Some(|w| SortKey::Text(&w.kind)),
        filter: Some((&["kind"], |w| Cow::Borrowed(&w.kind))),
        ..Column::new("KIND", |_, w| w.kind.clone())
    },
    Column {
        sort: Some(|w| SortKey::Text(w.mesh.map_or("", |m| m.as_str()))),
        filter: Some((&["mesh"], |w| Cow::Borrowed(w.mesh.map_or("none", |m| m.as_str())))),
        ..Column::new("MESH", |_, w| {
            w.mesh.map_or(super::pods::NONE, |m| m.as_str()).to_string()
        })
    },
    Column {
        sort: Some(|w| SortKey::Int(w.pods as u128)),
        ..Column::new("PODS", |_, w| w.pods.to_string())
    },
    Column {
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| Some(r.rps))),
        live: true,
        ..Column::new("RPS", |_, w| t(w, traffic::rps))
    },
    Column {
        drop: 3,
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| r.success)),
        live: true,
        ..Column::new("SUCCESS", |_, w| t(w, traffic::success))
    },
    Column {
        drop: 12,
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| r.p50_ms)),
        live: true,
        ..Column::new("P50", |_, w| t(w, traffic::p50))
    },
    Column {
        drop: 11,
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| r.p90_ms)),
        live: true,
        ..Column::new("P90", |_, w| t(w, traffic::p90))
    },
    Column {
        drop: 4,
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| r.p99_ms)),
        live: true,
        ..Column::new("P99", |_, w| t(w, traffic::p99))
    },
    Column {
        drop: 10,
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| Some(r.tcp_open))),
        live: true,
        ..Column::new("TCP", |_, w| t(w, traffic::tcp))
    },
    Column {
        drop: 6,
        sort: Some(|w| traffic::key(w.rates.as_ref(), |r| r.mtls)),
        live: true,
        ..Column::new("mTLS", |_, w| t(w, traffic::mtls))
    },
    Column {
        sort: Some(|w| SortKey::num(w.cost.cpu.total())),
        live: true,
        ..Column::new("CPU APP/PROXY", |_, w| cost::cpu(&w.cost))
    },
    Column {
        drop: 8,
        sort: Some(|w| {
            w.cost
                .mem
                .total()
                .map_or(SortKey::Missing, |m| SortKey::Int(u128::from(m)))
        }),
        live: true,
        ..Column::new("MEM APP/PROXY", |_, w| cost::mem(&w.cost))
    },
    Column {
        width: Width::Fill,
        drop: 9,
        sort: Some(|w| SortKey::num(cost::tax_key(&w.cost))),
        live: true,
        ..Column::new("TAX CPU/MEM", |_, w| cost::tax(&w.cost))
    },
];

impl Table for Workloads {
    type Row = WorkloadRow;
    type Key = WorkloadKey;

    fn columns() -> &'static [Column<WorkloadRow>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &WorkloadRow> + '_> {
        Box::new(state.workload_rows.values())
    }
    fn key(w: &WorkloadRow) -> WorkloadKey {
        (w.namespace.clone(), w.name.clone())
    }
    fn get<'a>(state: &'a State, key: &WorkloadKey) -> Option<&'a WorkloadRow> {
        state.workload_rows.get(key)
    }
}

//! The workloads view: pods grouped by controller, traffic merged over the window (quantiles
//! from summed buckets) and cost summed.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Width, common};
use crate::app::figures::{WorkloadKey, WorkloadRow};
use crate::app::state::{State, View};
use crate::app::traffic::Rates;

pub struct Workloads;

impl common::Traffic for WorkloadRow {
    fn rates(&self) -> Option<&Rates> {
        self.rates.as_ref()
    }
    /// Only meshed workloads have proxies to count their traffic.
    fn expected(&self) -> bool {
        self.mesh.is_some()
    }
}

impl common::Costed for WorkloadRow {
    fn cost(&self) -> &crate::app::figures::Cost {
        &self.cost
    }
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
    common::rps(),
    common::success(),
    common::p50(),
    common::p90(),
    common::p99(),
    common::tcp(),
    common::read(),
    common::write(),
    common::mtls(),
    common::cpu(),
    common::mem(),
    Column {
        width: Width::Fill,
        ..common::tax()
    },
];

impl Table for Workloads {
    type Row = WorkloadRow;
    type Key = WorkloadKey;

    fn columns() -> &'static [Column<WorkloadRow>] {
        COLUMNS
    }
    /// Deployments, StatefulSets and DaemonSets (what Linkerd's tap takes); a bare pod as itself.
    fn tap_target(w: &WorkloadRow) -> Option<crate::model::tap::TapTarget> {
        let kind = match w.kind.as_str() {
            "Deployment" => "deployment",
            "StatefulSet" => "statefulset",
            "DaemonSet" => "daemonset",
            "Pod" => "pod",
            _ => return None,
        };
        Some(crate::model::tap::TapTarget {
            namespace: w.namespace.clone(),
            kind: kind.into(),
            name: w.name.clone(),
        })
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
    fn open(w: &WorkloadRow) -> Option<(View, String)> {
        Some((View::Pods, format!("ns=={} workload=={}", w.namespace, w.name)))
    }
    fn bench_target(state: &State, w: &WorkloadRow) -> Option<crate::app::bench::Target> {
        crate::app::bench::workload_target(state, &w.namespace, &w.name)
    }
}

//! The namespaces view: injection setting, coverage, pods missing a proxy, cost.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, common};
use crate::app::state::{NamespaceEntry, State, View};

pub struct Namespaces;

impl common::Costed for NamespaceEntry {
    fn cost(&self) -> &crate::app::figures::Cost {
        &self.figures.cost
    }
}

impl common::Created for NamespaceEntry {
    fn created(&self) -> Option<crate::model::UnixMillis> {
        self.info.created
    }
}

fn injection(n: &NamespaceEntry) -> String {
    if n.injection.is_empty() {
        return super::pods::NONE.into();
    }
    n.injection
        .iter()
        .map(|i| format!("{} {}", i.mesh.as_str(), i.setting))
        .collect::<Vec<_>>()
        .join(", ")
}

static COLUMNS: &[Column<NamespaceEntry>] = &[
    Column {
        sort: Some(|n| SortKey::Text(&n.info.name)),
        filter: Some((&["name", "namespace", "ns"], |n| Cow::Borrowed(&n.info.name))),
        search: true,
        ..Column::new("NAME", |_, n| n.info.name.clone())
    },
    Column {
        sort: Some(|n| SortKey::Text(n.injection.first().map_or("", |i| i.mesh.as_str()))),
        filter: Some((&["mesh", "injection"], |n| Cow::Owned(injection(n)))),
        ..Column::new("INJECTION", |_, n| injection(n))
    },
    Column {
        sort: Some(|n| SortKey::Int(n.figures.meshed as u128)),
        ..Column::new("MESHED", |_, n| n.figures.meshed.to_string())
    },
    Column {
        sort: Some(|n| SortKey::Int(n.figures.pods as u128)),
        ..Column::new("PODS", |_, n| n.figures.pods.to_string())
    },
    Column {
        drop: 1,
        sort: Some(|n| {
            n.figures
                .coverage_percent()
                .map_or(SortKey::Missing, |c| SortKey::Int(u128::from(c)))
        }),
        ..Column::new("COVERAGE", |_, n| {
            n.figures
                .coverage_percent()
                .map_or_else(|| "no pods".into(), |p| format!("{p}%"))
        })
    },
    Column {
        sort: Some(|n| SortKey::Int(n.figures.missing as u128)),
        ..Column::new("MISSING", |_, n| n.figures.missing.to_string())
    },
    common::cpu(),
    common::mem(),
    common::tax(),
    Column {
        filter: Some((&["phase", "status"], |n| Cow::Borrowed(&n.info.phase))),
        ..common::age()
    },
];

impl Table for Namespaces {
    type Row = NamespaceEntry;
    type Key = String;

    fn columns() -> &'static [Column<NamespaceEntry>] {
        COLUMNS
    }
    fn tap_target(n: &NamespaceEntry) -> Option<crate::model::tap::TapTarget> {
        Some(crate::model::tap::TapTarget {
            namespace: n.info.name.clone(),
            kind: "namespace".into(),
            name: n.info.name.clone(),
        })
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &NamespaceEntry> + '_> {
        Box::new(state.namespaces.values())
    }
    fn key(n: &NamespaceEntry) -> String {
        n.info.name.clone()
    }
    fn get<'a>(state: &'a State, key: &String) -> Option<&'a NamespaceEntry> {
        state.namespaces.get(key)
    }
    fn open(n: &NamespaceEntry) -> Option<(View, String)> {
        Some((View::Pods, format!("ns=={}", n.info.name)))
    }
    fn tone(_: &State, n: &NamespaceEntry) -> Option<Tone> {
        (n.figures.missing > 0).then_some(Tone::Warn)
    }
}

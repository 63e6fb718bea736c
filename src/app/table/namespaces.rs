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

/// Its labels may not be read: the status line and `discover` give the API's reason.
const UNKNOWN: &str = "unknown";

/// Its pods may not be listed: a count of 0 would say it has none. (A list that failed
/// otherwise, unreachable for a while, keeps the pods it had.)
fn pods_unreadable(state: &State, n: &NamespaceEntry) -> bool {
    state
        .errors
        .get(&(crate::model::Resource::Pods, Some(n.info.name.clone())))
        .is_some_and(|e| e.kind == crate::model::ErrorKind::Forbidden)
}

/// A count of its pods, or `unknown` when they may not be listed.
fn pod_count(state: &State, n: &NamespaceEntry, count: usize) -> String {
    if pods_unreadable(state, n) {
        UNKNOWN.into()
    } else {
        count.to_string()
    }
}

fn injection(n: &NamespaceEntry) -> String {
    if n.unreadable.is_some() {
        return UNKNOWN.into();
    }
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
        ..Column::new("MESHED", |s, n| pod_count(s, n, n.figures.meshed))
    },
    Column {
        sort: Some(|n| SortKey::Int(n.figures.pods as u128)),
        ..Column::new("PODS", |s, n| pod_count(s, n, n.figures.pods))
    },
    Column {
        drop: 1,
        sort: Some(|n| {
            n.figures
                .coverage_percent()
                .map_or(SortKey::Missing, |c| SortKey::Int(u128::from(c)))
        }),
        ..Column::new("COVERAGE", |s, n| {
            if pods_unreadable(s, n) {
                return UNKNOWN.into();
            }
            n.figures
                .coverage_percent()
                .map_or_else(|| "no pods".into(), |p| format!("{p}%"))
        })
    },
    Column {
        sort: Some(|n| SortKey::Int(n.figures.missing as u128)),
        // Pods without a proxy in a namespace that asks for one: not known without its labels.
        ..Column::new("MISSING", |s, n| match n.unreadable {
            Some(_) => UNKNOWN.into(),
            None => pod_count(s, n, n.figures.missing),
        })
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

//! Filtering and sorting of table rows. Pure and shared by the fold (to clamp the
//! selection) and the views (to pick the visible slice).

use std::cmp::Ordering;

use super::state::{State, View, ViewEntry};
use crate::model::{NamespaceInfo, PodInfo};

/// A parsed `/` filter: whitespace-separated terms that must all match.
/// `field=value` matches a named column (case-insensitive substring, `field==value` is exact);
/// any other term is a substring of the row's name or namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Text(String),
    Field {
        name: String,
        value: String,
        exact: bool,
    },
}

impl Filter {
    pub fn parse(s: &str) -> Self {
        let terms = s
            .split_whitespace()
            .map(|t| {
                if let Some((name, value)) = t.split_once("==") {
                    Term::Field {
                        name: name.to_lowercase(),
                        value: value.to_lowercase(),
                        exact: true,
                    }
                } else if let Some((name, value)) = t.split_once('=') {
                    Term::Field {
                        name: name.to_lowercase(),
                        value: value.to_lowercase(),
                        exact: false,
                    }
                } else {
                    Term::Text(t.to_lowercase())
                }
            })
            .collect();
        Filter { terms }
    }

    /// `fields` are (column name, value) pairs; the first two are matched by plain text terms.
    pub fn matches(&self, text: &[&str], fields: &[(&str, &str)]) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Text(t) => text.iter().any(|s| contains_ci(s, t)),
            Term::Field { name, value, exact } => fields.iter().any(|(n, v)| {
                (n == name || alias(name) == *n)
                    && if *exact {
                        v.eq_ignore_ascii_case(value)
                    } else {
                        contains_ci(v, value)
                    }
            }),
        })
    }
}

fn alias(name: &str) -> &str {
    match name {
        "ns" => "namespace",
        "node" => "node",
        "status" => "phase",
        other => other,
    }
}

fn contains_ci(haystack: &str, lower_needle: &str) -> bool {
    if lower_needle.is_empty() {
        return true;
    }
    haystack.to_lowercase().contains(lower_needle)
}

pub const POD_COLUMNS: &[&str] = &[
    "NAMESPACE",
    "NAME",
    "PHASE",
    "READY",
    "RESTARTS",
    "NODE",
    "IP",
    "AGE",
];
pub const NAMESPACE_COLUMNS: &[&str] = &["NAME", "PHASE", "PODS", "RUNNING", "AGE"];

pub fn columns(view: View) -> &'static [&'static str] {
    match view {
        View::Pods => POD_COLUMNS,
        View::Namespaces => NAMESPACE_COLUMNS,
    }
}

/// Pods matching the entry's filter, in the entry's sort order.
pub fn pods<'a>(state: &'a State, entry: &ViewEntry) -> Vec<&'a PodInfo> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<&PodInfo> = state
        .pods
        .values()
        .filter(|p| {
            filter.matches(
                &[&p.name, &p.namespace],
                &[
                    ("namespace", &p.namespace),
                    ("name", &p.name),
                    ("phase", &p.phase),
                    ("node", p.node.as_deref().unwrap_or("")),
                    ("ip", p.ip.as_deref().unwrap_or("")),
                ],
            )
        })
        .collect();
    // The map is already ordered by (namespace, name): only sort for other columns.
    if entry.sort_column != 0 || entry.sort_reverse {
        rows.sort_by(|a, b| {
            let o = match entry.sort_column {
                1 => a.name.cmp(&b.name),
                2 => a.phase.cmp(&b.phase),
                3 => (a.ready, a.containers).cmp(&(b.ready, b.containers)),
                4 => a.restarts.cmp(&b.restarts),
                5 => a.node.cmp(&b.node),
                6 => cmp_ip(a.ip.as_deref(), b.ip.as_deref()),
                // Age ascending means youngest first, as `kubectl get --sort-by` users expect of AGE.
                7 => b.created.cmp(&a.created),
                _ => Ordering::Equal,
            };
            let o = o.then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

fn cmp_ip(a: Option<&str>, b: Option<&str>) -> Ordering {
    let parse = |s: Option<&str>| s.and_then(|s| s.parse::<std::net::IpAddr>().ok());
    parse(a).cmp(&parse(b))
}

/// A namespace with its pod counts, derived at query time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRow<'a> {
    pub ns: &'a NamespaceInfo,
    pub pods: usize,
    pub running: usize,
}

pub fn namespaces<'a>(state: &'a State, entry: &ViewEntry) -> Vec<NamespaceRow<'a>> {
    let filter = Filter::parse(&entry.filter);
    let mut rows: Vec<NamespaceRow<'a>> = state
        .namespaces
        .values()
        .filter(|n| filter.matches(&[&n.name], &[("name", &n.name), ("phase", &n.phase)]))
        .map(|ns| {
            let range = state.pods.range((ns.name.clone(), String::new())..);
            let (mut pods, mut running) = (0, 0);
            for ((pns, _), p) in range {
                if *pns != ns.name {
                    break;
                }
                pods += 1;
                running += usize::from(p.phase == "Running");
            }
            NamespaceRow { ns, pods, running }
        })
        .collect();
    if entry.sort_column != 0 || entry.sort_reverse {
        rows.sort_by(|a, b| {
            let o = match entry.sort_column {
                1 => a.ns.phase.cmp(&b.ns.phase),
                2 => a.pods.cmp(&b.pods),
                3 => a.running.cmp(&b.running),
                4 => b.ns.created.cmp(&a.ns.created),
                _ => Ordering::Equal,
            }
            .then_with(|| a.ns.name.cmp(&b.ns.name));
            if entry.sort_reverse { o.reverse() } else { o }
        });
    }
    rows
}

/// Number of rows the current view shows, for clamping the selection.
pub fn row_count(state: &State) -> usize {
    let entry = state.entry();
    match entry.view {
        View::Pods => pods(state, entry).len(),
        View::Namespaces => namespaces(state, entry).len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_terms() {
        let f = Filter::parse("web ns=prod");
        assert!(f.matches(&["web-1", "prod"], &[("namespace", "prod")]));
        assert!(!f.matches(&["api-1", "prod"], &[("namespace", "prod")]));
        assert!(!f.matches(&["web-1", "dev"], &[("namespace", "dev")]));
        let exact = Filter::parse("phase==running");
        assert!(exact.matches(&[], &[("phase", "Running")]));
        assert!(!Filter::parse("phase==run").matches(&[], &[("phase", "Running")]));
        assert!(Filter::parse("").matches(&[], &[]));
    }
}

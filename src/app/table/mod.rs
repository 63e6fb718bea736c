//! The column registry: every table's columns are declared once, in the table's own file
//! (header, width rule, drop rank for narrow terminals, cell, sort key, filter field), the
//! way k9s keeps a resource's header and row renderer together. Filtering, sorting, the
//! selection and the views are generic code over [`Table`]; nothing here or in the views
//! matches on a table or a column. Adding a column to the pods view is one entry in
//! `pods.rs`.

pub mod bench_runs;
pub mod common;
pub mod control_planes;
pub mod edges;
pub mod namespaces;
pub mod pods;
pub mod workloads;

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use super::state::{State, ViewEntry};

/// How wide a column is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// As wide as its widest visible cell (or its header).
    Content,
    /// Takes what is left of the terminal's width (at least its header).
    Fill,
}

/// What a cell is sorted by. Missing values sort last in either direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey<'a> {
    Text(&'a str),
    Num(f64),
    Int(u128),
    Missing,
}

impl SortKey<'_> {
    fn cmp(&self, other: &SortKey<'_>, reverse: bool) -> Ordering {
        use SortKey::*;
        let o = match (self, other) {
            (Missing, Missing) => return Ordering::Equal,
            (Missing, _) => return Ordering::Greater,
            (_, Missing) => return Ordering::Less,
            (Text(a), Text(b)) => a.cmp(b),
            (Num(a), Num(b)) => a.total_cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            // One column gives one kind of key; mixed kinds only meet in a buggy column.
            (Text(_), _) => Ordering::Less,
            (_, Text(_)) => Ordering::Greater,
            (Num(a), Int(b)) => a.total_cmp(&(*b as f64)),
            (Int(a), Num(b)) => (*a as f64).total_cmp(b),
        };
        if reverse { o.reverse() } else { o }
    }

    pub fn num(v: Option<f64>) -> SortKey<'static> {
        v.filter(|v| !v.is_nan()).map_or(SortKey::Missing, SortKey::Num)
    }
}

/// How the row draws attention (the UI picks the colour; the text says it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Warn,
    Error,
    Dim,
}

/// The text of a row that `field=value` filters match.
pub type FilterValue<R> = fn(&R) -> Cow<'_, str>;

/// One column of a table over rows of type `R`.
pub struct Column<R: 'static> {
    /// The header, and the name `s` cycles through.
    pub header: &'static str,
    pub width: Width,
    /// On a narrow terminal the highest rank is hidden first; 0 is never hidden.
    pub drop: u8,
    /// The cell's text.
    pub cell: fn(&State, &R) -> String,
    /// What the column sorts by; None for columns that do not sort.
    pub sort: Option<fn(&R) -> SortKey<'_>>,
    /// Names `field=value` filters use for this column (the first is the canonical one,
    /// the others aliases), and the value they match; None for columns that do not filter.
    pub filter: Option<(&'static [&'static str], FilterValue<R>)>,
    /// Plain filter terms (without `=`) search this column.
    pub search: bool,
    /// The sort key moves with traffic or usage figures (re-sort when they change).
    pub live: bool,
}

impl<R> Column<R> {
    /// A column with the common defaults: drawn as wide as its content, never hidden, no
    /// sort or filter; set the rest with struct update syntax.
    pub const fn new(header: &'static str, cell: fn(&State, &R) -> String) -> Self {
        Column {
            header,
            width: Width::Content,
            drop: 0,
            cell,
            sort: None,
            filter: None,
            search: false,
            live: false,
        }
    }
}

/// A table: its columns and where its rows come from.
pub trait Table: 'static {
    type Row: 'static;
    /// How a row is found again after the cache holds its place.
    type Key: Clone + 'static;

    /// The columns, in display order. Column 0 ascending is the rows' own order.
    fn columns() -> &'static [Column<Self::Row>];
    /// Every row, in the order of column 0 ascending.
    fn all(state: &State) -> Box<dyn Iterator<Item = &Self::Row> + '_>;
    fn key(row: &Self::Row) -> Self::Key;
    fn get<'a>(state: &'a State, key: &Self::Key) -> Option<&'a Self::Row>;
    /// `field=value` filter names that are not columns (e.g. a pod's workload).
    fn extra_filters() -> &'static [(&'static str, FilterValue<Self::Row>)] {
        &[]
    }
    /// Draws the row in a warning or dimmed colour.
    fn tone(_state: &State, _row: &Self::Row) -> Option<Tone> {
        None
    }
    /// Where `enter` on a row leads: a view and the filter it opens with.
    fn open(_row: &Self::Row) -> Option<(super::state::View, String)> {
        None
    }
    /// What `b` on a row benchmarks: a URL, the pods whose cost the panel shows, and where
    /// the URL can be reached from.
    fn bench_target(_state: &State, _row: &Self::Row) -> Option<super::bench::Target> {
        None
    }
    /// The rows appear or go with traffic figures (edges), not only with the world's objects.
    const LIVE_ROWS: bool = false;
}

/// A parsed `/` filter: whitespace-separated terms that must all match.
/// `field=value` matches a named column (case-insensitive substring, `field==value` exact);
/// any other term is a substring of the searched columns (name, namespace).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Text(String),
    Field { name: String, value: String, exact: bool },
}

impl Filter {
    /// Any text is a filter; nothing is an error (an unknown field matches no row).
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

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether a row of table `T` passes.
    pub fn matches<T: Table>(&self, row: &T::Row) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Text(t) => T::columns()
                .iter()
                .filter(|c| c.search)
                .filter_map(|c| c.filter.map(|(_, value)| value(row)))
                .any(|v| contains_ci(&v, t)),
            Term::Field { name, value, exact } => {
                let column = T::columns()
                    .iter()
                    .filter_map(|c| c.filter)
                    .find(|(names, _)| names.contains(&name.as_str()))
                    .map(|(_, f)| f);
                let extra = || T::extra_filters().iter().find(|(n, _)| n == name).map(|(_, f)| *f);
                match column.or_else(extra) {
                    Some(f) => {
                        let v = f(row);
                        if *exact {
                            v.to_lowercase() == *value
                        } else {
                            contains_ci(&v, value)
                        }
                    }
                    None => false,
                }
            }
        })
    }
}

fn contains_ci(haystack: &str, lower_needle: &str) -> bool {
    lower_needle.is_empty() || haystack.to_lowercase().contains(lower_needle)
}

/// The open table's rows, filtered and sorted, kept while nothing they depend on changes:
/// scrolling a 30,000-pod table re-sorts nothing and looks up only the rows it draws.
#[derive(Default)]
pub struct RowCache(RefCell<Option<Cached>>);

struct Cached {
    table: TypeId,
    filter: String,
    sort: usize,
    reverse: bool,
    rows_generation: u64,
    figures_generation: u64,
    /// An `Rc<Vec<T::Key>>`: handed out by reference count, so no borrow outlives a call.
    keys: Rc<dyn Any>,
}

impl Clone for RowCache {
    /// A copied state recomputes its rows when asked.
    fn clone(&self) -> Self {
        RowCache::default()
    }
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowCache")
    }
}

/// A table's rows under a filter and sort order: how many, and any of them by position,
/// without touching the others.
pub struct Rows<'a, T: Table> {
    state: &'a State,
    keys: Rc<Vec<T::Key>>,
}

impl<'a, T: Table> Rows<'a, T> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The row at `index` in this order.
    pub fn get(&self, index: usize) -> Option<&'a T::Row> {
        self.keys.get(index).and_then(|k| T::get(self.state, k))
    }

    /// The rows from `start` up to `end` (clamped), e.g. those on screen.
    pub fn slice(&self, start: usize, end: usize) -> Vec<&'a T::Row> {
        let end = end.min(self.keys.len());
        self.keys[start.min(end)..end]
            .iter()
            .filter_map(|k| T::get(self.state, k))
            .collect()
    }

    /// Every row, in order (headless output and tests).
    pub fn all(&self) -> Vec<&'a T::Row> {
        self.slice(0, self.len())
    }
}

/// The rows of table `T` that the view entry's filter lets through, in its sort order.
pub fn rows<'a, T: Table>(state: &'a State, entry: &ViewEntry) -> Rows<'a, T> {
    let columns = T::columns();
    let sort = entry.sort_column.min(columns.len().saturating_sub(1));
    let live = T::LIVE_ROWS || columns.get(sort).is_some_and(|c| c.live);
    let figures_generation = if live { state.derived.figures_generation } else { 0 };
    let hit = |c: &Cached| {
        c.table == TypeId::of::<T>()
            && c.filter == entry.filter
            && c.sort == sort
            && c.reverse == entry.sort_reverse
            && c.rows_generation == state.derived.rows_generation
            && c.figures_generation == figures_generation
    };
    let cached = state
        .row_cache
        .0
        .borrow()
        .as_ref()
        .filter(|c| hit(c))
        .and_then(|c| c.keys.clone().downcast::<Vec<T::Key>>().ok());
    let keys = match cached {
        Some(keys) => keys,
        None => {
            let keys: Rc<Vec<T::Key>> = Rc::new(compute::<T>(state, entry, sort).iter().map(|r| T::key(r)).collect());
            *state.row_cache.0.borrow_mut() = Some(Cached {
                table: TypeId::of::<T>(),
                filter: entry.filter.clone(),
                sort,
                reverse: entry.sort_reverse,
                rows_generation: state.derived.rows_generation,
                figures_generation,
                keys: keys.clone(),
            });
            keys
        }
    };
    Rows { state, keys }
}

fn compute<'a, T: Table>(state: &'a State, entry: &ViewEntry, sort: usize) -> Vec<&'a T::Row> {
    let filter = Filter::parse(&entry.filter);
    let rows = T::all(state).filter(|r| filter.is_empty() || filter.matches::<T>(r));
    // The rows come in column 0's ascending order: only other orders need sorting.
    if sort == 0 && !entry.sort_reverse {
        return rows.collect();
    }
    let Some(key) = T::columns().get(sort).and_then(|c| c.sort) else {
        return rows.collect();
    };
    // Keys are taken once per row, not per comparison; the sort is stable, so ties keep
    // the rows' own order.
    let mut keyed: Vec<(SortKey<'a>, &'a T::Row)> = rows.map(|r| (key(r), r)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0, entry.sort_reverse));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// The one place that says which table a view shows: runs `$body` with `$T` bound to the
/// table type of `$view`, or `$otherwise` for views that are not tables.
#[macro_export]
macro_rules! with_table {
    ($view:expr, $T:ident => $body:expr, _ => $otherwise:expr) => {{
        use $crate::app::View as V;
        match $view {
            V::Pods => {
                type $T = $crate::app::table::pods::Pods;
                $body
            }
            V::Workloads => {
                type $T = $crate::app::table::workloads::Workloads;
                $body
            }
            V::Edges => {
                type $T = $crate::app::table::edges::Edges;
                $body
            }
            V::Namespaces => {
                type $T = $crate::app::table::namespaces::Namespaces;
                $body
            }
            V::ControlPlanes => {
                type $T = $crate::app::table::control_planes::ControlPlanes;
                $body
            }
            V::Bench => {
                type $T = $crate::app::table::bench_runs::BenchRuns;
                $body
            }
            V::Overview | V::PodDetail { .. } => $otherwise,
        }
    }};
}

/// The number of rows the open view's table has under its filter.
pub fn row_count(state: &State) -> usize {
    let entry = state.entry();
    with_table!(entry.view, T => rows::<T>(state, entry).len(), _ => 0)
}

/// The next column that sorts, after `from` (wrapping to column 0).
pub fn next_sortable<T: Table>(from: usize) -> usize {
    let columns = T::columns();
    (1..=columns.len())
        .map(|i| (from + i) % columns.len())
        .find(|&i| i == 0 || columns[i].sort.is_some())
        .unwrap_or(0)
}

/// The text tables of `meshtop top` and `discover`: the TUI's columns and cells, every
/// column, aligned with two spaces.
pub fn plain<T: Table>(state: &State, rows: &[&T::Row]) -> String {
    let all: Vec<&str> = T::columns().iter().map(|c| c.header).collect();
    plain_columns::<T>(state, rows, &all)
}

/// The same with only the columns named (in that order); unknown names are skipped.
pub fn plain_columns<T: Table>(state: &State, rows: &[&T::Row], headers: &[&str]) -> String {
    let columns: Vec<&Column<T::Row>> = headers
        .iter()
        .filter_map(|h| T::columns().iter().find(|c| c.header == *h))
        .collect();
    let mut lines: Vec<Vec<String>> = vec![columns.iter().map(|c| c.header.to_string()).collect()];
    lines.extend(
        rows.iter()
            .map(|r| columns.iter().map(|c| (c.cell)(state, r)).collect()),
    );
    align(&lines)
}

/// Lines of cells, each column as wide as its widest cell, two spaces apart.
pub fn align(lines: &[Vec<String>]) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|l| {
            let cells: Vec<String> = l.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            cells.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_sort_last_both_ways() {
        let keys = [SortKey::Num(2.0), SortKey::Missing, SortKey::Num(1.0)];
        for reverse in [false, true] {
            let mut k = keys.to_vec();
            k.sort_by(|a, b| a.cmp(b, reverse));
            assert_eq!(k[2], SortKey::Missing, "reverse={reverse}");
            assert_eq!(k[0], SortKey::Num(if reverse { 2.0 } else { 1.0 }));
        }
        assert_eq!(SortKey::num(Some(f64::NAN)), SortKey::Missing);
    }
}

//! The column registry: every table's columns are declared once, in the table's own file
//! (header, width rule, drop rank for narrow terminals, cell, sort key, filter field), the
//! way k9s keeps a resource's header and row renderer together. Filtering, sorting, the
//! selection and the views are generic code over [`Table`]; nothing here or in the views
//! matches on a table or a column. Adding a column to the pods view is one entry in
//! `pods.rs`.

pub mod bench_runs;
pub mod common;
pub mod compare;
pub mod control_planes;
pub mod edges;
pub mod namespaces;
pub mod pods;
pub mod tap;
pub mod tap_summary;
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
    /// Good news where the row is judged (a slowdown near 1.00x).
    Good,
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
    /// The value is part of the row's key, so it never changes while the row keeps it (a
    /// pod's namespace and name): an order that reads only such columns survives rows
    /// changing in place (a pod's status) without re-filtering or re-sorting every row.
    pub identity: bool,
    /// The sort key moves with traffic or usage figures (re-sort when they change).
    pub live: bool,
    /// The key runs against what the header names (newest first by time): the header's arrow
    /// shows the order a person sees, ↓ for this key ascending.
    pub descending: bool,
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
            identity: false,
            live: false,
            descending: false,
        }
    }
}

/// A table: its columns and where its rows come from.
pub trait Table: 'static {
    type Row: 'static;
    /// How a row is found again after the cache holds its place.
    type Key: Clone + 'static;

    /// The columns, in display order. Column 0 ascending is the rows' own order, unless
    /// [`Table::PRESORTED`] says otherwise.
    fn columns() -> &'static [Column<Self::Row>];
    /// Every row, in the order of column 0 ascending (see [`Table::PRESORTED`]).
    fn all(state: &State) -> Box<dyn Iterator<Item = &Self::Row> + '_>;
    /// `all` comes in column 0's order, so that order needs no sort. The tap stream's rows come
    /// as they arrived, which is nearly but not quite by request time.
    const PRESORTED: bool = true;
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
    /// What `t` on a row taps.
    fn tap_target(_row: &Self::Row) -> Option<crate::model::tap::TapTarget> {
        None
    }
    /// The rows appear or go with traffic figures (edges), not only with the world's objects.
    const LIVE_ROWS: bool = false;
    /// A counter of the table's own rows, for tables fed faster than once a second (the
    /// tap stream): its rows are rebuilt when it moves.
    fn generation(_state: &State) -> u64 {
        0
    }
    /// A `/` filter language of the table's own (the tap view's post-filters), instead of
    /// the generic `field=value` one.
    fn own_filter(_text: &str) -> Option<RowFilter<Self::Row>> {
        None
    }
    /// The keys of the rows that came or went since members generation `since`, and the
    /// order of keys that [`Table::all`] follows: the cache then patches its keys and order
    /// instead of walking every row. None when the table cannot say (every table but the
    /// pods, and when other rows changed too): the keys are rebuilt.
    fn came_and_went(_state: &State, _since: u64) -> Option<Churn<Self::Key>> {
        None
    }
}

/// Rows that came or went, and how their keys are ordered (see [`Table::came_and_went`]).
pub struct Churn<K> {
    pub keys: Vec<K>,
    pub order: fn(&K, &K) -> Ordering,
}

/// A table's own filter: whether a row passes.
pub type RowFilter<R> = Box<dyn Fn(&R) -> bool>;

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

    /// Whether the filter reads only identity columns of `T` (see [`Column::identity`]).
    fn reads_identity_only<T: Table>(&self) -> bool {
        let columns = T::columns();
        self.terms.iter().all(|term| match term {
            Term::Text(_) => columns.iter().filter(|c| c.search).all(|c| c.identity),
            Term::Field { name, .. } => columns
                .iter()
                .find(|c| c.filter.is_some_and(|(names, _)| names.contains(&name.as_str())))
                // An unknown field matches nothing, whatever the rows hold.
                .map_or(!T::extra_filters().iter().any(|(n, _)| n == name), |c| c.identity),
        })
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
    if lower_needle.is_empty() {
        return true;
    }
    // Names are ASCII: compare in place. Lower-casing a copy of every row's name for every
    // order was a third of the CPU of a filtered 10,000-pod table under churn. Candidates
    // are found by the needle's first byte in either case (SIMD), then compared.
    if haystack.is_ascii() && lower_needle.is_ascii() {
        let n = lower_needle.as_bytes();
        let h = haystack.as_bytes();
        if h.len() < n.len() {
            return false;
        }
        let last = h.len() - n.len();
        let (lo, up) = (n[0], n[0].to_ascii_uppercase());
        return memchr::memchr2_iter(lo, up, &h[..=last]).any(|at| h[at..at + n.len()].eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(lower_needle)
}

/// The open table's rows, filtered and sorted, kept while nothing they depend on changes:
/// scrolling a 30,000-pod table re-sorts nothing and looks up only the rows it draws.
///
/// Two levels, because they change at different rates: the rows' keys in their own order
/// (rebuilt only when rows appear, go or change what they are), and the order under the
/// view's filter and sort as positions into those keys (rebuilt when the filter, the sort
/// or, for a live column, the figures change). A scrape round therefore re-sorts numbers
/// and clones no key.
#[derive(Default)]
pub struct RowCache(RefCell<Option<Cached>>, std::cell::Cell<(u64, u64)>);

impl RowCache {
    /// How many times the keys, and an order, were built from every row (not kept or
    /// patched).
    pub fn built(&self) -> (u64, u64) {
        self.1.get()
    }
}

struct Cached {
    table: TypeId,
    /// `members_generation`, `figures_generation` for tables whose rows come and go with
    /// the figures, and the table's own generation: while they hold, the keys do.
    generations: (u64, u64, u64),
    /// An `Rc<Vec<T::Key>>` in the order of [`Table::all`]: handed out by reference
    /// count, so no borrow outlives a call.
    keys: Rc<dyn Any>,
    order: Option<Order>,
}

struct Order {
    /// Rows whose content changed in place re-filter and re-sort, unless the filter and
    /// sort read only identity columns ([`Column::identity`]).
    rows_generation: u64,
    filter: String,
    sort: usize,
    reverse: bool,
    figures_generation: u64,
    positions: Rc<Vec<u32>>,
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
    positions: Rc<Vec<u32>>,
}

impl<'a, T: Table> Rows<'a, T> {
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    fn lookup(&self, position: u32) -> Option<&'a T::Row> {
        self.keys.get(position as usize).and_then(|k| T::get(self.state, k))
    }

    /// The row at `index` in this order.
    pub fn get(&self, index: usize) -> Option<&'a T::Row> {
        self.positions.get(index).and_then(|&p| self.lookup(p))
    }

    /// The rows from `start` up to `end` (clamped), e.g. those on screen.
    pub fn slice(&self, start: usize, end: usize) -> Vec<&'a T::Row> {
        let end = end.min(self.positions.len());
        self.positions[start.min(end)..end]
            .iter()
            .filter_map(|&p| self.lookup(p))
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
    // Live orders (and rows that come and go with the figures) follow the published
    // generation, so they are rebuilt at most once a second however often scrapes land.
    let figures_generation = if live { state.derived.sort_generation } else { 0 };
    let generations = (
        state.derived.members_generation,
        if T::LIVE_ROWS { state.derived.sort_generation } else { 0 },
        T::generation(state),
    );
    // Taken out while computing, so no borrow is held across the table's code.
    let cached = state
        .row_cache
        .0
        .borrow_mut()
        .take()
        .filter(|c| c.table == TypeId::of::<T>());
    let cached = cached.and_then(|c| Some((c.generations, c.keys.downcast::<Vec<T::Key>>().ok()?, c.order)));
    let order_holds = |o: &Order| {
        (o.rows_generation == state.derived.rows_generation || reads_identity_only::<T>(entry, sort))
            && o.filter == entry.filter
            && o.sort == sort
            && o.reverse == entry.sort_reverse
            && o.figures_generation == figures_generation
    };
    let build = || {
        let (k, o) = state.row_cache.1.get();
        state.row_cache.1.set((k + 1, o));
        (Rc::new(T::all(state).map(T::key).collect::<Vec<_>>()), None)
    };
    let (keys, order) = match cached {
        Some((held, keys, order)) if held == generations => (keys, order.filter(|o| order_holds(o))),
        // Only the members moved, by rows the table can name: patch rather than rebuild.
        Some((held, keys, order)) if (held.1, held.2) == (generations.1, generations.2) => {
            match T::came_and_went(state, held.0) {
                Some(churn) => {
                    let order = order.filter(|o| order_holds(o) && reads_identity_only::<T>(entry, sort));
                    patch::<T>(state, entry, sort, keys, order, churn)
                }
                None => build(),
            }
        }
        _ => build(),
    };
    let positions = match order {
        Some(o) => o.positions,
        None => {
            let (k, o) = state.row_cache.1.get();
            state.row_cache.1.set((k, o + 1));
            Rc::new(order_of::<T>(state, entry, sort, keys.len()))
        }
    };
    *state.row_cache.0.borrow_mut() = Some(Cached {
        table: TypeId::of::<T>(),
        generations,
        keys: keys.clone(),
        order: Some(Order {
            rows_generation: state.derived.rows_generation,
            filter: entry.filter.clone(),
            sort,
            reverse: entry.sort_reverse,
            figures_generation,
            positions: positions.clone(),
        }),
    });
    Rows { state, keys, positions }
}

/// Applies rows that came and went to cached keys and, if given, to an order that reads
/// only the rows' keys (so no other row's place moved). Whether a touched key is a row now
/// is asked of the state, so a pod that came and went between two frames is neither.
fn patch<T: Table>(
    state: &State,
    entry: &ViewEntry,
    sort: usize,
    mut keys: Rc<Vec<T::Key>>,
    mut order: Option<Order>,
    churn: Churn<T::Key>,
) -> (Rc<Vec<T::Key>>, Option<Order>) {
    let Churn {
        keys: mut touched,
        order: by,
    } = churn;
    touched.sort_by(by);
    touched.dedup_by(|a, b| by(a, b) == Ordering::Equal);
    let key_vec = Rc::make_mut(&mut keys);
    let mut positions = order.as_mut().map(|o| Rc::make_mut(&mut o.positions));
    // Goings first, so every key left names a row and the order stays sorted for the
    // searches of the comings.
    let mut came = Vec::new();
    for key in touched {
        match (key_vec.binary_search_by(|k| by(k, &key)), T::get(state, &key).is_some()) {
            (Ok(at), false) => {
                key_vec.remove(at);
                if let Some(positions) = positions.as_deref_mut() {
                    positions.retain(|&p| p as usize != at);
                    positions.iter_mut().filter(|p| **p as usize > at).for_each(|p| *p -= 1);
                }
            }
            (Err(_), true) => came.push(key),
            // Went and came back: the same key, and an identity order reads nothing else.
            _ => {}
        }
    }
    let filter = Filter::parse(&entry.filter);
    let sort_key = T::columns().get(sort).and_then(|c| c.sort);
    for key in came {
        let at = key_vec.binary_search_by(|k| by(k, &key)).unwrap_or_else(|at| at);
        key_vec.insert(at, key);
        let Some(positions) = positions.as_deref_mut() else {
            continue;
        };
        positions
            .iter_mut()
            .filter(|p| **p as usize >= at)
            .for_each(|p| *p += 1);
        let Some(row) = T::get(state, &key_vec[at]) else {
            continue;
        };
        if !filter.matches::<T>(row) {
            continue;
        }
        // Where a full sort puts it: by the sort key, ties in the rows' own order.
        let new = sort_key.map(|f| f(row));
        let place = positions.partition_point(|&p| {
            let other = key_vec.get(p as usize).and_then(|k| T::get(state, k));
            let by_key = match (other.and_then(|r| sort_key.map(|f| f(r))), &new) {
                (Some(a), Some(b)) => a.cmp(b, entry.sort_reverse),
                _ => Ordering::Equal,
            };
            by_key.then(p.cmp(&(at as u32))) == Ordering::Less
        });
        positions.insert(place, at as u32);
    }
    (keys, order)
}

/// Whether the view's filter and sort read only columns whose values are the rows' keys:
/// the order then holds while rows only change in place (under churn of 50 pod updates a
/// second, re-filtering 10,000 rows for each frame was most of the frame's time).
fn reads_identity_only<T: Table>(entry: &ViewEntry, sort: usize) -> bool {
    let columns = T::columns();
    let sort_reads_identity = columns.get(sort).is_none_or(|c| c.identity || c.sort.is_none());
    let filter_reads_identity = entry.filter.trim().is_empty()
        || (T::own_filter(&entry.filter).is_none() && Filter::parse(&entry.filter).reads_identity_only::<T>());
    sort_reads_identity && filter_reads_identity
}

/// The positions (in [`Table::all`]'s order) of the rows the filter lets through, sorted.
fn order_of<T: Table>(state: &State, entry: &ViewEntry, sort: usize, len: usize) -> Vec<u32> {
    let filter = Filter::parse(&entry.filter);
    let own = if entry.filter.trim().is_empty() {
        None
    } else {
        T::own_filter(&entry.filter)
    };
    let passes = |r: &T::Row| match &own {
        Some(f) => f(r),
        None => filter.is_empty() || filter.matches::<T>(r),
    };
    // `len` keys were taken from the same rows; `take` keeps positions inside them even if
    // a table forgot to bump a generation when its rows changed.
    let rows = T::all(state)
        .take(len)
        .enumerate()
        .filter(|(_, r)| passes(r))
        .map(|(i, r)| (i as u32, r));
    // The rows come in column 0's ascending order (when the table is PRESORTED): only other
    // orders need sorting.
    let key = T::columns().get(sort).and_then(|c| c.sort);
    let key = match key {
        Some(key) if sort != 0 || entry.sort_reverse || !T::PRESORTED => key,
        _ => return rows.map(|(i, _)| i).collect(),
    };
    // Keys are taken once per row, not per comparison; ties keep the rows' own order.
    let keyed: Vec<(SortKey<'_>, u32)> = rows.map(|(i, r)| (key(r), i)).collect();
    if let Some(order) = by_rank(&keyed, entry.sort_reverse) {
        return order;
    }
    let mut keyed = keyed;
    keyed.sort_by(|a, b| a.0.cmp(&b.0, entry.sort_reverse));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The order [`SortKey::cmp`] gives (stable), for columns of numbers only: sorted as plain
/// integers, which is several times faster than comparing enums. None for text, or for a
/// column that mixes floats and integers.
fn by_rank(keyed: &[(SortKey<'_>, u32)], reverse: bool) -> Option<Vec<u32>> {
    // XOR with all ones reverses an unsigned order.
    let flip = if reverse { u64::MAX } else { 0 };
    let mut floats = false;
    let mut ints = false;
    let mut ranked = Vec::with_capacity(keyed.len());
    // Missing sorts last either way, in the rows' own order.
    let mut missing = Vec::new();
    for &(key, i) in keyed {
        let rank = match key {
            SortKey::Missing => {
                missing.push(i);
                continue;
            }
            // f64's total order (as `total_cmp`) in unsigned bits: negatives have every
            // bit flipped, the rest only the sign.
            SortKey::Num(v) => {
                floats = true;
                let b = v.to_bits();
                if b >> 63 == 1 { !b } else { b | 1 << 63 }
            }
            SortKey::Int(v) => {
                ints = true;
                u64::try_from(v).ok()?
            }
            SortKey::Text(_) => return None,
        };
        // The position breaks ties, as a stable sort keeps the rows' own order.
        ranked.push((rank ^ flip, i));
    }
    if floats && ints {
        return None;
    }
    ranked.sort_unstable();
    Some(ranked.into_iter().map(|(_, i)| i).chain(missing).collect())
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
            V::Compare => {
                type $T = $crate::app::table::compare::Compare;
                $body
            }
            V::Tap => {
                type $T = $crate::app::table::tap::Tap;
                $body
            }
            V::TapSummary => {
                type $T = $crate::app::table::tap_summary::TapSummary;
                $body
            }
            V::Overview | V::PodDetail { .. } | V::TapEvent { .. } => $otherwise,
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

pub use crate::text::align;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A pod in namespace `ns` with this phase, as the watch reports it.
    fn pod(name: &str, phase: &str) -> crate::app::Stamped {
        crate::app::Stamped {
            at: 1,
            update: crate::app::Update::PodApplied {
                pod: crate::model::PodInfo {
                    namespace: "ns".into(),
                    name: name.into(),
                    phase: phase.into(),
                    ..Default::default()
                },
            },
        }
    }

    /// A pod that changes in place keeps the table's keys (no clone of every key) but is
    /// filtered and shown with its new content; a pod that comes or goes is patched in.
    #[test]
    fn rows_changed_in_place_keep_their_keys_not_their_order() {
        use crate::app::{Keymap, fold};
        let mut s = State::new(Keymap::default());
        fold(&mut s, pod("a", "Running"));
        fold(&mut s, pod("b", "Pending"));
        let mut entry = ViewEntry::new(crate::app::state::View::Pods);
        entry.filter = "status=pending".into();
        // The keys themselves are held (not their address): a freed allocation's address
        // can come back for the next one.
        type Keys = Rc<Vec<<pods::Pods as Table>::Key>>;
        let names = |s: &State, e: &ViewEntry| -> (Vec<String>, Keys) {
            let r = rows::<pods::Pods>(s, e);
            let names = r.slice(0, r.len()).iter().map(|p| p.info.name.clone()).collect();
            (names, r.keys.clone())
        };
        let (before, keys) = names(&s, &entry);
        assert_eq!(before, ["b"]);
        fold(&mut s, pod("a", "Pending"));
        let (after, same_keys) = names(&s, &entry);
        assert_eq!(after, ["a", "b"]);
        assert!(Rc::ptr_eq(&same_keys, &keys), "keys rebuilt for an in-place change");
        let built = s.row_cache.built().0;
        fold(&mut s, pod("c", "Pending"));
        let (more, new_keys) = names(&s, &entry);
        assert_eq!(more, ["a", "b", "c"]);
        // A pod that came is patched in, with the pod's own shared key.
        assert_eq!(s.row_cache.built().0, built, "keys built again for a pod that came");
        assert!(std::sync::Arc::ptr_eq(
            &new_keys[2],
            &s.pods[&("ns".into(), "c".into())].key
        ));
        // Keys built afresh are the pods' own shared keys too, not copies of their names (no
        // allocation per row).
        let fresh = s.clone();
        let (_, fresh_keys) = names(&fresh, &entry);
        assert_eq!(fresh.row_cache.built().0, 1);
        for (k, p) in fresh_keys.iter().zip(fresh.pods.values()) {
            assert!(std::sync::Arc::ptr_eq(k, &p.key), "{k:?}");
        }
    }

    /// An order that reads only the rows' keys (name, namespace) is kept when a row changes
    /// in place; one that reads content (a status filter, a status sort) is made again.
    #[test]
    fn identity_orders_survive_in_place_changes() {
        use crate::app::{Keymap, fold};
        let mut s = State::new(Keymap::default());
        for name in ["web-1", "web-2", "db-1"] {
            fold(&mut s, pod(name, "Running"));
        }
        let status = pods::Pods::columns().iter().position(|c| c.header == "STATUS").unwrap();
        let view = |filter: &str, sort: usize| {
            let mut e = ViewEntry::new(crate::app::state::View::Pods);
            e.filter = filter.into();
            e.sort_column = sort;
            e
        };
        let cases = [
            (view("", 0), true),
            (view("WEB", 1), true),
            (view("name=web ns=ns", 0), true),
            (view("nosuchfield=x", 0), true),
            (view("web status=running", 0), false),
            (view("", status), false),
            (view("workload=web", 0), false),
        ];
        for (entry, kept) in cases {
            assert_eq!(
                reads_identity_only::<pods::Pods>(&entry, entry.sort_column),
                kept,
                "{:?}",
                entry.filter
            );
            let before = rows::<pods::Pods>(&s, &entry).positions;
            fold(&mut s, pod("web-1", "Failed"));
            let after = rows::<pods::Pods>(&s, &entry);
            assert_eq!(
                Rc::ptr_eq(&before, &after.positions),
                kept,
                "{:?} sort {}",
                entry.filter,
                entry.sort_column
            );
            // Whichever way, what is shown is current.
            assert!(
                after
                    .all()
                    .iter()
                    .all(|p| p.info.name != "web-1" || p.info.phase == "Failed")
            );
            fold(&mut s, pod("web-1", "Running"));
        }
    }

    /// A pod deleted by the watch.
    fn gone(name: &str, ns: &str) -> crate::app::Stamped {
        crate::app::Stamped {
            at: 1,
            update: crate::app::Update::PodDeleted {
                namespace: ns.into(),
                name: name.into(),
            },
        }
    }

    /// What happens to a pod between two frames.
    #[derive(Debug, Clone)]
    enum Op {
        Create {
            ns: u8,
            name: u8,
            running: bool,
        },
        Delete {
            ns: u8,
            name: u8,
        },
        /// A namespace applied: rows changed in a way the pods' log does not name.
        Namespace,
        /// More pods created at once than the log keeps.
        Bulk,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u8..3, 0u8..12, any::<bool>()).prop_map(|(ns, name, running)| Op::Create { ns, name, running }),
            8 => (0u8..3, 0u8..12).prop_map(|(ns, name)| Op::Delete { ns, name }),
            1 => Just(Op::Namespace),
            1 => Just(Op::Bulk),
        ]
    }

    proptest! {
        /// Keys and orders patched with the pods that came and went show exactly the rows, in
        /// exactly the order, that building them afresh gives; orders that read only the
        /// rows' keys are patched, not built again.
        #[test]
        fn patched_rows_equal_rebuilt_rows(
            frames in proptest::collection::vec(proptest::collection::vec(op(), 0..4), 1..25),
            view in 0usize..9,
        ) {
            use crate::app::{Keymap, fold};
            let name_col = pods::Pods::columns().iter().position(|c| c.header == "NAME").unwrap();
            let status = pods::Pods::columns().iter().position(|c| c.header == "STATUS").unwrap();
            // (filter, sort column, reversed, reads only the keys)
            let views = [
                ("", 0, false, true),
                ("", 0, true, true),
                ("web-1", 0, false, true),
                ("ns=b", name_col, true, true),
                ("name=web-1 NS=a", name_col, false, true),
                ("status=running", 0, false, false),
                ("", status, false, false),
                // The same names in several namespaces: ties broken by the rows' own order.
                ("", name_col, false, true),
                ("", name_col, true, true),
            ];
            let (filter, sort, reverse, identity) = views[view];
            let mut entry = ViewEntry::new(crate::app::state::View::Pods);
            entry.filter = filter.into();
            entry.sort_column = sort;
            entry.sort_reverse = reverse;
            let mut s = State::new(Keymap::default());
            for n in 0..6 {
                fold(&mut s, pod(&format!("web-{n}"), "Running"));
            }
            // The rows shown, how many the view says there are, and every key held.
            let names = |s: &State| -> (Vec<String>, usize, Vec<(String, String)>) {
                let r = rows::<pods::Pods>(s, &entry);
                let shown = r.all().iter().map(|p| format!("{}/{}", p.info.namespace, p.info.name)).collect();
                (shown, r.len(), r.keys.iter().map(|k| (**k).clone()).collect())
            };
            names(&s);
            let built = s.row_cache.built();
            // Frames in which rows changed in a way the log cannot patch: one build each.
            let mut unpatchable = 0;
            let mut bulk = 0;
            for ops in frames {
                unpatchable += u64::from(ops.iter().any(|o| matches!(o, Op::Namespace | Op::Bulk)));
                for op in ops {
                    let ns = |i: u8| ["a", "b", "ns"][i as usize];
                    match op {
                        Op::Create { ns: n, name, running } => {
                            let mut p = pod(&format!("web-{name}"), if running { "Running" } else { "Pending" });
                            if let crate::app::Update::PodApplied { pod } = &mut p.update {
                                pod.namespace = ns(n).into();
                            }
                            fold(&mut s, p);
                        }
                        Op::Delete { ns: n, name } => fold(&mut s, gone(&format!("web-{name}"), ns(n))),
                        Op::Namespace => fold(
                            &mut s,
                            crate::app::Stamped {
                                at: 1,
                                update: crate::app::Update::NamespaceApplied {
                                    namespace: crate::model::NamespaceInfo {
                                        name: "a".into(),
                                        phase: "Active".into(),
                                        labels: Default::default(),
                                        annotations: Default::default(),
                                        created: None,
                                    },
                                },
                            },
                        ),
                        Op::Bulk => {
                            for _ in 0..300 {
                                bulk += 1;
                                fold(&mut s, pod(&format!("bulk-{bulk:05}"), "Running"));
                            }
                        }
                    }
                }
                let patched = names(&s);
                // A copy of the state starts with an empty cache: it builds everything.
                let fresh = s.clone();
                prop_assert_eq!(&patched, &names(&fresh), "{:?}", filter);
                prop_assert_eq!(patched.0.len(), patched.1);
            }
            // Keys are built again exactly in the frames the log could not cover; identity
            // orders only then too.
            prop_assert_eq!(s.row_cache.built().0 - built.0, unpatchable, "keys built");
            if identity {
                prop_assert_eq!(s.row_cache.built().1 - built.1, unpatchable, "order built");
            }
        }

        /// The in-place comparison says what lower-casing a copy says.
        #[test]
        fn contains_ci_agrees_with_lowercasing(hay in "[a-cA-C0-9./-]{0,24}|\\PC{0,8}", needle in "[a-cA-C-]{0,4}|\\PC{0,3}") {
            let lower = needle.to_lowercase();
            prop_assert_eq!(contains_ci(&hay, &lower), hay.to_lowercase().contains(&lower));
        }
    }

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

    /// The general sort: what `by_rank` must agree with.
    fn by_cmp(keyed: &[(SortKey<'_>, u32)], reverse: bool) -> Vec<u32> {
        let mut k = keyed.to_vec();
        k.sort_by(|a, b| a.0.cmp(&b.0, reverse));
        k.into_iter().map(|(_, i)| i).collect()
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::MIN_POSITIVE),
            Just(1.0),
            Just(1.0 + f64::EPSILON),
            any::<f64>(),
            (-3i32..3).prop_map(f64::from),
        ]
    }

    proptest! {
        #[test]
        fn numbers_sort_by_rank_as_by_cmp(
            keys in proptest::collection::vec(proptest::option::weighted(0.8, float()), 0..60),
            reverse: bool,
        ) {
            let keyed: Vec<_> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.map_or(SortKey::Missing, SortKey::Num), i as u32))
                .collect();
            prop_assert_eq!(by_rank(&keyed, reverse), Some(by_cmp(&keyed, reverse)));
        }

        #[test]
        fn integers_sort_by_rank_as_by_cmp(
            keys in proptest::collection::vec(proptest::option::weighted(0.8, prop_oneof![0u128..4, any::<u64>().prop_map(u128::from)]), 0..60),
            reverse: bool,
        ) {
            let keyed: Vec<_> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.map_or(SortKey::Missing, SortKey::Int), i as u32))
                .collect();
            prop_assert_eq!(by_rank(&keyed, reverse), Some(by_cmp(&keyed, reverse)));
        }
    }

    #[test]
    fn text_huge_integers_and_mixed_columns_take_the_general_sort() {
        let text = [(SortKey::Text("b"), 0), (SortKey::Text("a"), 1)];
        assert_eq!(by_rank(&text, false), None);
        let huge = [(SortKey::Int(u128::MAX), 0), (SortKey::Int(1), 1)];
        assert_eq!(by_rank(&huge, false), None);
        let mixed = [(SortKey::Int(2), 0), (SortKey::Num(1.5), 1)];
        assert_eq!(by_rank(&mixed, false), None);
        // Ties keep the rows' own order in both directions; Missing stays last.
        let ties = [
            (SortKey::Missing, 0),
            (SortKey::Num(1.0), 1),
            (SortKey::Num(1.0), 2),
            (SortKey::Num(3.0), 3),
        ];
        assert_eq!(by_rank(&ties, false), Some(vec![1, 2, 3, 0]));
        assert_eq!(by_rank(&ties, true), Some(vec![3, 1, 2, 0]));
    }
}

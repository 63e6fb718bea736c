//! The column registry: a column declared once is rendered, sorted, filtered and hidden on
//! a narrow terminal by the generic table code, with nothing else to write.

mod support;

use std::borrow::Cow;

use meshtop::app::state::{PodEntry, ViewEntry};
use meshtop::app::table::{self, Column, SortKey, Table, Width};
use meshtop::app::{Action, Keymap, State, View, apply_action, fold_all};
use meshtop::ui::Ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A table of pods with a column that exists nowhere else: the last octet of the pod's IP.
struct Octets;

fn octet(p: &PodEntry) -> Option<u8> {
    p.info.ip.as_deref()?.rsplit('.').next()?.parse().ok()
}

static COLUMNS: &[Column<PodEntry>] = &[
    Column {
        sort: Some(|p| SortKey::Text(&p.info.namespace)),
        ..Column::new("NS", |_, p| p.info.namespace.clone())
    },
    Column {
        sort: Some(|p| SortKey::Text(&p.info.name)),
        filter: Some((&["name"], |p| Cow::Borrowed(&p.info.name))),
        search: true,
        ..Column::new("NAME", |_, p| p.info.name.clone())
    },
    Column {
        width: Width::Fill,
        drop: 1,
        sort: Some(|p| octet(p).map_or(SortKey::Missing, |o| SortKey::Int(u128::from(o)))),
        filter: Some((&["octet"], |p| {
            Cow::Owned(octet(p).map_or(String::new(), |o| o.to_string()))
        })),
        ..Column::new("IP OCTET", |_, p| octet(p).map_or("-".into(), |o| format!("#{o}")))
    },
];

impl Table for Octets {
    type Row = PodEntry;
    type Key = (String, String);
    fn columns() -> &'static [Column<PodEntry>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &PodEntry> + '_> {
        Box::new(state.pods.values())
    }
    fn key(p: &PodEntry) -> (String, String) {
        (p.info.namespace.clone(), p.info.name.clone())
    }
    fn get<'a>(state: &'a State, key: &(String, String)) -> Option<&'a PodEntry> {
        state.pods.get(key)
    }
}

fn scenario() -> State {
    let mut s = State::new(Keymap::default());
    fold_all(&mut s, support::scenario::updates());
    s
}

fn draw<T: Table>(state: &State, entry: &ViewEntry, width: u16) -> String {
    let ui = Ui::builtin();
    let rows = table::rows::<T>(state, entry);
    let mut term = Terminal::new(TestBackend::new(width, 8)).unwrap();
    term.draw(|f| meshtop::ui::table::draw::<T>(state, ui.theme(state), f, f.area(), &rows, entry, "octets", None))
        .unwrap();
    let buf = term.backend().buffer().clone();
    (0..8)
        .map(|y| {
            (0..width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
                + "\n"
        })
        .collect()
}

#[test]
fn a_column_declared_once_is_rendered_sorted_filtered_and_dropped() {
    let s = scenario();
    let mut entry = ViewEntry::new(View::Pods);
    // Rendered: header and cells, in the rows' own order (by namespace and name).
    let wide = draw::<Octets>(&s, &entry, 70);
    assert!(wide.contains("NS↑") && wide.contains("IP OCTET"), "{wide}");
    let line = wide
        .lines()
        .find(|l| l.contains("ratings-v1-6f5c-z9"))
        .unwrap_or_default();
    assert!(line.trim_end_matches('│').trim_end().ends_with("#12"), "{wide}");
    // Sorted, both ways: by the octet, largest first.
    entry.sort_column = 2;
    entry.sort_reverse = true;
    let names: Vec<&str> = table::rows::<Octets>(&s, &entry)
        .all()
        .into_iter()
        .map(|p| p.info.name.as_str())
        .collect();
    assert_eq!(names[0], "toolbox", "10.77.16.31 is the highest");
    assert_eq!(names[1], "old-batch-job", "then .30");
    assert_eq!(names.last(), Some(&"istiod-7d4b9c-x1"), ".2 is the lowest");
    let octets: Vec<u8> = table::rows::<Octets>(&s, &entry)
        .all()
        .into_iter()
        .filter_map(octet)
        .collect();
    assert!(octets.windows(2).all(|w| w[0] >= w[1]), "{octets:?}");
    assert!(draw::<Octets>(&s, &entry, 70).contains("IP OCTET↓"));
    // Filtered by its field, exactly and by substring.
    entry.filter = "octet==12".into();
    let rows = table::rows::<Octets>(&s, &entry);
    assert_eq!(
        rows.all().iter().map(|p| p.info.name.as_str()).collect::<Vec<_>>(),
        ["ratings-v1-6f5c-z9"]
    );
    entry.filter = "octet=2".into();
    assert_eq!(
        table::rows::<Octets>(&s, &entry).len(),
        5,
        "2, 12, 20, 21 and 22 contain a 2"
    );
    // Dropped on a narrow terminal; the name stays.
    entry.filter.clear();
    let narrow = draw::<Octets>(&s, &entry, 45);
    assert!(!narrow.contains("OCTET") && !narrow.contains('#'), "{narrow}");
    assert!(narrow.contains("toolbox") && narrow.contains("NAME"), "{narrow}");
}

/// Every registered table: unique headers and filter names, `s` reaches every sortable
/// column, every cell and key can be computed for the scenario's rows.
#[test]
fn every_registered_table_is_well_formed() {
    fn check<T: Table>(s: &State, view: View) {
        let columns = T::columns();
        let mut headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
        headers.sort();
        headers.dedup();
        assert_eq!(headers.len(), columns.len(), "{view:?}: duplicate header");
        let mut names: Vec<&str> = columns
            .iter()
            .filter_map(|c| c.filter.map(|(n, _)| n))
            .flatten()
            .copied()
            .chain(T::extra_filters().iter().map(|(n, _)| *n))
            .collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all, "{view:?}: a filter name used twice");
        let mut at = 0;
        let mut reached = vec![0];
        loop {
            at = table::next_sortable::<T>(at);
            if at == 0 {
                break;
            }
            reached.push(at);
        }
        let sortable: Vec<usize> = (0..columns.len())
            .filter(|&i| i == 0 || columns[i].sort.is_some())
            .collect();
        assert_eq!(reached, sortable, "{view:?}: s cycles through every sortable column");
        for row in T::all(s) {
            for c in columns {
                let _ = (c.cell)(s, row);
                let _ = c.sort.map(|k| k(row));
                let _ = c.filter.map(|(_, v)| v(row));
            }
        }
    }
    let s = scenario();
    use meshtop::app::table::*;
    check::<pods::Pods>(&s, View::Pods);
    check::<workloads::Workloads>(&s, View::Workloads);
    check::<edges::Edges>(&s, View::Edges);
    check::<namespaces::Namespaces>(&s, View::Namespaces);
    check::<control_planes::ControlPlanes>(&s, View::ControlPlanes);
    check::<bench_runs::BenchRuns>(&s, View::Bench);
}

/// The pods view hides its columns by rank as the terminal narrows: METRICS first, then
/// IP, NODE, RESTARTS...; NAMESPACE and NAME never.
#[test]
fn the_pods_view_drops_columns_in_rank_order() {
    let mut s = scenario();
    apply_action(&mut s, Action::ShowPods);
    // Tall enough for every pod: widths come from the rows on screen.
    let header = |w: u16| support::render_text(&s, w, 20).lines().nth(2).unwrap_or("").to_string();
    let wide = header(260);
    for h in ["METRICS", "IP", "NODE", "RESTARTS", "P50", "AGE"] {
        assert!(wide.contains(h), "{h} at 260 columns: {wide}");
    }
    let mid = header(150);
    assert!(
        !mid.contains("METRICS") && !mid.contains(" IP ") && !mid.contains("NODE"),
        "{mid}"
    );
    assert!(mid.contains("P99") && mid.contains("NAME"), "{mid}");
    let small = header(60);
    assert!(small.contains("NAMESPACE") && small.contains("NAME"), "{small}");
    assert!(!small.contains("P99") && !small.contains("PROXY"), "{small}");
}

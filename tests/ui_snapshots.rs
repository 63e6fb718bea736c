//! Snapshot tests: drive the fold with updates and keys, render to a TestBackend.
//! Re-bless with `INSTA_UPDATE=always cargo test --test ui_snapshots` (or cargo insta review).

use meshtop::app::{Action, Keymap, Stamped, State, Update, apply_action, fold};
use meshtop::model::{ClusterInfo, ErrorKind, NamespaceInfo, PodInfo, Resource};
use meshtop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

const T0: i64 = 1_790_000_000_000;

fn pod(
    ns: &str,
    name: &str,
    phase: &str,
    ready: u32,
    containers: u32,
    ip: &str,
    age_s: i64,
) -> PodInfo {
    PodInfo {
        namespace: ns.into(),
        name: name.into(),
        phase: phase.into(),
        ready,
        containers,
        restarts: if name.contains("flaky") { 7 } else { 0 },
        node: Some("kwok-node-0".into()),
        ip: Some(ip.into()),
        created: Some(T0 - age_s * 1000),
        ..Default::default()
    }
}

fn ns(name: &str) -> NamespaceInfo {
    NamespaceInfo {
        name: name.into(),
        phase: "Active".into(),
        labels: vec![],
        created: Some(T0 - 86_400_000 * 3),
    }
}

fn state_with(theme: &str) -> State {
    let themes = Theme::all_builtin();
    let index = themes.iter().position(|t| t.name == theme).unwrap();
    let mut s = State::new(themes, index, Keymap::default());
    let updates = vec![
        Update::Connected {
            cluster: ClusterInfo {
                context: "testbed".into(),
                cluster: "meshtop-testbed".into(),
                server: "https://127.0.0.1:16443".into(),
                version: "v1.34.4".into(),
            },
        },
        Update::ApiLatency { millis: 3 },
        Update::ListStarted {
            resource: Resource::Namespaces,
        },
        Update::NamespaceApplied {
            namespace: ns("bookinfo"),
        },
        Update::NamespaceApplied {
            namespace: ns("emojivoto"),
        },
        Update::NamespaceApplied {
            namespace: ns("default"),
        },
        Update::ListDone {
            resource: Resource::Namespaces,
        },
        Update::ListStarted {
            resource: Resource::Pods,
        },
        Update::PodApplied {
            pod: pod(
                "bookinfo",
                "productpage-v1-6b746f74dc-9rlmh",
                "Running",
                2,
                2,
                "10.77.0.12",
                300,
            ),
        },
        Update::PodApplied {
            pod: pod(
                "bookinfo",
                "reviews-v2-flaky-5b9d8f7c4-x2x7q",
                "Running",
                1,
                2,
                "10.77.0.13",
                7300,
            ),
        },
        Update::PodApplied {
            pod: pod(
                "emojivoto",
                "web-5f86686c4d-58p7k",
                "Running",
                2,
                2,
                "10.77.1.4",
                45,
            ),
        },
        Update::PodApplied {
            pod: pod(
                "emojivoto",
                "vote-bot-7d8f4b4b5c-jq2ht",
                "Pending",
                0,
                2,
                "10.77.1.5",
                5,
            ),
        },
        Update::ListDone {
            resource: Resource::Pods,
        },
    ];
    for u in updates {
        fold(&mut s, Stamped { at: T0, update: u });
    }
    s
}

fn render(state: &State, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| meshtop::ui::render(state, f)).unwrap();
    buffer_text(term.backend().buffer())
}

fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Colour of the selected row's first cell, so theme differences are part of the snapshot.
fn selected_colours(state: &State) -> String {
    let mut term = Terminal::new(TestBackend::new(100, 20)).unwrap();
    term.draw(|f| meshtop::ui::render(state, f)).unwrap();
    let buf = term.backend().buffer();
    // Header line, breadcrumb line... the first data row is at y = 4 (header, border, column header).
    let cell = &buf[(2, 3)];
    format!("selected fg={:?} bg={:?}", cell.fg, cell.bg)
}

#[test]
fn pods_view_dark_and_light() {
    for theme in ["dark", "light"] {
        let s = state_with(theme);
        insta::assert_snapshot!(
            format!("pods_{theme}"),
            format!("{}\n{}", render(&s, 120, 12), selected_colours(&s))
        );
    }
}

#[test]
fn namespaces_view_via_command_mode() {
    let mut s = state_with("dark");
    for c in ":n".chars() {
        apply_action(
            &mut s,
            if c == ':' {
                Action::StartCommand
            } else {
                Action::InputChar(c)
            },
        );
    }
    // Completion hint is visible while typing.
    insta::assert_snapshot!("command_prompt", render(&s, 100, 10));
    apply_action(&mut s, Action::InputComplete);
    assert_eq!(s.input, "namespaces");
    apply_action(&mut s, Action::InputSubmit);
    insta::assert_snapshot!("namespaces_dark", render(&s, 100, 10));
    apply_action(&mut s, Action::Back);
    assert_eq!(s.entry().view, meshtop::app::View::Pods);
}

#[test]
fn filter_and_sort() {
    let mut s = state_with("dark");
    apply_action(&mut s, Action::StartFilter);
    for c in "ns=emojivoto".chars() {
        apply_action(&mut s, Action::InputChar(c));
    }
    apply_action(&mut s, Action::InputSubmit);
    apply_action(&mut s, Action::SortNext);
    apply_action(&mut s, Action::SortNext);
    insta::assert_snapshot!("pods_filtered_sorted_by_phase", render(&s, 120, 9));
    apply_action(&mut s, Action::Back);
    assert_eq!(s.entry().filter, "");
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut s = state_with("dark");
    apply_action(&mut s, Action::ToggleHelp);
    insta::assert_snapshot!("help", render(&s, 80, 36));
}

#[test]
fn errors_and_empty_tables_say_why() {
    let themes = Theme::all_builtin();
    let mut s = State::new(themes, 0, Keymap::default());
    fold(
        &mut s,
        Stamped {
            at: T0,
            update: Update::SourceError {
                resource: Resource::Pods,
                kind: ErrorKind::Forbidden,
                message: "pods is forbidden: User \"viewer\" cannot list resource \"pods\" at the cluster scope".into(),
            },
        },
    );
    insta::assert_snapshot!("forbidden_pods", render(&s, 140, 7));
}

#[test]
fn only_visible_rows_are_built_and_selection_scrolls() {
    let themes = Theme::all_builtin();
    let mut s = State::new(themes, 0, Keymap::default());
    for i in 0..10_000 {
        let p = pod(
            &format!("ns-{:03}", i % 200),
            &format!("pod-{i:05}"),
            "Running",
            1,
            1,
            "10.77.0.1",
            60,
        );
        fold(
            &mut s,
            Stamped {
                at: T0,
                update: Update::PodApplied { pod: p },
            },
        );
    }
    let _ = render(&s, 100, 12);
    apply_action(&mut s, Action::Bottom);
    let screen = render(&s, 100, 12);
    assert_eq!(s.entry().selected, 9_999);
    // Last pod in (namespace, name) order is ns-199/pod-09999; it is on screen and selected.
    assert!(
        screen.contains("ns-199") && screen.contains("pod-09999"),
        "{screen}"
    );
    assert_eq!(s.scroll.get(), 10_000 - s.last_page.get());
}

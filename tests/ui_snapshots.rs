//! Snapshot tests: drive the fold with a fixed scenario and keys, render to a TestBackend.
//! Re-bless with `INSTA_UPDATE=always cargo test --test ui_snapshots`.

mod support;

use meshtop::app::table::{self, Table, pods::Pods, workloads::Workloads};
use meshtop::app::{Action, Keymap, Stamped, State, Update, View, apply_action, fold};
use meshtop::model::{ErrorKind, PodInfo, Resource};
use meshtop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use support::scenario::{self, T0};

fn state_with(theme: &str) -> State {
    let themes = Theme::all_builtin();
    let index = themes.iter().position(|t| t.name == theme).unwrap();
    let mut s = State::new(Keymap::default()).with_themes(themes.len(), index);
    s.contexts = vec!["meshtop-testbed".into(), "prod-eu".into()];
    for u in scenario::updates() {
        fold(&mut s, u);
    }
    s
}

fn render(state: &State, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| meshtop::ui::Ui::builtin().render(state, f)).unwrap();
    buffer_text(term.backend().buffer())
}

fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The colours of a cell, so theme differences are part of the snapshot.
fn colours_at(state: &State, w: u16, h: u16, x: u16, y: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| meshtop::ui::Ui::builtin().render(state, f)).unwrap();
    let cell = &term.backend().buffer()[(x, y)];
    format!("cell ({x},{y}) fg={:?} bg={:?}", cell.fg, cell.bg)
}

fn keys(s: &mut State, actions: &[Action]) {
    for a in actions {
        apply_action(s, a.clone());
    }
}

fn typed(text: &str) -> Vec<Action> {
    text.chars().map(Action::InputChar).collect()
}

#[test]
fn every_view_in_dark_and_light() {
    for theme in ["dark", "light"] {
        let mut s = state_with(theme);
        assert_eq!(s.entry().view, View::Overview);
        insta::assert_snapshot!(format!("overview_{theme}"), render(&s, 140, 26));
        keys(&mut s, &[Action::ShowControlPlanes]);
        insta::assert_snapshot!(
            format!("control_planes_{theme}"),
            format!("{}{}", render(&s, 140, 10), colours_at(&s, 140, 10, 3, 3))
        );
        keys(&mut s, &[Action::ShowNamespaces]);
        insta::assert_snapshot!(format!("namespaces_{theme}"), render(&s, 140, 14));
        keys(&mut s, &[Action::ShowPods]);
        insta::assert_snapshot!(
            format!("pods_{theme}"),
            format!("{}{}", render(&s, 180, 16), colours_at(&s, 180, 16, 3, 3))
        );
        // productpage is the 5th pod in (namespace, name) order.
        keys(&mut s, &[Action::StartFilter]);
        keys(&mut s, &typed("productpage"));
        keys(&mut s, &[Action::InputSubmit, Action::Select]);
        insta::assert_snapshot!(format!("pod_detail_{theme}"), render(&s, 140, 36));
    }
}

#[test]
fn workloads_and_edges_views_with_window_switching() {
    let mut s = state_with("dark");
    keys(&mut s, &[Action::ShowWorkloads]);
    assert_eq!(s.entry().view, View::Workloads);
    insta::assert_snapshot!("workloads_dark", render(&s, 170, 16));
    // Sort by RPS, busiest first.
    let rps = Workloads::columns().iter().position(|c| c.header == "RPS").unwrap();
    while s.entry().sort_column != rps {
        keys(&mut s, &[Action::SortNext]);
    }
    keys(&mut s, &[Action::SortReverse]);
    let rows = table::rows::<Workloads>(&s, s.entry());
    assert_eq!(rows.get(0).unwrap().name, "productpage-v1-5d7f-q2");
    // enter opens that workload's pods.
    keys(&mut s, &[Action::Top, Action::Select]);
    assert_eq!(
        (s.entry().view.clone(), s.entry().filter.as_str()),
        (View::Pods, "ns==bookinfo workload==productpage-v1-5d7f-q2")
    );
    assert_eq!(table::rows::<Pods>(&s, s.entry()).len(), 1);

    keys(&mut s, &[Action::ShowEdges]);
    insta::assert_snapshot!("edges_dark", render(&s, 120, 8));
    let edges: Vec<_> = s.edges.values().collect();
    // 600 calls in 10 s, 580 not failed; p99 is rank 594 in (25, 50]: 25 + 25 * 94 / 100.
    assert_eq!(edges.len(), 1);
    assert_eq!(
        (edges[0].source.as_str(), edges[0].destination.as_str()),
        ("bookinfo/productpage-v1-5d7f-q2", "reviews.bookinfo.svc.cluster.local")
    );
    assert_eq!(
        (edges[0].rates.rps, edges[0].rates.success),
        (60.0, Some(580.0 / 600.0))
    );
    assert_eq!(edges[0].rates.p99_ms, Some(25.0 + 25.0 * 94.0 / 100.0));

    // w cycles 1m → 5m → 30s; `:window 30s` sets it directly; a bad value says what is allowed.
    assert_eq!(s.window_s, 60);
    assert_eq!(
        meshtop::app::apply_action(&mut s, Action::NextWindow),
        Some(meshtop::app::Effect::SetWindow(300))
    );
    keys(&mut s, &[Action::StartCommand]);
    keys(&mut s, &typed("window 30s"));
    assert_eq!(
        meshtop::app::apply_action(&mut s, Action::InputSubmit),
        Some(meshtop::app::Effect::SetWindow(30))
    );
    assert_eq!(s.window_s, 30);
    keys(&mut s, &[Action::StartCommand]);
    keys(&mut s, &typed("window 2m"));
    keys(&mut s, &[Action::InputSubmit]);
    assert_eq!(s.flash.as_deref(), Some("window \"2m\": choose 30s, 1m or 5m"));
    assert_eq!(s.window_s, 30);
}

#[test]
fn presentation_theme_overview() {
    let s = state_with("presentation");
    insta::assert_snapshot!(
        "overview_presentation",
        format!("{}{}", render(&s, 100, 30), colours_at(&s, 100, 30, 0, 0))
    );
}

#[test]
fn command_mode_completes_and_navigates() {
    let mut s = state_with("dark");
    keys(&mut s, &[Action::StartCommand]);
    keys(&mut s, &typed("n"));
    insta::assert_snapshot!("command_prompt", render(&s, 100, 6));
    keys(&mut s, &[Action::InputComplete]);
    assert_eq!(s.input, "namespaces");
    keys(&mut s, &[Action::InputSubmit]);
    assert_eq!(s.entry().view, View::Namespaces);
    // :ctx completion offers kubeconfig contexts; switching is an effect for the main loop.
    keys(&mut s, &[Action::StartCommand]);
    keys(&mut s, &typed("ctx pr"));
    keys(&mut s, &[Action::InputComplete]);
    assert_eq!(s.input, "ctx prod-eu");
    assert_eq!(
        apply_action(&mut s, Action::InputSubmit),
        Some(meshtop::app::Effect::SwitchContext("prod-eu".into()))
    );
    keys(&mut s, &[Action::StartCommand]);
    keys(&mut s, &typed("ctx nope"));
    keys(&mut s, &[Action::InputSubmit]);
    assert_eq!(s.flash.as_deref(), Some("no context named \"nope\" in the kubeconfig"));
    // Breadcrumbs: esc goes back to the overview.
    keys(&mut s, &[Action::Back]);
    assert_eq!(s.entry().view, View::Overview);
}

#[test]
fn field_filters_and_drill_down() {
    let mut s = state_with("dark");
    keys(&mut s, &[Action::ShowPods, Action::StartFilter]);
    keys(&mut s, &typed("mesh=linkerd model==sidecar"));
    keys(&mut s, &[Action::InputSubmit, Action::SortNext, Action::SortNext]);
    insta::assert_snapshot!("pods_filtered_mesh_linkerd", render(&s, 180, 9));
    // From namespaces, enter shows that namespace's pods.
    keys(&mut s, &[Action::ShowNamespaces, Action::StartFilter]);
    keys(&mut s, &typed("legacy"));
    keys(&mut s, &[Action::InputSubmit, Action::Select]);
    assert_eq!(s.entry().view, View::Pods);
    assert_eq!(s.entry().filter, "ns==legacy");
    let screen = render(&s, 180, 8);
    assert!(screen.contains("old-batch-job") && screen.contains("none!"), "{screen}");
    keys(&mut s, &[Action::Select]);
    let detail = render(&s, 140, 24);
    assert!(
        detail.contains("! namespace has istio-injection=enabled but the pod has no istio sidecar"),
        "{detail}"
    );
    // A scrape with a line over a limit: the pod's detail says what was not read, and why.
    keys(
        &mut s,
        &[Action::Back, Action::Back, Action::ShowPods, Action::StartFilter],
    );
    keys(&mut s, &typed("productpage"));
    keys(&mut s, &[Action::InputSubmit, Action::Select]);
    let detail = render(&s, 140, 30);
    assert!(
        detail.contains("not read        1 line of its last scrape: line 4812: a label value longer than 16 KiB"),
        "{detail}"
    );
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut s = state_with("dark");
    keys(&mut s, &[Action::ToggleHelp]);
    insta::assert_snapshot!("help", render(&s, 80, 44));
    // Taller than the terminal: it scrolls to the commands, and another key closes it.
    keys(&mut s, &[Action::Bottom]);
    let end = render(&s, 80, 44);
    assert!(end.contains("COMMANDS") && end.contains(":quit :q"), "{end}");
    assert!(s.show_help);
    keys(&mut s, &[Action::ShowPods]);
    assert!(
        !s.show_help && s.entry().view == View::Overview,
        "the key closed help and did nothing else"
    );
    // In the bench view, its own key comes first.
    keys(&mut s, &[Action::ShowBench, Action::ToggleHelp]);
    let bench = render(&s, 100, 12);
    assert!(
        bench.contains("BENCH VIEW") && bench.contains("stop the selected (or running) run"),
        "{bench}"
    );
}

/// A pod with no CPU/memory says why in its detail: its own namespace's metrics.k8s.io
/// error first (each named namespace is read on its own), else the source's.
#[test]
fn a_pod_without_usage_says_why_in_its_detail() {
    let mut s = state_with("dark");
    keys(&mut s, &[Action::ShowPods, Action::StartFilter]);
    keys(&mut s, &typed("productpage"));
    keys(&mut s, &[Action::InputSubmit, Action::Select]);
    let key = s
        .pods
        .keys()
        .find(|(_, p)| p.starts_with("productpage"))
        .cloned()
        .unwrap();
    assert!(
        !render(&s, 200, 60).contains("cpu/memory"),
        "a measured pod says nothing"
    );
    s.usage.remove(&key);
    let forbidden = Update::SourceError {
        resource: Resource::PodMetrics,
        namespace: Some(key.0.clone()),
        kind: ErrorKind::Forbidden,
        message: format!(
            "pods.metrics.k8s.io is forbidden: User \"viewer\" cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"{}\" (403)",
            key.0
        ),
    };
    fold(
        &mut s,
        Stamped {
            at: T0 + 1_000,
            update: forbidden,
        },
    );
    let detail = render(&s, 200, 60);
    assert!(
        detail.contains(&format!(
            "cpu/memory      not measured: pods.metrics.k8s.io is forbidden: User \"viewer\" cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"{}\" (403)",
            key.0
        )),
        "{detail}"
    );
}

#[test]
fn forbidden_and_unreachable_say_why() {
    let s = state_with("dark");
    let screen = render(&s, 200, 6);
    assert!(
        screen.contains("pods in secret-team forbidden: pods is forbidden: User \"viewer\" cannot list resource"),
        "{screen}"
    );
    let mut empty = State::new(Keymap::default());
    fold(
        &mut empty,
        Stamped {
            at: T0,
            update: Update::SourceError {
                resource: Resource::Cluster,
                namespace: None,
                kind: ErrorKind::Unreachable,
                message: "https://10.0.0.1:6443/: Connection refused (os error 111)".into(),
            },
        },
    );
    insta::assert_snapshot!("unreachable", render(&empty, 140, 7));

    // Connected, then the API server stops answering: the status line says meshtop is
    // reconnecting and since when the API last answered (not when the error was noticed).
    let mut lost = state_with("dark");
    let answered = lost.api_answered_at.expect("the scenario measured the API");
    let error = Update::SourceError {
        resource: Resource::Cluster,
        namespace: None,
        kind: ErrorKind::Unreachable,
        message: "https://127.0.0.1:26443/ did not answer /version within 10s".into(),
    };
    fold(
        &mut lost,
        Stamped {
            at: answered + 15_000,
            update: error,
        },
    );
    fold(
        &mut lost,
        Stamped {
            at: answered + 42_000,
            update: Update::Tick,
        },
    );
    let screen = render(&lost, 220, 6);
    let status = screen.lines().find(|l| l.contains("ctx ")).unwrap_or_default();
    assert!(
        status.contains(&format!(
            "· reconnecting: no answer since {} (42s ago): https://127.0.0.1:26443/ did not answer /version within 10s ",
            &meshtop::app::format::clock(answered)[..8]
        )),
        "{screen}"
    );

    // More proxies than the scrape budget: the status line says what was done about it,
    // and says nothing once they fit again.
    let mut over = state_with("dark");
    let load_silent = |proxies, prometheus: Option<&str>, silent| Stamped {
        at: answered + 1_000,
        update: Update::ScrapeLoad(meshtop::app::state::ScrapeLoad {
            proxies,
            budget: 1_000,
            prometheus: prometheus.map(Into::into),
            round_s: 15,
            silent,
        }),
    };
    let load = |proxies, prometheus| load_silent(proxies, prometheus, 0);
    let status = |s: &State| {
        let screen = render(s, 400, 6);
        screen
            .lines()
            .find(|l| l.contains("ctx "))
            .unwrap_or_default()
            .to_string()
    };
    fold(&mut over, load(3_000, None));
    assert!(
        status(&over).contains("· 3000 proxies > scrape budget 1000, no Prometheus: each scraped every 15s "),
        "{}",
        status(&over)
    );
    fold(
        &mut over,
        load(3_000, Some("istio-system/prometheus:9090 (via the API server)")),
    );
    assert!(
        status(&over).contains("· 3000 proxies > scrape budget 1000: Prometheus instead "),
        "{}",
        status(&over)
    );
    // Proxies that do not answer sit out: the status line says how many, and what the others get.
    fold(&mut over, load_silent(3_000, None, 2_000));
    assert!(
        status(&over).contains(
            "· 3000 proxies > scrape budget 1000, no Prometheus: 1000 scraped every 15s, 2000 silent retried slower "
        ),
        "{}",
        status(&over)
    );
    fold(&mut over, load_silent(3_000, None, 3_000));
    assert!(
        status(&over).contains("· 3000 proxies > scrape budget 1000, no Prometheus: none answers, retried slower "),
        "{}",
        status(&over)
    );
    fold(&mut over, load(900, None));
    assert!(!status(&over).contains("budget"), "{}", status(&over));

    // Thirty proxies that answer no scrape, then a source panics: the crash is named first,
    // ahead of the errors of one namespace or pod (the scenario's forbidden namespace, then
    // the proxies), whatever their order in the map.
    let mut crashed = state_with("dark");
    for i in 0..30 {
        fold(
            &mut crashed,
            Stamped {
                at: answered + 1_000,
                update: Update::SourceError {
                    resource: Resource::ProxyScrape,
                    namespace: Some(format!("scale/cart-{i:02}")),
                    kind: ErrorKind::Api,
                    message: "503 Service Unavailable".into(),
                },
            },
        );
    }
    fold(
        &mut crashed,
        Stamped {
            at: answered + 2_000,
            update: Update::SourceError {
                resource: Resource::Tap,
                namespace: None,
                kind: ErrorKind::Crashed,
                message: "injected fault (MESHTOP_FAULT_PANIC); restarting in 1 s".into(),
            },
        },
    );
    let line = status(&crashed);
    let after_cluster = line.split(" ctx ").nth(1).unwrap_or_default();
    assert!(
        after_cluster.contains(
            "· tap crashed: injected fault (MESHTOP_FAULT_PANIC); restarting in 1 s \
             · pods in secret-team forbidden: "
        ),
        "{line}"
    );
    assert!(line.contains("· 32 source errors in all "), "{line}");
}

#[test]
fn only_visible_rows_are_built_and_selection_scrolls() {
    let mut s = State::new(Keymap::default());
    let pods = (0..10_000).map(|i| Stamped {
        at: T0,
        update: Update::PodApplied {
            pod: PodInfo {
                namespace: format!("ns-{:03}", i % 200),
                name: format!("pod-{i:05}"),
                phase: "Running".into(),
                created: Some(T0),
                ..Default::default()
            },
        },
    });
    meshtop::app::fold_all(&mut s, pods);
    keys(&mut s, &[Action::ShowPods]);
    let _ = render(&s, 220, 12);
    keys(&mut s, &[Action::Bottom]);
    let screen = render(&s, 220, 12);
    assert_eq!(s.entry().selected, 9_999);
    // Last pod in (namespace, name) order is ns-199/pod-09999; it is on screen and selected.
    assert!(screen.contains("ns-199") && screen.contains("pod-09999"), "{screen}");
    assert_eq!(s.scroll.get(), 10_000 - s.last_page.get());
}

/// `--allow-writes` is said on the status line for as long as the session runs, also
/// across a context switch; without it nothing is said.
#[test]
fn allowed_writes_are_said_on_the_status_line() {
    let mut s = state_with("dark");
    let status = |s: &State| render(s, 120, 30).lines().last().unwrap().to_string();
    assert!(!status(&s).contains("writes"), "{}", status(&s));
    s.writes = meshtop::model::access::Writes::Allowed;
    assert!(
        status(&s).starts_with(" writes allowed  ctx meshtop-testbed "),
        "{}",
        status(&s)
    );
    s.reset_world();
    assert!(status(&s).starts_with(" writes allowed "), "{}", status(&s));
}

#[test]
fn a_context_switch_forgets_the_cluster_and_keeps_the_ui() {
    let mut s = state_with("light");
    keys(&mut s, &[Action::ShowPods, Action::StartFilter]);
    keys(&mut s, &typed("web"));
    keys(&mut s, &[Action::InputSubmit]);
    s.reset_world();
    assert!(s.pods.is_empty() && s.namespaces.is_empty() && s.control_planes.is_empty() && s.usage.is_empty());
    assert!(s.traffic.is_empty() && s.errors.is_empty() && s.cluster.is_none() && s.synced.is_empty());
    assert_eq!((s.entry().view.clone(), s.entry().filter.as_str()), (View::Pods, "web"));
    assert_eq!((s.theme, s.contexts.len(), s.now), (1, 2, T0));
}

/// NO_COLOR: not one coloured cell, and every colour-coded figure still reads as text:
/// the selection in reverse video, a missing proxy as `none!`, a degraded control plane as
/// DEGRADED, the proxy's part of the charts shaded.
#[test]
fn no_color_draws_without_colour_and_keeps_the_meaning() {
    use meshtop::ui::Ui;
    use meshtop::ui::theme::Colors;
    use ratatui::style::{Color, Modifier};
    let ui = Ui::new(Theme::all_builtin(), Colors::None);
    let draw = |s: &State, w: u16, h: u16| {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| ui.render(s, f)).unwrap();
        term.backend().buffer().clone()
    };
    let mut s = state_with("dark");
    for view in [Action::ShowOverview, Action::ShowControlPlanes, Action::ShowPods] {
        keys(&mut s, std::slice::from_ref(&view));
        let buf = draw(&s, 180, 16);
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                let c = &buf[(x, y)];
                assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "({x},{y}) {:?}", c.symbol());
            }
        }
        let text = buffer_text(&buf);
        match view {
            Action::ShowControlPlanes => assert!(text.contains("DEGRADED"), "{text}"),
            Action::ShowPods => {
                assert!(text.contains("none!"), "{text}");
                // The selected row (the first) is in reverse video.
                assert!(buf[(3, 3)].modifier.contains(Modifier::REVERSED));
                assert!(!buf[(3, 4)].modifier.contains(Modifier::REVERSED));
            }
            _ => {}
        }
    }
    keys(&mut s, &[Action::StartFilter]);
    keys(&mut s, &typed("productpage"));
    keys(&mut s, &[Action::InputSubmit, Action::Select]);
    let detail = buffer_text(&draw(&s, 140, 40));
    assert!(detail.contains("█ app ▒ proxy"), "{detail}");
}

/// Tap events and sources as sources emit them (and a recording keeps them).
fn tap_updates() -> Vec<Stamped> {
    use meshtop::model::tap::{Direction, TapEvent, TapOrigin, TapSourceState, TapSourceStatus};
    let source = |name: &str, origin, state, f: &dyn Fn(&mut TapSourceStatus)| {
        let mut s = TapSourceStatus::new(origin, name, state);
        f(&mut s);
        Stamped {
            at: T0 + 50_000,
            update: Update::TapSource {
                name: name.into(),
                status: s,
            },
        }
    };
    let ev = |ms: i64,
              origin,
              dir,
              src: &str,
              dst: &str,
              method: Option<&str>,
              path: &str,
              status: Option<u16>,
              lat: f64| {
        let mut e = TapEvent::new(T0 + ms, origin, src.into(), dst.into());
        e.direction = dir;
        e.method = method.map(str::to_string);
        e.authority = Some(
            if dst.starts_with("emojivoto") {
                "web-svc.emojivoto:80"
            } else {
                "reviews:9080"
            }
            .into(),
        );
        e.path = (!path.is_empty()).then(|| path.to_string());
        e.status = status;
        e.duration_ms = Some(lat);
        e.bytes_sent = Some(512);
        e.reporter = Some(dst.into());
        e
    };
    let inbound = Some(Direction::Inbound);
    let mut tcp = ev(
        50_900,
        TapOrigin::Logs,
        Some(Direction::Outbound),
        "bookinfo/reviews-v2-8c9d-k7",
        "mysql.db:3306",
        None,
        "",
        None,
        3000.0,
    );
    tcp.bytes_received = Some(1200);
    tcp.bytes_sent = Some(5600);
    tcp.authority = None;
    let mut failed = ev(
        50_950,
        TapOrigin::Logs,
        inbound,
        "10.1.0.4",
        "bookinfo/reviews-v2-8c9d-k7",
        Some("GET"),
        "/reviews/7",
        Some(503),
        1500.0,
    );
    failed.response_flags = Some("UF,URX".into());
    failed.upstream_cluster = Some("inbound|9080||".into());
    failed.details = vec![
        ("user agent".into(), "Mozilla/5.0 (X11; Linux x86_64)".into()),
        ("request id".into(), "84961386-6d84".into()),
    ];
    vec![
        source(
            "deploy/web in emojivoto",
            TapOrigin::Linkerd,
            TapSourceState::Streaming,
            &|_| {},
        ),
        source("ns/bookinfo", TapOrigin::Logs, TapSourceState::Streaming, &|s| {
            s.message = Some("following the istio-proxy container of 2 pods".into());
            s.lines = 40;
            s.unparsed = 2;
            s.last_unparsed = Some("no [START_TIME] or JSON object: 2026-11-30T09:00:00Z warning envoy".into());
        }),
        source(
            "pod/details-v1 in bookinfo",
            TapOrigin::Logs,
            TapSourceState::Streaming,
            &|s| {
                s.lines = 3;
                s.unparsed = 3;
                s.hint =
                    Some("no access-log entries yet: access logs may be off. Istio: apply a Telemetry resource".into());
            },
        ),
        Stamped {
            at: T0 + 51_000,
            update: Update::TapEvents {
                events: vec![
                    ev(
                        50_100,
                        TapOrigin::Linkerd,
                        inbound,
                        "emojivoto/vote-bot-7d8f-jq2ht",
                        "emojivoto/web-5f86-58p7k",
                        Some("POST"),
                        "/api/vote?choice=:doughnut:",
                        Some(200),
                        2.4,
                    ),
                    ev(
                        50_200,
                        TapOrigin::Linkerd,
                        inbound,
                        "emojivoto/vote-bot-7d8f-jq2ht",
                        "emojivoto/web-5f86-58p7k",
                        Some("POST"),
                        "/api/vote?choice=:poop:",
                        Some(500),
                        11.0,
                    ),
                    ev(
                        50_300,
                        TapOrigin::Linkerd,
                        inbound,
                        "emojivoto/vote-bot-7d8f-jq2ht",
                        "emojivoto/web-5f86-58p7k",
                        Some("GET"),
                        "/api/list",
                        Some(200),
                        1.1,
                    ),
                    ev(
                        50_400,
                        TapOrigin::Linkerd,
                        inbound,
                        "emojivoto/vote-bot-7d8f-jq2ht",
                        "emojivoto/web-5f86-58p7k",
                        Some("POST"),
                        "/api/vote?choice=:doughnut:",
                        Some(200),
                        3.6,
                    ),
                    ev(
                        50_500,
                        TapOrigin::Logs,
                        inbound,
                        "10.1.0.4",
                        "bookinfo/reviews-v2-8c9d-k7",
                        Some("GET"),
                        "/reviews/0",
                        Some(200),
                        22.0,
                    ),
                    ev(
                        50_600,
                        TapOrigin::Logs,
                        inbound,
                        "10.1.0.4",
                        "bookinfo/reviews-v2-8c9d-k7",
                        Some("GET"),
                        "/reviews/1",
                        Some(200),
                        180.0,
                    ),
                    tcp,
                    failed,
                ],
            },
        },
    ]
}

#[test]
fn tap_stream_summary_filters_and_details() {
    let mut s = state_with("dark");
    // `:tap` without -n means the context's namespace (the scenario's context names `shop`),
    // as kubectl and `meshtop tap` take it; -n still wins.
    for (typed_in, namespace) in [("tap deploy/web", "shop"), ("tap deploy/web -n emojivoto", "emojivoto")] {
        keys(&mut s, &[Action::StartCommand]);
        keys(&mut s, &typed(typed_in));
        match apply_action(&mut s, Action::InputSubmit) {
            Some(meshtop::app::Effect::StartTap(spec)) => assert_eq!(spec.target.namespace, namespace, "{typed_in}"),
            other => panic!("{typed_in}: {other:?}"),
        }
    }
    s = state_with("dark");
    // Nothing tapped yet: the view says how to start.
    keys(&mut s, &[Action::ShowTap]);
    insta::assert_snapshot!("tap_empty", render(&s, 120, 8));
    for u in tap_updates() {
        fold(&mut s, u);
    }
    insta::assert_snapshot!("tap_stream", render(&s, 150, 16));
    // Post-filters on the response: 5xx only, then slow ones.
    keys(&mut s, &[Action::StartFilter]);
    keys(&mut s, &typed("status=5xx"));
    keys(&mut s, &[Action::InputSubmit]);
    assert_eq!(table::rows::<table::tap::Tap>(&s, s.entry()).len(), 2);
    keys(&mut s, &[Action::Back, Action::StartFilter]);
    keys(&mut s, &typed("latency>=100ms dst=reviews"));
    keys(&mut s, &[Action::InputSubmit]);
    // /reviews/1 (180 ms) and the failed one (1.5 s); the slower TCP entry goes to mysql.
    assert_eq!(table::rows::<table::tap::Tap>(&s, s.entry()).len(), 2);
    // A filter that does not parse says why and shows nothing.
    keys(&mut s, &[Action::Back, Action::StartFilter]);
    keys(&mut s, &typed("colour=red"));
    keys(&mut s, &[Action::InputSubmit]);
    insta::assert_snapshot!("tap_bad_filter", render(&s, 150, 7));
    // The failed request in full.
    keys(&mut s, &[Action::Back, Action::StartFilter]);
    keys(&mut s, &typed("status=503"));
    keys(&mut s, &[Action::InputSubmit, Action::Select]);
    assert_eq!(s.entry().view, View::TapEvent { seq: 8 });
    insta::assert_snapshot!("tap_request", render(&s, 100, 30));
    // Paused: new requests are kept, not shown, and counted in the title.
    keys(&mut s, &[Action::Back, Action::Back, Action::TapPause]);
    fold(&mut s, tap_updates().pop().unwrap());
    assert_eq!(table::rows::<table::tap::Tap>(&s, s.entry()).len(), 8);
    assert_eq!(s.tap.unseen(), 8);
    assert!(render(&s, 150, 16).contains("paused, 8 new (p resumes)"));
    keys(&mut s, &[Action::TapPause]);
    assert_eq!(table::rows::<table::tap::Tap>(&s, s.entry()).len(), 16);
    // The summary: grouped, paths normalised (/reviews/{id}), most requests first by `s`.
    keys(&mut s, &[Action::ShowTapSummary]);
    insta::assert_snapshot!("tap_summary", render(&s, 150, 14));
}

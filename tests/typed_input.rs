//! Typed input never panics: every parser of what a user types, fed near-valid input (one
//! mutation away from a valid value, huge numbers, signs, multibyte and Unicode digits,
//! stray spaces) and arbitrary text. The TUI's parsers are driven through the fold, as a
//! typing user reaches them, and the screen is drawn after every submit.

mod support;

use std::time::Duration;

use meshtop::app::{Action, Keymap, State, View, apply_action, fold_all};
use meshtop::input::{self, Bounds};
use proptest::prelude::*;

/// Characters users mistype durations, rates and names with.
const NOISE: &[char] = &[
    ' ', '\t', '-', '+', '.', ',', 'e', 'E', 'm', 's', 'h', 'd', 'µ', 'u', '٣', '٠', '৫', '１', '½', 'ß', '🚀', ':',
    '=', ';', '/', '0', '9', '\u{0}', '\u{200b}',
];

/// A valid value with up to two mutations: a character inserted, removed or replaced.
fn near(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::sample::select(valid),
        prop::collection::vec((0usize..16, prop::sample::select(NOISE), 0u8..3), 0..3),
    )
        .prop_map(|(v, edits)| {
            let mut chars: Vec<char> = v.chars().collect();
            for (at, c, op) in edits {
                let at = at.min(chars.len());
                match op {
                    0 => chars.insert(at, c),
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ if at < chars.len() => chars[at] = c,
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        })
}

/// Near-valid input, huge numbers and anything at all.
fn typed(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => near(valid),
        1 => "[0-9]{15,40}(\\.[0-9]{0,5})?(ms|s|m|h|)",
        1 => "-?[0-9]{1,3}(\\.[0-9]{1,3})?[eE][+-]?[0-9]{1,4}[a-z]{0,2}",
        2 => any::<String>(),
    ]
}

const DURATIONS: &[&str] = &[
    "1m30s", "90s", "1.5m", "250ms", " 30 ", "2h", "1h 5m", "PT1M", "0", "10",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The bench URL as typed decides the default threads: any text gives a count from one
    /// to the cores, and a loopback target never gets more than the remote one.
    #[test]
    fn default_threads_from_any_url(s in typed(&["http://127.0.0.1:8080/", "http://localhost/", "https://[::1]/",
                                                 "http://example.com:9/", "http://u:p@h/"])) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let n = meshtop::bench::config::default_threads(&s);
        prop_assert!((1..=cores).contains(&n), "{s:?} gave {n}");
        if meshtop::bench::config::target_is_local(&s) {
            prop_assert_eq!(n, (cores / 2).max(1));
        }
        prop_assert!(meshtop::bench::config::threads_note(&s).starts_with("default: "));
    }

    #[test]
    fn durations_never_panic_and_stay_in_bounds(s in typed(DURATIONS)) {
        for bounds in [Bounds::RUN, Bounds::OFFSET, Bounds::TIMEOUT] {
            match input::duration(&s, bounds) {
                Ok(d) => {
                    prop_assert!(d <= bounds.max, "{s:?} gave {d:?}");
                    prop_assert!(bounds.zero || !d.is_zero(), "{s:?} gave zero");
                }
                // Every refusal says what is accepted or which bound was broken.
                Err(e) => prop_assert!(
                    e.contains("e.g.") || e.contains("more than 0") || e.contains("at most"),
                    "{s:?}: {e}"
                ),
            }
        }
    }

    /// `--start-at`: any text is a time or a refusal that names the forms.
    #[test]
    fn start_times_never_panic(s in typed(&["2026-12-02T10:00:00Z", "2026-12-02T10:00:00.5+01:00", "@1764669600", "@-1", "@", "now"])) {
        match input::timestamp(&s) {
            Ok(t) => prop_assert!(t.to_string().contains('T')),
            Err(e) => prop_assert!(e.contains("RFC 3339"), "{s:?}: {e}"),
        }
    }

    #[test]
    fn numbers_counts_headers_ramps_slos_and_sizes_never_panic(s in typed(&[
        "100", "0.5", "1e3", "-1", "p99<50ms", "success>99.9%", "success>1e307", "rps>1e308", "100:5s,500:5s", "X-A: b", "120x36", "ctrl-c",
    ])) {
        if let Ok(v) = input::number(&s, 0.0) {
            prop_assert!(v.is_finite() && v >= 0.0);
        }
        if let Ok(n) = input::count(&s, 1, 100) {
            prop_assert!((1..=100).contains(&n));
        }
        let _ = input::header(&s);
        let _ = input::headers(&s);
        let _ = input::flag::rate(&s);
        let _ = meshtop::bench::config::parse_ramp(&s);
        if let Ok(slo) = meshtop::bench::slo::parse(&s) {
            prop_assert!(slo.0.iter().all(|o| o.threshold.is_finite() && o.threshold >= 0.0));
        }
        if let Ok((w, h)) = meshtop::cmd::replay::parse_size(&s) {
            prop_assert!((20..=1000).contains(&w) && (20..=500).contains(&h));
        }
        let _ = meshtop::cmd::replay::parse_size(&s);
        let _ = meshtop::app::keymap::KeyCombo::parse(&s);
        let _ = meshtop::source::prometheus::Spec::parse(&s);
    }

    #[test]
    fn sweep_targets_steps_and_gates_never_panic(s in typed(&[
        "direct=http://10.0.0.5:8080/", "mesh = http://web.shop/", "8,16,32,100", "100,500,1000", "2.5",
        "p99<1.5", "p50<=1.2x,p99<2", "p99<5ms", "p90<=800us",
    ])) {
        if let Ok(t) = meshtop::sweep::plan::target(&s) {
            prop_assert!(!t.name.is_empty() && !t.url.is_empty() && t.name.chars().count() <= 40);
        }
        if let Ok(c) = meshtop::sweep::plan::connections_list(&s) {
            prop_assert!(!c.is_empty() && c.iter().all(|n| (1..=100_000).contains(n)));
        }
        if let Ok(r) = meshtop::sweep::plan::rates_list(&s) {
            prop_assert!(!r.is_empty() && r.iter().all(|v| v.is_finite() && *v > 0.0));
        }
        for gates in [meshtop::sweep::gate::parse_slowdown(&s), meshtop::sweep::gate::parse_added(&s)].into_iter().flatten() {
            prop_assert!(!gates.is_empty() && gates.iter().all(|g| g.limit.is_finite() && g.limit >= 0.0));
        }
        let _ = meshtop::sweep::plan::Experiment::parse(&s);
    }

    /// `--baseline-clone deploy/NAME`: a Deployment's name (a DNS subdomain) or an error;
    /// the copy's name made from it is always a Service name.
    #[test]
    fn baseline_clone_refs_never_panic(s in typed(&["deploy/reviews", "deployment.apps/web.v2", "sts/web", "deploy/", "deploy/2048"])) {
        if let Ok(name) = meshtop::agents::clone::workload_ref(&s) {
            prop_assert!(!name.is_empty() && name.len() <= 253);
            let copy = meshtop::agents::clone::clone_name(&name, "0badcafe");
            prop_assert!(copy.len() <= 63, "{copy}");
            prop_assert!(copy.starts_with(|c: char| c.is_ascii_lowercase()), "{copy}");
            prop_assert!(copy.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{copy}");
        }
    }

    /// `-n a,b,c` through the real flag parser: a list of namespace names, each once, or
    /// bad input naming the first that is not one.
    #[test]
    fn namespace_lists_never_panic(s in typed(&["shop", "shop,web", "a,,b", ",", "Shop", "x-1,x-1", "team-a,b/c"])) {
        use clap::Parser;
        let Ok(cli) = meshtop::cli::Cli::try_parse_from(["meshtop", "-n", &s]) else { return Ok(()) };
        match cli.tui.cluster.target() {
            Ok(t) => {
                prop_assert!(t.namespaces.iter().all(|ns| meshtop::input::is_namespace_name(ns)));
                let mut unique = t.namespaces.clone();
                unique.sort();
                unique.dedup();
                prop_assert_eq!(unique.len(), t.namespaces.len());
            }
            Err(e) => {
                prop_assert_eq!(meshtop::exit::code(&e), meshtop::exit::BAD_INPUT);
                prop_assert!(e.to_string().starts_with("-n \""), "{}", e);
            }
        }
    }

    /// `--cacert` names a file: whatever is typed, a refusal that names the flag, before
    /// anything is sent (nothing listens on port 1). (`--cert`/`--key` go through the same
    /// reader; tests/bench_cli.rs covers their refusals.)
    #[test]
    fn certificate_flags_never_panic(s in typed(&["/etc/hosts", "", "/", "/dev/null", "ca.pem", "-"])) {
        use clap::Parser;
        let args = ["meshtop", "bench", "https://127.0.0.1:1/", "--cacert", &s, "-n", "1", "--no-save"];
        let Ok(cli) = meshtop::cli::Cli::try_parse_from(args) else { return Ok(()) };
        let Some(meshtop::cli::Command::Bench(b)) = cli.command else { unreachable!() };
        let e = meshtop::cmd::bench::config_from_args(&b.load).expect_err("no file here is a CA bundle");
        prop_assert!(e.to_string().starts_with("--cacert "), "{}", e);
    }

    /// `:sweep` in the TUI: whatever is typed, a checked plan or an error that names it.
    #[test]
    fn sweep_commands_never_panic(s in typed(&[
        "a=http://127.0.0.1:1/ b=http://127.0.0.1:2/ -c 8,16", "--rates 100,500 -c 4", "-z 10s",
        "--repeat 3", "--warmup=1s", "--baseline b", "--http2", "-q 50", "--cooldown", "x=", "-c",
    ])) {
        match meshtop::app::sweep::parse_command(&s) {
            Ok(plan) => {
                prop_assert!(plan.validate().is_ok());
                prop_assert!(plan.runs() >= 1 && plan.runs() <= meshtop::sweep::plan::MAX_RUNS);
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}

fn scenario() -> State {
    let mut s = State::new(Keymap::default());
    fold_all(&mut s, support::scenario::updates());
    s
}

fn chars(s: &mut State, text: &str) {
    for c in text.chars() {
        apply_action(s, Action::InputChar(c));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// `/` then any text, in every table view; the table draws whatever was typed.
    #[test]
    fn filters_typed_in_the_tui(text in typed(&["web", "ns=prod", "mesh==istio model=sidecar", "workload==a", "=", "=="]),
                                view in prop::sample::select(&[Action::ShowPods, Action::ShowWorkloads, Action::ShowEdges,
                                    Action::ShowNamespaces, Action::ShowControlPlanes, Action::ShowBench][..])) {
        let mut s = scenario();
        apply_action(&mut s, view);
        apply_action(&mut s, Action::StartFilter);
        chars(&mut s, &text);
        let _ = support::render_text(&s, 120, 20);
        apply_action(&mut s, Action::InputSubmit);
        for a in [Action::SortNext, Action::SortReverse, Action::Bottom, Action::Select] {
            apply_action(&mut s, a);
        }
        let _ = support::render_text(&s, 60, 12);
    }

    /// `:` then any command line, completed with tab, submitted.
    #[test]
    fn commands_typed_in_the_tui(text in prop_oneof![
        4 => typed(&["seek 1m10s", "window 5m", "pods web", "bench http://h/", "bench svc a/b",
                     "ctx prod", "mark x", "ns default", "wl", "w 30", "q x"]),
        // Huge and odd numbers behind the commands that take them.
        1 => "(seek|window|w) [0-9]{15,40}(\\.[0-9]{0,5})?(ms|s|m|h|)",
        1 => "(seek|window) -?[0-9]{1,3}(\\.[0-9]{1,3})?[eE][+-]?[0-9]{1,4}[a-z]{0,2}",
        1 => "bench http://h:[0-9]{1,7}/",
        1 => "bench http://10.0.0.1:8080[0-9]{1,2}/",
    ]) {
        let mut s = scenario();
        // A replay, so `:seek` reaches its parser and effect.
        s.replay = Some(replaying());
        apply_action(&mut s, Action::StartCommand);
        chars(&mut s, &text);
        apply_action(&mut s, Action::InputComplete);
        let _ = support::render_text(&s, 100, 10);
        let effect = apply_action(&mut s, Action::InputSubmit);
        if let Some(meshtop::app::Effect::SetWindow(w)) = effect {
            prop_assert!(meshtop::app::traffic::WINDOWS.contains(&w));
        }
        if let Some(meshtop::app::Effect::Replay(meshtop::app::ReplayCommand::SeekTo(ms))) = effect {
            prop_assert!(ms <= Duration::from_secs(86_400).as_millis() as u64);
        }
        let _ = support::render_text(&s, 100, 10);
    }

    /// The benchmark form: any text in any field, submitted; a valid form is a valid config.
    #[test]
    fn bench_form_fields_typed_in_the_tui(
        field in 0usize..meshtop::app::bench::FIELDS.len(),
        writes in any::<bool>(),
        text in typed(&["100", "10", "30s", "1m30s", "X-A: 1; B: 2", "body", "http://10.0.0.1:8080/", "0.0001"]),
        toggles in 0u8..3,
    ) {
        let mut s = scenario();
        if writes {
            s.writes = meshtop::model::access::Writes::Allowed;
        }
        apply_action(&mut s, Action::StartCommand);
        chars(&mut s, "bench http://10.0.0.1:8080/");
        apply_action(&mut s, Action::InputSubmit);
        prop_assert!(s.bench_form.is_some());
        for _ in 0..field {
            apply_action(&mut s, Action::FormNext);
        }
        // Clear the field whole (the URL is the longest default), so the typed text is
        // the field's value: a URL one mutation away from valid reaches the parser.
        for _ in 0..64 {
            apply_action(&mut s, Action::InputBackspace);
        }
        chars(&mut s, &text);
        for _ in 0..toggles {
            apply_action(&mut s, Action::InputChar(' '));
        }
        let _ = support::render_text(&s, 120, 30);
        match apply_action(&mut s, Action::InputSubmit) {
            Some(meshtop::app::Effect::StartBench { config, .. }) => {
                // What the form let through is what the engine can run: a real port, a
                // finite rate, a bounded run.
                let spec = &config.spec;
                let uri: http::Uri = spec.url.parse().unwrap();
                let written = uri.authority().and_then(|a| meshtop::bench::config::explicit_port(a.as_str()));
                prop_assert!(written.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0)), "{}", spec.url);
                prop_assert!(spec.rate.is_finite() && spec.connections >= 1);
                prop_assert!(spec.duration.is_none_or(|d| d <= Duration::from_secs(86_400)));
                // What the engine does first with it: schedule the last lane's sends.
                let spec = &config.spec;
                if let Some(plan) = meshtop::bench::schedule::RatePlan::new(spec.warmup, &spec.ramp, spec.rate) {
                    let lanes = spec.lanes();
                    let mut lane = meshtop::bench::schedule::LaneSchedule::new(plan, lanes - 1, lanes);
                    let (a, b) = (lane.next_send(), lane.next_send());
                    prop_assert!(b >= a);
                }
                prop_assert_eq!(s.entry().view.clone(), View::Bench);
            }
            // Sweep steps make a sweep (its plan is checked in sweep_cli and below).
            Some(meshtop::app::Effect::StartSweep(plan)) => {
                prop_assert!(!plan.targets.is_empty());
                prop_assert_eq!(s.entry().view.clone(), View::Bench);
            }
            // Agents with --allow-writes: the question, naming what would be written.
            None if s.confirm.is_some() => {
                prop_assert!(writes);
                prop_assert_eq!(s.mode, meshtop::app::Mode::Confirm);
                prop_assert_eq!(s.confirm.as_ref().unwrap().writes.len(), 4);
            }
            _ => {
                let form = s.bench_form.as_ref().expect("an invalid form stays open");
                prop_assert!(form.error.as_deref().is_some_and(|e| !e.is_empty()));
            }
        }
        let _ = support::render_text(&s, 120, 30);
    }
}

fn replaying() -> meshtop::app::state::ReplayStatus {
    meshtop::app::state::ReplayStatus {
        position_s: 0.0,
        duration_s: 120.0,
        speed: 1.0,
        paused: false,
        looping: false,
        source: "t".into(),
        provenance: "t".into(),
    }
}

/// The cases the issue named, each once, exactly.
#[test]
fn the_reported_crashes_are_errors_or_values() {
    assert_eq!(input::flag::run_duration("30 "), Ok(Duration::from_secs(30)));
    let mut s = scenario();
    s.replay = Some(replaying());
    apply_action(&mut s, Action::StartCommand);
    chars(&mut s, "seek 1m10s");
    assert_eq!(
        apply_action(&mut s, Action::InputSubmit),
        Some(meshtop::app::Effect::Replay(meshtop::app::ReplayCommand::SeekTo(
            70_000
        )))
    );
    apply_action(&mut s, Action::StartCommand);
    chars(&mut s, "seek 30 ");
    assert_eq!(
        apply_action(&mut s, Action::InputSubmit),
        Some(meshtop::app::Effect::Replay(meshtop::app::ReplayCommand::SeekTo(
            30_000
        )))
    );
    apply_action(&mut s, Action::StartCommand);
    chars(&mut s, "seek 1e999");
    assert_eq!(apply_action(&mut s, Action::InputSubmit), None);
    assert_eq!(
        s.flash.as_deref(),
        Some(format!(":seek \"1e999\" is not a duration ({})", meshtop::input::DURATION_FORMS).as_str())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Tap's filters, statuses, targets, `--max-rps` and latencies: a value or an error that
    /// names the culprit, never a panic.
    #[test]
    fn tap_filters_targets_and_flags_never_panic(s in typed(&[
        "src=web dst=voting path=/api method=POST status=5xx latency>=100ms", "status=4xx,503", "latency>=1.5s",
        "5xx", "429,5xx", "deploy/web", "ns/emojivoto", "pod/web-1.a", "sts/db", "100", "0.5", "250ms",
    ])) {
        match meshtop::tap::TapFilter::parse(&s) {
            Ok(f) => prop_assert!(f.min_latency_ms.is_none_or(|l| l.is_finite() && l >= 0.0)),
            Err(e) => prop_assert!(!e.is_empty()),
        }
        if let Ok(m) = meshtop::tap::StatusMatch::parse(&s) {
            let mut e = meshtop::model::tap::TapEvent::new(0, meshtop::model::tap::TapOrigin::Bench, "a".into(), "b".into());
            e.status = Some(503);
            let _ = m.matches(&e);
        }
        if let Ok(t) = meshtop::model::tap::TapTarget::parse(&s, "default") {
            prop_assert!(!t.name.is_empty() && !t.namespace.is_empty());
            prop_assert!(["deployment", "statefulset", "daemonset", "pod", "namespace"].contains(&t.kind.as_str()));
        }
        if let Ok(v) = meshtop::app::tap::max_rps_value(&s) {
            prop_assert!(v.is_finite() && v > 0.0 && v <= 100_000.0);
        }
        if let Ok(ms) = meshtop::tap::filter::latency(&s) {
            prop_assert!(ms.is_finite() && ms >= 0.0);
        }
    }

    /// `:tap ...` and `/` in the tap views: whatever is typed, a tap to start, a filter or an
    /// error, and the views draw.
    #[test]
    fn tap_commands_and_filters_typed_in_the_tui(
        text in typed(&["tap deploy/web -n emojivoto", "tap ns/shop --source logs", "tap pod/x --max-rps 5", "tap stop",
                        "tap", "summary", "tap deploy/web -n", "tap --source"]),
        filter in typed(&["status=5xx latency>=100ms", "src=vote dst=web", "path=/api method=get", "latency>=", "x"]),
    ) {
        let mut s = scenario();
        apply_action(&mut s, Action::StartCommand);
        chars(&mut s, &text);
        apply_action(&mut s, Action::InputComplete);
        if let Some(meshtop::app::Effect::StartTap(spec)) = apply_action(&mut s, Action::InputSubmit) {
            prop_assert!(spec.max_rps > 0.0 && !spec.target.name.is_empty());
        }
        for view in [Action::ShowTap, Action::ShowTapSummary] {
            apply_action(&mut s, view);
            apply_action(&mut s, Action::StartFilter);
            chars(&mut s, &filter);
            let _ = support::render_text(&s, 100, 14);
            apply_action(&mut s, Action::InputSubmit);
            for a in [Action::SortNext, Action::SortReverse, Action::Bottom, Action::Select, Action::TapPause] {
                apply_action(&mut s, a);
            }
            let _ = support::render_text(&s, 60, 12);
        }
    }
}

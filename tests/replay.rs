//! Replay: the bundled demo through the same fold and views, seeking back by keyframes,
//! bad recordings replayed as far as they are whole, and `meshtop demo` in a terminal.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use meshtop::app::{Keymap, ReplayCommand, State, fold};
use meshtop::cmd::replay::{DEMO, ReplayDriver};
use meshtop::record::{Chunked, Recording};
use meshtop::ui::theme::Theme;
use support::tmux::{Tmux, assert_terminal_restored};

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

fn demo() -> Recording {
    Recording::from_bytes(DEMO).expect("the embedded demo reads")
}

fn render(state: &State, w: u16, h: u16) -> String {
    support::render_text(state, w, h)
}

fn state(theme: &str) -> State {
    let themes = Theme::all_builtin();
    let i = themes.iter().position(|t| t.name == theme).unwrap();
    State::new(Keymap::default()).with_themes(themes.len(), i)
}

/// The world after folding the first `n` entries.
fn folded(rec: &Recording, n: usize, theme: &str) -> State {
    let mut s = state(theme);
    for e in &rec.entries[..n] {
        fold(&mut s, e.clone());
    }
    s
}

#[test]
fn the_demo_is_whole_and_tells_its_story() {
    let rec = demo();
    assert!(
        rec.problems.is_empty() && rec.stopped.is_none(),
        "{:?} {:?}",
        rec.problems,
        rec.stopped
    );
    assert!(rec.header.provenance.contains("kwok") && rec.header.provenance.contains("stand"));
    let names: Vec<&str> = rec.markers().iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        [
            "meshes overview",
            "namespaces and coverage",
            "golden signals per pod",
            "workloads and sidecar tax",
            "ambient: ztunnel (L4) and a waypoint (L7) report for the workloads",
            "an ambient pod: its workload's figures and who reported them",
            "tap: the Istio pod's access logs (t on a pod, or :tap)",
            "tap: Linkerd's tap API beside them",
            "tap summary: paths grouped, IDs normalised",
            "tap: failed requests only (filters apply to the response)",
            "one request in full",
            "baseline benchmark: b on the pod, the app without proxy",
            "the same load through the proxy",
            "tap: sampled requests of the benchmark runs",
            "runs side by side",
            "in-cluster load: 2 agent pods of a Job, followed through the API server, merged live",
            "the agents' result, merged exactly; their Job, pods and Secret deleted",
            "the overhead sweep: the app directly vs through the proxy, at 20 and 60 req/s",
            "slowdown table",
            "the API server crashed: the last figures stay, the status line says since when",
            "the API server is back: the watches resume where they were",
            "30 more meshed pods: past the scrape budget (20 here), each proxy is scraped less often",
            "their proxies answer no scrape (kwok runs no process): retried within a tenth of the budget",
            "a source panicked (injected): the status line names it, it restarts in 1 s, the TUI runs on",
            "the restarted tap ran 30 s without a crash: its error clears",
        ]
    );
    let end = folded(&rec, rec.entries.len(), "dark");
    let meshes: Vec<&str> = end.control_planes.iter().map(|c| c.mesh.as_str()).collect();
    assert!(meshes.contains(&"istio") && meshes.contains(&"linkerd"), "{meshes:?}");
    assert_eq!(
        end.benches.len(),
        7,
        "baseline and proxied runs, the in-cluster run, and the sweep's four"
    );
    for b in &end.benches {
        let r = b.result.as_ref().expect("every run finished");
        assert_eq!(r.errors.total(), 0);
        assert!(r.responses >= 200, "{}", r.responses);
    }
    // The run from agent pods: both agents' shares merged, none missing, each agent's row
    // there to the end.
    let from_agents: Vec<_> = end.benches.iter().filter(|b| !b.agents.is_empty()).collect();
    assert_eq!(from_agents.len(), 1);
    let info = from_agents[0]
        .result
        .as_ref()
        .unwrap()
        .agents
        .as_ref()
        .expect("the agents' result");
    assert_eq!((info.count, info.missing.len()), (2, 0), "{info:?}");
    assert_eq!(from_agents[0].agents.len(), 2);
    // The run opened with b on the pod measured its pod: app and proxy CPU and memory.
    let by_b = &end.benches[0];
    assert_eq!(by_b.target.pods, [("shop".to_string(), "web".to_string())]);
    assert!(!by_b.usage.is_empty() && !by_b.samples.is_empty(), "{by_b:?}");
    // The sweep: both steps, both targets, each with its pod's resources.
    assert_eq!(end.sweeps.len(), 1);
    let sweep = &end.sweeps[0];
    assert!(!sweep.running() && !sweep.cancelled);
    assert_eq!(sweep.result.steps.len(), 2);
    for step in &sweep.result.steps {
        let names: Vec<&str> = step.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["direct", "proxied"]);
        for t in &step.targets {
            let res = t
                .resources
                .as_ref()
                .unwrap_or_else(|| panic!("{} {:?}: {:?}", t.name, step.rate, t.resources_note));
            assert_eq!(res.pods, 1);
        }
        assert!(
            step.targets[1].slowdown.p50.is_some_and(|x| x > 1.0),
            "{:?}",
            step.targets[1]
        );
    }
    // Live golden signals for shop/web while its background traffic runs.
    let at_signals = folded(&rec, rec.markers()[2].index + 1, "dark");
    let web = at_signals
        .traffic
        .get(&("shop".to_string(), "web".to_string()))
        .and_then(|t| t.rates);
    assert!(
        web.is_some_and(|r| r.rps > 0.0),
        "live golden signals for shop/web: {web:?}"
    );
    // Tap: all three sources fed the one stream, each parsed line by line without a miss.
    use meshtop::model::tap::TapOrigin;
    for origin in [TapOrigin::Logs, TapOrigin::Linkerd, TapOrigin::Bench] {
        let n = end.tap.events.iter().filter(|e| e.event.origin == origin).count();
        assert!(n >= 5, "{origin:?}: {n} events");
    }
    let logs: Vec<_> = end
        .tap
        .sources
        .values()
        .filter(|s| s.origin == TapOrigin::Logs)
        .collect();
    assert!(
        !logs.is_empty() && logs.iter().all(|s| s.lines > 0 && s.unparsed == 0),
        "{logs:?}"
    );
    // Ambient, at its marker (its load stops before the benchmarks): httpbin's figures come
    // from the waypoint (requests) and ztunnel (bytes), the client's from ztunnel's source
    // side; the ztunnel pod is a node proxy.
    let at_ambient = folded(&rec, rec.markers()[5].index + 1, "dark");
    let ambient = |name: &str| &at_ambient.workload_rows[&("ambient".to_string(), name.to_string())];
    let httpbin = ambient("httpbin");
    let r = httpbin.rates.expect("httpbin has figures");
    assert!(r.rps > 0.0 && r.read_bps.is_some_and(|b| b > 0.0), "{r:?}");
    assert_eq!(httpbin.via.len(), 2, "ztunnel and the waypoint: {:?}", httpbin.via);
    assert!(httpbin.cost.cpu.proxy.is_some(), "its share of ztunnel's CPU");
    let sleep = ambient("sleep").rates.expect("sleep has figures");
    assert!(sleep.write_bps.is_some_and(|b| b > 0.0), "{sleep:?}");
    let models: std::collections::BTreeSet<_> = end
        .pods
        .values()
        .filter(|p| p.info.namespace == "ambient" || p.info.name.starts_with("ztunnel-"))
        .map(|p| p.mesh.model.as_str())
        .collect();
    assert_eq!(models, ["ambient", "gateway", "node"].into());
}

#[test]
fn first_screens_of_the_demo_in_dark_and_presentation() {
    let rec = demo();
    let first = rec.markers()[0].index + 1;
    for theme in ["dark", "presentation"] {
        let s = folded(&rec, first, theme);
        insta::assert_snapshot!(format!("demo_overview_{theme}"), render(&s, 120, 36));
    }
    // The sweep's slowdown table in the Compare view, at the end.
    let mut s = folded(&rec, rec.entries.len(), "dark");
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowCompare);
    insta::assert_snapshot!("demo_compare_sweep_dark", render(&s, 120, 16));
    // Pods at the golden-signals marker.
    let at = rec.markers()[2].index + 1;
    let mut s = folded(&rec, at, "dark");
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowPods);
    insta::assert_snapshot!("demo_pods_dark", render(&s, 160, 20));
    // The ambient namespace at its marker: workloads, then a pod's detail.
    let mut s = folded(&rec, rec.markers()[5].index + 1, "dark");
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowWorkloads);
    meshtop::app::apply_action(&mut s, meshtop::app::Action::StartFilter);
    for c in "ns=ambient".chars() {
        meshtop::app::apply_action(&mut s, meshtop::app::Action::InputChar(c));
    }
    meshtop::app::apply_action(&mut s, meshtop::app::Action::InputSubmit);
    insta::assert_snapshot!("demo_ambient_workloads_dark", render(&s, 160, 8));
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowPods);
    meshtop::app::apply_action(&mut s, meshtop::app::Action::StartFilter);
    for c in "httpbin".chars() {
        meshtop::app::apply_action(&mut s, meshtop::app::Action::InputChar(c));
    }
    meshtop::app::apply_action(&mut s, meshtop::app::Action::InputSubmit);
    meshtop::app::apply_action(&mut s, meshtop::app::Action::Select);
    insta::assert_snapshot!("demo_ambient_pod_detail_dark", render(&s, 140, 34));
    // Tap once both sources stream: the requests, then the summary.
    let marker = |name: &str| rec.markers().iter().find(|m| m.name == name).unwrap().index + 1;
    let mut s = folded(&rec, marker("tap summary: paths grouped, IDs normalised"), "dark");
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowTap);
    insta::assert_snapshot!("demo_tap_dark", render(&s, 160, 24));
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowTapSummary);
    insta::assert_snapshot!("demo_tap_summary_dark", render(&s, 160, 20));
}

/// The API server killed near the end of the demo and started again: while it is down the
/// pods and their last figures stay as they were and the status line says since when nothing
/// answered; once it is back no error is left and the watches hold the same pods (none lost,
/// none left over).
#[test]
fn the_demo_rides_out_an_api_server_crash() {
    use meshtop::model::Resource;
    let rec = demo();
    let marker = |name: &str| rec.markers().iter().find(|m| m.name.starts_with(name)).unwrap().index + 1;
    let before = folded(&rec, marker("slowdown table"), "dark");
    let down = folded(&rec, marker("the API server crashed"), "dark");
    let back = folded(&rec, marker("the API server is back"), "dark");
    let pods = |s: &State| s.pods.keys().cloned().collect::<Vec<_>>();
    assert!(!before.errors.contains_key(&(Resource::Cluster, None)));
    let e = &down.errors[&(Resource::Cluster, None)];
    assert_eq!(e.kind, meshtop::model::ErrorKind::Unreachable, "{e:?}");
    assert!(e.message.contains("Connection refused"), "{e:?}");
    assert_eq!(pods(&down), pods(&before), "the last pods stay while it is down");
    // Each pod's figures as they were the moment the outage showed.
    let mut last_up = folded(&rec, marker("slowdown table"), "dark");
    for entry in &rec.entries[marker("slowdown table")..] {
        let mut next = last_up.clone();
        fold(&mut next, entry.clone());
        if next.errors.contains_key(&(Resource::Cluster, None)) {
            break;
        }
        last_up = next;
    }
    let figures = |s: &State| {
        s.pods
            .iter()
            .map(|(k, p)| format!("{k:?} {:?} {:?}", p.usage, p.rates))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        figures(&down),
        figures(&last_up),
        "the last figures stay while it is down"
    );
    assert!(down.pods.values().filter(|p| p.usage.is_some()).count() >= 9);
    let mut shown = down.clone();
    meshtop::app::apply_action(&mut shown, meshtop::app::Action::ShowPods);
    let screen = render(&shown, 160, 17);
    assert!(screen.contains("reconnecting: no answer since"), "{screen}");
    insta::assert_snapshot!("demo_api_server_down_dark", screen);
    assert!(back.errors.is_empty(), "{:?}", back.errors.keys().collect::<Vec<_>>());
    assert_eq!(pods(&back), pods(&before), "the same pods after the watches resumed");
    assert!(back.api_answered_at > down.api_answered_at);
}

/// Past the scrape budget (20 in the demo's session) the status line says how often each
/// proxy is scraped, kwok's 30 silent proxies fail without starving the four real ones, and
/// a source that panics is named first, restarted and cleared.
#[test]
fn the_demo_shows_the_scrape_budget_and_a_crashed_source() {
    use meshtop::model::{ErrorKind, Resource};
    let rec = demo();
    let marker = |name: &str| rec.markers().iter().find(|m| m.name.starts_with(name)).unwrap().index + 1;
    let before = folded(&rec, marker("the API server is back"), "dark");
    let over = folded(&rec, marker("30 more meshed pods"), "dark");
    let failing = folded(&rec, marker("their proxies answer no scrape"), "dark");
    let crashed = folded(&rec, marker("a source panicked"), "dark");
    let cleared = folded(&rec, marker("the restarted tap ran 30 s"), "dark");
    assert_eq!(before.scrape_load, None);
    let load = over.scrape_load.as_ref().expect("over the budget");
    assert_eq!((load.proxies, load.budget, load.prometheus.as_deref()), (34, 20, None));
    // kwok's 30 do not answer and sit out; the 4 that answer fit in a 5 s round.
    assert_eq!((load.silent, load.round_s), (30, 5));
    let status = |s: &State, w| {
        let screen = render(s, w, 17);
        let line = screen
            .lines()
            .find(|l| l.contains(" ctx "))
            .unwrap_or_default()
            .to_string();
        (screen, line)
    };
    let mut shown = over.clone();
    meshtop::app::apply_action(&mut shown, meshtop::app::Action::ShowNamespaces);
    let (screen, line) = status(&shown, 160);
    assert!(
        line.contains("· 34 proxies > scrape budget 20, no Prometheus: 4 scraped every 5s, 30 silent retried slower "),
        "{screen}"
    );
    insta::assert_snapshot!("demo_scrape_budget_dark", screen);
    // kwok's proxies fail one by one (each its pod's error); the real ones are still scraped.
    let silent = |s: &State| {
        s.errors
            .iter()
            .filter(|((r, ns), e)| {
                *r == Resource::ProxyScrape
                    && ns.as_deref().is_some_and(|n| n.starts_with("scale/cart-"))
                    && e.kind == ErrorKind::Api
            })
            .count()
    };
    assert_eq!(silent(&failing), 30, "{:?}", failing.errors.keys().collect::<Vec<_>>());
    assert_eq!(
        failing.errors.len(),
        30,
        "{:?}",
        failing.errors.keys().collect::<Vec<_>>()
    );
    let web_scrapes = |s: &State| s.traffic[&("shop".to_string(), "web".to_string())].rps_history.len();
    assert!(
        web_scrapes(&cleared) > web_scrapes(&over),
        "shop/web kept being scraped"
    );
    // Each answering proxy every round (5 s); the silent ones retried at a tenth of the
    // budget's pace at most: 2 per 5 s. (What the scraper did when the demo was recorded;
    // `Retry`'s own tests check the code as it is.)
    let (from, to) = (marker("30 more meshed pods"), marker("the restarted tap ran 30 s"));
    let span = rec.seconds(to - 1) - rec.seconds(from);
    let web = rec.entries[from..to]
        .iter()
        .filter(|e| matches!(&e.update, meshtop::app::Update::ProxyScraped { pod, .. } if pod == "web"))
        .count();
    assert!(
        web as f64 >= span / 5.0 - 2.0,
        "{web} scrapes of shop/web in {span:.0} s"
    );
    let retried: Vec<f64> = rec.entries[from..to]
        .iter()
        .enumerate()
        .filter(
            |(_, e)| matches!(&e.update, meshtop::app::Update::ScrapeFailed { namespace, .. } if namespace == "scale"),
        )
        .map(|(j, _)| rec.seconds(from + j))
        .collect();
    assert!(retried.len() >= 10, "{retried:?}");
    // Rounds pace retries with the others' scrapes, so allow a round's jitter: never five
    // within 8 s (at 2 per 5 s they take 10).
    for w in retried.windows(5) {
        assert!(w[4] - w[0] >= 8.0, "five retries within 8 s: {retried:?}");
    }
    // The crash is named first on the status line, ahead of the budget and the silent proxies.
    let e = &crashed.errors[&(Resource::Tap, None)];
    assert_eq!(e.kind, ErrorKind::Crashed);
    assert_eq!(e.message, "injected fault (MESHTOP_FAULT_PANIC); restarting in 1 s");
    let (screen, line) = status(&crashed, 200);
    assert!(
        line.contains(
            "v1.34.4 · tap crashed: injected fault (MESHTOP_FAULT_PANIC); restarting in 1 s \
             · 34 proxies > scrape budget 20, no Prometheus: "
        ),
        "{screen}"
    );
    insta::assert_snapshot!("demo_source_crashed_dark", screen);
    assert!(
        !cleared.errors.contains_key(&(Resource::Tap, None)),
        "{:?}",
        cleared.errors.keys().collect::<Vec<_>>()
    );
    assert_eq!(silent(&cleared), 30);
}

#[test]
fn seeking_back_rebuilds_from_keyframes_exactly() {
    let rec = demo();
    let initial = state("dark");
    let mut s = initial.clone();
    let mut d = ReplayDriver::new(Chunked::from_static(DEMO).unwrap(), &initial, false);
    let now = Instant::now();
    // Run to the end at once (seek past it), then walk the markers backwards.
    d.player().seek(Duration::from_secs(3600), now);
    d.advance(&mut s, now);
    let markers = rec.markers();
    for (i, m) in markers.iter().enumerate().rev() {
        // The marker's own millisecond, as `:seek` and `]` reach it.
        d.player()
            .seek(Duration::from_millis((m.seconds * 1000.0).round() as u64), now);
        d.player().pause(now);
        d.advance(&mut s, now);
        // The same world as a straight fold to the marker's time; only the REPLAY status differs.
        let mut at_marker = s.clone();
        at_marker.replay = None;
        let held: usize = (0..rec.entries.len())
            .take_while(|j| rec.seconds(*j) <= m.seconds)
            .count();
        assert_eq!(
            render(&at_marker, 120, 30),
            render(&folded(&rec, held, "dark"), 120, 30),
            "marker {i} {:?}",
            m.name
        );
        assert!(held > m.index, "{held} {}", m.index);
    }
    // `:seek` goes to a time, like a person types it.
    s.replay = Some(meshtop::app::state::ReplayStatus {
        position_s: 0.0,
        duration_s: 0.0,
        speed: 1.0,
        paused: true,
        looping: false,
        source: String::new(),
        provenance: String::new(),
    });
    s.mode = meshtop::app::state::Mode::Command;
    s.input = "seek 20s".into();
    match meshtop::app::apply_action(&mut s, meshtop::app::Action::InputSubmit) {
        Some(meshtop::app::Effect::Replay(c)) => {
            assert_eq!(c, ReplayCommand::SeekTo(20_000));
            d.command(c, &mut s, now);
        }
        other => panic!("expected a seek, got {other:?}"),
    }
    assert_eq!(d.player().position(), Duration::from_secs(20));
    // Forward again with the controls: next marker from the start.
    d.player().seek(Duration::ZERO, now);
    d.command(ReplayCommand::NextMarker, &mut s, now);
    assert!(s.markers.iter().any(|(_, n)| n == "meshes overview"));
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

fn replay_export(path: &std::path::Path) -> std::process::Output {
    let out = path.with_extension("cast");
    std::process::Command::new(BIN)
        .args([
            "replay",
            path.to_str().unwrap(),
            "--export-cast",
            out.to_str().unwrap(),
            "--size",
            "100x30",
        ])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

#[test]
fn bad_recordings_say_what_is_wrong_and_replay_what_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Truncated: the first half of the demo.
    let cut = write(dir.path(), "cut.mtrec", &DEMO[..DEMO.len() / 2]);
    let out = replay_export(&cut);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("truncated after") && err.contains("replaying what is whole"),
        "{err}"
    );
    let cast = std::fs::read_to_string(cut.with_extension("cast")).unwrap();
    let header: serde_json::Value = serde_json::from_str(cast.lines().next().unwrap()).unwrap();
    assert_eq!(
        (header["version"].as_u64(), header["width"].as_u64()),
        (Some(2), Some(100))
    );
    assert!(cast.lines().count() > 2);

    // A corrupt zstd frame: bytes flipped in the middle.
    let mut bad = DEMO.to_vec();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let out = replay_export(&write(dir.path(), "flipped.mtrec", &bad));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("byte "), "the damage is located: {err}");

    // A newer major version is refused, with what to do.
    let newer = b"{\"format\":\"meshtop-recording\",\"version\":\"2.0\",\"meshtop_version\":\"9.0.0\",\"recorded_at\":0,\"source\":\"x\",\"provenance\":\"y\"}\n[0.0,{\"type\":\"tick\"}]\n";
    let out = replay_export(&write(dir.path(), "newer.mtrec", newer));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a file that is not what it should be: {err}"
    );
    assert!(err.contains("recorded by a newer meshtop (format 2.0)"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // A line that does not parse is skipped and named; the rest replays.
    let mut text = String::from(
        "{\"format\":\"meshtop-recording\",\"version\":\"1.0\",\"meshtop_version\":\"0.1.0\",\"recorded_at\":0,\"source\":\"x\",\"provenance\":\"y\"}\n",
    );
    text.push_str("[0.0,{\"type\":\"tick\"}]\nthis is not json\n[1.0,{\"type\":\"marker\",\"name\":\"end\"}]\n");
    let out = replay_export(&write(dir.path(), "badline.mtrec", text.as_bytes()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("line 3:"), "{err}");

    // Not a recording at all, and a bad speed: clear errors, nothing else.
    let out = replay_export(&write(dir.path(), "random.mtrec", b"\x00\x01\x02garbage"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "one line");
    let out = std::process::Command::new(BIN)
        .args(["replay", cut.to_str().unwrap(), "--speed", "3"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "meshtop: --speed 3: choose 0.5, 1, 2, 4 or 8\n"
    );
}

/// The README's first command, as a person runs it: it starts, shows the overview, seeks
/// to a marker, and quits with the terminal restored.
#[test]
fn meshtop_demo_in_a_terminal() {
    let t = Tmux::start(140, 40);
    t.run(&format!("{BIN} demo; echo EXIT=$?"));
    t.wait_text("REPLAY", Duration::from_secs(30));
    let s = t.wait_text("Istio", Duration::from_secs(30));
    assert!(s.contains("from meshtop-testbed"), "{s}");
    t.keys(&["]"]);
    t.keys(&["]"]);
    t.wait("the second marker reached", Duration::from_secs(10), |s| {
        s.contains("<meshes>") && s.contains("REPLAY")
    });
    t.keys(&["-l", " "]);
    t.wait_text("⏸", Duration::from_secs(10));
    t.keys(&["q"]);
    t.wait_text("EXIT=0", Duration::from_secs(10));
    assert_terminal_restored(&t);
}

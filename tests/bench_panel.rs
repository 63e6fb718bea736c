//! The bench panel, driven by a recorded sequence of bench updates: a real 3-second run
//! of the engine against nginx (tests/fixtures/bench-run.ndjson, one `Stamped` per line).
//! Regenerate it with `cargo test --test bench_panel -- --ignored regenerate`.

mod support;

use meshtop::app::{Action, Keymap, Stamped, State, Update, View, apply_action, fold};

const FIXTURE: &str = "tests/fixtures/bench-run.ndjson";

fn recorded() -> Vec<Stamped> {
    std::fs::read_to_string(support::repo().join(FIXTURE))
        .expect("the recorded bench run")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a Stamped update"))
        .collect()
}

fn render(state: &State, w: u16, h: u16) -> String {
    support::render_text(state, w, h)
}

fn state() -> State {
    let mut s = State::new(Keymap::default());
    for u in support::scenario::updates() {
        fold(&mut s, u);
    }
    s
}

#[test]
fn live_panel_then_finished_run() {
    let updates = recorded();
    let mut s = state();
    apply_action(&mut s, Action::ShowBench);
    assert_eq!(s.entry().view, View::Bench);
    insta::assert_snapshot!("bench_empty", render(&s, 120, 12));
    // Up to the middle of the run: the live panel.
    let middle = updates
        .iter()
        .position(|u| matches!(&u.update, Update::BenchProgress { progress, .. } if progress.elapsed_s >= 1.5))
        .expect("a snapshot half way");
    for u in &updates[..=middle] {
        fold(&mut s, u.clone());
    }
    let live = &s.benches[0];
    assert!(live.running());
    let p = live.progress.as_ref().unwrap();
    assert!(p.requests > 0 && p.p99_us >= p.p50_us);
    // The fixture is fixed, so the snapshot is exact.
    insta::assert_snapshot!("bench_live", render(&s, 140, 34));
    for u in &updates[middle + 1..] {
        fold(&mut s, u.clone());
    }
    let done = &s.benches[0];
    let r = done.result.as_ref().expect("finished");
    assert_eq!(done.status(), "done");
    assert_eq!(r.status.get(&200), Some(&r.responses));
    assert_eq!(r.errors.total(), 0);
    insta::assert_snapshot!("bench_done", render(&s, 140, 34));
}

#[test]
fn form_validates_and_starts_a_run_on_the_selected_pod() {
    let mut s = state();
    apply_action(&mut s, Action::ShowPods);
    // productpage is the second pod in (namespace, name) order.
    apply_action(&mut s, Action::Down);
    apply_action(&mut s, Action::NewBench);
    let form = s.bench_form.as_ref().expect("form open");
    assert_eq!(form.value(meshtop::app::bench::Field::Url), "http://10.77.16.10:80/");
    assert_eq!(form.target.origin, "pod bookinfo/productpage-v1-5d7f-q2");
    insta::assert_snapshot!("bench_form", render(&s, 120, 24));
    // An invalid rate keeps the form open and names the field.
    apply_action(&mut s, Action::FormNext);
    apply_action(&mut s, Action::FormNext);
    for _ in 0..3 {
        apply_action(&mut s, Action::InputBackspace);
    }
    apply_action(&mut s, Action::InputChar('-'));
    apply_action(&mut s, Action::InputChar('1'));
    assert_eq!(apply_action(&mut s, Action::InputSubmit), None);
    assert!(
        s.bench_form
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .starts_with("rate (req/s): \"-1\" is below 0")
    );
    apply_action(&mut s, Action::InputBackspace);
    apply_action(&mut s, Action::InputBackspace);
    for c in "250".chars() {
        apply_action(&mut s, Action::InputChar(c));
    }
    match apply_action(&mut s, Action::InputSubmit) {
        Some(meshtop::app::Effect::StartBench { id, config, target }) => {
            assert_eq!(id, 1);
            assert_eq!(
                (config.spec.url.as_str(), config.spec.rate, config.spec.connections),
                ("http://10.77.16.10:80/", 250.0, 10)
            );
            assert_eq!(
                target.pods,
                vec![("bookinfo".to_string(), "productpage-v1-5d7f-q2".to_string())]
            );
        }
        other => panic!("expected a run to start, got {other:?}"),
    }
    assert!(s.bench_form.is_none());
    assert_eq!(s.entry().view, View::Bench);
}

/// A run with `--insecure` against an https:// URL says so in the panel's title; the same
/// run over http:// has no TLS to speak of.
#[test]
fn an_unverified_tls_run_says_so() {
    for (url, insecure, said) in [
        ("https://127.0.0.1:8443/", true, true),
        ("https://127.0.0.1:8443/", false, false),
        ("http://127.0.0.1:8080/", true, false),
    ] {
        let mut s = state();
        for mut u in recorded() {
            if let Update::BenchStarted { config, .. } = &mut u.update {
                config.url = url.into();
                config.insecure = insecure;
            }
            fold(&mut s, u);
        }
        apply_action(&mut s, Action::ShowBench);
        let screen = render(&s, 160, 20);
        let title = screen.lines().find(|l| l.contains(" bench #")).unwrap();
        assert_eq!(
            title.contains("· TLS not verified "),
            said,
            "{url} insecure={insecure}: {title}"
        );
    }
}

#[test]
fn an_unreachable_pod_ip_is_said_plainly() {
    let mut s = state();
    let mut updates = recorded();
    // The same run, as if nothing answered at productpage's pod IP.
    for u in &mut updates {
        match &mut u.update {
            Update::BenchStarted { config, .. } => config.url = "http://10.77.16.10:80/".into(),
            Update::BenchProgress { progress, .. } => {
                progress.errors.connect = progress.requests;
                progress.responses = 0;
            }
            Update::BenchFinished { result, .. } => {
                result.errors.connect = result.requests;
                result.responses = 0;
            }
            _ => {}
        }
    }
    for u in updates {
        fold(&mut s, u);
    }
    let hint = meshtop::app::bench::reachability_hint(&s, &s.benches[0]).unwrap();
    assert!(
        hint.starts_with(
            "10.77.16.10 is the IP of pod bookinfo/productpage-v1-5d7f-q2, and it is not reachable from this machine"
        ),
        "{hint}"
    );
}

/// Records the fixture: 3 s at 200 req/s over 4 connections against a local nginx.
#[tokio::test]
#[ignore]
async fn regenerate() {
    let nginx = support::servers::Nginx::start();
    let mut config = meshtop::bench::BenchConfig::new(nginx.url("/"));
    config.spec.rate = 200.0;
    config.spec.connections = 4;
    config.spec.duration = Some(std::time::Duration::from_secs(3));
    config.spec.label = Some("nginx".into());
    let target = meshtop::app::bench::BenchTarget {
        origin: "url".into(),
        pods: vec![],
        sweep: None,
    };
    let mut out = vec![Stamped {
        at: 1_795_600_000_000,
        update: Update::BenchStarted {
            id: 1,
            config: Box::new(meshtop::bench::config::shown_spec(&config)),
            target,
        },
    }];
    let t0 = std::time::Instant::now();
    let at = |t0: std::time::Instant| 1_795_600_000_000 + t0.elapsed().as_millis() as i64;
    let result = meshtop::bench::engine::run(config, |p| {
        out.push(Stamped {
            at: at(t0),
            update: Update::BenchProgress {
                id: 1,
                progress: Box::new(p.clone()),
            },
        })
    })
    .await
    .unwrap();
    out.push(Stamped {
        at: at(t0),
        update: Update::BenchFinished {
            id: 1,
            result: Box::new(result),
        },
    });
    let text: String = out.iter().map(|u| serde_json::to_string(u).unwrap() + "\n").collect();
    std::fs::write(support::repo().join(FIXTURE), text).unwrap();
}

/// Two recorded runs marked with `c` in the bench view and compared in the Compare view
/// (8): the second is the first made twice as slow at 80 % of the throughput, on another
/// target, so the verdict and the differences are known exactly.
#[test]
fn marked_runs_are_compared_in_the_compare_view() {
    let updates = recorded();
    let mut s = state();
    let mut second = Vec::new();
    for u in &updates {
        match &u.update {
            Update::BenchStarted { config, target, .. } => {
                let mut config = config.clone();
                config.url = "http://10.77.16.99:80/".into();
                second.push(Stamped {
                    at: u.at + 10_000,
                    update: Update::BenchStarted {
                        id: 2,
                        config,
                        target: target.clone(),
                    },
                });
            }
            Update::BenchFinished { result, .. } => {
                let mut r = result.clone();
                r.url = "http://10.77.16.99:80/".into();
                let d = &mut r.latency;
                d.p50 *= 2;
                d.p90 *= 2;
                d.p99 *= 2;
                d.p999 *= 2;
                r.achieved_rate *= 0.8;
                second.push(Stamped {
                    at: u.at + 10_000,
                    update: Update::BenchFinished { id: 2, result: r },
                });
            }
            _ => {}
        }
        fold(&mut s, u.clone());
    }
    let first_id = s.benches[0].id;
    assert_eq!(first_id, 1, "the fixture's run is #1");
    for u in second {
        fold(&mut s, u);
    }
    apply_action(&mut s, Action::ShowCompare);
    assert_eq!(s.entry().view, View::Compare);
    let screen = render(&s, 120, 12);
    assert!(
        screen.contains("mark two finished runs with c in the bench view (7)"),
        "{screen}"
    );
    apply_action(&mut s, Action::ShowBench);
    apply_action(&mut s, Action::ToggleCompareMark);
    assert_eq!(
        s.flash.as_deref(),
        Some("run #1 marked: mark another with c, then 8 compares them")
    );
    apply_action(&mut s, Action::Down);
    apply_action(&mut s, Action::ToggleCompareMark);
    assert_eq!(s.flash.as_deref(), Some("run #2 marked (2 marked): 8 compares them"));
    assert_eq!(s.compare_marks, [1, 2]);
    let r1 = s.benches[0].result.as_ref().unwrap();
    let c = &s.comparison;
    assert_eq!(c.rows.len(), 2);
    assert_eq!(c.rows[1].run.p99_ms, 2.0 * r1.latency.p99 as f64 / 1e3);
    let verdict = &c.verdicts[0];
    assert!(verdict.starts_with("#2 vs #1: p99 +"), "{verdict}");
    assert!(
        verdict.contains("(+100%), p50 +") && verdict.ends_with("throughput -20%"),
        "{verdict}"
    );
    assert_eq!(
        c.differences,
        ["#2 vs #1: target http://10.77.16.99:80/ vs http://127.0.0.1:41791/"]
    );
    apply_action(&mut s, Action::ShowCompare);
    insta::assert_snapshot!("compare_view", render(&s, 120, 12));
    // Back in the bench view the first run is selected: unmarking it leaves one run,
    // nothing to compare, and the view says so.
    apply_action(&mut s, Action::ShowBench);
    apply_action(&mut s, Action::ToggleCompareMark);
    assert_eq!(s.flash.as_deref(), Some("run #1 unmarked (1 marked)"));
    assert_eq!(s.comparison.rows.len(), 0);
    assert_eq!(
        s.comparison.note.as_deref(),
        Some("one run marked: mark another finished run with c in the bench view (7)")
    );
    // A marked run that fails is said to have failed, not to be running.
    let started = updates
        .iter()
        .find(|u| matches!(u.update, Update::BenchStarted { .. }))
        .unwrap();
    if let Update::BenchStarted { config, target, .. } = &started.update {
        fold(
            &mut s,
            Stamped {
                at: started.at + 20_000,
                update: Update::BenchStarted {
                    id: 3,
                    config: config.clone(),
                    target: target.clone(),
                },
            },
        );
    }
    apply_action(&mut s, Action::ShowBench);
    apply_action(&mut s, Action::Down);
    apply_action(&mut s, Action::Down);
    apply_action(&mut s, Action::ToggleCompareMark);
    assert_eq!(s.compare_marks, [2, 3]);
    assert_eq!(
        s.comparison.note.as_deref(),
        Some("1 marked run(s) still running: the comparison appears when they end")
    );
    fold(
        &mut s,
        Stamped {
            at: started.at + 21_000,
            update: Update::BenchFailed {
                id: 3,
                message: "connection refused".into(),
            },
        },
    );
    assert_eq!(
        s.comparison.note.as_deref(),
        Some("marked run(s) #3 failed, with no result to compare: mark finished runs")
    );
}

/// A sweep folded from updates: its runs (the recorded run, replayed as each target and
/// step with the mesh route slower), readings of the meshed pod during and after them,
/// and its end. The table, its resources and the Compare view come from the fold alone,
/// and a recording started afterwards restores the same sweep.
#[test]
fn a_sweep_builds_its_table_and_resources_from_updates() {
    use meshtop::app::sweep::{SweepRun, pods_for_url, run_id};
    use meshtop::model::sweep::{Stat, SweepSpec, SweepTarget};
    use meshtop::model::{ContainerUsage, PodUsage, UsageOrigin};

    let updates = recorded();
    let mut s = state();
    let (started, progress, finished) = {
        let find = |f: fn(&Update) -> bool| updates.iter().find(|u| f(&u.update)).unwrap().clone();
        (
            find(|u| matches!(u, Update::BenchStarted { .. })),
            find(|u| matches!(u, Update::BenchProgress { .. })),
            find(|u| matches!(u, Update::BenchFinished { .. })),
        )
    };
    let (Update::BenchStarted { config, .. }, Update::BenchFinished { result, .. }) =
        (&started.update, &finished.update)
    else {
        unreachable!()
    };
    let mesh_url = "http://10.77.16.10:80/";
    let (pods, note) = pods_for_url(&s, mesh_url);
    assert_eq!(pods, [("bookinfo".to_string(), "productpage-v1-5d7f-q2".to_string())]);
    assert_eq!(note, None);
    let (none, why) = pods_for_url(&s, "http://127.0.0.1:41791/");
    assert!(none.is_empty() && why.unwrap().ends_with("nothing matched 127.0.0.1"));
    let spec = SweepSpec {
        label: Some("demo".into()),
        baseline: "direct".into(),
        varies: "connections".into(),
        steps: vec![(4, 0.0), (8, 0.0)],
        targets: vec![
            SweepTarget {
                name: "direct".into(),
                url: "http://127.0.0.1:41791/".into(),
                pods: vec![],
                pods_note: why_not(&s),
                mesh: None,
                mesh_version: None,
                mtls: None,
            },
            SweepTarget {
                name: "mesh".into(),
                url: mesh_url.into(),
                pods: pods.clone(),
                pods_note: None,
                mesh: Some("istio".into()),
                mesh_version: Some("1.24.0".into()),
                mtls: None,
            },
        ],
        duration_s: 3.0,
        requests_per_run: None,
        warmup_s: 0.0,
        cooldown_s: 0.0,
        repeat: 1,
        protocol: "HTTP/1.1".into(),
        kubernetes_version: Some("v1.34.4".into()),
        tls_not_verified: false,
    };
    fn why_not(s: &State) -> Option<String> {
        pods_for_url(s, "http://127.0.0.1:41791/").1
    }
    let t0 = finished.at + 60_000;
    fold(
        &mut s,
        Stamped {
            at: t0,
            update: Update::SweepStarted {
                id: 1,
                spec: Box::new(spec.clone()),
            },
        },
    );
    let reading = |end: i64, proxy_cpu: f64| PodUsage {
        namespace: "bookinfo".into(),
        name: "productpage-v1-5d7f-q2".into(),
        timestamp: Some(jiff::Timestamp::from_millisecond(end).unwrap().to_string()),
        window_s: Some(2.0),
        containers: vec![
            ContainerUsage {
                name: "app".into(),
                cpu_millicores: 100.0,
                memory_bytes: 64 << 20,
            },
            ContainerUsage {
                name: "istio-proxy".into(),
                cpu_millicores: proxy_cpu,
                memory_bytes: 32 << 20,
            },
        ],
    };
    let istiod = PodUsage {
        namespace: "istio-system".into(),
        name: "istiod-7d4b9c-x1".into(),
        timestamp: None,
        window_s: None,
        containers: vec![ContainerUsage {
            name: "discovery".into(),
            cpu_millicores: 35.0,
            memory_bytes: 60 << 20,
        }],
    };
    // Four runs, 10 s apart: step c=4 (direct, mesh), then c=8 (direct, mesh).
    for index in 0..4u32 {
        let at = t0 + 10_000 * i64::from(index);
        let id = run_id(1, index as usize);
        let mesh = index % 2 == 1;
        let mut r = result.clone();
        r.started_at = at;
        r.ended_at = at + 3_000;
        if mesh {
            for q in [
                &mut r.latency.p50,
                &mut r.latency.p90,
                &mut r.latency.p99,
                &mut r.latency.p999,
            ] {
                *q = *q * 3 / 2;
            }
        }
        let target = meshtop::app::bench::BenchTarget {
            origin: format!("sweep 1 run {index}"),
            pods: if mesh { pods.clone() } else { vec![] },
            sweep: Some(SweepRun { sweep: 1, index }),
        };
        let mut out = vec![(
            at,
            Update::BenchStarted {
                id,
                config: config.clone(),
                target,
            },
        )];
        if let Update::BenchProgress { progress, .. } = &progress.update {
            out.push((
                at + 1_000,
                Update::BenchProgress {
                    id,
                    progress: progress.clone(),
                },
            ));
        }
        // Readings arrive late: the one measured over the run comes after it ended.
        out.push((at + 3_000, Update::BenchFinished { id, result: r }));
        out.push((
            at + 4_000,
            Update::PodUsage {
                usages: vec![reading(at + 2_500, if index < 2 { 40.0 } else { 80.0 }), istiod.clone()],
                origin: UsageOrigin::MetricsServer,
            },
        ));
        for (at, update) in out {
            fold(&mut s, Stamped { at, update });
        }
    }
    fold(
        &mut s,
        Stamped {
            at: t0 + 40_000,
            update: Update::SweepFinished {
                id: 1,
                cancelled: false,
            },
        },
    );
    let sweep = &s.sweeps[0];
    assert!(!sweep.running());
    assert_eq!(sweep.done(&s.benches), 4);
    let r = &sweep.result;
    support::sweep::assert_recomputed(r);
    assert_eq!(r.steps.len(), 2);
    for (step, proxy_cpu) in r.steps.iter().zip([40.0, 80.0]) {
        let (direct, mesh) = (&step.targets[0], &step.targets[1]);
        assert_eq!(mesh.slowdown.p50, Some(mesh.p50_ms / direct.p50_ms));
        assert_eq!(direct.resources, None);
        assert!(direct.resources_note.as_deref().unwrap().starts_with("no pods"));
        let res = mesh.resources.as_ref().expect("the meshed pod's readings");
        assert_eq!(res.proxy_cpu_millis.mean, proxy_cpu);
        assert_eq!(res.app_cpu_millis.mean, 100.0);
        assert_eq!(res.proxy_memory_mib.mean, 32.0);
        assert_eq!(res.proxy_cpu_millis_per_1k_rps, Some(proxy_cpu / (mesh.rps / 1000.0)));
        // istiod: the control plane of the pod's mesh.
        assert_eq!(res.control_plane_cpu_millis, Some(Stat { mean: 35.0, max: 35.0 }));
        assert_eq!(res.control_plane_memory_mib, Some(Stat { mean: 60.0, max: 60.0 }));
    }
    // With nothing marked, the Compare view shows the sweep, each target against its
    // step's baseline.
    apply_action(&mut s, Action::ShowCompare);
    let c = &s.comparison;
    assert_eq!(c.rows.len(), 4);
    assert_eq!(c.verdicts.len(), 2);
    assert!(
        c.verdicts[0].starts_with("c=4 mesh vs direct: p99 +"),
        "{:?}",
        c.verdicts
    );
    assert!(
        c.note
            .as_deref()
            .unwrap()
            .starts_with("sweep 1: 4 runs; baseline direct")
    );
    insta::assert_snapshot!("compare_view_sweep", render(&s, 120, 14));
    // A second sweep, stopped: its first run fails to start, its second ends with no
    // reading measured while it ran (the only one comes from long after).
    let mut spec2 = spec.clone();
    spec2.steps = vec![(4, 0.0)];
    let t1 = t0 + 120_000;
    let mut second = vec![(
        t1,
        Update::SweepStarted {
            id: 2,
            spec: Box::new(spec2),
        },
    )];
    let tag = |index: u32| meshtop::app::bench::BenchTarget {
        origin: format!("sweep 2 run {index}"),
        pods: if index == 1 { pods.clone() } else { vec![] },
        sweep: Some(SweepRun { sweep: 2, index }),
    };
    second.push((
        t1,
        Update::BenchStarted {
            id: run_id(2, 0),
            config: config.clone(),
            target: tag(0),
        },
    ));
    second.push((
        t1,
        Update::BenchFailed {
            id: run_id(2, 0),
            message: "connecting to 127.0.0.1:41791: refused".into(),
        },
    ));
    let mut r = result.clone();
    r.started_at = t1 + 1_000;
    r.ended_at = t1 + 4_000;
    second.push((
        t1 + 1_000,
        Update::BenchStarted {
            id: run_id(2, 1),
            config: config.clone(),
            target: tag(1),
        },
    ));
    second.push((
        t1 + 4_000,
        Update::BenchFinished {
            id: run_id(2, 1),
            result: r,
        },
    ));
    second.push((
        t1 + 30_000,
        Update::PodUsage {
            usages: vec![reading(t1 + 29_000, 50.0), istiod.clone()],
            origin: UsageOrigin::MetricsServer,
        },
    ));
    second.push((t1 + 31_000, Update::SweepFinished { id: 2, cancelled: true }));
    for (at, update) in second {
        fold(&mut s, Stamped { at, update });
    }
    let stopped = &s.sweeps[1];
    assert!(stopped.cancelled && stopped.result.cancelled);
    let step = &stopped.result.steps[0];
    let (direct, mesh) = (&step.targets[0], &step.targets[1]);
    assert_eq!(direct.run_errors, ["connecting to 127.0.0.1:41791: refused"]);
    assert!(direct.runs.is_empty());
    // No baseline response: no ratio, and the note says why.
    assert_eq!(mesh.slowdown.p99, None);
    assert!(
        mesh.note
            .as_deref()
            .unwrap()
            .contains("the baseline \"direct\" got no response"),
        "{:?}",
        mesh.note
    );
    assert_eq!(mesh.resources, None);
    assert_eq!(mesh.resources_note.as_deref(), Some(meshtop::app::sweep::NO_READING));
    // The Compare view now shows the latest sweep: nothing to set against, no verdict.
    let c = &s.comparison;
    assert_eq!(c.rows.len(), 2);
    assert!(c.rows.iter().all(|r| r.against.is_none()), "{:?}", c.rows);
    assert!(c.verdicts.is_empty(), "{:?}", c.verdicts);
    assert!(
        c.note
            .as_deref()
            .unwrap()
            .starts_with("sweep 2 stopped after 2 of 2 runs"),
        "{:?}",
        c.note
    );

    // A recording started now restores the same sweeps.
    let mut again = State::new(Keymap::default());
    for u in meshtop::app::snapshot::snapshot(&s) {
        fold(&mut again, u);
    }
    assert_eq!(again.sweeps, s.sweeps);
}

/// An in-cluster run from the form: refused without --allow-writes (the form says why),
/// else every object it would write is named with its namespace for the user to confirm;
/// n goes back to the form with nothing started, y starts it.
#[test]
fn in_cluster_agents_from_the_form_ask_before_writing() {
    use meshtop::app::bench::Field;
    use meshtop::model::access::Writes;
    let mut s = state();
    apply_action(&mut s, Action::ShowPods);
    apply_action(&mut s, Action::Down);
    apply_action(&mut s, Action::NewBench);
    // To the agents field, the last one.
    while s.bench_form.as_ref().unwrap().focused() != Field::Agents {
        apply_action(&mut s, Action::FormNext);
    }
    for c in "3".chars() {
        apply_action(&mut s, Action::InputChar(c));
    }
    assert_eq!(apply_action(&mut s, Action::InputSubmit), None);
    assert_eq!(
        s.bench_form.as_ref().unwrap().error.as_deref(),
        Some(
            "in-cluster agents: a Job and a Secret would be created in namespace bookinfo; start meshtop with \
             --allow-writes"
        )
    );
    assert!(s.confirm.is_none());
    insta::assert_snapshot!("bench_form_agents_refused", render(&s, 120, 26));

    s.writes = Writes::Allowed;
    assert_eq!(
        apply_action(&mut s, Action::InputSubmit),
        None,
        "nothing starts before the answer"
    );
    assert_eq!(s.mode, meshtop::app::Mode::Confirm);
    let c = s.confirm.as_ref().expect("a question");
    assert_eq!(c.writes.len(), 4);
    assert!(c.writes[0].starts_with("create Job (3 agent pods, image ghcr.io/meshtop/meshtop:"));
    assert!(c.writes[0].contains("), suspended meshtop-agents-"));
    assert!(
        c.writes[1].starts_with("create Secret (the target URL, headers and body), owned by the Job meshtop-agents-")
    );
    assert!(c.writes[2].starts_with("patch Job (resumed: its pods start) meshtop-agents-"));
    assert!(
        c.writes.iter().all(|w| w.ends_with(" in namespace bookinfo")),
        "{:?}",
        c.writes
    );
    // The run ID is random: the screen is compared with it blanked.
    let run = c.writes[0].split("meshtop-agents-").nth(1).unwrap()[..8].to_string();
    insta::assert_snapshot!("bench_confirm_agents", render(&s, 120, 26).replace(&run, "RUNID___"));

    // Keys other than y and n leave the question; n goes back to the form.
    let km = Keymap::default();
    let key = |c: char| meshtop::app::keymap::KeyCombo::parse(&c.to_string()).unwrap();
    assert_eq!(km.resolve(s.mode, meshtop::app::state::ViewKind::Bench, key('x')), None);
    assert_eq!(
        km.resolve(s.mode, meshtop::app::state::ViewKind::Bench, key('y')),
        Some(Action::InputSubmit)
    );
    assert_eq!(apply_action(&mut s, Action::InputCancel), None);
    assert_eq!(s.mode, meshtop::app::Mode::Form);
    assert!(s.confirm.is_none() && s.bench_form.is_some());
    assert_eq!(s.flash.as_deref(), Some("nothing was created"));

    apply_action(&mut s, Action::InputSubmit);
    match apply_action(&mut s, Action::InputSubmit) {
        Some(meshtop::app::Effect::StartInClusterBench { id, config, agents, .. }) => {
            assert_eq!(id, 1);
            assert_eq!((agents.agents, agents.namespace.as_str()), (3, "bookinfo"));
            assert_eq!(config.spec.url, "http://10.77.16.10:80/");
        }
        other => panic!("expected an in-cluster run, got {other:?}"),
    }
    assert!(s.bench_form.is_none() && s.confirm.is_none());
    assert_eq!(s.entry().view, View::Bench);
}

/// Agents that cannot each get a share, or a sweep with agents, are refused by the form.
#[test]
fn in_cluster_agents_need_a_share_each() {
    use meshtop::app::bench::Field;
    let mut s = state();
    s.writes = meshtop::model::access::Writes::Allowed;
    apply_action(&mut s, Action::ShowPods);
    apply_action(&mut s, Action::NewBench);
    while s.bench_form.as_ref().unwrap().focused() != Field::Agents {
        apply_action(&mut s, Action::FormNext);
    }
    for c in "20".chars() {
        apply_action(&mut s, Action::InputChar(c));
    }
    assert_eq!(apply_action(&mut s, Action::InputSubmit), None);
    assert_eq!(
        s.bench_form.as_ref().unwrap().error.as_deref(),
        Some("agents: 10 connections over 20 agents leaves some agents none: give at least one connection per agent")
    );
    assert!(s.confirm.is_none());
}

/// The live panel of an in-cluster run lists its agents, failures and stragglers first.
#[test]
fn an_in_cluster_run_lists_its_agents() {
    use meshtop::model::bench::{AgentPhase, AgentStatus};
    let mut s = state();
    apply_action(&mut s, Action::ShowBench);
    let updates = recorded();
    let middle = updates
        .iter()
        .position(|u| matches!(&u.update, Update::BenchProgress { progress, .. } if progress.elapsed_s >= 1.5))
        .unwrap();
    for u in &updates[..=middle] {
        fold(&mut s, u.clone());
    }
    let agent = |index: u32, state: AgentPhase, requests: u64, behind: bool, why: Option<&str>| AgentStatus {
        index,
        pod: Some(format!("meshtop-agents-1a2b3c4d-{index}-x7k2p")),
        state,
        why: why.map(str::to_string),
        share: "rate 40/s, 2 connections".into(),
        requests,
        rate: if state == AgentPhase::Running { 40.0 } else { 0.0 },
        behind,
    };
    let id = s.benches[0].id;
    fold(
        &mut s,
        Stamped::now(Update::BenchAgents {
            id,
            agents: vec![
                agent(0, AgentPhase::Running, 61, false, None),
                agent(
                    1,
                    AgentPhase::Failed,
                    20,
                    false,
                    Some("pod meshtop-agents-1a2b3c4d-1-x7k2p failed (exit code 137, Error)"),
                ),
                agent(2, AgentPhase::Running, 52, true, None),
            ],
        }),
    );
    let text = render(&s, 140, 40);
    insta::assert_snapshot!("bench_agents", text);
}

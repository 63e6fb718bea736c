//! What users do on a big cluster: 10,000 and 30,000 pods, live traffic figures on every
//! meshed pod (two scrape rounds, so every window is complete), usage for every pod; the
//! pods, workloads and edges views sorted by P99 (busiest first) at 200x60, scrolled.
//! Prints the fold time of one scrape round and frame build+draw p50/p99; asserts nothing.
//! Then rows that come and go (a pod deleted and one created before each frame, as under
//! churn of creates and deletes), in the pods view's own order and filtered by name.
//! On a shared machine, stalls of 10-20 ms come and go between runs (the thread's CPU time
//! counts them too, so they cannot be told apart from work): frames are drawn in three
//! passes, and the pass with the median p99 is reported beside all three p99s.
//! Run: cargo bench --bench render

use std::time::Instant;

use meshtop::app::table::{Table, edges::Edges, pods::Pods, workloads::Workloads};
use meshtop::app::{Action, Keymap, Stamped, State, Update, apply_action, fold_all};
use meshtop::metrics::golden::{Dialect, Totals};
use meshtop::model::{ContainerInfo, ContainerKind, ContainerUsage, OwnerRef, PodInfo, PodUsage};
use meshtop::ui::Ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Frames drawn per view and pass (p99 is then the 10th slowest).
const FRAMES: usize = 1000;
const PASSES: usize = 3;

/// The live loop folds at most this many updates between frames (run.rs's MAX_BATCH + 1).
const BATCH: usize = 2049;

/// Folds as the live loop does: in batches, aggregates settled once per batch.
fn fold_batches(state: &mut State, updates: Vec<Stamped>) {
    let mut updates = updates.into_iter().peekable();
    while updates.peek().is_some() {
        fold_all(state, updates.by_ref().take(BATCH));
    }
}

const T0: i64 = 1_790_000_000_000;
/// Pods per workload (a Deployment's replicas).
const REPLICAS: usize = 10;
/// Istio's default request-duration buckets (ms).
const BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0, 300000.0,
    600000.0, 1800000.0, 3600000.0,
];

fn meshed(i: usize) -> Option<(&'static str, &'static str, Dialect)> {
    // One pod in ten carries an Istio sidecar, one in ten a Linkerd one.
    match i % 10 {
        0 => Some(("istio-proxy", "docker.io/istio/proxyv2:1.24.0", Dialect::Istio)),
        1 => Some((
            "linkerd-proxy",
            "cr.l5d.io/linkerd/proxy:stable-2.14.10",
            Dialect::Linkerd,
        )),
        _ => None,
    }
}

fn pod(i: usize) -> PodInfo {
    let mut containers = vec![ContainerInfo {
        name: "app".into(),
        image: "example/app:1.0".into(),
        kind: ContainerKind::Main,
        ports: vec![],
        ready: true,
        restarts: 0,
    }];
    if let Some((name, image, _)) = meshed(i) {
        containers.push(ContainerInfo {
            name: name.into(),
            image: image.into(),
            ..containers[0].clone()
        });
    }
    PodInfo {
        namespace: format!("ns-{:03}", i % 200),
        name: format!("pod-{i:05}"),
        phase: "Running".into(),
        ready: containers.len() as u32,
        containers: containers.len() as u32,
        node: Some(format!("kwok-node-{}", i % 2)),
        ip: Some(format!("10.77.{}.{}", 16 + i / 250, i % 250)),
        created: Some(T0),
        containers_info: containers,
        // Pods i, i+200, i+400... share a namespace; every REPLICAS of them a Deployment.
        owner: Some(OwnerRef {
            kind: "Deployment".into(),
            name: format!("app-{:04}", i / (200 * REPLICAS) * 200 + i % 200),
        }),
        ..Default::default()
    }
}

/// Cumulative counters of pod `i` after `round` scrapes: its rate and latency spread
/// depend on the pod, so sorting by P99 has work to do.
fn totals(i: usize, round: usize, share: f64) -> Totals {
    let requests = (10 + i % 97) as f64 * 5.0 * round as f64 * share;
    let slow = (i % 13) as f64 / 13.0;
    let mut cumulative = 0.0;
    let latency_ms = BUCKETS
        .iter()
        .enumerate()
        .map(|(b, le)| {
            cumulative += match b {
                0..=2 => requests * (1.0 - slow) / 3.0,
                3..=5 => requests * slow / 3.0,
                _ => 0.0,
            };
            (*le, cumulative.min(requests))
        })
        .chain([(f64::INFINITY, requests)])
        .collect();
    Totals {
        requests,
        successes: requests * 0.99,
        mtls_requests: requests,
        latency_ms,
        tcp_open_connections: 4.0,
        ..Totals::default()
    }
}

fn scrape_round(pods: usize, round: usize) -> Vec<Stamped> {
    (0..pods)
        .filter_map(|i| {
            let (_, _, dialect) = meshed(i)?;
            // Each meshed pod calls three destinations.
            let edges = (0..3)
                .map(|d| {
                    (
                        format!("svc-{}.ns-{:03}.svc.cluster.local", (i + d) % 50, d),
                        totals(i, round, 0.3),
                    )
                })
                .collect();
            let p = pod(i);
            Some(Stamped {
                at: T0 + round as i64 * 5_000,
                update: Update::ProxyScraped {
                    namespace: p.namespace,
                    pod: p.name,
                    dialect,
                    inbound: totals(i, round, 1.0),
                    outbound: totals(i, round, 0.9),
                    edges,
                    described: Default::default(),
                    bad_lines: 0,
                    first_bad_line: None,
                },
            })
        })
        .collect()
}

fn usage(pods: usize) -> Stamped {
    let usages = (0..pods)
        .map(|i| {
            let p = pod(i);
            let mut containers = vec![ContainerUsage {
                name: "app".into(),
                cpu_millicores: (i % 300) as f64,
                memory_bytes: (64 + i as u64 % 64) << 20,
            }];
            if let Some((name, _, _)) = meshed(i) {
                containers.push(ContainerUsage {
                    name: name.into(),
                    cpu_millicores: (i % 40) as f64,
                    memory_bytes: 40 << 20,
                });
            }
            PodUsage {
                namespace: p.namespace,
                name: p.name,
                timestamp: None,
                window_s: Some(15.0),
                containers,
            }
        })
        .collect();
    Stamped {
        at: T0 + 1_000,
        update: Update::PodUsage {
            usages,
            origin: Default::default(),
        },
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Draws one frame; its time in ms.
fn frame(term: &mut Terminal<TestBackend>, ui: &Ui, state: &State) -> f64 {
    let t = Instant::now();
    term.draw(|f| ui.render(state, f)).unwrap();
    ms(t)
}

fn sorted(mut samples: Vec<f64>) -> Vec<f64> {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

fn new_state() -> State {
    State::new(Keymap::default())
}

/// Sorts the open view by the column named `name`, reversed (largest first).
fn sort_by(state: &mut State, columns: &[&str], name: &str) {
    let at = columns.iter().position(|c| *c == name).expect("column exists");
    while state.entry().sort_column != at {
        apply_action(state, Action::SortNext);
    }
    apply_action(state, Action::SortReverse);
}

fn headers<T: Table>() -> Vec<&'static str> {
    T::columns().iter().map(|c| c.header).collect()
}

fn main() {
    // MESHTOP_BENCH_PODS=N runs one size only (e.g. a quick look in a debug build).
    let sizes: Vec<usize> = match std::env::var("MESHTOP_BENCH_PODS") {
        Ok(n) => vec![n.parse().expect("MESHTOP_BENCH_PODS is a number of pods")],
        Err(_) => vec![10_000, 30_000],
    };
    for pods in sizes {
        let list: Vec<Stamped> = (0..pods)
            .map(|i| Stamped {
                at: T0,
                update: Update::PodApplied { pod: pod(i) },
            })
            .collect();
        let mut state = new_state();
        let t = Instant::now();
        fold_batches(&mut state, list);
        println!("{pods} pods: fold of the initial list: {:.1} ms", ms(t));
        let t = Instant::now();
        fold_all(&mut state, [usage(pods)]);
        println!("{pods} pods: fold of one usage list: {:.1} ms", ms(t));
        for round in 1..=3 {
            let updates = scrape_round(pods, round);
            let n = updates.len();
            let t = Instant::now();
            fold_batches(&mut state, updates);
            println!(
                "{pods} pods: fold of scrape round {round} ({n} proxies): {:.1} ms",
                ms(t)
            );
        }

        let ui = Ui::builtin();
        let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
        let views: [(&str, Action, Vec<&str>); 3] = [
            ("pods", Action::ShowPods, headers::<Pods>()),
            ("workloads", Action::ShowWorkloads, headers::<Workloads>()),
            ("edges", Action::ShowEdges, headers::<Edges>()),
        ];
        let mut round = 3;
        for (label, action, columns) in views {
            apply_action(&mut state, action);
            sort_by(&mut state, &columns, "P99");
            let mut passes: Vec<Vec<f64>> = (0..PASSES)
                .map(|_| {
                    let times = (0..FRAMES).map(|i| {
                        // Move the selection so every frame differs, as when scrolling.
                        apply_action(&mut state, if i % 2 == 0 { Action::Down } else { Action::PageDown });
                        frame(&mut term, &ui, &state)
                    });
                    sorted(times.collect())
                })
                .collect();
            passes.sort_by(|a, b| percentile(a, 0.99).total_cmp(&percentile(b, 0.99)));
            let median = &passes[PASSES / 2];
            let p99s: Vec<String> = passes.iter().map(|p| format!("{:.2}", percentile(p, 0.99))).collect();
            println!(
                "{pods} pods: {label} view by P99, 200x60: frame build+draw p50 {:.2} ms, p99 {:.2} ms ({FRAMES} frames; the {PASSES} passes' p99 {} ms)",
                percentile(median, 0.5),
                percentile(median, 0.99),
                p99s.join("/")
            );
            // The first frame after new figures re-sorts: a scrape round, then draw.
            let mut after = Vec::new();
            for _ in 0..9 {
                round += 1;
                fold_batches(&mut state, scrape_round(pods, round));
                after.push(frame(&mut term, &ui, &state));
            }
            let after = sorted(after);
            println!(
                "{pods} pods: {label} view by P99, 200x60: first frame after a scrape round (re-sort) median {:.2} ms, max {:.2} ms ({} rounds)",
                percentile(&after, 0.5),
                after[after.len() - 1],
                after.len()
            );
        }

        // Rows that come and go: the pods view (back to it) in its own order, then
        // filtered by name; before each frame one pod is deleted and a new one created.
        let mut state = state;
        apply_action(&mut state, Action::ShowPods);
        while state.entry().sort_column != 0 {
            apply_action(&mut state, Action::SortNext);
        }
        if state.entry().sort_reverse {
            apply_action(&mut state, Action::SortReverse);
        }
        let mut next = pods;
        // One count over both passes, so the second deletes pods the first did not.
        let mut k = 0;
        for filter in ["", "pod-0"] {
            apply_action(&mut state, Action::StartFilter);
            for c in filter.chars() {
                apply_action(&mut state, Action::InputChar(c));
            }
            apply_action(&mut state, Action::InputSubmit);
            frame(&mut term, &ui, &state);
            let built = state.row_cache.built();
            let times: Vec<f64> = (0..200)
                .map(|_| {
                    k += 1;
                    let gone = pod((k * 7919) % pods);
                    let mut new = pod(next);
                    new.name = format!("churn-{next:05}");
                    next += 1;
                    fold_all(
                        &mut state,
                        [
                            Stamped {
                                at: T0,
                                update: Update::PodDeleted {
                                    namespace: gone.namespace,
                                    name: gone.name,
                                },
                            },
                            Stamped {
                                at: T0,
                                update: Update::PodApplied { pod: new },
                            },
                        ],
                    );
                    frame(&mut term, &ui, &state)
                })
                .collect();
            let times = sorted(times);
            let now = state.row_cache.built();
            println!(
                "{pods} pods: pods view{}, a pod deleted and one created before each frame: build+draw p50 {:.2} ms, p99 {:.2} ms ({} frames; keys built from every pod {} times, the order {} times)",
                if filter.is_empty() {
                    String::new()
                } else {
                    format!(" filtered /{filter}")
                },
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                times.len(),
                now.0 - built.0,
                now.1 - built.1,
            );
        }
    }
}

//! A recording started mid-session opens with the state written back as updates
//! (`app::snapshot`). Folding that snapshot into a fresh state must give back the world,
//! field by field. `State` is destructured without `..`: a new field fails to compile here
//! until it is either compared or listed as UI state.

mod support;

use meshtop::app::bench::BenchTarget;
use meshtop::app::snapshot::snapshot;
use meshtop::app::{Keymap, Stamped, State, Update, fold_all};
use meshtop::metrics::golden::Totals;
use meshtop::model::{ContainerUsage, ErrorKind, PodUsage, Resource, UsageOrigin};
use support::scenario::T0;

fn at(at: i64, update: Update) -> Stamped {
    Stamped { at, update }
}

/// The scenario, plus what a long session accumulates: usage history over several lists,
/// a finished, a failed and a running benchmark with its pods' usage, markers, a re-list
/// under way, a namespace listed on its own, scrape failures, Prometheus windows.
fn rich() -> Vec<Stamped> {
    let mut u = support::scenario::updates();
    let bench: Vec<Stamped> = support::read(&support::repo().join("tests/fixtures/bench-run.ndjson"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture line"))
        .collect();
    u.extend(bench);
    u.push(at(
        T0 + 500,
        Update::ScrapeLoad(meshtop::app::state::ScrapeLoad {
            proxies: 1_500,
            budget: 1_000,
            prometheus: None,
            round_s: 8,
            silent: 12,
        }),
    ));
    let spec: meshtop::bench::BenchSpec = meshtop::bench::BenchConfig::new("http://10.77.16.10:80/").spec.into();
    let target = BenchTarget {
        origin: "pod bookinfo/productpage-v1-5d7f-q2".into(),
        pods: vec![("bookinfo".into(), "productpage-v1-5d7f-q2".into())],
        sweep: None,
    };
    u.push(at(
        T0 + 1_000,
        Update::BenchStarted {
            id: 2,
            config: Box::new(spec.clone()),
            target: target.clone(),
        },
    ));
    u.push(at(
        T0 + 1_100,
        Update::BenchFailed {
            id: 2,
            message: "connect: refused".into(),
        },
    ));
    u.push(at(
        T0 + 2_000,
        Update::BenchStarted {
            id: 3,
            config: Box::new(spec),
            target,
        },
    ));
    let usage = |cpu: f64| Update::PodUsage {
        usages: vec![PodUsage {
            namespace: "bookinfo".into(),
            name: "productpage-v1-5d7f-q2".into(),
            timestamp: None,
            window_s: Some(15.0),
            containers: vec![
                ContainerUsage {
                    name: "app".into(),
                    cpu_millicores: cpu,
                    memory_bytes: 96 << 20,
                },
                ContainerUsage {
                    name: "istio-proxy".into(),
                    cpu_millicores: cpu / 4.0,
                    memory_bytes: 48 << 20,
                },
            ],
        }],
        origin: UsageOrigin::MetricsServer,
    };
    for i in 0..4 {
        u.push(at(T0 + 3_000 + i * 15_000, usage(100.0 + i as f64)));
    }
    u.push(at(T0 + 4_000, Update::Marker { name: "before".into() }));
    u.push(at(T0 + 5_000, Update::ApiLatency { millis: 17 }));
    u.push(at(
        T0 + 6_000,
        Update::ScrapeFailed {
            namespace: "emojivoto".into(),
            pod: "web-5f86-58p7k".into(),
            message: "HTTP 503".into(),
        },
    ));
    // A namespace listed on its own (RBAC), and a re-list of deployments under way.
    u.push(at(
        T0 + 7_000,
        Update::ListStarted {
            resource: Resource::Services,
            namespace: Some("bookinfo".into()),
            seen: vec![],
        },
    ));
    u.push(at(
        T0 + 7_000,
        Update::ListDone {
            resource: Resource::Services,
            namespace: Some("bookinfo".into()),
        },
    ));
    // Pods, listed cluster-wide by the scenario, also listed in one namespace.
    u.push(at(
        T0 + 7_500,
        Update::ListStarted {
            resource: Resource::Pods,
            namespace: Some("legacy".into()),
            seen: vec!["legacy/old-batch-job".into()],
        },
    ));
    u.push(at(
        T0 + 7_500,
        Update::ListDone {
            resource: Resource::Pods,
            namespace: Some("legacy".into()),
        },
    ));
    u.push(at(
        T0 + 8_000,
        Update::ListStarted {
            resource: Resource::Deployments,
            namespace: None,
            seen: vec![],
        },
    ));
    u.push(at(
        T0 + 8_100,
        Update::WorkloadApplied {
            workload: meshtop::mesh::detect::WorkloadInfo {
                kind: "Deployment".into(),
                namespace: "istio-system".into(),
                name: "istiod".into(),
                labels: [("app".to_string(), "istiod".to_string())].into(),
                ready: 1,
                desired: 1,
                images: vec!["docker.io/istio/pilot:1.24.0".into()],
                created: Some(T0),
            },
        },
    ));
    u.push(at(
        T0 + 9_000,
        Update::SourceError {
            resource: Resource::PodMetrics,
            namespace: None,
            kind: ErrorKind::Api,
            message: "metrics-server is unavailable: no endpoints".into(),
        },
    ));
    // Prometheus answers for one pod (the others had none in the window).
    u.push(at(
        T0 + 10_000,
        Update::PromTraffic {
            window_s: 60,
            source: "monitoring/prometheus:9090".into(),
            pods: vec![meshtop::metrics::window::PodWindow {
                described: Default::default(),
                namespace: "emojivoto".into(),
                pod: "web-5f86-58p7k".into(),
                window: meshtop::metrics::window::Window {
                    secs: 60.0,
                    increase: meshtop::metrics::window::Counters {
                        own: Totals {
                            requests: 600.0,
                            successes: 590.0,
                            ..Totals::default()
                        },
                        edges: Default::default(),
                        own_is_outbound: false,
                    },
                    partial: false,
                },
            }],
        },
    ));
    // Scrapes again after Prometheus: reviews calls ratings.
    for (i, requests) in [(0, 100.0), (1, 400.0)] {
        let t = Totals {
            requests,
            successes: requests,
            latency_ms: vec![(5.0, requests), (f64::INFINITY, requests)],
            ..Totals::default()
        };
        u.push(at(
            T0 + 20_000 + i * 10_000,
            Update::ProxyScraped {
                namespace: "bookinfo".into(),
                pod: "reviews-v2-8c9d-k7".into(),
                dialect: meshtop::metrics::golden::Dialect::Istio,
                inbound: t.clone(),
                outbound: t.clone(),
                edges: [("ratings.bookinfo.svc.cluster.local".to_string(), t)].into(),
                described: Default::default(),
                bad_lines: 0,
                first_bad_line: None,
            },
        ));
    }
    // ztunnel reports for the ambient pod's workload: what it carried, kept per workload.
    for (i, bytes) in [(0, 1_000.0), (1, 9_000.0)] {
        let t = Totals {
            bytes_read: bytes,
            l4_seen: true,
            bytes_written: bytes * 4.0,
            tcp_opened: bytes / 100.0,
            ..Totals::default()
        };
        u.push(at(
            T0 + 20_500 + i * 10_000,
            Update::ProxyScraped {
                namespace: "istio-system".into(),
                pod: "ztunnel-abcde".into(),
                dialect: meshtop::metrics::golden::Dialect::Istio,
                inbound: t.clone(),
                outbound: Totals::default(),
                edges: Default::default(),
                described: [(
                    "ambient-demo/ratings-v1-6f5c-z9".to_string(),
                    meshtop::metrics::window::Counters {
                        own: t,
                        ..Default::default()
                    },
                )]
                .into(),
                bad_lines: 0,
                first_bad_line: None,
            },
        ));
    }
    // Tap: a source and a few requests.
    u.push(at(
        T0 + 39_000,
        Update::TapSource {
            name: "deploy/web in emojivoto".into(),
            status: meshtop::model::tap::TapSourceStatus::new(
                meshtop::model::tap::TapOrigin::Linkerd,
                "deploy/web in emojivoto",
                meshtop::model::tap::TapSourceState::Streaming,
            ),
        },
    ));
    let tap_events = (0..5u16)
        .map(|i| {
            let mut e = meshtop::model::tap::TapEvent::new(
                T0 + 39_500,
                meshtop::model::tap::TapOrigin::Linkerd,
                "emojivoto/vote-bot-1".into(),
                "emojivoto/web-5f86-58p7k".into(),
            );
            e.method = Some("GET".into());
            e.path = Some(format!("/api/vote/{i}"));
            e.status = Some(if i == 4 { 503 } else { 200 });
            e.duration_ms = Some(f64::from(i) + 1.5);
            e
        })
        .collect();
    u.push(at(T0 + 39_600, Update::TapEvents { events: tap_events }));
    u.push(at(T0 + 41_000, Update::Marker { name: "after".into() }));
    u.push(at(T0 + 42_000, Update::Tick));
    u
}

fn folded(updates: Vec<Stamped>) -> State {
    let mut s = State::new(Keymap::default());
    fold_all(&mut s, updates);
    s
}

#[test]
fn folding_the_snapshot_gives_back_every_world_field() {
    let live = folded(rich());
    let written = snapshot(&live);
    // Through JSON, as a recording carries it.
    let read: Vec<Stamped> = written
        .iter()
        .map(|s| serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap())
        .collect();
    let back = folded(read);

    let State {
        cluster,
        api_latency_ms,
        api_answered_at,
        last_update,
        now,
        namespaces,
        pods,
        workloads,
        control_planes,
        crds,
        api_services,
        services,
        usage,
        usage_history,
        traffic,
        carried,
        carrier_bytes,
        traffic_origin,
        scrape_load,
        usage_origin,
        synced,
        synced_ns,
        relisting,
        errors,
        benches,
        sweeps,
        markers,
        tap,
        workload_rows,
        edges,
        overview,
        derived,
        // UI state, not the world: a recording does not carry it.
        stack: _,
        mode: _,
        input: _,
        show_help: _,
        help_scroll: _,
        replay: _,
        recording: _,
        // The session's permission (--allow-writes), not something a source told.
        writes: _,
        bench_form: _,
        // A question on screen, before a write the user has not confirmed.
        confirm: _,
        // The runs a user marked to compare, and their comparison: a choice made in the UI.
        compare_marks: _,
        comparison: _,
        window_s: _,
        flash: _,
        theme: _,
        theme_count: _,
        keymap: _,
        contexts: _,
        scroll: _,
        last_page: _,
        row_cache: _,
        dirty: _,
    } = &live;
    assert_eq!(cluster, &back.cluster);
    assert_eq!(api_latency_ms, &back.api_latency_ms);
    assert_eq!(api_answered_at, &back.api_answered_at);
    assert_eq!(last_update, &back.last_update);
    assert_eq!(now, &back.now);
    assert_eq!(namespaces, &back.namespaces);
    assert_eq!(pods, &back.pods);
    assert_eq!(workloads, &back.workloads);
    assert_eq!(control_planes, &back.control_planes);
    assert_eq!(crds, &back.crds);
    assert_eq!(api_services, &back.api_services);
    assert_eq!(services, &back.services);
    assert_eq!(usage, &back.usage);
    assert_eq!(usage_history, &back.usage_history);
    assert_eq!(traffic, &back.traffic);
    assert_eq!(carried, &back.carried);
    assert_eq!(carrier_bytes, &back.carrier_bytes);
    assert_eq!(traffic_origin, &back.traffic_origin);
    assert!(scrape_load.is_some());
    assert_eq!(scrape_load, &back.scrape_load);
    assert_eq!(usage_origin, &back.usage_origin);
    assert_eq!(synced, &back.synced);
    assert_eq!(synced_ns, &back.synced_ns);
    assert_eq!(relisting, &back.relisting);
    assert_eq!(errors, &back.errors);
    assert_eq!(benches, &back.benches);
    assert_eq!(sweeps, &back.sweeps);
    assert_eq!(markers, &back.markers);
    assert_eq!(tap.events, back.tap.events);
    assert_eq!(tap.sources, back.tap.sources);
    let groups = |t: &meshtop::app::tap::TapState| {
        t.summary
            .groups()
            .map(|g| (g.key.clone(), g.count(), g.p99_ms()))
            .collect::<Vec<_>>()
    };
    assert_eq!(groups(tap), groups(&back.tap));
    assert_eq!(tap.events.len(), 5);
    assert_eq!(workload_rows, &back.workload_rows);
    assert_eq!(edges, &back.edges);
    assert_eq!(overview, &back.overview);
    // The generations key the row cache; only the index is the world.
    assert_eq!(derived.workload_pods, back.derived.workload_pods);

    // The stream is rich enough for the comparison to mean something.
    assert_eq!(live.benches.len(), 3);
    assert_eq!(
        live.benches.iter().map(|b| b.status()).collect::<Vec<_>>(),
        ["done", "failed", "running"]
    );
    assert!(
        !live.benches[2].usage.is_empty(),
        "the running run kept its pods' usage"
    );
    assert!(live.usage_history.values().any(|h| h.cpu_app.len() >= 4));
    assert_eq!(live.markers.len(), 2);
    assert!(live.relisting.contains_key(&(Resource::Deployments, None)));
    assert!(live.synced_ns.contains(&(Resource::Services, "bookinfo".into())));
    assert!(live.synced_ns.contains(&(Resource::Pods, "legacy".into())) && live.synced.contains(&Resource::Pods));
    assert_eq!(live.errors.len(), 3, "{:?}", live.errors.keys().collect::<Vec<_>>());
    assert!(!live.edges.is_empty() && !live.workload_rows.is_empty() && !live.overview.meshes.is_empty());
    let ambient = &live.workload_rows[&("ambient-demo".to_string(), "ratings-v1-6f5c-z9".to_string())];
    assert_eq!(
        ambient.rates.and_then(|r| r.read_bps),
        Some(800.0),
        "ztunnel's report in the snapshot"
    );
}

#[test]
fn a_snapshot_of_nothing_is_nothing() {
    let empty = State::new(Keymap::default());
    let back = folded(snapshot(&empty));
    assert!(back.pods.is_empty() && back.synced.is_empty() && back.cluster.is_none());
    assert_eq!((back.last_update, back.now), (None, 0));
}

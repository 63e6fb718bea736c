//! Frame cost with 10,000 pods: fold of the initial list, and build+draw of the Pods view
//! and the overview at 200x60 on ratatui's TestBackend. Prints figures; asserts nothing.
//! Run: cargo bench --bench render

use std::time::Instant;

use meshtop::app::{Action, Keymap, Stamped, State, Update, apply_action, fold};
use meshtop::model::{ContainerInfo, ContainerKind, PodInfo};
use meshtop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn pod(i: usize) -> PodInfo {
    let mut containers = vec![ContainerInfo {
        name: "app".into(),
        image: "example/app:1.0".into(),
        kind: ContainerKind::Main,
        ports: vec![],
        ready: true,
        restarts: 0,
    }];
    // One pod in ten carries an Istio sidecar, one in ten a Linkerd one.
    match i % 10 {
        0 => containers.push(ContainerInfo {
            name: "istio-proxy".into(),
            image: "docker.io/istio/proxyv2:1.24.0".into(),
            ..containers[0].clone()
        }),
        1 => containers.push(ContainerInfo {
            name: "linkerd-proxy".into(),
            image: "cr.l5d.io/linkerd/proxy:stable-2.14.10".into(),
            ..containers[0].clone()
        }),
        _ => {}
    }
    PodInfo {
        namespace: format!("ns-{:03}", i % 200),
        name: format!("pod-{i:05}"),
        phase: "Running".into(),
        ready: containers.len() as u32,
        containers: containers.len() as u32,
        node: Some(format!("kwok-node-{}", i % 2)),
        ip: Some(format!("10.77.{}.{}", 16 + i / 250, i % 250)),
        created: Some(1_790_000_000_000),
        containers_info: containers,
        ..Default::default()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let updates = || -> Vec<Stamped> {
        (0..10_000)
            .map(|i| Stamped {
                at: 1_790_000_000_000,
                update: Update::PodApplied { pod: pod(i) },
            })
            .collect()
    };
    // The fold must not depend on which view is open: it once re-filtered the open table on
    // every update, which made the initial list quadratic with the pods view filtered.
    for (label, view, filter) in [
        ("overview open", Action::ShowOverview, ""),
        ("pods view open, filtered", Action::ShowPods, "ns=ns-1"),
    ] {
        let mut s = State::new(Theme::all_builtin(), 0, Keymap::default());
        apply_action(&mut s, view);
        s.entry_mut().filter = filter.into();
        let t = Instant::now();
        for u in updates() {
            fold(&mut s, u);
        }
        println!(
            "fold of 10,000 pod updates, {label}: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let mut state = State::new(Theme::all_builtin(), 0, Keymap::default());
    for u in updates() {
        fold(&mut state, u);
    }

    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    for (label, action) in [("overview", Action::ShowOverview), ("pods", Action::ShowPods)] {
        apply_action(&mut state, action);
        let mut times = Vec::new();
        for i in 0..300 {
            // Move the selection so every frame differs, as when scrolling.
            apply_action(&mut state, if i % 2 == 0 { Action::Down } else { Action::PageDown });
            let t = Instant::now();
            term.draw(|f| meshtop::ui::render(&state, f)).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{label} view, 10,000 pods, 200x60: frame build+draw p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} frames)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
            times.len()
        );
    }
}

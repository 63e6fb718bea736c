//! The reducer: the only place state changes. No I/O, so live, replay and tests share it.

use super::action::{Action, Effect, ReplayCommand};
use super::query;
use std::collections::BTreeSet;

use super::state::{Mode, NamespaceEntry, PodEntry, SourceErr, State, TrafficOrigin, View, ViewEntry};
use super::traffic::{Counters, Window};
use super::update::{Stamped, Update};
use crate::mesh::detect;
use crate::model::Resource;
use crate::model::UsageOrigin;

/// Folds one source update into the state.
pub fn fold(state: &mut State, stamped: Stamped) {
    let Stamped { at, update } = stamped;
    state.now = state.now.max(at);
    state.dirty = true;
    // "Last update" means fresh data, not the clock or a failure report.
    if !matches!(
        update,
        Update::Tick
            | Update::Marker { .. }
            | Update::ListStarted { .. }
            | Update::SourceError { .. }
            | Update::SourceRecovered { .. }
    ) {
        state.last_update = Some(at);
    }
    match update {
        Update::Tick => {}
        Update::Marker { name } => state.markers.push((at, name)),
        Update::BenchStarted { id, config, target } => {
            if !state.benches.iter().any(|b| b.id == id) {
                state.benches.push(super::bench::BenchSession {
                    id,
                    config: *config,
                    target,
                    started: at,
                    progress: None,
                    result: None,
                    error: None,
                    usage: Vec::new(),
                });
            }
        }
        Update::BenchProgress { id, progress } => {
            if let Some(b) = state.benches.iter_mut().find(|b| b.id == id) {
                b.progress = Some(*progress);
            }
        }
        Update::BenchFinished { id, result } => {
            if let Some(b) = state.benches.iter_mut().find(|b| b.id == id) {
                b.result = Some(result);
            }
        }
        Update::BenchFailed { id, message } => {
            if let Some(b) = state.benches.iter_mut().find(|b| b.id == id) {
                b.error = Some(message);
            }
        }
        Update::Connected { cluster } => state.cluster = Some(cluster),
        Update::ApiLatency { millis } => state.api_latency_ms = Some(millis),
        Update::ListStarted { resource, namespace } => {
            state.relisting.insert((resource, namespace), Default::default());
        }
        Update::ListDone { resource, namespace } => {
            if let Some(seen) = state.relisting.remove(&(resource, namespace.clone())) {
                prune(state, resource, namespace.as_deref(), &seen);
            }
            match &namespace {
                Some(ns) => {
                    state.synced_ns.insert((resource, ns.clone()));
                }
                None => {
                    state.synced.insert(resource);
                }
            }
            state.errors.remove(&(resource, namespace));
        }
        Update::NamespaceApplied { namespace } => {
            seen(state, Resource::Namespaces, None, namespace.name.clone());
            let injection = detect::namespace_injection(&namespace.labels, &namespace.annotations);
            state.namespaces.insert(
                namespace.name.clone(),
                NamespaceEntry {
                    info: namespace,
                    injection,
                },
            );
        }
        Update::NamespaceDeleted { name } => {
            state.namespaces.remove(&name);
        }
        Update::PodApplied { pod } => {
            seen(
                state,
                Resource::Pods,
                Some(&pod.namespace),
                format!("{}/{}", pod.namespace, pod.name),
            );
            let mesh = detect::classify_pod(&pod);
            state.pods.insert(pod.key(), PodEntry { info: pod, mesh });
        }
        Update::PodDeleted { namespace, name } => {
            let key = (namespace, name);
            state.pods.remove(&key);
            state.traffic.remove(&key);
            state.usage_history.remove(&key);
        }
        Update::WorkloadApplied { workload } => {
            let resource = workload_resource(&workload.kind);
            seen(
                state,
                resource,
                Some(&workload.namespace),
                format!("{}/{}", workload.namespace, workload.name),
            );
            let key = (workload.kind.clone(), workload.namespace.clone(), workload.name.clone());
            let matters = is_component(&workload);
            let was = state.workloads.insert(key, workload).is_some_and(|w| is_component(&w));
            // Most workloads are applications: regroup control planes only for mesh ones.
            if matters || was {
                state.control_planes = detect::control_planes(state.workloads.values());
            }
        }
        Update::WorkloadDeleted { kind, namespace, name } => {
            if state
                .workloads
                .remove(&(kind, namespace, name))
                .is_some_and(|w| is_component(&w))
            {
                state.control_planes = detect::control_planes(state.workloads.values());
            }
        }
        Update::CrdApplied { name, group } => {
            seen(state, Resource::Crds, None, name.clone());
            state.crds.insert(name, group);
        }
        Update::CrdDeleted { name } => {
            state.crds.remove(&name);
        }
        Update::ApiServiceApplied { api_service } => {
            seen(state, Resource::ApiServices, None, api_service.name.clone());
            state.api_services.insert(api_service.name.clone(), api_service);
        }
        Update::ApiServiceDeleted { name } => {
            state.api_services.remove(&name);
        }
        Update::ServiceApplied { service } => {
            let key = format!("{}/{}", service.namespace, service.name);
            seen(state, Resource::Services, Some(&service.namespace), key);
            state
                .services
                .insert((service.namespace.clone(), service.name.clone()), service);
        }
        Update::ServiceDeleted { namespace, name } => {
            state.services.remove(&(namespace, name));
        }
        Update::PodUsage { usages, origin } => {
            // cAdvisor figures only fill in while metrics-server has been silent for a minute.
            if let Some((current, since)) = state.usage_origin
                && current == UsageOrigin::MetricsServer
                && origin == UsageOrigin::Cadvisor
                && at - since < 60_000
            {
                return;
            }
            state.usage_origin = Some((origin, at));
            state.usage = usages
                .into_iter()
                .map(|u| ((u.namespace.clone(), u.name.clone()), u))
                .collect();
            // History needs the proxy split, so it follows the pods' classification.
            let keys: Vec<(String, String)> = state.usage.keys().cloned().collect();
            for key in keys {
                let Some(p) = state.pods.get(&key) else { continue };
                let Some(u) = super::query::usage_split(state, p) else {
                    continue;
                };
                let h = state.usage_history.entry(key).or_default();
                h.cpu_app.push(u.app_cpu_m);
                h.cpu_proxy.push(u.proxy_cpu_m);
                h.mem_app.push(u.app_mem as f64);
                h.mem_proxy.push(u.proxy_mem as f64);
            }
            // Forget the history of pods that are gone, so memory stays bounded.
            let pods = &state.pods;
            state.usage_history.retain(|k, _| pods.contains_key(k));
            // Running benchmarks keep their target pods' usage over the run.
            for i in 0..state.benches.len() {
                if state.benches[i].running()
                    && let Some(u) = super::bench::target_usage(state, &state.benches[i].target)
                {
                    state.benches[i].usage.push(u);
                }
            }
            state.synced.insert(Resource::PodMetrics);
            state.errors.remove(&(Resource::PodMetrics, None));
        }
        Update::ProxyScraped {
            namespace,
            pod,
            inbound,
            outbound,
            edges,
            ..
        } => {
            state
                .errors
                .remove(&(Resource::ProxyScrape, Some(format!("{namespace}/{pod}"))));
            state.traffic_origin = Some(TrafficOrigin::Scrape);
            let counters = Counters::from_directions(inbound, outbound, edges);
            let window = state.window_s;
            state
                .traffic
                .entry((namespace, pod))
                .or_default()
                .push_scrape(at, counters, window);
        }
        Update::PromTraffic { window_s, source, pods } => {
            state.errors.remove(&(Resource::Prometheus, None));
            state.traffic_origin = Some(TrafficOrigin::Prometheus { window_s, source });
            let mut seen = BTreeSet::new();
            for p in pods {
                let key = (p.namespace, p.pod);
                state.traffic.entry(key.clone()).or_default().set_window(p.window);
                seen.insert(key);
            }
            // A pod missing from the answer had no traffic in the window: zero, not stale.
            for (key, t) in state.traffic.iter_mut() {
                if !seen.contains(key) && t.window.is_some() {
                    t.set_window(Window {
                        secs: f64::from(window_s),
                        ..Window::default()
                    });
                }
            }
            let pods = &state.pods;
            state.traffic.retain(|k, _| pods.contains_key(k));
        }
        Update::ScrapeFailed {
            namespace,
            pod,
            message,
        } => {
            let key = (Resource::ProxyScrape, Some(format!("{namespace}/{pod}")));
            let since = state.errors.get(&key).map_or(at, |e| e.since);
            state.errors.insert(
                key,
                SourceErr {
                    kind: crate::model::ErrorKind::Api,
                    message,
                    since,
                },
            );
        }
        Update::SourceError {
            resource,
            namespace,
            kind,
            message,
        } => {
            let key = (resource, namespace);
            let since = state.errors.get(&key).map_or(at, |e| e.since);
            state.errors.insert(key, SourceErr { kind, message, since });
        }
        Update::SourceRecovered { resource, namespace } => {
            state.errors.remove(&(resource, namespace));
        }
    }
    // No selection clamping here: that would re-filter the open table on every update
    // (quadratic during a 10,000-pod list). Render clamps what it shows; keys clamp first.
}

fn is_component(w: &detect::WorkloadInfo) -> bool {
    detect::match_component(crate::mesh::rules::all(), &w.kind, &w.name, &w.labels).is_some()
}

fn workload_resource(kind: &str) -> Resource {
    match kind {
        "DaemonSet" => Resource::DaemonSets,
        "StatefulSet" => Resource::StatefulSets,
        _ => Resource::Deployments,
    }
}

/// Records a key as present in a running (re-)list. A namespaced watch lists under its own
/// namespace; a cluster-wide one under None.
fn seen(state: &mut State, resource: Resource, namespace: Option<&str>, key: String) {
    if let Some(ns) = namespace
        && let Some(set) = state.relisting.get_mut(&(resource, Some(ns.to_string())))
    {
        set.insert(key.clone());
    }
    if let Some(set) = state.relisting.get_mut(&(resource, None)) {
        set.insert(key);
    }
}

/// Drops what a finished list did not mention (deleted while the watch was down).
fn prune(state: &mut State, resource: Resource, namespace: Option<&str>, seen: &BTreeSet<String>) {
    let in_scope = |ns: &str| namespace.is_none_or(|n| n == ns);
    match resource {
        Resource::Pods => state
            .pods
            .retain(|(ns, name), _| !in_scope(ns) || seen.contains(&format!("{ns}/{name}"))),
        Resource::Namespaces => state.namespaces.retain(|name, _| seen.contains(name)),
        Resource::Deployments | Resource::DaemonSets | Resource::StatefulSets => {
            state.workloads.retain(|(kind, ns, name), _| {
                workload_resource(kind) != resource || !in_scope(ns) || seen.contains(&format!("{ns}/{name}"))
            });
            state.control_planes = detect::control_planes(state.workloads.values());
        }
        Resource::Crds => state.crds.retain(|name, _| seen.contains(name)),
        Resource::ApiServices => state.api_services.retain(|name, _| seen.contains(name)),
        Resource::Services => state
            .services
            .retain(|(ns, name), _| !in_scope(ns) || seen.contains(&format!("{ns}/{name}"))),
        Resource::Cluster | Resource::PodMetrics | Resource::ProxyScrape | Resource::Prometheus => {}
    }
}

/// Applies a user action. Returns an effect when the main loop must act (I/O, exit).
pub fn apply_action(state: &mut State, action: Action) -> Option<Effect> {
    state.dirty = true;
    if !matches!(
        action,
        Action::InputChar(_) | Action::InputBackspace | Action::InputComplete
    ) {
        state.flash = None;
    }
    if state.show_help && !matches!(action, Action::Quit | Action::ToggleHelp) {
        // Any other key closes help first, like k9s; it does not also act.
        state.show_help = false;
        return None;
    }
    let rows = query::row_count(state);
    let page = state.page_rows();
    let entry = state.entry_mut();
    // Rows may have gone since the last key: start from a selection that exists.
    entry.selected = entry.selected.min(rows.saturating_sub(1));
    match action {
        Action::Quit => return Some(Effect::Quit),
        Action::ToggleHelp => state.show_help = !state.show_help,
        Action::Up => entry.selected = entry.selected.saturating_sub(1),
        Action::Down => entry.selected = (entry.selected + 1).min(rows.saturating_sub(1)),
        Action::PageUp => entry.selected = entry.selected.saturating_sub(page),
        Action::PageDown => entry.selected = (entry.selected + page).min(rows.saturating_sub(1)),
        Action::Top => entry.selected = 0,
        Action::Bottom => entry.selected = rows.saturating_sub(1),
        Action::Back => {
            if !entry.filter.is_empty() {
                entry.filter.clear();
            } else if state.stack.len() > 1 {
                state.stack.pop();
                state.scroll.set(0);
            }
        }
        Action::StartFilter => {
            state.input = entry.filter.clone();
            state.mode = Mode::Filter;
        }
        Action::StartCommand => {
            state.input.clear();
            state.mode = Mode::Command;
        }
        Action::NextTheme => state.theme = (state.theme + 1) % state.themes.len(),
        Action::Select => select(state),
        Action::ShowOverview => push_view(state, View::Overview, ""),
        Action::ShowControlPlanes => push_view(state, View::ControlPlanes, ""),
        Action::ShowNamespaces => push_view(state, View::Namespaces, ""),
        Action::ShowPods => push_view(state, View::Pods, ""),
        Action::ShowWorkloads => push_view(state, View::Workloads, ""),
        Action::ShowEdges => push_view(state, View::Edges, ""),
        Action::NextWindow => {
            let windows = super::traffic::WINDOWS;
            let next = windows
                .iter()
                .position(|w| *w == state.window_s)
                .map_or(windows[0], |i| windows[(i + 1) % windows.len()]);
            return Some(set_window(state, next));
        }
        Action::SortNext => {
            let n = query::columns(&entry.view).len().max(1);
            entry.sort_column = (entry.sort_column + 1) % n;
        }
        Action::SortReverse => entry.sort_reverse = !entry.sort_reverse,
        Action::ShowBench => push_view(state, View::Bench, ""),
        Action::ToggleRecording => return Some(Effect::ToggleRecording),
        Action::AddMarker => {
            return Some(Effect::Mark(format!("marker {}", state.markers.len() + 1)));
        }
        Action::ReplayPause => return replay(state, ReplayCommand::TogglePause),
        Action::ReplaySlower => return replay(state, ReplayCommand::Slower),
        Action::ReplayFaster => return replay(state, ReplayCommand::Faster),
        Action::ReplayBack => return replay(state, ReplayCommand::Skip(-10)),
        Action::ReplayForward => return replay(state, ReplayCommand::Skip(10)),
        Action::ReplayPreviousMarker => return replay(state, ReplayCommand::PreviousMarker),
        Action::ReplayNextMarker => return replay(state, ReplayCommand::NextMarker),
        Action::ReplayLoop => return replay(state, ReplayCommand::ToggleLoop),
        Action::NewBench => open_bench_form(state),
        Action::StopBench => {
            let entry = state.entry();
            let selected = (entry.view == View::Bench)
                .then(|| state.benches.get(entry.selected))
                .flatten()
                .filter(|b| b.running());
            match selected.or_else(|| state.benches.iter().rev().find(|b| b.running())) {
                Some(b) => return Some(Effect::StopBench(b.id)),
                None => state.flash = Some("no benchmark is running".into()),
            }
        }
        Action::FormNext | Action::FormPrev => {
            if let Some(f) = state.bench_form.as_mut() {
                f.next(action == Action::FormNext);
            }
        }
        Action::InputChar(c) if state.mode == Mode::Form => {
            if let Some(f) = state.bench_form.as_mut() {
                f.type_char(c);
            }
        }
        Action::InputBackspace if state.mode == Mode::Form => {
            if let Some(f) = state.bench_form.as_mut() {
                f.backspace();
            }
        }
        Action::InputCancel if state.mode == Mode::Form => {
            state.bench_form = None;
            state.mode = Mode::Normal;
        }
        Action::InputSubmit if state.mode == Mode::Form => return submit_bench_form(state),
        Action::InputChar(c) => {
            state.input.push(c);
            live_filter(state);
        }
        Action::InputBackspace => {
            state.input.pop();
            live_filter(state);
        }
        Action::InputComplete => {
            if state.mode == Mode::Command
                && let Some(full) = complete_command(state, &state.input)
            {
                state.input = full;
            }
        }
        Action::InputCancel => {
            if state.mode == Mode::Filter {
                state.entry_mut().filter.clear();
            }
            state.mode = Mode::Normal;
            state.input.clear();
        }
        Action::InputSubmit => {
            let input = std::mem::take(&mut state.input);
            let mode = std::mem::replace(&mut state.mode, Mode::Normal);
            if mode == Mode::Command {
                return run_command(state, input.trim());
            }
        }
    }
    clamp_selection(state);
    None
}

/// Replay controls only mean something in a replay; live, say so instead.
fn replay(state: &mut State, command: ReplayCommand) -> Option<Effect> {
    if state.replay.is_none() {
        state.flash = Some("replay controls work in `meshtop replay FILE` and `meshtop demo`".into());
        return None;
    }
    Some(Effect::Replay(command))
}

/// Opens the form on what is selected: a pod (its IP and port), a workload (its first
/// pod's address, all its pods' usage), or nothing (an empty URL).
fn open_bench_form(state: &mut State) {
    let entry = state.entry().clone();
    let (url, target, note) = match &entry.view {
        View::Pods => query::pods(state, &entry)
            .get(entry.selected)
            .map(|p| super::bench::pod_target(p)),
        View::PodDetail { namespace, name } => state
            .pods
            .get(&(namespace.clone(), name.clone()))
            .map(super::bench::pod_target),
        View::Workloads => query::workloads_view(state, &entry).get(entry.selected).and_then(|w| {
            let pods: Vec<&super::state::PodEntry> = state
                .pods
                .values()
                .filter(|p| p.info.namespace == w.namespace && query::workload_of(p).1 == w.name)
                .collect();
            let (url, _, note) = super::bench::pod_target(pods.first()?);
            Some((
                url,
                super::bench::BenchTarget {
                    origin: format!("workload {}/{}", w.namespace, w.name),
                    pods: pods
                        .iter()
                        .map(|p| (p.info.namespace.clone(), p.info.name.clone()))
                        .collect(),
                },
                note,
            ))
        }),
        _ => None,
    }
    .unwrap_or_else(|| (String::from("http://"), super::bench::BenchTarget::default(), None));
    open_form_with(state, url, target, note);
}

fn open_form_with(state: &mut State, url: String, mut target: super::bench::BenchTarget, note: Option<String>) {
    if target.origin.is_empty() {
        target.origin = "url".into();
    }
    state.bench_form = Some(super::bench::BenchForm::new(url, target, note));
    state.mode = Mode::Form;
}

/// Validates the form; a valid one starts a run and shows its panel, an invalid one says
/// which field is wrong and stays open.
fn submit_bench_form(state: &mut State) -> Option<Effect> {
    let form = state.bench_form.as_mut()?;
    match form.config() {
        Err(e) => {
            form.error = Some(e);
            None
        }
        Ok(config) => {
            let target = form.target.clone();
            state.bench_form = None;
            state.mode = Mode::Normal;
            let id = state.benches.iter().map(|b| b.id).max().unwrap_or(0) + 1;
            push_view(state, View::Bench, "");
            // The run's panel opens on it as soon as it starts (the list gains a row).
            state.entry_mut().selected = state.benches.len();
            Some(Effect::StartBench {
                id,
                config: Box::new(config),
                target,
            })
        }
    }
}

/// `enter`: drill down from the selected row.
fn select(state: &mut State) {
    let entry = state.entry().clone();
    let target = match &entry.view {
        View::Pods => query::pods(state, &entry).get(entry.selected).map(|p| {
            (
                View::PodDetail {
                    namespace: p.info.namespace.clone(),
                    name: p.info.name.clone(),
                },
                String::new(),
            )
        }),
        View::Namespaces => query::namespaces(state, &entry)
            .get(entry.selected)
            .map(|n| (View::Pods, format!("ns=={}", n.ns.info.name))),
        View::ControlPlanes => query::control_planes(state, &entry)
            .get(entry.selected)
            .map(|c| (View::Pods, format!("ns=={} mesh=={}", c.namespace, c.mesh.as_str()))),
        View::Overview => Some((View::ControlPlanes, String::new())),
        View::Workloads => query::workloads_view(state, &entry)
            .get(entry.selected)
            .map(|w| (View::Pods, format!("ns=={} workload=={}", w.namespace, w.name))),
        View::Edges => query::edges_view(state, &entry).get(entry.selected).and_then(|e| {
            let (ns, wl) = e.source.split_once('/')?;
            Some((View::Pods, format!("ns=={ns} workload=={wl}")))
        }),
        View::PodDetail { .. } | View::Bench => None,
    };
    if let Some((view, filter)) = target {
        push_view(state, view, &filter);
    }
}

/// The filter applies while typing, so the table narrows with every key.
fn live_filter(state: &mut State) {
    if state.mode == Mode::Filter {
        let input = state.input.clone();
        let entry = state.entry_mut();
        entry.filter = input;
        entry.selected = 0;
    }
}

/// Commands accepted by `:`, with their aliases. The first name is what completion offers.
pub const COMMANDS: &[(&[&str], &str)] = &[
    (&["meshes", "overview", "mesh"], "meshes overview"),
    (&["controlplanes", "cp", "controlplane"], "control planes"),
    (
        &["namespaces", "ns", "namespace"],
        "namespaces; :ns NAME shows its pods",
    ),
    (&["pods", "po", "pod"], "pods; :pods FILTER filters them"),
    (
        &["workloads", "wl", "workload", "deploy"],
        "workloads; :wl FILTER filters them",
    ),
    (&["edges", "edge"], "traffic between workloads"),
    (&["window", "w"], "rate window: :window 30s|1m|5m"),
    (&["mark", "marker"], "add a named marker: :mark NAME"),
    (&["seek"], "replay: go to a time, :seek 1m30s"),
    (
        &["bench", "benchmark"],
        "benchmark: :bench URL, :bench svc NS/NAME, or the runs list",
    ),
    (&["ctx", "context", "contexts"], "switch context: :ctx NAME"),
    (&["quit", "q"], "quit meshtop"),
];

/// Completes a command name, or a context name after `ctx `.
pub fn complete_command(state: &State, input: &str) -> Option<String> {
    let input = input.trim_start();
    if let Some((cmd, arg)) = input.split_once(' ') {
        if ["ctx", "context", "contexts"].contains(&cmd) {
            return state
                .contexts
                .iter()
                .find(|c| c.starts_with(arg.trim()))
                .map(|c| format!("{cmd} {c}"));
        }
        return None;
    }
    if input.is_empty() {
        return None;
    }
    COMMANDS
        .iter()
        .flat_map(|(names, _)| names.iter())
        .find(|n| n.starts_with(input))
        .map(|n| n.to_string())
}

fn run_command(state: &mut State, cmd: &str) -> Option<Effect> {
    // `:pods web` opens pods filtered by "web", as in k9s.
    let (name, arg) = cmd.split_once(' ').map_or((cmd, ""), |(n, a)| (n, a.trim()));
    let Some((names, _)) = COMMANDS.iter().find(|(names, _)| names.contains(&name)) else {
        if !cmd.is_empty() {
            state.flash = Some(format!(
                "unknown command :{cmd} (try :meshes, :cp, :ns, :pods, :wl, :edges, :window, :ctx, :quit)"
            ));
        }
        return None;
    };
    match names[0] {
        "meshes" => push_view(state, View::Overview, ""),
        "controlplanes" => push_view(state, View::ControlPlanes, arg),
        "namespaces" if !arg.is_empty() => push_view(state, View::Pods, &format!("ns=={arg}")),
        "namespaces" => push_view(state, View::Namespaces, ""),
        "pods" => push_view(state, View::Pods, arg),
        "workloads" => push_view(state, View::Workloads, arg),
        "edges" => push_view(state, View::Edges, arg),
        "seek" => {
            return match crate::cli::parse_duration(arg) {
                Ok(d) => replay(state, ReplayCommand::SeekTo(d.as_millis() as u64)),
                Err(e) => {
                    state.flash = Some(format!(":seek {e}"));
                    None
                }
            };
        }
        "mark" => {
            let name = if arg.is_empty() {
                format!("marker {}", state.markers.len() + 1)
            } else {
                arg.to_string()
            };
            return Some(Effect::Mark(name));
        }
        "bench" if arg.is_empty() => push_view(state, View::Bench, ""),
        "bench" => {
            if let Some(svc) = arg.strip_prefix("svc ").or_else(|| arg.strip_prefix("service ")) {
                let (ns, name) = svc.trim().split_once('/').unwrap_or(("default", svc.trim()));
                match state.services.get(&(ns.to_string(), name.to_string())).cloned() {
                    Some(s) => {
                        let (url, target, note) = super::bench::service_target(state, &s);
                        open_form_with(state, url, target, note);
                    }
                    None => {
                        state.flash = Some(format!(
                            "no service {ns}/{name} (known: {} services)",
                            state.services.len()
                        ))
                    }
                }
            } else {
                open_form_with(state, arg.to_string(), Default::default(), None);
            }
            return None;
        }
        "window" => {
            let parsed = crate::cli::parse_duration(arg).ok().map(|d| d.as_secs() as u32);
            match parsed.filter(|s| super::traffic::WINDOWS.contains(s)) {
                Some(secs) => return Some(set_window(state, secs)),
                None => {
                    state.flash = Some(format!("window {arg:?}: choose 30s, 1m or 5m"));
                }
            }
        }
        "ctx" if arg.is_empty() => {
            let current = state.cluster.as_ref().map(|c| c.context.as_str()).unwrap_or("unknown");
            state.flash = Some(format!(
                "contexts: {} (current: {current}); :ctx NAME switches",
                state.contexts.join(", ")
            ));
        }
        "ctx" if !state.contexts.iter().any(|c| c == arg) => {
            state.flash = Some(format!("no context named {arg:?} in the kubeconfig"));
        }
        "ctx" => return Some(Effect::SwitchContext(arg.to_string())),
        "quit" => return Some(Effect::Quit),
        _ => unreachable!("every command is handled"),
    }
    clamp_selection(state);
    None
}

/// Opens a view on top of the breadcrumb stack, or returns to it when it is already there.
fn push_view(state: &mut State, view: View, filter: &str) {
    if let Some(pos) = state.stack.iter().position(|e| e.view == view) {
        state.stack.truncate(pos + 1);
        if !filter.is_empty() {
            state.entry_mut().filter = filter.to_string();
        }
    } else {
        let mut e = ViewEntry::new(view);
        e.filter = filter.to_string();
        state.stack.push(e);
    }
    state.scroll.set(0);
}

/// Switches the rate window; direct-scrape windows are recomputed from the kept samples.
fn set_window(state: &mut State, secs: u32) -> Effect {
    state.window_s = secs;
    for t in state.traffic.values_mut() {
        if t.samples() > 0 {
            t.recompute(secs);
        }
    }
    state.flash = Some(format!("rate window {}", super::traffic::window_label(secs)));
    Effect::SetWindow(secs)
}

fn clamp_selection(state: &mut State) {
    let rows = query::row_count(state);
    let entry = state.entry_mut();
    entry.selected = entry.selected.min(rows.saturating_sub(1));
}

impl State {
    /// Rows per page for paging keys; the last rendered table height, or a sane default.
    pub fn page_rows(&self) -> usize {
        self.last_page.get().max(1)
    }

    /// Forgets everything learned from the cluster (on a context switch); keeps UI state.
    /// Built from a fresh state, so a new field of the world can never survive a switch.
    pub fn reset_world(&mut self) {
        let now = self.now;
        self.adopt_world(State::new(Vec::new(), 0, Default::default()));
        self.now = now;
    }

    /// Takes the world (everything sources told) from `world` and keeps this state's UI:
    /// a replay seeking back restores a snapshot without moving the user's view.
    pub fn adopt_world(&mut self, world: State) {
        let ui = std::mem::replace(self, world);
        self.stack = ui.stack;
        self.mode = ui.mode;
        self.input = ui.input;
        self.show_help = ui.show_help;
        self.window_s = ui.window_s;
        self.flash = ui.flash;
        self.themes = ui.themes;
        self.theme = ui.theme;
        self.keymap = ui.keymap;
        self.contexts = ui.contexts;
        self.scroll = ui.scroll;
        self.last_page = ui.last_page;
        self.bench_form = ui.bench_form;
        self.replay = ui.replay;
        self.recording = ui.recording;
        self.dirty = true;
    }
}

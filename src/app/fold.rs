//! The reducer of source updates: the only place the world changes. No I/O, so live,
//! replay and tests share it. Figures derived from the world are kept current here
//! (`figures`): per pod at once, aggregates once per batch.

use std::collections::{BTreeMap, BTreeSet};

use super::figures::{self, PodKey};
use super::state::{NamespaceEntry, PodEntry, SourceErr, State, TrafficOrigin};
use super::traffic::{Counters, Window};
use super::update::{Stamped, Update};
use crate::mesh::detect;
use crate::model::{ErrorKind, NamespaceInfo, Resource, UnixMillis, UsageOrigin};

/// Folds one update and brings the derived figures up to date.
///
/// Folding many updates in a row? Use [`fold_all`]: it settles the aggregates once.
pub fn fold(state: &mut State, stamped: Stamped) {
    apply(state, stamped);
    figures::settle(state);
}

/// Folds a batch of updates, then brings the derived figures up to date once.
pub fn fold_all(state: &mut State, updates: impl IntoIterator<Item = Stamped>) {
    for u in updates {
        apply(state, u);
    }
    figures::settle(state);
}

/// Folds one update into the world; aggregates are only marked for [`figures::settle`].
pub fn apply(state: &mut State, stamped: Stamped) {
    let Stamped { at, update } = stamped;
    state.now = state.now.max(at);
    let was_dirty = state.dirty;
    state.dirty = true;
    // "Last update" means fresh data, not the clock, a failure report or a restored session.
    if !matches!(
        update,
        Update::Tick
            | Update::Marker { .. }
            | Update::ListStarted { .. }
            | Update::SourceError { .. }
            | Update::ScrapeFailed { .. }
            | Update::SourceRecovered { .. }
            | Update::CrashRecovered { .. }
            | Update::SessionRestored { .. }
            | Update::ScrapeLoad(_)
    ) {
        state.last_update = Some(at);
    }
    match update {
        // The clock's second: live orders catch up with the figures whatever else arrived.
        Update::Tick => {
            state.derived.catch_up_order();
            let before = state.tap.summary.generation;
            state.tap.summary.rotate(state.now);
            if state.tap.summary.generation != before {
                state.derived.figures_changed();
            }
        }
        Update::TapEvents { events } => {
            state.tap.push(events, at);
            state.derived.figures_changed();
        }
        Update::TapSource { name, status } => {
            state.tap.sources.insert(name, status);
        }
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
                    samples: Vec::new(),
                    mtls: None,
                    agents: Vec::new(),
                });
                state.derived.rows_changed();
            }
        }
        Update::SweepStarted { id, spec } => super::sweep::started(state, id, *spec, at),
        Update::SweepFinished { id, cancelled } => super::sweep::finished(state, id, cancelled, at),
        Update::SweepRestored { session } => {
            state.sweeps.retain(|s| s.id != session.id);
            state.sweeps.push(*session);
            state.sweeps.sort_by_key(|s| s.id);
            super::compare::recompute(state);
        }
        Update::BenchProgress { id, progress } => {
            if let Some(b) = state.benches.iter_mut().find(|b| b.id == id) {
                b.progress = Some(*progress);
                state.derived.figures_changed();
            }
        }
        Update::BenchFinished { id, result } => {
            if let Some(i) = state.benches.iter().position(|b| b.id == id) {
                let mtls = super::sweep::observed_mtls(state, &state.benches[i].target.pods);
                let b = &mut state.benches[i];
                b.result = Some(result);
                b.mtls = mtls;
                state.derived.rows_changed();
            }
            super::sweep::run_changed(state, id, at);
            if state.compare_marks.contains(&id) {
                super::compare::recompute(state);
            }
        }
        Update::BenchAgents { id, agents } => {
            if let Some(b) = state.benches.iter_mut().find(|b| b.id == id) {
                b.agents = agents;
                state.derived.figures_changed();
            }
        }
        Update::BenchFailed { id, message } => {
            if let Some(b) = state.benches.iter_mut().find(|b| b.id == id) {
                b.error = Some(message);
                state.derived.rows_changed();
            }
            super::sweep::run_changed(state, id, at);
            if state.compare_marks.contains(&id) {
                super::compare::recompute(state);
            }
        }
        Update::BenchRestored { session } => {
            state.benches.retain(|b| b.id != session.id);
            state.benches.push(*session);
            state.benches.sort_by_key(|b| b.id);
            state.derived.rows_changed();
        }
        Update::Connected { cluster } => {
            state.cluster = Some(cluster);
            // The Namespaces list may have been refused before the connection was
            // described (its probe races the watches).
            if let Some(e) = state.errors.get(&(Resource::Namespaces, None))
                && e.kind == ErrorKind::Forbidden
            {
                let reason = e.message.clone();
                list_named_namespaces(state, &reason);
            }
        }
        Update::ApiLatency { millis } => {
            state.api_latency_ms = Some(millis);
            state.api_answered_at = Some(at);
        }
        Update::ListStarted {
            resource,
            namespace,
            seen,
        } => {
            state
                .relisting
                .insert((resource, namespace), seen.into_iter().collect());
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
            if state.errors.remove(&(resource, namespace)).is_some() {
                state.derived.errors_changed();
            }
        }
        Update::NamespaceApplied { namespace } => {
            seen(state, Resource::Namespaces, None, namespace.name.clone());
            let injection = detect::namespace_injection(&namespace.labels, &namespace.annotations);
            let name = namespace.name.clone();
            let figures = state.namespaces.remove(&name).map(|n| n.figures).unwrap_or_default();
            state.namespaces.insert(
                name.clone(),
                NamespaceEntry {
                    info: namespace,
                    injection,
                    figures,
                    unreadable: None,
                },
            );
            namespace_changed(state, &name);
        }
        Update::NamespaceDeleted { name } => {
            state.namespaces.remove(&name);
            namespace_changed(state, &name);
            forget_namespace_errors(state, &name);
        }
        Update::PodApplied { pod } => {
            seen(
                state,
                Resource::Pods,
                Some(&pod.namespace),
                format!("{}/{}", pod.namespace, pod.name),
            );
            let mesh = detect::classify_pod(&pod);
            let key = pod.key();
            // A pod does not change its workload, but a re-created one may: forget the old.
            let old_workload = forget_pod(state, &key).map(|(wl, _)| wl);
            let entry = PodEntry::new(pod, mesh);
            let wl = figures::workload_key(&entry);
            match old_workload {
                // The same rows, one of them changed: tables keep their keys (at 10,000 pods,
                // cloning them was most of a frame under churn).
                Some(old) if old == wl => state.derived.row_changed_in_place(),
                // A new pod: the pods table inserts its key where it belongs.
                None => state.derived.pod_came_or_went(entry.key.clone()),
                Some(_) => state.derived.rows_changed(),
            }
            state
                .derived
                .workload_pods
                .entry(wl.clone())
                .or_default()
                .insert(key.1.clone());
            state.pods.insert(key.clone(), entry);
            figures::refresh_pod(state, &key);
            state.derived.workload(wl);
            state.derived.namespace(&key.0);
            state.derived.meshes();
        }
        Update::PodDeleted { namespace, name } => delete_pod(state, &(namespace, name)),
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
                control_planes_changed(state);
            }
        }
        Update::WorkloadDeleted { kind, namespace, name } => {
            if state
                .workloads
                .remove(&(kind, namespace, name))
                .is_some_and(|w| is_component(&w))
            {
                control_planes_changed(state);
            }
        }
        Update::CrdApplied { name, group } => {
            seen(state, Resource::Crds, None, name.clone());
            state.crds.insert(name, group);
            state.derived.meshes();
        }
        Update::CrdDeleted { name } => {
            state.crds.remove(&name);
            state.derived.meshes();
        }
        Update::ApiServiceApplied { api_service } => {
            seen(state, Resource::ApiServices, None, api_service.name.clone());
            state.api_services.insert(api_service.name.clone(), api_service);
            state.derived.meshes();
        }
        Update::ApiServiceDeleted { name } => {
            state.api_services.remove(&name);
            state.derived.meshes();
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
            usage_changed(state);
            // History needs the proxy split, so it follows the pods' classification.
            for (key, p) in &state.pods {
                let Some(u) = p.usage else { continue };
                // Looked up before inserting: `entry` would copy every pod's key each list.
                if !state.usage_history.contains_key(key) {
                    state.usage_history.insert(key.clone(), Default::default());
                }
                let Some(h) = state.usage_history.get_mut(key) else {
                    continue;
                };
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
            super::sweep::usage_arrived(state, at);
            state.synced.insert(Resource::PodMetrics);
            if state.errors.remove(&(Resource::PodMetrics, None)).is_some() {
                state.derived.errors_changed();
            }
        }
        Update::UsageHistoryRestored {
            namespace,
            pod,
            history,
        } => {
            state.usage_history.insert((namespace, pod), history.into());
        }
        Update::ProxyScraped {
            namespace,
            pod,
            inbound,
            outbound,
            edges,
            described,
            bad_lines,
            first_bad_line,
            ..
        } => {
            if state
                .errors
                .remove(&(Resource::ProxyScrape, Some(format!("{namespace}/{pod}"))))
                .is_some()
            {
                state.derived.errors_changed();
            }
            state.traffic_origin = Some(TrafficOrigin::Scrape);
            let key = (namespace, pod);
            // Once the pods are listed, a scrape of a pod meshtop does not know raced its
            // deletion: keeping it would leak an entry no list removes.
            if !state.pods.contains_key(&key) && state.listed(Resource::Pods) {
                return;
            }
            let counters = Counters::from_directions(inbound, outbound, edges);
            let window = state.window_s;
            let t = state.traffic.entry(key.clone()).or_default();
            t.push_scrape(at, counters, window);
            t.unread = (bad_lines > 0).then(|| (bad_lines, first_bad_line.unwrap_or_default()));
            carried_scraped(state, &key, described, at);
            figures::traffic_changed(state, &key);
        }
        Update::ScrapeLoad(load) => state.scrape_load = load.over().then_some(load),
        Update::PromTraffic { window_s, source, pods } => {
            if state.errors.remove(&(Resource::Prometheus, None)).is_some() {
                state.derived.errors_changed();
            }
            state.traffic_origin = Some(TrafficOrigin::Prometheus { window_s, source });
            let mut answered = BTreeSet::new();
            let mut carried = BTreeSet::new();
            for p in pods {
                let key = (p.namespace, p.pod);
                state.traffic.entry(key.clone()).or_default().set_window(p.window);
                for (workload, w) in p.described {
                    let Some((ns, name)) = workload.split_once('/') else {
                        continue;
                    };
                    let wk = (ns.to_string(), name.to_string());
                    let by = state.carried.entry(wk.clone()).or_default();
                    by.entry(key.clone()).or_default().set_window(w);
                    carried.insert((wk, key.clone()));
                }
                answered.insert(key);
            }
            // What a carrier no longer reports for a workload had no traffic in the window.
            for (wk, by) in state.carried.iter_mut() {
                for (proxy, t) in by.iter_mut() {
                    if !carried.contains(&(wk.clone(), proxy.clone())) && t.window.is_some() {
                        t.set_window(Window {
                            secs: f64::from(window_s),
                            ..Window::default()
                        });
                    }
                }
                state.derived.workload(wk.clone());
            }
            let mut proxies: BTreeSet<PodKey> = carried.into_iter().map(|(_, p)| p).collect();
            proxies.extend(state.carrier_bytes.keys().cloned());
            for proxy in &proxies {
                recount_carrier(state, proxy);
            }
            // A pod missing from the answer had no traffic in the window: zero, not stale.
            for (key, t) in state.traffic.iter_mut() {
                if !answered.contains(key) && t.window.is_some() {
                    t.set_window(Window {
                        secs: f64::from(window_s),
                        ..Window::default()
                    });
                }
            }
            let pods = &state.pods;
            state.traffic.retain(|k, _| pods.contains_key(k));
            let keys: Vec<PodKey> = state.traffic.keys().cloned().collect();
            for key in keys {
                figures::traffic_changed(state, &key);
            }
        }
        Update::TrafficRestored {
            namespace,
            pod,
            traffic,
            for_workload,
        } => {
            let key = (namespace, pod);
            let mut t: super::traffic::PodTraffic = traffic.into();
            // The window the recording was made with may not be the one shown now.
            if t.samples() > 0 {
                t.recompute(state.window_s);
            }
            match for_workload.as_deref().and_then(|w| w.split_once('/')) {
                Some((ns, w)) => {
                    let wk = (ns.to_string(), w.to_string());
                    state.carried.entry(wk.clone()).or_default().insert(key.clone(), t);
                    recount_carrier(state, &key);
                    state.derived.workload(wk);
                    state.derived.figures_changed();
                }
                None => {
                    state.traffic.insert(key.clone(), t);
                    figures::traffic_changed(state, &key);
                }
            }
        }
        Update::ScrapeFailed {
            namespace,
            pod,
            message,
        } => {
            // Once the pods are listed, a failure of a pod meshtop does not know raced its
            // deletion (the round's list was taken before): kept, it would stay for ever.
            if state.listed(Resource::Pods) && !state.pods.contains_key(&(namespace.clone(), pod.clone())) {
                state.dirty = was_dirty;
                return;
            }
            let key = (Resource::ProxyScrape, Some(format!("{namespace}/{pod}")));
            match state.errors.get(&key) {
                // The same failure again (a proxy that never answers, every round): nothing
                // on screen changes, so no frame. Thousands of unreachable proxies otherwise
                // kept an idle TUI drawing at its frame cap (7-10 % of a core at 10,000 pods).
                Some(e) if e.kind == ErrorKind::Api && e.message == message => state.dirty = was_dirty,
                old => {
                    let since = old.map_or(at, |e| e.since);
                    state.derived.errors_changed();
                    state.errors.insert(
                        key,
                        SourceErr {
                            kind: ErrorKind::Api,
                            message,
                            since,
                        },
                    );
                }
            }
        }
        Update::SourceError {
            resource,
            namespace,
            kind,
            message,
        } => {
            if resource == Resource::Namespaces && namespace.is_none() && kind == ErrorKind::Forbidden {
                list_named_namespaces(state, &message);
            }
            let key = (resource, namespace);
            let since = state.errors.get(&key).map_or(at, |e| e.since);
            state.errors.insert(key, SourceErr { kind, message, since });
            state.derived.errors_changed();
        }
        Update::CrashRecovered { resource } => {
            if state
                .errors
                .get(&(resource, None))
                .is_some_and(|e| e.kind == ErrorKind::Crashed)
            {
                state.errors.remove(&(resource, None));
                state.derived.errors_changed();
            }
        }
        Update::SourceRecovered { resource, namespace } => {
            if state.errors.remove(&(resource, namespace)).is_some() {
                state.derived.errors_changed();
            }
        }
        Update::SessionRestored {
            last_update,
            api_latency_ms,
            api_answered_at,
            traffic_origin,
            usage_origin,
            scrape_load,
        } => {
            state.scrape_load = scrape_load;
            state.last_update = last_update;
            state.api_latency_ms = api_latency_ms;
            state.api_answered_at = api_answered_at;
            state.traffic_origin = traffic_origin;
            state.usage_origin = usage_origin;
        }
    }
    // No selection clamping here: that would re-filter the open table on every update
    // (quadratic during a 10,000-pod list). Render clamps what it shows; keys clamp first.
}

/// What a proxy that reports for other workloads counted for each of them, into their rings.
/// A workload it reported before and not now is pushed zero counters (as after a restart), so
/// its window ends instead of repeating the last one.
fn carried_scraped(state: &mut State, proxy: &PodKey, described: BTreeMap<String, Counters>, at: UnixMillis) {
    // Most proxies report only for their own pod.
    if described.is_empty() && !state.carrier_bytes.contains_key(proxy) {
        return;
    }
    let window = state.window_s;
    let mut seen = BTreeSet::new();
    for (workload, counters) in described {
        let Some((ns, name)) = workload.split_once('/') else {
            continue;
        };
        let wk = (ns.to_string(), name.to_string());
        let ring = state
            .carried
            .entry(wk.clone())
            .or_default()
            .entry(proxy.clone())
            .or_default();
        // Its side changed (a client that now also serves): the counters before are of the
        // other side, not earlier values of these. Start the ring over.
        if ring
            .last_counters()
            .is_some_and(|c| c.own_is_outbound != counters.own_is_outbound)
        {
            *ring = Default::default();
        }
        ring.push_scrape(at, counters, window);
        seen.insert(wk);
    }
    // A workload it no longer reports had no traffic through it: its window ends at zero,
    // and the ring starts over should it come back (no spike of the whole counter). Missed
    // twice, it is forgotten, so workloads that are gone do not linger.
    let mut forget = Vec::new();
    for (wk, by) in state.carried.iter_mut() {
        if seen.contains(wk) {
            continue;
        }
        let Some(t) = by.get_mut(proxy) else { continue };
        if t.samples() == 0 {
            by.remove(proxy);
            if by.is_empty() {
                forget.push(wk.clone());
            }
        } else {
            t.set_window(Window {
                secs: f64::from(window),
                ..Window::default()
            });
        }
        seen.insert(wk.clone());
    }
    for wk in forget {
        state.carried.remove(&wk);
    }
    for wk in seen {
        state.derived.workload(wk);
    }
    recount_carrier(state, proxy);
}

/// The bytes a carrier moved over the window, all its workloads together, and how many
/// workloads it reports for (its cost is split evenly when it moved none).
fn recount_carrier(state: &mut State, proxy: &PodKey) {
    let (mut bytes, mut workloads) = (0.0, 0);
    for by in state.carried.values() {
        if let Some(t) = by.get(proxy) {
            workloads += 1;
            bytes += t.window.as_ref().map_or(0.0, |w| w.increase.bytes());
        }
    }
    state.carrier_bytes.insert(proxy.clone(), (bytes, workloads));
}

/// A pod is gone: with its traffic and its charts' history.
fn delete_pod(state: &mut State, key: &PodKey) {
    if let Some((_, key)) = forget_pod(state, key) {
        state.derived.pod_came_or_went(key);
    }
    state.traffic.remove(key);
    // A carrier's reports go with it.
    let mut touched = Vec::new();
    state.carried.retain(|wk, by| {
        if by.remove(key).is_some() {
            touched.push(wk.clone());
        }
        !by.is_empty()
    });
    for wk in touched {
        state.derived.workload(wk);
    }
    state.carrier_bytes.remove(key);
    state.usage_history.remove(key);
    // Its scrape error goes with it: kwok's silent proxies, created and deleted, otherwise
    // stayed counted on the status line for ever.
    let scope = Some(format!("{}/{}", key.0, key.1));
    if state.errors.remove(&(Resource::ProxyScrape, scope)).is_some() {
        state.derived.errors_changed();
    }
}

/// Takes a pod out of the world and the indexes, marking what depended on it.
/// Drops a pod from the figures; the workload it was counted in, if it was known. The
/// caller says how the rows changed.
fn forget_pod(state: &mut State, key: &PodKey) -> Option<(figures::WorkloadKey, figures::PodKeyRef)> {
    let old = state.pods.remove(key)?;
    let wl = figures::workload_key(&old);
    if let Some(names) = state.derived.workload_pods.get_mut(&wl) {
        names.remove(&key.1);
        if names.is_empty() {
            state.derived.workload_pods.remove(&wl);
        }
    }
    state.derived.workload(wl.clone());
    state.derived.namespace(&key.0);
    state.derived.meshes();
    Some((wl, old.key))
}

/// Namespace objects may not be read: the namespaces the user named are listed anyway, so
/// the namespaces view shows their pods' counts and cost, each marked with the reason its
/// labels (its injection setting) are unknown. A later list that succeeds replaces them
/// (their real objects) or prunes them (names that do not exist).
fn list_named_namespaces(state: &mut State, reason: &str) {
    let named = state
        .cluster
        .as_ref()
        .map(|c| c.named_namespaces.clone())
        .unwrap_or_default();
    for name in named {
        match state.namespaces.get_mut(&name) {
            Some(n) if n.unreadable.is_none() => {}
            Some(n) => n.unreadable = Some(reason.to_string()),
            None => {
                let info = NamespaceInfo {
                    name: name.clone(),
                    phase: String::new(),
                    labels: Default::default(),
                    annotations: Default::default(),
                    created: None,
                };
                state.namespaces.insert(
                    name.clone(),
                    NamespaceEntry {
                        info,
                        injection: Vec::new(),
                        figures: Default::default(),
                        unreadable: Some(reason.to_string()),
                    },
                );
                namespace_changed(state, &name);
            }
        }
    }
}

/// A namespace's injection setting decides which of its pods miss a proxy.
fn namespace_changed(state: &mut State, ns: &str) {
    figures::refresh_pods(state, Some(ns));
    state.derived.namespace(ns);
    state.derived.meshes();
    state.derived.rows_changed();
}

/// A new usage list: every pod's split, and the aggregates that sum the pods whose split
/// moved. Re-summing every workload and namespace for each list was most of an idle
/// meshtop's CPU at 30,000 pods, and pods whose figures did not move change no sum. A
/// pod's namespace is marked even when it is not listed (no right to list namespaces):
/// its pods still count in the overview.
fn usage_changed(state: &mut State) {
    let State {
        pods,
        usage,
        derived,
        carried,
        carrier_bytes,
        ..
    } = state;
    let mut moved = false;
    let mut carriers = Vec::new();
    for (key, p) in pods.iter_mut() {
        let split = usage.get(key).map(|u| figures::UsageSplit::of(p, u));
        if split != p.usage {
            p.usage = split;
            derived.workload(figures::workload_key(p));
            derived.namespace(&key.0);
            moved = true;
            // A node proxy or waypoint: the workloads it carries hold a share of its cost.
            if carrier_bytes.contains_key(key) {
                carriers.push(key);
            }
        }
    }
    if !carriers.is_empty() {
        for (wk, by) in carried.iter() {
            if carriers.iter().any(|c| by.contains_key(*c)) {
                derived.workload(wk.clone());
            }
        }
    }
    if moved {
        derived.meshes();
        derived.figures_changed();
    }
}

fn control_planes_changed(state: &mut State) {
    state.control_planes = detect::control_planes(state.workloads.values());
    state.derived.meshes();
    state.derived.rows_changed();
}

/// Every pod's rates again (the window changed): direct-scrape windows are recomputed from
/// the kept samples; Prometheus windows come with its next answer.
pub fn window_changed(state: &mut State) {
    let secs = state.window_s;
    for (wk, by) in state.carried.iter_mut() {
        for t in by.values_mut().filter(|t| t.samples() > 0) {
            t.recompute(secs);
        }
        state.derived.workload(wk.clone());
    }
    let carriers: Vec<PodKey> = state.carrier_bytes.keys().cloned().collect();
    for proxy in carriers {
        recount_carrier(state, &proxy);
    }
    let keys: Vec<PodKey> = state.traffic.keys().cloned().collect();
    for key in keys {
        if let Some(t) = state.traffic.get_mut(&key)
            && t.samples() > 0
        {
            t.recompute(secs);
        }
        figures::traffic_changed(state, &key);
    }
    figures::settle(state);
}

fn is_component(w: &detect::WorkloadInfo) -> bool {
    detect::match_component(
        crate::mesh::rules::all(),
        &w.kind,
        &w.name,
        &w.labels,
        &detect::Seen::workload(w),
    )
    .is_some()
}

pub(crate) fn workload_resource(kind: &str) -> Resource {
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
/// Errors of a namespace that is gone (a watch it forbade) go with it.
fn forget_namespace_errors(state: &mut State, name: &str) {
    let before = state.errors.len();
    state.errors.retain(|(_, scope), _| scope.as_deref() != Some(name));
    if state.errors.len() != before {
        state.derived.errors_changed();
    }
}

fn prune(state: &mut State, resource: Resource, namespace: Option<&str>, seen: &BTreeSet<String>) {
    let in_scope = |ns: &str| namespace.is_none_or(|n| n == ns);
    match resource {
        Resource::Pods => {
            let gone: Vec<PodKey> = state
                .pods
                .keys()
                .filter(|(ns, name)| in_scope(ns) && !seen.contains(&format!("{ns}/{name}")))
                .cloned()
                .collect();
            for key in gone {
                delete_pod(state, &key);
            }
            // Traffic and scrape errors of pods the complete list does not have (a scrape
            // that raced a deletion).
            let pods = &state.pods;
            state
                .traffic
                .retain(|(ns, name), _| !in_scope(ns) || pods.contains_key(&(ns.clone(), name.clone())));
            let before = state.errors.len();
            state.errors.retain(|(r, scope), _| {
                *r != Resource::ProxyScrape
                    || scope
                        .as_deref()
                        .and_then(|s| s.split_once('/'))
                        .is_none_or(|(ns, name)| {
                            !in_scope(ns) || pods.contains_key(&(ns.to_string(), name.to_string()))
                        })
            });
            if state.errors.len() != before {
                state.derived.errors_changed();
            }
        }
        Resource::Namespaces => {
            let gone: Vec<String> = state
                .namespaces
                .keys()
                .filter(|n| !seen.contains(*n))
                .cloned()
                .collect();
            for name in gone {
                state.namespaces.remove(&name);
                namespace_changed(state, &name);
                forget_namespace_errors(state, &name);
            }
        }
        Resource::Deployments | Resource::DaemonSets | Resource::StatefulSets => {
            state.workloads.retain(|(kind, ns, name), _| {
                workload_resource(kind) != resource || !in_scope(ns) || seen.contains(&format!("{ns}/{name}"))
            });
            control_planes_changed(state);
        }
        Resource::Crds => {
            state.crds.retain(|name, _| seen.contains(name));
            state.derived.meshes();
        }
        Resource::ApiServices => {
            state.api_services.retain(|name, _| seen.contains(name));
            state.derived.meshes();
        }
        Resource::Services => state
            .services
            .retain(|(ns, name), _| !in_scope(ns) || seen.contains(&format!("{ns}/{name}"))),
        Resource::Cluster
        | Resource::PodMetrics
        | Resource::ProxyScrape
        | Resource::Prometheus
        | Resource::Tap
        | Resource::Logs => {}
    }
}

impl State {
    /// Forgets everything learned from the cluster (on a context switch); keeps UI state.
    /// Built from a fresh state, so a new field of the world can never survive a switch.
    pub fn reset_world(&mut self) {
        let now = self.now;
        self.adopt_world(State::new(Default::default()));
        self.now = now;
    }

    /// Takes the world (everything sources told) from `world` and keeps this state's UI:
    /// a replay seeking back restores a snapshot without moving the user's view.
    pub fn adopt_world(&mut self, world: State) {
        let adopted_window = world.window_s;
        let ui = std::mem::replace(self, world);
        self.stack = ui.stack;
        self.mode = ui.mode;
        self.input = ui.input;
        self.show_help = ui.show_help;
        self.help_scroll = ui.help_scroll;
        self.window_s = ui.window_s;
        self.flash = ui.flash;
        self.theme = ui.theme;
        self.theme_count = ui.theme_count;
        self.keymap = ui.keymap;
        self.contexts = ui.contexts;
        // The session's permission, not something a source told: a context switch or a
        // replay's seek keeps it.
        self.writes = ui.writes;
        self.scroll = ui.scroll;
        self.last_page = ui.last_page;
        self.bench_form = ui.bench_form;
        // The marks are the user's; the runs they name come with the adopted world.
        self.compare_marks = ui.compare_marks;
        self.replay = ui.replay;
        self.recording = ui.recording;
        // The cache keys on generations the adopted world may repeat: start it afresh.
        self.row_cache = Default::default();
        self.derived.rows_changed();
        super::compare::recompute(self);
        // Its traffic windows were computed for the window of its time; show the user's.
        if adopted_window != self.window_s {
            window_changed(self);
        }
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Keymap;

    fn failed(message: &str) -> Stamped {
        Stamped {
            at: 5_000,
            update: Update::ScrapeFailed {
                namespace: "ns".into(),
                pod: "web".into(),
                message: message.into(),
            },
        }
    }

    /// A user who may not read Namespace objects still sees the namespaces it named, with
    /// their pods counted and their labels marked unknown; a list that later succeeds
    /// replaces the named one that exists and prunes the one that does not.
    #[test]
    fn named_namespaces_are_listed_when_namespaces_may_not_be_read() {
        let mut s = State::new(Keymap::default());
        let at = |at, update| Stamped { at, update };
        let cluster = crate::model::ClusterInfo {
            named_namespaces: vec!["shop".into(), "gone".into()],
            ..Default::default()
        };
        fold(&mut s, at(1, Update::Connected { cluster }));
        let pod = crate::model::PodInfo {
            namespace: "shop".into(),
            name: "web".into(),
            ..Default::default()
        };
        fold(&mut s, at(2, Update::PodApplied { pod }));
        let why = "namespaces is forbidden: User \"u\" cannot watch resource \"namespaces\"";
        let forbidden = |kind| Update::SourceError {
            resource: Resource::Namespaces,
            namespace: None,
            kind,
            message: why.into(),
        };
        // Another kind of failure says nothing about the right to read them.
        fold(&mut s, at(3, forbidden(ErrorKind::Unreachable)));
        assert!(s.namespaces.is_empty());
        fold(&mut s, at(4, forbidden(ErrorKind::Forbidden)));
        let listed: Vec<(&str, usize, Option<&str>)> = s
            .namespaces
            .values()
            .map(|n| (n.info.name.as_str(), n.figures.pods, n.unreadable.as_deref()))
            .collect();
        assert_eq!(listed, [("gone", 0, Some(why)), ("shop", 1, Some(why))]);

        // A recording started now (its snapshot) replays to the same stand-ins.
        let mut replayed = State::new(Keymap::default());
        for u in crate::app::snapshot::snapshot(&s) {
            fold(&mut replayed, u);
        }
        let unreadable = |s: &State| -> Vec<(String, Option<String>)> {
            s.namespaces
                .values()
                .map(|n| (n.info.name.clone(), n.unreadable.clone()))
                .collect()
        };
        assert_eq!(unreadable(&replayed), unreadable(&s));
        // The refusal may come before the connection is described: the same.
        let mut early = State::new(Keymap::default());
        fold(&mut early, at(1, forbidden(ErrorKind::Forbidden)));
        assert!(early.namespaces.is_empty());
        let cluster = s.cluster.clone().unwrap();
        fold(&mut early, at(2, Update::Connected { cluster }));
        assert_eq!(unreadable(&early), unreadable(&s));

        // Read after all (a role granted meanwhile): the real object, and no stand-in left.
        fold(
            &mut s,
            at(
                5,
                Update::ListStarted {
                    resource: Resource::Namespaces,
                    namespace: None,
                    seen: Vec::new(),
                },
            ),
        );
        let namespace = NamespaceInfo {
            name: "shop".into(),
            phase: "Active".into(),
            labels: [("istio-injection".to_string(), "enabled".to_string())].into(),
            annotations: Default::default(),
            created: Some(0),
        };
        fold(&mut s, at(6, Update::NamespaceApplied { namespace }));
        fold(
            &mut s,
            at(
                7,
                Update::ListDone {
                    resource: Resource::Namespaces,
                    namespace: None,
                },
            ),
        );
        let shop = &s.namespaces["shop"];
        assert_eq!(s.namespaces.len(), 1);
        assert_eq!((shop.unreadable.as_deref(), shop.figures.pods), (None, 1));
        assert_eq!(shop.injection.len(), 1);
    }

    /// A proxy that fails the same way every round asks for no frame; a new failure does,
    /// and keeps the time the failures began.
    #[test]
    fn the_same_scrape_failure_again_draws_nothing() {
        let mut s = State::new(Keymap::default());
        fold(&mut s, failed("connection refused"));
        assert!(s.dirty);
        s.dirty = false;
        fold(
            &mut s,
            Stamped {
                at: 10_000,
                ..failed("connection refused")
            },
        );
        assert!(!s.dirty);
        fold(
            &mut s,
            Stamped {
                at: 15_000,
                ..failed("timed out")
            },
        );
        assert!(s.dirty);
        let e = &s.errors[&(Resource::ProxyScrape, Some("ns/web".to_string()))];
        assert_eq!((e.message.as_str(), e.since), ("timed out", 5_000));
        // A failure report is not fresh data.
        assert_eq!(s.last_update, None);
        // Already dirty stays dirty.
        fold(
            &mut s,
            Stamped {
                at: 20_000,
                ..failed("timed out")
            },
        );
        assert!(s.dirty);
    }
}

//! A state written back as updates: what a recording started mid-session (R in the TUI)
//! opens with, so it replays to exactly the world the TUI knew. Folding the snapshot into
//! a fresh state gives back every world field (`tests/snapshot.rs` checks it field by
//! field, and fails to compile when State gains a field the check does not cover).

use super::fold::workload_resource;
use super::state::{State, UsageSnapshot};
use super::update::{Stamped, Update};
use crate::model::{Resource, UnixMillis};

/// The resources lists carry, in the order they are written.
const LISTED: [Resource; 8] = [
    Resource::Namespaces,
    Resource::Pods,
    Resource::Deployments,
    Resource::DaemonSets,
    Resource::StatefulSets,
    Resource::Services,
    Resource::Crds,
    Resource::ApiServices,
];

/// The world of `state` as updates.
pub fn snapshot(state: &State) -> Vec<Stamped> {
    let at = state.last_update.unwrap_or(state.now);
    let mut out = Vec::new();
    let mut push = |at: UnixMillis, update| out.push(Stamped { at, update });
    if let Some(c) = &state.cluster {
        push(at, Update::Connected { cluster: c.clone() });
    }
    // Usage before the pods: each pod takes its split when it is applied, and no chart
    // gains a sample the history below would not have.
    if let Some((origin, since)) = state.usage_origin {
        push(
            since,
            Update::PodUsage {
                usages: state.usage.values().cloned().collect(),
                origin,
            },
        );
    }
    for resource in LISTED {
        let items = items(state, resource);
        // Namespaces listed on their own (RBAC forbade the cluster-wide list, or both ran).
        let listed: Vec<&String> = state
            .synced_ns
            .iter()
            .filter(|(r, _)| *r == resource)
            .map(|(_, ns)| ns)
            .collect();
        if state.synced.contains(&resource) {
            push(at, list_started(resource, None, Vec::new()));
            for (_, u) in &items {
                push(at, u.clone());
            }
            push(
                at,
                Update::ListDone {
                    resource,
                    namespace: None,
                },
            );
        } else {
            // Not listed yet (or only per namespace): the items as they came, no list.
            for (_, u) in items
                .iter()
                .filter(|(n, _)| n.as_ref().is_none_or(|n| !listed.contains(&n)))
            {
                push(at, u.clone());
            }
        }
        for ns in listed {
            push(at, list_started(resource, Some(ns.clone()), Vec::new()));
            for (_, u) in items.iter().filter(|(n, _)| n.as_deref() == Some(ns.as_str())) {
                push(at, u.clone());
            }
            push(
                at,
                Update::ListDone {
                    resource,
                    namespace: Some(ns.clone()),
                },
            );
        }
    }
    // Each pod's own traffic, then what ztunnel and waypoints reported for each workload.
    let own = state.traffic.iter().map(|(k, t)| (k, t, None));
    let carried = state
        .carried
        .iter()
        .flat_map(|((wns, w), by)| by.iter().map(move |(k, t)| (k, t, Some(format!("{wns}/{w}")))));
    for ((namespace, pod), t, for_workload) in own.chain(carried) {
        push(
            at,
            Update::TrafficRestored {
                namespace: namespace.clone(),
                pod: pod.clone(),
                traffic: Box::new(t.into()),
                for_workload,
            },
        );
    }
    for ((namespace, pod), h) in &state.usage_history {
        push(
            at,
            Update::UsageHistoryRestored {
                namespace: namespace.clone(),
                pod: pod.clone(),
                history: UsageSnapshot::from(h),
            },
        );
    }
    for b in &state.benches {
        push(
            b.started,
            Update::BenchRestored {
                session: Box::new(b.clone()),
            },
        );
    }
    for s in &state.sweeps {
        push(
            s.started,
            Update::SweepRestored {
                session: Box::new(s.clone()),
            },
        );
    }
    for (t, name) in &state.markers {
        push(*t, Update::Marker { name: name.clone() });
    }
    // Tap: its sources, and the kept events (the summary is rebuilt from them).
    for (name, status) in &state.tap.sources {
        push(
            at,
            Update::TapSource {
                name: name.clone(),
                status: status.clone(),
            },
        );
    }
    // Each batch at its arrival time, so the summary covers the same window as before.
    let mut batch: Vec<crate::model::tap::TapEvent> = Vec::new();
    let mut batch_at = None;
    for e in &state.tap.events {
        if batch_at != Some(e.at) || batch.len() >= 500 {
            if let Some(t) = batch_at.filter(|_| !batch.is_empty()) {
                push(
                    t,
                    Update::TapEvents {
                        events: std::mem::take(&mut batch),
                    },
                );
            }
            batch_at = Some(e.at);
        }
        batch.push(e.event.clone());
    }
    if let Some(t) = batch_at.filter(|_| !batch.is_empty()) {
        push(t, Update::TapEvents { events: batch });
    }
    // Lists under way when the snapshot was taken, with what they had seen.
    for ((resource, namespace), seen) in &state.relisting {
        push(
            at,
            list_started(*resource, namespace.clone(), seen.iter().cloned().collect()),
        );
    }
    // Last: a finished list clears its resource's errors.
    for ((resource, namespace), e) in &state.errors {
        push(
            e.since,
            Update::SourceError {
                resource: *resource,
                namespace: namespace.clone(),
                kind: e.kind,
                message: e.message.clone(),
            },
        );
    }
    push(
        at,
        Update::SessionRestored {
            last_update: state.last_update,
            api_latency_ms: state.api_latency_ms,
            api_answered_at: state.api_answered_at,
            traffic_origin: state.traffic_origin.clone(),
            usage_origin: state.usage_origin,
            scrape_load: state.scrape_load.clone(),
        },
    );
    push(state.now, Update::Tick);
    out
}

fn list_started(resource: Resource, namespace: Option<String>, seen: Vec<String>) -> Update {
    Update::ListStarted {
        resource,
        namespace,
        seen,
    }
}

/// The applied updates of one resource, with the namespace each item is in.
fn items(state: &State, resource: Resource) -> Vec<(Option<String>, Update)> {
    match resource {
        // Stand-ins for named namespaces that may not be read are not objects: the
        // snapshot's Connected and the refusal rebuild them.
        Resource::Namespaces => state
            .namespaces
            .values()
            .filter(|n| n.unreadable.is_none())
            .map(|n| {
                (
                    None,
                    Update::NamespaceApplied {
                        namespace: n.info.clone(),
                    },
                )
            })
            .collect(),
        Resource::Pods => state
            .pods
            .values()
            .map(|p| {
                (
                    Some(p.info.namespace.clone()),
                    Update::PodApplied { pod: p.info.clone() },
                )
            })
            .collect(),
        Resource::Deployments | Resource::DaemonSets | Resource::StatefulSets => state
            .workloads
            .values()
            .filter(|w| workload_resource(&w.kind) == resource)
            .map(|w| {
                (
                    Some(w.namespace.clone()),
                    Update::WorkloadApplied { workload: w.clone() },
                )
            })
            .collect(),
        Resource::Services => state
            .services
            .values()
            .map(|s| (Some(s.namespace.clone()), Update::ServiceApplied { service: s.clone() }))
            .collect(),
        Resource::Crds => state
            .crds
            .iter()
            .map(|(name, group)| {
                (
                    None,
                    Update::CrdApplied {
                        name: name.clone(),
                        group: group.clone(),
                    },
                )
            })
            .collect(),
        Resource::ApiServices => state
            .api_services
            .values()
            .map(|a| (None, Update::ApiServiceApplied { api_service: a.clone() }))
            .collect(),
        Resource::Cluster
        | Resource::PodMetrics
        | Resource::ProxyScrape
        | Resource::Prometheus
        | Resource::Tap
        | Resource::Logs => Vec::new(),
    }
}

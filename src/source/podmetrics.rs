//! metrics.k8s.io PodMetrics: per-container CPU and memory. The API has no watch, so this
//! source lists every `interval`; one update carries the whole list.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::Client;
use serde::Deserialize;

use super::UpdateTx;
use crate::app::{Stamped, Update};
use crate::metrics::quantity;
use crate::model::{ContainerUsage, ErrorKind, PodUsage, Resource};

#[derive(Deserialize)]
struct List {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    metadata: Meta,
    timestamp: Option<String>,
    window: Option<String>,
    containers: Vec<Container>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    namespace: String,
}

#[derive(Deserialize)]
struct Container {
    name: String,
    usage: BTreeMap<String, String>,
}

/// The largest PodMetricsList read: 30,000 pods take about 12 MiB.
const MAX_BYTES: u64 = 128 * 1024 * 1024;

/// Converts a PodMetricsList body. Containers with unparsable quantities are skipped.
pub fn parse_list(body: &str) -> Result<Vec<PodUsage>, serde_json::Error> {
    let list: List = serde_json::from_str(body)?;
    Ok(list
        .items
        .into_iter()
        .map(|i| PodUsage {
            namespace: i.metadata.namespace,
            name: i.metadata.name,
            timestamp: i.timestamp,
            window_s: i
                .window
                .as_deref()
                .and_then(|w| w.strip_suffix('s'))
                .and_then(|w| w.parse().ok()),
            containers: i
                .containers
                .into_iter()
                .filter_map(|c| {
                    Some(ContainerUsage {
                        cpu_millicores: quantity::cpu_millicores(c.usage.get("cpu")?)?,
                        memory_bytes: quantity::bytes(c.usage.get("memory")?)?,
                        name: c.name,
                    })
                })
                .collect(),
        })
        .collect())
}

/// Connects (retrying; the kube source reports connection problems) and polls.
pub async fn run(target: super::kube::KubeTarget, interval: Duration, tx: UpdateTx) {
    let (_keep, interval) = tokio::sync::watch::channel(interval);
    run_every(target, interval, tx).await
}

/// As [`run`], at an interval that may change: the TUI reads usage more often while a
/// benchmark runs, so short runs get readings of their own.
pub async fn run_every(
    target: super::kube::KubeTarget,
    interval: tokio::sync::watch::Receiver<Duration>,
    tx: UpdateTx,
) {
    let Some(client) = super::kube::connect_quietly(&target, &tx).await else {
        return;
    };
    poll(client, target.namespaces, interval, tx).await
}

/// The PodMetrics list request for one namespace or all. A namespace that cannot be part
/// of a path (typed by the user with `-n`) is an error, not a panic.
pub fn list_request(namespace: Option<&str>) -> Result<http::Request<Vec<u8>>, String> {
    if let Some(ns) = namespace
        && !crate::input::is_namespace_name(ns)
    {
        return Err(format!("namespace {ns:?} cannot be asked for: not a namespace name"));
    }
    let path = match namespace {
        Some(ns) => format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"),
        None => "/apis/metrics.k8s.io/v1beta1/pods".to_string(),
    };
    http::Request::get(&path)
        .body(Vec::new())
        .map_err(|e| format!("namespace {:?} cannot be asked for: {e}", namespace.unwrap_or("")))
}

/// Where one round of lists goes.
enum Scopes {
    /// One cluster-wide list.
    All,
    /// Each named namespace (one name is the whole list, its errors unscoped).
    Named(Vec<String>),
    /// The cluster-wide list was forbidden: each namespace the API lists, on its own, as
    /// the watches fall back (a namespaced Role grants PodMetrics there).
    EachKnown,
}

impl Scopes {
    /// This round's namespaces (`None`: the cluster), and whether their errors are apart.
    async fn round(&self, client: &Client) -> (Vec<Option<String>>, bool) {
        match self {
            Scopes::All => (vec![None], false),
            Scopes::Named(one) if one.len() == 1 => (vec![Some(one[0].clone())], false),
            Scopes::Named(many) => (many.iter().cloned().map(Some).collect(), true),
            Scopes::EachKnown => {
                let api = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
                // Cannot list namespaces either: the namespace source says why, and the
                // cluster-wide refusal stays the reason the cells give.
                let names = match api.list_metadata(&Default::default()).await {
                    Ok(list) => list.items.into_iter().filter_map(|n| n.metadata.name).collect(),
                    Err(_) => Vec::new(),
                };
                (names.into_iter().map(Some).collect(), true)
            }
        }
    }
}

/// Lists PodMetrics every interval: across the cluster, or in each listed namespace on its
/// own (a namespaced Role grants them there), the usages of every namespace read in one
/// update and each namespace's error apart. A forbidden cluster-wide list falls back to
/// each namespace the API lists.
pub async fn poll(
    client: Client,
    namespaces: Vec<String>,
    mut interval: tokio::sync::watch::Receiver<Duration>,
    tx: UpdateTx,
) {
    if let Some(ns) = namespaces.iter().find(|ns| !crate::input::is_namespace_name(ns)) {
        // A namespace that cannot be put in a path stays that way: say so, and stop.
        let error = Update::SourceError {
            resource: Resource::PodMetrics,
            namespace: None,
            kind: ErrorKind::Api,
            message: format!("namespace {ns:?} cannot be asked for: not a namespace name"),
        };
        if tx.send(Stamped::now(error)).await.is_err() {
            tracing::debug!("pod metrics: the update channel closed");
        }
        return;
    }
    let mut scopes = match namespaces.len() {
        0 => Scopes::All,
        _ => Scopes::Named(namespaces),
    };
    // Each namespace's last good list: a namespace that fails one round keeps its figures
    // (as one cluster-wide list that fails sends nothing and keeps them), its error beside.
    let mut last_good: BTreeMap<String, Vec<PodUsage>> = BTreeMap::new();
    let mut first = true;
    loop {
        // The first list at once; then the current interval, or sooner when it shortens.
        if !first {
            let every = *interval.borrow_and_update();
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                changed = interval.changed() => match changed {
                    Ok(()) if *interval.borrow() > every => continue,
                    Ok(()) => {}
                    // Nobody can change it any more: keep to the last one.
                    Err(_) => tokio::time::sleep(every).await,
                }
            }
        }
        first = false;
        let (round, apart) = scopes.round(&client).await;
        // No namespace could be listed this round: keep what each one last read.
        if apart && !round.is_empty() {
            // A namespace gone from the list takes its kept figures with it.
            last_good.retain(|ns, _| round.iter().any(|r| r.as_deref() == Some(ns)));
        }
        let mut usages = Vec::new();
        let mut read = false;
        let mut told = Vec::new();
        for scope in &round {
            let namespace = if apart { scope.clone() } else { None };
            match list_once(&client, scope.as_deref()).await {
                Ok(u) => {
                    if let Some(ns) = &namespace {
                        last_good.insert(ns.clone(), u.clone());
                    }
                    usages.extend(u);
                    read = true;
                    if apart {
                        told.push(Update::SourceRecovered {
                            resource: Resource::PodMetrics,
                            namespace,
                        });
                    }
                }
                Err((ErrorKind::Forbidden, message)) if matches!(scopes, Scopes::All) => {
                    // Said once; then each namespace at once, without waiting an interval.
                    let error = Update::SourceError {
                        resource: Resource::PodMetrics,
                        namespace: None,
                        kind: ErrorKind::Forbidden,
                        message: format!("{message}; reading each namespace instead"),
                    };
                    if tx.send(Stamped::now(error)).await.is_err() {
                        return;
                    }
                    scopes = Scopes::EachKnown;
                    first = true;
                }
                Err((kind, message)) => {
                    if let Some(kept) = namespace.as_ref().and_then(|ns| last_good.get(ns)) {
                        usages.extend(kept.iter().cloned());
                    }
                    told.push(Update::SourceError {
                        resource: Resource::PodMetrics,
                        namespace,
                        kind,
                        message,
                    });
                }
            }
        }
        if read {
            told.insert(
                0,
                Update::PodUsage {
                    usages,
                    origin: crate::model::UsageOrigin::MetricsServer,
                },
            );
        }
        for update in told {
            if tx.send(Stamped::now(update)).await.is_err() {
                return;
            }
        }
    }
}

/// One PodMetrics list, of a namespace or of all.
async fn list_once(client: &Client, namespace: Option<&str>) -> Result<Vec<PodUsage>, (ErrorKind, String)> {
    let req = list_request(namespace).map_err(|m| (ErrorKind::Api, m))?;
    let body = super::body::from_kube(client, req, MAX_BYTES);
    match tokio::time::timeout(Duration::from_secs(10), body).await {
        Ok(Ok(body)) => std::str::from_utf8(&body)
            .map_err(|e| e.to_string())
            .and_then(|b| parse_list(b).map_err(|e| e.to_string()))
            .map_err(|e| (ErrorKind::Api, format!("unexpected PodMetrics response: {e}"))),
        Ok(Err(super::body::BodyError::Request(e))) => Err(super::errors::kube_error(Resource::PodMetrics, &e)),
        Ok(Err(other)) => Err((ErrorKind::Api, other.message())),
        Err(_) => Err((
            ErrorKind::Unreachable,
            "metrics.k8s.io did not answer within 10s".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pod_metrics_list() {
        let body = r#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},
          "items":[{"metadata":{"name":"web","namespace":"shop"},"timestamp":"2026-11-24T20:00:00Z","window":"10.279s",
          "containers":[{"name":"app","usage":{"cpu":"250001749n","memory":"64Mi"}},
                        {"name":"istio-proxy","usage":{"cpu":"20m","memory":"16384Ki"}},
                        {"name":"broken","usage":{"cpu":"lots","memory":"1Mi"}}]}]}"#;
        let u = parse_list(body).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(
            (u[0].namespace.as_str(), u[0].name.as_str(), u[0].window_s),
            ("shop", "web", Some(10.279))
        );
        assert_eq!(
            u[0].containers,
            vec![
                ContainerUsage {
                    name: "app".into(),
                    cpu_millicores: 250.001749,
                    memory_bytes: 67_108_864
                },
                ContainerUsage {
                    name: "istio-proxy".into(),
                    cpu_millicores: 20.0,
                    memory_bytes: 16_777_216
                },
            ]
        );
        assert!(parse_list("<html>").is_err());
    }

    #[test]
    fn a_namespace_that_is_not_a_path_is_an_error() {
        assert!(list_request(Some("shop")).is_ok());
        assert!(list_request(None).is_ok());
        // No space: http accepts UTF-8 in a path, so only the name check refuses it.
        let e = list_request(Some("prodü")).unwrap_err();
        assert_eq!(e, "namespace \"prodü\" cannot be asked for: not a namespace name");
    }
}

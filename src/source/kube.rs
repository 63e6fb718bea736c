//! The Kubernetes source: connection, API latency, and watches of namespaces and pods.
//! Watches list once and then follow changes; they never poll with re-lists.

use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config, Resource as _};

use super::UpdateTx;
use crate::app::{Stamped, Update};
use crate::model::{ClusterInfo, ErrorKind, NamespaceInfo, PodInfo, Resource, UnixMillis};

/// Where and what to watch.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub kubeconfig: Option<std::path::PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// A client plus what the status line shows about it.
pub struct Connection {
    pub client: Client,
    pub info: ClusterInfo,
}

/// Builds a client from the kubeconfig (explicit path, $KUBECONFIG or ~/.kube/config),
/// falling back to the in-cluster service account when no kubeconfig exists.
pub async fn connect(target: &KubeTarget) -> Result<Connection> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..Default::default()
    };
    let (config, context, cluster) = match &target.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .wrap_err_with(|| format!("reading kubeconfig {}", path.display()))?;
            let (ctx, cl) = names(&kc, target.context.as_deref());
            let config = Config::from_custom_kubeconfig(kc, &options)
                .await
                .wrap_err_with(|| format!("loading kubeconfig {}", path.display()))?;
            (config, ctx, cl)
        }
        None => match Kubeconfig::read() {
            Ok(kc) => {
                let (ctx, cl) = names(&kc, target.context.as_deref());
                (
                    Config::from_kubeconfig(&options)
                        .await
                        .wrap_err("loading kubeconfig")?,
                    ctx,
                    cl,
                )
            }
            Err(_) => {
                let config = Config::incluster().wrap_err(
                    "no kubeconfig found (set --kubeconfig or $KUBECONFIG) and not running in a cluster",
                )?;
                (config, "in-cluster".to_string(), None)
            }
        },
    };
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).wrap_err("creating the Kubernetes client")?;
    let info = ClusterInfo {
        cluster: cluster.unwrap_or_else(|| server.clone()),
        context,
        server,
        version: String::new(),
    };
    Ok(Connection { client, info })
}

fn names(kc: &Kubeconfig, context: Option<&str>) -> (String, Option<String>) {
    let ctx = context
        .map(str::to_owned)
        .or_else(|| kc.current_context.clone())
        .unwrap_or_else(|| "default".into());
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    (ctx, cluster)
}

/// Runs the source until the channel closes. Never returns an error: failures become
/// `SourceError` updates and the source retries with backoff, so the TUI keeps working.
pub async fn run(target: KubeTarget, tx: UpdateTx) {
    let conn = loop {
        match connect(&target).await {
            Ok(c) => break c,
            Err(e) => {
                // A broken kubeconfig will not fix itself quickly; say so and retry slowly.
                if !send(
                    &tx,
                    source_error(Resource::Cluster, ErrorKind::Api, format!("{e:#}")),
                )
                .await
                {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    };
    let client = conn.client.clone();
    let pods: Api<Pod> = match &target.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_config = match &target.namespace {
        Some(ns) => watcher::Config::default().fields(&format!("metadata.name={ns}")),
        None => watcher::Config::default(),
    };
    tokio::join!(
        probe(conn, tx.clone()),
        pump(
            watcher(pods, watcher::Config::default()),
            Resource::Pods,
            tx.clone(),
            pod_update
        ),
        pump(
            watcher(namespaces, ns_config),
            Resource::Namespaces,
            tx.clone(),
            namespace_update
        ),
    );
}

/// Learns the server version, then measures API latency every few seconds. Reports
/// the API as unreachable (and back) so the status line tells the truth after a VPN drop.
async fn probe(conn: Connection, tx: UpdateTx) {
    let mut info = conn.info;
    let mut connected = false;
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let result =
            tokio::time::timeout(Duration::from_secs(10), conn.client.apiserver_version()).await;
        let millis = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
        let ok = match result {
            Ok(Ok(v)) => {
                if !connected || info.version != v.git_version {
                    info.version = v.git_version;
                    connected = true;
                    if !send(
                        &tx,
                        Stamped::now(Update::Connected {
                            cluster: info.clone(),
                        }),
                    )
                    .await
                    {
                        return;
                    }
                    let _ = tx
                        .send(Stamped::now(Update::SourceRecovered {
                            resource: Resource::Cluster,
                        }))
                        .await;
                }
                send(&tx, Stamped::now(Update::ApiLatency { millis })).await
            }
            Ok(Err(e)) => {
                connected = false;
                send(
                    &tx,
                    source_error(
                        Resource::Cluster,
                        classify(&e),
                        format!("{}: {}", info.server, describe(&e)),
                    ),
                )
                .await
            }
            Err(_) => {
                connected = false;
                let msg = format!("{} did not answer /version within 10s", info.server);
                send(
                    &tx,
                    source_error(Resource::Cluster, ErrorKind::Unreachable, msg),
                )
                .await
            }
        };
        if !ok {
            return;
        }
        backoff = if connected {
            Duration::from_secs(5)
        } else {
            (backoff * 2).min(Duration::from_secs(30))
        };
        tokio::time::sleep(backoff).await;
    }
}

/// Forwards one watcher's events as updates.
async fn pump<K, S>(stream: S, resource: Resource, tx: UpdateTx, convert: fn(K) -> Update)
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    // The default backoff retries failed lists and watches forever, with jitter.
    let mut stream = std::pin::pin!(kube::runtime::WatchStreamExt::default_backoff(stream));
    let mut failing = false;
    while let Some(event) = stream.next().await {
        let update = match event {
            Ok(ev) => {
                if failing {
                    failing = false;
                    if !send(&tx, Stamped::now(Update::SourceRecovered { resource })).await {
                        return;
                    }
                }
                match ev {
                    watcher::Event::Init => Update::ListStarted { resource },
                    watcher::Event::InitApply(o) | watcher::Event::Apply(o) => convert(o),
                    watcher::Event::InitDone => Update::ListDone { resource },
                    watcher::Event::Delete(o) => deleted(convert(o)),
                }
            }
            Err(e) => {
                failing = true;
                let (kind, message) = classify_watch(&e);
                Update::SourceError {
                    resource,
                    kind,
                    message,
                }
            }
        };
        if !send(&tx, Stamped::now(update)).await {
            return;
        }
    }
}

/// The delete event for an object, from its converted "applied" form.
fn deleted(applied: Update) -> Update {
    match applied {
        Update::PodApplied { pod } => Update::PodDeleted {
            namespace: pod.namespace,
            name: pod.name,
        },
        Update::NamespaceApplied { namespace } => Update::NamespaceDeleted {
            name: namespace.name,
        },
        other => other,
    }
}

async fn send(tx: &UpdateTx, s: Stamped) -> bool {
    tx.send(s).await.is_ok()
}

fn source_error(resource: Resource, kind: ErrorKind, message: String) -> Stamped {
    Stamped::now(Update::SourceError {
        resource,
        kind,
        message,
    })
}

fn classify(e: &kube::Error) -> ErrorKind {
    match e {
        kube::Error::Api(s) if s.code == 403 => ErrorKind::Forbidden,
        kube::Error::Api(_) => ErrorKind::Api,
        _ => ErrorKind::Unreachable,
    }
}

/// Turns a watcher error into a kind and the API's own reason.
fn classify_watch(e: &watcher::Error) -> (ErrorKind, String) {
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => (classify(k), describe(k)),
        watcher::Error::WatchError(s) => (
            if s.code == 403 {
                ErrorKind::Forbidden
            } else {
                ErrorKind::Api
            },
            s.message.clone(),
        ),
        other => (ErrorKind::Api, other.to_string()),
    }
}

/// The API's own reason for API errors; otherwise the innermost cause (e.g. "Connection
/// refused"), which says more than the wrapper ("ServiceError: client error (Connect)").
pub fn describe(e: &kube::Error) -> String {
    if let kube::Error::Api(s) = e {
        return s.message.clone();
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let root = cause.to_string();
    let top = e.to_string();
    if root == top { top } else { root }
}

fn millis(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> UnixMillis {
    t.0.as_millisecond()
}

pub fn namespace_update(ns: Namespace) -> Update {
    Update::NamespaceApplied {
        namespace: namespace_info(&ns),
    }
}

pub fn namespace_info(ns: &Namespace) -> NamespaceInfo {
    let meta = ns.meta();
    NamespaceInfo {
        name: meta.name.clone().unwrap_or_default(),
        phase: ns
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Active".into()),
        labels: meta
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        created: meta.creation_timestamp.as_ref().map(millis),
    }
}

pub fn pod_update(pod: Pod) -> Update {
    Update::PodApplied {
        pod: pod_info(&pod),
    }
}

/// Summarises a pod. Native sidecars (init containers with `restartPolicy: Always`) count
/// as containers, as kubectl does, because mesh proxies run that way.
pub fn pod_info(pod: &Pod) -> PodInfo {
    use crate::model::{ContainerInfo, ContainerKind, OwnerRef, PortInfo};
    let meta = pod.meta();
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let statuses: Vec<&k8s_openapi::api::core::v1::ContainerStatus> = status
        .map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()).collect())
        .unwrap_or_default();
    let convert = |c: &k8s_openapi::api::core::v1::Container, kind: ContainerKind| {
        let st = statuses.iter().find(|s| s.name == c.name);
        ContainerInfo {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            kind,
            ports: c
                .ports
                .iter()
                .flatten()
                .filter_map(|p| Some(PortInfo { name: p.name.clone(), port: u16::try_from(p.container_port).ok()? }))
                .collect(),
            ready: st.is_some_and(|s| s.ready),
            restarts: st.map_or(0, |s| s.restart_count.max(0) as u32),
        }
    };
    let mut containers_info: Vec<ContainerInfo> = Vec::new();
    if let Some(spec) = spec {
        for c in spec.init_containers.iter().flatten() {
            let kind = if c.restart_policy.as_deref() == Some("Always") {
                ContainerKind::NativeSidecar
            } else {
                ContainerKind::Init
            };
            containers_info.push(convert(c, kind));
        }
        containers_info.extend(spec.containers.iter().map(|c| convert(c, ContainerKind::Main)));
    }
    let running: Vec<&ContainerInfo> = containers_info.iter().filter(|c| c.kind != ContainerKind::Init).collect();
    let phase = if meta.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into())
    };
    let labels = meta.labels.clone().unwrap_or_default();
    let owner = meta.owner_references.iter().flatten().find(|o| o.controller == Some(true)).map(|o| {
        // A Deployment's pods are owned by a ReplicaSet named <deployment>-<pod-template-hash>.
        match (o.kind.as_str(), labels.get("pod-template-hash")) {
            ("ReplicaSet", Some(hash)) if o.name.ends_with(&format!("-{hash}")) => OwnerRef {
                kind: "Deployment".into(),
                name: o.name[..o.name.len() - hash.len() - 1].to_string(),
            },
            _ => OwnerRef { kind: o.kind.clone(), name: o.name.clone() },
        }
    });
    let mut annotations = meta.annotations.clone().unwrap_or_default();
    // Large and irrelevant to meshtop; dropping it keeps 10,000-pod states and recordings small.
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    PodInfo {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        phase,
        ready: running.iter().filter(|c| c.ready).count() as u32,
        containers: running.len() as u32,
        restarts: running.iter().map(|c| c.restarts).sum(),
        node: spec.and_then(|s| s.node_name.clone()),
        ip: status.and_then(|s| s.pod_ip.clone()),
        created: meta.creation_timestamp.as_ref().map(millis),
        labels,
        annotations,
        owner,
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        containers_info,
    }
}

//! The Kubernetes source: connection, API latency, and watches of namespaces and pods.
//! Watches list once and then follow changes; they never poll with re-lists.

use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config, Resource as _, ResourceExt};
use serde::de::DeserializeOwned;

use super::UpdateTx;
use super::errors::{kube_error, watch_error};
use crate::app::{Stamped, Update};
use crate::mesh::detect::WorkloadInfo;
use crate::model::{ApiServiceInfo, ClusterInfo, ErrorKind, NamespaceInfo, PodInfo, Resource, UnixMillis};

/// Where and what to watch.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub kubeconfig: Option<std::path::PathBuf>,
    pub context: Option<String>,
    /// The namespaces to read (`-n a,b`); empty for all of them. Each source reads a listed
    /// namespace on its own, so a user whose Roles grant only these needs no cluster-wide
    /// list, and a namespace it may not read is reported apart with the API's reason.
    pub namespaces: Vec<String>,
}

/// A client plus what the status line shows about it.
pub struct Connection {
    pub client: Client,
    pub info: ClusterInfo,
}

/// Builds a client from the kubeconfig (explicit path, $KUBECONFIG or ~/.kube/config),
/// falling back to the in-cluster service account when no kubeconfig exists.
pub async fn connect(target: &KubeTarget) -> Result<Connection> {
    connect_with(target, true).await
}

/// The same; `retry` false turns off the client's own retries of 429, 503 and 504 (up to 15,
/// over minutes): for a request that must say at once that a service is unavailable.
pub async fn connect_with(target: &KubeTarget, retry: bool) -> Result<Connection> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..Default::default()
    };
    let (config, context, cluster, proxy_url) = match &target.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).wrap_err_with(|| format!("reading kubeconfig {}", path.display()))?;
            let (ctx, cl) = names(&kc, target.context.as_deref());
            let proxy = proxy_url_of(&kc, cl.as_deref());
            let config = Config::from_custom_kubeconfig(kc, &options)
                .await
                .wrap_err_with(|| format!("loading kubeconfig {}", path.display()))?;
            (config, ctx, cl, proxy)
        }
        None => match Kubeconfig::read() {
            Ok(kc) => {
                let (ctx, cl) = names(&kc, target.context.as_deref());
                let proxy = proxy_url_of(&kc, cl.as_deref());
                (
                    Config::from_kubeconfig(&options).await.wrap_err("loading kubeconfig")?,
                    ctx,
                    cl,
                    proxy,
                )
            }
            Err(_) => {
                let config = Config::incluster()
                    .wrap_err("no kubeconfig found (set --kubeconfig or $KUBECONFIG) and not running in a cluster")?;
                (config, "in-cluster".to_string(), None, None)
            }
        },
    };
    let server = config.cluster_url.to_string();
    let mut config = config;
    config.default_retry = retry;
    // The kubeconfig's proxy-url first; else HTTPS_PROXY and NO_PROXY as kubectl reads them
    // (kube's own reading of the environment checks NO_PROXY against the proxy, not the
    // server, so it is replaced here).
    if proxy_url.is_none() {
        config.proxy_url = match super::proxy::from_env(&config.cluster_url, |k| std::env::var(k).ok()) {
            Some(p) => Some(p.parse().map_err(|_| {
                let shown = crate::redact::redact_text(&p).unwrap_or(p);
                color_eyre::eyre::eyre!("the proxy {shown:?} from HTTPS_PROXY is not a URL")
            })?),
            None => None,
        };
    }
    let client = Client::try_from(config).wrap_err("creating the Kubernetes client")?;
    let info = ClusterInfo {
        cluster: cluster.unwrap_or_else(|| server.clone()),
        context,
        server,
        version: String::new(),
        namespace: client.default_namespace().to_string(),
        named_namespaces: target.namespaces.clone(),
    };
    Ok(Connection { client, info })
}

/// Connects, retrying every 10 s without reporting: for secondary sources, whose
/// connection problems the main kube source already reports. None once the app has quit.
pub async fn connect_quietly(target: &KubeTarget, tx: &UpdateTx) -> Option<Client> {
    loop {
        match connect(target).await {
            Ok(c) => return Some(c.client),
            Err(_) if !tx.is_closed() => tokio::time::sleep(Duration::from_secs(10)).await,
            Err(_) => return None,
        }
    }
}

/// The `proxy-url` of the context's cluster, if the kubeconfig gives one.
fn proxy_url_of(kc: &Kubeconfig, cluster: Option<&str>) -> Option<String> {
    kc.clusters
        .iter()
        .find(|c| Some(c.name.as_str()) == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.proxy_url.clone())
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
                tracing::warn!("connecting: {}", super::errors::report_text(&e));
                // A broken kubeconfig will not fix itself quickly; say so and retry slowly.
                if !send(
                    &tx,
                    source_error(Resource::Cluster, None, ErrorKind::Api, super::errors::report_text(&e)),
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
    let (silent_tx, silent) = tokio::sync::watch::channel(0u64);
    tokio::join!(
        probe(conn, tx.clone(), silent_tx),
        watches_restarted_after_silence(client, &target.namespaces, tx.clone(), silent),
    );
}

/// Every watch, started again each time the API server answers after a silence.
///
/// After a refused or reset connection each watch sees its error and starts over with a
/// fresh list (see [`Ended::Gone`]). After a silence (a laptop's
/// sleep, a VPN drop: no RST, no FIN) a watch's socket may be dead without an error and
/// would stay quiet until its server-side timeout, minutes later; so when the probe hears
/// the API again after timing out or being refused, the watches start over with a fresh
/// list.
async fn watches_restarted_after_silence(
    client: Client,
    ns: &[String],
    tx: UpdateTx,
    mut silent: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        tokio::select! {
            () = watches(client.clone(), ns, tx.clone()) => return,
            changed = silent.changed() => {
                if changed.is_err() {
                    return;
                }
                tracing::info!("the API server answers again after a silence: watching afresh");
            }
        }
    }
}

/// The cluster-scoped and namespaced watches meshtop keeps, of every namespace or of the
/// listed ones.
async fn watches(client: Client, ns: &[String], tx: UpdateTx) {
    // Namespace objects: the one named, or all of them (several named: all, keeping those).
    let ns_config = match ns {
        [one] => watcher::Config::default().fields(&format!("metadata.name={one}")),
        _ => watcher::Config::default(),
    };
    let keep: std::sync::Arc<[String]> = if ns.len() > 1 { ns.into() } else { Default::default() };
    let listed = move |e: &Result<watcher::Event<Namespace>, watcher::Error>| match e {
        Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n) | watcher::Event::Delete(n)) => {
            keep.is_empty() || keep.iter().any(|k| *k == n.name_any())
        }
        _ => true,
    };
    // Each watch on the heap: together they are ~140 KB of future, too much to move
    // about on a worker thread's stack (a source restarts on one).
    tokio::join!(
        Box::pin(pump(
            || {
                let listed = listed.clone();
                watcher(Api::<Namespace>::all(client.clone()), ns_config.clone())
                    .filter(move |e| std::future::ready(listed(e)))
            },
            None,
            tx.clone()
        )),
        Box::pin(pump(
            || watcher(Api::<CustomResourceDefinition>::all(client.clone()), Default::default()),
            None,
            tx.clone()
        )),
        Box::pin(pump(
            || watcher(Api::<APIService>::all(client.clone()), Default::default()),
            None,
            tx.clone()
        )),
        Box::pin(namespaced::<Pod>(client.clone(), ns, tx.clone())),
        Box::pin(namespaced::<Deployment>(client.clone(), ns, tx.clone())),
        Box::pin(namespaced::<DaemonSet>(client.clone(), ns, tx.clone())),
        Box::pin(namespaced::<StatefulSet>(client.clone(), ns, tx.clone())),
        Box::pin(namespaced::<Service>(client.clone(), ns, tx.clone())),
    );
}

/// How a watched Kubernetes type becomes updates.
pub trait Watched: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static {
    const RESOURCE: Resource;
    fn applied(self) -> Update;
    fn deleted(&self) -> Update;
}

/// Watches a namespaced type across the cluster (or in the listed namespaces). When RBAC
/// forbids the cluster-wide list, falls back to one watch per namespace, so the namespaces
/// the user may read still work and each forbidden one is reported with the API's reason.
async fn namespaced<K>(client: Client, only: &[String], tx: UpdateTx)
where
    K: Watched<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    if let [ns] = only {
        // The whole watch is this namespace: its list is the resource's complete list.
        let api = Api::<K>::namespaced(client, ns);
        pump(|| watcher(api.clone(), Default::default()), None, tx).await;
        return;
    }
    if !only.is_empty() {
        each_namespace::<K>(client, only, tx).await;
        return;
    }
    let mut restarts = Restarts::default();
    loop {
        // Cluster-wide first; stop at the first Forbidden before the initial list completes.
        // The backoff is on from the first request: errors still come out of the stream (so a
        // Forbidden is seen), but a refused connection is not retried in a tight loop.
        let stream = patient_backoff(watcher(Api::<K>::all(client.clone()), Default::default()));
        match cluster_wide::<K, _>(stream, &client, &tx).await {
            Ended::Gone { listed_at } => restarts.next(listed_at).await,
            Ended::Closed => return,
        }
    }
}

/// One watch per listed namespace, each on its own: no cluster-wide request at all, and each
/// namespace reports (and clears) its own errors. Together they are one list: once every
/// namespace has listed or failed, the resource as a whole is listed (what `discover` waits
/// for, and what ends the views' "listing…").
async fn each_namespace<K>(client: Client, only: &[String], tx: UpdateTx)
where
    K: Watched<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    let (inner, mut rx) = tokio::sync::mpsc::channel(super::CHANNEL_CAPACITY);
    let each = futures::future::join_all(only.iter().map(|ns| {
        let api = Api::<K>::namespaced(client.clone(), ns);
        Box::pin(pump(
            move || watcher(api.clone(), Default::default()),
            Some(ns.clone()),
            inner.clone(),
        ))
    }));
    drop(inner);
    let relay = async {
        let mut pending: std::collections::BTreeSet<&str> = only.iter().map(String::as_str).collect();
        let mut whole_told = false;
        while let Some(s) = rx.recv().await {
            if let Update::ListDone {
                namespace: Some(ns), ..
            }
            | Update::SourceError {
                namespace: Some(ns), ..
            } = &s.update
            {
                pending.remove(ns.as_str());
            }
            if !send(&tx, s).await {
                return;
            }
            if pending.is_empty() && !std::mem::replace(&mut whole_told, true) {
                let whole = Update::ListDone {
                    resource: K::RESOURCE,
                    namespace: None,
                };
                if !send(&tx, Stamped::now(whole)).await {
                    return;
                }
            }
        }
    };
    // The watches end when the session does (their sends fail), and so does the relay.
    tokio::select! {
        _ = each => {}
        () = relay => {}
    }
}

/// The cluster-wide watch of [`namespaced`]: listed, then followed; per namespace instead
/// when the list is forbidden.
async fn cluster_wide<K, S>(stream: S, client: &Client, tx: &UpdateTx) -> Ended
where
    K: Watched<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut listed = false;
    while let Some(ev) = stream.next().await {
        match ev {
            Err(e) if !listed && watch_error(K::RESOURCE, &e).0 == ErrorKind::Forbidden => {
                let (_, reason) = watch_error(K::RESOURCE, &e);
                let msg = format!("{reason}; watching each namespace instead");
                if !send(tx, source_error(K::RESOURCE, None, ErrorKind::Forbidden, msg)).await {
                    return Ended::Closed;
                }
                per_namespace::<K>(client.clone(), tx.clone()).await;
                return Ended::Closed;
            }
            other => {
                listed |= matches!(other, Ok(watcher::Event::InitDone));
                let update = event_update::<K>(other, None);
                if !send(tx, Stamped::now(update)).await {
                    return Ended::Closed;
                }
                if listed {
                    break;
                }
            }
        }
    }
    // Listed fine: keep following the same stream.
    forward::<K, _>(stream, None, tx.clone(), Some(tokio::time::Instant::now())).await
}

/// One watch per namespace, started and stopped as the namespace watch reports them.
async fn per_namespace<K>(client: Client, tx: UpdateTx)
where
    K: Watched<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    let start = |ns: String| {
        let api = Api::<K>::namespaced(client.clone(), &ns);
        tokio::spawn(pump(
            move || watcher(api.clone(), Default::default()),
            Some(ns),
            tx.clone(),
        ))
    };
    each_known_namespace(&client, start, || tx.is_closed()).await;
}

/// Keeps one task per namespace, started and stopped as the namespace watch reports them,
/// until `closed()`: what a source falls back to when its cluster-wide read is forbidden.
/// Without the right to list namespaces there is none (the namespace source says why).
pub(crate) async fn each_known_namespace(
    client: &Client,
    mut start: impl FnMut(String) -> tokio::task::JoinHandle<()>,
    closed: impl Fn() -> bool,
) {
    // Aborted when dropped: a restart of the watches (after a silence, or by the
    // supervisor) must not leave these running beside the new ones.
    let mut tasks: std::collections::BTreeMap<String, super::supervise::AbortOnDrop> = Default::default();
    let namespaces = patient_backoff(watcher(Api::<Namespace>::all(client.clone()), Default::default()));
    let mut namespaces = std::pin::pin!(namespaces);
    while let Some(ev) = namespaces.next().await {
        let (added, removed): (Vec<String>, Vec<String>) = match ev {
            Ok(watcher::Event::InitApply(n) | watcher::Event::Apply(n)) => (vec![n.name_any()], vec![]),
            Ok(watcher::Event::Delete(n)) => (vec![], vec![n.name_any()]),
            Ok(_) => (vec![], vec![]),
            // Cannot even list namespaces: the error is already reported by the namespace source.
            Err(_) => (vec![], vec![]),
        };
        for ns in added {
            if !tasks.contains_key(&ns) {
                tasks.insert(ns.clone(), super::supervise::AbortOnDrop(start(ns)));
            }
        }
        for ns in removed {
            // Dropping the handle aborts the namespace's task.
            tasks.remove(&ns);
        }
        if closed() {
            break;
        }
    }
}

/// Learns the server version, then measures API latency every few seconds. Reports
/// the API as unreachable (and back) so the status line tells the truth after a VPN drop.
/// `silent` counts the times the API answered again after the probe had timed out or
/// been refused.
async fn probe(conn: Connection, tx: UpdateTx, silent: tokio::sync::watch::Sender<u64>) {
    let mut info = conn.info;
    let mut connected = false;
    let mut timed_out = false;
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(10), conn.client.apiserver_version()).await;
        let millis = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
        let ok = match result {
            Ok(Ok(v)) => {
                if std::mem::take(&mut timed_out) {
                    silent.send_modify(|n| *n += 1);
                }
                if !connected || info.version != v.git_version {
                    info.version = v.git_version;
                    connected = true;
                    if !send(&tx, Stamped::now(Update::Connected { cluster: info.clone() })).await {
                        return;
                    }
                    let recovered = Update::SourceRecovered {
                        resource: Resource::Cluster,
                        namespace: None,
                    };
                    if !send(&tx, Stamped::now(recovered)).await {
                        return;
                    }
                }
                send(&tx, Stamped::now(Update::ApiLatency { millis })).await
            }
            Ok(Err(e)) => {
                connected = false;
                let (kind, why) = kube_error(Resource::Cluster, &e);
                // Refused or reset: the watches retry on kube's backoff, up to 30 s and
                // jitter apart, and a quiet one that reconnects sees no event to clear its
                // error; so when the API answers again they start over too. Not for error
                // statuses (a throttled server would be asked to relist everything).
                timed_out |= kind == ErrorKind::Unreachable;
                tracing::warn!(server = %info.server, %why, "API server not answering");
                send(
                    &tx,
                    source_error(Resource::Cluster, None, kind, format!("{}: {why}", info.server)),
                )
                .await
            }
            Err(_) => {
                connected = false;
                timed_out = true;
                let msg = format!("{} did not answer /version within 10s", info.server);
                send(&tx, source_error(Resource::Cluster, None, ErrorKind::Unreachable, msg)).await
            }
        };
        if !ok {
            return;
        }
        // While down, at most 10 s between probes: one /version request is cheap, and
        // it is what tells the user (and the watches) that the API is back.
        backoff = if connected {
            Duration::from_secs(5)
        } else {
            (backoff * 2).min(Duration::from_secs(10))
        };
        tokio::time::sleep(backoff).await;
    }
}

/// Forwards one watcher's events as updates, retrying with backoff.
/// Follows the watch `make` starts, and starts it over when it is stuck (see [`Ended`]).
async fn pump<K, S>(make: impl Fn() -> S, namespace: Option<String>, tx: UpdateTx)
where
    K: Watched,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    // The default backoff retries failed lists and watches forever, with jitter.
    let mut restarts = Restarts::default();
    while let Ended::Gone { listed_at } =
        forward::<K, _>(patient_backoff(make()), namespace.clone(), tx.clone(), None).await
    {
        restarts.next(listed_at).await;
    }
}

/// A watcher's stream with kube's default backoff (0.8 s doubling to 30 s, with jitter),
/// except that the start of a list does not reset it. kube's stream resets its backoff on
/// any `Ok`, and a watcher yields `Ok(Init)` before each list, so a list that kept failing
/// through a long outage was retried about every second by every watch.
pub(crate) fn patient_backoff<S>(stream: S) -> kube::runtime::utils::StreamBackoff<S, Patient>
where
    S: futures::TryStream,
{
    kube::runtime::WatchStreamExt::backoff(stream, Patient::default())
}

/// kube's default backoff, reset only once nothing has failed for 10 s.
#[derive(Default)]
pub(crate) struct Patient {
    inner: kube::runtime::watcher::DefaultBackoff,
    failed: Option<tokio::time::Instant>,
}

impl Iterator for Patient {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.failed = Some(tokio::time::Instant::now());
        self.inner.next()
    }
}

impl kube::runtime::utils::Backoff for Patient {
    fn reset(&mut self) {
        if self.failed.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            self.failed = None;
            kube::runtime::utils::Backoff::reset(&mut self.inner);
        }
    }
}

/// Spaces out the fresh starts of one watch: at once when it had stayed up 10 s after its
/// list completed; otherwise (it failed again at once) 1 s, 2 s ... 30 s apart while that
/// goes on. So a proxy that breaks every watch it carries does not make meshtop list in a
/// loop, however long a list takes, and one that resets idle connections now and then
/// costs one prompt relist each time.
#[derive(Default)]
struct Restarts {
    delay: Duration,
}

impl Restarts {
    async fn next(&mut self, listed_at: Option<tokio::time::Instant>) {
        let stayed_up = listed_at.is_some_and(|t| t.elapsed() >= Duration::from_secs(10));
        self.delay = if stayed_up {
            Duration::ZERO
        } else {
            (self.delay * 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
        };
        tokio::time::sleep(self.delay).await;
    }
}

/// Why a followed watch stopped.
enum Ended {
    /// No one listens any more (the session ends), or the stream ended.
    Closed,
    /// The API server refused to start the watch at the resourceVersion it had: 410 Gone,
    /// "too old resource version". kube's watcher retries that same version forever (it
    /// re-lists only on a 410 inside a watch), which after an API-server restart left a
    /// quiet resource (APIServices) in error for good; a new watcher lists afresh.
    ///
    /// Also when a listed watch lost its connection (refused, reset): kube's watcher would
    /// resume from its resourceVersion, and a quiet resource, which then sees no event,
    /// would keep "Connection refused" although its data is current again. The new
    /// watcher's list both catches up and clears the error.
    Gone {
        /// When the ended watch's list completed (None: it never did), which paces restarts.
        listed_at: Option<tokio::time::Instant>,
    },
}

/// Whether this error ends the watch so that a new one lists afresh (see [`Ended::Gone`]).
fn starts_over(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code == 410,
        // Not a failed first list (the watcher lists again itself and that list clears
        // the error), nor an object that does not decode (a relist would fail alike).
        watcher::Error::WatchStartFailed(k) | watcher::Error::WatchFailed(k) => matches!(
            k,
            kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) | kube::Error::Auth(_)
        ),
        _ => false,
    }
}

/// Follows one watcher; `listed_at` is when its list completed, if that was before.
async fn forward<K, S>(
    stream: S,
    namespace: Option<String>,
    tx: UpdateTx,
    mut listed_at: Option<tokio::time::Instant>,
) -> Ended
where
    K: Watched,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut failing = false;
    while let Some(event) = stream.next().await {
        if matches!(event, Ok(watcher::Event::InitDone)) {
            listed_at = Some(tokio::time::Instant::now());
        }
        // Not on a list's start: a list that fails again would clear the error and set it
        // anew each try, and "since" would never tell how long it has failed.
        if event.is_ok() && failing && !matches!(event, Ok(watcher::Event::Init)) {
            failing = false;
            let recovered = Update::SourceRecovered {
                resource: K::RESOURCE,
                namespace: namespace.clone(),
            };
            if !send(&tx, Stamped::now(recovered)).await {
                return Ended::Closed;
            }
        }
        failing |= event.is_err();
        let gone = event.as_ref().is_err_and(starts_over);
        if !send(&tx, Stamped::now(event_update(event, namespace.as_deref()))).await {
            return Ended::Closed;
        }
        if gone {
            tracing::info!(
                resource = K::RESOURCE.as_str(),
                ?namespace,
                "resourceVersion gone or connection lost: listing afresh"
            );
            return Ended::Gone { listed_at };
        }
    }
    Ended::Closed
}

fn event_update<K: Watched>(event: Result<watcher::Event<K>, watcher::Error>, namespace: Option<&str>) -> Update {
    let resource = K::RESOURCE;
    let namespace = namespace.map(str::to_owned);
    match event {
        Ok(watcher::Event::Init) => Update::ListStarted {
            resource,
            namespace,
            seen: Vec::new(),
        },
        Ok(watcher::Event::InitApply(o) | watcher::Event::Apply(o)) => o.applied(),
        Ok(watcher::Event::InitDone) => Update::ListDone { resource, namespace },
        Ok(watcher::Event::Delete(o)) => o.deleted(),
        Err(e) => {
            let (kind, message) = watch_error(resource, &e);
            tracing::debug!(resource = resource.as_str(), ?namespace, %message, "watch failed");
            Update::SourceError {
                resource,
                namespace,
                kind,
                message,
            }
        }
    }
}

async fn send(tx: &UpdateTx, s: Stamped) -> bool {
    tx.send(s).await.is_ok()
}

fn source_error(resource: Resource, namespace: Option<String>, kind: ErrorKind, message: String) -> Stamped {
    Stamped::now(Update::SourceError {
        resource,
        namespace,
        kind,
        message,
    })
}

fn millis(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> UnixMillis {
    t.0.as_millisecond()
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
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        created: meta.creation_timestamp.as_ref().map(millis),
    }
}

impl Watched for Namespace {
    const RESOURCE: Resource = Resource::Namespaces;
    fn applied(self) -> Update {
        Update::NamespaceApplied {
            namespace: namespace_info(&self),
        }
    }
    fn deleted(&self) -> Update {
        Update::NamespaceDeleted { name: self.name_any() }
    }
}

impl Watched for Pod {
    const RESOURCE: Resource = Resource::Pods;
    fn applied(self) -> Update {
        Update::PodApplied { pod: pod_info(&self) }
    }
    fn deleted(&self) -> Update {
        Update::PodDeleted {
            namespace: self.namespace().unwrap_or_default(),
            name: self.name_any(),
        }
    }
}

impl Watched for Service {
    const RESOURCE: Resource = Resource::Services;
    fn applied(self) -> Update {
        Update::ServiceApplied {
            service: service_info(&self),
        }
    }
    fn deleted(&self) -> Update {
        Update::ServiceDeleted {
            namespace: self.namespace().unwrap_or_default(),
            name: self.name_any(),
        }
    }
}

pub fn service_info(s: &Service) -> crate::model::ServiceInfo {
    let spec = s.spec.as_ref();
    crate::model::ServiceInfo {
        namespace: s.namespace().unwrap_or_default(),
        name: s.name_any(),
        kind: spec.and_then(|s| s.type_.clone()).unwrap_or_else(|| "ClusterIP".into()),
        cluster_ip: spec
            .and_then(|s| s.cluster_ip.clone())
            .filter(|ip| !ip.is_empty() && ip != "None"),
        ports: spec
            .and_then(|s| s.ports.as_ref())
            .map(|ps| {
                ps.iter()
                    .map(|p| crate::model::ServicePort {
                        name: p.name.clone(),
                        port: p.port,
                        node_port: p.node_port,
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        external: s
            .status
            .as_ref()
            .and_then(|st| st.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|is| {
                is.iter()
                    .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        selector: spec.and_then(|s| s.selector.clone()).unwrap_or_default(),
    }
}

impl Watched for CustomResourceDefinition {
    const RESOURCE: Resource = Resource::Crds;
    fn applied(self) -> Update {
        Update::CrdApplied {
            name: self.name_any(),
            group: self.spec.group,
        }
    }
    fn deleted(&self) -> Update {
        Update::CrdDeleted { name: self.name_any() }
    }
}

impl Watched for APIService {
    const RESOURCE: Resource = Resource::ApiServices;
    fn applied(self) -> Update {
        let spec = self.spec.as_ref();
        let available = self
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Available"));
        Update::ApiServiceApplied {
            api_service: ApiServiceInfo {
                name: self.name_any(),
                group: spec.and_then(|s| s.group.clone()).unwrap_or_default(),
                service: spec.and_then(|s| s.service.as_ref()).map(|r| {
                    format!(
                        "{}/{}",
                        r.namespace.clone().unwrap_or_default(),
                        r.name.clone().unwrap_or_default()
                    )
                }),
                available: available.is_some_and(|c| c.status == "True"),
                message: available.filter(|c| c.status != "True").and_then(|c| c.message.clone()),
            },
        }
    }
    fn deleted(&self) -> Update {
        Update::ApiServiceDeleted { name: self.name_any() }
    }
}

fn workload(
    kind: &str,
    meta: &ObjectMeta,
    template: Option<&PodTemplateSpec>,
    ready: Option<i32>,
    desired: Option<i32>,
) -> Update {
    let mut labels = meta.labels.clone().unwrap_or_default();
    let spec = template.and_then(|t| t.spec.as_ref());
    if let Some(tl) = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
    {
        labels.extend(tl.clone());
    }
    let images = spec
        .map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default();
    Update::WorkloadApplied {
        workload: WorkloadInfo {
            kind: kind.into(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            labels,
            ready: ready.unwrap_or(0).max(0) as u32,
            desired: desired.unwrap_or(0).max(0) as u32,
            images,
            created: meta.creation_timestamp.as_ref().map(millis),
        },
    }
}

fn workload_deleted(kind: &str, o: &impl kube::Resource) -> Update {
    Update::WorkloadDeleted {
        kind: kind.into(),
        namespace: o.namespace().unwrap_or_default(),
        name: o.name_any(),
    }
}

impl Watched for Deployment {
    const RESOURCE: Resource = Resource::Deployments;
    fn applied(self) -> Update {
        let spec = self.spec.as_ref();
        let ready = self.status.as_ref().and_then(|s| s.ready_replicas);
        workload(
            "Deployment",
            &self.metadata,
            spec.map(|s| &s.template),
            ready,
            Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
        )
    }
    fn deleted(&self) -> Update {
        workload_deleted("Deployment", self)
    }
}

impl Watched for DaemonSet {
    const RESOURCE: Resource = Resource::DaemonSets;
    fn applied(self) -> Update {
        let st = self.status.as_ref();
        let template = self.spec.as_ref().map(|s| &s.template);
        workload(
            "DaemonSet",
            &self.metadata,
            template,
            st.map(|s| s.number_ready),
            st.map(|s| s.desired_number_scheduled),
        )
    }
    fn deleted(&self) -> Update {
        workload_deleted("DaemonSet", self)
    }
}

impl Watched for StatefulSet {
    const RESOURCE: Resource = Resource::StatefulSets;
    fn applied(self) -> Update {
        let spec = self.spec.as_ref();
        let ready = self.status.as_ref().and_then(|s| s.ready_replicas);
        workload(
            "StatefulSet",
            &self.metadata,
            spec.map(|s| &s.template),
            ready,
            Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
        )
    }
    fn deleted(&self) -> Update {
        workload_deleted("StatefulSet", self)
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
        .map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
                .collect()
        })
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
                .filter_map(|p| {
                    Some(PortInfo {
                        name: p.name.clone(),
                        port: u16::try_from(p.container_port).ok()?,
                    })
                })
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
    let running: Vec<&ContainerInfo> = containers_info
        .iter()
        .filter(|c| c.kind != ContainerKind::Init)
        .collect();
    let phase = if meta.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into())
    };
    let labels = meta.labels.clone().unwrap_or_default();
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| {
            // A Deployment's pods are owned by a ReplicaSet named <deployment>-<pod-template-hash>.
            match (o.kind.as_str(), labels.get("pod-template-hash")) {
                ("ReplicaSet", Some(hash)) if o.name.ends_with(&format!("-{hash}")) => OwnerRef {
                    kind: "Deployment".into(),
                    name: o.name[..o.name.len() - hash.len() - 1].to_string(),
                },
                _ => OwnerRef {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        let mut s = kube::core::Status::failure("m", "r");
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    fn io() -> kube::Error {
        kube::Error::ReadEvents(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    }

    #[test]
    fn a_listed_watch_starts_over_on_410_and_on_a_lost_connection_only() {
        use watcher::Error as W;
        assert!(starts_over(&W::WatchStartFailed(api(410))));
        assert!(starts_over(&W::WatchStartFailed(io())));
        assert!(starts_over(&W::WatchFailed(io())));
        // A failed first list is retried as a list by the watcher itself.
        assert!(!starts_over(&W::InitialListFailed(io())));
        // An error status or an object that does not decode would fail a relist alike.
        assert!(!starts_over(&W::WatchStartFailed(api(500))));
        assert!(!starts_over(&W::WatchFailed(api(403))));
        let auth = kube::Error::Auth(kube::client::AuthError::AuthExecStart(std::io::Error::other("offline")));
        assert!(starts_over(&W::WatchFailed(auth)));
        let serde = serde_json::from_str::<u8>("x").unwrap_err();
        assert!(!starts_over(&W::WatchFailed(kube::Error::SerdeError(serde))));
    }

    /// A list that keeps failing backs off to 30 s although each try starts with an `Ok`
    /// (the list's start resets kube's own backoff); 10 s without a failure and the next
    /// one is short again.
    #[tokio::test(start_paused = true)]
    async fn a_failing_list_backs_off_although_each_try_starts_ok() {
        use kube::runtime::utils::Backoff;
        let mut b = Patient::default();
        let mut last = Duration::ZERO;
        for _ in 0..8 {
            b.reset();
            last = b.next().unwrap();
        }
        assert!(last >= Duration::from_secs(30), "{last:?}");
        let mut default = kube::runtime::watcher::DefaultBackoff::default();
        for _ in 0..8 {
            default.reset();
            last = default.next().unwrap();
        }
        assert!(last < Duration::from_millis(1600), "kube's own: {last:?}");
        tokio::time::sleep(Duration::from_secs(10)).await;
        b.reset();
        let first = b.next().unwrap();
        assert!(first < Duration::from_millis(1600), "{first:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_are_spaced_out_while_they_keep_coming() {
        let mut r = Restarts::default();
        let listed = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut gaps = Vec::new();
        // A watch that had stayed up: at once. Then each fails right after its list.
        for listed_at in [Some(listed), None, Some(tokio::time::Instant::now())] {
            let t = tokio::time::Instant::now();
            r.next(listed_at).await;
            gaps.push(t.elapsed().as_secs());
        }
        for _ in 0..6 {
            let t = tokio::time::Instant::now();
            r.next(Some(t)).await;
            gaps.push(t.elapsed().as_secs());
        }
        assert_eq!(gaps, [0, 1, 2, 4, 8, 16, 30, 30, 30]);
        // A list that took long and a watch that failed at once still waits.
        let slow_list_done = tokio::time::Instant::now();
        let t = tokio::time::Instant::now();
        r.next(Some(slow_list_done)).await;
        assert_eq!(t.elapsed().as_secs(), 30);
        // A watch that stayed up 10 s after its list: at once again.
        let done = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t = tokio::time::Instant::now();
        r.next(Some(done)).await;
        assert_eq!(t.elapsed().as_secs(), 0);
    }
}

//! Direct scrape of proxy metrics through the API server's pod proxy
//! (`/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy{path}`), or straight to the pod IP
//! with `--scrape-direct` when meshtop runs in the cluster. It keeps its own pod watch
//! to know the targets (pods whose proxy has a known metrics port), scrapes them every
//! `interval` with bounded concurrency, a timeout and a response-size cap, and emits the
//! cumulative golden-signal totals per pod; the fold turns consecutive scrapes into rates.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use super::UpdateTx;
use crate::app::{Stamped, Update};
use crate::mesh::detect;
use crate::metrics::golden::Dialect;
use crate::metrics::{exposition, golden};

/// Scrapes in flight at once: enough to cover 1,000 pods in a few seconds, few enough not
/// to load the API server.
pub const CONCURRENCY: usize = 16;
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Larger bodies are refused: a proxy exporting that much is misconfigured.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;

/// A proxy's metrics endpoint, as the mesh rules give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    /// Needed with `--scrape-direct`.
    pub ip: Option<String>,
    pub port: u16,
    pub path: String,
    /// From the pod's mesh; None lets the exposition's metric names decide.
    pub dialect: Option<Dialect>,
    /// The pod is a node proxy (ztunnel): its series describe the workloads it carries.
    /// An exposition that names itself ztunnel counts as one too.
    pub node_proxy: bool,
}

/// The one scrape-target selector, for the TUI's scraper and `meshtop top`: a running pod
/// whose proxy has a known metrics port.
pub fn target_of(info: &crate::model::PodInfo, mesh: &detect::PodMesh) -> Option<Target> {
    if info.phase != "Running" {
        return None;
    }
    let proxy = mesh.proxy.as_ref()?;
    Some(Target {
        namespace: info.namespace.clone(),
        pod: info.name.clone(),
        ip: info.ip.clone(),
        port: proxy.metrics_port?,
        path: proxy.metrics_path.clone().unwrap_or_else(|| "/metrics".into()),
        dialect: crate::mesh::dialect(mesh.mesh),
        node_proxy: mesh.model == crate::mesh::Model::Node,
    })
}

/// (namespace, pod) → where its proxy's metrics are.
type Targets = Arc<Mutex<BTreeMap<(String, String), Target>>>;

/// How scrapes reach the proxies.
#[derive(Clone)]
pub enum Via {
    /// The API server's pod proxy: works from anywhere kubectl works.
    PodProxy(Client),
    /// The pod IP itself: for meshtop running inside the cluster network; spares the API server.
    Direct(reqwest::Client),
}

impl Via {
    pub fn direct() -> Result<Via, String> {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map(Via::Direct)
            .map_err(|e| format!("building the HTTP client: {e}"))
    }
}

pub async fn run(target: super::kube::KubeTarget, direct: bool, interval: Duration, tx: UpdateTx) {
    let Some(client) = super::kube::connect_quietly(&target, &tx).await else {
        return;
    };
    let via = if direct {
        match Via::direct() {
            Ok(v) => v,
            Err(message) => {
                let _ = tx
                    .send(Stamped::now(Update::SourceError {
                        resource: crate::model::Resource::ProxyScrape,
                        namespace: None,
                        kind: crate::model::ErrorKind::Api,
                        message,
                    }))
                    .await;
                return;
            }
        }
    } else {
        Via::PodProxy(client.clone())
    };
    let targets: Targets = Default::default();
    let pods: Api<Pod> = match &target.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    tokio::join!(track(pods, targets.clone()), scrape_loop(via, targets, interval, tx));
}

/// Keeps the target list current from a pod watch (errors are the kube source's to report).
async fn track(pods: Api<Pod>, targets: Targets) {
    let stream = kube::runtime::WatchStreamExt::default_backoff(watcher(pods, Default::default()));
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        // A poisoned lock means a scrape task panicked; the list itself is still whole.
        let mut t = targets.lock().unwrap_or_else(|e| e.into_inner());
        match ev {
            Ok(watcher::Event::Init) => t.clear(),
            Ok(watcher::Event::InitApply(p) | watcher::Event::Apply(p)) => {
                let key = (p.namespace().unwrap_or_default(), p.name_any());
                let info = super::kube::pod_info(&p);
                match target_of(&info, &detect::classify_pod(&info)) {
                    Some(target) => {
                        t.insert(key, target);
                    }
                    None => {
                        t.remove(&key);
                    }
                }
            }
            Ok(watcher::Event::Delete(p)) => {
                t.remove(&(p.namespace().unwrap_or_default(), p.name_any()));
            }
            Ok(watcher::Event::InitDone) | Err(_) => {}
        }
    }
}

async fn scrape_loop(via: Via, targets: Targets, interval: Duration, tx: UpdateTx) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let list: Vec<Target> = targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut results = scrape_all(&via, list);
        while let Some(u) = results.next().await {
            if tx.send(u).await.is_err() {
                return;
            }
        }
    }
}

/// Scrapes every target, `CONCURRENCY` at a time, as the answers come.
pub fn scrape_all(via: &Via, targets: Vec<Target>) -> impl futures::Stream<Item = Stamped> + use<> {
    let via = via.clone();
    futures::stream::iter(targets)
        .map(move |t| {
            let via = via.clone();
            async move { Stamped::now(scrape(&via, &t).await) }
        })
        .buffer_unordered(CONCURRENCY)
}

/// Scrapes one target.
pub async fn scrape(via: &Via, t: &Target) -> Update {
    let u = scrape_target(via, t).await;
    if let Update::ScrapeFailed { message, .. } = &u {
        tracing::debug!(namespace = %t.namespace, pod = %t.pod, %message, "scrape failed");
    }
    u
}

/// Scrapes one pod; failures become a per-pod error update, never a panic or a stop.
/// `dialect` comes from the pod's mesh; without it the exposition's metric names decide.
pub async fn scrape_one(
    client: &Client,
    ns: &str,
    pod: &str,
    port: u16,
    path: &str,
    dialect: Option<Dialect>,
) -> Update {
    scrape_via(&Via::PodProxy(client.clone()), ns, pod, None, port, path, dialect).await
}

/// Scrapes one pod through the pod proxy or at its IP (`ip` is needed for the latter).
pub async fn scrape_via(
    via: &Via,
    ns: &str,
    pod: &str,
    ip: Option<&str>,
    port: u16,
    path: &str,
    dialect: Option<Dialect>,
) -> Update {
    let t = Target {
        namespace: ns.into(),
        pod: pod.into(),
        ip: ip.map(str::to_owned),
        port,
        path: path.into(),
        dialect,
        node_proxy: false,
    };
    scrape_target(via, &t).await
}

async fn scrape_target(via: &Via, t: &Target) -> Update {
    let (ns, pod, ip, port, path) = (&t.namespace, &t.pod, t.ip.as_deref(), t.port, &t.path);
    let fail = |message: String| Update::ScrapeFailed {
        namespace: ns.into(),
        pod: pod.into(),
        message,
    };
    let (url, fetched) = match via {
        Via::PodProxy(client) => {
            let url = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy{path}");
            let body = tokio::time::timeout(TIMEOUT, fetch(client, &url)).await;
            (url, body)
        }
        Via::Direct(http) => {
            let Some(ip) = ip else {
                return fail("the pod has no IP yet".into());
            };
            // IPv6 pod addresses need brackets in a URL.
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            let url = format!("http://{host}:{port}{path}");
            let body = tokio::time::timeout(TIMEOUT, fetch_direct(http, &url)).await;
            (url, body)
        }
    };
    let body = match fetched {
        Err(_) => return fail(format!("{url}: no answer within {}s", TIMEOUT.as_secs())),
        Ok(Err(e)) => return fail(format!("{url}: {e}")),
        Ok(Ok(body)) => body,
    };
    let e = exposition::parse(&body);
    if e.samples.is_empty() && !e.errors.is_empty() {
        return fail(format!(
            "{url}: not a metrics exposition ({}; {} bad lines)",
            e.errors[0], e.bad_lines
        ));
    }
    if e.truncated {
        return fail(format!(
            "{url}: more than {} samples, not used (a cardinality bomb?)",
            exposition::MAX_SAMPLES
        ));
    }
    // A proxy that has served nothing yet exports no request series at all: zero, not an error.
    let Some(dialect) = t.dialect.or_else(|| golden::detect(&e)) else {
        return fail(format!("{url}: no mesh request metrics in the exposition"));
    };
    let groups = golden::totals(&e, dialect);
    let described = golden::described(&groups, t.node_proxy || golden::reports_for_others(&e));
    let (inbound, outbound, edges) = golden::by_direction(&groups);
    Update::ProxyScraped {
        namespace: ns.clone(),
        pod: pod.clone(),
        dialect,
        inbound,
        outbound,
        edges,
        described,
        bad_lines: e.bad_lines,
    }
}

/// GET at the pod IP, reading at most `MAX_BYTES` (the body streams; nothing larger is kept).
async fn fetch_direct(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = http.get(url).send().await.map_err(|e| super::errors::innermost(&e))?;
    if !resp.status().is_success() {
        return Err(super::errors::api_status(crate::model::Resource::ProxyScrape, resp.status().as_u16(), "").1);
    }
    let buf = super::body::from_reqwest(resp, MAX_BYTES)
        .await
        .map_err(|e| e.message())?;
    String::from_utf8(buf).map_err(|_| "response is not UTF-8 text".to_string())
}

async fn fetch(client: &Client, url: &str) -> Result<String, String> {
    let req = http::Request::get(url).body(Vec::new()).map_err(|e| e.to_string())?;
    let buf = super::body::from_kube(client, req, MAX_BYTES)
        .await
        .map_err(|e| match e {
            super::body::BodyError::Request(e) => super::errors::kube_error(crate::model::Resource::ProxyScrape, &e).1,
            other => other.message(),
        })?;
    String::from_utf8(buf).map_err(|_| "response is not UTF-8 text".to_string())
}

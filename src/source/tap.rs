//! Tap sources: Linkerd's tap API through the API server's aggregation layer, and Envoy
//! access logs followed through the pod log API. Each emits `TapEvents` (already redacted)
//! and `TapSource` updates that say how it is doing, so the TUI and `meshtop tap` show the
//! same thing, and a recording keeps it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{AsyncBufRead, AsyncBufReadExt};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, LogParams};
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};

use super::UpdateTx;
use super::errors::{api_status, kube_error};
use crate::app::{Stamped, Update};
use crate::mesh::Mesh;
use crate::mesh::detect::{PodMesh, classify_pod};
use crate::model::tap::{TapEvent, TapOrigin, TapSourceChoice, TapSourceState, TapSourceStatus, TapSpec};
use crate::model::{PodInfo, Resource};
use crate::tap::accesslog;
use crate::tap::linkerd::{FrameDecoder, Joiner, MAX_FRAME, TapRequest, decode_api_error, decode_event};

/// How often events are handed on (and the source's counts with them).
const BATCH_EVERY: Duration = Duration::from_millis(200);
/// Events handed on at once at most; the rest wait for the next batch.
const BATCH_MAX: usize = 2000;
/// Pods whose logs one tap follows at most.
pub const MAX_LOG_PODS: usize = 100;
/// Log lines each followed pod starts with (the recent past, before new ones).
const TAIL_LINES: i64 = 20;
/// Without a single access-log entry after this long, the source says how to turn logs on.
const HINT_AFTER: Duration = Duration::from_secs(10);
/// Requests whose end has not come after this long are given up.
const IN_FLIGHT_TIMEOUT_MS: i64 = 60_000;
const IN_FLIGHT_MAX: usize = 10_000;
/// Meshes whose proxies are Envoy and write access logs.
const ENVOY_MESHES: [Mesh; 4] = [Mesh::Istio, Mesh::Consul, Mesh::Kuma, Mesh::Osm];
/// The annotation Linkerd's tap injector sets on pods that can be tapped.
const TAP_ENABLED: &str = "viz.linkerd.io/tap-enabled";

/// What a source says about itself, shared between its loop and its stop.
#[derive(Clone)]
struct Reporter {
    name: String,
    status: Arc<Mutex<TapSourceStatus>>,
    tx: UpdateTx,
}

impl Reporter {
    fn update(&self, f: impl FnOnce(&mut TapSourceStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    fn snapshot(&self) -> Option<TapSourceStatus> {
        self.status.lock().ok().map(|s| s.clone())
    }

    /// Sends the status; false when nobody listens any more.
    async fn send(&self) -> bool {
        let Some(status) = self.snapshot() else { return false };
        self.tx
            .send(Stamped::now(Update::TapSource {
                name: self.name.clone(),
                status,
            }))
            .await
            .is_ok()
    }

    async fn fail(&self, message: String, hint: Option<String>) {
        self.update(|s| {
            s.state = TapSourceState::Failed;
            s.message = Some(message);
            s.hint = hint;
        });
        self.send().await;
    }

    async fn events(&self, events: Vec<TapEvent>) -> bool {
        if events.is_empty() {
            return true;
        }
        self.tx.send(Stamped::now(Update::TapEvents { events })).await.is_ok()
    }
}

/// The name a tap of `spec` goes by in the TUI (one source per target).
pub fn source_name(spec: &TapSpec) -> String {
    spec.target.describe()
}

/// Taps until `stop` turns true, the source ends, or it fails (said in its status).
pub async fn run(target: super::kube::KubeTarget, spec: TapSpec, tx: UpdateTx, mut stop: watch::Receiver<bool>) {
    let origin = match spec.source {
        TapSourceChoice::Logs => TapOrigin::Logs,
        _ => TapOrigin::Linkerd,
    };
    let reporter = Reporter {
        name: source_name(&spec),
        status: Arc::new(Mutex::new(TapSourceStatus::new(
            origin,
            spec.target.describe(),
            TapSourceState::Connecting,
        ))),
        tx,
    };
    if !reporter.send().await {
        return;
    }
    // Tap streams are long and a 503 means the tap server is down: say so now, instead of
    // the client retrying for minutes.
    let client = match super::kube::connect_with(&target, false).await {
        Ok(c) => c.client,
        Err(e) => return reporter.fail(super::errors::report_text(&e), None).await,
    };
    tokio::select! {
        _ = tap(client, &spec, &reporter) => {}
        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
            reporter.update(|s| {
                if s.state.live() {
                    s.state = TapSourceState::Ended;
                    s.message = Some("stopped".into());
                }
            });
            reporter.send().await;
        }
    }
}

async fn tap(client: Client, spec: &TapSpec, r: &Reporter) {
    let pods = match pods_of(&client, spec).await {
        Ok(p) => p,
        // Linkerd's tap needs only `watch` on tap.linkerd.io: asked for it, meshtop goes
        // straight to the API when it may not read the pods (their checks are skipped).
        Err(_) if spec.source == TapSourceChoice::Linkerd => {
            r.update(|s| s.origin = TapOrigin::Linkerd);
            return linkerd_tap(client, spec, r).await;
        }
        Err(m) => return r.fail(m, None).await,
    };
    let classified: Vec<(PodInfo, PodMesh)> = pods
        .iter()
        .map(crate::source::kube::pod_info)
        .filter(|p| p.phase == "Running")
        .map(|p| {
            let m = classify_pod(&p);
            (p, m)
        })
        .collect();
    let linkerd: Vec<_> = classified
        .iter()
        .filter(|(_, m)| m.mesh == Some(Mesh::Linkerd))
        .collect();
    let envoy: Vec<_> = classified
        .iter()
        .filter(|(_, m)| m.mesh.is_some_and(|mesh| ENVOY_MESHES.contains(&mesh)) && m.proxy.is_some())
        .collect();
    let what = spec.target.describe();
    let use_linkerd = match spec.source {
        TapSourceChoice::Linkerd => true,
        TapSourceChoice::Logs => false,
        TapSourceChoice::Auto if !linkerd.is_empty() => true,
        TapSourceChoice::Auto if !envoy.is_empty() => false,
        TapSourceChoice::Auto => {
            let meshes: Vec<&str> = classified
                .iter()
                .filter_map(|(_, m)| m.mesh.map(Mesh::as_str))
                .collect();
            let why = if classified.is_empty() {
                format!("no running pods in {what}")
            } else if meshes.is_empty() {
                format!(
                    "the {} of {what} are not in a mesh",
                    crate::text::plural(classified.len(), "running pod")
                )
            } else {
                format!(
                    "no tap for {} pods: tap reads Linkerd's tap API and Envoy access logs",
                    meshes[0]
                )
            };
            return r
                .fail(
                    why,
                    Some("meshtop bench shows the requests of its own load in the tap view".into()),
                )
                .await;
        }
    };
    if use_linkerd {
        r.update(|s| s.origin = TapOrigin::Linkerd);
        let meshed: Vec<&PodInfo> = linkerd.iter().map(|(p, _)| p).collect();
        if !meshed.is_empty() && !meshed.iter().any(|p| p.annotations.contains_key(TAP_ENABLED)) {
            let hint = match spec.target.kind.as_str() {
                "pod" | "namespace" => format!(
                    "restart them so Linkerd's tap injector sets them up (kubectl rollout restart on their \
                     deployments in {}, or delete the pods for their controllers to recreate)",
                    spec.target.namespace
                ),
                kind => format!(
                    "restart them so Linkerd's tap injector sets them up (kubectl rollout restart {kind}/{} -n {})",
                    spec.target.name, spec.target.namespace
                ),
            };
            return r
                .fail(
                    format!("the pods of {what} are not tap-enabled (no {TAP_ENABLED} annotation: they started before linkerd-viz)"),
                    Some(hint),
                )
                .await;
        }
        linkerd_tap(client, spec, r).await;
    } else {
        r.update(|s| s.origin = TapOrigin::Logs);
        if envoy.is_empty() {
            return r
                .fail(
                    format!("no Envoy proxy container in the running pods of {what} (Istio, Consul, Kuma and OSM proxies write access logs)"),
                    None,
                )
                .await;
        }
        let followed: Vec<(PodInfo, String, Mesh)> = envoy
            .iter()
            .take(MAX_LOG_PODS)
            .filter_map(|(p, m)| Some((p.clone(), m.proxy.as_ref()?.container.clone(), m.mesh?)))
            .collect();
        if envoy.len() > MAX_LOG_PODS {
            r.update(|s| s.message = Some(format!("following {MAX_LOG_PODS} of {} pods", envoy.len())));
        }
        follow_logs(client, followed, r).await;
    }
}

/// The pods a target names.
async fn pods_of(client: &Client, spec: &TapSpec) -> Result<Vec<Pod>, String> {
    let t = &spec.target;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let err = |resource: Resource, e: kube::Error| {
        let (_, m) = kube_error(resource, &e);
        format!("{}: {m}", t.describe())
    };
    let selector = match t.kind.as_str() {
        "pod" => {
            return pods
                .get(&t.name)
                .await
                .map(|p| vec![p])
                .map_err(|e| err(Resource::Pods, e));
        }
        "namespace" => None,
        "deployment" => {
            let d = Api::<Deployment>::namespaced(client.clone(), &t.namespace)
                .get(&t.name)
                .await
                .map_err(|e| err(Resource::Deployments, e))?;
            d.spec.map(|s| s.selector)
        }
        "statefulset" => {
            let d = Api::<StatefulSet>::namespaced(client.clone(), &t.namespace)
                .get(&t.name)
                .await
                .map_err(|e| err(Resource::StatefulSets, e))?;
            d.spec.map(|s| s.selector)
        }
        "daemonset" => {
            let d = Api::<DaemonSet>::namespaced(client.clone(), &t.namespace)
                .get(&t.name)
                .await
                .map_err(|e| err(Resource::DaemonSets, e))?;
            d.spec.map(|s| s.selector)
        }
        other => return Err(format!("cannot tap a {other}")),
    };
    let mut lp = ListParams::default();
    if let Some(sel) = selector {
        lp = lp.labels(&selector_string(&sel));
    }
    pods.list(&lp)
        .await
        .map(|l| l.items)
        .map_err(|e| err(Resource::Pods, e))
}

/// A label selector as `kubectl get -l` takes it.
fn selector_string(s: &LabelSelector) -> String {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

// ------------------------------------------------------------------ Linkerd

async fn linkerd_tap(client: Client, spec: &TapSpec, r: &Reporter) {
    let request = TapRequest {
        namespace: spec.target.namespace.clone(),
        kind: spec.target.kind.clone(),
        name: spec.target.name.clone(),
        max_rps: spec.max_rps,
        method: spec.method.clone(),
        path_prefix: spec.path_prefix.clone(),
    };
    let http = match http::Request::post(request.path())
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .header(http::header::ACCEPT, "application/octet-stream")
        .body(kube::client::Body::from(request.encode()))
    {
        Ok(h) => h,
        Err(e) => return r.fail(format!("building the tap request: {e}"), None).await,
    };
    let res = match client.send(http).await {
        Ok(res) => res,
        Err(e) => return r.fail(kube_error(Resource::Tap, &e).1, None).await,
    };
    let status = res.status();
    let linkerd_error = res.headers().contains_key("linkerd-error");
    let mut body = res.into_body();
    if !status.is_success() || linkerd_error {
        let text = read_capped(&mut body, 64 * 1024).await;
        let message = if linkerd_error {
            decode_api_error(&text).unwrap_or_else(|| "the tap server answered with an error it did not frame".into())
        } else {
            serde_json::from_slice::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&text).trim().chars().take(300).collect())
        };
        let message = if linkerd_error {
            format!("the tap server refused: {message}")
        } else {
            api_status(Resource::Tap, status.as_u16(), &message).1
        };
        return r.fail(message, None).await;
    }
    r.update(|s| s.state = TapSourceState::Streaming);
    r.send().await;
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut joiner = Joiner::new(IN_FLIGHT_MAX, IN_FLIGHT_TIMEOUT_MS);
    let mut batch = Vec::new();
    let mut every = tokio::time::interval(BATCH_EVERY);
    let result: Result<(), String> = loop {
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(f)) => {
                    let Some(data) = f.data_ref() else { continue };
                    decoder.push(data);
                    let now = crate::model::now_millis();
                    let mut bad = None;
                    loop {
                        match decoder.next_frame() {
                            Ok(Some(fr)) => match decode_event(fr) {
                                Ok(ev) if ev.event.is_some() => batch.extend(joiner.push(ev, now)),
                                // The tap server reports a failure inside a stream as a framed
                                // ApiError (linkerd2 protohttp).
                                other => {
                                    let said = api_error_text(fr);
                                    bad = Some(match (said, other) {
                                        (Some(t), _) => format!("the tap server said: {t}"),
                                        (None, Err(e)) => e.to_string(),
                                        (None, Ok(_)) => continue,
                                    });
                                    break;
                                }
                            },
                            Ok(None) => break,
                            Err(e) => { bad = Some(e.to_string()); break; }
                        }
                    }
                    if let Some(e) = bad {
                        break Err(e);
                    }
                    if batch.len() >= BATCH_MAX && !r.events(std::mem::take(&mut batch)).await {
                        return;
                    }
                }
                Some(Err(e)) => break Err(format!("the tap stream broke: {}", super::errors::with_cause(&e))),
                None => break decoder.finish().map_err(|e| e.to_string()),
            },
            _ = every.tick() => {
                batch.extend(joiner.expire(crate::model::now_millis()));
                if !r.events(std::mem::take(&mut batch)).await {
                    return;
                }
            }
        }
    };
    r.events(batch).await;
    match result {
        Ok(()) => {
            r.update(|s| {
                s.state = TapSourceState::Ended;
                s.message = Some("the tap server closed the stream".into());
            });
            r.send().await;
        }
        Err(e) => r.fail(e, None).await,
    }
}

/// The text of a frame that is an ApiError rather than a TapEvent: valid UTF-8 in field 1
/// and nothing else.
fn api_error_text(frame: &[u8]) -> Option<String> {
    use prost::Message;
    let e = crate::tap::linkerd::proto::ApiError::decode(frame).ok()?;
    // Re-encoding gives back the frame only when it held nothing but the error text.
    (!e.error.is_empty() && e.encode_to_vec() == frame).then_some(e.error)
}

/// At most `cap` bytes of a body (an error's text).
async fn read_capped(body: &mut kube::client::Body, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    out.extend_from_slice(&d[..d.len().min(cap - out.len())]);
                }
            }
            _ => break,
        }
    }
    out
}

// ------------------------------------------------------------------ access logs

enum LogMsg {
    Event(Box<TapEvent>),
    Unparsed { why: String, line: String },
    Line,
    Ended { pod: String, error: Option<String> },
}

async fn follow_logs(client: Client, pods: Vec<(PodInfo, String, Mesh)>, r: &Reporter) {
    let mesh = pods[0].2;
    let (tx, mut rx) = mpsc::channel::<LogMsg>(4096);
    let mut tasks = Vec::new();
    for (pod, container, _) in &pods {
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
        tasks.push(tokio::spawn(follow_pod(
            api,
            format!("{}/{}", pod.namespace, pod.name),
            pod.name.clone(),
            container.clone(),
            tx.clone(),
        )));
    }
    drop(tx);
    let _abort = AbortOnDrop(tasks);
    r.update(|s| {
        s.state = TapSourceState::Streaming;
        let following = format!(
            "following the {} container of {}",
            pods[0].1,
            crate::text::plural(pods.len(), "pod")
        );
        s.message = Some(match s.message.take() {
            Some(m) => format!("{following} ({m})"),
            None => following,
        });
    });
    r.send().await;
    let started = tokio::time::Instant::now();
    let mut batch = Vec::new();
    let mut every = tokio::time::interval(BATCH_EVERY);
    let mut ended: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut events = 0u64;
    let mut changed = false;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(LogMsg::Event(e)) => {
                    events += 1;
                    batch.push(*e);
                    if batch.len() >= BATCH_MAX && !r.events(std::mem::take(&mut batch)).await {
                        return;
                    }
                }
                Some(LogMsg::Line) => {
                    r.update(|s| s.lines += 1);
                    changed = true;
                }
                Some(LogMsg::Unparsed { why, line }) => {
                    r.update(|s| {
                        s.unparsed += 1;
                        s.last_unparsed = Some(format!("{why}: {line}"));
                    });
                    changed = true;
                }
                Some(LogMsg::Ended { pod, error }) => {
                    ended.insert(pod, error);
                    changed = true;
                }
                None => break,
            },
            _ = every.tick() => {
                if !r.events(std::mem::take(&mut batch)).await {
                    return;
                }
                let quiet = events == 0 && started.elapsed() >= HINT_AFTER && r.snapshot().is_some_and(|s| s.hint.is_none());
                if quiet {
                    // Lines that come but never parse are a custom format, not logs turned off.
                    let lines = r.snapshot().map_or(0, |s| s.lines);
                    let hint = if lines > 0 {
                        Some(format!(
                            "{}, none in a known access-log format (Istio TEXT or JSON, Envoy's or Kuma's default): a custom accessLogFormat?",
                            crate::text::plural(lines as usize, "log line")
                        ))
                    } else {
                        crate::tap::hints::enable_access_logs(mesh)
                            .map(|how| format!("no access-log entries yet: access logs may be off. {how}"))
                    };
                    if let Some(h) = hint {
                        r.update(|s| s.hint = Some(h));
                        changed = true;
                    }
                }
                if events > 0 && r.snapshot().is_some_and(|s| s.hint.is_some()) {
                    r.update(|s| s.hint = None);
                    changed = true;
                }
                if changed {
                    changed = false;
                    let failed: Vec<String> = ended.iter().filter_map(|(p, e)| Some(format!("{p}: {}", e.as_ref()?))).collect();
                    if !failed.is_empty() {
                        r.update(|s| s.message = Some(format!("{} of {} pods' logs failed ({})", failed.len(), pods.len(), failed[0])));
                    }
                    if !r.send().await {
                        return;
                    }
                }
            }
        }
    }
    r.events(batch).await;
    let failed: Vec<String> = ended
        .iter()
        .filter_map(|(p, e)| Some(format!("{p}: {}", e.as_ref()?)))
        .collect();
    if failed.len() == pods.len() {
        r.fail(failed[0].clone(), None).await;
    } else {
        r.update(|s| {
            s.state = TapSourceState::Ended;
            s.message = Some("the log streams ended (pods gone?)".into());
        });
        r.send().await;
    }
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn follow_pod(api: Api<Pod>, key: String, name: String, container: String, tx: mpsc::Sender<LogMsg>) {
    let lp = LogParams {
        container: Some(container),
        follow: true,
        tail_lines: Some(TAIL_LINES),
        ..LogParams::default()
    };
    let error = match api.log_stream(&name, &lp).await {
        Ok(stream) => read_lines(stream, &key, &tx).await.err(),
        Err(e) => Some(kube_error(Resource::Logs, &e).1),
    };
    let _ = tx.send(LogMsg::Ended { pod: key, error }).await;
}

/// Reads lines of at most [`accesslog::MAX_LINE`] bytes (longer ones are counted as not
/// parsed and skipped to their end), parses each and hands it on.
async fn read_lines(stream: impl AsyncBufRead + Unpin, key: &str, tx: &mpsc::Sender<LogMsg>) -> Result<(), String> {
    let mut stream = stream;
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = stream.fill_buf().await.map_err(|e| format!("reading the log: {e}"))?;
        if buf.is_empty() {
            if !line.is_empty() {
                handle_line(&line, too_long, key, tx).await?;
            }
            return Ok(());
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = accesslog::MAX_LINE + 1 - line.len().min(accesslog::MAX_LINE + 1);
        line.extend_from_slice(&buf[..take.min(room)]);
        too_long |= take > room;
        stream.consume_unpin(take);
        if done {
            handle_line(&line, too_long, key, tx).await?;
            line.clear();
            too_long = false;
        }
    }
}

async fn handle_line(line: &[u8], too_long: bool, key: &str, tx: &mpsc::Sender<LogMsg>) -> Result<(), String> {
    let closed = |_| "the tap stopped".to_string();
    tx.send(LogMsg::Line).await.map_err(closed)?;
    let text = String::from_utf8_lossy(line);
    let parsed = if too_long {
        Err(accesslog::LineError("longer than 64 KiB"))
    } else {
        accesslog::parse_line(&text, Some(key))
    };
    let msg = match parsed {
        Ok(e) => LogMsg::Event(Box::new(e)),
        Err(why) => LogMsg::Unparsed {
            why: why.to_string(),
            line: unparsed_sample(&text),
        },
    };
    tx.send(msg).await.map_err(closed)
}

/// A line that did not parse, as shown: cut to 80 characters, secrets taken out.
pub fn unparsed_sample(line: &str) -> String {
    let line = line.trim_end();
    let line = crate::redact::scrub(line);
    crate::text::fit(&line, 80)
}

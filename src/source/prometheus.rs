//! The Prometheus source: golden signals and cAdvisor usage by PromQL, for clusters too
//! big to scrape every proxy. Reached directly (`--prometheus-url URL`) or through the API
//! server's service proxy after finding the mesh's Prometheus (`--prometheus-url auto`).

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};
use tokio::sync::watch;

use super::UpdateTx;
use crate::app::update::PodWindow;
use crate::app::{Stamped, Update};
use crate::metrics::golden::Dialect;
use crate::metrics::promql::{self, Part, Sample};
use crate::model::{ErrorKind, PodUsage, Resource};

/// Each query must answer within this; Prometheus evaluates these in milliseconds.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// cAdvisor CPU is the rate between the last two samples in this range: long enough
/// for kubelets scraped every 30 s.
const USAGE_WINDOW_S: u32 = 120;
/// Larger answers are refused rather than parsed.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Where the user asked meshtop to find Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Url(String),
    /// Look for the mesh's Prometheus service and reach it through the API server.
    Auto,
}

impl Spec {
    pub fn parse(s: &str) -> Result<Spec, String> {
        if s == "auto" {
            return Ok(Spec::Auto);
        }
        let url = reqwest::Url::parse(s)
            .map_err(|e| format!("--prometheus-url {s:?}: {e} (expected e.g. http://localhost:9090, or auto)"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("--prometheus-url {s:?}: only http and https are supported"));
        }
        Ok(Spec::Url(s.trim_end_matches('/').to_string()))
    }
}

/// A reachable Prometheus HTTP API.
#[derive(Clone)]
pub enum Endpoint {
    Direct {
        http: reqwest::Client,
        base: String,
    },
    /// `/api/v1/namespaces/{ns}/services/{name}:{port}/proxy` on the API server.
    ServiceProxy {
        client: Client,
        base: String,
        name: String,
    },
}

impl Endpoint {
    pub fn direct(base: &str) -> Result<Endpoint, String> {
        let http = reqwest::Client::builder()
            .timeout(QUERY_TIMEOUT)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Endpoint::Direct {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// How the status line, `top` and recordings name it: a URL as typed loses its
    /// credentials (the one redaction policy).
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Direct { base, .. } => crate::redact::scrub(base),
            Endpoint::ServiceProxy { name, .. } => format!("{name} (via the API server)"),
        }
    }

    /// One instant query, evaluated now.
    pub async fn query(&self, q: &str) -> Result<Vec<Sample>, (ErrorKind, String)> {
        self.query_at(q, None).await
    }

    /// One instant query evaluated at `at` (Unix seconds): the queries of one refresh share
    /// it, so their windows are the same and ratios between them stay consistent.
    pub async fn query_at(&self, q: &str, at: Option<f64>) -> Result<Vec<Sample>, (ErrorKind, String)> {
        let mut params: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("query", q)
            .finish();
        if let Some(t) = at {
            params.push_str(&format!("&time={t:.3}"));
        }
        let body = match self {
            Endpoint::Direct { http, base } => {
                let resp = http
                    .get(format!("{base}/api/v1/query?{params}"))
                    .send()
                    .await
                    .map_err(|e| (ErrorKind::Unreachable, reqwest_error(&e)))?;
                let status = resp.status();
                // Prometheus answers bad queries with 400 and a JSON error body: parse it.
                if !status.is_success() && status != reqwest::StatusCode::BAD_REQUEST {
                    return Err(super::errors::api_status(Resource::Prometheus, status.as_u16(), ""));
                }
                super::body::from_reqwest(resp, MAX_BYTES)
                    .await
                    .map_err(|e| (ErrorKind::Api, e.message()))?
            }
            Endpoint::ServiceProxy { client, base, .. } => {
                let req = http::Request::get(format!("{base}/api/v1/query?{params}"))
                    .body(Vec::new())
                    .map_err(|e| (ErrorKind::Api, e.to_string()))?;
                tokio::time::timeout(QUERY_TIMEOUT, super::body::from_kube(client, req, MAX_BYTES))
                    .await
                    .map_err(|_| {
                        (
                            ErrorKind::Unreachable,
                            format!("no answer within {}s", QUERY_TIMEOUT.as_secs()),
                        )
                    })?
                    .map_err(|e| match e {
                        super::body::BodyError::Request(e) => super::errors::kube_error(Resource::Prometheus, &e),
                        other => (ErrorKind::Api, other.message()),
                    })?
            }
        };
        promql::parse_response(&body).map_err(|e| (ErrorKind::Api, e))
    }
}

fn reqwest_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {}s", QUERY_TIMEOUT.as_secs())
    } else {
        super::errors::with_cause(e)
    }
}

/// One refresh: every pod's traffic over the window, and cAdvisor usage when Prometheus
/// has it (empty otherwise).
pub async fn refresh(
    endpoint: &Endpoint,
    window_s: u32,
) -> Result<(Vec<PodWindow>, Vec<PodUsage>), (ErrorKind, String)> {
    let at = Some(crate::model::now_millis() as f64 / 1000.0);
    // In the rules' order: Istio before plain Envoy, whose stats an Istio sidecar exports too.
    let mut dialects: Vec<Dialect> = Vec::new();
    // Cilium and Traefik Mesh name no dialect in their rules (a Cilium node runs the agent,
    // whose Hubble metrics are wanted, and Envoy, whose Envoy stats are): their families are
    // asked for all the same.
    let extra = [Dialect::Hubble, Dialect::Traefik];
    for d in crate::mesh::rules::all().iter().filter_map(|r| r.dialect).chain(extra) {
        if !dialects.contains(&d) {
            dialects.push(d);
        }
    }
    let plans: Vec<(Dialect, Vec<(Part, String)>)> = dialects
        .iter()
        .map(|d| (*d, promql::traffic_queries(*d, window_s)))
        .collect();
    let traffic = futures::future::try_join_all(plans.iter().map(|(_, qs)| {
        futures::future::try_join_all(qs.iter().map(|(part, q)| async move {
            endpoint
                .query_at(q, at)
                .await
                .map(|s| (*part, s))
                .map_err(|(k, m)| (k, format!("{m} (query: {q})")))
        }))
    }));
    let [cpu_q, mem_q] = promql::usage_queries(USAGE_WINDOW_S);
    let usage = futures::future::try_join(endpoint.query_at(&cpu_q.1, at), endpoint.query_at(&mem_q.1, at));
    let (answers, (cpu, mem)) = futures::future::try_join(traffic, usage).await?;
    // An Istio sidecar also exports Envoy's own stats: the first dialect that knows a pod wins.
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut pods = Vec::new();
    for ((dialect, _), answers) in plans.iter().zip(answers) {
        let found = promql::assemble(*dialect, window_s, &answers, &seen);
        seen.extend(found.iter().map(|p| (p.namespace.clone(), p.pod.clone())));
        pods.extend(found);
    }
    Ok((pods, promql::assemble_usage(&cpu, &mem, USAGE_WINDOW_S)))
}

/// A Service that may be Prometheus, as discovery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub namespace: String,
    pub name: String,
    pub app_label: Option<String>,
    /// (port name, number)
    pub ports: Vec<(Option<String>, i32)>,
}

/// Picks the most likely Prometheus: a known name or `app=prometheus` label, in a mesh's
/// namespace first. Returns (namespace, name, port) for the service proxy path.
pub fn pick(candidates: &[Candidate]) -> Option<(String, String, String)> {
    let names = crate::mesh::PROMETHEUS_SERVICES;
    let namespaces = crate::mesh::prometheus_namespaces();
    let is_prometheus =
        |c: &&Candidate| names.contains(&c.name.as_str()) || c.app_label.as_deref().is_some_and(|a| a == "prometheus");
    let rank = |c: &Candidate| {
        (
            namespaces
                .iter()
                .position(|n| *n == c.namespace)
                .unwrap_or(namespaces.len()),
            names.iter().position(|n| *n == c.name).unwrap_or(names.len()),
        )
    };
    let c = candidates.iter().filter(is_prometheus).min_by_key(|c| rank(c))?;
    let port = c
        .ports
        .iter()
        .find(|(n, _)| matches!(n.as_deref(), Some("web" | "http" | "http-web")))
        .or_else(|| c.ports.iter().find(|(_, p)| *p == 9090))
        .or_else(|| c.ports.first())?;
    Some((c.namespace.clone(), c.name.clone(), port.1.to_string()))
}

/// Lists Services and picks Prometheus: across the cluster; or, with namespaces listed
/// (`-n a,b`) or when the cluster-wide list is forbidden, in each of the listed namespaces
/// and the ones a mesh's Prometheus usually lives in, each on its own (a namespaced Role
/// may grant some of them). An error only when no namespace could be read at all.
pub async fn discover(client: &Client, namespaces: &[String]) -> Result<Option<Endpoint>, (ErrorKind, String)> {
    let list = |ns: Option<&str>| {
        let api: Api<Service> = match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        async move { api.list(&Default::default()).await }
    };
    let mut lists = Vec::new();
    let mut first_error = None;
    if namespaces.is_empty() {
        match list(None).await {
            Ok(l) => lists.push(l),
            Err(e) => first_error = Some(super::errors::kube_error(Resource::Services, &e)),
        }
    }
    let forbidden = matches!(first_error, Some((ErrorKind::Forbidden, _)));
    if !namespaces.is_empty() || forbidden {
        let mut each: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        for ns in crate::mesh::prometheus_namespaces() {
            if !each.contains(&ns) {
                each.push(ns);
            }
        }
        for ns in each {
            match list(Some(ns)).await {
                Ok(l) => lists.push(l),
                Err(e) => {
                    first_error.get_or_insert_with(|| super::errors::kube_error(Resource::Services, &e));
                }
            }
        }
    }
    if lists.is_empty() {
        let (kind, why) = first_error.unwrap_or((ErrorKind::Api, "no namespace to look in".into()));
        return Err((kind, format!("listing services: {why}")));
    }
    let candidates: Vec<Candidate> = lists
        .iter()
        .flat_map(|l| l.items.iter())
        .map(|s| Candidate {
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            name: s.metadata.name.clone().unwrap_or_default(),
            app_label: s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/name").or_else(|| l.get("app")).cloned()),
            ports: s
                .spec
                .as_ref()
                .and_then(|sp| sp.ports.as_ref())
                .map(|ps| ps.iter().map(|p| (p.name.clone(), p.port)).collect())
                .unwrap_or_default(),
        })
        .collect();
    let found = pick(&candidates).map(|(ns, name, port)| Endpoint::ServiceProxy {
        client: client.clone(),
        base: format!("/api/v1/namespaces/{ns}/services/{name}:{port}/proxy"),
        name: format!("{ns}/{name}:{port}"),
    });
    match (found, first_error) {
        // Not where it may look, and it may not look everywhere: say why, not just "none".
        (None, Some((kind, why))) => Err((
            kind,
            format!("no Prometheus service in the namespaces it may read; listing services elsewhere: {why}"),
        )),
        (found, _) => Ok(found),
    }
}

/// The one resolver of `--prometheus-url`: the URL itself, or the mesh's Prometheus found
/// in the cluster (`auto`). The TUI retries it; `meshtop top` asks once.
pub async fn resolve(
    spec: &Spec,
    client: Option<&Client>,
    namespaces: &[String],
) -> Result<Endpoint, (ErrorKind, String)> {
    match spec {
        Spec::Url(u) => Endpoint::direct(u).map_err(|m| (ErrorKind::Api, m)),
        Spec::Auto => {
            let Some(client) = client else {
                return Err((
                    ErrorKind::Unreachable,
                    "no cluster connection to look for Prometheus in".into(),
                ));
            };
            discover(client, namespaces).await?.ok_or_else(|| {
                (
                    ErrorKind::Api,
                    format!(
                        "no Prometheus service found (looked for {} or app=prometheus); pass --prometheus-url URL",
                        crate::mesh::PROMETHEUS_SERVICES.join(", ")
                    ),
                )
            })
        }
    }
}

/// Resolves the spec for the TUI, retrying every 30 s until a Prometheus appears.
async fn endpoint(spec: &Spec, target: &super::kube::KubeTarget, tx: &UpdateTx) -> Option<Endpoint> {
    let client = match spec {
        Spec::Auto => Some(super::kube::connect_quietly(target, tx).await?),
        Spec::Url(_) => None,
    };
    loop {
        let problem = match resolve(spec, client.as_ref(), &target.namespaces).await {
            Ok(e) => return Some(e),
            Err(p) => p,
        };
        tracing::warn!(problem = %problem.1, "Prometheus not found");
        if tx.send(Stamped::now(error(problem.0, problem.1))).await.is_err() {
            return None;
        }
        // A bad URL does not get better with time.
        if matches!(spec, Spec::Url(_)) {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

fn error(kind: ErrorKind, message: String) -> Update {
    Update::SourceError {
        resource: Resource::Prometheus,
        namespace: None,
        kind,
        message,
    }
}

/// Refreshes every `interval`, and at once when the user switches the window.
pub async fn run(
    spec: Spec,
    target: super::kube::KubeTarget,
    window: watch::Receiver<u32>,
    interval: Duration,
    tx: UpdateTx,
) {
    let Some(endpoint) = endpoint(&spec, &target, &tx).await else {
        return;
    };
    serve(endpoint, window, interval, tx).await;
}

/// Asks `endpoint` every `interval`, and at once when the user switches the window.
pub async fn serve(endpoint: Endpoint, mut window: watch::Receiver<u32>, interval: Duration, tx: UpdateTx) {
    let name = endpoint.describe();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = window.changed() => if changed.is_err() { return },
        }
        let window_s = *window.borrow_and_update();
        let updates = match refresh(&endpoint, window_s).await {
            Ok((pods, usages)) => {
                let mut u = vec![Update::PromTraffic {
                    window_s,
                    source: name.clone(),
                    pods,
                }];
                if !usages.is_empty() {
                    u.push(Update::PodUsage {
                        usages,
                        origin: crate::model::UsageOrigin::Cadvisor,
                    });
                }
                u
            }
            Err((kind, m)) => vec![error(kind, format!("{name}: {m}"))],
        };
        for u in updates {
            if tx.send(Stamped::now(u)).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ns: &str, name: &str, app: Option<&str>, ports: &[(Option<&str>, i32)]) -> Candidate {
        Candidate {
            namespace: ns.into(),
            name: name.into(),
            app_label: app.map(Into::into),
            ports: ports.iter().map(|(n, p)| (n.map(Into::into), *p)).collect(),
        }
    }

    #[test]
    fn picks_the_mesh_prometheus_and_its_web_port() {
        let c = vec![
            svc("default", "web", Some("web"), &[(Some("http"), 80)]),
            svc(
                "monitoring",
                "prometheus-k8s",
                None,
                &[(Some("web"), 9090), (Some("reloader"), 8080)],
            ),
            svc(
                "linkerd-viz",
                "prometheus",
                Some("prometheus"),
                &[(Some("admin-http"), 9090)],
            ),
        ];
        assert_eq!(
            pick(&c),
            Some(("linkerd-viz".into(), "prometheus".into(), "9090".into()))
        );
        assert_eq!(
            pick(&c[..2]),
            Some(("monitoring".into(), "prometheus-k8s".into(), "9090".into()))
        );
        assert_eq!(pick(&c[..1]), None);
        let labelled = vec![svc("obs", "metrics", Some("prometheus"), &[(None, 80)])];
        assert_eq!(pick(&labelled), Some(("obs".into(), "metrics".into(), "80".into())));
    }

    #[test]
    fn specs() {
        assert_eq!(Spec::parse("auto"), Ok(Spec::Auto));
        assert_eq!(
            Spec::parse("http://prom:9090/"),
            Ok(Spec::Url("http://prom:9090".into()))
        );
        assert!(Spec::parse("prom:9090").unwrap_err().contains("only http and https"));
        assert!(Spec::parse("not a url").is_err());
    }
}

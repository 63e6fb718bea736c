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
/// Proxies scraped per interval before scraping counts as too much (`--scrape-budget`):
/// 1,000 at 5 s is 200 scrapes a second through the API server.
pub const DEFAULT_BUDGET: u32 = 1_000;
/// While over budget with no Prometheus found, look for one again this often.
const PROMETHEUS_LOOKUP_EVERY: Duration = Duration::from_secs(60);

/// A proxy that keeps failing is tried less often: after `n` failures in a row its next try
/// is 2^(n-1) rounds after the last (the next round, then every 2nd, 4th, 8th; a round is
/// the interval, or longer when scrapes are paced at the budget), at most
/// [`MAX_WAIT`] after it while fewer than a thousand fail (see [`RETRY_SHARE`] for more). Thousands of proxies
/// that refuse every time (a port not exposed, pods the API server cannot reach) otherwise
/// cost meshtop and the API server a request each, every round, for nothing. Its error stays
/// on screen meanwhile; one answer resets it, and so does a new IP or port.
///
/// Only failures that are the proxy's count: through the API server's pod proxy, an error
/// status the API server returned for the pod (it could not reach it, or the proxy said
/// no); not a refused connection, a 401 or 429 from the API server itself, or a timeout on
/// the way (a silent proxy cannot be told from a silent API server), so an API-server
/// outage does not hold every proxy back after it ends. A 403 counts: it is usually the
/// pod's answer relayed; a missing `pods/proxy` right, once granted, costs a minute at most
/// (7.5 minutes at 9,000 proxies, which all failed alike).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Retries of failing proxies together take at most 1/`RETRY_SHARE` of the scrape budget
/// ([`Retry::admit`] holds them to it): with thousands failing alike (kwok's 9,000 sidecars that the API server cannot reach;
/// a metrics port no pod exposes) a minute's wait is still 150 failed requests a second,
/// so the longest wait grows with their number: at the default budget, 9,000 failing
/// proxies are each tried every 7.5 minutes, 20 a second in all.
const RETRY_SHARE: u32 = 10;

/// Which proxies are failing, and when each is tried next.
#[derive(Debug)]
pub struct Retry {
    failing: BTreeMap<(String, String), Failing>,
    /// Proxies scraped per interval at most (`--scrape-budget`).
    budget: u32,
    /// Retries of failing proxies that the share of the budget allows now, and when it was
    /// last topped up (see [`Retry::admit`]).
    allowance: f64,
    topped_up: Option<tokio::time::Instant>,
}

/// Whether a proxy is scraped in a round.
enum Turn {
    /// Not failing (or failing at an address it no longer has): scraped.
    Scrape,
    /// Failing, and its next try is due since this instant.
    Overdue(tokio::time::Instant),
    /// Failing, and not due yet.
    Wait,
}

impl Default for Retry {
    fn default() -> Self {
        Retry::with_budget(DEFAULT_BUDGET)
    }
}

#[derive(Debug)]
struct Failing {
    times: u32,
    next: tokio::time::Instant,
    /// The address that failed: a new one is tried at once.
    at: (Option<String>, u16),
}

impl Retry {
    pub fn with_budget(budget: u32) -> Self {
        Retry {
            failing: BTreeMap::new(),
            budget: budget.max(1),
            allowance: 0.0,
            topped_up: None,
        }
    }

    /// Proxies that failed last time they were tried (and have not moved since).
    pub fn failing_count(&self) -> usize {
        self.failing.len()
    }

    /// The longest wait before a failing proxy is tried again, given how many fail.
    fn longest_wait(&self, interval: Duration) -> Duration {
        let share = self.failing.len() as u64 * u64::from(RETRY_SHARE) / u64::from(self.budget);
        MAX_WAIT.max(interval.saturating_mul(u32::try_from(share).unwrap_or(u32::MAX)))
    }

    /// Whether `t`'s wait is over in the round that starts at `now` (the share of the budget
    /// aside: see [`Retry::admit`]).
    pub fn due(&mut self, t: &Target, now: tokio::time::Instant) -> bool {
        !matches!(self.turn(t, now), Turn::Wait)
    }

    fn turn(&mut self, t: &Target, now: tokio::time::Instant) -> Turn {
        if self.failing.is_empty() {
            return Turn::Scrape;
        }
        let key = (t.namespace.clone(), t.pod.clone());
        match self.failing.get(&key) {
            Some(f) if f.at.0 != t.ip || f.at.1 != t.port => {
                self.failing.remove(&key);
                Turn::Scrape
            }
            Some(f) if f.next <= now => Turn::Overdue(f.next),
            Some(_) => Turn::Wait,
            None => Turn::Scrape,
        }
    }

    /// The proxies scraped in the round that starts at `now`, in `list`'s order: every one
    /// not failing, and of the failing ones those due, most overdue first, as many as the
    /// retries' share of the budget (a tenth: [`RETRY_SHARE`]) has built up since the last
    /// round. Waits alone keep the average there, but thousands failing alike come due
    /// together: kwok's 9,000 sidecars were retried at the whole budget's pace, 200 requests
    /// a second for 45 s every 7.5 minutes (4.4 % of a core for meshtop while nothing
    /// happened); with the share, 100 per 5 s round (20 a second) at most.
    ///
    /// What builds up is capped at what the round lasts without retries (the interval, or
    /// longer when the proxies that are scraped anyway are paced), so the retries spread
    /// over the round at the share's rate: never a burst at the budget's pace.
    pub fn admit(&mut self, list: Vec<Target>, now: tokio::time::Instant, interval: Duration) -> Vec<Target> {
        if self.failing.is_empty() {
            return list;
        }
        let mut scrape = Vec::with_capacity(list.len());
        let mut overdue = Vec::new();
        for (i, t) in list.iter().enumerate() {
            match self.turn(t, now) {
                Turn::Scrape => scrape.push(true),
                Turn::Overdue(since) => {
                    scrape.push(false);
                    overdue.push((since, i));
                }
                Turn::Wait => scrape.push(false),
            }
        }
        let scraped = scrape.iter().filter(|s| **s).count() as f64;
        let interval_s = interval.as_secs_f64().max(1e-3);
        let per_s = f64::from(self.budget) / f64::from(RETRY_SHARE) / interval_s;
        let round_s = interval_s.max(scraped * interval_s / f64::from(self.budget));
        let most = (per_s * round_s).max(1.0);
        self.allowance = match self.topped_up {
            Some(at) => (self.allowance + now.saturating_duration_since(at).as_secs_f64() * per_s).min(most),
            None => most,
        };
        self.topped_up = Some(now);
        overdue.sort_unstable();
        // Whole retries only; the fraction carries over.
        let n = (self.allowance.floor() as usize).min(overdue.len());
        for &(_, i) in &overdue[..n] {
            scrape[i] = true;
        }
        self.allowance -= n as f64;
        list.into_iter()
            .zip(scrape)
            .filter_map(|(t, s)| s.then_some(t))
            .collect()
    }

    /// Notes the outcome of a scrape of `t` in the round that started at `round`; rounds
    /// start every `every` (the interval, or longer when paced), and the budget is per
    /// `interval`. Waits count in rounds: when 9,000 proxies are paced over 45 s rounds, a
    /// wait of one or two 5 s intervals would still be every round.
    pub fn saw(
        &mut self,
        t: &Target,
        outcome: Outcome,
        round: tokio::time::Instant,
        interval: Duration,
        every: Duration,
    ) {
        let key = (t.namespace.clone(), t.pod.clone());
        match outcome {
            Outcome::Answered => {
                self.failing.remove(&key);
            }
            Outcome::ProxyFailed => {
                let longest = self.longest_wait(interval);
                let f = self.failing.entry(key).or_insert(Failing {
                    times: 0,
                    next: round,
                    at: (t.ip.clone(), t.port),
                });
                f.times = f.times.saturating_add(1);
                let rounds = 1u32 << (f.times - 1).min(20);
                f.next = round + every.max(interval).saturating_mul(rounds).min(longest);
            }
            // Not the proxy's failure, so its count stands; but a failing proxy that times
            // out would otherwise stay the most overdue and take the retries' share every
            // round, so it goes to the back of the queue.
            Outcome::PathFailed => {
                if let Some(f) = self.failing.get_mut(&key) {
                    f.next = round + every.max(interval);
                }
            }
        }
    }

    /// Forgets proxies that are no longer targets (their pods went).
    fn keep(&mut self, targets: &[Target]) {
        if self.failing.is_empty() {
            return;
        }
        let live: std::collections::BTreeSet<(&str, &str)> =
            targets.iter().map(|t| (t.namespace.as_str(), t.pod.as_str())).collect();
        self.failing
            .retain(|(ns, pod), _| live.contains(&(ns.as_str(), pod.as_str())));
    }
}

/// How a scrape ended, for [`Retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Figures came back.
    Answered,
    /// The proxy failed: refused, an error status, not an exposition, too large.
    ProxyFailed,
    /// The way to it failed (the API server refused or did not answer): says nothing
    /// about the proxy.
    PathFailed,
}

/// How a round of scrapes goes, given the proxies to scrape and the budget per interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan {
    /// Every proxy, `CONCURRENCY` at a time, every interval.
    All,
    /// Over budget (and no Prometheus to hand over to): scrapes start `spacing` apart, the
    /// budget's rate, so a round takes `round` and each proxy is scraped that often.
    Paced { spacing: Duration, round: Duration },
}

pub fn plan(proxies: usize, budget: u32, interval: Duration) -> Plan {
    let budget = budget.max(1);
    if proxies <= budget as usize {
        return Plan::All;
    }
    let spacing = interval / budget;
    let round = spacing.saturating_mul(u32::try_from(proxies).unwrap_or(u32::MAX));
    Plan::Paced { spacing, round }
}

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

/// How the user asked for proxies to be scraped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// `--scrape-direct`.
    pub direct: bool,
    /// `--scrape-budget`: proxies per interval.
    pub budget: u32,
}

/// What the scraper needs to know besides the cluster.
#[derive(Debug, Clone)]
pub struct Settings {
    /// At the pod IPs rather than through the API server (`--scrape-direct`).
    pub direct: bool,
    pub interval: Duration,
    /// Proxies per interval (`--scrape-budget`).
    pub budget: u32,
    /// The traffic window, for Prometheus should it take over; None: never hand over
    /// (pace the scrapes instead).
    pub window: Option<tokio::sync::watch::Receiver<u32>>,
}

/// Scrapes every proxy while they fit the budget; past it, hands over to the mesh's
/// Prometheus when one is found (for the rest of the session), else paces the scrapes.
pub async fn run(target: super::kube::KubeTarget, settings: Settings, tx: UpdateTx) {
    let Some(client) = super::kube::connect_quietly(&target, &tx).await else {
        return;
    };
    let Settings {
        direct,
        interval,
        budget,
        window,
    } = settings;
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
    let lookup = window.is_some().then(|| Lookup {
        client: client.clone(),
        namespaces: target.namespaces.clone(),
    });
    let handed_over = tokio::select! {
        () = track(client, &target.namespaces, targets.clone()) => return,
        over = scrape_loop(via, targets, interval, budget, lookup, tx.clone()) => over,
    };
    if let (Some(endpoint), Some(window)) = (handed_over, window) {
        // The Prometheus just found, not a second lookup that could fail. Boxed: the
        // supervisor rebuilds this future on a worker's stack.
        Box::pin(super::prometheus::serve(endpoint, window, interval, tx)).await;
    }
}

/// Finds the mesh's Prometheus for the hand-over.
struct Lookup {
    client: Client,
    namespaces: Vec<String>,
}

impl Lookup {
    async fn prometheus(&self) -> Option<super::prometheus::Endpoint> {
        let spec = super::prometheus::Spec::Auto;
        match super::prometheus::resolve(&spec, Some(&self.client), &self.namespaces).await {
            Ok(endpoint) => Some(endpoint),
            Err((_, why)) => {
                tracing::info!(%why, "over the scrape budget; no Prometheus to hand over to");
                None
            }
        }
    }
}

/// Keeps the target list current from a pod watch of every namespace, or of each listed
/// one on its own (errors are the kube source's to report: it watches the same pods).
async fn track(client: Client, namespaces: &[String], targets: Targets) {
    match namespaces {
        [] => track_all(client, targets).await,
        [one] => track_one(Api::namespaced(client, one), None, targets).await,
        many => {
            let each = many.iter().map(|ns| {
                Box::pin(track_one(
                    Api::namespaced(client.clone(), ns),
                    Some(ns.clone()),
                    targets.clone(),
                ))
            });
            futures::future::join_all(each).await;
        }
    }
}

/// The cluster-wide pod watch; when RBAC forbids it before the first list, one watch per
/// namespace instead, as the kube source's watches do (a namespaced Role grants pods there).
async fn track_all(client: Client, targets: Targets) {
    let stream = super::kube::patient_backoff(watcher(Api::<Pod>::all(client.clone()), Default::default()));
    let mut stream = std::pin::pin!(stream);
    let mut relist = None;
    let mut listed = false;
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e)
                if !listed
                    && super::errors::watch_error(crate::model::Resource::Pods, &e).0
                        == crate::model::ErrorKind::Forbidden =>
            {
                tracing::info!("the scraper may not list pods across the cluster: reading each namespace");
                let start = |ns: String| {
                    tokio::spawn(track_one(
                        Api::namespaced(client.clone(), &ns),
                        Some(ns),
                        targets.clone(),
                    ))
                };
                super::kube::each_known_namespace(&client, start, || false).await;
                return;
            }
            Err(_) => continue,
        };
        listed |= matches!(ev, watcher::Event::InitDone);
        let mut t = targets.lock().unwrap_or_else(|e| e.into_inner());
        follow(&mut t, &mut relist, None, ev);
    }
}

/// One pod watch; `scope` is its namespace when others are watched beside it.
async fn track_one(pods: Api<Pod>, scope: Option<String>, targets: Targets) {
    let stream = super::kube::patient_backoff(watcher(pods, Default::default()));
    let mut stream = std::pin::pin!(stream);
    let mut relist = None;
    while let Some(ev) = stream.next().await {
        let Ok(ev) = ev else { continue };
        // A poisoned lock means a scrape task panicked; the list itself is still whole.
        let mut t = targets.lock().unwrap_or_else(|e| e.into_inner());
        follow(&mut t, &mut relist, scope.as_deref(), ev);
    }
}

/// Folds one watch event into the targets. A (re-)list is gathered apart and replaces the
/// targets only when complete: scrapes go on over the old list meanwhile, and a round in
/// the middle of a re-list (after an API-server restart, say) does not see most proxies
/// gone, which would make [`Retry`] forget their backoff. A list of one namespace (`scope`)
/// replaces that namespace's targets only.
fn follow(
    targets: &mut BTreeMap<(String, String), Target>,
    relist: &mut Option<BTreeMap<(String, String), Target>>,
    scope: Option<&str>,
    ev: watcher::Event<Pod>,
) {
    let key = |p: &Pod| (p.namespace().unwrap_or_default(), p.name_any());
    let apply = |t: &mut BTreeMap<_, _>, p: &Pod| {
        let info = super::kube::pod_info(p);
        match target_of(&info, &detect::classify_pod(&info)) {
            Some(target) => t.insert(key(p), target),
            None => t.remove(&key(p)),
        };
    };
    match ev {
        watcher::Event::Init => *relist = Some(BTreeMap::new()),
        watcher::Event::InitApply(p) => match relist {
            Some(fresh) => apply(fresh, &p),
            None => apply(targets, &p),
        },
        watcher::Event::InitDone => {
            if let Some(mut fresh) = relist.take() {
                match scope {
                    Some(ns) => {
                        targets.retain(|(n, _), _| n != ns);
                        targets.append(&mut fresh);
                    }
                    None => *targets = fresh,
                }
            }
        }
        watcher::Event::Apply(p) => apply(targets, &p),
        watcher::Event::Delete(p) => {
            targets.remove(&key(&p));
        }
    }
}

/// Scrapes round after round; returns, with it, when over budget with a Prometheus to hand
/// over to (for the rest of the session: the status line keeps the count of that moment).
async fn scrape_loop(
    via: Via,
    targets: Targets,
    interval: Duration,
    budget: u32,
    lookup: Option<Lookup>,
    tx: UpdateTx,
) -> Option<super::prometheus::Endpoint> {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told: Option<crate::app::state::ScrapeLoad> = None;
    let mut looked: Option<tokio::time::Instant> = None;
    let mut retry = Retry::with_budget(budget);
    loop {
        let round = tick.tick().await;
        let list: Vec<Target> = targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        retry.keep(&list);
        let plan = plan(list.len(), budget, interval);
        let mut load = crate::app::state::ScrapeLoad {
            proxies: list.len(),
            budget,
            prometheus: None,
            round_s: 0,
            silent: 0,
        };
        if let Plan::Paced { round, .. } = plan {
            // Handing over: what scraping every proxy would take, the reason.
            load.round_s = u32::try_from(round.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
            if let Some(lookup) = &lookup
                && looked.is_none_or(|at| at.elapsed() >= PROMETHEUS_LOOKUP_EVERY)
            {
                looked = Some(tokio::time::Instant::now());
                if let Some(endpoint) = Box::pin(lookup.prometheus()).await {
                    load.prometheus = Some(endpoint.describe());
                    let sent = tx.send(Stamped::now(Update::ScrapeLoad(load))).await.is_ok();
                    return sent.then_some(endpoint);
                }
            }
        }
        let (spacing, every) = match plan {
            Plan::All => (None, interval),
            Plan::Paced { spacing, round } => (Some(spacing), round),
        };
        // The budget is planned for every proxy; those sitting out leave their share unused.
        let list = retry.admit(list, round, interval);
        if let Some(spacing) = spacing {
            // What the proxies that answer get: the status line says that, not what every
            // proxy would (those that do not answer sit out, their retries rationed within
            // the budget's share they leave). Rounded up: 1,001 proxies at a budget of
            // 1,000 take longer than the interval.
            load.silent = retry.failing_count();
            let answering = u32::try_from(load.proxies.saturating_sub(load.silent)).unwrap_or(u32::MAX);
            let took = interval.max(spacing.saturating_mul(answering));
            load.round_s = u32::try_from(took.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
        }
        // Said when it goes over or back under, or what it says changes.
        let changed = match &told {
            Some(t) => t.over() != load.over() || (load.over() && *t != load),
            // A (re)started source says where it stands, so a restart clears a stale line.
            None => true,
        };
        if changed {
            if tx.send(Stamped::now(Update::ScrapeLoad(load.clone()))).await.is_err() {
                return None;
            }
            told = Some(load);
        }
        let mut results = std::pin::pin!(paced_with_outcomes(&via, list, spacing));
        while let Some((u, t, outcome)) = results.next().await {
            retry.saw(&t, outcome, round, interval, every);
            if tx.send(u).await.is_err() {
                return None;
            }
        }
    }
}

/// [`scrape_all`], with scrapes started at most one per `spacing` when given.
pub fn scrape_paced(
    via: &Via,
    targets: Vec<Target>,
    spacing: Option<Duration>,
) -> impl futures::Stream<Item = Stamped> + use<> {
    paced_with_outcomes(via, targets, spacing).map(|(u, _, _)| u)
}

/// [`scrape_paced`], each result with its target and whose failure a failure was.
fn paced_with_outcomes(
    via: &Via,
    targets: Vec<Target>,
    spacing: Option<Duration>,
) -> impl futures::Stream<Item = (Stamped, Target, Outcome)> + use<> {
    let via = via.clone();
    let start = tokio::time::Instant::now();
    futures::stream::iter(targets.into_iter().enumerate())
        .then(move |(i, t)| async move {
            if let Some(s) = spacing {
                let n = u32::try_from(i).unwrap_or(u32::MAX);
                tokio::time::sleep_until(start + s.saturating_mul(n)).await;
            }
            t
        })
        .map(move |t| {
            let via = via.clone();
            async move {
                let (u, outcome) = scrape_with_outcome(&via, &t).await;
                (Stamped::now(u), t, outcome)
            }
        })
        .buffer_unordered(CONCURRENCY)
}

/// Scrapes every target, `CONCURRENCY` at a time, as the answers come.
pub fn scrape_all(via: &Via, targets: Vec<Target>) -> impl futures::Stream<Item = Stamped> + use<> {
    scrape_paced(via, targets, None)
}

/// Scrapes one target.
pub async fn scrape(via: &Via, t: &Target) -> Update {
    scrape_with_outcome(via, t).await.0
}

/// Scrapes one target, and says whose failure a failure was.
async fn scrape_with_outcome(via: &Via, t: &Target) -> (Update, Outcome) {
    let (u, outcome) = scrape_target(via, t).await;
    if let Update::ScrapeFailed { message, .. } = &u {
        tracing::debug!(namespace = %t.namespace, pod = %t.pod, %message, ?outcome, "scrape failed");
    }
    (u, outcome)
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
    scrape_target(via, &t).await.0
}

async fn scrape_target(via: &Via, t: &Target) -> (Update, Outcome) {
    let (ns, pod, ip, port, path) = (&t.namespace, &t.pod, t.ip.as_deref(), t.port, &t.path);
    let failed = |message: String, outcome: Outcome| {
        let u = Update::ScrapeFailed {
            namespace: ns.into(),
            pod: pod.into(),
            message,
        };
        (u, outcome)
    };
    let fail = |message: String| failed(message, Outcome::ProxyFailed);
    let (url, fetched, path_timeout) = match via {
        Via::PodProxy(client) => {
            let url = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy{path}");
            let body = tokio::time::timeout(TIMEOUT, fetch(client, &url)).await;
            // Silence through the API server may be the API server's: not held against the proxy.
            (url, body, Outcome::PathFailed)
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
            (url, body, Outcome::ProxyFailed)
        }
    };
    let body = match fetched {
        Err(_) => return failed(format!("{url}: no answer within {}s", TIMEOUT.as_secs()), path_timeout),
        Ok(Err((e, outcome))) => return failed(format!("{url}: {e}"), outcome),
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
    let u = Update::ProxyScraped {
        namespace: ns.clone(),
        pod: pod.clone(),
        dialect,
        inbound,
        outbound,
        edges,
        described,
        bad_lines: e.bad_lines,
        first_bad_line: e.errors.first().map(ToString::to_string),
    };
    (u, Outcome::Answered)
}

/// GET at the pod IP, reading at most `MAX_BYTES` (the body streams; nothing larger is kept).
/// GET at the pod IP: every failure is the proxy's (nothing stands between).
async fn fetch_direct(http: &reqwest::Client, url: &str) -> Result<String, (String, Outcome)> {
    let proxy = |m: String| (m, Outcome::ProxyFailed);
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| proxy(super::errors::innermost(&e)))?;
    if !resp.status().is_success() {
        let m = super::errors::api_status(crate::model::Resource::ProxyScrape, resp.status().as_u16(), "").1;
        return Err(proxy(m));
    }
    let buf = super::body::from_reqwest(resp, MAX_BYTES)
        .await
        .map_err(|e| proxy(e.message()))?;
    String::from_utf8(buf).map_err(|_| proxy("response is not UTF-8 text".to_string()))
}

/// GET through the API server's pod proxy. An error status is the API server speaking for
/// the pod (the proxy's failure); a failed connection to the API server is the path's.
async fn fetch(client: &Client, url: &str) -> Result<String, (String, Outcome)> {
    use super::body::BodyError;
    let req = http::Request::get(url)
        .body(Vec::new())
        .map_err(|e| (e.to_string(), Outcome::ProxyFailed))?;
    let buf = super::body::from_kube(client, req, MAX_BYTES).await.map_err(|e| {
        let outcome = outcome_of(&e);
        let message = match e {
            BodyError::Request(e) => super::errors::kube_error(crate::model::Resource::ProxyScrape, &e).1,
            other => other.message(),
        };
        (message, outcome)
    })?;
    String::from_utf8(buf).map_err(|_| ("response is not UTF-8 text".to_string(), Outcome::ProxyFailed))
}

/// Whose failure a failed pod-proxy GET is. An error status is the API server speaking
/// for the pod (it could not reach it, or relayed its answer), except 401 and 429, which are
/// the API server's own; a failed or cut connection, or a timeout, is the way's.
fn outcome_of(e: &super::body::BodyError) -> Outcome {
    use super::body::BodyError;
    match e {
        BodyError::Request(kube::Error::Api(s)) if matches!(s.code, 401 | 429) => Outcome::PathFailed,
        BodyError::Request(kube::Error::Api(_)) | BodyError::TooLarge { .. } => Outcome::ProxyFailed,
        BodyError::Request(_) | BodyError::Read(_) => Outcome::PathFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_proxy_failures_are_told_apart() {
        use super::super::body::BodyError;
        let status = |code: u16| {
            let s: kube::core::Status =
                serde_json::from_value(serde_json::json!({"code": code, "message": "m", "reason": "r"})).unwrap();
            BodyError::Request(kube::Error::Api(Box::new(s)))
        };
        // The pod's failures, as the API server relays them.
        for code in [403, 404, 500, 502, 503] {
            assert_eq!(outcome_of(&status(code)), Outcome::ProxyFailed, "{code}");
        }
        assert_eq!(
            outcome_of(&BodyError::TooLarge { max: MAX_BYTES }),
            Outcome::ProxyFailed
        );
        // The API server's own refusals and a broken way say nothing about the proxy.
        assert_eq!(outcome_of(&status(401)), Outcome::PathFailed);
        assert_eq!(outcome_of(&status(429)), Outcome::PathFailed);
        assert_eq!(
            outcome_of(&BodyError::Read("connection reset".into())),
            Outcome::PathFailed
        );
        let refused = kube::Error::Service(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert_eq!(outcome_of(&BodyError::Request(refused)), Outcome::PathFailed);
    }

    fn linkerd_pod(name: &str, ip: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "shop", "annotations": {"linkerd.io/proxy-version": "edge-25.1.1"}},
            "spec": {"containers": [{"name": "app"}, {"name": "linkerd-proxy"}]},
            "status": {"phase": "Running", "podIP": ip}
        }))
        .unwrap()
    }

    /// A re-list replaces the targets only when complete: until then the old ones stay
    /// (scrapes go on, and [`Retry`] keeps the backoff of the proxies listed again).
    #[test]
    fn a_relist_replaces_the_targets_when_complete() {
        let mut targets = BTreeMap::new();
        let mut relist = None;
        let names = |t: &BTreeMap<(String, String), Target>| t.keys().map(|k| k.1.clone()).collect::<Vec<_>>();
        follow(&mut targets, &mut relist, None, watcher::Event::Init);
        follow(
            &mut targets,
            &mut relist,
            None,
            watcher::Event::InitApply(linkerd_pod("a", "10.0.0.1")),
        );
        follow(
            &mut targets,
            &mut relist,
            None,
            watcher::Event::InitApply(linkerd_pod("b", "10.0.0.2")),
        );
        assert!(targets.is_empty(), "nothing is in use before the list is complete");
        follow(&mut targets, &mut relist, None, watcher::Event::InitDone);
        assert_eq!(names(&targets), ["a", "b"]);
        assert_eq!(targets[&("shop".into(), "a".into())].port, 4191);
        // The API server restarted: a re-list, with `a` gone and `c` new.
        let mut retry = Retry::default();
        let t0 = tokio::time::Instant::now();
        let five = Duration::from_secs(5);
        retry.saw(
            &targets[&("shop".into(), "b".into())],
            Outcome::ProxyFailed,
            t0,
            five,
            five,
        );
        follow(&mut targets, &mut relist, None, watcher::Event::Init);
        follow(
            &mut targets,
            &mut relist,
            None,
            watcher::Event::InitApply(linkerd_pod("c", "10.0.0.3")),
        );
        assert_eq!(names(&targets), ["a", "b"], "the old list stays in use meanwhile");
        retry.keep(&targets.values().cloned().collect::<Vec<_>>());
        assert!(
            !retry.due(&targets[&("shop".into(), "b".into())], t0),
            "b's backoff is kept"
        );
        follow(
            &mut targets,
            &mut relist,
            None,
            watcher::Event::InitApply(linkerd_pod("b", "10.0.0.2")),
        );
        follow(&mut targets, &mut relist, None, watcher::Event::InitDone);
        assert_eq!(names(&targets), ["b", "c"]);
        // Then changes apply at once; a pod that stops running is no target.
        let mut stopped = linkerd_pod("c", "10.0.0.3");
        stopped.status.as_mut().unwrap().phase = Some("Succeeded".into());
        follow(&mut targets, &mut relist, None, watcher::Event::Apply(stopped));
        follow(
            &mut targets,
            &mut relist,
            None,
            watcher::Event::Apply(linkerd_pod("d", "10.0.0.4")),
        );
        follow(
            &mut targets,
            &mut relist,
            None,
            watcher::Event::Delete(linkerd_pod("b", "10.0.0.2")),
        );
        assert_eq!(names(&targets), ["d"]);
    }

    /// Watches of several namespaces share the targets: a list of one replaces that
    /// namespace's targets and leaves the others'.
    #[test]
    fn a_namespace_list_replaces_only_that_namespace() {
        let mut targets = BTreeMap::new();
        let in_ns = |name: &str, ns: &str| {
            let mut p = linkerd_pod(name, "10.0.0.9");
            p.metadata.namespace = Some(ns.into());
            p
        };
        let (mut shop, mut web) = (None, None);
        follow(&mut targets, &mut shop, Some("shop"), watcher::Event::Init);
        follow(
            &mut targets,
            &mut shop,
            Some("shop"),
            watcher::Event::InitApply(in_ns("a", "shop")),
        );
        follow(&mut targets, &mut web, Some("web"), watcher::Event::Init);
        follow(
            &mut targets,
            &mut web,
            Some("web"),
            watcher::Event::InitApply(in_ns("w", "web")),
        );
        follow(&mut targets, &mut web, Some("web"), watcher::Event::InitDone);
        follow(&mut targets, &mut shop, Some("shop"), watcher::Event::InitDone);
        let keys =
            |t: &BTreeMap<(String, String), Target>| t.keys().map(|(n, p)| format!("{n}/{p}")).collect::<Vec<_>>();
        assert_eq!(keys(&targets), ["shop/a", "web/w"]);
        // shop lists again without `a`: web's target stays.
        follow(&mut targets, &mut shop, Some("shop"), watcher::Event::Init);
        follow(
            &mut targets,
            &mut shop,
            Some("shop"),
            watcher::Event::InitApply(in_ns("b", "shop")),
        );
        follow(&mut targets, &mut shop, Some("shop"), watcher::Event::InitDone);
        assert_eq!(keys(&targets), ["shop/b", "web/w"]);
    }

    #[test]
    fn over_budget_scrapes_are_paced_to_the_budget() {
        let five = Duration::from_secs(5);
        assert_eq!(plan(0, 1_000, five), Plan::All);
        assert_eq!(plan(1_000, 1_000, five), Plan::All);
        assert_eq!(
            plan(3_000, 1_000, five),
            Plan::Paced {
                spacing: Duration::from_millis(5),
                round: Duration::from_secs(15)
            }
        );
        assert_eq!(
            plan(1_001, 1_000, five),
            Plan::Paced {
                spacing: Duration::from_millis(5),
                round: Duration::from_millis(5_005)
            }
        );
        // A budget of 0 (not accepted from users) still means one at a time.
        assert_eq!(
            plan(3, 0, five),
            Plan::Paced {
                spacing: five,
                round: Duration::from_secs(15)
            }
        );
    }

    /// A proxy of pod `pod` in namespace `ns` at 10.0.0.1:15020, for the retry tests.
    fn proxy(pod: &str) -> Target {
        Target {
            namespace: "ns".into(),
            pod: pod.into(),
            ip: Some("10.0.0.1".into()),
            port: 15020,
            path: "/metrics".into(),
            dialect: None,
            node_proxy: false,
        }
    }

    /// A proxy failing n times in a row is tried again 1, 2, 4, 8 intervals later, then a
    /// minute later at most;
    /// an answer or a new address brings it back at once; a failure on the way to it (the
    /// API server down) changes nothing; proxies whose pods went are forgotten.
    #[test]
    fn failing_proxies_are_tried_less_often() {
        let t = proxy;
        let five = Duration::from_secs(5);
        let t0 = tokio::time::Instant::now();
        let at = |round: u32| t0 + five * round;
        let mut r = Retry::default();
        // Rounds in which `a` was tried over 60 rounds (5 minutes), failing every time.
        let mut tried = Vec::new();
        for round in 0..60 {
            assert!(r.due(&t("b"), at(round)), "b never failed");
            if r.due(&t("a"), at(round)) {
                tried.push(round);
                r.saw(&t("a"), Outcome::ProxyFailed, at(round), five, five);
            }
        }
        assert_eq!(tried, [0, 1, 3, 7, 15, 27, 39, 51]);
        // The API server down: failures on the way are not the proxy's.
        let mut fresh = Retry::default();
        for round in 0..10 {
            assert!(fresh.due(&t("a"), at(round)));
            fresh.saw(&t("a"), Outcome::PathFailed, at(round), five, five);
        }
        assert!(fresh.failing.is_empty());
        // Back at once after an answer.
        r.saw(&t("a"), Outcome::Answered, at(60), five, five);
        assert!(r.due(&t("a"), at(60)));
        // Or when the pod comes back at another address.
        r.saw(&t("a"), Outcome::ProxyFailed, at(61), five, five);
        r.saw(&t("a"), Outcome::ProxyFailed, at(61), five, five);
        assert!(!r.due(&t("a"), at(61)));
        let moved = Target {
            ip: Some("10.0.0.2".into()),
            ..t("a")
        };
        assert!(r.due(&moved, at(61)));
        // Gone pods are forgotten.
        r.saw(&t("a"), Outcome::ProxyFailed, at(62), five, five);
        r.keep(&[t("b")]);
        assert!(r.failing.is_empty());
        // Thousands of failures in a row neither overflow nor wait more than a minute.
        for _ in 0..5_000 {
            r.saw(&t("a"), Outcome::ProxyFailed, at(70), five, five);
        }
        assert_eq!(r.failing[&("ns".to_string(), "a".to_string())].next, at(70) + MAX_WAIT);
        // Paced rounds (longer than the interval) do not stretch the wait past a minute.
        let mut slow = Retry::default();
        slow.saw(&t("a"), Outcome::ProxyFailed, t0, five, Duration::from_secs(150));
        slow.saw(&t("a"), Outcome::ProxyFailed, t0, five, Duration::from_secs(150));
        assert!(slow.due(&t("a"), t0 + MAX_WAIT));
    }

    /// Thousands of proxies failing alike are retried at a tenth of the budget in all, not
    /// each once a minute: 9,000 at a budget of 1,000 per 5 s wait 450 s, 20 tries a second.
    #[test]
    fn thousands_failing_alike_share_a_tenth_of_the_budget() {
        let t = |i: u32| proxy(&format!("p-{i}"));
        let five = Duration::from_secs(5);
        let t0 = tokio::time::Instant::now();
        let mut r = Retry::with_budget(1_000);
        // Rounds of 45 s (9,000 proxies paced at the budget), every proxy failing each time:
        // the rounds in which p-0 was tried, and the tries of all in the last 15 minutes.
        let round_len = Duration::from_secs(45);
        let (mut rounds, mut late) = (Vec::new(), 0u64);
        for round in 0..40u32 {
            let now = t0 + round_len * round;
            for i in 0..9_000 {
                if r.due(&t(i), now) {
                    if i == 0 {
                        rounds.push(round);
                    }
                    late += u64::from(round >= 20);
                    r.saw(&t(i), Outcome::ProxyFailed, now, five, round_len);
                }
            }
        }
        assert_eq!(r.longest_wait(five), Duration::from_secs(450));
        // Waits of 1, 2, 4 and 8 rounds, then 450 s (not 60 s: every second round, 10
        // tries each in the last 15 minutes; nor waits of 5-40 s, each of them every round).
        assert_eq!(rounds, [0, 1, 3, 7, 15, 25, 35]);
        assert_eq!(late, 2 * 9_000);
        let next = r.failing[&("ns".to_string(), "p-0".to_string())].next;
        assert_eq!(next - t0, Duration::from_secs(45 * 35 + 450));
        // Few failing proxies keep the minute.
        let mut few = Retry::with_budget(1_000);
        for i in 0..1_199 {
            few.saw(&t(i), Outcome::ProxyFailed, t0, five, five);
        }
        assert_eq!(few.longest_wait(five), MAX_WAIT);
        // A budget of zero cannot divide by zero.
        assert_eq!(Retry::with_budget(0).longest_wait(five), MAX_WAIT);
    }

    /// However their waits line up, failing proxies are retried at a tenth of the budget at
    /// most (here 2 a second at 100 per 5 s), oldest first, so none is starved, not even by
    /// failing proxies whose tries then time out; healthy ones are never held back.
    #[test]
    fn retries_never_take_more_than_a_tenth_of_the_budget() {
        let t = |i: u32| proxy(&format!("p-{i:03}"));
        let five = Duration::from_secs(5);
        let budget = 100;
        let spacing = five / budget;
        // 899 failing (the first 10 of them time out after their first failure), and one
        // that always answers: 900 proxies paced at 20 a second, rounds of 45 s when all go.
        let list: Vec<Target> = (0..900).map(t).collect();
        let healthy = t(899);
        let times_out = |a: &Target| a.pod.as_str() < "p-010";
        let every = Duration::from_secs(45);
        let t0 = tokio::time::Instant::now();
        let mut r = Retry::with_budget(budget);
        let mut now = t0;
        let mut per_round = Vec::new();
        let mut last: BTreeMap<String, tokio::time::Instant> = BTreeMap::new();
        let mut longest_gap = Duration::ZERO;
        let mut tries: BTreeMap<String, u32> = BTreeMap::new();
        while now - t0 < Duration::from_secs(1_200) {
            let admitted = r.admit(list.clone(), now, five);
            assert!(admitted.contains(&healthy), "the healthy proxy is scraped every round");
            for a in &admitted {
                let n = tries.entry(a.pod.clone()).or_insert(0);
                *n += 1;
                let outcome = match () {
                    _ if *a == healthy => Outcome::Answered,
                    _ if times_out(a) && *n > 1 => Outcome::PathFailed,
                    _ => Outcome::ProxyFailed,
                };
                if let Some(before) = last.insert(a.pod.clone(), now)
                    && !times_out(a)
                {
                    longest_gap = longest_gap.max(now - before);
                }
                r.saw(a, outcome, now, five, every);
            }
            per_round.push(admitted.len() - 1);
            // A round lasts as long as its scrapes take at the budget's pace, at least the interval.
            now += five.max(spacing * u32::try_from(admitted.len()).unwrap());
        }
        // All tried at first; from then on 10 retries every 5 s, 2 a second, the budget's
        // tenth, even in the round where all 899 came due together (the old filter by wait
        // alone let all 899 through there, at the budget's whole pace).
        assert_eq!(per_round[0], 899);
        assert!(per_round[1..].iter().all(|&n| n == 10), "{per_round:?}");
        // Oldest first: each of the 889 that fail is tried again within 490 s: 889 at 2 a
        // second would be 445 s, and the 10 that time out come back a round after each
        // try and take their part. Without the move to the back, those 10 took every
        // retry from the second round on.
        assert_eq!(longest_gap, Duration::from_secs(490));
        let fewest = tries
            .iter()
            .filter(|(pod, _)| **pod != healthy.pod)
            .map(|(_, n)| *n)
            .min()
            .unwrap();
        assert!(
            fewest >= 3,
            "each tried at first and again at least twice in 20 minutes: {fewest}"
        );
        // A proxy that fails at another address is tried at once, outside the share: after
        // a round at the same moment has used the share up.
        let spent = r.admit(list.clone(), now, five);
        assert_eq!(spent.len(), 11);
        assert_eq!(r.admit(list.clone(), now, five).len(), 1, "nothing left of the share");
        let moved = Target {
            ip: Some("10.0.0.2".into()),
            ..t(500)
        };
        let mut elsewhere = list.clone();
        elsewhere[500] = moved.clone();
        let admitted = r.admit(elsewhere, now, five);
        assert_eq!(admitted, [moved, healthy]);
    }

    /// Paced scrapes start `spacing` apart on tokio's clock (paused here, so exact).
    #[tokio::test(start_paused = true)]
    async fn paced_scrapes_start_at_the_budgets_rate() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let seen = starts.clone();
        let t0 = tokio::time::Instant::now();
        tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                seen.lock().unwrap().push(t0.elapsed());
                drop(s);
            }
        });
        let target = |i: usize| Target {
            namespace: "ns".into(),
            pod: format!("p{i}"),
            ip: Some("127.0.0.1".into()),
            port,
            path: "/metrics".into(),
            dialect: None,
            node_proxy: false,
        };
        // As main does (another test may have installed it already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let via = Via::direct().unwrap();
        let out: Vec<Stamped> = scrape_paced(&via, (0..4).map(target).collect(), Some(Duration::from_secs(2)))
            .collect()
            .await;
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|u| matches!(u.update, Update::ScrapeFailed { .. })));
        let starts: Vec<u64> = starts.lock().unwrap().iter().map(|d| d.as_secs()).collect();
        assert_eq!(starts, [0, 2, 4, 6]);
    }
}

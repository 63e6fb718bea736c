//! `meshtop top`: golden signals and cost per workload, once, like `linkerd viz stat`.
//! Scrapes every proxy twice, `--window` apart, through the API server's pod proxy; or,
//! with `--prometheus-url`, asks Prometheus for the rates over `--window`. The table has
//! the TUI's workload columns (one registry); the JSON is a versioned shape of its own.

use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::app::figures::{AppProxy, EdgeRow, WorkloadRow};
use crate::app::table::{self, Table, edges::Edges, workloads::Workloads};
use crate::app::traffic::Rates;
use crate::app::{Keymap, Stamped, State, Update, fold_all};
use crate::cli::{ClusterArgs, TrafficArgs};
use crate::model::{Resource, UsageOrigin};
use crate::source::scrape::{self, Via};
use crate::source::{self, CHANNEL_CAPACITY, prometheus};

/// Version of the JSON shape: fields are added, never renamed or removed, within a major version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Serialize)]
pub struct Output {
    pub schema_version: u32,
    pub window_s: f64,
    /// `proxy scrapes` or the Prometheus asked.
    pub source: String,
    pub workloads: Vec<WorkloadOut>,
    pub edges: Vec<EdgeOut>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl Latency {
    fn of(r: Option<&Rates>) -> Latency {
        Latency {
            p50: r.and_then(|r| r.p50_ms),
            p90: r.and_then(|r| r.p90_ms),
            p99: r.and_then(|r| r.p99_ms),
        }
    }
}

/// One workload in the JSON output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadOut {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub mesh: Option<&'static str>,
    pub pods: usize,
    /// None until a window of at least one of its proxies is known.
    pub rps: Option<f64>,
    pub success_rate: Option<f64>,
    pub latency_ms: Latency,
    /// Share of requests that were mutual TLS.
    pub mtls: Option<f64>,
    pub tcp_open_connections: Option<f64>,
    /// TCP (and Istio's HTTP body) bytes per second the workload read and wrote, and
    /// connections opened per second.
    pub read_bytes_per_s: Option<f64>,
    pub write_bytes_per_s: Option<f64>,
    pub tcp_opened_per_s: Option<f64>,
    pub cpu_millicores: AppProxy<f64>,
    pub memory_bytes: AppProxy<u64>,
    /// Seconds the traffic figures cover.
    pub window_s: Option<f64>,
}

impl From<&WorkloadRow> for WorkloadOut {
    fn from(w: &WorkloadRow) -> Self {
        let r = w.rates.as_ref();
        WorkloadOut {
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            kind: w.kind.clone(),
            mesh: w.mesh.map(|m| m.as_str()),
            pods: w.pods,
            rps: r.map(|r| r.rps),
            success_rate: r.and_then(|r| r.success),
            latency_ms: Latency::of(r),
            mtls: r.and_then(|r| r.mtls),
            tcp_open_connections: r.map(|r| r.tcp_open),
            read_bytes_per_s: r.and_then(|r| r.read_bps),
            write_bytes_per_s: r.and_then(|r| r.write_bps),
            tcp_opened_per_s: r.and_then(|r| r.tcp_opened_per_s),
            cpu_millicores: w.cost.cpu,
            memory_bytes: w.cost.mem,
            window_s: r.map(|r| r.window_s),
        }
    }
}

/// One edge in the JSON output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeOut {
    pub source: String,
    pub destination: String,
    pub rps: f64,
    pub success_rate: Option<f64>,
    pub latency_ms: Latency,
    pub mtls: Option<f64>,
    /// Bytes per second the source read from the destination (answers) and wrote to it;
    /// None when its proxy exports no byte counters.
    pub read_bytes_per_s: Option<f64>,
    pub write_bytes_per_s: Option<f64>,
    pub window_s: f64,
}

impl From<&EdgeRow> for EdgeOut {
    fn from(e: &EdgeRow) -> Self {
        EdgeOut {
            source: e.source.clone(),
            destination: e.destination.clone(),
            rps: e.rates.rps,
            success_rate: e.rates.success,
            latency_ms: Latency::of(Some(&e.rates)),
            mtls: e.rates.mtls,
            read_bytes_per_s: e.rates.read_bps,
            write_bytes_per_s: e.rates.write_bps,
            window_s: e.rates.window_s,
        }
    }
}

pub async fn run(cluster: &ClusterArgs, traffic: &TrafficArgs, window: Option<Duration>, format: Format) -> Result<()> {
    let config = crate::config::Config::load(None)?;
    let target = cluster.target_with(&config)?;
    let spec = crate::run::prometheus_spec(traffic)?;
    // Two scrapes 10 s apart are enough for a live number; a PromQL rate needs a range
    // covering several of Prometheus' own scrapes.
    let window = window.unwrap_or(Duration::from_secs(if spec.is_some() { 60 } else { 10 }));
    let conn = source::kube::connect(&target).await?;
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let tasks = [
        tokio::spawn(source::kube::run(target.clone(), tx.clone())),
        tokio::spawn(source::podmetrics::run(
            target.clone(),
            Duration::from_secs(5),
            tx.clone(),
        )),
    ];
    let mut state = State::new(Keymap::default());
    let listed = tokio::time::timeout(Duration::from_secs(30), async {
        while !(state.cluster.is_some() && state.listed(Resource::Pods)) {
            match rx.recv().await {
                Some(u) => fold_all(&mut state, drain(u, &mut rx)),
                None => break,
            }
        }
    })
    .await;
    if listed.is_err() || state.cluster.is_none() {
        let why = state
            .errors
            .values()
            .next()
            .map_or("no answer from the API server".into(), |e| e.message.clone());
        bail!("cannot list pods: {why}");
    }
    state.window_s = u32::try_from(window.as_secs().max(1)).unwrap_or(u32::MAX);
    let source = match spec {
        Some(spec) => {
            let endpoint = prometheus::resolve(&spec, Some(&conn.client), &target.namespaces)
                .await
                .map_err(|(_, m)| eyre!("finding Prometheus: {m}"))?;
            let name = endpoint.describe();
            let (pods, usages) = prometheus::refresh(&endpoint, state.window_s)
                .await
                .map_err(|(_, m)| eyre!("querying Prometheus at {name}: {m}"))?;
            // metrics-server's figures (already folded) win over cAdvisor's.
            let mut updates: Vec<Stamped> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
            updates.push(Stamped::now(Update::PromTraffic {
                window_s: state.window_s,
                source: name.clone(),
                pods,
            }));
            if !usages.is_empty() {
                updates.push(Stamped::now(Update::PodUsage {
                    usages,
                    origin: UsageOrigin::Cadvisor,
                }));
            }
            fold_all(&mut state, updates);
            format!("prometheus {name}")
        }
        None => {
            let via = if traffic.scrape_direct {
                Via::direct().map_err(|e| eyre!(e))?
            } else {
                Via::PodProxy(conn.client.clone())
            };
            let budget = traffic.scrape(&config).budget;
            scrape_twice(&mut state, &mut rx, via, window, budget).await;
            "proxy scrapes".to_string()
        }
    };
    for t in tasks {
        t.abort();
    }
    let errors: Vec<String> = state
        .errors
        .iter()
        .map(|((r, ns), e)| {
            let scope = ns.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
            format!("{}{scope}: {}", r.as_str(), e.message)
        })
        .collect();
    match format {
        Format::Json => {
            let out = output(&state, window, source, errors);
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            print!("{}", table(&state));
            for e in errors {
                eprintln!("meshtop: {e}");
            }
        }
    }
    Ok(())
}

/// An update and whatever else is already queued behind it.
fn drain(first: Stamped, rx: &mut mpsc::Receiver<Stamped>) -> Vec<Stamped> {
    let mut batch = vec![first];
    batch.extend(std::iter::from_fn(|| rx.try_recv().ok()));
    batch
}

/// The JSON shape of a folded state.
pub fn output(state: &State, window: Duration, source: String, errors: Vec<String>) -> Output {
    Output {
        schema_version: SCHEMA_VERSION,
        window_s: window.as_secs_f64(),
        source,
        workloads: state.workload_rows.values().map(WorkloadOut::from).collect(),
        edges: state.edges.values().map(EdgeOut::from).collect(),
        errors,
    }
}

/// The workloads table, with the TUI's workload columns, then the edges (if any) with
/// the edges view's.
pub fn table(state: &State) -> String {
    let rows: Vec<&<Workloads as Table>::Row> = state.workload_rows.values().collect();
    let mut out = table::plain::<Workloads>(state, &rows);
    let edges: Vec<&<Edges as Table>::Row> = state.edges.values().collect();
    if !edges.is_empty() {
        out.push('\n');
        out += &table::plain::<Edges>(state, &edges);
    }
    out
}

/// Scrapes every running proxy, waits `window` (folding usage meanwhile), scrapes again;
/// past the scrape budget, paced as the TUI paces them.
async fn scrape_twice(state: &mut State, rx: &mut mpsc::Receiver<Stamped>, via: Via, window: Duration, budget: u32) {
    let targets: Vec<scrape::Target> = state
        .pods
        .values()
        .filter_map(|p| scrape::target_of(&p.info, &p.mesh))
        .collect();
    let spacing = match scrape::plan(targets.len(), budget, crate::run::SCRAPE_INTERVAL) {
        scrape::Plan::All => None,
        scrape::Plan::Paced { spacing, .. } => Some(spacing),
    };
    fold_all(
        state,
        scrape::scrape_paced(&via, targets.clone(), spacing)
            .collect::<Vec<_>>()
            .await,
    );
    // Keep folding (CPU and memory arrive meanwhile) until the window has passed.
    let _ = tokio::time::timeout(window, async {
        while let Some(u) = rx.recv().await {
            fold_all(state, drain(u, rx));
        }
    })
    .await;
    let mut last: Vec<Stamped> = scrape::scrape_paced(&via, targets, spacing).collect().await;
    last.extend(std::iter::from_fn(|| rx.try_recv().ok()));
    fold_all(state, last);
}

//! `meshtop top`: golden signals and cost per workload, once, like `linkerd viz stat`.
//! Scrapes every proxy twice, `--window` apart, through the API server's pod proxy; or,
//! with `--prometheus-url`, asks Prometheus for the rates over `--window`.

use std::time::Duration;

use color_eyre::eyre::{Result, bail};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::app::query::{self, WorkloadRow};
use crate::app::{Keymap, Stamped, State, fold};
use crate::model::Resource;
use crate::source::scrape::{self, CONCURRENCY};
use crate::source::{self, CHANNEL_CAPACITY, kube::KubeTarget};
use crate::ui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    window_s: f64,
    /// `proxy scrapes` or the Prometheus asked.
    source: String,
    workloads: &'a [WorkloadRow],
    edges: &'a [query::EdgeRow],
    errors: Vec<String>,
}

pub async fn run(
    target: KubeTarget,
    window: Option<Duration>,
    format: Format,
    prometheus: Option<crate::source::prometheus::Spec>,
    scrape_direct: bool,
) -> Result<()> {
    // Two scrapes 10 s apart are enough for a live number; a PromQL rate needs a range
    // covering several of Prometheus' own scrapes.
    let window = window.unwrap_or(Duration::from_secs(if prometheus.is_some() { 60 } else { 10 }));
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
    let mut state = State::new(vec![Theme::builtin("dark")?], 0, Keymap::default());
    let listed = tokio::time::timeout(Duration::from_secs(30), async {
        while !(state.cluster.is_some() && state.listed(Resource::Pods)) {
            match rx.recv().await {
                Some(u) => fold(&mut state, u),
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
    state.window_s = window.as_secs().max(1) as u32;
    let source = match prometheus {
        Some(spec) => {
            let endpoint = match spec {
                crate::source::prometheus::Spec::Url(u) => {
                    crate::source::prometheus::Endpoint::direct(&u).map_err(|e| color_eyre::eyre::eyre!(e))?
                }
                crate::source::prometheus::Spec::Auto => {
                    crate::source::prometheus::discover(&conn.client, target.namespace.as_deref())
                        .await
                        .map_err(|(_, m)| color_eyre::eyre::eyre!("finding Prometheus: {m}"))?
                        .ok_or_else(|| {
                            color_eyre::eyre::eyre!(
                                "no Prometheus service found in the cluster; pass --prometheus-url URL"
                            )
                        })?
                }
            };
            let name = endpoint.describe();
            let (pods, usages) = crate::source::prometheus::refresh(&endpoint, state.window_s)
                .await
                .map_err(|(_, m)| color_eyre::eyre::eyre!("querying Prometheus at {name}: {m}"))?;
            // metrics-server's figures (already folded) win over cAdvisor's.
            while let Ok(u) = rx.try_recv() {
                fold(&mut state, u);
            }
            let window_s = state.window_s;
            fold(
                &mut state,
                Stamped::now(crate::app::Update::PromTraffic {
                    window_s,
                    source: name.clone(),
                    pods,
                }),
            );
            if !usages.is_empty() {
                fold(
                    &mut state,
                    Stamped::now(crate::app::Update::PodUsage {
                        usages,
                        origin: crate::model::UsageOrigin::Cadvisor,
                    }),
                );
            }
            format!("prometheus {name}")
        }
        None => {
            let via = if scrape_direct {
                scrape::Via::direct().map_err(|e| color_eyre::eyre::eyre!(e))?
            } else {
                scrape::Via::PodProxy(conn.client.clone())
            };
            scrape_twice(&mut state, &mut rx, via, window).await;
            "proxy scrapes".to_string()
        }
    };
    for t in tasks {
        t.abort();
    }
    let rows = query::workloads(&state);
    let edges = query::edges(&state);
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
            let out = Output {
                window_s: window.as_secs_f64(),
                source,
                workloads: &rows,
                edges: &edges,
                errors,
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Table => {
            print!("{}", table(&rows));
            for e in errors {
                eprintln!("meshtop: {e}");
            }
        }
    }
    Ok(())
}

/// Scrapes every running proxy, waits `window` (folding usage meanwhile), scrapes again.
async fn scrape_twice(state: &mut State, rx: &mut mpsc::Receiver<Stamped>, via: scrape::Via, window: Duration) {
    let targets: Vec<_> = state
        .pods
        .values()
        .filter(|p| p.info.phase == "Running")
        .filter_map(|p| {
            let x = p.mesh.proxy.as_ref()?;
            let path = x.metrics_path.clone().unwrap_or_else(|| "/metrics".into());
            Some((
                p.info.namespace.clone(),
                p.info.name.clone(),
                p.info.ip.clone(),
                x.metrics_port?,
                path,
                scrape::dialect_of(p.mesh.mesh),
            ))
        })
        .collect();
    let scrape_all = |via: scrape::Via| {
        let targets = targets.clone();
        async move {
            futures::stream::iter(targets)
                .map(|(ns, pod, ip, port, path, dialect)| {
                    let via = via.clone();
                    async move {
                        Stamped::now(scrape::scrape_via(&via, &ns, &pod, ip.as_deref(), port, &path, dialect).await)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        }
    };
    for u in scrape_all(via.clone()).await {
        fold(state, u);
    }
    // Keep folding (CPU and memory arrive meanwhile) until the window has passed.
    let _ = tokio::time::timeout(window, async {
        while let Some(u) = rx.recv().await {
            fold(state, u);
        }
    })
    .await;
    for u in scrape_all(via).await {
        fold(state, u);
    }
    while let Ok(u) = rx.try_recv() {
        fold(state, u);
    }
}

pub fn table(rows: &[WorkloadRow]) -> String {
    let f1 = |v: Option<f64>, unit: &str| v.map_or_else(|| "-".into(), |v| format!("{v:.1}{unit}"));
    let mi = |v: Option<u64>| v.map_or_else(|| "-".into(), crate::ui::format::mib);
    let mut lines = vec![
        [
            "NAMESPACE",
            "WORKLOAD",
            "MESH",
            "PODS",
            "RPS",
            "SUCCESS",
            "P50",
            "P90",
            "P99",
            "TCP",
            "mTLS",
            "CPU APP",
            "CPU PROXY",
            "MEM APP",
            "MEM PROXY",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        lines.push(vec![
            r.namespace.clone(),
            format!("{}/{}", r.kind.to_lowercase(), r.name),
            r.mesh.unwrap_or("-").into(),
            r.pods.to_string(),
            f1(r.rps, ""),
            r.success_rate
                .map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0)),
            f1(r.latency_ms.p50, "ms"),
            f1(r.latency_ms.p90, "ms"),
            f1(r.latency_ms.p99, "ms"),
            r.tcp_open_connections.map_or_else(|| "-".into(), |v| format!("{v:.0}")),
            r.mtls.map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0)),
            f1(r.cpu_millicores.app, "m"),
            f1(r.cpu_millicores.proxy, "m"),
            mi(r.memory_bytes.app),
            mi(r.memory_bytes.proxy),
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    lines
        .iter()
        .map(|l| {
            l.iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
                + "\n"
        })
        .collect()
}

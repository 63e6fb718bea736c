//! The pods view: one row per pod with its mesh, proxy, traffic and cost.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, common};
use crate::app::figures::{AppProxy, is_infrastructure, workload_of};
use crate::app::format;
use crate::app::state::{PodEntry, State, View};
use crate::app::traffic::Rates;
use crate::mesh::{Model, rules::Role};

/// Text shown for an absent mesh value in tables.
pub const NONE: &str = "<none>";

pub struct Pods;

fn has_endpoint(p: &PodEntry) -> bool {
    p.mesh.proxy.as_ref().is_some_and(|x| x.metrics_port.is_some())
}

impl common::Traffic for PodEntry {
    fn rates(&self) -> Option<&Rates> {
        self.rates.as_ref()
    }
    fn expected(&self) -> bool {
        has_endpoint(self)
    }
}

impl common::Created for PodEntry {
    fn created(&self) -> Option<crate::model::UnixMillis> {
        self.info.created
    }
}

/// The data-plane model; mesh components without a proxy show as "control", and pods
/// missing an expected proxy as "none!".
fn model(p: &PodEntry) -> &'static str {
    match (p.mesh.model, p.mesh.role) {
        _ if p.missing.is_some() => "none!",
        (Model::None, Some(Role::Control | Role::Addon)) => "control",
        (m, _) => m.as_str(),
    }
}

/// `app/proxy`; the proxy side is `-` for pods without a proxy, the whole cell `-` without
/// a usage sample (the status line says why).
fn usage(p: &PodEntry, cpu: bool) -> String {
    let Some(u) = p.usage else { return "-".into() };
    // A node proxy or gateway is all proxy (no app side to show as zero); a pod without a
    // proxy has no proxy side.
    let app = !is_infrastructure(p);
    let proxy = p.mesh.proxy.is_some();
    if cpu {
        common::app_proxy(
            AppProxy {
                app: app.then_some(u.app_cpu_m),
                proxy: proxy.then_some(u.proxy_cpu_m),
            },
            format::millicores,
        )
    } else {
        common::app_proxy(
            AppProxy {
                app: app.then_some(u.app_mem),
                proxy: proxy.then_some(u.proxy_mem),
            },
            format::mib,
        )
    }
}

fn ip_key(ip: Option<&str>) -> SortKey<'static> {
    match ip.and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(v4)) => SortKey::Int(u128::from(u32::from(v4))),
        Some(std::net::IpAddr::V6(v6)) => SortKey::Int(u128::from(v6)),
        None => SortKey::Missing,
    }
}

fn metrics(p: &PodEntry) -> String {
    match &p.mesh.proxy {
        None => NONE.into(),
        Some(x) => match (x.metrics_port, &x.metrics_path) {
            (Some(port), Some(path)) => format!(":{port}{path}"),
            (Some(port), None) => format!(":{port}"),
            _ => "unknown port".into(),
        },
    }
}

static COLUMNS: &[Column<PodEntry>] = &[
    Column {
        sort: Some(|p| SortKey::Text(&p.info.namespace)),
        filter: Some((&["namespace", "ns"], |p| Cow::Borrowed(&p.info.namespace))),
        search: true,
        identity: true,
        ..Column::new("NAMESPACE", |_, p| p.info.namespace.clone())
    },
    Column {
        sort: Some(|p| SortKey::Text(&p.info.name)),
        filter: Some((&["name"], |p| Cow::Borrowed(&p.info.name))),
        search: true,
        identity: true,
        ..Column::new("NAME", |_, p| p.info.name.clone())
    },
    Column {
        sort: Some(|p| SortKey::Text(p.mesh.mesh.map_or("", |m| m.as_str()))),
        filter: Some((&["mesh"], |p| Cow::Borrowed(p.mesh.mesh.map_or("none", |m| m.as_str())))),
        ..Column::new("MESH", |_, p| p.mesh.mesh.map_or(NONE, |m| m.as_str()).to_string())
    },
    Column {
        sort: Some(|p| SortKey::Text(model(p))),
        filter: Some((&["model"], |p| Cow::Borrowed(model(p)))),
        ..Column::new("MODEL", |_, p| model(p).to_string())
    },
    Column {
        drop: 2,
        sort: Some(|p| SortKey::Text(p.mesh.proxy.as_ref().and_then(|x| x.version.as_deref()).unwrap_or(""))),
        filter: Some((&["proxy"], |p| {
            Cow::Borrowed(p.mesh.proxy.as_ref().map_or("", |x| x.container.as_str()))
        })),
        ..Column::new("PROXY", |_, p| {
            p.mesh.proxy.as_ref().map_or_else(
                || NONE.into(),
                |x| format!("{}:{}", x.container, x.version.as_deref().unwrap_or("?")),
            )
        })
    },
    Column {
        sort: Some(|p| SortKey::Int((u128::from(p.info.ready) << 32) | u128::from(p.info.containers))),
        ..Column::new("READY", |_, p| format!("{}/{}", p.info.ready, p.info.containers))
    },
    Column {
        sort: Some(|p| SortKey::Text(&p.info.phase)),
        filter: Some((&["status", "phase"], |p| Cow::Borrowed(&p.info.phase))),
        ..Column::new("STATUS", |_, p| p.info.phase.clone())
    },
    Column {
        drop: 13,
        sort: Some(|p| SortKey::Int(u128::from(p.info.restarts))),
        ..Column::new("RESTARTS", |_, p| p.info.restarts.to_string())
    },
    common::rps(),
    common::success(),
    common::p50(),
    common::p90(),
    common::p99(),
    common::tcp(),
    common::read(),
    common::write(),
    common::mtls(),
    Column {
        sort: Some(|p| SortKey::num(p.usage.map(|u| u.total_cpu()))),
        live: true,
        ..Column::new("CPU APP/PROXY", |_, p| usage(p, true))
    },
    Column {
        drop: 8,
        sort: Some(|p| {
            p.usage
                .map_or(SortKey::Missing, |u| SortKey::Int(u128::from(u.total_mem())))
        }),
        live: true,
        ..Column::new("MEM APP/PROXY", |_, p| usage(p, false))
    },
    Column {
        drop: 14,
        sort: Some(|p| p.info.node.as_deref().map_or(SortKey::Missing, SortKey::Text)),
        filter: Some((&["node"], |p| Cow::Borrowed(p.info.node.as_deref().unwrap_or("")))),
        ..Column::new("NODE", |_, p| {
            p.info.node.clone().unwrap_or_else(|| "<unscheduled>".into())
        })
    },
    Column {
        drop: 15,
        sort: Some(|p| ip_key(p.info.ip.as_deref())),
        filter: Some((&["ip"], |p| Cow::Borrowed(p.info.ip.as_deref().unwrap_or("")))),
        ..Column::new("IP", |_, p| p.info.ip.clone().unwrap_or_else(|| NONE.into()))
    },
    Column {
        drop: 16,
        sort: Some(|p| {
            p.mesh
                .proxy
                .as_ref()
                .and_then(|x| x.metrics_port)
                .map_or(SortKey::Missing, |port| SortKey::Int(u128::from(port)))
        }),
        ..Column::new("METRICS", |_, p| metrics(p))
    },
    common::age(),
];

impl Table for Pods {
    type Row = PodEntry;
    type Key = std::sync::Arc<(String, String)>;

    fn columns() -> &'static [Column<PodEntry>] {
        COLUMNS
    }
    fn tap_target(p: &PodEntry) -> Option<crate::model::tap::TapTarget> {
        Some(crate::model::tap::TapTarget {
            namespace: p.info.namespace.clone(),
            kind: "pod".into(),
            name: p.info.name.clone(),
        })
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &PodEntry> + '_> {
        Box::new(state.pods.values())
    }
    fn key(p: &PodEntry) -> Self::Key {
        p.key.clone()
    }
    fn get<'a>(state: &'a State, key: &Self::Key) -> Option<&'a PodEntry> {
        state.pods.get(&**key)
    }
    fn came_and_went(state: &State, since: u64) -> Option<super::Churn<Self::Key>> {
        Some(super::Churn {
            keys: state.derived.pods_since(since)?,
            // `all` walks the pods' map, ordered by (namespace, name).
            order: |a, b| a.cmp(b),
        })
    }
    fn extra_filters() -> &'static [(&'static str, super::FilterValue<PodEntry>)] {
        &[("workload", |p| Cow::Borrowed(workload_of(p).1))]
    }
    fn open(p: &PodEntry) -> Option<(View, String)> {
        let (namespace, name) = (p.info.namespace.clone(), p.info.name.clone());
        Some((View::PodDetail { namespace, name }, String::new()))
    }
    fn bench_target(_: &State, p: &PodEntry) -> Option<crate::app::bench::Target> {
        Some(crate::app::bench::pod_target(p))
    }
    fn tone(_: &State, p: &PodEntry) -> Option<Tone> {
        if p.missing.is_some() {
            Some(Tone::Warn)
        } else if !matches!(p.info.phase.as_str(), "Running" | "Succeeded") {
            Some(Tone::Dim)
        } else {
            None
        }
    }
}

//! The pods view: one row per pod with its mesh, proxy, traffic and cost.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, Width, traffic};
use crate::app::figures::{is_infrastructure, workload_of};
use crate::app::format;
use crate::app::state::{PodEntry, State};
use crate::app::traffic::Rates;
use crate::mesh::{Model, rules::Role};

/// Text shown for an absent mesh value in tables.
pub const NONE: &str = "<none>";

pub struct Pods;

fn has_endpoint(p: &PodEntry) -> bool {
    p.mesh.proxy.as_ref().is_some_and(|x| x.metrics_port.is_some())
}

fn t(p: &PodEntry, f: fn(&Rates) -> String) -> String {
    traffic::cell(p.rates.as_ref(), has_endpoint(p), f)
}

/// The data-plane model; mesh components without a proxy show as "control", and pods
/// missing an expected proxy as "none!".
fn model(p: &PodEntry) -> Cow<'_, str> {
    match (p.mesh.model, p.mesh.role) {
        _ if p.missing.is_some() => "none!".into(),
        (Model::None, Some(Role::Control | Role::Addon)) => "control".into(),
        (m, _) => m.as_str().into(),
    }
}

/// `app/proxy`; the proxy side is `-` for pods without a proxy, the whole cell `-` without
/// a usage sample (the status line says why).
fn usage(p: &PodEntry, cpu: bool) -> String {
    let Some(u) = p.usage else { return "-".into() };
    let (app, proxy) = if cpu {
        (format::millicores(u.app_cpu_m), format::millicores(u.proxy_cpu_m))
    } else {
        (format::mib(u.app_mem), format::mib(u.proxy_mem))
    };
    match (is_infrastructure(p), p.mesh.proxy.is_some()) {
        // A node proxy or gateway is all proxy: it has no app side to show as zero.
        (true, _) => format!("-/{proxy}"),
        (false, true) => format!("{app}/{proxy}"),
        (false, false) => format!("{app}/-"),
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
        ..Column::new("NAMESPACE", |_, p| p.info.namespace.clone())
    },
    Column {
        sort: Some(|p| SortKey::Text(&p.info.name)),
        filter: Some((&["name"], |p| Cow::Borrowed(&p.info.name))),
        search: true,
        ..Column::new("NAME", |_, p| p.info.name.clone())
    },
    Column {
        sort: Some(|p| SortKey::Text(p.mesh.mesh.map_or("", |m| m.as_str()))),
        filter: Some((&["mesh"], |p| Cow::Borrowed(p.mesh.mesh.map_or("none", |m| m.as_str())))),
        ..Column::new("MESH", |_, p| p.mesh.mesh.map_or(NONE, |m| m.as_str()).to_string())
    },
    Column {
        sort: Some(|p| SortKey::Text(p.mesh.model.as_str())),
        filter: Some((&["model"], model)),
        ..Column::new("MODEL", |_, p| model(p).into_owned())
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
    Column {
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| Some(r.rps))),
        live: true,
        ..Column::new("RPS", |_, p| t(p, traffic::rps))
    },
    Column {
        drop: 3,
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| r.success)),
        live: true,
        ..Column::new("SUCCESS", |_, p| t(p, traffic::success))
    },
    Column {
        drop: 12,
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| r.p50_ms)),
        live: true,
        ..Column::new("P50", |_, p| t(p, traffic::p50))
    },
    Column {
        drop: 11,
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| r.p90_ms)),
        live: true,
        ..Column::new("P90", |_, p| t(p, traffic::p90))
    },
    Column {
        drop: 4,
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| r.p99_ms)),
        live: true,
        ..Column::new("P99", |_, p| t(p, traffic::p99))
    },
    Column {
        drop: 10,
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| Some(r.tcp_open))),
        live: true,
        ..Column::new("TCP", |_, p| t(p, traffic::tcp))
    },
    Column {
        drop: 6,
        sort: Some(|p| traffic::key(p.rates.as_ref(), |r| r.mtls)),
        live: true,
        ..Column::new("mTLS", |_, p| t(p, traffic::mtls))
    },
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
    Column {
        width: Width::Fill,
        drop: 7,
        // Age ascending means youngest first, as with `kubectl get --sort-by`.
        sort: Some(|p| {
            p.info.created.map_or(SortKey::Missing, |c| {
                SortKey::Int((i128::from(i64::MAX) - i128::from(c)) as u128)
            })
        }),
        ..Column::new("AGE", |s, p| format::age(s.now, p.info.created))
    },
];

impl Table for Pods {
    type Row = PodEntry;
    type Key = (String, String);

    fn columns() -> &'static [Column<PodEntry>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &PodEntry> + '_> {
        Box::new(state.pods.values())
    }
    fn key(p: &PodEntry) -> (String, String) {
        (p.info.namespace.clone(), p.info.name.clone())
    }
    fn get<'a>(state: &'a State, key: &(String, String)) -> Option<&'a PodEntry> {
        state.pods.get(key)
    }
    fn extra_filters() -> &'static [(&'static str, super::FilterValue<PodEntry>)] {
        &[("workload", |p| Cow::Borrowed(workload_of(p).1))]
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

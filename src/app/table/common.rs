//! Columns several tables share, defined once: the traffic columns (pods, workloads,
//! edges), the cost columns (workloads, namespaces) and AGE. A table lists them like its
//! own columns; its rows say where their figures are by implementing a small trait.

use super::{Column, SortKey, Width};
use crate::app::figures::{AppProxy, Cost, Tax};
use crate::app::format;
use crate::app::traffic::Rates;
use crate::mesh::Model;
use crate::model::UnixMillis;

/// Rows with traffic figures over the window.
pub trait Traffic {
    fn rates(&self) -> Option<&Rates>;
    /// Whether the row can have figures at all: without, its cells stay blank rather than `-`.
    fn expected(&self) -> bool {
        true
    }
}

/// A traffic cell: blank for rows that cannot have figures, `-` while there is no window
/// yet (the pod's detail and the status line say why).
fn cell<R: Traffic>(r: &R, f: fn(&Rates) -> String) -> String {
    match r.rates() {
        Some(rates) => f(rates),
        None if r.expected() => "-".into(),
        None => String::new(),
    }
}

fn key<R: Traffic>(r: &R, f: fn(&Rates) -> Option<f64>) -> SortKey<'static> {
    SortKey::num(r.rates().and_then(f))
}

/// A traffic column: its header, drop rank, how a figure reads and what it sorts by.
const fn traffic<R: Traffic + 'static>(
    header: &'static str,
    drop: u8,
    cell: fn(&crate::app::state::State, &R) -> String,
    sort: fn(&R) -> SortKey<'_>,
) -> Column<R> {
    Column {
        drop,
        sort: Some(sort),
        live: true,
        ..Column::new(header, cell)
    }
}

pub const fn rps<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "RPS",
        0,
        |_, r| cell(r, |x| format!("{:.1}", x.rps)),
        |r| key(r, |x| Some(x.rps)),
    )
}

pub const fn success<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "SUCCESS",
        3,
        |_, r| cell(r, |x| format::pct(x.success)),
        |r| key(r, |x| x.success),
    )
}

pub const fn p50<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "P50",
        12,
        |_, r| cell(r, |x| format::opt_millis(x.p50_ms)),
        |r| key(r, |x| x.p50_ms),
    )
}

pub const fn p90<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "P90",
        11,
        |_, r| cell(r, |x| format::opt_millis(x.p90_ms)),
        |r| key(r, |x| x.p90_ms),
    )
}

pub const fn p99<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "P99",
        4,
        |_, r| cell(r, |x| format::opt_millis(x.p99_ms)),
        |r| key(r, |x| x.p99_ms),
    )
}

pub const fn tcp<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "TCP",
        10,
        |_, r| cell(r, |x| format!("{:.0}", x.tcp_open)),
        |r| key(r, |x| Some(x.tcp_open)),
    )
}

/// TCP bytes per second the row's side read (requests it served; answers it got on an edge)
/// and wrote: `linkerd viz`'s READ_BYTES/SEC and WRITE_BYTES/SEC. The first columns to go on
/// a narrow terminal.
pub const fn read<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "READ/s",
        19,
        |_, r| cell(r, |x| x.read_bps.map_or_else(|| "-".into(), format::byte_rate)),
        |r| key(r, |x| x.read_bps),
    )
}

pub const fn write<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "WRITE/s",
        20,
        |_, r| cell(r, |x| x.write_bps.map_or_else(|| "-".into(), format::byte_rate)),
        |r| key(r, |x| x.write_bps),
    )
}

pub const fn mtls<R: Traffic + 'static>() -> Column<R> {
    traffic(
        "mTLS",
        6,
        |_, r| cell(r, |x| format::pct(x.mtls)),
        |r| key(r, |x| x.mtls),
    )
}

/// Rows with app and proxy CPU and memory summed over pods.
pub trait Costed {
    fn cost(&self) -> &Cost;
}

/// `app/proxy`; `-` for a side without samples.
pub fn app_proxy<T: Copy>(v: AppProxy<T>, f: impl Fn(T) -> String) -> String {
    match (v.app, v.proxy) {
        (None, None) => "-".into(),
        (a, p) => format!(
            "{}/{}",
            a.map_or_else(|| "-".into(), &f),
            p.map_or_else(|| "-".into(), &f)
        ),
    }
}

pub const fn cpu<R: Costed + 'static>() -> Column<R> {
    Column {
        sort: Some(|r| SortKey::num(r.cost().cpu.total())),
        live: true,
        ..Column::new("CPU APP/PROXY", |_, r| app_proxy(r.cost().cpu, format::millicores))
    }
}

pub const fn mem<R: Costed + 'static>() -> Column<R> {
    Column {
        drop: 8,
        sort: Some(|r| {
            r.cost()
                .mem
                .total()
                .map_or(SortKey::Missing, |m| SortKey::Int(u128::from(m)))
        }),
        live: true,
        ..Column::new("MEM APP/PROXY", |_, r| app_proxy(r.cost().mem, format::mib))
    }
}

/// The sidecars' share of CPU and memory, `17%/33%`; says what a mesh proxy is rather
/// than taxing it; `-` without a sidecar or samples, and for CPU under 1m in all (a share
/// of almost nothing is noise).
pub const fn tax<R: Costed + 'static>() -> Column<R> {
    Column {
        drop: 9,
        sort: Some(|r| match r.cost().tax {
            Tax::Share { cpu, .. } => SortKey::num(cpu),
            _ => SortKey::Missing,
        }),
        live: true,
        ..Column::new("TAX CPU/MEM", |_, r| {
            let pct = |v: Option<f64>| v.map_or_else(|| "-".into(), format::share);
            match r.cost().tax {
                Tax::Unknown => "-".into(),
                Tax::Infrastructure(Model::Gateway) => "gateway".into(),
                Tax::Infrastructure(_) => "node proxy".into(),
                Tax::Share { cpu, mem } => format!("{}/{}", pct(cpu), pct(mem)),
            }
        })
    }
}

/// Rows with a creation time.
pub trait Created {
    fn created(&self) -> Option<UnixMillis>;
}

/// Kubernetes-style age (`5m`, `3d`); ascending means youngest first, as with
/// `kubectl get --sort-by`. The last column: it takes the rest of the width.
pub const fn age<R: Created + 'static>() -> Column<R> {
    Column {
        width: Width::Fill,
        drop: 7,
        sort: Some(|r| {
            r.created().map_or(SortKey::Missing, |c| {
                SortKey::Int((i128::from(i64::MAX) - i128::from(c)) as u128)
            })
        }),
        ..Column::new("AGE", |s, r| format::age(s.now, r.created()))
    }
}

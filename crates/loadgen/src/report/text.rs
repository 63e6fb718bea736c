//! Human-readable summary.

use std::fmt::Write;

use super::Context;
use crate::types::{BenchResult, Distribution, ErrorKind};

fn ms(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.3}s", us / 1e6)
    } else {
        format!("{:.3}ms", us / 1e3)
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.2} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn rows(d: &Distribution) -> [(&'static str, f64); 11] {
    [
        ("min", d.min as f64),
        ("mean", d.mean),
        ("p50", d.p50 as f64),
        ("p75", d.p75 as f64),
        ("p90", d.p90 as f64),
        ("p95", d.p95 as f64),
        ("p99", d.p99 as f64),
        ("p99.9", d.p999 as f64),
        ("p99.99", d.p9999 as f64),
        ("max", d.max as f64),
        ("stddev", d.stddev),
    ]
}

pub fn render(r: &BenchResult, ctx: &Context) -> String {
    let mut o = String::new();
    let c = &r.config;
    let label = r.label.as_deref().map(|l| format!(" ({l})")).unwrap_or_default();
    let _ = writeln!(o, "{} {}{label}", c.method, r.url);
    let model = match r.requested_rate {
        Some(rate) => format!("open loop at {rate} req/s"),
        None => "closed loop".to_string(),
    };
    let tls = c.tls_note().map(|n| format!(", {n}")).unwrap_or_default();
    let _ = writeln!(
        o,
        "  {}{tls}, {} connections{} on {} thread{}{}, {model}{}",
        r.protocol,
        c.connections,
        if c.streams > 1 {
            format!(" x {} streams", c.streams)
        } else {
            String::new()
        },
        r.threads,
        if r.threads == 1 { "" } else { "s" },
        c.threads_note
            .as_deref()
            .map(|n| {
                let capped = if r.threads < c.threads {
                    ", at most one per connection"
                } else {
                    ""
                };
                format!(" ({n}{capped})")
            })
            .unwrap_or_default(),
        if r.cancelled { ", CANCELLED" } else { "" }
    );
    for note in &ctx.notes {
        let _ = writeln!(o, "{note}");
    }
    let _ = writeln!(
        o,
        "  {:.2}s measured{}: {} request{}, {:.1} req/s",
        r.duration_s,
        if r.warmup_requests > 0 {
            format!(" after {} warm-up requests", r.warmup_requests)
        } else {
            String::new()
        },
        r.requests,
        if r.requests == 1 { "" } else { "s" },
        r.achieved_rate
    );
    let statuses: Vec<String> = r.status.iter().map(|(code, n)| format!("{code}: {n}")).collect();
    let _ = writeln!(
        o,
        "  responses {}  [{}]  success {:.3}%",
        r.responses,
        statuses.join(", "),
        r.success_ratio() * 100.0
    );
    if r.errors.total() > 0 {
        let _ = writeln!(o, "  errors {}", r.errors.total());
        for kind in [
            ErrorKind::Connect,
            ErrorKind::Timeout,
            ErrorKind::Reset,
            ErrorKind::Tls,
            ErrorKind::Other,
        ] {
            let n = r.errors.get(kind);
            if n > 0 {
                let sample = r.error_samples.get(&kind).map(String::as_str).unwrap_or("");
                let _ = writeln!(o, "    {:<8} {n:>8}  {sample}", format!("{kind:?}").to_lowercase());
            }
        }
    }
    let _ = writeln!(o);
    if r.latency.count > 0 {
        if r.requested_rate.is_some() {
            let _ = writeln!(o, "  latency    corrected  uncorrected  schedule lag");
            let lag = r.schedule_lag.clone().unwrap_or_default();
            for ((name, a), ((_, b), (_, l))) in rows(&r.latency)
                .into_iter()
                .zip(rows(&r.latency_uncorrected).into_iter().zip(rows(&lag)))
            {
                let _ = writeln!(o, "  {name:<8} {:>11}  {:>11}  {:>12}", ms(a), ms(b), ms(l));
            }
            let _ = writeln!(
                o,
                "  (corrected: from the intended send time; uncorrected: from the actual send)"
            );
        } else {
            let _ = writeln!(o, "  latency (closed loop: sent when due, corrected = uncorrected)");
            for (name, v) in rows(&r.latency) {
                let _ = writeln!(o, "  {name:<8} {:>11}", ms(v));
            }
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "  sent {}, received {}; {} connections opened, {} reconnects",
        bytes(r.bytes_sent),
        bytes(r.bytes_received),
        r.connections_opened,
        r.reconnects
    );
    if !ctx.verdicts.is_empty() {
        let _ = writeln!(o);
        for v in &ctx.verdicts {
            let mark = if v.met { "met" } else { "MISSED" };
            let _ = writeln!(o, "  SLO {:<20} {mark:<7} (measured {})", v.objective, v.actual);
        }
    }
    o
}

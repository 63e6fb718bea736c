//! fortio-compatible result JSON (`periodic.RunnerResults` + `fhttp.HTTPRunnerResults`),
//! the shape Meshery stores as `runner_results`. Durations are in seconds, as fortio
//! writes them; `DurationHistogram` holds the corrected latency (the headline; equal to
//! the uncorrected one in a closed loop). Errors count under the return code -1, as in
//! fortio.

use eyre::{Result, WrapErr};
use serde_json::{Value, json};

use super::{Context, GENERATOR, go_duration, rfc3339};
use crate::types::{BenchResult, Distribution};

/// `scale` turns the distribution's unit into fortio's (1e-6 for µs → s, 1 for bytes).
fn histogram(d: &Distribution, scale: f64, percentiles: bool) -> Value {
    let total = d.count.max(1) as f64;
    let mut cumulative = 0u64;
    let last = d.bins.len().saturating_sub(1);
    let data: Vec<Value> = d
        .bins
        .iter()
        .enumerate()
        .map(|(i, b)| {
            cumulative += b.count;
            // fortio's first bin starts at the minimum and its last ends at the maximum.
            let start = if i == 0 { d.min } else { b.start };
            let end = if i == last { d.max } else { b.end };
            json!({
                "Start": start as f64 * scale,
                "End": end as f64 * scale,
                "Percent": cumulative as f64 * 100.0 / total,
                "Count": b.count,
            })
        })
        .collect();
    let pcts = percentiles.then(|| {
        [
            (50.0, d.p50),
            (75.0, d.p75),
            (90.0, d.p90),
            (99.0, d.p99),
            (99.9, d.p999),
        ]
        .iter()
        .map(|(p, v)| json!({"Percentile": p, "Value": *v as f64 * scale}))
        .collect::<Vec<_>>()
    });
    json!({
        "Count": d.count,
        "Min": d.min as f64 * scale,
        "Max": d.max as f64 * scale,
        "Sum": d.mean * d.count as f64 * scale,
        "Avg": d.mean * scale,
        "StdDev": d.stddev * scale,
        "Data": data,
        "Percentiles": pcts,
    })
}

pub fn to_value(r: &BenchResult, ctx: &Context) -> Value {
    let c = &r.config;
    let mut ret_codes = serde_json::Map::new();
    for (code, n) in &r.status {
        ret_codes.insert(code.to_string(), json!(n));
    }
    if r.errors.total() > 0 {
        ret_codes.insert("-1".into(), json!(r.errors.total()));
    }
    let requested_duration = match (c.duration, c.requests) {
        (Some(d), _) => go_duration(d.as_secs_f64()),
        (None, Some(n)) => format!("exactly {n} calls"),
        (None, None) => String::new(),
    };
    let mut v = json!({
        "RunType": "HTTP",
        "Labels": r.label.clone().unwrap_or_default(),
        "StartTime": rfc3339(r.started_at),
        "RequestedQPS": r.requested_rate.map_or("max".to_string(), |q| format!("{q}")),
        "RequestedDuration": requested_duration,
        "ActualQPS": r.achieved_rate,
        "ActualDuration": (r.duration_s * 1e9).round() as u64,
        "NumThreads": c.connections,
        "Version": ctx.version,
        "DurationHistogram": histogram(&r.latency, 1e-6, true),
        "Exactly": c.requests.unwrap_or(0),
        "Jitter": false,
        "Uniform": false,
        "NoCatchUp": false,
        "RunID": 0,
        "AccessLoggerInfo": "",
        "ID": "",
        "RetCodes": ret_codes,
        "Sizes": histogram(&r.body_sizes, 1.0, false),
        "HeaderSizes": histogram(&r.header_sizes, 1.0, false),
        "URL": r.url,
        "NumConnections": c.connections,
        "SocketCount": r.connections_opened,
        "AbortOn": 0,
        "load-generator": GENERATOR,
    });
    if let Some(env) = &ctx.environment {
        v["kubernetes"] = json!({
            "server_version": env.kubernetes_version,
            "nodes": env.nodes.iter().map(|n| json!({"hostname": n.name, "capacity_cpu": n.cores.map(|c| c.to_string())})).collect::<Vec<_>>(),
        });
    }
    v
}

pub fn render(r: &BenchResult, ctx: &Context) -> Result<String> {
    let mut s = serde_json::to_string_pretty(&to_value(r, ctx)).wrap_err("serialising the fortio result")?;
    s.push('\n');
    Ok(s)
}

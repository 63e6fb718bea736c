//! The slowdown table: text (aligned), Markdown, CSV and JSON. One row per step and
//! target; ratios against the baseline (1.00x) and milliseconds added to it.

use color_eyre::eyre::{Result, WrapErr};

use crate::model::sweep::{Quantiles, Range, Stat, SweepResult, TargetStep};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Aligned text table.
    Table,
    /// Markdown table, for tickets and pull requests.
    Md,
    /// meshtop's own result (what is saved in the results directory).
    Json,
    /// One line per step and target.
    Csv,
}

/// Saves a sweep's result (JSON) in the results directory; its name follows its start
/// and label, so saving it again (with later resources) replaces the file.
pub fn save(dir: &std::path::Path, r: &SweepResult) -> Result<std::path::PathBuf> {
    let name = crate::bench::store::name_for(
        r.started_at,
        &format!("sweep-{}", r.label.as_deref().unwrap_or(&r.baseline)),
    );
    crate::bench::store::save_text(dir, &name, &render(Format::Json, r)?)
}

pub fn render(format: Format, r: &SweepResult) -> Result<String> {
    Ok(match format {
        Format::Table => table(r),
        Format::Md => markdown(r),
        Format::Json => serde_json::to_string_pretty(r).wrap_err("encoding the sweep result")? + "\n",
        Format::Csv => csv(r),
    })
}

const HEADERS: [&str; 14] = [
    "STEP",
    "TARGET",
    "RPS",
    "P50",
    "P90",
    "P99",
    "P99.9",
    "P50 X",
    "P90 X",
    "P99 X",
    "+P50",
    "+P99",
    "ERRORS",
    "PROXY CPU/1K RPS",
];

/// Three decimals under a millisecond: on a fast route 0.07 and 0.074 are not the same.
fn ms(v: f64) -> String {
    if v.abs() < 1.0 {
        format!("{v:.3}ms")
    } else {
        format!("{v:.2}ms")
    }
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}x"))
}

fn added(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| {
        if v.abs() < 1.0 {
            format!("{v:+.3}ms")
        } else {
            format!("{v:+.2}ms")
        }
    })
}

/// `2.41ms (2.30-2.60)` when there were repeats.
fn with_range(v: f64, range: Option<Range>, fmt: fn(f64) -> String) -> String {
    match range {
        Some(r) if r.min != r.max => format!("{} ({}-{})", fmt(v), fmt(r.min).trim_end_matches("ms"), fmt(r.max)),
        _ => fmt(v),
    }
}

fn rps(v: f64) -> String {
    format!("{v:.0}")
}

fn cpu_per_1k(r: &SweepResult, t: &TargetStep) -> String {
    match &t.resources {
        Some(res) if res.proxy_cpu_millis.max <= 0.0 => "no proxy".into(),
        Some(res) => res.proxy_cpu_millis_per_1k_rps.map_or("-".into(), cpu),
        None => missing(r, t),
    }
}

/// Why a target has no resource figures, in a word or two.
fn missing(r: &SweepResult, t: &TargetStep) -> String {
    if r.resources_note.as_deref().is_some_and(|n| n.starts_with("no cluster")) {
        return "no cluster".into();
    }
    match t.resources_note.as_deref() {
        Some(n) if n.starts_with("no pod") => "no pods".into(),
        Some(n) if n.starts_with("no reading") => "no reading".into(),
        _ => "not measured".into(),
    }
}

/// Millicores: `12.5m` under 100, `180m` above.
fn cpu(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}m")
    } else {
        format!("{v:.0}m")
    }
}

fn mib(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}Mi")
    } else {
        format!("{v:.0}Mi")
    }
}

/// `mean/max`, as the resources table shows a figure sampled over a step.
fn mean_max(s: &Stat, f: fn(f64) -> String) -> String {
    if (s.max - s.mean).abs() < 1e-9 {
        f(s.mean)
    } else {
        format!("{}/{}", f(s.mean), f(s.max))
    }
}

const RESOURCE_HEADERS: [&str; 10] = [
    "STEP",
    "TARGET",
    "PODS",
    "APP CPU",
    "PROXY CPU",
    "APP MEM",
    "PROXY MEM",
    "PROXY CPU/1K RPS",
    "PROXY MEM/1K RPS",
    "CONTROL PLANE",
];

/// The resources table: one row per step and target, means over the step (mean/max when
/// they differ). None when no target has any figure (the notes say why).
fn resource_rows(r: &SweepResult) -> Option<Vec<Vec<String>>> {
    if r.steps.iter().all(|s| s.targets.iter().all(|t| t.resources.is_none())) {
        return None;
    }
    let mut rows = Vec::new();
    for step in &r.steps {
        let name = step.name(&r.varies);
        for t in &step.targets {
            let mut row = vec![name.clone(), t.name.clone()];
            match &t.resources {
                Some(res) => {
                    let cp = match (&res.control_plane_cpu_millis, &res.control_plane_memory_mib) {
                        (Some(c), Some(m)) => format!("{} {}", cpu(c.mean), mib(m.mean)),
                        _ => "-".into(),
                    };
                    row.extend([
                        res.pods.to_string(),
                        mean_max(&res.app_cpu_millis, cpu),
                        mean_max(&res.proxy_cpu_millis, cpu),
                        mean_max(&res.app_memory_mib, mib),
                        mean_max(&res.proxy_memory_mib, mib),
                        cpu_per_1k(r, t),
                        match res.proxy_memory_mib_per_1k_rps {
                            Some(_) if res.proxy_memory_mib.max <= 0.0 => "no proxy".into(),
                            Some(v) => mib(v),
                            None => "-".into(),
                        },
                        cp,
                    ]);
                }
                None => {
                    let why = missing(r, t);
                    row.extend(std::iter::repeat_n(why, RESOURCE_HEADERS.len() - 2));
                }
            }
            rows.push(row);
        }
    }
    Some(rows)
}

fn cells(r: &SweepResult, step: &str, t: &TargetStep) -> Vec<String> {
    let s = t.spread;
    vec![
        step.to_string(),
        if t.name == r.baseline {
            format!("{} (baseline)", t.name)
        } else {
            t.name.clone()
        },
        with_range(t.rps, s.map(|s| s.rps), rps),
        with_range(t.p50_ms, s.map(|s| s.p50_ms), ms),
        with_range(t.p90_ms, s.map(|s| s.p90_ms), ms),
        with_range(t.p99_ms, s.map(|s| s.p99_ms), ms),
        ms(t.p999_ms),
        ratio(t.slowdown.p50),
        ratio(t.slowdown.p90),
        ratio(t.slowdown.p99),
        added(t.added_ms.p50),
        added(t.added_ms.p99),
        t.errors.to_string(),
        cpu_per_1k(r, t),
    ]
}

fn rows(r: &SweepResult) -> Vec<Vec<String>> {
    r.steps
        .iter()
        .flat_map(|step| {
            let name = step.name(&r.varies);
            step.targets.iter().map(move |t| cells(r, &name, t))
        })
        .collect()
}

/// What the table is about, and the notes that explain its dashes.
fn preamble(r: &SweepResult) -> String {
    let fixed = match r.varies.as_str() {
        "rate" => format!(
            "rate sweep at {} connections",
            r.steps.first().and_then(|s| s.connections).unwrap_or(0)
        ),
        _ => match r.steps.first().and_then(|s| s.rate) {
            Some(rate) => format!("connections sweep at {} rps", crate::model::sweep::trim_number(rate)),
            None => "connections sweep, closed loop".into(),
        },
    };
    let repeats = if r.repeat > 1 {
        format!(", medians of {} repeats (min-max)", r.repeat)
    } else {
        String::new()
    };
    let length = match (r.duration_s > 0.0, r.requests_per_run) {
        (true, Some(n)) => format!(
            "{}s or {n} requests per run",
            crate::model::sweep::trim_number(r.duration_s)
        ),
        (false, Some(n)) => format!("{n} requests per run"),
        _ => format!("{}s per run", crate::model::sweep::trim_number(r.duration_s)),
    };
    format!(
        "{fixed}, {length} after {}s warm-up, {}{repeats}; baseline {}; latency corrected for coordinated omission",
        crate::model::sweep::trim_number(r.warmup_s),
        r.protocol,
        r.baseline
    )
}

fn notes(r: &SweepResult) -> Vec<String> {
    let mut out = Vec::new();
    if r.cancelled {
        out.push("cancelled: the table holds the runs that finished".to_string());
    }
    for step in &r.steps {
        for t in &step.targets {
            if let Some(n) = &t.note {
                out.push(format!("{}, {}: {n}", step.name(&r.varies), t.name));
            }
            if let Some(n) = &t.resources_note {
                out.push(format!("{}, {}: {n}", step.name(&r.varies), t.name));
            }
        }
    }
    if let Some(n) = &r.resources_note {
        out.push(n.clone());
    }
    out
}

pub fn table(r: &SweepResult) -> String {
    let mut lines = vec![HEADERS.map(String::from).to_vec()];
    lines.extend(rows(r));
    let mut out = preamble(r) + "\n\n" + &crate::text::align(&lines);
    if let Some(rows) = resource_rows(r) {
        let mut lines = vec![RESOURCE_HEADERS.map(String::from).to_vec()];
        lines.extend(rows);
        out += &format!(
            "\nresources of each target's pods during its runs (mean/max):\n\n{}",
            crate::text::align(&lines)
        );
    }
    for n in notes(r) {
        out += &format!("note: {n}\n");
    }
    out
}

pub fn markdown(r: &SweepResult) -> String {
    let escape = |c: &String| c.replace('|', "\\|");
    let mut out = format!("{}\n\n", preamble(r));
    out += &format!("| {} |\n", HEADERS.join(" | "));
    out += &format!("|{}\n", "---|".repeat(HEADERS.len()));
    for row in rows(r) {
        out += &format!("| {} |\n", row.iter().map(escape).collect::<Vec<_>>().join(" | "));
    }
    if let Some(rows) = resource_rows(r) {
        out += "\nResources of each target's pods during its runs (mean/max):\n\n";
        out += &format!("| {} |\n", RESOURCE_HEADERS.join(" | "));
        out += &format!("|{}\n", "---|".repeat(RESOURCE_HEADERS.len()));
        for row in rows {
            out += &format!("| {} |\n", row.iter().map(escape).collect::<Vec<_>>().join(" | "));
        }
    }
    let notes = notes(r);
    if !notes.is_empty() {
        out += "\n";
        for n in notes {
            out += &format!("- {}\n", n.replace('|', "\\|"));
        }
    }
    out
}

pub fn csv(r: &SweepResult) -> String {
    let mut out = String::from(
        "step,connections,rate,target,baseline,rps,requests,errors,p50_ms,p90_ms,p99_ms,p999_ms,\
         slowdown_p50,slowdown_p90,slowdown_p99,added_p50_ms,added_p90_ms,added_p99_ms,\
         proxy_cpu_millis_mean,proxy_memory_mib_mean,proxy_cpu_millis_per_1k_rps,\
         proxy_cpu_millis_max,proxy_memory_mib_max,app_cpu_millis_mean,app_memory_mib_mean,\
         proxy_memory_mib_per_1k_rps,control_plane_cpu_millis_mean,control_plane_memory_mib_mean,pods,note\n",
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let quoted = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for step in &r.steps {
        for t in &step.targets {
            let q = |q: &Quantiles<Option<f64>>| [opt(q.p50), opt(q.p90), opt(q.p99)].join(",");
            let stat = |s: Option<&Stat>| opt(s.map(|s| s.mean));
            let res = t.resources.as_ref();
            out += &format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                quoted(&step.name(&r.varies)),
                step.connections.map_or(String::new(), |c| c.to_string()),
                opt(step.rate),
                quoted(&t.name),
                t.name == r.baseline,
                t.rps,
                t.requests,
                t.errors,
                t.p50_ms,
                t.p90_ms,
                t.p99_ms,
                t.p999_ms,
                q(&t.slowdown),
                q(&t.added_ms),
                stat(res.map(|r| &r.proxy_cpu_millis)),
                stat(res.map(|r| &r.proxy_memory_mib)),
                opt(res.and_then(|r| r.proxy_cpu_millis_per_1k_rps)),
                opt(res.map(|r| r.proxy_cpu_millis.max)),
                opt(res.map(|r| r.proxy_memory_mib.max)),
                stat(res.map(|r| &r.app_cpu_millis)),
                stat(res.map(|r| &r.app_memory_mib)),
                opt(res.and_then(|r| r.proxy_memory_mib_per_1k_rps)),
                stat(res.and_then(|r| r.control_plane_cpu_millis.as_ref())),
                stat(res.and_then(|r| r.control_plane_memory_mib.as_ref())),
                res.map_or(String::new(), |r| r.pods.to_string()),
                quoted(
                    &[t.note.as_deref(), t.resources_note.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            );
        }
    }
    out
}

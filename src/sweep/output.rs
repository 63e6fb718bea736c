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
    /// Service Mesh Performance results: one per target and step.
    Smp,
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
        Format::Smp => serde_json::to_string_pretty(&smp(r)).wrap_err("encoding the SMP results")? + "\n",
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
        // A proxy container always holds memory, even when it idles at 0m CPU.
        Some(res) if res.proxy_memory_mib.max <= 0.0 => "no proxy".into(),
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
    let (mean, max) = (f(s.mean), f(s.max));
    if mean == max { mean } else { format!("{mean}/{max}") }
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
/// they differ). Without a cluster its rows say so, rather than the table vanishing.
fn resource_rows(r: &SweepResult) -> Option<Vec<Vec<String>>> {
    if r.steps.is_empty() {
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
                // Said once, under PODS; the notes below the table say why in full.
                None => {
                    row.push(missing(r, t));
                    row.extend(std::iter::repeat_n("-".to_string(), RESOURCE_HEADERS.len() - 3));
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
    if r.tls_not_verified {
        out.push("TLS not verified (--insecure): the https:// targets' certificates were not checked".to_string());
    }
    for step in &r.steps {
        for t in &step.targets {
            if let Some(n) = &t.note {
                out.push(format!("{}, {}: {n}", step.name(&r.varies), t.name));
            }
        }
    }
    // Why a target has no resources is said once when it is the same in every step.
    let mut said = std::collections::BTreeSet::new();
    for step in &r.steps {
        for t in &step.targets {
            let Some(n) = &t.resources_note else { continue };
            let everywhere = r.steps.iter().all(|s| {
                s.targets
                    .iter()
                    .find(|x| x.name == t.name)
                    .is_none_or(|x| x.resources_note.as_ref() == Some(n))
            });
            if !everywhere {
                out.push(format!("{}, {}: {n}", step.name(&r.varies), t.name));
            } else if said.insert(t.name.clone()) {
                out.push(format!("{}: {n}", t.name));
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

/// Service Mesh Performance `PerformanceTestResult`s (snake_case as in the protos), one
/// per target and step, each with its `PerformanceTestConfig` under `config`, and when a
/// cluster was watched its `ServiceMeshConfig` under `mesh_config` (mesh type and build as
/// discovered, mTLS as the pods' proxies reported it, the target pods' sidecars and the
/// control plane as measured during the step) and `EnvironmentConfig` under `environment`.
/// `smp_version` names the revision of the SMP protos followed (see `SMP_VERSION`). As
/// for `bench -o smp`, what meshtop does not know is left out rather than guessed: nodes
/// when they could not be listed, and `mtls_enabled` when only some requests were mutual
/// TLS.
pub fn smp(r: &SweepResult) -> serde_json::Value {
    use crate::bench::output::{go_duration, rfc3339, smp::SMP_VERSION, smp::mesh_type};
    use serde_json::json;
    let mut out = Vec::new();
    for step in &r.steps {
        let step_name = step.name(&r.varies);
        for t in &step.targets {
            let planned = r.targets.iter().find(|p| p.name == t.name);
            let start = t.runs.iter().map(|x| x.started_at).min().unwrap_or(r.started_at);
            let end = t
                .runs
                .iter()
                .map(|x| x.started_at + (x.duration_s * 1000.0) as i64)
                .max()
                .unwrap_or(r.ended_at);
            let mut labels = std::collections::BTreeMap::new();
            labels.insert("load_generator", "meshtop".to_string());
            labels.insert("protocol", r.protocol.clone());
            labels.insert("sweep_step", step_name.clone());
            labels.insert("target", t.name.clone());
            labels.insert("baseline", r.baseline.clone());
            if let Some(l) = &r.label {
                labels.insert("label", l.clone());
            }
            if let Some(x) = t.slowdown.p99 {
                labels.insert("slowdown_p99", format!("{x:.4}"));
            }
            let mut v = json!({
                "smp_version": SMP_VERSION,
                "labels": labels,
                "start_time": rfc3339(start),
                "end_time": rfc3339(end),
                "latencies_ms": {"p50": t.p50_ms, "p90": t.p90_ms, "p99": t.p99_ms},
                "actual_qps": t.rps,
                "config": {
                    "smp_version": SMP_VERSION,
                    "name": format!("{} {step_name}", t.name),
                    "labels": labels,
                    "duration": go_duration(t.runs.first().map_or(r.duration_s, |x| x.duration_s)),
                    "clients": [{
                        "internal": false,
                        "load_generator": "meshtop",
                        "protocol": "HTTP",
                        "connections": step.connections.unwrap_or(0),
                        "rps": step.rate.map_or(0, |q| q.round() as i64),
                        "endpoint_urls": [t.url],
                    }],
                },
            });
            let mut mesh = serde_json::Map::new();
            if let Some(m) = planned.and_then(|p| p.mesh.as_deref()) {
                mesh.insert("mesh_type".into(), json!(mesh_type(m)));
            }
            if let Some(version) = planned.and_then(|p| p.mesh_version.as_deref()) {
                mesh.insert("mesh_build".into(), json!(version));
            }
            // As observed: all requests over mTLS, or none; a mix is not "enabled".
            match planned.and_then(|p| p.mtls) {
                Some(share) if share >= 0.99 => {
                    mesh.insert("mtls_enabled".into(), json!(true));
                }
                Some(share) if share <= 0.01 => {
                    mesh.insert("mtls_enabled".into(), json!(false));
                }
                _ => {}
            }
            // Sidecars and a control plane only for pods in a mesh: an unmeshed target's
            // pods carry no mesh proxy, whatever their usage.
            if let Some(res) = t
                .resources
                .as_ref()
                .filter(|_| planned.is_some_and(|p| p.mesh.is_some()))
            {
                mesh.insert(
                    "sidecar".into(),
                    json!({
                        "count": res.pods,
                        "cpu_mCores": res.proxy_cpu_millis.mean.round() as i64,
                        "mem_mb": (res.proxy_memory_mib.mean * 1.048576).round() as i64,
                        "rps": t.rps.round() as i64,
                    }),
                );
                if let (Some(c), Some(m)) = (&res.control_plane_cpu_millis, &res.control_plane_memory_mib) {
                    mesh.insert(
                        "mesh_control_plane".into(),
                        json!({"cpu_mCores": c.mean.round() as i64, "mem_mb": (m.mean * 1.048576).round() as i64}),
                    );
                }
            }
            if !mesh.is_empty() {
                mesh.insert("smp_version".into(), json!(SMP_VERSION));
                v["mesh_config"] = serde_json::Value::Object(mesh);
            }
            if let Some(k) = &r.kubernetes_version {
                v["environment"] = json!({"smp_version": SMP_VERSION, "kubernetes_version": k});
                if !r.nodes.is_empty() {
                    v["environment"]["node"] = r
                        .nodes
                        .iter()
                        .map(|n| json!({"type": n.name, "cores": n.cores, "mem_mb": n.mem_mb}))
                        .collect();
                }
            }
            out.push(v);
        }
    }
    serde_json::Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sweep::{Resources, RunFigures, SweepRuns, SweepSpec, SweepTarget};

    fn run(p50: f64, rps: f64) -> RunFigures {
        RunFigures {
            rps,
            requests: 1000,
            responses: 1000,
            errors: 0,
            http_errors: 0,
            p50_ms: p50,
            p90_ms: p50 * 2.0,
            p99_ms: p50 * 4.0,
            p999_ms: p50 * 8.0,
            started_at: 1_764_000_000_000,
            duration_s: 30.0,
        }
    }

    fn target(name: &str, mesh: Option<&str>) -> SweepTarget {
        SweepTarget {
            name: name.into(),
            url: format!("http://{name}/"),
            pods: vec![],
            pods_note: None,
            mesh: mesh.map(String::from),
            mesh_version: mesh.map(|_| "1.24.0".into()),
            mtls: mesh.map(|_| 1.0),
        }
    }

    /// A step of nginx directly and through a meshed pod, the meshed one with resources.
    fn result() -> SweepResult {
        let spec = SweepSpec {
            label: None,
            baseline: "direct".into(),
            varies: "connections".into(),
            steps: vec![(8, 0.0)],
            targets: vec![target("direct", None), target("mesh", Some("istio"))],
            duration_s: 30.0,
            requests_per_run: None,
            warmup_s: 5.0,
            cooldown_s: 2.0,
            repeat: 1,
            protocol: "HTTP/1.1".into(),
            kubernetes_version: Some("v1.34.4".into()),
            tls_not_verified: false,
        };
        let mut runs = SweepRuns::new(1, 2);
        runs.add(0, 0, run(1.0, 2000.0));
        runs.add(0, 1, run(2.5, 1600.0));
        let mut r = SweepResult::assemble(&spec, &runs, 1_764_000_000_000, 1_764_000_070_000, false, None);
        let stat = |mean, max| Stat { mean, max };
        r.steps[0].targets[0].resources_note = Some("no pods: nothing in the cluster serves this URL".into());
        r.steps[0].targets[1].resources = Some(Resources {
            pods: 2,
            app_cpu_millis: stat(300.0, 320.0),
            proxy_cpu_millis: stat(160.0, 200.0),
            app_memory_mib: stat(96.0, 96.0),
            proxy_memory_mib: stat(50.0, 52.0),
            proxy_cpu_millis_per_1k_rps: Some(100.0),
            proxy_memory_mib_per_1k_rps: Some(31.25),
            control_plane_cpu_millis: Some(stat(35.0, 35.0)),
            control_plane_memory_mib: Some(stat(60.0, 60.0)),
        });
        r
    }

    #[test]
    fn the_resources_table_follows_the_slowdown_table() {
        let text = table(&result());
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("resources of each target's pods during its runs"))
            .unwrap_or_else(|| panic!("{text}"));
        let header = lines[at + 2];
        assert!(
            header.starts_with("STEP  TARGET  PODS") && header.ends_with("CONTROL PLANE"),
            "{header}"
        );
        let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            words(lines[at + 3]),
            ["c=8", "direct", "no", "pods", "-", "-", "-", "-", "-", "-", "-"]
        );
        assert_eq!(
            words(lines[at + 4]),
            [
                "c=8",
                "mesh",
                "2",
                "300m/320m",
                "160m/200m",
                "96.0Mi",
                "50.0Mi/52.0Mi",
                "100m",
                "31.2Mi",
                "35.0m",
                "60.0Mi"
            ]
        );
        // The latency table's last column agrees.
        assert!(lines[4].ends_with("100m"), "{}", lines[4]);
        assert!(
            text.contains("note: direct: no pods: nothing in the cluster serves this URL"),
            "{text}"
        );
        let md = markdown(&result());
        assert!(md.contains("| c=8 | mesh | 2 | 300m/320m | 160m/200m |"), "{md}");
    }

    #[test]
    fn csv_carries_every_resource_figure() {
        let text = csv(&result());
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let mesh: Vec<&str> = lines.nth(1).unwrap().split(',').collect();
        assert_eq!(header.len(), mesh.len());
        let field = |name: &str| mesh[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(field("proxy_cpu_millis_mean"), "160");
        assert_eq!(field("proxy_cpu_millis_max"), "200");
        assert_eq!(field("app_memory_mib_mean"), "96");
        assert_eq!(field("proxy_memory_mib_per_1k_rps"), "31.25");
        assert_eq!(field("control_plane_cpu_millis_mean"), "35");
        assert_eq!(field("pods"), "2");
        assert_eq!(field("slowdown_p50"), "2.5");
    }

    #[test]
    fn smp_results_per_target_and_step() {
        let v = smp(&result());
        let all = v.as_array().unwrap();
        assert_eq!(all.len(), 2);
        let mesh = &all[1];
        assert_eq!(mesh["labels"]["target"], "mesh");
        assert_eq!(mesh["labels"]["sweep_step"], "c=8");
        assert_eq!(mesh["latencies_ms"]["p50"], 2.5);
        assert_eq!(mesh["actual_qps"], 1600.0);
        assert_eq!(mesh["config"]["clients"][0]["connections"], 8);
        assert_eq!(mesh["config"]["duration"], "30s");
        assert_eq!(mesh["start_time"], "2025-11-24T16:00:00.000Z");
        assert_eq!(mesh["end_time"], "2025-11-24T16:00:30.000Z");
        let m = &mesh["mesh_config"];
        assert_eq!(
            (m["mesh_type"].as_str(), m["mesh_build"].as_str()),
            (Some("ISTIO"), Some("1.24.0"))
        );
        assert_eq!(m["sidecar"]["count"], 2);
        assert_eq!(m["sidecar"]["cpu_mCores"], 160);
        // 50 MiB is 52 MB.
        assert_eq!(m["sidecar"]["mem_mb"], 52);
        assert_eq!(m["mesh_control_plane"]["cpu_mCores"], 35);
        assert_eq!(mesh["environment"]["kubernetes_version"], "v1.34.4");
        assert!(
            mesh["environment"].get("node").is_none(),
            "no nodes listed, none written"
        );
        let mut r = result();
        r.nodes = vec![crate::model::bench::NodeInfo {
            name: "kwok-node-0".into(),
            cores: Some(32),
            mem_mb: Some(262_144),
        }];
        let node = &smp(&r)[1]["environment"]["node"];
        assert_eq!(
            node,
            &serde_json::json!([{"type": "kwok-node-0", "cores": 32, "mem_mb": 262144}])
        );
        // mTLS as observed; every message says which revision of the SMP protos it follows.
        assert_eq!(m["mtls_enabled"], true);
        for v in [
            &mesh["smp_version"],
            &mesh["config"]["smp_version"],
            &m["smp_version"],
            &mesh["environment"]["smp_version"],
        ] {
            assert_eq!(v, "service-mesh-performance/protos@1a82110");
        }
        // The unmeshed baseline has no mesh config at all, even with resources measured.
        assert!(all[0].get("mesh_config").is_none());
        let mut r = result();
        r.steps[0].targets[0].resources = r.steps[0].targets[1].resources.clone();
        assert!(smp(&r)[0].get("mesh_config").is_none());
    }
}

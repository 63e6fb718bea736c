//! Comparing saved runs: what changed between them, in one line an on-call engineer can
//! paste. Pure: the command reads the files and hands over what they hold.
//!
//! A bench result is one run; a sweep is one run per step and target. Two bench results
//! give a side-by-side table and a verdict; two sweeps are compared step by step and
//! target by target; anything else is a table against the first run.

use serde::Serialize;

use crate::model::bench::BenchResult;
use crate::model::sweep::SweepResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text with a verdict line.
    Text,
    /// Markdown, for tickets.
    Md,
    Json,
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    Bench(Box<BenchResult>),
    Sweep(Box<SweepResult>),
}

impl Saved {
    /// Reads a saved result from JSON text; the error says what the text is not.
    pub fn parse(text: &str) -> Result<Saved, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        if value.get("kind").and_then(|k| k.as_str()) == Some(crate::model::sweep::KIND) {
            return serde_json::from_value(value)
                .map(|s| Saved::Sweep(Box::new(s)))
                .map_err(|e| format!("not a meshtop sweep result ({e})"));
        }
        serde_json::from_value(value)
            .map(|b| Saved::Bench(Box::new(b)))
            .map_err(|e| format!("not a meshtop bench or sweep result ({e})"))
    }
}

/// One run's figures, as compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Where it comes from: the file's name, and the step and target for a sweep.
    pub name: String,
    pub url: String,
    pub connections: u32,
    pub rate: Option<f64>,
    pub duration_s: f64,
    pub protocol: String,
    pub rps: f64,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Sweep runs only, when a cluster was watched.
    pub proxy_cpu_millis_per_1k_rps: Option<f64>,
    /// Within a sweep: which step and target (to pair two sweeps).
    #[serde(skip)]
    pub key: Option<(String, String)>,
}

/// The runs a saved result holds, named after `file`.
pub fn runs(file: &str, saved: &Saved) -> Vec<Run> {
    match saved {
        Saved::Bench(b) => {
            let ms = |us: u64| us as f64 / 1e3;
            vec![Run {
                name: file.to_string(),
                url: b.url.clone(),
                connections: b.config.connections,
                rate: b.requested_rate,
                duration_s: b.duration_s,
                protocol: b.protocol.clone(),
                rps: b.achieved_rate,
                requests: b.requests,
                errors: b.errors.total(),
                p50_ms: ms(b.latency.p50),
                p90_ms: ms(b.latency.p90),
                p99_ms: ms(b.latency.p99),
                p999_ms: ms(b.latency.p999),
                proxy_cpu_millis_per_1k_rps: None,
                key: None,
            }]
        }
        Saved::Sweep(s) => s
            .steps
            .iter()
            .flat_map(|step| {
                let step_name = step.name(&s.varies);
                step.targets.iter().map(move |t| Run {
                    name: format!("{file} {step_name} {}", t.name),
                    url: t.url.clone(),
                    connections: step.connections.unwrap_or(0),
                    rate: step.rate,
                    // What the runs took (a sweep bounded by -n alone has no set length).
                    duration_s: crate::model::sweep::median(&t.runs.iter().map(|r| r.duration_s).collect::<Vec<_>>())
                        .unwrap_or(s.duration_s),
                    protocol: s.protocol.clone(),
                    rps: t.rps,
                    requests: t.requests,
                    errors: t.errors,
                    p50_ms: t.p50_ms,
                    p90_ms: t.p90_ms,
                    p99_ms: t.p99_ms,
                    p999_ms: t.p999_ms,
                    proxy_cpu_millis_per_1k_rps: t.resources.as_ref().and_then(|r| r.proxy_cpu_millis_per_1k_rps),
                    key: Some((step_name.clone(), t.name.clone())),
                })
            })
            .collect(),
    }
}

/// One run against the one it is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub base: Run,
    pub other: Run,
    /// How the two were not run alike (target, rate, connections, duration, protocol).
    pub differences: Vec<String>,
    /// `B vs A: p99 +3.1 ms (+42%), p50 +0.4 ms (+9%), throughput -8%`.
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub pairs: Vec<Pair>,
    /// Runs of two sweeps that the other sweep has no counterpart for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched: Vec<String>,
}

/// Compares the files' runs: pairwise by step and target for two sweeps, otherwise every
/// run against the first one.
pub fn compare(files: &[(String, Saved)]) -> Result<Comparison, String> {
    let all: Vec<Vec<Run>> = files.iter().map(|(name, saved)| runs(name, saved)).collect();
    if all.iter().any(Vec::is_empty) {
        let (name, _) = files
            .iter()
            .zip(&all)
            .find(|(_, r)| r.is_empty())
            .map(|(f, _)| f)
            .ok_or("no runs")?;
        return Err(format!("{name}: holds no finished run"));
    }
    // Two sweeps: step by step and target by target, where they share any; what only one
    // of them ran is named.
    let (matched, mut unmatched): (Vec<Pair>, Vec<String>) = match (files, all.as_slice()) {
        ([(_, Saved::Sweep(_)), (_, Saved::Sweep(_))], [a, b]) => (
            a.iter()
                .filter_map(|x| b.iter().find(|y| y.key == x.key).map(|y| pair(x, y)))
                .collect(),
            a.iter()
                .filter(|x| !b.iter().any(|y| y.key == x.key))
                .chain(b.iter().filter(|y| !a.iter().any(|x| x.key == y.key)))
                .map(|r| r.name.clone())
                .collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    // Otherwise every run against the first, with what was not run alike named.
    if matched.is_empty() {
        unmatched.clear();
    }
    let pairs = if matched.is_empty() {
        let flat: Vec<&Run> = all.iter().flatten().collect();
        if flat.len() < 2 {
            return Err("one run: give two results or more".into());
        }
        flat[1..].iter().map(|o| pair(flat[0], o)).collect()
    } else {
        matched
    };
    Ok(Comparison {
        schema_version: 1,
        pairs,
        unmatched,
    })
}

fn pair(a: &Run, b: &Run) -> Pair {
    let mut differences = Vec::new();
    if a.url != b.url {
        differences.push(format!("target {} vs {}", b.url, a.url));
    }
    if a.connections != b.connections {
        differences.push(format!("{} vs {} connections", b.connections, a.connections));
    }
    let rate = |r: Option<f64>| {
        r.map_or("closed loop".into(), |r| {
            format!("{} rps", crate::model::sweep::trim_number(r))
        })
    };
    if a.rate != b.rate {
        differences.push(format!("{} vs {}", rate(b.rate), rate(a.rate)));
    }
    if (a.duration_s - b.duration_s).abs() > 0.5 {
        differences.push(format!("{:.0}s vs {:.0}s", b.duration_s, a.duration_s));
    }
    if a.protocol != b.protocol {
        differences.push(format!("{} vs {}", b.protocol, a.protocol));
    }
    Pair {
        base: a.clone(),
        other: b.clone(),
        verdict: verdict(a, b),
        differences,
    }
}

/// `0.074ms` under a millisecond, `2.41ms` above: side by side, 0.07 and 0.074 differ.
pub fn latency(ms: f64) -> String {
    if ms.abs() < 1.0 {
        format!("{ms:.3}ms")
    } else {
        format!("{ms:.2}ms")
    }
}

/// `+3.1 ms (+42%)`, `+0.012 ms` below a tenth; the percentage is left out when the base is 0.
fn delta_ms(a: f64, b: f64) -> String {
    let d = b - a;
    let shown = if d.abs() >= 0.1 {
        format!("{d:+.1}")
    } else {
        format!("{d:+.3}")
    };
    match percent(a, b) {
        Some(p) => format!("{shown} ms ({})", signed_pct(p)),
        None => format!("{shown} ms"),
    }
}

fn percent(a: f64, b: f64) -> Option<f64> {
    (a > 0.0).then(|| (b - a) / a * 100.0)
}

/// `+42%`, `-3%`; a change that rounds to nothing is `±0%` (not `-0%` or `+0%`, which
/// read as a direction).
fn signed_pct(p: f64) -> String {
    if p.abs() < 0.5 {
        "±0%".into()
    } else {
        format!("{p:+.0}%")
    }
}

/// The line to paste: latency, throughput, errors and proxy CPU when both know it.
pub fn verdict(a: &Run, b: &Run) -> String {
    let mut parts = vec![
        format!("p99 {}", delta_ms(a.p99_ms, b.p99_ms)),
        format!("p50 {}", delta_ms(a.p50_ms, b.p50_ms)),
    ];
    match percent(a.rps, b.rps) {
        Some(p) => parts.push(format!("throughput {}", signed_pct(p))),
        None => parts.push(format!("throughput {:.0} vs 0 req/s", b.rps)),
    }
    if a.errors != b.errors {
        parts.push(format!("errors {} vs {}", b.errors, a.errors));
    }
    match (a.proxy_cpu_millis_per_1k_rps, b.proxy_cpu_millis_per_1k_rps) {
        (Some(x), Some(y)) => parts.push(format!("proxy CPU {:+.0}m per 1k RPS", y - x)),
        // Nothing measured on the first: the figure is this run's, not a difference.
        (None, Some(y)) => parts.push(format!("proxy CPU {y:.0}m per 1k RPS ({}: none)", a.name)),
        _ => {}
    }
    format!("{} vs {}: {}", b.name, a.name, parts.join(", "))
}

pub fn render(format: Format, c: &Comparison) -> Result<String, String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(c).map_err(|e| e.to_string())? + "\n",
        Format::Text => text(c, false),
        Format::Md => text(c, true),
    })
}

fn text(c: &Comparison, markdown: bool) -> String {
    let mut out = String::new();
    let mut lines = vec![
        ["RUN", "RPS", "P50", "P90", "P99", "P99.9", "ERRORS", "P99 VS FIRST"]
            .map(String::from)
            .to_vec(),
    ];
    let row = |r: &Run, vs: Option<&Run>| {
        vec![
            r.name.clone(),
            format!("{:.0}", r.rps),
            latency(r.p50_ms),
            latency(r.p90_ms),
            latency(r.p99_ms),
            latency(r.p999_ms),
            r.errors.to_string(),
            vs.map_or("-".into(), |a| delta_ms(a.p99_ms, r.p99_ms)),
        ]
    };
    let mut listed: Vec<&Run> = Vec::new();
    for p in &c.pairs {
        if !listed.contains(&&p.base) {
            lines.push(row(&p.base, None));
            listed.push(&p.base);
        }
        lines.push(row(&p.other, Some(&p.base)));
    }
    let mut differences: Vec<String> = {
        let mut d: Vec<String> = c
            .pairs
            .iter()
            .filter(|p| !p.differences.is_empty())
            .map(|p| format!("{} vs {}: {}", p.other.name, p.base.name, p.differences.join(", ")))
            .collect();
        d.dedup();
        d
    };
    if !c.unmatched.is_empty() {
        differences.push(format!("only in one of the sweeps: {}", c.unmatched.join(", ")));
    }
    if markdown {
        for d in &differences {
            out += &format!("> not run alike: {d}\n");
        }
        if !differences.is_empty() {
            out += "\n";
        }
        out += &format!("| {} |\n|{}\n", lines[0].join(" | "), "---|".repeat(lines[0].len()));
        for l in &lines[1..] {
            out += &format!("| {} |\n", l.join(" | ").replace('\n', " "));
        }
        out += "\n";
        for p in &c.pairs {
            out += &format!("- {}\n", p.verdict);
        }
    } else {
        for d in &differences {
            out += &format!("not run alike: {d}\n");
        }
        if !differences.is_empty() {
            out += "\n";
        }
        out += &crate::text::align(&lines);
        out += "\n";
        for p in &c.pairs {
            out += &format!("{}\n", p.verdict);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, p50: f64, p99: f64, rps: f64) -> Run {
        Run {
            name: name.into(),
            url: "http://a/".into(),
            connections: 50,
            rate: None,
            duration_s: 10.0,
            protocol: "HTTP/1.1".into(),
            rps,
            requests: 1000,
            errors: 0,
            p50_ms: p50,
            p90_ms: p99 / 2.0,
            p99_ms: p99,
            p999_ms: p99 * 2.0,
            proxy_cpu_millis_per_1k_rps: None,
            key: None,
        }
    }

    #[test]
    fn the_verdict_line() {
        let a = run("A", 4.4, 7.4, 1000.0);
        let mut b = run("B", 4.8, 10.5, 920.0);
        assert_eq!(
            verdict(&a, &b),
            "B vs A: p99 +3.1 ms (+42%), p50 +0.4 ms (+9%), throughput -8%"
        );
        b.errors = 3;
        b.proxy_cpu_millis_per_1k_rps = Some(280.0);
        let mut a2 = a.clone();
        a2.proxy_cpu_millis_per_1k_rps = Some(100.0);
        assert_eq!(
            verdict(&a2, &b),
            "B vs A: p99 +3.1 ms (+42%), p50 +0.4 ms (+9%), throughput -8%, errors 3 vs 0, proxy CPU +180m per 1k RPS"
        );
        let zero = run("Z", 0.0, 0.0, 0.0);
        assert_eq!(
            verdict(&zero, &a),
            "A vs Z: p99 +7.4 ms, p50 +4.4 ms, throughput 1000 vs 0 req/s"
        );
        let near = run("N", 0.050, 0.070, 1000.0);
        let nearer = run("M", 0.062, 0.061, 1000.0);
        assert_eq!(
            verdict(&near, &nearer),
            "M vs N: p99 -0.009 ms (-13%), p50 +0.012 ms (+24%), throughput ±0%"
        );
    }

    #[test]
    fn differences_are_named() {
        let a = run("A", 1.0, 2.0, 10.0);
        let mut b = run("B", 1.0, 2.0, 10.0);
        b.url = "http://b/".into();
        b.rate = Some(500.0);
        b.duration_s = 30.0;
        let p = pair(&a, &b);
        assert_eq!(
            p.differences,
            ["target http://b/ vs http://a/", "500 rps vs closed loop", "30s vs 10s"]
        );
    }

    #[test]
    fn what_is_not_a_result_is_named() {
        assert!(Saved::parse("{").unwrap_err().starts_with("not JSON"));
        assert!(
            Saved::parse("{\"a\":1}")
                .unwrap_err()
                .starts_with("not a meshtop bench or sweep result")
        );
        assert!(
            Saved::parse("{\"kind\":\"sweep\"}")
                .unwrap_err()
                .starts_with("not a meshtop sweep result")
        );
    }
}

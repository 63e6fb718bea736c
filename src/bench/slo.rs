//! Service-level objectives checked against a result: `p99<50ms,success>99.9%`.

use crate::model::bench::BenchResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Min,
    Mean,
    P50,
    P75,
    P90,
    P95,
    P99,
    P999,
    P9999,
    Max,
    /// Share of requests answered with a status below 400.
    Success,
    /// Share of requests that failed without a response.
    Errors,
    /// Achieved requests per second.
    Rps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub metric: Metric,
    pub op: Op,
    /// Microseconds for latencies, percent for shares, requests/s for rps.
    pub threshold: f64,
    /// As written, for reports.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slo(pub Vec<Objective>);

/// One objective checked: the load generator's reports list them.
pub use loadgen::report::Verdict;

/// Parses `NAME OP VALUE[,...]`: NAME is min, mean, p50, p75, p90, p95, p99, p99.9,
/// p99.99, max (VALUE with us, ms or s), success or errors (VALUE in % or as a
/// fraction) or rps.
pub fn parse(s: &str) -> Result<Slo, String> {
    let objectives = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_one)
        .collect::<Result<Vec<_>, _>>()?;
    if objectives.is_empty() {
        return Err(format!("no objective in {s:?} (e.g. p99<50ms,success>99.9%)"));
    }
    Ok(Slo(objectives))
}

fn parse_one(text: &str) -> Result<Objective, String> {
    let at = text
        .find(['<', '>'])
        .ok_or_else(|| format!("objective {text:?}: no < or > (e.g. p99<50ms)"))?;
    let (name, rest) = text.split_at(at);
    let (op, value) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', ..] => (Op::Lt, &rest[1..]),
        _ => (Op::Gt, &rest[1..]),
    };
    let metric = match name.trim().to_ascii_lowercase().as_str() {
        "min" => Metric::Min,
        "mean" | "avg" => Metric::Mean,
        "p50" => Metric::P50,
        "p75" => Metric::P75,
        "p90" => Metric::P90,
        "p95" => Metric::P95,
        "p99" => Metric::P99,
        "p99.9" | "p999" => Metric::P999,
        "p99.99" | "p9999" => Metric::P9999,
        "max" => Metric::Max,
        "success" => Metric::Success,
        "errors" | "error" => Metric::Errors,
        "rps" => Metric::Rps,
        other => {
            return Err(format!(
                "objective {text:?}: unknown measure {other:?} (min, mean, p50, p75, p90, p95, p99, p99.9, p99.99, max, \
                 success, errors, rps)"
            ));
        }
    };
    let value = value.trim();
    let number = |v: &str| crate::input::number(v, 0.0).map_err(|e| format!("objective {text:?}: {e}"));
    let threshold = match metric {
        Metric::Success | Metric::Errors => {
            let pct = match value.strip_suffix('%') {
                Some(pct) => number(pct)?,
                None => number(value)? * 100.0,
            };
            if pct > 100.0 {
                return Err(format!(
                    "objective {text:?}: a share is at most 100% (e.g. 99.9% or 0.999)"
                ));
            }
            pct
        }
        Metric::Rps => number(value)?,
        _ => {
            // A latency needs its unit: a bare number would be read as seconds.
            if crate::input::number(value, f64::MIN).is_ok() {
                return Err(format!("objective {text:?}: give a unit (e.g. 800us, 50ms, 2s)"));
            }
            let d = crate::input::duration(value, crate::input::Bounds::OFFSET)
                .map_err(|e| format!("objective {text:?}: {e}"))?;
            d.as_nanos() as f64 / 1000.0
        }
    };
    Ok(Objective {
        metric,
        op,
        threshold,
        text: text.to_string(),
    })
}

pub fn check(slo: &Slo, r: &BenchResult) -> Vec<Verdict> {
    slo.0
        .iter()
        .map(|o| {
            let l = &r.latency;
            // Percent as count*100/total: 999 of 1000 gives exactly the double nearest 99.9,
            // the same as parsing "99.9", so `success>=99.9%` holds at the boundary.
            let percent = |n: u64| {
                if r.requests == 0 {
                    0.0
                } else {
                    (n * 100) as f64 / r.requests as f64
                }
            };
            let (actual, shown) = match o.metric {
                Metric::Success => {
                    let ok: u64 = r.status.iter().filter(|(code, _)| **code < 400).map(|(_, n)| n).sum();
                    (percent(ok), format!("{:.3}%", percent(ok)))
                }
                Metric::Errors => (percent(r.errors.total()), format!("{:.3}%", percent(r.errors.total()))),
                Metric::Rps => (r.achieved_rate, format!("{:.1} rps", r.achieved_rate)),
                m => {
                    let us = match m {
                        Metric::Min => l.min as f64,
                        Metric::Mean => l.mean,
                        Metric::P50 => l.p50 as f64,
                        Metric::P75 => l.p75 as f64,
                        Metric::P90 => l.p90 as f64,
                        Metric::P95 => l.p95 as f64,
                        Metric::P99 => l.p99 as f64,
                        Metric::P999 => l.p999 as f64,
                        Metric::P9999 => l.p9999 as f64,
                        _ => l.max as f64,
                    };
                    (us, format!("{:.3}ms", us / 1e3))
                }
            };
            // A latency objective over no responses cannot be met.
            let measured = l.count > 0 || matches!(o.metric, Metric::Success | Metric::Errors | Metric::Rps);
            let met = measured
                && match o.op {
                    Op::Lt => actual < o.threshold,
                    Op::Le => actual <= o.threshold,
                    Op::Gt => actual > o.threshold,
                    Op::Ge => actual >= o.threshold,
                };
            Verdict {
                objective: o.text.clone(),
                actual: shown,
                met,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objectives() {
        let slo = parse("p99<50ms, success>99.9%,p99.9<=2s,rps>=1000,errors<0.01,mean<800us").unwrap();
        let got: Vec<(Metric, Op, f64)> = slo.0.iter().map(|o| (o.metric, o.op, o.threshold)).collect();
        assert_eq!(
            got,
            [
                (Metric::P99, Op::Lt, 50_000.0),
                (Metric::Success, Op::Gt, 99.9),
                (Metric::P999, Op::Le, 2_000_000.0),
                (Metric::Rps, Op::Ge, 1000.0),
                (Metric::Errors, Op::Lt, 1.0),
                (Metric::Mean, Op::Lt, 800.0),
            ]
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "p99",
            "p99<50",
            "p97<5ms",
            "p99<fastms",
            "success>x%",
            "p99<5x",
            "p99<25h",
            "p99<-1ms",
            "success>1e307",
            "success>150%",
            "errors<2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}

//! Overhead gates for CI: `--max-slowdown 'p99<1.5'` and `--max-added 'p99<5ms'`. A step
//! whose target breaks one makes the sweep exit with status 3, as `bench --slo` does.

use crate::model::sweep::{Quantiles, SweepResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P90,
    P99,
}

impl Quantile {
    fn pick<T: Copy>(self, q: &Quantiles<T>) -> T {
        match self {
            Quantile::P50 => q.p50,
            Quantile::P90 => q.p90,
            Quantile::P99 => q.p99,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P99 => "p99",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A ratio to the baseline.
    Slowdown,
    /// Milliseconds over the baseline.
    Added,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub kind: Kind,
    pub quantile: Quantile,
    /// `<=` rather than `<`.
    pub inclusive: bool,
    /// A ratio, or milliseconds.
    pub limit: f64,
    pub text: String,
}

/// `p99<1.5,p50<=1.2`: limits on the ratio to the baseline.
pub fn parse_slowdown(s: &str) -> Result<Vec<Gate>, String> {
    parse(s, Kind::Slowdown)
}

/// `p99<5ms`: limits on the milliseconds added to the baseline.
pub fn parse_added(s: &str) -> Result<Vec<Gate>, String> {
    parse(s, Kind::Added)
}

fn parse(s: &str, kind: Kind) -> Result<Vec<Gate>, String> {
    let example = match kind {
        Kind::Slowdown => "p99<1.5",
        Kind::Added => "p99<5ms",
    };
    let gates = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| one(p, kind, example))
        .collect::<Result<Vec<_>, _>>()?;
    if gates.is_empty() {
        return Err(format!("no limit in {s:?} (e.g. {example})"));
    }
    Ok(gates)
}

fn one(text: &str, kind: Kind, example: &str) -> Result<Gate, String> {
    let (name, rest) = text
        .split_once('<')
        .ok_or_else(|| format!("{text:?}: no '<' (e.g. {example})"))?;
    let (inclusive, value) = match rest.strip_prefix('=') {
        Some(v) => (true, v.trim()),
        None => (false, rest.trim()),
    };
    let quantile = match name.trim().to_ascii_lowercase().as_str() {
        "p50" => Quantile::P50,
        "p90" => Quantile::P90,
        "p99" => Quantile::P99,
        other => return Err(format!("{text:?}: {other:?} is not p50, p90 or p99")),
    };
    let limit = match kind {
        Kind::Slowdown => {
            let v =
                crate::input::number(value.trim_end_matches(['x', 'X']), 0.0).map_err(|e| format!("{text:?}: {e}"))?;
            if v <= 0.0 {
                return Err(format!(
                    "{text:?}: a ratio limit must be more than 0 (1.0 = as fast as the baseline)"
                ));
            }
            v
        }
        Kind::Added => {
            if crate::input::number(value, f64::MIN).is_ok() {
                return Err(format!("{text:?}: give a unit (e.g. 800us, 5ms)"));
            }
            let d =
                crate::input::duration(value, crate::input::Bounds::TIMEOUT).map_err(|e| format!("{text:?}: {e}"))?;
            d.as_secs_f64() * 1e3
        }
    };
    Ok(Gate {
        kind,
        quantile,
        inclusive,
        limit,
        text: text.to_string(),
    })
}

/// Every break of a gate, naming the step and target; the baseline is not gated against
/// itself. A figure that could not be computed breaks the gate (it was not shown to hold).
pub fn check(gates: &[Gate], result: &SweepResult) -> Vec<String> {
    let mut missed = Vec::new();
    for step in &result.steps {
        let step_name = step.name(&result.varies);
        for t in step.targets.iter().filter(|t| t.name != result.baseline) {
            for g in gates {
                let (value, what) = match g.kind {
                    Kind::Slowdown => (g.quantile.pick(&t.slowdown), "slowdown"),
                    Kind::Added => (g.quantile.pick(&t.added_ms), "added"),
                };
                let shown = |v: f64| match g.kind {
                    Kind::Slowdown => format!("{v:.2}x"),
                    Kind::Added => format!("{v:+.2}ms"),
                };
                match value {
                    Some(v) if (g.inclusive && v <= g.limit) || (!g.inclusive && v < g.limit) => {}
                    Some(v) => missed.push(format!(
                        "{step_name}, {}: {} {what} {} (limit {})",
                        t.name,
                        g.quantile.name(),
                        shown(v),
                        g.text
                    )),
                    None => missed.push(format!(
                        "{step_name}, {}: {} {what} could not be computed ({}) (limit {})",
                        t.name,
                        g.quantile.name(),
                        t.note.as_deref().unwrap_or("no figure"),
                        g.text
                    )),
                }
            }
        }
    }
    missed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits() {
        let g = parse_slowdown("p99<1.5, p50<=1.2x").unwrap();
        assert_eq!((g[0].quantile, g[0].inclusive, g[0].limit), (Quantile::P99, false, 1.5));
        assert_eq!((g[1].quantile, g[1].inclusive, g[1].limit), (Quantile::P50, true, 1.2));
        let a = parse_added("p99<5ms,p90<=800us").unwrap();
        assert_eq!((a[0].limit, a[1].limit, a[1].inclusive), (5.0, 0.8, true));
        for bad in ["", "p99", "p97<1.5", "p99<0", "p99<-1", "p99<x", "p99>1.5"] {
            assert!(parse_slowdown(bad).is_err(), "{bad}");
        }
        for bad in ["p99<5", "p99<-5ms", "p99<2h", "p99<fast"] {
            assert!(parse_added(bad).is_err(), "{bad}");
        }
    }
}

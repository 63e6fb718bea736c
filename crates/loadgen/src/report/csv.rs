//! The per-second time series, one row per second of measured time.

use std::fmt::Write;

use crate::types::BenchResult;

pub fn render(result: &BenchResult) -> String {
    let mut out = String::from("second,requests,errors,rps,p50_ms,p99_ms,max_ms\n");
    for s in &result.series {
        let _ = writeln!(
            out,
            "{},{},{},{:.1},{:.3},{:.3},{:.3}",
            s.second,
            s.requests,
            s.errors,
            s.rps,
            s.p50_us as f64 / 1e3,
            s.p99_us as f64 / 1e3,
            s.max_us as f64 / 1e3
        );
    }
    out
}

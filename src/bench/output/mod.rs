//! Reports of a finished run, one module per format.

pub mod csv;
pub mod fortio;
pub mod json;
pub mod smp;
pub mod text;

use color_eyre::eyre::Result;

use super::slo::Verdict;
use crate::model::bench::BenchResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable summary.
    Text,
    /// meshtop's own result (what is saved in the results directory).
    Json,
    /// Service Mesh Performance PerformanceTestResult.
    Smp,
    /// fortio-compatible result JSON (as Meshery stores it).
    Fortio,
    /// Per-second time series.
    Csv,
}

pub fn render(format: Format, result: &BenchResult, verdicts: &[Verdict]) -> Result<String> {
    Ok(match format {
        Format::Text => text::render(result, verdicts),
        Format::Json => json::render(result)?,
        Format::Smp => smp::render(result)?,
        Format::Fortio => fortio::render(result)?,
        Format::Csv => csv::render(result),
    })
}

/// RFC 3339 UTC time with milliseconds, from Unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `10s`, `1m30s`, `250ms`: how fortio and SMP write durations.
pub fn go_duration(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as u64;
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_650_983_800_358), "2022-04-26T14:36:40.358Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(go_duration(10.0), "10s");
        assert_eq!(go_duration(90.0), "1m30s");
        assert_eq!(go_duration(120.0), "2m");
        assert_eq!(go_duration(0.25), "250ms");
        assert_eq!(go_duration(3600.0), "1h0m0s");
    }
}

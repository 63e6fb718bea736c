//! Reports of a finished run, one module per format: a human-readable summary ([`text`]),
//! Service Mesh Performance results ([`smp`]), fortio's result JSON ([`fortio`]) and the
//! per-second series ([`csv`]). They render the engine's own [`BenchResult`]; what the
//! engine cannot know (the cluster it ran against, the mesh in the path, how the load was
//! sent, objectives checked) comes in a [`Context`].

pub mod csv;
pub mod fortio;
pub mod smp;
pub mod text;

/// The load generator's name in SMP and fortio results.
pub const GENERATOR: &str = "meshtop";

/// What a report says beyond the run itself. `Context::default()` reports the run alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The version of the program that ran the load (fortio's `Version`).
    pub version: String,
    /// The cluster the run measured, when known (SMP's `EnvironmentConfig`).
    pub environment: Option<Environment>,
    /// The mesh in the request path, when known (SMP's `ServiceMesh`).
    pub mesh: Option<Mesh>,
    /// Lines the text report prints under its header, as they are (say how or where the
    /// load was sent: agents, shares missing from the figures).
    pub notes: Vec<String>,
    /// Objectives checked against the run, listed at the end of the text report.
    pub verdicts: Vec<Verdict>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Environment {
    pub kubernetes_version: Option<String>,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub cores: Option<u32>,
    pub mem_mb: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    /// The mesh's short name (`istio`, `linkerd`, ...); see [`smp::mesh_type`].
    pub name: String,
    pub version: Option<String>,
}

/// One objective and whether the run met it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub objective: String,
    /// The measured value, formatted in the objective's unit.
    pub actual: String,
    pub met: bool,
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

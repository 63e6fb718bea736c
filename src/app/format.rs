//! How figures are written, everywhere: tables, panels, headless output. One place, so a
//! latency or a memory size reads the same in the TUI and in `meshtop top`.

use crate::model::UnixMillis;

/// Kubernetes-style age: `42s`, `5m`, `3h`, `12d`.
pub fn age(now: UnixMillis, then: Option<UnixMillis>) -> String {
    let Some(then) = then else {
        return "unknown".into();
    };
    let s = ((now - then) / 1000).max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Bytes as whole MiB (`64Mi`), or KiB below 1 MiB.
pub fn mib(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{}Mi", (bytes as f64 / 1_048_576.0).round() as u64)
    } else {
        format!("{}Ki", bytes / 1024)
    }
}

/// A latency: `0.42ms` under 1 ms, `12ms`, `1.5s` from a second.
pub fn millis(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// A time of day in UTC with milliseconds, `21:26:18.409` (tap events).
pub fn clock(at: UnixMillis) -> String {
    let ms = at.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A byte count: `135B`, `4.2Ki`, `12Mi`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n}B"),
        1024..1_048_576 => format!("{:.1}Ki", n as f64 / 1024.0),
        _ => mib(n),
    }
}

/// Bytes per second, under a `/s` header: `0`, `512B`, `4.2Ki`, `12Mi`; below one byte a
/// second (a trickle over a long window) `<1B`, so a quiet connection does not read as none.
pub fn byte_rate(bps: f64) -> String {
    if !bps.is_finite() || bps <= 0.0 {
        "0".into()
    } else if bps < 1.0 {
        "<1B".into()
    } else {
        bytes(bps.round() as u64)
    }
}

/// A single request's latency, finer than [`millis`] below 100 ms: `3.62ms`, `41.5ms`, `180ms`.
/// Whole milliseconds (Envoy's access logs count in them) stay whole, and Envoy's 0 is `<1ms`.
pub fn fine_millis(ms: f64) -> String {
    if ms == 0.0 {
        "<1ms".into()
    } else if ms.fract() == 0.0 && ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 100.0 {
        format!("{ms:.1}ms")
    } else {
        millis(ms)
    }
}

/// A share as a percentage with two decimals, `99.50%`; `-` when unknown.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0))
}

/// A latency in milliseconds, or `-` when unknown.
pub fn opt_millis(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), millis)
}

/// CPU in millicores, `250m`; a process that used some CPU, but at most half a millicore
/// (which `{:.0}` rounds to 0, ties to even), is `<1m`, not `0m` (which would say none).
pub fn millicores(v: f64) -> String {
    if v > 0.0 && v <= 0.5 {
        return "<1m".into();
    }
    format!("{v:.0}m")
}

/// A share (0..1) as a whole percentage that never rounds to a claim it cannot make: a
/// sliver is `<1%`, not `0%`; nearly all is `>99%`, not `100%`.
pub fn share(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let pct = (v * 100.0).round();
    match v {
        v if v > 0.0 && pct == 0.0 => "<1%".into(),
        v if v < 1.0 && pct == 100.0 => ">99%".into(),
        _ => format!("{pct:.0}%"),
    }
}

pub use crate::text::{fit, plural};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(age(100_000, Some(58_000)), "42s");
        assert_eq!(age(1_000_000, Some(700_000)), "5m");
        assert_eq!(age(20_000_000, Some(0)), "5h");
        assert_eq!(age(400_000_000, Some(0)), "4d");
        assert_eq!(age(0, Some(5_000)), "0s");
        assert_eq!(age(0, None), "unknown");
    }

    #[test]
    fn cpu() {
        assert_eq!(millicores(250.4), "250m");
        assert_eq!(millicores(0.6), "1m");
        assert_eq!(millicores(0.2), "<1m");
        assert_eq!(millicores(0.5), "<1m");
        assert_eq!(millicores(0.0), "0m");
    }

    #[test]
    fn shares() {
        assert_eq!(share(0.0), "0%");
        assert_eq!(share(0.004), "<1%");
        assert_eq!(share(0.005), "1%");
        assert_eq!(share(f64::NAN), "-");
        assert_eq!(share(0.57), "57%");
        assert_eq!(share(0.996), ">99%");
        assert_eq!(share(1.0), "100%");
    }

    #[test]
    fn latencies() {
        assert_eq!(millis(0.4249), "0.42ms");
        assert_eq!(millis(12.4), "12ms");
        assert_eq!(millis(1500.0), "1.5s");
    }

    #[test]
    fn plurals_and_shares() {
        assert_eq!(plural(1, "namespace"), "1 namespace");
        assert_eq!(plural(9, "namespace"), "9 namespaces");
        assert_eq!(plural(2, "node proxy"), "2 node proxies");
        assert_eq!(plural(2, "gateway"), "2 gateways");
        assert_eq!(pct(Some(0.995)), "99.50%");
        assert_eq!(pct(None), "-");
    }

    #[test]
    fn fits() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}

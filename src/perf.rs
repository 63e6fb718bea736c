//! Frame and fold timings of the live loop, for benchmarks: with `MESHTOP_FRAME_STATS=FILE`
//! set, the TUI writes them as JSON to FILE when it exits (`bench/cluster-scale.sh` reads
//! it). Off otherwise: nothing is timed.

use std::path::PathBuf;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use hdrhistogram::Histogram;

pub const ENV: &str = "MESHTOP_FRAME_STATS";

/// Build+draw time of each frame and fold time of each batch, in microseconds.
pub struct FrameStats {
    out: PathBuf,
    draw: Histogram<u64>,
    fold: Histogram<u64>,
}

impl FrameStats {
    /// Some when the environment asks for the figures.
    pub fn from_env() -> Option<FrameStats> {
        let out = std::env::var_os(ENV).filter(|v| !v.is_empty())?;
        // 1 µs to 60 s, 3 significant figures: a few tens of KB.
        let h = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        Some(FrameStats {
            out: out.into(),
            draw: h(),
            fold: h(),
        })
    }

    pub fn drew(&mut self, took: Duration) {
        self.draw.saturating_record(micros(took));
    }

    pub fn folded(&mut self, took: Duration) {
        self.fold.saturating_record(micros(took));
    }

    /// Writes `{"frames": n, "draw_us": {...}, "folds": n, "fold_us": {...}}`.
    pub fn write(&self) -> Result<()> {
        let json = serde_json::json!({
            "frames": self.draw.len(),
            "draw_us": summary(&self.draw),
            "folds": self.fold.len(),
            "fold_us": summary(&self.fold),
        });
        std::fs::write(&self.out, format!("{json}\n"))
            .wrap_err_with(|| format!("writing {} ({ENV})", self.out.display()))
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn summary(h: &Histogram<u64>) -> serde_json::Value {
    if h.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::json!({
        "p50": h.value_at_quantile(0.5),
        "p99": h.value_at_quantile(0.99),
        "max": h.max(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_quantiles_in_microseconds() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("frames.json");
        let mut s = FrameStats {
            out: out.clone(),
            draw: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            fold: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
        };
        for ms in 1..=100 {
            s.drew(Duration::from_millis(ms));
        }
        s.folded(Duration::from_nanos(10));
        s.write().unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
        assert_eq!(v["frames"], 100);
        assert_eq!(v["draw_us"]["p50"], 50_015);
        assert_eq!(v["draw_us"]["p99"], 99_007);
        assert_eq!(v["folds"], 1);
        assert_eq!(v["fold_us"]["max"], 1);
    }
}

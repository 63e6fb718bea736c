//! Frame and fold timings of the live loop, for benchmarks: with `MESHTOP_FRAME_STATS=FILE`
//! set, the TUI writes them as JSON to FILE when it exits (`bench/cluster-scale.sh` reads
//! it). Off otherwise: nothing is timed.
//!
//! A frame's wall time on a busy 2-core machine is mostly waiting for the CPU (the API
//! server, etcd and the load run beside meshtop) or for the terminal emulator to read, so
//! each frame is split: the thread's own CPU time, the time spent writing to the terminal,
//! and the bytes written.

use std::path::PathBuf;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use hdrhistogram::Histogram;

pub const ENV: &str = "MESHTOP_FRAME_STATS";

/// What one drawn frame cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct Frame {
    /// Wall time of build + diff + write.
    pub wall: Duration,
    /// CPU time of the drawing thread over the same span.
    pub cpu: Duration,
    /// Wall time inside writes to the terminal.
    pub io: Duration,
    pub bytes: u64,
}

/// Histograms (microseconds; bytes) of every frame and fold batch.
pub struct FrameStats {
    out: PathBuf,
    wall: Histogram<u64>,
    cpu: Histogram<u64>,
    io: Histogram<u64>,
    bytes: Histogram<u64>,
    fold: Histogram<u64>,
    /// The costliest frames by CPU, with what they drew: a p99 says how slow, these say why.
    slowest: Vec<(u64, String)>,
}

/// How many of the costliest frames are kept.
const SLOWEST: usize = 12;

impl FrameStats {
    /// Some when the environment asks for the figures.
    pub fn from_env() -> Option<FrameStats> {
        let out = std::env::var_os(ENV).filter(|v| !v.is_empty())?;
        Some(FrameStats::new(out.into()))
    }

    fn new(out: PathBuf) -> FrameStats {
        // 1 µs to 60 s (1 B to 60 MB), 3 significant figures: a few tens of KB each.
        let h = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        FrameStats {
            out,
            wall: h(),
            cpu: h(),
            io: h(),
            bytes: h(),
            fold: h(),
            slowest: Vec::with_capacity(SLOWEST + 1),
        }
    }

    /// Notes a frame; `what` describes it (the view, what changed), asked for only when the
    /// frame is among the costliest so far.
    pub fn drew(&mut self, f: Frame, what: impl FnOnce() -> String) {
        self.wall.saturating_record(micros(f.wall));
        self.cpu.saturating_record(micros(f.cpu));
        self.io.saturating_record(micros(f.io));
        self.bytes.saturating_record(f.bytes.max(1));
        let cpu = micros(f.cpu);
        if self.slowest.len() < SLOWEST || self.slowest.last().is_some_and(|&(c, _)| cpu > c) {
            let at = self.slowest.partition_point(|&(c, _)| c >= cpu);
            self.slowest.insert(at, (cpu, what()));
            self.slowest.truncate(SLOWEST);
        }
    }

    pub fn folded(&mut self, took: Duration) {
        self.fold.saturating_record(micros(took));
    }

    /// Writes `{"frames": n, "draw_us": {p50, p99, max}, "draw_cpu_us": …, "write_us": …,
    /// "bytes": …, "folds": n, "fold_us": …, "slowest": [{"cpu_us", "frame"}]}`.
    pub fn write(&self) -> Result<()> {
        let json = serde_json::json!({
            "frames": self.wall.len(),
            "draw_us": summary(&self.wall),
            "draw_cpu_us": summary(&self.cpu),
            "write_us": summary(&self.io),
            "bytes": summary(&self.bytes),
            "folds": self.fold.len(),
            "fold_us": summary(&self.fold),
            "slowest": self.slowest.iter().map(|(cpu, what)| serde_json::json!({"cpu_us": cpu, "frame": what})).collect::<Vec<_>>(),
        });
        std::fs::write(&self.out, format!("{json}\n"))
            .wrap_err_with(|| format!("writing {} ({ENV})", self.out.display()))
    }
}

/// CPU time the calling thread has used so far (zero where the clock is unavailable).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
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
        let mut s = FrameStats::new(out.clone());
        for ms in 1..=100 {
            s.drew(
                Frame {
                    wall: Duration::from_millis(ms),
                    cpu: Duration::from_millis(ms / 2),
                    io: Duration::ZERO,
                    bytes: 1000,
                },
                || format!("frame {ms}"),
            );
        }
        s.folded(Duration::from_nanos(10));
        s.write().unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
        assert_eq!(v["frames"], 100);
        assert_eq!(v["draw_us"]["p50"], 50_015);
        assert_eq!(v["draw_us"]["p99"], 99_007);
        assert_eq!(v["draw_cpu_us"]["max"], 50_015);
        // A frame that wrote nothing still counts (as 1 µs, 1 byte), never as a gap.
        assert_eq!(v["write_us"]["max"], 1);
        assert_eq!(v["bytes"]["p50"], 1000);
        // The costliest first; ties keep the earlier frame.
        let slowest: Vec<(u64, &str)> = v["slowest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["cpu_us"].as_u64().unwrap(), f["frame"].as_str().unwrap()))
            .collect();
        assert_eq!(slowest.len(), 12);
        assert_eq!(slowest[0], (50_000, "frame 100"));
        assert_eq!(slowest[1], (49_000, "frame 98"));
        assert_eq!(slowest[11], (44_000, "frame 88"));
        assert_eq!(v["folds"], 1);
        assert_eq!(v["fold_us"]["max"], 1);
    }

    /// A frame is described only when it enters the costliest (describing one is not free).
    #[test]
    fn only_the_costliest_frames_are_described() {
        let mut s = FrameStats::new("unused".into());
        let mut asked = Vec::new();
        let frame = |ms| Frame {
            cpu: Duration::from_millis(ms),
            ..Frame::default()
        };
        for ms in [5, 9, 1, 7, 3, 8, 2, 6, 4, 10, 11, 12, 1, 0, 13, 2, 12] {
            s.drew(frame(ms), || {
                asked.push(ms);
                String::new()
            });
        }
        // Full after twelve; then what costs no more than the cheapest kept is not described.
        assert_eq!(asked, [5, 9, 1, 7, 3, 8, 2, 6, 4, 10, 11, 12, 13, 12]);
        let kept: Vec<u64> = s.slowest.iter().map(|&(c, _)| c / 1000).collect();
        assert_eq!(kept, [13, 12, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
    }

    #[test]
    fn thread_cpu_advances_with_work() {
        let a = thread_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() > a);
    }
}

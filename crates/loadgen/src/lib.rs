//! meshtop's load generator, as a library of its own: the `meshtop bench` CLI, sweeps, the
//! TUI's benchmark panel and in-cluster agents all run it.
//!
//! - [`config`]: what to run ([`BenchConfig`]), checked before anything is sent, and the
//!   default worker threads.
//! - [`engine`]: [`engine::start`] a run, watch its [`BenchProgress`], cancel it, and get
//!   its [`BenchResult`].
//! - [`schedule`]: open-loop send times and coordinated-omission correction (pure).
//! - [`worker`], [`conn`], [`h1`], [`timer`], [`stats`]: the per-thread hot path, and on
//!   Linux `quiet`: open-loop connections whose responses do not wake the thread.
//! - [`report`]: a finished run as text, SMP, fortio JSON or per-second CSV.
//! - [`shard`]: the framed, versioned stream of a run's interval histograms and counters,
//!   and the exact merge of any number of them.
//! - [`types`]: what the engine reports. These are its own types: a program that records or
//!   stores runs (meshtop does) converts them into its own versioned ones at its edge, so
//!   the engine can change without changing those files.
//!
//! Nothing here knows about Kubernetes, terminals or command lines.

pub mod config;
pub mod conn;
pub mod engine;
pub mod h1;
#[cfg(target_os = "linux")]
pub mod quiet;
pub mod report;
pub mod schedule;
pub mod shard;
pub mod split;
pub mod stats;
pub mod timer;
pub mod types;
pub mod worker;

pub use config::BenchConfig;
pub use engine::{BenchRun, Canceller, start};
pub use types::{BenchProgress, BenchResult, BenchSpec, Phase};

/// Milliseconds since the Unix epoch (wall clock).
pub type UnixMillis = i64;

pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A duration as people write it: `250ms`, `1.5s`, `90s` is `1m30s`, `2h`.
pub fn human(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// The text a panic was raised with (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&7u8), "a panic without a message");
    }
}

//! The load generator behind `meshtop bench`, sweeps and the TUI's benchmark panel: the
//! `meshtop-loadgen` crate ([`loadgen`]), and meshtop's edge around it.
//!
//! - [`config`]: the engine's configuration, ramps as typed, and the spec as meshtop keeps
//!   it (redacted).
//! - [`engine`]: runs through the engine, reporting in meshtop's versioned wire types
//!   ([`crate::model::bench`]), converted in [`convert`].
//! - [`tap`]: a run's sampled requests as tap events.
//! - [`output`], [`slo`], [`store`]: reports, objectives and saved results.
//!
//! The engine's own modules are re-exported under their names, so `bench::shard` or
//! `bench::schedule` mean the crate's.

pub mod config;
pub mod convert;
pub mod engine;
pub mod output;
pub mod slo;
pub mod store;
pub mod tap;

pub use loadgen::{conn, h1, schedule, shard, stats, timer, worker};

pub use crate::model::bench::{BenchProgress, BenchResult, BenchSpec, Phase};
pub use config::BenchConfig;
pub use engine::{BenchRun, Canceller, start};

//! The load generator behind `meshtop bench` and the TUI's benchmark panel.
//!
//! - [`config`]: what to run ([`BenchConfig`]), checked before anything is sent.
//! - [`engine`]: [`engine::start`] a run, watch its [`BenchProgress`], cancel it, and
//!   get its [`BenchResult`].
//! - [`schedule`]: open-loop send times and coordinated-omission correction (pure).
//! - [`worker`], [`conn`], [`h1`], [`timer`], [`stats`]: the per-thread hot path.
//! - [`output`], [`slo`], [`store`]: reports, objectives and saved results.
//!
//! It reports in the wire types of [`crate::model::bench`], converted from its own state
//! (`stats`) at its edge.

pub mod config;
pub mod conn;
pub mod engine;
pub mod h1;
pub mod output;
pub mod schedule;
pub mod shard;
pub mod slo;
pub mod stats;
pub mod store;
pub mod timer;
pub mod worker;

pub use crate::model::bench::{BenchProgress, BenchResult, BenchSpec, Phase};
pub use config::BenchConfig;
pub use engine::{BenchRun, Canceller, start};

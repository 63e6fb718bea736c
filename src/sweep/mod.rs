//! Sweeps: the overhead question, answered. Every target (a baseline and the meshed
//! routes to compare with it) runs at each step (a number of connections or a rate),
//! interleaved so that drift hits all targets alike, repeated, and the result is the
//! slowdown table of [`crate::model::sweep`].
//!
//! - [`plan`]: what to run, from flags or an experiment file, checked before anything is sent.
//! - [`gate`]: overhead gates for CI (`--max-slowdown`, `--max-added`).
//! - [`run`]: runs a plan with the load generator.
//! - [`output`]: the table as text, Markdown, CSV or JSON.

pub mod gate;
pub mod output;
pub mod plan;
pub mod run;

pub use plan::{SweepPlan, Target, Varies};

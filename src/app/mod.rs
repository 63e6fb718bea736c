//! The application core: updates in, state out. Nothing here does I/O.
//!
//! - `update`: what sources emit; `fold`: how the world takes it; `figures`: what is
//!   derived from the world (rates, aggregates, cost) and when it is recomputed.
//! - `state`: the world plus UI state; `actions`, `keymap`: what keys do.
//! - `table`: the column registry of every table; `format`: how figures are written.
//! - `snapshot`: a state written back as updates (recordings started mid-session).
//! - `bench`, `sweep`, `compare`: benchmark runs, sweeps built from them, and comparisons.

pub mod action;
pub mod actions;
pub mod bench;
pub mod compare;
pub mod figures;
pub mod fold;
pub mod format;
pub mod keymap;
pub mod snapshot;
pub mod state;
pub mod sweep;
pub mod table;
pub mod tap;
pub mod traffic;
pub mod update;

pub use action::{Action, Effect, ReplayCommand};
pub use actions::apply_action;
pub use fold::{fold, fold_all};
pub use keymap::{KeyBinding, Keymap};
pub use state::{Mode, State, View};
pub use update::{Stamped, Update};

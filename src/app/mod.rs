//! The application core: updates in, state out. Nothing here does I/O.

pub mod action;
pub mod bench;
pub mod fold;
pub mod keymap;
pub mod query;
pub mod state;
pub mod traffic;
pub mod update;

pub use action::{Action, Effect, ReplayCommand};
pub use fold::{apply_action, fold};
pub use keymap::{KeyBinding, Keymap};
pub use state::{State, View};
pub use update::{Stamped, Update};

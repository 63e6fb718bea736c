//! meshtop: a terminal UI that shows what a service mesh costs while it runs.
//!
//! Data flows one way: sources → [`app::Update`] → fold into [`app::State`] → view.
//! The library exposes every layer so tests can drive the fold with updates and
//! render to a `TestBackend` without a cluster.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod discover;
pub mod mesh;
pub mod metrics;
pub mod model;
pub mod record;
pub mod record_cmd;
pub mod replay;
pub mod run;
pub mod source;
pub mod term;
pub mod top;
pub mod ui;

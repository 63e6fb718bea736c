//! meshtop: a terminal UI that shows what a service mesh costs while it runs.
//!
//! Data flows one way: sources → [`app::Update`] → fold into [`app::State`] → view.
//! The library exposes every layer so tests can drive the fold with updates and
//! render to a `TestBackend` without a cluster.
//!
//! Layers, lowest first: `model`, `input`, `redact`, `text` ← `mesh`, `metrics` ← `tap` ← `bench`,
//! `source`, `record` ← `sweep`, `compare`, `report` ← `app` ← `ui` ← `run`, `cmd`, `cli`. Nothing imports a layer above it, with one
//! exception: `source` and `record` speak `app::Update` (with `Stamped`), the one type
//! through which everything reaches the fold.

// In the library, so the binary, benchmarks and tests all run on the allocator that ships
// (Cargo.toml says why). Not under cargo-fuzz, whose sanitizers watch the system malloc.
#[cfg(all(target_os = "linux", not(fuzzing)))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod agents;
pub mod app;
pub mod bench;
pub mod cli;
pub mod cmd;
pub mod compare;
pub mod config;
pub mod exit;
pub mod files;
pub mod input;
pub mod log;
pub mod mesh;
pub mod metrics;
pub mod model;
pub mod perf;
pub mod record;
pub mod redact;
pub mod report;
pub mod run;
pub mod source;
pub mod sweep;
pub mod tap;
pub mod term;
pub mod text;
pub mod ui;

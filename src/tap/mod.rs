//! Tap: individual requests from Linkerd's tap API, Envoy access logs and meshtop's own
//! load, parsed, filtered after the fact and summarised. Pure: the sources that fetch
//! frames and log lines live in `source::tap`; the TUI's buffer lives in `app::tap`.
//!
//! - `accesslog`: Envoy access-log lines (Istio TEXT and JSON, Envoy's default).
//! - `linkerd`: the tap API's messages, frames, and the join of a request's events.
//! - `filter`: post-filters (status, latency, ...), for the CLI and the TUI.
//! - `summary`: the top-style aggregate with normalised paths and bounded groups.
//! - `hints`: how to turn access logs on, per mesh.

pub mod accesslog;
pub mod filter;
pub mod hints;
pub mod linkerd;
pub mod summary;

pub use filter::{StatusMatch, TapFilter};
pub use summary::{Grouping, Summary};

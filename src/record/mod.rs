//! Recordings: the session's update stream written down with its context, read back for
//! replay, and exported as a screen cast for sharing.
//!
//! - [`Recorder`] tees updates to a file: redacted ([`crate::redact`]), as NDJSON lines in
//!   zstd frames flushed every second ([`format`]), after a versioned [`Header`].
//! - [`Recording`] reads one back, keeping whatever is whole and saying what was not;
//!   [`Chunked`] indexes one and decodes it a frame at a time, for replay and export.
//! - [`Player`] schedules replay against a monotonic clock; [`Keyframes`] rebuild state when
//!   it seeks backwards.
//! - [`cast`] writes rendered frames as an asciicast v2 file.

pub mod background;
pub mod cast;
pub mod chunked;
pub mod format;
pub mod header;
pub mod reader;
pub mod replay;
pub mod writer;

pub use background::{Background, Closing};
pub use chunked::Chunked;
pub use header::{FORMAT_NAME, FORMAT_VERSION, FormatVersion, Header, HeaderError};
pub use reader::{MarkerAt, ReadError, ReadProblem, Recording};
pub use replay::{Keyframes, Player};
pub use writer::{FlushPolicy, RecordStats, Recorder};

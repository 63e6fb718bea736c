//! Exit codes and how failures are told, the same for every command:
//! 0 success; 1 a failure at run time; 2 bad usage or bad input; 3 an objective missed.
//! A user's mistake prints one line (what, which value or file, a hint); color-eyre's
//! location and backtrace sections are kept for `RUST_BACKTRACE=1` and for panics.

use std::fmt;
use std::process::ExitCode;

use color_eyre::eyre::Report;

pub const FAILURE: u8 = 1;
pub const BAD_INPUT: u8 = 2;
pub const OBJECTIVE_MISSED: u8 = 3;
/// `meshtop agent` stopped by SIGTERM or an interrupt before its share was done.
pub const CANCELLED: u8 = 4;

/// A run stopped on request before its end (`meshtop agent`'s exit status 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled(pub String);

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cancelled {}

/// Bad usage or input: a flag's value, a file that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A run that finished but missed an objective (`--slo`); each entry says which and by how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectiveMissed(pub Vec<String>);

impl fmt::Display for ObjectiveMissed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl std::error::Error for ObjectiveMissed {}

/// A report of bad input, to be returned with `?` from anything a user typed or named.
pub fn bad_input(message: impl Into<String>) -> Report {
    Report::new(BadInput(message.into()))
}

/// The exit code a failure maps to: the first classified error in its chain decides.
pub fn code(e: &Report) -> u8 {
    for cause in e.chain() {
        if cause.is::<BadInput>() {
            return BAD_INPUT;
        }
        if cause.is::<ObjectiveMissed>() {
            return OBJECTIVE_MISSED;
        }
        if cause.is::<Cancelled>() {
            return CANCELLED;
        }
    }
    FAILURE
}

/// The one line printed for a failure: the context chain, outermost first.
pub fn one_line(e: &Report) -> String {
    let text = crate::source::errors::report_text(e);
    match code(e) {
        OBJECTIVE_MISSED => format!("objective missed: {text}"),
        _ => text,
    }
}

/// Tells the failure on stderr and gives the process its exit code. The text goes through
/// the one redaction policy: an error may quote a URL or a header as typed.
pub fn report(e: &Report) -> ExitCode {
    let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let line = crate::redact::scrub(&one_line(e));
    if verbose {
        eprintln!("{}", crate::redact::scrub(&format!("Error: {e:?}")));
    } else {
        eprintln!("meshtop: {line}");
    }
    tracing::error!(code = code(e), "{line}");
    ExitCode::from(code(e))
}

/// The text a panic was raised with (the load generator's workers report theirs too).
pub use loadgen::panic_message;

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::{WrapErr, eyre};

    #[test]
    fn codes_follow_the_first_classified_cause() {
        assert_eq!(code(&eyre!("connection refused")), FAILURE);
        let wrapped = Err::<(), _>(bad_input("--theme \"x\": no such theme"))
            .wrap_err("loading the theme")
            .unwrap_err();
        assert_eq!(code(&wrapped), BAD_INPUT);
        assert_eq!(one_line(&wrapped), "loading the theme: --theme \"x\": no such theme");
        let missed = Report::new(ObjectiveMissed(vec!["p99<1ms (measured 2.000ms)".into()]));
        assert_eq!(code(&missed), OBJECTIVE_MISSED);
        assert_eq!(one_line(&missed), "objective missed: p99<1ms (measured 2.000ms)");
    }
}

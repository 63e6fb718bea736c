//! `meshtop metrics parse FILE [FILE2]`: reads the dumps, reports, prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::Result;

use crate::exit::bad_input;
use crate::metrics::exposition;
use crate::metrics::report::{self, MeshArg};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// A dump's text; malformed lines are reported on stderr (the rest still counts).
fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        bad_input(format!(
            "{}: not a text file (expected a Prometheus exposition)",
            path.display()
        ))
    })?;
    let e = exposition::parse(&text);
    if !e.errors.is_empty() {
        // Bad lines are skipped, not fatal: say which, so the user can judge the numbers.
        let first: Vec<String> = e.errors.iter().take(5).map(ToString::to_string).collect();
        eprintln!(
            "meshtop: {}: skipped {} malformed line(s): {}",
            path.display(),
            e.bad_lines,
            first.join("; ")
        );
    }
    if e.truncated {
        return Err(bad_input(format!(
            "{}: more than {} samples (a cardinality bomb?); not read past them",
            path.display(),
            exposition::MAX_SAMPLES
        )));
    }
    Ok(text)
}

pub fn run(files: &[PathBuf], interval: Duration, mesh: MeshArg, format: Format) -> Result<()> {
    let first = read(&files[0])?;
    let second = files.get(1).map(|p| read(p)).transpose()?;
    let r = report::report(&first, second.as_deref(), interval, mesh).map_err(|e| bad_input(format!("{e:#}")))?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        Format::Table => print!("{}", report::table(&r)),
    }
    Ok(())
}

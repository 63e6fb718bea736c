//! `meshtop merge SHARD...`: one exact result from the shards of a distributed run.

use color_eyre::eyre::Result;

use crate::bench::{output, shard};
use crate::cli::MergeArgs;
use crate::exit::bad_input;

/// A shard of a long run at many frames a second stays well under this.
const MAX_SHARD: u64 = 1 << 30;

pub fn run(args: &MergeArgs) -> Result<()> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let read = crate::config::read_user_file(path, "shard", MAX_SHARD)
            .map_err(|e| format!("{e}"))
            .and_then(|text| shard::read(&text).map_err(|e| format!("{name}: {e}")));
        match read {
            Ok(s) => good.push((name, s)),
            Err(e) => bad.push(e),
        }
    }
    if good.is_empty() {
        return Err(bad_input(bad.join("\n")));
    }
    let merged = shard::merge(&good).map_err(bad_input)?;
    for note in &merged.notes {
        eprintln!("meshtop: {note}");
    }
    let result = merged.result.into();
    let report = output::render(args.output, &result, &[])?;
    super::write_report(args.out.as_deref(), &report)?;
    if bad.is_empty() {
        return Ok(());
    }
    // The others merged and were reported; the ones left out are named, and the exit
    // status says the result is short of them.
    Err(bad_input(format!(
        "{} of {} shards left out of the merge:\n{}",
        bad.len(),
        args.files.len(),
        bad.join("\n")
    )))
}

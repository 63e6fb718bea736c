//! `meshtop report FILE... --svg OUT.svg`: a picture of saved results.

use color_eyre::eyre::{Result, WrapErr};

use crate::cli::ReportArgs;
use crate::compare::Saved;
use crate::exit::bad_input;

/// A saved result is a few MB at most.
const MAX_RESULT: u64 = 64 << 20;

pub fn run(args: &ReportArgs) -> Result<()> {
    let mut loaded = Vec::new();
    for path in &args.files {
        let text = crate::config::read_user_file(path, "result file", MAX_RESULT)?;
        let saved = Saved::parse(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
            .unwrap_or_else(|| path.display().to_string());
        loaded.push((name, saved));
    }
    let svg = crate::report::svg(&loaded).map_err(bad_input)?;
    std::fs::write(&args.svg, svg).wrap_err_with(|| format!("writing {}", args.svg.display()))?;
    eprintln!("wrote {}", args.svg.display());
    Ok(())
}

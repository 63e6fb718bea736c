//! `meshtop compare A.json B.json [...]` and `meshtop compare --last 2`.

use std::path::PathBuf;

use color_eyre::eyre::Result;

use crate::bench::store;
use crate::cli::CompareArgs;
use crate::compare::{self, Saved};
use crate::exit::bad_input;

/// A saved result is a few MB at most (per-second rows of a day-long run).
const MAX_RESULT: u64 = 64 << 20;

pub fn run(args: &CompareArgs) -> Result<()> {
    let files: Vec<PathBuf> = match args.last {
        Some(n) => {
            let dir = match &args.results_dir {
                Some(d) => d.clone(),
                None => store::default_dir()?,
            };
            let all = store::list(&dir)?;
            if all.len() < n as usize {
                return Err(bad_input(format!(
                    "--last {n}: {} holds {} saved result(s)",
                    dir.display(),
                    all.len()
                )));
            }
            all[all.len() - n as usize..].to_vec()
        }
        None => args.files.clone(),
    };
    if files.len() < 2 {
        return Err(bad_input("give two result files or more, or --last 2"));
    }
    let mut loaded = Vec::new();
    for path in &files {
        let text = crate::config::read_user_file(path, "result file", MAX_RESULT)?;
        let saved = Saved::parse(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        loaded.push((short_name(path), saved));
    }
    let comparison = compare::compare(&loaded).map_err(bad_input)?;
    let report = compare::render(args.output, &comparison).map_err(|e| color_eyre::eyre::eyre!(e))?;
    super::write_report(None, &report)
}

/// The file's name without `.json`: what the tables and the verdict call the run.
fn short_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
        .unwrap_or_else(|| path.display().to_string())
}

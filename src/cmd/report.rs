//! `meshtop report FILE... --svg OUT.svg --png OUT.png`: a picture of saved results.

use color_eyre::eyre::Result;

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
    if args.svg.is_none() && args.png.is_none() {
        return Err(bad_input("say where to draw: --svg OUT.svg, --png OUT.png, or both"));
    }
    let svg = crate::report::svg(&loaded).map_err(bad_input)?;
    // Both are made before either is written: a PNG that cannot be drawn writes nothing.
    // A PNG that cannot be drawn (no font on this system) is not bad input.
    let png = args
        .png
        .as_ref()
        .map(|_| crate::report::png(&svg))
        .transpose()
        .map_err(|e| color_eyre::eyre::eyre!(e))?;
    if let Some(path) = &args.svg {
        crate::files::write(path, &svg)?;
        eprintln!("wrote {}", path.display());
    }
    if let (Some(path), Some(png)) = (&args.png, png) {
        crate::files::write(path, png)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

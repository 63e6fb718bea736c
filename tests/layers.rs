//! The layers point one way. These are the checks a newcomer would run with grep:
//! `metrics/`, `mesh/` and `model/` never reach up into `app/`; `app/`, `source/` and
//! `bench/` never into `ui/`; nothing below the commands imports `cli`; the pure layers do
//! no file I/O and print nothing; the views touch neither sources nor the engine.

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir), &mut out);
    assert!(!out.is_empty(), "src/{dir} has sources");
    out
}

/// Lines of `dirs` that contain any of `needles`, outside `#[cfg(test)]` modules.
fn offending(dirs: &[&str], needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for dir in dirs {
        for f in files(dir) {
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                // `crate::app::x`, and grouped imports such as `use crate::{app, ui};`.
                let grouped = line.split_once("crate::{").map(|(_, rest)| {
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .map(|t| format!("crate::{t}"))
                        .collect::<Vec<_>>()
                });
                let hit = needles.iter().any(|n| {
                    line.contains(n)
                        || grouped
                            .as_ref()
                            .is_some_and(|g| g.iter().any(|t| t == n.trim_end_matches("::")))
                });
                if hit {
                    hits.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    hits
}

#[test]
fn lower_layers_do_not_import_upper_ones() {
    assert_eq!(
        offending(&["metrics", "mesh", "model"], &["crate::app"]),
        Vec::<String>::new()
    );
    assert_eq!(
        offending(&["app", "source", "bench"], &["crate::ui"]),
        Vec::<String>::new()
    );
    assert_eq!(
        offending(&["app", "bench", "metrics"], &["crate::cli"]),
        Vec::<String>::new()
    );
    assert_eq!(
        offending(
            &[
                "app", "bench", "metrics", "mesh", "model", "source", "record", "ui", "sweep", "compare", "report"
            ],
            &["crate::cmd", "crate::cli"]
        ),
        Vec::<String>::new()
    );
    // Sweeps and comparisons sit beside the load generator: no TUI, no app state.
    assert_eq!(
        offending(
            &["sweep", "compare", "report"],
            &["crate::app", "crate::ui", "crate::run"]
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        offending(&["ui"], &["crate::source", "crate::bench"]),
        Vec::<String>::new()
    );
}

#[test]
fn pure_layers_do_no_io_and_print_nothing() {
    assert_eq!(
        offending(
            &["app", "metrics", "mesh", "model", "compare", "report", "ui"],
            &["std::fs", "println!", "eprintln!", "std::io::stdout"]
        ),
        Vec::<String>::new()
    );
}

//! Results on disk: one JSON file per run, named by time and label.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::output::{json, rfc3339};
use crate::model::bench::BenchResult;

/// `$XDG_DATA_HOME/meshtop/results` (usually `~/.local/share/meshtop/results`).
pub fn default_dir() -> Result<PathBuf> {
    dirs::data_dir()
        .map(|d| d.join("meshtop").join("results"))
        .ok_or_else(|| eyre!("no data directory (set XDG_DATA_HOME or HOME), or pass --results-dir"))
}

/// `2026-11-24T22-31-05Z_label.json`: sorts by time, safe on every file system.
pub fn file_name(result: &BenchResult) -> String {
    name_for(result.started_at, result.label.as_deref().unwrap_or("bench"))
}

/// The file name for anything saved at `started_at` under `label`.
pub fn name_for(started_at: i64, label: &str) -> String {
    let time: String = rfc3339(started_at)
        .chars()
        .take(19)
        .map(|c| if c == ':' { '-' } else { c })
        .collect();
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    format!("{time}Z_{label}.json")
}

/// Writes the result into `dir` (created if needed) without replacing another run's file.
pub fn save(dir: &Path, result: &BenchResult) -> Result<PathBuf> {
    save_text(dir, &file_name(result), &json::render(result)?)
}

/// Writes `text` as `name` into `dir` (created if needed, 0700; the default directory made
/// 0700 if it was not), mode 0600; `-2`, `-3`... when taken, never replacing a file.
pub fn save_text(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    use std::io::Write;
    if default_dir().is_ok_and(|d| d == dir) {
        crate::files::own_dir(dir)?;
    } else {
        crate::files::private_dir(dir)?;
    }
    let stem = name.trim_end_matches(".json");
    for i in 1..10_000 {
        let path = if i == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{i}.json"))
        };
        match crate::files::create_new(&path) {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .wrap_err_with(|| format!("writing {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).wrap_err_with(|| format!("writing {}", path.display())),
        }
    }
    Err(eyre!("{}: 9,999 results named {name} already", dir.display()))
}

pub fn load(path: &Path) -> Result<BenchResult> {
    let text = std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).wrap_err_with(|| format!("{} is not a meshtop bench result", path.display()))
}

/// Saved results in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).wrap_err_with(|| format!("listing {}", dir.display())),
    };
    // By name (time first), and by modification time among names of the same second, so
    // `x-2.json` (saved after `x.json`) comes after it.
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut keyed: Vec<(String, Option<std::time::SystemTime>, PathBuf)> = files
        .into_iter()
        .map(|p| {
            let second: String = p
                .file_name()
                .map(|n| n.to_string_lossy().chars().take(20).collect())
                .unwrap_or_default();
            (second, modified(&p), p)
        })
        .collect();
    keyed.sort();
    Ok(keyed.into_iter().map(|(_, _, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_the_same_second_list_in_the_order_saved() {
        let dir = tempfile::tempdir().unwrap();
        let first = save_text(dir.path(), "2026-11-30T04-00-00Z_run.json", "{}").unwrap();
        let second = save_text(dir.path(), "2026-11-30T04-00-00Z_run.json", "{}").unwrap();
        assert!(second.ends_with("2026-11-30T04-00-00Z_run-2.json"));
        let earlier = save_text(dir.path(), "2026-11-30T03-59-59Z_zzz.json", "{}").unwrap();
        assert_eq!(list(dir.path()).unwrap(), [earlier, first, second]);
    }
}

//! The user's config file: theme, frame cap and key remapping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, eyre};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Theme name or path, overridden by `--theme`.
    pub theme: Option<String>,
    /// Upper bound on redraws per second.
    pub max_fps: u32,
    /// Action name → keys, e.g. `quit = ["q", "ctrl-c"]`.
    pub keys: BTreeMap<String, Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            theme: None,
            max_fps: 30,
            keys: BTreeMap::new(),
        }
    }
}

pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("meshtop").join("config.toml"))
}

impl Config {
    /// Loads `explicit` (which must exist) or the default path (which may be absent).
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| crate::exit::bad_input(format!("reading config file {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| crate::exit::bad_input(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| eyre!("{}", toml_error(text, &e)))?;
        if !(1..=240).contains(&c.max_fps) {
            return Err(eyre!("max_fps must be between 1 and 240, got {}", c.max_fps));
        }
        Ok(c)
    }
}

/// A TOML error on one line: `line 3: unknown field ...` (the crate's own message spans
/// several lines with a drawing of the input).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text.get(..span.start).map_or(1, |t| t.matches('\n').count() + 1);
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_rejects_unknown_fields() {
        let c = Config::parse("max_fps = 20\n[keys]\nquit = [\"x\"]\n").unwrap();
        assert_eq!(c.max_fps, 20);
        assert_eq!(c.keys["quit"], vec!["x".to_string()]);
        let e = Config::parse("colour = 1\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `colour`"), "{e}");
        assert!(e.contains("line 1"), "{e}");
        assert_eq!(
            Config::parse("max_fps = 0").unwrap_err().to_string(),
            "max_fps must be between 1 and 240, got 0"
        );
    }
}

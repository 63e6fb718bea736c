//! The user's config file: theme, frame cap, key remapping, scrape budget, writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, eyre};
use serde::Deserialize;

use crate::ui::theme::Theme;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Theme name or path, overridden by `--theme`.
    pub theme: Option<String>,
    /// Upper bound on redraws per second.
    pub max_fps: u32,
    /// Action name → keys, e.g. `quit = ["q", "ctrl-c"]`.
    pub keys: BTreeMap<String, Vec<String>>,
    /// Proxies scraped per interval before falling back to Prometheus or pacing
    /// (`--scrape-budget` wins).
    pub scrape_budget: Option<u32>,
    /// As `--allow-writes`: features that create or change cluster objects may ask to.
    pub allow_writes: bool,
    /// The namespaces to read when neither `-n` nor `-A` is given (as `-n a,b`): for users
    /// whose Roles grant only these.
    pub namespaces: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            theme: None,
            max_fps: 30,
            keys: BTreeMap::new(),
            scrape_budget: None,
            allow_writes: false,
            namespaces: Vec::new(),
        }
    }
}

/// Reads a file the user named, as text, refusing what is too big for its kind (a
/// `--theme /dev/zero` must not eat the memory): errors name the file and are bad input.
pub fn read_user_file(path: &Path, what: &str, max: u64) -> Result<String> {
    let bytes = read_user_bytes(path, what, max)?;
    String::from_utf8(bytes).map_err(|_| crate::exit::bad_input(format!("{what} {}: not a text file", path.display())))
}

/// The same for files of any content (a request body).
pub fn read_user_bytes(path: &Path, what: &str, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let bad = |e: String| crate::exit::bad_input(format!("{what} {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(bad(format!("larger than {} KiB; is it the right file?", max / 1024)));
    }
    Ok(bytes)
}

/// `--theme NAME|PATH`: a built-in name, or a path to a (possibly partial) TOML file.
pub fn load_theme(spec: &str) -> Result<Theme> {
    if crate::ui::theme::BUILTIN.iter().any(|(n, _)| *n == spec) {
        return Theme::builtin(spec);
    }
    let path = Path::new(spec);
    if !path.exists() && !spec.contains('/') && !spec.ends_with(".toml") {
        return Err(crate::exit::bad_input(format!(
            "unknown theme {spec:?}: not a built-in (dark, light, presentation) and no such file"
        )));
    }
    let text = read_user_file(path, "theme file", 1 << 20)?;
    Theme::parse_user(&text, &path.display().to_string()).map_err(|e| crate::exit::bad_input(format!("{e:#}")))
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
        let text = read_user_file(&path, "config file", 1 << 20)?;
        Config::parse(&text).map_err(|e| crate::exit::bad_input(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Config> {
        let mut c: Config = toml::from_str(text).map_err(|e| eyre!("{}", crate::input::toml_error(text, &e)))?;
        if !(1..=240).contains(&c.max_fps) {
            return Err(eyre!("max_fps must be between 1 and 240, got {}", c.max_fps));
        }
        if let Some(b) = c.scrape_budget
            && !(1..=1_000_000).contains(&b)
        {
            return Err(eyre!("scrape_budget must be between 1 and 1000000, got {b}"));
        }
        if let Some(ns) = c.namespaces.iter().find(|ns| !crate::input::is_namespace_name(ns)) {
            return Err(eyre!(
                "namespaces: {ns:?} is not a namespace name (lowercase letters, digits and '-', at most 63)"
            ));
        }
        // Each once, in the order given: two watches of one namespace would prune each other.
        let mut seen = std::collections::BTreeSet::new();
        c.namespaces.retain(|ns| seen.insert(ns.clone()));
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_files_are_read_with_a_limit_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(&p, "base = \"light\"\n").unwrap();
        assert_eq!(load_theme(p.to_str().unwrap()).unwrap().name, "mine");
        assert_eq!(
            load_theme("nosuch").unwrap_err().to_string(),
            "unknown theme \"nosuch\": not a built-in (dark, light, presentation) and no such file"
        );
        std::fs::write(&p, vec![b'#'; 2 << 20]).unwrap();
        assert_eq!(
            load_theme(p.to_str().unwrap()).unwrap_err().to_string(),
            format!(
                "theme file {}: larger than 1024 KiB; is it the right file?",
                p.display()
            )
        );
        assert_eq!(
            crate::exit::code(&load_theme(p.to_str().unwrap()).unwrap_err()),
            crate::exit::BAD_INPUT
        );
    }

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
        assert_eq!(Config::parse("scrape_budget = 250").unwrap().scrape_budget, Some(250));
        assert_eq!(
            Config::parse("scrape_budget = 0").unwrap_err().to_string(),
            "scrape_budget must be between 1 and 1000000, got 0"
        );
        assert!(Config::parse("scrape_budget = -1").is_err());
        assert!(!Config::parse("").unwrap().allow_writes);
        assert!(Config::parse("allow_writes = true").unwrap().allow_writes);
        assert!(Config::parse("allow_writes = \"yes\"").is_err());
        assert_eq!(
            Config::parse("namespaces = [\"shop\", \"web\", \"shop\"]")
                .unwrap()
                .namespaces,
            ["shop", "web"]
        );
        assert_eq!(
            Config::parse("namespaces = [\"shop\", \"Web/x\"]")
                .unwrap_err()
                .to_string(),
            "namespaces: \"Web/x\" is not a namespace name (lowercase letters, digits and '-', at most 63)"
        );
    }
}

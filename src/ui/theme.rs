//! Colour themes from TOML. Built-ins are embedded so the binary works anywhere; a user
//! file may set only the keys it changes on top of a base (`base = "light"`, default dark).

use std::path::Path;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use ratatui::style::Color;

macro_rules! theme_keys {
    ($($section:literal . $key:literal => $field:ident),* $(,)?) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(pub $field: Color,)*
        }

        impl Theme {
            /// Every `[section] key` a theme file may set.
            pub const KEYS: &'static [(&'static str, &'static str)] = &[$(($section, $key)),*];

            fn slot(&mut self, section: &str, key: &str) -> Option<&mut Color> {
                match (section, key) {
                    $(($section, $key) => Some(&mut self.$field),)*
                    _ => None,
                }
            }

            fn blank(name: &str) -> Self {
                Theme { name: name.to_string(), $($field: Color::Reset,)* }
            }
        }
    };
}

theme_keys! {
    "body"."fg" => fg,
    "body"."bg" => bg,
    "body"."dim" => dim,
    "body"."accent" => accent,
    "frame"."border" => border,
    "frame"."title" => title,
    "frame"."crumb_fg" => crumb_fg,
    "frame"."crumb_bg" => crumb_bg,
    "table"."header_fg" => header_fg,
    "table"."header_bg" => header_bg,
    "table"."selected_fg" => selected_fg,
    "table"."selected_bg" => selected_bg,
    "status"."fg" => status_fg,
    "status"."bg" => status_bg,
    "status"."ok" => ok,
    "status"."warn" => warn,
    "status"."error" => error,
    "help"."key" => help_key,
}

/// Built-in themes, in the order `T` cycles through them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("presentation", include_str!("../../themes/presentation.toml")),
];

impl Theme {
    /// A built-in theme by name. Built-ins must set every key (a unit test checks).
    pub fn builtin(name: &str) -> Result<Theme> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| eyre!("no built-in theme named {name:?} (built-ins: dark, light, presentation)"))?;
        Theme::parse(text, &format!("built-in theme {name}"), Some(Theme::blank(name)))
    }

    pub fn all_builtin() -> Vec<Theme> {
        BUILTIN
            .iter()
            .map(|(n, _)| Theme::builtin(n).expect("built-in themes parse"))
            .collect()
    }

    /// `--theme NAME|PATH`: a built-in name, or a path to a (possibly partial) TOML file.
    pub fn load(spec: &str) -> Result<Theme> {
        if BUILTIN.iter().any(|(n, _)| *n == spec) {
            return Theme::builtin(spec);
        }
        let path = Path::new(spec);
        if !path.exists() && !spec.contains('/') && !spec.ends_with(".toml") {
            bail!("unknown theme {spec:?}: not a built-in (dark, light, presentation) and no such file");
        }
        let text = std::fs::read_to_string(path).wrap_err_with(|| format!("reading theme file {}", path.display()))?;
        Theme::parse(&text, &path.display().to_string(), None)
    }

    /// Parses theme TOML. With `base` = None the file's `base` key (default "dark") is
    /// the starting point and keys it omits keep the base's colours.
    fn parse(text: &str, origin: &str, base: Option<Theme>) -> Result<Theme> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| eyre!("{origin}: {e}"))?;
        let strict = base.is_some();
        let mut theme = match base {
            Some(b) => b,
            None => {
                let base_name = match doc.get("base") {
                    None => "dark",
                    Some(toml::Value::String(s)) => s.as_str(),
                    Some(other) => bail!("{origin}: base: expected a theme name string, got {}", other.type_str()),
                };
                let mut t = Theme::builtin(base_name).map_err(|e| eyre!("{origin}: base: {e}"))?;
                t.name = Path::new(origin)
                    .file_stem()
                    .map_or_else(|| origin.to_string(), |s| s.to_string_lossy().into_owned());
                t
            }
        };
        let mut set = 0usize;
        for (section, value) in &doc {
            match (section.as_str(), value) {
                ("base" | "name", _) => {
                    if section == "name"
                        && let toml::Value::String(n) = value
                    {
                        theme.name = n.clone();
                    }
                }
                (_, toml::Value::Table(keys)) => {
                    for (key, v) in keys {
                        let slot = theme.slot(section, key).ok_or_else(|| {
                            eyre!("{origin}: [{section}] {key}: unknown key (known: {})", known_keys())
                        })?;
                        let s = v.as_str().ok_or_else(|| {
                            eyre!(
                                "{origin}: [{section}] {key}: expected a colour string, got {}",
                                v.type_str()
                            )
                        })?;
                        *slot = parse_color(s).map_err(|e| eyre!("{origin}: [{section}] {key}: {e}"))?;
                        set += 1;
                    }
                }
                _ => bail!("{origin}: {section}: unknown top-level key (expected base, name or a [section])"),
            }
        }
        if strict && set != Theme::KEYS.len() {
            let missing: Vec<String> = Theme::KEYS
                .iter()
                .filter(|(s, k)| doc.get(*s).and_then(|t| t.get(*k)).is_none())
                .map(|(s, k)| format!("[{s}] {k}"))
                .collect();
            bail!(
                "{origin}: a built-in theme must set every key; missing {}",
                missing.join(", ")
            );
        }
        Ok(theme)
    }
}

fn known_keys() -> String {
    Theme::KEYS
        .iter()
        .map(|(s, k)| format!("{s}.{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Colour names as ratatui spells them, `#rrggbb`, a 0-255 palette index, or `reset`
/// (the terminal's own colour, which keeps transparent backgrounds transparent).
pub fn parse_color(s: &str) -> Result<Color> {
    if let Ok(i) = s.parse::<u8>() {
        return Ok(Color::Indexed(i));
    }
    s.parse::<Color>()
        .map_err(|_| eyre!("invalid colour {s:?} (use a name like \"blue\", \"#rrggbb\", \"reset\" or 0-255)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_complete_and_distinct() {
        let all = Theme::all_builtin();
        assert_eq!(
            all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["dark", "light", "presentation"]
        );
        assert_ne!(all[0], all[1]);
        assert_ne!(all[0], all[2]);
    }

    #[test]
    fn partial_user_theme_overrides_only_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(&p, "base = \"light\"\n[table]\nselected_bg = \"#102030\"\n").unwrap();
        let t = Theme::load(p.to_str().unwrap()).unwrap();
        let light = Theme::builtin("light").unwrap();
        assert_eq!(t.selected_bg, Color::Rgb(0x10, 0x20, 0x30));
        assert_eq!(t.name, "mine");
        assert_eq!(
            Theme {
                selected_bg: light.selected_bg,
                name: "light".into(),
                ..t
            },
            light
        );
    }

    #[test]
    fn bad_theme_errors_name_the_key_or_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        let o = p.display().to_string();
        std::fs::write(&p, "[table]\nselected_bg = \"blu\"\n").unwrap();
        assert_eq!(
            Theme::load(&o).unwrap_err().to_string(),
            format!(
                "{o}: [table] selected_bg: invalid colour \"blu\" (use a name like \"blue\", \"#rrggbb\", \"reset\" or 0-255)"
            )
        );
        std::fs::write(&p, "[tabel]\nfg = \"red\"\n").unwrap();
        assert!(
            Theme::load(&o)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("{o}: [tabel] fg: unknown key"))
        );
        std::fs::write(&p, "[table]\nfg = \n").unwrap();
        let e = Theme::load(&o).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert_eq!(
            Theme::load("nosuch").unwrap_err().to_string(),
            "unknown theme \"nosuch\": not a built-in (dark, light, presentation) and no such file"
        );
    }
}

//! Colour themes from TOML. Built-ins are embedded so the binary works anywhere; a user
//! file may set only the keys it changes on top of a base (`base = "light"`, default dark).

use std::path::Path;

use color_eyre::eyre::{Result, bail, eyre};
use ratatui::style::{Color, Modifier, Style};

use crate::app::table::Tone;

macro_rules! theme_keys {
    ($($section:literal . $key:literal => $field:ident),* $(,)?) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(pub $field: Color,)*
            /// No colours at all (NO_COLOR): selection, headers and charts use reverse
            /// video, bold and glyphs instead.
            pub mono: bool,
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
                Theme { name: name.to_string(), $($field: Color::Reset,)* mono: false }
            }

            /// The same theme within what the terminal can show.
            pub fn for_colors(mut self, colors: Colors) -> Theme {
                $(self.$field = colors.fit(self.$field);)*
                self.mono = colors == Colors::None;
                self
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

/// What the terminal can show, from the environment as terminals and users set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colors {
    /// `NO_COLOR` is set (https://no-color.org): no colours at all.
    None,
    /// The 16 ANSI colours (a plain `xterm`, the Linux console).
    Ansi16,
    /// The 256-colour palette (`TERM=*-256color`).
    Indexed,
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    True,
}

/// The xterm values of the 16 ANSI colours, to find the nearest one.
const ANSI: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

impl Colors {
    /// `NO_COLOR` (any non-empty value) wins; then `COLORTERM`, then `TERM`.
    pub fn detect(no_color: Option<&str>, colorterm: Option<&str>, term: Option<&str>) -> Colors {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return Colors::None;
        }
        if colorterm.is_some_and(|c| matches!(c, "truecolor" | "24bit")) {
            return Colors::True;
        }
        if term.is_some_and(|t| t.contains("256color") || t.contains("direct")) {
            return Colors::Indexed;
        }
        Colors::Ansi16
    }

    /// The nearest colour this terminal shows (the terminal's own colour is always fine).
    pub fn fit(self, c: Color) -> Color {
        match (self, c) {
            (_, Color::Reset) | (Colors::True, _) => c,
            (Colors::None, _) => Color::Reset,
            (Colors::Indexed, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256(r, g, b)),
            (Colors::Indexed, _) => c,
            (Colors::Ansi16, Color::Rgb(r, g, b)) => nearest_16((r, g, b)),
            (Colors::Ansi16, Color::Indexed(i)) if i >= 16 => nearest_16(rgb_of_256(i)),
            (Colors::Ansi16, Color::Indexed(i)) => ANSI[i as usize].0,
            (Colors::Ansi16, _) => c,
        }
    }
}

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs().pow(2);
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)
}

fn nearest_16(rgb: (u8, u8, u8)) -> Color {
    ANSI.iter()
        .min_by_key(|(_, v)| distance(*v, rgb))
        .map_or(Color::Reset, |(c, _)| *c)
}

/// The RGB value of a palette index 16-255 (the 6x6x6 cube, then 24 greys).
fn rgb_of_256(i: u8) -> (u8, u8, u8) {
    if i >= 232 {
        let v = 8 + (i - 232) * 10;
        return (v, v, v);
    }
    let i = i - 16;
    let level = |n: u8| if n == 0 { 0 } else { 55 + n * 40 };
    (level(i / 36), level(i / 6 % 6), level(i % 6))
}

fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    (16..=255u8)
        .min_by_key(|i| distance(rgb_of_256(*i), (r, g, b)))
        .unwrap_or(16)
}

impl Theme {
    /// The header row of tables.
    pub fn header(&self) -> Style {
        let s = Style::default().add_modifier(Modifier::BOLD);
        if self.mono {
            s.add_modifier(Modifier::UNDERLINED)
        } else {
            s.fg(self.header_fg).bg(self.header_bg)
        }
    }

    /// The selected row: reverse video when there are no colours.
    pub fn selected(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().fg(self.selected_fg).bg(self.selected_bg)
        }
    }

    /// A row that draws attention; the text in it says why as well.
    pub fn tone(&self, t: Tone) -> Style {
        match (t, self.mono) {
            (Tone::Good, false) => Style::default().fg(self.ok),
            (Tone::Good, true) => Style::default(),
            (Tone::Warn, false) => Style::default().fg(self.warn),
            (Tone::Error, false) => Style::default().fg(self.error),
            (Tone::Dim, false) => Style::default().fg(self.dim),
            (Tone::Warn | Tone::Error, true) => Style::default().add_modifier(Modifier::BOLD),
            (Tone::Dim, true) => Style::default().add_modifier(Modifier::DIM),
        }
    }
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

    /// A user's theme file, already read: `origin` names it in errors.
    pub fn parse_user(text: &str, origin: &str) -> Result<Theme> {
        Theme::parse(text, origin, None)
    }

    /// Parses theme TOML. With `base` = None the file's `base` key (default "dark") is
    /// the starting point and keys it omits keep the base's colours.
    fn parse(text: &str, origin: &str, base: Option<Theme>) -> Result<Theme> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| eyre!("{origin}: {}", crate::input::toml_error(text, &e)))?;
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
    fn colours_follow_the_terminal() {
        assert_eq!(
            Colors::detect(Some("1"), Some("truecolor"), Some("xterm-256color")),
            Colors::None
        );
        assert_eq!(Colors::detect(Some(""), Some("truecolor"), None), Colors::True);
        assert_eq!(Colors::detect(None, None, Some("xterm-256color")), Colors::Indexed);
        assert_eq!(Colors::detect(None, None, Some("linux")), Colors::Ansi16);
        assert_eq!(Colors::Ansi16.fit(Color::Rgb(250, 10, 10)), Color::LightRed);
        assert_eq!(Colors::Ansi16.fit(Color::Indexed(196)), Color::LightRed);
        assert_eq!(Colors::Ansi16.fit(Color::Indexed(1)), Color::Red);
        assert_eq!(Colors::Indexed.fit(Color::Rgb(255, 0, 0)), Color::Indexed(196));
        assert_eq!(Colors::None.fit(Color::Blue), Color::Reset);
        for t in Theme::all_builtin() {
            let mono = t.clone().for_colors(Colors::None);
            assert!(mono.mono);
            assert_eq!(mono.selected(), Style::default().add_modifier(Modifier::REVERSED));
            let ansi = t.for_colors(Colors::Ansi16);
            for (section, key) in Theme::KEYS {
                let c = *ansi.clone().slot(section, key).unwrap();
                assert!(
                    !matches!(c, Color::Rgb(..)) && !matches!(c, Color::Indexed(i) if i >= 16),
                    "{}: [{section}] {key} = {c:?} is not one of the 16 colours",
                    ansi.name
                );
            }
        }
    }

    #[test]
    fn partial_user_theme_overrides_only_its_keys() {
        let t = Theme::parse_user("base = \"light\"\n[table]\nselected_bg = \"#102030\"\n", "mine.toml").unwrap();
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
        let o = "bad.toml";
        assert_eq!(
            Theme::parse_user("[table]\nselected_bg = \"blu\"\n", o)
                .unwrap_err()
                .to_string(),
            format!(
                "{o}: [table] selected_bg: invalid colour \"blu\" (use a name like \"blue\", \"#rrggbb\", \"reset\" or 0-255)"
            )
        );
        assert!(
            Theme::parse_user("[tabel]\nfg = \"red\"\n", o)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("{o}: [tabel] fg: unknown key"))
        );
        let e = Theme::parse_user("[table]\nfg = \n", o).unwrap_err().to_string();
        assert!(e.starts_with("bad.toml: line 2: "), "{e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }
}

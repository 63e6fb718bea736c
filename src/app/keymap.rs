//! The one key registry. Every binding carries its label and help group, so the help
//! screen is generated from the same table that dispatches keys and can never drift.

use std::collections::BTreeMap;
use std::fmt;

use color_eyre::eyre::{Result, bail, eyre};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;
use super::state::Mode;

/// A key with modifiers, parsed from and printed as strings like `ctrl-c`, `G`, `pgdn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl KeyCombo {
    pub const fn plain(code: KeyCode) -> Self {
        KeyCombo {
            code,
            ctrl: false,
            alt: false,
        }
    }
    pub const fn ch(c: char) -> Self {
        Self::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Self {
        KeyCombo {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
        }
    }

    /// Normalises a terminal key event. Shift is folded into the character itself
    /// (`G`, `?`), because terminals disagree on whether they report it.
    pub fn from_event(ev: &KeyEvent) -> Self {
        KeyCombo {
            code: ev.code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().expect("checked above"))
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().expect("one char")),
            _ => bail!("unknown key {s:?} (expected e.g. \"q\", \"ctrl-c\", \"pgdn\", \"f1\")"),
        };
        Ok(KeyCombo { code, ctrl, alt })
    }
}

impl fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyBinding {
    pub action: Action,
    pub keys: Vec<KeyCombo>,
    pub label: &'static str,
    pub group: &'static str,
}

/// Action name as written in the config file, e.g. `toggle-help`.
pub fn action_name(action: &Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<KeyBinding>,
}

impl Default for Keymap {
    fn default() -> Self {
        use KeyCode::*;
        let b = |action, keys: &[KeyCombo], label, group| KeyBinding {
            action,
            keys: keys.to_vec(),
            label,
            group,
        };
        let k = KeyCombo::plain;
        let c = KeyCombo::ch;
        Keymap {
            bindings: vec![
                b(Action::Quit, &[c('q'), KeyCombo::ctrl('c')], "quit", "general"),
                b(Action::ToggleHelp, &[c('?')], "help", "general"),
                b(Action::StartCommand, &[c(':')], "command (:pods, :ns, :ctx)", "general"),
                b(
                    Action::StartFilter,
                    &[c('/')],
                    "filter (text or field=value)",
                    "general",
                ),
                b(Action::Back, &[k(Esc)], "back / clear filter", "general"),
                b(Action::NextTheme, &[c('T')], "next theme", "general"),
                b(Action::Select, &[k(Enter)], "open / drill down", "views"),
                b(Action::ShowOverview, &[c('1')], "meshes overview", "views"),
                b(Action::ShowControlPlanes, &[c('2')], "control planes", "views"),
                b(Action::ShowNamespaces, &[c('3')], "namespaces", "views"),
                b(Action::ShowPods, &[c('4')], "pods", "views"),
                b(Action::ShowWorkloads, &[c('5')], "workloads", "views"),
                b(Action::ShowEdges, &[c('6')], "edges (source → destination)", "views"),
                b(Action::NextWindow, &[c('w')], "rate window 30s / 1m / 5m", "views"),
                b(Action::ShowBench, &[c('7')], "benchmark runs", "bench"),
                b(
                    Action::NewBench,
                    &[c('b')],
                    "benchmark the selected pod / workload / service",
                    "bench",
                ),
                b(Action::StopBench, &[c('x')], "stop the running benchmark", "bench"),
                b(
                    Action::ToggleRecording,
                    &[c('R')],
                    "record the session to a file (again: stop)",
                    "record / replay",
                ),
                b(
                    Action::AddMarker,
                    &[c('m')],
                    "add a marker (:mark NAME names it)",
                    "record / replay",
                ),
                b(
                    Action::ReplayPause,
                    &[c(' ')],
                    "replay: pause / play",
                    "record / replay",
                ),
                b(
                    Action::ReplaySlower,
                    &[c('-')],
                    "replay: slower (0.5x..8x)",
                    "record / replay",
                ),
                b(Action::ReplayFaster, &[c('+')], "replay: faster", "record / replay"),
                b(Action::ReplayBack, &[k(Left)], "replay: back 10 s", "record / replay"),
                b(
                    Action::ReplayForward,
                    &[k(Right)],
                    "replay: forward 10 s",
                    "record / replay",
                ),
                b(
                    Action::ReplayPreviousMarker,
                    &[c('[')],
                    "replay: previous marker",
                    "record / replay",
                ),
                b(
                    Action::ReplayNextMarker,
                    &[c(']')],
                    "replay: next marker",
                    "record / replay",
                ),
                b(
                    Action::ReplayLoop,
                    &[c('L')],
                    "replay: loop on / off",
                    "record / replay",
                ),
                b(Action::Up, &[c('k'), k(Up)], "up", "navigation"),
                b(Action::Down, &[c('j'), k(Down)], "down", "navigation"),
                b(
                    Action::PageUp,
                    &[KeyCombo::ctrl('b'), k(PageUp)],
                    "page up",
                    "navigation",
                ),
                b(
                    Action::PageDown,
                    &[KeyCombo::ctrl('f'), k(PageDown)],
                    "page down",
                    "navigation",
                ),
                b(Action::Top, &[c('g'), k(Home)], "top", "navigation"),
                b(Action::Bottom, &[c('G'), k(End)], "bottom", "navigation"),
                b(Action::SortNext, &[c('s')], "sort by next column", "table"),
                b(Action::SortReverse, &[c('S')], "reverse sort", "table"),
            ],
        }
    }
}

impl Keymap {
    pub fn bindings(&self) -> &[KeyBinding] {
        &self.bindings
    }

    /// Replaces the keys of the named actions. Unknown action names or keys are errors
    /// that name the offending entry, so a typo in the config never passes silently.
    pub fn remap(&mut self, overrides: &BTreeMap<String, Vec<String>>) -> Result<()> {
        for (name, keys) in overrides {
            let binding = self
                .bindings
                .iter_mut()
                .find(|b| action_name(&b.action) == *name)
                .ok_or_else(|| eyre!("[keys] {name}: no such action"))?;
            binding.keys = keys
                .iter()
                .map(|k| KeyCombo::parse(k).map_err(|e| eyre!("[keys] {name}: {e}")))
                .collect::<Result<_>>()?;
        }
        // A key bound twice would make one action unreachable: refuse it.
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for b in &self.bindings {
            for k in &b.keys {
                if let Some(other) = seen.insert(k.to_string(), action_name(&b.action)) {
                    bail!(
                        "[keys] key \"{k}\" is bound to both {other} and {}",
                        action_name(&b.action)
                    );
                }
            }
        }
        Ok(())
    }

    /// Resolves a key in the given mode. In text-entry modes only editing keys are special.
    pub fn resolve(&self, mode: Mode, key: KeyCombo) -> Option<Action> {
        match mode {
            Mode::Form => match (key.code, key.ctrl) {
                (KeyCode::Char('c'), true) => Some(Action::Quit),
                (KeyCode::Esc, _) => Some(Action::InputCancel),
                (KeyCode::Enter, _) => Some(Action::InputSubmit),
                (KeyCode::Backspace, _) => Some(Action::InputBackspace),
                (KeyCode::Tab | KeyCode::Down, _) => Some(Action::FormNext),
                (KeyCode::BackTab | KeyCode::Up, _) => Some(Action::FormPrev),
                (KeyCode::Char(c), false) if !key.alt => Some(Action::InputChar(c)),
                _ => None,
            },
            Mode::Filter | Mode::Command => match (key.code, key.ctrl) {
                (KeyCode::Char('c'), true) => Some(Action::Quit),
                (KeyCode::Esc, _) => Some(Action::InputCancel),
                (KeyCode::Enter, _) => Some(Action::InputSubmit),
                (KeyCode::Backspace, _) => Some(Action::InputBackspace),
                (KeyCode::Tab, _) => Some(Action::InputComplete),
                (KeyCode::Char(c), false) if !key.alt => Some(Action::InputChar(c)),
                _ => None,
            },
            Mode::Normal => self
                .bindings
                .iter()
                .find(|b| b.keys.contains(&key))
                .map(|b| b.action.clone()),
        }
    }

    /// Help rows grouped in registry order: (group, [(keys, label)]).
    pub fn help(&self) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
        let mut groups: Vec<(&'static str, Vec<(String, &'static str)>)> = Vec::new();
        for b in &self.bindings {
            let keys = b.keys.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
            match groups.iter_mut().find(|(g, _)| *g == b.group) {
                Some((_, rows)) => rows.push((keys, b.label)),
                None => groups.push((b.group, vec![(keys, b.label)])),
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for s in ["q", "ctrl-c", "pgdn", "G", "f5", "alt-x", "esc"] {
            assert_eq!(KeyCombo::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(KeyCombo::parse("space").unwrap(), KeyCombo::ch(' '));
        assert!(KeyCombo::parse("hyper-q").is_err());
    }

    #[test]
    fn remap_replaces_keys_and_help_follows() {
        let mut km = Keymap::default();
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["Z".to_string()]);
        km.remap(&o).unwrap();
        assert_eq!(km.resolve(Mode::Normal, KeyCombo::ch('Z')), Some(Action::Quit));
        assert_eq!(km.resolve(Mode::Normal, KeyCombo::ch('q')), None);
        let general = &km.help()[0];
        assert_eq!(general.0, "general");
        assert_eq!(general.1[0], ("Z".to_string(), "quit"));
    }

    #[test]
    fn remap_rejects_unknown_action_and_duplicate_key() {
        let mut km = Keymap::default();
        let mut o = BTreeMap::new();
        o.insert("launch-rockets".to_string(), vec!["x".to_string()]);
        let e = km.remap(&o).unwrap_err().to_string();
        assert_eq!(e, "[keys] launch-rockets: no such action");

        let mut km = Keymap::default();
        let mut o = BTreeMap::new();
        o.insert("toggle-help".to_string(), vec!["q".to_string()]);
        let e = km.remap(&o).unwrap_err().to_string();
        assert_eq!(e, "[keys] key \"q\" is bound to both quit and toggle-help");
    }

    #[test]
    fn every_remappable_action_has_a_key() {
        use Action::*;
        let km = Keymap::default();
        let all = [
            Quit,
            ToggleHelp,
            Up,
            Down,
            PageUp,
            PageDown,
            Top,
            Bottom,
            Back,
            StartFilter,
            StartCommand,
            NextTheme,
            Select,
            ShowOverview,
            ShowControlPlanes,
            ShowNamespaces,
            ShowPods,
            ShowWorkloads,
            ShowEdges,
            NextWindow,
            ShowBench,
            NewBench,
            StopBench,
            ToggleRecording,
            AddMarker,
            ReplayPause,
            ReplaySlower,
            ReplayFaster,
            ReplayBack,
            ReplayForward,
            ReplayPreviousMarker,
            ReplayNextMarker,
            ReplayLoop,
            SortNext,
            SortReverse,
        ];
        for a in all.clone() {
            let b = km
                .bindings()
                .iter()
                .find(|b| b.action == a)
                .unwrap_or_else(|| panic!("{a:?} has no binding"));
            assert!(!b.keys.is_empty(), "{a:?}");
            assert_eq!(km.resolve(Mode::Normal, b.keys[0]), Some(a));
        }
        assert_eq!(km.bindings().len(), all.len());
        assert_eq!(
            km.resolve(Mode::Normal, KeyCombo::plain(KeyCode::Enter)),
            Some(Action::Select)
        );
        assert_eq!(km.resolve(Mode::Normal, KeyCombo::ch('4')), Some(Action::ShowPods));
    }

    #[test]
    fn text_modes_capture_characters() {
        let km = Keymap::default();
        assert_eq!(
            km.resolve(Mode::Filter, KeyCombo::ch('q')),
            Some(Action::InputChar('q'))
        );
        assert_eq!(km.resolve(Mode::Command, KeyCombo::ctrl('c')), Some(Action::Quit));
    }
}

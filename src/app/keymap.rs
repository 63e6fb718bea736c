//! The one key registry. Every binding carries its label and help group, so the help
//! screen is generated from the same table that dispatches keys and can never drift.

use std::collections::BTreeMap;
use std::fmt;

use color_eyre::eyre::{Result, bail, eyre};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;
use super::state::{Mode, ViewKind};

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
    /// The views the binding works in; empty means every view. A key may be bound once
    /// per view, so views can reuse each other's keys.
    pub views: &'static [ViewKind],
}

impl KeyBinding {
    fn applies(&self, view: ViewKind) -> bool {
        self.views.is_empty() || self.views.contains(&view)
    }

    /// Two bindings that could both apply in some view.
    fn overlaps(&self, other: &KeyBinding) -> bool {
        self.views.is_empty() || other.views.is_empty() || self.views.iter().any(|v| other.views.contains(v))
    }
}

/// Where drilling down and benchmarking a selection mean something.
const SELECTABLE: &[ViewKind] = &[
    ViewKind::Overview,
    ViewKind::ControlPlanes,
    ViewKind::Namespaces,
    ViewKind::Pods,
    ViewKind::Workloads,
    ViewKind::Edges,
    ViewKind::Tap,
    ViewKind::TapSummary,
];

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
            views: &[],
        };
        let only = |views: &'static [ViewKind], binding: KeyBinding| KeyBinding { views, ..binding };
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
                only(SELECTABLE, b(Action::Select, &[k(Enter)], "open / drill down", "views")),
                b(Action::ShowOverview, &[c('1')], "meshes overview", "views"),
                b(Action::ShowControlPlanes, &[c('2')], "control planes", "views"),
                b(Action::ShowNamespaces, &[c('3')], "namespaces", "views"),
                b(Action::ShowPods, &[c('4')], "pods", "views"),
                b(Action::ShowWorkloads, &[c('5')], "workloads", "views"),
                b(Action::ShowEdges, &[c('6')], "edges (source → destination)", "views"),
                b(Action::NextWindow, &[c('w')], "rate window 30s / 1m / 5m", "views"),
                b(Action::ShowBench, &[c('7')], "benchmark runs", "bench"),
                b(Action::ShowCompare, &[c('8')], "compare the marked runs", "bench"),
                b(Action::ShowTap, &[c('9')], "tap: requests as they flow", "tap"),
                b(Action::ShowTapSummary, &[c('0')], "tap summary (top-style)", "tap"),
                only(
                    &[
                        ViewKind::Pods,
                        ViewKind::Workloads,
                        ViewKind::Namespaces,
                        ViewKind::PodDetail,
                    ],
                    b(
                        Action::TapSelected,
                        &[c('t')],
                        "tap the selected pod / workload / namespace",
                        "tap",
                    ),
                ),
                only(
                    &[ViewKind::Tap],
                    b(Action::TapPause, &[c('p')], "pause / resume the stream", "tap"),
                ),
                only(
                    &[ViewKind::Tap, ViewKind::TapSummary],
                    b(Action::StopTap, &[c('x')], "stop tapping", "tap"),
                ),
                only(
                    &[ViewKind::Bench],
                    b(
                        Action::ToggleCompareMark,
                        &[c('c')],
                        "mark / unmark the selected run to compare (8)",
                        "bench",
                    ),
                ),
                b(
                    Action::NewBench,
                    &[c('b')],
                    "benchmark the selected pod / workload (or a URL)",
                    "bench",
                ),
                only(
                    &[ViewKind::Bench],
                    b(
                        Action::StopBench,
                        &[c('x')],
                        "stop the selected (or running) run",
                        "bench",
                    ),
                ),
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
                only(
                    ViewKind::TABLES,
                    b(Action::SortNext, &[c('s')], "sort by next column", "table"),
                ),
                only(
                    ViewKind::TABLES,
                    b(Action::SortReverse, &[c('S')], "reverse sort", "table"),
                ),
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
        self.check()
    }

    /// A key bound twice where both bindings apply would make one unreachable: refuse it.
    fn check(&self) -> Result<()> {
        for (i, a) in self.bindings.iter().enumerate() {
            for b in &self.bindings[i + 1..] {
                if let Some(k) = a.keys.iter().find(|k| b.keys.contains(k))
                    && a.overlaps(b)
                {
                    bail!(
                        "[keys] key \"{k}\" is bound to both {} and {}",
                        action_name(&a.action),
                        action_name(&b.action)
                    );
                }
            }
        }
        Ok(())
    }

    /// A keymap of exactly these bindings, checked.
    pub fn from_bindings(bindings: Vec<KeyBinding>) -> Result<Keymap> {
        let km = Keymap { bindings };
        km.check()?;
        Ok(km)
    }

    /// Resolves a key in the given mode and view. In text-entry modes only editing keys are
    /// special.
    pub fn resolve(&self, mode: Mode, view: ViewKind, key: KeyCombo) -> Option<Action> {
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
            // Only an explicit answer: any other key leaves the question on screen.
            Mode::Confirm => match (key.code, key.ctrl) {
                (KeyCode::Char('c'), true) => Some(Action::Quit),
                (KeyCode::Char('y'), false) => Some(Action::InputSubmit),
                (KeyCode::Char('n'), false) | (KeyCode::Esc, _) => Some(Action::InputCancel),
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
                .find(|b| b.applies(view) && b.keys.contains(&key))
                .map(|b| b.action.clone()),
        }
    }

    /// Help rows for `view`: the keys that only this view has first, then every other key
    /// that works here, grouped in registry order: (group, [(keys, label)]).
    pub fn help(&self, view: ViewKind) -> Vec<(String, Vec<(String, &'static str)>)> {
        let row = |b: &KeyBinding| {
            let keys = b.keys.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
            (keys, b.label)
        };
        let mut groups: Vec<(String, Vec<(String, &'static str)>)> = Vec::new();
        // Keys scoped to views that include this one: what this view does that others may not.
        let scoped = |b: &&KeyBinding| !b.views.is_empty() && b.views.contains(&view);
        let own: Vec<_> = self.bindings.iter().filter(scoped).map(row).collect();
        if !own.is_empty() {
            groups.push((format!("{} view", view.name()), own));
        }
        for b in self.bindings.iter().filter(|b| b.views.is_empty()) {
            match groups.iter_mut().find(|(g, _)| g == b.group) {
                Some((_, rows)) => rows.push(row(b)),
                None => groups.push((b.group.to_string(), vec![row(b)])),
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
        let pods = ViewKind::Pods;
        assert_eq!(km.resolve(Mode::Normal, pods, KeyCombo::ch('Z')), Some(Action::Quit));
        assert_eq!(km.resolve(Mode::Normal, pods, KeyCombo::ch('q')), None);
        let help = km.help(pods);
        assert_eq!(help[0].0, "pods view", "its own keys first: enter, t, s, S");
        assert_eq!(help[0].1.len(), 4);
        assert_eq!(help[1].0, "general");
        assert_eq!(help[1].1[0], ("Z".to_string(), "quit"));
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
            ShowCompare,
            ToggleCompareMark,
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
            ShowTap,
            ShowTapSummary,
            TapSelected,
            TapPause,
            StopTap,
        ];
        for a in all.clone() {
            let b = km
                .bindings()
                .iter()
                .find(|b| b.action == a)
                .unwrap_or_else(|| panic!("{a:?} has no binding"));
            assert!(!b.keys.is_empty(), "{a:?}");
            let view = b.views.first().copied().unwrap_or(ViewKind::Pods);
            assert_eq!(km.resolve(Mode::Normal, view, b.keys[0]), Some(a));
        }
        assert_eq!(km.bindings().len(), all.len());
        assert_eq!(
            km.resolve(Mode::Normal, ViewKind::Pods, KeyCombo::plain(KeyCode::Enter)),
            Some(Action::Select)
        );
        assert_eq!(
            km.resolve(Mode::Normal, ViewKind::Overview, KeyCombo::ch('4')),
            Some(Action::ShowPods)
        );
        // Keys scoped to views: x stops a run only in the bench view, s sorts only tables.
        assert_eq!(
            km.resolve(Mode::Normal, ViewKind::Bench, KeyCombo::ch('x')),
            Some(StopBench)
        );
        assert_eq!(km.resolve(Mode::Normal, ViewKind::Pods, KeyCombo::ch('x')), None);
        assert_eq!(km.resolve(Mode::Normal, ViewKind::Overview, KeyCombo::ch('s')), None);
    }

    #[test]
    fn text_modes_capture_characters() {
        let km = Keymap::default();
        assert_eq!(
            km.resolve(Mode::Filter, ViewKind::Pods, KeyCombo::ch('q')),
            Some(Action::InputChar('q'))
        );
        assert_eq!(
            km.resolve(Mode::Command, ViewKind::Pods, KeyCombo::ctrl('c')),
            Some(Action::Quit)
        );
    }

    #[test]
    fn views_can_share_a_key_and_help_shows_the_views_keys_first() {
        let b = |action, key, views: &'static [ViewKind]| KeyBinding {
            action,
            keys: vec![KeyCombo::ch(key)],
            label: "l",
            group: "g",
            views,
        };
        // The same key in two views that never overlap: each view resolves its own.
        let km = Keymap::from_bindings(vec![
            b(Action::StopBench, 'd', &[ViewKind::Bench]),
            b(Action::ShowEdges, 'd', &[ViewKind::Pods]),
            b(Action::Quit, 'q', &[]),
        ])
        .unwrap();
        assert_eq!(
            km.resolve(Mode::Normal, ViewKind::Bench, KeyCombo::ch('d')),
            Some(Action::StopBench)
        );
        assert_eq!(
            km.resolve(Mode::Normal, ViewKind::Pods, KeyCombo::ch('d')),
            Some(Action::ShowEdges)
        );
        assert_eq!(km.resolve(Mode::Normal, ViewKind::Edges, KeyCombo::ch('d')), None);
        let help = km.help(ViewKind::Bench);
        assert_eq!(help[0].0, "bench view");
        assert_eq!(
            help.len(),
            2,
            "the pods view's d is not listed in the bench view: {help:?}"
        );
        // The same key in overlapping scopes is refused.
        let clash = Keymap::from_bindings(vec![
            b(Action::StopBench, 'q', &[ViewKind::Bench]),
            b(Action::Quit, 'q', &[]),
        ]);
        assert_eq!(
            clash.unwrap_err().to_string(),
            "[keys] key \"q\" is bound to both stop-bench and quit"
        );
    }
}

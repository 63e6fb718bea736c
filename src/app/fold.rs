//! The reducer: the only place state changes. No I/O, so live, replay and tests share it.

use super::action::{Action, Effect};
use super::query;
use super::state::{Mode, SourceErr, State, View, ViewEntry};
use super::update::{Stamped, Update};
use crate::model::Resource;

/// Folds one source update into the state.
pub fn fold(state: &mut State, stamped: Stamped) {
    let Stamped { at, update } = stamped;
    state.now = state.now.max(at);
    state.dirty = true;
    // "Last update" means fresh data, not the clock or a failure report.
    if !matches!(
        update,
        Update::Tick
            | Update::ListStarted { .. }
            | Update::SourceError { .. }
            | Update::SourceRecovered { .. }
    ) {
        state.last_update = Some(at);
    }
    match update {
        Update::Tick => {}
        Update::Connected { cluster } => state.cluster = Some(cluster),
        Update::ApiLatency { millis } => state.api_latency_ms = Some(millis),
        Update::ListStarted { resource } => {
            state.relisting.insert(resource, Default::default());
        }
        Update::ListDone { resource } => {
            if let Some(seen) = state.relisting.remove(&resource) {
                match resource {
                    Resource::Pods => state.pods.retain(|k, _| seen.contains(k)),
                    Resource::Namespaces => state
                        .namespaces
                        .retain(|k, _| seen.contains(&(String::new(), k.clone()))),
                    Resource::Cluster => {}
                }
            }
            state.synced.insert(resource);
            state.errors.remove(&resource);
        }
        Update::NamespaceApplied { namespace } => {
            if let Some(seen) = state.relisting.get_mut(&Resource::Namespaces) {
                seen.insert((String::new(), namespace.name.clone()));
            }
            state.namespaces.insert(namespace.name.clone(), namespace);
        }
        Update::NamespaceDeleted { name } => {
            state.namespaces.remove(&name);
        }
        Update::PodApplied { pod } => {
            if let Some(seen) = state.relisting.get_mut(&Resource::Pods) {
                seen.insert(pod.key());
            }
            state.pods.insert(pod.key(), pod);
        }
        Update::PodDeleted { namespace, name } => {
            state.pods.remove(&(namespace, name));
        }
        Update::SourceError {
            resource,
            kind,
            message,
        } => {
            let since = state.errors.get(&resource).map_or(at, |e| e.since);
            state.errors.insert(
                resource,
                SourceErr {
                    kind,
                    message,
                    since,
                },
            );
        }
        Update::SourceRecovered { resource } => {
            state.errors.remove(&resource);
        }
    }
    clamp_selection(state);
}

/// Applies a user action. Returns an effect when the main loop must act (I/O, exit).
pub fn apply_action(state: &mut State, action: Action) -> Option<Effect> {
    state.dirty = true;
    if !matches!(
        action,
        Action::InputChar(_) | Action::InputBackspace | Action::InputComplete
    ) {
        state.flash = None;
    }
    if state.show_help && !matches!(action, Action::Quit | Action::ToggleHelp) {
        // Any other key closes help first, like k9s; it does not also act.
        state.show_help = false;
        return None;
    }
    let rows = query::row_count(state);
    let page = state.page_rows();
    let entry = state.entry_mut();
    match action {
        Action::Quit => return Some(Effect::Quit),
        Action::ToggleHelp => state.show_help = !state.show_help,
        Action::Up => entry.selected = entry.selected.saturating_sub(1),
        Action::Down => entry.selected = (entry.selected + 1).min(rows.saturating_sub(1)),
        Action::PageUp => entry.selected = entry.selected.saturating_sub(page),
        Action::PageDown => entry.selected = (entry.selected + page).min(rows.saturating_sub(1)),
        Action::Top => entry.selected = 0,
        Action::Bottom => entry.selected = rows.saturating_sub(1),
        Action::Back => {
            if !entry.filter.is_empty() {
                entry.filter.clear();
            } else if state.stack.len() > 1 {
                state.stack.pop();
            }
        }
        Action::StartFilter => {
            state.input = entry.filter.clone();
            state.mode = Mode::Filter;
        }
        Action::StartCommand => {
            state.input.clear();
            state.mode = Mode::Command;
        }
        Action::NextTheme => state.theme = (state.theme + 1) % state.themes.len(),
        Action::ShowPods => push_view(state, View::Pods),
        Action::ShowNamespaces => push_view(state, View::Namespaces),
        Action::SortNext => {
            let n = query::columns(entry.view).len();
            entry.sort_column = (entry.sort_column + 1) % n;
        }
        Action::SortReverse => entry.sort_reverse = !entry.sort_reverse,
        Action::InputChar(c) => {
            state.input.push(c);
            live_filter(state);
        }
        Action::InputBackspace => {
            state.input.pop();
            live_filter(state);
        }
        Action::InputComplete => {
            if state.mode == Mode::Command
                && let Some(full) = complete_command(&state.input)
            {
                state.input = full.to_string();
            }
        }
        Action::InputCancel => {
            if state.mode == Mode::Filter {
                state.entry_mut().filter.clear();
            }
            state.mode = Mode::Normal;
            state.input.clear();
        }
        Action::InputSubmit => {
            let input = std::mem::take(&mut state.input);
            let mode = std::mem::replace(&mut state.mode, Mode::Normal);
            if mode == Mode::Command {
                return run_command(state, input.trim());
            }
        }
    }
    clamp_selection(state);
    None
}

/// The filter applies while typing, so the table narrows with every key.
fn live_filter(state: &mut State) {
    if state.mode == Mode::Filter {
        let input = state.input.clone();
        let entry = state.entry_mut();
        entry.filter = input;
        entry.selected = 0;
    }
}

/// Commands accepted by `:`, with their aliases. The first name is what completion offers.
pub const COMMANDS: &[(&[&str], &str)] = &[
    (&["pods", "po", "pod"], "list pods"),
    (&["namespaces", "ns", "namespace"], "list namespaces"),
    (&["quit", "q"], "quit meshtop"),
];

pub fn complete_command(prefix: &str) -> Option<&'static str> {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return None;
    }
    COMMANDS
        .iter()
        .flat_map(|(names, _)| names.iter())
        .find(|n| n.starts_with(prefix))
        .copied()
}

fn run_command(state: &mut State, cmd: &str) -> Option<Effect> {
    // `:pods web` opens pods filtered by "web", as in k9s.
    let (name, arg) = cmd
        .split_once(' ')
        .map_or((cmd, ""), |(n, a)| (n, a.trim()));
    let Some((names, _)) = COMMANDS.iter().find(|(names, _)| names.contains(&name)) else {
        if !cmd.is_empty() {
            state.flash = Some(format!("unknown command :{cmd} (try :pods, :ns, :quit)"));
        }
        return None;
    };
    match names[0] {
        "pods" => push_view(state, View::Pods),
        "namespaces" => push_view(state, View::Namespaces),
        "quit" => return Some(Effect::Quit),
        _ => unreachable!("every command is handled"),
    }
    state.entry_mut().filter = arg.to_string();
    clamp_selection(state);
    None
}

/// Opens a view on top of the breadcrumb stack, or returns to it when it is already there.
fn push_view(state: &mut State, view: View) {
    if let Some(pos) = state.stack.iter().position(|e| e.view == view) {
        state.stack.truncate(pos + 1);
    } else {
        state.stack.push(ViewEntry::new(view));
    }
    state.scroll.set(0);
}

fn clamp_selection(state: &mut State) {
    let rows = query::row_count(state);
    let entry = state.entry_mut();
    entry.selected = entry.selected.min(rows.saturating_sub(1));
}

impl State {
    /// Rows per page for paging keys; the last rendered table height, or a sane default.
    pub fn page_rows(&self) -> usize {
        self.last_page.get().max(1)
    }
}

//! What keys and `:` commands do: navigation, filters, sorting, drilling down, the
//! benchmark form. Pure, like the fold; effects that need I/O go back to the main loop.

use super::action::{Action, Effect, ReplayCommand};
use super::state::{Mode, State, View, ViewEntry};
use super::table::{self, Table};
use crate::with_table;

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
        // Moving keys scroll a help taller than the terminal; any other key closes it,
        // like k9s, and does not also act.
        let at = state.help_scroll.get();
        let page = state.page_rows();
        match action {
            Action::Down => state.help_scroll.set(at + 1),
            Action::Up => state.help_scroll.set(at.saturating_sub(1)),
            Action::PageDown => state.help_scroll.set(at + page),
            Action::PageUp => state.help_scroll.set(at.saturating_sub(page)),
            Action::Top => state.help_scroll.set(0),
            Action::Bottom => state.help_scroll.set(usize::MAX / 2),
            _ => state.show_help = false,
        }
        return None;
    }
    let rows = table::row_count(state);
    let page = state.page_rows();
    let entry = state.entry_mut();
    // Rows may have gone since the last key: start from a selection that exists.
    entry.selected = entry.selected.min(rows.saturating_sub(1));
    match action {
        Action::Quit => return Some(Effect::Quit),
        Action::ToggleHelp => {
            state.show_help = !state.show_help;
            state.help_scroll.set(0);
        }
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
                state.scroll.set(0);
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
        Action::NextTheme => state.theme = (state.theme + 1) % state.theme_count.max(1),
        Action::Select => select(state),
        Action::ShowOverview => push_view(state, View::Overview, ""),
        Action::ShowControlPlanes => push_view(state, View::ControlPlanes, ""),
        Action::ShowNamespaces => push_view(state, View::Namespaces, ""),
        Action::ShowPods => push_view(state, View::Pods, ""),
        Action::ShowWorkloads => push_view(state, View::Workloads, ""),
        Action::ShowEdges => push_view(state, View::Edges, ""),
        Action::NextWindow => {
            let windows = super::traffic::WINDOWS;
            let next = windows
                .iter()
                .position(|w| *w == state.window_s)
                .map_or(windows[0], |i| windows[(i + 1) % windows.len()]);
            return Some(set_window(state, next));
        }
        Action::SortNext => {
            entry.sort_column = with_table!(entry.view, T => table::next_sortable::<T>(entry.sort_column), _ => 0);
        }
        Action::SortReverse => entry.sort_reverse = !entry.sort_reverse,
        Action::ShowBench => push_view(state, View::Bench, ""),
        Action::ShowCompare => push_view(state, View::Compare, ""),
        Action::ToggleCompareMark => {
            let entry = state.entry();
            let runs = table::rows::<table::bench_runs::BenchRuns>(state, entry);
            let selected = (entry.view == View::Bench)
                .then(|| runs.get(entry.selected))
                .flatten()
                .map(|b| b.id);
            state.flash = Some(match selected {
                Some(id) => super::compare::toggle(state, id),
                None => "no run selected: start one with b, or :bench URL".into(),
            });
        }
        Action::ToggleRecording => return Some(Effect::ToggleRecording),
        Action::AddMarker => {
            return Some(Effect::Mark(format!("marker {}", state.markers.len() + 1)));
        }
        Action::ReplayPause => return replay(state, ReplayCommand::TogglePause),
        Action::ReplaySlower => return replay(state, ReplayCommand::Slower),
        Action::ReplayFaster => return replay(state, ReplayCommand::Faster),
        Action::ReplayBack => return replay(state, ReplayCommand::Skip(-10)),
        Action::ReplayForward => return replay(state, ReplayCommand::Skip(10)),
        Action::ReplayPreviousMarker => return replay(state, ReplayCommand::PreviousMarker),
        Action::ReplayNextMarker => return replay(state, ReplayCommand::NextMarker),
        Action::ReplayLoop => return replay(state, ReplayCommand::ToggleLoop),
        Action::NewBench => open_bench_form(state),
        Action::ShowTap => push_view(state, View::Tap, ""),
        Action::ShowTapSummary => show_summary(state, ""),
        Action::TapPause => {
            state.tap.toggle_pause();
            state.flash = Some(if state.tap.paused_at.is_some() {
                "tap paused: new requests are kept; p resumes".into()
            } else {
                "tap resumed".into()
            });
        }
        Action::StopTap => return stop_tap(state),
        Action::TapSelected => return tap_selected(state),
        Action::StopBench => {
            let entry = state.entry();
            let runs = table::rows::<table::bench_runs::BenchRuns>(state, entry);
            let selected = (entry.view == View::Bench)
                .then(|| runs.get(entry.selected))
                .flatten()
                .filter(|b| b.running());
            match selected.or_else(|| state.benches.iter().rev().find(|b| b.running())) {
                // A sweep's run stops the whole sweep: its next run would start otherwise.
                Some(b) => match b.target.sweep {
                    Some(s) => return Some(Effect::StopSweep(s.sweep)),
                    None => return Some(Effect::StopBench(b.id)),
                },
                None => state.flash = Some("no benchmark is running".into()),
            }
        }
        Action::FormNext | Action::FormPrev => {
            if let Some(f) = state.bench_form.as_mut() {
                f.next(action == Action::FormNext);
            }
        }
        Action::InputChar(c) if state.mode == Mode::Form => {
            if let Some(f) = state.bench_form.as_mut() {
                f.type_char(c);
            }
        }
        Action::InputBackspace if state.mode == Mode::Form => {
            if let Some(f) = state.bench_form.as_mut() {
                f.backspace();
            }
        }
        Action::InputCancel if state.mode == Mode::Form => {
            state.bench_form = None;
            state.mode = Mode::Normal;
        }
        Action::InputSubmit if state.mode == Mode::Form => return submit_bench_form(state),
        // y: the writes named go ahead; n: back to the form, nothing written.
        Action::InputSubmit if state.mode == Mode::Confirm => {
            let c = state.confirm.take()?;
            state.bench_form = None;
            state.mode = Mode::Normal;
            if matches!(c.effect, Effect::StartInClusterBench { .. }) {
                push_view(state, View::Bench, "");
                state.entry_mut().selected = state.benches.len();
            }
            return Some(c.effect);
        }
        Action::InputCancel if state.mode == Mode::Confirm => {
            state.confirm = None;
            state.mode = if state.bench_form.is_some() {
                Mode::Form
            } else {
                Mode::Normal
            };
            state.flash = Some("nothing was created".into());
        }
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
                && let Some(full) = complete_command(state, &state.input)
            {
                state.input = full;
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

/// Replay controls only mean something in a replay; live, say so instead.
fn replay(state: &mut State, command: ReplayCommand) -> Option<Effect> {
    if state.replay.is_none() {
        state.flash = Some("replay controls work in `meshtop replay FILE` and `meshtop demo`".into());
        return None;
    }
    Some(Effect::Replay(command))
}

/// Stops the taps of the cluster; a benchmark's samples stop with its run.
fn stop_tap(state: &mut State) -> Option<Effect> {
    let taps = state
        .tap
        .sources
        .values()
        .any(|s| s.state.live() && s.origin != crate::model::tap::TapOrigin::Bench);
    if taps {
        return Some(Effect::StopTap);
    }
    state.flash = Some(if state.tap.live() {
        "only a benchmark's samples are streaming: x in the bench view (7) stops the run".into()
    } else {
        "no tap is running".into()
    });
    None
}

/// The tap summary, busiest groups first (as `linkerd viz top`) when it opens.
fn show_summary(state: &mut State, filter: &str) {
    let fresh = !state.stack.iter().any(|e| e.view == View::TapSummary);
    push_view(state, View::TapSummary, filter);
    if fresh {
        let entry = state.entry_mut();
        entry.sort_column = table::tap_summary::COUNT;
        entry.sort_reverse = true;
    }
}

/// Taps what is selected: a pod (or the pod open in detail), a workload or a namespace.
fn tap_selected(state: &mut State) -> Option<Effect> {
    let entry = state.entry().clone();
    let target = match &entry.view {
        View::PodDetail { namespace, name } => Some(crate::model::tap::TapTarget {
            namespace: namespace.clone(),
            kind: "pod".into(),
            name: name.clone(),
        }),
        view => with_table!(view, T => table::rows::<T>(state, &entry)
            .get(entry.selected)
            .and_then(T::tap_target), _ => None),
    };
    let Some(target) = target else {
        state.flash = Some(
            "nothing to tap here: select a pod, a workload (deployment, statefulset, daemonset) or a namespace".into(),
        );
        return None;
    };
    start_tap(state, super::tap::spec(target))
}

fn start_tap(state: &mut State, spec: crate::model::tap::TapSpec) -> Option<Effect> {
    state.flash = Some(format!("tapping {}", spec.target.describe()));
    push_view(state, View::Tap, "");
    Some(Effect::StartTap(Box::new(spec)))
}

/// Opens the form on what is selected: a pod (its IP and port), a workload (its first
/// pod's address, all its pods' usage), or nothing (an empty URL).
fn open_bench_form(state: &mut State) {
    let entry = state.entry().clone();
    let found = match &entry.view {
        View::PodDetail { namespace, name } => state
            .pods
            .get(&(namespace.clone(), name.clone()))
            .map(super::bench::pod_target),
        view => with_table!(view, T => table::rows::<T>(state, &entry)
            .get(entry.selected)
            .and_then(|r| T::bench_target(state, r)), _ => None),
    };
    let (url, target, note) =
        found.unwrap_or_else(|| (String::from("http://"), super::bench::BenchTarget::default(), None));
    open_form_with(state, url, target, note);
}

fn open_form_with(state: &mut State, url: String, mut target: super::bench::BenchTarget, note: Option<String>) {
    if target.origin.is_empty() {
        target.origin = "url".into();
    }
    state.bench_form = Some(super::bench::BenchForm::new(url, target, note));
    state.mode = Mode::Form;
}

/// Validates the form; a valid one starts a run and shows its panel, an invalid one says
/// which field is wrong and stays open.
fn submit_bench_form(state: &mut State) -> Option<Effect> {
    let form = state.bench_form.as_mut()?;
    // Sweep steps make it a sweep (one at a time).
    match form.sweep() {
        Err(e) => {
            form.error = Some(e);
            return None;
        }
        Ok(Some(_)) if state.sweeps.iter().any(|s| s.running()) => {
            form.error = Some("a sweep is running: x in the bench view stops it".into());
            return None;
        }
        Ok(Some(plan)) => {
            state.bench_form = None;
            state.mode = Mode::Normal;
            push_view(state, View::Bench, "");
            return Some(Effect::StartSweep(Box::new(plan)));
        }
        Ok(None) => {}
    }
    match form.config() {
        Err(e) => {
            form.error = Some(e);
            None
        }
        Ok(config) => {
            let target = form.target.clone();
            // Sweeps' runs have ids of their own (`sweep::run_id`), above these.
            let id = state
                .benches
                .iter()
                .map(|b| b.id)
                .filter(|id| *id < 0x8000_0000)
                .max()
                .unwrap_or(0)
                + 1;
            match form.agents(&config) {
                Err(e) => {
                    form.error = Some(e);
                    return None;
                }
                Ok(Some(agents)) => return confirm_in_cluster(state, id, config, target, agents),
                Ok(None) => {}
            }
            state.bench_form = None;
            state.mode = Mode::Normal;
            push_view(state, View::Bench, "");
            // The run's panel opens on it as soon as it starts (the list gains a row).
            state.entry_mut().selected = state.benches.len();
            if state.sweeps.iter().any(|s| s.running()) {
                state.flash = Some("a sweep is running: this run shares the machine with it, and skews both".into());
            }
            Some(Effect::StartBench {
                id,
                config: Box::new(config),
                target,
            })
        }
    }
}

/// An in-cluster run writes to the cluster: refused without `--allow-writes`, else the
/// objects it would create are named, with their namespace, for the user to confirm.
/// The agents run in the target's namespace when it is known, else the context's.
fn confirm_in_cluster(
    state: &mut State,
    id: u32,
    config: crate::bench::BenchConfig,
    target: super::bench::BenchTarget,
    agents: u32,
) -> Option<Effect> {
    use crate::agents::plan::{DEFAULT_IMAGE, InCluster, run_id};
    let namespace = target
        .pods
        .first()
        .map(|(ns, _)| ns.clone())
        .or_else(|| {
            state
                .cluster
                .as_ref()
                .map(|c| c.namespace.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| "default".into());
    let spec = InCluster {
        run: run_id(),
        namespace,
        agents,
        image: DEFAULT_IMAGE.into(),
        on_failure: crate::agents::OnFailure::Abort,
        start_in: IN_CLUSTER_START_IN,
    };
    let writes = spec.plan(config.clone(), Vec::new()).writes();
    if state.writes.permit("an in-cluster benchmark", &writes).is_err() {
        if let Some(f) = state.bench_form.as_mut() {
            f.error = Some(format!(
                "in-cluster agents: a Job and a Secret would be created in namespace {}; start meshtop with --allow-writes",
                spec.namespace
            ));
        }
        return None;
    }
    if let Some(f) = state.bench_form.as_mut() {
        f.error = None;
    }
    state.confirm = Some(super::state::Confirmation {
        title: format!(
            "Send this run from {agents} agent pod{} in the cluster?",
            if agents == 1 { "" } else { "s" }
        ),
        writes: writes.iter().map(ToString::to_string).collect(),
        effect: Effect::StartInClusterBench {
            id,
            config: Box::new(config),
            target,
            agents: spec,
        },
    });
    state.mode = Mode::Confirm;
    None
}

/// From the Job's creation to the agents' common start, for runs started in the TUI.
pub const IN_CLUSTER_START_IN: std::time::Duration = std::time::Duration::from_secs(20);

/// `enter`: drill down from the selected row.
fn select(state: &mut State) {
    let entry = state.entry().clone();
    let target = match &entry.view {
        View::Overview => Some((View::ControlPlanes, String::new())),
        view => with_table!(view, T => table::rows::<T>(state, &entry)
            .get(entry.selected)
            .and_then(T::open), _ => None),
    };
    if let Some((view, filter)) = target {
        push_view(state, view, &filter);
    }
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
    (&["meshes", "overview", "mesh"], "meshes overview"),
    (&["controlplanes", "cp", "controlplane"], "control planes"),
    (
        &["namespaces", "ns", "namespace"],
        "namespaces; :ns NAME shows its pods",
    ),
    (&["pods", "po", "pod"], "pods; :pods FILTER filters them"),
    (
        &["workloads", "wl", "workload", "deploy"],
        "workloads; :wl FILTER filters them",
    ),
    (&["edges", "edge"], "traffic between workloads"),
    (&["window", "w"], "rate window: :window 30s|1m|5m"),
    (&["mark", "marker"], "add a named marker: :mark NAME"),
    (&["seek"], "replay: go to a time, :seek 1m30s"),
    (
        &["bench", "benchmark"],
        "benchmark: :bench URL, :bench svc NS/NAME, or the runs list",
    ),
    (&["compare", "cmp"], "compare the runs marked with c in the bench view"),
    (
        &["sweep"],
        "sweep: :sweep NAME=URL NAME=URL -c 8,16,32 [-z 30s] (the first is the baseline)",
    ),
    (
        &["tap"],
        "tap: :tap deploy/NAME|pod/NAME|ns/NAME [-n NS] [--source linkerd|logs] [--max-rps N], :tap stop, or the stream",
    ),
    (
        &["summary", "tapsummary"],
        "tap summary, grouped by source, destination, method and path",
    ),
    (&["ctx", "context", "contexts"], "switch context: :ctx NAME"),
    (&["quit", "q"], "quit meshtop"),
];

/// Completes a command name, or a context name after `ctx `.
pub fn complete_command(state: &State, input: &str) -> Option<String> {
    let input = input.trim_start();
    if let Some((cmd, arg)) = input.split_once(' ') {
        if ["ctx", "context", "contexts"].contains(&cmd) {
            return state
                .contexts
                .iter()
                .find(|c| c.starts_with(arg.trim()))
                .map(|c| format!("{cmd} {c}"));
        }
        return None;
    }
    if input.is_empty() {
        return None;
    }
    COMMANDS
        .iter()
        .flat_map(|(names, _)| names.iter())
        .find(|n| n.starts_with(input))
        .map(|n| n.to_string())
}

fn run_command(state: &mut State, cmd: &str) -> Option<Effect> {
    // `:pods web` opens pods filtered by "web", as in k9s.
    let (name, arg) = cmd.split_once(' ').map_or((cmd, ""), |(n, a)| (n, a.trim()));
    let Some((names, _)) = COMMANDS.iter().find(|(names, _)| names.contains(&name)) else {
        if !cmd.is_empty() {
            state.flash = Some(format!(
                "unknown command :{cmd} (try :meshes, :cp, :ns, :pods, :wl, :edges, :window, :ctx, :quit)"
            ));
        }
        return None;
    };
    match names[0] {
        "meshes" => push_view(state, View::Overview, ""),
        "controlplanes" => push_view(state, View::ControlPlanes, arg),
        "namespaces" if !arg.is_empty() => push_view(state, View::Pods, &format!("ns=={arg}")),
        "namespaces" => push_view(state, View::Namespaces, ""),
        "pods" => push_view(state, View::Pods, arg),
        "workloads" => push_view(state, View::Workloads, arg),
        "edges" => push_view(state, View::Edges, arg),
        "seek" => {
            return match crate::input::duration(arg, crate::input::Bounds::OFFSET) {
                Ok(d) => replay(
                    state,
                    ReplayCommand::SeekTo(d.as_millis().min(u128::from(u64::MAX)) as u64),
                ),
                Err(e) => {
                    state.flash = Some(format!(":seek {e}"));
                    None
                }
            };
        }
        "mark" => {
            let name = if arg.is_empty() {
                format!("marker {}", state.markers.len() + 1)
            } else {
                arg.to_string()
            };
            return Some(Effect::Mark(name));
        }
        "bench" if arg.is_empty() => push_view(state, View::Bench, ""),
        "compare" => push_view(state, View::Compare, ""),
        "tap" if arg.is_empty() => push_view(state, View::Tap, ""),
        "tap" if arg == "stop" => return stop_tap(state),
        "tap" => {
            let namespace = state.cluster.as_ref().map_or("default", |c| c.default_namespace());
            return match super::tap::parse_command(arg, namespace) {
                Ok(spec) => start_tap(state, spec),
                Err(e) => {
                    state.flash = Some(format!(":tap {e}"));
                    None
                }
            };
        }
        "summary" => show_summary(state, arg),
        "sweep" => {
            if state.sweeps.iter().any(|s| s.running()) {
                state.flash = Some("a sweep is running: x in the bench view stops it".into());
                return None;
            }
            return match super::sweep::parse_command(arg) {
                Ok(plan) => {
                    push_view(state, View::Bench, "");
                    Some(Effect::StartSweep(Box::new(plan)))
                }
                Err(e) => {
                    state.flash = Some(format!(":sweep {e}"));
                    None
                }
            };
        }
        "bench" => {
            if let Some(svc) = arg.strip_prefix("svc ").or_else(|| arg.strip_prefix("service ")) {
                let (ns, name) = svc.trim().split_once('/').unwrap_or(("default", svc.trim()));
                match state.services.get(&(ns.to_string(), name.to_string())).cloned() {
                    Some(s) => {
                        let (url, target, note) = super::bench::service_target(state, &s);
                        open_form_with(state, url, target, note);
                    }
                    None => {
                        state.flash = Some(format!(
                            "no service {ns}/{name} (known: {} services)",
                            state.services.len()
                        ))
                    }
                }
            } else {
                // A URL the cluster knows (a pod IP, a ClusterIP, a service name): its pods'
                // CPU and memory show beside the latencies.
                let (pods, _) = super::sweep::pods_for_url(state, arg);
                let target = super::bench::BenchTarget {
                    origin: "url".into(),
                    pods,
                    sweep: None,
                };
                open_form_with(state, arg.to_string(), target, None);
            }
            return None;
        }
        "window" => {
            let parsed = crate::input::duration(arg, crate::input::Bounds::RUN).ok();
            match parsed
                .filter(|d| d.subsec_nanos() == 0)
                .and_then(|d| u32::try_from(d.as_secs()).ok())
                .filter(|s| super::traffic::WINDOWS.contains(s))
            {
                Some(secs) => return Some(set_window(state, secs)),
                None => {
                    state.flash = Some(format!("window {arg:?}: choose 30s, 1m or 5m"));
                }
            }
        }
        "ctx" if arg.is_empty() => {
            let current = state.cluster.as_ref().map(|c| c.context.as_str()).unwrap_or("unknown");
            state.flash = Some(format!(
                "contexts: {} (current: {current}); :ctx NAME switches",
                state.contexts.join(", ")
            ));
        }
        "ctx" if !state.contexts.iter().any(|c| c == arg) => {
            state.flash = Some(format!("no context named {arg:?} in the kubeconfig"));
        }
        "ctx" => return Some(Effect::SwitchContext(arg.to_string())),
        "quit" => return Some(Effect::Quit),
        _ => unreachable!("every command is handled"),
    }
    clamp_selection(state);
    None
}

/// Opens a view on top of the breadcrumb stack, or returns to it when it is already there.
fn push_view(state: &mut State, view: View, filter: &str) {
    if let Some(pos) = state.stack.iter().position(|e| e.view == view) {
        state.stack.truncate(pos + 1);
        if !filter.is_empty() {
            state.entry_mut().filter = filter.to_string();
        }
    } else {
        let mut e = ViewEntry::new(view);
        e.filter = filter.to_string();
        state.stack.push(e);
    }
    state.scroll.set(0);
}

/// Switches the rate window; direct-scrape windows are recomputed from the kept samples.
fn set_window(state: &mut State, secs: u32) -> Effect {
    state.window_s = secs;
    super::fold::window_changed(state);
    state.tap.set_window(secs);
    state.flash = Some(format!("rate window {}", super::traffic::window_label(secs)));
    Effect::SetWindow(secs)
}

fn clamp_selection(state: &mut State) {
    let rows = table::row_count(state);
    let entry = state.entry_mut();
    entry.selected = entry.selected.min(rows.saturating_sub(1));
}

impl State {
    /// Rows per page for paging keys; the last rendered table height, or a sane default.
    pub fn page_rows(&self) -> usize {
        self.last_page.get().max(1)
    }
}

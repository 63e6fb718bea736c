//! The live loop: sources → channel → fold → (dirty, frame-capped) render.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::app::keymap::KeyCombo;
use crate::app::{Effect, Keymap, Stamped, State, Update, apply_action, fold, fold_all};
use crate::cli::{TrafficArgs, TuiArgs, UiArgs};
use crate::config::Config;
use crate::model::Resource;
use crate::source::{self, CHANNEL_CAPACITY};
use crate::term::Tui;
use crate::ui::Ui;
use crate::ui::theme::{Colors, Theme};

/// Most updates folded before the loop checks keys and draws again, so a burst
/// (a 10,000-pod initial list) never makes the UI unresponsive.
const MAX_BATCH: usize = 2048;

/// metrics-server refreshes every 15 s by default; polling faster only repeats values.
const POD_METRICS_INTERVAL: Duration = Duration::from_secs(15);
/// While benchmarks run: metrics-server measures every 10-60 s, and reading each of its
/// windows is what lets a run of 15 s have a reading measured while it ran.
const BENCH_USAGE_INTERVAL: Duration = Duration::from_secs(5);

/// How often proxies are scraped (Prometheus' usual interval is 15 s; a live view wants more).
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(5);

/// Builds the initial state and the UI from the flags and the config file. Errors name
/// the file and key. `kubeconfig` offers its contexts to `:ctx`.
pub fn initial_state(args: &UiArgs, kubeconfig: Option<&std::path::Path>) -> Result<(State, Ui, Config)> {
    let config = Config::load(args.config.as_deref())?;
    let mut keymap = Keymap::default();
    keymap
        .remap(&config.keys)
        .map_err(|e| crate::exit::bad_input(format!("{e:#}")))
        .wrap_err_with(|| format!("in the config file {}", config_name(args)))?;
    let mut themes = Theme::all_builtin();
    let spec = args.theme.as_deref().or(config.theme.as_deref()).unwrap_or("dark");
    let chosen = crate::config::load_theme(spec)?;
    let index = match themes.iter().position(|t| *t == chosen) {
        Some(i) => i,
        None => {
            themes.push(chosen);
            themes.len() - 1
        }
    };
    let count = themes.len();
    let var = |k: &str| std::env::var(k).ok();
    let colors = Colors::detect(
        var("NO_COLOR").as_deref(),
        var("COLORTERM").as_deref(),
        var("TERM").as_deref(),
    );
    let ui = Ui::new(themes, colors);
    let mut state = State::new(keymap).with_themes(count, index);
    state.contexts = kubeconfig_contexts(kubeconfig);
    Ok((state, ui, config))
}

fn config_name(args: &UiArgs) -> String {
    args.config
        .clone()
        .or_else(crate::config::default_path)
        .map_or_else(|| "config.toml".into(), |p| p.display().to_string())
}

/// Context names for `:ctx`; an unreadable kubeconfig just means no names to offer.
fn kubeconfig_contexts(path: Option<&std::path::Path>) -> Vec<String> {
    let kc = match path {
        Some(p) => kube::config::Kubeconfig::read_from(p),
        None => kube::config::Kubeconfig::read(),
    };
    kc.map(|kc| kc.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

/// Opens the TUI against the cluster and runs until the user quits.
pub async fn run_live(args: &TuiArgs) -> Result<()> {
    let (mut state, ui, config) = initial_state(&args.ui, args.cluster.kubeconfig.as_deref())?;
    state.writes = crate::model::access::Writes::new(args.common.allow_writes, config.allow_writes);
    let prometheus = prometheus_spec(&args.traffic)?;
    let target = args.cluster.target_with(&config)?;
    let mut live = LiveSources::start(target, prometheus, args.traffic.scrape(&config), state.window_s);
    live.provenance = args.provenance.provenance.clone();
    let rx = live.take_receiver();
    let result = run_tui(state, &ui, rx, config.max_fps, &mut live).await;
    live.stop();
    // In-cluster runs delete their Job and Secret before meshtop exits.
    live.benches.wait_in_cluster().await;
    result
}

/// `--prometheus-url`, checked before anything starts.
pub fn prometheus_spec(args: &TrafficArgs) -> Result<Option<source::prometheus::Spec>> {
    args.prometheus_url
        .as_deref()
        .map(source::prometheus::Spec::parse)
        .transpose()
        .map_err(crate::exit::bad_input)
}

/// What drives the TUI loop besides keys: live sources, or a recording being replayed.
pub trait Driver {
    /// Carries out an effect the fold asked for. A returned receiver replaces the update
    /// channel and means the world starts over (a context switch).
    fn effect(&mut self, effect: Effect, state: &mut State) -> Option<mpsc::Receiver<Stamped>>;
    /// Every update from the channel, before it is folded (the recording tee).
    fn observe(&mut self, _update: &Stamped, _state: &mut State) {}
    /// Called every turn of the loop; may fold (a replay) and says when to wake next.
    fn tick(&mut self, _state: &mut State) -> Option<Instant> {
        None
    }
}

/// The live sources of one context: kube watches, usage, traffic (direct scrapes, or
/// Prometheus when asked for) and the clock; and the recording, when one is on.
pub(crate) struct LiveSources {
    target: source::kube::KubeTarget,
    prometheus: Option<source::prometheus::Spec>,
    scrape: source::scrape::Options,
    window: tokio::sync::watch::Sender<u32>,
    /// How often usage is read: more often while benchmarks run or have just ended, so a
    /// short run gets readings measured while it ran.
    usage_every: tokio::sync::watch::Sender<Duration>,
    benches: BenchRunner,
    /// The recording under way (its file, and the thread that writes it).
    recorder: Option<(std::path::PathBuf, crate::record::Background)>,
    /// Recordings stopped and still being closed by their thread (a slow disk catching up).
    closing: Vec<(std::path::PathBuf, crate::record::Closing)>,
    /// Sweeps saved to the results directory, and whether that was after their last
    /// readings came in (they are saved when they end, and again then).
    saved_sweeps: std::collections::BTreeMap<u32, (bool, Option<std::path::PathBuf>)>,
    /// Sweep saves under way: (sweep, whether it is the last save, the write).
    saving: Vec<(u32, bool, tokio::task::JoinHandle<Result<std::path::PathBuf>>)>,
    /// For the header of recordings started with R.
    pub(crate) provenance: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Live taps, and what stops them (each says so in its status when stopped).
    taps: Vec<tokio::task::JoinHandle<()>>,
    tap_stops: std::collections::BTreeMap<String, tokio::sync::watch::Sender<bool>>,
    rx: Option<mpsc::Receiver<Stamped>>,
}

impl LiveSources {
    pub(crate) fn start(
        target: source::kube::KubeTarget,
        prometheus: Option<source::prometheus::Spec>,
        scrape: source::scrape::Options,
        window_s: u32,
    ) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (window, window_rx) = tokio::sync::watch::channel(window_s);
        let (usage_every, usage_every_rx) = tokio::sync::watch::channel(POD_METRICS_INTERVAL);
        // Each source is supervised: a panic is its error, and it restarts (the closures
        // clone what a fresh start needs).
        use source::supervise::spawn;
        let (t, sent) = (target.clone(), tx.clone());
        let traffic = match &prometheus {
            Some(spec) => {
                let spec = spec.clone();
                spawn(Resource::Prometheus, tx.clone(), move || {
                    source::prometheus::run(
                        spec.clone(),
                        t.clone(),
                        window_rx.clone(),
                        SCRAPE_INTERVAL,
                        sent.clone(),
                    )
                })
            }
            None => spawn(Resource::ProxyScrape, tx.clone(), move || {
                let settings = source::scrape::Settings {
                    direct: scrape.direct,
                    interval: SCRAPE_INTERVAL,
                    budget: scrape.budget,
                    window: Some(window_rx.clone()),
                };
                source::scrape::run(t.clone(), settings, sent.clone())
            }),
        };
        let benches = BenchRunner::new(tx.clone());
        let (t, sent) = (target.clone(), tx.clone());
        let watches = spawn(Resource::Cluster, tx.clone(), move || {
            source::kube::run(t.clone(), sent.clone())
        });
        let (t, sent) = (target.clone(), tx.clone());
        let usage = spawn(Resource::PodMetrics, tx.clone(), move || {
            source::podmetrics::run_every(t.clone(), usage_every_rx.clone(), sent.clone())
        });
        let tasks = vec![watches, usage, traffic, tokio::spawn(clock(tx))];
        LiveSources {
            target,
            prometheus,
            scrape,
            window,
            usage_every,
            benches,
            recorder: None,
            closing: Vec::new(),
            saved_sweeps: Default::default(),
            saving: Vec::new(),
            provenance: "live session".into(),
            tasks,
            taps: Vec::new(),
            tap_stops: Default::default(),
            rx: Some(rx),
        }
    }
}

impl Driver for LiveSources {
    fn effect(&mut self, effect: Effect, state: &mut State) -> Option<mpsc::Receiver<Stamped>> {
        match effect {
            Effect::SwitchContext(ctx) => {
                // A recording covers one cluster: stop it rather than mix two.
                self.stop_recording(state);
                // Said after whatever the recording said (its path), not instead of it.
                if let Some(s) = state.sweeps.iter().find(|s| s.running()) {
                    let stopped = format!("sweep {} stopped: its cluster is no longer watched", s.id);
                    state.flash = Some(match state.flash.take() {
                        Some(before) => format!("{before} · {stopped}"),
                        None => stopped,
                    });
                }
                Some(self.switch_context(ctx))
            }
            Effect::ToggleRecording => {
                if self.recorder.is_some() {
                    self.stop_recording(state);
                } else {
                    self.start_recording(state);
                }
                None
            }
            Effect::Mark(name) => {
                let marker = Stamped::now(Update::Marker { name: name.clone() });
                self.observe(&marker, state);
                fold(state, marker);
                state.flash = Some(format!(
                    "marker {name:?}{}",
                    if self.recorder.is_some() {
                        " recorded"
                    } else {
                        " (not recording: R starts)"
                    }
                ));
                None
            }
            Effect::Replay(_) => None,
            Effect::SetWindow(secs) => {
                self.window.send_replace(secs);
                None
            }
            Effect::StartBench { id, config, target } => {
                self.benches.start(id, *config, target);
                None
            }
            Effect::StartInClusterBench {
                id,
                config,
                target,
                agents,
            } => {
                self.benches
                    .start_in_cluster(id, *config, target, agents, self.target.clone());
                None
            }
            Effect::StopBench(id) => {
                self.benches.stop(id);
                None
            }
            Effect::StartSweep(plan) => {
                self.benches.start_sweep(*plan, state);
                None
            }
            Effect::StopSweep(id) => {
                self.benches.stop_sweep(id);
                None
            }
            Effect::StartTap(spec) => {
                self.taps.retain(|t| !t.is_finished());
                // Tapping the same target again replaces the running tap (one source per name).
                let name = source::tap::source_name(&spec);
                if let Some(old) = self.tap_stops.remove(&name) {
                    let _ = old.send(true);
                }
                self.tap_stops.retain(|_, s| !s.is_closed());
                let (stop_tx, stop) = tokio::sync::watch::channel(false);
                self.tap_stops.insert(name, stop_tx);
                let (target, tx) = (self.target.clone(), self.benches.tx.clone());
                self.taps
                    .push(source::supervise::spawn(Resource::Tap, tx.clone(), move || {
                        source::tap::run(target.clone(), (*spec).clone(), tx.clone(), stop.clone())
                    }));
                None
            }
            Effect::StopTap => {
                for (_, s) in std::mem::take(&mut self.tap_stops) {
                    let _ = s.send(true);
                }
                state.flash = Some("tap stopped".into());
                None
            }
            Effect::Quit => None,
        }
    }

    fn observe(&mut self, update: &Stamped, state: &mut State) {
        let Some((_, r)) = self.recorder.as_ref() else { return };
        if r.write(update).is_err() {
            // A full disk must not take the session down: stop recording and say why.
            self.stop_recording(state);
            return;
        }
        if let Some(s) = state.recording.as_mut() {
            s.entries += 1;
        }
    }

    fn tick(&mut self, state: &mut State) -> Option<Instant> {
        self.save_sweeps(state);
        let closing = self.said_closed(state);
        let measuring = state.benches.iter().any(|b| {
            b.running()
                || b.result
                    .as_ref()
                    .is_some_and(|r| state.now - r.ended_at < crate::app::sweep::READING_GRACE_MS)
        });
        let every = if measuring {
            BENCH_USAGE_INTERVAL
        } else {
            POD_METRICS_INTERVAL
        };
        self.usage_every
            .send_if_modified(|e| std::mem::replace(e, every) != every);
        if let Some((_, r)) = self.recorder.as_ref() {
            // The recorder's thread flushes by itself; a failure is said even in a quiet
            // session, within a second.
            if r.failure().is_some() {
                self.stop_recording(state);
                return self.said_closed(state);
            }
            return Some(Instant::now() + Duration::from_secs(1));
        }
        closing
    }
}

impl LiveSources {
    fn start_recording(&mut self, state: &mut State) {
        let context = state
            .cluster
            .as_ref()
            .map_or("unknown".to_string(), |c| c.context.clone());
        match crate::cmd::record::open_recorder(None, &context, &self.provenance) {
            Ok((path, recorder)) => {
                let recorder = match crate::record::Background::spawn(recorder) {
                    Ok(r) => r,
                    Err(e) => {
                        state.flash = Some(format!("cannot record: {e:#}"));
                        return;
                    }
                };
                // The recording starts with what is known now, so it replays from a full
                // picture. A failure here shows at the next update (and stops recording).
                for u in crate::app::snapshot::snapshot(state) {
                    if recorder.write(&u).is_err() {
                        break;
                    }
                }
                state.recording = Some(crate::app::state::RecordingStatus {
                    path: path.display().to_string(),
                    since: crate::model::now_millis(),
                    entries: 0,
                });
                state.flash = Some(format!("recording to {}", path.display()));
                self.recorder = Some((path, recorder));
            }
            Err(e) => state.flash = Some(format!("cannot record: {e:#}")),
        }
    }

    /// Stops the recording mid-session. Its thread closes the file while the session
    /// goes on, so a stalled disk never holds keys or frames up; how it ended is said
    /// when it has.
    fn stop_recording(&mut self, state: &mut State) {
        state.recording = None;
        let Some((path, r)) = self.recorder.take() else { return };
        let closing = r.close_later();
        if closing.is_finished() {
            state.flash = Some(closed(&path, closing.wait(Duration::ZERO)));
        } else {
            state.flash = Some(format!("closing the recording {}…", path.display()));
            self.closing.push((path, closing));
        }
    }

    /// Says how the recordings that were closing ended; when to look again while some
    /// still are.
    fn said_closed(&mut self, state: &mut State) -> Option<Instant> {
        let mut said = Vec::new();
        let mut i = 0;
        while i < self.closing.len() {
            if self.closing[i].1.is_finished() {
                let (path, c) = self.closing.swap_remove(i);
                said.push(closed(&path, c.wait(Duration::ZERO)));
            } else {
                i += 1;
            }
        }
        if !said.is_empty() {
            state.flash = Some(said.join(" · "));
            state.dirty = true;
        }
        (!self.closing.is_empty()).then(|| Instant::now() + Duration::from_millis(100))
    }

    /// Closes every recording, the one under way and those stopped just before, and
    /// says how each ended. Bounded: a stalled disk is given 5 s, then left.
    fn finish_recordings(&mut self) -> Vec<String> {
        let mut said = Vec::new();
        if let Some((path, r)) = self.recorder.take() {
            said.push(closed(&path, r.finish()));
        }
        for (path, c) in self.closing.drain(..) {
            said.push(closed(&path, c.wait(Duration::from_secs(5))));
        }
        said
    }

    /// Saves ended sweeps like `meshtop sweep` does, once when they end and once more when
    /// the readings that come late are in (the same file). The writes run off the UI
    /// task; what they did is said when they are done.
    fn save_sweeps(&mut self, state: &mut State) {
        use futures::FutureExt;
        // Writes that finished: their path (kept for the second save) or their error.
        let mut i = 0;
        while i < self.saving.len() {
            if !self.saving[i].2.is_finished() {
                i += 1;
                continue;
            }
            let (id, settled, handle) = self.saving.swap_remove(i);
            let first = !self.saved_sweeps.contains_key(&id);
            match handle.now_or_never() {
                Some(Ok(Ok(path))) => {
                    if first {
                        state.flash = Some(format!("sweep {id} saved to {}", path.display()));
                    }
                    self.saved_sweeps.insert(id, (settled, Some(path)));
                }
                Some(Ok(Err(e))) => {
                    self.saved_sweeps.insert(id, (true, None));
                    state.flash = Some(format!("sweep {id} not saved: {e:#}"));
                }
                _ => {
                    self.saved_sweeps.insert(id, (true, None));
                }
            }
        }
        for s in &state.sweeps {
            let Some(finished) = s.finished else { continue };
            if self.saving.iter().any(|(id, _, _)| *id == s.id) {
                continue;
            }
            let settled = state.now - finished > crate::app::sweep::READING_GRACE_MS;
            let earlier = match self.saved_sweeps.get(&s.id) {
                Some((true, _)) => continue,
                Some((false, _)) if !settled => continue,
                Some((false, path)) => path.clone(),
                None => None,
            };
            let result = s.result.clone();
            // The second save replaces the first file (it only adds late readings).
            let write = move || match &earlier {
                Some(path) => crate::sweep::output::render(crate::sweep::output::Format::Json, &result)
                    .and_then(|text| crate::files::write(path, text))
                    .map(|()| path.clone()),
                None => crate::bench::store::default_dir().and_then(|dir| crate::sweep::output::save(&dir, &result)),
            };
            self.saving.push((s.id, settled, tokio::task::spawn_blocking(write)));
        }
    }

    pub(crate) fn take_receiver(&mut self) -> mpsc::Receiver<Stamped> {
        self.rx.take().expect("receiver taken once")
    }

    /// Stops the current sources and starts new ones on another context. A fresh channel
    /// means no stale update from the old cluster can reach the reset state.
    fn switch_context(&mut self, context: String) -> mpsc::Receiver<Stamped> {
        // A recording stopped for the switch goes on closing, and says how it ended, in
        // the new session: `stop` would wait for it and print to the alternate screen.
        let closing = std::mem::take(&mut self.closing);
        self.stop();
        let target = source::kube::KubeTarget {
            context: Some(context),
            ..self.target.clone()
        };
        let window = *self.window.borrow();
        let provenance = std::mem::take(&mut self.provenance);
        let last_sweep = self.benches.last_sweep;
        *self = LiveSources::start(target, self.prometheus.clone(), self.scrape, window);
        self.provenance = provenance;
        self.benches.last_sweep = last_sweep;
        self.closing = closing;
        self.take_receiver()
    }

    pub(crate) fn stop(&mut self) {
        for t in self.tasks.drain(..).chain(self.taps.drain(..)) {
            t.abort();
        }
        self.benches.stop_all();
        // Quitting while recording: the file is closed, and where it is (or why it is
        // not whole) is the last thing said.
        for said in self.finish_recordings() {
            tracing::info!("{said}");
            eprintln!("meshtop: {said}");
        }
    }
}

/// How a recording ended, as said to the user.
fn closed(path: &std::path::Path, how: Result<crate::record::RecordStats>) -> String {
    let path = path.display();
    match how {
        Ok(_) => format!("recording saved: {path} (meshtop replay {path})"),
        Err(e) => format!("recording {path} ended with an error: {e:#}"),
    }
}

/// Runs benchmarks for the TUI: the engine on its own threads, its snapshots forwarded
/// as updates (so they are folded, recorded and replayed like any other source).
pub struct BenchRunner {
    pub(crate) tx: source::UpdateTx,
    running: std::collections::BTreeMap<u32, crate::bench::Canceller>,
    /// Running sweeps and what stops them.
    sweeps: std::collections::BTreeMap<u32, tokio::sync::watch::Sender<bool>>,
    /// The last sweep id given out (ids are not reused within a session).
    last_sweep: u32,
    /// Running in-cluster runs and what stops them.
    in_cluster: std::collections::BTreeMap<u32, tokio::sync::watch::Sender<bool>>,
    /// Their tasks, which delete what they created when they end.
    in_cluster_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Where results are kept (`meshtop bench`'s directory unless set).
    results_dir: Option<std::path::PathBuf>,
}

impl BenchRunner {
    pub fn new(tx: source::UpdateTx) -> Self {
        BenchRunner {
            tx,
            running: Default::default(),
            sweeps: Default::default(),
            last_sweep: 0,
            in_cluster: Default::default(),
            in_cluster_tasks: Vec::new(),
            results_dir: None,
        }
    }

    /// Keeps results in `dir` instead of `meshtop bench`'s directory.
    pub fn with_results_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.results_dir = Some(dir);
        self
    }

    /// Runs a sweep: its start, its runs (as benchmark updates tagged with the sweep) and
    /// its end go to the update channel, so the fold builds its table, and a recording
    /// keeps it. Each target's pods are those the watched cluster says serve its URL.
    pub fn start_sweep(&mut self, plan: crate::sweep::SweepPlan, state: &mut State) {
        self.sweeps.retain(|_, stop| !stop.is_closed());
        if !self.sweeps.is_empty() {
            state.flash = Some("a sweep is running: x in the bench view stops it".into());
            return;
        }
        let id = self
            .last_sweep
            .max(state.sweeps.iter().map(|s| s.id).max().unwrap_or(0))
            + 1;
        self.last_sweep = id;
        let spec = crate::app::sweep::describe(state, &plan);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        self.sweeps.insert(id, stop_tx);
        let tx = self.tx.clone();
        state.flash = Some(format!(
            "sweep {id}: {} runs; its table fills in the Compare view (8) step by step",
            spec.runs()
        ));
        tokio::spawn(async move {
            let started = Update::SweepStarted {
                id,
                spec: Box::new(spec.clone()),
            };
            if tx.send(Stamped::now(started)).await.is_err() {
                return;
            }
            // The runner's callback cannot wait; a forwarding task keeps the order.
            let (events_tx, mut events) = mpsc::unbounded_channel();
            let forward = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(u) = events.recv().await {
                        if tx.send(Stamped::now(u)).await.is_err() {
                            return;
                        }
                    }
                })
            };
            let result = crate::sweep::run::run(&plan, &crate::sweep::run::Launch::Local, stop, |e| {
                if let Some(u) = crate::app::sweep::update_for(id, &spec, e) {
                    let _ = events_tx.send(u);
                }
            })
            .await;
            drop(events_tx);
            let _ = forward.await;
            let cancelled = result.as_ref().map_or(true, |r| r.cancelled);
            let _ = tx.send(Stamped::now(Update::SweepFinished { id, cancelled })).await;
        });
    }

    pub fn stop_sweep(&mut self, id: u32) {
        if let Some(stop) = self.sweeps.remove(&id) {
            let _ = stop.send(true);
        }
    }

    pub fn start(&mut self, id: u32, config: crate::bench::BenchConfig, target: crate::app::bench::BenchTarget) {
        let tx = self.tx.clone();
        let results_dir = self.results_dir.clone();
        let spec = crate::bench::config::shown_spec(&config);
        let url = spec.url.clone();
        let started = Update::BenchStarted {
            id,
            config: Box::new(spec.clone()),
            target,
        };
        let run = crate::bench::engine::start(config);
        if let Ok(run) = &run {
            self.running.insert(id, run.canceller());
        }
        tokio::spawn(async move {
            let send = |u: Update| tx.send(Stamped::now(u));
            if send(started).await.is_err() {
                return;
            }
            let run = match run {
                Ok(run) => run,
                Err(e) => {
                    let _ = send(Update::BenchFailed {
                        id,
                        message: format!("{e:#}"),
                    })
                    .await;
                    return;
                }
            };
            let mut progress = run.progress();
            let name = format!("bench #{id}");
            let tap_status = |state| {
                let mut s =
                    crate::model::tap::TapSourceStatus::new(crate::model::tap::TapOrigin::Bench, url.clone(), state);
                s.message = Some(format!(
                    "about {} sampled requests a second",
                    crate::bench::engine::SAMPLES_PER_SECOND
                ));
                Update::TapSource {
                    name: name.clone(),
                    status: s,
                }
            };
            let _ = send(tap_status(crate::model::tap::TapSourceState::Streaming)).await;
            while progress.changed().await.is_ok() {
                let p = progress.latest();
                let finished = p.phase == crate::bench::Phase::Finished;
                let events = crate::bench::tap::tap_events(run.take_samples(), &spec, &name);
                if !events.is_empty() && send(Update::TapEvents { events }).await.is_err() {
                    return;
                }
                if send(Update::BenchProgress {
                    id,
                    progress: Box::new(p),
                })
                .await
                .is_err()
                {
                    return;
                }
                if finished {
                    break;
                }
            }
            let update = ended(id, run.finish().await, results_dir.as_deref());
            let _ = send(tap_status(crate::model::tap::TapSourceState::Ended)).await;
            let _ = send(update).await;
        });
    }

    pub fn stop(&mut self, id: u32) {
        if let Some(c) = self.running.remove(&id) {
            c.cancel();
        }
        if let Some(stop) = self.in_cluster.remove(&id) {
            let _ = stop.send(true);
        }
    }

    /// Runs a benchmark from agent pods (the user confirmed the writes): the live merge
    /// goes to the fold as progress and agent updates, the result like any run's. `x`
    /// stops it; its Job and Secret are deleted however it ends.
    pub fn start_in_cluster(
        &mut self,
        id: u32,
        config: crate::bench::BenchConfig,
        target: crate::app::bench::BenchTarget,
        agents: crate::agents::plan::InCluster,
        kube: source::kube::KubeTarget,
    ) {
        self.in_cluster.retain(|_, s| !s.is_closed());
        self.in_cluster_tasks.retain(|t| !t.is_finished());
        let tx = self.tx.clone();
        let results_dir = self.results_dir.clone();
        let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
        self.in_cluster.insert(id, stop_tx);
        let started = Update::BenchStarted {
            id,
            config: Box::new(crate::bench::config::shown_spec(&config)),
            target,
        };
        let task = tokio::spawn(async move {
            // Sent even when the TUI has quit: the run then only cleans up.
            let _ = tx.send(Stamped::now(started)).await;
            let live_tx = tx.clone();
            let outcome = async move {
                let conn = source::kube::connect(&kube).await?;
                let tls = crate::agents::run::read_tls(&config)?;
                let plan = agents.plan(config, tls);
                let (whole, start) = (plan.config.spec.clone(), plan.start_at.as_millisecond());
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                // Progress may be dropped when the fold is behind; the next one replaces it.
                // What the command line prints goes to the debug log: the screen is the TUI's.
                let run_id = plan.run.clone();
                let said = move |s: String| tracing::info!(run = %run_id, "{s}");
                let observe = |live: &crate::agents::live::Live, _| {
                    let progress = live.progress(&whole, start, crate::model::now_millis());
                    let _ = live_tx.try_send(Stamped::now(Update::BenchProgress {
                        id,
                        progress: Box::new(progress),
                    }));
                    let _ = live_tx.try_send(Stamped::now(Update::BenchAgents {
                        id,
                        agents: live.statuses(&whole, start),
                    }));
                };
                crate::agents::run::run(&conn.client, &plan, agents.on_failure, stopped, observe, said).await
            }
            .await;
            let update = ended(id, outcome, results_dir.as_deref());
            let _ = tx.send(Stamped::now(update)).await;
        });
        self.in_cluster_tasks.push(task);
    }

    /// After the TUI has quit (and `stop_all`): waits, at most 90 s, for in-cluster runs to
    /// delete their Job and Secret, saying so.
    pub async fn wait_in_cluster(&mut self) {
        let tasks: Vec<_> = self.in_cluster_tasks.drain(..).filter(|t| !t.is_finished()).collect();
        if tasks.is_empty() {
            return;
        }
        eprintln!("meshtop: stopping the in-cluster agents and deleting their Job and Secret…");
        if tokio::time::timeout(Duration::from_secs(90), futures::future::join_all(tasks))
            .await
            .is_err()
        {
            eprintln!("meshtop: not done after 90 s: `meshtop cleanup --allow-writes` deletes what is left");
        }
    }

    fn stop_all(&mut self) {
        for (_, c) in std::mem::take(&mut self.running) {
            c.cancel();
        }
        for (_, stop) in std::mem::take(&mut self.sweeps)
            .into_iter()
            .chain(std::mem::take(&mut self.in_cluster))
        {
            let _ = stop.send(true);
        }
    }
}

/// How a TUI run ended, as the fold hears it: its result (kept, see `save_result`) or why
/// it failed.
fn ended(id: u32, outcome: Result<crate::model::bench::BenchResult>, dir: Option<&std::path::Path>) -> Update {
    match outcome {
        Ok(result) => {
            save_result(dir, &result);
            Update::BenchFinished {
                id,
                result: Box::new(result),
            }
        }
        Err(e) => Update::BenchFailed {
            id,
            message: format!("{e:#}"),
        },
    }
}

/// Keeps a TUI run's result like `meshtop bench` keeps its results; a failure to save is
/// not a failed run, so it goes to the debug log (--log), not to the run.
fn save_result(dir: Option<&std::path::Path>, result: &crate::model::bench::BenchResult) {
    match dir.map_or_else(crate::bench::store::default_dir, |d| Ok(d.to_path_buf())) {
        Ok(dir) => {
            if let Err(e) = crate::bench::store::save(&dir, result) {
                tracing::warn!(dir = %dir.display(), "saving the bench result: {e:#}");
            }
        }
        Err(e) => tracing::warn!("no directory for bench results: {e:#}"),
    }
}

/// Emits a tick every second so ages and "updated N ago" advance.
async fn clock(tx: source::UpdateTx) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if tx.send(Stamped::now(Update::Tick)).await.is_err() {
            return;
        }
    }
}

/// The one task that folds updates and key actions into the state and draws it.
pub async fn run_tui(
    mut state: State,
    ui: &Ui,
    mut rx: mpsc::Receiver<Stamped>,
    max_fps: u32,
    driver: &mut dyn Driver,
) -> Result<()> {
    let mut tui = Tui::enter()?;
    let mut keys = EventStream::new();
    let frame = Duration::from_secs(1) / max_fps.max(1);
    let mut last_draw = Instant::now() - frame;
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = signal(tokio::signal::unix::SignalKind::hangup())?;
    // In raw mode ctrl-c is a key; SIGINT still comes from `kill -INT` and must not skip
    // the restore either.
    let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sources_alive = true;
    let mut stats = crate::perf::FrameStats::from_env();
    // What the last frame drew, to say what changed in a costly one.
    let mut drawn = FrameInputs::of(&state);
    loop {
        let driver_wake = driver.tick(&mut state);
        if state.dirty && last_draw.elapsed() >= frame {
            let started = std::time::Instant::now();
            let cpu = stats.as_ref().map(|_| crate::perf::thread_cpu());
            tui.terminal
                .draw(|f| ui.render(&state, f))
                .wrap_err("drawing the screen")?;
            let (io, bytes) = tui.take_io();
            if let (Some(s), Some(cpu)) = (&mut stats, cpu) {
                let now = FrameInputs::of(&state);
                let frame = crate::perf::Frame {
                    wall: started.elapsed(),
                    cpu: crate::perf::thread_cpu().saturating_sub(cpu),
                    io,
                    bytes,
                };
                s.drew(frame, || now.changes_since(&drawn));
                drawn = now;
            }
            state.dirty = false;
            last_draw = Instant::now();
        }
        // Sleep until the next allowed frame only when there is something to draw.
        let mut wake = if state.dirty {
            last_draw + frame
        } else {
            Instant::now() + Duration::from_secs(3600)
        };
        if let Some(w) = driver_wake {
            wake = wake.min(w);
        }
        tokio::select! {
            update = rx.recv(), if sources_alive => match update {
                Some(u) => {
                    driver.observe(&u, &mut state);
                    let mut batch = vec![u];
                    for _ in 0..MAX_BATCH {
                        match rx.try_recv() {
                            Ok(u) => {
                                driver.observe(&u, &mut state);
                                batch.push(u);
                            }
                            Err(_) => break,
                        }
                    }
                    // Aggregates are recomputed once per batch, not once per update.
                    let started = std::time::Instant::now();
                    fold_all(&mut state, batch);
                    if let Some(s) = &mut stats {
                        s.folded(started.elapsed());
                    }
                }
                // Every source ended (they only end when told to); keep serving keys.
                None => sources_alive = false,
            },
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    let view = state.entry().view.kind();
                    if let Some(action) = state.keymap.resolve(state.mode, view, KeyCombo::from_event(&k)) {
                        match apply_action(&mut state, action) {
                            Some(Effect::Quit) => break,
                            Some(e) => {
                                if let Some(fresh) = driver.effect(e, &mut state) {
                                    rx = fresh;
                                    sources_alive = true;
                                    state.reset_world();
                                }
                            }
                            None => {}
                        }
                    }
                }
                Some(Ok(Event::Resize(..))) => state.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).wrap_err("reading terminal input"),
                None => break,
            },
            _ = tokio::time::sleep_until(wake) => {}
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(tui);
    match stats {
        Some(s) => s.write(),
        None => Ok(()),
    }
}

/// What a frame was drawn from, as far as its cost goes (for `MESHTOP_FRAME_STATS`).
#[derive(Clone, Copy, PartialEq)]
struct FrameInputs {
    view: crate::app::state::ViewKind,
    members: u64,
    rows: u64,
    figures: u64,
    sort: u64,
    pods: usize,
    /// The row cache's counts of keys and orders built from every row (not kept or patched).
    built: (u64, u64),
}

impl FrameInputs {
    fn of(state: &State) -> FrameInputs {
        FrameInputs {
            view: state.entry().view.kind(),
            members: state.derived.members_generation,
            rows: state.derived.rows_generation,
            figures: state.derived.figures_generation,
            sort: state.derived.sort_generation,
            pods: state.pods.len(),
            built: state.row_cache.built(),
        }
    }

    /// e.g. "pods (10000 pods): rows changed in place, figures changed".
    fn changes_since(&self, before: &FrameInputs) -> String {
        let mut what = Vec::new();
        if self.view != before.view {
            what.push(format!("view switched from {}", before.view.name()));
        }
        // Rows that came or went also changed; said once.
        let came = self.members != before.members;
        for (changed, name) in [
            (came, "rows came or went"),
            (!came && self.rows != before.rows, "rows changed in place"),
            (self.figures != before.figures, "figures changed"),
            (self.sort != before.sort, "live orders caught up"),
            (self.built.0 != before.built.0, "keys built from every row"),
            (self.built.1 != before.built.1, "order built from every row"),
        ] {
            if changed {
                what.push(name.to_string());
            }
        }
        if what.is_empty() {
            what.push("no rows or figures changed (keys, clock, status)".into());
        }
        format!("{} ({} pods): {}", self.view.name(), self.pods, what.join(", "))
    }
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).wrap_err("installing a signal handler")
}

//! `meshtop replay FILE` and `meshtop demo`: a recording fed back through the same fold and
//! views as a live session, with pause, speed, seek (by keyframes), markers and loop; and
//! the export of a replay to an asciicast v2 file.

use std::path::Path;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, bail};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use crate::app::figures::settle;
use crate::app::fold::apply;
use crate::app::state::ReplayStatus;
use crate::app::{Effect, ReplayCommand, Stamped, State};
use crate::cli::UiArgs;
use crate::exit::bad_input;
use crate::record::Chunked;
use crate::record::cast::{CastMeta, CastWriter};
use crate::record::replay::{Keyframes, Player};
use crate::run::Driver;

/// The demo shipped inside the binary, so `meshtop demo` works from the repo, after
/// `cargo install`, and from a release archive alike.
pub const DEMO: &[u8] = include_bytes!("../../recordings/demo.mtrec");

/// Snapshots every 10 s of recording time, at most 32 (then spaced wider). They are the
/// replay's memory: a state can be megabytes (an hour of the demo's session, repeated, was
/// 9 MB a snapshot, 2.3 GB at the 256 once allowed). At 32, a seek back refolds at most
/// 1/16 of the recording past the nearest one.
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(10);
const KEYFRAMES_MAX: usize = 32;

/// Replays a recording into the state; the loop calls [`Driver::tick`] every turn.
pub struct ReplayDriver {
    /// Decoded a frame at a time: memory is the keyframes, not the file.
    recording: Chunked,
    player: Player,
    keyframes: Keyframes<State>,
    held: usize,
    source: String,
    provenance: String,
    /// Set when the file stopped reading as it was indexed (changed on disk): the replay
    /// stays where it was.
    broken: Option<String>,
}

impl ReplayDriver {
    /// `initial` is the state before any entry (themes, keys); it becomes the first keyframe.
    pub fn new(recording: Chunked, initial: &State, looping: bool) -> ReplayDriver {
        let markers = recording.markers().into_iter().map(|m| m.index);
        let mut player = Player::from_offsets(recording.offsets().iter().copied(), markers);
        player.set_looping(looping);
        player.play(Instant::now());
        ReplayDriver {
            player,
            keyframes: Keyframes::new(initial.clone(), KEYFRAME_INTERVAL, KEYFRAMES_MAX),
            held: 0,
            source: recording.header.source.clone(),
            provenance: recording.header.provenance.clone(),
            recording,
            broken: None,
        }
    }

    pub fn player(&mut self) -> &mut Player {
        &mut self.player
    }

    /// Folds what is due at `now` (rewinding from a keyframe after a seek back or a loop).
    pub fn advance(&mut self, state: &mut State, now: Instant) {
        if self.broken.is_none() {
            self.fold_due(state, now);
        } else {
            self.player.pause(now);
        }
        self.show_status(state);
    }

    fn fold_due(&mut self, state: &mut State, now: Instant) {
        let due = self.player.due(now);
        let read = if due.start < self.held {
            let (from, snapshot) = self.keyframes.before(due.start);
            let mut snapshot = snapshot.clone();
            let read = self
                .recording
                .for_each(from..due.start, |e| apply(&mut snapshot, e.clone()));
            settle(&mut snapshot);
            state.adopt_world(snapshot);
            self.held = due.start;
            read
        } else {
            Ok(())
        };
        let end = due.end.min(self.recording.len());
        let (keyframes, player) = (&mut self.keyframes, &self.player);
        let mut i = self.held;
        let read = read.and_then(|()| {
            self.recording.for_each(self.held..end, |e| {
                apply(state, e.clone());
                // Keyframes hold settled states: seeking back shows current aggregates at once.
                if keyframes.due(i + 1, player.due_at(i)) {
                    settle(state);
                    keyframes.record(i + 1, player.due_at(i), state);
                }
                i += 1;
            })
        });
        settle(state);
        self.held = self.held.max(end);
        if let Err(e) = read {
            // What was read is shown, and the replay ends there for good: going on would fold
            // later entries onto a state that lacks the ones that could not be read.
            self.player.pause(now);
            let why = format!("replay stopped: {e:#}");
            state.flash = Some(why.clone());
            state.dirty = true;
            self.broken = Some(why);
        }
    }

    fn show_status(&mut self, state: &mut State) {
        let status = ReplayStatus {
            position_s: self.player.position().as_secs_f64(),
            duration_s: self.player.duration().as_secs_f64(),
            speed: self.player.speed(),
            paused: self.player.is_paused(),
            looping: self.player.is_looping(),
            source: self.source.clone(),
            provenance: self.provenance.clone(),
        };
        // The position moves every tenth of a second; redraw only when it shows a change.
        let shown = |s: &ReplayStatus| ((s.position_s * 10.0) as i64, s.paused, s.speed.to_bits(), s.looping);
        if state.replay.as_ref().is_none_or(|old| shown(old) != shown(&status)) {
            state.dirty = true;
        }
        state.replay = Some(status);
    }

    pub fn command(&mut self, command: ReplayCommand, state: &mut State, now: Instant) {
        let p = &mut self.player;
        match command {
            ReplayCommand::TogglePause => p.toggle_pause(now),
            ReplayCommand::Slower => {
                if !p.slower(now) {
                    state.flash = Some("already at the slowest speed (0.5x)".into());
                }
            }
            ReplayCommand::Faster => {
                if !p.faster(now) {
                    state.flash = Some("already at the fastest speed (8x)".into());
                }
            }
            ReplayCommand::Skip(secs) => p.skip(secs * 1000, now),
            ReplayCommand::SeekTo(ms) => p.seek(Duration::from_millis(ms), now),
            ReplayCommand::NextMarker => {
                if p.next_marker(now).is_none() {
                    state.flash = Some("no marker ahead".into());
                }
            }
            ReplayCommand::PreviousMarker => {
                if p.previous_marker(now).is_none() {
                    state.flash = Some("no marker before this point".into());
                }
            }
            ReplayCommand::ToggleLoop => {
                let looping = !p.is_looping();
                p.set_looping(looping);
            }
        }
        self.advance(state, now);
    }
}

impl Driver for ReplayDriver {
    fn effect(&mut self, effect: Effect, state: &mut State) -> Option<mpsc::Receiver<Stamped>> {
        match effect {
            Effect::Replay(c) => self.command(c, state, Instant::now()),
            Effect::SwitchContext(_) => state.flash = Some("a replay has no cluster to switch to".into()),
            Effect::StartBench { .. } | Effect::StartInClusterBench { .. } | Effect::StartSweep(_) => {
                state.flash = Some("benchmarks run against live targets; start meshtop without replay".into())
            }
            Effect::StartTap(_) | Effect::StopTap => {
                state.flash =
                    Some("this is a replay: tap needs a live cluster (the recorded requests show in 9 and 0)".into())
            }
            Effect::ToggleRecording | Effect::Mark(_) => {
                state.flash = Some("this is a replay: record live sessions (R in meshtop, or meshtop record)".into())
            }
            Effect::SetWindow(_) | Effect::StopBench(_) | Effect::StopSweep(_) | Effect::Quit => {}
        }
        None
    }

    fn tick(&mut self, state: &mut State) -> Option<tokio::time::Instant> {
        self.advance(state, Instant::now());
        (!self.player.is_paused() && !self.player.is_finished())
            .then(|| tokio::time::Instant::now() + Duration::from_millis(100))
    }
}

/// Indexes a recording, saying what could not be read (the rest still replays). A file
/// that is no recording at all is bad input.
pub fn open(path: &Path) -> Result<Chunked> {
    let rec = Chunked::open(path).map_err(|e| bad_input(format!("{e:#}")))?;
    report_problems(&rec, &path.display().to_string());
    Ok(rec)
}

fn report_problems(rec: &Chunked, name: &str) {
    for p in rec.problems.iter().take(5) {
        eprintln!("meshtop: {name}: {p}");
    }
    if rec.problems.len() > 5 {
        eprintln!("meshtop: {name}: {} more problems", rec.problems.len() - 5);
    }
    if let Some(s) = &rec.stopped {
        eprintln!("meshtop: {name}: {s}; replaying what is whole");
    }
}

fn problems_flash(rec: &Chunked) -> Option<String> {
    match (&rec.stopped, rec.problems.len()) {
        (Some(s), _) => Some(format!("recording damaged: {s}; replaying what is whole")),
        (None, 0) => None,
        (None, n) => Some(format!("{n} unreadable parts skipped (first: {})", rec.problems[0])),
    }
}

/// `meshtop replay FILE [--export-cast OUT]`.
pub async fn command(
    ui: &UiArgs,
    file: &Path,
    speed: f64,
    looping: bool,
    export: Option<&Path>,
    size: &str,
) -> Result<()> {
    if !crate::record::replay::SPEEDS.contains(&speed) {
        return Err(bad_input(format!("--speed {speed}: choose 0.5, 1, 2, 4 or 8")));
    }
    let (w, h) = parse_size(size).map_err(bad_input)?;
    let rec = open(file)?;
    match export {
        Some(out) => {
            export_cast(ui, rec, out, w, h, Duration::from_millis(500))?;
            eprintln!(
                "meshtop: wrote {} (play it with `asciinema play {}`)",
                out.display(),
                out.display()
            );
            Ok(())
        }
        None => run(ui, rec, speed, looping).await,
    }
}

/// `meshtop replay FILE` (or the demo): the TUI on the recording.
pub async fn run(args: &UiArgs, rec: Chunked, speed: f64, looping: bool) -> Result<()> {
    if rec.is_empty() {
        bail!("the recording holds no updates to replay");
    }
    let (mut state, ui, config) = crate::run::initial_state(args, None)?;
    state.flash = problems_flash(&rec);
    let mut driver = ReplayDriver::new(rec, &state, looping);
    set_speed(&mut driver, speed);
    // No sources: the channel stays open but silent; the replay driver feeds the fold.
    let (_tx, rx) = mpsc::channel(1);
    crate::run::run_tui(state, &ui, rx, config.max_fps, &mut driver).await
}

fn set_speed(driver: &mut ReplayDriver, speed: f64) {
    let now = Instant::now();
    while driver.player().speed() < speed && driver.player().faster(now) {}
    while driver.player().speed() > speed && driver.player().slower(now) {}
}

/// `meshtop demo`: the embedded recording, looping.
pub async fn demo(args: &UiArgs) -> Result<()> {
    let rec = Chunked::from_static(DEMO).map_err(|e| color_eyre::eyre::eyre!("the embedded demo: {e}"))?;
    report_problems(&rec, "embedded demo");
    run(args, rec, 1.0, true).await
}

/// Renders the replay as it would play at normal speed, a frame every `step` of recording
/// time (only frames that changed are written), into an asciicast v2 file. Frames are
/// written as they are drawn, and the recording is decoded a frame at a time: memory does
/// not grow with its length.
pub fn export_cast(args: &UiArgs, mut rec: Chunked, out: &Path, width: u16, height: u16, step: Duration) -> Result<()> {
    // Written beside it and renamed when whole: a failed export leaves no half cast.
    let name = out.file_name().map_or_else(|| "cast".into(), |n| n.to_string_lossy());
    let partial = out.with_file_name(format!(".{name}.partial"));
    let file = crate::files::create(&partial).wrap_err_with(|| format!("creating {}", partial.display()))?;
    match write_cast_frames(args, &mut rec, file, width, height, step)
        .wrap_err_with(|| format!("writing {}", out.display()))
    {
        Ok(()) => std::fs::rename(&partial, out)
            .wrap_err_with(|| format!("renaming {} to {}", partial.display(), out.display())),
        Err(e) => {
            // Best effort: the error that matters is the one returned.
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write_cast_frames(
    args: &UiArgs,
    rec: &mut Chunked,
    file: std::fs::File,
    width: u16,
    height: u16,
    step: Duration,
) -> Result<()> {
    let (mut state, ui, _) = crate::run::initial_state(args, None)?;
    let meta = CastMeta {
        title: Some(format!("meshtop replay: {}", rec.header.source)),
        timestamp: Some(rec.header.recorded_at / 1000),
    };
    let markers: Vec<(f64, String)> = rec
        .markers()
        .into_iter()
        .map(|m| (m.seconds, m.name.to_string()))
        .collect();
    let mut markers = markers.into_iter().peekable();
    let end = rec.len().checked_sub(1).map_or(0.0, |last| rec.seconds(last));
    let mut term = Terminal::new(TestBackend::new(width, height)).wrap_err("creating the frame buffer")?;
    let mut cast = CastWriter::new(std::io::BufWriter::new(file), width, height, &meta)?;
    let (mut next, mut t, mut drawn) = (0usize, 0.0f64, false);
    loop {
        let due = (next..rec.len()).take_while(|&i| rec.seconds(i) <= t).count();
        rec.for_each(next..next + due, |e| apply(&mut state, e.clone()))?;
        next += due;
        settle(&mut state);
        if state.dirty || !drawn {
            term.draw(|f| ui.render(&state, f)).wrap_err("rendering a frame")?;
            state.dirty = false;
            drawn = true;
            while let Some((at, name)) = markers.next_if(|(at, _)| *at <= t) {
                cast.marker(at, &name)?;
            }
            cast.frame(t, term.backend().buffer())?;
        }
        if t >= end {
            break;
        }
        t += step.as_secs_f64();
    }
    for (at, name) in markers {
        cast.marker(at, &name)?;
    }
    let mut file = cast.finish()?;
    std::io::Write::flush(&mut file).wrap_err("flushing")?;
    Ok(())
}

/// `120x36` → (120, 36).
pub fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("size {s:?}: expected WIDTHxHEIGHT, e.g. 120x36"))?;
    // Every frame is a buffer of width x height cells: bounded like a very large screen.
    let n = |v: &str, max: u16| v.trim().parse::<u16>().ok().filter(|n| (20..=max).contains(n));
    match (n(w, 1000), n(h, 500)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!(
            "size {s:?}: width from 20 to 1000 and height from 20 to 500, e.g. 120x36"
        )),
    }
}

//! Replay timing, apart from any clock or terminal: the caller passes "now" in, so tests run on
//! a fake clock.
//!
//! [`Player`] says which entries are due; [`Keyframes`] let the caller's state go backwards.
//! A replay loop looks like this (`S` is the app's world state, `fold` the app's fold):
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # use meshtop::record::{Keyframes, Player};
//! # let entries: Vec<u32> = vec![1, 2, 3];
//! # let times = [0, 500, 1_000];
//! # let fold = |s: &mut u32, e: &u32| *s += e;
//! let mut player = Player::from_offsets(times, []);
//! let mut keyframes = Keyframes::new(0u32, Duration::from_secs(30), 64);
//! let (mut state, mut held) = (0u32, 0);
//! player.play(Instant::now());
//! // every frame, and after any key that moved the player:
//! let due = player.due(Instant::now());
//! keyframes.catch_up(&mut state, &mut held, due, &entries, |i| player.due_at(i), fold);
//! ```

use std::ops::Range;
use std::time::{Duration, Instant};

use super::reader::Recording;
use crate::app::Update;

/// Replay speeds, slowest first.
pub const SPEEDS: [f64; 5] = [0.5, 1.0, 2.0, 4.0, 8.0];
const NORMAL_SPEED: usize = 1;

/// Within this much recording time after a marker, "previous marker" goes to the one before it,
/// so that pressing it twice does not stay put.
const PREVIOUS_MARKER_GRACE_MS: f64 = 1_000.0;

/// Where a replay is and which entries are due.
///
/// [`due`](Player::due) returns a range of entry indexes to fold. Its start is where the caller's
/// state must be: normally the end of the previous range, but after a seek backwards or a loop
/// it is lower, and the caller first rewinds its state to hold exactly that many entries
/// ([`Keyframes::catch_up`] does both).
#[derive(Debug, Clone)]
pub struct Player {
    /// When each entry is due, in ms from the start: never before the entry ahead of it, so
    /// replay keeps file order even where sources stamped slightly out of order.
    due_ms: Vec<u64>,
    /// Entry indexes of the markers.
    markers: Vec<usize>,
    end_ms: u64,
    /// The position at `anchor`, in ms.
    pos_ms: f64,
    /// Since when it has been playing; None while paused.
    anchor: Option<Instant>,
    speed: usize,
    looping: bool,
    /// Entries the caller's state holds, as far as the player has told it.
    held: usize,
}

impl Player {
    pub fn new(recording: &Recording) -> Player {
        let start = recording.header.recorded_at;
        let offsets = recording.entries.iter().map(|e| e.at.saturating_sub(start));
        let markers = recording.markers().into_iter().map(|m| m.index);
        Player::from_offsets(offsets, markers)
    }

    /// From each entry's offset in ms (an entry before the start is due at once) and the indexes
    /// of the markers among them. Paused at the start, at normal speed.
    pub fn from_offsets(offsets: impl IntoIterator<Item = i64>, markers: impl IntoIterator<Item = usize>) -> Player {
        let mut latest = 0;
        let due_ms: Vec<u64> = offsets
            .into_iter()
            .map(|o| {
                latest = latest.max(u64::try_from(o).unwrap_or(0));
                latest
            })
            .collect();
        let mut markers: Vec<usize> = markers.into_iter().filter(|&i| i < due_ms.len()).collect();
        markers.sort_unstable();
        Player {
            end_ms: latest,
            due_ms,
            markers,
            pos_ms: 0.0,
            anchor: None,
            speed: NORMAL_SPEED,
            looping: false,
            held: 0,
        }
    }

    /// The entries whose time has come since the last call (see the type's note on rewinds).
    pub fn due(&mut self, now: Instant) -> Range<usize> {
        self.advance(now);
        let len = self.due_ms.len();
        if self.anchor.is_some() && self.pos_ms >= self.end_ms as f64 {
            if self.looping && self.held == len && self.end_ms > 0 {
                // Everything was shown: start over, carrying the overshoot.
                let over = (self.pos_ms - self.end_ms as f64) % self.end_ms as f64;
                self.set_position(over, now);
            } else if !self.looping || self.end_ms == 0 {
                self.pos_ms = self.end_ms as f64;
                self.anchor = None;
            }
        }
        let start = self.held;
        let end = self.count_due(self.pos_ms.min(self.end_ms as f64)).max(start);
        self.held = end;
        start..end
    }

    /// Recording time at the last call.
    pub fn position(&self) -> Duration {
        Duration::from_secs_f64(self.pos_ms.max(0.0) / 1000.0)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.end_ms)
    }

    /// When entry `index` is due, from the start.
    pub fn due_at(&self, index: usize) -> Duration {
        Duration::from_millis(self.due_ms.get(index).copied().unwrap_or(self.end_ms))
    }

    pub fn is_paused(&self) -> bool {
        self.anchor.is_none()
    }

    /// At the end and not looping.
    pub fn is_finished(&self) -> bool {
        !self.looping && self.pos_ms >= self.end_ms as f64
    }

    /// Plays on; from the start again when it had finished.
    pub fn play(&mut self, now: Instant) {
        if self.anchor.is_none() {
            if self.is_finished() {
                self.set_position(0.0, now);
            }
            self.anchor = Some(now);
        }
    }

    pub fn pause(&mut self, now: Instant) {
        self.advance(now);
        self.anchor = None;
    }

    pub fn toggle_pause(&mut self, now: Instant) {
        if self.is_paused() {
            self.play(now)
        } else {
            self.pause(now)
        }
    }

    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed]
    }

    /// One step faster; false when already at the fastest.
    pub fn faster(&mut self, now: Instant) -> bool {
        self.set_speed_step(self.speed + 1, now)
    }

    /// One step slower; false when already at the slowest.
    pub fn slower(&mut self, now: Instant) -> bool {
        self.speed.checked_sub(1).is_some_and(|s| self.set_speed_step(s, now))
    }

    fn set_speed_step(&mut self, step: usize, now: Instant) -> bool {
        if step >= SPEEDS.len() {
            return false;
        }
        self.advance(now);
        self.speed = step;
        true
    }

    pub fn is_looping(&self) -> bool {
        self.looping
    }

    pub fn set_looping(&mut self, looping: bool) {
        self.looping = looping;
    }

    /// Jumps to a recording time (clamped to the recording), keeping play or pause.
    pub fn seek(&mut self, to: Duration, now: Instant) {
        // From nanoseconds: `as_secs_f64() * 1000.0` makes 1.019 s 1018.999… ms, which leaves out
        // an entry due at exactly 1019 ms.
        self.set_position(to.as_nanos() as f64 / 1e6, now);
    }

    /// Jumps by `delta_ms` of recording time, backwards when negative.
    pub fn skip(&mut self, delta_ms: i64, now: Instant) {
        self.advance(now);
        self.set_position(self.pos_ms + delta_ms as f64, now);
    }

    /// Jumps to the next marker; its entry index, or None when there is none ahead.
    pub fn next_marker(&mut self, now: Instant) -> Option<usize> {
        self.advance(now);
        let pos = self.pos_ms;
        let index = *self.markers.iter().find(|&&i| self.due_ms[i] as f64 > pos)?;
        self.set_position(self.due_ms[index] as f64, now);
        Some(index)
    }

    /// Jumps to the marker before the position (skipping one just passed); None when none is.
    pub fn previous_marker(&mut self, now: Instant) -> Option<usize> {
        self.advance(now);
        let pos = self.pos_ms;
        let index = *self
            .markers
            .iter()
            .rev()
            .find(|&&i| self.due_ms[i] as f64 + PREVIOUS_MARKER_GRACE_MS <= pos)?;
        self.set_position(self.due_ms[index] as f64, now);
        Some(index)
    }

    /// Moves the position on to `now` and re-anchors there.
    fn advance(&mut self, now: Instant) {
        if let Some(anchor) = self.anchor {
            let elapsed = now.saturating_duration_since(anchor).as_secs_f64() * 1000.0;
            self.pos_ms += elapsed * self.speed();
            self.anchor = Some(now);
        }
    }

    fn set_position(&mut self, ms: f64, now: Instant) {
        self.pos_ms = ms.clamp(0.0, self.end_ms as f64);
        if self.anchor.is_some() {
            self.anchor = Some(now);
        }
        // Going back means the caller's state holds too much: the next range starts lower.
        self.held = self.held.min(self.count_due(self.pos_ms));
    }

    fn count_due(&self, pos_ms: f64) -> usize {
        self.due_ms.partition_point(|&d| d as f64 <= pos_ms)
    }
}

/// Which updates of a recording are markers, for a player built from raw offsets.
pub fn marker_indexes<'a>(updates: impl IntoIterator<Item = &'a Update>) -> Vec<usize> {
    updates
        .into_iter()
        .enumerate()
        .filter_map(|(i, u)| matches!(u, Update::Marker { .. }).then_some(i))
        .collect()
}

/// Snapshots of a state taken while folding forward, so seeking back refolds from the nearest
/// one instead of from the start.
///
/// A snapshot is taken every `interval` of recording time the first time replay passes it.
/// Memory stays bounded: past `max` snapshots every other one is dropped and the interval
/// doubled.
#[derive(Debug, Clone)]
pub struct Keyframes<S> {
    /// (entries held, recording time in ms, state), by entries held; the first is the start.
    frames: Vec<(usize, u64, S)>,
    interval_ms: u64,
    max: usize,
}

impl<S: Clone> Keyframes<S> {
    /// `initial` is the state before any entry.
    pub fn new(initial: S, interval: Duration, max: usize) -> Keyframes<S> {
        Keyframes {
            frames: vec![(0, 0, initial)],
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1),
            max: max.max(2),
        }
    }

    /// Whether a snapshot is due once the first `held` entries are folded, the last due at `at`.
    pub fn due(&self, held: usize, at: Duration) -> bool {
        let at = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        self.frames
            .last()
            .is_some_and(|&(last_held, last_at, _)| held > last_held && at >= last_at.saturating_add(self.interval_ms))
    }

    /// Called after folding, when `state` holds the first `held` entries and the last of them
    /// is due at `at`: keeps a snapshot if one is due.
    pub fn record(&mut self, held: usize, at: Duration, state: &S) {
        if !self.due(held, at) {
            return;
        }
        let at = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        self.frames.push((held, at, state.clone()));
        if self.frames.len() > self.max {
            let mut i = 0;
            self.frames.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.interval_ms = self.interval_ms.saturating_mul(2);
        }
    }

    /// The latest snapshot that holds no more than `to` entries: (entries it holds, state).
    pub fn before(&self, to: usize) -> (usize, &S) {
        let i = self.frames.partition_point(|f| f.0 <= to).saturating_sub(1);
        let (held, _, state) = &self.frames[i];
        (*held, state)
    }

    /// A state holding exactly the first `to` entries: the snapshot before it, refolded.
    pub fn rewind<E>(&self, to: usize, entries: &[E], mut fold: impl FnMut(&mut S, &E)) -> S {
        let (from, snapshot) = self.before(to);
        let mut state = snapshot.clone();
        for e in entries.get(from..to).unwrap_or_default() {
            fold(&mut state, e);
        }
        state
    }

    /// Brings `state`, holding the first `*held` entries, to hold the first `due.end`: rewinds
    /// when `due.start` is below `*held`, then folds on, recording snapshots as it goes.
    pub fn catch_up<E>(
        &mut self,
        state: &mut S,
        held: &mut usize,
        due: Range<usize>,
        entries: &[E],
        at: impl Fn(usize) -> Duration,
        mut fold: impl FnMut(&mut S, &E),
    ) {
        if due.start < *held {
            *state = self.rewind(due.start, entries, &mut fold);
            *held = due.start;
        }
        let end = due.end.min(entries.len());
        for (i, e) in entries.iter().enumerate().take(end).skip(*held) {
            fold(state, e);
            self.record(i + 1, at(i), state);
        }
        *held = (*held).max(end);
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Ten entries, one every second from 0.5 s, a marker at 3.5 s and 7.5 s.
    fn player() -> Player {
        Player::from_offsets((0..10).map(|i| 500 + i * 1_000), [3, 7])
    }

    #[test]
    fn due_follows_the_clock_and_the_speed() {
        let t0 = Instant::now();
        let mut p = player();
        assert_eq!(p.due(t0), 0..0, "paused at 0");
        p.play(t0);
        assert_eq!(p.due(t0 + ms(499)), 0..0);
        assert_eq!(p.due(t0 + ms(500)), 0..1);
        assert_eq!(p.due(t0 + ms(2_600)), 1..3);
        assert_eq!(p.position(), ms(2_600));
        assert!(p.faster(t0 + ms(2_600)));
        // 1 s of real time at 2× is 2 s of recording.
        assert_eq!(p.due(t0 + ms(3_600)), 3..5);
        p.pause(t0 + ms(3_600));
        assert_eq!(p.due(t0 + ms(60_000)), 5..5, "paused");
        assert!(p.slower(t0 + ms(60_000)) && p.slower(t0 + ms(60_000)));
        assert_eq!(p.speed(), 0.5);
        assert!(!p.slower(t0), "0.5× is the slowest");
        p.play(t0 + ms(60_000));
        assert_eq!(p.due(t0 + ms(61_000)), 5..5, "0.5 s of recording: 5.1 s");
        assert_eq!(p.due(t0 + ms(61_800)), 5..6);
        assert_eq!(p.position(), ms(5_500));
    }

    #[test]
    fn speed_steps() {
        let t0 = Instant::now();
        let mut p = player();
        let mut seen = vec![p.speed()];
        while p.faster(t0) {
            seen.push(p.speed());
        }
        assert_eq!(seen, [1.0, 2.0, 4.0, 8.0]);
        while p.slower(t0) {}
        assert_eq!(p.speed(), 0.5);
    }

    #[test]
    fn the_end_pauses_or_loops() {
        let t0 = Instant::now();
        let mut p = player();
        p.play(t0);
        assert_eq!(p.due(t0 + ms(20_000)), 0..10);
        assert!(p.is_finished() && p.is_paused());
        assert_eq!(p.position(), ms(9_500));
        p.play(t0 + ms(21_000));
        assert_eq!(p.due(t0 + ms(21_000)), 0..0, "playing again starts over: rewind to 0");
        assert_eq!(p.due(t0 + ms(22_000)), 0..1);

        let mut p = player();
        p.set_looping(true);
        p.play(t0);
        assert_eq!(p.due(t0 + ms(9_600)), 0..10);
        // 0.1 s past the end, then 1.2 s more: round again at 1.3 s, holding the first entry.
        assert_eq!(p.due(t0 + ms(10_800)), 1..1, "rewind to hold 1");
        assert!(!p.is_paused());
        assert_eq!(p.position(), ms(1_300));
    }

    #[test]
    fn seeking_to_an_entry_s_millisecond_takes_it() {
        // Whole milliseconds that f64 seconds times 1000 would land a hair below.
        for m in [1_001, 1_019, 1_003] {
            let mut p = Player::from_offsets([m as i64], []);
            p.seek(ms(m), Instant::now());
            assert_eq!(p.due(Instant::now()), 0..1, "{m} ms");
        }
    }

    #[test]
    fn seeking_and_markers() {
        let t0 = Instant::now();
        let mut p = player();
        p.seek(ms(4_000), t0);
        assert_eq!(p.due(t0), 0..4);
        p.seek(ms(2_000), t0);
        assert_eq!(p.due(t0), 2..2, "back: rewind to hold 2");
        p.skip(5_000, t0);
        assert_eq!(p.due(t0), 2..7);
        p.skip(-100_000, t0);
        assert_eq!(p.position(), ms(0));
        assert_eq!(p.due(t0), 0..0);

        assert_eq!(p.next_marker(t0), Some(3));
        assert_eq!(p.position(), ms(3_500));
        assert_eq!(p.due(t0), 0..4, "the marker itself is due");
        assert_eq!(p.next_marker(t0), Some(7));
        assert_eq!(p.next_marker(t0), None);
        assert_eq!(p.previous_marker(t0), Some(3));
        assert_eq!(p.previous_marker(t0), None);
        p.seek(ms(8_000), t0);
        assert_eq!(p.previous_marker(t0), Some(3), "7.5 s was just passed");
        p.seek(ms(60_000), t0);
        assert_eq!(p.position(), ms(9_500), "clamped to the end");
    }

    #[test]
    fn out_of_order_stamps_keep_file_order() {
        let t0 = Instant::now();
        let mut p = Player::from_offsets([-50, 1_000, 900, 2_000], []);
        assert_eq!(p.due_at(0), ms(0));
        assert_eq!(p.due_at(2), ms(1_000));
        p.seek(ms(950), t0);
        assert_eq!(p.due(t0), 0..1);
        p.seek(ms(1_000), t0);
        assert_eq!(p.due(t0), 1..3);
    }

    #[test]
    fn an_empty_recording_is_harmless() {
        let t0 = Instant::now();
        let mut p = Player::from_offsets([], [0]);
        p.set_looping(true);
        p.play(t0);
        assert_eq!(p.due(t0 + ms(5_000)), 0..0);
        assert_eq!(p.next_marker(t0), None);
        assert_eq!(p.duration(), ms(0));
    }

    /// A toy state: every entry folded so far, in order.
    fn fold(s: &mut Vec<u32>, e: &u32) {
        s.push(*e);
    }

    #[test]
    fn keyframes_are_spaced_and_bounded() {
        let mut k = Keyframes::new(Vec::new(), ms(1_000), 4);
        let entries: Vec<u32> = (0..100).collect();
        let mut state = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            fold(&mut state, e);
            k.record(i + 1, ms(i as u64 * 250), &state);
        }
        assert!(k.len() <= 4, "{}", k.len());
        let held: Vec<usize> = k.frames.iter().map(|f| f.0).collect();
        assert_eq!(held[0], 0);
        assert!(held.windows(2).all(|w| w[0] < w[1]), "{held:?}");
        for to in [0, 1, 13, 50, 99, 100] {
            let (from, snap) = k.before(to);
            assert!(from <= to);
            assert_eq!(snap, &entries[..from]);
            assert_eq!(k.rewind(to, &entries, fold), entries[..to]);
        }
    }

    #[test]
    fn seek_back_and_refold_equals_a_straight_fold() {
        let t0 = Instant::now();
        let offsets: Vec<i64> = (0..400).map(|i| i * 137 % 50 + i * 100).collect();
        let entries: Vec<u32> = (0..400).collect();
        let mut p = Player::from_offsets(offsets, [50, 120, 333]);
        let mut k = Keyframes::new(Vec::new(), ms(2_000), 8);
        let (mut state, mut held) = (Vec::new(), 0);
        p.play(t0);
        p.set_looping(true);
        // A presenter's session: play, jump around, change speed, loop through the end.
        let mut now = t0;
        let mut seed = 7u64;
        for step in 0..600 {
            now += ms(83);
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            match (seed >> 33) % 16 {
                0 => p.seek(ms((seed >> 20) % 45_000), now),
                1 => p.skip(-3_000, now),
                2 => {
                    p.next_marker(now);
                }
                3 => {
                    p.previous_marker(now);
                }
                4 => {
                    p.faster(now);
                }
                5 => {
                    p.slower(now);
                }
                6 => p.toggle_pause(now),
                _ => {}
            }
            let due = p.due(now);
            k.catch_up(&mut state, &mut held, due.clone(), &entries, |i| p.due_at(i), fold);
            assert_eq!(held, due.end, "step {step}");
            assert_eq!(state, entries[..held], "step {step}");
        }
        assert!(k.len() > 1 && k.len() <= 8);
    }

    #[test]
    fn markers_of_updates() {
        let updates = [Update::Tick, Update::Marker { name: "a".into() }, Update::Tick];
        assert_eq!(marker_indexes(&updates), [1]);
    }
}

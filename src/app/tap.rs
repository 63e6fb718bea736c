//! Tap in the session: the last [`BUFFER`] events (newest last), the summary over the rate
//! window, and what each tap source said about itself. Memory is bounded by the buffer and
//! the summary's group cap, whatever the traffic.

use std::collections::{BTreeMap, VecDeque};

use crate::model::UnixMillis;
use crate::model::tap::{TapEvent, TapSourceChoice, TapSourceStatus, TapSpec, TapTarget};
use crate::tap::summary::{Grouping, MAX_GROUPS, Summary};

/// Events kept for scrolling back.
pub const BUFFER: usize = 10_000;

/// An event and its place in the session's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TapEntry {
    /// Counts from 1 over the session; a row's stable key.
    pub seq: u64,
    /// When it arrived (the session clock), so a snapshot replays it into the same window.
    pub at: UnixMillis,
    pub event: TapEvent,
}

#[derive(Debug, Clone)]
pub struct TapState {
    pub events: VecDeque<TapEntry>,
    pub capacity: usize,
    /// The last seq given out.
    pub last_seq: u64,
    pub summary: Summary,
    /// Per source (`deploy/web in emojivoto`, `ns/shop`, `bench #2`): its state and counts.
    pub sources: BTreeMap<String, TapSourceStatus>,
    /// While paused, the view shows events up to this seq; new ones are still kept.
    pub paused_at: Option<u64>,
    /// Bumped with every batch: the stream view's rows follow it (unless paused).
    pub generation: u64,
}

impl Default for TapState {
    fn default() -> Self {
        TapState::new(BUFFER, super::traffic::DEFAULT_WINDOW)
    }
}

impl TapState {
    pub fn new(capacity: usize, window_s: u32) -> Self {
        TapState {
            events: VecDeque::new(),
            capacity: capacity.max(1),
            last_seq: 0,
            summary: Summary::new(Grouping::Peers, Some(i64::from(window_s) * 1000), MAX_GROUPS),
            sources: BTreeMap::new(),
            paused_at: None,
            generation: 0,
        }
    }

    /// Takes a batch that arrived at `at`.
    pub fn push(&mut self, events: Vec<TapEvent>, at: UnixMillis) {
        let mut evicted = false;
        for event in events {
            self.summary.add(&event, at);
            self.last_seq += 1;
            if self.events.len() >= self.capacity {
                self.events.pop_front();
                evicted = true;
            }
            self.events.push_back(TapEntry {
                seq: self.last_seq,
                at,
                event,
            });
        }
        // While paused the shown rows only change when the oldest leave the buffer.
        if self.paused_at.is_none() || evicted {
            self.generation += 1;
        }
    }

    /// The entry with this seq, if it is still kept.
    pub fn get(&self, seq: u64) -> Option<&TapEntry> {
        let first = self.events.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.events.get(i).filter(|e| e.seq == seq)
    }

    /// The newest seq the view shows. A pause point that has left the buffer holds the view
    /// at the oldest request kept.
    pub fn shown_upto(&self) -> u64 {
        match (self.paused_at, self.events.front()) {
            (Some(p), Some(first)) => p.max(first.seq),
            (Some(p), None) => p,
            (None, _) => self.last_seq,
        }
    }

    /// Whether the requests shown when paused have left the buffer.
    pub fn pause_overrun(&self) -> bool {
        matches!((self.paused_at, self.events.front()), (Some(p), Some(first)) if p < first.seq)
    }

    /// Events the view shows, newest first.
    pub fn shown(&self) -> impl Iterator<Item = &TapEntry> {
        let upto = self.shown_upto();
        self.events.iter().rev().skip_while(move |e| e.seq > upto)
    }

    /// Events that arrived since the view was paused.
    pub fn unseen(&self) -> u64 {
        self.paused_at.map_or(0, |p| self.last_seq - p)
    }

    pub fn toggle_pause(&mut self) {
        self.paused_at = match self.paused_at {
            Some(_) => None,
            None => Some(self.last_seq),
        };
        self.generation += 1;
    }

    /// Lines from access logs that were not access-log entries, over every source.
    pub fn unparsed(&self) -> u64 {
        self.sources.values().map(|s| s.unparsed).sum()
    }

    /// The rate window changed: the summary starts again over the new one.
    pub fn set_window(&mut self, window_s: u32) {
        self.summary.set_window(Some(i64::from(window_s) * 1000));
    }

    /// Whether any live source is still streaming.
    pub fn live(&self) -> bool {
        self.sources.values().any(|s| s.state.live())
    }
}

/// Linkerd's own default for `maxRps`.
pub const DEFAULT_MAX_RPS: f32 = 100.0;

/// A tap of `target` with the defaults: the source chosen by the target's mesh.
pub fn spec(target: TapTarget) -> TapSpec {
    TapSpec {
        target,
        source: TapSourceChoice::Auto,
        max_rps: DEFAULT_MAX_RPS,
        method: None,
        path_prefix: None,
    }
}

/// `:tap deploy/web -n emojivoto --source logs --max-rps 50`; without `-n`, `namespace` (the
/// context's). Never panics (property-tested).
pub fn parse_command(arg: &str, namespace: &str) -> Result<TapSpec, String> {
    let mut words = arg.split_whitespace();
    let mut target = None;
    let mut namespace = namespace.to_string();
    let mut source = TapSourceChoice::Auto;
    let mut max_rps = DEFAULT_MAX_RPS;
    while let Some(w) = words.next() {
        let mut value = |flag: &str| words.next().ok_or_else(|| format!("{flag} needs a value"));
        match w {
            "-n" | "--namespace" => namespace = value(w)?.to_string(),
            "--source" => source = source_choice(value(w)?)?,
            "--max-rps" => max_rps = max_rps_value(value(w)?)?,
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag} (-n, --source, --max-rps)")),
            t if target.is_none() => target = Some(t.to_string()),
            extra => return Err(format!("one target only ({extra:?} is a second)")),
        }
    }
    let target = target.ok_or("give a target: deploy/NAME, pod/NAME or ns/NAME")?;
    Ok(TapSpec {
        source,
        max_rps,
        ..spec(TapTarget::parse(&target, &namespace)?)
    })
}

/// `--source`: auto, linkerd or logs.
pub fn source_choice(s: &str) -> Result<TapSourceChoice, String> {
    match s {
        "auto" => Ok(TapSourceChoice::Auto),
        "linkerd" => Ok(TapSourceChoice::Linkerd),
        "logs" => Ok(TapSourceChoice::Logs),
        other => Err(format!("--source {other:?}: choose auto, linkerd or logs")),
    }
}

/// `--max-rps`: more than 0, at most 100,000 (Linkerd's tap server splits it across pods).
pub fn max_rps_value(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 100_000.0 => Ok(v),
        _ => Err(format!(
            "--max-rps {s:?}: give a number of events per second, more than 0, at most 100000"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tap::TapOrigin;

    fn ev(i: u16) -> TapEvent {
        let mut e = TapEvent::new(0, TapOrigin::Bench, "meshtop".into(), "web:80".into());
        e.status = Some(200 + i);
        e
    }

    #[test]
    fn commands() {
        let s = parse_command("deploy/web -n emojivoto --source logs --max-rps 5", "default").unwrap();
        assert_eq!(s.target.describe(), "deploy/web in emojivoto");
        assert_eq!((s.source, s.max_rps), (TapSourceChoice::Logs, 5.0));
        assert_eq!(parse_command("ns/shop", "default").unwrap().target.namespace, "shop");
        // Without -n, the context's namespace.
        assert_eq!(
            parse_command("deploy/web", "shop").unwrap().target.describe(),
            "deploy/web in shop"
        );
        assert!(parse_command("", "default").unwrap_err().contains("give a target"));
        assert!(
            parse_command("deploy/web -n", "default")
                .unwrap_err()
                .contains("-n needs a value")
        );
        assert!(parse_command("deploy/web --max-rps 0", "default").is_err());
        assert!(parse_command("deploy/web --max-rps nan", "default").is_err());
        assert!(
            parse_command("deploy/web --colour red", "default")
                .unwrap_err()
                .contains("--colour")
        );
        assert!(
            parse_command("deploy/web pod/x", "default")
                .unwrap_err()
                .contains("one target")
        );
    }

    #[test]
    fn the_buffer_is_bounded_and_pause_holds_the_view() {
        let mut t = TapState::new(3, 60);
        t.push((0..5).map(ev).collect(), 1000);
        assert_eq!(t.events.len(), 3);
        assert_eq!(t.last_seq, 5);
        assert_eq!(t.get(2), None, "evicted");
        assert_eq!(t.get(4).unwrap().event.status, Some(203));
        assert_eq!(t.shown().map(|e| e.seq).collect::<Vec<_>>(), [5, 4, 3]);
        t.toggle_pause();
        t.push(vec![ev(9)], 1100);
        assert_eq!(
            t.shown().map(|e| e.seq).collect::<Vec<_>>(),
            [5, 4],
            "6 is kept but not shown"
        );
        assert_eq!(t.unseen(), 1);
        t.toggle_pause();
        assert_eq!(t.shown().next().unwrap().seq, 6);
        assert_eq!(t.summary.events, 6);
        // Paused for longer than the buffer holds: the view keeps the oldest request kept.
        t.toggle_pause();
        t.push((0..4).map(ev).collect(), 1200);
        assert!(t.pause_overrun());
        assert_eq!(t.shown().map(|e| e.seq).collect::<Vec<_>>(), [8]);
    }
}

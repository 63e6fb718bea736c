//! The tap summary (what `linkerd viz top` shows): requests grouped by source, destination,
//! method and path, with count, success rate, best, worst, last latency and p99 over a
//! sliding window.
//!
//! Memory is bounded whatever the traffic: paths are normalised (`/users/42` and
//! `/users/43` are one group), at most `max_groups` groups exist (later ones are counted in
//! one `other` row), and a group's latencies live in a log histogram of at most
//! [`LogHist::BUCKETS`] buckets.

use std::collections::BTreeMap;

use crate::model::UnixMillis;
use crate::model::tap::{Direction, TapEvent};

/// Groups a summary keeps before counting the rest as `other`.
pub const MAX_GROUPS: usize = 10_000;

/// What a summary groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Source, destination, method, path (live taps: who talks to whom).
    Peers,
    /// Direction, authority, method, path (access logs read from a file, where the peers are
    /// addresses).
    Authority,
}

/// Ordered by source first: the summary's rows in their own order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// Empty when grouping by authority.
    pub source: String,
    /// The destination, or the authority when grouping by authority.
    pub destination: String,
    /// `TCP` for a TCP entry.
    pub method: String,
    /// Normalised (see [`normalise_path`]).
    pub path: String,
    pub direction: Option<Direction>,
}

impl GroupKey {
    /// The row that counts what came after the cap.
    pub fn other() -> Self {
        GroupKey {
            direction: None,
            source: "*".into(),
            destination: "*".into(),
            method: "*".into(),
            path: OTHER.into(),
        }
    }

    pub fn is_other(&self) -> bool {
        self.path == OTHER && self.method == "*"
    }
}

const OTHER: &str = "(other groups)";

/// `/users/42/orders/9b2f...-...?page=2` → `/users/{id}/orders/{id}`: numeric and UUID
/// segments become `{id}`; the query string and fragment are dropped.
pub fn normalise_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_id(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    out
}

fn is_id(seg: &str) -> bool {
    let b = seg.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    // 8-4-4-4-12 hex digits.
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A latency histogram in logarithmic buckets (16 per doubling: each about 4.4% wide),
/// stored sparsely: a group that saw three latencies holds three buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogHist {
    /// (bucket, count), sorted by bucket.
    buckets: Vec<(u16, u32)>,
    total: u64,
}

impl LogHist {
    /// Buckets from 1 µs to over an hour.
    pub const BUCKETS: u16 = 16 * 32;

    fn bucket(ms: f64) -> u16 {
        let us = (ms * 1e3).max(1.0);
        ((us.log2() * 16.0) as u16).min(Self::BUCKETS - 1)
    }

    /// The middle of a bucket, in ms (geometric).
    fn value(bucket: u16) -> f64 {
        ((f64::from(bucket) + 0.5) / 16.0).exp2() / 1e3
    }

    pub fn record(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let b = Self::bucket(ms);
        match self.buckets.binary_search_by_key(&b, |&(k, _)| k) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(1),
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
        self.total += 1;
    }

    /// The `q` quantile of this and `other` together (a bucket's middle), None when empty.
    pub fn quantile_with(&self, other: &LogHist, q: f64) -> Option<f64> {
        let total = self.total + other.total;
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let (mut a, mut b) = (self.buckets.iter().peekable(), other.buckets.iter().peekable());
        let mut seen = 0u64;
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    let v = (x.0, u64::from(x.1) + u64::from(y.1));
                    a.next();
                    b.next();
                    v
                }
                (Some(x), Some(y)) if x.0 < y.0 => a.next().map(|&(k, c)| (k, u64::from(c)))?,
                (Some(_), Some(_)) | (None, Some(_)) => b.next().map(|&(k, c)| (k, u64::from(c)))?,
                (Some(_), None) => a.next().map(|&(k, c)| (k, u64::from(c)))?,
                (None, None) => return None,
            };
            seen += next.1;
            if seen >= rank {
                return Some(Self::value(next.0));
            }
        }
    }
}

/// Figures over one half of the window.
#[derive(Debug, Clone, Default, PartialEq)]
struct Half {
    count: u64,
    ok: u64,
    min: Option<f64>,
    max: Option<f64>,
    hist: LogHist,
}

impl Half {
    fn add(&mut self, ok: bool, ms: Option<f64>) {
        self.count += 1;
        self.ok += u64::from(ok);
        if let Some(ms) = ms.filter(|m| m.is_finite() && *m >= 0.0) {
            self.min = Some(self.min.map_or(ms, |m| m.min(ms)));
            self.max = Some(self.max.map_or(ms, |m| m.max(ms)));
            self.hist.record(ms);
        }
    }
}

/// One group's figures: the window is the current half and the one before it, so the
/// figures cover between half a window and a whole one of the latest traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: GroupKey,
    cur: Half,
    prev: Half,
    pub last_ms: Option<f64>,
    pub last_at: UnixMillis,
}

impl Group {
    fn new(key: GroupKey) -> Self {
        Group {
            key,
            cur: Half::default(),
            prev: Half::default(),
            last_ms: None,
            last_at: 0,
        }
    }

    pub fn count(&self) -> u64 {
        self.cur.count + self.prev.count
    }

    /// Successes over requests, 0 to 1.
    pub fn success_rate(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| (self.cur.ok + self.prev.ok) as f64 / n as f64)
    }

    pub fn min_ms(&self) -> Option<f64> {
        match (self.cur.min, self.prev.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn max_ms(&self) -> Option<f64> {
        match (self.cur.max, self.prev.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The quantile from the histogram; in the bucket of the exact best or worst, that
    /// value itself (a bucket's middle would read as off by a few percent).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let v = self.cur.hist.quantile_with(&self.prev.hist, q)?;
        let (min, max) = (self.min_ms()?, self.max_ms()?);
        let bucket = LogHist::bucket(v);
        if bucket == LogHist::bucket(max) {
            Some(max)
        } else if bucket == LogHist::bucket(min) {
            Some(min)
        } else {
            Some(v.clamp(min, max))
        }
    }

    pub fn p99_ms(&self) -> Option<f64> {
        self.quantile_ms(0.99)
    }
}

#[derive(Debug, Clone)]
pub struct Summary {
    groups: BTreeMap<GroupKey, Group>,
    grouping: Grouping,
    max_groups: usize,
    /// None: everything since the start (a file read offline).
    window_ms: Option<i64>,
    half_start: UnixMillis,
    /// Whether the `other` group exists (it does not count against the cap).
    others: bool,
    /// Events taken.
    pub events: u64,
    /// Bumped when groups appear or go (rows of the summary view).
    pub generation: u64,
}

impl Summary {
    pub fn new(grouping: Grouping, window_ms: Option<i64>, max_groups: usize) -> Self {
        Summary {
            groups: BTreeMap::new(),
            grouping,
            max_groups: max_groups.max(1),
            window_ms: window_ms.filter(|w| *w >= 2),
            half_start: 0,
            others: false,
            events: 0,
            generation: 0,
        }
    }

    pub fn window_ms(&self) -> Option<i64> {
        self.window_ms
    }

    pub fn grouping(&self) -> Grouping {
        self.grouping
    }

    /// A new window length; the figures start again.
    pub fn set_window(&mut self, window_ms: Option<i64>) {
        *self = Summary::new(self.grouping, window_ms, self.max_groups);
    }

    pub fn key(&self, e: &TapEvent) -> GroupKey {
        let method = e.method.clone().unwrap_or_else(|| "TCP".into());
        let path = e.path.as_deref().map_or_else(|| "-".into(), normalise_path);
        match self.grouping {
            Grouping::Peers => GroupKey {
                direction: e.direction,
                source: e.source.clone(),
                destination: e.destination.clone(),
                method,
                path,
            },
            Grouping::Authority => GroupKey {
                direction: e.direction,
                source: String::new(),
                destination: e.authority.clone().unwrap_or_else(|| "-".into()),
                method,
                path,
            },
        }
    }

    /// Takes one event that arrived at `at` (the session clock: access-log lines can be old).
    pub fn add(&mut self, e: &TapEvent, at: UnixMillis) {
        self.rotate(at);
        self.events += 1;
        let key = self.key(e);
        // One lookup for a known group (most events); the key is cloned only for a new one.
        let g = match self.groups.get_mut(&key) {
            Some(g) => g,
            None => {
                let key = if self.groups.len() - usize::from(self.others) >= self.max_groups {
                    self.others = true;
                    GroupKey::other()
                } else {
                    key
                };
                if !self.groups.contains_key(&key) {
                    self.generation += 1;
                }
                self.groups.entry(key).or_insert_with_key(|k| Group::new(k.clone()))
            }
        };
        g.cur.add(e.success(), e.duration_ms);
        if e.duration_ms.is_some() {
            g.last_ms = e.duration_ms;
        }
        g.last_at = e.time;
    }

    /// Moves the window to `now`: halves that fell out are dropped, and groups left empty go.
    pub fn rotate(&mut self, now: UnixMillis) {
        let Some(window) = self.window_ms else { return };
        let half = window / 2;
        if self.half_start == 0 {
            self.half_start = now;
            return;
        }
        if now < self.half_start + half {
            return;
        }
        let skipped = (now - self.half_start) / half;
        for g in self.groups.values_mut() {
            g.prev = if skipped == 1 {
                std::mem::take(&mut g.cur)
            } else {
                Half::default()
            };
            g.cur = Half::default();
        }
        self.half_start += skipped * half;
        let before = self.groups.len();
        self.groups.retain(|_, g| g.count() > 0);
        self.others = self.groups.contains_key(&GroupKey::other());
        if self.groups.len() != before {
            self.generation += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Groups in key order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn get(&self, key: &GroupKey) -> Option<&Group> {
        self.groups.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tap::TapOrigin;

    fn ev(path: &str, status: u16, ms: f64) -> TapEvent {
        let mut e = TapEvent::new(0, TapOrigin::Bench, "a".into(), "b".into());
        e.method = Some("GET".into());
        e.path = Some(path.into());
        e.status = Some(status);
        e.duration_ms = Some(ms);
        e
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise_path("/users/42/orders/7?x=1#f"), "/users/{id}/orders/{id}");
        assert_eq!(normalise_path("/a/123e4567-e89b-12d3-a456-426614174000/b"), "/a/{id}/b");
        assert_eq!(normalise_path("/v1/items"), "/v1/items");
        assert_eq!(normalise_path("/"), "/");
        assert_eq!(normalise_path(""), "");
        assert_eq!(normalise_path("/a1/12b"), "/a1/12b", "mixed segments are names");
    }

    #[test]
    fn count_success_best_worst_last_and_p99() {
        let mut s = Summary::new(Grouping::Peers, None, MAX_GROUPS);
        // 1..=100 ms, every tenth a 500.
        for i in 1..=100 {
            s.add(
                &ev(
                    &format!("/users/{i}"),
                    if i % 10 == 0 { 500 } else { 200 },
                    f64::from(i),
                ),
                0,
            );
        }
        assert_eq!(s.len(), 1);
        let g = s.groups().next().unwrap();
        assert_eq!(g.key.path, "/users/{id}");
        assert_eq!(g.count(), 100);
        assert_eq!(g.success_rate(), Some(0.9));
        assert_eq!(
            (g.min_ms(), g.max_ms(), g.last_ms),
            (Some(1.0), Some(100.0), Some(100.0))
        );
        // The 99th of 100 is 99 ms; the histogram's bucket is within 4.4%.
        let p99 = g.p99_ms().unwrap();
        assert!((p99 - 99.0).abs() / 99.0 < 0.045, "p99 {p99}");
        // One request: every quantile is that request.
        let mut one = Summary::new(Grouping::Peers, None, MAX_GROUPS);
        one.add(&ev("/x", 200, 7.3), 0);
        assert_eq!(one.groups().next().unwrap().p99_ms(), Some(7.3));
    }

    #[test]
    fn groups_are_capped_with_an_other_row() {
        let mut s = Summary::new(Grouping::Peers, None, 3);
        for p in ["/a", "/b", "/c", "/d", "/e", "/a"] {
            s.add(&ev(p, 200, 1.0), 0);
        }
        assert_eq!(s.len(), 4);
        let other = s.get(&GroupKey::other()).unwrap();
        assert_eq!(other.count(), 2);
        assert_eq!(s.groups().find(|g| g.key.path == "/a").unwrap().count(), 2);
    }

    #[test]
    fn the_window_slides_by_halves() {
        let mut s = Summary::new(Grouping::Peers, Some(10_000), MAX_GROUPS);
        s.add(&ev("/a", 200, 1.0), 1_000);
        s.add(&ev("/a", 500, 2.0), 4_000);
        s.add(&ev("/b", 200, 1.0), 7_000); // a new half starts at 6_000
        let a = |s: &Summary| s.groups().find(|g| g.key.path == "/a").map(|g| g.count());
        assert_eq!(a(&s), Some(2), "the previous half still counts");
        s.rotate(11_000);
        assert_eq!(a(&s), None, "both halves of /a fell out");
        assert_eq!(s.len(), 1);
        s.rotate(60_000);
        assert!(s.is_empty());
    }

    #[test]
    fn histogram_quantiles_merge_halves() {
        let mut a = LogHist::default();
        let mut b = LogHist::default();
        for i in 0..50 {
            a.record(1.0 + f64::from(i) * 0.001);
            b.record(100.0);
        }
        let med = a.quantile_with(&b, 0.5).unwrap();
        assert!((med - 1.0).abs() < 0.1, "{med}");
        let p99 = a.quantile_with(&b, 0.99).unwrap();
        assert!((p99 - 100.0).abs() < 4.5, "{p99}");
        assert_eq!(LogHist::default().quantile_with(&LogHist::default(), 0.5), None);
        a.record(f64::NAN);
        a.record(-1.0);
        assert_eq!(a.total, 50);
    }
}

//! The shard format: a run's figures as framed, versioned lines, written every 200 ms and
//! at the end, so that runs made apart (agents in the cluster, several machines) merge
//! into one exact result (`meshtop bench --shard-out`, `meshtop merge`).
//!
//! Each line is `mtshard/1 CRC32 JSON`: the CRC (8 hex digits) is over the JSON's bytes,
//! so a cut or altered line is found and named rather than merged. The JSON is one
//! [`Frame`]: `start` (what ran), then an `interval` per 200 ms (what the run did in it:
//! counters, and histograms in HdrHistogram's V2 compressed encoding, base64), then `end`
//! (the whole run's counters and histograms). The intervals sum to the end frame exactly,
//! so a live merge built from intervals alone ends where the final frames' merge does.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::stats::{self, Failures, Stats};
use crate::UnixMillis;
use crate::types::{BenchSpec, ErrorCounts, ErrorKind};

/// The format's name and version, at the start of every line.
pub const MAGIC: &str = "mtshard/1";
/// A line longer than this is not a frame (five histograms take a few kilobytes).
pub const MAX_LINE: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum Frame {
    Start(Start),
    Interval(Part),
    End(End),
}

/// What ran: the first frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// A random ID of this run: the same shard given twice to a merge is refused.
    pub run: String,
    /// The run's configuration, through the one redaction policy.
    pub spec: BenchSpec,
    pub protocol: String,
    pub threads: u32,
    pub body_bytes: u64,
    /// Wall-clock start of the run (its warm-up included).
    pub started_at: UnixMillis,
    pub meshtop_version: String,
    /// The histograms' settings (lowest, highest, significant figures): shards merge only
    /// when they agree.
    pub latency_histogram: [u64; 3],
    pub size_histogram: [u64; 3],
}

/// One 200 ms interval: what the run's workers reported in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub seq: u64,
    /// Wall-clock time the interval closed.
    pub at: UnixMillis,
    pub counters: Counters,
    pub histograms: Encoded,
}

/// The whole run: the last frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    /// Intervals written before this frame.
    pub intervals: u64,
    pub counters: Counters,
    pub histograms: Encoded,
    /// Measurement start and end (after the warm-up), and the measured time.
    pub measured_from: UnixMillis,
    pub measured_s: f64,
    pub cancelled: bool,
    /// Main-phase rate; None for a closed loop.
    pub requested_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub responses: u64,
    pub warmup_requests: u64,
    /// (status code, responses): pairs, since JSON object keys are text.
    pub status: Vec<(u16, u64)>,
    pub errors: ErrorCounts,
    #[serde(default)]
    pub error_samples: BTreeMap<ErrorKind, String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connections_opened: u64,
    pub reconnects: u64,
}

/// The five histograms, each V2-deflate encoded and base64'd.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Encoded {
    pub latency: String,
    pub latency_uncorrected: String,
    pub lag: String,
    pub body_sizes: String,
    pub header_sizes: String,
}

pub fn settings(h: &Histogram<u64>) -> [u64; 3] {
    [h.low(), h.high(), u64::from(h.sigfig())]
}

/// Fails only on counts past what V2 holds (2^63), which a run of this machine cannot
/// reach and a merge refuses before (see [`MAX_COUNT`]).
fn encode_histogram(h: &Histogram<u64>) -> Result<String, String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| format!("encoding a histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The most responses a shard, or a merge, may count: what V2's signed counts hold.
pub const MAX_COUNT: u64 = i64::MAX as u64;
/// Wall-clock times a frame may carry: the Unix epoch to the end of year 9999.
const MAX_TIME: UnixMillis = 253_402_300_799_999;

/// HdrHistogram's V2 cookies (compressed and plain) and header size.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_HEADER: usize = 40;
/// More than the counts of our widest histogram take, encoded: the cap on inflating one.
const MAX_INFLATED: u64 = 1 << 20;

/// Decodes a histogram with `like`'s settings; a histogram with other settings is an
/// error (merging it would not be exact). The compressed form is inflated here, capped,
/// and its header checked before anything is allocated from it: a crafted header could
/// otherwise ask for gigabytes.
fn decode_histogram(what: &str, text: &str, like: &Histogram<u64>) -> Result<Histogram<u64>, String> {
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram {what}: not base64: {e}"))?;
    let word = |b: &[u8], at: usize| -> Option<u32> { Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?)) };
    if word(&bytes, 0) != Some(V2_COMPRESSED_COOKIE) {
        return Err(format!("histogram {what}: not HdrHistogram's V2 compressed encoding"));
    }
    let mut plain = Vec::new();
    let deflated = bytes.get(8..).ok_or_else(|| format!("histogram {what}: cut short"))?;
    flate2::read::ZlibDecoder::new(deflated)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut plain)
        .map_err(|e| format!("histogram {what}: does not inflate: {e}"))?;
    if plain.len() as u64 > MAX_INFLATED {
        return Err(format!("histogram {what}: inflates to more than {MAX_INFLATED} bytes"));
    }
    let long = |at: usize| -> Option<u64> { Some(u64::from_be_bytes(plain.get(at..at + 8)?.try_into().ok()?)) };
    let header = (word(&plain, 0), word(&plain, 4), word(&plain, 12), long(16), long(24));
    let want = settings(like);
    match header {
        (Some(V2_COOKIE), Some(len), Some(digits), Some(low), Some(high))
            if [low, high, u64::from(digits)] == want
                && plain.len() >= V2_HEADER
                && len as usize <= plain.len() - V2_HEADER => {}
        (Some(V2_COOKIE), _, Some(digits), Some(low), Some(high)) if [low, high, u64::from(digits)] != want => {
            return Err(format!(
                "histogram {what}: settings {:?} differ from {want:?}",
                [low, high, u64::from(digits)]
            ));
        }
        _ => return Err(format!("histogram {what}: a damaged V2 header")),
    }
    Deserializer::new()
        .deserialize(&mut &plain[..])
        .map_err(|e| format!("histogram {what}: not a V2 histogram: {e:?}"))
}

/// A worker tick's or a run's counters as a frame carries them.
pub fn counters(s: &Stats) -> Counters {
    Counters {
        responses: s.responses,
        warmup_requests: s.warmup_requests,
        status: s.status.iter().map(|(c, n)| (*c, *n)).collect(),
        errors: s.errors.counts(),
        error_samples: s.errors.samples(),
        bytes_sent: s.bytes_sent,
        bytes_received: s.bytes_received,
        connections_opened: s.connections_opened,
        reconnects: s.reconnects,
    }
}

/// A worker tick's or a run's figures as a frame carries them.
pub fn counters_of(s: &Stats) -> Result<(Counters, Encoded), String> {
    Ok((
        counters(s),
        Encoded {
            latency: encode_histogram(&s.corrected)?,
            latency_uncorrected: encode_histogram(&s.uncorrected)?,
            lag: encode_histogram(&s.lag)?,
            body_sizes: encode_histogram(&s.body_sizes)?,
            header_sizes: encode_histogram(&s.header_sizes)?,
        },
    ))
}

/// Adds a frame's figures to `into`, or nothing: every histogram must count one value per
/// response (the lag's may be empty: a closed loop has none), so a frame whose histograms
/// and counters disagree is refused rather than merged inexactly.
pub fn add_to(into: &mut Stats, c: &Counters, h: &Encoded) -> Result<(), String> {
    // Decoded with the settings of `like`, and counting one value per response.
    let take = |what: &str, text: &str, like: &Histogram<u64>, lag: bool| -> Result<Histogram<u64>, String> {
        let hist = decode_histogram(what, text, like)?;
        let n = hist.len();
        if n == c.responses || (lag && n == 0) {
            Ok(hist)
        } else {
            Err(format!(
                "histogram {what} counts {n} values for {} responses",
                c.responses
            ))
        }
    };
    let corrected = take("latency", &h.latency, &into.corrected, false)?;
    let uncorrected = take("latency_uncorrected", &h.latency_uncorrected, &into.uncorrected, false)?;
    let lag = take("lag", &h.lag, &into.lag, true)?;
    let body = take("body_sizes", &h.body_sizes, &into.body_sizes, false)?;
    let header = take("header_sizes", &h.header_sizes, &into.header_sizes, false)?;
    let sum = |a: u64, b: u64, what: &str| a.checked_add(b).ok_or_else(|| format!("{what} overflows"));
    let errors = into.errors.counts();
    for (a, b) in [
        (errors.connect, c.errors.connect),
        (errors.timeout, c.errors.timeout),
        (errors.reset, c.errors.reset),
        (errors.tls, c.errors.tls),
        (errors.other, c.errors.other),
    ] {
        sum(a, b, "an error count")?;
    }
    let responses = sum(into.responses, c.responses, "responses")?;
    if responses > MAX_COUNT {
        return Err(format!("more than {MAX_COUNT} responses"));
    }
    sum(
        errors.total(),
        c.errors.total_checked().ok_or("error counts overflow")?,
        "errors",
    )
    .and_then(|e| sum(e, responses, "requests"))?;
    let checked = [
        sum(into.warmup_requests, c.warmup_requests, "warm-up requests")?,
        sum(into.bytes_sent, c.bytes_sent, "bytes sent")?,
        sum(into.bytes_received, c.bytes_received, "bytes received")?,
        sum(into.connections_opened, c.connections_opened, "connections")?,
        sum(into.reconnects, c.reconnects, "reconnects")?,
    ];
    let mut status = into.status.clone();
    for (code, n) in &c.status {
        let e = status.entry(*code).or_default();
        *e = sum(*e, *n, "a status count")?;
    }
    // Everything is checked: from here `into` takes all of the frame.
    for (mine, theirs) in [
        (&mut into.corrected, &corrected),
        (&mut into.uncorrected, &uncorrected),
        (&mut into.lag, &lag),
        (&mut into.body_sizes, &body),
        (&mut into.header_sizes, &header),
    ] {
        // Same settings (checked) and counts bounded by the responses: adding cannot fail.
        mine.add(theirs).map_err(|e| format!("adding a histogram: {e:?}"))?;
    }
    into.status = status;
    into.errors.merge(&Failures::from_wire(&c.errors, &c.error_samples));
    into.responses = responses;
    [
        into.warmup_requests,
        into.bytes_sent,
        into.bytes_received,
        into.connections_opened,
        into.reconnects,
    ] = checked;
    Ok(())
}

/// One frame as a line (newline included).
pub fn line(frame: &Frame) -> String {
    framed(&serde_json::to_string(frame).expect("frames serialise"))
}

/// Any JSON text framed as a line with its checksum (the fuzz target frames its input
/// with it, so that mutations reach the decoder behind the checksum).
pub fn framed(json: &str) -> String {
    format!("{MAGIC} {:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

/// One line (without its newline) as a frame.
pub fn parse_line(line: &str) -> Result<Frame, String> {
    if line.len() > MAX_LINE {
        return Err(format!("a line of {} bytes, more than {MAX_LINE}", line.len()));
    }
    let rest = line.strip_prefix(MAGIC).and_then(|r| r.strip_prefix(' '));
    let Some(rest) = rest else {
        let head: String = line.chars().take(12).collect();
        return Err(if line.starts_with("mtshard/") {
            let version: String = line.split(' ').next().unwrap_or_default().chars().take(20).collect();
            format!("a frame of another version ({version:?}); this meshtop reads {MAGIC}")
        } else {
            format!("not a shard frame (it starts {head:?})")
        });
    };
    let (crc, json) = rest
        .split_once(' ')
        .ok_or_else(|| "a frame without its checksum".to_string())?;
    let want = u32::from_str_radix(crc, 16)
        .ok()
        .filter(|_| crc.len() == 8)
        .ok_or_else(|| format!("a frame whose checksum {crc:?} is not 8 hex digits"))?;
    if crc32fast::hash(json.as_bytes()) != want {
        return Err("checksum mismatch: the frame was cut or altered".into());
    }
    serde_json::from_str(json).map_err(|e| format!("a frame that does not decode: {e}"))
}

/// A shard read whole: its start, its intervals and its end.
#[derive(Debug, Clone)]
pub struct Shard {
    pub start: Start,
    pub intervals: Vec<Part>,
    pub end: End,
    /// The end frame's figures, decoded.
    pub totals: Stats,
}

/// Reads a shard's text. Every frame is checked; a shard without its end frame is
/// truncated, and one whose intervals do not sum to its end is inconsistent.
pub fn read(text: &str) -> Result<Shard, String> {
    let mut start = None;
    let mut intervals = Vec::new();
    let mut end = None;
    let mut summed = Stats::default();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let n = i + 1;
        let Some(l) = raw.strip_suffix('\n') else {
            return Err(format!("line {n}: cut short (no end of line): truncated"));
        };
        let frame = parse_line(l).map_err(|e| format!("line {n}: {e}"))?;
        match (frame, &start, &end) {
            (_, _, Some(_)) => return Err(format!("line {n}: a frame after the end frame")),
            (Frame::Start(s), None, None) => {
                check_settings(&s)?;
                check_time(n, "started_at", s.started_at)?;
                if !(s.spec.rate.is_finite() && s.spec.rate >= 0.0) {
                    return Err(format!("line {n}: rate {} is not a rate", s.spec.rate));
                }
                start = Some(s);
            }
            (Frame::Start(_), Some(_), _) => return Err(format!("line {n}: a second start frame")),
            (_, None, _) => return Err(format!("line {n}: a frame before the start frame")),
            (Frame::Interval(p), Some(_), None) => {
                if p.seq != intervals.len() as u64 {
                    return Err(format!(
                        "line {n}: interval {} where {} was due: frames are missing",
                        p.seq,
                        intervals.len()
                    ));
                }
                check_time(n, "at", p.at)?;
                add_to(&mut summed, &p.counters, &p.histograms).map_err(|e| format!("line {n}: {e}"))?;
                intervals.push(p);
            }
            (Frame::End(e), Some(_), None) => {
                check_time(n, "measured_from", e.measured_from)?;
                if !(e.measured_s.is_finite() && (0.0..=MAX_MEASURED_S).contains(&e.measured_s)) {
                    return Err(format!("line {n}: measured_s {} is not a run's length", e.measured_s));
                }
                if e.requested_rate.is_some_and(|r| !(r.is_finite() && r >= 0.0)) {
                    return Err(format!("line {n}: requested_rate is not a rate"));
                }
                end = Some((n, e));
            }
        }
    }
    let start = start.ok_or("no start frame: not a shard, or empty")?;
    let Some((n, end)) = end else {
        return Err(format!(
            "ends without its end frame, after {} intervals: truncated",
            intervals.len()
        ));
    };
    if end.intervals != intervals.len() as u64 {
        return Err(format!(
            "line {n}: the end frame counts {} intervals, the shard holds {}",
            end.intervals,
            intervals.len()
        ));
    }
    let mut totals = Stats::default();
    add_to(&mut totals, &end.counters, &end.histograms).map_err(|e| format!("line {n}: {e}"))?;
    if !same(&summed, &totals) {
        return Err(format!(
            "line {n}: the intervals sum to {} requests, the end frame says {}: inconsistent",
            summed.requests(),
            totals.requests()
        ));
    }
    Ok(Shard {
        start,
        intervals,
        end,
        totals,
    })
}

/// A run longer than a year is not one this format describes.
const MAX_MEASURED_S: f64 = 366.0 * 86_400.0;

fn check_time(line: usize, what: &str, t: UnixMillis) -> Result<(), String> {
    if (0..=MAX_TIME).contains(&t) {
        Ok(())
    } else {
        Err(format!("line {line}: {what} {t} is not a time between 1970 and 9999"))
    }
}

fn check_settings(s: &Start) -> Result<(), String> {
    let want = (
        settings(&stats::latency_histogram()),
        settings(&Stats::default().body_sizes),
    );
    if (s.latency_histogram, s.size_histogram) != want {
        return Err(format!(
            "line 1: histogram settings {:?}/{:?}, where this meshtop uses {:?}/{:?}",
            s.latency_histogram, s.size_histogram, want.0, want.1
        ));
    }
    Ok(())
}

/// Equal figures: counters and every histogram's counts.
pub fn same(a: &Stats, b: &Stats) -> bool {
    counters(a) == counters(b)
        && a.corrected == b.corrected
        && a.uncorrected == b.uncorrected
        && a.lag == b.lag
        && a.body_sizes == b.body_sizes
        && a.header_sizes == b.header_sizes
}

/// Writes a run's frames as it goes: the engine's end of the format.
pub struct Writer {
    out: Box<dyn Write + Send>,
    seq: u64,
    failed: Option<String>,
}

impl Writer {
    pub fn new(out: Box<dyn Write + Send>) -> Writer {
        Writer {
            out,
            seq: 0,
            failed: None,
        }
    }

    fn put(&mut self, frame: &Frame) {
        if self.failed.is_some() {
            return;
        }
        // Flushed per frame, so a run that dies leaves whole frames behind.
        if let Err(e) = self
            .out
            .write_all(line(frame).as_bytes())
            .and_then(|()| self.out.flush())
        {
            self.fail(e.to_string());
        }
    }

    pub fn start(&mut self, start: Start) {
        self.put(&Frame::Start(start));
    }

    pub fn interval(&mut self, at: UnixMillis, s: &Stats) {
        match counters_of(s) {
            Ok((counters, histograms)) => {
                let seq = self.seq;
                self.seq += 1;
                self.put(&Frame::Interval(Part {
                    seq,
                    at,
                    counters,
                    histograms,
                }));
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: String) {
        self.failed.get_or_insert(e);
    }

    /// The first failure, as soon as there is one.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    pub fn end(&mut self, mut end: End) -> Result<(), String> {
        end.intervals = self.seq;
        self.put(&Frame::End(end));
        match self.failed.take() {
            Some(e) => Err(format!("writing the shard: {e}")),
            None => Ok(()),
        }
    }
}

/// Shards merged: one result, and what the merge has to say about them.
pub struct Merged {
    pub result: crate::types::BenchResult,
    /// Remarks for the user (shards that did not run at the same time).
    pub notes: Vec<String>,
}

/// Merges shards of one distributed run: counts are summed and histograms merged, both
/// exactly; the measured time spans the earliest start to the latest end; rates and
/// connections add up; the per-second series is rebuilt from the 200 ms intervals. Shards
/// of another target (URL, method or protocol) are refused, each named by `names`.
pub fn merge(shards: &[(String, Shard)]) -> Result<Merged, String> {
    let Some((first_name, first)) = shards.first() else {
        return Err("no shard to merge".into());
    };
    let mut totals = Stats::default();
    let mut spec = first.start.spec.clone();
    let (mut connections, mut threads, mut rate, mut requested): (u64, u64, f64, Option<f64>) = (0, 0, 0.0, None);
    let mut notes = Vec::new();
    let mut runs: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, s) in shards {
        let (a, b) = (&first.start, &s.start);
        if let Some(earlier) = runs.insert(&b.run, name) {
            return Err(format!(
                "{name}: the same run as {earlier} (run {}): merging it twice would count it twice",
                b.run
            ));
        }
        if s.end.requested_rate.is_some() != first.end.requested_rate.is_some() {
            let loop_of = |s: &Shard| {
                if s.end.requested_rate.is_some() {
                    "an open loop"
                } else {
                    "a closed loop"
                }
            };
            return Err(format!(
                "{name}: {}, where {first_name} is {}: one run's shards share their load model",
                loop_of(s),
                loop_of(first)
            ));
        }
        if (&a.spec.url, &a.spec.method, &a.protocol) != (&b.spec.url, &b.spec.method, &b.protocol) {
            return Err(format!(
                "{name}: {} {} over {}, where {first_name} is {} {} over {}: shards of one run share their target",
                b.spec.method, b.spec.url, b.protocol, a.spec.method, a.spec.url, a.protocol
            ));
        }
        add_to(&mut totals, &s.end.counters, &s.end.histograms).map_err(|e| format!("{name}: {e}"))?;
        connections += u64::from(b.spec.connections);
        threads += u64::from(b.threads);
        rate += b.spec.rate;
        if let Some(r) = s.end.requested_rate {
            requested = Some(requested.unwrap_or(0.0) + r);
        }
    }
    let end_of = |s: &Shard| s.end.measured_from + (s.end.measured_s * 1000.0).round() as i64;
    let started_at = shards
        .iter()
        .map(|(_, s)| s.end.measured_from)
        .min()
        .unwrap_or_default();
    let ended_at = shards
        .iter()
        .map(|(_, s)| end_of(s))
        .max()
        .unwrap_or_default()
        .max(started_at);
    let latest_start = shards
        .iter()
        .map(|(_, s)| s.end.measured_from)
        .max()
        .unwrap_or_default();
    let earliest_end = shards.iter().map(|(_, s)| end_of(s)).min().unwrap_or_default();
    if latest_start > earliest_end {
        notes
            .push("the shards did not all run at the same time: the rate is over the whole span, gaps included".into());
    }
    spec.connections = u32::try_from(connections).unwrap_or(u32::MAX);
    spec.threads = u32::try_from(threads).unwrap_or(u32::MAX);
    spec.threads_note = None;
    spec.rate = rate;
    if spec.label.is_none() {
        spec.label = Some(format!("merge of {} shards", shards.len()));
    }
    let series = series(shards, started_at, ended_at)?;
    Ok(Merged {
        result: super::engine::result_of(
            &totals,
            super::engine::Head {
                spec,
                body_bytes: first.start.body_bytes,
                protocol: first.start.protocol.clone(),
                threads: u32::try_from(threads).unwrap_or(u32::MAX),
                started_at,
                ended_at,
                duration_s: (ended_at - started_at) as f64 / 1000.0,
                cancelled: shards.iter().any(|(_, s)| s.end.cancelled),
                requested_rate: requested,
                open_loop: requested.is_some(),
                series,
            },
        ),
        notes,
    })
}

/// Seconds from `from`, each the merge of the intervals that closed in it; the rate is
/// over the part of the second the run covered (its last may be short).
fn series(
    shards: &[(String, Shard)],
    from: UnixMillis,
    to: UnixMillis,
) -> Result<Vec<crate::types::SecondStats>, String> {
    let mut seconds: BTreeMap<u32, Stats> = BTreeMap::new();
    // The last interval closes a moment after the last response: it counts in the last second.
    let last = u32::try_from(((to - from).max(1) - 1) / 1000).unwrap_or(u32::MAX);
    for (name, s) in shards {
        for p in &s.intervals {
            if p.at <= from {
                continue;
            }
            let second = u32::try_from((p.at - from - 1) / 1000).unwrap_or(u32::MAX).min(last);
            add_to(seconds.entry(second).or_default(), &p.counters, &p.histograms)
                .map_err(|e| format!("{name}: interval {}: {e}", p.seq))?;
        }
    }
    Ok(seconds
        .into_iter()
        .map(|(second, s)| crate::types::SecondStats {
            second,
            requests: s.requests(),
            errors: s.errors.total(),
            rps: s.requests() as f64 / ((to - from) as f64 / 1000.0 - f64::from(second)).clamp(0.001, 1.0),
            p50_us: s.corrected.value_at_quantile(0.5),
            p99_us: s.corrected.value_at_quantile(0.99),
            max_us: s.corrected.max(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Timing;
    use crate::stats::{FailureKind, Response};

    fn spec() -> BenchSpec {
        crate::BenchConfig::new("http://127.0.0.1:8080/").spec
    }

    fn start() -> Start {
        let probe = Stats::default();
        Start {
            run: "0123456789abcdef".into(),
            spec: spec(),
            protocol: "HTTP/1.1".into(),
            threads: 1,
            body_bytes: 0,
            started_at: 1_000,
            meshtop_version: "test".into(),
            latency_histogram: settings(&probe.corrected),
            size_histogram: settings(&probe.body_sizes),
        }
    }

    /// A tick's figures: one response per latency (µs), status 200 unless 0 (then a
    /// connect error).
    fn stats(latencies_us: &[u64]) -> Stats {
        let mut s = Stats::default();
        let t0 = std::time::Instant::now();
        for &us in latencies_us {
            let done = t0 + std::time::Duration::from_micros(us);
            if us == 0 {
                s.record_error(FailureKind::Connect, "refused", done);
                continue;
            }
            let t = Timing {
                intended: std::time::Duration::ZERO,
                sent: std::time::Duration::ZERO,
                done: std::time::Duration::from_micros(us),
            };
            let r = Response {
                status: if us % 7 == 0 { 503 } else { 200 },
                body_bytes: us % 1000,
                header_bytes: 100,
            };
            s.record_response(&t, done, false, 50, r);
        }
        s
    }

    /// A shard's text: start, an interval per tick, and the end frame with their sum.
    fn shard_text(ticks: &[Stats], measured_from: UnixMillis) -> String {
        let mut text = line(&Frame::Start(Start {
            run: format!("run-{measured_from}"),
            started_at: measured_from,
            ..start()
        }));
        let mut total = Stats::default();
        for (i, t) in ticks.iter().enumerate() {
            let (counters, histograms) = counters_of(t).unwrap();
            text += &line(&Frame::Interval(Part {
                seq: i as u64,
                at: measured_from + 200 * (i as i64 + 1),
                counters,
                histograms,
            }));
            total.merge(t);
        }
        let (counters, histograms) = counters_of(&total).unwrap();
        text += &line(&Frame::End(End {
            intervals: ticks.len() as u64,
            counters,
            histograms,
            measured_from,
            measured_s: 0.2 * ticks.len() as f64,
            cancelled: false,
            requested_rate: None,
        }));
        text
    }

    #[test]
    fn a_frame_round_trips_and_a_changed_byte_is_caught() {
        let (counters, histograms) = counters_of(&stats(&[120, 340, 0, 7_000])).unwrap();
        let frame = Frame::Interval(Part {
            seq: 3,
            at: 42,
            counters,
            histograms,
        });
        let l = line(&frame);
        assert!(l.starts_with("mtshard/1 ") && l.ends_with('\n'));
        assert_eq!(parse_line(l.trim_end()).unwrap(), frame);
        let altered = l.trim_end().replacen("\"seq\":3", "\"seq\":4", 1);
        assert_eq!(
            parse_line(&altered).unwrap_err(),
            "checksum mismatch: the frame was cut or altered"
        );
        assert_eq!(
            parse_line(&l.replacen("mtshard/1", "mtshard/2", 1)).unwrap_err(),
            "a frame of another version (\"mtshard/2\"); this meshtop reads mtshard/1"
        );
        assert_eq!(
            parse_line("{\"frame\":\"end\"}").unwrap_err(),
            "not a shard frame (it starts \"{\\\"frame\\\":\\\"en\")"
        );
    }

    #[test]
    fn merging_shards_equals_the_histogram_of_all_their_values() {
        // Values spread over five decades, split unevenly into ticks of two shards.
        // Every 97th a connect error (no latency, counted by kind).
        let values: Vec<u64> = (1..=5_000u64)
            .map(|i| if i % 97 == 0 { 0 } else { (i * i * 37) % 2_000_000 + 1 })
            .collect();
        let (a, b) = values.split_at(1_700);
        let ticks = |v: &[u64]| v.chunks(333).map(stats).collect::<Vec<_>>();
        let shards = [
            ("a".to_string(), read(&shard_text(&ticks(a), 10_000)).unwrap()),
            ("b".to_string(), read(&shard_text(&ticks(b), 10_050)).unwrap()),
        ];
        let merged = merge(&shards).unwrap();
        let all = stats(&values);
        let r = &merged.result;
        assert_eq!(r.requests, all.requests());
        assert_eq!(r.responses, all.responses);
        assert_eq!(r.status, all.status);
        assert_eq!(r.errors, all.errors.counts());
        assert_eq!(r.errors.connect, 51);
        assert_eq!(r.bytes_received, all.bytes_received);
        assert_eq!(r.latency, stats::distribution(&all.corrected));
        assert_eq!(r.body_sizes, stats::distribution(&all.body_sizes));
        // The shards overlap in time: no note; the span runs from a's start to b's end.
        assert!(merged.notes.is_empty());
        assert_eq!(r.started_at, 10_000);
        assert_eq!(r.ended_at, 10_050 + (0.2 * 10.0 * 1000.0) as i64);
        assert_eq!(r.config.connections, 100);
        assert_eq!(r.series.iter().map(|s| s.requests).sum::<u64>(), all.requests());
    }

    #[test]
    fn a_cut_or_inconsistent_shard_is_refused_with_the_reason() {
        let text = shard_text(&[stats(&[100, 200]), stats(&[300])], 5_000);
        assert!(read(&text).is_ok());
        let lines: Vec<&str> = text.lines().collect();
        // Cut inside the last line.
        let cut = &text[..text.len() - 10];
        assert_eq!(read(cut).unwrap_err(), "line 4: cut short (no end of line): truncated");
        // Cut after a whole interval: no end frame.
        let no_end = format!("{}\n{}\n", lines[0], lines[1]);
        assert_eq!(
            read(&no_end).unwrap_err(),
            "ends without its end frame, after 1 intervals: truncated"
        );
        // An interval lost in the middle.
        let gap = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        assert_eq!(
            read(&gap).unwrap_err(),
            "line 2: interval 1 where 0 was due: frames are missing"
        );
        // An end frame that does not match its intervals.
        let other_end = shard_text(&[stats(&[100, 200, 300, 400])], 5_000);
        let wrong = format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            lines[1],
            lines[2],
            other_end.lines().last().unwrap()
        );
        assert_eq!(
            read(&wrong).unwrap_err(),
            "line 4: the end frame counts 1 intervals, the shard holds 2"
        );
        let other_end = shard_text(&[stats(&[100, 200]), stats(&[300, 400])], 5_000);
        let last = other_end.lines().last().unwrap();
        let wrong = format!("{}\n{}\n{}\n{last}\n", lines[0], lines[1], lines[2]);
        assert_eq!(
            read(&wrong).unwrap_err(),
            "line 4: the intervals sum to 3 requests, the end frame says 4: inconsistent"
        );
        // Times no run has.
        let later = text.replacen("\"measured_from\":5000", "\"measured_from\":9223372036854775807", 1);
        let reframed: String = later
            .lines()
            .map(|l| framed(l.splitn(3, ' ').nth(2).unwrap()))
            .collect();
        assert_eq!(
            read(&reframed).unwrap_err(),
            "line 4: measured_from 9223372036854775807 is not a time between 1970 and 9999"
        );
        assert_eq!(read("").unwrap_err(), "no start frame: not a shard, or empty");
    }

    #[test]
    fn histograms_of_other_settings_or_damaged_headers_are_refused() {
        let mut other = Histogram::<u64>::new_with_bounds(1, 1_000, 2).unwrap();
        other.record(5).unwrap();
        let text = encode_histogram(&other).unwrap();
        let into = stats::latency_histogram();
        assert_eq!(
            decode_histogram("latency", &text, &into).unwrap_err(),
            "histogram latency: settings [1, 1000, 2] differ from [1, 3600000000, 3]"
        );
        assert_eq!(
            decode_histogram("latency", "AAAA", &into).unwrap_err(),
            "histogram latency: not HdrHistogram's V2 compressed encoding"
        );
        // A V2 header whose payload length runs past what inflated.
        let mut plain = Vec::new();
        for w in [V2_COOKIE, 1 << 30, 0, 3] {
            plain.extend(w.to_be_bytes());
        }
        for l in [1u64, 3_600_000_000] {
            plain.extend(l.to_be_bytes());
        }
        plain.extend(1.0f64.to_be_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&plain).unwrap();
        let deflated = z.finish().unwrap();
        let mut bytes = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        bytes.extend((deflated.len() as u32).to_be_bytes());
        bytes.extend(deflated);
        let crafted = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(
            decode_histogram("latency", &crafted, &into).unwrap_err(),
            "histogram latency: a damaged V2 header"
        );
    }

    #[test]
    fn a_frame_whose_histograms_and_counts_disagree_is_refused_whole() {
        let (mut counters, histograms) = counters_of(&stats(&[100, 200, 300])).unwrap();
        counters.responses = 2;
        let mut into = stats(&[50]);
        let before = counters_of(&into).unwrap();
        assert_eq!(
            add_to(&mut into, &counters, &histograms).unwrap_err(),
            "histogram latency counts 3 values for 2 responses"
        );
        // Nothing of the frame was taken.
        assert_eq!(counters_of(&into).unwrap(), before);
        // Counts past what V2 holds are refused before anything is summed.
        let (mut huge, h) = counters_of(&Stats::default()).unwrap();
        huge.responses = MAX_COUNT + 1;
        assert!(add_to(&mut Stats::default(), &huge, &h).is_err());
    }

    #[test]
    fn the_same_run_twice_or_mixed_load_models_are_refused() {
        let a = read(&shard_text(&[stats(&[100])], 1_000)).unwrap();
        let e = merge(&[("a.shard".into(), a.clone()), ("copy.shard".into(), a.clone())])
            .err()
            .unwrap();
        assert_eq!(
            e,
            "copy.shard: the same run as a.shard (run run-1000): merging it twice would count it twice"
        );
        let mut open = read(&shard_text(&[stats(&[100])], 1_100)).unwrap();
        open.end.requested_rate = Some(100.0);
        let e = merge(&[("a.shard".into(), a), ("open.shard".into(), open)])
            .err()
            .unwrap();
        assert_eq!(
            e,
            "open.shard: an open loop, where a.shard is a closed loop: one run's shards share their load model"
        );
    }

    #[test]
    fn shards_of_another_target_are_refused_by_name() {
        let a = read(&shard_text(&[stats(&[100])], 1_000)).unwrap();
        let mut b = a.clone();
        b.start.run = "another".into();
        b.start.spec.url = "http://127.0.0.1:9090/".into();
        let e = merge(&[("a.shard".into(), a), ("b.shard".into(), b)]).err().unwrap();
        assert_eq!(
            e,
            "b.shard: GET http://127.0.0.1:9090/ over HTTP/1.1, where a.shard is GET http://127.0.0.1:8080/ over HTTP/1.1: shards of one run share their target"
        );
    }
}

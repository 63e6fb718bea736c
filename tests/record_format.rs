//! Recordings end to end: write → read round trips, damage (truncation, flipped bytes, bad
//! lines), versions, redaction, and a replay that renders what the live session rendered.
//! Every fixture is generated here.

mod support;

use std::time::Duration;

use meshtop::app::{Keymap, Stamped, State, Update, fold};
use meshtop::metrics::golden::{Dialect, Totals};
use meshtop::model::{ErrorKind, Resource};
use meshtop::record::cast::{CastMeta, write_cast};
use meshtop::record::{FlushPolicy, Header, ReadError, ReadProblem, Recorder, Recording};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use support::scenario::{self, T0};

const START: i64 = T0 - 10_000;

fn header() -> Header {
    Header::new("testbed", "generated in tests/record_format.rs; nothing real", START).emulated("everything")
}

/// Small chunks, so a modest session spans many frames.
fn small_frames() -> FlushPolicy {
    FlushPolicy {
        frame_bytes: 1_500,
        frame_age: Duration::from_secs(3_600),
        ..FlushPolicy::default()
    }
}

/// The UI scenario, then a minute of scrapes of its productpage proxy, markers among them.
fn session() -> Vec<Stamped> {
    let mut out = scenario::updates();
    out.insert(
        1,
        Stamped {
            at: START + 1,
            update: Update::Marker { name: "start".into() },
        },
    );
    for i in 1..=60i64 {
        let requests = 5_000.0 + 97.0 * i as f64;
        let update = Update::ProxyScraped {
            namespace: "bookinfo".into(),
            pod: "productpage-v1-5d7f-q2".into(),
            dialect: Dialect::Istio,
            inbound: Totals {
                requests,
                successes: requests - i as f64,
                mtls_requests: requests,
                latency_ms: vec![
                    (5.0, requests * 0.7),
                    (25.0, requests * 0.99),
                    (f64::INFINITY, requests),
                ],
                tcp_open_connections: 3.0,
                ..Totals::default()
            },
            outbound: Totals {
                requests: 10.0 * i as f64,
                successes: 10.0 * i as f64,
                ..Totals::default()
            },
            edges: [(
                "reviews.bookinfo.svc.cluster.local".to_string(),
                Totals {
                    requests: 10.0 * i as f64,
                    successes: 10.0 * i as f64,
                    ..Totals::default()
                },
            )]
            .into(),
            described: Default::default(),
            bad_lines: 0,
            first_bad_line: None,
        };
        out.push(Stamped {
            at: T0 + i * 1_000 + i % 7,
            update,
        });
        if i % 20 == 0 {
            out.push(Stamped {
                at: T0 + i * 1_000 + 500,
                update: Update::Marker {
                    name: format!("minute {}", i / 20),
                },
            });
        }
    }
    out
}

fn record(entries: &[Stamped], policy: FlushPolicy) -> Vec<u8> {
    let mut r = Recorder::new(Vec::new(), &header(), policy).unwrap();
    for e in entries {
        r.write(e).unwrap();
    }
    r.finish().unwrap()
}

/// (start, length, entries it holds) of each zstd frame.
fn frames(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let len = zstd::zstd_safe::find_frame_compressed_size(&bytes[pos..]).unwrap();
        let text = zstd::stream::decode_all(&bytes[pos..pos + len]).unwrap();
        let lines = text.iter().filter(|b| **b == b'\n').count();
        // The first frame is the header alone.
        out.push((pos, len, if pos == 0 { 0 } else { lines }));
        pos += len;
    }
    out
}

#[test]
fn write_then_read_gives_the_same_updates_to_the_millisecond() {
    let entries = session();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.meshtop");
    let mut r = Recorder::create(&path, &header()).unwrap();
    for e in &entries {
        r.write(e).unwrap();
    }
    r.mark("the end", T0 + 61_234).unwrap();
    let stats = r.stats();
    r.finish().unwrap();

    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.header, header());
    assert_eq!(rec.problems, []);
    assert_eq!(rec.stopped, None);
    assert_eq!(rec.entries[..entries.len()], entries[..]);
    assert_eq!(rec.entries.len(), entries.len() + 1);
    assert_eq!(stats.entries, entries.len() as u64 + 1);
    assert_eq!(stats.redacted, 0, "nothing in the scenario looks like a secret");
    assert_eq!(rec.duration(), Duration::from_millis(71_234));
    let markers: Vec<(usize, f64, &str)> = rec.markers().iter().map(|m| (m.index, m.seconds, m.name)).collect();
    let n = entries.len();
    assert_eq!(
        markers,
        [
            (1, 0.001, "start"),
            (n - 43, 30.5, "minute 1"),
            (n - 22, 50.5, "minute 2"),
            (n - 1, 70.5, "minute 3"),
            (n, 71.234, "the end")
        ]
    );
    assert_eq!(rec.seconds(n), 71.234);

    // Many small frames read the same.
    let small = record(&entries, small_frames());
    assert!(frames(&small).len() > 10);
    assert_eq!(Recording::from_bytes(&small).unwrap().entries, entries);
}

#[test]
fn a_cut_file_replays_what_is_whole_and_says_where_it_stopped() {
    let entries = session();
    let bytes = record(&entries, small_frames());
    let frames = frames(&bytes);
    let header_len = frames[0].1;
    for cut in (header_len..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
        let rec = Recording::from_bytes(&bytes[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let n = rec.entries.len();
        assert_eq!(rec.entries[..], entries[..n], "cut at {cut}: a prefix, unaltered");
        assert_eq!(rec.problems, [], "cut at {cut}");
        // At most the frame that was cut is lost.
        let whole: usize = frames.iter().filter(|f| f.0 + f.1 <= cut).map(|f| f.2).sum();
        assert!(n >= whole, "cut at {cut}: {n} < {whole}");
        let at_boundary = frames.iter().any(|f| f.0 == cut);
        if at_boundary {
            assert_eq!(rec.stopped, None, "cut at {cut}, between frames");
        } else {
            let seconds = rec.seconds(n.saturating_sub(1));
            assert_eq!(
                rec.stopped.as_deref(),
                Some(format!("truncated after {n} updates at {seconds:.1} s (zstd stream ended mid-frame)").as_str()),
                "cut at {cut}"
            );
        }
    }
    for cut in [4, 7, header_len / 2] {
        assert_eq!(
            Recording::from_bytes(&bytes[..cut]),
            Err(ReadError::NoHeader),
            "cut at {cut}, inside the header"
        );
    }
    // Only the header frame's checksum is cut: the header line itself is whole.
    let rec = Recording::from_bytes(&bytes[..header_len - 1]).unwrap();
    assert_eq!(rec.header, header());
    assert_eq!(
        rec.stopped.as_deref(),
        Some("truncated after 0 updates at 0.0 s (zstd stream ended mid-frame)")
    );
}

#[test]
fn a_cut_inside_a_frame_loses_only_what_came_after_the_last_flush() {
    let entries = session();
    let every_write = FlushPolicy {
        flush_every: Duration::ZERO,
        ..FlushPolicy::default()
    };
    let mut r = Recorder::new(Vec::new(), &header(), every_write).unwrap();
    // (file length after the flush, updates written by then)
    let mut flushed = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        r.write(e).unwrap();
        flushed.push((r.stats().file_bytes as usize, i + 1));
    }
    let bytes = r.finish().unwrap();
    let frames = frames(&bytes);
    assert_eq!(frames.len(), 2, "the header's frame and one more");
    for cut in (frames[1].0 + 1..bytes.len()).step_by(41) {
        let rec = Recording::from_bytes(&bytes[..cut]).unwrap();
        let n = rec.entries.len();
        let on_disk = flushed
            .iter()
            .filter(|(len, _)| *len <= cut)
            .map(|f| f.1)
            .max()
            .unwrap_or(0);
        assert!(n >= on_disk, "cut at {cut}: {n} read, {on_disk} flushed before the cut");
        assert_eq!(rec.entries[..], entries[..n], "cut at {cut}");
        assert!(rec.stopped.is_some(), "cut at {cut}");
    }
}

#[test]
fn a_damaged_frame_is_skipped_and_the_frames_after_it_are_read() {
    let entries = session();
    let bytes = record(&entries, small_frames());
    let frames = frames(&bytes);
    let k = frames.len() / 2;
    let (start, len, lost) = frames[k];
    let mut damaged = bytes.clone();
    for b in &mut damaged[start + len / 2..start + len / 2 + 4] {
        *b ^= 0x5a;
    }
    let rec = Recording::from_bytes(&damaged).unwrap();
    let before: usize = frames[..k].iter().map(|f| f.2).sum();
    let mut expected = entries.clone();
    expected.drain(before..before + lost);
    assert_eq!(rec.entries, expected);
    assert_eq!(rec.stopped, None);
    assert_eq!(rec.problems.len(), 1, "{:?}", rec.problems);
    let p = &rec.problems[0];
    assert_eq!((p.line, p.byte), (None, Some(start as u64)));
    let seconds = rec.seconds(before - 1);
    let text = p.to_string();
    assert!(
        text.starts_with(&format!("byte {start}: damaged zstd frame (zstd: ")),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "); its updates after {seconds:.1} s are skipped, later line numbers count only lines read"
        )),
        "{text}"
    );

    // Garbage between frames is stepped over.
    let mut spliced = bytes[..start].to_vec();
    spliced.extend_from_slice(b"GARBAGE!");
    spliced.extend_from_slice(&bytes[start..]);
    let rec = Recording::from_bytes(&spliced).unwrap();
    assert_eq!(rec.entries, entries);
    assert_eq!(
        rec.problems,
        [ReadProblem {
            line: None,
            byte: Some(start as u64),
            message: "8 bytes that are not zstd data, skipped".into()
        }]
    );
}

#[test]
fn a_line_that_does_not_parse_is_skipped_and_reported() {
    let text = format!(
        "{}\n[0.5,{{\"type\":\"tick\"}}]\n{{\"type\":\"tick\"}}\n\n[1.0,{{\"type\":\"teleport\"}}]\n[1.25,{{\"type\":\"api_latency\",\"millis\":4}}]\r\n",
        serde_json::to_string(&header()).unwrap()
    );
    let expected_entries = vec![
        Stamped {
            at: START + 500,
            update: Update::Tick,
        },
        Stamped {
            at: START + 1_250,
            update: Update::ApiLatency { millis: 4 },
        },
    ];
    let expected_problems = [
        "line 3: not a recording entry: expected `[seconds, update]`: invalid type: map, expected a tuple of size 2 at line 1 column 0",
        "line 5: update of unknown type \"teleport\" (written by a newer meshtop?)",
    ];
    // Plain text (a hand-written fixture) and the same text compressed.
    for bytes in [text.as_bytes().to_vec(), zstd::encode_all(text.as_bytes(), 3).unwrap()] {
        let rec = Recording::from_bytes(&bytes).unwrap();
        assert_eq!(rec.entries, expected_entries);
        let problems: Vec<String> = rec.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems, expected_problems);
        assert_eq!(rec.stopped, None);
    }
    // Plain text cut mid-line.
    let cut = &text[..text.len() - 12];
    let rec = Recording::from_bytes(cut.as_bytes()).unwrap();
    assert_eq!(rec.entries, expected_entries[..1]);
    assert_eq!(
        rec.stopped.as_deref(),
        Some("truncated after 1 updates at 0.5 s (line 6 ends mid-line)")
    );
    // A last line without its newline is still read.
    let rec = Recording::from_bytes(text.trim_end().as_bytes()).unwrap();
    assert_eq!(rec.entries, expected_entries);
}

#[test]
fn versions_and_other_files_are_told_apart() {
    let newer =
        "{\"format\":\"meshtop-recording\",\"version\":\"2.0\",\"started\":\"2031-01-01T00:00:00Z\"}\n[[0.5],{}]\n";
    let err = Recording::from_bytes(&zstd::encode_all(newer.as_bytes(), 3).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "recorded by a newer meshtop (format 2.0); this meshtop reads 1.x — upgrade meshtop"
    );
    let newer_minor = "{\"format\":\"meshtop-recording\",\"version\":\"1.3\",\"meshtop_version\":\"3.1.0\",\"recorded_at\":1000,\"source\":\"prod\",\"provenance\":\"real\",\"codec_hints\":[1]}\n[2.0,{\"type\":\"tick\",\"jitter_ms\":3}]\n";
    let rec = Recording::from_bytes(newer_minor.as_bytes()).unwrap();
    assert_eq!(
        rec.entries,
        [Stamped {
            at: 3_000,
            update: Update::Tick
        }]
    );

    let cases: [(&[u8], &str); 7] = [
        (b"", "empty file: not a meshtop recording"),
        (
            b"\x89PNG\r\n\x1a\n\0\0",
            "not a meshtop recording: neither zstd-compressed nor JSON text",
        ),
        (
            b"[0.5,{\"type\":\"tick\"}]\n",
            "not a meshtop recording: neither zstd-compressed nor JSON text",
        ),
        (
            b"{\"version\":2,\"width\":80,\"height\":24}\n[0.1,\"o\",\"x\"]\n",
            "not a meshtop recording: the first line is not a meshtop-recording header",
        ),
        (
            b"{\"format\":\"meshtop-recording\",\"version\":\"1.0\"}",
            "a meshtop recording with a broken header: missing field `meshtop_version`",
        ),
        (
            b"{\"format\":\"meshtop-recording\",\"vers",
            "not a meshtop recording: the file ends before its header line does",
        ),
        (
            b"\x28\xb5\x2f\xfd\x00\x00\x00\x00\x00",
            "not a meshtop recording: the file ends before its header line does",
        ),
    ];
    for (bytes, message) in cases {
        let err = Recording::from_bytes(bytes).unwrap_err();
        assert_eq!(err.to_string(), message, "{bytes:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let err = Recording::open(dir.path().join("missing.meshtop")).unwrap_err();
    assert!(format!("{err:#}").starts_with("reading recording "), "{err:#}");
}

#[test]
fn secrets_are_redacted_on_the_way_to_the_file() {
    let secret_updates = [
        Update::ScrapeFailed {
            namespace: "shop".into(),
            pod: "web-1".into(),
            message: "GET https://10.0.0.7:15020/stats/prometheus?token=s3cr3t&format=text: 401 (Authorization: Bearer eyJhbGciOi.x.y)".into(),
        },
        Update::SourceError {
            resource: Resource::Cluster,
            namespace: None,
            kind: ErrorKind::Unreachable,
            message: "connecting to https://admin:hunter2@10.0.0.1:6443: refused".into(),
        },
        Update::Marker {
            name: "cookie: session=abc".into(),
        },
    ];
    let entries: Vec<Stamped> = secret_updates
        .into_iter()
        .enumerate()
        .map(|(i, update)| Stamped {
            at: START + i as i64,
            update,
        })
        .collect();
    let mut r = Recorder::new(Vec::new(), &header(), FlushPolicy::default()).unwrap();
    for e in &entries {
        r.write(e).unwrap();
    }
    assert_eq!(r.stats().redacted, 3);
    let bytes = r.finish().unwrap();
    let text = String::from_utf8(zstd::decode_all(bytes.as_slice()).unwrap()).unwrap();
    for secret in ["s3cr3t", "eyJhbGciOi", "hunter2", "abc"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let rec = Recording::from_bytes(&bytes).unwrap();
    let shown: Vec<String> = rec
        .entries
        .iter()
        .map(|e| match &e.update {
            Update::ScrapeFailed { message, .. } | Update::SourceError { message, .. } => message.clone(),
            Update::Marker { name } => name.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "GET https://10.0.0.7:15020/stats/prometheus?token=<redacted>&format=text: 401 (Authorization: Bearer <redacted>)",
            "connecting to https://admin:<redacted>@10.0.0.1:6443: refused",
            "cookie: <redacted>",
        ]
    );
}

fn state() -> State {
    State::new(Keymap::default())
}

fn render(state: &State) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    term.draw(|f| meshtop::ui::Ui::builtin().render(state, f)).unwrap();
    term.backend().buffer().clone()
}

#[test]
fn a_replay_renders_what_the_live_session_rendered_and_exports_as_a_cast() {
    let entries = session();
    let mut live = state();
    for e in &entries {
        fold(&mut live, e.clone());
    }
    let rec = Recording::from_bytes(&record(&entries, FlushPolicy::default())).unwrap();
    let mut replayed = state();
    let mut frames = Vec::new();
    for (i, e) in rec.entries.iter().enumerate() {
        fold(&mut replayed, e.clone());
        if i % 25 == 0 {
            frames.push((rec.seconds(i), render(&replayed)));
        }
    }
    assert_eq!(render(&replayed), render(&live));

    let markers: Vec<(f64, String)> = rec.markers().iter().map(|m| (m.seconds, m.name.to_string())).collect();
    let meta = CastMeta {
        title: Some("meshtop replay".into()),
        timestamp: Some(START / 1000),
    };
    let cast = String::from_utf8(write_cast(Vec::new(), &meta, frames, &markers).unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = cast.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["width"], 100);
    assert_eq!(lines[0]["height"], 30);
    let kinds: Vec<&str> = lines[1..].iter().map(|e| e[1].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "m").count(), markers.len());
    assert!(kinds.iter().filter(|k| **k == "o").count() >= 2);
    let times: Vec<f64> = lines[1..].iter().map(|e| e[0].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

/// A small deterministic generator, so the mutations are the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn thousands_of_mutations_never_panic() {
    let entries = session();
    let compressed = record(&entries, small_frames());
    let plain = zstd::decode_all(compressed.as_slice()).unwrap();
    let mut rng = SplitMix(0x006d_6573_6874_6f70);
    let (mut read, mut refused) = (0, 0);
    for round in 0..3_000 {
        let base = if round % 3 == 0 { &plain } else { &compressed };
        let mut bytes = base.clone();
        for _ in 0..=rng.below(4) {
            let i = rng.below(bytes.len());
            match rng.below(6) {
                0 => bytes.truncate(i),
                1 => bytes[i] ^= 1 << rng.below(8),
                2 => bytes[i] = rng.next() as u8,
                3 => {
                    let n = rng.below(64).min(bytes.len() - i);
                    bytes.drain(i..i + n);
                }
                4 => {
                    let j = rng.below(bytes.len());
                    let chunk = bytes[j..(j + rng.below(256)).min(bytes.len())].to_vec();
                    bytes.splice(i..i, chunk);
                }
                _ => bytes.insert(i, b"\n\"{}[]\r\0\xff"[rng.below(9)]),
            }
            if bytes.is_empty() {
                break;
            }
        }
        match Recording::from_bytes(&bytes) {
            Ok(rec) => {
                read += 1;
                assert!(rec.entries.len() <= entries.len() + 64, "round {round}");
                for p in &rec.problems {
                    assert!(!p.to_string().is_empty());
                }
            }
            Err(e) => {
                refused += 1;
                assert!(e.to_string().contains("meshtop"), "round {round}: unclear error {e}");
            }
        }
    }
    // Most damage is after the header, so most files still read.
    assert!(read > refused, "read {read}, refused {refused}");
}

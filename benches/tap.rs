//! The tap pipeline on one core: parse + filter + summary + fold, from a synthetic stream
//! that mixes every source's format (Istio TEXT and JSON access logs, Envoy's default
//! format, Linkerd tap frames, bench samples), with over 10,000 distinct paths and 1%
//! malformed lines. Prints events per second against the 50,000/s target, and the memory
//! held after 200,000 and 1,000,000 inputs (bounded by the buffer and the group cap, not by
//! the stream), and the frame time (build + draw, 200x60) of the tap stream and summary
//! views while the stream flows, one frame every 6 batches (about 3,000 events): about what
//! the TUI's 30-frame cap draws at 90,000 events/s. Each row's frame figures are those of
//! its own inputs. Run: cargo bench --bench tap

use std::hint::black_box;
use std::time::Instant;

use meshtop::app::{Action, Keymap, Stamped, State, Update, apply_action, fold};
use meshtop::model::tap::{TapEvent, TapOrigin};
use meshtop::tap::TapFilter;
use meshtop::tap::accesslog::parse_line;
use meshtop::tap::linkerd::{FrameDecoder, Joiner, MAX_FRAME, decode_event, proto};
use meshtop::ui::Ui;
use prost::Message;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const TARGET: f64 = 50_000.0;

enum Input {
    Line(String),
    /// A Linkerd tap chunk: the three frames of one request.
    Frames(Vec<u8>),
    Sample(Box<TapEvent>),
}

/// A cheap deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn path(r: &mut Rng) -> String {
    match r.below(3) {
        // IDs: grouped as /users/{id}/orders/{id}.
        0 => format!(
            "/users/{}/orders/{}?page={}",
            r.below(1_000_000),
            r.below(1000),
            r.below(9)
        ),
        // Names: distinct groups, more than the cap.
        1 => format!("/shop/product-{}", r.below(20_000)),
        _ => format!("/api/v{}/items", r.below(5)),
    }
}

fn frames(r: &mut Rng, stream: u64, p: &str) -> Vec<u8> {
    use proto::*;
    let addr = |ip: u32, port| TcpAddress {
        ip: Some(IpAddress { ip: Some(Ip::Ipv4(ip)) }),
        port,
    };
    let base = |http| proto::TapEvent {
        source: Some(addr(0x0a00_0001, 40000)),
        source_meta: None,
        destination: Some(addr(0x0a00_0002, 8080)),
        destination_meta: Some(Meta {
            labels: [("namespace".into(), "emojivoto".into()), ("pod".into(), "web-1".into())].into(),
        }),
        route_meta: None,
        proxy_direction: 1,
        event: Some(Event::Http(Http { event: Some(http) })),
    };
    let id = Some(StreamId { base: 1, stream });
    let ms = |v: u64| {
        Some(Duration {
            seconds: 0,
            nanos: (v * 1_000_000) as i32,
        })
    };
    let lat = 1 + r.below(200);
    let mut out = Vec::new();
    for e in [
        base(HttpEvent::RequestInit(RequestInit {
            id,
            method: Some(HttpMethod {
                r#type: Some(Registered::Registered(0)),
            }),
            scheme: None,
            authority: "web-svc.emojivoto:80".into(),
            path: p.into(),
            headers: None,
        })),
        base(HttpEvent::ResponseInit(ResponseInit {
            id,
            since_request_init: ms(lat / 2),
            http_status: if r.below(50) == 0 { 500 } else { 200 },
            headers: None,
        })),
        base(HttpEvent::ResponseEnd(ResponseEnd {
            id,
            since_request_init: ms(lat),
            since_response_init: ms(lat / 2),
            response_bytes: r.below(4096),
            eos: None,
            trailers: None,
        })),
    ] {
        let body = e.encode_to_vec();
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
    }
    out
}

fn stream(n: usize, seed: u64) -> (Vec<Input>, std::collections::HashSet<u64>) {
    stream_with(n, &mut Rng(seed), 0)
}

/// `n` inputs, numbered from `from`, and the hashes of the distinct paths among them (the
/// bench's own bookkeeping stays small, so RSS is the pipeline's).
fn stream_with(n: usize, r: &mut Rng, from: usize) -> (Vec<Input>, std::collections::HashSet<u64>) {
    let mut paths = std::collections::HashSet::new();
    let inputs = (from..from + n)
        .map(|i| {
            let p = path(r);
            paths.insert({
                use std::hash::{BuildHasher, BuildHasherDefault};
                BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(&p)
            });
            let code = if r.below(20) == 0 { 503 } else { 200 };
            let lat = r.below(300);
            let t = format!("2026-11-30T09:{:02}:{:02}.{:03}Z", (i / 60_000) % 60, (i / 1000) % 60, i % 1000);
            if r.below(100) == 0 {
                // Malformed: a line cut in half, or a log line that is no access log.
                return Input::Line(if r.below(2) == 0 {
                    format!("[{t}] \"GET {p} HTTP/1.1\" {code} - via_upstream")
                } else {
                    format!("{t}\twarning\tenvoy config\tgRPC config stream closed: 13")
                });
            }
            match r.below(20) {
                0..=7 => Input::Line(format!(
                    "[{t}] \"GET {p} HTTP/1.1\" {code} - via_upstream - \"-\" 0 {} {lat} {lat} \"-\" \"curl/8.5.0\" \"{i:08x}-6d84-929d-98bd\" \"reviews:9080\" \"10.44.1.27:9080\" inbound|9080|| 127.0.0.6:41111 10.44.1.27:9080 10.44.1.{}:46520 - default",
                    r.below(4096),
                    r.below(250)
                )),
                8..=12 => Input::Line(format!(
                    r#"{{"authority":"reviews:9080","bytes_received":0,"bytes_sent":{},"duration":{lat},"method":"GET","path":"{p}","protocol":"HTTP/1.1","response_code":{code},"response_flags":"-","start_time":"{t}","upstream_cluster":"outbound|9080||reviews.bookinfo.svc.cluster.local","upstream_host":"10.44.1.27:9080","downstream_remote_address":"10.44.1.9:46520"}}"#,
                    r.below(4096)
                )),
                13..=15 => Input::Line(format!(
                    "[{t}] \"POST {p} HTTP/2\" {code} - 154 {} {lat} {lat} \"10.0.35.28\" \"nsq2http\" \"cc21d9b0\" \"locations\" \"tcp://10.0.2.1:80\"",
                    r.below(4096)
                )),
                16..=18 => Input::Frames(frames(r, i as u64, &p)),
                _ => {
                    let mut e = TapEvent::new(1_700_000_000_000 + i as i64, TapOrigin::Bench, "meshtop".into(), "web:80".into());
                    e.method = Some("GET".into());
                    e.path = Some(p);
                    e.status = Some(code);
                    e.duration_ms = Some(lat as f64);
                    Input::Sample(Box::new(e))
                }
            }
        })
        .collect();
    (inputs, paths)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The pipeline's state between chunks of input.
struct Pipe {
    joiner: Joiner,
    decoder: FrameDecoder,
    batch: Vec<TapEvent>,
    at: i64,
    events: u64,
    refused: u64,
    matched: u64,
    secs: f64,
    /// Frames drawn while the stream flows: (stream view ms, summary view ms).
    draw: Option<(Ui, Terminal<TestBackend>)>,
    batches: u64,
    stream_frames: Vec<f64>,
    summary_frames: Vec<f64>,
}

impl Pipe {
    fn new() -> Self {
        Pipe {
            joiner: Joiner::new(10_000, 60_000),
            decoder: FrameDecoder::new(MAX_FRAME),
            batch: Vec::with_capacity(512),
            at: 1_700_000_000_000,
            events: 0,
            refused: 0,
            matched: 0,
            secs: 0.0,
            draw: None,
            batches: 0,
            stream_frames: Vec::new(),
            summary_frames: Vec::new(),
        }
    }

    /// Draws a frame every 6 batches (3,000 events), alternating the stream and the summary.
    fn drawing() -> Self {
        Pipe {
            draw: Some((Ui::builtin(), Terminal::new(TestBackend::new(200, 60)).unwrap())),
            ..Pipe::new()
        }
    }

    /// Parse, filter, fold `inputs` (one chunk of the stream); only this is timed.
    fn run(&mut self, state: &mut State, inputs: &[Input], filter: &TapFilter) {
        let mut start = Instant::now();
        for (i, input) in inputs.iter().enumerate() {
            match input {
                Input::Line(l) => match parse_line(l, Some("bookinfo/reviews-v2")) {
                    Ok(e) => self.batch.push(e),
                    Err(_) => self.refused += 1,
                },
                Input::Frames(f) => {
                    self.decoder.push(f);
                    while let Ok(Some(frame)) = self.decoder.next_frame() {
                        if let Ok(ev) = decode_event(frame) {
                            self.batch.extend(self.joiner.push(ev, self.at));
                        }
                    }
                }
                Input::Sample(e) => self.batch.push((**e).clone()),
            }
            // Batches as the sources hand them on (every 200 ms, or 500 events).
            if self.batch.len() >= 500 || i + 1 == inputs.len() {
                self.at += 10;
                self.events += self.batch.len() as u64;
                self.matched += self.batch.iter().filter(|e| filter.matches(e)).count() as u64;
                fold(
                    state,
                    Stamped {
                        at: self.at,
                        update: Update::TapEvents {
                            events: std::mem::take(&mut self.batch),
                        },
                    },
                );
                self.batches += 1;
                if let Some((ui, term)) = &mut self.draw
                    && self.batches.is_multiple_of(6)
                {
                    // Frames are timed apart from the pipeline.
                    self.secs += start.elapsed().as_secs_f64();
                    let summary = self.batches.is_multiple_of(12);
                    apply_action(
                        state,
                        if summary {
                            Action::ShowTapSummary
                        } else {
                            Action::ShowTap
                        },
                    );
                    let t = Instant::now();
                    term.draw(|f| ui.render(state, f)).unwrap();
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    if summary {
                        &mut self.summary_frames
                    } else {
                        &mut self.stream_frames
                    }
                    .push(ms);
                    start = Instant::now();
                }
            }
        }
        self.secs += start.elapsed().as_secs_f64();
        black_box(self.matched);
    }
}

/// The p50 and p99 of frame times, in ms.
fn p50_p99(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    format!("{:.2}/{:.2}", at(0.5), at(0.99))
}

/// Inputs made this many at a time, so memory holds the state and one chunk only.
const CHUNK: usize = 20_000;

fn main() {
    let filter = TapFilter::parse("status=5xx latency>=100ms").unwrap();
    println!("tap pipeline (parse + filter + summary + fold), one core");
    println!(
        "{:>9} {:>9} {:>8} {:>10} {:>9} {:>7} {:>7} {:>8} {:>16} {:>16}",
        "inputs",
        "paths",
        "refused",
        "events/s",
        "vs 50k/s",
        "kept",
        "groups",
        "RSS MiB",
        "stream p50/p99",
        "summary p50/p99"
    );
    // Warm-up.
    let (warm, _) = stream(CHUNK, 3);
    Pipe::new().run(&mut State::new(Keymap::default()), &warm, &filter);
    drop(warm);
    let mut state = State::new(Keymap::default());
    let mut pipe = Pipe::drawing();
    let mut paths = std::collections::HashSet::new();
    let mut done = 0;
    for (upto, seed) in [(200_000usize, 7u64), (1_000_000, 11)] {
        let mut r = Rng(seed);
        while done < upto {
            let (chunk, chunk_paths) = stream_with(CHUNK, &mut r, done);
            paths.extend(chunk_paths);
            pipe.run(&mut state, &chunk, &filter);
            done += CHUNK;
        }
        let (stream_frames, summary_frames) = (
            p50_p99(&std::mem::take(&mut pipe.stream_frames)),
            p50_p99(&std::mem::take(&mut pipe.summary_frames)),
        );
        println!(
            "{done:>9} {:>9} {:>8} {:>10.0} {:>8.2}x {:>7} {:>7} {:>8.1} {:>13} ms {:>13} ms",
            paths.len(),
            pipe.refused,
            pipe.events as f64 / pipe.secs,
            pipe.events as f64 / pipe.secs / TARGET,
            state.tap.events.len(),
            state.tap.summary.len(),
            rss_kib() as f64 / 1024.0,
            stream_frames,
            summary_frames
        );
    }
}

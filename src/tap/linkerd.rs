//! Linkerd's tap API: the messages (written from `viz_tap.proto`, `viz.proto` and
//! `common/net.proto` of linkerd2, field numbers checked against the real files), the
//! framing of the tap APIServer's answer (a 4-byte little-endian length, then a message:
//! linkerd2 `pkg/protohttp`), and the join of a stream's request, response and end events
//! into one request.

use std::collections::{BTreeMap, HashMap, VecDeque};

use prost::Message;

use crate::model::UnixMillis;
use crate::model::tap::{Direction, TapEvent, TapOrigin};

pub mod proto {
    //! Only the messages and fields meshtop sends or reads; unknown fields are skipped by
    //! prost, as protobuf requires.
    use std::collections::BTreeMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(string, tag = "1")]
        pub namespace: String,
        #[prost(string, tag = "2")]
        pub r#type: String,
        #[prost(string, tag = "3")]
        pub name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSelection {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(string, tag = "2")]
        pub label_selector: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TapByResourceRequest {
        #[prost(message, optional, tag = "1")]
        pub target: Option<ResourceSelection>,
        #[prost(message, optional, tag = "2")]
        pub r#match: Option<Match>,
        #[prost(float, tag = "3")]
        pub max_rps: f32,
        #[prost(message, optional, tag = "4")]
        pub extract: Option<Extract>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Match {
        #[prost(oneof = "MatchKind", tags = "1, 2, 3, 4, 5")]
        pub kind: Option<MatchKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum MatchKind {
        #[prost(message, tag = "1")]
        All(Seq),
        #[prost(message, tag = "2")]
        Any(Seq),
        #[prost(message, tag = "3")]
        Not(Box<Match>),
        #[prost(message, tag = "4")]
        Destinations(ResourceSelection),
        #[prost(message, tag = "5")]
        Http(HttpMatch),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Seq {
        #[prost(message, repeated, tag = "1")]
        pub matches: Vec<Match>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HttpMatch {
        #[prost(oneof = "HttpMatchKind", tags = "1, 2, 3, 4")]
        pub kind: Option<HttpMatchKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum HttpMatchKind {
        #[prost(string, tag = "1")]
        Scheme(String),
        #[prost(string, tag = "2")]
        Method(String),
        #[prost(string, tag = "3")]
        Authority(String),
        /// A path prefix.
        #[prost(string, tag = "4")]
        Path(String),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Extract {
        #[prost(oneof = "ExtractKind", tags = "1")]
        pub kind: Option<ExtractKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ExtractKind {
        #[prost(message, tag = "1")]
        Http(ExtractHttp),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExtractHttp {
        #[prost(oneof = "ExtractHttpKind", tags = "1")]
        pub kind: Option<ExtractHttpKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ExtractHttpKind {
        #[prost(message, tag = "1")]
        Headers(ExtractHeaders),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExtractHeaders {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ApiError {
        #[prost(string, tag = "1")]
        pub error: String,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Ipv6 {
        #[prost(fixed64, tag = "1")]
        pub first: u64,
        #[prost(fixed64, tag = "2")]
        pub last: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct IpAddress {
        #[prost(oneof = "Ip", tags = "1, 2")]
        pub ip: Option<Ip>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Ip {
        #[prost(fixed32, tag = "1")]
        Ipv4(u32),
        #[prost(message, tag = "2")]
        Ipv6(Ipv6),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TcpAddress {
        #[prost(message, optional, tag = "1")]
        pub ip: Option<IpAddress>,
        #[prost(uint32, tag = "2")]
        pub port: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Meta {
        #[prost(btree_map = "string, string", tag = "1")]
        pub labels: BTreeMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TapEvent {
        #[prost(message, optional, tag = "1")]
        pub source: Option<TcpAddress>,
        #[prost(message, optional, tag = "5")]
        pub source_meta: Option<Meta>,
        #[prost(message, optional, tag = "2")]
        pub destination: Option<TcpAddress>,
        #[prost(message, optional, tag = "4")]
        pub destination_meta: Option<Meta>,
        #[prost(message, optional, tag = "7")]
        pub route_meta: Option<Meta>,
        /// 0 unknown, 1 inbound, 2 outbound.
        #[prost(int32, tag = "6")]
        pub proxy_direction: i32,
        #[prost(oneof = "Event", tags = "3")]
        pub event: Option<Event>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Event {
        #[prost(message, tag = "3")]
        Http(Http),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Http {
        #[prost(oneof = "HttpEvent", tags = "1, 2, 3")]
        pub event: Option<HttpEvent>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum HttpEvent {
        #[prost(message, tag = "1")]
        RequestInit(RequestInit),
        #[prost(message, tag = "2")]
        ResponseInit(ResponseInit),
        #[prost(message, tag = "3")]
        ResponseEnd(ResponseEnd),
    }

    #[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
    pub struct StreamId {
        #[prost(uint32, tag = "1")]
        pub base: u32,
        #[prost(uint64, tag = "2")]
        pub stream: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RequestInit {
        #[prost(message, optional, tag = "1")]
        pub id: Option<StreamId>,
        #[prost(message, optional, tag = "2")]
        pub method: Option<HttpMethod>,
        #[prost(message, optional, tag = "3")]
        pub scheme: Option<Scheme>,
        #[prost(string, tag = "4")]
        pub authority: String,
        #[prost(string, tag = "5")]
        pub path: String,
        #[prost(message, optional, tag = "6")]
        pub headers: Option<Headers>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResponseInit {
        #[prost(message, optional, tag = "1")]
        pub id: Option<StreamId>,
        #[prost(message, optional, tag = "2")]
        pub since_request_init: Option<Duration>,
        #[prost(uint32, tag = "3")]
        pub http_status: u32,
        #[prost(message, optional, tag = "4")]
        pub headers: Option<Headers>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResponseEnd {
        #[prost(message, optional, tag = "1")]
        pub id: Option<StreamId>,
        #[prost(message, optional, tag = "2")]
        pub since_request_init: Option<Duration>,
        #[prost(message, optional, tag = "3")]
        pub since_response_init: Option<Duration>,
        #[prost(uint64, tag = "4")]
        pub response_bytes: u64,
        #[prost(message, optional, tag = "5")]
        pub eos: Option<Eos>,
        #[prost(message, optional, tag = "6")]
        pub trailers: Option<Headers>,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HttpMethod {
        #[prost(oneof = "Registered", tags = "1, 2")]
        pub r#type: Option<Registered>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Scheme {
        #[prost(oneof = "Registered", tags = "1, 2")]
        pub r#type: Option<Registered>,
    }

    /// `HttpMethod.type` and `Scheme.type`: a registered value (an enum) or a string.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Registered {
        #[prost(int32, tag = "1")]
        Registered(i32),
        #[prost(string, tag = "2")]
        Unregistered(String),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Headers {
        #[prost(message, repeated, tag = "1")]
        pub headers: Vec<Header>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Header {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(oneof = "HeaderValue", tags = "2, 3")]
        pub value: Option<HeaderValue>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum HeaderValue {
        #[prost(string, tag = "2")]
        Str(String),
        #[prost(bytes, tag = "3")]
        Bin(Vec<u8>),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Eos {
        #[prost(oneof = "EosEnd", tags = "1, 2")]
        pub end: Option<EosEnd>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum EosEnd {
        #[prost(uint32, tag = "1")]
        GrpcStatusCode(u32),
        #[prost(uint32, tag = "2")]
        ResetErrorCode(u32),
    }
}

/// What to tap and how: the body of the POST.
#[derive(Debug, Clone, PartialEq)]
pub struct TapRequest {
    pub namespace: String,
    /// `deployment`, `pod`, `namespace`, ... (singular, as Linkerd names resource types).
    pub kind: String,
    pub name: String,
    pub max_rps: f32,
    /// Asked of the proxies (fewer events on the wire); meshtop filters again after the fact.
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

impl TapRequest {
    /// The aggregated API's path for this target (`TapReqToURL` in linkerd2).
    pub fn path(&self) -> String {
        if self.kind == "namespace" {
            format!("/apis/tap.linkerd.io/v1alpha1/watch/namespaces/{}/tap", self.name)
        } else {
            format!(
                "/apis/tap.linkerd.io/v1alpha1/watch/namespaces/{}/{}s/{}/tap",
                self.namespace, self.kind, self.name
            )
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        use proto::*;
        let http = |kind| Match {
            kind: Some(MatchKind::Http(HttpMatch { kind: Some(kind) })),
        };
        let mut matches = Vec::new();
        if let Some(m) = &self.method {
            matches.push(http(HttpMatchKind::Method(m.clone())));
        }
        if let Some(p) = &self.path_prefix {
            matches.push(http(HttpMatchKind::Path(p.clone())));
        }
        TapByResourceRequest {
            target: Some(ResourceSelection {
                resource: Some(Resource {
                    namespace: self.namespace.clone(),
                    r#type: self.kind.clone(),
                    name: self.name.clone(),
                }),
                label_selector: String::new(),
            }),
            // `all` of nothing matches every event, as the linkerd CLI sends it.
            r#match: Some(Match {
                kind: Some(MatchKind::All(Seq { matches })),
            }),
            max_rps: self.max_rps,
            extract: Some(Extract {
                kind: Some(ExtractKind::Http(ExtractHttp {
                    kind: Some(ExtractHttpKind::Headers(ExtractHeaders {})),
                })),
            }),
        }
        .encode_to_vec()
    }
}

/// Why the stream of frames cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a tap frame claims {len} bytes, more than the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("the tap stream ended inside a frame ({have} of {want} bytes)")]
    Truncated { have: usize, want: usize },
    #[error("a tap frame is not a TapEvent: {0}")]
    Decode(String),
}

/// Cuts a byte stream into frames. Holds at most one frame (bounded by `max`) plus what
/// has arrived of the next; a length over `max` is an error before anything is allocated.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

/// Frames larger than this are refused (a TapEvent with every header is a few KiB).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            self.compact();
            return Ok(None);
        }
        let len = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if avail.len() < 4 + len {
            self.compact();
            return Ok(None);
        }
        let from = self.start + 4;
        self.start = from + len;
        Ok(Some(&self.buf[from..from + len]))
    }

    /// The stream ended: an error if it stopped inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        let avail = &self.buf[self.start..];
        match avail.len() {
            0 => Ok(()),
            n if n < 4 => Err(FrameError::Truncated { have: n, want: 4 }),
            n => {
                let len = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
                Err(FrameError::Truncated { have: n - 4, want: len })
            }
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// Decodes one frame's message.
pub fn decode_event(frame: &[u8]) -> Result<proto::TapEvent, FrameError> {
    proto::TapEvent::decode(frame).map_err(|e| FrameError::Decode(e.to_string()))
}

/// The error the tap APIServer framed in its answer (with the `linkerd-error` header).
pub fn decode_api_error(body: &[u8]) -> Option<String> {
    let mut d = FrameDecoder::new(MAX_FRAME);
    d.push(body);
    let frame = d.next_frame().ok()??;
    proto::ApiError::decode(frame).ok().map(|e| e.error)
}

/// Joins the three events Linkerd sends per request (request init, response init, response
/// end) into one [`TapEvent`], emitted at the end. Requests whose end never comes are given
/// up after `timeout_ms` (emitted with an error), and at most `capacity` wait at once.
pub struct Joiner {
    pending: HashMap<(u32, u64, String), TapEvent>,
    order: VecDeque<((u32, u64, String), UnixMillis)>,
    capacity: usize,
    timeout_ms: i64,
    /// Ends and responses whose request was never seen (tapped mid-stream), ignored.
    pub orphans: u64,
}

impl Joiner {
    pub fn new(capacity: usize, timeout_ms: i64) -> Self {
        Joiner {
            pending: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            timeout_ms,
            orphans: 0,
        }
    }

    /// Takes one event; returns the requests it completed (and any it gave up on).
    pub fn push(&mut self, ev: proto::TapEvent, now: UnixMillis) -> Vec<TapEvent> {
        use proto::HttpEvent;
        let mut out = self.expire(now);
        let Some(proto::Event::Http(http)) = &ev.event else {
            return out;
        };
        let Some(kind) = &http.event else {
            return out;
        };
        let reporter = reporter(&ev);
        let id = |id: &Option<proto::StreamId>| id.map(|i| (i.base, i.stream, reporter.clone()));
        match kind {
            HttpEvent::RequestInit(init) => {
                let Some(key) = id(&init.id) else { return out };
                let mut e = base_event(&ev, now);
                e.method = method(init.method.as_ref());
                e.authority = (!init.authority.is_empty()).then(|| init.authority.clone());
                e.path = (!init.path.is_empty()).then(|| init.path.clone());
                if let Some(s) = init.scheme.as_ref().and_then(scheme) {
                    e.details.push(("scheme".into(), s));
                }
                push_headers(&mut e, "header", init.headers.as_ref());
                // Keys of requests that already ended are skipped: the oldest live one goes.
                while self.pending.len() >= self.capacity {
                    let Some((old, _)) = self.order.pop_front() else { break };
                    if let Some(p) = self.pending.remove(&old) {
                        out.push(gave_up(p, "dropped: too many requests in flight"));
                    }
                }
                self.order.push_back((key.clone(), now));
                self.pending.insert(key, e);
            }
            HttpEvent::ResponseInit(rsp) => {
                let Some(p) = id(&rsp.id).and_then(|k| self.pending.get_mut(&k)) else {
                    self.orphans += 1;
                    return out;
                };
                p.status = u16::try_from(rsp.http_status).ok();
                if let Some(d) = rsp.since_request_init {
                    p.details.push(("time to first byte ms".into(), format_ms(millis(d))));
                }
                push_headers(p, "response header", rsp.headers.as_ref());
            }
            HttpEvent::ResponseEnd(end) => {
                let Some(mut p) = id(&end.id).and_then(|k| self.pending.remove(&k)) else {
                    self.orphans += 1;
                    return out;
                };
                p.duration_ms = end.since_request_init.map(millis);
                p.bytes_sent = Some(end.response_bytes);
                match end.eos.as_ref().and_then(|e| e.end.clone()) {
                    Some(proto::EosEnd::GrpcStatusCode(c)) => p.grpc_status = Some(c),
                    Some(proto::EosEnd::ResetErrorCode(c)) => {
                        p.error = Some(format!("stream reset (HTTP/2 error code {c})"));
                    }
                    None => {}
                }
                push_headers(&mut p, "trailer", end.trailers.as_ref());
                p.redact();
                out.push(p);
            }
        }
        out
    }

    /// Requests in flight for longer than the timeout, given up.
    pub fn expire(&mut self, now: UnixMillis) -> Vec<TapEvent> {
        let mut out = Vec::new();
        while let Some((key, at)) = self.order.front() {
            if now - at < self.timeout_ms {
                break;
            }
            let key = key.clone();
            self.order.pop_front();
            if let Some(mut p) = self.pending.remove(&key) {
                if p.status.is_some() {
                    // A response that is still streaming (gRPC streams, websockets) is no
                    // failure: it is shown with what is known so far.
                    p.details
                        .push(("stream".into(), "still open when tap stopped waiting (60 s)".into()));
                    p.redact();
                    out.push(p);
                } else {
                    out.push(gave_up(p, "no response within the time limit"));
                }
            }
        }
        // Keys whose request already ended stay in `order` until they reach the front.
        if self.order.len() > self.capacity * 2 {
            let pending = &self.pending;
            self.order.retain(|(k, _)| pending.contains_key(k));
        }
        out
    }

    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

fn gave_up(mut e: TapEvent, why: &str) -> TapEvent {
    e.error = Some(why.to_string());
    e.redact();
    e
}

fn millis(d: proto::Duration) -> f64 {
    d.seconds as f64 * 1e3 + f64::from(d.nanos) / 1e6
}

fn format_ms(ms: f64) -> String {
    format!("{ms:.3}")
}

fn method(m: Option<&proto::HttpMethod>) -> Option<String> {
    const NAMES: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "HEAD", "TRACE",
    ];
    match m?.r#type.as_ref()? {
        proto::Registered::Registered(i) => usize::try_from(*i)
            .ok()
            .and_then(|i| NAMES.get(i))
            .map(|s| s.to_string()),
        proto::Registered::Unregistered(s) => Some(s.clone()),
    }
}

fn scheme(s: &proto::Scheme) -> Option<String> {
    match s.r#type.as_ref()? {
        proto::Registered::Registered(0) => Some("http".into()),
        proto::Registered::Registered(1) => Some("https".into()),
        proto::Registered::Registered(_) => None,
        proto::Registered::Unregistered(s) => Some(s.clone()),
    }
}

fn push_headers(e: &mut TapEvent, prefix: &str, headers: Option<&proto::Headers>) {
    for h in headers.map(|h| h.headers.as_slice()).unwrap_or_default() {
        let value = match &h.value {
            Some(proto::HeaderValue::Str(s)) => s.clone(),
            Some(proto::HeaderValue::Bin(b)) => format!("({} bytes, binary)", b.len()),
            None => String::new(),
        };
        e.details
            .push((format!("{prefix} {}", h.name.to_ascii_lowercase()), value));
    }
}

/// `a.b.c.d:port`, or `[v6]:port`.
pub fn address(a: &proto::TcpAddress) -> String {
    match a.ip.as_ref().and_then(|ip| ip.ip.as_ref()) {
        Some(proto::Ip::Ipv4(v4)) => format!("{}:{}", std::net::Ipv4Addr::from(*v4), a.port),
        Some(proto::Ip::Ipv6(v6)) => {
            let bits = (u128::from(v6.first) << 64) | u128::from(v6.last);
            format!("[{}]:{}", std::net::Ipv6Addr::from(bits), a.port)
        }
        None => format!("?:{}", a.port),
    }
}

/// `namespace/pod` from an endpoint's labels, else its address. A client's address is
/// given without its (ephemeral) port, so each connection is not a group of its own.
fn endpoint(addr: Option<&proto::TcpAddress>, meta: Option<&proto::Meta>, client: bool) -> String {
    let labels = meta.map(|m| &m.labels);
    let get = |k: &str| labels.and_then(|l| l.get(k)).filter(|v| !v.is_empty());
    match (get("namespace"), get("pod"), addr) {
        (Some(ns), Some(pod), _) => format!("{ns}/{pod}"),
        (_, _, Some(a)) if client => {
            let full = address(a);
            match full.rsplit_once(':') {
                Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']').to_string(),
                None => full,
            }
        }
        (_, _, Some(a)) => address(a),
        (_, _, None) => "-".into(),
    }
}

/// The pod whose proxy reported the event: the destination of an inbound request, the
/// source of an outbound one.
fn reporter(ev: &proto::TapEvent) -> String {
    match ev.proxy_direction {
        1 => endpoint(ev.destination.as_ref(), ev.destination_meta.as_ref(), false),
        _ => endpoint(ev.source.as_ref(), ev.source_meta.as_ref(), true),
    }
}

fn base_event(ev: &proto::TapEvent, now: UnixMillis) -> TapEvent {
    let mut e = TapEvent::new(
        now,
        TapOrigin::Linkerd,
        endpoint(ev.source.as_ref(), ev.source_meta.as_ref(), true),
        endpoint(ev.destination.as_ref(), ev.destination_meta.as_ref(), false),
    );
    e.direction = match ev.proxy_direction {
        1 => Some(Direction::Inbound),
        2 => Some(Direction::Outbound),
        _ => None,
    };
    e.reporter = Some(reporter(ev));
    if let Some(a) = &ev.source {
        e.details.push(("source address".into(), address(a)));
    }
    if let Some(a) = &ev.destination {
        e.details.push(("destination address".into(), address(a)));
    }
    let labels = |prefix: &str, m: Option<&proto::Meta>, e: &mut TapEvent| {
        let empty = BTreeMap::new();
        for (k, v) in m.map_or(&empty, |m| &m.labels) {
            e.details.push((format!("{prefix} {k}"), v.clone()));
        }
    };
    labels("source", ev.source_meta.as_ref(), &mut e);
    labels("destination", ev.destination_meta.as_ref(), &mut e);
    labels("route", ev.route_meta.as_ref(), &mut e);
    e
}

#[cfg(test)]
mod tests {
    use super::proto::*;
    use super::*;

    fn frame(msg: &impl Message) -> Vec<u8> {
        let body = msg.encode_to_vec();
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend(body);
        out
    }

    fn addr(ip: [u8; 4], port: u32) -> TcpAddress {
        TcpAddress {
            ip: Some(IpAddress {
                ip: Some(Ip::Ipv4(u32::from_be_bytes(ip))),
            }),
            port,
        }
    }

    fn meta(ns: &str, pod: &str) -> Meta {
        Meta {
            labels: [
                ("namespace".to_string(), ns.to_string()),
                ("pod".to_string(), pod.to_string()),
            ]
            .into(),
        }
    }

    fn event(http: HttpEvent) -> proto::TapEvent {
        proto::TapEvent {
            source: Some(addr([10, 0, 0, 1], 40000)),
            source_meta: None,
            destination: Some(addr([10, 0, 0, 2], 8080)),
            destination_meta: Some(meta("emojivoto", "web-1")),
            route_meta: None,
            proxy_direction: 1,
            event: Some(Event::Http(Http { event: Some(http) })),
        }
    }

    fn id() -> Option<StreamId> {
        Some(StreamId { base: 7, stream: 1 })
    }

    #[test]
    fn request_response_and_end_make_one_event() {
        let mut j = Joiner::new(100, 60_000);
        let init = RequestInit {
            id: id(),
            method: Some(HttpMethod {
                r#type: Some(Registered::Registered(1)),
            }),
            scheme: None,
            authority: "web.emojivoto:80".into(),
            path: "/api/vote?token=abc".into(),
            headers: Some(Headers {
                headers: vec![Header {
                    name: "Authorization".into(),
                    value: Some(HeaderValue::Str("Bearer x".into())),
                }],
            }),
        };
        assert!(j.push(event(HttpEvent::RequestInit(init)), 1000).is_empty());
        let rsp = ResponseInit {
            id: id(),
            since_request_init: Some(Duration {
                seconds: 0,
                nanos: 2_000_000,
            }),
            http_status: 503,
            headers: None,
        };
        assert!(j.push(event(HttpEvent::ResponseInit(rsp)), 1002).is_empty());
        let end = ResponseEnd {
            id: id(),
            since_request_init: Some(Duration {
                seconds: 1,
                nanos: 500_000,
            }),
            since_response_init: None,
            response_bytes: 42,
            eos: Some(Eos {
                end: Some(EosEnd::GrpcStatusCode(0)),
            }),
            trailers: None,
        };
        let out = j.push(event(HttpEvent::ResponseEnd(end)), 2000);
        assert_eq!(out.len(), 1);
        let e = &out[0];
        assert_eq!(e.time, 1000);
        assert_eq!(e.method.as_deref(), Some("POST"));
        assert_eq!(e.path.as_deref(), Some("/api/vote?token=<redacted>"));
        assert_eq!(e.status, Some(503));
        assert_eq!(e.duration_ms, Some(1000.5));
        assert_eq!(e.bytes_sent, Some(42));
        assert_eq!(e.direction, Some(Direction::Inbound));
        assert_eq!(e.source, "10.0.0.1", "a client's ephemeral port is left out");
        assert!(e.details.contains(&("source address".into(), "10.0.0.1:40000".into())));
        assert_eq!(e.destination, "emojivoto/web-1");
        assert_eq!(e.reporter.as_deref(), Some("emojivoto/web-1"));
        assert!(
            e.details
                .contains(&("header authorization".into(), "<redacted>".into()))
        );
        assert_eq!(j.in_flight(), 0);
    }

    #[test]
    fn lost_ends_are_given_up_and_capacity_holds() {
        let mut j = Joiner::new(2, 1000);
        for s in 0..3u64 {
            let init = RequestInit {
                id: Some(StreamId { base: 1, stream: s }),
                ..Default::default()
            };
            let out = j.push(event(HttpEvent::RequestInit(init)), 0);
            assert_eq!(out.len(), usize::from(s == 2), "the third pushes the first out");
        }
        assert_eq!(j.in_flight(), 2);
        let out = j.expire(1000);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|e| e.error.is_some() && !e.success()));
        let end = ResponseEnd {
            id: Some(StreamId { base: 9, stream: 9 }),
            ..Default::default()
        };
        assert!(j.push(event(HttpEvent::ResponseEnd(end)), 1001).is_empty());
        assert_eq!(j.orphans, 1);
    }

    #[test]
    fn frames_split_anywhere_and_bad_frames_are_errors() {
        let a = frame(&ApiError { error: "a".into() });
        let b = frame(&ApiError { error: "bb".into() });
        let all = [a.clone(), b.clone()].concat();
        for cut in 0..=all.len() {
            let mut d = FrameDecoder::new(MAX_FRAME);
            let mut got = Vec::new();
            for part in [&all[..cut], &all[cut..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(ApiError::decode(f).unwrap().error);
                }
            }
            assert_eq!(got, ["a", "bb"], "cut at {cut}");
            d.finish().unwrap();
        }
        let mut d = FrameDecoder::new(MAX_FRAME);
        d.push(&a[..a.len() - 1]);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.finish(), Err(FrameError::Truncated { have: 2, want: 3 }));
        let mut d = FrameDecoder::new(16);
        d.push(&u32::MAX.to_le_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                len: u32::MAX as usize,
                max: 16
            })
        );
        assert_eq!(
            decode_api_error(&frame(&ApiError { error: "no tap".into() })).as_deref(),
            Some("no tap")
        );
    }

    #[test]
    fn request_body_and_paths() {
        let r = TapRequest {
            namespace: "emojivoto".into(),
            kind: "deployment".into(),
            name: "web".into(),
            max_rps: 100.0,
            method: Some("GET".into()),
            path_prefix: None,
        };
        assert_eq!(
            r.path(),
            "/apis/tap.linkerd.io/v1alpha1/watch/namespaces/emojivoto/deployments/web/tap"
        );
        let back = TapByResourceRequest::decode(r.encode().as_slice()).unwrap();
        assert_eq!(back.max_rps, 100.0);
        assert_eq!(back.target.unwrap().resource.unwrap().name, "web");
        let ns = TapRequest {
            kind: "namespace".into(),
            name: "emojivoto".into(),
            ..r
        };
        assert_eq!(
            ns.path(),
            "/apis/tap.linkerd.io/v1alpha1/watch/namespaces/emojivoto/tap"
        );
    }
}

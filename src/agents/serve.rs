//! The agent's end of following: every shard line it writes is kept in order and served
//! over HTTP (`GET /shard?from=LINE`), so a follower that lost its connection asks again
//! from the next line it needs and misses and repeats nothing.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use color_eyre::eyre::{Result, WrapErr};
use http_body_util::StreamBody;
use hyper::body::Frame;
use tokio::sync::watch;

/// The lines written so far, and whether the run is over.
#[derive(Default)]
struct Lines {
    lines: Vec<Bytes>,
    closed: bool,
}

/// The agent's shard lines, shared by the engine's writer and the HTTP server.
#[derive(Clone)]
pub struct FrameLog {
    lines: Arc<Mutex<Lines>>,
    /// Bumped at every line and at the close: followers wait on it.
    changed: Arc<watch::Sender<u64>>,
    /// Set once a follower has been sent every line of a closed log.
    collected: Arc<watch::Sender<bool>>,
}

impl Default for FrameLog {
    fn default() -> Self {
        FrameLog {
            lines: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
            collected: Arc::new(watch::channel(false).0),
        }
    }
}

impl FrameLog {
    fn push(&self, line: Bytes) {
        if let Ok(mut l) = self.lines.lock() {
            l.lines.push(line);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The run is over: no line comes after.
    pub fn close(&self) {
        if let Ok(mut l) = self.lines.lock() {
            l.closed = true;
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Lines from `from` on, and whether they reach the end of a closed log.
    fn from(&self, from: usize) -> (Vec<Bytes>, bool) {
        match self.lines.lock() {
            Ok(l) => (l.lines.get(from..).map(<[Bytes]>::to_vec).unwrap_or_default(), l.closed),
            Err(_) => (Vec::new(), true),
        }
    }

    /// Lines written, and whether the log is closed.
    fn len(&self) -> (usize, bool) {
        self.lines.lock().map_or((0, true), |l| (l.lines.len(), l.closed))
    }

    /// Waits until a follower has read the whole closed log.
    pub async fn collected(&self) {
        let mut rx = self.collected.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// A writer for the engine's shard stream: each whole line goes into the log, and
    /// everything to `also` (stdout) as written.
    pub fn writer(&self, also: Box<dyn std::io::Write + Send>) -> LogWriter {
        LogWriter {
            log: self.clone(),
            partial: Vec::new(),
            also,
        }
    }

    /// Everything from line `from` on, as it is written, until the log is closed; or
    /// `cut` lines at most, then the end of the response (the test hook [`CUT_ENV`]).
    fn stream(
        self,
        mut from: usize,
        cut: Option<usize>,
    ) -> impl futures::Stream<Item = Result<Frame<Bytes>, Infallible>> {
        let mut changed = self.changed.subscribe();
        let mut left = cut.unwrap_or(usize::MAX);
        let mut sent_any = false;
        async_stream(move |tx| async move {
            loop {
                changed.borrow_and_update();
                let (lines, closed) = self.from(from);
                let all_sent = lines.len() <= left;
                for line in lines.into_iter().take(left) {
                    from += 1;
                    left -= 1;
                    sent_any = true;
                    if tx.send(Ok(Frame::data(line))).await.is_err() {
                        return;
                    }
                }
                // Sent is not received: the follower says it has everything by asking
                // from the end (see `answer`). One that asked from the end before the log
                // was closed had everything too.
                if closed && all_sent && !sent_any {
                    self.collected.send_replace(true);
                }
                if (closed && all_sent) || left == 0 {
                    return;
                }
                if changed.changed().await.is_err() {
                    return;
                }
            }
        })
    }
}

/// A stream fed by a task: what the task sends, in order, until it returns.
fn async_stream<T: Send + 'static, F, Fut>(f: F) -> impl futures::Stream<Item = T>
where
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

/// The engine's shard writer (it writes whole lines and flushes each).
pub struct LogWriter {
    log: FrameLog,
    partial: Vec<u8>,
    also: Box<dyn std::io::Write + Send>,
}

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.log.push(Bytes::from(line));
        }
        // stdout going away (a closed pipe) must not stop the followers' copy.
        let _ = self.also.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.also.flush();
        Ok(())
    }
}

/// Test hook: with `MESHTOP_AGENT_CUT_STREAMS=N` every response ends after N lines, so
/// the follower must ask again from where it stopped (a stream broken by the API server or
/// the network, on purpose: tests/agents_testbed.rs).
pub const CUT_ENV: &str = "MESHTOP_AGENT_CUT_STREAMS";

/// The agent's pod name (the downward API's metadata.name, agents::plan).
pub const POD_ENV: &str = "MESHTOP_POD_NAME";

/// A query parameter's value.
fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
}

/// The line a follower asks to start from: `from=N` in the query, else 0.
pub fn from_line(query: Option<&str>) -> Result<usize, String> {
    let Some(q) = query else { return Ok(0) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix("from=") {
            return v.parse().map_err(|_| format!("from={v:?} is not a line number"));
        }
    }
    Ok(0)
}

/// A one-way switch many tasks wait on: the agent's stop (a signal, or `POST /stop`).
#[derive(Default)]
pub struct Stop(watch::Sender<bool>);

impl Stop {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Returns once triggered (at once if it was already).
    pub async fn notified(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Serves the log on `addr` until the process ends: `GET /shard?from=LINE` streams lines
/// `LINE..` as they come and ends after the last (a request from the end of a closed log
/// is the follower saying it has everything: the agent may exit); `POST /stop` cancels the
/// run (its last frame follows); anything else is 404.
pub async fn spawn(addr: std::net::SocketAddr, log: FrameLog, stop: Arc<Stop>) -> Result<std::net::SocketAddr> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        // A node with IPv6 switched off has no [::]: all of IPv4 is what is left.
        Err(_) if addr.ip() == std::net::Ipv6Addr::UNSPECIFIED => {
            let v4 = std::net::SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, addr.port()));
            tokio::net::TcpListener::bind(v4).await
        }
        r => r,
    }
    .wrap_err_with(|| format!("listening on {addr} (--listen)"))?;
    let bound = listener.local_addr()?;
    let cut = std::env::var(CUT_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (log, stop) = (log.clone(), stop.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (log, stop) = (log.clone(), stop.clone());
                    async move { Ok::<_, Infallible>(answer(&req, log, &stop, cut)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

type Body = http_body_util::Either<
    StreamBody<std::pin::Pin<Box<dyn futures::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>>,
    http_body_util::Full<Bytes>,
>;

fn answer(
    req: &hyper::Request<hyper::body::Incoming>,
    log: FrameLog,
    stop: &Stop,
    cut: Option<usize>,
) -> hyper::Response<Body> {
    let plain = |status: u16, text: String| {
        let mut res = hyper::Response::new(http_body_util::Either::Right(http_body_util::Full::new(Bytes::from(
            text,
        ))));
        *res.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
        res
    };
    if req.method() == hyper::Method::POST && req.uri().path() == "/stop" {
        stop.trigger();
        return plain(200, "stopping: the last frame follows\n".into());
    }
    if req.method() != hyper::Method::GET || req.uri().path() != "/shard" {
        return plain(404, "meshtop agent: GET /shard?from=LINE, POST /stop\n".into());
    }
    if let (Some(asked), Ok(me)) = (query_value(req.uri().query(), "pod"), std::env::var(POD_ENV))
        && asked != me
    {
        return plain(409, format!("this is agent pod {me}, not {asked}\n"));
    }
    let (len, closed) = log.len();
    match from_line(req.uri().query()) {
        Ok(from) if from > len => plain(400, format!("from={from} is past the {len} lines written\n")),
        Ok(from) if closed && from == len => {
            log.collected.send_replace(true);
            plain(200, String::new())
        }
        Ok(from) => {
            let mut res = hyper::Response::new(http_body_util::Either::Left(StreamBody::new(Box::pin(
                log.stream(from, cut),
            )
                as std::pin::Pin<Box<dyn futures::Stream<Item = _> + Send>>)));
            res.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        }
        Err(e) => plain(400, format!("{e}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_pod_is_read_from_the_query() {
        assert_eq!(query_value(Some("from=3&pod=a-0-x"), "pod"), Some("a-0-x"));
        assert_eq!(query_value(Some("from=3"), "pod"), None);
        assert_eq!(query_value(None, "pod"), None);
    }

    #[test]
    fn from_is_read_from_the_query() {
        assert_eq!(from_line(None), Ok(0));
        assert_eq!(from_line(Some("from=12")), Ok(12));
        assert_eq!(from_line(Some("x=1&from=3")), Ok(3));
        assert!(from_line(Some("from=-1")).unwrap_err().contains("not a line number"));
    }

    #[tokio::test]
    async fn a_cut_stream_resumes_where_it_stopped_and_the_last_read_is_collected() {
        use futures::StreamExt;
        let log = FrameLog::default();
        let mut w = log.writer(Box::new(std::io::sink()));
        w.write_all(b"0\n1\n2\n").unwrap();
        log.close();
        let read = |from, cut| {
            let log = log.clone();
            async move {
                log.stream(from, cut)
                    .map(|f| f.unwrap().into_data().unwrap())
                    .collect::<Vec<Bytes>>()
                    .await
            }
        };
        assert_eq!(read(0, Some(2)).await, vec![Bytes::from("0\n"), Bytes::from("1\n")]);
        assert_eq!(read(2, Some(2)).await, vec![Bytes::from("2\n")]);
        assert_eq!(read(1, None).await.len(), 2);
        // Sending every line is not enough: only the follower's request from the end is.
        assert!(!*log.collected.subscribe().borrow());
        assert_eq!(log.len(), (3, true));
    }

    /// The follower's acknowledgement can arrive before the agent closes its log (the last
    /// frame is written first): the request waits, and the close makes it one.
    #[tokio::test]
    async fn a_request_from_the_end_before_the_close_is_the_acknowledgement() {
        use futures::StreamExt;
        let log = FrameLog::default();
        let mut w = log.writer(Box::new(std::io::sink()));
        w.write_all(b"0\n1\n").unwrap();
        let waiting = tokio::spawn(log.clone().stream(2, None).count());
        let from_one = tokio::spawn(log.clone().stream(1, None).count());
        tokio::task::yield_now().await;
        assert!(!*log.collected.subscribe().borrow());
        log.close();
        assert_eq!(waiting.await.unwrap(), 0);
        assert_eq!(from_one.await.unwrap(), 1);
        tokio::time::timeout(std::time::Duration::from_secs(5), log.collected())
            .await
            .expect("collected");
    }

    /// A follower that was sent a line before the close has not said it received it.
    #[tokio::test]
    async fn a_request_that_was_sent_lines_is_no_acknowledgement() {
        use futures::StreamExt;
        let log = FrameLog::default();
        let mut w = log.writer(Box::new(std::io::sink()));
        w.write_all(b"0\n").unwrap();
        let reading = tokio::spawn(log.clone().stream(1, None).count());
        tokio::task::yield_now().await;
        w.write_all(b"1\n").unwrap();
        log.close();
        assert_eq!(reading.await.unwrap(), 1);
        assert!(!*log.collected.subscribe().borrow());
    }

    /// The Job's agents listen on [::]: IPv4 followers reach them too (and IPv6 ones).
    #[tokio::test]
    async fn the_pods_listen_address_answers_ipv4() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let bound = spawn(
            "[::]:0".parse().unwrap(),
            FrameLog::default(),
            Arc::new(Stop::default()),
        )
        .await
        .unwrap();
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", bound.port()))
            .await
            .unwrap();
        s.write_all(b"GET /elsewhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    }

    #[test]
    fn whole_lines_reach_the_log_however_they_are_written() {
        let log = FrameLog::default();
        let mut w = log.writer(Box::new(std::io::sink()));
        w.write_all(b"a\nb").unwrap();
        w.write_all(b"c\nd\n").unwrap();
        assert_eq!(
            log.from(0).0,
            vec![Bytes::from("a\n"), Bytes::from("bc\n"), Bytes::from("d\n")]
        );
        assert_eq!(log.from(2), (vec![Bytes::from("d\n")], false));
        log.close();
        assert_eq!(log.from(3), (vec![], true));
    }
}

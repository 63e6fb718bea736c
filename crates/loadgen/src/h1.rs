//! A minimal HTTP/1.1 client for the hot path: the request is serialised once and
//! written as is, and the response is parsed in place with `httparse` (status line,
//! headers, then a `Content-Length`, chunked or close-delimited body that is counted,
//! never kept). One task does the write and the read, with no channel to a separate
//! connection task as hyper's `http1::SendRequest` has. README "Benchmarks: load
//! generator" has the measured gain over hyper.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::{Failure, Io, io_kind};
use super::stats::FailureKind;
use super::stats::Response;

const INITIAL_BUF: usize = 16 * 1024;
/// Largest response head accepted, as hyper's default (~400 KiB).
const MAX_HEAD: usize = 400 * 1024;
/// hyper's default too.
const MAX_HEADERS: usize = 100;

/// What the request needs from the response parser.
#[derive(Debug, Clone, Copy)]
pub struct RequestShape {
    /// HEAD: the response has no body whatever its headers say.
    pub head: bool,
    /// The request itself asked for `Connection: close`.
    pub close: bool,
}

/// How a round trip failed.
pub enum RawError {
    /// The connection was closed (or reset) before any byte of the response came
    /// back: on a connection that already served requests this is the server's
    /// keep-alive close racing the request, and resending is safe.
    Closed(Failure),
    Failed(Failure),
}

/// One HTTP/1.1 connection with its read buffer.
pub struct RawConn {
    io: Io,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl RawConn {
    pub fn new(io: Io) -> RawConn {
        RawConn {
            io,
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
        }
    }

    /// Writes `request` and reads one response. The flag says whether the connection
    /// stays open. The caller drops the connection on any error.
    pub async fn round_trip(&mut self, request: &[u8], shape: RequestShape) -> Result<(Response, bool), RawError> {
        self.send(request).await?;
        self.receive(shape).await
    }

    /// Writes `request`; [`RawConn::receive`] reads its response, at once or (a quiet
    /// connection) when the lane comes back for it.
    pub async fn send(&mut self, request: &[u8]) -> Result<(), RawError> {
        // A keep-alive connection never holds unread bytes between responses; if it
        // does (a server sending more than asked), they are garbage for this request.
        self.start = 0;
        self.end = 0;
        #[cfg(target_os = "linux")]
        if let Io::Quiet(q) = &mut self.io {
            q.begin_request()
                .map_err(|e| RawError::Failed(Failure::new(io_kind(&e), format!("writing the request: {e}"))))?;
        }
        self.write(request).await.map_err(|e| match io_kind(&e) {
            FailureKind::Reset => {
                RawError::Closed(Failure::new(FailureKind::Reset, format!("writing the request: {e}")))
            }
            kind => RawError::Failed(Failure::new(kind, format!("writing the request: {e}"))),
        })
    }

    /// When the kernel received the last bytes of the response read, on a quiet connection
    /// (which reads responses late on purpose); None elsewhere.
    pub fn arrived(&self) -> Option<std::time::Instant> {
        match &self.io {
            #[cfg(target_os = "linux")]
            Io::Quiet(q) => q.arrived(),
            _ => None,
        }
    }

    /// Whether a response may be read late and still be timed from its arrival: a quiet
    /// connection whose reads the kernel has always stamped.
    pub fn timed_by_kernel(&self) -> bool {
        match &self.io {
            #[cfg(target_os = "linux")]
            Io::Quiet(q) => q.timed_by_kernel(),
            _ => false,
        }
    }

    /// Reads one response to the request sent. The flag says whether the connection stays
    /// open. The caller drops the connection on any error.
    pub async fn receive(&mut self, shape: RequestShape) -> Result<(Response, bool), RawError> {
        let mut got_any = false;
        loop {
            // A 1xx informational response comes before the final one.
            let head = loop {
                match self.parse_head(shape) {
                    Ok(Some(head)) => break head,
                    Ok(None) => {}
                    Err(f) => return Err(RawError::Failed(f)),
                }
                match self.fill_head().await {
                    Ok(0) if !got_any => {
                        return Err(RawError::Closed(Failure::new(
                            FailureKind::Reset,
                            "connection closed before the response began",
                        )));
                    }
                    Ok(0) => return Err(RawError::Failed(incomplete())),
                    Ok(_) => got_any = true,
                    Err(e) if !got_any && io_kind(&e) == FailureKind::Reset => {
                        return Err(RawError::Closed(Failure::new(
                            FailureKind::Reset,
                            format!("reading the response: {e}"),
                        )));
                    }
                    Err(e) => return Err(RawError::Failed(read_failure(&e))),
                }
            };
            if head.informational {
                continue;
            }
            let body_bytes = match head.framing {
                Framing::None => 0,
                Framing::Length(n) => {
                    self.skip(n).await?;
                    n
                }
                Framing::Chunked => self.chunked().await?,
                Framing::UntilClose => self.until_close().await?,
            };
            let keep_alive = head.keep_alive && !shape.close && !matches!(head.framing, Framing::UntilClose);
            let response = Response {
                status: head.status,
                body_bytes,
                header_bytes: head.header_bytes,
            };
            return Ok((response, keep_alive));
        }
    }

    async fn write(&mut self, request: &[u8]) -> io::Result<()> {
        self.io.write_all(request).await?;
        if matches!(self.io, Io::Tls(_)) {
            self.io.flush().await?;
        }
        Ok(())
    }

    /// Parses a complete response head out of the buffer and consumes it; None when
    /// more bytes are needed.
    fn parse_head(&mut self, shape: RequestShape) -> Result<Option<Head>, Failure> {
        if self.start == self.end {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut headers);
        let n = match res.parse(&self.buf[self.start..self.end]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(Failure::new(FailureKind::Other, format!("invalid HTTP response: {e}"))),
        };
        let status = res.code.unwrap_or(0);
        let http11 = res.version == Some(1);
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut close = false;
        let mut keep_alive_token = false;
        let mut lines = 0usize;
        for h in res.headers.iter() {
            lines += h.name.len() + h.value.len() + 4;
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or_else(|| Failure::new(FailureKind::Other, "invalid HTTP response: bad content-length"))?;
                if length.is_some_and(|l| l != v) {
                    return Err(Failure::new(
                        FailureKind::Other,
                        "invalid HTTP response: conflicting content-length",
                    ));
                }
                length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked when it is the last coding.
                chunked = h
                    .value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        // As hyper counts it: the canonical status line, then `name: value\r\n` lines.
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .map_or(0, str::len);
        let header_bytes = (9 + 3 + 1 + reason + 2 + lines + 2) as u64;
        self.start += n;
        let informational = (100..200).contains(&status) && status != 101;
        let framing = if shape.head || (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::None
        } else if chunked {
            Framing::Chunked
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        let keep_alive = status != 101 && !close && (http11 || keep_alive_token);
        Ok(Some(Head {
            status,
            header_bytes,
            informational,
            framing,
            keep_alive,
        }))
    }

    /// Reads more of a response head; Ok(0) at end of stream.
    async fn fill_head(&mut self) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.compact();
            } else if self.buf.len() >= MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "response head too large"));
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        self.fill().await
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.compact();
        }
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }

    /// Reads more of a body; end of stream is an incomplete message.
    async fn fill_body(&mut self) -> Result<(), RawError> {
        match self.fill().await {
            Ok(0) => Err(RawError::Failed(incomplete())),
            Ok(_) => Ok(()),
            Err(e) => Err(RawError::Failed(read_failure(&e))),
        }
    }

    /// Consumes `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), RawError> {
        loop {
            let take = ((self.end - self.start) as u64).min(n);
            self.start += take as usize;
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.fill_body().await?;
        }
    }

    async fn chunked(&mut self) -> Result<u64, RawError> {
        let mut total = 0u64;
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill_body().await?,
                    Err(_) => return Err(RawError::Failed(invalid("invalid chunk size line"))),
                }
            };
            if size == 0 {
                // Trailer fields, then the empty line.
                loop {
                    let line = self.line().await?;
                    if line == 0 {
                        return Ok(total);
                    }
                }
            }
            self.skip(size).await?;
            total += size;
            while self.end - self.start < 2 {
                self.fill_body().await?;
            }
            if &self.buf[self.start..self.start + 2] != b"\r\n" {
                return Err(RawError::Failed(invalid("invalid chunk terminator")));
            }
            self.start += 2;
        }
    }

    /// Consumes one CRLF-terminated line and returns its length without the CRLF.
    async fn line(&mut self) -> Result<usize, RawError> {
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(i) = avail.windows(2).position(|w| w == b"\r\n") {
                self.start += i + 2;
                return Ok(i);
            }
            if self.end - self.start >= MAX_HEAD {
                return Err(RawError::Failed(invalid("trailer too large")));
            }
            if self.start == 0 && self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            self.fill_body().await?;
        }
    }

    async fn until_close(&mut self) -> Result<u64, RawError> {
        let mut total = (self.end - self.start) as u64;
        self.start = self.end;
        loop {
            match self.fill().await {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n as u64;
                    self.start = self.end;
                }
                Err(e) => return Err(RawError::Failed(read_failure(&e))),
            }
        }
    }
}

struct Head {
    status: u16,
    header_bytes: u64,
    informational: bool,
    framing: Framing,
    keep_alive: bool,
}

fn incomplete() -> Failure {
    Failure::new(FailureKind::Reset, "connection closed before the message completed")
}

fn invalid(what: &str) -> Failure {
    Failure::new(FailureKind::Other, format!("invalid HTTP response: {what}"))
}

fn read_failure(e: &io::Error) -> Failure {
    Failure::new(io_kind(e), format!("reading the response: {e}"))
}

/// Serialises a request as hyper's HTTP/1.1 encoder would (lower-case header names).
pub fn serialize(req: &http::Request<bytes::Bytes>) -> Vec<u8> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut out = Vec::with_capacity(128 + req.body().len());
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// Serves `replies` (one per request read) on a fresh listener, then closes.
    async fn server(replies: Vec<&'static [u8]>) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            for reply in replies {
                let _ = s.read(&mut buf).await.unwrap();
                // Split the reply to exercise partial reads.
                let (a, b) = reply.split_at(reply.len() / 2);
                s.write_all(a).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                s.write_all(b).await.unwrap();
            }
        });
        addr
    }

    async fn conn(addr: std::net::SocketAddr) -> RawConn {
        RawConn::new(Io::Plain(TcpStream::connect(addr).await.unwrap()))
    }

    const GET: RequestShape = RequestShape {
        head: false,
        close: false,
    };

    #[tokio::test]
    async fn length_chunked_informational_and_close() {
        let addr = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n",
        ])
        .await;
        let mut c = conn(addr).await;
        let req = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let Ok((r, keep)) = c.round_trip(req, GET).await else {
            panic!("first")
        };
        assert_eq!((r.status, r.body_bytes, keep), (200, 6, true));
        assert_eq!(
            r.header_bytes,
            (9 + 3 + 1 + 2 + 2 + "Content-Length".len() + 1 + 4 + 2) as u64
        );
        let Ok((r, keep)) = c.round_trip(req, GET).await else {
            panic!("chunked")
        };
        assert_eq!((r.status, r.body_bytes, keep), (200, 8, true));
        let Ok((r, _)) = c.round_trip(req, GET).await else {
            panic!("204")
        };
        assert_eq!((r.status, r.body_bytes), (204, 0));
        let Ok((r, keep)) = c.round_trip(req, GET).await else {
            panic!("close")
        };
        assert_eq!((r.status, r.body_bytes, keep), (404, 3, false));
        // The server is gone: nothing of a response comes back.
        assert!(matches!(c.round_trip(req, GET).await, Err(RawError::Closed(_))));
    }

    #[tokio::test]
    async fn body_until_close_and_truncated_body() {
        let addr = server(vec![b"HTTP/1.0 200 OK\r\n\r\nabcdef"]).await;
        let mut c = conn(addr).await;
        let Ok((r, keep)) = c.round_trip(b"GET / HTTP/1.1\r\n\r\n", GET).await else {
            panic!("until close")
        };
        assert_eq!((r.body_bytes, keep), (6, false));
        let addr = server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]).await;
        let mut c = conn(addr).await;
        match c.round_trip(b"GET / HTTP/1.1\r\n\r\n", GET).await {
            Err(RawError::Failed(f)) => assert_eq!(f.kind, FailureKind::Reset),
            _ => panic!("a truncated body is a reset"),
        }
        let addr = server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"]).await;
        let mut c = conn(addr).await;
        let head = RequestShape {
            head: true,
            close: false,
        };
        let Ok((r, keep)) = c.round_trip(b"HEAD / HTTP/1.1\r\n\r\n", head).await else {
            panic!("head")
        };
        assert_eq!((r.body_bytes, keep), (0, true));
    }

    #[test]
    fn serializes_like_hyper() {
        let req = http::Request::builder()
            .method("POST")
            .uri("/a?b=c")
            .header("Host", "h:1")
            .header("content-length", "2")
            .body(bytes::Bytes::from_static(b"{}"))
            .unwrap();
        assert_eq!(
            serialize(&req),
            b"POST /a?b=c HTTP/1.1\r\nhost: h:1\r\ncontent-length: 2\r\n\r\n{}".to_vec()
        );
    }
}

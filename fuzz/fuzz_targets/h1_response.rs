//! Any bytes as the answer to one request of the load generator's HTTP/1.1 client, read
//! from a real loopback socket: the head parser (status line, headers, 1xx, framing), the
//! Content-Length, chunked and close-delimited bodies, and keep-alive. The first byte
//! picks the request's shape (HEAD, `Connection: close`). It must end with a response or
//! a failure of some kind, never panic, hang or grow past its buffer limits.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meshtop::bench::conn::Io;
use meshtop::bench::h1::{RawConn, RequestShape};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: fuzz\r\n\r\n";

fn runtime() -> &'static (tokio::runtime::Runtime, tokio::net::TcpListener) {
    static RT: OnceLock<(tokio::runtime::Runtime, tokio::net::TcpListener)> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        (rt, listener)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, answer)) = data.split_first() else { return };
    let shape = RequestShape {
        head: first & 1 == 1,
        close: first & 2 == 2,
    };
    let (rt, listener) = runtime();
    let addr = listener.local_addr().unwrap();
    rt.block_on(async {
        let server = async {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = vec![0u8; REQUEST.len()];
            let _ = s.read_exact(&mut req).await;
            let _ = s.write_all(answer).await;
            let _ = s.shutdown().await;
            // Drain until the client goes, so closing sends a FIN, not a reset.
            let mut sink = [0u8; 4096];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
        };
        let client = async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut conn = RawConn::new(Io::Plain(stream));
            let _ = conn.round_trip(REQUEST, shape).await;
            drop(conn);
        };
        tokio::join!(server, client);
    });
});

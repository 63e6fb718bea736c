//! A keep-alive HTTP/1.1 server for `bench/coordinated-omission.sh`: it answers every
//! request at once with 200 "ok", except that once, STALL_AT seconds after its first
//! request, it stops answering for STALL_FOR seconds on every connection, then answers
//! what it held back.
//!
//! Usage: `stall_server PORT [STALL_AT=5] [STALL_FOR=1]` (seconds).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static FIRST: OnceLock<Instant> = OnceLock::new();

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: f64| args.get(i).and_then(|a| a.parse::<f64>().ok()).unwrap_or(default);
    let port = arg(1, 8080.0) as u16;
    let (at, len) = (
        Duration::from_secs_f64(arg(2, 5.0)),
        Duration::from_secs_f64(arg(3, 1.0)),
    );
    // One thread: the load generator gets the other core.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream, at, len));
        }
    })
}

async fn serve(mut stream: TcpStream, at: Duration, len: Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        // GET requests without bodies: each ends with an empty line.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let first = *FIRST.get_or_init(Instant::now);
            let (from, to) = (first + at, first + at + len);
            let now = Instant::now();
            if now >= from && now < to {
                tokio::time::sleep_until(to.into()).await;
            }
            if stream.write_all(RESPONSE).await.is_err() {
                return;
            }
        }
    }
}

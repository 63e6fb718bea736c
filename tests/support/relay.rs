//! A TCP relay under the test's control, to play a laptop's sleep or a VPN drop: while
//! blackholed it keeps every socket open and silently drops the bytes (no RST, no FIN),
//! and new connections are accepted but never answered.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Relay {
    pub port: u16,
    blackhole: Arc<AtomicBool>,
}

impl Relay {
    /// Relays 127.0.0.1:<port> to `upstream` (host:port).
    pub fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let blackhole = Arc::new(AtomicBool::new(false));
        let hole = blackhole.clone();
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), hole.clone());
                pipe(server, client, hole.clone());
            }
        });
        Relay { port, blackhole }
    }

    pub fn set_blackhole(&self, on: bool) {
        self.blackhole.store(on, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, dropping what arrives while the hole is open.
fn pipe(mut from: TcpStream, mut to: TcpStream, hole: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if hole.load(Ordering::SeqCst) {
                continue;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// An HTTP CONNECT proxy (what `proxy-url` and `HTTPS_PROXY` name): it tunnels to the
/// target each CONNECT asks for and records those targets.
pub struct ConnectProxy {
    pub port: u16,
    pub tunnels: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = tunnels.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    // The request head, byte by byte: nothing after it may be consumed.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        match client.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let target = match head.split_whitespace().collect::<Vec<_>>()[..] {
                        ["CONNECT", target, ..] => target.to_string(),
                        _ => {
                            let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                            return;
                        }
                    };
                    let Ok(server) = TcpStream::connect(&target) else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    seen.lock().unwrap().push(target);
                    if client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                    let open = Arc::new(AtomicBool::new(false));
                    pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), open.clone());
                    pipe(server, client, open);
                });
            }
        });
        ConnectProxy { port, tunnels }
    }

    pub fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

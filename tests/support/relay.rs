//! A TCP relay under the test's control, to play a laptop's sleep or a VPN drop: while
//! blackholed it keeps every socket open and silently drops the bytes (no RST, no FIN),
//! and new connections are accepted but never answered. A connection that lived through a
//! blackhole stays dead afterwards (as a NAT or VPN that forgot it): only connections
//! made after it work, so a client must notice and reconnect by itself.
//! It can also play a short outage ([`Relay::outage`]): every open connection ended, new
//! ones reset for a while.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Relay {
    pub port: u16,
    gate: Arc<Gate>,
}

/// Whether bytes pass: not while the hole is open, and never again on a connection older
/// than the last blackhole.
#[derive(Default)]
pub struct Gate {
    hole: AtomicBool,
    epoch: std::sync::atomic::AtomicU64,
    /// New connections are reset at once while this is on.
    refusing: AtomicBool,
    /// The client side of every connection relayed so far.
    clients: std::sync::Mutex<Vec<TcpStream>>,
    /// When the client last sent bytes, in milliseconds since the relay started.
    sent_at: std::sync::atomic::AtomicU64,
    started: std::sync::OnceLock<std::time::Instant>,
}

impl Gate {
    fn now(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn passes(&self, born: u64) -> bool {
        !self.hole.load(Ordering::SeqCst) && self.now() == born
    }

    fn millis(&self) -> u64 {
        self.started.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
    }
}

/// Ends `s` at once. A socket no one else holds (a refused new connection) is reset (RST);
/// an open relayed one, whose copies the pipe threads hold, gets a FIN both ways.
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a linger struct of the size given.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(Shutdown::Both);
}

impl Relay {
    /// Relays 127.0.0.1:<port> to `upstream` (host:port).
    pub fn start(upstream: &str) -> Relay {
        Relay::start_on("127.0.0.1", upstream)
    }

    /// The same, listening on another of this machine's addresses.
    pub fn start_on(ip: &str, upstream: &str) -> Relay {
        let listener = TcpListener::bind(format!("{ip}:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = Arc::new(Gate::default());
        gate.millis();
        let shared = gate.clone();
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if shared.refusing.load(Ordering::SeqCst) {
                    reset(&client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let born = shared.now();
                shared.clients.lock().unwrap().push(client.try_clone().unwrap());
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    shared.clone(),
                    born,
                    true,
                );
                pipe(server, client, shared.clone(), born, false);
            }
        });
        Relay { port, gate }
    }

    pub fn set_blackhole(&self, on: bool) {
        if on {
            self.gate.epoch.fetch_add(1, Ordering::SeqCst);
        }
        self.gate.hole.store(on, Ordering::SeqCst);
    }

    /// A short outage: every open connection ended (FIN), and new ones reset for `d`.
    pub fn outage(&self, d: std::time::Duration) {
        self.gate.refusing.store(true, Ordering::SeqCst);
        for c in self.gate.clients.lock().unwrap().drain(..) {
            reset(&c);
        }
        std::thread::sleep(d);
        self.gate.refusing.store(false, Ordering::SeqCst);
    }

    /// Milliseconds since the client last sent anything (a request: an open watch sends
    /// nothing, so on an API server's relay this is the time since the last probe or list).
    pub fn quiet_for(&self) -> u64 {
        self.gate
            .millis()
            .saturating_sub(self.gate.sent_at.load(Ordering::SeqCst))
    }
}

/// Copies `from` to `to`, dropping what the gate does not let through.
fn pipe(mut from: TcpStream, mut to: TcpStream, gate: Arc<Gate>, born: u64, upstream: bool) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !gate.passes(born) {
                continue;
            }
            if upstream {
                gate.sent_at.store(gate.millis(), Ordering::SeqCst);
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
                    let open = Arc::new(Gate::default());
                    pipe(
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        open.clone(),
                        0,
                        false,
                    );
                    pipe(server, client, open, 0, false);
                });
            }
        });
        ConnectProxy { port, tunnels }
    }

    pub fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

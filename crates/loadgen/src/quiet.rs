//! A plain TCP connection whose responses do not wake its thread (Linux).
//!
//! In an open loop most of what a request costs the generator is its thread's sleeps and
//! wake-ups (docs/benchmarks.md): one for the send time, and one more when the response
//! arrives, some tens of microseconds later, after the thread went back to sleep. Here the
//! socket is registered with the runtime for writability only, so an arriving response
//! wakes nobody: the lane reads it just before its next send, when it is awake anyway, and
//! the response's arrival time comes from the kernel (`SO_TIMESTAMPNS`: when its last
//! segment was received, not when it was read), so its latency is what it was.
//!
//! A read that finds the response not all there (a slow server, a large body, the last
//! request of a run) registers the socket for readability too and waits as any
//! connection does; the next request goes back to quiet when its response was whole at
//! the first read.

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::net::TcpStream as StdTcp;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// Quiet connections made in this process, by server address: how a test tells that a run
/// used them (once per connection, never per request).
static MADE: std::sync::Mutex<Vec<(std::net::SocketAddr, u64)>> = std::sync::Mutex::new(Vec::new());

/// Quiet connections made to `addr` so far.
pub fn connections_made_to(addr: std::net::SocketAddr) -> u64 {
    let made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    made.iter().find(|(a, _)| *a == addr).map_or(0, |(_, n)| *n)
}

fn count_made(addr: std::net::SocketAddr) {
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    match made.iter_mut().find(|(a, _)| *a == addr) {
        Some((_, n)) => *n += 1,
        None => made.push((addr, 1)),
    }
}

pub struct QuietTcp {
    /// None only if re-registering failed; the connection is then unusable.
    fd: Option<AsyncFd<StdTcp>>,
    /// Registered for readability too.
    loud: bool,
    /// A read of the current response found nothing to read and had to wait.
    waited: bool,
    /// The kernel once gave bytes without a receive timestamp: the lane then reads this
    /// connection's responses as they arrive instead (see [`QuietTcp::timed_by_kernel`]).
    stampless: bool,
    /// When the kernel received the last bytes read (wall clock, since the epoch).
    arrived: Option<Duration>,
}

impl QuietTcp {
    /// Takes the stream off the runtime's registration and registers it for writability
    /// only, with kernel receive timestamps on.
    pub fn new(tcp: tokio::net::TcpStream) -> io::Result<QuietTcp> {
        let tcp = tcp.into_std()?;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option of the size given.
        let rc = unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let peer = tcp.peer_addr()?;
        let fd = register(tcp, Interest::WRITABLE)?;
        count_made(peer);
        Ok(QuietTcp {
            fd: Some(fd),
            loud: false,
            waited: false,
            stampless: false,
            arrived: None,
        })
    }

    /// Whether the connection is registered for readability now (tests and counters).
    pub fn is_loud(&self) -> bool {
        self.loud
    }

    /// Called before each request is written: a connection that had to wait for its last
    /// response stays loud; one whose response was whole at the first read goes quiet.
    pub fn begin_request(&mut self) -> io::Result<()> {
        if self.loud && !self.waited && !self.stampless {
            self.register(false)?;
        }
        self.waited = false;
        self.arrived = None;
        Ok(())
    }

    /// Whether the kernel has stamped every read so far: a response may then be read late
    /// and still be timed from its arrival. Once it has not (timestamps can be missing just
    /// after they are first switched on), the lane reads this connection's responses as
    /// they arrive, as on any other connection.
    pub fn timed_by_kernel(&self) -> bool {
        !self.stampless
    }

    /// When the kernel received the last bytes read, on the monotonic clock. None when the
    /// kernel gave no timestamp, or the wall clock was stepped back past it since.
    pub fn arrived(&self) -> Option<Instant> {
        let at = self.arrived?;
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        Instant::now().checked_sub(wall.checked_sub(at)?)
    }

    fn fd(&self) -> io::Result<&AsyncFd<StdTcp>> {
        self.fd
            .as_ref()
            .ok_or_else(|| io::Error::other("the connection was lost re-registering it"))
    }

    fn register(&mut self, loud: bool) -> io::Result<()> {
        let Some(fd) = self.fd.take() else {
            return Err(io::Error::other("the connection was lost re-registering it"));
        };
        let interest = if loud {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::WRITABLE
        };
        self.fd = Some(register(fd.into_inner(), interest)?);
        self.loud = loud;
        Ok(())
    }
}

fn register(tcp: StdTcp, interest: Interest) -> io::Result<AsyncFd<StdTcp>> {
    // SAFETY: a TcpStream owns its descriptor, keeps it open until dropped and always
    // returns the same one.
    unsafe { AsyncFd::register_with_interest(tcp, interest) }.map_err(|e| e.into_parts().1)
}

/// One `recvmsg(2)` that does not block, with the kernel's receive timestamp if it gave one.
fn recv(fd: &StdTcp, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<Duration>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one timestamp message (a cmsghdr and a timespec), 8-byte aligned.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: the buffers outlive the call and their lengths are theirs.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the control buffer was filled by the kernel and msg_controllen says how much.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec) {
                    stamp = Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

impl AsyncRead for QuietTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            // SAFETY: recv only writes initialised bytes, and only the n it reports.
            let unfilled = unsafe { buf.unfilled_mut() };
            match recv(this.fd()?.get_ref(), unfilled) {
                Ok((n, stamp)) => {
                    // SAFETY: the kernel wrote n bytes there.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    match stamp {
                        Some(_) => this.arrived = stamp,
                        None if n > 0 => {
                            this.arrived = None;
                            this.stampless = true;
                        }
                        None => {}
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    this.waited = true;
                    if !this.loud {
                        this.register(true)?;
                    }
                    let mut ready = ready!(this.fd()?.poll_read_ready(cx))?;
                    // Retried at once: a response that came meanwhile is read, not missed.
                    ready.clear_ready();
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for QuietTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let fd = this.fd()?;
            // std's write on a TcpStream is send(2) with MSG_NOSIGNAL.
            match fd.get_ref().write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut ready = ready!(fd.poll_write_ready(cx))?;
                    ready.clear_ready();
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().fd()?.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn on_one_thread(f: impl std::future::Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f);
    }

    /// A server that answers each line with "pong" when told to, and a sender to tell it.
    fn ping_server() -> (std::net::SocketAddr, std::sync::mpsc::Sender<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (go, told) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut byte = [0u8; 1];
            loop {
                match std::io::Read::read(&mut s, &mut byte) {
                    Ok(1) if byte[0] == b'\n' => {
                        if told.recv().is_err() || s.write_all(b"pong").is_err() {
                            return;
                        }
                    }
                    Ok(1) => {}
                    _ => return,
                }
            }
        });
        (addr, go)
    }

    /// Blocks until the socket has bytes to read, without the runtime knowing (a minute at
    /// most: a server thread that died fails the test instead of hanging it).
    fn until_readable(q: &QuietTcp) {
        let mut p = libc::pollfd {
            fd: q.fd().unwrap().get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 60_000) }, 1, "the answer never came");
    }

    fn wall() -> Duration {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
    }

    #[test]
    fn a_response_read_late_keeps_its_arrival_time_and_stays_quiet() {
        on_one_thread(async {
            let (addr, go) = ping_server();
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut q = QuietTcp::new(tcp).unwrap();
            for _ in 0..3 {
                q.begin_request().unwrap();
                let sent = wall();
                q.write_all(b"ping\n").await.unwrap();
                go.send(()).unwrap();
                // The answer arrives and sits in the socket; then it is read.
                until_readable(&q);
                let before_read = wall();
                let mut got = [0u8; 4];
                q.read_exact(&mut got).await.unwrap();
                assert_eq!(&got, b"pong");
                // The kernel's stamp, on the clock it was taken with: between the send and
                // the read, so not when it was read.
                let arrived = q.arrived.expect("the kernel's receive timestamp");
                assert!(arrived >= sent, "arrived {arrived:?} before it was sent {sent:?}");
                assert!(arrived <= before_read, "arrived {arrived:?} after the read began");
                assert!(q.arrived().is_some());
                assert!(q.timed_by_kernel());
                assert!(!q.is_loud(), "a response already there needs no readiness");
            }
        });
    }

    #[test]
    fn a_response_not_there_yet_is_waited_for_then_quiet_again() {
        on_one_thread(async {
            let (addr, go) = ping_server();
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut q = QuietTcp::new(tcp).unwrap();
            q.begin_request().unwrap();
            q.write_all(b"ping\n").await.unwrap();
            let mut got = [0u8; 4];
            {
                // Nothing to read yet: the socket is registered for readability and waits.
                let read = q.read_exact(&mut got);
                tokio::pin!(read);
                assert!(futures::poll!(read.as_mut()).is_pending());
                go.send(()).unwrap();
                read.await.unwrap();
            }
            assert_eq!(&got, b"pong");
            assert!(q.is_loud());
            // It had to wait: the next request stays loud.
            q.begin_request().unwrap();
            assert!(q.is_loud());
            q.write_all(b"ping\n").await.unwrap();
            go.send(()).unwrap();
            until_readable(&q);
            q.read_exact(&mut got).await.unwrap();
            // Whole at the first read: the one after goes quiet.
            q.begin_request().unwrap();
            assert!(!q.is_loud());
            q.write_all(b"ping\n").await.unwrap();
            go.send(()).unwrap();
            q.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"pong");
        });
    }

    #[test]
    fn end_of_stream_and_shutdown() {
        on_one_thread(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut all = Vec::new();
                std::io::Read::read_to_end(&mut s, &mut all).unwrap();
                s.write_all(b"bye").unwrap();
                all
            });
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut q = QuietTcp::new(tcp).unwrap();
            q.write_all(b"hello").await.unwrap();
            q.shutdown().await.unwrap();
            let mut rest = Vec::new();
            q.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, b"bye");
            assert_eq!(server.join().unwrap(), b"hello");
        });
    }
}

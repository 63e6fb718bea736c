//! Real servers for the benchmark tests, started from the test on free loopback ports
//! with temporary configs (nginx, HAProxy), and small misbehaving servers written here
//! (one that never answers, one that hangs up at once). All stop when dropped.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A port nothing listens on right now (bound, then released), and never handed out
/// before by this function in this process: the kernel may give a released port to the
/// next bind, so two servers of parallel tests could otherwise be told the same port, and
/// the one that lost the race would seem to listen (its test then talking to the other
/// test's server). Listeners this process holds (bound to port 0 and kept) are safe anyway:
/// the kernel gives no bound port out.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn wait_listening(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on {port}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A self-signed certificate and key for 127.0.0.1/localhost, made with openssl.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl (scripts/install-deps installs it)");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A private CA, a server certificate it signed for 127.0.0.1/localhost, and a client
/// certificate it signed: what an mTLS ingress gateway and its clients hold.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Makes a [`Pki`] in `dir` with openssl.
pub fn pki(dir: &Path) -> Pki {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl (scripts/install-deps installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-days", "2", "-subj", "/CN=meshtop test CA"],
        &["-keyout", "ca.key", "-out", "ca.pem"],
    ]
    .concat());
    for (name, cn, ext) in [
        (
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "meshtop", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("basicConstraints=CA:FALSE\n{ext}"),
        )
        .unwrap();
        let (key, csr, pem, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let subj = format!("/CN={cn}");
        run(&[&["req"][..], &ec, &["-subj", &subj, "-keyout", &key, "-out", &csr]].concat());
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &extfile,
            "-out",
            &pem,
        ]);
    }
    Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    }
}

/// nginx with one worker and the default keepalive_requests (1000), answering on
/// `port` (HTTP/1.1), `h2c_port` (HTTP/2 prior knowledge), `tls_port` (HTTPS, HTTP/1.1
/// and h2 by ALPN, self-signed), `ca_port` (HTTPS with a certificate of `pki`'s CA) and
/// `mtls_port` (the same, and a client certificate of that CA required: 400 without).
/// `/` returns 200 "hello\n", `/missing` 404.
pub struct Nginx {
    pub port: u16,
    pub h2c_port: u16,
    pub tls_port: u16,
    pub ca_port: u16,
    pub mtls_port: u16,
    pub pki: Pki,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start() -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let (cert, key) = self_signed(dir.path());
        let pki = pki(dir.path());
        let (port, h2c_port, tls_port) = (free_port(), free_port(), free_port());
        let (ca_port, mtls_port) = (free_port(), free_port());
        let conf = format!(
            r#"worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    listen 127.0.0.1:{h2c_port} http2;
    listen 127.0.0.1:{tls_port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location = / {{ return 200 "hello\n"; }}
    location = /missing {{ return 404; }}
  }}
  server {{
    listen 127.0.0.1:{ca_port} ssl;
    ssl_certificate {server_cert};
    ssl_certificate_key {server_key};
    location = / {{ return 200 "hello\n"; }}
  }}
  server {{
    listen 127.0.0.1:{mtls_port} ssl;
    ssl_certificate {server_cert};
    ssl_certificate_key {server_key};
    ssl_client_certificate {ca};
    ssl_verify_client on;
    location = / {{ return 200 "hello\n"; }}
  }}
}}
"#,
            cert = cert.display(),
            key = key.display(),
            server_cert = pki.server_cert.display(),
            server_key = pki.server_key.display(),
            ca = pki.ca.display(),
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting nginx (scripts/install-deps installs nginx-light)");
        for p in [port, h2c_port, tls_port, ca_port, mtls_port] {
            wait_listening(p, "nginx", &mut child);
        }
        Nginx {
            port,
            h2c_port,
            tls_port,
            ca_port,
            mtls_port,
            pki,
            child,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGTERM, so a master process takes its workers down with it (SIGKILL would orphan
/// them); SIGKILL only if it has not exited after 5 s.
fn stop(child: &mut Child) {
    // SAFETY: signals our own child, whose pid is still reserved until we wait for it.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// HAProxy answering every request itself with 200 (`http-request return`).
pub struct Haproxy {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    pub fn start() -> Haproxy {
        Haproxy::with(|port| {
            format!(
                "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout client 10s\n  timeout connect 5s\n  timeout server 10s\n\
                 frontend fe\n  bind 127.0.0.1:{port}\n  http-request return status 200 content-type text/plain string ok\n"
            )
        })
    }

    /// HAProxy as one hop in front of `upstream_port` on loopback (keep-alive both sides).
    pub fn forward_to(upstream_port: u16) -> Haproxy {
        Haproxy::with(|port| {
            format!(
                "global\n  maxconn 4096\ndefaults\n  mode http\n  option http-keep-alive\n  timeout client 10s\n  timeout connect 5s\n  timeout server 10s\n\
                 frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\nbackend be\n  server up 127.0.0.1:{upstream_port}\n"
            )
        })
    }

    /// HAProxy on a free port with the configuration `conf` writes for that port.
    fn with(conf: impl FnOnce(u16) -> String) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, conf(port)).unwrap();
        let mut child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting haproxy (scripts/install-deps installs it)");
        wait_listening(port, "haproxy", &mut child);
        Haproxy { port, child, _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The stand-in mesh proxy (tests/standin/proxy.py) on loopback, forwarding real traffic
/// to `upstream_port` and exporting it in Istio's format.
pub struct Standin {
    pub port: u16,
    pub metrics_port: u16,
    child: Child,
}

impl Standin {
    pub fn start(upstream_port: u16) -> Standin {
        let (port, metrics_port) = (free_port(), free_port());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--format", "istio", "--listen", &port.to_string()])
            .args(["--upstream", &format!("http://127.0.0.1:{upstream_port}")])
            .args([
                "--metrics",
                &metrics_port.to_string(),
                "--namespace",
                "shop",
                "--workload",
                "web",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the stand-in proxy (python3)");
        wait_listening(port, "stand-in proxy", &mut child);
        Standin {
            port,
            metrics_port,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// How a [`Misbehaving`] server treats each connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Reads the request and never answers.
    Stall,
    /// Accepts, then closes at once without answering.
    HangUp,
    /// Answers 200 with a chunked body that never ends (a cardinality bomb, a runaway
    /// exporter): `sent` counts the body bytes that left.
    Endless,
}

/// A thread-per-connection TCP server that misbehaves; counts the connections it
/// accepted.
pub struct Misbehaving {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pub accepted: Arc<std::sync::atomic::AtomicU64>,
    pub sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Misbehaving {
    pub fn start(behaviour: Behaviour) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stop2, accepted2, sent2) = (stop.clone(), accepted.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        accepted2.fetch_add(1, Ordering::Relaxed);
                        match behaviour {
                            Behaviour::HangUp => drop(stream),
                            Behaviour::Endless => {
                                let (stop3, sent3) = (stop2.clone(), sent2.clone());
                                std::thread::spawn(move || endless(stream, &stop3, &sent3));
                            }
                            Behaviour::Stall => {
                                stream.set_nonblocking(true).unwrap();
                                let mut buf = [0u8; 4096];
                                let _ = stream.read(&mut buf);
                                held.push(stream);
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Misbehaving {
            addr,
            stop,
            accepted,
            sent,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// 200, chunked, and chunks of 64 KiB until the client goes or the server stops.
fn endless(mut stream: TcpStream, stop: &AtomicBool, sent: &std::sync::atomic::AtomicU64) {
    use std::io::Write;
    stream.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let body = vec![b' '; 64 * 1024];
    let chunk = [format!("{:x}\r\n", body.len()).into_bytes(), body, b"\r\n".to_vec()].concat();
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(&chunk).is_err() {
            return;
        }
        sent.fetch_add(64 * 1024, Ordering::Relaxed);
    }
}

impl Drop for Misbehaving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A listener that only records whether anyone connected: for "nothing was sent".
pub struct Witness {
    listener: TcpListener,
}

impl Witness {
    pub fn start() -> Witness {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Witness { listener }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.listener.local_addr().unwrap())
    }

    /// True when a connection is waiting in the accept queue.
    pub fn contacted(&self) -> bool {
        self.listener.accept().is_ok()
    }
}

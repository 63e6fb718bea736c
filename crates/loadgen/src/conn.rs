//! The target, prepared once (address, TLS, the request), and connections to it:
//! TCP with TCP_NODELAY, optional TLS, then the HTTP/1.1 fast path ([`super::h1`]) or
//! an HTTP/2 handshake, and what an error means for the report.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use eyre::{Result, WrapErr, bail, eyre};
use http::header::{CONTENT_LENGTH, HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::config::BenchConfig;
use super::h1::{RawConn, RequestShape};
use super::stats::FailureKind;

pub type Body = Full<Bytes>;

/// Everything a lane needs to connect and send, built before anything is sent.
pub struct Target {
    pub addr: SocketAddr,
    server_name: ServerName<'static>,
    tls: Option<TlsConnector>,
    pub http2: bool,
    /// HTTP/2: cloned per request (the URI and body are reference-counted, only the
    /// header map is copied).
    pub request: Request<Body>,
    /// HTTP/1.1: the request as written on the wire, every time.
    pub raw_request: Vec<u8>,
    pub shape: RequestShape,
    /// Serialised request size (HTTP/1.1 wire format).
    pub request_bytes: u64,
    pub timeout: Duration,
}

impl Target {
    /// Resolves the host (blocking) and builds the TLS client and the request.
    pub fn prepare(config: &BenchConfig) -> Result<Target> {
        config.validate()?;
        let uri: Uri = config.spec.url.parse().wrap_err("parsing the URL")?;
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .wrap_err_with(|| format!("resolving {host}"))?
            .next()
            .ok_or_else(|| eyre!("{host} resolved to no address"))?;
        let server_name = ServerName::try_from(host.clone()).wrap_err_with(|| format!("TLS server name {host:?}"))?;
        let tls = if https {
            Some(TlsConnector::from(Arc::new(tls_config(&config.spec)?)))
        } else {
            None
        };
        let request = build_request(config, &uri)?;
        let raw_request = super::h1::serialize(&request);
        let shape = RequestShape {
            head: request.method() == http::Method::HEAD,
            close: request.headers().get_all(http::header::CONNECTION).iter().any(|v| {
                v.as_bytes()
                    .split(|b| *b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            }),
        };
        let request_bytes = raw_request.len() as u64;
        Ok(Target {
            addr,
            server_name,
            tls,
            http2: config.spec.http2,
            request: request.map(Full::new),
            raw_request,
            shape,
            request_bytes,
            timeout: config.spec.timeout,
        })
    }

    /// TCP (and TLS) connection, bounded by the request timeout.
    async fn open(&self) -> Result<Io, Failure> {
        let work = async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .map_err(|e| Failure::new(FailureKind::Connect, format!("connect {}: {e}", self.addr)))?;
            // Requests are small writes that must leave at once.
            let _ = tcp.set_nodelay(true);
            let Some(tls) = &self.tls else {
                return Ok(Io::Plain(tcp));
            };
            let stream = tls
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(|e| Failure::new(tls_error_kind(&e), format!("TLS handshake: {e}")))?;
            if self.http2 && stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(Failure::new(
                    FailureKind::Tls,
                    "the server did not agree to HTTP/2 (ALPN h2)",
                ));
            }
            Ok(Io::Tls(Box::new(stream)))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Failure::new(
                FailureKind::Timeout,
                format!("connect: no connection within {:?}", self.timeout),
            )),
        }
    }

    /// An HTTP/1.1 connection; `quiet` asks for one whose responses do not wake the thread
    /// ([`super::quiet`]), which only a plain connection on Linux can be.
    pub async fn connect_h1(&self, quiet: bool) -> Result<RawConn, Failure> {
        let io = self.open().await?;
        #[cfg(target_os = "linux")]
        let io = match io {
            Io::Plain(tcp) if quiet => Io::Quiet(
                super::quiet::QuietTcp::new(tcp)
                    .map_err(|e| Failure::new(FailureKind::Connect, format!("registering the connection: {e}")))?,
            ),
            io => io,
        };
        #[cfg(not(target_os = "linux"))]
        let _ = quiet;
        Ok(RawConn::new(io))
    }

    /// Plain TCP, no TLS.
    pub fn plain(&self) -> bool {
        self.tls.is_none()
    }

    pub async fn connect_h2(&self) -> Result<http2::SendRequest<Body>, Failure> {
        let io = self.open().await?;
        let handshake = http2::handshake(LocalExec, TokioIo::new(io));
        let (send, conn) = match tokio::time::timeout(self.timeout, handshake).await {
            Ok(r) => r.map_err(|e| Failure::from_hyper(&e))?,
            Err(_) => return Err(Failure::new(FailureKind::Timeout, "HTTP/2 handshake timed out")),
        };
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(send)
    }
}

/// Runs hyper's HTTP/2 background tasks on the worker's own thread.
#[derive(Clone, Copy)]
struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: std::future::Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

fn build_request(config: &BenchConfig, uri: &Uri) -> Result<Request<Bytes>> {
    let method = http::Method::from_bytes(config.spec.method.as_bytes()).map_err(|_| eyre!("invalid method"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    // HTTP/1.1 sends origin-form; HTTP/2 takes :scheme and :authority from an absolute URI.
    let target: Uri = if config.spec.http2 {
        uri.clone()
    } else {
        path.parse().wrap_err("request path")?
    };
    let mut req = Request::builder().method(method).uri(target);
    let headers = req.headers_mut().ok_or_else(|| eyre!("building the request"))?;
    let given = |name: &HeaderName| {
        config
            .spec
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
    };
    if !config.spec.http2 && !given(&HOST) {
        let authority = uri.authority().map_or("", |a| a.as_str());
        headers.insert(HOST, HeaderValue::from_str(authority).wrap_err("Host header")?);
    }
    if !given(&USER_AGENT) {
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("meshtop/", env!("CARGO_PKG_VERSION"))),
        );
    }
    if !config.body.is_empty() && !given(&CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(config.body.len()));
    }
    for (name, value) in &config.spec.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).wrap_err_with(|| format!("header name {name:?}"))?;
        headers.append(name, HeaderValue::from_str(value).wrap_err("header value")?);
    }
    req.body(config.body.clone()).wrap_err("building the request")
}

/// Header block size as parsed: the status line and `name: value` lines.
pub fn header_bytes(res: &http::response::Parts) -> u64 {
    let status_line = 9 + 3 + 1 + res.status.canonical_reason().map_or(0, str::len) + 2;
    let lines: usize = res.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    (status_line + lines + 2) as u64
}

/// The TLS client of a run: the server verified against `--cacert` or the system's roots
/// (or not at all with `--insecure`), and the client certificate of `--cert`/`--key`.
/// Every file is read here, before anything is sent; an error names the flag and the file.
pub fn tls_config(spec: &crate::types::BenchSpec) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // ring explicitly: a library caller may not have installed a process default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .wrap_err("TLS protocol versions")?;
    let certs = |flag: &str, path: &std::path::Path| -> Result<Vec<CertificateDer<'static>>> {
        let read = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| eyre!("{flag} {}: {e}", path.display()))?;
        if read.is_empty() {
            bail!("{flag} {}: no PEM certificate in it", path.display());
        }
        Ok(read)
    };
    let builder = if spec.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &spec.tls.cacert {
            Some(path) => {
                let (added, ignored) = roots.add_parsable_certificates(certs("--cacert", path)?);
                if added == 0 {
                    bail!(
                        "--cacert {}: none of its {ignored} certificates is usable as a CA",
                        path.display()
                    );
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    bail!(
                        "no system root certificates found (install ca-certificates) to verify the server; give --cacert, or --insecure"
                    );
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match (&spec.tls.cert, &spec.tls.key) {
        (Some(cert), Some(key_path)) => {
            let chain = certs("--cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| eyre!("--key {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| eyre!("--cert {} with --key {}: {e}", cert.display(), key_path.display()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => bail!("--cert and --key go together"),
    };
    config.alpn_protocols = vec![if spec.http2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    Ok(config)
}

/// `--insecure`: accepts any certificate, still checks the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A failed request or connection, sorted into the report's error kinds.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }

    pub fn from_hyper(e: &hyper::Error) -> Failure {
        Failure::new(classify(e), error_chain(e))
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What a hyper error means for the report.
pub fn classify(e: &hyper::Error) -> FailureKind {
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io_kind(io);
        }
        if let Some(h2) = s.downcast_ref::<h2::Error>()
            && (h2.is_reset() || h2.is_go_away() || h2.is_io() || h2.is_remote())
        {
            return FailureKind::Reset;
        }
        source = s.source();
    }
    // Closed before the response was complete, or the connection went away under a request.
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return FailureKind::Reset;
    }
    FailureKind::Other
}

pub fn io_kind(e: &io::Error) -> FailureKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            FailureKind::Connect
        }
        io::ErrorKind::TimedOut => FailureKind::Timeout,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => FailureKind::Reset,
        _ => FailureKind::Other,
    }
}

/// A handshake failure is a TLS error unless the peer simply hung up.
fn tls_error_kind(e: &io::Error) -> FailureKind {
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return FailureKind::Tls;
    }
    match io_kind(e) {
        FailureKind::Reset | FailureKind::Timeout => io_kind(e),
        _ => FailureKind::Tls,
    }
}

/// Plain TCP or TLS over TCP, without boxing the hot path.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Plain, read only when the lane wants the response ([`super::quiet`]).
    #[cfg(target_os = "linux")]
    Quiet(super::quiet::QuietTcp),
}

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(target_os = "linux")]
            Io::Quiet(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(target_os = "linux")]
            Io::Quiet(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            #[cfg(target_os = "linux")]
            Io::Quiet(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
            #[cfg(target_os = "linux")]
            Io::Quiet(_) => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(target_os = "linux")]
            Io::Quiet(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(target_os = "linux")]
            Io::Quiet(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

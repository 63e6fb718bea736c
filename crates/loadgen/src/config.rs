//! What a benchmark run does: the [`BenchSpec`] (target, request, load model, limits)
//! plus what is never stored (the body), checked before anything is sent; and the
//! default worker threads.

use std::time::Duration;

use bytes::Bytes;
use eyre::{Result, bail, eyre};

pub use crate::types::{BenchSpec, RateStep, TlsFiles};

/// The port of an authority (`user@host:port`, `[::1]:port`) as written, if one is given.
pub fn explicit_port(authority: &str) -> Option<&str> {
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = host_port.rsplit_once(':')?;
    // `[::1]` alone: the colons are the address's.
    if host.starts_with('[') && !host.ends_with(']') {
        return None;
    }
    Some(port)
}

/// The engine's input: the spec, and the request body (only its length is kept in results).
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    pub spec: BenchSpec,
    pub body: Bytes,
    /// The spec as results and shards carry it, when it must differ from what is sent: a
    /// caller that keeps results applies its redaction policy here (the engine knows none).
    /// None: they carry `spec` as it is.
    pub shown: Option<BenchSpec>,
    /// The version of the program running the engine, which shard streams name (their
    /// `meshtop_version`); None: this crate's.
    pub program_version: Option<String>,
}

impl BenchConfig {
    /// A closed-loop GET for 10 s over 50 connections: the CLI's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        let url: String = url.into();
        BenchConfig {
            spec: BenchSpec {
                threads_note: Some(threads_note(&url)),
                method: "GET".into(),
                headers: Vec::new(),
                connections: 50,
                streams: 1,
                threads: default_threads(&url),
                url,
                rate: 0.0,
                ramp: Vec::new(),
                duration: Some(Duration::from_secs(10)),
                requests: None,
                warmup: Duration::ZERO,
                timeout: Duration::from_secs(10),
                http2: false,
                insecure: false,
                tls: Default::default(),
                label: None,
            },
            body: Bytes::new(),
            shown: None,
            program_version: None,
        }
    }

    /// Checks everything that can be checked without the network, so a bad config sends nothing.
    /// The TLS files of an https:// URL are read here too (plain http:// ignores them, as
    /// curl does, so one sweep may compare an http:// baseline with an https:// gateway).
    pub fn validate(&self) -> Result<()> {
        let s = &self.spec;
        let uri: http::Uri = s.url.parse().map_err(|e| eyre!("invalid URL {:?}: {e}", s.url))?;
        if uri.scheme_str() == Some("https") && !s.tls.is_empty() {
            super::conn::tls_config(s)?;
        }
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            Some(other) => bail!("invalid URL {:?}: scheme {other:?} (use http:// or https://)", s.url),
            None => bail!("invalid URL {:?}: no scheme (use http:// or https://)", s.url),
        }
        if uri.host().is_none_or(str::is_empty) {
            bail!("invalid URL {:?}: no host", s.url);
        }
        // A typo such as :80800 parses (the port is then simply absent) and would fall
        // back to the scheme's port, loading the wrong service: read the port as written.
        if let Some(port) = uri.authority().and_then(|a| explicit_port(a.as_str()))
            && !port.parse::<u16>().is_ok_and(|p| p > 0)
        {
            bail!("invalid URL {:?}: port {port} is not between 1 and 65535", s.url);
        }
        http::Method::from_bytes(s.method.as_bytes()).map_err(|_| eyre!("invalid method {:?}", s.method))?;
        for (name, value) in &s.headers {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| eyre!("invalid header name {name:?}"))?;
            http::HeaderValue::from_str(value).map_err(|_| eyre!("invalid value for header {name}: {value:?}"))?;
        }
        if s.connections == 0 {
            bail!("connections must be at least 1");
        }
        if s.streams == 0 {
            bail!("streams must be at least 1");
        }
        if s.lanes() > MAX_LANES {
            bail!(
                "{} connections x {} streams is {} requests in flight; at most {MAX_LANES}",
                s.connections,
                s.streams,
                s.lanes()
            );
        }
        if s.streams > 1 && !s.http2 {
            bail!("several streams per connection need HTTP/2 (--http2)");
        }
        if !s.rate.is_finite() || s.rate < 0.0 {
            bail!("rate must be a number >= 0 (0 = as fast as possible), not {}", s.rate);
        }
        if s.open_loop() && s.rate < MIN_RATE {
            bail!("rate {} req/s is less than one request a day", shown(s.rate));
        }
        if !s.ramp.is_empty() && !s.open_loop() {
            bail!("a ramp needs a target rate for the main phase (--rate > 0)");
        }
        for step in &s.ramp {
            if !step.rate.is_finite() || step.rate < MIN_RATE {
                bail!(
                    "ramp step rate must be at least one request a day, not {}",
                    shown(step.rate)
                );
            }
            if step.duration.is_zero() {
                bail!("ramp step of {} rps has no duration", step.rate);
            }
        }
        match (s.duration, s.requests) {
            (None, None) => bail!("set a duration or a number of requests"),
            (Some(d), _) if d.is_zero() => bail!("duration must be more than 0"),
            (_, Some(0)) => bail!("requests must be at least 1"),
            _ => {}
        }
        // A rate that schedules no request in the run would report a meaningless figure.
        if let (true, Some(d)) = (s.open_loop(), s.duration) {
            let scheduled = s.rate * d.as_secs_f64();
            if scheduled < 1.0 {
                bail!(
                    "rate {} req/s for {} schedules no request (only {scheduled:.3}); raise the rate or the duration",
                    shown(s.rate),
                    crate::human(d)
                );
            }
        }
        if s.timeout.is_zero() {
            bail!("timeout must be more than 0");
        }
        // The run as a whole, warm-up and ramp included, is at most a day too.
        if let Some(total) = s.total_time().filter(|t| *t > DAY) {
            bail!(
                "warm-up, ramp and duration add up to {}: at most a day",
                crate::human(total)
            );
        }
        if let (true, None, Some(n)) = (s.open_loop(), s.duration, s.requests)
            && n as f64 / s.rate > DAY.as_secs_f64()
        {
            bail!("{n} requests at {} req/s would take more than a day", shown(s.rate));
        }
        Ok(())
    }

    /// The spec as results and shards carry it.
    pub fn shown_spec(&self) -> BenchSpec {
        self.shown.clone().unwrap_or_else(|| self.spec.clone())
    }
}

/// A rate as users read it: `0.5`, and `1e-300` rather than 300 zeros.
fn shown(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-6 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// More requests in flight than this is a typo, not a benchmark (each is a task).
const MAX_LANES: u32 = 100_000;
const DAY: Duration = Duration::from_secs(86_400);

/// One request a day: below it a schedule never sends.
const MIN_RATE: f64 = 1.0 / 86_400.0;

/// Threads for a run that names none: every core for a target elsewhere. A target on this
/// machine (a loopback address or `localhost`) needs cores of its own, so it gets half of
/// them, at least one: on a 2-core machine against a local nginx, one thread sent 170k
/// req/s where two sent 143k (issue 16's measurement; `bench/loadgen-vs.sh`).
pub fn default_threads(url: &str) -> u32 {
    default_for(&[url]).0
}

/// Why a run that named no threads has the ones it has, for its report.
pub fn threads_note(url: &str) -> String {
    default_for(&[url]).1
}

/// The default threads for runs against `urls` (a sweep's targets: one count for all, so
/// that they are compared alike, the local one's if any is local), and why.
pub fn default_for(urls: &[&str]) -> (u32, String) {
    let cores = cores();
    let local = urls.iter().any(|u| target_is_local(u));
    let n = threads_for(cores, local);
    let note = match (local, cores) {
        (true, 1) => "default: this machine's one core, shared with the target running here".to_string(),
        (true, _) => format!("default: {n} of this machine's {cores} cores, the rest left to the target running here"),
        (false, 1) => "default: this machine's one core".to_string(),
        (false, _) => format!("default: one per core, {cores}"),
    };
    (n, note)
}

fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

fn threads_for(cores: u32, local: bool) -> u32 {
    if local { (cores / 2).max(1) } else { cores.max(1) }
}

/// Whether the URL's host is this machine: a loopback address or `localhost` (names that
/// resolve elsewhere to this machine are not looked up; they count as remote).
pub fn target_is_local(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else { return false };
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_target_leaves_half_the_cores_to_itself() {
        assert_eq!(threads_for(2, true), 1);
        assert_eq!(threads_for(2, false), 2);
        assert_eq!(threads_for(1, true), 1);
        assert_eq!(threads_for(16, true), 8);
        assert_eq!(threads_for(0, false), 1);
        for local in [
            "http://127.0.0.1:8080/",
            "https://127.8.9.10/x",
            "http://localhost/",
            "http://LOCALHOST.:80/",
            "http://api.localhost/",
            "http://[::1]:8080/",
            "http://0.0.0.0:9/",
        ] {
            assert!(target_is_local(local), "{local}");
        }
        for remote in [
            "http://10.0.0.1/",
            "http://example.com/",
            "http://localhost.example.com/",
            "http://[2001:db8::1]/",
            "not a url",
            "",
        ] {
            assert!(!target_is_local(remote), "{remote}");
        }
    }

    #[test]
    fn ports_as_written() {
        assert_eq!(explicit_port("h:80800"), Some("80800"));
        assert_eq!(explicit_port("user:pw@h:8080"), Some("8080"));
        assert_eq!(explicit_port("[::1]:9"), Some("9"));
        assert_eq!(explicit_port("[::1]"), None);
        assert_eq!(explicit_port("h"), None);
        for ok in ["http://[::1]:8080/", "http://u:p@h/", "https://h:443/x"] {
            BenchConfig::new(ok).validate().unwrap();
        }
    }

    #[test]
    fn rejects_bad_input() {
        let ok = BenchConfig::new("http://127.0.0.1:8080/");
        ok.validate().unwrap();
        type Change = Box<dyn Fn(&mut BenchSpec)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|c| c.url = "not a url".into()), "URL"),
            (Box::new(|c| c.url = "ftp://x/".into()), "scheme"),
            (Box::new(|c| c.url = "/path".into()), "scheme"),
            (
                Box::new(|c| c.url = "http://10.0.0.5:80800/".into()),
                "port 80800 is not between 1 and 65535",
            ),
            (Box::new(|c| c.url = "http://u:p@10.0.0.5:0/".into()), "port 0 is not"),
            (Box::new(|c| c.rate = -1.0), "rate"),
            (Box::new(|c| c.rate = f64::NAN), "rate"),
            (Box::new(|c| c.connections = 0), "connections"),
            (Box::new(|c| c.streams = 4), "HTTP/2"),
            (Box::new(|c| c.method = "GE T".into()), "method"),
            (
                Box::new(|c| c.headers = vec![("bad name".into(), "v".into())]),
                "header",
            ),
            (
                Box::new(|c| {
                    c.ramp = vec![RateStep {
                        rate: 10.0,
                        duration: Duration::from_secs(1),
                    }]
                }),
                "ramp",
            ),
            (Box::new(|c| c.duration = None), "duration"),
            (Box::new(|c| c.requests = Some(0)), "requests"),
            (
                Box::new(|c| {
                    c.connections = 100_000;
                    c.streams = 1000;
                    c.http2 = true
                }),
                "at most 100000",
            ),
            (
                Box::new(|c| {
                    c.warmup = Duration::from_secs(3600);
                    c.duration = Some(Duration::from_secs(86_400))
                }),
                "at most a day",
            ),
        ];
        for (change, needle) in cases {
            let mut c = ok.clone();
            change(&mut c.spec);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle}");
        }
    }

    #[test]
    fn a_rate_that_schedules_nothing_is_refused() {
        let mut c = BenchConfig::new("http://h/");
        c.spec.rate = 0.0001;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "rate 0.0001 req/s for 10s schedules no request (only 0.001); raise the rate or the duration"
        );
        c.spec.rate = 0.1;
        c.validate().unwrap();
        // Bounded by requests, not time: still at least one request a day.
        c.spec.duration = None;
        c.spec.requests = Some(10);
        c.spec.rate = 1e-300;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "rate 1e-300 req/s is less than one request a day"
        );
    }
}

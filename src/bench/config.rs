//! What a benchmark run does: target, request, load model and limits. Plain data, so
//! the TUI can build one and a result can carry the one it came from.

use std::time::Duration;

use bytes::Bytes;
use color_eyre::eyre::{Result, bail, eyre};
use serde::{Deserialize, Serialize};

/// One rate step of a ramp: `rate` requests/s for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateStep {
    pub rate: f64,
    #[serde(with = "secs")]
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    pub method: String,
    /// Extra request headers, in order. `Host` is derived from the URL unless given here.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Request body, sent as is. Not kept in stored results (only its length is).
    #[serde(skip)]
    pub body: Bytes,
    pub connections: u32,
    /// Concurrent HTTP/2 streams per connection (1 for HTTP/1.1).
    pub streams: u32,
    /// Worker threads, each a single-threaded runtime owning a share of the connections.
    pub threads: u32,
    /// Total requests/s across all connections; 0 = closed loop (as fast as possible).
    pub rate: f64,
    /// Rate steps run after the warm-up and before the main phase at `rate`.
    #[serde(default)]
    pub ramp: Vec<RateStep>,
    /// Length of the main phase (after the ramp); None = until `requests` are done.
    #[serde(with = "opt_secs")]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests (responses and errors).
    pub requests: Option<u64>,
    /// Sent but excluded from the results.
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// Per request, from send to the last body byte; also bounds connect and TLS handshake.
    #[serde(with = "secs")]
    pub timeout: Duration,
    pub http2: bool,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    pub label: Option<String>,
}

impl BenchConfig {
    /// A closed-loop GET with the CLI's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        BenchConfig {
            url: url.into(),
            method: "GET".into(),
            headers: Vec::new(),
            body: Bytes::new(),
            connections: 50,
            streams: 1,
            threads: default_threads(),
            rate: 0.0,
            ramp: Vec::new(),
            duration: Some(Duration::from_secs(10)),
            requests: None,
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(10),
            http2: false,
            insecure: false,
            label: None,
        }
    }

    pub fn open_loop(&self) -> bool {
        self.rate > 0.0
    }

    /// Concurrent request slots: each has its own schedule and one request in flight.
    pub fn lanes(&self) -> u32 {
        self.connections * self.streams
    }

    /// Threads actually used: never more than connections.
    pub fn worker_threads(&self) -> u32 {
        self.threads.clamp(1, self.connections.max(1))
    }

    /// Warm-up, ramp and main phase, when the run is bounded by time.
    pub fn total_time(&self) -> Option<Duration> {
        let ramp: Duration = self.ramp.iter().map(|s| s.duration).sum();
        self.duration.map(|d| self.warmup + ramp + d)
    }

    /// Checks everything that can be checked without the network, so a bad config sends nothing.
    pub fn validate(&self) -> Result<()> {
        let uri: http::Uri = self.url.parse().map_err(|e| eyre!("invalid URL {:?}: {e}", self.url))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            Some(other) => bail!("invalid URL {:?}: scheme {other:?} (use http:// or https://)", self.url),
            None => bail!("invalid URL {:?}: no scheme (use http:// or https://)", self.url),
        }
        if uri.host().is_none_or(str::is_empty) {
            bail!("invalid URL {:?}: no host", self.url);
        }
        http::Method::from_bytes(self.method.as_bytes()).map_err(|_| eyre!("invalid method {:?}", self.method))?;
        for (name, value) in &self.headers {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| eyre!("invalid header name {name:?}"))?;
            http::HeaderValue::from_str(value).map_err(|_| eyre!("invalid value for header {name}: {value:?}"))?;
        }
        if self.connections == 0 {
            bail!("connections must be at least 1");
        }
        if self.streams == 0 {
            bail!("streams must be at least 1");
        }
        if self.streams > 1 && !self.http2 {
            bail!("several streams per connection need HTTP/2 (--http2)");
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            bail!(
                "rate must be a number >= 0 (0 = as fast as possible), not {}",
                self.rate
            );
        }
        if !self.ramp.is_empty() && !self.open_loop() {
            bail!("a ramp needs a target rate for the main phase (--rate > 0)");
        }
        for step in &self.ramp {
            if !step.rate.is_finite() || step.rate <= 0.0 {
                bail!("ramp step rate must be > 0, not {}", step.rate);
            }
            if step.duration.is_zero() {
                bail!("ramp step of {} rps has no duration", step.rate);
            }
        }
        match (self.duration, self.requests) {
            (None, None) => bail!("set a duration or a number of requests"),
            (Some(d), _) if d.is_zero() => bail!("duration must be more than 0"),
            (_, Some(0)) => bail!("requests must be at least 1"),
            _ => {}
        }
        if self.timeout.is_zero() {
            bail!("timeout must be more than 0");
        }
        Ok(())
    }

    /// A copy safe to store: values of credential-like headers replaced.
    pub fn redacted(&self) -> BenchConfig {
        let mut c = self.clone();
        for (name, value) in &mut c.headers {
            if is_secret_header(name) {
                *value = "<redacted>".into();
            }
        }
        c
    }
}

/// Authorization, cookies, and anything named like a token, key, secret or password.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "password",
        "api-key",
        "apikey",
        "x-api-key",
    ]
    .iter()
    .any(|w| n.contains(w))
}

pub fn default_threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Rate steps as given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp(pub Vec<RateStep>);

/// `RATE:DURATION[,RATE:DURATION...]`, e.g. `100:5s,500:5s`.
pub fn parse_ramp(s: &str) -> std::result::Result<Ramp, String> {
    let steps = s
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let (rate, dur) = part
                .split_once(':')
                .ok_or_else(|| format!("ramp step {part:?}: use RATE:DURATION, e.g. 500:10s"))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .map_err(|_| format!("ramp step {part:?}: invalid rate"))?;
            let duration = crate::cli::parse_duration(dur)?;
            Ok(RateStep { rate, duration })
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    if steps.is_empty() {
        return Err("empty ramp".into());
    }
    Ok(Ramp(steps))
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|v| Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_input() {
        let ok = BenchConfig::new("http://127.0.0.1:8080/");
        ok.validate().unwrap();
        for (change, needle) in [
            (
                Box::new(|c: &mut BenchConfig| c.url = "not a url".into()) as Box<dyn Fn(&mut BenchConfig)>,
                "URL",
            ),
            (Box::new(|c| c.url = "ftp://x/".into()), "scheme"),
            (Box::new(|c| c.url = "/path".into()), "scheme"),
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
        ] {
            let mut c = ok.clone();
            change(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle}");
        }
    }

    #[test]
    fn ramp_parses_and_counts_in_total_time() {
        let ramp = parse_ramp("100:5s, 500:2s").unwrap().0;
        assert_eq!(ramp.len(), 2);
        assert_eq!(ramp[1].rate, 500.0);
        let mut c = BenchConfig::new("http://h/");
        c.rate = 1000.0;
        c.ramp = ramp;
        c.warmup = Duration::from_secs(1);
        assert_eq!(c.total_time(), Some(Duration::from_secs(18)));
        assert!(parse_ramp("100").is_err());
        assert!(parse_ramp("x:5s").is_err());
    }

    #[test]
    fn redacts_credentials() {
        let mut c = BenchConfig::new("http://h/");
        c.headers = vec![
            ("Authorization".into(), "Bearer x".into()),
            ("Accept".into(), "*/*".into()),
        ];
        let r = c.redacted();
        assert_eq!(r.headers[0].1, "<redacted>");
        assert_eq!(r.headers[1].1, "*/*");
    }
}

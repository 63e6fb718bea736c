//! Filters over tap events, applied after the fact: on the response too (status, latency),
//! which Linkerd's tap cannot do at the proxy. One parser serves the CLI flags and the
//! TUI's `/` filter; it never panics (property-tested).

use crate::model::tap::TapEvent;

/// Status codes to keep: classes (`5xx`), exact codes (`503`) and `fail` (any request that
/// did not succeed: 5xx, Envoy's 0 with UF/UH, resets, timeouts, gRPC errors), any of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusMatch {
    classes: Vec<u8>,
    codes: Vec<u16>,
    failed: bool,
}

impl StatusMatch {
    /// `5xx`, `503`, `4xx,5xx`, `429,5xx`, `fail`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut m = StatusMatch::default();
        for part in s.split(',').map(str::trim) {
            let lower = part.to_ascii_lowercase();
            if matches!(lower.as_str(), "fail" | "failed" | "err" | "error") {
                m.failed = true;
            } else if let Some(c) = lower.strip_suffix("xx")
                && c.len() == 1
                && let Some(d) = c.chars().next().and_then(|c| c.to_digit(10))
                && (1..=5).contains(&d)
            {
                m.classes.push(d as u8);
            } else if let Ok(code) = part.parse::<u16>()
                && (100..=599).contains(&code)
            {
                m.codes.push(code);
            } else {
                return Err(format!(
                    "{part:?} is not a status: give a class (1xx to 5xx), a code (100 to 599) or fail, comma-separated"
                ));
            }
        }
        Ok(m)
    }

    /// Classes and codes look at the status (events without one never match them); `fail`
    /// at whether the request succeeded.
    pub fn matches(&self, e: &TapEvent) -> bool {
        if self.failed && !e.success() {
            return true;
        }
        let Some(s) = e.status else { return false };
        self.codes.contains(&s) || self.classes.iter().any(|&c| u16::from(c) == s / 100)
    }
}

/// Every condition must hold; an empty filter keeps everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TapFilter {
    /// Substring of the source, case-insensitive.
    pub source: Option<String>,
    pub destination: Option<String>,
    /// The path starts with this (the query string included).
    pub path_prefix: Option<String>,
    /// Exact, case-insensitive.
    pub method: Option<String>,
    pub status: Option<StatusMatch>,
    pub min_latency_ms: Option<f64>,
    /// Free words: each a substring of the source, destination, authority or path.
    pub words: Vec<String>,
}

/// The `/` filter's fields, for the help text and errors.
pub const FIELDS: &str = "src=, dst=, path=, method=, status= (5xx, 503, fail), latency>= (100ms), or words";

impl TapFilter {
    pub fn is_empty(&self) -> bool {
        *self == TapFilter::default()
    }

    /// The TUI's filter: `src=web dst=voting path=/api method=POST status=5xx latency>=100ms`
    /// and free words. An unknown field or a bad value is an error naming it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut f = TapFilter::default();
        for term in s.split_whitespace() {
            if let Some((name, value)) = term.split_once(">=") {
                match name.to_ascii_lowercase().as_str() {
                    "latency" | "lat" | "duration" => f.min_latency_ms = Some(latency(value)?),
                    other => return Err(format!("{other:?} cannot be compared with >= (only latency>=)")),
                }
                continue;
            }
            let Some((name, value)) = term.split_once('=') else {
                f.words.push(term.to_lowercase());
                continue;
            };
            if value.is_empty() {
                return Err(format!("{name}= needs a value ({FIELDS})"));
            }
            match name.to_ascii_lowercase().as_str() {
                "src" | "source" | "from" => f.source = Some(value.to_lowercase()),
                "dst" | "destination" | "to" => f.destination = Some(value.to_lowercase()),
                "path" => f.path_prefix = Some(value.to_string()),
                "method" => f.method = Some(value.to_ascii_uppercase()),
                "status" => f.status = Some(StatusMatch::parse(value)?),
                "latency" | "lat" | "min-latency" => f.min_latency_ms = Some(latency(value)?),
                other => return Err(format!("unknown filter field {other:?} ({FIELDS})")),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, e: &TapEvent) -> bool {
        fn has(h: &str, lower: &str) -> bool {
            h.contains(lower) || h.to_lowercase().contains(lower)
        }
        self.source.as_deref().is_none_or(|s| has(&e.source, s))
            && self.destination.as_deref().is_none_or(|d| has(&e.destination, d))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| e.path.as_deref().is_some_and(|path| path.starts_with(p)))
            && self
                .method
                .as_deref()
                .is_none_or(|m| e.method.as_deref().is_some_and(|em| em.eq_ignore_ascii_case(m)))
            && self.status.as_ref().is_none_or(|s| s.matches(e))
            && self
                .min_latency_ms
                .is_none_or(|min| e.duration_ms.is_some_and(|d| d >= min))
            && self.words.iter().all(|w| {
                has(&e.source, w)
                    || has(&e.destination, w)
                    || e.authority.as_deref().is_some_and(|a| has(a, w))
                    || e.path.as_deref().is_some_and(|p| has(p, w))
            })
    }
}

/// `100ms`, `1.5s`, `250`: a latency threshold, by the one duration parser; a bare number
/// is milliseconds here (latencies are read in ms), not seconds as elsewhere.
pub fn latency(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if let Ok(ms) = t.parse::<f64>() {
        return if ms.is_finite() && (0.0..=86_400_000.0).contains(&ms) {
            Ok(ms)
        } else {
            Err(format!(
                "latency: {t:?} is not a number of milliseconds from 0 to a day"
            ))
        };
    }
    crate::input::duration(t, crate::input::Bounds::OFFSET)
        .map(|d| d.as_secs_f64() * 1e3)
        .map_err(|e| format!("latency: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tap::TapOrigin;

    fn ev(status: Option<u16>, ms: f64, path: &str) -> TapEvent {
        let mut e = TapEvent::new(
            0,
            TapOrigin::Linkerd,
            "emojivoto/web-1".into(),
            "emojivoto/voting-2".into(),
        );
        e.method = Some("POST".into());
        e.path = Some(path.into());
        e.status = status;
        e.duration_ms = Some(ms);
        e
    }

    #[test]
    fn status_classes_and_codes() {
        let with = |s: Option<u16>| ev(s, 1.0, "/");
        let m = StatusMatch::parse("429,5xx").unwrap();
        assert!(m.matches(&with(Some(429))) && m.matches(&with(Some(500))) && m.matches(&with(Some(599))));
        assert!(!m.matches(&with(Some(404))) && !m.matches(&with(Some(200))) && !m.matches(&with(None)));
        // `fail` is what did not succeed, with or without a status.
        let f = StatusMatch::parse("fail").unwrap();
        assert!(f.matches(&with(Some(0))) && f.matches(&with(Some(503))) && !f.matches(&with(Some(404))));
        let mut reset = with(None);
        reset.error = Some("stream reset".into());
        assert!(f.matches(&reset) && !m.matches(&reset));
        assert_eq!(latency("250"), Ok(250.0), "a bare number is milliseconds");
        assert_eq!(latency("1.5s"), Ok(1500.0));
        assert!(latency("-3").is_err() && latency("1e300").is_err());
        assert!(StatusMatch::parse("6xx").is_err());
        assert!(StatusMatch::parse("50").is_err());
        assert!(StatusMatch::parse("").is_err());
        assert!(StatusMatch::parse("5XX").unwrap().matches(&with(Some(503))));
    }

    #[test]
    fn every_field_filters() {
        let f = TapFilter::parse("src=WEB dst=voting path=/api method=post status=5xx latency>=100ms").unwrap();
        assert!(f.matches(&ev(Some(503), 150.0, "/api/vote")));
        assert!(!f.matches(&ev(Some(200), 150.0, "/api/vote")), "status");
        assert!(!f.matches(&ev(Some(503), 99.9, "/api/vote")), "latency");
        assert!(!f.matches(&ev(Some(503), 150.0, "/web/api")), "path is a prefix");
        assert!(TapFilter::parse("vote").unwrap().matches(&ev(None, 1.0, "/api/vote")));
        assert!(
            !TapFilter::parse("nothing")
                .unwrap()
                .matches(&ev(None, 1.0, "/api/vote"))
        );
        assert!(TapFilter::parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_filters_name_the_culprit() {
        assert!(TapFilter::parse("colour=red").unwrap_err().contains("\"colour\""));
        assert!(TapFilter::parse("latency>=fast").unwrap_err().contains("fast"));
        assert!(TapFilter::parse("status=").unwrap_err().contains("status="));
        assert!(TapFilter::parse("path>=3").is_err());
    }
}

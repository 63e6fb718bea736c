//! A run's configuration on meshtop's side: the engine's ([`loadgen::config`]), ramps as
//! typed on the command line, and the spec as meshtop keeps it (redacted, in its own
//! versioned type).

pub use loadgen::config::*;

use crate::model::bench as wire;

/// The spec as it may be recorded, stored, reported and shown, by the one redaction
/// policy: the URL's password and credential-like query parameters, credential-like
/// header values and secrets in the others, and the label.
pub fn redacted(spec: &BenchSpec) -> BenchSpec {
    let mut s = spec.clone();
    s.url = crate::redact::scrub(&s.url);
    s.label = s.label.as_deref().map(crate::redact::scrub);
    for (name, value) in &mut s.headers {
        crate::redact::header_value(name, value);
    }
    s
}

/// What a recording, a saved result or the bench panel keeps of a run's spec.
pub fn shown_spec(config: &BenchConfig) -> wire::BenchSpec {
    redacted(&config.spec).into()
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
            let rate = crate::input::number(rate, 0.0).map_err(|e| format!("ramp step {part:?}: rate {e}"))?;
            if rate == 0.0 {
                return Err(format!("ramp step {part:?}: rate must be above 0"));
            }
            let duration = crate::input::duration(dur, crate::input::Bounds::RUN)
                .map_err(|e| format!("ramp step {part:?}: {e}"))?;
            Ok(RateStep { rate, duration })
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    if steps.is_empty() {
        return Err("empty ramp (use RATE:DURATION, e.g. 100:5s,500:5s)".into());
    }
    Ok(Ramp(steps))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ramp_parses_and_counts_in_total_time() {
        let ramp = parse_ramp("100:5s, 500:2s").unwrap().0;
        assert_eq!(ramp.len(), 2);
        assert_eq!(ramp[1].rate, 500.0);
        let mut c = BenchConfig::new("http://h/");
        c.spec.rate = 1000.0;
        c.spec.ramp = ramp;
        c.spec.warmup = Duration::from_secs(1);
        assert_eq!(c.spec.total_time(), Some(Duration::from_secs(18)));
        assert!(parse_ramp("100").is_err());
        assert!(parse_ramp("x:5s").is_err());
        assert_eq!(
            parse_ramp("100:30 ").unwrap().0[0].duration,
            Duration::from_secs(30),
            "a bare number is seconds"
        );
        assert!(parse_ramp("0:5s").unwrap_err().contains("above 0"));
    }

    #[test]
    fn redacts_credentials() {
        let mut c = BenchConfig::new("http://alice:pw@h:8080/p?token=t&page=2");
        c.spec.headers = vec![
            ("Authorization".into(), "Bearer x".into()),
            ("Accept".into(), "*/*".into()),
            ("X-Api-Key".into(), "k".into()),
            ("X-Forwarded".into(), "for=a; signature=s".into()),
        ];
        c.spec.label = Some("run password=p".into());
        let r = shown_spec(&c);
        assert_eq!(r.url, "http://alice:<redacted>@h:8080/p?token=<redacted>&page=2");
        assert_eq!(r.headers[0].1, crate::redact::REDACTED);
        assert_eq!(r.headers[1].1, "*/*");
        assert_eq!(r.headers[2].1, crate::redact::REDACTED);
        assert_eq!(r.headers[3].1, "for=a; signature=<redacted>");
        assert_eq!(r.label.as_deref(), Some("run password=<redacted>"));
        // What is sent keeps its secrets: only the copy that is kept loses them.
        assert_eq!(c.spec.url, "http://alice:pw@h:8080/p?token=t&page=2");
    }
}

//! What users type: durations, rates, counts and headers, from flags, the benchmark form and
//! `:` commands. One parser per kind of value, shared by the CLI, the fold and the load
//! generator. Pure, and total: any string gives a value or an error that says what is
//! accepted; nothing here panics (property-tested in `tests/typed_input.rs`).

use std::time::Duration;

/// How a duration field is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Whether 0 means something here (no warm-up, the start of a replay).
    pub zero: bool,
    pub max: Duration,
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

impl Bounds {
    /// A run or a wait: more than 0, at most a day.
    pub const RUN: Bounds = Bounds { zero: false, max: DAY };
    /// A position or an optional phase (seek, warm-up): 0 allowed, at most a day.
    pub const OFFSET: Bounds = Bounds { zero: true, max: DAY };
    /// A per-request or per-query timeout: more than 0, at most an hour.
    pub const TIMEOUT: Bounds = Bounds { zero: false, max: HOUR };
}

/// The forms a duration may take, for error messages.
pub const DURATION_FORMS: &str = "e.g. 30s, 1m30s, 1.5m, 250ms, 2h, 1d, or a number of seconds";

/// Parses a duration: jiff's friendly format (`1m30s`, `90s`, `1.5m`, `250ms`, `1h 5m`,
/// `2 minutes`) or ISO 8601 (`PT1M`), or a bare number of seconds; spaces around it are
/// ignored. Negative, non-finite and out-of-bounds values are errors.
pub fn duration(s: &str, bounds: Bounds) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("no duration given ({DURATION_FORMS})"));
    }
    let d = match seconds(t) {
        Some(secs) => {
            if secs < 0.0 {
                return Err(format!("{t:?} is negative ({DURATION_FORMS})"));
            }
            // Checked against the bound first: from_secs_f64 panics on huge values.
            if secs > bounds.max.as_secs_f64() {
                return Err(too_long(t, bounds));
            }
            Duration::try_from_secs_f64(secs).map_err(|_| format!("{t:?} is not a duration ({DURATION_FORMS})"))?
        }
        None => {
            // Days and weeks are calendar units to jiff's SignedDuration; as a Span with
            // 24-hour days they read as users mean them.
            let signed: jiff::SignedDuration = t
                .parse()
                .or_else(|_| {
                    t.parse::<jiff::Span>()
                        .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
                })
                .map_err(|_| format!("{t:?} is not a duration ({DURATION_FORMS})"))?;
            if signed.is_negative() {
                return Err(format!("{t:?} is negative ({DURATION_FORMS})"));
            }
            Duration::try_from(signed).map_err(|_| format!("{t:?} is not a duration ({DURATION_FORMS})"))?
        }
    };
    if d > bounds.max {
        return Err(too_long(t, bounds));
    }
    if d.is_zero() && !bounds.zero {
        return Err(format!("{t:?}: must be more than 0"));
    }
    Ok(d)
}

fn too_long(t: &str, bounds: Bounds) -> String {
    format!("{t:?} is too long (at most {})", human(bounds.max))
}

/// A plain decimal number (no unit), as ASCII digits: `30`, `1.5`, `-2`. Words such as
/// `inf` or `nan`, which Rust's float parser accepts, are not numbers here.
fn seconds(t: &str) -> Option<f64> {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `1h30m`, `45s`, `250ms`: a duration as users write it (the load generator's, so its
/// messages and meshtop's agree).
pub use loadgen::human;

/// A number that must be finite and at least `min` (rates, shares).
pub fn number(s: &str, min: f64) -> Result<f64, String> {
    let t = s.trim();
    let v = seconds(t)
        .or_else(|| t.parse::<f64>().ok().filter(|v| v.is_finite()))
        .ok_or_else(|| format!("{t:?} is not a number"))?;
    if v < min {
        return Err(format!("{t:?} is below {min}"));
    }
    Ok(v)
}

/// A whole count between `min` and `max`, e.g. connections.
pub fn count(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let t = s.trim();
    let n: u64 = t
        .parse()
        .map_err(|_| format!("{t:?} is not a whole number between {min} and {max}"))?;
    if !(min..=max).contains(&n) {
        return Err(format!("{t:?} is not between {min} and {max}"));
    }
    Ok(n)
}

/// One request header, `Name: value`.
pub fn header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once(':').ok_or_else(|| format!("{s:?} is not `Name: value`"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?} has no header name before the colon"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// Headers separated by `;` (the benchmark form's one-line field).
pub fn headers(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(';')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| header(h).map_err(|e| format!("{e} (separate headers with ;)")))
        .collect()
}

/// A TOML error on one line: `line 3: unknown field ...` (the crate's own message spans
/// several lines with a drawing of the input).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text.get(..span.start).map_or(1, |t| t.matches('\n').count() + 1);
            format!("line {line}: {message}")
        }
        None => message,
    }
}

/// A Kubernetes namespace name: a DNS-1123 label.
pub fn is_namespace_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A Kubernetes object name (DNS-1123 subdomain: pods, deployments).
pub fn is_object_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A point in time as a user or a Job's environment writes it: RFC 3339 with an offset
/// (`2026-12-02T10:00:00Z`, `...+01:00`), or Unix seconds (`@1764669600`).
pub fn timestamp(s: &str) -> Result<jiff::Timestamp, String> {
    const FORMS: &str = "RFC 3339 such as 2026-12-02T10:00:00Z, or @UNIX-SECONDS";
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("no time given ({FORMS})"));
    }
    let parsed = match t.strip_prefix('@') {
        Some(secs) => secs
            .parse::<i64>()
            .ok()
            .and_then(|n| jiff::Timestamp::from_second(n).ok()),
        None => t.parse::<jiff::Timestamp>().ok(),
    };
    parsed.ok_or_else(|| format!("{s:?} is not a time ({FORMS})"))
}

/// clap value parsers: clap names the flag, these name the accepted forms.
pub mod flag {
    use super::*;

    pub fn run_duration(s: &str) -> Result<Duration, String> {
        duration(s, Bounds::RUN)
    }
    pub fn offset(s: &str) -> Result<Duration, String> {
        duration(s, Bounds::OFFSET)
    }
    pub fn timeout(s: &str) -> Result<Duration, String> {
        duration(s, Bounds::TIMEOUT)
    }
    pub fn rate(s: &str) -> Result<f64, String> {
        number(s, 0.0).map_err(|e| format!("{e} (requests per second; 0 = as fast as possible)"))
    }
    pub fn header(s: &str) -> Result<(String, String), String> {
        super::header(s)
    }
    pub fn timestamp(s: &str) -> Result<jiff::Timestamp, String> {
        super::timestamp(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Result<Duration, String> {
        duration(s, Bounds::RUN)
    }

    #[test]
    fn times_in_rfc_3339_or_unix_seconds() {
        let want = jiff::Timestamp::from_second(1_764_669_600).unwrap();
        assert_eq!(timestamp("2025-12-02T10:00:00Z"), Ok(want));
        assert_eq!(timestamp(" 2025-12-02T11:00:00+01:00 "), Ok(want));
        assert_eq!(timestamp("@1764669600"), Ok(want));
        assert_eq!(
            timestamp("tomorrow").unwrap_err(),
            "\"tomorrow\" is not a time (RFC 3339 such as 2026-12-02T10:00:00Z, or @UNIX-SECONDS)"
        );
        assert!(timestamp("2025-12-02T10:00:00").is_err(), "no offset: ambiguous");
        assert!(timestamp("@99999999999999999").is_err());
        assert!(timestamp("").unwrap_err().starts_with("no time given"));
    }

    #[test]
    fn durations_in_every_form_users_write() {
        let secs = |v: f64| Ok(Duration::from_secs_f64(v));
        assert_eq!(run("30"), secs(30.0));
        assert_eq!(run("30 "), secs(30.0), "the panic of `-z '30 '`");
        assert_eq!(run(" 1.5 "), secs(1.5));
        assert_eq!(run("90s"), secs(90.0));
        assert_eq!(run("1m30s"), secs(90.0));
        assert_eq!(run("1m10s"), secs(70.0), "the README's :seek form");
        assert_eq!(run("1.5m"), secs(90.0));
        assert_eq!(run("250ms"), secs(0.25));
        assert_eq!(run("2h"), secs(7200.0));
        assert_eq!(run("1h 5m"), secs(3900.0));
        assert_eq!(run("2 minutes"), secs(120.0));
        assert_eq!(run("PT1M"), secs(60.0));
        assert_eq!(run("1d"), secs(86_400.0), "a day is the longest run");
        assert_eq!(run("12h 30m"), secs(45_000.0));
    }

    #[test]
    fn bad_durations_say_what_is_accepted() {
        assert_eq!(
            run("x").unwrap_err(),
            format!("\"x\" is not a duration ({DURATION_FORMS})")
        );
        assert_eq!(run("").unwrap_err(), format!("no duration given ({DURATION_FORMS})"));
        assert_eq!(run("-5").unwrap_err(), format!("\"-5\" is negative ({DURATION_FORMS})"));
        assert_eq!(
            run("-5s").unwrap_err(),
            format!("\"-5s\" is negative ({DURATION_FORMS})")
        );
        assert_eq!(run("0s").unwrap_err(), "\"0s\": must be more than 0");
        assert_eq!(duration("0", Bounds::OFFSET), Ok(Duration::ZERO));
        assert_eq!(run("25h").unwrap_err(), "\"25h\" is too long (at most 24h)");
        assert_eq!(run("2d").unwrap_err(), "\"2d\" is too long (at most 24h)");
        assert_eq!(run("1 week").unwrap_err(), "\"1 week\" is too long (at most 24h)");
        assert!(run("1 month").unwrap_err().contains("is not a duration"));
        assert_eq!(
            run("1e300").unwrap_err(),
            format!("\"1e300\" is not a duration ({DURATION_FORMS})")
        );
        assert_eq!(
            run("99999999999999999999").unwrap_err(),
            "\"99999999999999999999\" is too long (at most 24h)"
        );
        assert_eq!(
            run("inf").unwrap_err(),
            format!("\"inf\" is not a duration ({DURATION_FORMS})")
        );
        assert_eq!(
            run("NaN").unwrap_err(),
            format!("\"NaN\" is not a duration ({DURATION_FORMS})")
        );
        assert!(run("٣٠").is_err(), "Arabic-Indic digits are not seconds");
        assert_eq!(
            duration("2h", Bounds::TIMEOUT).unwrap_err(),
            "\"2h\" is too long (at most 1h)"
        );
    }

    #[test]
    fn numbers_counts_and_headers() {
        assert_eq!(number(" 2.5 ", 0.0), Ok(2.5));
        assert_eq!(number("-1", 0.0).unwrap_err(), "\"-1\" is below 0");
        assert_eq!(number("inf", 0.0).unwrap_err(), "\"inf\" is not a number");
        assert_eq!(count("10", 1, 100), Ok(10));
        assert_eq!(
            count("2.5", 1, 100).unwrap_err(),
            "\"2.5\" is not a whole number between 1 and 100"
        );
        assert_eq!(count("0", 1, 100).unwrap_err(), "\"0\" is not between 1 and 100");
        assert_eq!(header(" X-A :  b c "), Ok(("X-A".into(), "b c".into())));
        assert_eq!(header("Host:a:b"), Ok(("Host".into(), "a:b".into())));
        assert_eq!(
            header(": v").unwrap_err(),
            "\": v\" has no header name before the colon"
        );
        assert_eq!(
            headers("A: 1; B: 2;").unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        assert_eq!(
            headers("NoColon").unwrap_err(),
            "\"NoColon\" is not `Name: value` (separate headers with ;)"
        );
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }
}

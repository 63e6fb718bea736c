//! A zero-copy parser for the Prometheus text exposition format, also accepting the
//! OpenMetrics style ztunnel emits (`# TYPE x counter` with `x_total` samples, `# UNIT`,
//! `# EOF`).
//!
//! Why not prometheus-parse: it runs three regexes per line and allocates a String per
//! label, about 25 MB/s on the real dumps; scraping 1,000 proxies every 5 s would take
//! most of a core. This parser borrows names and label text from the input, scans bytes
//! once, and allocates only for escaped label values (rare) and for the metadata table.
//! `benches/parse.rs` measures both on the real dumps; `tests/exposition_real.rs` checks
//! that both yield the same samples.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Untyped,
}

impl MetricType {
    fn parse(s: &str) -> MetricType {
        match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            _ => MetricType::Untyped,
        }
    }
}

/// One sample line. `labels` is the raw text between the braces; iterate it with
/// [`Sample::labels`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub labels: &'a str,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl<'a> Sample<'a> {
    /// Label pairs in order. Values are borrowed unless they contain escapes.
    pub fn labels(&self) -> Labels<'a> {
        Labels { rest: self.labels }
    }

    /// The value of one label (unescaped), if present.
    pub fn label(&self, name: &str) -> Option<Cow<'a, str>> {
        self.labels().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// Iterator over `name="value"` pairs of a validated label set.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Labels<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start_matches([' ', ',']);
        if s.is_empty() {
            return None;
        }
        // The label set was validated when the line was parsed, so the shape is known.
        let eq = s.find('=')?;
        let name = s[..eq].trim_end();
        let after = s[eq + 1..].trim_start();
        let body = &after[1..];
        let (end, escaped) = scan_quoted(body.as_bytes()).ok()?;
        let raw = &body[..end];
        self.rest = &body[end + 1..];
        let value = if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        };
        Some((name, value))
    }
}

/// Finds the closing quote of a label value; reports whether it contained escapes.
fn scan_quoted(b: &[u8]) -> Result<(usize, bool), &'static str> {
    let mut i = 0;
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            b'"' => return Ok((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'\n' => return Err("newline inside a label value"),
            _ => i += 1,
        }
    }
    Err("unterminated label value")
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A line that could not be parsed. Parsing goes on with the next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    pub message: &'static str,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Metadata of a metric family from `# TYPE`, `# HELP` and `# UNIT` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family<'a> {
    pub name: &'a str,
    pub kind: MetricType,
    pub help: Option<&'a str>,
    pub unit: Option<&'a str>,
}

/// Samples read from one exposition at most. The scrape's 10 MiB cap holds ~70,000 of
/// Envoy's lines; a million is a cardinality bomb, and its rest is not read.
pub const MAX_SAMPLES: usize = 1_000_000;
/// Bad lines kept with their line number; beyond, they are only counted.
pub const MAX_KEPT_ERRORS: usize = 1_000;
/// Longer lines are bad lines, not read: Envoy's longest real lines are under 2 KiB.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Labels of one sample, and the bytes of a name or a label value, beyond which the line is
/// a bad line: each such series would be kept (and shown) whole otherwise.
pub const MAX_LABELS: usize = 128;
pub const MAX_NAME_BYTES: usize = 1024;
pub const MAX_LABEL_VALUE_BYTES: usize = 16 * 1024;

/// A parsed exposition: samples in input order, family metadata, and bad lines.
#[derive(Debug, Clone, Default)]
pub struct Exposition<'a> {
    pub samples: Vec<Sample<'a>>,
    pub families: Vec<Family<'a>>,
    /// The first [`MAX_KEPT_ERRORS`] bad lines.
    pub errors: Vec<LineError>,
    /// Every bad line, kept or not.
    pub bad_lines: usize,
    /// `# EOF` was seen (OpenMetrics); text after it is ignored.
    pub eof: bool,
    /// More than [`MAX_SAMPLES`] samples: the text after them was not read.
    pub truncated: bool,
    /// Family name → index in `families`: found in constant time, so a bomb of `# TYPE`
    /// lines is not quadratic to parse or to look samples up in.
    index: std::collections::HashMap<&'a str, usize>,
}

impl<'a> Exposition<'a> {
    /// The family a sample belongs to: its own name, or with a type suffix removed
    /// (`_bucket`, `_sum`, `_count`, `_total`, `_created`, `_info`, `_gcount`, `_gsum`).
    pub fn family_of(&self, sample_name: &str) -> Option<&Family<'a>> {
        const SUFFIXES: &[&str] = &[
            "_bucket", "_sum", "_count", "_total", "_created", "_info", "_gcount", "_gsum",
        ];
        let by_name = |name: &str| self.index.get(name).map(|&i| &self.families[i]);
        by_name(sample_name).or_else(|| {
            SUFFIXES
                .iter()
                .find_map(|suffix| by_name(sample_name.strip_suffix(suffix)?))
        })
    }

    pub fn type_of(&self, sample_name: &str) -> MetricType {
        self.family_of(sample_name).map_or(MetricType::Untyped, |f| f.kind)
    }
}

/// Parses a whole exposition. Never fails as a whole: bad lines are reported in `errors`.
pub fn parse(text: &str) -> Exposition<'_> {
    let mut out = Exposition {
        samples: Vec::with_capacity(text.len() / 96),
        ..Default::default()
    };
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            out.bad_line(i, "a line longer than 64 KiB, not read");
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if comment.trim() == "EOF" {
                out.eof = true;
                break;
            }
            meta(&mut out, comment);
            continue;
        }
        match sample(trimmed) {
            Ok(_) if out.samples.len() == MAX_SAMPLES => {
                out.truncated = true;
                break;
            }
            Ok(s) => out.samples.push(s),
            Err(message) => out.bad_line(i, message),
        }
    }
    out
}

impl Exposition<'_> {
    /// Counts the bad line at 0-based index `i`, and keeps the first ones.
    fn bad_line(&mut self, i: usize, message: &'static str) {
        self.bad_lines += 1;
        if self.errors.len() < MAX_KEPT_ERRORS {
            self.errors.push(LineError { line: i + 1, message });
        }
    }
}

fn meta<'a>(out: &mut Exposition<'a>, comment: &'a str) {
    let mut parts = comment.trim_start().splitn(3, [' ', '\t']);
    let (Some(keyword), Some(name)) = (parts.next(), parts.next()) else {
        return;
    };
    let rest = parts.next().map(str::trim);
    let family = |out: &mut Exposition<'a>| -> usize {
        let next = out.families.len();
        let i = *out.index.entry(name).or_insert(next);
        if i == next {
            out.families.push(Family {
                name,
                kind: MetricType::Untyped,
                help: None,
                unit: None,
            });
        }
        i
    };
    match keyword {
        "TYPE" => {
            let i = family(out);
            out.families[i].kind = MetricType::parse(rest.unwrap_or(""));
        }
        "HELP" => {
            let i = family(out);
            out.families[i].help = rest;
        }
        "UNIT" => {
            let i = family(out);
            out.families[i].unit = rest;
        }
        _ => {} // Any other comment.
    }
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn sample(line: &str) -> Result<Sample<'_>, &'static str> {
    let b = line.as_bytes();
    if !is_name_start(b[0]) {
        return Err("expected a metric name");
    }
    let mut i = 1;
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    let name = &line[..i];
    if name.len() > MAX_NAME_BYTES {
        return Err("a metric name longer than 1 KiB");
    }
    let mut labels = "";
    if i < b.len() && b[i] == b'{' {
        let start = i + 1;
        let end = start + label_set_len(&b[start..])?;
        labels = &line[start..end];
        i = end + 1;
    }
    let rest = line[i..].trim_start_matches([' ', '\t']);
    if rest.len() == line.len() - i && !rest.is_empty() && i < b.len() {
        return Err("expected whitespace before the value");
    }
    let mut fields = rest.split([' ', '\t']).filter(|s| !s.is_empty());
    let value = fields.next().ok_or("missing value")?;
    let value = parse_value(value).ok_or("invalid value")?;
    let timestamp_ms = match fields.next() {
        None => None,
        // Prometheus text timestamps are integer milliseconds; OpenMetrics uses float seconds.
        Some(t) => Some(match t.parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => (t.parse::<f64>().map_err(|_| "invalid timestamp")? * 1000.0) as i64,
        }),
    };
    if fields.next().is_some_and(|f| !f.starts_with('#')) {
        return Err("unexpected text after the timestamp");
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Length of the label set up to (not including) the closing brace; validates its shape.
fn label_set_len(b: &[u8]) -> Result<usize, &'static str> {
    let mut i = 0;
    let mut count = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            return Err("unterminated label set");
        }
        if b[i] == b'}' {
            return Ok(i);
        }
        if !is_name_start(b[i]) {
            return Err("expected a label name");
        }
        count += 1;
        if count > MAX_LABELS {
            return Err("more than 128 labels");
        }
        let name_start = i;
        while i < b.len() && is_name_char(b[i]) {
            i += 1;
        }
        if i - name_start > MAX_NAME_BYTES {
            return Err("a label name longer than 1 KiB");
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err("expected '=' after a label name");
        }
        i += 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'"' {
            return Err("expected a quoted label value");
        }
        i += 1;
        let (end, _) = scan_quoted(&b[i..])?;
        if end > MAX_LABEL_VALUE_BYTES {
            return Err("a label value longer than 16 KiB");
        }
        i += end + 1;
    }
}

/// Go-style floats: `NaN`, `+Inf`, `-Inf` as well as decimal and exponent forms.
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_types_and_openmetrics() {
        let text = "# HELP istio_tcp_connections_opened Total connections opened\n\
                    # TYPE istio_tcp_connections_opened counter\n\
                    # UNIT istio_tcp_connections_opened connections\n\
                    istio_tcp_connections_opened_total{reporter=\"destination\",source_workload=\"a\\\"b\"} 42 1700000000000\n\
                    # TYPE rq histogram\n\
                    rq_bucket{le=\"+Inf\"} 7\n\
                    up 1\n\
                    # EOF\n\
                    ignored 1\n";
        let e = parse(text);
        assert!(e.eof);
        assert_eq!(e.errors, []);
        assert_eq!(e.samples.len(), 3);
        let s = e.samples[0];
        assert_eq!(
            (s.name, s.value, s.timestamp_ms),
            ("istio_tcp_connections_opened_total", 42.0, Some(1_700_000_000_000))
        );
        let labels: Vec<(&str, String)> = s.labels().map(|(k, v)| (k, v.into_owned())).collect();
        assert_eq!(
            labels,
            [
                ("reporter", "destination".to_string()),
                ("source_workload", "a\"b".to_string())
            ]
        );
        assert_eq!(e.type_of(s.name), MetricType::Counter);
        assert_eq!(e.family_of(s.name).unwrap().unit, Some("connections"));
        assert_eq!(e.type_of("rq_bucket"), MetricType::Histogram);
        assert_eq!(e.samples[1].value, f64::INFINITY.min(7.0));
        assert_eq!(e.samples[1].label("le").as_deref(), Some("+Inf"));
        assert_eq!(e.type_of("up"), MetricType::Untyped);
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let e = parse("ok 1\n{x=\"1\"} 2\nbad{x=\"1} 3\nnovalue\nx{a=b} 1\ny 1 2 3\nz NaNa\nok2 2");
        let errs: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "line 2: expected a metric name",
                "line 3: unterminated label value",
                "line 4: missing value",
                "line 5: expected a quoted label value",
                "line 6: unexpected text after the timestamp",
                "line 7: invalid value",
            ]
        );
        assert_eq!(e.samples.iter().map(|s| s.name).collect::<Vec<_>>(), ["ok", "ok2"]);
    }

    #[test]
    fn truncated_input_keeps_whole_lines() {
        let e = parse("a 1\nb{x=\"1\"} 2\nc{x=\"tru");
        assert_eq!(e.samples.len(), 2);
        assert_eq!(
            e.errors,
            [LineError {
                line: 3,
                message: "unterminated label value"
            }]
        );
    }

    /// A cardinality bomb: more than a million samples. The first million are read, the
    /// rest is not, and the exposition says it was cut.
    #[test]
    fn a_cardinality_bomb_is_cut_at_the_sample_cap() {
        let text = "a 1\n".repeat(MAX_SAMPLES + 5);
        let e = parse(&text);
        assert_eq!(e.samples.len(), MAX_SAMPLES);
        assert!(e.truncated);
        assert!(!parse("a 1\nb 2\n").truncated);
    }

    /// Each limit makes its line a bad line with a message naming it; the lines around it
    /// are read; a line just under every limit is read.
    #[test]
    fn lines_over_a_limit_are_bad_lines_that_say_which() {
        let cases = [
            (
                format!("a{{x=\"{}\"}} 1", "v".repeat(MAX_LINE_BYTES)),
                "a line longer than 64 KiB, not read",
            ),
            (
                format!("{} 1", "n".repeat(MAX_NAME_BYTES + 1)),
                "a metric name longer than 1 KiB",
            ),
            (
                format!("a{{{}=\"v\"}} 1", "l".repeat(MAX_NAME_BYTES + 1)),
                "a label name longer than 1 KiB",
            ),
            (
                format!("a{{x=\"{}\"}} 1", "v".repeat(MAX_LABEL_VALUE_BYTES + 1)),
                "a label value longer than 16 KiB",
            ),
            (
                format!(
                    "a{{{}}} 1",
                    (0..=MAX_LABELS)
                        .map(|i| format!("l{i}=\"v\""))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                "more than 128 labels",
            ),
        ];
        for (line, message) in cases {
            let text = format!("before 1\n{line}\nafter 2\n");
            let e = parse(&text);
            let names: Vec<&str> = e.samples.iter().map(|s| s.name).collect();
            assert_eq!(names, ["before", "after"], "{message}");
            assert_eq!(e.bad_lines, 1);
            assert_eq!(e.errors[0].to_string(), format!("line 2: {message}"));
        }
        // At each limit, the line is read.
        let value = |n: usize| format!("a{{x=\"{}\"}} 1", "v".repeat(n));
        let long_line = format!("a 1{}", " ".repeat(MAX_LINE_BYTES - 3));
        assert_eq!(long_line.len(), MAX_LINE_BYTES);
        let at_limits = [
            format!("{} 1", "n".repeat(MAX_NAME_BYTES)),
            format!("a{{{}=\"v\"}} 1", "l".repeat(MAX_NAME_BYTES)),
            value(MAX_LABEL_VALUE_BYTES),
            format!(
                "a{{{}}} 1",
                (0..MAX_LABELS)
                    .map(|i| format!("l{i}=\"v\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            long_line,
        ];
        let text = at_limits.join("\n");
        let e = parse(&text);
        assert_eq!((e.samples.len(), e.bad_lines), (5, 0), "{:?}", e.errors);
    }

    /// Bad lines: all counted, the first thousand kept with their line numbers.
    #[test]
    fn bad_lines_are_counted_and_the_first_are_kept() {
        let text = "{\n".repeat(5000);
        let e = parse(&text);
        assert_eq!(e.bad_lines, 5000);
        assert_eq!(e.errors.len(), MAX_KEPT_ERRORS);
        assert_eq!(e.errors[999].line, 1000);
    }

    /// Families are found by name through an index: 200,000 distinct `# TYPE` lines (a
    /// quadratic scan would compare 2e10 names) each get their own family, in order.
    #[test]
    fn many_families_are_indexed() {
        let text: String = (0..200_000).map(|i| format!("# TYPE f{i} counter\nf{i} 1\n")).collect();
        let e = parse(&text);
        assert_eq!(e.families.len(), 200_000);
        assert_eq!(e.families[123_456].name, "f123456");
        assert_eq!(e.families[123_456].kind, MetricType::Counter);
        assert_eq!(e.family_of("f199999").map(|f| f.name), Some("f199999"));
    }
}

//! The first line of a recording: which format it is, who wrote it, when, from what, and
//! what in it was real. Versioned so an older meshtop can refuse what it cannot read.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::UnixMillis;

/// The `format` every recording's header names.
pub const FORMAT_NAME: &str = "meshtop-recording";

/// The version this meshtop writes. A reader accepts any minor of its own major: minors only
/// add fields, which older readers ignore.
pub const FORMAT_VERSION: FormatVersion = FormatVersion { major: 1, minor: 0 };

/// `major.minor`, written as the string `"1.0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FormatVersion {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for FormatVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("version {s:?} is not `major.minor`");
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        Ok(FormatVersion {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }
}

impl Serialize for FormatVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FormatVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The header line. Entry times are offsets from `recorded_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`]: tells a recording from any other JSON.
    pub format: String,
    pub version: FormatVersion,
    /// The meshtop that wrote it (`CARGO_PKG_VERSION`).
    pub meshtop_version: String,
    /// When recording started, in Unix milliseconds: the zero of every entry's offset.
    pub recorded_at: UnixMillis,
    /// The kubeconfig context recorded, or `"testbed"`.
    pub source: String,
    /// In words: what was real and what was stood in (e.g. "real kind cluster, Istio 1.24;
    /// proxy metrics from a stand-in exporter").
    pub provenance: String,
    /// Parts that were emulated rather than real (e.g. `"metrics-server"`, `"linkerd-proxy"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emulated: Vec<String>,
    /// Terminal-independent settings that shaped the data (namespaces watched, scrape
    /// interval...), so a replay can say how it was taken.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, serde_json::Value>,
}

impl Header {
    /// A header of the current format, written by this meshtop.
    pub fn new(source: impl Into<String>, provenance: impl Into<String>, recorded_at: UnixMillis) -> Self {
        Header {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            meshtop_version: env!("CARGO_PKG_VERSION").to_string(),
            recorded_at,
            source: source.into(),
            provenance: provenance.into(),
            emulated: Vec::new(),
            settings: BTreeMap::new(),
        }
    }

    pub fn emulated(mut self, part: impl Into<String>) -> Self {
        self.emulated.push(part.into());
        self
    }

    pub fn setting(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    /// Reads a header line, checking what it is before how it is shaped: a file from a newer
    /// major version may have changed any field, so that is refused by its version alone.
    pub fn parse(line: &str) -> Result<Header, HeaderError> {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|_| HeaderError::NotARecording)?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(HeaderError::NotARecording);
        }
        let version = value
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| HeaderError::Invalid("no \"version\"".to_string()))?
            .parse::<FormatVersion>()
            .map_err(HeaderError::Invalid)?;
        if version.major > FORMAT_VERSION.major {
            return Err(HeaderError::Newer(version));
        }
        if version.major < FORMAT_VERSION.major {
            return Err(HeaderError::Older(version));
        }
        serde_json::from_value(value).map_err(|e| HeaderError::Invalid(e.to_string()))
    }
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeaderError {
    #[error("not a meshtop recording: the first line is not a {FORMAT_NAME} header")]
    NotARecording,
    #[error(
        "recorded by a newer meshtop (format {0}); this meshtop reads {major}.x — upgrade meshtop",
        major = FORMAT_VERSION.major
    )]
    Newer(FormatVersion),
    #[error("recorded in format {0}, which this meshtop no longer reads (it reads {FORMAT_VERSION})")]
    Older(FormatVersion),
    #[error("a meshtop recording with a broken header: {0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_line_has_the_documented_shape() {
        let h = Header::new("kind-mesh", "real kind cluster", 1_700_000_000_123)
            .emulated("metrics-server")
            .setting("scrape_interval_s", 5);
        let json = serde_json::to_string(&h).unwrap();
        let expected = format!(
            r#"{{"format":"meshtop-recording","version":"1.0","meshtop_version":"{}","recorded_at":1700000000123,"source":"kind-mesh","provenance":"real kind cluster","emulated":["metrics-server"],"settings":{{"scrape_interval_s":5}}}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(json, expected);
        assert_eq!(Header::parse(&json).unwrap(), h);
    }

    #[test]
    fn newer_minor_is_read_and_its_new_fields_ignored() {
        let line = r#"{"format":"meshtop-recording","version":"1.7","meshtop_version":"9.0.0","recorded_at":5,"source":"testbed","provenance":"p","hologram":true}"#;
        let h = Header::parse(line).unwrap();
        assert_eq!(h.version, FormatVersion { major: 1, minor: 7 });
        assert!(h.emulated.is_empty() && h.settings.is_empty());
    }

    #[test]
    fn newer_major_is_refused_by_version_alone() {
        let line = r#"{"format":"meshtop-recording","version":"2.0","everything":"changed"}"#;
        let err = Header::parse(line).unwrap_err();
        assert_eq!(
            err.to_string(),
            "recorded by a newer meshtop (format 2.0); this meshtop reads 1.x — upgrade meshtop"
        );
    }

    #[test]
    fn other_json_and_broken_headers_are_told_apart() {
        assert_eq!(
            Header::parse(r#"{"version":2,"width":80}"#),
            Err(HeaderError::NotARecording)
        );
        assert_eq!(Header::parse("hello"), Err(HeaderError::NotARecording));
        assert_eq!(
            Header::parse(r#"{"format":"meshtop-recording","version":"one"}"#),
            Err(HeaderError::Invalid(
                r#"version "one" is not `major.minor`"#.to_string()
            ))
        );
        assert!(matches!(
            Header::parse(r#"{"format":"meshtop-recording","version":"1.0"}"#),
            Err(HeaderError::Invalid(m)) if m.contains("meshtop_version")
        ));
        assert_eq!(
            Header::parse(r#"{"format":"meshtop-recording","version":"0.9"}"#),
            Err(HeaderError::Older(FormatVersion { major: 0, minor: 9 }))
        );
    }
}

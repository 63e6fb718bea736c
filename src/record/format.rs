//! The lines of a recording, apart from any I/O.
//!
//! A recording is newline-delimited JSON: the [`Header`](super::Header) line, then one line per
//! update, `[t_offset_seconds, update]`, where `update` is the [`Update`] JSON the live sources
//! emit (after redaction) and the offset counts from the header's `recorded_at`, to the
//! millisecond. The text is stored as a series of independent zstd frames (a new one every
//! minute or so), each holding whole lines and flushed every second, so a file cut anywhere
//! still decodes up to its last flush, and a damaged frame costs only its own lines.
//! Uncompressed text is read as well, for hand-written fixtures.

use serde_json::Value;

use crate::app::{Stamped, Update};
use crate::model::UnixMillis;

/// The first four bytes of every zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Milliseconds beyond this cannot be told apart in an `f64` of seconds.
const MAX_EXACT_MILLIS: f64 = 9_007_199_254_740_992.0;

/// Seconds from `start` to `at`, exact to the millisecond.
pub fn offset_seconds(start: UnixMillis, at: UnixMillis) -> f64 {
    at.saturating_sub(start) as f64 / 1000.0
}

/// The wall-clock time of an offset, or None when it is not a usable number.
pub fn at_from_offset(start: UnixMillis, seconds: f64) -> Option<UnixMillis> {
    let millis = (seconds * 1000.0).round();
    (millis.is_finite() && millis.abs() <= MAX_EXACT_MILLIS).then(|| start.saturating_add(millis as i64))
}

/// One entry line (without its newline) for an update already turned into JSON.
pub fn encode_entry(start: UnixMillis, at: UnixMillis, update: &Value) -> String {
    let offset = serde_json::Number::from_f64(offset_seconds(start, at)).unwrap_or_else(|| 0.into());
    let mut line = format!("[{offset},");
    match update {
        // The variant's tag leads, as serde writes it, so a person skimming the file sees the kind
        // first (a `Value` map would sort it among the fields).
        Value::Object(map) if map.contains_key("type") => {
            line.push('{');
            let fields = map
                .get_key_value("type")
                .into_iter()
                .chain(map.iter().filter(|(k, _)| *k != "type"));
            for (i, (k, v)) in fields.enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&Value::String(k.clone()).to_string());
                line.push(':');
                line.push_str(&v.to_string());
            }
            line.push('}');
        }
        other => line.push_str(&other.to_string()),
    }
    line.push(']');
    line
}

/// Why an entry line was skipped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryError {
    #[error("not a recording entry: expected `[seconds, update]`: {0}")]
    Shape(String),
    #[error("offset {0:?} s is not a usable time")]
    Offset(f64),
    #[error("update of unknown type {0:?} (written by a newer meshtop?)")]
    UnknownType(String),
    #[error("update not understood: {0}")]
    Update(String),
}

/// Reads one entry line; `at` is rebuilt as `start` plus the offset.
pub fn decode_entry(start: UnixMillis, line: &str) -> Result<Stamped, EntryError> {
    let (seconds, update): (f64, Value) = serde_json::from_str(line).map_err(|e| EntryError::Shape(e.to_string()))?;
    let at = at_from_offset(start, seconds).ok_or(EntryError::Offset(seconds))?;
    let kind = update.get("type").and_then(Value::as_str).map(str::to_string);
    let update: Update = serde_json::from_value(update).map_err(|e| {
        let message = e.to_string();
        match kind {
            Some(kind) if message.starts_with("unknown variant") => EntryError::UnknownType(kind),
            _ => EntryError::Update(message),
        }
    })?;
    Ok(Stamped { at, update })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_keep_milliseconds() {
        let start = 1_700_000_000_000;
        for at in [
            start,
            start + 1,
            start + 12_345,
            start + 3_600_001,
            start - 250,
            start + 86_400_000 * 30 + 7,
        ] {
            let s = offset_seconds(start, at);
            assert_eq!(at_from_offset(start, s), Some(at), "{s}");
        }
        assert_eq!(offset_seconds(start, start + 12_345), 12.345);
        assert_eq!(at_from_offset(start, f64::NAN), None);
        assert_eq!(at_from_offset(start, 1e300), None);
    }

    #[test]
    fn entry_line_is_offset_then_update_json() {
        let start = 1_000;
        let update = serde_json::to_value(Update::ApiLatency { millis: 9 }).unwrap();
        let line = encode_entry(start, 3_500, &update);
        assert_eq!(line, r#"[2.5,{"type":"api_latency","millis":9}]"#);
        assert_eq!(
            decode_entry(start, &line),
            Ok(Stamped {
                at: 3_500,
                update: Update::ApiLatency { millis: 9 }
            })
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let err = |l: &str| decode_entry(0, l).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"type":"tick"}"#),
            "not a recording entry: expected `[seconds, update]`: invalid type: map, expected a tuple of size 2 at line 1 column 0"
        );
        assert_eq!(
            err(r#"[1.0,{"type":"teleport"}]"#),
            "update of unknown type \"teleport\" (written by a newer meshtop?)"
        );
        assert_eq!(
            err(r#"[1.0,{"type":"api_latency"}]"#),
            "update not understood: missing field `millis`"
        );
        assert_eq!(err(r#"[1e300,{"type":"tick"}]"#), "offset 1e300 s is not a usable time");
    }
}

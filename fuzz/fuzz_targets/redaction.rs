//! Any text through the one redaction policy, as free text (log lines, URLs, error
//! messages) and, when it is JSON, as a recorded update. Redacting never panics, and
//! redacting what was already redacted changes nothing (no secret survives a second pass
//! because the first one missed it).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(once) = meshtop::redact::redact_text(text) {
        assert_eq!(meshtop::redact::redact_text(&once), None, "redaction is idempotent: {text:?} -> {once:?}");
    }
    let _ = meshtop::redact::is_credential_name(text);
    if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) {
        meshtop::redact::redact(&mut value);
        let mut again = value.clone();
        assert!(!meshtop::redact::redact(&mut again), "redaction is idempotent: {value}");
    }
});

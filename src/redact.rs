//! The one redaction policy: takes secrets out of everything meshtop writes down or prints
//! (recordings, saved bench and sweep results, reports, tap events, the debug log, error
//! messages and panic reports).
//!
//! On updates it works on the JSON rather than on `Update` itself, so variants added later
//! (bench configs with headers and URLs, tap samples with paths) are covered without anyone
//! remembering to extend it. What counts as a secret:
//! - the value of any key named like a credential (`token`, `secret`, `password`, `api_key`,
//!   `Authorization`, `Cookie`...);
//! - header pairs, as `["Authorization", "Bearer x"]`, `{"name": "Cookie", "value": "..."}` or
//!   lines of text `Authorization: Bearer x`;
//! - `name=value` pairs with a credential-like name, as in URL queries and form bodies;
//! - `Bearer <token>` anywhere in text, and the password of `scheme://user:password@host`;
//! - what a process printed, as a failed kubeconfig exec plugin's error quotes it
//!   (`stdout: "..."`, `stderr: "..."` of its `Output`): an exec plugin's output is the
//!   credential itself, and its error text may quote it.
//!
//! Only strings are replaced, by `<redacted>`: numbers and booleans keep their place, so the
//! redacted JSON still has the update's shape and replays. It errs towards hiding: a harmless
//! value under a credential-like name (`session: "none"`) is lost rather than a secret kept.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Redacts `value` in place; true when anything was replaced.
pub fn redact(value: &mut Value) -> bool {
    match value {
        Value::String(s) => match redact_text(s) {
            Some(r) => {
                *s = r;
                true
            }
            None => false,
        },
        Value::Array(items) => {
            if let [Value::String(name), Value::String(v)] = items.as_mut_slice()
                && is_field_name(name)
                && is_credential_name(name)
            {
                return blank_string(v);
            }
            items.iter_mut().fold(false, |changed, v| redact(v) | changed)
        }
        Value::Object(map) => redact_object(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Keys that name the other half of a name/value pair object, e.g. `{"name": "Cookie", "value": "x"}`
/// (HAR headers, Kubernetes env vars).
const PAIR_NAME_KEYS: [&str; 4] = ["name", "key", "header", "field"];
const PAIR_VALUE_KEYS: [&str; 2] = ["value", "values"];

fn redact_object(map: &mut Map<String, Value>) -> bool {
    let is_pair = PAIR_VALUE_KEYS.iter().any(|k| map.contains_key(*k));
    let secret_pair = is_pair
        && PAIR_NAME_KEYS
            .iter()
            .filter_map(|k| map.get(*k).and_then(Value::as_str))
            .any(is_credential_name);
    let mut changed = redact_keys(map);
    for (k, v) in map.iter_mut() {
        let role_is_name = is_pair && PAIR_NAME_KEYS.contains(&k.as_str());
        let role_is_value = PAIR_VALUE_KEYS.contains(&k.as_str());
        changed |= if (secret_pair && role_is_value) || (!role_is_name && is_credential_name(k)) {
            blank(v)
        } else if role_is_name && v.is_string() {
            // A pair's name is a header or variable name, not a secret (even when it is "key").
            false
        } else {
            redact(v)
        };
    }
    changed
}

/// A key is text too (a map keyed by URL may hold `?token=x`): keys are redacted like values.
/// The value of a key that named a secret before redaction is blanked (`http://u:token@h`
/// loses its secret word when redacted). A redacted key that meets another of the same name
/// is numbered (`#2`), so no value is lost; where the number would be redacted in turn (it
/// extends a redacted token: `Bearer <redacted>#2`), the key is `<redacted>#N` instead, so a
/// second pass finds nothing to rename.
fn redact_keys(map: &mut Map<String, Value>) -> bool {
    let renamed: Vec<(String, String)> = map
        .keys()
        .filter_map(|k| redact_text(k).map(|r| (k.clone(), r)))
        .collect();
    let changed = !renamed.is_empty();
    for (old, new) in renamed {
        if let Some(mut v) = map.remove(&old) {
            if is_credential_name(&old) {
                blank(&mut v);
            }
            let mut name = new.clone();
            let mut n = 1;
            while map.contains_key(&name) {
                n += 1;
                name = format!("{new}#{n}");
                if redact_text(&name).is_some() {
                    name = format!("{REDACTED}#{n}");
                }
            }
            map.insert(name, v);
        }
    }
    changed
}

/// Replaces every string under `value`, and redacts the keys of the objects there.
fn blank(value: &mut Value) -> bool {
    match value {
        Value::String(s) => blank_string(s),
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| blank(v) | changed),
        Value::Object(map) => {
            let renamed = redact_keys(map);
            map.values_mut().fold(renamed, |changed, v| blank(v) | changed)
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn blank_string(s: &mut String) -> bool {
    if s.is_empty() || s == REDACTED {
        return false;
    }
    *s = REDACTED.to_string();
    true
}

/// `s` with its secrets taken out (the same text when it held none).
pub fn scrub(s: &str) -> String {
    redact_text(s).unwrap_or_else(|| s.to_string())
}

/// A whole document (a report) through the policy: JSON is redacted as JSON and keeps its
/// layout (pretty when it was), other text line by line.
pub fn scrub_document(text: &str) -> String {
    let t = text.trim();
    if (t.starts_with('{') || t.starts_with('['))
        && let Ok(mut v) = serde_json::from_str::<Value>(t)
        && !has_duplicate_keys(t)
    {
        if !redact(&mut v) {
            return text.to_string();
        }
        let mut out = if t.contains('\n') {
            serde_json::to_string_pretty(&v)
        } else {
            serde_json::to_string(&v)
        }
        .unwrap_or_else(|_| REDACTED.to_string());
        if text.ends_with('\n') {
            out.push('\n');
        }
        return out;
    }
    scrub(text)
}

/// A header's value as it may be kept: blank under a credential-like name (Authorization,
/// Cookie, X-Api-Key, ...), and otherwise with the secrets of its text taken out.
pub fn header_value(name: &str, value: &mut String) {
    if is_credential_name(name) {
        blank_string(value);
    } else if let Some(r) = redact_text(value) {
        *value = r;
    }
}

/// Redacts secrets in free text; None when there were none.
pub fn redact_text(s: &str) -> Option<String> {
    if !s.contains([':', '=', '{', '[']) && find_bearer(s, 0).is_none() {
        return None;
    }
    // JSON is redacted as JSON only: the line rules below would also rewrite what the JSON
    // pass already made safe (found by fuzzing: `sig=` inside a key).
    if let Some(json) = redact_embedded_json(s) {
        return json;
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    for line in s.split_inclusive('\n') {
        let redacted = match redact_header_line(line) {
            Some(l) => Cow::Owned(l),
            None => {
                let l = redact_userinfo(line);
                let l = redact_process_output(&l).map_or(l, Cow::Owned);
                let l = redact_bearer(&l).map_or(l, Cow::Owned);
                redact_assignments(&l).map_or(l, Cow::Owned)
            }
        };
        changed |= matches!(redacted, Cow::Owned(_));
        out.push_str(&redacted);
    }
    // What did not parse as JSON may now (a redacted value took its control characters
    // with it): redact it as JSON too, so one pass does what two would (found by fuzzing).
    if changed && let Some(json) = redact_embedded_json(&out) {
        return Some(json.unwrap_or(out));
    }
    changed.then_some(out)
}

/// JSON kept inside a string (annotations such as `sidecar.istio.io/status` hold some) is
/// redacted as JSON; it is rewritten only when something in it was secret. None when `s` is
/// not JSON; Some(None) when it is and holds no secret.
fn redact_embedded_json(s: &str) -> Option<Option<String>> {
    let t = s.trim();
    let looks = (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'));
    if !looks {
        return None;
    }
    let mut v: Value = serde_json::from_str(t).ok()?;
    // A repeated key parses as its last value only: what the text holds is not what was
    // checked. Such text is redacted as text.
    if has_duplicate_keys(t) {
        return None;
    }
    Some(redact(&mut v).then(|| v.to_string()))
}

/// Whether JSON text repeats a key within an object (serde_json keeps the last one).
fn has_duplicate_keys(json: &str) -> bool {
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    struct Check;
    impl<'de> Deserialize<'de> for Check {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Check, D::Error> {
            d.deserialize_any(Check)
        }
    }
    impl<'de> Visitor<'de> for Check {
        type Value = Check;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_str<E>(self, _: &str) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_unit<E>(self) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Check, A::Error> {
            while seq.next_element::<Check>()?.is_some() {}
            Ok(Check)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Check, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key) {
                    return Err(A::Error::custom("duplicate key"));
                }
                map.next_value::<Check>()?;
            }
            Ok(Check)
        }
    }
    serde_json::from_str::<Check>(json).is_err()
}

/// `Authorization: Bearer x` → `Authorization: <redacted>`, for a credential-like header name.
fn redact_header_line(line: &str) -> Option<String> {
    let body = line.trim_end_matches(['\r', '\n']);
    let indent = body.len() - body.trim_start_matches([' ', '\t']).len();
    let (name, rest) = body[indent..].split_once(':')?;
    let value = rest.trim_start_matches([' ', '\t']);
    if !is_field_name(name) || !is_credential_name(name) || value.trim().is_empty() || value == REDACTED {
        return None;
    }
    let keep = body.len() - value.len();
    Some(format!("{}{REDACTED}{}", &body[..keep], &line[body.len()..]))
}

/// `scheme://user:password@host` → `scheme://user:<redacted>@host`, and
/// `scheme://token@host` → `scheme://<redacted>@host`.
fn redact_userinfo(s: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    let mut from = 0;
    while let Some(p) = s[from..].find("://").map(|p| p + from + 3) {
        let end = s[p..]
            .find(|c: char| c.is_whitespace() || "/?#\"'<>".contains(c))
            .map_or(s.len(), |e| e + p);
        if let Some(at) = s[p..end].rfind('@').map(|a| a + p) {
            match s[p..at].find(':').map(|c| c + p + 1) {
                // `user:password@`: the password.
                Some(colon) if colon < at && &s[colon..at] != REDACTED => {
                    out.push_str(&s[last..colon]);
                    out.push_str(REDACTED);
                    last = at;
                }
                // `token@` (a token as the user name, as Git hosts take it): all of it.
                None if at > p && &s[p..at] != REDACTED => {
                    out.push_str(&s[last..p]);
                    out.push_str(REDACTED);
                    last = at;
                }
                _ => {}
            }
        }
        // A segment cut by the `/` of the next `://` must not hide that URL's scheme colon
        // (found by fuzzing: `a://u:p@b://v:q@c`): resume at the colon then. (Only then:
        // `end - 1` may be inside a multi-byte character.)
        let end = end.max(p);
        from = if s[p..end].ends_with(':') { end - 1 } else { end };
    }
    if last == 0 {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// The byte offset of a `bearer` word (any case) at or after `from`.
fn find_bearer(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    (from..b.len().saturating_sub(5)).find(|&i| {
        b[i..i + 6].eq_ignore_ascii_case(b"bearer")
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 6).is_some_and(|c| *c == b' ' || *c == b'\t')
    })
}

/// A process `Output`'s streams as Rust's Debug prints them (`stdout: "..."` with escapes,
/// or `stdout: [1, 2]` when not UTF-8) → `stdout: <redacted>`; an unterminated one to the
/// end of the text.
fn redact_process_output(s: &str) -> Option<String> {
    if !s.contains("stdout: ") && !s.contains("stderr: ") {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut changed = false;
    loop {
        let next = ["stdout: ", "stderr: "]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, k.len())))
            .min();
        let Some((at, key_len)) = next else {
            out.push_str(rest);
            break;
        };
        let value = &rest[at + key_len..];
        // The end of the Debug value: a closing quote not escaped, or a closing bracket.
        let end = if let Some(body) = value.strip_prefix('"') {
            let mut escaped = false;
            body.char_indices()
                .find(|&(_, c)| {
                    let close = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map_or(value.len(), |(i, _)| i + 2)
        } else if value.starts_with('[') {
            value.find(']').map_or(value.len(), |i| i + 1)
        } else {
            // Not a stream's Debug value (prose that says "stdout: "): kept.
            out.push_str(&rest[..at + key_len]);
            rest = value;
            continue;
        };
        out.push_str(&rest[..at + key_len]);
        out.push_str(REDACTED);
        changed = true;
        rest = &value[end..];
    }
    changed.then_some(out)
}

/// `Bearer abc.def` → `Bearer <redacted>` wherever it appears.
fn redact_bearer(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut from = 0;
    while let Some(i) = find_bearer(s, from) {
        let token_start = i + 6 + s[i + 6..].len() - s[i + 6..].trim_start_matches([' ', '\t']).len();
        let token_end = s[token_start..]
            .find(|c: char| c.is_whitespace() || "\"',;)]}".contains(c))
            .map_or(s.len(), |e| e + token_start);
        let token = &s[token_start..token_end];
        if !token.is_empty() && token != REDACTED {
            out.push_str(&s[last..token_start]);
            out.push_str(REDACTED);
            last = token_end;
        }
        from = token_end.max(i + 6);
    }
    (last > 0).then(|| out + &s[last..])
}

/// `token=abc` → `token=<redacted>` for credential-like names: URL queries, form bodies, text.
fn redact_assignments(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut from = 0;
    while let Some(eq) = s[from..].find('=').map(|e| e + from) {
        // After the last character that is not part of a name (which may be several bytes
        // long: a `+ 1` would land inside it).
        let name_start = s[..eq]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let value_end = (eq + 1..b.len())
            .find(|&i| b[i].is_ascii_whitespace() || b"&;,\"'#<>)]}".contains(&b[i]))
            .unwrap_or(b.len());
        if value_end > eq + 1 && is_credential_name(&s[name_start..eq]) {
            out.push_str(&s[last..eq + 1]);
            out.push_str(REDACTED);
            last = value_end;
            from = value_end;
        } else {
            // The value may hold assignments of its own: `url=http://h/?token=x`.
            from = eq + 1;
        }
    }
    (last > 0).then(|| out + &s[last..])
}

/// A header, parameter or variable name: one token, no spaces.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(&c))
}

/// Words that are credentials on their own.
const CREDENTIAL_WORDS: [&str; 24] = [
    "apikey",
    "auth",
    "authn",
    "authorization",
    "authz",
    "bearer",
    "cookie",
    "cookies",
    "credential",
    "credentials",
    "csrf",
    "jwt",
    "key",
    "otp",
    "passphrase",
    "passwd",
    "password",
    "secret",
    "session",
    "sessionid",
    "sig",
    "signature",
    "token",
    "xsrf",
];

/// Words that make a credential at the end of a longer word (`accesstoken`, `oauth`).
const CREDENTIAL_ENDINGS: [&str; 11] = [
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "signature",
    "credential",
    "credentials",
    "cookie",
    "sessionid",
    "auth",
];

/// Words that make a credential at the start of a longer word (`secrets`, `tokenid`).
const CREDENTIAL_STARTS: [&str; 5] = ["password", "passwd", "secret", "token", "credential"];

/// What comes before `key` in a word that names one (`apikey`, `accesskey`); `monkey` is not one.
const KEY_KINDS: [&str; 12] = [
    "api",
    "access",
    "secret",
    "private",
    "client",
    "signing",
    "master",
    "encryption",
    "session",
    "auth",
    "account",
    "subscription",
];

/// Whether a key, header or parameter name looks like it holds a credential. The name is split
/// into words (`X-Api-Key`, `api_key`, `accessToken`, `APIKey`), so `authority` or `monkey`
/// are not taken for `auth` or `key`.
pub fn is_credential_name(name: &str) -> bool {
    words(name).iter().any(|w| {
        let w = w.as_str();
        CREDENTIAL_WORDS.contains(&w)
            || CREDENTIAL_ENDINGS.iter().any(|e| w.len() > e.len() && w.ends_with(e))
            || CREDENTIAL_STARTS.iter().any(|e| w.len() > e.len() && w.starts_with(e))
            || w.strip_suffix("key").is_some_and(|kind| KEY_KINDS.contains(&kind))
    })
}

/// Lower-case words of a name, split at punctuation and camelCase boundaries.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if !prev.is_uppercase() || next_is_lower {
                words.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubeconfig exec plugin that failed: kube's error quotes its whole output, which
    /// holds the credential (stdout) and may quote it (stderr). Both go; the command and
    /// its status stay, so the user knows what to run to see more.
    #[test]
    fn a_failed_exec_plugins_output_is_withheld() {
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Output {
            status: std::process::ExitStatus::from_raw(256),
            stdout: br#"{"status":{"token":"tok-out"}}"#.to_vec(),
            stderr: b"error: token \"tok-err\" expired\n".to_vec(),
        };
        let e = kube::Error::Auth(kube::client::AuthError::AuthExecRun {
            cmd: "/usr/bin/cred".into(),
            out: Box::new(out),
        });
        let text = scrub(&e.to_string());
        assert!(!text.contains("tok-"), "{text}");
        assert!(
            text.contains("auth exec command '/usr/bin/cred' failed with status exit status: 1"),
            "{text}"
        );
        assert!(text.ends_with("stdout: <redacted>, stderr: <redacted> }"), "{text}");
        // Not UTF-8: the bytes go too; prose that names a stream is kept.
        assert_eq!(
            scrub("Output { stdout: [116, 111], stderr: \"a\\\"b\" } and then"),
            "Output { stdout: <redacted>, stderr: <redacted> } and then"
        );
        assert_eq!(redact_process_output("stdout: closed"), None);
        assert_eq!(scrub("stderr: \"never closed"), "stderr: <redacted>");
    }

    /// Found by the `redaction` fuzz target: JSON that does not parse because a value holds
    /// raw control characters is redacted as text, and then is JSON; its credential-named
    /// key is blanked in the same pass.
    #[test]
    fn json_made_valid_by_redaction_is_redacted_as_json_in_the_same_pass() {
        let text = "{\"Auth\":\"htpt//:h/?access_token=t\u{1}\0\0\"}";
        let once = redact_text(text).unwrap();
        assert_eq!(once, "{\"Auth\":\"<redacted>\"}");
        assert_eq!(redact_text(&once), None);
    }

    /// Found by the `redaction` fuzz target: a second URL whose scheme follows the first
    /// one's userinfo without a space kept its password, and a second pass redacted it.
    #[test]
    fn keys_are_redacted_like_text_and_json_only_once() {
        // The third fuzz finding: the JSON pass blanked the value of a `sig` key, and a second
        // pass then rewrote the `sig=` inside the key by the line rules.
        let input = r#"{"headr====sig====ization":"B)earer eyJhbGBearer bt"}"#;
        let once = redact_text(input).unwrap();
        assert_eq!(once, r#"{"headr====sig=<redacted>":"<redacted>"}"#);
        assert_eq!(redact_text(&once), None);
        let input = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/seeds/redaction/assignment-in-json-key"
        ))
        .unwrap();
        let once = redact_text(&input).unwrap();
        assert_eq!(redact_text(&once), None, "{once}");
        // A map keyed by URL: the key's secret goes, the value stays.
        assert_eq!(
            redacted(json!({"https://h/x?token=abc": 3, "http://u:token@h/": "up"})),
            json!({"https://h/x?token=<redacted>": 3, "http://u:<redacted>@h/": "<redacted>"})
        );
        // JSON with no secret is not rewritten by the line rules either.
        assert_eq!(redact_text(r#"{"a=b":"c"}"#), None);
        // A repeated key: serde keeps the last; the text is redacted as text instead.
        let once = redact_text(r#"{"a":"http://u:pw@h/","a":1}"#).unwrap();
        assert_eq!(once, r#"{"a":"http://u:<redacted>@h/","a":1}"#);
        assert_eq!(redact_text(&once), None);
        // Keys under a secret key, and keys that redact to the same name (both kept).
        assert_eq!(
            redacted(json!({"token": {"https://u:pw@reg/": 1}})),
            json!({"token": {"https://u:<redacted>@reg/": 1}})
        );
        assert_eq!(
            redacted(json!({"h?token=1": 5, "h?token=2": 7})),
            json!({"h?token=<redacted>": 5, "h?token=<redacted>#2": 7})
        );
        // A number that would extend a redacted token (and be redacted by a second pass,
        // renaming the key again) is not used.
        // (The fourth fuzz finding: `ersecret:<redacted>#2` was a header line to redact.)
        for (key, kept) in [
            ("a:Bearer x", "a:Bearer <redacted>"),
            ("Token: x", "Token: <redacted>"),
            ("ersecret:se#x=0 HTc_ess_tokeners", "ersecret:<redacted>"),
        ] {
            let mut v = json!({key: 1, kept: 2});
            assert!(redact(&mut v));
            assert_eq!(v, json!({kept: 2, "<redacted>#2": 1}));
            assert!(!redact(&mut v.clone()), "{v}");
        }
    }

    #[test]
    fn back_to_back_urls_are_all_redacted_in_one_pass() {
        let once = redact_text("GET htt9s://u:secret@a9s://user:se:secret@ae").unwrap();
        assert_eq!(once, "GET htt9s://u:<redacted>@a9s://user:<redacted>@ae");
        assert_eq!(redact_text(&once), None);
        // Multi-byte characters at the end of a URL segment (a curly quote, an accent).
        assert_eq!(redact_text("a://é"), None);
        assert_eq!(redact_text("see “https://x.io” now"), None);
        assert_eq!(
            redact_text("“https://u:p@x.io” and https://v:q@é").unwrap(),
            "“https://u:<redacted>@x.io” and https://v:<redacted>@é"
        );
    }

    #[test]
    fn names_after_multibyte_characters() {
        // Found by the access_log fuzz target: a name right after a 3-byte character.
        assert_eq!(
            redact_text("a\u{fffd}token=abc").as_deref(),
            Some("a\u{fffd}token=<redacted>")
        );
        assert_eq!(redact_text("é=1 ü=2"), None);
    }
    use serde_json::json;

    fn redacted(mut v: Value) -> Value {
        redact(&mut v);
        v
    }

    fn text(s: &str) -> String {
        scrub(s)
    }

    #[test]
    fn names_are_split_into_words() {
        assert_eq!(words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(words("accessToken"), ["access", "token"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("XAuthToken"), ["x", "auth", "token"]);
        assert_eq!(words("oauth2Token"), ["oauth2", "token"]);
        assert_eq!(words("sidecar.istio.io/status"), ["sidecar", "istio", "io", "status"]);
    }

    #[test]
    fn credential_names() {
        for yes in [
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "Set-Cookie",
            "token",
            "access_token",
            "accessToken",
            "refreshtoken",
            "X-Auth-Token",
            "X-Amz-Security-Token",
            "secret",
            "client_secret",
            "secrets",
            "password",
            "DB_PASSWORD",
            "passwd",
            "api_key",
            "apikey",
            "X-Api-Key",
            "key",
            "access_key",
            "AWSAccessKey",
            "secretkey",
            "auth",
            "oauth",
            "session",
            "sessionid",
            "JSESSIONID",
            "signature",
            "X-Goog-Signature",
            "sig",
            "credential",
            "credentials",
            "X-CSRF-Token",
        ] {
            assert!(is_credential_name(yes), "{yes}");
        }
        for no in [
            "authority",
            ":authority",
            "author",
            "monkey",
            "keyboard",
            "name",
            "namespace",
            "requests",
            "latency_ms",
            "mtls_requests",
            "pod-template-hash",
            "sidecar.istio.io/status",
            "security.istio.io/tlsMode",
            "signal",
            "design",
            "message",
            "image",
            "labels",
        ] {
            assert!(!is_credential_name(no), "{no}");
        }
    }

    #[test]
    fn values_of_credential_keys_are_replaced_keeping_the_shape() {
        let v = json!({
            "type": "bench_config",
            "url": "https://svc/",
            "token": "abc",
            "api_key": 12345,
            "session": null,
            "tls": {"verify": true, "password": "hunter2", "client_secret": ["a", "b"]},
            "auth": {"user": "bob", "retries": 3},
        });
        assert_eq!(
            redacted(v),
            json!({
                "type": "bench_config",
                "url": "https://svc/",
                "token": "<redacted>",
                "api_key": 12345,
                "session": null,
                "tls": {"verify": true, "password": "<redacted>", "client_secret": ["<redacted>", "<redacted>"]},
                "auth": {"user": "<redacted>", "retries": 3},
            })
        );
    }

    #[test]
    fn header_maps_pairs_and_lines() {
        let v = json!({
            "headers": {"authorization": "Bearer abc", "Cookie": "a=1; b=2", "accept": "text/plain",
                        "Set-Cookie": ["id=1", "theme=dark"], "X-Request-Id": "r1"},
            "list": [["Authorization", "Basic dXNlcjpwYXNz"], ["Accept", "*/*"], ["Proxy-Authorization", "x"]],
            "har": [{"name": "Cookie", "value": "sid=9"}, {"name": "Host", "value": "svc"}],
            "env": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "debug"},
                    {"key": "api_key", "value": "k1"}],
            "raw": "GET / HTTP/1.1\r\nHost: svc\r\nAuthorization: Bearer abc.def\r\ncookie:a=b\r\n\r\n",
        });
        assert_eq!(
            redacted(v),
            json!({
                "headers": {"authorization": "<redacted>", "Cookie": "<redacted>", "accept": "text/plain",
                            "Set-Cookie": ["<redacted>", "<redacted>"], "X-Request-Id": "r1"},
                "list": [["Authorization", "<redacted>"], ["Accept", "*/*"], ["Proxy-Authorization", "<redacted>"]],
                "har": [{"name": "Cookie", "value": "<redacted>"}, {"name": "Host", "value": "svc"}],
                "env": [{"name": "DB_PASSWORD", "value": "<redacted>"}, {"name": "LOG_LEVEL", "value": "debug"},
                        {"key": "api_key", "value": "<redacted>"}],
                "raw": "GET / HTTP/1.1\r\nHost: svc\r\nAuthorization: <redacted>\r\ncookie:<redacted>\r\n\r\n",
            })
        );
    }

    #[test]
    fn assignments_inside_values() {
        assert_eq!(
            redact_text("url=http://h:9/?api_key=hunter2 rate=0").as_deref(),
            Some("url=http://h:9/?api_key=<redacted> rate=0")
        );
        assert_eq!(redact_text("a=b c=d"), None);
    }

    #[test]
    fn urls_paths_and_queries() {
        assert_eq!(
            text("https://svc:8443/api?token=abc&limit=5&X-Amz-Signature=f00#frag"),
            "https://svc:8443/api?token=<redacted>&limit=5&X-Amz-Signature=<redacted>#frag"
        );
        assert_eq!(
            text("/healthz?api_key=k&sig=s1;session=x"),
            "/healthz?api_key=<redacted>&sig=<redacted>;session=<redacted>"
        );
        assert_eq!(text("/search?q=monkey&author=me"), "/search?q=monkey&author=me");
        assert_eq!(
            text("GET /pay?amount=3&password=p%40ss failed: 403"),
            "GET /pay?amount=3&password=<redacted> failed: 403"
        );
        assert_eq!(text("sig=YWJj=="), "sig=<redacted>");
        assert_eq!(
            text("postgres://admin:s3cr3t@db:5432/app"),
            "postgres://admin:<redacted>@db:5432/app"
        );
        assert_eq!(text("https://svc:8443/x"), "https://svc:8443/x");
        // A user name alone may be a token (Git hosts take one so): it errs towards hiding.
        assert_eq!(text("ssh://git@github.com/x"), "ssh://<redacted>@github.com/x");
        assert_eq!(
            text("https://ghp_abc123@github.com/o/r.git"),
            "https://<redacted>@github.com/o/r.git"
        );
        assert_eq!(text("mailto:ops@example.com"), "mailto:ops@example.com");
    }

    #[test]
    fn documents_keep_their_layout() {
        let pretty = "{\n  \"url\": \"http://u:pw@h/\",\n  \"n\": 1\n}\n";
        assert_eq!(
            scrub_document(pretty),
            "{\n  \"n\": 1,\n  \"url\": \"http://u:<redacted>@h/\"\n}\n"
        );
        let clean = "{\n  \"keyfile\": \"/etc/tls/client.key\"\n}\n";
        assert_eq!(scrub_document(clean), clean);
        assert_eq!(scrub_document("a,b\ntoken=x,1\n"), "a,b\ntoken=<redacted>,1\n");
    }

    #[test]
    fn bearer_tokens_anywhere() {
        assert_eq!(
            text("request failed (bearer eyJhbGci.eyJzdWIi.sig) after 3 tries"),
            "request failed (bearer <redacted>) after 3 tries"
        );
        assert_eq!(
            text("got BEARER abc, then Bearer\tdef"),
            "got BEARER <redacted>, then Bearer\t<redacted>"
        );
        assert_eq!(text("a bearer of bad news"), "a bearer <redacted> bad news");
        assert_eq!(text("bearers and Bearer"), "bearers and Bearer");
    }

    #[test]
    fn plain_values_are_left_alone() {
        for s in [
            "docker.io/istio/proxyv2:1.22.1",
            "ghcr.io/acme/token-service:1.0",
            "error: connection refused",
            "scrape of default/web-1 failed: timeout after 2s",
            "app=web,tier=frontend",
            "{\"sidecar\":\"istio-proxy\",\"initContainers\":[\"istio-init\"]}",
            "",
        ] {
            assert_eq!(redact_text(s), None, "{s}");
        }
    }

    #[test]
    fn json_in_strings_is_redacted_as_json() {
        assert_eq!(
            text(r#"{"image": "x", "env": [{"name": "TOKEN", "value": "t"}]}"#),
            r#"{"env":[{"name":"TOKEN","value":"<redacted>"}],"image":"x"}"#
        );
    }

    #[test]
    fn redaction_is_idempotent() {
        let v = json!({
            "a": "Authorization: Bearer x\ncookie: y",
            "b": "https://u:p@h/?token=t Bearer z",
            "c": [["Set-Cookie", "q"]],
            "password": "p",
        });
        let once = redacted(v);
        let mut twice = once.clone();
        assert!(!redact(&mut twice), "{once}");
        assert_eq!(
            once,
            json!({
                "a": "Authorization: <redacted>\ncookie: <redacted>",
                "b": "https://u:<redacted>@h/?token=<redacted> Bearer <redacted>",
                "c": [["Set-Cookie", "<redacted>"]],
                "password": "<redacted>",
            })
        );
    }

    #[test]
    fn real_updates_come_through_unchanged() {
        use crate::app::Update;
        use crate::model::PodInfo;
        let pod = PodInfo {
            namespace: "shop".into(),
            name: "web-7d9f-x2".into(),
            phase: "Running".into(),
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: [(
                "sidecar.istio.io/status".to_string(),
                r#"{"containers":["istio-proxy"]}"#.to_string(),
            )]
            .into(),
            ..PodInfo::default()
        };
        let v = serde_json::to_value(Update::PodApplied { pod }).unwrap();
        assert_eq!(redacted(v.clone()), v);
    }
}

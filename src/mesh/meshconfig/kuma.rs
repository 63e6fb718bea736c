//! Kuma's policies (MeshTrafficPermission, MeshTimeout, MeshRetry), as the CRDs of Kuma 2.x
//! have them: a top-level target (the whole mesh, or proxies by labels), then `rules` for
//! inbound traffic and `to` entries for outbound traffic to a target. The older `from` form
//! reads the same way.

use serde_json::Value;

use super::text::{and_list, scalar};
use super::{Found, Inventory, MeshObject, items, str_of, strings};

pub(super) fn explain(_inv: &Inventory, o: &MeshObject, _f: &mut Found) -> String {
    let kind = o.kind.as_str();
    let mut parts = Vec::new();
    for rule in items(&o.spec["rules"]) {
        parts.push(format!("inbound: {}", what(kind, &rule["default"])));
    }
    for (dir, key) in [("from", "from"), ("to", "to")] {
        for rule in items(&o.spec[key]) {
            parts.push(format!(
                "{dir} {}: {}",
                target(&rule["targetRef"]),
                what(kind, &rule["default"])
            ));
        }
    }
    if parts.is_empty() {
        parts.push("no rules".into());
    }
    format!("for {}: {}", target(&o.spec["targetRef"]), parts.join("; "))
}

fn what(kind: &str, default: &Value) -> String {
    match kind {
        "MeshTrafficPermission" => permissions(default),
        "MeshTimeout" => timeouts(default),
        _ => retries(default),
    }
}

/// Who a target names: the whole mesh, or proxies, services or routes by name or by labels
/// (Kuma 2.x selects by labels; older versions by name or, for subsets, by tags).
fn target(t: &Value) -> String {
    let name = str_of(&t["name"]);
    let labels = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect())
            .unwrap_or_default()
    };
    let (one, many) = match str_of(&t["kind"]) {
        "" | "Mesh" => return with_section("the whole mesh".into(), t),
        "MeshSubset" => return with_section(format!("proxies tagged {}", labels(&t["tags"]).join(", ")), t),
        "Dataplane" => ("proxy", "proxies"),
        "MeshService" => ("service", "services"),
        "MeshExternalService" => ("external service", "external services"),
        "MeshMultiZoneService" => ("multi-zone service", "multi-zone services"),
        "MeshHTTPRoute" => ("route", "routes"),
        other => (other, other),
    };
    let by_labels = labels(&t["labels"]);
    let text = if !name.is_empty() {
        format!("{one} {name}")
    } else if !by_labels.is_empty() {
        format!("{many} labelled {}", by_labels.join(", "))
    } else {
        format!("every {one}")
    };
    with_section(text, t)
}

fn with_section(text: String, t: &Value) -> String {
    match t["sectionName"].as_str() {
        Some(section) => format!("{text} ({section})"),
        None => text,
    }
}

fn permissions(d: &Value) -> String {
    // Kuma 2.x: lists of matchers; the older form: one action.
    if let Some(action) = d["action"].as_str() {
        return match action {
            "Allow" => "allowed".to_string(),
            "Deny" => "denied".to_string(),
            "AllowWithShadowDeny" => "allowed (deny logged)".to_string(),
            other => other.to_string(),
        };
    }
    let mut parts = Vec::new();
    for (key, verb) in [
        ("allow", "allows"),
        ("deny", "denies"),
        ("allowWithShadowDeny", "allows (deny logged)"),
    ] {
        let who: Vec<String> = items(&d[key]).iter().map(matcher).collect();
        if !who.is_empty() {
            parts.push(format!("{verb} {}", and_list(&who)));
        }
    }
    if parts.is_empty() {
        "nothing allowed or denied".into()
    } else {
        parts.join(", ")
    }
}

/// A client matcher: a SPIFFE ID or an SNI, exact or by prefix.
fn matcher(m: &Value) -> String {
    let one = |v: &Value, label: &str| -> Option<String> {
        let value = v["value"].as_str()?;
        let star = if v["type"].as_str() == Some("Prefix") { "*" } else { "" };
        Some(format!("{label}{value}{star}"))
    };
    one(&m["spiffeID"], "")
        .or_else(|| one(&m["sni"], "SNI "))
        .unwrap_or_else(|| "any client".into())
}

fn timeouts(d: &Value) -> String {
    let mut parts = Vec::new();
    for (key, label) in [("connectionTimeout", "connect"), ("idleTimeout", "idle")] {
        if let Some(v) = d[key].as_str() {
            parts.push(format!("{label} {v}"));
        }
    }
    for (key, label) in [("requestTimeout", "request"), ("streamIdleTimeout", "stream idle")] {
        if let Some(v) = d["http"][key].as_str() {
            parts.push(format!("{label} {v}"));
        }
    }
    if parts.is_empty() {
        "default timeouts".into()
    } else {
        format!("timeouts {}", parts.join(", "))
    }
}

fn retries(d: &Value) -> String {
    let mut parts = Vec::new();
    for proto in ["http", "grpc"] {
        let r = &d[proto];
        if let Some(n) = r["numRetries"].as_u64() {
            let on = strings(&r["retryOn"]);
            let mut t = format!("{n} {} retries", proto.to_uppercase());
            if !on.is_empty() {
                t += &format!(" on {}", and_list(&on));
            }
            parts.push(t);
        }
        if let Some(p) = r["perTryTimeout"].as_str() {
            parts.push(format!("{p} per try"));
        }
    }
    if let Some(n) = d["tcp"]["maxConnectAttempt"].as_u64() {
        parts.push(format!("{n} connect attempts"));
    }
    if parts.is_empty() {
        "default retries".into()
    } else {
        parts.join(", ")
    }
}

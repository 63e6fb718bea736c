//! Kuma's policies (MeshTrafficPermission, MeshTimeout, MeshRetry): a target, then rules
//! for traffic to or from other targets.

use serde_json::Value;

use super::text::{and_list, scalar};
use super::{Found, Inventory, MeshObject, items, str_of, strings};

pub(super) fn explain(_inv: &Inventory, o: &MeshObject, _f: &mut Found) -> String {
    let target = target(&o.spec["targetRef"]);
    let mut parts = Vec::new();
    for (dir, key) in [("from", "from"), ("to", "to")] {
        for rule in items(&o.spec[key]) {
            let what = match o.kind.as_str() {
                "MeshTrafficPermission" => {
                    let action = str_of(&rule["default"]["action"]);
                    match action {
                        "Allow" => "allowed".to_string(),
                        "Deny" => "denied".to_string(),
                        "AllowWithShadowDeny" => "allowed (deny logged)".to_string(),
                        other => other.to_string(),
                    }
                }
                "MeshTimeout" => timeouts(&rule["default"]),
                _ => retries(&rule["default"]),
            };
            parts.push(format!("{dir} {}: {what}", self::target(&rule["targetRef"])));
        }
    }
    if parts.is_empty() {
        parts.push("no rules".into());
    }
    format!("for {target}: {}", parts.join("; "))
}

fn target(t: &Value) -> String {
    let name = str_of(&t["name"]);
    match str_of(&t["kind"]) {
        "" | "Mesh" => "the whole mesh".into(),
        "MeshSubset" => {
            let tags: Vec<String> = t["tags"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect())
                .unwrap_or_default();
            format!("proxies tagged {}", tags.join(", "))
        }
        "MeshService" => format!("service {name}"),
        "MeshGateway" => format!("gateway {name}"),
        kind => format!("{kind} {name}"),
    }
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
    let http = &d["http"];
    let mut parts = Vec::new();
    if let Some(n) = http["numRetries"].as_i64() {
        let on = strings(&http["retryOn"]);
        let mut t = format!("{n} retries");
        if !on.is_empty() {
            t += &format!(" on {}", and_list(&on));
        }
        parts.push(t);
    }
    if let Some(p) = http["perTryTimeout"].as_str() {
        parts.push(format!("{p} per try"));
    }
    if let Some(n) = d["tcp"]["maxConnectAttempt"].as_i64() {
        parts.push(format!("{n} connect attempts"));
    }
    if parts.is_empty() {
        "default retries".into()
    } else {
        parts.join(", ")
    }
}

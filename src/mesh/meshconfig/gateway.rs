//! Gateway API: Gateways and the routes that attach to them (HTTPRoute, GRPCRoute). Linkerd's
//! own HTTPRoute has the same shape and comes through [`route`] too.

use serde_json::Value;

use super::text::{and_list, scalar};
use super::{Found, Inventory, MeshObject, Selector, items, selected, service_pods, str_of, strings};

pub(super) fn explain(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    match o.kind.as_str() {
        "Gateway" => gateway(inv, o, f),
        _ => route(inv, o, f),
    }
}

fn gateway(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    // Controllers (Istio, Envoy Gateway, …) label the pods they deploy for a Gateway.
    let own = Selector::from_labels([("gateway.networking.k8s.io/gateway-name".to_string(), o.name.clone())].into());
    f.affect(selected(inv, Some(&o.namespace), &own));
    let listeners: Vec<String> = items(&o.spec["listeners"])
        .iter()
        .map(|l| {
            let mut t = format!("{} {}", str_of(&l["protocol"]), scalar(&l["port"]));
            if let Some(h) = l["hostname"].as_str() {
                t += &format!(" for {h}");
            }
            t
        })
        .collect();
    let class = match str_of(&o.spec["gatewayClassName"]) {
        "" => "none",
        c => c,
    };
    let listeners = if listeners.is_empty() {
        "no listeners".to_string()
    } else {
        listeners.join("; ")
    };
    format!("class {class}: {listeners}")
}

/// Whether a route's parent exists: a Gateway, a Linkerd Server or a Service (GAMMA: a
/// route for mesh traffic to that Service). `exists` is None for a parent meshtop does not
/// read (another kind, a namespace not listed): it is not called missing.
fn parent_exists(inv: &Inventory, o: &MeshObject, r: &Value) -> (String, Option<bool>) {
    // Gateway API's defaults: group gateway.networking.k8s.io, kind Gateway, the route's
    // own namespace.
    let group = r["group"].as_str().unwrap_or("gateway.networking.k8s.io");
    let kind = r["kind"].as_str().unwrap_or("Gateway");
    let name = str_of(&r["name"]);
    let ns = r["namespace"].as_str().unwrap_or(&o.namespace);
    let object = |g: &str, k: &str| {
        inv.objects
            .iter()
            .any(|x| x.group == g && x.kind == k && x.name == name && x.namespace == ns)
    };
    let exists = match (group, kind) {
        _ if !inv.looked_in(ns) => None,
        ("" | "core", "Service") => inv
            .services_read
            .then(|| inv.services.iter().any(|s| s.name == name && s.namespace == ns)),
        ("policy.linkerd.io", "Server") => Some(object(group, kind)),
        ("gateway.networking.k8s.io", "Gateway") => Some(object(group, kind)),
        _ => None,
    };
    let shown = if ns == o.namespace {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    };
    (shown, exists)
}

pub(super) fn route(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let mut parents = Vec::new();
    for (i, r) in items(&o.spec["parentRefs"]).iter().enumerate() {
        let (shown, exists) = parent_exists(inv, o, r);
        if exists == Some(false) {
            f.warn(format!("spec.parentRefs[{i}]"), format!("{shown} does not exist"));
        }
        parents.push(shown);
    }
    let mut head = if parents.is_empty() {
        "attached to nothing".to_string()
    } else {
        format!("on {}", and_list(&parents))
    };
    let hostnames = strings(&o.spec["hostnames"]);
    if !hostnames.is_empty() {
        head += &format!(" for {}", and_list(&hostnames));
    }
    let mut rules = Vec::new();
    for (i, rule) in items(&o.spec["rules"]).iter().enumerate() {
        let matches: Vec<String> = items(&rule["matches"])
            .iter()
            .map(match_text)
            .filter(|m| !m.is_empty())
            .collect();
        let backends = backends(inv, o, &format!("spec.rules[{i}]"), &rule["backendRefs"], f);
        let filters: Vec<String> = items(&rule["filters"])
            .iter()
            .map(|x| str_of(&x["type"]).to_string())
            .collect();
        let mut t = if matches.is_empty() {
            "all requests".to_string()
        } else {
            matches.join(" or ")
        };
        if !backends.is_empty() {
            t += &format!(" → {backends}");
        } else if o.group == "policy.linkerd.io" {
            // Linkerd's policy routes name requests for authorization; the Server serves them.
        } else if filters.is_empty() {
            t += " → no backend (answered with 500)";
        } else {
            t += " → answered by its filters";
        }
        if !filters.is_empty() {
            t += &format!(" ({})", and_list(&filters));
        }
        if let Some(timeout) = rule["timeouts"]["request"].as_str() {
            t += &format!(", timeout {timeout}");
        }
        rules.push(t);
    }
    if rules.is_empty() {
        head
    } else {
        format!("{head}: {}", rules.join(" | "))
    }
}

fn match_text(m: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(method) = m["method"].as_str() {
        parts.push(method.to_string());
    }
    let path = &m["path"];
    if let Some(v) = path["value"].as_str() {
        parts.push(match path["type"].as_str().unwrap_or("PathPrefix") {
            "Exact" => v.to_string(),
            "RegularExpression" => format!("~{v}"),
            _ => format!("{}*", v.trim_end_matches('/').to_string() + "/"),
        });
    }
    if let Some(service) = m["method"]["service"].as_str() {
        // GRPCRoute: method is an object.
        parts.clear();
        parts.push(format!("{service}/{}", m["method"]["method"].as_str().unwrap_or("*")));
    }
    for h in items(&m["headers"]) {
        parts.push(format!("header {}={}", str_of(&h["name"]), str_of(&h["value"])));
    }
    parts.join(" ")
}

/// Backends with their share of the traffic (weights are relative, default 1).
fn backends(inv: &Inventory, o: &MeshObject, at: &str, refs: &Value, f: &mut Found) -> String {
    let refs = items(refs);
    let total: i128 = refs.iter().map(|b| i128::from(b["weight"].as_i64().unwrap_or(1))).sum();
    let mut texts = Vec::new();
    for (j, b) in refs.iter().enumerate() {
        let name = str_of(&b["name"]);
        let kind = b["kind"].as_str().unwrap_or("Service");
        let ns = b["namespace"].as_str().unwrap_or(&o.namespace);
        if kind == "Service" {
            match inv.services.iter().find(|s| s.name == name && s.namespace == ns) {
                Some(svc) => f.affect(service_pods(inv, svc)),
                None if !inv.services_read || !inv.looked_in(ns) => {}
                None => f.warn(
                    format!("{at}.backendRefs[{j}]"),
                    format!("Service {name} does not exist in {ns}"),
                ),
            }
        }
        let mut t = name.to_string();
        if let Some(port) = b["port"].as_i64() {
            t += &format!(":{port}");
        }
        if refs.len() > 1 && total > 0 {
            let share = b["weight"].as_i64().unwrap_or(1) as f64 * 100.0 / total as f64;
            let share = if share.is_finite() { share } else { 0.0 };
            t = format!("{}% {t}", (share * 10.0).round() / 10.0);
        }
        texts.push(t);
    }
    texts.join(", ")
}

//! Istio's traffic, security and telemetry objects.

use serde_json::Value;

use super::text::{and_list, scalar};
use super::{
    Found, Inventory, MeshObject, Selector, items, selected, service_for, service_name, service_pods, str_of,
    string_map, strings, workload_of,
};
use crate::mesh::Model;
use crate::mesh::detect::classify_pod;
use crate::model::PodInfo;

pub(super) fn explain(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    match o.kind.as_str() {
        "VirtualService" => virtual_service(inv, o, f),
        "DestinationRule" => destination_rule(inv, o, f),
        "Gateway" => gateway(inv, o, f),
        "ServiceEntry" => service_entry(o),
        "Sidecar" => sidecar(inv, o, f),
        "PeerAuthentication" => peer_authentication(inv, o, f),
        "AuthorizationPolicy" => authorization_policy(inv, o, f),
        "RequestAuthentication" => request_authentication(inv, o, f),
        _ => telemetry(inv, o, f),
    }
}

/// Whether a host is a Service or a ServiceEntry's host, or could be one that was not read
/// (its namespace not listed, or Services not readable): only a host known to be missing
/// is warned about.
fn host_known(inv: &Inventory, from_namespace: &str, host: &str) -> bool {
    let unread = match service_name(host, from_namespace) {
        Some((_, ns)) => !inv.services_read || !inv.looked_in(ns),
        None => inv.read.is_some(),
    };
    unread
        || service_for(inv, from_namespace, host).is_some()
        || inv
            .objects
            .iter()
            .filter(|o| o.group == "networking.istio.io" && o.kind == "ServiceEntry")
            .any(|se| strings(&se.spec["hosts"]).iter().any(|h| host_matches(h, host)))
}

/// A ServiceEntry host (possibly `*.example.com`) against a host.
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix),
        None => pattern == host,
    }
}

/// The host as people say it: `reviews` for `reviews.bookinfo.svc.cluster.local` seen from
/// bookinfo, `bookinfo/reviews` from elsewhere (not `reviews.bookinfo`, which Istio would
/// take literally), and any other name as written.
fn short(host: &str, namespace: &str) -> String {
    match service_name(host, namespace) {
        Some((name, ns)) if ns == namespace => name.to_string(),
        Some((name, ns)) => format!("{ns}/{name}"),
        None => host.to_string(),
    }
}

fn same_host(a: &str, b: &str, namespace: &str) -> bool {
    match (service_name(a, namespace), service_name(b, namespace)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A sum of weights or counts from the cluster, which cannot overflow.
fn total(values: impl Iterator<Item = i64>) -> i128 {
    values.map(i128::from).sum()
}

/// The DestinationRules' subsets for a host named from `namespace`, as (rule, subset name,
/// labels): each rule's host is resolved from its own namespace.
fn subsets_for<'a>(inv: &Inventory<'a>, namespace: &str, host: &str) -> Vec<(&'a MeshObject, String, Value)> {
    let wanted = service_name(host, namespace);
    inv.objects
        .iter()
        .filter(|o| o.group == "networking.istio.io" && o.kind == "DestinationRule")
        .filter(|dr| {
            let theirs = str_of(&dr.spec["host"]);
            match (wanted, service_name(theirs, &dr.namespace)) {
                (Some(a), Some(b)) => a == b,
                _ => theirs == host,
            }
        })
        .flat_map(|dr| {
            items(&dr.spec["subsets"])
                .iter()
                .map(move |s| (dr, str_of(&s["name"]).to_string(), s["labels"].clone()))
        })
        .collect()
}

fn virtual_service(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let spec = &o.spec;
    let hosts = strings(&spec["hosts"]);
    let gateways = strings(&spec["gateways"]);
    if gateways.is_empty() || gateways.iter().any(|g| g == "mesh") {
        // Hosts served to the mesh must be something the mesh knows; a gateway's hosts
        // are outside names (bookinfo.example.com) and need not be.
        for (i, h) in hosts.iter().enumerate() {
            if !h.contains('*') && !host_known(inv, &o.namespace, h) {
                f.warn(
                    format!("spec.hosts[{i}]"),
                    format!("{h} matches no Service or ServiceEntry"),
                );
            }
        }
    }
    let own = hosts.first().map(String::as_str).unwrap_or_default();
    let mut routes = Vec::new();
    for (i, r) in items(&spec["http"]).iter().enumerate() {
        routes.push(http_route(inv, o, own, &format!("spec.http[{i}]"), r, f));
    }
    for (proto, key) in [("TCP", "tcp"), ("TLS", "tls")] {
        for (i, r) in items(&spec[key]).iter().enumerate() {
            let at = format!("spec.{key}[{i}]");
            routes.push(format!("{proto} {}", destinations(inv, o, own, &at, &r["route"], f)));
        }
    }
    let names: Vec<String> = hosts.iter().map(|h| short(h, &o.namespace)).collect();
    let via = if gateways.is_empty() || gateways == ["mesh"] {
        String::new()
    } else {
        format!(" (through {})", and_list(&gateways))
    };
    let routes = if routes.is_empty() {
        "no routes".to_string()
    } else {
        routes.join(" | ")
    };
    format!("{}{via}: {routes}", and_list(&names))
}

fn http_route(inv: &Inventory, o: &MeshObject, own: &str, at: &str, r: &Value, f: &mut Found) -> String {
    let mut parts = Vec::new();
    let when: Vec<String> = items(&r["match"])
        .iter()
        .map(match_text)
        .filter(|m| !m.is_empty())
        .collect();
    let lead = if when.is_empty() {
        String::new()
    } else {
        format!("{}: ", when.join(" or "))
    };
    if !r["route"].is_null() {
        parts.push(destinations(inv, o, own, at, &r["route"], f));
    }
    if let Some(rd) = r["redirect"].as_object() {
        let to = [str_of(&rd["authority"]), str_of(&rd["uri"])].concat();
        parts.push(format!("redirects to {to}"));
    }
    if !r["directResponse"].is_null() {
        parts.push(format!("answers {} itself", scalar(&r["directResponse"]["status"])));
    }
    if let Some(rw) = r["rewrite"]["uri"].as_str() {
        parts.push(format!("rewrites the path to {rw}"));
    }
    let retries = &r["retries"];
    if retries.is_object() {
        let attempts = retries["attempts"].as_u64().unwrap_or(0);
        if attempts == 0 {
            parts.push("no retries".into());
        } else {
            let mut t = format!("{attempts} {}", if attempts == 1 { "retry" } else { "retries" });
            if let Some(on) = retries["retryOn"].as_str() {
                t += &format!(" on {on}");
            }
            if let Some(per) = retries["perTryTimeout"].as_str() {
                t += &format!(", {per} per try");
            }
            parts.push(t);
        }
    }
    if let Some(t) = r["timeout"].as_str() {
        parts.push(format!("timeout {t}"));
    }
    let delay = &r["fault"]["delay"];
    if delay.is_object() {
        parts.push(format!(
            "delays {} by {}",
            percent(&delay["percentage"]["value"]),
            str_of(&delay["fixedDelay"])
        ));
    }
    let abort = &r["fault"]["abort"];
    if abort.is_object() {
        parts.push(format!(
            "fails {} with {}",
            percent(&abort["percentage"]["value"]),
            scalar(&abort["httpStatus"])
        ));
    }
    if let Some(m) = r["mirror"]["host"].as_str() {
        parts.push(format!(
            "mirrors {} to {}",
            percent(&r["mirrorPercentage"]["value"]),
            short(m, &o.namespace)
        ));
    }
    format!("{lead}{}", parts.join("; "))
}

/// `50%` of a percentage, all of it when absent.
fn percent(v: &Value) -> String {
    match v.as_f64() {
        Some(p) => format!("{}%", trim_float(p)),
        None => "all requests".into(),
    }
}

fn trim_float(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
    }
}

fn match_text(m: &Value) -> String {
    let mut parts = Vec::new();
    let uri = &m["uri"];
    if let Some(p) = uri["prefix"].as_str() {
        parts.push(format!("{p}*"));
    } else if let Some(p) = uri["exact"].as_str() {
        parts.push(p.to_string());
    } else if let Some(p) = uri["regex"].as_str() {
        parts.push(format!("~{p}"));
    }
    if let Some(method) = m["method"]["exact"].as_str() {
        parts.insert(0, method.to_string());
    }
    if let Some(h) = m["headers"].as_object() {
        for (k, v) in h {
            let value = v["exact"]
                .as_str()
                .or(v["prefix"].as_str())
                .or(v["regex"].as_str())
                .unwrap_or("");
            parts.push(format!("header {k}={value}"));
        }
    }
    parts.join(" ")
}

/// A route's destinations with their weights; checks their hosts, subsets and weights.
fn destinations(inv: &Inventory, o: &MeshObject, own: &str, at: &str, route: &Value, f: &mut Found) -> String {
    let dests = items(route);
    // One destination takes all the traffic whatever its weight says.
    let weighted = dests.len() > 1;
    if weighted {
        let sum = total(dests.iter().map(|d| d["weight"].as_i64().unwrap_or(0)));
        if sum != 100 {
            f.warn(format!("{at}.route"), format!("the weights sum to {sum}, not 100"));
        }
    }
    let mut texts = Vec::new();
    for (j, d) in dests.iter().enumerate() {
        let host = str_of(&d["destination"]["host"]);
        let subset = d["destination"]["subset"].as_str();
        let field = format!("{at}.route[{j}].destination");
        if !host.contains('*') && !host_known(inv, &o.namespace, host) {
            f.warn(
                format!("{field}.host"),
                format!("{host} matches no Service or ServiceEntry"),
            );
        }
        let mut pods = service_for(inv, &o.namespace, host)
            .map(|s| service_pods(inv, s))
            .unwrap_or_default();
        if let Some(subset) = subset {
            let defined = subsets_for(inv, &o.namespace, host);
            match defined.iter().find(|(_, name, _)| name == subset) {
                Some((_, _, labels)) => {
                    let sel = Selector::from_labels(string_map(labels));
                    pods.retain(|p| sel.matches(&p.labels));
                }
                None => f.warn(
                    format!("{field}.subset"),
                    format!(
                        "no DestinationRule for {} defines subset {subset}",
                        short(host, &o.namespace)
                    ),
                ),
            }
        }
        f.affect(pods);
        let mut name = match (subset, same_host(host, own, &o.namespace)) {
            (Some(s), true) => format!("subset {s}"),
            (Some(s), false) => format!("{} subset {s}", short(host, &o.namespace)),
            (None, _) => short(host, &o.namespace),
        };
        if let Some(port) = d["destination"]["port"]["number"].as_i64() {
            name += &format!(":{port}");
        }
        texts.push(if weighted {
            format!("{}% to {name}", d["weight"].as_i64().unwrap_or(0))
        } else {
            format!("to {name}")
        });
    }
    texts.join(", ")
}

fn destination_rule(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let spec = &o.spec;
    let host = str_of(&spec["host"]);
    let svc = service_for(inv, &o.namespace, host);
    if !host.contains('*') && !host_known(inv, &o.namespace, host) {
        f.warn("spec.host", format!("{host} matches no Service or ServiceEntry"));
    }
    let pods = svc.map(|s| service_pods(inv, s)).unwrap_or_default();
    let mut parts = Vec::new();
    let subsets = items(&spec["subsets"]);
    if !subsets.is_empty() {
        let mut names = Vec::new();
        for (i, s) in subsets.iter().enumerate() {
            let name = str_of(&s["name"]);
            let sel = Selector::from_labels(string_map(&s["labels"]));
            names.push(format!("{name} ({})", sel.text()));
            // Only a Service with a selector says which pods a subset picks from.
            if inv.pods_read
                && svc.is_some_and(|s| !s.selector.is_empty())
                && !pods.iter().any(|p| sel.matches(&p.labels))
            {
                f.warn(
                    format!("spec.subsets[{i}].labels"),
                    format!(
                        "subset {name} ({}) selects no pod of {}",
                        sel.text(),
                        short(host, &o.namespace)
                    ),
                );
            }
            let tp = traffic_policy(&s["trafficPolicy"]);
            if !tp.is_empty() {
                names
                    .last_mut()
                    .expect("pushed")
                    .push_str(&format!(" with {}", tp.join(", ")));
            }
        }
        parts.push(format!("subsets {}", and_list(&names)));
    }
    parts.extend(traffic_policy(&spec["trafficPolicy"]));
    f.affect(pods);
    let body = if parts.is_empty() {
        "no subsets or policy".to_string()
    } else {
        parts.join("; ")
    };
    format!("{}: {body}", short(host, &o.namespace))
}

fn traffic_policy(tp: &Value) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(lb) = tp["loadBalancer"]["simple"].as_str() {
        parts.push(
            match lb {
                "ROUND_ROBIN" => "round robin",
                "LEAST_REQUEST" | "LEAST_CONN" => "least requests first",
                "RANDOM" => "random",
                "PASSTHROUGH" => "to the address asked for",
                other => other,
            }
            .to_string(),
        );
    }
    if tp["loadBalancer"]["consistentHash"].is_object() {
        parts.push("sticky sessions (consistent hash)".into());
    }
    if let Some(mode) = tp["tls"]["mode"].as_str() {
        parts.push(match mode {
            "ISTIO_MUTUAL" => "mTLS with Istio's certificates".to_string(),
            "MUTUAL" => "mTLS with given certificates".to_string(),
            "SIMPLE" => "TLS".to_string(),
            "DISABLE" => "plain text".to_string(),
            other => format!("TLS {other}"),
        });
    }
    if let Some(n) = tp["connectionPool"]["tcp"]["maxConnections"].as_u64() {
        parts.push(format!(
            "at most {n} {}",
            if n == 1 { "connection" } else { "connections" }
        ));
    }
    if let Some(n) = tp["connectionPool"]["http"]["http1MaxPendingRequests"].as_i64() {
        parts.push(format!("at most {n} pending"));
    }
    let od = &tp["outlierDetection"];
    if od.is_object() {
        let n = od["consecutive5xxErrors"]
            .as_i64()
            .or(od["consecutiveGatewayErrors"].as_i64())
            .unwrap_or(5);
        let mut t = format!("ejects a pod after {n} errors in a row");
        if let Some(b) = od["baseEjectionTime"].as_str() {
            t += &format!(" for {b}");
        }
        parts.push(t);
    }
    parts
}

fn gateway(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let sel = Selector::from_labels(string_map(&o.spec["selector"]));
    // Istio matches a Gateway's selector in every namespace unless told otherwise.
    let pods = selected(inv, None, &sel);
    if !sel.is_empty() && pods.is_empty() && inv.pods_read && inv.read.is_none() {
        f.warn("spec.selector", format!("selects no gateway pod ({})", sel.text()));
    }
    f.affect(pods);
    let servers: Vec<String> = items(&o.spec["servers"])
        .iter()
        .map(|s| {
            let mut t = format!("{} {}", str_of(&s["port"]["protocol"]), scalar(&s["port"]["number"]));
            if let Some(mode) = s["tls"]["mode"].as_str() {
                t += &format!(" (TLS {mode}");
                if let Some(c) = s["tls"]["credentialName"].as_str() {
                    t += &format!(", certificate {c}");
                }
                t += ")";
            }
            let hosts = strings(&s["hosts"]);
            if !hosts.is_empty() {
                t += &format!(" for {}", and_list(&hosts));
            }
            t
        })
        .collect();
    format!("on pods {}: {}", sel.text(), servers.join("; "))
}

fn service_entry(o: &MeshObject) -> String {
    let hosts = strings(&o.spec["hosts"]);
    let place = match str_of(&o.spec["location"]) {
        "MESH_INTERNAL" => "inside the mesh",
        _ => "outside the mesh",
    };
    let ports: Vec<String> = items(&o.spec["ports"])
        .iter()
        .map(|p| format!("{} {}", str_of(&p["protocol"]), scalar(&p["number"])))
        .collect();
    let resolution = match str_of(&o.spec["resolution"]) {
        "DNS" | "DNS_ROUND_ROBIN" => ", resolved by DNS",
        "STATIC" => ", at fixed addresses",
        _ => "",
    };
    format!("{} {place}: {}{resolution}", and_list(&hosts), and_list(&ports))
}

fn sidecar(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let (scope, _) = scope(
        inv,
        o,
        &o.spec["workloadSelector"]["labels"],
        "spec.workloadSelector",
        f,
    );
    let mut parts = Vec::new();
    let egress: Vec<String> = items(&o.spec["egress"])
        .iter()
        .flat_map(|e| strings(&e["hosts"]))
        .collect();
    if !egress.is_empty() {
        parts.push(format!("sees only {}", and_list(&egress)));
    }
    if o.spec["outboundTrafficPolicy"]["mode"].as_str() == Some("REGISTRY_ONLY") {
        parts.push("no outbound traffic to unknown hosts".into());
    }
    if parts.is_empty() {
        parts.push("default proxy configuration".into());
    }
    format!("{scope}: {}", parts.join("; "))
}

/// Who a policy applies to: mesh-wide (Istio's root namespace, no selector), a namespace,
/// or the pods a selector picks (warned when none). Returns the words and the pods.
fn scope<'a>(
    inv: &Inventory<'a>,
    o: &MeshObject,
    labels: &Value,
    field: &str,
    f: &mut Found,
) -> (String, Vec<&'a PodInfo>) {
    let refs: Vec<&Value> = std::iter::once(&o.spec["targetRef"])
        .chain(items(&o.spec["targetRefs"]))
        .filter(|r| r.is_object())
        .collect();
    if !refs.is_empty() {
        let names: Vec<String> = refs
            .iter()
            .map(|r| format!("{} {}", str_of(&r["kind"]), str_of(&r["name"])))
            .collect();
        return (and_list(&names), Vec::new());
    }
    let sel = Selector::from_labels(string_map(labels));
    let root = o.namespace == inv.istio_root;
    if sel.is_empty() {
        if root {
            let pods = selected(inv, None, &sel);
            f.affect(pods.iter().copied());
            return ("mesh-wide".into(), pods);
        }
        let pods = selected(inv, Some(&o.namespace), &sel);
        f.affect(pods.iter().copied());
        return (format!("namespace {}", o.namespace), pods);
    }
    // In the root namespace a selector picks workloads in every namespace.
    let pods = selected(inv, (!root).then_some(o.namespace.as_str()), &sel);
    if pods.is_empty() && inv.pods_read && (!root || inv.read.is_none()) {
        f.warn(field, format!("selects no workload ({})", sel.text()));
    }
    f.affect(pods.iter().copied());
    let scope = if root {
        format!("pods {} in every namespace", sel.text())
    } else {
        format!("pods {}", sel.text())
    };
    (scope, pods)
}

/// A pod with an Istio proxy to speak mTLS for it: a sidecar, ambient's node proxy, or one
/// of Istio's own gateways. Another mesh's sidecar does not count.
fn meshed(p: &PodInfo) -> bool {
    let class = classify_pod(p);
    class.mesh == Some(crate::mesh::Mesh::Istio) && !matches!(class.model, Model::None)
}

fn peer_authentication(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let (scope, pods) = scope(inv, o, &o.spec["selector"]["matchLabels"], "spec.selector", f);
    let mode = o.spec["mtls"]["mode"].as_str().unwrap_or("UNSET");
    let what = match mode {
        "STRICT" => "mTLS required (plain text refused)",
        "PERMISSIVE" => "mTLS or plain text",
        "DISABLE" => "plain text only",
        _ => "mTLS as set above it",
    };
    let mut t = format!("{scope}: {what}");
    if let Some(ports) = o.spec["portLevelMtls"].as_object() {
        for (port, m) in ports {
            t += &format!("; port {port} {}", str_of(&m["mode"]));
        }
    }
    if mode == "STRICT" && inv.pods_read {
        let bare: Vec<String> = pods
            .iter()
            .filter(|p| !p.host_network && !meshed(p))
            .map(|p| workload_of(p))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !bare.is_empty() {
            f.warn(
                "spec.mtls.mode",
                format!(
                    "STRICT, but {} no Istio proxy: {} not protected by it, and {} calls to STRICT workloads are refused: {}",
                    if bare.len() == 1 {
                        "this workload has"
                    } else {
                        "these workloads have"
                    },
                    if bare.len() == 1 { "it is" } else { "they are" },
                    if bare.len() == 1 { "its" } else { "their" },
                    bare.join(", ")
                ),
            );
        }
    }
    t
}

fn authorization_policy(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let (scope, _) = scope(inv, o, &o.spec["selector"]["matchLabels"], "spec.selector", f);
    let action = o.spec["action"].as_str().unwrap_or("ALLOW");
    let rules = items(&o.spec["rules"]);
    if rules.is_empty() {
        return match action {
            "ALLOW" => format!("{scope}: denies every request (ALLOW with no rules)"),
            other => format!("{scope}: {other} with no rules: matches nothing"),
        };
    }
    let verb = match action {
        "ALLOW" => "allows",
        "DENY" => "denies",
        "AUDIT" => "audits",
        "CUSTOM" => "asks the external authorizer about",
        other => other,
    };
    let texts: Vec<String> = rules.iter().map(rule_text).collect();
    format!("{scope}: {verb} {}", texts.join("; and "))
}

fn rule_text(rule: &Value) -> String {
    let mut parts = Vec::new();
    for from in items(&rule["from"]) {
        let s = &from["source"];
        for (key, label) in [
            ("principals", "principals"),
            ("namespaces", "namespaces"),
            ("ipBlocks", "addresses"),
            ("requestPrincipals", "JWT principals"),
            ("notPrincipals", "principals other than"),
            ("notNamespaces", "namespaces other than"),
        ] {
            let v = strings(&s[key]);
            if !v.is_empty() {
                parts.push(format!("from {label} {}", and_list(&v)));
            }
        }
    }
    for to in items(&rule["to"]) {
        let op = &to["operation"];
        let mut t = Vec::new();
        let methods = strings(&op["methods"]);
        if !methods.is_empty() {
            t.push(methods.join(","));
        }
        let paths = strings(&op["paths"]);
        if !paths.is_empty() {
            t.push(and_list(&paths));
        }
        let ports = strings(&op["ports"]);
        if !ports.is_empty() {
            t.push(format!("port {}", and_list(&ports)));
        }
        if !t.is_empty() {
            parts.push(format!("to {}", t.join(" ")));
        }
    }
    let when: Vec<String> = items(&rule["when"])
        .iter()
        .map(|w| str_of(&w["key"]).to_string())
        .collect();
    if !when.is_empty() {
        parts.push(format!("when {}", and_list(&when)));
    }
    if parts.is_empty() {
        "every request".into()
    } else {
        format!("requests {}", parts.join(" "))
    }
}

fn request_authentication(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let (scope, _) = scope(inv, o, &o.spec["selector"]["matchLabels"], "spec.selector", f);
    let issuers: Vec<String> = items(&o.spec["jwtRules"])
        .iter()
        .map(|r| str_of(&r["issuer"]).to_string())
        .collect();
    format!(
        "{scope}: checks JWTs from {} (a request with no token still passes unless an AuthorizationPolicy asks for one)",
        and_list(&issuers)
    )
}

fn telemetry(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let (scope, _) = scope(inv, o, &o.spec["selector"]["matchLabels"], "spec.selector", f);
    let providers = |v: &Value| -> String {
        let names: Vec<String> = items(&v["providers"])
            .iter()
            .map(|p| str_of(&p["name"]).to_string())
            .collect();
        if names.is_empty() {
            "the default provider".into()
        } else {
            and_list(&names)
        }
    };
    let mut parts = Vec::new();
    for t in items(&o.spec["tracing"]) {
        let mut s = format!("tracing to {}", providers(t));
        if let Some(p) = t["randomSamplingPercentage"].as_f64() {
            s += &format!(" at {}%", trim_float(p));
        }
        parts.push(s);
    }
    for m in items(&o.spec["metrics"]) {
        parts.push(format!("metrics to {}", providers(m)));
    }
    for a in items(&o.spec["accessLogging"]) {
        if a["disabled"].as_bool() == Some(true) {
            parts.push("access logs off".into());
        } else {
            parts.push(format!("access logs to {}", providers(a)));
        }
    }
    if parts.is_empty() {
        parts.push("inherits the mesh's telemetry".into());
    }
    format!("{scope}: {}", parts.join("; "))
}

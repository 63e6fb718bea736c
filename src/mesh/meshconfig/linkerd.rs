//! Linkerd's policy objects (Server, HTTPRoute, AuthorizationPolicy, MeshTLSAuthentication)
//! and ServiceProfile.

use serde_json::Value;

use super::text::{and_list, count, scalar};
use super::{Found, Inventory, MeshObject, Selector, items, selected, service_name, str_of, strings};

pub(super) fn explain(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    match o.kind.as_str() {
        "Server" => server(inv, o, f),
        "HTTPRoute" => super::gateway::route(inv, o, f),
        "AuthorizationPolicy" => authorization_policy(inv, o, f),
        "MeshTLSAuthentication" => mesh_tls_authentication(o),
        _ => service_profile(inv, o, f),
    }
}

fn server(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let port = &o.spec["port"];
    let shown = scalar(port);
    let protocol = match str_of(&o.spec["proxyProtocol"]) {
        "" | "unknown" => "protocol detected".to_string(),
        p => p.to_string(),
    };
    if let Some(external) = Selector::from_value(&o.spec["externalWorkloadSelector"]) {
        // Workloads outside the cluster (ExternalWorkload objects), not pods.
        return format!("port {shown} ({protocol}) on external workloads {}", external.text());
    }
    let sel = Selector::from_value(&o.spec["podSelector"]).unwrap_or_default();
    let pods = selected(inv, Some(&o.namespace), &sel);
    // A port by number or by a container port's name.
    let exposes = |p: &&crate::model::PodInfo| {
        p.containers_info.iter().flat_map(|c| &c.ports).any(|cp| match port {
            Value::Number(n) => n.as_u64() == Some(u64::from(cp.port)),
            Value::String(name) => cp.name.as_deref() == Some(name.as_str()),
            _ => false,
        })
    };
    // Pods the user may not list are not judged.
    if inv.pods_read && pods.is_empty() {
        f.warn("spec.podSelector", format!("selects no pod ({})", sel.text()));
    } else if inv.pods_read && !pods.iter().any(exposes) {
        f.warn("spec.port", format!("no pod it selects exposes port {shown}"));
    }
    f.affect(pods);
    format!("port {shown} ({protocol}) on pods {}", sel.text())
}

fn authorization_policy(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    let target = &o.spec["targetRef"];
    let kind = str_of(&target["kind"]);
    let name = str_of(&target["name"]);
    let group = target["group"].as_str().unwrap_or("policy.linkerd.io");
    // Only kinds meshtop reads can be called missing.
    let checked = matches!(
        (group, kind),
        ("policy.linkerd.io", "Server" | "HTTPRoute") | ("gateway.networking.k8s.io", "HTTPRoute")
    );
    let exists = !checked
        || inv
            .objects
            .iter()
            .any(|x| x.group == group && x.kind == kind && x.name == name && x.namespace == o.namespace);
    if !exists {
        f.warn("spec.targetRef", format!("{kind} {name} does not exist"));
    }
    let mut who = Vec::new();
    for (i, r) in items(&o.spec["requiredAuthenticationRefs"]).iter().enumerate() {
        let rk = str_of(&r["kind"]);
        let rn = str_of(&r["name"]);
        let ns = r["namespace"].as_str().unwrap_or(&o.namespace);
        // NetworkAuthentication is not read here, so only a MeshTLSAuthentication is checked.
        if rk == "MeshTLSAuthentication"
            && inv.looked_in(ns)
            && !inv
                .objects
                .iter()
                .any(|x| x.group == "policy.linkerd.io" && x.kind == rk && x.name == rn && x.namespace == ns)
        {
            f.warn(
                format!("spec.requiredAuthenticationRefs[{i}]"),
                format!("{rk} {rn} does not exist"),
            );
        }
        who.push(match rk {
            "ServiceAccount" => format!("service account {rn}"),
            _ => format!("clients in {rk} {rn}"),
        });
    }
    let who = if who.is_empty() {
        "any client".to_string()
    } else {
        and_list(&who)
    };
    format!("lets {who} reach {kind} {name}")
}

fn mesh_tls_authentication(o: &MeshObject) -> String {
    let mut who: Vec<String> = strings(&o.spec["identities"])
        .into_iter()
        .map(|i| if i == "*" { "any meshed client".to_string() } else { i })
        .collect();
    for r in items(&o.spec["identityRefs"]) {
        let kind = match str_of(&r["kind"]) {
            "ServiceAccount" => "service account".to_string(),
            other => other.to_string(),
        };
        who.push(format!("{kind} {}", str_of(&r["name"])));
    }
    format!("clients with identity {}", and_list(&who))
}

fn service_profile(inv: &Inventory, o: &MeshObject, f: &mut Found) -> String {
    // Named after its Service's FQDN: reviews.bookinfo.svc.cluster.local.
    let found = service_name(&o.name, &o.namespace)
        .and_then(|(name, ns)| inv.services.iter().find(|s| s.name == name && s.namespace == ns));
    let unread = service_name(&o.name, &o.namespace).is_some_and(|(_, ns)| !inv.looked_in(ns)) || !inv.services_read;
    if found.is_none() && !unread {
        f.warn(
            "metadata.name",
            format!(
                "{} names no Service (a ServiceProfile is named after its Service's DNS name)",
                o.name
            ),
        );
    }
    if let Some(svc) = found {
        f.affect(super::service_pods(inv, svc));
    }
    let routes = items(&o.spec["routes"]);
    let names: Vec<String> = routes.iter().map(route_name).collect();
    let retried = routes
        .iter()
        .filter(|r| r["isRetryable"].as_bool() == Some(true))
        .count();
    let mut t = count(routes.len(), "route", "routes");
    if !names.is_empty() {
        t += &format!(" ({})", names.join(", "));
    }
    if retried > 0 {
        t += &format!("; {retried} retried");
    }
    let timeouts: Vec<String> = routes
        .iter()
        .filter_map(|r| r["timeout"].as_str().map(str::to_string))
        .collect();
    if !timeouts.is_empty() {
        t += &format!("; timeouts {}", and_list(&timeouts));
    }
    if let Some(ratio) = o.spec["retryBudget"]["retryRatio"].as_f64() {
        t += &format!("; retries at most {}% of requests", (ratio * 100.0).round());
    }
    t
}

fn route_name(r: &Value) -> String {
    match r["name"].as_str() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!(
            "{} {}",
            str_of(&r["condition"]["method"]),
            str_of(&r["condition"]["pathRegex"])
        ),
    }
}

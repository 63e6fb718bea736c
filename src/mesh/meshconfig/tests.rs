//! Every summary and every warning, asserted exactly, on a small bookinfo-like namespace.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::model::{ContainerInfo, ContainerKind, OwnerRef, PodInfo, PortInfo, ServiceInfo};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A running pod of Deployment `owner` with the labels, its app container exposing `ports`,
/// and an Istio sidecar when `sidecar`.
fn pod(ns: &str, name: &str, owner: &str, l: &[(&str, &str)], ports: &[(u16, &str)], sidecar: bool) -> PodInfo {
    let mut containers = vec![ContainerInfo {
        name: "app".into(),
        image: "example/app:1".into(),
        kind: ContainerKind::Main,
        ports: ports
            .iter()
            .map(|(port, name)| PortInfo {
                name: (!name.is_empty()).then(|| name.to_string()),
                port: *port,
            })
            .collect(),
        ready: true,
        restarts: 0,
    }];
    if sidecar {
        containers.push(ContainerInfo {
            name: "istio-proxy".into(),
            image: "docker.io/istio/proxyv2:1.24.0".into(),
            kind: ContainerKind::Main,
            ports: Vec::new(),
            ready: true,
            restarts: 0,
        });
    }
    PodInfo {
        namespace: ns.into(),
        name: name.into(),
        phase: "Running".into(),
        ready: containers.len() as u32,
        containers: containers.len() as u32,
        labels: labels(l),
        containers_info: containers,
        owner: Some(OwnerRef {
            kind: "Deployment".into(),
            name: owner.into(),
        }),
        ..PodInfo::default()
    }
}

fn service(ns: &str, name: &str, selector: &[(&str, &str)]) -> ServiceInfo {
    ServiceInfo {
        namespace: ns.into(),
        name: name.into(),
        kind: "ClusterIP".into(),
        selector: labels(selector),
        ..ServiceInfo::default()
    }
}

fn obj(group: &str, kind: &str, ns: &str, name: &str, spec: Value) -> MeshObject {
    MeshObject {
        group: group.into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
        spec,
    }
}

fn world() -> (Vec<PodInfo>, Vec<ServiceInfo>) {
    let pods = vec![
        pod(
            "shop",
            "reviews-v1-a",
            "reviews-v1",
            &[("app", "reviews"), ("version", "v1")],
            &[(9080, "http")],
            true,
        ),
        pod(
            "shop",
            "reviews-v2-b",
            "reviews-v2",
            &[("app", "reviews"), ("version", "v2")],
            &[(9080, "http")],
            true,
        ),
        pod(
            "shop",
            "ratings-c",
            "ratings",
            &[("app", "ratings")],
            &[(9080, "http")],
            true,
        ),
        pod("shop", "legacy-d", "legacy", &[("app", "legacy")], &[(8080, "")], false),
        pod("web", "web-e", "web", &[("app", "web")], &[(8080, "http")], false),
        pod(
            "istio-system",
            "ingress-f",
            "istio-ingressgateway",
            &[("istio", "ingressgateway")],
            &[(8080, "")],
            false,
        ),
    ];
    let services = vec![
        service("shop", "reviews", &[("app", "reviews")]),
        service("shop", "ratings", &[("app", "ratings")]),
        service("web", "web", &[("app", "web")]),
    ];
    (pods, services)
}

fn explain_all(objects: &[MeshObject]) -> Vec<Explained> {
    let (pods, services) = world();
    explain(&Inventory {
        pods: &pods,
        services: &services,
        objects,
        istio_root: "istio-system",
        read: None,
        pods_read: true,
        services_read: true,
    })
}

/// The one object of that kind and name, explained among all the others.
fn one(objects: &[MeshObject], kind: &str, name: &str) -> Explained {
    explain_all(objects)
        .into_iter()
        .find(|e| e.kind == kind && e.name == name)
        .unwrap_or_else(|| panic!("{kind} {name} explained"))
}

fn warnings(e: &Explained) -> Vec<(String, String)> {
    e.warnings
        .iter()
        .map(|w| (w.field.clone(), w.message.clone()))
        .collect()
}

fn w(field: &str, message: &str) -> (String, String) {
    (field.into(), message.into())
}

fn reviews_rule() -> MeshObject {
    obj(
        "networking.istio.io",
        "DestinationRule",
        "shop",
        "reviews",
        json!({
            "host": "reviews",
            "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}, "tls": {"mode": "ISTIO_MUTUAL"},
                "connectionPool": {"tcp": {"maxConnections": 100}},
                "outlierDetection": {"consecutive5xxErrors": 3, "baseEjectionTime": "30s"}},
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"}},
                {"name": "v3", "labels": {"version": "v3"}}
            ]
        }),
    )
}

#[test]
fn a_virtual_service_reads_as_its_split_and_retries() {
    let objects = vec![
        reviews_rule(),
        obj(
            "networking.istio.io",
            "VirtualService",
            "shop",
            "reviews",
            json!({"hosts": ["reviews"], "http": [{
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
                    {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10}
                ],
                "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}
            }]}),
        ),
    ];
    let e = one(&objects, "VirtualService", "reviews");
    assert_eq!(
        e.summary,
        "reviews: 90% to subset v1, 10% to subset v2; 3 retries on 5xx, 2s per try"
    );
    assert_eq!(e.affects, ["shop/reviews-v1", "shop/reviews-v2"]);
    assert_eq!(e.mesh, "istio");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn virtual_service_mistakes_are_named_by_field() {
    let objects = vec![
        reviews_rule(),
        obj(
            "networking.istio.io",
            "VirtualService",
            "shop",
            "details",
            json!({"hosts": ["details"], "http": [
                {"match": [{"uri": {"prefix": "/api"}}, {"headers": {"end-user": {"exact": "jason"}}}],
                 "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 70},
                    {"destination": {"host": "reviews", "subset": "v9"}, "weight": 20}
                 ],
                 "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 10}}}},
                {"route": [{"destination": {"host": "ratings", "port": {"number": 9080}}}], "timeout": "5s"}
            ]}),
        ),
        obj(
            "networking.istio.io",
            "VirtualService",
            "shop",
            "edge",
            json!({"hosts": ["shop.example.com"], "gateways": ["istio-system/public"],
                   "http": [{"route": [{"destination": {"host": "payments.example.com"}}],
                             "fault": {"delay": {"fixedDelay": "5s", "percentage": {"value": 50}}}}]}),
        ),
    ];
    let e = one(&objects, "VirtualService", "details");
    assert_eq!(
        e.summary,
        "details: /api* or header end-user=jason: 70% to reviews subset v1, 20% to reviews subset v9; fails 10% with 503 \
         | to ratings:9080; timeout 5s"
    );
    assert_eq!(
        warnings(&e),
        [
            w("spec.hosts[0]", "details matches no Service or ServiceEntry"),
            w("spec.http[0].route", "the weights sum to 90, not 100"),
            w(
                "spec.http[0].route[1].destination.subset",
                "no DestinationRule for reviews defines subset v9"
            ),
        ]
    );
    assert_eq!(e.affects, ["shop/ratings", "shop/reviews-v1", "shop/reviews-v2"]);
    // A gateway's hosts are outside names; its destinations must still exist.
    let e = one(&objects, "VirtualService", "edge");
    assert_eq!(
        e.summary,
        "shop.example.com (through istio-system/public): to payments.example.com; delays 50% by 5s"
    );
    assert_eq!(
        warnings(&e),
        [w(
            "spec.http[0].route[0].destination.host",
            "payments.example.com matches no Service or ServiceEntry"
        )]
    );
    // A ServiceEntry makes it known.
    let mut with_entry = objects.clone();
    with_entry.push(obj(
        "networking.istio.io",
        "ServiceEntry",
        "shop",
        "payments",
        json!({"hosts": ["*.example.com"], "location": "MESH_EXTERNAL", "resolution": "DNS",
               "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}]}),
    ));
    assert!(one(&with_entry, "VirtualService", "edge").warnings.is_empty());
    assert_eq!(
        one(&with_entry, "ServiceEntry", "payments").summary,
        "*.example.com outside the mesh: HTTPS 443, resolved by DNS"
    );
}

#[test]
fn a_destination_rule_subset_that_selects_no_pod_is_flagged() {
    let objects = vec![reviews_rule()];
    let e = one(&objects, "DestinationRule", "reviews");
    assert_eq!(
        e.summary,
        "reviews: subsets v1 (version=v1), v2 (version=v2) and v3 (version=v3); least requests first; \
         mTLS with Istio's certificates; at most 100 connections; ejects a pod after 3 errors in a row for 30s"
    );
    assert_eq!(
        warnings(&e),
        [w(
            "spec.subsets[2].labels",
            "subset v3 (version=v3) selects no pod of reviews"
        )]
    );
    assert_eq!(e.affects, ["shop/reviews-v1", "shop/reviews-v2"]);
    let missing = vec![obj(
        "networking.istio.io",
        "DestinationRule",
        "shop",
        "gone",
        json!({"host": "gone.shop.svc.cluster.local"}),
    )];
    let e = one(&missing, "DestinationRule", "gone");
    assert_eq!(e.summary, "gone: no subsets or policy");
    assert_eq!(
        warnings(&e),
        [w(
            "spec.host",
            "gone.shop.svc.cluster.local matches no Service or ServiceEntry"
        )]
    );
}

#[test]
fn strict_mtls_over_pods_without_a_proxy_is_flagged() {
    let objects = vec![
        obj(
            "security.istio.io",
            "PeerAuthentication",
            "shop",
            "default",
            json!({"mtls": {"mode": "STRICT"}, "portLevelMtls": {"9080": {"mode": "PERMISSIVE"}}}),
        ),
        obj(
            "security.istio.io",
            "PeerAuthentication",
            "istio-system",
            "mesh",
            json!({"mtls": {"mode": "PERMISSIVE"}}),
        ),
        obj(
            "security.istio.io",
            "PeerAuthentication",
            "shop",
            "ratings",
            json!({"selector": {"matchLabels": {"app": "ratings"}}, "mtls": {"mode": "STRICT"}}),
        ),
    ];
    let e = one(&objects, "PeerAuthentication", "default");
    assert_eq!(
        e.summary,
        "namespace shop: mTLS required (plain text refused); port 9080 PERMISSIVE"
    );
    assert_eq!(
        warnings(&e),
        [w(
            "spec.mtls.mode",
            "STRICT, but this workload has no Istio proxy: it is not protected by it, and its calls to STRICT workloads \
             are refused: shop/legacy"
        )]
    );
    assert_eq!(
        e.affects,
        ["shop/legacy", "shop/ratings", "shop/reviews-v1", "shop/reviews-v2"]
    );
    let e = one(&objects, "PeerAuthentication", "mesh");
    assert_eq!(e.summary, "mesh-wide: mTLS or plain text");
    assert_eq!(
        e.affects,
        [
            "istio-system/istio-ingressgateway",
            "shop/legacy",
            "shop/ratings",
            "shop/reviews-v1",
            "shop/reviews-v2",
            "web/web"
        ]
    );
    let e = one(&objects, "PeerAuthentication", "ratings");
    assert_eq!(e.summary, "pods app=ratings: mTLS required (plain text refused)");
    assert!(e.warnings.is_empty());
}

#[test]
fn authorization_policies_say_who_may_do_what() {
    let objects = vec![
        obj(
            "security.istio.io",
            "AuthorizationPolicy",
            "shop",
            "reviews-readers",
            json!({"selector": {"matchLabels": {"app": "reviews"}}, "action": "ALLOW", "rules": [{
                "from": [{"source": {"principals": ["cluster.local/ns/shop/sa/productpage"]}}],
                "to": [{"operation": {"methods": ["GET"], "paths": ["/reviews/*"]}}]
            }]}),
        ),
        obj(
            "security.istio.io",
            "AuthorizationPolicy",
            "shop",
            "deny-all",
            json!({}),
        ),
        obj(
            "security.istio.io",
            "AuthorizationPolicy",
            "shop",
            "orphan",
            json!({"selector": {"matchLabels": {"app": "checkout"}}, "action": "DENY",
                   "rules": [{"from": [{"source": {"namespaces": ["web"]}}]}]}),
        ),
        obj(
            "security.istio.io",
            "RequestAuthentication",
            "shop",
            "jwt",
            json!({"selector": {"matchLabels": {"app": "ratings"}},
                   "jwtRules": [{"issuer": "https://auth.example.com"}]}),
        ),
    ];
    let e = one(&objects, "AuthorizationPolicy", "reviews-readers");
    assert_eq!(
        e.summary,
        "pods app=reviews: allows requests from principals cluster.local/ns/shop/sa/productpage to GET /reviews/*"
    );
    assert_eq!(e.affects, ["shop/reviews-v1", "shop/reviews-v2"]);
    let e = one(&objects, "AuthorizationPolicy", "deny-all");
    assert_eq!(e.summary, "namespace shop: denies every request (ALLOW with no rules)");
    let e = one(&objects, "AuthorizationPolicy", "orphan");
    assert_eq!(e.summary, "pods app=checkout: denies requests from namespaces web");
    assert_eq!(warnings(&e), [w("spec.selector", "selects no workload (app=checkout)")]);
    assert!(e.affects.is_empty());
    let e = one(&objects, "RequestAuthentication", "jwt");
    assert_eq!(
        e.summary,
        "pods app=ratings: checks JWTs from https://auth.example.com (a request with no token still passes unless \
         an AuthorizationPolicy asks for one)"
    );
}

#[test]
fn gateways_sidecars_and_telemetry() {
    let objects = vec![
        obj(
            "networking.istio.io",
            "Gateway",
            "istio-system",
            "public",
            json!({"selector": {"istio": "ingressgateway"}, "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"]},
                {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["*"],
                 "tls": {"mode": "SIMPLE", "credentialName": "shop-cert"}}
            ]}),
        ),
        obj(
            "networking.istio.io",
            "Gateway",
            "shop",
            "nowhere",
            json!({"selector": {"istio": "egressgateway"}, "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}),
        ),
        obj(
            "networking.istio.io",
            "Sidecar",
            "shop",
            "default",
            json!({"egress": [{"hosts": ["./*", "istio-system/*"]}],
                   "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
        ),
        obj(
            "telemetry.istio.io",
            "Telemetry",
            "istio-system",
            "mesh-default",
            json!({"tracing": [{"providers": [{"name": "zipkin"}], "randomSamplingPercentage": 10.0}],
                   "accessLogging": [{"providers": [{"name": "envoy"}]}]}),
        ),
    ];
    let e = one(&objects, "Gateway", "public");
    assert_eq!(
        e.summary,
        "on pods istio=ingressgateway: HTTP 80 for shop.example.com; HTTPS 443 (TLS SIMPLE, certificate shop-cert) for *"
    );
    assert_eq!(e.affects, ["istio-system/istio-ingressgateway"]);
    assert_eq!(
        warnings(&one(&objects, "Gateway", "nowhere")),
        [w("spec.selector", "selects no gateway pod (istio=egressgateway)")]
    );
    assert_eq!(
        one(&objects, "Sidecar", "default").summary,
        "namespace shop: sees only ./* and istio-system/*; no outbound traffic to unknown hosts"
    );
    assert_eq!(
        one(&objects, "Telemetry", "mesh-default").summary,
        "mesh-wide: tracing to zipkin at 10%; access logs to envoy"
    );
}

#[test]
fn linkerd_servers_routes_and_policies() {
    let objects = vec![
        obj(
            "policy.linkerd.io",
            "Server",
            "web",
            "web-http",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "port": "http", "proxyProtocol": "HTTP/1"}),
        ),
        obj(
            "policy.linkerd.io",
            "Server",
            "web",
            "web-admin",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "port": 9990}),
        ),
        obj(
            "policy.linkerd.io",
            "Server",
            "web",
            "ghost",
            json!({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["ghost"]}]},
                   "port": 80}),
        ),
        obj(
            "policy.linkerd.io",
            "HTTPRoute",
            "web",
            "web-api",
            json!({"parentRefs": [{"group": "policy.linkerd.io", "kind": "Server", "name": "web-http"},
                                  {"group": "policy.linkerd.io", "kind": "Server", "name": "web-grpc"}],
                   "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET"}]}]}),
        ),
        obj(
            "policy.linkerd.io",
            "AuthorizationPolicy",
            "web",
            "web-api-authn",
            json!({"targetRef": {"group": "policy.linkerd.io", "kind": "HTTPRoute", "name": "web-api"},
                   "requiredAuthenticationRefs": [
                       {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "web-clients"},
                       {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "nobody"}]}),
        ),
        obj(
            "policy.linkerd.io",
            "MeshTLSAuthentication",
            "web",
            "web-clients",
            json!({"identities": ["frontend.shop.serviceaccount.identity.linkerd.cluster.local"],
                   "identityRefs": [{"kind": "ServiceAccount", "name": "checkout"}]}),
        ),
        obj(
            "linkerd.io",
            "ServiceProfile",
            "web",
            "web.web.svc.cluster.local",
            json!({"routes": [
                {"name": "GET /api/items", "condition": {"method": "GET", "pathRegex": "/api/items"},
                 "isRetryable": true, "timeout": "300ms"},
                {"condition": {"method": "POST", "pathRegex": "/api/orders"}}],
                "retryBudget": {"retryRatio": 0.2, "minRetriesPerSecond": 10, "ttl": "10s"}}),
        ),
        obj(
            "linkerd.io",
            "ServiceProfile",
            "web",
            "nothing.web.svc.cluster.local",
            json!({"routes": []}),
        ),
    ];
    let e = one(&objects, "Server", "web-http");
    assert_eq!(e.summary, "port http (HTTP/1) on pods app=web");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(e.affects, ["web/web"]);
    assert_eq!(e.mesh, "linkerd");
    let e = one(&objects, "Server", "web-admin");
    assert_eq!(e.summary, "port 9990 (protocol detected) on pods app=web");
    assert_eq!(warnings(&e), [w("spec.port", "no pod it selects exposes port 9990")]);
    let e = one(&objects, "Server", "ghost");
    assert_eq!(warnings(&e), [w("spec.podSelector", "selects no pod (app in (ghost))")]);
    let e = one(&objects, "HTTPRoute", "web-api");
    assert_eq!(e.summary, "on Server web-http and Server web-grpc: GET /api/*");
    assert_eq!(
        warnings(&e),
        [w("spec.parentRefs[1]", "Server web-grpc does not exist")]
    );
    let e = one(&objects, "AuthorizationPolicy", "web-api-authn");
    assert_eq!(
        e.summary,
        "lets clients in MeshTLSAuthentication web-clients and clients in MeshTLSAuthentication nobody reach HTTPRoute web-api"
    );
    assert_eq!(
        warnings(&e),
        [w(
            "spec.requiredAuthenticationRefs[1]",
            "MeshTLSAuthentication nobody does not exist"
        )]
    );
    assert_eq!(
        one(&objects, "MeshTLSAuthentication", "web-clients").summary,
        "clients with identity frontend.shop.serviceaccount.identity.linkerd.cluster.local and service account checkout"
    );
    let e = one(&objects, "ServiceProfile", "web.web.svc.cluster.local");
    assert_eq!(
        e.summary,
        "2 routes (GET /api/items, POST /api/orders); 1 retried; timeouts 300ms; retries at most 20% of requests"
    );
    assert!(e.warnings.is_empty());
    assert_eq!(
        warnings(&one(&objects, "ServiceProfile", "nothing.web.svc.cluster.local")),
        [w(
            "metadata.name",
            "nothing.web.svc.cluster.local names no Service (a ServiceProfile is named after its Service's DNS name)"
        )]
    );
}

#[test]
fn gateway_api_routes_and_their_parents() {
    let objects = vec![
        obj(
            "gateway.networking.k8s.io",
            "Gateway",
            "shop",
            "front",
            json!({"gatewayClassName": "istio", "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"}]}),
        ),
        obj(
            "gateway.networking.k8s.io",
            "HTTPRoute",
            "shop",
            "reviews",
            json!({"parentRefs": [{"name": "front"}, {"name": "back"}],
                   "hostnames": ["shop.example.com"],
                   "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/reviews"}}],
                              "backendRefs": [{"name": "reviews", "port": 9080, "weight": 90},
                                              {"name": "reviews-next", "port": 9080, "weight": 10}],
                              "timeouts": {"request": "10s"}}]}),
        ),
        obj(
            "gateway.networking.k8s.io",
            "HTTPRoute",
            "shop",
            "mesh-ratings",
            json!({"parentRefs": [{"group": "", "kind": "Service", "name": "ratings", "port": 9080}],
                   "rules": [{"backendRefs": [{"name": "ratings", "port": 9080}]}]}),
        ),
        obj(
            "gateway.networking.k8s.io",
            "GRPCRoute",
            "shop",
            "grpc",
            json!({"parentRefs": [{"name": "front"}],
                   "rules": [{"matches": [{"method": {"service": "shop.Ratings", "method": "Get"}}],
                              "backendRefs": [{"name": "ratings", "port": 9090}]}]}),
        ),
    ];
    let e = one(&objects, "Gateway", "front");
    assert_eq!(e.summary, "class istio: HTTP 80 for *.example.com");
    assert_eq!(e.mesh, "gateway-api");
    let e = one(&objects, "HTTPRoute", "reviews");
    assert_eq!(
        e.summary,
        "on Gateway front and Gateway back for shop.example.com: /reviews/* → 90% reviews:9080, 10% reviews-next:9080, \
         timeout 10s"
    );
    assert_eq!(
        warnings(&e),
        [
            w("spec.parentRefs[1]", "Gateway back does not exist"),
            w(
                "spec.rules[0].backendRefs[1]",
                "Service reviews-next does not exist in shop"
            ),
        ]
    );
    assert_eq!(e.affects, ["shop/reviews-v1", "shop/reviews-v2"]);
    let e = one(&objects, "HTTPRoute", "mesh-ratings");
    assert_eq!(e.summary, "on Service ratings: all requests → ratings:9080");
    assert!(e.warnings.is_empty());
    assert_eq!(
        one(&objects, "GRPCRoute", "grpc").summary,
        "on Gateway front: shop.Ratings/Get → ratings:9090"
    );
}

#[test]
fn kuma_and_consul_policies() {
    let objects = vec![
        obj(
            "kuma.io",
            "MeshTrafficPermission",
            "kuma-system",
            "allow-web",
            json!({"targetRef": {"kind": "Dataplane", "labels": {"app": "backend"}},
                   "rules": [{"default": {
                       "allow": [{"spiffeID": {"type": "Prefix", "value": "spiffe://default/ns/web/"}}],
                       "deny": [{"sni": {"type": "Exact", "value": "legacy.mesh"}}]}}]}),
        ),
        obj(
            "kuma.io",
            "MeshTimeout",
            "kuma-system",
            "timeouts",
            json!({"targetRef": {"kind": "Mesh"},
                   "rules": [{"default": {"idleTimeout": "1h"}}],
                   "to": [{"targetRef": {"kind": "Mesh"},
                           "default": {"connectionTimeout": "2s", "http": {"requestTimeout": "5s"}}}]}),
        ),
        obj(
            "kuma.io",
            "MeshRetry",
            "kuma-system",
            "retries",
            json!({"targetRef": {"kind": "Mesh"},
                   "to": [{"targetRef": {"kind": "MeshService", "name": "backend", "sectionName": "http"},
                           "default": {"http": {"numRetries": 3, "perTryTimeout": "1s", "retryOn": ["5xx", "reset"]}}}]}),
        ),
        obj(
            "consul.hashicorp.com",
            "ServiceIntentions",
            "shop",
            "reviews",
            json!({"destination": {"name": "reviews"}, "sources": [
                {"name": "productpage", "action": "allow"},
                {"name": "web", "permissions": [{"action": "allow", "http": {"pathPrefix": "/public"}},
                                                {"action": "deny", "http": {"pathExact": "/public/admin"}}]},
                {"name": "*", "action": "deny"}]}),
        ),
    ];
    assert_eq!(
        one(&objects, "MeshTrafficPermission", "allow-web").summary,
        "for proxies labelled app=backend: inbound: allows spiffe://default/ns/web/*, denies SNI legacy.mesh"
    );
    assert_eq!(
        one(&objects, "MeshTimeout", "timeouts").summary,
        "for the whole mesh: inbound: timeouts idle 1h; to the whole mesh: timeouts connect 2s, request 5s"
    );
    assert_eq!(
        one(&objects, "MeshRetry", "retries").summary,
        "for the whole mesh: to service backend (http): 3 HTTP retries on 5xx and reset, 1s per try"
    );
    let e = one(&objects, "ServiceIntentions", "reviews");
    assert_eq!(
        e.summary,
        "reviews: allow from productpage; from web: allow /public* and deny /public/admin; deny from everyone"
    );
    assert_eq!(e.mesh, "consul");
}

#[test]
fn objects_come_out_in_kind_order_and_others_are_left_out() {
    let objects = vec![
        obj("gateway.networking.k8s.io", "Gateway", "b", "g", json!({})),
        obj(
            "networking.istio.io",
            "VirtualService",
            "b",
            "z",
            json!({"hosts": ["*"]}),
        ),
        obj(
            "networking.istio.io",
            "VirtualService",
            "a",
            "y",
            json!({"hosts": ["*"]}),
        ),
        obj("networking.istio.io", "EnvoyFilter", "a", "x", json!({})),
        obj("security.istio.io", "AuthorizationPolicy", "a", "p", Value::Null),
    ];
    let order: Vec<(String, String, String)> = explain_all(&objects)
        .into_iter()
        .map(|e| (e.kind, e.namespace, e.name))
        .collect();
    let s = |k: &str, n: &str, m: &str| (k.to_string(), n.to_string(), m.to_string());
    assert_eq!(
        order,
        [
            s("VirtualService", "a", "y"),
            s("VirtualService", "b", "z"),
            s("AuthorizationPolicy", "a", "p"),
            s("Gateway", "b", "g"),
        ]
    );
    // Empty or missing specs read as what they are, never a panic.
    assert_eq!(one(&objects, "VirtualService", "y").summary, "*: no routes");
    assert_eq!(
        one(&objects, "AuthorizationPolicy", "p").summary,
        "namespace a: denies every request (ALLOW with no rules)"
    );
}

mod any_spec {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    /// Field names the explainers read, so that random specs reach their branches.
    const KEYS: &[&str] = &[
        "hosts",
        "gateways",
        "http",
        "tcp",
        "tls",
        "route",
        "destination",
        "host",
        "subset",
        "weight",
        "port",
        "number",
        "match",
        "uri",
        "prefix",
        "exact",
        "headers",
        "retries",
        "attempts",
        "perTryTimeout",
        "retryOn",
        "timeout",
        "fault",
        "delay",
        "abort",
        "percentage",
        "value",
        "subsets",
        "name",
        "labels",
        "trafficPolicy",
        "selector",
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "mtls",
        "mode",
        "rules",
        "from",
        "to",
        "source",
        "operation",
        "methods",
        "paths",
        "action",
        "podSelector",
        "parentRefs",
        "kind",
        "namespace",
        "backendRefs",
        "targetRef",
        "targetRefs",
        "default",
        "sources",
        "destination",
        "routes",
        "condition",
        "servers",
        "listeners",
        "protocol",
        "portLevelMtls",
        "identities",
        "identityRefs",
        "requiredAuthenticationRefs",
        "tracing",
        "providers",
        "accessLogging",
        "egress",
        "jwtRules",
        "tags",
    ];

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(-1i64)].prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            prop_oneof![Just("reviews".to_string()), Just("*".to_string()), ".{0,12}"].prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the cluster serves as a spec, every kind is explained, never a panic.
        #[test]
        fn any_spec_is_explained(spec in value()) {
            let objects: Vec<MeshObject> = KINDS
                .iter()
                .map(|k| obj(k.group, k.kind, "shop", "reviews.shop.svc.cluster.local", spec.clone()))
                .collect();
            let out = explain_all(&objects);
            prop_assert_eq!(out.len(), KINDS.len());
        }
    }
}

#[test]
fn root_namespace_policies_select_in_every_namespace() {
    let objects = vec![obj(
        "security.istio.io",
        "AuthorizationPolicy",
        "istio-system",
        "web-only",
        json!({"selector": {"matchLabels": {"app": "web"}}, "rules": [{}]}),
    )];
    let e = one(&objects, "AuthorizationPolicy", "web-only");
    assert_eq!(e.summary, "pods app=web in every namespace: allows every request");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(e.affects, ["web/web"]);
}

#[test]
fn a_destination_rule_elsewhere_defines_no_subset_here() {
    // `host: reviews` in namespace web means web's reviews, not shop's.
    let objects = vec![
        obj(
            "networking.istio.io",
            "DestinationRule",
            "web",
            "reviews",
            json!({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}),
        ),
        obj(
            "networking.istio.io",
            "VirtualService",
            "shop",
            "reviews",
            json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}),
        ),
    ];
    assert_eq!(
        warnings(&one(&objects, "VirtualService", "reviews")),
        [w(
            "spec.http[0].route[0].destination.subset",
            "no DestinationRule for reviews defines subset v1"
        )]
    );
    // And a host is a short name or a full one: `reviews.shop` is taken literally.
    let literal = vec![obj(
        "networking.istio.io",
        "VirtualService",
        "web",
        "literal",
        json!({"hosts": ["reviews.shop", "reviews.shop.svc.cluster.local"],
               "http": [{"route": [{"destination": {"host": "reviews.shop.svc.cluster.local"}, "weight": 50}]}]}),
    )];
    let e = one(&literal, "VirtualService", "literal");
    // One destination takes all the traffic, whatever its weight.
    assert_eq!(
        warnings(&e),
        [w("spec.hosts[0]", "reviews.shop matches no Service or ServiceEntry")]
    );
    assert_eq!(e.summary, "reviews.shop and shop/reviews: to shop/reviews");
}

#[test]
fn what_was_not_read_is_not_called_missing() {
    let (pods, services) = world();
    let objects = vec![
        obj(
            "gateway.networking.k8s.io",
            "HTTPRoute",
            "shop",
            "cross",
            json!({"parentRefs": [{"name": "edge", "namespace": "infra"},
                                  {"group": "example.com", "kind": "Listener", "name": "l"}],
                   "rules": [{"backendRefs": [{"name": "api", "namespace": "infra", "port": 80}]}]}),
        ),
        obj(
            "networking.istio.io",
            "VirtualService",
            "shop",
            "remote",
            json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "api.infra.svc.cluster.local"}}]}]}),
        ),
        obj(
            "security.istio.io",
            "AuthorizationPolicy",
            "shop",
            "nobody",
            json!({"selector": {"matchLabels": {"app": "checkout"}}}),
        ),
        obj(
            "policy.linkerd.io",
            "AuthorizationPolicy",
            "shop",
            "net",
            json!({"targetRef": {"group": "core", "kind": "Namespace", "name": "shop"},
                   "requiredAuthenticationRefs": [{"group": "policy.linkerd.io", "kind": "NetworkAuthentication", "name": "cluster"}]}),
        ),
    ];
    let only_shop = vec!["shop".to_string()];
    let explain_with = |read, pods_read| {
        explain(&Inventory {
            pods: &pods,
            services: &services,
            objects: &objects,
            istio_root: "istio-system",
            read,
            pods_read,
            services_read: true,
        })
    };
    // Read with -n shop: infra was not looked in, the Listener kind is not read.
    for e in explain_with(Some(&only_shop), true) {
        let expect_none = e.name != "nobody";
        assert_eq!(e.warnings.is_empty(), expect_none, "{} {:?}", e.name, e.warnings);
    }
    // All namespaces read: now infra's absent objects are missing.
    let all = explain_with(None, true);
    let cross = all.iter().find(|e| e.name == "cross").unwrap();
    assert_eq!(
        warnings(cross),
        [
            w("spec.parentRefs[0]", "Gateway infra/edge does not exist"),
            w("spec.rules[0].backendRefs[0]", "Service api does not exist in infra"),
        ]
    );
    assert_eq!(
        cross.summary,
        "on Gateway infra/edge and Listener l: all requests → api:80"
    );
    // Pods that could not be listed: no selector is said to select nothing.
    let blind = explain_with(None, false);
    assert!(blind.iter().find(|e| e.name == "nobody").unwrap().warnings.is_empty());
}

#[test]
fn weights_that_overflow_are_summed_exactly() {
    let objects = vec![obj(
        "networking.istio.io",
        "VirtualService",
        "shop",
        "huge",
        json!({"hosts": ["reviews"], "http": [{"route": [
            {"destination": {"host": "reviews"}, "weight": i64::MAX},
            {"destination": {"host": "reviews"}, "weight": i64::MAX}],
            "retries": {"attempts": -1}}]}),
    )];
    let e = one(&objects, "VirtualService", "huge");
    assert_eq!(
        warnings(&e),
        [w(
            "spec.http[0].route",
            "the weights sum to 18446744073709551614, not 100"
        )]
    );
    assert!(e.summary.ends_with("; no retries"), "{}", e.summary);
}

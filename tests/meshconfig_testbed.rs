//! `meshtop meshconfig` against the test bed's real API server, with the meshes' real CRDs
//! (Istio's, Linkerd's, Gateway API's and Kuma's, installed by `scripts/testbed up` from the
//! upstream files): objects that the CRDs' own schemas accept, explained and checked against
//! real pods and Services, every summary and warning asserted exactly.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings}
spec: {selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, labels: {app: reviews, version: v1}}
spec:
  containers:
  - {name: app, image: example/reviews:1, ports: [{name: http, containerPort: 9080}]}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, labels: {app: reviews, version: v2}}
spec:
  containers:
  - {name: app, image: example/reviews:2, ports: [{name: http, containerPort: 9080}]}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings, labels: {app: ratings}}
spec:
  containers:
  - {name: app, image: example/ratings:1, ports: [{name: http, containerPort: 9080}]}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, labels: {app: legacy}}
spec:
  containers:
  - {name: app, image: example/legacy:1, ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - {name: app, image: example/web:1, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 70}
    - {destination: {host: reviews, subset: v9}, weight: 20}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: checkout-deny}
spec:
  selector: {matchLabels: {app: checkout}}
  action: DENY
  rules: [{from: [{source: {namespaces: [web]}}]}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-http}
spec: {podSelector: {matchLabels: {app: web}}, port: http, proxyProtocol: HTTP/1}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-admin}
spec: {podSelector: {matchLabels: {app: web}}, port: 9990}
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: web-api}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-grpc}]
  rules: [{matches: [{path: {type: PathPrefix, value: /api}, method: GET}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: front}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /reviews}}]
    backendRefs: [{name: reviews, port: 9080}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshTimeout
metadata: {name: timeouts}
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: Mesh}
    default: {connectionTimeout: 2s, http: {requestTimeout: 5s}}
---
apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata: {name: backend-clients}
spec:
  targetRef: {kind: Dataplane, labels: {app: backend}}
  rules:
  - default:
      allow: [{spiffeID: {type: Prefix, value: "spiffe://default/ns/web/"}}]
      deny: [{sni: {type: Exact, value: legacy.mesh}}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshRetry
metadata: {name: retries}
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: MeshService, labels: {kuma.io/display-name: backend}}
    default: {http: {numRetries: 3, perTryTimeout: 1s, retryOn: ["5xx", "reset"]}}
"#;

/// `meshtop meshconfig -n NS ARGS`: (exit code, stdout, stderr), the namespace shown as NS.
fn meshconfig(ns: &str, args: &[&str]) -> (i32, String, String) {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("meshconfig")
        .args(["-n", ns, "--kubeconfig"])
        .arg(kubeconfig())
        .args(args)
        .env("XDG_CONFIG_HOME", empty.path())
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().replace(ns, "NS");
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn the_meshes_objects_are_explained_and_their_mistakes_named() {
    if real_fixtures().is_none() {
        return;
    }
    let (client, ns) = setup("meshconfig").await;
    create_yaml(&client, &ns, OBJECTS).await;

    let (code, stdout, stderr) = meshconfig(&ns, &["-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let got: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let o = |kind: &str, name: &str, mesh: &str, summary: &str, affects: &[&str], warnings: Value| {
        json!({"kind": kind, "namespace": "NS", "name": name, "mesh": mesh, "summary": summary,
               "affects": affects, "warnings": warnings})
    };
    let w = |field: &str, message: &str| json!({"field": field, "message": message});
    let expected = json!({"objects": [
        o("VirtualService", "details", "istio",
          "details: 70% to reviews subset v1, 20% to reviews subset v9",
          &["NS/reviews-v1", "NS/reviews-v2"],
          json!([w("spec.hosts[0]", "details matches no Service or ServiceEntry"),
                 w("spec.http[0].route", "the weights sum to 90, not 100"),
                 w("spec.http[0].route[1].destination.subset", "no DestinationRule for reviews defines subset v9")])),
        o("VirtualService", "reviews", "istio",
          "reviews: 90% to subset v1, 10% to subset v2; 3 retries on 5xx, 2s per try",
          &["NS/reviews-v1", "NS/reviews-v2"], json!([])),
        o("DestinationRule", "reviews", "istio",
          "reviews: subsets v1 (version=v1), v2 (version=v2) and v3 (version=v3); least requests first",
          &["NS/reviews-v1", "NS/reviews-v2"],
          json!([w("spec.subsets[2].labels", "subset v3 (version=v3) selects no pod of reviews")])),
        o("PeerAuthentication", "default", "istio", "namespace NS: mTLS required (plain text refused)",
          &["NS/legacy", "NS/ratings", "NS/reviews-v1", "NS/reviews-v2", "NS/web"],
          json!([w("spec.mtls.mode",
                   "STRICT, but these workloads have no Istio proxy: they are not protected by it, and their calls to \
                    STRICT workloads are refused: NS/legacy, NS/web")])),
        o("AuthorizationPolicy", "checkout-deny", "istio", "pods app=checkout: denies requests from namespaces web",
          &[], json!([w("spec.selector", "selects no workload (app=checkout)")])),
        o("Server", "web-admin", "linkerd", "port 9990 (protocol detected) on pods app=web", &["NS/web"],
          json!([w("spec.port", "no pod it selects exposes port 9990")])),
        o("Server", "web-http", "linkerd", "port http (HTTP/1) on pods app=web", &["NS/web"], json!([])),
        o("HTTPRoute", "web-api", "linkerd", "on Server web-grpc: GET /api/*", &[],
          json!([w("spec.parentRefs[0]", "Server web-grpc does not exist")])),
        o("HTTPRoute", "shop", "gateway-api", "on Gateway front for shop.example.com: /reviews/* → reviews:9080",
          &["NS/reviews-v1", "NS/reviews-v2"],
          json!([w("spec.parentRefs[0]", "Gateway front does not exist")])),
        o("MeshTrafficPermission", "backend-clients", "kuma",
          "for proxies labelled app=backend: inbound: allows spiffe://default/ns/web/*, denies SNI legacy.mesh",
          &[], json!([])),
        o("MeshTimeout", "timeouts", "kuma", "for the whole mesh: to the whole mesh: timeouts connect 2s, request 5s",
          &[], json!([])),
        o("MeshRetry", "retries", "kuma",
          "for the whole mesh: to services labelled kuma.io/display-name=backend: 3 HTTP retries on 5xx and reset, 1s per try",
          &[], json!([])),
    ]});
    assert_eq!(got, expected, "{}", serde_json::to_string_pretty(&got).unwrap());

    // The table: each warning under its object, and the count.
    let (code, table, _) = meshconfig(&ns, &[]);
    assert_eq!(code, 0);
    // (The columns are as wide as the real namespace's name, shown here as NS.)
    let lines: Vec<&str> = table.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("DestinationRule "))
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(
        lines[at].split_whitespace().collect::<Vec<_>>().join(" "),
        "DestinationRule istio NS reviews reviews: subsets v1 (version=v1), v2 (version=v2) and v3 (version=v3); \
         least requests first"
    );
    // Under it, past the kind column ("MeshTrafficPermission" and two spaces).
    assert_eq!(
        lines[at + 1],
        format!(
            "{}! spec.subsets[2].labels: subset v3 (version=v3) selects no pod of reviews",
            " ".repeat(23)
        )
    );
    assert!(table.ends_with("\n12 objects, 9 warnings\n"), "{table}");
}

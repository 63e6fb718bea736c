//! Discovery against the real test bed: real manifests and our own for the other meshes,
//! created through the API, classified by the real binary (`meshtop discover -o json`).

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

fn discover(kubeconfig: &std::path::Path, ns: &str) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["discover", "-o", "json", "-n", ns, "--kubeconfig"])
        .arg(kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "discover failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pod<'a>(j: &'a serde_json::Value, prefix: &str) -> &'a serde_json::Value {
    j["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no pod {prefix}* in {j:#}"))
}

/// Control planes (istiod revision canary with ztunnel), ambient, waypoint, revisions,
/// native sidecars, Consul, Kuma, OSM and Cilium, all as real objects on the API server.
const OWN: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod-canary, labels: {app: istiod, istio.io/rev: canary}}
spec:
  replicas: 1
  selector: {matchLabels: {app: istiod, istio.io/rev: canary}}
  template:
    metadata: {labels: {app: istiod, istio.io/rev: canary}}
    spec:
      containers: [{name: discovery, image: docker.io/istio/pilot:1.23.2}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ztunnel}
spec:
  selector: {matchLabels: {app: ztunnel}}
  template:
    metadata: {labels: {app: ztunnel, sidecar.istio.io/inject: "false"}}
    spec:
      containers: [{name: istio-proxy, image: docker.io/istio/ztunnel:1.23.2, ports: [{containerPort: 15020, name: ztunnel-stats}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cilium-envoy}
spec:
  selector: {matchLabels: {k8s-app: cilium-envoy}}
  template:
    metadata: {labels: {k8s-app: cilium-envoy}}
    spec:
      containers: [{name: cilium-envoy, image: quay.io/cilium/cilium-envoy:v1.31.5}]
---
apiVersion: v1
kind: Pod
metadata: {name: app-canary, labels: {istio.io/rev: canary}}
spec:
  initContainers: [{name: istio-init, image: docker.io/istio/proxyv2:1.23.2}]
  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.23.2}]
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-ambient, annotations: {ambient.istio.io/redirection: enabled}}
spec:
  containers: [{name: ratings, image: bookinfo/ratings:1.20}]
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-x, labels: {gateway.istio.io/managed: istio.io-mesh-controller}}
spec:
  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.23.2}]
---
apiVersion: v1
kind: Pod
metadata: {name: unmeshed-app}
spec:
  containers: [{name: app, image: app:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: opted-out, labels: {sidecar.istio.io/inject: "false"}}
spec:
  containers: [{name: app, image: app:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-native, annotations: {linkerd.io/proxy-version: stable-2.14.10}}
spec:
  initContainers:
  - {name: linkerd-init, image: cr.l5d.io/linkerd/proxy-init:v2.2.3}
  - {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10, restartPolicy: Always}
  containers: [{name: web, image: web:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: consul-api, annotations: {consul.hashicorp.com/connect-inject-status: injected}}
spec:
  initContainers: [{name: consul-connect-inject-init, image: hashicorp/consul-k8s-control-plane:1.4.0}]
  containers: [{name: api, image: api:2}, {name: consul-dataplane, image: hashicorp/consul-dataplane:1.4.1}]
---
apiVersion: v1
kind: Pod
metadata: {name: kuma-demo, labels: {kuma.io/mesh: default}}
spec:
  containers: [{name: demo-app, image: kumahq/kuma-counter-demo:1}, {name: kuma-sidecar, image: docker.io/kumahq/kuma-dp:2.9.1}]
---
apiVersion: v1
kind: Pod
metadata: {name: osm-bookbuyer, labels: {osm-proxy-uuid: 0b6b0e0c-1111-2222-3333-444455556666}}
spec:
  initContainers: [{name: osm-init, image: openservicemesh/init:v1.2.0}]
  containers: [{name: bookbuyer, image: openservicemesh/bookbuyer:v1.2.0}, {name: envoy, image: envoyproxy/envoy:v1.22.2}]
"#;

#[tokio::test]
async fn own_manifests_for_every_mesh_shape_are_classified_on_the_test_bed() {
    let (client, ns) = setup("own-meshes").await;
    label_namespace(&client, &ns, "istio-injection", "enabled").await;
    create_yaml(&client, &ns, OWN).await;
    // Wait for the control plane to be fully ready (KCM creates the pods, kwok runs them).
    let kc = kubeconfig();
    let j = wait_for(
        "istiod-canary ready and every pod Running",
        Duration::from_secs(90),
        || {
            let j = discover(&kc, &ns);
            let cp_ready = j["control_planes"]
                .as_array()
                .is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["healthy"] == true));
            let pods = j["pods"]
                .as_array()
                .map_or(0, |p| p.iter().filter(|p| p["phase"] == "Running").count());
            // 9 pods from the manifest, istiod 1, ztunnel 2, cilium-envoy 2.
            async move { (cp_ready && pods == 14).then_some(j) }
        },
    )
    .await;

    let cps = j["control_planes"].as_array().unwrap();
    let istio = cps.iter().find(|c| c["mesh"] == "istio").unwrap();
    assert_eq!(
        (istio["revision"].as_str(), istio["version"].as_str()),
        (Some("canary"), Some("1.23.2"))
    );
    let comps: Vec<(String, u64, u64)> = istio["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["ready"].as_u64().unwrap(),
                c["desired"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        comps,
        [("istiod-canary".to_string(), 1, 1), ("ztunnel".to_string(), 2, 2)]
    );
    let cilium = cps.iter().find(|c| c["mesh"] == "cilium").unwrap();
    assert_eq!(cilium["components"][0]["name"], "cilium-envoy");

    let expect = [
        ("istiod-canary-", "istio", "none"),
        ("ztunnel-", "istio", "node"),
        ("cilium-envoy-", "cilium", "node"),
        ("app-canary", "istio", "sidecar"),
        ("ratings-ambient", "istio", "ambient"),
        ("waypoint-x", "istio", "gateway"),
        ("web-native", "linkerd", "sidecar"),
        ("consul-api", "consul", "sidecar"),
        ("kuma-demo", "kuma", "sidecar"),
        ("osm-bookbuyer", "osm", "sidecar"),
    ];
    for (name, mesh, model) in expect {
        let p = pod(&j, name);
        assert_eq!(
            (p["mesh"].as_str(), p["model"].as_str()),
            (Some(mesh), Some(model)),
            "{name}: {p:#}"
        );
        assert_eq!(p["phase"], "Running", "{name}");
    }
    assert_eq!(pod(&j, "app-canary")["revision"], "canary");
    assert_eq!(pod(&j, "ztunnel-")["proxy"]["metrics_port"], 15020);
    assert_eq!(pod(&j, "web-native")["proxy"]["version"], "stable-2.14.10");
    // Injection is on in this namespace: the plain pod is flagged, the opted-out one is not.
    assert_eq!(pod(&j, "unmeshed-app")["mesh"], serde_json::Value::Null);
    assert_eq!(
        pod(&j, "unmeshed-app")["missing_proxy"],
        "namespace has istio-injection=enabled but the pod has no istio sidecar"
    );
    assert_eq!(pod(&j, "opted-out")["missing_proxy"], serde_json::Value::Null);
    let n = j["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == ns.as_str())
        .unwrap();
    assert_eq!(
        (
            n["pods"].as_u64(),
            n["meshed_pods"].as_u64(),
            n["missing_proxy"].as_u64()
        ),
        (Some(14), Some(12), Some(1))
    );
}

#[tokio::test]
async fn every_real_manifest_is_classified_on_the_test_bed() {
    install_crypto();
    let Some(fixtures) = real_fixtures() else { return };
    let client = client().await;
    let files = [
        ("istio/pods/hello.yaml.injected", "istio", 7),
        ("istio/pods/hello-probes.yaml.injected", "istio", 7),
        ("istio/pods/multi-container.yaml.injected", "istio", 1),
        ("istio/pods/native-sidecar-opt-out.yaml.injected", "istio", 1),
        ("linkerd/pods/inject_emojivoto_pod.golden.yml", "linkerd", 1),
        (
            "linkerd/pods/inject_emojivoto_pod_nativesidecar.golden.yml",
            "linkerd",
            1,
        ),
        ("linkerd/pods/inject_emojivoto_deployment.golden.yml", "linkerd", 1),
    ];
    // One namespace per file: several fixtures reuse the same object names.
    let mut created = Vec::new();
    for (i, (file, mesh, pods)) in files.iter().enumerate() {
        let ns = namespace(&client, &format!("real-{i}")).await;
        create_yaml(&client, &ns, &read(&fixtures.join(file))).await;
        created.push((ns, *file, *mesh, *pods));
    }
    let kc = kubeconfig();
    for (ns, file, mesh, pods) in created {
        let j = wait_for(
            &format!("{pods} Running pods from {file}"),
            Duration::from_secs(120),
            || {
                let j = discover(&kc, &ns);
                let running = j["pods"]
                    .as_array()
                    .map_or(0, |ps| ps.iter().filter(|p| p["phase"] == "Running").count());
                async move { (running == pods).then_some(j) }
            },
        )
        .await;
        let container = if mesh == "istio" {
            "istio-proxy"
        } else {
            "linkerd-proxy"
        };
        for p in j["pods"].as_array().unwrap() {
            assert_eq!(
                (p["mesh"].as_str(), p["model"].as_str()),
                (Some(mesh), Some("sidecar")),
                "{file}: {p:#}"
            );
            assert_eq!(p["proxy"]["container"], container, "{file}");
            assert_eq!(p["ready"], true, "{file}: {p:#}");
        }
    }
}

/// A user who may list pods in one namespace only: meshtop reports the rest as forbidden,
/// with the API's reason, and still shows what the user may see.
#[tokio::test]
async fn forbidden_namespaces_are_reported_not_fatal() {
    install_crypto();
    let client = client().await;
    let open = namespace(&client, "rbac-open").await;
    let closed = namespace(&client, "rbac-closed").await;
    create_yaml(
        &client,
        &open,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: visible}\nspec:\n  containers: [{name: a, image: a}]\n",
    )
    .await;
    create_yaml(
        &client,
        &closed,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: hidden}\nspec:\n  containers: [{name: a, image: a}]\n",
    )
    .await;
    let user = format!("viewer-{open}");
    create_yaml(
        &client,
        &open,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: pod-reader}}\nrules:\n- {{apiGroups: [\"\"], resources: [pods], verbs: [get, list, watch]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: pod-reader}}\nsubjects: [{{kind: User, name: {user}, apiGroup: rbac.authorization.k8s.io}}]\nroleRef: {{kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}}\n"
        ),
    )
    .await;
    create_yaml(
        &client,
        &open,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: ns-reader-{open}}}\nrules:\n- {{apiGroups: [\"\"], resources: [namespaces], verbs: [get, list, watch]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: ns-reader-{open}}}\nsubjects: [{{kind: User, name: {user}, apiGroup: rbac.authorization.k8s.io}}]\nroleRef: {{kind: ClusterRole, name: ns-reader-{open}, apiGroup: rbac.authorization.k8s.io}}\n"
        ),
    )
    .await;
    running_pod(&client, &open, "visible").await;
    let dir = tempfile::tempdir().unwrap();
    let kc = impersonating_kubeconfig(dir.path(), &user);

    let out = Command::new(BIN)
        .args(["discover", "-o", "json", "--kubeconfig"])
        .arg(&kc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = j["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["visible"]);
    let errors = j["errors"].as_array().unwrap();
    let err = |resource: &str, ns: Option<&str>| {
        errors
            .iter()
            .find(|e| e["resource"] == resource && e["namespace"].as_str() == ns)
            .unwrap_or_else(|| panic!("no {resource} error for {ns:?} in {errors:#?}"))
    };
    let cluster_wide = err("pods", None);
    assert_eq!(cluster_wide["kind"], "forbidden");
    assert_eq!(
        cluster_wide["message"],
        format!(
            "pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" at the cluster scope (403); watching each namespace instead"
        )
    );
    let per_ns = err("pods", Some(&closed));
    assert_eq!(
        per_ns["message"],
        format!(
            "pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" in the namespace \"{closed}\" (403)"
        )
    );
    assert_eq!(err("customresourcedefinitions", None)["kind"], "forbidden");
}

//! Mesh detection on the real injected manifests in ../shared/fixtures/real (read in place)
//! and on our own manifests for the meshes and shapes the real ones do not cover.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use meshtop::mesh::detect::{PodMesh, ProxyInfo, classify_pod};
use meshtop::mesh::{Mesh, Model};
use meshtop::model::PodInfo;
use meshtop::source::kube::pod_info;

/// A manifest (Pod, or a Deployment's pod template) as the kube source would see the pod.
fn pod_from_yaml(yaml: &str) -> PodInfo {
    use serde::Deserialize;
    // Injected goldens end with a `---` separator: take the first non-empty document.
    let v = serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde_yaml::Value::deserialize(d).unwrap())
        .find(|v| !v.is_null())
        .expect("a document");
    match v["kind"].as_str().unwrap() {
        "Pod" => pod_info(&serde_yaml::from_value::<Pod>(v).unwrap()),
        "Deployment" => {
            let d: Deployment = serde_yaml::from_value(v).unwrap();
            let t = d.spec.unwrap().template;
            let mut meta = t.metadata.unwrap_or_default();
            meta.name = d.metadata.name.clone();
            pod_info(&Pod {
                metadata: meta,
                spec: t.spec,
                status: None,
            })
        }
        k => panic!("unexpected kind {k}"),
    }
}

fn sidecar(mesh: Mesh, container: &str, version: &str, port: u16, path: &str, revision: Option<&str>) -> PodMesh {
    PodMesh {
        mesh: Some(mesh),
        model: Model::Sidecar,
        role: None,
        proxy: Some(ProxyInfo {
            container: container.into(),
            version: Some(version.into()),
            metrics_port: Some(port),
            metrics_path: Some(path.into()),
        }),
        revision: revision.map(Into::into),
    }
}

#[test]
fn real_istio_and_linkerd_manifests_are_classified() {
    let Some(dir) = support::real_fixtures() else { return };
    let istio = sidecar(
        Mesh::Istio,
        "istio-proxy",
        "latest",
        15020,
        "/stats/prometheus",
        Some("default"),
    );
    let linkerd = sidecar(
        Mesh::Linkerd,
        "linkerd-proxy",
        "test-inject-proxy-version",
        4191,
        "/metrics",
        None,
    );
    let cases = [
        ("istio/pods/hello.yaml.injected", &istio),
        ("istio/pods/hello-probes.yaml.injected", &istio),
        ("istio/pods/multi-container.yaml.injected", &istio),
        ("istio/pods/native-sidecar-opt-out.yaml.injected", &istio),
        ("linkerd/pods/inject_emojivoto_pod.golden.yml", &linkerd),
        ("linkerd/pods/inject_emojivoto_pod_nativesidecar.golden.yml", &linkerd),
        ("linkerd/pods/inject_emojivoto_deployment.golden.yml", &linkerd),
    ];
    for (file, want) in cases {
        let pod = pod_from_yaml(&support::read(&dir.join(file)));
        assert_eq!(&classify_pod(&pod), want, "{file}");
    }
    // Every real file in the pods folders is covered above.
    let mut seen = 0;
    for mesh in ["istio", "linkerd"] {
        seen += std::fs::read_dir(dir.join(mesh).join("pods")).unwrap().count();
    }
    assert_eq!(seen, cases.len());
}

const ZTUNNEL: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ztunnel-x7k2p
  namespace: istio-system
  labels: {app: ztunnel, sidecar.istio.io/inject: "false"}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: ztunnel, uid: u1, controller: true}]
spec:
  containers:
  - name: istio-proxy
    image: docker.io/istio/ztunnel:1.24.0-distroless
    ports: [{containerPort: 15020, name: ztunnel-stats}]
"#;

const AMBIENT_APP: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ratings-v1-abc
  annotations: {ambient.istio.io/redirection: enabled}
spec:
  containers: [{name: ratings, image: bookinfo/ratings:1.20}]
"#;

const WAYPOINT: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: waypoint-6d8f9-abc
  labels: {gateway.istio.io/managed: istio.io-mesh-controller, gateway.networking.k8s.io/gateway-name: waypoint}
spec:
  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]
"#;

const ISTIO_REVISION: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: app-canary
  labels: {istio.io/rev: canary, security.istio.io/tlsMode: istio}
  annotations: {sidecar.istio.io/status: '{"revision":"canary"}'}
spec:
  initContainers:
  - {name: istio-init, image: docker.io/istio/proxyv2:1.23.2}
  containers:
  - {name: app, image: app:1}
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.23.2}
"#;

const ISTIOD_CANARY: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: istiod-canary-5f7b-xyz
  labels: {app: istiod, istio.io/rev: canary, pod-template-hash: 5f7b}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: istiod-canary-5f7b, uid: u2, controller: true}]
spec:
  containers: [{name: discovery, image: docker.io/istio/pilot:1.23.2}]
"#;

const CONSUL: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: api-7d9
  annotations: {consul.hashicorp.com/connect-inject-status: injected}
spec:
  initContainers: [{name: consul-connect-inject-init, image: hashicorp/consul-k8s-control-plane:1.4.0}]
  containers:
  - {name: api, image: api:2}
  - {name: consul-dataplane, image: hashicorp/consul-dataplane:1.4.1}
"#;

const KUMA_CNI: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: demo-app
  labels: {kuma.io/mesh: default}
  annotations: {kuma.io/sidecar-injected: "true"}
spec:
  containers:
  - {name: demo-app, image: kumahq/kuma-counter-demo:1}
  - {name: kuma-sidecar, image: docker.io/kumahq/kuma-dp:2.9.1}
"#;

const OSM: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: bookbuyer-1
  labels: {osm-proxy-uuid: 0b6b0e0c-1111-2222-3333-444455556666}
spec:
  initContainers: [{name: osm-init, image: openservicemesh/init:v1.2.0}]
  containers:
  - {name: bookbuyer, image: openservicemesh/bookbuyer:v1.2.0}
  - {name: envoy, image: envoyproxy/envoy:v1.22.2}
"#;

const PLAIN_ENVOY: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: edge-envoy}
spec:
  containers: [{name: envoy, image: envoyproxy/envoy:v1.30.1}]
"#;

const CILIUM_ENVOY: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: cilium-envoy-q8x2
  namespace: kube-system
  labels: {k8s-app: cilium-envoy}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: cilium-envoy, uid: u3, controller: true}]
spec:
  hostNetwork: true
  containers: [{name: cilium-envoy, image: quay.io/cilium/cilium-envoy:v1.31.5}]
"#;

const LINKERD_NATIVE: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-native
  annotations: {linkerd.io/proxy-version: stable-2.14.10}
spec:
  initContainers:
  - {name: linkerd-init, image: cr.l5d.io/linkerd/proxy-init:v2.2.3}
  - {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10, restartPolicy: Always}
  containers: [{name: web, image: web:1}]
"#;

fn class(yaml: &str) -> PodMesh {
    classify_pod(&pod_from_yaml(yaml))
}

#[test]
fn own_manifests_cover_other_meshes_and_shapes() {
    let z = class(ZTUNNEL);
    assert_eq!(
        (z.mesh, z.model, z.proxy.as_ref().map(|p| p.metrics_port)),
        (Some(Mesh::Istio), Model::Node, Some(Some(15020)))
    );
    assert_eq!(z.proxy.unwrap().version.as_deref(), Some("1.24.0-distroless"));

    assert_eq!(
        class(AMBIENT_APP),
        PodMesh {
            mesh: Some(Mesh::Istio),
            model: Model::Ambient,
            ..PodMesh::NONE
        }
    );

    let w = class(WAYPOINT);
    assert_eq!((w.mesh, w.model), (Some(Mesh::Istio), Model::Gateway));

    // ztunnel whose DaemonSet is not visible: a bare pod, found by its image (its container
    // is named istio-proxy, so without this it would pass for a sidecar); or by its label
    // alone, from a private mirror.
    let bare = ZTUNNEL.replace(
        "  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: ztunnel, uid: u1, controller: true}]\n",
        "",
    );
    // Each case leaves only one sign: here the image (no label, no named port).
    let b = class(
        &bare
            .replace("{app: ztunnel, ", "{")
            .replace(", name: ztunnel-stats", ""),
    );
    assert_eq!(
        (b.mesh, b.model, b.role),
        (
            Some(Mesh::Istio),
            Model::Node,
            Some(meshtop::mesh::rules::Role::NodeProxy)
        )
    );
    assert_eq!(b.proxy.unwrap().metrics_port, Some(15020));
    let l = class(
        &bare
            .replace(
                "docker.io/istio/ztunnel:1.24.0-distroless",
                "registry.corp/mesh/zt:1.24.0",
            )
            .replace(", name: ztunnel-stats", ""),
    );
    assert_eq!((l.mesh, l.model), (Some(Mesh::Istio), Model::Node));
    // Neither its image nor its label: the name its chart gives the metrics port.
    let anonymous = bare.replace("{app: ztunnel, ", "{").replace(
        "docker.io/istio/ztunnel:1.24.0-distroless",
        "registry.corp/mesh/zt:1.24.0",
    );
    assert_eq!(class(&anonymous).model, Model::Node);
    let unnamed = anonymous.replace(", name: ztunnel-stats", "");
    assert_eq!(
        class(&unnamed).model,
        Model::Sidecar,
        "nothing says ztunnel: an istio-proxy container"
    );
    // A waypoint seen by istiod's istio.io/gateway-name label only.
    let g = class(&WAYPOINT.replace(
        "{gateway.istio.io/managed: istio.io-mesh-controller, gateway.networking.k8s.io/gateway-name: waypoint}",
        "{istio.io/gateway-name: waypoint}",
    ));
    assert_eq!(
        (g.mesh, g.model, g.proxy.map(|p| p.metrics_port)),
        (Some(Mesh::Istio), Model::Gateway, Some(Some(15020)))
    );

    let r = class(ISTIO_REVISION);
    assert_eq!((r.model, r.revision.as_deref()), (Model::Sidecar, Some("canary")));
    assert_eq!(r.proxy.unwrap().version.as_deref(), Some("1.23.2"));

    let cp = class(ISTIOD_CANARY);
    assert_eq!(
        (cp.mesh, cp.role, cp.revision.as_deref()),
        (
            Some(Mesh::Istio),
            Some(meshtop::mesh::rules::Role::Control),
            Some("canary")
        )
    );

    assert_eq!(
        class(CONSUL),
        sidecar(Mesh::Consul, "consul-dataplane", "1.4.1", 20200, "/metrics", None)
    );
    assert_eq!(
        class(KUMA_CNI),
        sidecar(Mesh::Kuma, "kuma-sidecar", "2.9.1", 5670, "/metrics", None)
    );
    assert_eq!(
        class(OSM),
        sidecar(Mesh::Osm, "envoy", "v1.22.2", 15010, "/stats/prometheus", None)
    );
    assert_eq!(class(PLAIN_ENVOY), PodMesh::NONE, "a lone envoy container is not OSM");

    let c = class(CILIUM_ENVOY);
    assert_eq!((c.mesh, c.model), (Some(Mesh::Cilium), Model::Node));

    assert_eq!(
        class(LINKERD_NATIVE),
        sidecar(Mesh::Linkerd, "linkerd-proxy", "stable-2.14.10", 4191, "/metrics", None)
    );
}

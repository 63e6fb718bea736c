//! Baseline clones (`sweep --in-cluster --baseline-clone deploy/NAME`): an uninjected copy
//! of the target workload, so the showdown runs against the same code, image, arguments,
//! resources and replicas with the mesh as the only difference. The copy and its Service
//! are built here without I/O ([`plan`]); [`create`], [`wait_ready`] and [`delete`] talk
//! to the API server.
//!
//! The copy's pods carry only meshtop's labels: with the original's labels, the original
//! Service would select them and send meshed traffic to unmeshed pods.

use std::collections::BTreeMap;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, ResourceExt};

use super::cleanup::{self, Leftover};
use super::{MANAGED_BY, RUN_LABEL};
use crate::model::access::PlannedWrite;

/// The label naming the workload a clone copies (its pods' selector, with the run).
pub const CLONE_OF: &str = "meshtop.dev/baseline-of";
/// Annotation prefixes of the meshes' per-pod settings beyond the mesh rules' own key
/// prefixes (`mesh::rules`): none is copied, so that no mesh setting (a proxy's resources,
/// a port exclusion, a revision) reaches the copy.
const MORE_MESH_ANNOTATIONS: &[&str] = &[
    "traffic.sidecar.istio.io/",
    "config.alpha.linkerd.io/",
    "traffic.kuma.io/",
    "prometheus.metrics.kuma.io/",
    "config.nsm.nginx.com/",
];

fn is_mesh_annotation(key: &str) -> bool {
    MORE_MESH_ANNOTATIONS.iter().any(|p| key.starts_with(p))
        || crate::mesh::rules::all()
            .iter()
            .flat_map(|r| r.key_prefixes.iter())
            .any(|p| key.starts_with(p.as_str()))
}
/// How long the copy may take to have every replica available.
pub const READY_LIMIT: Duration = Duration::from_secs(180);
/// At the end, how long to wait for the copy's pods to be gone.
const DELETE_WAIT: Duration = Duration::from_secs(60);

/// `deploy/NAME` (also `deployment/`, `deployments/`, `deployment.apps/`): the name.
pub fn workload_ref(s: &str) -> Result<String, String> {
    let s = s.trim();
    let (kind, name) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not deploy/NAME (the Deployment to copy)"))?;
    if !matches!(
        kind.to_ascii_lowercase().as_str(),
        "deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps"
    ) {
        return Err(format!(
            "{s:?}: only a Deployment can be cloned (deploy/NAME), not {kind:?}"
        ));
    }
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !valid {
        return Err(format!("{s:?}: {name:?} is not a Deployment name"));
    }
    Ok(name.to_string())
}

/// The copy of one Deployment and its Service, ready to create.
#[derive(Debug, Clone)]
pub struct ClonePlan {
    pub run: String,
    pub namespace: String,
    /// The Deployment copied.
    pub source: String,
    /// The Service whose ports the copy's Service has (None: the containers' ports).
    pub source_service: Option<Service>,
    pub deployment: Deployment,
    /// Its owner reference is set when the Deployment exists.
    pub service: Service,
}

/// The copy's name: the source's (shortened), "-baseline-" and the run, a DNS-1035 label
/// as Service names must be.
pub fn clone_name(source: &str, run: &str) -> String {
    let mut base: String = source.replace('.', "-").chars().take(40).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base.insert_str(0, "b-");
    }
    format!("{base}-baseline-{run}")
}

/// Builds the copy of `original` (with the Services of its namespace, to find the one
/// that selects it; `prefer` names one when several do). Refuses a template that already
/// holds a mesh's proxy (injected by hand): its copy would be meshed too.
pub fn plan(original: &Deployment, services: &[Service], prefer: Option<&str>, run: &str) -> Result<ClonePlan, String> {
    let source = original.name_any();
    let namespace = original.namespace().unwrap_or_default();
    let spec = original
        .spec
        .as_ref()
        .ok_or_else(|| format!("deploy/{source} has no spec"))?;
    let template = &spec.template;
    let pod_spec = template
        .spec
        .as_ref()
        .ok_or_else(|| format!("deploy/{source} has no pod template"))?;
    let proxies = crate::mesh::rules::all().iter().filter_map(|r| r.sidecar.as_ref());
    for (rule, c) in proxies.flat_map(|s| {
        pod_spec
            .containers
            .iter()
            .chain(pod_spec.init_containers.iter().flatten())
            .map(move |c| (s, c))
    }) {
        // OSM's proxy is named plainly "envoy": it counts with OSM's init container.
        let is_proxy = rule.containers.contains(&c.name) && !rule.corroborate || rule.init_containers.contains(&c.name);
        if is_proxy {
            return Err(format!(
                "deploy/{source}'s pod template already holds a mesh's proxy (container {}): its copy \
                 would be meshed too; clone a workload whose proxy is injected when its pods are created",
                c.name
            ));
        }
    }
    if spec.replicas == Some(0) {
        return Err(format!(
            "deploy/{source} is scaled to 0 replicas: there is nothing to compare with (scale it up first)"
        ));
    }
    // What two copies of a pod cannot share, or must not: the copy would not start beside
    // the original, or would write the original's data.
    if pod_spec.host_network == Some(true) {
        return Err(format!(
            "deploy/{source} runs on the host's network: its copy would take the same ports on the same nodes"
        ));
    }
    if let Some(c) = pod_spec
        .containers
        .iter()
        .find(|c| c.ports.iter().flatten().any(|p| p.host_port.is_some()))
    {
        return Err(format!(
            "deploy/{source}'s container {} takes a host port: its copy would conflict with it",
            c.name
        ));
    }
    if let Some(v) = pod_spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
    {
        return Err(format!(
            "deploy/{source} mounts persistent volume {}: its copy would share the original's data (or wait for its \
             claim); clone a stateless workload",
            v.name
        ));
    }
    let pod_labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut selecting: Vec<&Service> = services
        .iter()
        .filter(|s| {
            // A headless Service has no address to send load to.
            let spec = s.spec.as_ref();
            let sel = spec.and_then(|s| s.selector.as_ref());
            spec.and_then(|s| s.cluster_ip.as_deref()) != Some("None")
                && sel.is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v)))
        })
        .collect();
    selecting.sort_by_key(|s| s.name_any());
    let source_service = prefer
        .and_then(|p| selecting.iter().find(|s| s.name_any() == p))
        .or_else(|| selecting.first())
        .map(|s| (*s).clone());

    let name = clone_name(&source, run);
    let mut meta_labels = BTreeMap::from([
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
        (RUN_LABEL.to_string(), run.to_string()),
    ]);
    let selector = BTreeMap::from([
        (RUN_LABEL.to_string(), run.to_string()),
        (CLONE_OF.to_string(), source.clone()),
    ]);
    meta_labels.extend(selector.clone());
    let mut labels = meta_labels.clone();
    labels.extend(super::no_injection_labels());
    let mut annotations: BTreeMap<String, String> = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !is_mesh_annotation(k))
        // What the last rollout restarted at, not the app's.
        .filter(|(k, _)| k != "kubectl.kubernetes.io/restartedAt")
        .collect();
    annotations.extend(super::no_injection_annotations());
    let mut pod_spec = pod_spec.clone();
    follow_own_pods(&mut pod_spec, &pod_labels, &selector);
    let meta = ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(namespace.clone()),
        labels: Some(meta_labels.clone()),
        annotations: Some(BTreeMap::from([(CLONE_OF.to_string(), format!("deploy/{source}"))])),
        ..ObjectMeta::default()
    };
    let deployment = Deployment {
        metadata: meta.clone(),
        spec: Some(DeploymentSpec {
            replicas: Some(spec.replicas.unwrap_or(1)),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template: k8s_openapi::api::core::v1::PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec.clone()),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    let ports: Vec<ServicePort> = match &source_service {
        Some(s) => s
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|p| ServicePort {
                name: p.name,
                port: p.port,
                target_port: p.target_port,
                protocol: p.protocol,
                app_protocol: p.app_protocol,
                node_port: None,
            })
            .collect(),
        None => {
            // Each port once, each named (the API server wants names when there are two).
            let mut seen = std::collections::BTreeSet::new();
            pod_spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .filter_map(|p| {
                    let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
                    seen.insert((p.container_port, protocol.clone())).then(|| ServicePort {
                        name: Some(format!("p{}-{}", p.container_port, protocol.to_ascii_lowercase())),
                        port: p.container_port,
                        target_port: Some(IntOrString::Int(p.container_port)),
                        protocol: Some(protocol),
                        ..ServicePort::default()
                    })
                })
                .collect()
        }
    };
    if ports.is_empty() {
        return Err(format!(
            "no Service selects deploy/{source}'s pods and its containers declare no port: the copy's Service would have no port"
        ));
    }
    let service = Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    };
    Ok(ClonePlan {
        run: run.to_string(),
        namespace,
        source,
        source_service,
        deployment,
        service,
    })
}

/// Pod affinity, anti-affinity and topology spread that select the original's pods select
/// the copy's own instead: "one per node" stays one copy per node, and no rule ties the
/// copy to (or keeps it from) the original's nodes.
fn follow_own_pods(
    pod: &mut k8s_openapi::api::core::v1::PodSpec,
    original: &BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) {
    let selects_original = |s: &Option<LabelSelector>| {
        s.as_ref().is_some_and(|s| {
            let labels = || s.match_labels.iter().flatten();
            let exprs = || s.match_expressions.iter().flatten();
            labels().count() + exprs().count() > 0
                && labels().all(|(k, v)| original.get(k) == Some(v))
                && exprs().all(|e| {
                    let value = original.get(&e.key);
                    let mut values = e.values.iter().flatten();
                    match e.operator.as_str() {
                        "In" => value.is_some_and(|v| values.any(|x| x == v)),
                        "NotIn" => value.is_none_or(|v| !values.any(|x| x == v)),
                        "Exists" => value.is_some(),
                        "DoesNotExist" => value.is_none(),
                        _ => false,
                    }
                })
        })
    };
    let fix = |s: &mut Option<LabelSelector>| {
        if selects_original(s) {
            *s = Some(LabelSelector {
                match_labels: Some(own.clone()),
                ..LabelSelector::default()
            });
        }
    };
    for c in pod.topology_spread_constraints.iter_mut().flatten() {
        fix(&mut c.label_selector);
    }
    let Some(a) = pod.affinity.as_mut() else { return };
    let terms = a
        .pod_affinity
        .iter_mut()
        .flat_map(|p| {
            p.required_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten()
                .chain(
                    p.preferred_during_scheduling_ignored_during_execution
                        .iter_mut()
                        .flatten()
                        .map(|w| &mut w.pod_affinity_term),
                )
        })
        .chain(a.pod_anti_affinity.iter_mut().flat_map(|p| {
            p.required_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten()
                .chain(
                    p.preferred_during_scheduling_ignored_during_execution
                        .iter_mut()
                        .flatten()
                        .map(|w| &mut w.pod_affinity_term),
                )
        }));
    for t in terms {
        fix(&mut t.label_selector);
    }
}

impl ClonePlan {
    pub fn name(&self) -> String {
        self.deployment.name_any()
    }

    pub fn replicas(&self) -> i32 {
        self.deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }

    /// The label selector of the copy's objects and pods.
    pub fn selector(&self) -> String {
        format!("{RUN_LABEL}={},{CLONE_OF}={}", self.run, self.source)
    }

    /// What will be written, for the refusal without --allow-writes and the notice.
    pub fn writes(&self) -> Vec<PlannedWrite> {
        let ns = Some(self.namespace.clone());
        let images: Vec<String> = self
            .deployment
            .spec
            .iter()
            .flat_map(|s| s.template.spec.iter())
            .flat_map(|p| p.containers.iter())
            .filter_map(|c| c.image.clone())
            .collect();
        let ports: Vec<String> = self
            .service
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .map(|p| p.port.to_string())
            .collect();
        vec![
            PlannedWrite {
                verb: "create",
                kind: format!(
                    "Deployment (uninjected copy of deploy/{}: {} replica{}, image {})",
                    self.source,
                    self.replicas(),
                    if self.replicas() == 1 { "" } else { "s" },
                    images.join(", ")
                ),
                name: self.name(),
                namespace: ns.clone(),
            },
            PlannedWrite {
                verb: "create",
                kind: format!("Service (port {}), owned by the copy", ports.join(", ")),
                name: self.name(),
                namespace: ns,
            },
        ]
    }

    /// The ports of the source's Service (or containers), for the URLs.
    fn ports(&self) -> Vec<ServicePort> {
        self.service
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
    }

    /// The URL of the meshed original when no target is given: its Service's cluster IP,
    /// first port. None without a Service.
    pub fn source_url(&self) -> Option<String> {
        let s = self.source_service.as_ref()?;
        let ip = s.spec.as_ref()?.cluster_ip.as_deref().filter(|ip| *ip != "None")?;
        let port = self.ports().first()?.port;
        Some(format!("http://{}:{port}/", host(ip)))
    }

    /// The copy's URL for the sweep, answering what `meshed` (the meshed target's URL)
    /// asks of the original: the same scheme, path and query, on the copy's Service's
    /// `cluster_ip` and the port matching the one `meshed` names (a Service port, or a
    /// pod's container port), else the first.
    pub fn url(&self, meshed: Option<&str>, cluster_ip: &str) -> Result<String, String> {
        let ports = self.ports();
        let first = ports.first().map_or(80, |p| p.port);
        let Some(u) = meshed.and_then(|m| url::Url::parse(m).ok()) else {
            return Ok(format!("http://{}:{first}/", host(cluster_ip)));
        };
        let asked = u.port_or_known_default();
        let port = asked
            .and_then(|a| {
                let a = i32::from(a);
                ports
                    .iter()
                    .find(|p| p.port == a)
                    .or_else(|| ports.iter().find(|p| p.target_port == Some(IntOrString::Int(a))))
                    .or_else(|| {
                        // A named target port: the container port of that name.
                        let named = self.deployment.spec.as_ref()?.template.spec.as_ref()?.containers.iter();
                        let name = named
                            .flat_map(|c| c.ports.iter().flatten())
                            .find(|cp| cp.container_port == a)?
                            .name
                            .clone()?;
                        ports
                            .iter()
                            .find(|p| p.target_port == Some(IntOrString::String(name.clone())))
                    })
            })
            .map(|p| p.port)
            .ok_or_else(|| {
                let from = match &self.source_service {
                    Some(s) => format!("Service {}", s.name_any()),
                    None => format!("the containers of deploy/{}", self.source),
                };
                let ports: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
                format!(
                    "the meshed target's port ({}) is none of the ports the copy takes from {from} ({}): \
                     name the target by that Service or its pods' port",
                    asked.map_or("none".to_string(), |a| a.to_string()),
                    ports.join(", ")
                )
            })?;
        let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
        Ok(format!(
            "{}://{}:{port}{}{query}",
            u.scheme(),
            host(cluster_ip),
            u.path()
        ))
    }

    /// The copy and its Service, each by name.
    pub fn objects(&self) -> Vec<Leftover> {
        ["Deployment", "Service"]
            .into_iter()
            .map(|kind| Leftover {
                kind,
                namespace: self.namespace.clone(),
                name: self.name(),
            })
            .collect()
    }
}

fn host(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

/// Reads the Deployment to copy and its namespace's Services, and plans the copy.
pub async fn read(
    client: &Client,
    namespace: &str,
    source: &str,
    prefer: Option<&str>,
    run: &str,
) -> Result<ClonePlan> {
    let original = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get_opt(source)
        .await
        .wrap_err_with(|| format!("--baseline-clone: reading deploy/{source} in namespace {namespace}"))?
        .ok_or_else(|| {
            crate::exit::bad_input(format!(
                "--baseline-clone: no Deployment {source} in namespace {namespace} (--namespace names another)"
            ))
        })?;
    let services = Api::<Service>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .wrap_err_with(|| format!("--baseline-clone: listing the Services of namespace {namespace}"))?;
    plan(&original, &services.items, prefer, run).map_err(|e| crate::exit::bad_input(format!("--baseline-clone: {e}")))
}

/// Creates the copy, then its Service owned by it (deleting the copy deletes the Service,
/// whatever happens to meshtop). Returns the Service's cluster IP.
pub async fn create(client: &Client, plan: &ClonePlan) -> Result<String> {
    let ns = &plan.namespace;
    let created = Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &plan.deployment)
        .await
        .wrap_err_with(|| format!("creating Deployment {ns}/{}", plan.name()))?;
    let mut service = plan.service.clone();
    service.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: plan.name(),
        uid: created.metadata.uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    }]);
    let service = Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await
        .wrap_err_with(|| format!("creating Service {ns}/{}", plan.name()))?;
    service
        .spec
        .and_then(|s| s.cluster_ip)
        .filter(|ip| !ip.is_empty() && ip != "None")
        .ok_or_else(|| eyre!("Service {ns}/{} was given no cluster IP", plan.name()))
}

/// Waits (at most `limit`) until every replica of the copy is available; a pod stuck on
/// its image or config ends the wait with its reason.
pub async fn wait_ready(client: &Client, plan: &ClonePlan, limit: Duration) -> Result<()> {
    let ns = &plan.namespace;
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let until = tokio::time::Instant::now() + limit;
    let mut why = String::from("no pod yet");
    loop {
        let d = deployments
            .get(&plan.name())
            .await
            .wrap_err_with(|| format!("reading Deployment {ns}/{}", plan.name()))?;
        let available = d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        if available >= plan.replicas() {
            return Ok(());
        }
        // The ReplicaSet could not make a pod (a quota, an admission webhook): no wait mends it.
        if let Some(c) = d
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        {
            return Err(eyre!(
                "the baseline copy {ns}/{} cannot make its pods: {}",
                plan.name(),
                c.message.as_deref().or(c.reason.as_deref()).unwrap_or("ReplicaFailure")
            ));
        }
        let listed = pods
            .list(&ListParams::default().labels(&plan.selector()))
            .await
            .wrap_err_with(|| format!("listing the pods of Deployment {ns}/{}", plan.name()))?;
        for p in &listed.items {
            if let Some(c) = p
                .status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            {
                why = format!(
                    "pod {} is not scheduled: {}",
                    p.name_any(),
                    c.message.as_deref().or(c.reason.as_deref()).unwrap_or("")
                );
            }
            for (reason, message) in super::run::waiting(p) {
                if super::run::STUCK.contains(&reason.as_str()) {
                    return Err(eyre!(
                        "the baseline copy's pod {ns}/{} cannot start: {reason}{}",
                        p.name_any(),
                        message.map(|m| format!(" ({m})")).unwrap_or_default()
                    ));
                }
                why = format!("pod {} is waiting: {reason}", p.name_any());
            }
        }
        if !listed.items.is_empty() && why == "no pod yet" {
            why = format!("{available} of {} replicas available", plan.replicas());
        }
        if tokio::time::Instant::now() >= until {
            return Err(eyre!(
                "the baseline copy {ns}/{} was not ready after {}s: {why}",
                plan.name(),
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Deletes the copy and its Service, and waits until its pods are gone. Returns what is
/// still there.
pub async fn delete(client: &Client, plan: &ClonePlan) -> Result<Vec<Leftover>> {
    cleanup::delete_run(client, &plan.namespace, &plan.objects(), &plan.selector(), DELETE_WAIT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> T {
        serde_yaml::from_str(s).unwrap()
    }

    fn original() -> Deployment {
        yaml(
            r#"
metadata: {name: reviews, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: reviews}}
  template:
    metadata:
      labels: {app: reviews, version: v1}
      annotations: {sidecar.istio.io/proxyCPU: 200m, linkerd.io/inject: enabled, prometheus.io/scrape: "true", kubectl.kubernetes.io/restartedAt: "2026-01-01T00:00:00Z"}
    spec:
      serviceAccountName: reviews
      containers:
      - name: app
        image: example/reviews:1.2
        args: [--port, "9080"]
        ports: [{name: http, containerPort: 9080}]
        resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {memory: 128Mi}}
"#,
        )
    }

    fn services() -> Vec<Service> {
        vec![
            yaml("metadata: {name: other, namespace: shop}\nspec: {selector: {app: other}, ports: [{port: 80}]}"),
            yaml(
                "metadata: {name: reviews, namespace: shop}\nspec: {clusterIP: 10.96.0.10, selector: {app: reviews}, ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]}",
            ),
            yaml("metadata: {name: headless, namespace: shop}\nspec: {ports: [{port: 1}]}"),
        ]
    }

    #[test]
    fn the_copy_has_the_pod_spec_and_replicas_and_no_mesh() {
        let c = plan(&original(), &services(), None, "0badcafe").unwrap();
        assert_eq!(c.name(), "reviews-baseline-0badcafe");
        assert_eq!(c.namespace, "shop");
        let d = c.deployment.spec.as_ref().unwrap();
        assert_eq!(d.replicas, Some(3));
        let t = d.template.spec.as_ref().unwrap();
        assert_eq!(
            t,
            original().spec.unwrap().template.spec.as_ref().unwrap(),
            "the same pod spec"
        );
        let meta = d.template.metadata.as_ref().unwrap();
        let labels = meta.labels.as_ref().unwrap();
        // Not the original's labels: its Service must not select the copy.
        assert_eq!(labels.get("app"), None);
        assert_eq!(labels["meshtop.dev/run"], "0badcafe");
        assert_eq!(labels["meshtop.dev/baseline-of"], "reviews");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "meshtop");
        assert_eq!(labels["sidecar.istio.io/inject"], "false");
        assert_eq!(labels["istio.io/dataplane-mode"], "none");
        let ann = meta.annotations.as_ref().unwrap();
        assert_eq!(
            ann["linkerd.io/inject"], "disabled",
            "the original's enabled is overridden"
        );
        assert_eq!(ann.get("sidecar.istio.io/proxyCPU"), None, "no mesh setting is copied");
        assert_eq!(ann.get("kubectl.kubernetes.io/restartedAt"), None);
        assert_eq!(ann["prometheus.io/scrape"], "true", "the app's own annotations stay");
        assert_eq!(
            d.selector.match_labels.as_ref().unwrap(),
            &BTreeMap::from([
                ("meshtop.dev/baseline-of".to_string(), "reviews".to_string()),
                ("meshtop.dev/run".to_string(), "0badcafe".to_string()),
            ])
        );
        // Its Service: the source Service's ports, no node port, selecting the copy.
        let s = c.service.spec.as_ref().unwrap();
        assert_eq!(c.source_service.as_ref().unwrap().name_any(), "reviews");
        assert_eq!(s.selector, d.selector.match_labels);
        let p = &s.ports.as_ref().unwrap()[0];
        assert_eq!(
            (p.port, p.target_port.clone(), p.node_port),
            (80, Some(IntOrString::String("http".into())), None)
        );
        assert_eq!(c.selector(), "meshtop.dev/run=0badcafe,meshtop.dev/baseline-of=reviews");
        let writes: Vec<String> = c.writes().iter().map(ToString::to_string).collect();
        assert_eq!(
            writes,
            [
                "create Deployment (uninjected copy of deploy/reviews: 3 replicas, image example/reviews:1.2) reviews-baseline-0badcafe in namespace shop",
                "create Service (port 80), owned by the copy reviews-baseline-0badcafe in namespace shop",
            ]
        );
    }

    #[test]
    fn urls_ask_the_copy_what_the_target_asks_the_original() {
        let c = plan(&original(), &services(), None, "0badcafe").unwrap();
        assert_eq!(c.source_url().as_deref(), Some("http://10.96.0.10:80/"));
        // The Service's port, or a pod's container port (a named target port).
        assert_eq!(
            c.url(Some("https://reviews.shop:80/r/1?x=1"), "10.96.0.99").unwrap(),
            "https://10.96.0.99:80/r/1?x=1"
        );
        assert_eq!(
            c.url(Some("http://10.244.0.7:9080/r"), "fd00::9").unwrap(),
            "http://[fd00::9]:80/r"
        );
        assert_eq!(c.url(None, "10.96.0.99").unwrap(), "http://10.96.0.99:80/");
        // A port the copy does not have is not guessed.
        assert_eq!(
            c.url(Some("http://reviews:7777/"), "10.96.0.99").unwrap_err(),
            "the meshed target's port (7777) is none of the ports the copy takes from Service reviews (80): \
             name the target by that Service or its pods' port"
        );
    }

    #[test]
    fn without_a_service_the_containers_ports_are_used() {
        let c = plan(&original(), &[], None, "0badcafe").unwrap();
        assert!(c.source_service.is_none());
        assert_eq!(c.source_url(), None);
        let p = &c.service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!((p.port, p.target_port.clone()), (9080, Some(IntOrString::Int(9080))));
        assert_eq!(p.name.as_deref(), Some("p9080-tcp"));
        assert_eq!(
            c.url(Some("http://10.244.0.7:9080/"), "10.96.0.99").unwrap(),
            "http://10.96.0.99:9080/"
        );
    }

    #[test]
    fn refusals_name_the_culprit() {
        let mut d = original();
        let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        pod.containers.push(yaml("{name: istio-proxy, image: istio/proxyv2}"));
        let e = plan(&d, &services(), None, "r").unwrap_err();
        assert!(e.contains("container istio-proxy"), "{e}");
        let mut d = original();
        let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        pod.containers[0].ports = None;
        let e = plan(&d, &[], None, "r").unwrap_err();
        assert!(e.contains("no Service selects deploy/reviews's pods"), "{e}");
        // OSM's plain "envoy" alone is an app's Envoy, not a proxy.
        let mut d = original();
        let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        pod.containers.push(yaml("{name: envoy, image: envoyproxy/envoy}"));
        assert!(plan(&d, &services(), None, "r").is_ok());
    }

    #[test]
    fn what_two_copies_cannot_share_is_refused() {
        type Change = fn(&mut Deployment);
        let cases: [(&str, Change); 4] = [
            ("scaled to 0 replicas", |d| d.spec.as_mut().unwrap().replicas = Some(0)),
            ("runs on the host's network", |d| {
                d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().host_network = Some(true)
            }),
            ("container app takes a host port", |d| {
                let c = &mut d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0];
                c.ports.as_mut().unwrap()[0].host_port = Some(9080);
            }),
            ("mounts persistent volume data", |d| {
                d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().volumes = Some(vec![yaml(
                    "{name: data, persistentVolumeClaim: {claimName: reviews-data}}",
                )]);
            }),
        ];
        for (why, change) in cases {
            let mut d = original();
            change(&mut d);
            let e = plan(&d, &services(), None, "r").unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn rules_that_select_the_originals_pods_select_the_copys() {
        let mut d = original();
        let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        pod.affinity = Some(yaml(
            r#"
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
  - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: reviews}}}
  - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: db}}}
podAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
  - weight: 1
    podAffinityTerm: {topologyKey: zone, labelSelector: {matchExpressions: [{key: version, operator: In, values: [v1, v2]}]}}
"#,
        ));
        pod.topology_spread_constraints = Some(vec![yaml(
            "{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: reviews}}}",
        )]);
        let c = plan(&d, &services(), None, "0badcafe").unwrap();
        let spec = c.deployment.spec.unwrap();
        let own = spec.selector.match_labels.clone();
        let pod = spec.template.spec.unwrap();
        let a = pod.affinity.unwrap();
        let anti = a
            .pod_anti_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap();
        assert_eq!(anti[0].label_selector.as_ref().unwrap().match_labels, own);
        // Another app's pods are still avoided.
        assert_eq!(
            anti[1].label_selector.as_ref().unwrap().match_labels,
            Some(BTreeMap::from([("app".to_string(), "db".to_string())]))
        );
        let pref = a
            .pod_affinity
            .unwrap()
            .preferred_during_scheduling_ignored_during_execution
            .unwrap();
        assert_eq!(
            pref[0].pod_affinity_term.label_selector.as_ref().unwrap().match_labels,
            own
        );
        assert_eq!(
            pod.topology_spread_constraints.unwrap()[0]
                .label_selector
                .as_ref()
                .unwrap()
                .match_labels,
            own
        );
    }

    #[test]
    fn a_headless_service_is_no_target() {
        let mut s = services();
        s.push(yaml(
            "metadata: {name: a-headless, namespace: shop}\nspec: {clusterIP: None, selector: {app: reviews}, ports: [{port: 9080}]}",
        ));
        let c = plan(&original(), &s, None, "r").unwrap();
        assert_eq!(c.source_service.unwrap().name_any(), "reviews");
    }

    #[test]
    fn names_fit_a_service_name() {
        assert_eq!(clone_name("2048-game", "0badcafe"), "b-2048-game-baseline-0badcafe");
        assert_eq!(clone_name("web.v2", "0badcafe"), "web-v2-baseline-0badcafe");
        let long = clone_name(&"a-".repeat(100), "0badcafe");
        assert!(long.len() <= 63, "{long}");
        assert_eq!(
            long,
            format!("{}-baseline-0badcafe", "a-".repeat(20).trim_end_matches('-'))
        );
    }

    #[test]
    fn workload_refs() {
        assert_eq!(workload_ref("deploy/reviews").unwrap(), "reviews");
        assert_eq!(workload_ref("deployment.apps/web.v2").unwrap(), "web.v2");
        for bad in [
            "reviews",
            "sts/web",
            "deploy/",
            "deploy/Web",
            "deploy/-a",
            "deploy/a..b",
        ] {
            assert!(workload_ref(bad).is_err(), "{bad}");
        }
    }
}

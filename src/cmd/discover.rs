//! `meshtop discover`: the discovery model, headless, as table, JSON or YAML.

use std::time::Duration;

use color_eyre::eyre::{Result, bail};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::app::table::Table;
use crate::app::{Keymap, State, fold_all};
use crate::mesh::detect::{Injection, ProxyInfo};
use crate::mesh::rules::Role;
use crate::model::{ClusterInfo, Resource};
use crate::source::{self, CHANNEL_CAPACITY, kube::KubeTarget};

/// Version of the JSON/YAML shape: fields are added, never renamed or removed, within a
/// major version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Discovery {
    pub schema_version: u32,
    pub cluster: Option<ClusterInfo>,
    pub meshes: Vec<MeshOut>,
    pub control_planes: Vec<ControlPlaneOut>,
    pub namespaces: Vec<NamespaceOut>,
    pub pods: Vec<PodOut>,
    pub errors: Vec<ErrorOut>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct MeshOut {
    pub mesh: &'static str,
    pub name: String,
    pub healthy: bool,
    /// Pods per data-plane model.
    pub pods: std::collections::BTreeMap<&'static str, usize>,
    pub evidence: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ControlPlaneOut {
    pub mesh: &'static str,
    pub namespace: String,
    pub revision: Option<String>,
    pub version: Option<String>,
    pub healthy: bool,
    pub components: Vec<ComponentOut>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ComponentOut {
    pub kind: String,
    pub name: String,
    pub role: Role,
    pub ready: u32,
    pub desired: u32,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct NamespaceOut {
    pub name: String,
    pub injection: Vec<Injection>,
    pub meshed_pods: usize,
    pub pods: usize,
    pub missing_proxy: usize,
    /// Named with `-n` but its object may not be read: the API's reason. Its injection
    /// and `missing_proxy` are then unknown (empty and 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct PodOut {
    pub namespace: String,
    pub name: String,
    pub mesh: Option<&'static str>,
    pub model: &'static str,
    pub role: Option<Role>,
    pub proxy: Option<ProxyInfo>,
    pub revision: Option<String>,
    pub phase: String,
    /// Every container (native sidecars included) ready.
    pub ready: bool,
    pub containers_ready: String,
    pub restarts: u32,
    pub node: Option<String>,
    pub ip: Option<String>,
    /// Why the pod should be in the mesh but is not.
    pub missing_proxy: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ErrorOut {
    pub resource: &'static str,
    pub namespace: Option<String>,
    pub kind: &'static str,
    pub message: String,
}

/// Builds the discovery model from a folded state. Pure: tests call it on scenarios.
pub fn model(state: &State) -> Discovery {
    let meshes = state
        .overview
        .meshes
        .iter()
        .map(|s| MeshOut {
            mesh: s.mesh.as_str(),
            name: s.name.to_string(),
            healthy: s.healthy(),
            pods: s.by_model.iter().map(|(m, n)| (m.as_str(), *n)).collect(),
            evidence: s.evidence.clone(),
        })
        .collect();
    let control_planes = state
        .control_planes
        .iter()
        .map(|c| ControlPlaneOut {
            mesh: c.mesh.as_str(),
            namespace: c.namespace.clone(),
            revision: c.revision.clone(),
            version: c.version.clone(),
            healthy: c.healthy,
            components: c
                .components
                .iter()
                .map(|x| ComponentOut {
                    kind: x.kind.clone(),
                    name: x.name.clone(),
                    role: x.role,
                    ready: x.ready,
                    desired: x.desired,
                })
                .collect(),
        })
        .collect();
    let namespaces = state
        .namespaces
        .values()
        .map(|n| NamespaceOut {
            name: n.info.name.clone(),
            injection: n.injection.clone(),
            meshed_pods: n.figures.meshed,
            pods: n.figures.pods,
            missing_proxy: n.figures.missing,
            unreadable: n.unreadable.clone(),
        })
        .collect();
    let pods = state
        .pods
        .values()
        .map(|p| PodOut {
            namespace: p.info.namespace.clone(),
            name: p.info.name.clone(),
            mesh: p.mesh.mesh.map(|m| m.as_str()),
            model: p.mesh.model.as_str(),
            role: p.mesh.role,
            proxy: p.mesh.proxy.clone(),
            revision: p.mesh.revision.clone(),
            phase: p.info.phase.clone(),
            ready: p.info.containers > 0 && p.info.ready == p.info.containers,
            containers_ready: format!("{}/{}", p.info.ready, p.info.containers),
            restarts: p.info.restarts,
            node: p.info.node.clone(),
            ip: p.info.ip.clone(),
            missing_proxy: p.missing.clone(),
        })
        .collect();
    let errors = state
        .errors
        .iter()
        .map(|((r, ns), e)| ErrorOut {
            resource: r.as_str(),
            namespace: ns.clone(),
            kind: e.kind.label(),
            message: e.message.clone(),
        })
        .collect();
    Discovery {
        schema_version: SCHEMA_VERSION,
        cluster: state.cluster.clone(),
        meshes,
        control_planes,
        namespaces,
        pods,
        errors,
    }
}

/// Resources whose initial list (or failure) discovery waits for.
const NEEDED: &[Resource] = &[
    Resource::Namespaces,
    Resource::Pods,
    Resource::Deployments,
    Resource::DaemonSets,
    Resource::StatefulSets,
    Resource::Crds,
    Resource::ApiServices,
];

/// Runs the kube source until every resource is listed (or has failed), then prints.
pub async fn run(target: KubeTarget, format: Format, timeout: Duration) -> Result<()> {
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let task = tokio::spawn(source::kube::run(target, tx));
    let mut state = State::new(Keymap::default());
    let done = |s: &State| s.cluster.is_some() && s.listed(Resource::Namespaces) && NEEDED.iter().all(|r| s.listed(*r));
    let finished = tokio::time::timeout(timeout, async {
        while !done(&state) {
            match rx.recv().await {
                Some(u) => {
                    // What else is queued is folded with it: aggregates settle once per batch.
                    let mut batch = vec![u];
                    while let Ok(u) = rx.try_recv() {
                        batch.push(u);
                    }
                    fold_all(&mut state, batch);
                }
                None => break,
            }
        }
    })
    .await
    .is_ok();
    task.abort();
    if state.cluster.is_none() {
        let why = state
            .errors
            .get(&(Resource::Cluster, None))
            .map_or_else(|| "no answer from the API server".to_string(), |e| e.message.clone());
        bail!("cannot reach the cluster: {why}");
    }
    if !finished {
        let pending: Vec<&str> = NEEDED
            .iter()
            .filter(|r| !state.listed(**r))
            .map(|r| r.as_str())
            .collect();
        eprintln!(
            "meshtop: warning: timed out after {timeout:?} waiting for {}",
            pending.join(", ")
        );
    }
    let out = match format {
        Format::Json => serde_json::to_string_pretty(&model(&state))? + "\n",
        Format::Yaml => serde_yaml::to_string(&model(&state))?,
        Format::Table => table(&state),
    };
    print!("{out}");
    Ok(())
}

/// kubectl-style text: one aligned table per section, with the TUI's columns and cells.
pub fn table(state: &State) -> String {
    use crate::app::table::{align, control_planes::ControlPlanes, namespaces::Namespaces, plain_columns, pods::Pods};
    let d = model(state);
    let mut out = String::new();
    if let Some(c) = &d.cluster {
        out += &format!(
            "CLUSTER {} (context {}, {}, {})\n\n",
            c.cluster, c.context, c.server, c.version
        );
    }
    let mut meshes = vec![["MESH", "HEALTH", "PODS", "EVIDENCE"].map(String::from).to_vec()];
    meshes.extend(d.meshes.iter().map(|m| {
        vec![
            m.name.clone(),
            if m.healthy { "healthy" } else { "DEGRADED" }.to_string(),
            m.pods
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", "),
            m.evidence.join(", "),
        ]
    }));
    out += &align(&meshes);
    out += "\n";
    let cps: Vec<_> = state.control_planes.iter().collect();
    let all: Vec<&str> = ControlPlanes::columns()
        .iter()
        .map(|c| c.header)
        .filter(|h| *h != "AGE")
        .collect();
    out += &plain_columns::<ControlPlanes>(state, &cps, &all);
    out += "\n";
    let nss: Vec<_> = state.namespaces.values().collect();
    out += &plain_columns::<Namespaces>(state, &nss, &["NAME", "INJECTION", "MESHED", "PODS", "MISSING"]);
    out += "\n";
    let pods: Vec<_> = state.pods.values().collect();
    out += &plain_columns::<Pods>(
        state,
        &pods,
        &[
            "NAMESPACE",
            "NAME",
            "MESH",
            "MODEL",
            "PROXY",
            "METRICS",
            "STATUS",
            "READY",
        ],
    );
    for e in &d.errors {
        let scope = e.namespace.as_ref().map(|n| format!(" in {n}")).unwrap_or_default();
        out += &format!("\nERROR {}{scope} {}: {}", e.resource, e.kind, e.message);
    }
    if !d.errors.is_empty() {
        out += "\n";
    }
    out
}

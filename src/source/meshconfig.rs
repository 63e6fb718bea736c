//! Reads the meshes' configuration objects (`mesh::meshconfig::KINDS`) from a cluster, with
//! the pods and Services they are checked against: one pass of lists, not watches.
//!
//! Which API groups exist is asked first (one discovery of just those groups), so a mesh
//! that is not installed costs nothing and says nothing; a kind that exists but may not be
//! read is an error naming it, and the others are still read.

use std::collections::BTreeSet;

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{DynamicObject, ListParams};
use kube::discovery::Discovery;
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;

use crate::mesh::meshconfig::{KINDS, MeshObject};
use crate::model::{PodInfo, ServiceInfo};

/// What one pass read.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub objects: Vec<MeshObject>,
    pub pods: Vec<PodInfo>,
    pub services: Vec<ServiceInfo>,
    /// What could not be read, each naming the resource (and namespace) and the API's reason.
    pub errors: Vec<String>,
    /// Pods and Services were listed everywhere asked: checks against them mean something.
    pub pods_read: bool,
    pub services_read: bool,
}

/// Lists every known kind the cluster serves, and the pods and Services, in `namespaces`
/// (all of them when empty).
pub async fn read(client: &Client, namespaces: &[String]) -> Result<Snapshot> {
    let groups: BTreeSet<&str> = KINDS.iter().map(|k| k.group).collect();
    let groups: Vec<&str> = groups.into_iter().collect();
    let discovery = Discovery::new(client.clone())
        .filter(&groups)
        .run()
        .await
        .wrap_err("asking the API server which mesh APIs it serves")?;
    let mut snap = Snapshot::default();
    for kind in KINDS {
        let Some(group) = discovery.get(kind.group) else {
            continue;
        };
        let Some((resource, _)) = group.recommended_kind(kind.kind) else {
            continue;
        };
        let what = format!("{}.{}", kind.plural, kind.group);
        let api = |ns: Option<&str>| -> Api<DynamicObject> {
            match ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            }
        };
        for found in list(api, namespaces, &what, &mut snap.errors).await {
            snap.objects.push(MeshObject {
                group: kind.group.to_string(),
                kind: kind.kind.to_string(),
                namespace: found.namespace().unwrap_or_default(),
                name: found.name_any(),
                spec: found.data.get("spec").cloned().unwrap_or_default(),
            });
        }
    }
    let before = snap.errors.len();
    snap.pods = list(typed::<Pod>(client), namespaces, "pods", &mut snap.errors)
        .await
        .iter()
        .map(super::kube::pod_info)
        .collect();
    snap.pods_read = snap.errors.len() == before;
    let before = snap.errors.len();
    snap.services = list(typed::<Service>(client), namespaces, "services", &mut snap.errors)
        .await
        .iter()
        .map(super::kube::service_info)
        .collect();
    snap.services_read = snap.errors.len() == before;
    Ok(snap)
}

/// One list across the cluster, or one per named namespace; a failed list is an error line
/// and an empty result.
async fn list<K>(
    api: impl Fn(Option<&str>) -> Api<K>,
    namespaces: &[String],
    what: &str,
    errors: &mut Vec<String>,
) -> Vec<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let mut out = Vec::new();
    for ns in scopes {
        match api(ns).list(&ListParams::default()).await {
            Ok(list) => out.extend(list.items),
            Err(e) => {
                let place = ns.map_or_else(String::new, |n| format!(" in {n}"));
                errors.push(format!("listing {what}{place}: {}", reason(&e)));
            }
        }
    }
    out
}

/// An Api for a built-in kind, across the cluster or in one namespace.
fn typed<K>(client: &Client) -> impl Fn(Option<&str>) -> Api<K> + '_
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    move |ns| match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The API's own message (it names the user, verb and resource), else the error's chain.
fn reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => crate::redact::scrub(&s.message),
        other => super::errors::chain_text(std::iter::successors(
            Some(other as &(dyn std::error::Error + 'static)),
            |e| e.source(),
        )),
    }
}

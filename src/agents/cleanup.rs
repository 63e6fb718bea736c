//! Deleting what in-cluster runs created: one run's objects when it ends (finish,
//! failure, cancel), and with `meshtop cleanup` whatever an earlier meshtop left behind,
//! found by the label every such object carries.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{DeleteParams, ListParams, PropagationPolicy};
use kube::{Api, Client, ResourceExt};

use super::MANAGED_BY;

/// One object meshtop created.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leftover {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn list<K>(client: &Client, ns: Option<&str>, selector: &str, kind: &'static str) -> Result<Vec<Leftover>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let items = api::<K>(client, ns)
        .list(&ListParams::default().labels(selector))
        .await
        .wrap_err_with(|| format!("listing {kind}s labelled {selector}"))?;
    Ok(items
        .items
        .iter()
        .map(|o| Leftover {
            kind,
            namespace: o.namespace().unwrap_or_default(),
            name: o.name_any(),
        })
        .collect())
}

/// Everything labelled `selector` (Jobs and Deployments first: deleting one takes its
/// pods with it). A user who may not list Secrets (deploy/rbac-agents.yaml never lets
/// meshtop read one) still has each Job's Secret deleted with it, by name; one without the
/// baseline clone's role has no clones to find.
pub async fn find(client: &Client, ns: Option<&str>, selector: &str) -> Result<Vec<Leftover>> {
    let mut all = list::<Job>(client, ns, selector, "Job").await?;
    let unless_forbidden = |r: Result<Vec<Leftover>>| match r {
        Err(e) if forbidden(&e) => Ok(Vec::new()),
        r => r,
    };
    all.extend(unless_forbidden(
        list::<Deployment>(client, ns, selector, "Deployment").await,
    )?);
    all.extend(unless_forbidden(
        list::<Service>(client, ns, selector, "Service").await,
    )?);
    all.extend(unless_forbidden(list::<Secret>(client, ns, selector, "Secret").await)?);
    all.extend(list::<Pod>(client, ns, selector, "Pod").await?);
    Ok(all)
}

fn forbidden(e: &color_eyre::Report) -> bool {
    e.chain()
        .any(|c| matches!(c.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.code == 403))
}

/// The label of everything meshtop creates.
pub fn managed_selector() -> String {
    format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)
}

/// Deletes each (a Job with its pods, in the foreground); one already gone is fine.
/// Returns the failures, each naming its object.
pub async fn delete(client: &Client, objects: &[Leftover]) -> Vec<String> {
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        grace_period_seconds: None,
        ..DeleteParams::default()
    };
    let mut failures = Vec::new();
    for o in objects {
        let ns = Some(o.namespace.as_str());
        // One already gone is deleted.
        let gone = |r: Result<(), kube::Error>| match r {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            r => r,
        };
        let r = match o.kind {
            // A Job's Secret has its name (agents::plan).
            "Job" => gone(api::<Job>(client, ns).delete(&o.name, &dp).await.map(|_| ()))
                .and(gone(api::<Secret>(client, ns).delete(&o.name, &dp).await.map(|_| ()))),
            "Secret" => gone(api::<Secret>(client, ns).delete(&o.name, &dp).await.map(|_| ())),
            "Deployment" => gone(api::<Deployment>(client, ns).delete(&o.name, &dp).await.map(|_| ())),
            "Service" => gone(api::<Service>(client, ns).delete(&o.name, &dp).await.map(|_| ())),
            _ => gone(api::<Pod>(client, ns).delete(&o.name, &dp).await.map(|_| ())),
        };
        if let Err(e) = r {
            failures.push(format!("deleting {o}: {}", crate::source::errors::with_cause(&e)));
        }
    }
    failures
}

/// Deletes one run's objects (those `named`, whether or not they were created, such as a
/// Job with its Secret, and anything else labelled `selector`) and waits (at most `wait`)
/// until none is left, so that an ended run leaves nothing behind. Returns what is still
/// there.
pub async fn delete_run(
    client: &Client,
    ns: &str,
    named: &[Leftover],
    selector: &str,
    wait: Duration,
) -> Result<Vec<Leftover>> {
    let mut found = find(client, Some(ns), selector).await?;
    for (i, n) in named.iter().enumerate() {
        if !found.contains(n) {
            found.insert(i, n.clone());
        }
    }
    let failures = delete(client, &found).await;
    if !failures.is_empty() {
        color_eyre::eyre::bail!("{}", failures.join("; "));
    }
    let until = tokio::time::Instant::now() + wait;
    loop {
        let left = find(client, Some(ns), selector).await?;
        if left.is_empty() || tokio::time::Instant::now() >= until {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

//! Load from inside the cluster: `meshtop agent` runs one share of a run and serves its
//! shard frames ([`serve`]); `bench --in-cluster` creates a Job of agents ([`plan`]),
//! follows each pod's frames through the API server ([`follow`]), merges them live and
//! exactly ([`live`]) and deletes what it created ([`cleanup`]). `sweep --in-cluster
//! --baseline-clone` also runs an uninjected copy of the target ([`clone`]).

use std::collections::BTreeMap;

pub mod cleanup;
pub mod clone;
pub mod follow;
pub mod live;
pub mod plan;
pub mod run;
pub mod serve;

/// What to do when an agent fails or its pod is evicted before its last frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailure {
    /// Stop every agent and delete the Job: no result.
    Abort,
    /// Merge the agents that finished; the result names the shares that are missing.
    Continue,
}

/// The label every object meshtop creates carries (`meshtop cleanup` finds them by it).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "meshtop");
/// The label naming one in-cluster run: its Job, pods and Secret.
pub const RUN_LABEL: &str = "meshtop.dev/run";
/// The port agents serve their frames on, in the pod.
pub const AGENT_PORT: u16 = 9797;

/// Each mesh's own switch for "no proxy in this pod" that is an annotation, from the mesh
/// rules (the opt-outs detection reads): agents and baseline clones carry all of them.
pub fn no_injection_annotations() -> BTreeMap<String, String> {
    opt_outs(|o| o.annotation.as_deref())
}

/// The switches that are labels (Istio and Kuma read one), and Istio ambient's: its
/// ztunnel captures a pod unless the pod's dataplane mode is none.
pub fn no_injection_labels() -> BTreeMap<String, String> {
    let mut labels = opt_outs(|o| o.label.as_deref());
    labels.insert("istio.io/dataplane-mode".into(), "none".into());
    labels
}

fn opt_outs(key: impl Fn(&crate::mesh::rules::OptOutRule) -> Option<&str>) -> BTreeMap<String, String> {
    crate::mesh::rules::all()
        .iter()
        .flat_map(|r| r.opt_out.iter())
        .filter_map(|o| Some((key(o)?.to_string(), o.values.first()?.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_mesh_is_switched_off() {
        let a: Vec<String> = super::no_injection_annotations()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            a,
            [
                "consul.hashicorp.com/connect-inject=false",
                "injector.nsm.nginx.com/auto-inject=disabled",
                "linkerd.io/inject=disabled",
                "openservicemesh.io/sidecar-injection=disabled",
                "sidecar.istio.io/inject=false",
            ]
        );
        let l: Vec<String> = super::no_injection_labels()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            l,
            [
                "istio.io/dataplane-mode=none",
                "kuma.io/sidecar-injection=disabled",
                "sidecar.istio.io/inject=false",
            ]
        );
    }
}

//! Load from inside the cluster: `meshtop agent` runs one share of a run and serves its
//! shard frames ([`serve`]); `bench --in-cluster` creates a Job of agents ([`plan`]),
//! follows each pod's frames through the API server ([`follow`]), merges them live and
//! exactly ([`live`]) and deletes what it created ([`cleanup`]).

pub mod cleanup;
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

//! What `bench --in-cluster` creates, built without I/O: an Indexed Job of agent pods and
//! the Secret holding what must not sit in a pod spec (the URL, headers, body and TLS
//! files). Each agent gets the whole run's flags and its index, and takes its share
//! itself (`loadgen::split`), so every pod of the Job has the same template.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, Secret, SecretKeySelector, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{AGENT_PORT, MANAGED_BY, RUN_LABEL};
use crate::bench::config::BenchConfig;
use crate::model::access::PlannedWrite;

/// The agents' image: meshtop itself, built from the repo's Dockerfile.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/meshtop/meshtop:", env!("CARGO_PKG_VERSION"));
/// The agents' user and group (the image's, Dockerfile).
const AGENT_UID: i64 = 65532;
/// What a Secret may hold (the API server's limit is 1 MiB, with its metadata).
const MAX_SECRET: usize = 1000 * 1024;
/// Where the Secret's files are mounted in an agent.
const SECRET_DIR: &str = "/etc/meshtop-agent";
/// How long an agent waits after its end for meshtop to read its last frame.
const LINGER_S: u64 = 120;
/// Finished Jobs are removed by Kubernetes after this, should meshtop not do it.
const TTL_AFTER_FINISHED_S: i32 = 600;
/// Past the planned end, a Job still running is stopped by Kubernetes.
const DEADLINE_MARGIN_S: u64 = 300;

/// What the user chose for an in-cluster run, before anything is created: the plan is
/// made from it (with the start time) when the run is started.
#[derive(Debug, Clone, PartialEq)]
pub struct InCluster {
    pub run: String,
    pub namespace: String,
    pub agents: u32,
    pub image: String,
    pub on_failure: super::OnFailure,
    /// From the Job's creation to the agents' common start.
    pub start_in: std::time::Duration,
}

impl InCluster {
    /// The plan of this run of `config`, starting `start_in` from now.
    pub fn plan(&self, config: BenchConfig, tls_files: Vec<(&'static str, Vec<u8>)>) -> Plan {
        Plan {
            run: self.run.clone(),
            namespace: self.namespace.clone(),
            agents: self.agents,
            image: self.image.clone(),
            start_at: jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::try_from(self.start_in).unwrap_or_default())
                .unwrap_or_else(|_| jiff::Timestamp::now()),
            avoid_nodes: Vec::new(),
            config,
            tls_files,
        }
    }
}

/// One in-cluster run: what to create, and where.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Short random ID, in every name and in the run label.
    pub run: String,
    pub namespace: String,
    pub agents: u32,
    pub image: String,
    /// When every agent starts (RFC 3339).
    pub start_at: jiff::Timestamp,
    /// Nodes the agents must not run on (the target's, with --avoid-target-nodes).
    pub avoid_nodes: Vec<String>,
    pub config: BenchConfig,
    /// TLS files read from this machine: (Secret key, contents).
    pub tls_files: Vec<(&'static str, Vec<u8>)>,
}

impl Plan {
    pub fn job_name(&self) -> String {
        format!("meshtop-agents-{}", self.run)
    }

    pub fn secret_name(&self) -> String {
        format!("meshtop-agents-{}", self.run)
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
            (RUN_LABEL.to_string(), self.run.clone()),
        ])
    }

    /// The label selector of this run's objects.
    pub fn selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.run)
    }

    /// What will be written, for the refusal without --allow-writes and the notice.
    pub fn writes(&self) -> Vec<PlannedWrite> {
        let ns = Some(self.namespace.clone());
        vec![
            PlannedWrite {
                verb: "create",
                kind: format!("Job ({} agent pods, image {}), suspended", self.agents, self.image),
                name: self.job_name(),
                namespace: ns.clone(),
            },
            PlannedWrite {
                verb: "create",
                kind: "Secret (the target URL, headers and body), owned by the Job".into(),
                name: self.secret_name(),
                namespace: ns.clone(),
            },
            PlannedWrite {
                verb: "patch",
                kind: "Job (resumed: its pods start)".into(),
                name: self.job_name(),
                namespace: ns.clone(),
            },
            PlannedWrite {
                verb: "delete",
                kind: "Job (with its pods) and Secret, at the end,".into(),
                name: self.job_name(),
                namespace: ns,
            },
        ]
    }

    /// What the API server would refuse, said before anything is written: a body and TLS
    /// files larger than a Secret holds.
    pub fn check(&self) -> Result<(), String> {
        let size: usize = self.secret_data().values().map(Vec::len).sum();
        if size > MAX_SECRET {
            return Err(format!(
                "the body, headers and TLS files take {} KiB; agents get them in a Secret, which holds at most {} KiB",
                size / 1024,
                MAX_SECRET / 1024
            ));
        }
        Ok(())
    }

    /// The whole run's load flags as the agents read them, apart from the secret ones.
    fn env(&self) -> Vec<(String, String)> {
        let s = &self.config.spec;
        let secs = |d: std::time::Duration| d.as_secs_f64().to_string();
        let mut env = vec![
            ("MESHTOP_AGENTS", self.agents.to_string()),
            // Every address of the pod, IPv6 (single or dual stack) and IPv4 alike.
            ("MESHTOP_LISTEN", format!("[::]:{AGENT_PORT}")),
            ("MESHTOP_LINGER", format!("{LINGER_S}s")),
            ("MESHTOP_START_AT", self.start_at.to_string()),
            ("MESHTOP_METHOD", s.method.clone()),
            ("MESHTOP_CONNECTIONS", s.connections.to_string()),
            ("MESHTOP_RATE", s.rate.to_string()),
            ("MESHTOP_TIMEOUT", secs(s.timeout)),
            ("MESHTOP_WARMUP", secs(s.warmup)),
        ];
        if let Some(d) = s.duration {
            env.push(("MESHTOP_DURATION", secs(d)));
        }
        if let Some(n) = s.requests {
            env.push(("MESHTOP_REQUESTS", n.to_string()));
        }
        if s.http2 {
            env.push(("MESHTOP_HTTP2", "true".into()));
            env.push(("MESHTOP_STREAMS", s.streams.to_string()));
        }
        if !s.ramp.is_empty() {
            let steps: Vec<String> = s
                .ramp
                .iter()
                .map(|r| format!("{}:{}", r.rate, secs(r.duration)))
                .collect();
            env.push(("MESHTOP_RAMP", steps.join(",")));
        }
        if let Some(l) = &s.label {
            env.push(("MESHTOP_LABEL", l.clone()));
        }
        if s.insecure {
            env.push(("MESHTOP_INSECURE", "true".into()));
        }
        // Threads asked for are passed on; the default is each agent's own cores.
        if s.threads_note.is_none() {
            env.push(("MESHTOP_THREADS", s.threads.to_string()));
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The Secret's entries: what the redaction policy would hide, and files.
    fn secret_data(&self) -> BTreeMap<String, Vec<u8>> {
        let s = &self.config.spec;
        let mut data = BTreeMap::from([("url".to_string(), s.url.clone().into_bytes())]);
        if !s.headers.is_empty() {
            let lines: Vec<String> = s.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            data.insert("headers".into(), lines.join("\n").into_bytes());
        }
        if !self.config.body.is_empty() {
            data.insert("body".into(), self.config.body.to_vec());
        }
        for (key, bytes) in &self.tls_files {
            data.insert((*key).to_string(), bytes.clone());
        }
        data
    }

    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels()),
            ..ObjectMeta::default()
        }
    }

    /// The Indexed Job: N pods, never retried (a failed agent is reported, not rerun: a
    /// rerun would send its share twice), started together at `start_at`. Failures count
    /// per index, so one failed agent does not make the Job stop the others
    /// (`--on-agent-failure continue`; meshtop itself stops them for `abort`).
    pub fn job(&self) -> Job {
        let secret = self.secret_name();
        let data = self.secret_data();
        let from_secret = |name: &str, key: &str| EnvVar {
            name: name.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.clone(),
                    key: key.into(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        };
        let mut env: Vec<EnvVar> = self
            .env()
            .into_iter()
            .map(|(name, value)| EnvVar {
                name,
                value: Some(value),
                ..EnvVar::default()
            })
            .collect();
        env.push(from_secret("MESHTOP_URL", "url"));
        // The agent's own pod name: it answers only a follower that asks for it (an IP
        // reused by another pod must not hand over another run's frames).
        env.push(EnvVar {
            name: "MESHTOP_POD_NAME".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                    field_path: "metadata.name".into(),
                    ..Default::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
        if data.contains_key("headers") {
            env.push(from_secret("MESHTOP_HEADERS", "headers"));
        }
        let file = |key: &str| format!("{SECRET_DIR}/{key}");
        for (key, var) in [
            ("body", "MESHTOP_BODY_FILE"),
            ("cacert", "MESHTOP_CACERT"),
            ("cert", "MESHTOP_CERT"),
            ("key", "MESHTOP_KEY"),
        ] {
            if data.contains_key(key) {
                env.push(EnvVar {
                    name: var.into(),
                    value: Some(file(key)),
                    ..EnvVar::default()
                });
            }
        }
        let avoid = (!self.avoid_nodes.is_empty()).then(|| Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_fields: Some(vec![NodeSelectorRequirement {
                            key: "metadata.name".into(),
                            operator: "NotIn".into(),
                            values: Some(self.avoid_nodes.clone()),
                        }]),
                        ..NodeSelectorTerm::default()
                    }],
                }),
                ..NodeAffinity::default()
            }),
            ..Affinity::default()
        });
        let quantity = |s: &str| Quantity(s.to_string());
        let container = Container {
            name: "agent".into(),
            image: Some(self.image.clone()),
            args: Some(vec!["agent".into()]),
            env: Some(env),
            ports: Some(vec![ContainerPort {
                name: Some("frames".into()),
                container_port: i32::from(AGENT_PORT),
                ..ContainerPort::default()
            }]),
            // A CPU limit would throttle the agent and show up as latency: requests only.
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".to_string(), quantity("1")),
                    ("memory".to_string(), quantity("128Mi")),
                ])),
                limits: Some(BTreeMap::from([("memory".to_string(), quantity("1Gi"))])),
                ..ResourceRequirements::default()
            }),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    ..Capabilities::default()
                }),
                ..SecurityContext::default()
            }),
            volume_mounts: Some(vec![VolumeMount {
                name: "run".into(),
                mount_path: SECRET_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            }]),
            ..Container::default()
        };
        // Agents are not meshed: a sidecar would share their CPU, and one that outlives
        // the agent would keep the Job from completing.
        let mut labels = self.labels();
        labels.extend(super::no_injection_labels());
        let pod_meta = ObjectMeta {
            labels: Some(labels),
            annotations: Some(super::no_injection_annotations()),
            ..ObjectMeta::default()
        };
        let main_s = self.config.spec.warmup.as_secs()
            + self.config.spec.ramp.iter().map(|r| r.duration.as_secs()).sum::<u64>()
            + self.config.spec.duration.map_or(0, |d| d.as_secs());
        let start_in = self.start_at.duration_since(jiff::Timestamp::now()).as_secs().max(0) as u64;
        Job {
            metadata: self.meta(self.job_name()),
            spec: Some(JobSpec {
                // Resumed once its Secret exists (agents::run).
                suspend: Some(true),
                completion_mode: Some("Indexed".into()),
                completions: Some(self.agents as i32),
                parallelism: Some(self.agents as i32),
                backoff_limit_per_index: Some(0),
                max_failed_indexes: Some(self.agents as i32),
                ttl_seconds_after_finished: Some(TTL_AFTER_FINISHED_S),
                // A run bounded by -n alone has no planned end.
                active_deadline_seconds: self
                    .config
                    .spec
                    .duration
                    .map(|_| i64::try_from(start_in + main_s + LINGER_S + DEADLINE_MARGIN_S).unwrap_or(i64::MAX)),
                template: PodTemplateSpec {
                    metadata: Some(pod_meta),
                    spec: Some(PodSpec {
                        restart_policy: Some("Never".into()),
                        affinity: avoid,
                        containers: vec![container],
                        volumes: Some(vec![Volume {
                            name: "run".into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(secret),
                                default_mode: Some(0o440),
                                ..SecretVolumeSource::default()
                            }),
                            ..Volume::default()
                        }]),
                        // The agent stops at SIGTERM and writes its last frame at once.
                        termination_grace_period_seconds: Some(10),
                        // Not root, no privilege (PodSecurity "restricted"); the group
                        // reads the Secret's files.
                        security_context: Some(PodSecurityContext {
                            run_as_non_root: Some(true),
                            run_as_user: Some(AGENT_UID),
                            run_as_group: Some(AGENT_UID),
                            fs_group: Some(AGENT_UID),
                            seccomp_profile: Some(SeccompProfile {
                                type_: "RuntimeDefault".into(),
                                ..SeccompProfile::default()
                            }),
                            ..PodSecurityContext::default()
                        }),
                        ..PodSpec::default()
                    }),
                },
                ..JobSpec::default()
            }),
            ..Job::default()
        }
    }

    /// The Secret; with `owner`, owned by the Job so that deleting the Job deletes it too.
    pub fn secret(&self, owner: Option<&Job>) -> Secret {
        let mut meta = self.meta(self.secret_name());
        meta.owner_references = owner.map(owner_of);
        Secret {
            metadata: meta,
            data: Some(
                self.secret_data()
                    .into_iter()
                    .map(|(k, v)| (k, k8s_openapi::ByteString(v)))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }
}

fn owner_of(job: &Job) -> Vec<OwnerReference> {
    vec![OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.metadata.name.clone().unwrap_or_default(),
        uid: job.metadata.uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    }]
}

/// A run ID: 8 lowercase hex digits, unique enough for the runs of one namespace.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos ^ (u128::from(std::process::id()) << 64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:08x}", (mixed >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let mut config = BenchConfig::new("http://user:pw@web.shop:8080/?token=t");
        config.spec.rate = 1000.0;
        config.spec.connections = 10;
        config.spec.duration = Some(std::time::Duration::from_secs(30));
        config.spec.headers = vec![("Authorization".into(), "Bearer x".into()), ("X-A".into(), "b".into())];
        config.body = bytes::Bytes::from_static(b"{}");
        Plan {
            run: "0a1b2c3d".into(),
            namespace: "load".into(),
            agents: 3,
            image: "meshtop:test".into(),
            start_at: jiff::Timestamp::from_second(1_764_669_600).unwrap(),
            avoid_nodes: vec!["node-a".into()],
            config,
            tls_files: vec![],
        }
    }

    #[test]
    fn the_job_is_indexed_never_retried_and_labelled() {
        let p = plan();
        let job = p.job();
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("meshtop-agents-0a1b2c3d"));
        assert_eq!(
            job.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "meshtop"
        );
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!((spec.completions, spec.parallelism), (Some(3), Some(3)));
        assert_eq!(
            (spec.backoff_limit_per_index, spec.max_failed_indexes),
            (Some(0), Some(3))
        );
        assert_eq!(spec.ttl_seconds_after_finished, Some(600));
        let pod = spec.template.spec.as_ref().unwrap();
        let terms = &pod.affinity.as_ref().unwrap().node_affinity.as_ref().unwrap();
        let req = &terms
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms[0];
        assert_eq!(
            req.match_fields.as_ref().unwrap()[0].values.as_deref(),
            Some(&["node-a".to_string()][..])
        );
        let c = &pod.containers[0];
        let env: BTreeMap<&str, Option<&str>> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref()))
            .collect();
        assert_eq!(env["MESHTOP_AGENTS"], Some("3"));
        assert_eq!(env["MESHTOP_RATE"], Some("1000"));
        assert_eq!(env["MESHTOP_CONNECTIONS"], Some("10"));
        assert_eq!(env["MESHTOP_DURATION"], Some("30"));
        assert_eq!(env["MESHTOP_START_AT"], Some("2025-12-02T10:00:00Z"));
        assert_eq!(env["MESHTOP_BODY_FILE"], Some("/etc/meshtop-agent/body"));
        // The URL and headers come from the Secret, never as values in the pod spec.
        assert_eq!(env["MESHTOP_URL"], None);
        assert_eq!(env["MESHTOP_HEADERS"], None);
        assert!(
            !env.contains_key("MESHTOP_THREADS"),
            "the default threads are each agent's own"
        );
        let text = serde_json::to_string(&job).unwrap();
        assert!(!text.contains("pw") && !text.contains("Bearer"), "{text}");
        assert!(
            pod.containers[0]
                .resources
                .as_ref()
                .unwrap()
                .limits
                .as_ref()
                .unwrap()
                .get("cpu")
                .is_none()
        );
    }

    #[test]
    fn the_secret_holds_the_credentials_and_is_owned_by_the_job() {
        let p = plan();
        let mut job = p.job();
        job.metadata.uid = Some("uid-1".into());
        assert_eq!(p.secret(None).metadata.owner_references, None);
        let s = p.secret(Some(&job));
        let data = s.data.unwrap();
        assert_eq!(data["url"].0, b"http://user:pw@web.shop:8080/?token=t");
        assert_eq!(data["headers"].0, b"Authorization: Bearer x\nX-A: b");
        assert_eq!(data["body"].0, b"{}");
        let owner = &s.metadata.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Job", "uid-1"));
    }

    #[test]
    fn writes_name_every_object_and_its_namespace() {
        let w: Vec<String> = plan().writes().iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "create Job (3 agent pods, image meshtop:test), suspended meshtop-agents-0a1b2c3d in namespace load",
                "create Secret (the target URL, headers and body), owned by the Job meshtop-agents-0a1b2c3d in namespace load",
                "patch Job (resumed: its pods start) meshtop-agents-0a1b2c3d in namespace load",
                "delete Job (with its pods) and Secret, at the end, meshtop-agents-0a1b2c3d in namespace load",
            ]
        );
    }

    #[test]
    fn run_ids_are_eight_hex_digits() {
        let id = run_id();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}

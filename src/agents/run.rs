//! `meshtop bench --in-cluster`: creates the agents' Job, follows every agent through the
//! API server, merges their frames live into one result, and deletes what it created
//! however the run ends (finish, a failed agent, ctrl-c).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::mpsc;

use super::follow::{self, Msg};
use super::live::{AgentState, Live};
use super::plan::Plan;
use super::{OnFailure, cleanup};
use crate::bench::config::BenchConfig;
use crate::exit::bad_input;
use crate::model::bench::{AgentsInfo, BenchResult, MissingShare};

/// The Job controller's annotation with a pod's index.
const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// Container waiting reasons that no wait mends: the run stops and says why.
pub(super) const STUCK: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
];
/// An agent whose pod ended is given this long for its last frames to arrive.
const LAST_FRAMES_GRACE: Duration = Duration::from_secs(5);
/// Agents that have sent nothing this long after their planned start have not started.
const START_LIMIT: Duration = Duration::from_secs(120);
/// At the end, how long to wait for the Job's pods to be gone.
const CLEANUP_WAIT: Duration = Duration::from_secs(60);

/// The oldest API server whose Indexed Jobs count failures per index
/// (`backoffLimitPerIndex`): before it, a failed agent would be rerun and send its share
/// twice.
const MIN_MINOR: u32 = 29;
/// After a stop, how long the agents have to send their last frames.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// Runs `plan`: creates its Job and Secret, follows and merges the agents (handing the
/// live merge and the count of resumed streams to `observe` a few times a second), stops
/// the agents when `stop` completes (ctrl-c, `x`) and waits for their last frames, deletes
/// what it created however the run ends, and returns the merged result. `say` gets what
/// the user should read (the command line prints it; the TUI logs it).
pub async fn run(
    client: &Client,
    plan: &Plan,
    on_failure: OnFailure,
    stop: impl std::future::Future<Output = ()>,
    observe: impl FnMut(&Live, u64),
    mut say: impl FnMut(String),
) -> Result<BenchResult> {
    let namespace = plan.namespace.clone();
    let config = &plan.config;
    plan.check().map_err(bad_input)?;
    let version = client
        .apiserver_version()
        .await
        .wrap_err("asking the API server its version")?;
    let minor: u32 = version.minor.trim_end_matches('+').parse().unwrap_or(0);
    if version.major == "1" && minor < MIN_MINOR {
        return Err(eyre!(
            "in-cluster agents need Kubernetes 1.{MIN_MINOR} or later (per-index failures of Indexed Jobs); this cluster is {}.{}",
            version.major,
            version.minor
        ));
    }
    // The Job suspended (no pod yet), then the Secret it owns (deleting the Job deletes
    // it, whatever happens to meshtop), then the Job resumed: no pod waits for the Secret
    // and no Secret is ever without an owner.
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let job = jobs
        .create(&PostParams::default(), &plan.job())
        .await
        .wrap_err_with(|| format!("creating Job {namespace}/{}", plan.job_name()))?;
    let created = async {
        Api::<Secret>::namespaced(client.clone(), &namespace)
            .create(&PostParams::default(), &plan.secret(Some(&job)))
            .await
            .wrap_err_with(|| format!("creating Secret {namespace}/{}", plan.secret_name()))?;
        jobs.patch(
            &plan.job_name(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"suspend": false}})),
        )
        .await
        .wrap_err_with(|| format!("starting Job {namespace}/{}", plan.job_name()))
    };
    let outcome = match created.await {
        Ok(_) => follow_run(client, plan, on_failure, stop, observe).await,
        Err(e) => Err(e),
    };
    // Whatever happened, nothing is left behind.
    say(format!("deleting Job {namespace}/{} and its Secret", plan.job_name()));
    let named = [cleanup::Leftover {
        kind: "Job",
        namespace: namespace.clone(),
        name: plan.job_name(),
    }];
    match cleanup::delete_run(client, &namespace, &named, &plan.selector(), CLEANUP_WAIT).await {
        Ok(left) if left.is_empty() => {}
        Ok(left) => {
            let names: Vec<String> = left.iter().map(ToString::to_string).collect();
            say(format!(
                "still there after {}s (Kubernetes deletes them; `meshtop cleanup` finds them): {}",
                CLEANUP_WAIT.as_secs(),
                names.join(", ")
            ));
        }
        Err(e) => say(format!(
            "cleaning up: {}; run `meshtop cleanup --allow-writes -n {namespace}`",
            crate::source::errors::report_text(&e)
        )),
    }
    let (live, cancelled, reconnects) = outcome?;
    for (i, why) in live.failures() {
        say(format!("agent {i} failed: {why}"));
    }
    let fin = live
        .finish(cancelled)
        .map_err(|e| eyre!("merging the agents' frames: {e}"))?;
    for note in &fin.merged.notes {
        say(note.clone());
    }
    let mut result: BenchResult = fin.merged.result.into();
    // The merge's spec sums the shares of the agents merged (what the figures are of);
    // the label is the run's own, not the merge's.
    result.label = config.spec.label.clone();
    result.config.label = config.spec.label.clone();
    result.agents = Some(AgentsInfo {
        count: plan.agents,
        namespace: namespace.clone(),
        job: plan.job_name(),
        missing: fin
            .missing
            .iter()
            .map(|(index, why)| MissingShare {
                index: *index,
                share: loadgen::split::share(&config.spec, *index, plan.agents)
                    .map(|s| loadgen::split::describe(&s))
                    .unwrap_or_default(),
                why: why.clone(),
            })
            .collect(),
        late: late_starts(&live, plan.start_at),
        stream_reconnects: reconnects,
    });
    Ok(result)
}

/// Agents that started more than a second after the planned time.
fn late_starts(live: &Live, start_at: jiff::Timestamp) -> Vec<String> {
    let planned = start_at.as_millisecond();
    live.agents
        .iter()
        .filter_map(|a| {
            let late = a.start.as_ref()?.started_at - planned;
            (late > 1000).then(|| format!("agent {} started {:.1}s late", a.index, late as f64 / 1000.0))
        })
        .collect()
}

pub fn read_tls(config: &BenchConfig) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let t = &config.spec.tls;
    let mut files = Vec::new();
    for (key, path, flag) in [
        ("cacert", &t.cacert, "--cacert"),
        ("cert", &t.cert, "--cert"),
        ("key", &t.key, "--key"),
    ] {
        if let Some(p) = path {
            files.push((key, crate::config::read_user_bytes(p, flag, 1 << 20)?));
        }
    }
    Ok(files)
}

/// Pod events and the followers' messages until every agent is done or failed (or the
/// run is aborted). Returns the live merge, whether the user cancelled, and how many
/// times a stream was resumed.
async fn follow_run(
    client: &Client,
    plan: &Plan,
    on_failure: OnFailure,
    stop: impl std::future::Future<Output = ()>,
    mut observe: impl FnMut(&Live, u64),
) -> Result<(Live, bool, u64)> {
    let ns = &plan.namespace;
    let mut live = Live::new(plan.agents);
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut events = watcher(pods, watcher::Config::default().labels(&plan.selector()))
        .default_backoff()
        .boxed();
    // Once stopped: until when the agents may send their last frames.
    let mut stopping: Option<tokio::time::Instant> = None;
    let mut pods = Pods::default();
    let mut reconnects = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let start_limit = tokio::time::Instant::now()
        + Duration::try_from(plan.start_at.duration_since(jiff::Timestamp::now())).unwrap_or_default()
        + START_LIMIT;
    tokio::pin!(stop);
    let mut cancelled = false;
    let result = loop {
        if live.over() {
            break Ok(());
        }
        tokio::select! {
            () = &mut stop, if stopping.is_none() => {
                // Each agent stops and writes its last frame, which is then read as usual.
                cancelled = true;
                stopping = Some(tokio::time::Instant::now() + STOP_WAIT);
                for a in live.agents.iter().filter(|a| matches!(a.state, AgentState::Running | AgentState::Waiting)) {
                    if let Some(pod) = a.pod.clone() {
                        let (client, ns) = (client.clone(), plan.namespace.clone());
                        tokio::spawn(async move {
                            if let Err(e) = follow::stop(&client, &ns, &pod).await {
                                tracing::info!("stopping agent pod {pod}: {e}");
                            }
                        });
                    }
                }
            }
            ev = events.next() => match ev {
                Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => {
                    if let Err(e) = on_pod(client, plan, &pod, &mut live, &mut pods, &tx) {
                        break Err(e);
                    }
                }
                Some(Ok(watcher::Event::Delete(pod))) => {
                    if let Some(i) = index_of(&pod) && live.agents.get(i as usize).is_some_and(|a| a.state != AgentState::Done) {
                        pods.ending.entry(i).or_insert_with(|| (tokio::time::Instant::now(), format!("pod {} was deleted", pod.name_any())));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!("watching the agents' pods: {e}"),
                None => break Err(eyre!("the watch of the agents' pods ended")),
            },
            msg = rx.recv() => match msg {
                Some(Msg::Frame { index, frame }) => {
                    if let Err(e) = live.apply(index, *frame) {
                        live.fail(index, e);
                    }
                }
                Some(Msg::Broken { index, why }) => {
                    tracing::info!(agent = index, "the agent's stream broke: {why}");
                }
                Some(Msg::Resumed { .. }) => reconnects += 1,
                Some(Msg::Corrupt { index, why }) => live.fail(index, format!("its frames are damaged: {why}")),
                None => break Err(eyre!("the followers stopped")),
            },
            _ = tick.tick() => {
                let now = tokio::time::Instant::now();
                let due: Vec<(u32, String)> = pods
                    .ending
                    .iter()
                    .filter(|(_, (since, _))| now.duration_since(*since) >= LAST_FRAMES_GRACE)
                    .map(|(i, (_, why))| (*i, why.clone()))
                    .collect();
                for (i, why) in due {
                    pods.ending.remove(&i);
                    if live.agents[i as usize].state != AgentState::Done {
                        live.fail(i, why);
                        if let Some(f) = pods.followers.remove(&i) {
                            f.abort();
                        }
                    }
                }
                if stopping.is_some_and(|until| now >= until) {
                    break Ok(());
                }
                if now > start_limit {
                    let late: Vec<u32> = live.agents.iter().filter(|a| a.state == AgentState::Waiting).map(|a| a.index).collect();
                    for i in late {
                        let why = pods.waiting_why.get(&i).cloned().unwrap_or_else(|| "no pod".into());
                        live.fail(i, format!(
                            "did not start within {}s of the planned start ({why}; `kubectl -n {ns} describe job {}`)",
                            START_LIMIT.as_secs(),
                            plan.job_name()
                        ));
                    }
                }
                observe(&live, reconnects);
            }
        }
        if on_failure == OnFailure::Abort
            && stopping.is_none()
            && let Some((i, why)) = live.failures().first()
        {
            break Err(eyre!(
                "agent {i} failed: {why}; the run is aborted (--on-agent-failure continue merges the others)"
            ));
        }
    };
    observe(&live, reconnects);
    for (_, f) in pods.followers {
        f.abort();
    }
    result.map(|()| (live, cancelled, reconnects))
}

/// Each waiting container's reason and message.
pub(super) fn waiting(pod: &Pod) -> Vec<(String, Option<String>)> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            Some((w.reason.clone()?, w.message.clone()))
        })
        .collect()
}

/// The command line's progress line on stderr.
pub fn progress_line(live: &Live, reconnects: u64) {
    let s = live.summary();
    let line = format!(
        "agents: {} running, {} done, {} waiting, {} failed  {} req  {:.0} req/s  p99 {:.2}ms  errors {}{}",
        s.running,
        s.done,
        s.waiting,
        s.failed,
        s.requests,
        s.rate,
        s.p99_us as f64 / 1e3,
        s.errors,
        if reconnects > 0 {
            format!("  reconnects {reconnects}")
        } else {
            String::new()
        }
    );
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{}", crate::text::fit(&line, 160));
    let _ = err.flush();
}

fn index_of(pod: &Pod) -> Option<u32> {
    pod.annotations().get(INDEX_ANNOTATION)?.parse().ok()
}

/// What the run keeps about the agents' pods.
#[derive(Default)]
struct Pods {
    /// Each followed agent's follower task.
    followers: BTreeMap<u32, tokio::task::JoinHandle<()>>,
    /// Agents whose pod ended without their last frame here yet: since when, and why.
    ending: BTreeMap<u32, (tokio::time::Instant, String)>,
    /// Why each agent that has not started is waiting (its pod's scheduling or container
    /// state), for the failure should it never start.
    waiting_why: BTreeMap<u32, String>,
}

/// A pod changed: start following it once it runs, stop a run that cannot start, and
/// mark an agent whose pod ended.
fn on_pod(
    client: &Client,
    plan: &Plan,
    pod: &Pod,
    live: &mut Live,
    pods: &mut Pods,
    tx: &mpsc::Sender<Msg>,
) -> Result<()> {
    let Pods {
        followers,
        ending,
        waiting_why,
    } = pods;
    let Some(index) = index_of(pod).filter(|i| *i < plan.agents) else {
        return Ok(());
    };
    let name = pod.name_any();
    let status = pod.status.clone().unwrap_or_default();
    for (reason, message) in waiting(pod) {
        if STUCK.contains(&reason.as_str()) {
            let message = message.unwrap_or_default();
            let hint = if reason.contains("Image") {
                format!(
                    ": the cluster cannot pull {}; push meshtop's image (the repo's Dockerfile) where it can, or name another with --image",
                    plan.image
                )
            } else {
                String::new()
            };
            return Err(eyre!("agent pod {}/{name}: {reason} {message}{hint}", plan.namespace));
        }
    }
    let scheduling = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .map(|c| {
            format!(
                "pod {name} not scheduled: {}",
                c.message.as_deref().or(c.reason.as_deref()).unwrap_or("")
            )
        });
    let container = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .map(|r| format!("pod {name}: {r}"));
    waiting_why.insert(
        index,
        scheduling
            .or(container)
            .unwrap_or_else(|| format!("pod {name} {}", status.phase.as_deref().unwrap_or("Pending"))),
    );
    let agent = &mut live.agents[index as usize];
    if agent.pod.as_deref() != Some(name.as_str()) {
        agent.pod = Some(name.clone());
    }
    let phase = status.phase.as_deref().unwrap_or("");
    if phase == "Running" && status.pod_ip.is_some() && !followers.contains_key(&index) {
        let task = tokio::spawn(follow::follow(
            client.clone(),
            plan.namespace.clone(),
            name.clone(),
            index,
            agent.lines,
            tx.clone(),
        ));
        followers.insert(index, task);
    }
    if matches!(phase, "Failed" | "Succeeded") && agent.state != AgentState::Done {
        let why = match phase {
            "Failed" => {
                let exit = status
                    .container_statuses
                    .iter()
                    .flatten()
                    .find_map(|c| c.state.as_ref()?.terminated.as_ref())
                    .map(|t| {
                        format!(
                            " (exit code {}{})",
                            t.exit_code,
                            t.reason.as_deref().map(|r| format!(", {r}")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                let reason = status.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                format!("pod {name} failed{reason}{exit}")
            }
            _ => format!("pod {name} ended before its last frame reached meshtop"),
        };
        ending
            .entry(index)
            .or_insert_with(|| (tokio::time::Instant::now(), why));
    }
    Ok(())
}

/// The nodes that run the URL's target: a Service's endpoints (`svc`, `svc.ns`,
/// `svc.ns.svc[.cluster.local]`) or a pod's IP.
pub async fn target_nodes(client: &Client, url: &str, default_ns: &str) -> Result<Vec<String>> {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .ok_or_else(|| bad_input(format!("--avoid-target-nodes: {url:?} has no host")))?;
    let host = host.trim_matches(['[', ']']).to_string();
    let mut nodes = Vec::new();
    // A pod's IP, a Service's cluster IP (in `default_ns`), or a Service's name.
    let mut service = None;
    if host.parse::<std::net::IpAddr>().is_ok() {
        let pods: Api<Pod> = Api::all(client.clone());
        let found = pods
            .list(&ListParams::default().fields(&format!("status.podIP={host}")))
            .await
            .wrap_err("--avoid-target-nodes: finding the pod with the target's IP")?;
        nodes.extend(found.items.iter().filter_map(|p| p.spec.as_ref()?.node_name.clone()));
        if nodes.is_empty() {
            let services = Api::<k8s_openapi::api::core::v1::Service>::namespaced(client.clone(), default_ns)
                .list(&ListParams::default())
                .await
                .wrap_err_with(|| format!("--avoid-target-nodes: finding the Service with cluster IP {host}"))?;
            service = services
                .items
                .iter()
                .find(|s| s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some(host.as_str()))
                .map(|s| (s.name_any(), default_ns.to_string()));
        }
    } else {
        service = Some(service_of(&host, default_ns));
    }
    if let Some((service, ns)) = service {
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
        let found = slices
            .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
            .await
            .wrap_err_with(|| format!("--avoid-target-nodes: reading the endpoints of Service {ns}/{service}"))?;
        nodes.extend(
            found
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter())
                .filter_map(|e| e.node_name.clone()),
        );
    }
    nodes.sort();
    nodes.dedup();
    if nodes.is_empty() {
        return Err(bad_input(format!(
            "--avoid-target-nodes: no pod in the cluster serves {host} (a Service name, svc.namespace, or a pod IP)"
        )));
    }
    Ok(nodes)
}

/// The Service and namespace a cluster host name names.
pub fn service_of(host: &str, default_ns: &str) -> (String, String) {
    let mut parts = host.split('.');
    let service = parts.next().unwrap_or_default().to_string();
    let ns = parts.next().filter(|n| !n.is_empty()).unwrap_or(default_ns).to_string();
    (service, ns)
}

#[cfg(test)]
mod tests {
    #[test]
    fn service_names_in_every_form() {
        assert_eq!(super::service_of("web", "load"), ("web".into(), "load".into()));
        assert_eq!(super::service_of("web.shop", "load"), ("web".into(), "shop".into()));
        assert_eq!(
            super::service_of("web.shop.svc.cluster.local", "load"),
            ("web".into(), "shop".into())
        );
    }
}

//! In-cluster load on the test bed: `meshtop bench --in-cluster` creates its Job against
//! the real API server; the Job controller makes the agent pods and kwok runs them. kwok
//! runs no containers, so this test plays the kubelet: for each agent pod it starts
//! `meshtop agent` in the pod's network namespace with the pod's own args, env (Secret and
//! downward-API references resolved) and Secret volume, ends the pod when the process
//! exits, and stops the process when the pod is deleted. meshtop follows every agent
//! through the API server's pod proxy. The merged result must equal the merge of the
//! agents' own final frames (their stdout) exactly, and nothing may be left behind.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");
const MANAGED: &str = "app.kubernetes.io/managed-by=meshtop";

/// What the kubelet does to an agent.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Run,
    /// Agent `index` is killed (SIGKILL) once it has run a second: its pod fails.
    Kill(u32),
    /// Every pod reports that its image cannot be pulled; no agent starts.
    ImagePull,
}

/// The kubelet's view of one agent.
struct Agent {
    /// Its pod: a later Job's pod with the same index is another agent (a sweep makes a
    /// Job per run).
    pod: String,
    child: Arc<Mutex<std::process::Child>>,
    shard: PathBuf,
    /// Its pod was deleted and it was told to stop.
    stopped: std::sync::atomic::AtomicBool,
}

/// Plays the kubelet for the agent pods of `ns` until aborted.
fn kubelet(
    client: Client,
    ns: String,
    dir: PathBuf,
    mode: Mode,
) -> (tokio::task::JoinHandle<()>, Arc<Mutex<BTreeMap<u32, Agent>>>) {
    let agents: Arc<Mutex<BTreeMap<u32, Agent>>> = Arc::default();
    let started = agents.clone();
    let task = tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let mut events = watcher(pods.clone(), watcher::Config::default().labels(MANAGED)).boxed();
        while let Some(ev) = events.next().await {
            let pod = match ev {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                Ok(watcher::Event::Delete(p)) => {
                    stop(&started, &p, libc::SIGTERM);
                    continue;
                }
                _ => continue,
            };
            if pod.metadata.deletion_timestamp.is_some() {
                stop(&started, &pod, libc::SIGTERM);
                continue;
            }
            let Some(index) = index(&pod) else { continue };
            let st = pod.status.clone().unwrap_or_default();
            if st.phase.as_deref() != Some("Running")
                || st.pod_ip.is_none()
                || started
                    .lock()
                    .unwrap()
                    .get(&index)
                    .is_some_and(|a| a.pod == pod.name_any())
            {
                continue;
            }
            if mode == Mode::ImagePull {
                started.lock().unwrap().insert(
                    index,
                    Agent {
                        pod: pod.name_any(),
                        child: Arc::new(Mutex::new(Command::new("true").spawn().unwrap())),
                        shard: PathBuf::new(),
                        stopped: Default::default(),
                    },
                );
                let status = json!({"status": {"containerStatuses": [{
                    "name": "agent", "image": "meshtop:absent", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"meshtop:absent\""}}}]}});
                pods.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(status))
                    .await
                    .unwrap();
                continue;
            }
            let agent = start_agent(&client, &ns, &pod, &dir).await;
            let child = agent.child.clone();
            let shard = agent.shard.clone();
            started.lock().unwrap().insert(index, agent);
            if mode == Mode::Kill(index) {
                let child = child.clone();
                tokio::spawn(async move {
                    // A second into its run: its start frame and five intervals are out.
                    while std::fs::read_to_string(&shard).map_or(0, |t| t.lines().count()) < 6 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let _ = child.lock().unwrap().kill();
                });
            }
            // The pod ends when its process does, with its exit code.
            let (pods, name) = (pods.clone(), pod.name_any());
            tokio::spawn(async move {
                let code = loop {
                    if let Some(s) = child.lock().unwrap().try_wait().unwrap() {
                        break s.code().unwrap_or(137);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                };
                let (phase, reason) = if code == 0 {
                    ("Succeeded", "Completed")
                } else {
                    ("Failed", "Error")
                };
                let status = json!({"status": {"phase": phase, "containerStatuses": [{
                    "name": "agent", "image": "meshtop:test", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": reason}}}]}});
                let _ = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                    .await;
            });
        }
    });
    (task, agents)
}

fn index(pod: &Pod) -> Option<u32> {
    pod.annotations()
        .get("batch.kubernetes.io/job-completion-index")?
        .parse()
        .ok()
}

/// A deleted pod's process gets `signal`, then SIGKILL after the pod's grace period (10 s),
/// as a kubelet does; then its network namespace goes, so that kwok can give its IP to a
/// later pod without two namespaces answering for it.
fn stop(agents: &Mutex<BTreeMap<u32, Agent>>, pod: &Pod, signal: i32) {
    if let Some(i) = index(pod)
        && let Some(a) = agents.lock().unwrap().get(&i)
        && a.pod == pod.name_any()
        && !a.stopped.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        let child = a.child.clone();
        let pid = child.lock().unwrap().id();
        // `ip netns exec` execs the agent in place: the pid is the agent's.
        unsafe { libc::kill(pid as i32, signal) };
        let (ns, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
        std::thread::spawn(move || {
            for _ in 0..100 {
                if child.lock().unwrap().try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.lock().unwrap().kill();
            let _ = child.lock().unwrap().wait();
            let _ = Command::new(repo().join("scripts/testbed"))
                .args(["pod-netns-rm", &ns, &name])
                .output();
        });
    }
}

/// Starts the pod's container as the kubelet would: args, env (values, Secret keys,
/// the downward API's annotations) and the Secret volume's files.
async fn start_agent(client: &Client, ns: &str, pod: &Pod, dir: &Path) -> Agent {
    let spec = pod.spec.as_ref().unwrap();
    let c = &spec.containers[0];
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let name = pod.name_any();
    let files = dir.join(&name);
    let mut mounts = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        // The service account's token volume is not the agent's business.
        let vol = spec.volumes.iter().flatten().find(|v| v.name == m.name).unwrap();
        let Some(from) = vol.secret.as_ref() else { continue };
        let secret = secrets.get(from.secret_name.as_ref().unwrap()).await.unwrap();
        let to = files.join(m.name.as_str());
        std::fs::create_dir_all(&to).unwrap();
        for (k, v) in secret.data.unwrap_or_default() {
            std::fs::write(to.join(k), v.0).unwrap();
        }
        mounts.push((m.mount_path.clone(), to.display().to_string()));
    }
    let mut env = Vec::new();
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => v.clone(),
            (None, Some(from)) => {
                if let Some(r) = &from.secret_key_ref {
                    let s = secrets.get(&r.name).await.unwrap();
                    String::from_utf8(s.data.unwrap()[&r.key].0.clone()).unwrap()
                } else {
                    // The downward API: metadata.annotations['k'] or metadata.labels['k'].
                    let path = &from.field_ref.as_ref().unwrap().field_path;
                    if path == "metadata.name" {
                        env.push((e.name.clone(), name.clone()));
                        continue;
                    }
                    let (map, key) = path
                        .trim_end_matches("']")
                        .split_once("['")
                        .unwrap_or_else(|| panic!("field {path}"));
                    let values = if map == "metadata.labels" {
                        pod.labels()
                    } else {
                        pod.annotations()
                    };
                    values
                        .get(key)
                        .unwrap_or_else(|| panic!("{path} of pod {name}: {:?}", pod.metadata))
                        .clone()
                }
            }
            _ => String::new(),
        };
        let value = mounts
            .iter()
            .fold(value, |v, (from, to)| v.replacen(from.as_str(), to, 1));
        env.push((e.name.clone(), value));
    }
    assert!(
        env.iter().any(|(k, _)| k == "JOB_COMPLETION_INDEX"),
        "the Job controller gives the index"
    );
    let netns = pod_netns(ns, &name);
    let shard = dir.join(format!("{name}.shard"));
    let child = Command::new("ip")
        .args(["netns", "exec", &netns, BIN])
        .args(c.args.iter().flatten())
        .env_clear()
        .envs(env)
        // Every response of the agent's server ends after 5 lines: meshtop must resume
        // each stream from the next frame it needs, many times per run.
        .env("MESHTOP_AGENT_CUT_STREAMS", "5")
        .env("HOME", dir)
        .stdout(std::fs::File::create(&shard).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Agent {
        pod: name.clone(),
        child: Arc::new(Mutex::new(child)),
        shard,
        stopped: Default::default(),
    }
}

/// The target: Python's HTTP server in a pod's network namespace.
async fn target(client: &Client, ns: &str, www: &Path) -> (NetnsProcess, String) {
    create_yaml(
        client,
        ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: python:3}\n",
    )
    .await;
    let ip = running_pod(client, ns, "web").await.status.unwrap().pod_ip.unwrap();
    let netns = pod_netns(ns, "web");
    std::fs::write(www.join("index.html"), "hello\n").unwrap();
    let server = serve_dir_in_netns(&netns, "0.0.0.0", www);
    (server, format!("http://{ip}:8080/"))
}

fn meshtop(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("KUBECONFIG", kubeconfig())
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("MESHTOP_RATE");
    cmd
}

/// 120 req/s over 6 connections for `secs`, from `agents` agents starting 6 s after the Job.
fn bench_args<'a>(ns: &'a str, url: &'a str, agents: &'a str, secs: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "bench",
        "--in-cluster",
        "--allow-writes",
        "--agents",
        agents,
        "--namespace",
        ns,
        "--image",
        "meshtop:test",
        "--start-in",
        "6s",
        "-q",
        "120",
        "-c",
        "6",
        "-z",
        secs,
        "--no-save",
        "-o",
        "json",
    ];
    a.extend_from_slice(extra);
    a.push(url);
    a
}

/// Everything meshtop created in `ns` (by its label), as "Kind/name".
async fn leftovers(client: &Client, ns: &str) -> Vec<String> {
    let lp = ListParams::default().labels(MANAGED);
    let mut out = Vec::new();
    for j in Api::<Job>::namespaced(client.clone(), ns).list(&lp).await.unwrap() {
        out.push(format!("Job/{}", j.name_any()));
    }
    for s in Api::<Secret>::namespaced(client.clone(), ns).list(&lp).await.unwrap() {
        out.push(format!("Secret/{}", s.name_any()));
    }
    for p in Api::<Pod>::namespaced(client.clone(), ns).list(&lp).await.unwrap() {
        out.push(format!("Pod/{}", p.name_any()));
    }
    for d in Api::<Deployment>::namespaced(client.clone(), ns)
        .list(&lp)
        .await
        .unwrap()
    {
        out.push(format!("Deployment/{}", d.name_any()));
    }
    let sets = Api::<k8s_openapi::api::apps::v1::ReplicaSet>::namespaced(client.clone(), ns);
    for r in sets.list(&lp).await.unwrap() {
        out.push(format!("ReplicaSet/{}", r.name_any()));
    }
    for s in Api::<Service>::namespaced(client.clone(), ns).list(&lp).await.unwrap() {
        out.push(format!("Service/{}", s.name_any()));
    }
    out
}

/// `meshtop merge` of the agents' own stdout shards, as JSON.
fn merged(dir: &Path, shards: &[PathBuf]) -> Value {
    let mut args = vec!["merge".to_string(), "-o".into(), "json".into()];
    args.extend(shards.iter().map(|p| p.display().to_string()));
    let out = meshtop(dir, &[]).args(&args).output().unwrap();
    assert!(out.status.success(), "merge: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The figures two results must share exactly.
fn figures(v: &Value) -> Value {
    json!({
        "requests": v["requests"], "responses": v["responses"], "status": v["status"], "errors": v["errors"],
        "latency": v["latency"], "latency_uncorrected": v["latency_uncorrected"], "schedule_lag": v["schedule_lag"],
        "body_sizes": v["body_sizes"], "bytes_sent": v["bytes_sent"], "bytes_received": v["bytes_received"],
    })
}

fn shards_of(agents: &Mutex<BTreeMap<u32, Agent>>, except: Option<u32>) -> Vec<PathBuf> {
    agents
        .lock()
        .unwrap()
        .iter()
        .filter(|(i, _)| Some(**i) != except)
        .map(|(_, a)| a.shard.clone())
        .collect()
}

#[tokio::test]
async fn agents_in_a_job_merge_exactly_and_leave_nothing_behind() {
    let (client, ns) = setup("agents").await;
    let dir = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    let (_server, url) = target(&client, &ns, www.path()).await;
    let (kubelet, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let out = tokio::task::spawn_blocking({
        let (dir, ns, url) = (dir.path().to_path_buf(), ns.clone(), url.clone());
        move || {
            meshtop(
                &dir,
                &bench_args(&ns, &url, "3", "3s", &["-H", "Authorization: Bearer agent-canary"]),
            )
            .output()
            .unwrap()
        }
    })
    .await
    .unwrap();
    kubelet.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("create Job (3 agent pods, image meshtop:test), suspended meshtop-agents-"),
        "{stderr}"
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let shards = shards_of(&agents, None);
    assert_eq!(shards.len(), 3, "three agents ran");
    let own = merged(dir.path(), &shards);
    assert_eq!(
        figures(&result),
        figures(&own),
        "the live merge equals the agents' final frames merged"
    );
    // 120/s for 3 s over three agents: 40/s each (the schedule is exact, so 360 in all).
    assert_eq!(result["requests"], 360, "{result}");
    assert_eq!(result["status"]["200"], 360);
    assert_eq!(result["agents"]["count"], 3);
    assert_eq!(result["agents"]["missing"], json!([]));
    assert_eq!(result["config"]["connections"], 6);
    // 17 frames an agent, 5 a response: at least 3 resumptions each.
    assert!(
        result["agents"]["stream_reconnects"].as_u64().unwrap() >= 9,
        "{}",
        result["agents"]
    );
    // The credential went to the agents through the Secret, and out of the result.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("agent-canary"));
    assert_eq!(
        leftovers(&client, &ns).await,
        Vec::<String>::new(),
        "nothing is left behind"
    );
}

#[tokio::test]
async fn a_killed_agent_is_named_or_aborts_the_run() {
    let (client, ns) = setup("agents-kill").await;
    let dir = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    let (_server, url) = target(&client, &ns, www.path()).await;

    // continue: the others merge; the killed one's share is named.
    let (kubelet1, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Kill(1));
    let out = tokio::task::spawn_blocking({
        let (dir, ns, url) = (dir.path().to_path_buf(), ns.clone(), url.clone());
        move || {
            meshtop(
                &dir,
                &bench_args(&ns, &url, "3", "6s", &["--on-agent-failure", "continue"]),
            )
            .output()
            .unwrap()
        }
    })
    .await
    .unwrap();
    kubelet1.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = &result["agents"]["missing"];
    assert_eq!(missing.as_array().unwrap().len(), 1, "{result}");
    assert_eq!(missing[0]["index"], 1);
    assert_eq!(missing[0]["share"], "rate 40/s, 2 connections");
    assert!(missing[0]["why"].as_str().unwrap().contains("failed"), "{missing}");
    let own = merged(dir.path(), &shards_of(&agents, Some(1)));
    assert_eq!(figures(&result), figures(&own));
    // Agents 0 and 2: 40/s each for 6 s.
    assert_eq!(result["requests"], 480);
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());

    // abort (the default): no result, the failure named, nothing left behind.
    let dir2 = tempfile::tempdir().unwrap();
    let (kubelet2, _) = kubelet(client.clone(), ns.clone(), dir2.path().to_path_buf(), Mode::Kill(0));
    let out = tokio::task::spawn_blocking({
        let (dir, ns, url) = (dir2.path().to_path_buf(), ns.clone(), url.clone());
        move || meshtop(&dir, &bench_args(&ns, &url, "2", "6s", &[])).output().unwrap()
    })
    .await
    .unwrap();
    kubelet2.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("agent 0 failed: pod meshtop-agents-"), "{stderr}");
    assert!(stderr.contains("the run is aborted"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());
}

#[tokio::test]
async fn cancel_cleanup_refusals_and_image_pulls() {
    let (client, ns) = setup("agents-cancel").await;
    let dir = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    let (_server, url) = target(&client, &ns, www.path()).await;

    // Without --allow-writes: refused before anything is sent, naming what would be made.
    let args: Vec<&str> = bench_args(&ns, &url, "2", "3s", &[])
        .into_iter()
        .filter(|a| *a != "--allow-writes")
        .collect();
    let out = meshtop(dir.path(), &args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--allow-writes") && stderr.contains(&format!("in namespace {ns}")),
        "{stderr}"
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());

    // Ctrl-c mid-run: what ran is reported as cancelled, and nothing is left behind.
    let (kubelet1, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let child = meshtop(dir.path(), &bench_args(&ns, &url, "2", "60s", &[]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    wait_for("both agents to send frames", Duration::from_secs(60), || {
        let agents = agents.clone();
        async move {
            let a = agents.lock().unwrap();
            let lines = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
            (a.len() == 2 && a.values().all(|a| lines(&a.shard) >= 5)).then_some(())
        }
    })
    .await;
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    kubelet1.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["cancelled"], true);
    assert!(result["requests"].as_u64().unwrap() > 0);
    // Each agent was stopped through its pod and sent its last frame: the result is theirs.
    assert_eq!(result["agents"]["missing"], json!([]), "{stderr}");
    assert_eq!(
        figures(&result),
        figures(&merged(dir.path(), &shards_of(&agents, None)))
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new(), "{stderr}");

    // kill -9 of meshtop: its Job stays; `meshtop cleanup` lists and deletes it.
    let (kubelet2, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let mut child = meshtop(dir.path(), &bench_args(&ns, &url, "2", "60s", &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the agents to start", Duration::from_secs(60), || {
        let agents = agents.clone();
        async move { (agents.lock().unwrap().len() == 2).then_some(()) }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let left = leftovers(&client, &ns).await;
    assert!(left.iter().any(|l| l.starts_with("Job/meshtop-agents-")), "{left:?}");
    let out = meshtop(dir.path(), &["cleanup", "-n", &ns]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "cleanup without --allow-writes is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("delete Job meshtop-agents-"));
    let out = meshtop(dir.path(), &["cleanup", "-n", &ns, "--dry-run"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&format!("Job {ns}/meshtop-agents-")) && listed.contains("Secret "),
        "{listed}"
    );
    let out = meshtop(dir.path(), &["cleanup", "-n", &ns, "--allow-writes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("deleted Job {ns}/meshtop-agents-")));
    let client2 = client.clone();
    let ns2 = ns.clone();
    wait_for("cleanup to leave nothing", Duration::from_secs(60), || {
        let (client, ns) = (client2.clone(), ns2.clone());
        async move { leftovers(&client, &ns).await.is_empty().then_some(()) }
    })
    .await;
    kubelet2.abort();

    // An image the cluster cannot pull: a clear error naming it, and nothing left behind.
    let (kubelet3, _) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::ImagePull);
    let out = tokio::task::spawn_blocking({
        let (dir, ns, url) = (dir.path().to_path_buf(), ns.clone(), url.clone());
        move || meshtop(&dir, &bench_args(&ns, &url, "2", "3s", &[])).output().unwrap()
    })
    .await
    .unwrap();
    kubelet3.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ImagePullBackOff") && stderr.contains("the cluster cannot pull meshtop:test"),
        "{stderr}"
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());
}

/// The shipped agents' Role (deploy/rbac-agents.yaml) is enough: a user bound to it alone
/// in the agents' namespace runs an in-cluster benchmark, and `meshtop cleanup` finds and
/// deletes a killed run's Job, its pods and its Secret, never reading a Secret.
#[tokio::test]
async fn the_shipped_agents_role_is_enough() {
    let (client, ns) = setup("agents-role").await;
    let dir = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    let (_server, url) = target(&client, &ns, www.path()).await;
    let user = format!("agents-{ns}");
    let role = include_str!("../deploy/rbac-agents.yaml");
    create_yaml(&client, &ns, role).await;
    create_yaml(
        &client,
        &ns,
        &support::role::binding("RoleBinding", "meshtop-agents", "Role", "meshtop-agents", &user),
    )
    .await;
    let kc = impersonating_kubeconfig(dir.path(), &user);

    let (kubelet1, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let out = tokio::task::spawn_blocking({
        let (dir, ns, url, kc) = (dir.path().to_path_buf(), ns.clone(), url.clone(), kc.clone());
        move || {
            meshtop(&dir, &bench_args(&ns, &url, "2", "2s", &[]))
                .env("KUBECONFIG", kc)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    kubelet1.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["requests"], 240, "{}", result["agents"]);
    assert_eq!(
        figures(&result),
        figures(&merged(dir.path(), &shards_of(&agents, None)))
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new(), "{stderr}");

    // A run killed with -9, cleaned up by the same user.
    let (kubelet2, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let mut child = meshtop(dir.path(), &bench_args(&ns, &url, "2", "60s", &[]))
        .env("KUBECONFIG", &kc)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the agents to start", Duration::from_secs(60), || {
        let agents = agents.clone();
        async move { (agents.lock().unwrap().len() == 2).then_some(()) }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let out = meshtop(dir.path(), &["cleanup", "-n", &ns, "--allow-writes"])
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (client2, ns2) = (client.clone(), ns.clone());
    wait_for(
        "cleanup to leave nothing, the Secret too",
        Duration::from_secs(60),
        || {
            let (client, ns) = (client2.clone(), ns2.clone());
            async move { leftovers(&client, &ns).await.is_empty().then_some(()) }
        },
    )
    .await;
    kubelet2.abort();
}

/// Plays kube-proxy for one Service on the test bed (it has none): the Service's cluster IP
/// is routed to the pod's veth and held by the pod, so a connection to CLUSTER_IP:PORT
/// reaches the pod's PORT (the tests' Services keep port = target port).
fn route_cluster_ip(netns: &str, pod_ip: &str, cluster_ip: &str) {
    let out = Command::new("ip")
        .args(["-o", "route", "get", pod_ip])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let dev = text
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or_else(|| panic!("no route to {pod_ip}: {text}"))
        .to_string();
    for args in [
        vec![
            "netns",
            "exec",
            netns,
            "ip",
            "addr",
            "add",
            &format!("{cluster_ip}/32"),
            "dev",
            "eth0",
        ],
        vec!["route", "replace", &format!("{cluster_ip}/32"), "dev", &dev],
    ] {
        let st = Command::new("ip").args(&args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    }
}

/// Serves a Deployment's pod (selected by `labels`) on :8080 in its network namespace and
/// routes the cluster IP of Service `service` to it, once both exist. Returns the server
/// and the pod's name.
async fn serve_behind_service(
    client: &Client,
    ns: &str,
    labels: &str,
    service: &str,
    www: &Path,
) -> (NetnsProcess, String) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = wait_for(
        &format!("a running pod labelled {labels}"),
        Duration::from_secs(60),
        || {
            let pods = pods.clone();
            async move {
                let list = pods.list(&ListParams::default().labels(labels)).await.ok()?;
                list.items.into_iter().find(|p| {
                    let st = p.status.as_ref();
                    st.and_then(|s| s.phase.as_deref()) == Some("Running")
                        && st.and_then(|s| s.pod_ip.as_ref()).is_some()
                })
            }
        },
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let svc = wait_for(&format!("Service {service}"), Duration::from_secs(60), || {
        let services = services.clone();
        let service = service.to_string();
        async move { services.get_opt(&service).await.ok().flatten() }
    })
    .await;
    let netns = pod_netns(ns, &pod.name_any());
    let server = serve_dir_in_netns(&netns, "0.0.0.0", www);
    let cluster_ip = svc.spec.unwrap().cluster_ip.unwrap();
    route_cluster_ip(
        &netns,
        pod.status.as_ref().unwrap().pod_ip.as_ref().unwrap(),
        &cluster_ip,
    );
    (server, pod.name_any())
}

/// `sweep --in-cluster --baseline-clone deploy/web`, as a user bound to the agents' and the
/// clone's shipped Roles alone: the copy has the original's pod spec and replicas, no
/// mesh and none of its labels, and its own Service; the sweep runs both targets from
/// agent pods (every run exact: -n 40 over 2 agents), the copy is the baseline, and
/// nothing is left behind. Without --allow-writes it is refused, naming the copy.
#[tokio::test]
async fn a_baseline_clone_is_swept_from_agents_and_removed() {
    let (client, ns) = setup("clone").await;
    let dir = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "hello\n").unwrap();
    create_yaml(
        &client,
        &ns,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {linkerd.io/inject: enabled, config.linkerd.io/proxy-cpu-limit: "1", team: shop}
    spec:
      containers:
      - name: app
        image: python:3
        args: [-m, http.server, "8080"]
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]
"#,
    )
    .await;
    let original_server = serve_behind_service(&client, &ns, "app=web", "web", www.path()).await;
    let user = format!("clone-{ns}");
    for (file, role) in [
        (include_str!("../deploy/rbac-agents.yaml"), "meshtop-agents"),
        (
            include_str!("../deploy/rbac-baseline-clone.yaml"),
            "meshtop-baseline-clone",
        ),
    ] {
        create_yaml(&client, &ns, file).await;
        create_yaml(
            &client,
            &ns,
            &support::role::binding("RoleBinding", role, "Role", role, &user),
        )
        .await;
    }
    let kc = impersonating_kubeconfig(dir.path(), &user);
    let sweep = |writes: bool, requests: &'static str| {
        let mut a = vec![
            "sweep",
            "--in-cluster",
            "--agents",
            "2",
            "--namespace",
            &ns,
            "--image",
            "meshtop:test",
            "--start-in",
            "5s",
            "--baseline-clone",
            "deploy/web",
            "-c",
            "4",
            "-n",
            requests,
            "--warmup",
            "0",
            "--cooldown",
            "0",
            "--no-cluster",
            "--no-save",
            "-o",
            "json",
        ];
        if writes {
            a.push("--allow-writes");
        }
        let mut cmd = meshtop(dir.path(), &a);
        cmd.env("KUBECONFIG", &kc);
        cmd
    };

    let out = sweep(false, "40").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "would create Deployment (uninjected copy of deploy/web: 1 replica, image python:3) web-baseline-"
        ),
        "{stderr}"
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());

    let (kubelet1, _agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let child = sweep(true, "40")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The copy, as created, and its pod served behind its Service.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let copy = wait_for("the copy", Duration::from_secs(60), || {
        let d = deployments.clone();
        async move {
            let lp = ListParams::default().labels("meshtop.dev/baseline-of=web");
            d.list(&lp).await.ok()?.items.into_iter().next()
        }
    })
    .await;
    let name = copy.name_any();
    assert!(name.starts_with("web-baseline-"), "{name}");
    let run = copy.labels()["meshtop.dev/run"].clone();
    let copy_server = serve_behind_service(&client, &ns, "meshtop.dev/baseline-of=web", &name, www.path()).await;
    let original = deployments.get("web").await.unwrap();
    let (o, c) = (original.spec.unwrap(), copy.spec.unwrap());
    assert_eq!(c.replicas, o.replicas);
    assert_eq!(c.template.spec, o.template.spec, "the same pod spec");
    let meta = c.template.metadata.unwrap();
    let labels = meta.labels.unwrap();
    assert_eq!(labels.get("app"), None, "the original Service must not select the copy");
    assert_eq!(labels["meshtop.dev/run"], run);
    let ann = meta.annotations.unwrap();
    assert_eq!(ann["linkerd.io/inject"], "disabled");
    assert_eq!(ann.get("config.linkerd.io/proxy-cpu-limit"), None);
    assert_eq!(ann["team"], "shop");
    let svc = Api::<Service>::namespaced(client.clone(), &ns)
        .get(&name)
        .await
        .unwrap();
    let owner = &svc.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Deployment", name.as_str())
    );
    let clone_ip = svc.spec.unwrap().cluster_ip.unwrap();
    // The original's Service does not send its traffic to the copy's pod.
    let copy_ip = Api::<Pod>::namespaced(client.clone(), &ns)
        .get(&copy_server.1)
        .await
        .unwrap()
        .status
        .unwrap()
        .pod_ip
        .unwrap();
    let slices = Api::<k8s_openapi::api::discovery::v1::EndpointSlice>::namespaced(client.clone(), &ns);
    let web_slices = wait_for("web's endpoints", Duration::from_secs(30), || {
        let slices = slices.clone();
        async move {
            let lp = ListParams::default().labels("kubernetes.io/service-name=web");
            let l = slices.list(&lp).await.ok()?;
            let addresses: Vec<String> = l
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter().flat_map(|e| e.addresses.clone()))
                .collect();
            (!addresses.is_empty()).then_some(addresses)
        }
    })
    .await;
    assert!(
        !web_slices.contains(&copy_ip),
        "{web_slices:?} holds the copy's {copy_ip}"
    );
    let web_ip = Api::<Service>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap();

    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    kubelet1.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["baseline"], "clone-of-web");
    let step = &result["steps"][0]["targets"];
    let got: Vec<Value> = step
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!([t["name"], t["url"], t["requests"], t["errors"]]))
        .collect();
    assert_eq!(
        got,
        [
            json!(["clone-of-web", format!("http://{clone_ip}:8080/"), 40, 0]),
            json!(["web", format!("http://{web_ip}:8080/"), 40, 0]),
        ],
        "{stderr}\n{step}"
    );
    assert!(
        stderr.contains(&format!("deleting {name} (Deployment and Service)")),
        "{stderr}"
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new(), "{stderr}");
    // The original is untouched.
    assert!(deployments.get_opt("web").await.unwrap().is_some());

    // Killed (SIGTERM) mid-sweep: the agents stop, and their Job and the copy are deleted.
    let (kubelet2, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let child = sweep(true, "100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let second = wait_for("the second copy", Duration::from_secs(60), || {
        let d = deployments.clone();
        let first = name.clone();
        async move {
            let lp = ListParams::default().labels("meshtop.dev/baseline-of=web");
            d.list(&lp)
                .await
                .ok()?
                .items
                .into_iter()
                .find(|d| d.name_any() != first)
        }
    })
    .await;
    let second_server = serve_behind_service(
        &client,
        &ns,
        &format!("meshtop.dev/run={}", second.labels()["meshtop.dev/run"]),
        &second.name_any(),
        www.path(),
    )
    .await;
    wait_for("the first run's agents", Duration::from_secs(60), || {
        let agents = agents.clone();
        async move { (agents.lock().unwrap().len() == 2).then_some(()) }
    })
    .await;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    kubelet2.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("deleting {} (Deployment and Service)", second.name_any())),
        "{stderr}"
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new(), "{stderr}");
    for (server, pod) in [original_server, copy_server, second_server] {
        drop(server);
        let _ = Command::new(repo().join("scripts/testbed"))
            .args(["pod-netns-rm", &ns, &pod])
            .output();
    }
}

/// The TUI's path: the runner the TUI starts an in-cluster run with (after the user said
/// y) sends the live merge as progress and agent updates that fold into the bench view,
/// then the result; `x` (the runner's stop) ends a second run early with what ran, and
/// neither leaves anything behind.
#[tokio::test]
async fn the_tui_runner_folds_agents_live_and_stops_on_x() {
    use meshtop::agents::plan::InCluster;
    use meshtop::app::{Keymap, State, Update, fold};
    let (client, ns) = setup("agents-tui").await;
    let dir = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    let (_server, url) = target(&client, &ns, www.path()).await;
    let kube = meshtop::source::kube::KubeTarget {
        kubeconfig: Some(kubeconfig()),
        ..Default::default()
    };
    let spec = |run: &str| InCluster {
        run: run.into(),
        namespace: ns.clone(),
        agents: 2,
        image: "meshtop:test".into(),
        on_failure: meshtop::agents::OnFailure::Abort,
        start_in: Duration::from_secs(6),
    };
    let config = |secs: u64| {
        let mut c = meshtop::bench::BenchConfig::new(url.clone());
        c.spec.rate = 100.0;
        c.spec.connections = 4;
        c.spec.duration = Some(Duration::from_secs(secs));
        c
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let mut runner = meshtop::run::BenchRunner::new(tx).with_results_dir(dir.path().join("results"));
    let (kubelet1, _) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    let mut state = State::new(Keymap::default());
    runner.start_in_cluster(1, config(2), Default::default(), spec("tui00001"), kube.clone());
    let mut saw_agents = false;
    let mut last_live = 0;
    loop {
        let u = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("updates")
            .unwrap();
        let end = matches!(u.update, Update::BenchFinished { .. } | Update::BenchFailed { .. });
        if let Update::BenchAgents { agents, .. } = &u.update {
            saw_agents |= agents.len() == 2 && agents.iter().any(|a| a.requests > 0);
        }
        if let Update::BenchProgress { progress, .. } = &u.update {
            last_live = progress.requests;
        }
        fold(&mut state, u);
        if end {
            break;
        }
    }
    kubelet1.abort();
    assert!(saw_agents, "the agents were shown live");
    let b = &state.benches[0];
    assert_eq!(b.error, None);
    let r = b.result.as_ref().expect("a result");
    assert_eq!((r.requests, r.cancelled), (200, false), "{:?}", r.agents);
    assert_eq!(last_live, 200, "the live figures end where the result is");
    assert_eq!(r.agents.as_ref().unwrap().job, "meshtop-agents-tui00001");
    assert!(
        b.agents
            .iter()
            .all(|a| a.state == meshtop::model::bench::AgentPhase::Done)
    );
    meshtop::app::apply_action(&mut state, meshtop::app::Action::ShowBench);
    let screen = render_text(&state, 140, 40);
    assert!(
        screen.contains("AGENTS  0 running · 2 done · 0 waiting · 0 failed"),
        "{screen}"
    );
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());
    assert_eq!(
        std::fs::read_dir(dir.path().join("results")).unwrap().count(),
        1,
        "the result is kept"
    );

    // x: the runner's stop, mid-run.
    let (kubelet2, agents) = kubelet(client.clone(), ns.clone(), dir.path().to_path_buf(), Mode::Run);
    runner.start_in_cluster(2, config(60), Default::default(), spec("tui00002"), kube);
    wait_for("both agents to send frames", Duration::from_secs(60), || {
        let agents = agents.clone();
        async move {
            let a = agents.lock().unwrap();
            let lines = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
            (a.len() == 2 && a.values().all(|a| lines(&a.shard) >= 5)).then_some(())
        }
    })
    .await;
    runner.stop(2);
    let result = loop {
        let u = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("updates")
            .unwrap();
        match u.update {
            Update::BenchFinished { id: 2, result } => break result,
            Update::BenchFailed { id: 2, message } => panic!("{message}"),
            _ => {}
        }
    };
    kubelet2.abort();
    assert!(result.cancelled && result.requests > 0);
    assert_eq!(leftovers(&client, &ns).await, Vec::<String>::new());
}

/// The kubelet for `scripts/make-recordings`: plays it for the agent pods of the namespace
/// `MESHTOP_KUBELET_NAMESPACE` until killed. Not a test.
#[tokio::test]
#[ignore = "run by scripts/make-recordings"]
async fn play_the_kubelet_for_agent_pods() {
    install_crypto();
    let ns = std::env::var("MESHTOP_KUBELET_NAMESPACE").expect("MESHTOP_KUBELET_NAMESPACE");
    let dir = tempfile::tempdir().unwrap();
    let (task, _) = kubelet(client().await, ns, dir.path().to_path_buf(), Mode::Run);
    let _ = task.await;
}

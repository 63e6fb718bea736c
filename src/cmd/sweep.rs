//! `meshtop sweep`: the slowdown table, headless. A progress line on stderr when it is a
//! terminal (quiet when `-o json` goes to a pipe), the table on stdout (or --out), the
//! JSON result saved, and exit code 3 when an overhead gate is broken.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::sync::{mpsc, watch};

use crate::app::{self, Keymap, Stamped, State, Update};
use crate::cli::SweepArgs;
use crate::exit::{ObjectiveMissed, bad_input};
use crate::input::{self, Bounds};
use crate::model::bench::Phase;
use crate::model::sweep::SweepSpec;
use crate::model::{Resource, UnixMillis};
use crate::sweep::plan::{Experiment, field_duration};
use crate::sweep::run::Launch;
use crate::sweep::{SweepPlan, Target, Varies, gate, output, run};

/// Most an experiment file may be: it is a page of YAML.
const MAX_EXPERIMENT: u64 = 1 << 20;

/// The plan the flags and the experiment file describe, checked; nothing has been sent.
pub fn plan_from_args(args: &SweepArgs) -> Result<(SweepPlan, Vec<gate::Gate>)> {
    let experiment = match &args.file {
        Some(path) => {
            let text = crate::config::read_user_file(path, "experiment file", MAX_EXPERIMENT)?;
            Experiment::parse(&text).map_err(|e| bad_input(format!("experiment file {}: {e}", path.display())))?
        }
        None => Experiment::default(),
    };
    let in_file = |e: String| match &args.file {
        Some(p) => bad_input(format!("experiment file {}: {e}", p.display())),
        None => bad_input(e),
    };
    let targets: Vec<Target> = if args.targets.is_empty() {
        experiment
            .targets
            .iter()
            .map(|t| Target {
                name: t.name.trim().to_string(),
                url: t.url.trim().to_string(),
            })
            .collect()
    } else {
        args.targets.clone()
    };
    let connections = args
        .connections
        .as_ref()
        .map(|c| c.0.clone())
        .or_else(|| experiment.connections.as_ref().map(|c| c.to_vec()));
    let rates = args
        .rates
        .as_ref()
        .map(|r| r.0.clone())
        .or_else(|| experiment.rates.as_ref().map(|r| r.to_vec()));
    let mut fixed_connections = None;
    let varies = match (connections, rates) {
        (Some(c), Some(r)) => {
            if c.len() != 1 {
                return Err(in_file(format!(
                    "connections given with rates must be one number (the connections of every rate step), not {} steps",
                    c.len()
                )));
            }
            fixed_connections = Some(c[0]);
            Varies::Rates(r)
        }
        (Some(c), None) => Varies::Connections(c),
        (None, Some(r)) => Varies::Rates(r),
        (None, None) => Varies::Connections(Vec::new()),
    };
    if let Varies::Rates(r) = &varies
        && let Some(bad) = r.iter().find(|v| !v.is_finite() || **v <= 0.0)
    {
        return Err(in_file(format!("rates: {bad} is not a rate above 0")));
    }
    if let Varies::Connections(c) = &varies
        && let Some(bad) = c.iter().find(|v| !(1..=100_000).contains(*v))
    {
        return Err(in_file(format!("connections: {bad} is not between 1 and 100000")));
    }
    let mut plan = SweepPlan::new(targets, varies);
    if let Some(c) = fixed_connections {
        plan.connections = c;
    }
    if args.baseline_clone.is_some() && (args.baseline.is_some() || experiment.baseline.is_some()) {
        return Err(in_file(
            "a baseline is named, and --baseline-clone makes the copy the baseline: give one of them".into(),
        ));
    }
    if let Some(b) = args.baseline.clone().or(experiment.baseline.clone()) {
        plan.baseline = b.trim().to_string();
    }
    match args.rate.or(experiment.rate) {
        Some(r) if !r.is_finite() || r < 0.0 => {
            return Err(in_file(format!("rate: {r} is not a rate (0 = closed loop)")));
        }
        Some(r) => plan.rate = r,
        None => {}
    }
    let file_duration = |field: &str, v: &Option<String>, b: Bounds| -> Result<Option<Duration>> {
        field_duration(field, v, b).map_err(in_file)
    };
    let duration = args
        .duration
        .or(file_duration("duration", &experiment.duration, Bounds::RUN)?);
    if let Some(d) = duration {
        plan.duration = d;
    }
    plan.requests = args.requests.or(experiment.requests);
    if plan.requests == Some(0) {
        return Err(in_file("requests: at least 1".into()));
    }
    // -n alone bounds each run by its count, as in bench; with -z, whichever comes first.
    plan.timed = duration.is_some() || plan.requests.is_none();
    if let Some(d) = args
        .warmup
        .or(file_duration("warmup", &experiment.warmup, Bounds::OFFSET)?)
    {
        plan.warmup = d;
    }
    if let Some(d) = args
        .cooldown
        .or(file_duration("cooldown", &experiment.cooldown, Bounds::OFFSET)?)
    {
        plan.cooldown = d;
    }
    if let Some(d) = args
        .timeout
        .or(file_duration("timeout", &experiment.timeout, Bounds::TIMEOUT)?)
    {
        plan.timeout = d;
    }
    if let Some(r) = args.repeat.or(experiment.repeat) {
        plan.repeat = r;
    }
    plan.http2 = args.http2 || experiment.http2.unwrap_or(false);
    if let Some(m) = args.method.clone().or(experiment.method.clone()) {
        plan.method = m.to_ascii_uppercase();
    }
    plan.headers = if args.headers.is_empty() {
        experiment
            .headers
            .iter()
            .map(|h| input::header(h).map_err(|e| in_file(format!("headers: {e}"))))
            .collect::<Result<_>>()?
    } else {
        args.headers.clone()
    };
    if let Some(t) = args.threads {
        plan.threads = Some(t);
    }
    plan.insecure = args.insecure;
    plan.tls = args.tls.files();
    plan.label = args.label.clone().or(experiment.label.clone());
    // A baseline clone with no --target: the target is the clone's source, known (and the
    // plan checked) once the cluster is read.
    if !(plan.targets.is_empty() && args.baseline_clone.is_some()) {
        plan.validate().map_err(&in_file)?;
    }

    let mut gates = Vec::new();
    match (&args.max_slowdown, &experiment.max_slowdown) {
        (Some(g), _) => gates.extend(g.0.iter().cloned()),
        (None, Some(text)) => {
            gates.extend(gate::parse_slowdown(text).map_err(|e| in_file(format!("max_slowdown: {e}")))?)
        }
        (None, None) => {}
    }
    match (&args.max_added, &experiment.max_added) {
        (Some(g), _) => gates.extend(g.0.iter().cloned()),
        (None, Some(text)) => gates.extend(gate::parse_added(text).map_err(|e| in_file(format!("max_added: {e}")))?),
        (None, None) => {}
    }
    Ok((plan, gates))
}

pub async fn run(args: SweepArgs) -> Result<()> {
    let (mut plan, gates) = plan_from_args(&args)?;
    let results_dir = args.save.results_dir()?;
    let cluster = cluster_target(&args)?;
    let (stop_tx, mut stop) = watch::channel(false);
    // ctrl-c, and the signals of a closed terminal or a `kill`: a sweep that created
    // objects in the cluster deletes them on each.
    use tokio::signal::unix::{SignalKind, signal};
    let mut signals = Vec::new();
    for kind in [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()] {
        signals.push(signal(kind).wrap_err("listening for signals")?);
    }
    tokio::spawn(async move {
        let any = futures::future::select_all(signals.iter_mut().map(|s| Box::pin(s.recv())));
        any.await;
        let _ = stop_tx.send(true);
        // Keep the sender: a dropped one is not a request to stop.
        std::future::pending::<()>().await;
    });
    if !args.agents.in_cluster {
        return sweep(&args, plan, gates, results_dir, cluster, Launch::Local, stop).await;
    }
    // The agents' cluster, even with --no-cluster (which only means: no usage figures).
    let client = crate::source::kube::connect(&kube_target(&args)?).await?.client;
    let namespace = args
        .cluster
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let template = args.agents.template(&namespace);
    let clone = match &args.baseline_clone {
        None => None,
        Some(source) => {
            let prefer = plan.targets.first().and_then(|t| {
                let host = url::Url::parse(&t.url).ok()?.host_str()?.to_string();
                Some(crate::agents::run::service_of(&host, &namespace).0)
            });
            let c = crate::agents::clone::read(&client, &namespace, source, prefer.as_deref(), &template.run).await?;
            if plan.targets.is_empty() {
                let (Some(url), Some(svc)) = (c.source_url(), c.source_service.as_ref()) else {
                    return Err(bad_input(format!(
                        "--baseline-clone deploy/{source}: no Service selects its pods, so give the meshed target with --target NAME=URL"
                    )));
                };
                plan.targets.push(Target {
                    name: svc.metadata.name.clone().unwrap_or_default(),
                    url,
                });
            }
            // Checked with the copy's place held (its address comes when it exists).
            let name = clone_target(source);
            plan.targets.insert(
                0,
                Target {
                    name: name.clone(),
                    url: c
                        .url(Some(&plan.targets[0].url), "192.0.2.1")
                        .map_err(|e| bad_input(format!("--baseline-clone: {e}")))?,
                },
            );
            plan.baseline = name;
            plan.validate().map_err(bad_input)?;
            Some(c)
        }
    };
    for step in 0..plan.varies.len() {
        super::bench::check_shares(&plan.config(step, 0), template.agents)?;
    }
    let mut writes: Vec<_> = clone.iter().flat_map(|c| c.writes()).collect();
    let runs = plan.runs();
    writes.extend(
        template
            .plan(plan.config(0, 0), Vec::new())
            .writes()
            .into_iter()
            .map(|mut w| {
                w.kind = format!("{} (one for each of the {runs} runs)", w.kind);
                w.name = "meshtop-agents-…".into();
                w
            }),
    );
    let file_config = crate::config::Config::load(None)?;
    crate::model::access::Writes::new(args.common.allow_writes, file_config.allow_writes)
        .permit("sweep --in-cluster", &writes)
        .map_err(bad_input)?;
    for w in &writes {
        eprintln!("meshtop: {w}");
    }
    let Some(clone) = clone else {
        let avoid_nodes = avoid_nodes(&args, &client, &plan, &namespace).await?;
        let launch = Launch::InCluster {
            client,
            template: Box::new(template),
            avoid_nodes,
        };
        return sweep(&args, plan, gates, results_dir, cluster, launch, stop).await;
    };
    // From here on, whatever happens, the copy is deleted.
    let outcome = async {
        if *stop.borrow() {
            return Err(crate::exit::Cancelled("interrupted before the baseline copy was created".into()).into());
        }
        eprintln!(
            "meshtop: creating {} in namespace {namespace} (a copy of deploy/{}, no mesh)",
            clone.name(),
            clone.source
        );
        let ip = crate::agents::clone::create(&client, &clone).await?;
        tokio::select! {
            r = crate::agents::clone::wait_ready(&client, &clone, crate::agents::clone::READY_LIMIT) => r?,
            _ = stop.wait_for(|s| *s) => return Err(crate::exit::Cancelled("interrupted while the baseline copy was starting".into()).into()),
        }
        plan.targets[0].url = clone.url(Some(&plan.targets[1].url), &ip).map_err(|e| eyre!("{e}"))?;
        eprintln!(
            "meshtop: {} is ready: target {} = {}",
            clone.name(),
            plan.targets[0].name,
            plan.targets[0].url
        );
        let avoid_nodes = avoid_nodes(&args, &client, &plan, &namespace).await?;
        let launch = Launch::InCluster {
            client: client.clone(),
            template: Box::new(template),
            avoid_nodes,
        };
        sweep(&args, plan, gates, results_dir, cluster, launch, stop.clone()).await
    }
    .await;
    eprintln!(
        "meshtop: deleting {} (Deployment and Service) in namespace {namespace}",
        clone.name()
    );
    match crate::agents::clone::delete(&client, &clone).await {
        Ok(left) if left.is_empty() => {}
        Ok(left) => {
            let names: Vec<String> = left.iter().map(ToString::to_string).collect();
            eprintln!(
                "meshtop: still there (Kubernetes deletes them; `meshtop cleanup` finds them): {}",
                names.join(", ")
            );
        }
        Err(e) => eprintln!(
            "meshtop: deleting the copy: {}; run `meshtop cleanup --allow-writes -n {namespace}`",
            crate::source::errors::report_text(&e)
        ),
    }
    outcome
}

/// The baseline copy's target name (at most 40 characters, as target names are).
fn clone_target(source: &str) -> String {
    let mut name: String = format!("clone-of-{source}").chars().take(40).collect();
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    name
}

/// With --avoid-target-nodes, the nodes of every target's pods.
async fn avoid_nodes(
    args: &SweepArgs,
    client: &kube::Client,
    plan: &SweepPlan,
    namespace: &str,
) -> Result<Vec<String>> {
    if !args.agents.avoid_target_nodes {
        return Ok(Vec::new());
    }
    let mut nodes = Vec::new();
    for t in &plan.targets {
        nodes.extend(crate::agents::run::target_nodes(client, &t.url, namespace).await?);
    }
    nodes.sort();
    nodes.dedup();
    eprintln!("meshtop: agents avoid the targets' nodes: {}", nodes.join(", "));
    Ok(nodes)
}

/// The sweep itself, its runs sent as `launch` says, with the cluster (when there is one)
/// watched for each target's pods and usage.
async fn sweep(
    args: &SweepArgs,
    plan: SweepPlan,
    gates: Vec<gate::Gate>,
    results_dir: Option<std::path::PathBuf>,
    cluster: Result<crate::source::kube::KubeTarget, String>,
    launch: Launch,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    tracing::info!(
        targets = plan.targets.len(),
        runs = plan.runs(),
        cluster = cluster.is_ok(),
        in_cluster = matches!(launch, Launch::InCluster { .. }),
        "sweep starting"
    );
    let quiet = args.output == output::Format::Json && args.save.out.is_none() && !std::io::stdout().is_terminal();
    let show = std::io::stderr().is_terminal() && !quiet;

    // The sweep's runs and the cluster's usage are folded into one state, as in the TUI:
    // the table and each step's resources come from the same code there and here.
    let mut state = State::new(Keymap::default());
    let mut note = None;
    let cluster_for_nodes = cluster.as_ref().ok().cloned();
    if show && cluster.is_ok() {
        eprint!("\r\x1b[2Kreading the cluster's pods and services (--no-cluster skips this)");
    }
    let mut watched = match cluster {
        Err(why) => {
            // A kubeconfig that is not there is worth saying now, not hours later.
            if why.starts_with("kubeconfig") && !quiet {
                eprintln!("sweeping without the cluster's figures: {why}");
            }
            note = Some(format!("{} ({why})", crate::model::sweep::NO_CLUSTER));
            None
        }
        Ok(target) => match Watched::start(target, &mut state).await {
            Ok(w) => {
                if show {
                    eprint!("\r\x1b[2K");
                }
                Some(w)
            }
            Err(why) => {
                if show {
                    eprint!("\r\x1b[2K");
                }
                if !quiet {
                    eprintln!("sweeping without the cluster's figures: {why}");
                }
                note = Some(format!("{} ({why})", crate::model::sweep::NO_CLUSTER));
                None
            }
        },
    };
    let pods: Vec<crate::model::sweep::TargetPods> = plan
        .targets
        .iter()
        .map(|t| match &watched {
            Some(_) => app::sweep::pods_for_url(&state, &t.url),
            None => (Vec::new(), None),
        })
        .collect();
    for (t, (p, note)) in plan.targets.iter().zip(&pods) {
        match (p.is_empty(), note, &watched) {
            (false, _, _) => tracing::info!(target = %t.name, pods = p.len(), "target pods"),
            (true, Some(n), Some(_)) if !quiet => eprintln!("{}: {n}", t.name),
            _ => {}
        }
    }
    // The nodes, for SMP's EnvironmentConfig: listed once; a role that may not list them
    // (403) leaves them out.
    let nodes = match (&watched, &cluster_for_nodes) {
        (Some(_), Some(target)) => list_nodes(target).await,
        _ => Vec::new(),
    };
    let spec = match &watched {
        Some(_) => app::sweep::describe(&state, &plan),
        None => plan.spec(&pods),
    };
    const ID: u32 = 1;
    app::fold(
        &mut state,
        Stamped::now(Update::SweepStarted {
            id: ID,
            spec: Box::new(spec.clone()),
        }),
    );
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let runner = {
        let plan = plan.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            run::run(&plan, &launch, stop, |e| {
                let _ = events_tx.send(e.clone());
            })
            .await
        })
    };
    let mut last_end = None;
    // Folds the runs' events and the cluster's updates until the last run has ended.
    while let Some(e) = events.recv().await {
        if let run::What::Said(_) = &e.what {
            if show {
                eprint!("\r\x1b[2K");
            }
            if !quiet {
                eprintln!("{}", progress_line(&e));
            }
            continue;
        }
        if show {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", progress_line(&e));
            let _ = err.flush();
        }
        if let run::What::Finished(r) = &e.what {
            last_end = Some(r.ended_at);
        }
        if let Some(u) = app::sweep::update_for(ID, &spec, &e) {
            app::fold(&mut state, Stamped::now(u));
        }
        if let Some(w) = watched.as_mut() {
            w.drain(&mut state);
        }
    }
    let ran = runner.await.wrap_err("the sweep's runner")??;
    // metrics-server reports a window late: wait (a bounded time) for the reading that
    // covers the end of the last run, so the last step has its resources too.
    if let (Some(w), Some(end)) = (watched.as_mut(), last_end)
        && spec.targets.iter().any(|t| !t.pods.is_empty())
        && !*stop.borrow()
    {
        if show {
            eprint!("\r\x1b[2Kwaiting for the last usage reading (metrics-server reports each window late)");
        }
        w.settle(&mut state, &spec, end, &mut stop).await;
    }
    if show {
        eprint!("\r\x1b[2K");
    }
    app::fold(
        &mut state,
        Stamped::now(Update::SweepFinished {
            id: ID,
            cancelled: ran.cancelled,
        }),
    );
    if let Some(w) = watched.take() {
        w.stop();
    }
    let mut result = state.sweeps.pop().map(|s| s.result).unwrap_or(ran);
    if note.is_some() {
        result.resources_note = note;
    }
    result.nodes = nodes;
    tracing::info!(
        steps = result.steps.len(),
        cancelled = result.cancelled,
        "sweep finished"
    );

    // Saved first: hours of runs survive a bad --out or a closed pipe.
    if let Some(dir) = results_dir {
        let path = output::save(&dir, &result)?;
        eprintln!("result saved to {}", path.display());
    }
    let report = output::render(args.output, &result)?;
    super::write_report(args.save.out.as_deref(), &report)?;
    let missed = gate::check(&gates, &result);
    if !missed.is_empty() {
        return Err(ObjectiveMissed(missed).into());
    }
    Ok(())
}

/// The cluster's nodes with their capacity; none when they cannot be listed.
async fn list_nodes(target: &crate::source::kube::KubeTarget) -> Vec<crate::model::bench::NodeInfo> {
    use k8s_openapi::api::core::v1::Node;
    let Ok(conn) = crate::source::kube::connect(target).await else {
        return Vec::new();
    };
    let api = kube::Api::<Node>::all(conn.client);
    let Ok(Ok(list)) = tokio::time::timeout(Duration::from_secs(10), api.list(&Default::default())).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .map(|n| {
            let capacity = n.status.as_ref().and_then(|s| s.capacity.as_ref());
            let quantity = |key: &str| capacity.and_then(|c| c.get(key)).map(|q| q.0.as_str());
            crate::model::bench::NodeInfo {
                name: n.metadata.name.clone().unwrap_or_default(),
                cores: quantity("cpu")
                    .and_then(crate::metrics::quantity::cpu_millicores)
                    .map(|m| (m / 1000.0).round() as u32),
                mem_mb: quantity("memory")
                    .and_then(crate::metrics::quantity::bytes)
                    .map(|b| (b as f64 / 1e6).round() as u64),
            }
        })
        .collect()
}

/// The cluster to watch for resources, or why there is none: `--no-cluster`, no kubeconfig
/// at all, or one that is not there (a stale $KUBECONFIG: a sweep needs no cluster, so
/// that is said, not fatal).
fn cluster_target(args: &SweepArgs) -> Result<Result<crate::source::kube::KubeTarget, String>> {
    // Checked whether or not a cluster is used: the same flags fail alike everywhere.
    if let Some(ns) = &args.cluster.namespace
        && !crate::input::is_namespace_name(ns)
    {
        return Err(bad_input(format!(
            "--namespace {ns:?}: not a namespace name (lowercase letters, digits and '-', at most 63)"
        )));
    }
    if args.cluster.no_cluster {
        return Ok(Err("--no-cluster".into()));
    }
    let named = args.cluster.kubeconfig.is_some() || args.cluster.context.is_some();
    let default = dirs::home_dir().is_some_and(|h| h.join(".kube/config").exists())
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if !named && !default {
        return Ok(Err("no kubeconfig".into()));
    }
    if let Some(path) = &args.cluster.kubeconfig
        && !path.exists()
        && !path.to_string_lossy().contains(':')
    {
        return Ok(Err(format!("kubeconfig {} not found", path.display())));
    }
    Ok(Ok(kube_target(args)?))
}

/// The cluster the flags name.
fn kube_target(args: &SweepArgs) -> Result<crate::source::kube::KubeTarget> {
    crate::cli::ClusterArgs {
        kubeconfig: args.cluster.kubeconfig.clone(),
        context: args.cluster.context.clone(),
        namespace: args.cluster.namespace.iter().cloned().collect(),
        all_namespaces: false,
    }
    .target()
}

/// The cluster's sources while a sweep runs: pods and services (to find each target's
/// pods) and their usage, every few seconds.
struct Watched {
    rx: mpsc::Receiver<Stamped>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How often usage is read during a sweep (metrics-server refreshes every 10-60 s).
const USAGE_INTERVAL: Duration = Duration::from_secs(5);
/// How long to wait for the first lists before sweeping without the cluster.
const SYNC_LIMIT: Duration = Duration::from_secs(20);
/// The longest wait for readings that cover the last run: as long as the TUI keeps
/// collecting them, so both give the same table.
const SETTLE_LIMIT: Duration = Duration::from_millis(app::sweep::READING_GRACE_MS as u64);

impl Watched {
    /// Starts the sources and folds until pods and services are listed; the reason when
    /// the cluster does not answer in time.
    async fn start(target: crate::source::kube::KubeTarget, state: &mut State) -> Result<Watched, String> {
        let (tx, rx) = mpsc::channel(1024);
        let tasks = vec![
            tokio::spawn(crate::source::kube::run(target.clone(), tx.clone())),
            tokio::spawn(crate::source::podmetrics::run(
                target.clone(),
                USAGE_INTERVAL,
                tx.clone(),
            )),
            // The proxies' own figures: mTLS as observed.
            tokio::spawn(crate::source::scrape::run(
                target,
                crate::source::scrape::Settings {
                    direct: false,
                    interval: USAGE_INTERVAL,
                    budget: crate::source::scrape::DEFAULT_BUDGET,
                    // A sweep wants the proxies' own counters: paced, never Prometheus.
                    window: None,
                },
                tx,
            )),
        ];
        let mut w = Watched { rx, tasks };
        // Connected carries the cluster's version (for the result); it may come after the
        // lists of a small namespace.
        // The control planes (and their versions) come from the deployments: waited for
        // too, unless the role may not list them (their error ends the wait).
        let workloads = |s: &State| {
            s.synced.contains(&Resource::Deployments) || s.errors.keys().any(|(r, _)| *r == Resource::Deployments)
        };
        let needed = |s: &State| {
            s.cluster.is_some() && s.synced.contains(&Resource::Pods) && s.synced.contains(&Resource::Services)
        };
        let deadline = tokio::time::Instant::now() + SYNC_LIMIT;
        while !(needed(state) && workloads(state)) {
            match tokio::time::timeout_at(deadline, w.rx.recv()).await {
                Ok(Some(u)) => app::fold(state, u),
                _ => break,
            }
        }
        // Slow deployments alone do not cost the sweep its cluster: only the control
        // plane's version would be missing.
        if needed(state) {
            return Ok(w);
        }
        let why = state.errors.values().next().map_or_else(
            || format!("no answer in {}s", SYNC_LIMIT.as_secs()),
            |e| e.message.clone(),
        );
        w.stop();
        state.cluster = None;
        Err(why)
    }

    /// Folds whatever the sources sent since last time.
    fn drain(&mut self, state: &mut State) {
        while let Ok(u) = self.rx.try_recv() {
            app::fold(state, u);
        }
    }

    /// Folds until every target with pods has a reading whose window ends after `end`.
    async fn settle(&mut self, state: &mut State, spec: &SweepSpec, end: UnixMillis, stop: &mut watch::Receiver<bool>) {
        let covered = |state: &State| {
            spec.targets
                .iter()
                .all(|t| app::sweep::readings_cover(state, &t.pods, end))
        };
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        while !covered(state) {
            tokio::select! {
                u = tokio::time::timeout_at(deadline, self.rx.recv()) => match u {
                    Ok(Some(u)) => app::fold(state, u),
                    _ => return,
                },
                _ = stop.changed() => return,
            }
        }
    }

    fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

fn progress_line(e: &run::Event) -> String {
    let head = format!("[{}/{}] {} {}", e.index + 1, e.total, e.step, e.target);
    let p = match &e.what {
        run::What::CoolingDown => return format!("{head}: cooling down"),
        run::What::Started(_) => return format!("{head}: starting"),
        run::What::Failed(m) => return format!("{head}: failed: {m}"),
        run::What::Finished(_) => return format!("{head}: done"),
        run::What::Said(s) => return format!("{head}: {s}"),
        run::What::Progress(p) => p,
    };
    let what = match p.phase {
        Phase::Connecting => "connecting".to_string(),
        Phase::Warmup => format!("warm-up {:.1}s left", p.warmup_left_s),
        _ => match p.target_duration_s {
            Some(d) => format!("{:.1}s/{d:.0}s", p.elapsed_s),
            None => format!("{:.1}s", p.elapsed_s),
        },
    };
    format!(
        "{head}: {what}  {:.0} req/s  p99 {:.2}ms  errors {}",
        p.current_rps,
        p.p99_us as f64 / 1e3,
        p.errors.total()
    )
}

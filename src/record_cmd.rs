//! `meshtop record`, and what recording from the TUI shares with it: where recordings go,
//! their header, and the updates that open a recording started mid-session.

use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};

use crate::app::{Stamped, State, Update, fold};
use crate::model::{Resource, now_millis};
use crate::record::{Header, Recorder};

/// `$XDG_DATA_HOME/meshtop/recordings/<time>-<context>.mtrec`.
pub fn default_path(context: &str) -> Result<PathBuf> {
    let dir = dirs::data_dir()
        .ok_or_else(|| color_eyre::eyre::eyre!("no data directory (set XDG_DATA_HOME or HOME)"))?
        .join("meshtop/recordings");
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let stamp = jiff::Timestamp::from_millisecond(now_millis())
        .map(|t| t.strftime("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|_| "now".into());
    let safe: String = context
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    Ok(dir.join(format!("{stamp}-{safe}.mtrec")))
}

/// Creates the file with a header naming the source and what was real.
pub fn open_recorder(path: Option<&Path>, context: &str, provenance: &str) -> Result<(PathBuf, Recorder)> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => default_path(context)?,
    };
    let header = Header::new(context, provenance, now_millis());
    let recorder = Recorder::create(&path, &header).wrap_err_with(|| format!("creating {}", path.display()))?;
    Ok((path, recorder))
}

/// Updates that rebuild the world as `state` knows it: complete lists of every resource,
/// the latest usage, the connection. Traffic windows refill from the next scrapes.
pub fn snapshot_updates(state: &State) -> Vec<Stamped> {
    let at = state.now.max(now_millis());
    let mut out = Vec::new();
    let mut push = |update| out.push(Stamped { at, update });
    if let Some(c) = &state.cluster {
        push(Update::Connected { cluster: c.clone() });
    }
    let list = |resource: Resource, items: Vec<Update>, push: &mut dyn FnMut(Update)| {
        push(Update::ListStarted {
            resource,
            namespace: None,
        });
        for u in items {
            push(u);
        }
        push(Update::ListDone {
            resource,
            namespace: None,
        });
    };
    list(
        Resource::Namespaces,
        state
            .namespaces
            .values()
            .map(|n| Update::NamespaceApplied {
                namespace: n.info.clone(),
            })
            .collect(),
        &mut push,
    );
    list(
        Resource::Pods,
        state
            .pods
            .values()
            .map(|p| Update::PodApplied { pod: p.info.clone() })
            .collect(),
        &mut push,
    );
    for (resource, kind) in [
        (Resource::Deployments, "Deployment"),
        (Resource::DaemonSets, "DaemonSet"),
        (Resource::StatefulSets, "StatefulSet"),
    ] {
        list(
            resource,
            state
                .workloads
                .values()
                .filter(|w| w.kind == kind)
                .map(|w| Update::WorkloadApplied { workload: w.clone() })
                .collect(),
            &mut push,
        );
    }
    list(
        Resource::Services,
        state
            .services
            .values()
            .map(|s| Update::ServiceApplied { service: s.clone() })
            .collect(),
        &mut push,
    );
    list(
        Resource::Crds,
        state
            .crds
            .iter()
            .map(|(name, group)| Update::CrdApplied {
                name: name.clone(),
                group: group.clone(),
            })
            .collect(),
        &mut push,
    );
    list(
        Resource::ApiServices,
        state
            .api_services
            .values()
            .map(|a| Update::ApiServiceApplied { api_service: a.clone() })
            .collect(),
        &mut push,
    );
    if let Some((origin, _)) = state.usage_origin {
        push(Update::PodUsage {
            usages: state.usage.values().cloned().collect(),
            origin,
        });
    }
    out
}

/// `meshtop record`: the live sources, headless, into a file until `duration` or a signal.
pub async fn run(
    args: &crate::cli::GlobalArgs,
    output: &Path,
    duration: Option<Duration>,
    provenance: &str,
    emulated: &[String],
) -> Result<()> {
    let target = crate::run::kube_target(args);
    let context = target
        .context
        .clone()
        .or_else(|| {
            let kc = match &args.kubeconfig {
                Some(p) => kube::config::Kubeconfig::read_from(p).ok(),
                None => kube::config::Kubeconfig::read().ok(),
            };
            kc.and_then(|k| k.current_context)
        })
        .unwrap_or_else(|| "in-cluster".into());
    let mut header = Header::new(&context, provenance, now_millis());
    for e in emulated {
        header = header.emulated(e.clone());
    }
    if let Some(ns) = &target.namespace {
        header = header.setting("namespace", ns.clone());
    }
    let mut recorder = Recorder::create(output, &header).wrap_err_with(|| format!("creating {}", output.display()))?;
    let prometheus = crate::run::prometheus_spec(args)?;
    let mut live = crate::run::LiveSources::start(
        target,
        prometheus,
        args.scrape_direct,
        crate::app::traffic::DEFAULT_WINDOW,
    );
    let mut rx = live.take_receiver();
    let mut state = State::new(vec![crate::ui::theme::Theme::builtin("dark")?], 0, Default::default());
    let started = std::time::Instant::now();
    let deadline = tokio::time::sleep(duration.unwrap_or(Duration::from_secs(u64::MAX / 4)));
    tokio::pin!(deadline);
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut entries = 0u64;
    loop {
        tokio::select! {
            u = rx.recv() => match u {
                Some(u) => {
                    recorder.write(&u).wrap_err("writing the recording")?;
                    entries += 1;
                    fold(&mut state, u);
                }
                None => break,
            },
            _ = flush.tick() => recorder.flush_if_due().wrap_err("flushing the recording")?,
            _ = &mut deadline => break,
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    live.stop();
    let stats = recorder.stats();
    recorder.finish().wrap_err("finishing the recording")?;
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(stats.file_bytes);
    eprintln!(
        "meshtop: recorded {entries} updates in {secs:.1}s to {} ({bytes} bytes, {:.0} bytes/min); replay with `meshtop replay {}`",
        output.display(),
        bytes as f64 / secs * 60.0,
        output.display()
    );
    if state.cluster.is_none()
        && let Some(e) = state.errors.get(&(Resource::Cluster, None))
    {
        eprintln!("meshtop: the cluster never answered: {}", e.message);
    }
    Ok(())
}

//! `meshtop record`, and what recording from the TUI shares with it: where recordings go
//! and their header. (A recording started mid-session opens with `app::snapshot`.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};

use crate::app::{Keymap, State, fold_all};
use crate::cli::{ClusterArgs, TrafficArgs};
use crate::model::{Resource, now_millis};
use crate::record::{Header, Recorder};

/// `$XDG_DATA_HOME/meshtop/recordings/<time>-<context>.mtrec`.
pub fn default_path(context: &str) -> Result<PathBuf> {
    let dir = dirs::data_dir()
        .ok_or_else(|| color_eyre::eyre::eyre!("no data directory (set XDG_DATA_HOME or HOME)"))?
        .join("meshtop/recordings");
    crate::files::own_dir(&dir)?;
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

/// `meshtop record`: the live sources, headless, into a file until `duration` or a signal.
pub async fn run(
    cluster: &ClusterArgs,
    traffic: &TrafficArgs,
    output: &Path,
    duration: Option<Duration>,
    provenance: &str,
    emulated: &[String],
) -> Result<()> {
    let config = crate::config::Config::load(None)?;
    let target = cluster.target_with(&config)?;
    let context = target
        .context
        .clone()
        .or_else(|| {
            let kc = match &cluster.kubeconfig {
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
    if !target.namespaces.is_empty() {
        header = header.setting("namespace", target.namespaces.join(","));
    }
    let mut recorder = Recorder::create(output, &header).wrap_err_with(|| format!("creating {}", output.display()))?;
    let prometheus = crate::run::prometheus_spec(traffic)?;
    let mut live = crate::run::LiveSources::start(
        target,
        prometheus,
        traffic.scrape(&config),
        crate::app::traffic::DEFAULT_WINDOW,
    );
    let mut rx = live.take_receiver();
    let mut state = State::new(Keymap::default());
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
                    let mut batch = vec![u];
                    batch.extend(std::iter::from_fn(|| rx.try_recv().ok()));
                    for u in &batch {
                        recorder.write(u).wrap_err("writing the recording")?;
                    }
                    entries += batch.len() as u64;
                    fold_all(&mut state, batch);
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

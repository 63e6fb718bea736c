//! Runs through the engine ([`loadgen::engine`]), seen in meshtop's wire types: what is
//! published, recorded and saved is converted here, and every run's results and shards
//! carry its spec redacted by the one policy ([`super::config::redacted`]).

use color_eyre::eyre::Result;
use tokio::sync::watch;

use super::config::{BenchConfig, redacted};
use crate::model::bench::{BenchProgress, BenchResult};

pub use loadgen::engine::{Canceller, RequestSample, SAMPLES_PER_SECOND, ShardFailure};

/// A run in progress.
pub struct BenchRun(loadgen::BenchRun);

/// The run's latest snapshot, as it changes.
pub struct Progress(watch::Receiver<loadgen::BenchProgress>);

impl Progress {
    /// Waits for the next snapshot; an error once the run has ended and published its last.
    pub async fn changed(&mut self) -> Result<(), watch::error::RecvError> {
        self.0.changed().await
    }

    /// The newest snapshot, marked seen.
    pub fn latest(&mut self) -> BenchProgress {
        self.0.borrow_and_update().clone().into()
    }
}

impl BenchRun {
    pub fn progress(&self) -> Progress {
        Progress(self.0.progress())
    }

    pub fn canceller(&self) -> Canceller {
        self.0.canceller()
    }

    pub fn shard_failure(&self) -> ShardFailure {
        self.0.shard_failure()
    }

    pub fn take_samples(&self) -> Vec<RequestSample> {
        self.0.take_samples()
    }

    pub async fn finish(self) -> Result<BenchResult> {
        self.0.finish().await.map(Into::into)
    }
}

pub fn start(config: BenchConfig) -> Result<BenchRun> {
    start_with_shard(config, None)
}

/// Starts a run that also writes its shard stream to `shard`.
pub fn start_with_shard(mut config: BenchConfig, shard: Option<Box<dyn std::io::Write + Send>>) -> Result<BenchRun> {
    config.shown = Some(redacted(&config.spec));
    config.program_version = Some(env!("CARGO_PKG_VERSION").to_string());
    loadgen::engine::start_with_shard(config, shard).map(BenchRun)
}

/// Runs to the end, handing each snapshot to `observer`.
pub async fn run(config: BenchConfig, mut observer: impl FnMut(&BenchProgress)) -> Result<BenchResult> {
    let run = start(config)?;
    let mut progress = run.progress();
    while progress.changed().await.is_ok() {
        let p = progress.latest();
        observer(&p);
        if p.phase == crate::model::bench::Phase::Finished {
            break;
        }
    }
    run.finish().await
}

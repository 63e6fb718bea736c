//! Sources: async tasks that each own one kind of I/O and emit `Stamped` updates.

pub mod body;
pub mod errors;
pub mod kube;
pub mod meshconfig;
pub mod podmetrics;
pub mod prometheus;
pub mod proxy;
pub mod scrape;
pub mod supervise;
pub mod tap;

use tokio::sync::mpsc;

use crate::app::Stamped;

/// Capacity of the update channel. Sources wait when it is full, so a slow fold applies
/// back-pressure instead of growing memory.
pub const CHANNEL_CAPACITY: usize = 4096;

pub type UpdateTx = mpsc::Sender<Stamped>;

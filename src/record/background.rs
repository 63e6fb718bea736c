//! The recorder on a thread of its own: serialising, redaction, zstd and the file writes
//! stay off the task that folds and draws. That task hands over clones of the updates; a
//! failure comes back at the next hand-over, and `finish` waits until the file is closed.

use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::writer::{RecordStats, Recorder};
use crate::app::Stamped;

/// Updates queued for the thread. A disk this far behind (slow or stalled) stops the
/// recording with that reason: the UI never waits for the disk, and no backlog grows.
const QUEUE: usize = 16_384;
/// How long closing waits for the file; a stalled disk is then left to the thread.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How often the thread looks at the clock when no update comes, so a quiet session is
/// on disk within the recorder's flush interval (a second).
const IDLE_TICK: Duration = Duration::from_millis(250);

pub struct Background {
    tx: Option<SyncSender<Stamped>>,
    thread: Option<JoinHandle<Result<RecordStats>>>,
    failed: Arc<OnceLock<String>>,
}

impl Background {
    /// Moves `recorder` to a new thread.
    pub fn spawn<W: std::io::Write + Send + 'static>(mut recorder: Recorder<W>) -> Result<Background> {
        let (tx, rx) = sync_channel::<Stamped>(QUEUE);
        let failed = Arc::new(OnceLock::new());
        let failure = failed.clone();
        let thread = std::thread::Builder::new()
            .name("meshtop-recorder".into())
            .spawn(move || {
                let written = loop {
                    let step = match rx.recv_timeout(IDLE_TICK) {
                        Ok(u) => recorder.write(&u),
                        Err(RecvTimeoutError::Timeout) => recorder.flush_if_due(),
                        Err(RecvTimeoutError::Disconnected) => break Ok(()),
                    };
                    if let Err(e) = step {
                        break Err(e);
                    }
                };
                let stats = recorder.stats();
                let closed = written.and_then(|()| recorder.finish().map(|_| stats));
                if let Err(e) = &closed {
                    failure.get_or_init(|| format!("{e:#}"));
                }
                closed
            })
            .wrap_err("starting the recorder thread")?;
        Ok(Background {
            tx: Some(tx),
            thread: Some(thread),
            failed,
        })
    }

    /// Hands one update over. An error is the recording's failure (a full disk): the
    /// caller stops recording and says why.
    pub fn write(&self, update: &Stamped) -> Result<(), String> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        let Some(tx) = &self.tx else {
            return Err("the recording is closed".into());
        };
        match tx.try_send(update.clone()) {
            Ok(()) => Ok(()),
            Err(std::sync::mpsc::TrySendError::Full(_)) => Err(self
                .failed
                .get_or_init(|| {
                    format!("the recording fell {QUEUE} updates behind the session (a slow or stalled disk)")
                })
                .clone()),
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                Err(self.failure().unwrap_or_else(|| "the recorder thread ended".into()))
            }
        }
    }

    /// Why the recording failed, once it has.
    pub fn failure(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    /// Writes what is queued, closes the file and says what was written; waits at most
    /// `CLOSE_WAIT` (quitting must not hang on a disk).
    pub fn finish(self) -> Result<RecordStats> {
        self.close_later().wait(CLOSE_WAIT)
    }

    /// Tells the thread to write what is queued and close the file, without waiting: the
    /// session goes on while a slow disk catches up, and asks the handle how it ended.
    pub fn close_later(mut self) -> Closing {
        drop(self.tx.take());
        Closing(self.thread.take(), self.failed.clone())
    }
}

/// A recording told to close; its thread finishes the file on its own. Also holds why the
/// recording stopped early (it fell behind), so the answer says so.
pub struct Closing(Option<JoinHandle<Result<RecordStats>>>, Arc<OnceLock<String>>);

impl Closing {
    /// Whether the file is closed (or the thread gave up).
    pub fn is_finished(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.is_finished())
    }

    /// How it ended, waiting at most `up_to`; after that the thread is left to finish
    /// on its own and the answer says the end may be missing.
    pub fn wait(mut self, up_to: Duration) -> Result<RecordStats> {
        let Some(thread) = self.0.take() else {
            return Err(eyre!("the recording was already closed"));
        };
        let deadline = std::time::Instant::now() + up_to;
        while !thread.is_finished() {
            if std::time::Instant::now() >= deadline {
                return Err(eyre!(
                    "the file did not close within {} s (a stalled disk?); its end may be missing",
                    up_to.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let stats = thread.join().map_err(|p| {
            eyre!(
                "the recorder thread panicked: {}",
                crate::exit::panic_message(p.as_ref())
            )
        })??;
        // The file is whole up to where the session left it behind: said as the ending.
        match self.1.get() {
            Some(why) => Err(eyre!("{why}; the file holds the {} updates before", stats.entries)),
            None => Ok(stats),
        }
    }
}

impl Drop for Background {
    /// Dropped without `finish` (an error path): the file is still closed properly.
    fn drop(&mut self) {
        if self.thread.is_some() {
            drop(self.tx.take());
            if let Err(e) = (Closing(self.thread.take(), self.failed.clone())).wait(CLOSE_WAIT) {
                tracing::warn!("closing the recording: {e:#}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Update;
    use crate::record::{FlushPolicy, Header, Recording};

    /// What goes through the thread is in the file, in order, and the stats say so.
    #[test]
    fn updates_handed_over_are_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bg.mtrec");
        let header = Header::new("ctx", "test", 1_000);
        let recorder = Recorder::create_with(&path, &header, FlushPolicy::default()).unwrap();
        let bg = Background::spawn(recorder).unwrap();
        for i in 0..5000 {
            let name = format!("m{i}");
            bg.write(&Stamped {
                at: 1_000 + i,
                update: Update::Marker { name },
            })
            .unwrap();
        }
        let stats = bg.finish().unwrap();
        assert_eq!(stats.entries, 5000);
        let rec = Recording::open(&path).unwrap();
        let names: Vec<String> = rec
            .entries
            .iter()
            .filter_map(|e| match &e.update {
                Update::Marker { name } => Some(name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(names.len(), 5000);
        assert_eq!(names[4999], "m4999");
        assert!(rec.problems.is_empty(), "{:?}", rec.problems);
    }

    /// A file that takes 64 KiB and then fails as a full disk does.
    struct FillsUp(usize);

    impl std::io::Write for FillsUp {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 + buf.len() > 64 * 1024 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A write that fails (the disk is full) comes back as the recording's failure at a
    /// later hand-over, with its reason; nothing panics.
    #[test]
    fn a_full_disk_is_reported_at_a_later_hand_over() {
        let header = Header::new("ctx", "test", 1_000);
        let policy = FlushPolicy {
            frame_bytes: 4096,
            ..FlushPolicy::default()
        };
        let recorder = Recorder::new(FillsUp(0), &header, policy).unwrap();
        let bg = Background::spawn(recorder).unwrap();
        let mut error = None;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        // A few thousand hand-overs at most (the queue holds 16,384, so it never fills
        // however slow the thread is), each ~16 KiB that does not compress: the 64 KiB
        // fill up within a handful.
        for i in 0..4_000 {
            let name: String = (0..1024)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{x:016x}")
                })
                .collect();
            if let Err(e) = bg.write(&Stamped {
                at: 1_000 + i,
                update: Update::Marker { name },
            }) {
                error = Some(e);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let error = error.expect("the failure is reported");
        assert!(error.contains("No space left on device"), "{error}");
        assert!(bg.finish().is_err(), "finish says the recording failed");
    }

    /// A disk that stops answering (a writer that blocks for ever): the hand-overs never
    /// wait for it; once the queue is full the recording stops with that reason, and
    /// closing gives up after its wait instead of hanging.
    #[test]
    fn a_stalled_disk_stops_the_recording_without_blocking() {
        struct Stalls(std::sync::mpsc::Receiver<()>);
        impl std::io::Write for Stalls {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let _ = self.0.recv();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (release, stalled) = std::sync::mpsc::channel();
        // The header's frame is written at creation: let those writes through.
        for _ in 0..8 {
            release.send(()).unwrap();
        }
        let header = Header::new("ctx", "test", 1_000);
        let recorder = Recorder::new(Stalls(stalled), &header, FlushPolicy::default()).unwrap();
        let bg = Background::spawn(recorder).unwrap();
        let mut error = None;
        for i in 0..(QUEUE as i64 + 100_000) {
            let name = format!("{i:x}").repeat(200);
            if let Err(e) = bg.write(&Stamped {
                at: 1_000 + i,
                update: Update::Marker { name },
            }) {
                error = Some((i, e));
                break;
            }
        }
        let (at, error) = error.expect("the recording stops");
        assert!(at as usize >= QUEUE, "{at}");
        assert_eq!(
            error,
            format!("the recording fell {QUEUE} updates behind the session (a slow or stalled disk)")
        );
        let closed = bg.finish().unwrap_err().to_string();
        assert!(closed.contains("did not close within 5 s"), "{closed}");
        drop(release);
    }

    /// Stopping a recording mid-session does not wait for a stalled disk: the handle comes
    /// back at once, says it is not closed while the disk stalls, and once the disk
    /// answers the file is whole, with every update handed over before the stop.
    #[test]
    fn closing_later_does_not_wait_for_a_stalled_disk() {
        let (release, file, bg) = stalled_recorder();
        for i in 0..300 {
            bg.write(&Stamped {
                at: 1_000 + i,
                update: Update::Marker { name: format!("m{i}") },
            })
            .unwrap();
        }
        let closing = bg.close_later();
        // The disk is still stalled: the write of the updates cannot have finished.
        assert!(!closing.is_finished());
        drop(release);
        let stats = closing.wait(Duration::from_secs(600)).unwrap();
        assert_eq!(stats.entries, 300);
        let bytes = file.lock().unwrap().clone();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("closed.mtrec");
        std::fs::write(&path, bytes).unwrap();
        let rec = Recording::open(&path).unwrap();
        assert!(rec.problems.is_empty(), "{:?}", rec.problems);
        assert_eq!(rec.entries.len(), 300);
    }

    /// Writes into `file`; once `stalls` is set, each write waits until `gate` is dropped
    /// (the disk answers again).
    struct Gated {
        gate: std::sync::mpsc::Receiver<()>,
        stalls: Arc<std::sync::atomic::AtomicBool>,
        file: Arc<std::sync::Mutex<Vec<u8>>>,
    }

    impl std::io::Write for Gated {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.stalls.load(std::sync::atomic::Ordering::SeqCst) {
                // Err once the sender is dropped: from then on nothing waits.
                self.gate.recv().ok();
            }
            self.file.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A recorder whose disk stalls after the header until the returned sender is
    /// dropped; the bytes written so far.
    fn stalled_recorder() -> (std::sync::mpsc::Sender<()>, Arc<std::sync::Mutex<Vec<u8>>>, Background) {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let stalls = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let file = Arc::new(std::sync::Mutex::new(Vec::new()));
        let header = Header::new("ctx", "test", 1_000);
        let writer = Gated {
            gate,
            stalls: stalls.clone(),
            file: file.clone(),
        };
        let recorder = Recorder::new(writer, &header, FlushPolicy::default()).unwrap();
        stalls.store(true, std::sync::atomic::Ordering::SeqCst);
        (release, file, Background::spawn(recorder).unwrap())
    }

    /// A recording that fell behind a stalled disk, closed once the disk answers again:
    /// the ending says it fell behind (not "saved"), and the file is whole up to there.
    #[test]
    fn a_recording_that_fell_behind_says_so_when_closed() {
        let (release, file, bg) = stalled_recorder();
        let mut stopped = None;
        for i in 0..(QUEUE as i64 + 1_000_000) {
            let name = format!("{i:x}").repeat(20);
            if let Err(e) = bg.write(&Stamped {
                at: 1_000 + i,
                update: Update::Marker { name },
            }) {
                stopped = Some(e);
                break;
            }
        }
        assert!(stopped.is_some(), "the queue fills while the disk stalls");
        let closing = bg.close_later();
        drop(release);
        let ended = closing.wait(Duration::from_secs(600)).unwrap_err().to_string();
        assert!(
            ended.starts_with(&format!("the recording fell {QUEUE} updates behind the session")),
            "{ended}"
        );
        assert!(ended.contains("; the file holds the "), "{ended}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("behind.mtrec");
        std::fs::write(&path, file.lock().unwrap().clone()).unwrap();
        let rec = Recording::open(&path).unwrap();
        assert!(rec.problems.is_empty(), "{:?}", rec.problems);
        assert!(rec.entries.len() >= QUEUE, "{}", rec.entries.len());
    }
}

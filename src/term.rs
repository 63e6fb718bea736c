//! Terminal setup and, above all, restoration: on normal exit, on error and on panic.

use std::io::{self, Stdout, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};
use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The thread that installed the hooks: `main`, which runs the TUI loop (`block_on`).
static MAIN: std::sync::OnceLock<std::thread::ThreadId> = std::sync::OnceLock::new();

/// Installs color-eyre, and a panic hook that puts the terminal back before the report
/// prints, so a panic of the TUI never leaves the user in raw mode on the alternate screen.
///
/// A panic on another thread while the TUI is up (a source task, a bench worker) is not
/// the end of the program: whoever joins that thread turns it into an error the TUI shows
/// (`source::supervise`, `bench::engine`). Restoring the terminal then would leave the TUI
/// running in cooked mode, and printing would tear its screen, so it goes to the log.
pub fn install_hooks() -> Result<()> {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    eyre_hook.install()?;
    MAIN.get_or_init(|| std::thread::current().id());
    std::panic::set_hook(Box::new(move |info| {
        let on_main = MAIN.get() == Some(&std::thread::current().id());
        if ACTIVE.load(Ordering::SeqCst) && !on_main {
            let at = info.location().map(|l| l.to_string()).unwrap_or_default();
            let message = crate::exit::panic_message(info.payload());
            tracing::error!(thread = std::thread::current().name(), "panic at {at}: {message}");
            return;
        }
        restore();
        // A panic's message may quote what it was working on (a URL, a header).
        eprintln!("{}", crate::redact::scrub(&panic_hook.panic_report(info).to_string()));
    }));
    Ok(())
}

/// Leaves raw mode and the alternate screen and shows the cursor. Safe to call twice.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let mut out = io::stdout();
        let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
        let _ = out.flush();
    }
}

/// Owns the TUI terminal; dropping it restores the screen, so every `?` path is covered.
pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<FrameOut>>,
    io: Arc<IoCount>,
}

/// Time spent in writes to the terminal (ns) and bytes written, shared with the writer
/// (ratatui keeps its backend's writer to itself).
#[derive(Default)]
struct IoCount {
    nanos: AtomicU64,
    bytes: AtomicU64,
}

/// The terminal's writer: gathers a whole frame and hands it to the terminal in one write
/// when ratatui flushes at the frame's end. Stdout's own line buffer holds 1 KiB, so a
/// full 200x60 redraw (tens of KB of escapes) went out in dozens of writes, each of which
/// could wait on the terminal emulator mid-frame; one write per frame also never shows a
/// half-drawn screen.
pub struct FrameOut {
    out: Stdout,
    buf: Vec<u8>,
    io: Arc<IoCount>,
}

impl Write for FrameOut {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut out = self.out.lock();
        let written = out.write_all(&self.buf).and_then(|()| out.flush());
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.io.nanos.fetch_add(took, Ordering::Relaxed);
        self.io.bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        // The first full draw can be large; do not keep that much for ever.
        self.buf.clear();
        self.buf.shrink_to(256 * 1024);
        written
    }
}

impl Tui {
    pub fn enter() -> Result<Self> {
        terminal::enable_raw_mode().wrap_err("cannot switch the terminal to raw mode (is stdin a terminal?)")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        execute!(out, terminal::EnterAlternateScreen, cursor::Hide).wrap_err("entering the alternate screen")?;
        let io = Arc::new(IoCount::default());
        let writer = FrameOut {
            out,
            buf: Vec::with_capacity(64 * 1024),
            io: io.clone(),
        };
        let terminal = Terminal::new(CrosstermBackend::new(writer)).wrap_err("creating the terminal")?;
        Ok(Tui { terminal, io })
    }

    /// Time spent writing to the terminal and bytes written since the last call.
    pub fn take_io(&self) -> (Duration, u64) {
        let nanos = self.io.nanos.swap(0, Ordering::Relaxed);
        (Duration::from_nanos(nanos), self.io.bytes.swap(0, Ordering::Relaxed))
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

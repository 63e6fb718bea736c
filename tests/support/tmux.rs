//! Drives a real terminal: tmux on a private socket, with send-keys and capture-pane.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts a shell in a detached session of the given size.
    pub fn start(width: u16, height: u16) -> Tmux {
        let socket = format!("meshtop-test-{}-{}", std::process::id(), rand_suffix());
        let t = Tmux { socket };
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "env",
            "-i",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "HOME=/tmp",
            "TERM=xterm-256color",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    /// Types a shell command line and presses Enter.
    pub fn run(&self, line: &str) {
        self.keys(&["-l", line]);
        self.keys(&["Enter"]);
    }

    /// `tmux send-keys` arguments: key names (`Escape`, `Enter`, `C-c`) or `-l` literal text.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(
            out.status.success(),
            "send-keys {keys:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout).into_owned()
    }

    /// A tmux format variable of the pane, e.g. `alternate_on`, `cursor_flag`.
    pub fn pane_var(&self, name: &str) -> String {
        let f = format!("#{{{name}}}");
        String::from_utf8_lossy(&self.tmux(&["display-message", "-p", "-t", "main", &f]).stdout)
            .trim()
            .to_string()
    }

    /// Waits until the screen satisfies `pred`; panics with the screen after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(start.elapsed() < limit, "timed out waiting for {what}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_text(&self, text: &str, limit: Duration) -> String {
        self.wait(&format!("{text:?} on screen"), limit, |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// After the program exits: normal screen, cursor visible, and the tty back in cooked
/// mode with echo (checked with `stty -a` in the same pane).
pub fn assert_terminal_restored(t: &Tmux) {
    assert_eq!(t.pane_var("alternate_on"), "0", "still on the alternate screen");
    assert_eq!(t.pane_var("cursor_flag"), "1", "cursor hidden");
    // The marker is split in the command so that only the output, not the typed line, matches.
    t.run("clear; stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo|isig)$' | tr '\\n' ' '; echo; echo STTY_''DONE");
    let s = t.wait("the stty output", Duration::from_secs(10), |s| {
        s.lines().any(|l| l.trim() == "STTY_DONE")
    });
    let line = s.lines().find(|l| l.contains("icanon")).unwrap_or_default();
    assert_eq!(line.trim(), "isig icanon echo", "tty not restored: {s}");
}

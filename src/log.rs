//! The debug log for bug reports: `--log-file FILE`, level from `$MESHTOP_LOG` (an
//! `EnvFilter` such as `debug` or `meshtop=trace`), off unless asked for. Every line goes
//! through the recordings' redaction policy before it reaches the file.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use color_eyre::eyre::Result;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// meshtop's own events at info, its libraries' only when they warn.
const DEFAULT_FILTER: &str = "meshtop=info,warn";

/// Starts logging to `path` when given. Errors name the file or the bad `MESHTOP_LOG`.
pub fn init(path: Option<&Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let filter = match std::env::var("MESHTOP_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).map_err(|e| {
            crate::exit::bad_input(format!(
                "MESHTOP_LOG={spec:?}: {e} (use a level such as debug, or meshtop=trace)"
            ))
        })?,
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let file = crate::files::create(path)
        .map_err(|e| crate::exit::bad_input(format!("--log-file {}: {e}", path.display())))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Redacting::new(file))
        .try_init()
        .map_err(|e| color_eyre::eyre::eyre!("starting the log: {e}"))?;
    // Each argument redacted on its own (a header given with -H starts its own "line"), and
    // read as OS strings: an argument that is not UTF-8 is shown lossily, never a panic.
    let args = logged_args(std::env::args_os().map(|a| a.to_string_lossy().into_owned()));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), ?args, "meshtop started");
    Ok(())
}

/// The command line as the log keeps it: a request body (`-d`, `--body`) as its length
/// only, since no policy can tell a secret in free text; every other argument redacted.
fn logged_args(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut body_next = false;
    for a in args {
        if std::mem::take(&mut body_next) {
            out.push(format!("<{} bytes>", a.len()));
            continue;
        }
        if a == "-d" || a == "--body" {
            body_next = true;
            out.push(a);
            continue;
        }
        if let Some(body) = a.strip_prefix("--body=").or_else(|| body_in_short_group(&a)) {
            let flag = &a[..a.len() - body.len()];
            if body.is_empty() {
                // `-kd BODY`: the switches, then the body in the next argument.
                body_next = true;
                out.push(a);
            } else {
                out.push(format!("{flag}<{} bytes>", body.len()));
            }
            continue;
        }
        out.push(
            crate::redact::redact_text(&a)
                .or_else(|| redact_flag_value(&a))
                .unwrap_or(a),
        );
    }
    out
}

/// The body in a group of short flags: `-dBODY`, or after switches that take no value
/// (`-kdBODY`, `-kd` with the body next: empty), as clap reads them.
fn body_in_short_group(arg: &str) -> Option<&str> {
    let group = arg.strip_prefix('-').filter(|g| !g.starts_with('-'))?;
    for (i, c) in group.char_indices() {
        match c {
            'd' => return Some(&group[i + 1..]),
            c if SHORT_SWITCHES.contains(&c) => continue,
            _ => return None,
        }
    }
    None
}

/// The short flags that take no value, which may come before `-d` in one group: -k
/// (insecure) and -A (all namespaces). A test holds this equal to the CLI's.
const SHORT_SWITCHES: &[char] = &['A', 'k'];

/// A value written into its flag (`--header=Authorization: x`, `-HCookie: x`) redacted
/// as if it stood alone.
fn redact_flag_value(arg: &str) -> Option<String> {
    if let Some((flag, value)) = arg.split_once('=').filter(|(f, _)| f.starts_with('-')) {
        return crate::redact::redact_text(value).map(|v| format!("{flag}={v}"));
    }
    let value = arg.strip_prefix("-H").filter(|v| !v.is_empty())?;
    crate::redact::redact_text(value).map(|v| format!("-H{v}"))
}

/// Hands the formatter one buffer per event and writes it, redacted, when the event ends.
#[derive(Clone)]
pub struct Redacting<W: Write + Send> {
    out: Arc<Mutex<W>>,
}

impl<W: Write + Send> Redacting<W> {
    pub fn new(out: W) -> Self {
        Redacting {
            out: Arc::new(Mutex::new(out)),
        }
    }
}

pub struct EventBuffer<W: Write + Send> {
    buf: Vec<u8>,
    out: Arc<Mutex<W>>,
}

impl<W: Write + Send> Write for EventBuffer<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send> Drop for EventBuffer<W> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let line = crate::redact::redact_text(&text).unwrap_or_else(|| text.into_owned());
        // A poisoned lock or a full disk must not take the program down: the log is best effort.
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for Redacting<W> {
    type Writer = EventBuffer<W>;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer {
            buf: Vec::new(),
            out: self.out.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt;

    /// Every short flag of every command that takes no value is known to the body check.
    #[test]
    fn the_short_switches_are_the_clis() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, out: &mut std::collections::BTreeSet<char>) {
            for a in cmd.get_arguments() {
                if let Some(c) = a.get_short()
                    && !a.get_action().takes_values()
                {
                    out.insert(c);
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, out);
            }
        }
        let mut found = std::collections::BTreeSet::new();
        walk(&crate::cli::Cli::command(), &mut found);
        // clap's own -h (and -V where a version is shown) print and exit: no body follows.
        found.remove(&'h');
        found.remove(&'V');
        assert_eq!(found.into_iter().collect::<Vec<_>>(), SHORT_SWITCHES);
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_command_line_is_logged_without_body_or_secrets() {
        let args = [
            "meshtop",
            "bench",
            "http://u:pw@h/?token=t",
            "-d",
            "secret body",
            "--body=b2",
            "-dxyz",
            "-kd",
            "grouped body",
            "-kdglued",
            "-Hd: x",
            "-H",
            "Cookie: c",
            "--header=Authorization: Bearer b",
            "-c",
            "4",
        ];
        let logged = logged_args(args.iter().map(|a| a.to_string()));
        assert_eq!(
            logged,
            [
                "meshtop",
                "bench",
                "http://u:<redacted>@h/?token=<redacted>",
                "-d",
                "<11 bytes>",
                "--body=<2 bytes>",
                "-d<3 bytes>",
                "-kd",
                "<12 bytes>",
                "-kd<5 bytes>",
                "-Hd: x",
                "-H",
                "Cookie: <redacted>",
                "--header=Authorization: Bearer <redacted>",
                "-c",
                "4",
            ]
        );
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let sink = Shared::default();
        let subscriber = fmt()
            .with_ansi(false)
            .with_writer(Redacting::new(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("request header Authorization: Bearer abc.def.ghi");
            tracing::info!(url = "http://u:hunter2@h/p?token=s3cret", "scraping");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        for secret in ["abc.def.ghi", "hunter2", "s3cret"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("scraping"), "{text}");
    }
}

//! `meshtop tap`: requests as they flow, from a cluster (Linkerd's tap API or Envoy access
//! logs, through `source::tap`, the TUI's own source) or from access-log lines in a file.
//! Filters and the summary are the TUI's.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::app::Update;
use crate::app::format;
use crate::cli::TapArgs;
use crate::exit::bad_input;
use crate::model::tap::{TapEvent, TapSourceState, TapSpec, TapTarget};
use crate::tap::TapFilter;
use crate::tap::accesslog;
use crate::tap::summary::{Group, Grouping, MAX_GROUPS, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How often the live summary is printed again.
const SUMMARY_EVERY: Duration = Duration::from_secs(2);
/// Lines that did not parse, shown one by one on stderr; the rest are only counted.
const UNPARSED_SHOWN: u64 = 5;

/// Counts and output of one tap, whatever the source.
struct Printer {
    format: Format,
    filter: TapFilter,
    summary: Option<Summary>,
    events: u64,
    matched: u64,
    unparsed: u64,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    fn event(&mut self, e: &TapEvent, at: crate::model::UnixMillis) -> Result<()> {
        self.events += 1;
        if !self.filter.matches(e) {
            return Ok(());
        }
        self.matched += 1;
        match &mut self.summary {
            Some(s) => s.add(e, at),
            None => {
                match self.format {
                    Format::Text => writeln!(self.out, "{}", text_line(e)),
                    Format::Json => writeln!(self.out, "{}", event_json(e)),
                }
                .wrap_err("writing to stdout")?;
            }
        }
        Ok(())
    }

    fn unparsed(&mut self, line_no: Option<u64>, why: &str, line: &str) {
        self.unparsed += 1;
        if self.unparsed <= UNPARSED_SHOWN {
            let at = line_no.map(|n| format!("line {n}: ")).unwrap_or_default();
            eprintln!("meshtop: {at}{why}: {}", crate::source::tap::unparsed_sample(line));
        }
    }

    /// The summary's table (or JSON lines). `refresh`: one of the live summary's prints, drawn
    /// over the last one on a terminal (no flicker), or marked in JSON.
    fn print_summary(&mut self, refresh: bool, tty: bool) -> Result<()> {
        let Some(s) = &self.summary else { return Ok(()) };
        let mut groups: Vec<&Group> = s.groups().collect();
        groups.sort_by(|a, b| b.count().cmp(&a.count()).then_with(|| a.key.cmp(&b.key)));
        match self.format {
            Format::Json => {
                for g in &groups {
                    writeln!(self.out, "{}", group_json(g, s.grouping()))?;
                }
                if refresh {
                    let at = jiff::Timestamp::now().to_string();
                    writeln!(self.out, "{}", json!({"refresh": {"at": at, "groups": groups.len()}}))?;
                }
            }
            Format::Text if refresh && tty => {
                // Home, each line over the old one, then clear what is left below.
                write!(self.out, "\x1b[H")?;
                for line in summary_table(&groups, s.grouping()).lines() {
                    writeln!(self.out, "{line}\x1b[K")?;
                }
                write!(self.out, "\x1b[J")?;
            }
            Format::Text => writeln!(self.out, "{}", summary_table(&groups, s.grouping()))?,
        }
        self.out.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.format {
            Format::Json => writeln!(
                self.out,
                "{}",
                json!({"summary": {"events": self.events, "matched": self.matched, "unparsed": self.unparsed}})
            )?,
            Format::Text => {
                self.out.flush()?;
                eprintln!(
                    "meshtop: {} ({} matched the filters), {} not access-log entries",
                    format::plural(self.events as usize, "request"),
                    self.matched,
                    format::plural(self.unparsed as usize, "line")
                );
            }
        }
        self.out.flush().wrap_err("writing to stdout")
    }
}

pub async fn run(args: TapArgs) -> Result<()> {
    let mut filter = TapFilter {
        path_prefix: args.path.clone(),
        method: args.method.as_ref().map(|m| m.to_ascii_uppercase()),
        status: args.status.clone(),
        min_latency_ms: args.min_latency,
        ..TapFilter::default()
    };
    filter.words.clear();
    let mut printer = Printer {
        format: args.output,
        filter,
        summary: None,
        events: 0,
        matched: 0,
        unparsed: 0,
        out: std::io::BufWriter::new(std::io::stdout()),
    };
    match &args.log {
        Some(path) => {
            if args.summary {
                printer.summary = Some(Summary::new(Grouping::Authority, None, MAX_GROUPS));
            }
            read_log(path, &mut printer)?;
            printer.print_summary(false, false)?;
            printer.finish()
        }
        None => live(&args, printer).await,
    }
}

/// Access-log lines from a file or stdin, through the same parser as the live source.
fn read_log(path: &Path, p: &mut Printer) -> Result<()> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(path).map_err(|e| bad_input(format!("--log {}: {e}", path.display())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut reader = reader;
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(accesslog::MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        let too_long = line.len() > accesslog::MAX_LINE && line.last() != Some(&b'\n');
        if too_long {
            skip_line(&mut reader).wrap_err_with(|| format!("reading {}", path.display()))?;
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let parsed = if too_long {
            Err(accesslog::LineError("longer than 64 KiB"))
        } else {
            accesslog::parse_line(&text, None)
        };
        match parsed {
            Ok(e) => {
                let at = e.time;
                p.event(&e, at)?;
            }
            Err(why) => p.unparsed(Some(n), why.0, &text),
        }
    }
}

/// Skips to the end of the current line without holding it.
fn skip_line(reader: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

async fn live(args: &TapArgs, mut p: Printer) -> Result<()> {
    let mut kube = crate::source::kube::KubeTarget {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespaces: Vec::new(),
    };
    if let Some(k) = &kube.kubeconfig
        && !k.exists()
        && !k.to_string_lossy().contains(':')
    {
        return Err(bad_input(format!("kubeconfig {}: no such file", k.display())));
    }
    let target_text = args.target.as_deref().unwrap_or_default();
    // A target that is not one fails before anything is asked of the cluster.
    TapTarget::parse(target_text, "default").map_err(bad_input)?;
    // Without -n: the config file's namespace when it names exactly one (the user's own
    // word on what they may read), else the context's, as kubectl takes it (not needed
    // for ns/NAME).
    let configured = crate::config::Config::load(None)?.namespaces;
    let namespace = match &args.namespace {
        Some(ns) => ns.clone(),
        None if target_text.starts_with("ns/") || target_text.starts_with("namespace") => "default".into(),
        None if configured.len() == 1 => configured[0].clone(),
        None => crate::source::kube::connect(&kube)
            .await
            .map(|c| c.client.default_namespace().to_string())
            .unwrap_or_else(|_| "default".into()),
    };
    let target = TapTarget::parse(target_text, &namespace).map_err(bad_input)?;
    kube.namespaces = vec![target.namespace.clone()];
    let spec = TapSpec {
        target,
        source: args.source,
        max_rps: args.max_rps,
        method: p.filter.method.clone(),
        path_prefix: p.filter.path_prefix.clone(),
    };
    if args.summary {
        p.summary = Some(Summary::new(
            Grouping::Peers,
            Some(args.window.as_millis().min(i64::MAX as u128) as i64),
            MAX_GROUPS,
        ));
    }
    let (tx, mut rx) = mpsc::channel(1024);
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(crate::source::tap::run(kube, spec, tx, stop));
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let mut every = tokio::time::interval(SUMMARY_EVERY);
    let clear = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut said: Option<(Option<String>, Option<String>)> = None;
    let mut failure = None;
    loop {
        tokio::select! {
            u = rx.recv() => match u {
                Some(stamped) => match stamped.update {
                    Update::TapEvents { events } => {
                        for e in &events {
                            p.event(e, stamped.at)?;
                        }
                        if p.summary.is_none() {
                            p.out.flush()?;
                        }
                    }
                    Update::TapSource { status, .. } => {
                        let now = (status.message.clone(), status.hint.clone());
                        if said.as_ref() != Some(&now) {
                            if let Some(m) = &status.message && status.state != TapSourceState::Failed {
                                eprintln!("meshtop: {} ({}): {m}", status.target, status.origin.as_str());
                            }
                            if let Some(h) = &status.hint && status.state != TapSourceState::Failed {
                                eprintln!("meshtop: {h}");
                            }
                            said = Some(now);
                        }
                        if status.unparsed > p.unparsed {
                            let why = status.last_unparsed.clone().unwrap_or_default();
                            // The source counts them and gives the last one (cut, redacted).
                            if p.unparsed < UNPARSED_SHOWN {
                                eprintln!("meshtop: {why}");
                            }
                            p.unparsed = status.unparsed;
                        }
                        match status.state {
                            TapSourceState::Failed => {
                                let hint = status.hint.map(|h| format!(" ({h})")).unwrap_or_default();
                                failure = Some(format!("{}: {}{hint}", status.target, status.message.unwrap_or_default()));
                                break;
                            }
                            TapSourceState::Ended => break,
                            _ => {}
                        }
                    }
                    _ => {}
                },
                None => break,
            },
            _ = every.tick(), if p.summary.is_some() => {
                if let Some(s) = &mut p.summary {
                    s.rotate(crate::model::now_millis());
                }
                p.print_summary(true, clear)?;
            }
            _ = &mut until => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let _ = stop_tx.send(true);
    task.abort();
    p.print_summary(false, false)?;
    p.finish()?;
    match failure {
        Some(f) => Err(eyre!(f)),
        None => Ok(()),
    }
}

/// `21:26:18.409  out  foo/sleep-1 -> httpbin.foo:8000  GET httpbin:8000/status/418  418  4ms  135B`
pub fn text_line(e: &TapEvent) -> String {
    let dir = format!("{:<3}", crate::model::tap::Direction::short(e.direction));
    let target = e.target();
    let status = match (e.status, &e.error) {
        (Some(s), _) => s.to_string(),
        (None, Some(err)) => format!("error ({err})"),
        (None, None) => "-".into(),
    };
    let mut line = format!(
        "{}  {dir}  {} -> {}  {} {target}  {status}  {}  {}",
        format::clock(e.time),
        e.source,
        e.destination,
        e.method.as_deref().unwrap_or("TCP"),
        format::opt_millis(e.duration_ms),
        e.bytes_sent.map_or_else(|| "-".into(), format::bytes),
    );
    if let Some(f) = &e.response_flags {
        line.push_str(&format!("  flags={f}"));
    }
    line
}

/// The JSON line of one event: every field, null where unknown.
pub fn event_json(e: &TapEvent) -> serde_json::Value {
    let time = jiff::Timestamp::from_millisecond(e.time).map_or_else(|_| e.time.to_string(), |t| t.to_string());
    json!({
        "time": time,
        "origin": e.origin.as_str(),
        "direction": e.direction.map(|d| d.as_str()),
        "source": e.source,
        "destination": e.destination,
        "method": e.method,
        "authority": e.authority,
        "path": e.path,
        "status": e.status,
        "duration_ms": e.duration_ms,
        "bytes_received": e.bytes_received,
        "bytes_sent": e.bytes_sent,
        "upstream_host": e.upstream_host,
        "upstream_cluster": e.upstream_cluster,
        "response_flags": e.response_flags,
        "grpc_status": e.grpc_status,
        "error": e.error,
        "reporter": e.reporter,
    })
}

fn round3(v: Option<f64>) -> Option<f64> {
    v.map(|v| (v * 1000.0).round() / 1000.0)
}

/// One summary group as a JSON line.
pub fn group_json(g: &Group, grouping: Grouping) -> serde_json::Value {
    let mut v = json!({
        "direction": g.key.direction.map(|d| d.as_str()),
        "method": g.key.method,
        "path": g.key.path,
        "count": g.count(),
        "success_rate": round3(g.success_rate()),
        "min_ms": round3(g.min_ms()),
        "max_ms": round3(g.max_ms()),
        "p99_ms": round3(g.p99_ms()),
        "last_ms": round3(g.last_ms),
    });
    match grouping {
        Grouping::Authority => v["authority"] = json!(g.key.destination),
        Grouping::Peers => {
            v["source"] = json!(g.key.source);
            v["destination"] = json!(g.key.destination);
        }
    }
    v
}

/// The summary as an aligned table, most requests first.
pub fn summary_table(groups: &[&Group], grouping: Grouping) -> String {
    let mut head: Vec<String> = match grouping {
        Grouping::Authority => vec!["DIR".into(), "AUTHORITY".into()],
        Grouping::Peers => vec!["SOURCE".into(), "DESTINATION".into()],
    };
    head.extend(
        ["METHOD", "PATH", "COUNT", "SUCCESS", "BEST", "WORST", "LAST", "P99"]
            .iter()
            .map(|s| s.to_string()),
    );
    let mut lines = vec![head];
    for g in groups {
        let mut row = match grouping {
            Grouping::Authority => vec![
                g.key.direction.map_or("-", |d| d.as_str()).to_string(),
                g.key.destination.clone(),
            ],
            Grouping::Peers => vec![g.key.source.clone(), g.key.destination.clone()],
        };
        row.extend([
            g.key.method.clone(),
            g.key.path.clone(),
            g.count().to_string(),
            format::pct(g.success_rate()),
            format::opt_millis(g.min_ms()),
            format::opt_millis(g.max_ms()),
            format::opt_millis(g.last_ms),
            format::opt_millis(g.p99_ms()),
        ]);
        lines.push(row);
    }
    crate::text::align(&lines)
}

//! Command-line interface. Only commands that work are listed.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "meshtop", version, about = "See what your service mesh costs, live.", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Offline tools for Prometheus exposition dumps.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Golden signals and proxy cost per workload, once (scrapes every proxy twice,
    /// --window apart, through the API server's pod proxy; or asks --prometheus-url).
    Top {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::top::Format,
        /// Time between the two scrapes (default 10s), or the PromQL rate range with
        /// --prometheus-url (default 1m).
        #[arg(long, value_parser = parse_duration)]
        window: Option<std::time::Duration>,
    },
    /// Record the live session (every update the sources emit) to a file, headless.
    Record {
        /// The recording file (zstd-compressed NDJSON).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Stop after this long (default: until interrupted).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
        /// A part that was emulated (repeatable), e.g. "proxies: tests/standin/proxy.py".
        #[arg(long)]
        emulated: Vec<String>,
    },
    /// Replay a recording in the TUI: space pauses, -/+ speed, ←/→ seek, [/] markers, L loops.
    Replay {
        file: PathBuf,
        /// Playback speed: 0.5, 1, 2, 4 or 8.
        #[arg(long, default_value = "1")]
        speed: f64,
        /// Start again at the end.
        #[arg(long = "loop")]
        looping: bool,
        /// Write the replay as an asciicast v2 file instead of showing it.
        #[arg(long, value_name = "FILE")]
        export_cast: Option<PathBuf>,
        /// Terminal size of the exported cast.
        #[arg(long, default_value = "120x36")]
        size: String,
    },
    /// Replay the bundled demo recording, looping; no cluster needed.
    Demo,
    /// Print the meshes, control planes, namespaces and pods found, without the TUI.
    Discover {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::discover::Format,
        /// Give up waiting for the initial lists after this long (e.g. 30s, 2m).
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// HTTP load test without the TUI: closed loop (-q 0) or constant rate, latency
    /// corrected for coordinated omission; prints a report and saves the result.
    Bench(Box<BenchArgs>),
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Target URL (http:// or https://).
    pub url: String,
    /// Connections to open (each with one request in flight, or --streams with HTTP/2).
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: u32,
    /// Total requests per second; 0 = as fast as possible (closed loop).
    #[arg(short = 'q', long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub rate: f64,
    /// How long to run the main phase (default 10s unless -n is given).
    #[arg(short = 'z', long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many requests (responses plus errors).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// HTTP/2 (ALPN h2 for https://, prior knowledge h2c for http://).
    #[arg(long)]
    pub http2: bool,
    /// Concurrent HTTP/2 streams per connection.
    #[arg(long, default_value_t = 1, requires = "http2")]
    pub streams: u32,
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(short = 'd', long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Request body read from a file.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Per-request timeout (also bounds connect and TLS handshake).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Load sent before measuring, excluded from the results.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,
    /// Rate steps before the main phase, e.g. `100:5s,500:5s` (needs -q).
    #[arg(long, value_parser = crate::bench::config::parse_ramp)]
    pub ramp: Option<crate::bench::config::Ramp>,
    /// Name for the run (in the result file name and reports).
    #[arg(long)]
    pub label: Option<String>,
    /// Do not verify the server's TLS certificate.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Report format on stdout (or --out).
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: crate::bench::output::Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where the JSON result is saved (default: $XDG_DATA_HOME/meshtop/results).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Do not save the JSON result.
    #[arg(long)]
    pub no_save: bool,
    /// Objectives, e.g. `p99<50ms,success>99.9%`; exit code 3 when one is missed.
    #[arg(long, value_parser = crate::bench::slo::parse)]
    pub slo: Option<crate::bench::slo::Slo>,
    /// The global --namespace under its own id, so clap does not give this command the
    /// global's `-n` (here `-n` is --requests). Unused by the benchmark.
    #[arg(long = "namespace", id = "namespace", value_name = "NS", hide = true)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum MetricsCommand {
    /// Golden signals from one dump (totals) or two (rates over --interval): requests,
    /// success ratio, latency quantiles from the buckets, mTLS share, open connections.
    Parse {
        /// One or two exposition files (e.g. `curl pod:15020/stats/prometheus > a.txt`).
        #[arg(required = true, num_args = 1..=2)]
        files: Vec<std::path::PathBuf>,
        /// Time between the two dumps.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        interval: std::time::Duration,
        /// Metric dialect; auto detects it from the metric names.
        #[arg(long, value_enum, default_value = "auto")]
        mesh: crate::metrics::report::MeshArg,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::metrics::report::Format,
    },
}

/// `500ms`, `30s`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (use e.g. 500ms, 30s, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (use ms, s, m or h)")),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// kubeconfig context to use (default: the current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Only watch this namespace.
    #[arg(
        short = 'n',
        long,
        global = true,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,

    /// Watch all namespaces (the default unless --namespace is given).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,

    /// Take golden signals (and cAdvisor CPU/memory when metrics-server is missing) from
    /// Prometheus instead of scraping every proxy: a URL such as http://localhost:9090, or
    /// `auto` to find the mesh's Prometheus service and query it through the API server.
    #[arg(long, global = true, value_name = "URL")]
    pub prometheus_url: Option<String>,

    /// Scrape proxies at their pod IPs instead of through the API server's pod proxy
    /// (when meshtop runs inside the cluster network).
    #[arg(long, global = true)]
    pub scrape_direct: bool,

    /// What is real and what is stood in, written into recordings (`meshtop record`, or R
    /// in the TUI) and shown when they are replayed.
    #[arg(long, global = true, default_value = "live session", value_name = "TEXT")]
    pub provenance: String,

    /// Colour theme: dark, light, presentation, or a path to a .toml theme file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Config file (default: $XDG_CONFIG_HOME/meshtop/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

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
    /// Print the meshes, control planes, namespaces and pods found, without the TUI.
    Discover {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::discover::Format,
        /// Give up waiting for the initial lists after this long (e.g. 30s, 2m).
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
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

    /// Colour theme: dark, light, presentation, or a path to a .toml theme file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Config file (default: $XDG_CONFIG_HOME/meshtop/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

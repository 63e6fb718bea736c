//! Command-line interface. Only commands that work are listed, and each command takes only
//! the flags that apply to it: observation commands (the TUI, `discover`, `top`, `record`)
//! follow kubectl (`-n/--namespace`); load commands (`bench`) follow oha and hey
//! (`-n/--requests`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::input::flag;

/// The exit codes every command uses, shown in each command's help.
pub const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  a failure at run time (cluster unreachable, I/O)
  2  bad usage or bad input (a flag, a file that is not what it should be)
  3  an objective was missed (bench --slo, sweep --max-slowdown, --max-added; doctor: a
     read meshtop needs is not allowed)";

/// The flags whose values may hold a credential (a URL's password or query, a header, a
/// body): a usage error quotes them hidden, since an agent's errors land in its pod's log.
const SECRET_ARGS: &[&str] = &["URL", "--header", "--body"];

/// The command line, parsed; on a usage error, clap's message (with a secret flag's value
/// hidden) and exit status 2; help and version as clap prints them.
pub fn parse() -> Cli {
    use clap::Parser;
    let e = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    if !e.use_stderr() {
        e.exit();
    }
    eprint!("{}", usage_error_text(&e));
    std::process::exit(e.exit_code());
}

/// A usage error's text, with the value of a flag in [`SECRET_ARGS`] replaced by `<hidden>`.
pub fn usage_error_text(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let text = e.render().to_string();
    let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) =
        (e.get(ContextKind::InvalidArg), e.get(ContextKind::InvalidValue))
    else {
        return text;
    };
    if value.is_empty() || !SECRET_ARGS.iter().any(|s| arg.contains(s)) {
        return text;
    }
    // The value as clap quotes it ('...') and as meshtop's own parsers do ("..."); only
    // whole quoted values, so a short value does not blank out the rest of the message.
    text.replace(&format!("'{value}'"), "'<hidden>'")
        .replace(&format!("{value:?}"), "\"<hidden>\"")
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "meshtop",
    version,
    about = "See what your service mesh costs, live.",
    long_about = "See what your service mesh costs, live.\n\nWithout a command, opens the TUI on the \
                  cluster of the current kubeconfig context. `meshtop demo` replays a recorded session \
                  without a cluster.",
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub tui: TuiArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The TUI's flags (no command given).
#[derive(Debug, Clone, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(flatten)]
    pub provenance: ProvenanceArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Which cluster and namespaces to watch (observation commands).
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Only watch these namespaces (-n as in kubectl; a list reads each on its own, for
    /// users whose Roles grant only some namespaces).
    #[arg(
        short = 'n',
        long,
        value_name = "NS,NS...",
        value_delimiter = ',',
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Vec<String>,

    /// Watch all namespaces (the default unless --namespace is given).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

/// Where golden signals come from.
#[derive(Debug, Clone, Default, Args)]
pub struct TrafficArgs {
    /// Take golden signals (and cAdvisor CPU/memory when metrics-server is missing) from
    /// Prometheus instead of scraping every proxy: a URL such as http://localhost:9090, or
    /// `auto` to find the mesh's Prometheus service and query it through the API server.
    #[arg(long, value_name = "URL")]
    pub prometheus_url: Option<String>,

    /// Scrape proxies at their pod IPs instead of through the API server's pod proxy
    /// (when meshtop runs inside the cluster network).
    #[arg(long)]
    pub scrape_direct: bool,

    /// Proxies scraped per 5 s interval before scraping counts as too much load (default
    /// 1000, or `scrape_budget` in the config file). Past it, figures come from the mesh's
    /// Prometheus when one is found; else the scrapes are paced to the budget, each proxy
    /// then scraped less often. The status line says which.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub scrape_budget: Option<u32>,
}

impl TrafficArgs {
    /// How proxies are scraped: the flags, else the config file, else the defaults.
    pub fn scrape(&self, config: &crate::config::Config) -> crate::source::scrape::Options {
        crate::source::scrape::Options {
            direct: self.scrape_direct,
            budget: self
                .scrape_budget
                .or(config.scrape_budget)
                .unwrap_or(crate::source::scrape::DEFAULT_BUDGET),
        }
    }
}

/// How the TUI looks and which keys it takes.
#[derive(Debug, Clone, Default, Args)]
pub struct UiArgs {
    /// Colour theme: dark, light, presentation, or a path to a .toml theme file.
    /// NO_COLOR in the environment turns colours off.
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Config file (default: $XDG_CONFIG_HOME/meshtop/config.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ProvenanceArgs {
    /// What is real and what is stood in, written into recordings (`meshtop record`, or R
    /// in the TUI) and shown when they are replayed.
    #[arg(long, default_value = "live session", value_name = "TEXT")]
    pub provenance: String,
}

/// Where a load command's report and result go (`bench`, `sweep`).
#[derive(Debug, Clone, Default, Args)]
pub struct SaveArgs {
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where the JSON result is saved (default: $XDG_DATA_HOME/meshtop/results).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Do not save the JSON result.
    #[arg(long)]
    pub no_save: bool,
}

impl SaveArgs {
    /// The directory results are saved in, or None with --no-save.
    pub fn results_dir(&self) -> color_eyre::Result<Option<PathBuf>> {
        match (&self.results_dir, self.no_save) {
            (_, true) => Ok(None),
            (Some(d), false) => Ok(Some(d.clone())),
            (None, false) => crate::bench::store::default_dir().map(Some),
        }
    }
}

/// Flags every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Write a debug log here, for bug reports (level from $MESHTOP_LOG, default info;
    /// secrets redacted as in recordings). Off unless given.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Let features that create or change cluster objects ask to (each write is still
    /// named and confirmed). Off: meshtop sends the API server no mutating request.
    #[arg(long)]
    pub allow_writes: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Offline tools for Prometheus exposition dumps.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Golden signals and proxy cost per workload, once (scrapes every proxy twice,
    /// --window apart, through the API server's pod proxy; or asks --prometheus-url).
    #[command(after_help = EXIT_CODES)]
    Top {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        traffic: TrafficArgs,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::cmd::top::Format,
        /// Time between the two scrapes (default 10s), or the PromQL rate range with
        /// --prometheus-url (default 1m).
        #[arg(long, value_parser = flag::run_duration)]
        window: Option<Duration>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Record the live session (every update the sources emit) to a file, headless.
    #[command(after_help = EXIT_CODES)]
    Record {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        traffic: TrafficArgs,
        /// The recording file (zstd-compressed NDJSON).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Stop after this long (default: until interrupted).
        #[arg(long, value_parser = flag::run_duration)]
        duration: Option<Duration>,
        #[command(flatten)]
        provenance: ProvenanceArgs,
        /// A part that was emulated (repeatable), e.g. "proxies: tests/standin/proxy.py".
        #[arg(long)]
        emulated: Vec<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Replay a recording in the TUI: space pauses, -/+ speed, ←/→ seek, [/] markers, L loops.
    #[command(after_help = EXIT_CODES)]
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
        #[command(flatten)]
        ui: UiArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Replay the bundled demo recording, looping; no cluster needed.
    #[command(after_help = EXIT_CODES)]
    Demo {
        #[command(flatten)]
        ui: UiArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Check, for each thing meshtop reads, whether the current user may (one
    /// SelfSubjectAccessReview per verb): what works, what does not, and the RBAC rule that
    /// would fix it (deploy/rbac-readonly.yaml grants them all). Exits 3 when something is
    /// not allowed.
    #[command(after_help = EXIT_CODES)]
    Doctor {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::cmd::doctor::Format,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The meshes' configuration objects (Istio, Linkerd, Gateway API, Kuma, Consul), each
    /// explained in plain words, with the workloads it affects and its misconfigurations
    /// (a subset that selects no pod, a host no Service matches, weights that do not sum to
    /// 100, STRICT mTLS over pods without a proxy…), the field at fault named.
    #[command(after_help = EXIT_CODES)]
    Meshconfig {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::cmd::meshconfig::Format,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print the meshes, control planes, namespaces and pods found, without the TUI.
    #[command(after_help = EXIT_CODES)]
    Discover {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::cmd::discover::Format,
        /// Give up waiting for the initial lists after this long (e.g. 30s, 2m).
        #[arg(long, default_value = "30s", value_parser = flag::run_duration)]
        timeout: Duration,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// HTTP load test without the TUI: closed loop (-q 0) or constant rate, latency
    /// corrected for coordinated omission; prints a report and saves the result.
    #[command(after_help = EXIT_CODES)]
    Bench(Box<BenchArgs>),
    /// The overhead question: runs a baseline and the routes to compare with it (e.g.
    /// direct, and through the mesh) at each step of connections or rates, interleaved,
    /// and prints the slowdown table (ratios to the baseline and added milliseconds).
    #[command(after_help = SWEEP_HELP)]
    Sweep(Box<SweepArgs>),
    /// Individual requests, live: Linkerd's tap API for Linkerd pods, Envoy access logs
    /// for Istio, Consul, Kuma and OSM; or access-log lines from a file (--log). Filters
    /// apply after the fact, on the response too (--status 5xx, --min-latency 100ms).
    #[command(after_help = TAP_HELP)]
    Tap(Box<TapArgs>),
    /// Compares saved runs (bench or sweep results): side by side with deltas and a
    /// verdict line for two, a table against the first for more.
    #[command(after_help = EXIT_CODES)]
    Compare(CompareArgs),
    /// Draws saved results as SVG: bench results as latency by percentile (one curve per
    /// run), a sweep as each target's slowdown by step.
    #[command(after_help = EXIT_CODES)]
    Report(ReportArgs),
    /// Merges shards written by `bench --shard-out` (runs on several machines or pods at
    /// once) into one result: counts summed and latency histograms merged, exactly. A
    /// truncated or damaged shard is named and the others still merge (exit status 2).
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
    /// One agent's share of a distributed run, headless: the same load flags as `bench`
    /// (each also from the environment), its shard frames on stdout and, with --listen,
    /// over HTTP. `bench --in-cluster` runs it in a Job's pods.
    #[command(after_help = AGENT_HELP)]
    Agent(Box<AgentArgs>),
    /// Deletes what in-cluster runs left behind (Jobs, pods and Secrets labelled
    /// app.kubernetes.io/managed-by=meshtop), e.g. after meshtop was killed. Needs
    /// --allow-writes; --dry-run only lists them.
    #[command(after_help = EXIT_CODES)]
    Cleanup(CleanupArgs),
    /// Shell completions on stdout, e.g. `meshtop completions bash > ~/.local/share/bash-completion/completions/meshtop`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Manual pages (roff): meshtop(1) on stdout, or with --dir one page per command,
    /// e.g. `meshtop man --dir ~/.local/share/man/man1`.
    Man {
        /// Write meshtop.1 and meshtop-COMMAND.1 into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

const AGENT_HELP: &str = "\
Exit status:
  0  the share ran to its end (its last frame is on stdout)
  1  a failure at run time
  2  bad usage or bad input (a flag, its share of the run is empty)
  4  cancelled (SIGTERM or interrupt): the last frame says so";

/// Where `meshtop cleanup` looks.
#[derive(Debug, Clone, Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub kube: KubeconfigArgs,
    /// Only this namespace (default: every namespace).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// List what would be deleted, and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

const TAP_HELP: &str = "\
Examples:
  meshtop tap deploy/web -n emojivoto
  meshtop tap ns/shop --status 5xx --min-latency 100ms -o json
  meshtop tap deploy/web -n emojivoto --summary
  kubectl logs deploy/web -c istio-proxy | meshtop tap --log - --summary

Exit status:
  0  success (interrupted, --duration reached, or the end of --log)
  1  the tap failed (forbidden, tap server unavailable, no access logs)
  2  bad usage or bad input (a flag, a target, a file that is not there)";

fn tap_source(s: &str) -> Result<crate::model::tap::TapSourceChoice, String> {
    crate::app::tap::source_choice(s)
}

#[derive(Debug, Clone, Args)]
pub struct TapArgs {
    /// What to tap: deploy/NAME, sts/NAME, ds/NAME, pod/NAME or ns/NAME.
    #[arg(required_unless_present = "log", conflicts_with = "log")]
    pub target: Option<String>,
    /// Read access-log lines from this file (`-` for stdin) instead of tapping a cluster.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The target's namespace (-n as in kubectl; default: the config file's `namespaces`
    /// when it lists one, else the context's namespace).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Events Linkerd's tap server inspects per second at most (its maxRps).
    #[arg(long, default_value = "100", value_parser = crate::app::tap::max_rps_value)]
    pub max_rps: f32,
    /// Where requests come from: Linkerd's tap API, proxy access logs, or auto (by the
    /// pods' mesh).
    #[arg(long, default_value = "auto", value_parser = tap_source)]
    pub source: crate::model::tap::TapSourceChoice,
    /// Only requests whose path starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub path: Option<String>,
    /// Only requests with this method.
    #[arg(long)]
    pub method: Option<String>,
    /// Only responses with these statuses: 5xx, 503, 4xx,5xx, or fail (anything that did
    /// not succeed: 5xx, no response, resets, gRPC errors).
    #[arg(long, value_parser = crate::tap::StatusMatch::parse)]
    pub status: Option<crate::tap::StatusMatch>,
    /// Only requests that took at least this long (100ms, 1.5s; a bare number is ms).
    #[arg(long, value_name = "DURATION", value_parser = crate::tap::filter::latency)]
    pub min_latency: Option<f64>,
    /// Output format: one line per request, or one JSON object per line.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: crate::cmd::tap::Format,
    /// Print the aggregate (count, success rate, best, worst, p99 per group) instead of
    /// each request; refreshed while tapping live, once at the end of --log.
    #[arg(long)]
    pub summary: bool,
    /// The live summary's window (default 1m).
    #[arg(long, default_value = "1m", value_parser = flag::run_duration)]
    pub window: Duration,
    /// Stop after this long (default: until interrupted).
    #[arg(long, value_parser = flag::run_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What load to send: `bench` and `agent` take the same flags. Each can also come from
/// the environment (MESHTOP_URL, MESHTOP_RATE, ...; MESHTOP_HEADERS one header per
/// line), as agent pods get them; a flag on the command line wins.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Target URL (http:// or https://).
    #[arg(env = "MESHTOP_URL", hide_env_values = true)]
    pub url: String,
    /// Connections to open (each with one request in flight, or --streams with HTTP/2).
    #[arg(env = "MESHTOP_CONNECTIONS", short = 'c', long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub connections: u32,
    /// Total requests per second; 0 = as fast as possible (closed loop).
    #[arg(env = "MESHTOP_RATE", short = 'q', long, default_value = "0", value_parser = flag::rate, allow_negative_numbers = true)]
    pub rate: f64,
    /// How long to run the main phase (default 10s unless -n is given).
    #[arg(env = "MESHTOP_DURATION", short = 'z', long, value_parser = flag::run_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests (responses plus errors). -n as in oha and hey; the
    /// observation commands use -n for the namespace.
    #[arg(env = "MESHTOP_REQUESTS", short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// HTTP/2 (ALPN h2 for https://, prior knowledge h2c for http://).
    #[arg(env = "MESHTOP_HTTP2", long)]
    pub http2: bool,
    /// Concurrent HTTP/2 streams per connection.
    #[arg(env = "MESHTOP_STREAMS", long, default_value_t = 1, requires = "http2", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub streams: u32,
    #[arg(env = "MESHTOP_METHOD", short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Request header `Name: value` (repeatable).
    #[arg(env = "MESHTOP_HEADERS", hide_env_values = true, value_delimiter = '\n', short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = flag::header)]
    pub headers: Vec<(String, String)>,
    /// Request body.
    #[arg(
        env = "MESHTOP_BODY",
        hide_env_values = true,
        short = 'd',
        long,
        conflicts_with = "body_file"
    )]
    pub body: Option<String>,
    /// Request body read from a file.
    #[arg(env = "MESHTOP_BODY_FILE", long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Per-request timeout (also bounds connect and TLS handshake).
    #[arg(env = "MESHTOP_TIMEOUT", long, default_value = "10s", value_parser = flag::timeout)]
    pub timeout: Duration,
    /// Load sent before measuring, excluded from the results.
    #[arg(env = "MESHTOP_WARMUP", long, default_value = "0s", value_parser = flag::offset)]
    pub warmup: Duration,
    /// Rate steps before the main phase, e.g. `100:5s,500:5s` (needs -q).
    #[arg(env = "MESHTOP_RAMP", long, value_parser = crate::bench::config::parse_ramp)]
    pub ramp: Option<crate::bench::config::Ramp>,
    /// Name for the run (in the result file name and reports).
    #[arg(env = "MESHTOP_LABEL", long)]
    pub label: Option<String>,
    /// Do not verify the server's TLS certificate (results then say "TLS not verified").
    #[arg(env = "MESHTOP_INSECURE", short = 'k', long)]
    pub insecure: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Worker threads (default: one per core).
    #[arg(env = "MESHTOP_THREADS", long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Report format on stdout (or --out).
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: crate::bench::output::Format,
    #[command(flatten)]
    pub save: SaveArgs,
    /// Also write the run as shard frames (every 200 ms, then the whole run) to FILE, for
    /// `meshtop merge` to combine with other machines' shards of the same run.
    #[arg(long, value_name = "FILE")]
    pub shard_out: Option<PathBuf>,
    /// Objectives, e.g. `p99<50ms,success>99.9%`; exit code 3 when one is missed.
    #[arg(long, value_parser = crate::bench::slo::parse)]
    pub slo: Option<crate::bench::slo::Slo>,
    #[command(flatten)]
    pub in_cluster: InClusterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Load from inside the cluster: agent pods of an Indexed Job, merged into one result.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "In-cluster load (needs --allow-writes)")]
pub struct InClusterArgs {
    #[command(flatten)]
    pub pods: AgentPodArgs,
    /// Namespace for the agents' Job (default: the context's namespace).
    #[arg(long, value_name = "NS", requires = "in_cluster")]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub kube: KubeconfigArgs,
}

/// The agent pods of in-cluster load, for `bench` and `sweep` alike.
#[derive(Debug, Clone, Args)]
pub struct AgentPodArgs {
    /// Send the load from agent pods in the cluster (a Job meshtop creates, follows
    /// through the API server and deletes), not from this machine.
    #[arg(long)]
    pub in_cluster: bool,
    /// Agent pods; rate, connections and -n are split over them (remainders spread).
    #[arg(long, default_value_t = 1, requires = "in_cluster", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub agents: u32,
    /// The agents' container image: meshtop itself (Dockerfile in the repo).
    #[arg(long, default_value = crate::agents::plan::DEFAULT_IMAGE, requires = "in_cluster")]
    pub image: String,
    /// Keep agents off the nodes that run the target's pods (found from the URL's Service).
    #[arg(long, requires = "in_cluster")]
    pub avoid_target_nodes: bool,
    /// When an agent fails or is evicted: abort the run, or go on and name its missing share.
    #[arg(long, value_enum, default_value = "abort", requires = "in_cluster")]
    pub on_agent_failure: crate::agents::OnFailure,
    /// How long after the Job is created the agents start, together (room for
    /// scheduling and image pulls; an agent that starts later is reported as late).
    #[arg(long, default_value = "30s", value_parser = flag::offset, requires = "in_cluster")]
    pub start_in: Duration,
}

impl AgentPodArgs {
    /// What a run from these agents is, before anything is created (a new run ID).
    pub fn template(&self, namespace: &str) -> crate::agents::plan::InCluster {
        crate::agents::plan::InCluster {
            run: crate::agents::plan::run_id(),
            namespace: namespace.to_string(),
            agents: self.agents,
            image: self.image.clone(),
            on_failure: self.on_agent_failure,
            start_in: self.start_in,
        }
    }
}

/// The cluster a command writes to: a kubeconfig and its context.
#[derive(Debug, Clone, Default, Args)]
pub struct KubeconfigArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    // Not `requires = "in_cluster"` under bench: clap counts $KUBECONFIG as given, and
    // would refuse every local run where it is set.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl KubeconfigArgs {
    /// The cluster, with no namespace list (these commands name their one namespace).
    pub fn target(&self) -> crate::source::kube::KubeTarget {
        crate::source::kube::KubeTarget {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespaces: Vec::new(),
        }
    }
}

/// `meshtop agent`: one share of a run, headless, for a Job's pods.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Agents sharing the run; this one runs share --index of them (the load flags are
    /// the whole run's).
    #[arg(long, env = "MESHTOP_AGENTS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub agents: u32,
    /// This agent's share, 0-based (an Indexed Job sets JOB_COMPLETION_INDEX).
    #[arg(long, env = "JOB_COMPLETION_INDEX", default_value_t = 0)]
    pub index: u32,
    /// Start at this time (RFC 3339, e.g. 2026-12-02T10:00:00Z), so that agents start
    /// together; one already past starts at once and says how late it is.
    #[arg(long, env = "MESHTOP_START_AT", value_parser = flag::timestamp)]
    pub start_at: Option<jiff::Timestamp>,
    /// Also serve the shard frames over HTTP here (GET /shard?from=LINE), as meshtop
    /// follows agent pods through the API server's pod proxy.
    #[arg(long, env = "MESHTOP_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// With --listen: after the end, wait this long at most for a follower to read the
    /// last frame (the agent exits as soon as one has).
    #[arg(long, env = "MESHTOP_LINGER", default_value = "60s", value_parser = flag::offset)]
    pub linger: Duration,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Certificates for https:// targets: a private CA, and a client certificate for mTLS.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Verify the server against this PEM CA bundle instead of the system's roots.
    #[arg(long, env = "MESHTOP_CACERT", value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM) for servers that ask for one, as mTLS gateways do.
    #[arg(long, env = "MESHTOP_CERT", value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "MESHTOP_KEY", value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    pub fn files(&self) -> crate::bench::config::TlsFiles {
        crate::bench::config::TlsFiles {
            cacert: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

const SWEEP_HELP: &str = "\
Examples:
  meshtop sweep --target direct=http://10.0.0.5:8080/ --target mesh=http://web.shop/ \\
      --connections 8,16,32,100 -z 30s --repeat 3
  meshtop sweep --target direct=URL --target mesh=URL --rates 100,500,1000 -c 32 \\
      --max-slowdown 'p99<1.5' -o md
  meshtop sweep -f experiment.yaml      (targets, connections or rates, duration, ... as YAML)

With --connections only, each step is a closed loop unless -q sets a rate; with --rates,
each step runs at that rate over -c connections (default 50).

Exit status:
  0  success
  1  a failure at run time (I/O)
  2  bad usage or bad input (a flag, a file that is not what it should be)
  3  an objective was missed (--max-slowdown, --max-added)";

/// A list given as one flag value (`8,16,32`, `p50<1.2,p99<1.5`).
#[derive(Debug, Clone, PartialEq)]
pub struct Steps<T>(pub Vec<T>);

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// A route to the service, NAME=URL (repeatable). The first is the baseline unless
    /// --baseline names another.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = crate::sweep::plan::target)]
    pub targets: Vec<crate::sweep::Target>,
    /// A YAML experiment file; flags given here override it.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The target the others are compared with.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Connections per step, e.g. 8,16,32,100; with --rates, one number: the connections of every step.
    #[arg(short = 'c', long, value_name = "N,N,...", value_parser = |s: &str| crate::sweep::plan::connections_list(s).map(Steps))]
    pub connections: Option<Steps<u32>>,
    /// Requests per second per step, e.g. 100,500,1000.
    #[arg(long, value_name = "R,R,...", value_parser = |s: &str| crate::sweep::plan::rates_list(s).map(Steps))]
    pub rates: Option<Steps<f64>>,
    /// Fixed rate of a connections sweep (default 0: closed loop).
    #[arg(short = 'q', long, value_parser = flag::rate, allow_negative_numbers = true, conflicts_with = "rates")]
    pub rate: Option<f64>,
    /// Stop each run after this many requests (-n as in bench); alone, the count bounds
    /// each run, with -z whichever comes first.
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Length of each run (default 30s unless -n is given).
    #[arg(short = 'z', long, value_parser = flag::run_duration)]
    pub duration: Option<Duration>,
    /// Load sent before each run is measured (default 5s).
    #[arg(long, value_parser = flag::offset)]
    pub warmup: Option<Duration>,
    /// Runs of each target per step; the table shows medians and their min-max (default 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: Option<u32>,
    /// Pause between runs (default 2s).
    #[arg(long, value_parser = flag::offset)]
    pub cooldown: Option<Duration>,
    /// HTTP/2 (ALPN h2 for https://, prior knowledge h2c for http://).
    #[arg(long)]
    pub http2: bool,
    #[arg(short = 'm', long)]
    pub method: Option<String>,
    /// Request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = flag::header)]
    pub headers: Vec<(String, String)>,
    /// Per-request timeout (default 10s).
    #[arg(long, value_parser = flag::timeout)]
    pub timeout: Option<Duration>,
    /// Do not verify the server's TLS certificate (results then say "TLS not verified").
    #[arg(short = 'k', long)]
    pub insecure: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Name for the sweep (in the result file name).
    #[arg(long)]
    pub label: Option<String>,
    /// Exit with status 3 when a target's ratio to the baseline breaks a limit, e.g. 'p99<1.5'.
    #[arg(long, value_name = "LIMITS", value_parser = |s: &str| crate::sweep::gate::parse_slowdown(s).map(Steps))]
    pub max_slowdown: Option<Steps<crate::sweep::gate::Gate>>,
    /// Exit with status 3 when a target adds more than this to the baseline, e.g. 'p99<5ms'.
    #[arg(long, value_name = "LIMITS", value_parser = |s: &str| crate::sweep::gate::parse_added(s).map(Steps))]
    pub max_added: Option<Steps<crate::sweep::gate::Gate>>,
    /// Report format on stdout (or --out).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: crate::sweep::output::Format,
    #[command(flatten)]
    pub cluster: SweepClusterArgs,
    #[command(flatten)]
    pub agents: AgentPodArgs,
    /// Also sweep an uninjected copy of this workload (`deploy/NAME`, in --namespace): same
    /// pod spec and replicas, injection off for every mesh, its own Service; it is the
    /// baseline, and is deleted when the sweep ends. Needs --in-cluster.
    #[arg(long, value_name = "deploy/NAME", requires = "in_cluster", value_parser = crate::agents::clone::workload_ref)]
    pub baseline_clone: Option<String>,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The cluster a sweep reads its targets' CPU and memory from. Read only: a sweep watches
/// pods, services and metrics.k8s.io and scrapes the proxies (for mTLS), and changes
/// nothing, unless --in-cluster (with --allow-writes) sends its load from agent pods.
#[derive(Debug, Clone, Default, Args)]
pub struct SweepClusterArgs {
    /// kubeconfig of the cluster whose pods serve the targets (default: $KUBECONFIG, then
    /// ~/.kube/config; without one, the table says "no cluster").
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Only look for the targets' pods in this namespace (the control plane's figures then
    /// need it to be there too).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Watch no cluster even when a kubeconfig is there (no CPU or memory figures); with
    /// --in-cluster, the agents still run there.
    #[arg(long)]
    pub no_cluster: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Saved results (`meshtop bench -o json`, `meshtop sweep -o json`, or files in the
    /// results directory); the first is what the others are compared with.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Compare the N newest saved results instead (oldest first).
    #[arg(long, value_name = "N", conflicts_with = "files", value_parser = clap::value_parser!(u32).range(2..=100))]
    pub last: Option<u32>,
    /// Where saved results are (default: $XDG_DATA_HOME/meshtop/results).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: crate::compare::Format,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Saved bench results (any number) or one saved sweep.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write the picture as SVG.
    #[arg(long, value_name = "OUT.svg")]
    pub svg: Option<PathBuf>,
    /// Where to write the picture as PNG (twice the SVG's size; needs a system font).
    #[arg(long, value_name = "OUT.png")]
    pub png: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Shard files (`meshtop bench --shard-out FILE`).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Report format on stdout (or --out).
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: crate::bench::output::Format,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum MetricsCommand {
    /// Golden signals from one dump (totals) or two (rates over --interval): requests,
    /// success ratio, latency quantiles from the buckets, mTLS share, open connections.
    #[command(after_help = EXIT_CODES)]
    Parse {
        /// One or two exposition files (e.g. `curl pod:15020/stats/prometheus > a.txt`).
        #[arg(required = true, num_args = 1..=2)]
        files: Vec<PathBuf>,
        /// Time between the two dumps.
        #[arg(long, default_value = "10s", value_parser = flag::run_duration)]
        interval: Duration,
        /// Metric dialect; auto detects it from the metric names.
        #[arg(long, value_enum, default_value = "auto")]
        mesh: crate::metrics::report::MeshArg,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: crate::cmd::metrics::Format,
        #[command(flatten)]
        common: CommonArgs,
    },
}

impl Command {
    /// The log file a command was asked to write, if any.
    pub fn common(&self) -> Option<&CommonArgs> {
        match self {
            Command::Metrics(MetricsCommand::Parse { common, .. })
            | Command::Top { common, .. }
            | Command::Record { common, .. }
            | Command::Replay { common, .. }
            | Command::Demo { common, .. }
            | Command::Discover { common, .. }
            | Command::Meshconfig { common, .. }
            | Command::Doctor { common, .. } => Some(common),
            Command::Bench(b) => Some(&b.common),
            Command::Sweep(s) => Some(&s.common),
            Command::Tap(t) => Some(&t.common),
            Command::Compare(c) => Some(&c.common),
            Command::Report(r) => Some(&r.common),
            Command::Merge(m) => Some(&m.common),
            Command::Agent(a) => Some(&a.common),
            Command::Cleanup(c) => Some(&c.common),
            Command::Completions { .. } | Command::Man { .. } => None,
        }
    }
}

impl ClusterArgs {
    /// What to watch, with the config file's `namespaces` when neither `-n` nor `-A` is
    /// given: every observation command (the TUI, discover, top, record, doctor) reads the
    /// same namespaces, so a user whose Roles grant only some names them once.
    pub fn target_with(&self, config: &crate::config::Config) -> color_eyre::Result<crate::source::kube::KubeTarget> {
        let mut target = self.target()?;
        if target.namespaces.is_empty() && !self.all_namespaces {
            target.namespaces = config.namespaces.clone();
        }
        Ok(target)
    }

    /// What to watch, from the flags alone. A kubeconfig named by the flag (or a single path in $KUBECONFIG) that
    /// is not there is bad input; a `$KUBECONFIG` list is left to the client to merge.
    pub fn target(&self) -> color_eyre::Result<crate::source::kube::KubeTarget> {
        if let Some(ns) = self.namespace.iter().find(|ns| !crate::input::is_namespace_name(ns)) {
            return Err(crate::exit::bad_input(format!(
                "-n {ns:?}: not a namespace name (lowercase letters, digits and '-', at most 63)"
            )));
        }
        let kubeconfig = match &self.kubeconfig {
            Some(p) if !p.exists() && p.to_string_lossy().contains(':') => None,
            Some(p) if !p.exists() => {
                return Err(crate::exit::bad_input(format!(
                    "kubeconfig {}: no such file (from --kubeconfig or $KUBECONFIG)",
                    p.display()
                )));
            }
            other => other.clone(),
        };
        Ok(crate::source::kube::KubeTarget {
            kubeconfig,
            context: self.context.clone(),
            namespaces: if self.all_namespaces {
                Vec::new()
            } else {
                // Each once, in the order given.
                let mut seen = std::collections::BTreeSet::new();
                self.namespace
                    .iter()
                    .filter(|ns| seen.insert(ns.as_str()))
                    .cloned()
                    .collect()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// The one flag is taken by the TUI and every command (each has the common flags).
    #[test]
    fn allow_writes_is_off_unless_given_and_taken_everywhere() {
        let cli = super::Cli::try_parse_from(["meshtop"]).unwrap();
        assert!(!cli.tui.common.allow_writes);
        let cli = super::Cli::try_parse_from(["meshtop", "--allow-writes"]).unwrap();
        assert!(cli.tui.common.allow_writes);
        for cmd in [
            &["discover"][..],
            &["top"],
            &["bench", "http://h/"],
            &["doctor"],
            &["tap", "deploy/web"],
        ] {
            let mut args = vec!["meshtop"];
            args.extend_from_slice(cmd);
            args.push("--allow-writes");
            let cli = super::Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let common = cli.command.as_ref().and_then(|c| c.common()).expect("common flags");
            assert!(common.allow_writes, "{args:?}");
        }
    }

    #[test]
    fn namespace_names() {
        for ok in ["default", "kube-system", "a", "team-42"] {
            assert!(crate::input::is_namespace_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Prod", "prod ü", "a/b", "x?y", &"a".repeat(64)] {
            assert!(!crate::input::is_namespace_name(bad), "{bad}");
        }
    }
}

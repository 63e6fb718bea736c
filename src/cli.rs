//! Command-line interface. Only commands that work are listed.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "meshtop", version, about = "See what your service mesh costs, live.", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
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

    /// Prometheus base URL for metrics queries, e.g. http://localhost:9090.
    #[arg(long, global = true, value_name = "URL")]
    pub prometheus_url: Option<String>,

    /// Colour theme: dark, light, presentation, or a path to a .toml theme file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Config file (default: $XDG_CONFIG_HOME/meshtop/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

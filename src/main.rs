use clap::Parser;
use color_eyre::eyre::Result;

use meshtop::cli::Cli;

fn main() -> Result<()> {
    meshtop::term::install_hooks()?;
    // One TLS provider for kube and reqwest; ring avoids a C toolchain dependency.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(meshtop::run::run_live(&cli.global));
    // Sources may be blocked in network calls; do not wait for them on exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

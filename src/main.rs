use clap::Parser;
use color_eyre::eyre::Result;

use meshtop::cli::{Cli, Command, MetricsCommand};

fn main() -> Result<()> {
    meshtop::term::install_hooks()?;
    // One TLS provider for kube and reqwest; ring avoids a C toolchain dependency.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        match cli.command {
            None => meshtop::run::run_live(&cli.global).await,
            Some(Command::Metrics(MetricsCommand::Parse {
                files,
                interval,
                mesh,
                output,
            })) => meshtop::metrics::report::run(&files, interval, mesh, output),
            Some(Command::Top { output, window }) => {
                let prometheus = meshtop::run::prometheus_spec(&cli.global)?;
                meshtop::top::run(
                    meshtop::run::kube_target(&cli.global),
                    window,
                    output,
                    prometheus,
                    cli.global.scrape_direct,
                )
                .await
            }
            Some(Command::Discover { output, timeout }) => {
                meshtop::discover::run(meshtop::run::kube_target(&cli.global), output, timeout).await
            }
            Some(Command::Bench(args)) => meshtop::bench::headless::run(*args).await,
        }
    });
    // Sources may be blocked in network calls; do not wait for them on exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

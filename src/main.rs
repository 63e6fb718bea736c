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
            Some(Command::Record {
                output,
                duration,
                emulated,
            }) => meshtop::record_cmd::run(&cli.global, &output, duration, &cli.global.provenance, &emulated).await,
            Some(Command::Replay {
                file,
                speed,
                looping,
                export_cast,
                size,
            }) => {
                if !meshtop::record::replay::SPEEDS.contains(&speed) {
                    color_eyre::eyre::bail!("--speed {speed}: choose 0.5, 1, 2, 4 or 8");
                }
                let (w, h) = meshtop::replay::parse_size(&size).map_err(|e| color_eyre::eyre::eyre!(e))?;
                let rec = meshtop::replay::open(&file)?;
                match export_cast {
                    Some(out) => {
                        meshtop::replay::export_cast(
                            &cli.global,
                            rec,
                            &out,
                            w,
                            h,
                            std::time::Duration::from_millis(500),
                        )?;
                        eprintln!(
                            "meshtop: wrote {} (play it with `asciinema play {}`)",
                            out.display(),
                            out.display()
                        );
                        Ok(())
                    }
                    None => meshtop::replay::run(&cli.global, rec, speed, looping).await,
                }
            }
            Some(Command::Demo) => meshtop::replay::demo(&cli.global).await,
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

//! The commands: each parses nothing itself (clap did), runs, and returns what failed.
//! This is the top layer: nothing below it imports `cli` or `cmd`.

pub mod agent;
pub mod bench;
pub mod cleanup;
pub mod compare;
pub mod discover;
pub mod doctor;
pub mod merge;
pub mod meshconfig;
pub mod metrics;
pub mod record;
pub mod replay;
pub mod report;
pub mod sweep;
pub mod tap;
pub mod top;

use clap::CommandFactory;
use color_eyre::eyre::Result;

use crate::cli::{Cli, Command, MetricsCommand};
use crate::config::Config;

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => crate::run::run_live(&cli.tui).await,
        Some(Command::Metrics(MetricsCommand::Parse {
            files,
            interval,
            mesh,
            output,
            ..
        })) => metrics::run(&files, interval, mesh, output),
        Some(Command::Top {
            cluster,
            traffic,
            output,
            window,
            ..
        }) => top::run(&cluster, &traffic, window, output).await,
        Some(Command::Record {
            cluster,
            traffic,
            output,
            duration,
            provenance,
            emulated,
            ..
        }) => record::run(&cluster, &traffic, &output, duration, &provenance.provenance, &emulated).await,
        Some(Command::Replay {
            file,
            speed,
            looping,
            export_cast,
            size,
            ui,
            ..
        }) => replay::command(&ui, &file, speed, looping, export_cast.as_deref(), &size).await,
        Some(Command::Demo { ui, .. }) => replay::demo(&ui).await,
        Some(Command::Discover {
            cluster,
            output,
            timeout,
            ..
        }) => discover::run(cluster.target_with(&Config::load(None)?)?, output, timeout).await,
        Some(Command::Meshconfig { cluster, output, .. }) => {
            meshconfig::run(cluster.target_with(&Config::load(None)?)?, output).await
        }
        Some(Command::Doctor { cluster, output, .. }) => {
            doctor::run(cluster.target_with(&Config::load(None)?)?, output).await
        }
        Some(Command::Bench(args)) => bench::run(*args).await,
        Some(Command::Sweep(args)) => sweep::run(*args).await,
        Some(Command::Tap(args)) => tap::run(*args).await,
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Report(args)) => report::run(&args),
        Some(Command::Merge(args)) => merge::run(&args),
        Some(Command::Agent(args)) => agent::run(*args).await,
        Some(Command::Cleanup(args)) => cleanup::run(&args).await,
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "meshtop", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Man { dir: None }) => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Some(Command::Man { dir: Some(dir) }) => {
            for path in man_pages(&dir)? {
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}

/// Writes a report to `out`, or to stdout, through the one redaction policy (a result
/// saved by an earlier version kept its URL as typed).
pub fn write_report(out: Option<&std::path::Path>, report: &str) -> Result<()> {
    use color_eyre::eyre::WrapErr;
    use std::io::Write;
    let report = &crate::redact::scrub_document(report);
    match out {
        Some(path) => crate::files::write(path, report),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(report.as_bytes()).wrap_err("writing the report")?;
            stdout.flush().wrap_err("writing the report")
        }
    }
}

/// Writes meshtop.1 and a page per command (meshtop-bench.1, ...), generated from the same
/// clap definitions as `--help`. Returns the files written.
pub fn man_pages(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    use color_eyre::eyre::WrapErr;
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = vec![("meshtop".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("meshtop-{}", sub.get_name());
        pages.push((
            name.clone(),
            sub.clone()
                .name(name.clone())
                .bin_name(format!("meshtop {}", sub.get_name())),
        ));
    }
    let mut written = Vec::new();
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(&path, buf).wrap_err_with(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = meshtop::term::install_hooks() {
        eprintln!("meshtop: installing the error hooks: {e}");
        return ExitCode::from(meshtop::exit::FAILURE);
    }
    // One TLS provider for kube and reqwest; ring avoids a C toolchain dependency.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Usage errors are printed (secrets hidden) and exit with 2.
    let cli = meshtop::cli::parse();
    let log_file = match &cli.command {
        None => cli.tui.common.log_file.clone(),
        Some(c) => c.common().and_then(|c| c.log_file.clone()),
    };
    if let Err(e) = meshtop::log::init(log_file.as_deref()) {
        return meshtop::exit::report(&e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return meshtop::exit::report(&e.into()),
    };
    let result = runtime.block_on(meshtop::cmd::run(cli));
    // Sources may be blocked in network calls; do not wait for them on exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => {
            tracing::info!("meshtop finished");
            ExitCode::SUCCESS
        }
        Err(e) => meshtop::exit::report(&e),
    }
}

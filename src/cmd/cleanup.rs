//! `meshtop cleanup`: finds what in-cluster runs left behind (by the label meshtop puts on
//! everything it creates) and deletes it, or with --dry-run lists it.

use color_eyre::eyre::{Result, eyre};

use crate::agents::cleanup;
use crate::cli::CleanupArgs;
use crate::exit::bad_input;
use crate::model::access::{PlannedWrite, Writes};

pub async fn run(args: &CleanupArgs) -> Result<()> {
    if let Some(ns) = &args.namespace
        && !crate::input::is_namespace_name(ns)
    {
        return Err(bad_input(format!("-n {ns:?} is not a namespace name")));
    }
    let conn = crate::source::kube::connect(&args.kube.target()).await?;
    let found = cleanup::find(&conn.client, args.namespace.as_deref(), &cleanup::managed_selector()).await?;
    if found.is_empty() {
        eprintln!(
            "meshtop: nothing labelled {} {}",
            cleanup::managed_selector(),
            args.namespace
                .as_deref()
                .map_or("in any namespace".to_string(), |n| format!("in namespace {n}"))
        );
        return Ok(());
    }
    if args.dry_run {
        for o in &found {
            println!("{o}");
        }
        return Ok(());
    }
    let planned: Vec<PlannedWrite> = found
        .iter()
        .map(|o| PlannedWrite {
            verb: "delete",
            kind: o.kind.to_string(),
            name: o.name.clone(),
            namespace: Some(o.namespace.clone()),
        })
        .collect();
    let file_config = crate::config::Config::load(None)?;
    Writes::new(args.common.allow_writes, file_config.allow_writes)
        .permit("cleanup", &planned)
        .map_err(bad_input)?;
    let failures = cleanup::delete(&conn.client, &found).await;
    for o in found
        .iter()
        .filter(|o| !failures.iter().any(|f| f.starts_with(&format!("deleting {o}:"))))
    {
        println!("deleted {o}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(eyre!("{}", failures.join("\n")))
    }
}

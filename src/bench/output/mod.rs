//! Reports of a finished run. meshtop's own result (JSON, the saved file) is rendered
//! here; the load generator's formats (text, SMP, fortio, CSV) by its crate
//! ([`loadgen::report`]), from the result converted back at the edge, with what meshtop
//! knows beyond the run (cluster, mesh, agents, objectives) as their context.

pub mod json;

use color_eyre::eyre::Result;
use loadgen::report::{self, Context};

use super::slo::Verdict;
use crate::model::bench::{AgentsInfo, BenchResult};

pub use loadgen::report::{go_duration, rfc3339, smp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable summary.
    Text,
    /// meshtop's own result (what is saved in the results directory).
    Json,
    /// Service Mesh Performance PerformanceTestResult.
    Smp,
    /// fortio-compatible result JSON (as Meshery stores it).
    Fortio,
    /// Per-second time series.
    Csv,
}

pub fn render(format: Format, result: &BenchResult, verdicts: &[Verdict]) -> Result<String> {
    let run = || -> loadgen::BenchResult { result.clone().into() };
    let ctx = || context(result, verdicts);
    Ok(match format {
        Format::Json => json::render(result)?,
        Format::Text => report::text::render(&run(), &ctx()),
        Format::Smp => report::smp::render(&run(), &ctx())?,
        Format::Fortio => report::fortio::render(&run(), &ctx())?,
        Format::Csv => report::csv::render(&run()),
    })
}

/// What meshtop's result holds beyond the run: the version that made it, the cluster,
/// the mesh, how agents sent it, the objectives checked.
pub fn context(r: &BenchResult, verdicts: &[Verdict]) -> Context {
    Context {
        version: r.meshtop_version.clone(),
        environment: r.environment.as_ref().map(|e| report::Environment {
            kubernetes_version: e.kubernetes_version.clone(),
            nodes: e
                .nodes
                .iter()
                .map(|n| report::Node {
                    name: n.name.clone(),
                    cores: n.cores,
                    mem_mb: n.mem_mb,
                })
                .collect(),
        }),
        mesh: r.mesh.as_ref().map(|m| report::Mesh {
            name: m.name.clone(),
            version: m.version.clone(),
        }),
        notes: r.agents.as_ref().map(agent_notes).unwrap_or_default(),
        verdicts: verdicts.to_vec(),
    }
}

/// The text report's lines on a run sent from agent pods.
fn agent_notes(a: &AgentsInfo) -> Vec<String> {
    let mut o = vec![format!(
        "  sent by {} in-cluster agent{} (Job {}/{}){}",
        a.count,
        if a.count == 1 { "" } else { "s" },
        a.namespace,
        a.job,
        if a.missing.is_empty() {
            String::new()
        } else {
            format!(", {} missing from the figures:", a.missing.len())
        }
    )];
    for m in &a.missing {
        o.push(format!("    agent {} ({}): {}", m.index, m.share, m.why));
    }
    for l in &a.late {
        o.push(format!("    late start: {l}"));
    }
    if a.stream_reconnects > 0 {
        o.push(format!(
            "    agent streams resumed {} time{} (no frame lost or repeated)",
            a.stream_reconnects,
            if a.stream_reconnects == 1 { "" } else { "s" }
        ));
    }
    o
}

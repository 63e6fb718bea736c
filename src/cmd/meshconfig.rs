//! `meshtop meshconfig`: the meshes' configuration objects in the cluster (Istio, Linkerd,
//! Gateway API, Kuma, Consul), each in plain words, with the workloads it affects and what is
//! wrong in it, the field at fault named. Not `config`, which is meshtop's own settings.

use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use crate::mesh::meshconfig::{Explained, ISTIO_ROOT, Inventory, explain};
use crate::source::{self, kube::KubeTarget};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The `-o json` shape.
#[derive(Debug, Serialize)]
pub struct Output {
    pub objects: Vec<Explained>,
    /// What could not be read (a kind or namespace the user may not list), with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

pub async fn run(target: KubeTarget, format: Format) -> Result<()> {
    let conn = source::kube::connect(&target).await?;
    let snap = source::meshconfig::read(&conn.client, &target.namespaces)
        .await
        .wrap_err_with(|| format!("reading the mesh configuration from {}", conn.info.cluster))?;
    let objects = explain(&Inventory {
        pods: &snap.pods,
        services: &snap.services,
        objects: &snap.objects,
        istio_root: ISTIO_ROOT,
        read: (!target.namespaces.is_empty()).then_some(target.namespaces.as_slice()),
        pods_read: snap.pods_read,
        services_read: snap.services_read,
    });
    let out = Output {
        objects,
        errors: snap.errors,
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        Format::Table => {
            print!("{}", table(&out.objects));
            for e in &out.errors {
                eprintln!("meshtop: warning: {e}");
            }
        }
    }
    Ok(())
}

/// One row per object (kind, mesh, namespace, name, summary) and a line under it per warning.
pub fn table(objects: &[Explained]) -> String {
    if objects.is_empty() {
        return "no mesh configuration objects found\n".into();
    }
    let width = |f: fn(&Explained) -> &str, head: &str| {
        objects
            .iter()
            .map(|o| f(o).chars().count())
            .max()
            .unwrap_or(0)
            .max(head.len())
    };
    let (wk, wg, wn, wm) = (
        width(|o| &o.kind, "KIND"),
        width(|o| &o.mesh, "MESH"),
        width(|o| &o.namespace, "NAMESPACE"),
        width(|o| &o.name, "NAME"),
    );
    let mut out = format!(
        "{:wk$}  {:wg$}  {:wn$}  {:wm$}  SUMMARY\n",
        "KIND", "MESH", "NAMESPACE", "NAME"
    );
    let mut warnings = 0;
    for o in objects {
        out += &format!(
            "{:wk$}  {:wg$}  {:wn$}  {:wm$}  {}\n",
            o.kind, o.mesh, o.namespace, o.name, o.summary
        );
        for w in &o.warnings {
            out += &format!("{:indent$}! {}: {}\n", "", w.field, w.message, indent = wk + 2);
            warnings += 1;
        }
    }
    out += &format!(
        "\n{} {}, {} {}\n",
        objects.len(),
        if objects.len() == 1 { "object" } else { "objects" },
        warnings,
        if warnings == 1 { "warning" } else { "warnings" }
    );
    out
}

#[cfg(test)]
mod tests {
    use crate::mesh::meshconfig::{Explained, Warning};

    #[test]
    fn the_table_puts_each_warning_under_its_object() {
        let e = |kind: &str, name: &str, summary: &str, warnings: Vec<Warning>| Explained {
            kind: kind.into(),
            namespace: "shop".into(),
            name: name.into(),
            mesh: "istio".into(),
            summary: summary.into(),
            affects: Vec::new(),
            warnings,
        };
        let objects = vec![
            e("VirtualService", "reviews", "reviews: to subset v1", Vec::new()),
            e(
                "DestinationRule",
                "reviews",
                "reviews: subsets v1 (version=v1)",
                vec![Warning {
                    field: "spec.subsets[0].labels".into(),
                    message: "subset v1 (version=v1) selects no pod of reviews".into(),
                }],
            ),
        ];
        // Warnings start past the kind column ("DestinationRule" and two spaces).
        let under = " ".repeat(17);
        assert_eq!(
            super::table(&objects),
            format!(
                "KIND             MESH   NAMESPACE  NAME     SUMMARY\n\
                 VirtualService   istio  shop       reviews  reviews: to subset v1\n\
                 DestinationRule  istio  shop       reviews  reviews: subsets v1 (version=v1)\n\
                 {under}! spec.subsets[0].labels: subset v1 (version=v1) selects no pod of reviews\n\
                 \n\
                 2 objects, 1 warning\n"
            )
        );
        assert_eq!(super::table(&[]), "no mesh configuration objects found\n");
    }
}

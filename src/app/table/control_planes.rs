//! The control planes view: mesh, namespace, revision, version, components, health.

use std::borrow::Cow;

use super::{Column, SortKey, Table, Tone, common};
use crate::app::state::{State, View};
use crate::mesh::detect::ControlPlane;

pub struct ControlPlanes;

impl common::Created for ControlPlane {
    fn created(&self) -> Option<crate::model::UnixMillis> {
        self.created
    }
}

static COLUMNS: &[Column<ControlPlane>] = &[
    Column {
        // The rows come in the meshes' order (as the rules list them); sort the same way.
        sort: Some(|c| SortKey::Int(c.mesh as u128)),
        filter: Some((&["mesh"], |c| Cow::Borrowed(c.mesh.as_str()))),
        search: true,
        ..Column::new("MESH", |_, c| c.mesh.as_str().to_string())
    },
    Column {
        sort: Some(|c| SortKey::Text(&c.namespace)),
        filter: Some((&["namespace", "ns"], |c| Cow::Borrowed(&c.namespace))),
        search: true,
        ..Column::new("NAMESPACE", |_, c| c.namespace.clone())
    },
    Column {
        sort: Some(|c| SortKey::Text(c.revision.as_deref().unwrap_or(""))),
        filter: Some((&["revision", "rev"], |c| {
            Cow::Borrowed(c.revision.as_deref().unwrap_or(""))
        })),
        ..Column::new("REVISION", |_, c| {
            c.revision.clone().unwrap_or_else(|| "default".into())
        })
    },
    Column {
        sort: Some(|c| SortKey::Text(c.version.as_deref().unwrap_or(""))),
        filter: Some((&["version"], |c| Cow::Borrowed(c.version.as_deref().unwrap_or("")))),
        ..Column::new("VERSION", |_, c| {
            c.version.clone().unwrap_or_else(|| "unknown (no image tag)".into())
        })
    },
    Column {
        sort: Some(|c| SortKey::Int(c.components.len() as u128)),
        ..Column::new("COMPONENTS", |_, c| {
            c.components
                .iter()
                .map(|x| format!("{} {}/{}", x.name, x.ready, x.desired))
                .collect::<Vec<_>>()
                .join("  ")
        })
    },
    Column {
        sort: Some(|c| SortKey::Text(if c.healthy { "healthy" } else { "DEGRADED" })),
        ..Column::new(
            "HEALTH",
            |_, c| if c.healthy { "healthy".into() } else { "DEGRADED".into() },
        )
    },
    common::age(),
];

impl Table for ControlPlanes {
    type Row = ControlPlane;
    /// (mesh, namespace, revision): what tells control planes apart.
    type Key = (crate::mesh::Mesh, String, Option<String>);

    fn columns() -> &'static [Column<ControlPlane>] {
        COLUMNS
    }
    fn all(state: &State) -> Box<dyn Iterator<Item = &ControlPlane> + '_> {
        Box::new(state.control_planes.iter())
    }
    fn key(c: &ControlPlane) -> Self::Key {
        (c.mesh, c.namespace.clone(), c.revision.clone())
    }
    fn get<'a>(state: &'a State, key: &Self::Key) -> Option<&'a ControlPlane> {
        state
            .control_planes
            .iter()
            .find(|c| c.mesh == key.0 && c.namespace == key.1 && c.revision == key.2)
    }
    fn open(c: &ControlPlane) -> Option<(View, String)> {
        Some((View::Pods, format!("ns=={} mesh=={}", c.namespace, c.mesh.as_str())))
    }
    fn tone(_: &State, c: &ControlPlane) -> Option<Tone> {
        (!c.healthy).then_some(Tone::Error)
    }
}

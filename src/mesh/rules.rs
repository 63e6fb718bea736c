//! The detection rules' schema and the embedded rule files.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use color_eyre::eyre::{Result, eyre};
use serde::Deserialize;

use super::Mesh;

const FILES: &[(&str, &str)] = &[
    ("istio", include_str!("rules/istio.toml")),
    ("linkerd", include_str!("rules/linkerd.toml")),
    ("consul", include_str!("rules/consul.toml")),
    ("kuma", include_str!("rules/kuma.toml")),
    ("cilium", include_str!("rules/cilium.toml")),
    ("osm", include_str!("rules/osm.toml")),
    ("traefik", include_str!("rules/traefik.toml")),
    ("nginx", include_str!("rules/nginx.toml")),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshRules {
    pub mesh: Mesh,
    pub name: String,
    /// Where the control plane usually lives; a hint for display, not a requirement.
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub crd_groups: Vec<String>,
    /// APIService group suffixes (e.g. `tap.linkerd.io`).
    #[serde(default)]
    pub api_services: Vec<String>,
    #[serde(default)]
    pub components: Vec<ComponentRule>,
    pub sidecar: Option<SidecarRule>,
    #[serde(default)]
    pub gateways: Vec<GatewayRule>,
    pub ambient: Option<AmbientRule>,
    #[serde(default)]
    pub injection: Vec<InjectionRule>,
    #[serde(default)]
    pub opt_out: Vec<OptOutRule>,
    /// How the mesh's proxies name their request metrics; None when meshtop reads none.
    pub dialect: Option<crate::model::Dialect>,
    /// Label and annotation prefixes that configure the mesh (shown in pod detail).
    #[serde(default)]
    pub key_prefixes: Vec<String>,
    /// Namespaces where the mesh installs its Prometheus, most specific first.
    #[serde(default)]
    pub prometheus_namespaces: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Control,
    Addon,
    NodeProxy,
    Gateway,
}

/// A control-plane (or per-node, or gateway) workload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentRule {
    /// Workload names; `*` is a wildcard (`istiod-*`, `*-consul-server`, `*`).
    pub names: Vec<String>,
    /// Workload kinds allowed (Deployment, DaemonSet, StatefulSet); empty means any.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Labels the workload's pods must carry; value `*` means any value.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Container images (globs, `*/ztunnel:*`) that identify the component by themselves,
    /// whatever its owner looks like: a bare pod, or one whose DaemonSet a restricted role
    /// cannot see.
    #[serde(default)]
    pub images: Vec<String>,
    /// Container port names that identify the component by themselves (ztunnel's chart
    /// names its metrics port `ztunnel-stats`).
    #[serde(default)]
    pub port_names: Vec<String>,
    pub role: Role,
    /// Label (or annotation) holding the revision, e.g. `istio.io/rev`.
    pub revision_key: Option<String>,
    pub metrics_port: Option<u16>,
    pub metrics_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarRule {
    pub containers: Vec<String>,
    #[serde(default)]
    pub init_containers: Vec<String>,
    /// Annotations an injected pod carries (evidence, shown in pod detail).
    #[serde(default)]
    pub annotations: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub version_annotation: Option<String>,
    pub revision_key: Option<String>,
    pub metrics_port: Option<u16>,
    pub metrics_path: Option<String>,
    /// The container name alone is too generic (OSM's `envoy`): also require one of the
    /// init containers, labels or annotations.
    #[serde(default)]
    pub corroborate: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRule {
    pub label: String,
    /// `*` means any value.
    pub value: String,
    pub container: String,
    pub component: String,
    pub metrics_port: Option<u16>,
    pub metrics_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmbientRule {
    pub pod_annotation: String,
    pub pod_annotation_value: String,
    pub namespace_label: String,
    pub namespace_label_value: String,
}

/// A namespace label or annotation that turns injection on (or explicitly off).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionRule {
    pub label: Option<String>,
    pub annotation: Option<String>,
    /// Values meaning "inject"; `*` means any value (e.g. `istio.io/rev=<revision>`).
    pub enabled: Vec<String>,
    #[serde(default)]
    pub disabled: Vec<String>,
}

/// A pod label or annotation that opts a pod out of injection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutRule {
    pub label: Option<String>,
    pub annotation: Option<String>,
    pub values: Vec<String>,
}

/// Glob with `*` wildcards only.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || !s[first.len()..].ends_with(last) || s.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

pub fn parse_all() -> Result<Vec<MeshRules>> {
    FILES
        .iter()
        .map(|(name, text)| {
            let r: MeshRules = toml::from_str(text).map_err(|e| eyre!("mesh rules {name}.toml: {e}"))?;
            if r.mesh.as_str() != *name {
                return Err(eyre!("mesh rules {name}.toml declares mesh {:?}", r.mesh.as_str()));
            }
            Ok(r)
        })
        .collect()
}

/// All meshes' rules, parsed once.
pub fn all() -> &'static [MeshRules] {
    static RULES: OnceLock<Vec<MeshRules>> = OnceLock::new();
    RULES.get_or_init(|| parse_all().expect("embedded mesh rules parse (checked by a unit test)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rules_file_parses() {
        let r = parse_all().unwrap();
        assert_eq!(r.len(), 8);
    }

    #[test]
    fn globs() {
        assert!(glob("istiod-*", "istiod-canary"));
        assert!(!glob("istiod-*", "istiod"));
        assert!(glob("*-consul-server", "hc-consul-server"));
        assert!(glob("istio-*gateway*", "istio-ingressgateway"));
        assert!(glob("*", "anything"));
        assert!(!glob("istiod", "istiod-x"));
    }
}

//! What meshtop reads from the Kubernetes API, and for which feature: the one list that
//! `deploy/rbac-readonly.yaml` grants (a test holds them equal) and `meshtop doctor` checks.
//! Every verb here reads; meshtop sends no mutating request without `--allow-writes`.

use serde::Serialize;

/// Whether meshtop may create, change or delete Kubernetes objects: never unless
/// `--allow-writes` (or `allow_writes = true` in the config file) says so, and then each
/// write is still named, with its namespace, before it is sent (the TUI asks the user to
/// confirm; a command prints the list).
/// Load sent from this machine to a URL the user typed (`bench`, `sweep`) writes no
/// object and needs neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Writes {
    #[default]
    ReadOnly,
    Allowed,
}

impl Writes {
    /// From the flag and the config file: either one allows.
    pub fn new(flag: bool, config: bool) -> Writes {
        if flag || config {
            Writes::Allowed
        } else {
            Writes::ReadOnly
        }
    }

    /// Whether `feature` may go on to ask the user to confirm `plan`; when it may not, the
    /// refusal names every object it would have written and the flag that allows it.
    pub fn permit(self, feature: &str, plan: &[PlannedWrite]) -> Result<(), String> {
        match self {
            Writes::Allowed => Ok(()),
            Writes::ReadOnly => {
                let what: Vec<String> = plan.iter().map(ToString::to_string).collect();
                Err(format!(
                    "{feature} would {}; meshtop is read-only unless started with --allow-writes \
                     (or allow_writes = true in the config file)",
                    what.join(", ")
                ))
            }
        }
    }
}

/// One object a feature would create, change or delete: what a refusal and the
/// confirmation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWrite {
    /// `create`, `patch`, `delete`...
    pub verb: &'static str,
    pub kind: String,
    pub name: String,
    /// None for cluster-scoped objects.
    pub namespace: Option<String>,
}

impl std::fmt::Display for PlannedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.verb, self.kind, self.name)?;
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None => f.write_str(" (cluster-wide)"),
        }
    }
}

/// Where a need applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Cluster-scoped resources (namespaces, nodes, CRDs), or a non-resource URL.
    Cluster,
    /// Namespaced resources: read across the cluster, or in each namespace meshtop may read
    /// (a namespaced Role grants them there).
    Namespaced,
}

/// One thing meshtop reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Need {
    /// What stays empty without it.
    pub feature: &'static str,
    /// API group ("" is the core group).
    pub group: &'static str,
    /// Resource, with its subresource after a `/` (`pods/proxy`); or a non-resource URL
    /// starting with `/`.
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub scope: Scope,
}

impl Need {
    pub fn is_url(&self) -> bool {
        self.resource.starts_with('/')
    }

    /// The resource and subresource apart.
    pub fn resource_parts(&self) -> (&'static str, Option<&'static str>) {
        match self.resource.split_once('/') {
            Some((r, s)) if !r.is_empty() => (r, Some(s)),
            _ => (self.resource, None),
        }
    }

    /// `list,watch pods`, `get pods/proxy`, `list metrics.k8s.io/pods`, `get /version`.
    pub fn request(&self) -> String {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!("{}/", self.group)
        };
        format!("{} {group}{}", self.verbs.join(","), self.resource)
    }

    /// The RBAC rule that grants this need, in the YAML flow style of the shipped role.
    pub fn rule(&self, verbs: &[&str]) -> String {
        let verbs = verbs.join(", ");
        if self.is_url() {
            format!("{{nonResourceURLs: [\"{}\"], verbs: [{verbs}]}}", self.resource)
        } else {
            format!(
                "{{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [{verbs}]}}",
                self.group, self.resource
            )
        }
    }
}

const LIST_WATCH: &[&str] = &["list", "watch"];

/// Everything meshtop reads, in the order `doctor` prints it. Never Secrets.
pub const NEEDS: &[Need] = &[
    Need {
        feature: "server version (status line, discover)",
        group: "",
        resource: "/version",
        verbs: &["get"],
        scope: Scope::Cluster,
    },
    Need {
        feature: "namespaces view; watching each namespace when pods cannot be listed cluster-wide",
        group: "",
        resource: "namespaces",
        verbs: LIST_WATCH,
        scope: Scope::Cluster,
    },
    Need {
        feature: "pods view, mesh detection, the scraper's targets",
        group: "",
        resource: "pods",
        verbs: &["get", "list", "watch"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "workloads and control planes",
        group: "apps",
        resource: "deployments",
        verbs: &["get", "list", "watch"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "workloads and control planes (node proxies: ztunnel, Cilium, Traefik)",
        group: "apps",
        resource: "daemonsets",
        verbs: &["get", "list", "watch"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "workloads and control planes",
        group: "apps",
        resource: "statefulsets",
        verbs: &["get", "list", "watch"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "mesh control planes' services; finding Prometheus",
        group: "",
        resource: "services",
        verbs: LIST_WATCH,
        scope: Scope::Namespaced,
    },
    Need {
        feature: "golden signals: scraping each proxy through the API server",
        group: "",
        resource: "pods/proxy",
        verbs: &["get"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "golden signals from Prometheus through the API server (--prometheus-url auto)",
        group: "",
        resource: "services/proxy",
        verbs: &["get"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "CPU and memory, app and proxy apart (metrics-server)",
        group: "metrics.k8s.io",
        resource: "pods",
        verbs: &["list"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "tap from Envoy access logs (Istio, Consul, Kuma, ...)",
        group: "",
        resource: "pods/log",
        verbs: &["get"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "tap through Linkerd's tap API",
        group: "tap.linkerd.io",
        resource: "*",
        verbs: &["watch"],
        scope: Scope::Namespaced,
    },
    Need {
        feature: "mesh detection by the meshes' CRDs",
        group: "apiextensions.k8s.io",
        resource: "customresourcedefinitions",
        verbs: LIST_WATCH,
        scope: Scope::Cluster,
    },
    Need {
        feature: "mesh detection by APIServices (Linkerd tap, metrics-server)",
        group: "apiregistration.k8s.io",
        resource: "apiservices",
        verbs: LIST_WATCH,
        scope: Scope::Cluster,
    },
    Need {
        feature: "sweep results: the nodes' capacity beside the figures",
        group: "",
        resource: "nodes",
        verbs: &["list"],
        scope: Scope::Cluster,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_refused_unless_allowed_and_the_refusal_names_them() {
        assert_eq!(Writes::new(false, false), Writes::ReadOnly);
        assert_eq!(Writes::new(true, false), Writes::Allowed);
        assert_eq!(Writes::new(false, true), Writes::Allowed);
        let plan = [
            PlannedWrite {
                verb: "create",
                kind: "Job".into(),
                name: "meshtop-load".into(),
                namespace: Some("shop".into()),
            },
            PlannedWrite {
                verb: "create",
                kind: "ClusterRole".into(),
                name: "meshtop-agent".into(),
                namespace: None,
            },
        ];
        assert_eq!(Writes::Allowed.permit("in-cluster load", &plan), Ok(()));
        assert_eq!(
            Writes::ReadOnly.permit("in-cluster load", &plan).unwrap_err(),
            "in-cluster load would create Job meshtop-load in namespace shop, create ClusterRole \
             meshtop-agent (cluster-wide); meshtop is read-only unless started with --allow-writes \
             (or allow_writes = true in the config file)"
        );
    }

    #[test]
    fn requests_and_rules_read_as_kubectl_and_rbac_write_them() {
        let scrape = NEEDS.iter().find(|n| n.resource == "pods/proxy").unwrap();
        assert_eq!(scrape.request(), "get pods/proxy");
        assert_eq!(scrape.resource_parts(), ("pods", Some("proxy")));
        assert_eq!(
            scrape.rule(&["get"]),
            "{apiGroups: [\"\"], resources: [\"pods/proxy\"], verbs: [get]}"
        );
        let usage = NEEDS.iter().find(|n| n.group == "metrics.k8s.io").unwrap();
        assert_eq!(usage.request(), "list metrics.k8s.io/pods");
        let version = &NEEDS[0];
        assert!(version.is_url());
        assert_eq!(version.resource_parts(), ("/version", None));
        assert_eq!(
            version.rule(&["get"]),
            "{nonResourceURLs: [\"/version\"], verbs: [get]}"
        );
    }

    /// The shipped role grants exactly the needs: the ClusterRole all of them, the Role the
    /// namespaced ones; each rule under its need's feature as a comment; no rule more.
    #[test]
    fn the_shipped_role_grants_exactly_the_needs() {
        use serde::Deserialize;
        const YAML: &str = include_str!("../../deploy/rbac-readonly.yaml");
        let mut roles = std::collections::BTreeMap::new();
        for doc in serde_yaml::Deserializer::from_str(YAML) {
            let v = serde_yaml::Value::deserialize(doc).unwrap();
            let kind = v["kind"].as_str().unwrap().to_string();
            if kind != "ClusterRole" && kind != "Role" {
                continue;
            }
            let mut rules: Vec<String> = Vec::new();
            for r in v["rules"].as_sequence().unwrap() {
                let list = |k: &str| {
                    r[k].as_sequence()
                        .map(|s| s.iter().map(|x| x.as_str().unwrap().to_string()).collect::<Vec<_>>())
                };
                let verbs = list("verbs").unwrap();
                match list("nonResourceURLs") {
                    Some(urls) => rules.extend(urls.iter().map(|u| format!("{u} {}", verbs.join(",")))),
                    None => {
                        let groups = list("apiGroups").unwrap();
                        let resources = list("resources").unwrap();
                        assert_eq!(
                            (groups.len(), resources.len()),
                            (1, 1),
                            "one group and resource a rule: {r:?}"
                        );
                        rules.push(format!("{}|{} {}", groups[0], resources[0], verbs.join(",")));
                    }
                }
            }
            assert!(roles.insert(kind, rules).is_none(), "one ClusterRole and one Role");
        }
        let expected = |namespaced_only: bool| -> Vec<String> {
            NEEDS
                .iter()
                .filter(|n| !namespaced_only || n.scope == Scope::Namespaced)
                .map(|n| match n.is_url() {
                    true => format!("{} {}", n.resource, n.verbs.join(",")),
                    false => format!("{}|{} {}", n.group, n.resource, n.verbs.join(",")),
                })
                .collect()
        };
        assert_eq!(roles["ClusterRole"], expected(false));
        assert_eq!(roles["Role"], expected(true));
        for n in NEEDS {
            let rule = format!("- {}", n.rule(n.verbs));
            let at = YAML.find(&rule).unwrap_or_else(|| panic!("no rule {rule}"));
            let comment = YAML[..at].trim_end().lines().last().unwrap();
            assert!(
                comment.starts_with(&format!("# {}", n.feature)),
                "{rule} under {comment:?}"
            );
        }
    }

    /// Reading only: no need names a verb that changes anything, and none reads Secrets.
    #[test]
    fn every_need_only_reads_and_none_is_a_secret() {
        for n in NEEDS {
            for v in n.verbs {
                assert!(["get", "list", "watch"].contains(v), "{n:?}");
            }
            assert!(!n.resource.contains("secret"), "{n:?}");
        }
    }
}

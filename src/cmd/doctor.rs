//! `meshtop doctor`: asks the API server, for each thing meshtop reads
//! ([`crate::model::access::NEEDS`]), whether the current user may (a SelfSubjectAccessReview
//! per verb), and prints what works, what does not and the rule that would fix it: why a
//! column will be empty, before the TUI opens. The reviews create nothing that lasts.

use color_eyre::eyre::{Result, WrapErr};
use futures::StreamExt;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use serde::Serialize;

use crate::model::access::{NEEDS, Need, Scope};
use crate::source::kube::KubeTarget;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The answer for one need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub feature: &'static str,
    pub request: String,
    /// `cluster`, `all namespaces` or `namespace NS`.
    pub scope: String,
    pub allowed: bool,
    /// The verbs denied (all of them when the need is not allowed at all).
    pub denied: Vec<&'static str>,
    /// The authorizer's reason, or the error that kept the review from answering.
    pub reason: String,
    /// The rule that would grant what is denied, as in `deploy/rbac-readonly.yaml`.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Doctor {
    pub context: String,
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub checks: Vec<Check>,
}

/// One verb's answer: allowed, and the reason given (or why no answer came).
struct Answer {
    allowed: bool,
    reason: String,
}

pub async fn run(target: KubeTarget, output: Format) -> Result<()> {
    let conn = crate::source::kube::connect(&target).await?;
    let client = conn.client;
    // Namespaced needs are asked in each listed namespace (or across the cluster).
    let scopes: Vec<Option<String>> = match target.namespaces.len() {
        0 => vec![None],
        _ => target.namespaces.iter().cloned().map(Some).collect(),
    };
    let rows: Vec<(usize, Option<String>)> = NEEDS
        .iter()
        .enumerate()
        .flat_map(|(i, n)| match n.scope {
            Scope::Cluster => vec![(i, None)],
            Scope::Namespaced => scopes.iter().map(|s| (i, s.clone())).collect(),
        })
        .collect();
    // Who the API server takes us for (it may not say, on servers before 1.28).
    let (user, groups) = match Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
    {
        Ok(r) => {
            let info = r.status.and_then(|s| s.user_info).unwrap_or_default();
            (info.username, info.groups.unwrap_or_default())
        }
        Err(_) => (None, Vec::new()),
    };
    let reviews = Api::<SelfSubjectAccessReview>::all(client);
    let asks: Vec<(usize, &'static str)> = rows
        .iter()
        .enumerate()
        .flat_map(|(r, (i, _))| NEEDS[*i].verbs.iter().map(move |v| (r, *v)))
        .collect();
    let rows = &rows;
    let answers: Vec<((usize, &'static str), Answer)> = futures::stream::iter(asks)
        .map(|(r, verb)| {
            let reviews = reviews.clone();
            let (i, namespace) = &rows[r];
            async move { ((r, verb), ask(&reviews, &NEEDS[*i], verb, namespace.as_deref()).await) }
        })
        .buffered(8)
        .collect()
        .await;
    let checks = rows
        .iter()
        .enumerate()
        .map(|(r, (i, namespace))| {
            let mine: Vec<(&'static str, &Answer)> = answers
                .iter()
                .filter(|((j, _), _)| *j == r)
                .map(|((_, v), a)| (*v, a))
                .collect();
            check(&NEEDS[*i], namespace.as_deref(), &mine)
        })
        .collect();
    let doctor = Doctor {
        context: conn.info.context.clone(),
        user,
        groups,
        checks,
    };
    let text = match output {
        Format::Table => table(&doctor),
        Format::Json => serde_json::to_string_pretty(&doctor).wrap_err("encoding the checks")? + "\n",
    };
    super::write_report(None, &text)?;
    let denied: Vec<String> = doctor
        .checks
        .iter()
        .filter(|c| !c.denied.is_empty())
        .map(|c| format!("{} ({})", c.request, c.scope))
        .collect();
    if denied.is_empty() {
        Ok(())
    } else {
        Err(crate::exit::ObjectiveMissed(vec![format!("not allowed: {}", denied.join(", "))]).into())
    }
}

/// Asks whether the current user may `verb` the need, in `namespace` or across the cluster.
async fn ask(reviews: &Api<SelfSubjectAccessReview>, need: &Need, verb: &str, namespace: Option<&str>) -> Answer {
    let spec = if need.is_url() {
        SelfSubjectAccessReviewSpec {
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(need.resource.into()),
                verb: Some(verb.into()),
            }),
            ..Default::default()
        }
    } else {
        let (resource, subresource) = need.resource_parts();
        SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(need.group.into()),
                resource: Some(resource.into()),
                subresource: subresource.map(Into::into),
                verb: Some(verb.into()),
                namespace: match need.scope {
                    Scope::Namespaced => namespace.map(Into::into),
                    Scope::Cluster => None,
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let review = SelfSubjectAccessReview {
        spec,
        ..Default::default()
    };
    match reviews.create(&PostParams::default(), &review).await {
        Ok(r) => {
            let s = r.status.unwrap_or_default();
            let reason = s
                .evaluation_error
                .filter(|e| !e.is_empty())
                .or(s.reason.filter(|r| !r.is_empty()))
                .unwrap_or_default();
            Answer {
                allowed: s.allowed,
                reason,
            }
        }
        Err(e) => Answer {
            allowed: false,
            reason: format!(
                "the access review failed: {}",
                crate::source::errors::kube_error(crate::model::Resource::Cluster, &e).1
            ),
        },
    }
}

/// One need's row from its verbs' answers.
fn check(need: &Need, namespace: Option<&str>, answers: &[(&'static str, &Answer)]) -> Check {
    let denied: Vec<&'static str> = answers.iter().filter(|(_, a)| !a.allowed).map(|(v, _)| *v).collect();
    // A denial's own reason when the authorizer gives one (RBAC mostly does not); for a
    // grant, RBAC names the binding that allows it.
    let wanted = |allowed: bool| {
        answers
            .iter()
            .find(|(_, a)| a.allowed == allowed && !a.reason.is_empty())
            .map(|(_, a)| a.reason.clone())
    };
    let reason = if denied.is_empty() {
        wanted(true).unwrap_or_default()
    } else {
        wanted(false).unwrap_or_else(|| format!("no rule allows {}", denied.join(", ")))
    };
    let scope = match (need.scope, namespace) {
        (Scope::Cluster, _) => "cluster".to_string(),
        (Scope::Namespaced, Some(ns)) => format!("namespace {ns}"),
        (Scope::Namespaced, None) => "all namespaces".to_string(),
    };
    Check {
        feature: need.feature,
        request: need.request(),
        scope,
        allowed: denied.is_empty(),
        fix: (!denied.is_empty()).then(|| {
            let kind = match (need.scope, namespace) {
                (Scope::Namespaced, Some(_)) => "Role",
                _ => "ClusterRole",
            };
            format!("{kind} rule {}", need.rule(&denied))
        }),
        denied,
        reason,
    }
}

/// The checks as a table: what works, what does not and why, and the rules that would fix it.
pub fn table(d: &Doctor) -> String {
    let mut out = format!(
        "CONTEXT {}  USER {}{}\n\n",
        d.context,
        d.user.as_deref().unwrap_or("(the API server did not say)"),
        if d.groups.is_empty() {
            String::new()
        } else {
            format!("  GROUPS {}", d.groups.join(", "))
        }
    );
    let mut rows = vec![["OK", "REQUEST", "SCOPE", "FEATURE"].map(String::from).to_vec()];
    for c in &d.checks {
        let ok = match (c.allowed, c.denied.len()) {
            (true, _) => "yes".to_string(),
            (false, n) if n < c.request.split(' ').next().map_or(0, |v| v.split(',').count()) => {
                format!("no: {}", c.denied.join(","))
            }
            (false, _) => "no".to_string(),
        };
        rows.push(vec![ok, c.request.clone(), c.scope.clone(), c.feature.to_string()]);
    }
    out += &crate::text::align(&rows);
    let missing: Vec<&Check> = d.checks.iter().filter(|c| !c.allowed).collect();
    if missing.is_empty() {
        out += "\nEverything meshtop reads is allowed.\n";
    } else {
        out += &format!(
            "\n{} of {} not allowed. Why, and the rule that would fix each (deploy/rbac-readonly.yaml has them all):\n",
            missing.len(),
            d.checks.len()
        );
        for c in missing {
            out += &format!("- {} ({}): {}\n", c.request, c.scope, c.reason);
            if let Some(fix) = &c.fix {
                out += &format!("  {fix}\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(resource: &'static str) -> &'static Need {
        NEEDS.iter().find(|n| n.resource == resource).unwrap()
    }

    #[test]
    fn a_partly_denied_need_names_the_verbs_and_the_rule() {
        let yes = Answer {
            allowed: true,
            reason: "RBAC: allowed by RoleBinding \"r/ns\"".into(),
        };
        let no = Answer {
            allowed: false,
            reason: String::new(),
        };
        let c = check(
            need("pods"),
            Some("shop"),
            &[("get", &yes), ("list", &no), ("watch", &no)],
        );
        assert_eq!(c.scope, "namespace shop");
        assert_eq!(c.denied, ["list", "watch"]);
        assert_eq!(c.reason, "no rule allows list, watch");
        assert_eq!(
            c.fix.as_deref(),
            Some("Role rule {apiGroups: [\"\"], resources: [\"pods\"], verbs: [list, watch]}")
        );
        let c = check(need("namespaces"), Some("shop"), &[("list", &no), ("watch", &no)]);
        assert_eq!(c.scope, "cluster");
        assert_eq!(c.reason, "no rule allows list, watch");
        assert_eq!(
            c.fix.as_deref(),
            Some("ClusterRole rule {apiGroups: [\"\"], resources: [\"namespaces\"], verbs: [list, watch]}")
        );
        let c = check(need("pods/proxy"), None, &[("get", &yes)]);
        assert!(c.allowed && c.fix.is_none() && c.denied.is_empty());
        assert_eq!(c.reason, "RBAC: allowed by RoleBinding \"r/ns\"");
        assert_eq!(c.scope, "all namespaces");
        let d = Doctor {
            context: "ctx".into(),
            user: Some("viewer".into()),
            groups: vec!["system:authenticated".into()],
            checks: vec![
                check(
                    need("pods"),
                    Some("shop"),
                    &[("get", &yes), ("list", &no), ("watch", &no)],
                ),
                check(need("pods/proxy"), Some("shop"), &[("get", &yes)]),
            ],
        };
        assert_eq!(
            table(&d),
            "CONTEXT ctx  USER viewer  GROUPS system:authenticated\n\n\
             OK              REQUEST              SCOPE           FEATURE\n\
             no: list,watch  get,list,watch pods  namespace shop  pods view, mesh detection, the scraper's targets\n\
             yes             get pods/proxy       namespace shop  golden signals: scraping each proxy through the API server\n\
             \n1 of 2 not allowed. Why, and the rule that would fix each (deploy/rbac-readonly.yaml has them all):\n\
             - get,list,watch pods (namespace shop): no rule allows list, watch\n  \
             Role rule {apiGroups: [\"\"], resources: [\"pods\"], verbs: [list, watch]}\n"
        );
    }
}

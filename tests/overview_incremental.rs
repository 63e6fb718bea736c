//! The meshes overview is summed from per-namespace parts that are recomputed only for the
//! namespaces a batch touched. Whatever path the world took, the overview must be the one
//! of the world as it now is: pods deleted and re-created, namespaces relabelled, deleted
//! and restored, a usage list arriving before or after the pods, one update per batch or
//! all in one.

mod support;

use meshtop::app::{Keymap, Stamped, State, Update, fold, fold_all};
use meshtop::mesh::Mesh;
use support::scenario::updates;

fn folded_one_by_one(updates: &[Stamped]) -> State {
    let mut s = State::new(Keymap::default());
    for u in updates {
        fold(&mut s, u.clone());
    }
    s
}

/// Each pod deleted and created again, each namespace relabelled to nothing, deleted and
/// restored, all after the scenario, one update per batch and then all in one batch.
fn churned(updates: &[Stamped]) -> Vec<Stamped> {
    let mut out = updates.to_vec();
    let at = updates.last().map_or(0, |u| u.at);
    let stamp = |update: Update| Stamped { at, update };
    for u in updates {
        match &u.update {
            Update::PodApplied { pod } => {
                out.push(stamp(Update::PodDeleted {
                    namespace: pod.namespace.clone(),
                    name: pod.name.clone(),
                }));
                out.push(u.clone());
            }
            Update::NamespaceApplied { namespace } => {
                let mut bare = namespace.clone();
                bare.labels.clear();
                bare.annotations.clear();
                out.push(stamp(Update::NamespaceApplied { namespace: bare }));
                out.push(stamp(Update::NamespaceDeleted {
                    name: namespace.name.clone(),
                }));
                out.push(u.clone());
            }
            _ => {}
        }
    }
    out
}

#[test]
fn overview_does_not_depend_on_the_path() {
    let scenario = updates();
    let plain = folded_one_by_one(&scenario);
    let o = &plain.overview;
    // The scenario's meshes are there, with pods and costs, so the comparison means something.
    let istio = o
        .meshes
        .iter()
        .find(|m| m.mesh == Mesh::Istio)
        .expect("istio in the overview");
    assert!(
        o.meshed_pods > 0 && istio.injected_pods > 0 && istio.cost.sampled > 0,
        "{o:#?}"
    );

    let churn = churned(&scenario);
    assert!(churn.len() > scenario.len() + 10);
    assert_eq!(&folded_one_by_one(&churn).overview, o);
    let mut batched = State::new(Keymap::default());
    fold_all(&mut batched, churn);
    assert_eq!(&batched.overview, o);
}

#[test]
fn overview_follows_a_namespace_injection_change_and_deleted_pods() {
    let scenario = updates();
    let mut s = folded_one_by_one(&scenario);
    let injected = |s: &State| {
        s.overview
            .meshes
            .iter()
            .find(|m| m.mesh == Mesh::Istio)
            .map_or(0, |m| m.injected_pods)
    };
    let before = injected(&s);
    // bookinfo stops asking for Istio's injection: its pods no longer count as injected.
    let (bookinfo, pods) = scenario
        .iter()
        .find_map(|u| match &u.update {
            Update::NamespaceApplied { namespace } if namespace.name == "bookinfo" => {
                let pods = s.pods.keys().filter(|(ns, _)| ns == "bookinfo").count();
                Some((namespace.clone(), pods))
            }
            _ => None,
        })
        .expect("bookinfo in the scenario");
    assert!(pods > 0);
    let mut bare = bookinfo.clone();
    bare.labels.clear();
    let at = s.now;
    fold(
        &mut s,
        Stamped {
            at,
            update: Update::NamespaceApplied { namespace: bare },
        },
    );
    assert_eq!(injected(&s), before - pods);
    // Its pods gone: the meshed count drops by its meshed pods, exactly.
    let meshed = s
        .pods
        .iter()
        .filter(|((ns, _), p)| ns == "bookinfo" && p.mesh.mesh.is_some())
        .count();
    let names: Vec<String> = s
        .pods
        .keys()
        .filter(|(ns, _)| ns == "bookinfo")
        .map(|k| k.1.clone())
        .collect();
    assert!(meshed > 0);
    let total = s.overview.meshed_pods;
    fold_all(
        &mut s,
        names.into_iter().map(|name| Stamped {
            at,
            update: Update::PodDeleted {
                namespace: "bookinfo".into(),
                name,
            },
        }),
    );
    assert_eq!(s.overview.meshed_pods, total - meshed);
}

/// The world a state holds, folded from scratch in one batch: every namespace and pod
/// counted afresh, which is what the incremental overview must equal.
fn from_scratch(s: &State, scenario: &[Stamped]) -> State {
    let at = s.now;
    let stamp = |update: Update| Stamped { at, update };
    let mut batch: Vec<Stamped> = scenario
        .iter()
        .filter(|u| {
            !matches!(
                u.update,
                Update::NamespaceApplied { .. }
                    | Update::PodApplied { .. }
                    | Update::PodUsage { .. }
                    | Update::ListStarted { .. }
                    | Update::ListDone { .. }
            )
        })
        .cloned()
        .collect();
    batch.extend(s.namespaces.values().map(|n| {
        stamp(Update::NamespaceApplied {
            namespace: n.info.clone(),
        })
    }));
    batch.extend(
        s.pods
            .values()
            .map(|p| stamp(Update::PodApplied { pod: p.info.clone() })),
    );
    batch.push(stamp(Update::PodUsage {
        usages: s.usage.values().cloned().collect(),
        origin: meshtop::model::UsageOrigin::MetricsServer,
    }));
    let mut fresh = State::new(Keymap::default());
    fold_all(&mut fresh, batch);
    fresh
}

mod random_paths {
    use super::*;
    use meshtop::model::{NamespaceInfo, PodInfo, PodUsage};
    use proptest::prelude::*;

    /// Namespaces the pods may land in; the last is never a Namespace object (a user who
    /// may not list namespaces still sees its pods).
    const NAMESPACES: [&str; 4] = ["bookinfo", "emojivoto", "legacy", "unlisted"];

    #[derive(Debug, Clone)]
    enum Op {
        ApplyPod {
            template: usize,
            ns: usize,
        },
        DeletePod {
            template: usize,
            ns: usize,
        },
        /// A namespace applied with its scenario labels, or with none.
        ApplyNamespace {
            ns: usize,
            labelled: bool,
        },
        DeleteNamespace {
            ns: usize,
        },
        /// A usage list for the pods there are, each reading scaled.
        Usage {
            scale: u8,
        },
        /// Fold what is pending as one batch.
        Settle,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..10, 0usize..4).prop_map(|(template, ns)| Op::ApplyPod { template, ns }),
            2 => (0usize..10, 0usize..4).prop_map(|(template, ns)| Op::DeletePod { template, ns }),
            1 => (0usize..3, any::<bool>()).prop_map(|(ns, labelled)| Op::ApplyNamespace { ns, labelled }),
            1 => (0usize..3).prop_map(|ns| Op::DeleteNamespace { ns }),
            1 => (1u8..5).prop_map(|scale| Op::Usage { scale }),
            2 => Just(Op::Settle),
        ]
    }

    fn templates(scenario: &[Stamped]) -> (Vec<PodInfo>, Vec<NamespaceInfo>) {
        let pods = scenario
            .iter()
            .filter_map(|u| match &u.update {
                Update::PodApplied { pod } => Some(pod.clone()),
                _ => None,
            })
            .collect();
        let namespaces = NAMESPACES[..3]
            .iter()
            .map(|name| {
                scenario
                    .iter()
                    .find_map(|u| match &u.update {
                        Update::NamespaceApplied { namespace } if namespace.name == *name => Some(namespace.clone()),
                        _ => None,
                    })
                    .expect("namespace in the scenario")
            })
            .collect();
        (pods, namespaces)
    }

    fn usage(p: &PodInfo, scale: u8) -> PodUsage {
        PodUsage {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            timestamp: None,
            window_s: Some(15.0),
            containers: p
                .containers_info
                .iter()
                .enumerate()
                .map(|(i, c)| meshtop::model::ContainerUsage {
                    name: c.name.clone(),
                    cpu_millicores: f64::from(scale) * (i as f64 + 1.5),
                    memory_bytes: u64::from(scale) << (20 + i),
                })
                .collect(),
        }
    }

    /// Each workload's pods and cost.
    fn costs(s: &State) -> Vec<String> {
        s.workload_rows
            .values()
            .map(|w| format!("{}/{} {} {:?}", w.namespace, w.name, w.pods, w.cost))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// After any sequence of pod, namespace and usage changes, folded one by one or in
        /// batches, the overview equals the one folded from scratch from the same world.
        #[test]
        fn overview_equals_a_fresh_count(ops in proptest::collection::vec(op(), 1..40)) {
            let scenario = updates();
            let (pods, namespaces) = templates(&scenario);
            let mut s = folded_one_by_one(&scenario);
            let at = s.now;
            let mut pending = Vec::new();
            for op in ops {
                let update = match op {
                    Op::ApplyPod { template, ns } => {
                        let mut p = pods[template % pods.len()].clone();
                        p.namespace = NAMESPACES[ns].into();
                        Update::PodApplied { pod: p }
                    }
                    Op::DeletePod { template, ns } => Update::PodDeleted {
                        namespace: NAMESPACES[ns].into(),
                        name: pods[template % pods.len()].name.clone(),
                    },
                    Op::ApplyNamespace { ns, labelled } => {
                        let mut n = namespaces[ns].clone();
                        if !labelled {
                            n.labels.clear();
                            n.annotations.clear();
                        }
                        Update::NamespaceApplied { namespace: n }
                    }
                    Op::DeleteNamespace { ns } => Update::NamespaceDeleted { name: NAMESPACES[ns].into() },
                    Op::Usage { scale } => Update::PodUsage {
                        usages: s.pods.values().map(|p| usage(&p.info, scale)).collect(),
                        origin: meshtop::model::UsageOrigin::MetricsServer,
                    },
                    Op::Settle => {
                        fold_all(&mut s, std::mem::take(&mut pending));
                        let fresh = from_scratch(&s, &scenario);
                        prop_assert_eq!(&s.overview, &fresh.overview);
                        // Workloads' cost too: a usage list re-sums only those whose pods
                        // moved. (Not their traffic: the fresh world replays every scrape,
                        // where a pod deleted here lost its own.)
                        prop_assert_eq!(costs(&s), costs(&fresh));
                        continue;
                    }
                };
                pending.push(Stamped { at, update });
            }
            fold_all(&mut s, pending);
            let fresh = from_scratch(&s, &scenario);
            prop_assert_eq!(&s.overview, &fresh.overview);
            prop_assert_eq!(costs(&s), costs(&fresh));
        }
    }
}

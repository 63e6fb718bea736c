//! Every source under the shipped read-only roles, on the test bed: a user bound only to the
//! ClusterRole sees every resource listed and every pod's usage, with no error; a user
//! bound to the namespaced Role in two namespaces, naming three with `-n`, sees the two
//! filled (pods, workloads, usage from metrics-server) and, for the third and for what is
//! cluster-scoped, the API server's reason, in the state, on the screen and in
//! `discover -o json`. No cluster-wide request is needed for the two.

mod support;

use std::process::Command;
use std::time::Duration;

use meshtop::app::{Keymap, State, fold};
use meshtop::model::{ErrorKind, Resource};
use meshtop::source::kube::KubeTarget;
use support::role::{bind_readers, binding, shipped};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

fn pod(name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
  annotations:
    meshtop.test/usage-cpu-app: 100m
    meshtop.test/usage-memory-app: 32Mi
spec:
  containers:
  - {{name: app, image: app:1}}
"#
    )
}

/// The kube and metrics sources on `target`, folded until `done` or 90 s.
async fn watch(target: KubeTarget, done: impl Fn(&State) -> bool) -> State {
    let (tx, mut rx) = tokio::sync::mpsc::channel(meshtop::source::CHANNEL_CAPACITY);
    let kube = tokio::spawn(meshtop::source::kube::run(target.clone(), tx.clone()));
    let metrics = tokio::spawn(meshtop::source::podmetrics::run(target, Duration::from_secs(1), tx));
    let mut state = State::new(Keymap::default());
    let finished = tokio::time::timeout(Duration::from_secs(90), async {
        while !done(&state) {
            fold(&mut state, rx.recv().await.expect("sources alive"));
        }
    })
    .await;
    kube.abort();
    metrics.abort();
    let errors: Vec<String> = state
        .errors
        .iter()
        .map(|((r, n), e)| format!("{} {n:?}: {}", r.as_str(), e.message))
        .collect();
    assert!(
        finished.is_ok(),
        "not done within 90 s; pods {:?}, errors {errors:?}",
        state.pods.keys().collect::<Vec<_>>()
    );
    state
}

/// The proxy scraper on `target`, every second through the pod proxy API, and its updates.
fn scraper(
    target: KubeTarget,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::mpsc::Receiver<meshtop::app::Stamped>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(meshtop::source::CHANNEL_CAPACITY);
    let settings = meshtop::source::scrape::Settings {
        direct: false,
        interval: Duration::from_secs(1),
        budget: 100,
        window: None,
    };
    (tokio::spawn(meshtop::source::scrape::run(target, settings, tx)), rx)
}

/// A control plane and the other workload kinds, as real objects the bed's controllers run:
/// istiod (a Deployment), ztunnel (a DaemonSet, one pod per kwok node) and a StatefulSet.
const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, labels: {app: istiod}}
spec:
  replicas: 1
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec:
      containers: [{name: discovery, image: docker.io/istio/pilot:1.24.0}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ztunnel}
spec:
  selector: {matchLabels: {app: ztunnel}}
  template:
    metadata: {labels: {app: ztunnel}}
    spec:
      containers: [{name: istio-proxy, image: docker.io/istio/ztunnel:1.24.0}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
"#;

/// The control planes found, as (mesh, namespace, [(component, ready, desired)]).
/// A control plane as (mesh, namespace, [(component, ready, desired)]).
type Plane = (String, String, Vec<(String, u32, u32)>);

fn planes(state: &State) -> Vec<Plane> {
    state
        .control_planes
        .iter()
        .map(|c| {
            (
                c.mesh.as_str().to_string(),
                c.namespace.clone(),
                c.components
                    .iter()
                    .map(|k| (k.name.clone(), k.ready, k.desired))
                    .collect(),
            )
        })
        .collect()
}

/// Whether istiod and every ztunnel pod in `ns` are ready (the DaemonSet's desired count
/// is the bed's node count).
fn plane_ready(state: &State, ns: &str) -> bool {
    state.control_planes.iter().any(|c| {
        c.namespace == ns
            && c.components.len() == 2
            && c.components.iter().all(|k| k.desired > 0 && k.ready == k.desired)
    })
}

fn usage_of(state: &State, ns: &str, pod: &str) -> Option<f64> {
    state
        .pods
        .get(&(ns.to_string(), pod.to_string()))?
        .usage
        .map(|u| u.app_cpu_m)
}

/// Three new namespaces, each with a running pod `web-one`, `web-two`, `web-three` whose
/// usage kwok reports as 100m and 32Mi.
async fn three_namespaces(test: &str) -> (kube::Client, [String; 3]) {
    let (client, one) = setup(test).await;
    let two = namespace(&client, test).await;
    let three = namespace(&client, test).await;
    for (ns, name) in [(&one, "web-one"), (&two, "web-two"), (&three, "web-three")] {
        create_yaml(&client, ns, &pod(name)).await;
        running_pod(&client, ns, name).await;
    }
    (client, [one, two, three])
}

#[tokio::test]
async fn each_role_fills_what_it_may_read_and_says_why_elsewhere() {
    let (client, [one, two, three]) = three_namespaces("role").await;
    create_yaml(&client, &two, WORKLOADS).await;
    let (all, some) = bind_readers(&client, &[&one, &two]).await;
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let kc_all = impersonating_kubeconfig(dir.path(), &all);
    let kc_some = impersonating_kubeconfig(other.path(), &some);

    // The ClusterRole alone: everything listed, every pod's usage, no error at all.
    let target = KubeTarget {
        kubeconfig: Some(kc_all.clone()),
        ..Default::default()
    };
    let s = watch(target, |s| {
        [
            Resource::Namespaces,
            Resource::Pods,
            Resource::Deployments,
            Resource::DaemonSets,
            Resource::StatefulSets,
            Resource::Services,
            Resource::Crds,
            Resource::ApiServices,
        ]
        .iter()
        .all(|r| s.listed(*r))
            && [(&one, "web-one"), (&two, "web-two"), (&three, "web-three")]
                .iter()
                .all(|(ns, p)| usage_of(s, ns, p).is_some())
            && plane_ready(s, &two)
            && s.pods.contains_key(&(two.clone(), "db-0".to_string()))
    })
    .await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    // The control plane in `two` (the bed's other tests may hold their own elsewhere).
    let nodes = s.control_planes.iter().find(|c| c.namespace == two).unwrap().components[1].desired;
    let ours: Vec<_> = planes(&s).into_iter().filter(|(_, ns, _)| *ns == two).collect();
    assert_eq!(
        ours,
        [(
            "istio".to_string(),
            two.clone(),
            vec![("istiod".to_string(), 1, 1), ("ztunnel".to_string(), nodes, nodes)]
        )]
    );
    assert!(nodes >= 1);
    let kinds = |s: &State| -> Vec<(String, String)> {
        s.workloads
            .keys()
            .filter(|(_, ns, _)| *ns == two)
            .map(|(k, _, n)| (k.clone(), n.clone()))
            .collect()
    };
    let want_kinds: Vec<(String, String)> = [
        ("DaemonSet", "ztunnel"),
        ("Deployment", "istiod"),
        ("StatefulSet", "db"),
    ]
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .to_vec();
    assert_eq!(kinds(&s), want_kinds);
    // Every view of the ClusterRole's user filled, each filtered to this test's objects
    // (the bed holds other tests' too), and no refusal on any screen.
    let mut s = s;
    use meshtop::app::Action;
    for (action, filter, want) in [
        (Action::ShowOverview, "", "Istio healthy"),
        (Action::ShowControlPlanes, two.as_str(), "istiod"),
        // Its row (the title holds the filter, so the name alone proves nothing): NAME
        // INJECTION MESHED PODS COVERAGE MISSING.
        (
            Action::ShowNamespaces,
            three.as_str(),
            &*format!("{three} <none> 0 1 0% 0"),
        ),
        (Action::ShowPods, three.as_str(), "web-three"),
        (Action::ShowWorkloads, two.as_str(), "StatefulSet"),
    ] {
        let name = format!("{action:?}");
        meshtop::app::apply_action(&mut s, action);
        s.entry_mut().filter = filter.to_string();
        let screen = render_text(&s, 200, 30);
        println!("the ClusterRole user's {name}, filtered to {filter:?}:\n{screen}");
        // Each line with its cells' padding folded to one space.
        let found = screen
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ").contains(want));
        assert!(found, "{name}: {want:?} in {screen}");
        assert!(!screen.contains("forbidden"), "{name}: {screen}");
    }
    let s = s;
    // metrics-server's rate of kwok's emulated counter: within a millicore of the 100m asked.
    assert!((usage_of(&s, &one, "web-one").unwrap() - 100.0).abs() < 1.0);

    // The namespaced Role in two namespaces, three named: the two filled, the third and
    // the cluster-scoped resources each with the API server's reason.
    let target = KubeTarget {
        kubeconfig: Some(kc_some.clone()),
        namespaces: vec![one.clone(), two.clone(), three.clone()],
        ..Default::default()
    };
    let s = watch(target, |s| {
        s.listed(Resource::Pods)
            && s.listed(Resource::Deployments)
            && s.listed(Resource::DaemonSets)
            && s.listed(Resource::StatefulSets)
            && plane_ready(s, &two)
            && s.pods.contains_key(&(two.clone(), "db-0".to_string()))
            && usage_of(s, &one, "web-one").is_some()
            && usage_of(s, &two, "web-two").is_some()
            && s.errors.contains_key(&(Resource::PodMetrics, Some(three.clone())))
            && s.errors.contains_key(&(Resource::Namespaces, None))
    })
    .await;
    let pods: Vec<String> = s
        .pods
        .keys()
        .filter(|(_, p)| p.starts_with("web-"))
        .map(|(n, p)| format!("{n}/{p}"))
        .collect();
    let mut want = vec![format!("{one}/web-one"), format!("{two}/web-two")];
    want.sort();
    assert_eq!(pods, want);
    // Every pod of the two: the webs, istiod, a ztunnel per node, db-0; none of the third.
    assert_eq!(s.pods.len(), 2 + 1 + nodes as usize + 1, "{:?}", s.pods.keys());
    assert!(s.pods.keys().all(|(n, _)| *n == one || *n == two));
    // The control plane and the workload kinds, read through the namespaced Role alone.
    assert_eq!(
        planes(&s),
        [(
            "istio".to_string(),
            two.clone(),
            vec![("istiod".to_string(), 1, 1), ("ztunnel".to_string(), nodes, nodes)]
        )]
    );
    assert_eq!(kinds(&s), want_kinds);
    assert!((usage_of(&s, &two, "web-two").unwrap() - 100.0).abs() < 1.0);
    let error = |r: Resource, ns: Option<&str>| {
        let e = s
            .errors
            .get(&(r, ns.map(str::to_string)))
            .unwrap_or_else(|| panic!("{r:?} {ns:?}: {:?}", s.errors));
        (e.kind, e.message.clone())
    };
    let (kind, why) = error(Resource::Pods, Some(&three));
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(
        why.starts_with(&format!(
            "pods is forbidden: User \"{some}\" cannot watch resource \"pods\" in API group \"\" in the namespace \"{three}\""
        )) || why.starts_with(&format!(
            "pods is forbidden: User \"{some}\" cannot list resource \"pods\" in API group \"\" in the namespace \"{three}\""
        )),
        "{why}"
    );
    let (kind, why) = error(Resource::PodMetrics, Some(&three));
    assert_eq!(kind, ErrorKind::Forbidden, "{why}");
    assert!(
        why.contains(&format!(
            "cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"{three}\""
        )),
        "{why}"
    );
    let (kind, why) = error(Resource::Namespaces, None);
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(
        why.ends_with("(403); without it meshtop cannot find the namespaces, nor read their labels: name the ones you may read with -n NS,NS and each is read on its own"),
        "{why}"
    );
    for ns in [&one, &two] {
        for r in [
            Resource::Pods,
            Resource::Deployments,
            Resource::DaemonSets,
            Resource::StatefulSets,
            Resource::PodMetrics,
        ] {
            assert!(
                !s.errors.contains_key(&(r, Some(ns.clone()))),
                "{r:?} in {ns}: {:?}",
                s.errors
            );
        }
    }
    // On the screen: the pods view lists the two, and the status line names a reason.
    let mut s = s;
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowPods);
    let screen = render_text(&s, 200, 20);
    assert!(
        screen.contains("web-one") && screen.contains("web-two") && !screen.contains("web-three"),
        "{screen}"
    );
    assert!(!screen.contains("listing"), "the lists are done: {screen}");
    let status = screen.lines().last().unwrap();
    assert!(
        status.contains("· namespaces forbidden: namespaces is forbidden: User"),
        "{status}"
    );
    // The namespaces view: the three named, each pod counted where it may be read, their
    // labels (so their injection) unknown, and the status line saying why.
    let mut listed: Vec<(String, usize, bool)> = s
        .namespaces
        .values()
        .map(|n| {
            let why = n.unreadable.as_deref().unwrap_or_default();
            (
                n.info.name.clone(),
                n.figures.pods,
                why.starts_with("namespaces is forbidden: User"),
            )
        })
        .collect();
    listed.sort();
    let in_two = 3 + nodes as usize;
    let mut want = vec![
        (one.clone(), 1, true),
        (two.clone(), in_two, true),
        (three.clone(), 0, true),
    ];
    want.sort();
    assert_eq!(listed, want);
    meshtop::app::apply_action(&mut s, meshtop::app::Action::ShowNamespaces);
    let screen = render_text(&s, 200, 20);
    println!("the namespaces view of the namespaced user:\n{screen}");
    let row = |ns: &str| {
        let line = screen
            .lines()
            .find(|l| l.contains(ns))
            .unwrap_or_else(|| panic!("{ns} in {screen}"));
        line.split_whitespace().skip(1).take(5).collect::<Vec<_>>().join(" ")
    };
    // INJECTION MESHED PODS COVERAGE MISSING: the third's pods may not be listed either.
    assert_eq!(row(&one), "unknown 0 1 0% unknown");
    // Of the second's, istiod and the ztunnels belong to the mesh (its control and node
    // proxies); web-two and db-0 do not.
    let meshed = 1 + nodes as usize;
    assert_eq!(
        row(&two),
        format!("unknown {meshed} {in_two} {}% unknown", meshed * 100 / in_two)
    );
    assert_eq!(row(&three), "unknown unknown unknown unknown unknown");
    assert!(
        screen.lines().last().unwrap().contains("· namespaces forbidden:"),
        "{screen}"
    );

    // The same from `discover -o json`: the pods, and each error with its namespace. The
    // three named once, in the config file, not with -n.
    let config = config_naming(&[&one, &two, &three]);
    let out = Command::new(BIN)
        .args(["discover", "-o", "json", "--kubeconfig"])
        .arg(&kc_some)
        .env("XDG_CONFIG_HOME", config.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "no time-out: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<&str> = j["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .filter(|p| p.starts_with("web-"))
        .collect();
    names.sort();
    assert_eq!(names, ["web-one", "web-two"]);
    assert_eq!(j["pods"].as_array().unwrap().len(), 2 + in_two - 1);
    let cps: Vec<(&str, &str)> = j["control_planes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["mesh"].as_str().unwrap(), c["namespace"].as_str().unwrap()))
        .collect();
    assert_eq!(cps, [("istio", two.as_str())]);
    let mut listed: Vec<(&str, u64, bool)> = j["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let why = n["unreadable"].as_str().unwrap_or_default();
            (
                n["name"].as_str().unwrap(),
                n["pods"].as_u64().unwrap(),
                why.contains("forbidden"),
            )
        })
        .collect();
    listed.sort();
    let mut want = vec![
        (one.as_str(), 1, true),
        (two.as_str(), in_two as u64, true),
        (three.as_str(), 0, true),
    ];
    want.sort();
    assert_eq!(listed, want);
    let errors = j["errors"].as_array().unwrap();
    let pods_three = errors
        .iter()
        .find(|e| e["resource"] == "pods" && e["namespace"] == three.as_str())
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert_eq!(pods_three["kind"], "forbidden");
    assert!(
        pods_three["message"]
            .as_str()
            .unwrap()
            .contains(&format!("in the namespace \"{three}\""))
    );
    assert!(
        errors
            .iter()
            .all(|e| e["namespace"] != one.as_str() && e["namespace"] != two.as_str()),
        "{errors:?}"
    );
    println!(
        "FIGURE role: namespaced Role in 2 of 3 named namespaces: 2 pods with usage, {} errors with reasons",
        errors.len()
    );
}

/// A user who may list namespaces and nothing else cluster-wide, bound to the shipped
/// namespaced Role in `namespaces`.
async fn namespace_lister(client: &kube::Client, namespaces: &[&str]) -> String {
    let first = namespaces[0];
    let user = format!("ns-lister-{first}");
    let lister = format!("meshtop-list-namespaces-{first}");
    create_yaml(
        client,
        first,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {lister}}}\n\
             rules: [{{apiGroups: [\"\"], resources: [namespaces], verbs: [list, watch]}}]\n"
        ),
    )
    .await;
    create_yaml(
        client,
        first,
        &binding("ClusterRoleBinding", &lister, "ClusterRole", &lister, &user),
    )
    .await;
    for ns in namespaces {
        create_yaml(client, ns, &shipped("Role", "meshtop-readonly")).await;
        create_yaml(
            client,
            ns,
            &binding("RoleBinding", "meshtop-readonly", "Role", "meshtop-readonly", &user),
        )
        .await;
    }
    user
}

/// metrics.k8s.io without `-n`, for a user who may list namespaces but read PodMetrics only
/// where a namespaced Role grants them: the cluster-wide list is forbidden, so each
/// namespace is read on its own, the two granted ones filled and the third with the API's
/// reason (before, no pod had usage at all).
#[tokio::test]
async fn usage_is_read_in_each_namespace_when_forbidden_cluster_wide() {
    let (client, [one, two, three]) = three_namespaces("role-usage").await;
    let user = namespace_lister(&client, &[&one, &two]).await;
    let dir = tempfile::tempdir().unwrap();
    let target = KubeTarget {
        kubeconfig: Some(impersonating_kubeconfig(dir.path(), &user)),
        ..Default::default()
    };
    let s = watch(target, |s| {
        usage_of(s, &one, "web-one").is_some()
            && usage_of(s, &two, "web-two").is_some()
            && s.errors.contains_key(&(Resource::PodMetrics, Some(three.clone())))
    })
    .await;
    for (ns, p) in [(&one, "web-one"), (&two, "web-two")] {
        assert!((usage_of(&s, ns, p).unwrap() - 100.0).abs() < 1.0, "{p}");
    }
    let e = &s.errors[&(Resource::PodMetrics, Some(three.clone()))];
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(
        e.message.contains(&format!(
            "User \"{user}\" cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"{three}\""
        )),
        "{}",
        e.message
    );
    for ns in [&one, &two] {
        assert!(
            !s.errors.contains_key(&(Resource::PodMetrics, Some(ns.clone()))),
            "{:?}",
            s.errors
        );
    }
    // The cluster-wide refusal said once, then replaced by what each namespace said.
    assert!(!s.errors.contains_key(&(Resource::PodMetrics, None)), "{:?}", s.errors);
    // The pods of the third may not be listed, so none of them has a cell to explain.
    assert!(!s.pods.contains_key(&(three.clone(), "web-three".to_string())));
}

/// The scraper under a user who may list namespaces but read pods only where a namespaced
/// Role grants them: its cluster-wide pod watch is forbidden, so it watches each namespace
/// instead, and the proxy in the namespace it may read is scraped (before, the scraper
/// dropped the 403 and scraped nothing).
#[tokio::test(flavor = "multi_thread")]
async fn the_scraper_reads_each_namespace_when_pods_are_forbidden_cluster_wide() {
    let (client, ns) = setup("role-scrape").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n",
    )
    .await;
    let (_ip, _procs, _dir) = support::standin::standin(&client, &ns, "web", "istio", 15020).await;
    let user = namespace_lister(&client, &[&ns]).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = impersonating_kubeconfig(dir.path(), &user);
    let (scraper, mut rx) = scraper(KubeTarget {
        kubeconfig: Some(kc),
        ..Default::default()
    });
    let scraped = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(s) = rx.recv().await {
            if let meshtop::app::Update::ProxyScraped { namespace, pod, .. } = &s.update
                && *namespace == ns
                && pod == "web"
            {
                return true;
            }
        }
        false
    })
    .await;
    scraper.abort();
    assert_eq!(scraped, Ok(true), "web in {ns} was never scraped");
}

/// Traffic and tap under each shipped role, with nothing cluster-wide for the namespaced
/// one (its two namespaces named with `-n`): the scraper reads each namespace's stand-in
/// proxy through the pod proxy API, and `meshtop tap` follows each one's access log through
/// the pod log API, for the user bound to the ClusterRole and for the one bound to the Role
/// alone in both namespaces.
#[tokio::test(flavor = "multi_thread")]
async fn traffic_and_tap_work_under_each_shipped_role() {
    use support::standin::{get_path, serve_logs, standin_with};
    let (client, ns) = setup("role-tap").await;
    let ns2 = namespace(&client, "role-tap").await;
    let dir = tempfile::tempdir().unwrap();
    // Each namespace: a pod `web` with its stand-in proxy, its access log served by kwok.
    let mut proxies = Vec::new();
    let mut node_proxies = Vec::new();
    let mut keep = Vec::new();
    for n in [&ns, &ns2] {
        create_yaml(
            &client,
            n,
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web, annotations: {sidecar.istio.io/status: '{}'}}\nspec:\n  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n",
        )
        .await;
        let log = dir.path().join(format!("{n}.log"));
        std::fs::write(&log, "").unwrap();
        serve_logs(&client, n, "web", "istio-proxy", &log).await;
        let (ip, procs, d) = standin_with(
            &client,
            n,
            "web",
            "istio",
            15020,
            &["--access-log", log.to_str().unwrap(), "--access-log-format", "json"],
        )
        .await;
        proxies.push((n.clone(), format!("{ip}:15001")));
        keep.push((procs, d));
        // A node proxy (ztunnel, the stand-in in its format) carrying `loadgen`'s calls to
        // `mesh-app`, reported from both ends: the client side is what the edges view shows.
        create_yaml(
            &client,
            n,
            "apiVersion: v1\nkind: Pod\nmetadata: {name: zt}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/ztunnel:1.24.0}]\n\
             ---\napiVersion: v1\nkind: Pod\nmetadata: {name: loadgen, labels: {app: loadgen}}\nspec:\n  containers: [{name: app, image: app:1}]\n",
        )
        .await;
        running_pod(&client, n, "loadgen").await;
        let (ip, procs, d) = standin_with(
            &client,
            n,
            "zt",
            "ztunnel",
            15020,
            &["--workload", "mesh-app", "--source-workload", "loadgen"],
        )
        .await;
        node_proxies.push(format!("{ip}:15001"));
        keep.push((procs, d));
    }
    let (all, some) = bind_readers(&client, &[&ns, &ns2]).await;
    let mut figures = Vec::new();
    // The requests each namespace's proxy counted at the last scrape this test saw.
    let mut counted = [0.0, 0.0];
    for (user, named) in [(&all, vec![]), (&some, vec![ns.clone(), ns2.clone()])] {
        let kc = impersonating_kubeconfig(dir.path(), user);
        // Traffic: a request through each proxy, then each one's count scraped.
        for addr in proxies.iter().map(|(_, a)| a).chain(&node_proxies) {
            assert!(get_path(addr, "/index.html?traffic").is_some());
        }
        let target = KubeTarget {
            kubeconfig: Some(kc.clone()),
            namespaces: named.clone(),
            ..Default::default()
        };
        let (scraper, mut rx) = scraper(target.clone());
        // The kube source beside it, as this user: the views' pods come from its watches.
        let (watch_tx, mut watch_rx) = tokio::sync::mpsc::channel(meshtop::source::CHANNEL_CAPACITY);
        let watches = tokio::spawn(meshtop::source::kube::run(target, watch_tx));
        let mut state = State::new(Keymap::default());
        let mut fresh = [false, false];
        // Twice: a scrape after the first request, then one after a second, so the state
        // holds a rate between two scrapes of each proxy (what the views show).
        let mut rounds = 0;
        let scraped = tokio::time::timeout(Duration::from_secs(90), async {
            loop {
                let s = tokio::select! {
                    Some(s) = watch_rx.recv() => {
                        fold(&mut state, s);
                        continue;
                    }
                    s = rx.recv() => match s {
                        Some(s) => s,
                        None => break,
                    },
                };
                // A scrape that counts more requests than the last one this test saw: the
                // scraper reads the proxy, under this user, after the request just sent.
                if let meshtop::app::Update::ProxyScraped {
                    namespace,
                    pod,
                    inbound,
                    ..
                } = &s.update
                    && pod == "web"
                    && let Some(i) = proxies.iter().position(|(n, _)| n == namespace)
                    && inbound.requests > counted[i]
                {
                    counted[i] = inbound.requests;
                    fresh[i] = true;
                }
                fold(&mut state, s);
                if fresh == [true, true] {
                    rounds += 1;
                    fresh = [false, false];
                    // Traffic again, through the node proxies too, until each namespace's
                    // client has an edge (its pod listed, two scrapes of its ztunnel).
                    for addr in proxies.iter().map(|(_, a)| a).chain(&node_proxies) {
                        assert!(get_path(addr, "/index.html?again").is_some());
                    }
                }
                let edges = [&ns, &ns2].iter().all(|n| {
                    state
                        .edges
                        .contains_key(&(format!("{n}/loadgen"), format!("mesh-app.{n}.svc.cluster.local")))
                });
                if rounds >= 2 && edges {
                    return true;
                }
            }
            false
        })
        .await;
        scraper.abort();
        watches.abort();
        // The edges view, under this user: each namespace's client → mesh-app, with bytes.
        meshtop::app::apply_action(&mut state, meshtop::app::Action::ShowEdges);
        for n in [&ns, &ns2] {
            state.entry_mut().filter = n.to_string();
            let screen = render_text(&state, 200, 20);
            println!("{user}'s edges view:\n{screen}");
            let edge = screen
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .find(|l| l.contains(&format!("{n}/loadgen mesh-app.{n}.svc.cluster.local ")));
            // Bytes both ways between two scrapes (the client side's L4 figures).
            let edge = edge.unwrap_or_else(|| panic!("{user}: no edge from {n}/loadgen in\n{screen}"));
            assert!(
                !edge.contains(" - - - - - - - -"),
                "{user}: an edge with no figure: {edge}"
            );
        }
        // The pods view and each web's detail, under this user: its proxy's traffic figures
        // (the pods from this user's watches, the figures from its scrapes).
        for n in [&ns, &ns2] {
            meshtop::app::apply_action(&mut state, meshtop::app::Action::ShowPods);
            state.entry_mut().filter = format!("{n} name==web");
            let screen = render_text(&state, 200, 30);
            println!("{user}'s pods view:\n{screen}");
            let row = screen
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .find(|l| l.contains(&format!("{n} web istio sidecar istio-proxy:1.24.0 2/2 Running 0 ")))
                .unwrap_or_else(|| panic!("{user}: no row for {n}/web in\n{screen}"));
            // RPS (a rate between two scrapes), then SUCCESS: every request answered 200.
            let after = row.split(" Running 0 ").nth(1).unwrap();
            let cells: Vec<&str> = after.split(' ').collect();
            assert!(cells[0].parse::<f64>().is_ok_and(|r| r > 0.0), "{user}: RPS in {row}");
            assert_eq!(cells[1], "100.00%", "{user}: {row}");
            meshtop::app::apply_action(&mut state, meshtop::app::Action::Select);
            let detail = render_text(&state, 200, 40);
            let requests = detail
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .find(|l| l.contains("requests") && l.contains(" rps "))
                .unwrap_or_else(|| panic!("{user}: no traffic in {n}/web's detail:\n{detail}"));
            assert!(
                detail.contains(&format!("pod {n}/web")) && requests.contains("success 100.00%"),
                "{user}: {requests}\n{detail}"
            );
            assert!(!detail.contains("not scraped yet"), "{detail}");
            meshtop::app::apply_action(&mut state, meshtop::app::Action::Back);
        }
        // Errors of this test's namespaces only: the cluster-wide user also scrapes the
        // bed's other tests' pods, which it may read but whose kwok addresses the API
        // server will not proxy to.
        let ours: Vec<_> = state
            .errors
            .iter()
            .filter(|((_, n), _)| {
                n.as_deref().is_some_and(|n| {
                    [&ns, &ns2]
                        .iter()
                        .any(|ours| n == ours.as_str() || n.starts_with(&format!("{ours}/")))
                })
            })
            .collect();
        assert_eq!(scraped, Ok(true), "{user}: scraped {fresh:?} of {ns}, {ns2}: {ours:?}");
        assert!(ours.is_empty(), "{user}: {ours:?}");

        // Tap: each namespace's access log followed while two requests go through.
        let tag = if named.is_empty() { "cluster" } else { "namespaced" };
        let mut tapped = 0;
        for (i, (n, addr)) in proxies.iter().enumerate() {
            // The second namespace from the config file's one namespace, not -n.
            let config = config_naming(&[n]);
            let mut args = vec!["tap".to_string(), "pod/web".into()];
            if i == 0 {
                args.extend(["-n".into(), n.clone()]);
            }
            args.extend(["--source", "logs", "--duration", "8s", "-o", "json", "--kubeconfig"].map(String::from));
            let child = Command::new(BIN)
                .args(&args)
                .arg(&kc)
                .env("XDG_CONFIG_HOME", config.path())
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            tokio::time::sleep(Duration::from_secs(3)).await;
            for i in 1..=2 {
                assert!(get_path(addr, &format!("/index.html?{tag}={i}")).is_some());
            }
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{user} in {n}: {stderr}");
            let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|e| e["path"].as_str().map(str::to_string))
                .filter(|p| p.contains(tag))
                .collect();
            assert_eq!(
                paths,
                [format!("/index.html?{tag}=1"), format!("/index.html?{tag}=2")],
                "{user} in {n}: {stderr}"
            );
            tapped += paths.len();
        }
        figures.push(format!(
            "{tag}: {} and {} requests scraped, {tapped} tapped in 2 namespaces",
            counted[0], counted[1]
        ));
    }
    println!("FIGURE role traffic and tap: {}", figures.join("; "));
}

/// Prometheus found (`--prometheus-url auto`) and asked through the API server's service
/// proxy under each shipped role: the ClusterRole's user across the cluster and with `-n`,
/// the namespaced Role's user in its two named namespaces (the meshes' usual namespaces
/// beside them forbidden, which is no error while one namespace answers), and the same user
/// without `-n` told why nothing could be looked in.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_is_found_and_asked_under_each_shipped_role() {
    use meshtop::source::prometheus::{Spec, resolve};
    let (client, ns) = setup("role-prom").await;
    let other = namespace(&client, "role-prom").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: prometheus-0, labels: {app: prometheus}}\nspec:\n  containers: [{name: prometheus, image: prom/prometheus:v2.42.0, ports: [{containerPort: 9090, name: http-web}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: prometheus, labels: {app: prometheus}}\nspec:\n  selector: {app: prometheus}\n  ports: [{name: http-web, port: 9090, targetPort: 9090}]\n",
    )
    .await;
    running_pod(&client, &ns, "prometheus-0").await;
    let dir = tempfile::tempdir().unwrap();
    // The real Prometheus in the pod's network namespace, scraping itself every second.
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:9090']}]\n",
    )
    .unwrap();
    let _prometheus = spawn_in_netns(
        &pod_netns(&ns, "prometheus-0"),
        &[
            "prometheus",
            &format!("--config.file={}", cfg.display()),
            &format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            "--web.listen-address=0.0.0.0:9090",
            "--log.level=warn",
        ],
    );
    let (all, some) = bind_readers(&client, &[&ns, &other]).await;
    let connect = |user: &str| {
        let kc = impersonating_kubeconfig(dir.path(), user);
        async move {
            meshtop::source::kube::connect(&KubeTarget {
                kubeconfig: Some(kc),
                ..Default::default()
            })
            .await
            .unwrap()
            .client
        }
    };
    let want = format!("{ns}/prometheus:9090 (via the API server)");
    for (user, named) in [(&all, vec![ns.clone()]), (&some, vec![ns.clone(), other.clone()])] {
        let c = connect(user).await;
        let endpoint = resolve(&Spec::Auto, Some(&c), &named)
            .await
            .unwrap_or_else(|e| panic!("{user} {named:?}: {e:?}"));
        assert_eq!(endpoint.describe(), want, "{user}");
        // Asked through the service proxy, as this user: its own scrape, up.
        let up = wait_for("Prometheus to have scraped itself", Duration::from_secs(60), || {
            let endpoint = endpoint.clone();
            async move {
                let s = endpoint.query("up{job=\"self\"}").await.ok()?;
                s.first().map(|s| s.value)
            }
        })
        .await;
        assert_eq!(up, 1.0, "{user}");
    }
    // The ClusterRole across the cluster: the list is allowed (the bed may hold other
    // tests' Prometheus services, so which one is picked is not asserted).
    let c = connect(&all).await;
    assert!(resolve(&Spec::Auto, Some(&c), &[]).await.is_ok());
    // The namespaced user without -n: every Service list forbidden, and the reason given.
    let c = connect(&some).await;
    let (kind, why) = match resolve(&Spec::Auto, Some(&c), &[]).await {
        Ok(e) => panic!("found {} with no namespace granted", e.describe()),
        Err(e) => e,
    };
    assert_eq!(kind, ErrorKind::Forbidden, "{why}");
    assert!(
        why.starts_with(&format!(
            "listing services: services is forbidden: User \"{some}\" cannot list resource \"services\""
        )),
        "{why}"
    );
    // `meshtop top --prometheus-url auto` as the namespaced user, its two namespaces named
    // in the config file.
    let kc = impersonating_kubeconfig(dir.path(), &some);
    let config = config_naming(&[&ns, &other]);
    let out = Command::new(BIN)
        .args(["top", "-o", "json", "--window", "10s"])
        .args(["--prometheus-url", "auto", "--kubeconfig"])
        .arg(&kc)
        .env("XDG_CONFIG_HOME", config.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["source"], format!("prometheus {want}"));
}

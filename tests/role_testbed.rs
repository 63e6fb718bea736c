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

fn usage_of(state: &State, ns: &str, pod: &str) -> Option<f64> {
    state
        .pods
        .get(&(ns.to_string(), pod.to_string()))?
        .usage
        .map(|u| u.app_cpu_m)
}

#[tokio::test]
async fn each_role_fills_what_it_may_read_and_says_why_elsewhere() {
    let (client, one) = setup("role").await;
    let two = namespace(&client, "role").await;
    let three = namespace(&client, "role").await;
    for (ns, name) in [(&one, "web-one"), (&two, "web-two"), (&three, "web-three")] {
        create_yaml(&client, ns, &pod(name)).await;
        running_pod(&client, ns, name).await;
    }
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
            Resource::Services,
            Resource::Crds,
            Resource::ApiServices,
        ]
        .iter()
        .all(|r| s.listed(*r))
            && [(&one, "web-one"), (&two, "web-two"), (&three, "web-three")]
                .iter()
                .all(|(ns, p)| usage_of(s, ns, p).is_some())
    })
    .await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
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
            && usage_of(s, &one, "web-one").is_some()
            && usage_of(s, &two, "web-two").is_some()
            && s.errors.contains_key(&(Resource::PodMetrics, Some(three.clone())))
            && s.errors.contains_key(&(Resource::Namespaces, None))
    })
    .await;
    let pods: Vec<String> = s.pods.keys().map(|(n, p)| format!("{n}/{p}")).collect();
    let mut want = vec![format!("{one}/web-one"), format!("{two}/web-two")];
    want.sort();
    assert_eq!(pods, want);
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
        for r in [Resource::Pods, Resource::Deployments, Resource::PodMetrics] {
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
    let mut want = vec![(one.clone(), 1, true), (two.clone(), 1, true), (three.clone(), 0, true)];
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
    assert_eq!(row(&two), "unknown 0 1 0% unknown");
    assert_eq!(row(&three), "unknown unknown unknown unknown unknown");
    assert!(
        screen.lines().last().unwrap().contains("· namespaces forbidden:"),
        "{screen}"
    );

    // The same from `discover -o json`: the pods, and each error with its namespace.
    let ns_list = format!("{one},{two},{three}");
    let out = Command::new(BIN)
        .args(["discover", "-o", "json", "-n", &ns_list, "--kubeconfig"])
        .arg(&kc_some)
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
        .collect();
    names.sort();
    assert_eq!(names, ["web-one", "web-two"]);
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
        (two.as_str(), 1, true),
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
    let user = format!("ns-lister-{ns}");
    let lister = format!("meshtop-list-namespaces-{ns}");
    create_yaml(
        &client,
        &ns,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {lister}}}\n\
             rules: [{{apiGroups: [\"\"], resources: [namespaces], verbs: [list, watch]}}]\n"
        ),
    )
    .await;
    create_yaml(
        &client,
        &ns,
        &binding("ClusterRoleBinding", &lister, "ClusterRole", &lister, &user),
    )
    .await;
    create_yaml(&client, &ns, &shipped("Role", "meshtop-readonly")).await;
    create_yaml(
        &client,
        &ns,
        &binding("RoleBinding", "meshtop-readonly", "Role", "meshtop-readonly", &user),
    )
    .await;
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
/// one (its namespace named with `-n`): the scraper reads the stand-in proxy's metrics
/// through the pod proxy API, and `meshtop tap` follows its access log through the pod log
/// API, for the user bound to the ClusterRole and for the one bound to the Role alone.
#[tokio::test(flavor = "multi_thread")]
async fn traffic_and_tap_work_under_each_shipped_role() {
    use support::standin::{get_path, serve_logs, standin_with};
    let (client, ns) = setup("role-tap").await;
    create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, annotations: {sidecar.istio.io/status: '{}'}}\nspec:\n  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("web.log");
    std::fs::write(&log, "").unwrap();
    serve_logs(&client, &ns, "web", "istio-proxy", &log).await;
    let (ip, _procs, _d) = standin_with(
        &client,
        &ns,
        "web",
        "istio",
        15020,
        &["--access-log", log.to_str().unwrap(), "--access-log-format", "json"],
    )
    .await;
    let (all, some) = bind_readers(&client, &[&ns]).await;
    let mut figures = Vec::new();
    let mut counted = 0.0;
    for (user, named) in [(&all, vec![]), (&some, vec![ns.clone()])] {
        let kc = impersonating_kubeconfig(dir.path(), user);
        // Traffic: a request through the proxy, then its count scraped.
        assert!(get_path(&format!("{ip}:15001"), "/index.html?traffic").is_some());
        let (scraper, mut rx) = scraper(KubeTarget {
            kubeconfig: Some(kc.clone()),
            namespaces: named.clone(),
            ..Default::default()
        });
        let mut state = State::new(Keymap::default());
        let scraped = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(s) = rx.recv().await {
                // A scrape that counts more requests than the last one this test saw: the
                // scraper reads the proxy, under this user, after the request just sent.
                let hit = match &s.update {
                    meshtop::app::Update::ProxyScraped {
                        namespace,
                        pod,
                        inbound,
                        ..
                    } if *namespace == ns && pod == "web" && inbound.requests > counted => Some(inbound.requests),
                    _ => None,
                };
                fold(&mut state, s);
                if let Some(n) = hit {
                    counted = n;
                    return true;
                }
            }
            false
        })
        .await;
        scraper.abort();
        // Errors of this test's namespace only: the cluster-wide user also scrapes the bed's
        // other tests' pods, which it may read but whose kwok addresses the API server will
        // not proxy to.
        let prefix = format!("{ns}/");
        let ours: Vec<_> = state
            .errors
            .iter()
            .filter(|((_, n), _)| n.as_deref().is_some_and(|n| n == ns || n.starts_with(&prefix)))
            .collect();
        assert_eq!(scraped, Ok(true), "{user}: web in {ns} was never scraped: {ours:?}");
        assert!(ours.is_empty(), "{user}: {ours:?}");

        // Tap: the access log followed while two requests go through.
        let mut args = vec!["tap".to_string(), "pod/web".into(), "-n".into(), ns.clone()];
        args.extend(["--source", "logs", "--duration", "8s", "-o", "json", "--kubeconfig"].map(String::from));
        let child = Command::new(BIN)
            .args(&args)
            .arg(&kc)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let tag = if named.is_empty() { "cluster" } else { "namespaced" };
        for i in 1..=2 {
            assert!(get_path(&format!("{ip}:15001"), &format!("/index.html?{tag}={i}")).is_some());
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{user}: {stderr}");
        let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|e| e["path"].as_str().map(str::to_string))
            .filter(|p| p.contains(tag))
            .collect();
        assert_eq!(
            paths,
            [format!("/index.html?{tag}=1"), format!("/index.html?{tag}=2")],
            "{user}: {stderr}"
        );
        figures.push(format!("{tag}: {counted} requests scraped, {} tapped", paths.len()));
    }
    println!("FIGURE role traffic and tap: {}", figures.join("; "));
}

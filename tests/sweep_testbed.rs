//! `meshtop sweep` with a cluster: three real targets (nginx directly, a HAProxy hop in
//! front of it, and the stand-in Istio proxy in a test-bed pod's network namespace),
//! with the stand-in pod's CPU and memory read from /proc and fed to kwok, so the
//! resources the sweep reports through metrics-server are real measurements.

mod support;

use std::process::Command;

use meshtop::model::sweep::SweepResult;
use support::servers::{Haproxy, Nginx};
use support::*;

/// An istiod whose usage is fixed (annotations kwok reads), so the control-plane figure
/// is known exactly; and the pod the stand-in runs in, app and sidecar apart.
const OBJECTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, labels: {app: istiod}}
spec:
  replicas: 1
  selector: {matchLabels: {app: istiod}}
  template:
    metadata:
      labels: {app: istiod}
      annotations: {kwok.x-k8s.io/usage-cpu: 35m, kwok.x-k8s.io/usage-memory: 60Mi}
    spec:
      containers: [{name: discovery, image: docker.io/istio/pilot:1.24.0}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn sweep_reports_the_real_usage_of_the_pods_behind_each_target() {
    let (client, ns) = setup("sweep").await;
    create_yaml(&client, &ns, OBJECTS).await;
    let (ip, procs, _dir) = standin::standin(&client, &ns, "web", "istio", 15020).await;
    let _feeder = usage::feed(&ns, "web", &[("app", procs[0].pid()), ("istio-proxy", procs[1].pid())]);
    let nginx = Nginx::start();
    let haproxy = Haproxy::forward_to(nginx.port);
    let data = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig();
    let (direct, hop, proxy) = (
        format!("nginx={}", nginx.url("/")),
        format!("haproxy-hop={}", haproxy.url("/")),
        format!("standin-proxy=http://{ip}:15001/index.html"),
    );
    let args = [
        "sweep",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--namespace",
        &ns,
        "--target",
        &direct,
        "--target",
        &hop,
        "--target",
        &proxy,
        "--rates",
        "10,60",
        "-c",
        "8",
        "-z",
        "16s",
        "--warmup",
        "1s",
        "--cooldown",
        "1s",
        "--threads",
        "1",
        "-o",
        "json",
    ];
    let args: Vec<String> = args.map(String::from).to_vec();
    let shown = args.clone();
    let home = data.path().to_path_buf();
    let data_home = home.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_meshtop"))
            .args(args)
            .env("XDG_DATA_HOME", data_home)
            .output()
            .expect("running meshtop")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "meshtop sweep failed: {stderr}");
    let r: SweepResult = serde_json::from_slice(&out.stdout).expect("a sweep result");
    support::sweep::assert_recomputed(&r);
    assert_eq!(r.resources_note, None, "a cluster was watched: {stderr}");
    assert_eq!(r.steps.len(), 2);
    // What the cluster said about the targets: the stand-in's pod, its mesh and version.
    assert_eq!(
        r.kubernetes_version.as_deref().map(|v| v.starts_with("v1.")),
        Some(true)
    );
    let planned = &r.targets[2];
    assert_eq!(planned.pods, [(ns.clone(), "web".to_string())]);
    assert_eq!(
        (planned.mesh.as_deref(), planned.mesh_version.as_deref()),
        (Some("istio"), Some("1.24.0"))
    );
    // The bed's two kwok nodes, as their capacity says (32 cores, 256Gi), for SMP.
    let nodes: Vec<(&str, Option<u32>, Option<u64>)> =
        r.nodes.iter().map(|n| (n.name.as_str(), n.cores, n.mem_mb)).collect();
    assert_eq!(
        nodes,
        [
            ("kwok-node-0", Some(32), Some(274_878)),
            ("kwok-node-1", Some(32), Some(274_878))
        ]
    );
    // The stand-in reports every request as mutual TLS (Istio's connection_security_policy).
    assert_eq!(planned.mtls, Some(1.0));
    let mut proxy_cpu = Vec::new();
    for step in &r.steps {
        let names: Vec<&str> = step.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["nginx", "haproxy-hop", "standin-proxy"]);
        let (base, hop, standin) = (&step.targets[0], &step.targets[1], &step.targets[2]);
        for t in [hop, standin] {
            assert_eq!(t.errors, 0, "{}", t.name);
            assert!(
                t.p50_ms > base.p50_ms,
                "{} p50 {} vs nginx {}",
                t.name,
                t.p50_ms,
                base.p50_ms
            );
        }
        // Nothing in the cluster serves a loopback address: said, not guessed.
        for t in [base, hop] {
            assert_eq!(t.resources, None, "{}", t.name);
            let note = t.resources_note.as_deref().unwrap_or_default();
            assert!(
                note.starts_with("no pods") && note.ends_with("nothing matched 127.0.0.1"),
                "{note}"
            );
        }
        let res = standin.resources.as_ref().unwrap_or_else(|| {
            panic!(
                "resources of the stand-in at {:?}: {:?}",
                step.rate, standin.resources_note
            )
        });
        assert_eq!(res.pods, 1);
        assert!(res.proxy_cpu_millis.mean > 0.0 && res.proxy_cpu_millis.max >= res.proxy_cpu_millis.mean);
        // Python's resident memory: megabytes, not kwok's 1Mi default.
        assert!(res.proxy_memory_mib.mean > 5.0, "{res:?}");
        assert!(res.app_memory_mib.mean > 5.0, "{res:?}");
        assert_eq!(
            res.proxy_cpu_millis_per_1k_rps,
            Some(res.proxy_cpu_millis.mean / (standin.rps / 1000.0))
        );
        assert_eq!(
            res.proxy_memory_mib_per_1k_rps,
            Some(res.proxy_memory_mib.mean / (standin.rps / 1000.0))
        );
        // istiod's usage is fixed at 35m and 60Mi: what metrics-server reports for it.
        let cp_cpu = res.control_plane_cpu_millis.expect("the control plane's CPU");
        let cp_mem = res.control_plane_memory_mib.expect("the control plane's memory");
        assert!((cp_cpu.mean - 35.0).abs() < 0.5, "{cp_cpu:?}");
        assert!((cp_mem.mean - 60.0).abs() < 0.01, "{cp_mem:?}");
        proxy_cpu.push(res.proxy_cpu_millis.mean);
    }
    // Six times the requests cost the proxy more CPU: a measurement, not a constant.
    assert!(
        proxy_cpu[1] > proxy_cpu[0] * 1.5,
        "proxy CPU at 10 rps {} and at 60 rps {}",
        proxy_cpu[0],
        proxy_cpu[1]
    );
    eprintln!("stand-in proxy CPU: {proxy_cpu:?} millicores at 10 and 60 rps");
    // For the README: the table as `-o md` writes it, and the command that made it.
    eprintln!(
        "meshtop {}\n\n{}",
        shown.join(" "),
        meshtop::sweep::output::render(meshtop::sweep::output::Format::Md, &r).unwrap()
    );

    // The saved sweep drawn: the slowdown, and the stand-in's CPU by step below it.
    let saved: Vec<_> = std::fs::read_dir(home.join("meshtop/results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let svg = home.join("sweep.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .args(["report", "--svg", svg.to_str().unwrap(), saved[0].to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for expected in [
        "Slowdown against nginx by rate",
        "CPU by step (millicores, mean)",
        "Memory by step (MiB, mean)",
        "memory (MiB)",
        "CPU (millicores)",
        "standin-proxy proxy",
        "standin-proxy app",
        "10 rps",
        "60 rps",
    ] {
        assert!(texts.contains(&expected), "{expected:?} not in {texts:?}");
    }
    // Loopback targets have no pods, so no CPU series.
    assert!(!texts.iter().any(|t| t.starts_with("nginx proxy")), "{texts:?}");
}

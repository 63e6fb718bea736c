//! The `discover` model (what `-o json` prints) built from the fixed scenario.

mod support;

use meshtop::app::{Keymap, Stamped, State, Update, fold};

fn scenario_json() -> serde_json::Value {
    let mut s = State::new(Keymap::default());
    for u in support::scenario::updates() {
        fold(&mut s, u);
    }
    serde_json::to_value(meshtop::cmd::discover::model(&s)).unwrap()
}

#[test]
fn json_has_the_documented_shape_and_values() {
    let j = scenario_json();
    let cps = j["control_planes"].as_array().unwrap();
    assert_eq!(cps.len(), 2);
    assert_eq!(
        cps[0],
        serde_json::json!({
            "mesh": "istio", "namespace": "istio-system", "revision": null, "version": "1.24.0", "healthy": true,
            "components": [
                {"kind": "Deployment", "name": "istiod", "role": "control", "ready": 1, "desired": 1},
                {"kind": "DaemonSet", "name": "ztunnel", "role": "node-proxy", "ready": 2, "desired": 2}
            ]
        })
    );
    assert_eq!(cps[1]["mesh"], "linkerd");
    assert_eq!(cps[1]["healthy"], false);

    let ns = |name: &str| {
        j["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        ns("bookinfo")["injection"],
        serde_json::json!([{"mesh": "istio", "setting": "enabled", "source": "istio-injection=enabled"}])
    );
    assert_eq!(
        (ns("bookinfo")["meshed_pods"].as_u64(), ns("bookinfo")["pods"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(ns("emojivoto")["injection"][0]["source"], "linkerd.io/inject=enabled");
    assert_eq!(ns("ambient-demo")["injection"][0]["setting"], "ambient");
    assert_eq!(ns("legacy")["missing_proxy"], 1);
    assert_eq!(ns("default")["injection"], serde_json::json!([]));

    let pod = |name: &str| {
        j["pods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let pp = pod("productpage-v1-5d7f-q2");
    assert_eq!(
        (
            pp["mesh"].as_str(),
            pp["model"].as_str(),
            pp["phase"].as_str(),
            pp["ready"].as_bool()
        ),
        (Some("istio"), Some("sidecar"), Some("Running"), Some(true))
    );
    assert_eq!(
        pp["proxy"],
        serde_json::json!({"container": "istio-proxy", "version": "1.24.0", "metrics_port": 15020, "metrics_path": "/stats/prometheus"})
    );
    assert_eq!(pod("ratings-v1-6f5c-z9")["model"], "ambient");
    assert_eq!(pod("ratings-v1-6f5c-z9")["proxy"], serde_json::Value::Null);
    assert_eq!(pod("ztunnel-abcde")["model"], "node");
    assert_eq!(pod("toolbox")["mesh"], serde_json::Value::Null);
    assert_eq!(pod("toolbox")["model"], "none");
    assert_eq!(
        pod("old-batch-job")["missing_proxy"],
        "namespace has istio-injection=enabled but the pod has no istio sidecar"
    );
    assert_eq!(
        j["errors"],
        serde_json::json!([{
            "resource": "pods", "namespace": "secret-team", "kind": "forbidden",
            "message": "pods is forbidden: User \"viewer\" cannot list resource \"pods\" in the namespace \"secret-team\""
        }])
    );
    let meshes: Vec<&str> = j["meshes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mesh"].as_str().unwrap())
        .collect();
    assert_eq!(meshes, ["istio", "linkerd"]);
    assert_eq!(
        j["meshes"][0]["pods"],
        serde_json::json!({"sidecar": 2, "ambient": 1, "node": 1})
    );
}

#[test]
fn table_output_lists_every_section() {
    let mut s = State::new(Keymap::default());
    for u in support::scenario::updates() {
        fold(&mut s, u);
    }
    insta::assert_snapshot!("discover_table", meshtop::cmd::discover::table(&s));
}

#[test]
fn workloads_merge_traffic_and_cost() {
    let mut s = State::new(Keymap::default());
    for u in support::scenario::updates() {
        fold(&mut s, u);
    }
    let out = meshtop::cmd::top::output(&s, std::time::Duration::from_secs(10), "test".into(), vec![]);
    let rows = &out.workloads;
    let pp = rows.iter().find(|r| r.name == "productpage-v1-5d7f-q2").unwrap();
    // 1,000 requests in 10 s, 995 not 5xx; bucket increases (5,700) (10,900) (25,995) (+Inf,1000):
    // p99 = rank 990 in (10,25] = 10 + 15 * (990 - 900) / 95.
    assert_eq!(
        (pp.mesh, pp.rps, pp.success_rate),
        (Some("istio"), Some(100.0), Some(0.995))
    );
    assert_eq!(pp.latency_ms.p99, Some(10.0 + 15.0 * 90.0 / 95.0));
    assert_eq!(pp.latency_ms.p50, Some(5.0 * 500.0 / 700.0));
    assert_eq!(
        (pp.cpu_millicores.app, pp.cpu_millicores.proxy),
        (Some(120.4), Some(31.2))
    );
    assert_eq!(
        (pp.memory_bytes.app, pp.memory_bytes.proxy),
        (Some(96 << 20), Some(48 << 20))
    );
    let toolbox = rows.iter().find(|r| r.name == "toolbox").unwrap();
    assert_eq!(
        (toolbox.mesh, toolbox.rps, toolbox.cpu_millicores.proxy),
        (None, None, None)
    );
    assert_eq!(serde_json::to_value(&out).unwrap()["schema_version"], 1);
    insta::assert_snapshot!("top_table", meshtop::cmd::top::table(&s));

    // The sidecar tax per namespace: bookinfo's two sidecars against their pods.
    let cost = s.namespaces["bookinfo"].figures.cost;
    assert_eq!(cost.cpu.app, Some(120.4 + 80.0));
    assert_eq!(cost.cpu.proxy, Some(31.2 + 25.0));
    assert_eq!(
        cost.tax,
        meshtop::app::figures::Tax::Share {
            cpu: Some((31.2 + 25.0) / (120.4 + 80.0 + 31.2 + 25.0)),
            mem: Some((92u64 << 20) as f64 / ((96u64 + 48 + 256 + 44) << 20) as f64),
        }
    );
    assert_eq!(cost.mem.proxy, Some(92 << 20));
}

#[test]
fn cadvisor_usage_fills_in_only_while_metrics_server_is_silent() {
    use meshtop::model::{ContainerUsage, PodUsage, UsageOrigin};
    let usage = |cpu: f64, origin| Update::PodUsage {
        usages: vec![PodUsage {
            namespace: "shop".into(),
            name: "web".into(),
            timestamp: None,
            window_s: None,
            containers: vec![ContainerUsage {
                name: "app".into(),
                cpu_millicores: cpu,
                memory_bytes: 1,
            }],
        }],
        origin,
    };
    let mut s = State::new(Keymap::default());
    let cpu = |s: &State| s.usage[&("shop".to_string(), "web".to_string())].containers[0].cpu_millicores;
    fold(
        &mut s,
        Stamped {
            at: 0,
            update: usage(100.0, UsageOrigin::MetricsServer),
        },
    );
    fold(
        &mut s,
        Stamped {
            at: 30_000,
            update: usage(999.0, UsageOrigin::Cadvisor),
        },
    );
    assert_eq!(cpu(&s), 100.0, "metrics-server spoke 30 s ago: it wins");
    fold(
        &mut s,
        Stamped {
            at: 61_000,
            update: usage(250.0, UsageOrigin::Cadvisor),
        },
    );
    assert_eq!(cpu(&s), 250.0, "a minute of silence: cAdvisor fills in");
    assert_eq!(s.usage_origin, Some((UsageOrigin::Cadvisor, 61_000)));
    fold(
        &mut s,
        Stamped {
            at: 62_000,
            update: usage(120.0, UsageOrigin::MetricsServer),
        },
    );
    assert_eq!(cpu(&s), 120.0, "metrics-server is back");
}

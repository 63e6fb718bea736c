//! Service Mesh Performance `PerformanceTestResult` (service-mesh-performance protos,
//! snake_case field names as in the proto), with the run's `PerformanceTestConfig`
//! under `config` and, when the caller knew them, `EnvironmentConfig` under
//! `environment` and `ServiceMesh` under `mesh`. Unknown parts are left out rather
//! than guessed.

use std::collections::BTreeMap;

use eyre::{Result, WrapErr};
use serde_json::{Value, json};

use super::{Context, GENERATOR, go_duration, rfc3339};
use crate::types::BenchResult;

/// What `smp_version` says. The SMP specification publishes no version number (its
/// repository has no release of its protos, and its Go module is not served); this names
/// the revision of `protos/service_mesh_performance.proto` whose field names these results
/// follow, so a reader can check them against it.
pub const SMP_VERSION: &str = "service-mesh-performance/protos@1a82110";

/// SMP's `ServiceMesh.Type` enum name for meshtop's mesh names.
pub fn mesh_type(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "app-mesh" | "appmesh" => "APP_MESH",
        "consul" => "CONSUL",
        "istio" => "ISTIO",
        "kuma" => "KUMA",
        "linkerd" => "LINKERD",
        "traefik" | "traefik-mesh" => "TRAEFIK_MESH",
        "osm" | "open-service-mesh" => "OPEN_SERVICE_MESH",
        "nginx" | "nginx-service-mesh" => "NGINX_SERVICE_MESH",
        "cilium" => "CILIUM_SERVICE_MESH",
        "nsm" | "network-service-mesh" => "NETWORK_SERVICE_MESH",
        _ => "INVALID_MESH",
    }
}

pub fn to_value(r: &BenchResult, ctx: &Context) -> Value {
    let c = &r.config;
    let l = &r.latency;
    let ms = |us: f64| us / 1e3;
    let mut labels = BTreeMap::new();
    labels.insert("load_generator".to_string(), GENERATOR.to_string());
    labels.insert("protocol".to_string(), r.protocol.clone());
    if let Some(label) = &r.label {
        labels.insert("label".to_string(), label.clone());
    }
    let headers: BTreeMap<&str, &str> = c.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let content_type = c
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let duration = match (c.total_time(), c.requests) {
        (Some(t), _) => go_duration((t - c.warmup).as_secs_f64()),
        (None, _) => go_duration(r.duration_s),
    };
    let mut v = json!({
        "smp_version": SMP_VERSION,
        "labels": labels,
        "start_time": rfc3339(r.started_at),
        "end_time": rfc3339(r.ended_at),
        "latencies_ms": {
            "min": ms(l.min as f64),
            "average": ms(l.mean),
            "p50": ms(l.p50 as f64),
            "p90": ms(l.p90 as f64),
            "p99": ms(l.p99 as f64),
            "max": ms(l.max as f64),
        },
        "actual_qps": r.achieved_rate,
        "config": {
            "smp_version": SMP_VERSION,
            "name": r.label.clone().unwrap_or_default(),
            "labels": labels,
            "duration": duration,
            "clients": [{
                "internal": false,
                "load_generator": GENERATOR,
                "protocol": "HTTP",
                "connections": c.connections,
                "rps": r.requested_rate.map_or(0, |q| q.round() as i64),
                "headers": headers,
                "content_type": content_type,
                "endpoint_urls": [r.url],
            }],
        },
    });
    if let Some(env) = &ctx.environment {
        // EnvironmentConfig: `repeated Node node = 5`.
        v["environment"] = json!({
            "smp_version": SMP_VERSION,
            "kubernetes_version": env.kubernetes_version,
            "node": env.nodes.iter().map(|n| json!({"type": n.name, "cores": n.cores, "mem_mb": n.mem_mb})).collect::<Vec<_>>(),
        });
    }
    if let Some(mesh) = &ctx.mesh {
        v["mesh"] = json!({"type": mesh_type(&mesh.name), "version": mesh.version});
    }
    v
}

pub fn render(r: &BenchResult, ctx: &Context) -> Result<String> {
    let mut s = serde_json::to_string_pretty(&to_value(r, ctx)).wrap_err("serialising the SMP result")?;
    s.push('\n');
    Ok(s)
}

//! What to tell a user whose mesh writes no access logs: how to turn them on. meshtop
//! never applies the change itself.

use crate::mesh::Mesh;

/// The change that turns on Envoy access logs for `mesh`, as the mesh's documentation gives
/// it; None for meshes whose proxies are not Envoy (Linkerd has the tap API instead).
pub fn enable_access_logs(mesh: Mesh) -> Option<&'static str> {
    Some(match mesh {
        Mesh::Istio => {
            "Istio: apply a Telemetry resource (apiVersion telemetry.istio.io/v1, kind Telemetry, \
             name mesh-default, namespace istio-system, spec.accessLogging: [{providers: [{name: envoy}]}]), \
             or set meshConfig.accessLogFile: /dev/stdout (accessLogEncoding: JSON for JSON lines)"
        }
        Mesh::Consul => {
            "Consul: set accessLogs.enabled = true in the proxy-defaults config entry \
             (Kind = \"proxy-defaults\", Name = \"global\")"
        }
        Mesh::Kuma => {
            "Kuma: apply a MeshAccessLog policy with a file backend at /dev/stdout \
             (targetRef: Mesh, to: [{targetRef: Mesh, default: {backends: [{type: File, file: {path: /dev/stdout}}]}}])"
        }
        Mesh::Osm => {
            "OSM: its Envoy writes JSON access logs to stdout by default; none came, so check that the \
             pods' envoy container was injected by osm-injector and that traffic reaches them"
        }
        _ => return None,
    })
}

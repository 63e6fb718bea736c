//! How big a recording of a busy session gets, per minute, for a few compression levels and
//! chunk lengths. Prints a table; asserts nothing.
//!
//!   cargo run --release --example recording_size [minutes]
//!
//! The session: 500 Istio pods in 25 namespaces, every proxy scraped every 5 s (inbound and
//! outbound, 20 latency buckets each), metrics.k8s.io every 15 s, ~5 pod changes a second,
//! a tick a second. Flushes (every second) and new frames happen on the session's own clock,
//! as a live recorder's happen on the wall clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meshtop::app::{Stamped, Update};
use meshtop::mesh::detect::WorkloadInfo;
use meshtop::metrics::golden::{Dialect, Totals};
use meshtop::model::{
    ClusterInfo, ContainerInfo, ContainerKind, ContainerUsage, NamespaceInfo, OwnerRef, PodInfo, PodUsage, PortInfo,
    Resource,
};
use meshtop::record::{FlushPolicy, Header, Recorder, Recording};

const PODS: usize = 500;
const NAMESPACES: usize = 25;
const START: i64 = 1_790_000_000_000;
/// Istio's default request-duration buckets, in ms.
const BUCKETS: [f64; 20] = [
    0.5,
    1.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
    60000.0,
    300000.0,
    600000.0,
    1800000.0,
    3600000.0,
    f64::INFINITY,
];

/// xorshift: the same session every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pod(i: usize, restarts: u32, ready: bool) -> PodInfo {
    let app = format!("svc-{:03}", i / 5);
    let hash = format!("{:x}", 0x5d7f_9c00 + i / 5);
    PodInfo {
        namespace: format!("team-{:02}", i % NAMESPACES),
        name: format!("{app}-{hash}-{:05x}", i * 7919 % 0xfffff),
        phase: "Running".into(),
        ready: if ready { 2 } else { 1 },
        containers: 2,
        restarts,
        node: Some(format!("node-{:02}", i % 40)),
        ip: Some(format!("10.{}.{}.{}", 64 + i / 65_536, i / 256 % 256, i % 256)),
        created: Some(START - 86_400_000 + i as i64 * 1_000),
        labels: map(&[
            ("app", &app),
            ("pod-template-hash", &hash),
            ("security.istio.io/tlsMode", "istio"),
            ("service.istio.io/canonical-name", &app),
            ("service.istio.io/canonical-revision", "v1"),
            ("version", "v1"),
        ]),
        annotations: map(&[
            ("istio.io/rev", "default"),
            ("kubectl.kubernetes.io/default-container", "app"),
            ("prometheus.io/path", "/stats/prometheus"),
            ("prometheus.io/port", "15020"),
            ("prometheus.io/scrape", "true"),
            (
                "sidecar.istio.io/status",
                r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}"#,
            ),
        ]),
        containers_info: vec![
            ContainerInfo {
                name: "istio-init".into(),
                image: "docker.io/istio/proxyv2:1.24.0".into(),
                kind: ContainerKind::Init,
                ports: vec![],
                ready: false,
                restarts: 0,
            },
            ContainerInfo {
                name: "app".into(),
                image: format!("registry.example.com/shop/{app}:2.14.{}", i % 9),
                kind: ContainerKind::Main,
                ports: vec![PortInfo {
                    name: Some("http".into()),
                    port: 8080,
                }],
                ready,
                restarts,
            },
            ContainerInfo {
                name: "istio-proxy".into(),
                image: "docker.io/istio/proxyv2:1.24.0".into(),
                kind: ContainerKind::Main,
                ports: vec![PortInfo {
                    name: Some("http-envoy-prom".into()),
                    port: 15090,
                }],
                ready: true,
                restarts: 0,
            },
        ],
        owner: Some(OwnerRef {
            kind: "Deployment".into(),
            name: app,
        }),
        host_network: false,
    }
}

/// Cumulative counters that grow like a proxy's.
fn totals(rng: &mut Rng, requests: &mut f64) -> Totals {
    *requests += (50 + rng.below(500)) as f64;
    let r = *requests;
    let mut cumulative = 0.0;
    let latency_ms = BUCKETS
        .iter()
        .enumerate()
        .map(|(b, le)| {
            cumulative = if le.is_infinite() {
                r
            } else {
                (r * (b as f64 + 1.0) / 14.0).floor().min(r)
            };
            (*le, cumulative)
        })
        .collect();
    Totals {
        requests: r,
        successes: r - (r / 997.0).floor(),
        mtls_requests: r,
        latency_ms,
        tcp_open_connections: (1 + rng.below(12)) as f64,
        ..Totals::default()
    }
}

/// `minutes` of the busy session, in order.
fn session(minutes: i64) -> Vec<Stamped> {
    let mut rng = Rng(0x6d65_7368);
    let mut out = Vec::new();
    let mut push = |at: i64, update: Update| out.push(Stamped { at, update });
    push(
        START,
        Update::Connected {
            cluster: ClusterInfo {
                context: "prod-eu-1".into(),
                cluster: "prod-eu-1".into(),
                server: "https://10.0.0.1:6443".into(),
                version: "v1.34.2".into(),
                namespace: "default".into(),
                named_namespaces: Vec::new(),
            },
        },
    );
    for r in [Resource::Namespaces, Resource::Deployments, Resource::Pods] {
        push(
            START,
            Update::ListStarted {
                resource: r,
                namespace: None,
                seen: Vec::new(),
            },
        );
    }
    for n in 0..NAMESPACES {
        let namespace = NamespaceInfo {
            name: format!("team-{n:02}"),
            phase: "Active".into(),
            labels: map(&[("istio-injection", "enabled")]),
            annotations: BTreeMap::new(),
            created: Some(START - 86_400_000 * 30),
        };
        push(START, Update::NamespaceApplied { namespace });
    }
    for w in 0..PODS / 5 {
        let workload = WorkloadInfo {
            kind: "Deployment".into(),
            namespace: format!("team-{:02}", w * 5 % NAMESPACES),
            name: format!("svc-{w:03}"),
            labels: map(&[("app", &format!("svc-{w:03}"))]),
            ready: 5,
            desired: 5,
            images: vec![format!("registry.example.com/shop/svc-{w:03}:2.14.0")],
            created: Some(START - 86_400_000 * 7),
        };
        push(START, Update::WorkloadApplied { workload });
    }
    let mut restarts = vec![0u32; PODS];
    for (i, r) in restarts.iter().enumerate() {
        push(START, Update::PodApplied { pod: pod(i, *r, true) });
    }
    for r in [Resource::Namespaces, Resource::Deployments, Resource::Pods] {
        push(
            START,
            Update::ListDone {
                resource: r,
                namespace: None,
            },
        );
    }
    let mut inbound = vec![0.0; PODS];
    let mut outbound = vec![0.0; PODS];
    for second in 0..minutes * 60 {
        let t = START + second * 1_000;
        push(t, Update::Tick);
        if second % 5 == 0 {
            push(
                t + 3,
                Update::ApiLatency {
                    millis: 2 + rng.below(20) as u32,
                },
            );
        }
        // A fifth of the pods each second: every pod every 5 s.
        for i in (0..PODS).filter(|i| (*i as i64) % 5 == second % 5) {
            let p = pod(i, 0, true);
            let out = totals(&mut rng, &mut outbound[i]);
            push(
                t + 10 + i as i64 / 5 * 9,
                Update::ProxyScraped {
                    namespace: p.namespace,
                    pod: p.name,
                    dialect: Dialect::Istio,
                    inbound: totals(&mut rng, &mut inbound[i]),
                    outbound: out.clone(),
                    // One destination per pod: its outbound traffic is that edge.
                    edges: [(format!("backend-{}.shop.svc.cluster.local", i % 20), out)].into(),
                    described: Default::default(),
                    bad_lines: 0,
                    first_bad_line: None,
                },
            );
        }
        if second % 15 == 0 {
            let usages = (0..PODS)
                .map(|i| {
                    let p = pod(i, 0, true);
                    PodUsage {
                        namespace: p.namespace,
                        name: p.name,
                        timestamp: Some(format!("2026-09-21T12:{:02}:{:02}Z", second / 60 % 60, second % 60)),
                        window_s: Some(15.0),
                        containers: vec![
                            ContainerUsage {
                                name: "app".into(),
                                cpu_millicores: (rng.below(40_000) as f64) / 100.0,
                                memory_bytes: (64 + rng.below(512)) << 20,
                            },
                            ContainerUsage {
                                name: "istio-proxy".into(),
                                cpu_millicores: (rng.below(8_000) as f64) / 100.0,
                                memory_bytes: (40 + rng.below(40)) << 20,
                            },
                        ],
                    }
                })
                .collect();
            push(
                t + 950,
                Update::PodUsage {
                    usages,
                    origin: meshtop::model::UsageOrigin::MetricsServer,
                },
            );
        }
        // ~5 pod changes a second: readiness flaps and restarts, a few hundred a minute.
        for k in 0..5 {
            let i = rng.below(PODS as u64) as usize;
            let ready = rng.below(3) > 0;
            if !ready {
                restarts[i] += 1;
            }
            push(
                t + 100 + k * 150,
                Update::PodApplied {
                    pod: pod(i, restarts[i], ready),
                },
            );
        }
    }
    out.sort_by_key(|s| s.at);
    out
}

struct Measured {
    text: u64,
    file: u64,
    cpu: Duration,
}

/// Writes the session, flushing every second of session time and closing a frame every
/// `frame_s` seconds of it.
fn measure(entries: &[Stamped], level: i32, frame_s: i64) -> (Measured, Vec<u8>) {
    let policy = FlushPolicy {
        flush_every: Duration::from_secs(3_600),
        frame_bytes: usize::MAX,
        frame_age: Duration::from_secs(3_600),
        level,
    };
    let header = Header::new(
        "synthetic",
        "examples/recording_size.rs: a generated busy session",
        START,
    );
    let started = Instant::now();
    let mut r = Recorder::new(Vec::new(), &header, policy).expect("recorder");
    let mut second = START + 1_000;
    for e in entries {
        while e.at >= second {
            if (second - START) % (frame_s * 1_000) == 0 {
                r.end_frame().expect("end frame");
            } else {
                r.flush().expect("flush");
            }
            second += 1_000;
        }
        r.write(e).expect("write");
    }
    let stats = r.stats();
    let bytes = r.finish().expect("finish");
    let measured = Measured {
        text: stats.text_bytes,
        file: bytes.len() as u64,
        cpu: started.elapsed(),
    };
    (measured, bytes)
}

fn main() {
    let minutes: i64 = std::env::args().nth(1).and_then(|m| m.parse().ok()).unwrap_or(5);
    let entries = session(minutes);
    println!(
        "busy session: {PODS} pods, {minutes} min, {} updates ({:.0} a second)",
        entries.len(),
        entries.len() as f64 / (minutes * 60) as f64
    );
    println!("level  frame   text/min    file/min   ratio   write CPU/min   (flushed every second)");
    let per_min = |b: u64| b as f64 / minutes as f64;
    for (level, frame_s) in [(1, 1), (3, 1), (9, 1), (1, 60), (3, 60), (6, 60), (9, 60), (19, 60)] {
        let (m, bytes) = measure(&entries, level, frame_s);
        println!(
            "{level:>5}  {frame_s:>3} s  {:>7.2} MB  {:>7.3} MB  {:>5.1}×  {:>8.0} ms",
            per_min(m.text) / 1e6,
            per_min(m.file) / 1e6,
            m.text as f64 / m.file as f64,
            m.cpu.as_secs_f64() * 1000.0 / minutes as f64,
        );
        if (level, frame_s) == (6, 60) {
            let started = Instant::now();
            let rec = Recording::from_bytes(&bytes).expect("reading back");
            assert_eq!(rec.entries.len(), entries.len());
            println!(
                "       (reading it back: {:.0} ms a minute of session)",
                started.elapsed().as_secs_f64() * 1000.0 / minutes as f64
            );
        }
    }
}

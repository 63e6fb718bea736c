//! The stand-in mesh proxy (tests/standin/proxy.py) run in a pod's network namespace,
//! forwarding real HTTP traffic to a real upstream, and a client for it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::*;

pub fn get(addr: &str) -> Option<String> {
    get_path(addr, "/index.html")
}

/// One HTTP/1.1 GET of `path` through `addr`; the raw response, or None if it failed.
pub fn get_path(addr: &str, path: &str) -> Option<String> {
    get_with(addr, path, "")
}

/// The same with extra header lines (each ending in CRLF).
pub fn get_with(addr: &str, path: &str, headers: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: web\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Starts upstream + stand-in proxy in the pod's netns; returns the pod IP and processes.
pub async fn standin(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    format: &str,
    metrics_port: u16,
) -> (String, Vec<NetnsProcess>, tempfile::TempDir) {
    standin_with(client, ns, pod, format, metrics_port, &[]).await
}

/// The same, with more arguments for the proxy (`--access-log FILE`, `--tap-feed FILE`).
pub async fn standin_with(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    format: &str,
    metrics_port: u16,
    extra: &[&str],
) -> (String, Vec<NetnsProcess>, tempfile::TempDir) {
    let p = running_pod(client, ns, pod).await;
    let ip = p.status.unwrap().pod_ip.unwrap();
    let netns = pod_netns(ns, pod);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello\n").unwrap();
    let script = repo().join("tests/standin/proxy.py");
    let metrics = metrics_port.to_string();
    let mut proxy = vec![
        "python3",
        script.to_str().unwrap(),
        "--format",
        format,
        "--listen",
        "15001",
        "--upstream",
        "http://127.0.0.1:8080",
        "--metrics",
        &metrics,
        "--namespace",
        ns,
        "--workload",
        pod,
    ];
    proxy.extend_from_slice(extra);
    let procs = vec![
        super::serve_dir_in_netns(&netns, "127.0.0.1", dir.path()),
        spawn_in_netns(&netns, &proxy),
    ];
    let addr = format!("{ip}:15001");
    wait_for("the stand-in proxy to forward", Duration::from_secs(20), || {
        let ok = get(&addr).is_some_and(|r| r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"));
        async move { ok.then_some(()) }
    })
    .await;
    (ip, procs, dir)
}

/// A Logs object: kwok serves the container's log from `file` (CRI format), following it.
pub async fn serve_logs(client: &kube::Client, ns: &str, pod: &str, container: &str, file: &Path) {
    create_yaml(
        client,
        ns,
        &format!(
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Logs\nmetadata: {{name: {pod}}}\nspec:\n  logs:\n  - containers: [{container}]\n    logsFile: {}\n    follow: true\n",
            file.display()
        ),
    )
    .await;
}

pub fn append(file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .unwrap();
    // As the container runtime stores a line the proxy wrote to stdout.
    writeln!(f, "2026-11-30T09:00:00.000000000Z stdout F {line}").unwrap();
}

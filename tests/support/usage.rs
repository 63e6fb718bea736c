//! Real CPU and memory for test-bed pods: `scripts/testbed usage-feed` reads the processes
//! that carry a pod's traffic from /proc every second and writes their usage into the
//! pod's kwok ResourceUsage, which metrics-server then reports. So what meshtop reads
//! through metrics.k8s.io is a measurement, not a constant.

use std::process::{Child, Command, Stdio};

use super::repo;

/// The feeder of one pod; stopped when dropped.
pub struct Feeder {
    child: Child,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Feeds the pod's containers' real usage: (container name, pid of its process).
pub fn feed(ns: &str, pod: &str, containers: &[(&str, u32)]) -> Feeder {
    let child = Command::new(repo().join("scripts/testbed"))
        .args(["usage-feed", ns, pod])
        .args(containers.iter().map(|(c, pid)| format!("{c}={pid}")))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting scripts/testbed usage-feed");
    Feeder { child }
}

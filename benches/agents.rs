//! What following and merging in-cluster agents costs meshtop: every line of the given
//! agents' shards (files written by `meshtop agent`) parsed and checked as the follower
//! does, folded into the live merge (its summary taken after every frame: more often than
//! a run's four times a second, so an upper bound) and merged at the end; repeated, and
//! reported as CPU time per agent per second of the run. The HTTP
//! stream through the API server is not in it (that is the API server's and the TLS
//! library's work, the same for any follower).
//!   cargo bench --bench agents -- SHARD...        (bench/agents-merge.sh makes them)

use std::time::Instant;

use meshtop::agents::live::Live;

fn cpu_s() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn main() {
    let files: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("usage: cargo bench --bench agents -- SHARD...");
        return;
    }
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    let lines: usize = texts.iter().map(|t| t.lines().count()).sum();
    let run_s = {
        let shard = loadgen::shard::read(&texts[0]).expect("a whole shard");
        shard.end.measured_s
    };
    let rounds = 20;
    let (wall, cpu0) = (Instant::now(), cpu_s());
    let mut requests = 0;
    for _ in 0..rounds {
        let mut live = Live::new(texts.len() as u32);
        // Interleaved, as frames arrive from several agents.
        let mut iters: Vec<_> = texts.iter().map(|t| t.lines()).collect();
        loop {
            let mut any = false;
            for (i, it) in iters.iter_mut().enumerate() {
                if let Some(l) = it.next() {
                    any = true;
                    live.apply(i as u32, loadgen::shard::parse_line(l).expect("a frame"))
                        .expect("in order");
                    let _ = live.summary();
                }
            }
            if !any {
                break;
            }
        }
        requests = live.finish(false).expect("merged").merged.result.requests;
    }
    let cpu = (cpu_s() - cpu0) / f64::from(rounds);
    let agent_seconds = texts.len() as f64 * run_s;
    println!(
        "following and merging {} agents ({lines} frames, {requests} requests, {run_s:.1}s run): \
         {:.1} ms CPU per run, {:.0} us CPU per agent per second of run ({:.1} ms wall per run)",
        texts.len(),
        cpu * 1e3,
        cpu * 1e6 / agent_seconds,
        wall.elapsed().as_secs_f64() * 1e3 / f64::from(rounds)
    );
}

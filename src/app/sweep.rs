//! Sweeps as the fold knows them: each is a plan ([`SweepSpec`]) and the benchmark runs
//! made for it (ordinary runs, tagged with the sweep and their place in it). Its result is
//! rebuilt from those runs whenever one ends, so a sweep shows its slowdown table step by
//! step, and a replay builds exactly the table the live session built. Resources come from
//! the usage readings the runs collected while they were measured. Pure.

use serde::{Deserialize, Serialize};

use super::bench::BenchSession;
use super::state::State;
use crate::model::UnixMillis;
use crate::model::sweep::{Resources, RunFigures, SweepResult, SweepRuns, SweepSpec, UsageSample};

/// A run's place in a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRun {
    pub sweep: u32,
    /// Index into the plan's order ([`SweepSpec::run_at`]).
    pub index: u32,
}

/// The bench id of a sweep's run: its own range, so it never meets a run started by hand.
pub fn run_id(sweep: u32, index: usize) -> u32 {
    0x8000_0000 | ((sweep & 0x1f_ffff) << 10) | (index as u32 & 0x3ff)
}

/// Readings keep arriving after a run ends (metrics-server reports a window late), so runs
/// keep collecting them this long after they end.
pub const READING_GRACE_MS: UnixMillis = 90_000;

/// Why a target has no resources: no pod matched its URL.
pub const NO_PODS: &str =
    "no pods: nothing in the cluster serves this URL (a pod IP, a service's ClusterIP, external IP or name)";
/// Why a target has no resources: no reading fell inside its runs.
pub const NO_READING: &str = "no reading of the pods' usage fell inside the runs: metrics-server measures over 10-60 s windows, so runs need to be longer than its resolution";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSession {
    pub id: u32,
    pub spec: SweepSpec,
    pub started: UnixMillis,
    pub finished: Option<UnixMillis>,
    pub cancelled: bool,
    /// The runs made so far; always present, empty until the first run ends.
    pub result: SweepResult,
}

impl SweepSession {
    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    /// Runs that ended (finished or failed) of all the plan's runs.
    pub fn done(&self, benches: &[BenchSession]) -> usize {
        self.runs(benches).filter(|(_, b)| !b.running()).count()
    }

    /// The sweep's runs with their index.
    pub fn runs<'a>(&self, benches: &'a [BenchSession]) -> impl Iterator<Item = (u32, &'a BenchSession)> + 'a {
        let id = self.id;
        benches
            .iter()
            .filter_map(move |b| b.target.sweep.filter(|s| s.sweep == id).map(|s| (s.index, b)))
    }
}

pub fn started(state: &mut State, id: u32, spec: SweepSpec, at: UnixMillis) {
    // meshtop plans at most MAX_RUNS runs; a recording that says more is not one of its
    // sweeps (and its table would be steps x targets of allocations).
    let cells = spec.steps.len().saturating_mul(spec.targets.len());
    if state.sweeps.iter().any(|s| s.id == id)
        || cells > crate::sweep::plan::MAX_RUNS
        || spec.runs() > crate::sweep::plan::MAX_RUNS
    {
        return;
    }
    let result = SweepResult::assemble(&spec, &SweepRuns::default(), at, at, false, None);
    state.sweeps.push(SweepSession {
        id,
        spec,
        started: at,
        finished: None,
        cancelled: false,
        result,
    });
    rebuild(state, id, at);
}

pub fn finished(state: &mut State, id: u32, cancelled: bool, at: UnixMillis) {
    if let Some(s) = state.sweeps.iter_mut().find(|s| s.id == id) {
        s.finished = Some(at);
        s.cancelled = cancelled;
    }
    rebuild(state, id, at);
}

/// The share of the pods' requests over mTLS, as their proxies reported it over the rate
/// window (None without proxy figures). Taken when a run ends, so the window is mostly
/// that run's traffic.
pub fn observed_mtls(state: &State, pods: &[(String, String)]) -> Option<f64> {
    let (mut requests, mut mtls) = (0.0, 0.0);
    for r in pods.iter().filter_map(|k| state.pods.get(k)?.rates.as_ref()) {
        if let Some(share) = r.mtls {
            requests += r.rps;
            mtls += r.rps * share;
        }
    }
    (requests > 0.0).then(|| mtls / requests)
}

/// A run of a sweep ended, or took a reading: its sweep's table is rebuilt.
pub fn run_changed(state: &mut State, bench: u32, at: UnixMillis) {
    let sweep = state
        .benches
        .iter()
        .find(|b| b.id == bench)
        .and_then(|b| b.target.sweep)
        .map(|s| s.sweep);
    if let Some(id) = sweep {
        rebuild(state, id, at);
    }
}

/// A new usage list: running runs (and those that ended less than [`READING_GRACE_MS`]
/// ago) take a reading of their target pods; the sweeps they belong to are rebuilt.
pub fn usage_arrived(state: &mut State, at: UnixMillis) {
    let mut touched = std::collections::BTreeSet::new();
    let mut control = None;
    for i in 0..state.benches.len() {
        let b = &state.benches[i];
        let ended = b.result.as_ref().map(|r| r.ended_at);
        let collecting = b.running() || ended.is_some_and(|e| at - e < READING_GRACE_MS);
        if !collecting || b.target.pods.is_empty() {
            continue;
        }
        let control = control.get_or_insert_with(|| control_usage(state));
        let Some(sample) = reading(state, &b.target.pods, at, control) else {
            continue;
        };
        let b = &mut state.benches[i];
        if b.samples.last().is_some_and(|l| l.end == sample.end) {
            continue;
        }
        b.samples.push(sample);
        if let Some(s) = b.target.sweep {
            touched.insert(s.sweep);
        }
    }
    for id in touched {
        rebuild(state, id, at);
    }
}

/// Whether every one of the pods that reports usage has a reading whose window ends at or
/// after `end` (what a headless sweep waits for before its table is final).
pub fn readings_cover(state: &State, pods: &[(String, String)], end: UnixMillis) -> bool {
    pods.iter().all(|key| match state.usage.get(key) {
        None => true,
        Some(u) => u.timestamp.as_deref().and_then(millis_of).is_some_and(|t| t >= end),
    })
}

fn millis_of(ts: &str) -> Option<UnixMillis> {
    ts.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond())
}

/// The pods' summed usage now, with the window it was measured over (the latest pod's),
/// and the control planes of the meshes the pods are in.
pub fn reading(
    state: &State,
    pods: &[(String, String)],
    at: UnixMillis,
    control: &std::collections::BTreeMap<crate::mesh::Mesh, (f64, f64)>,
) -> Option<UsageSample> {
    let mut s = UsageSample {
        end: UnixMillis::MIN,
        window_ms: 0,
        pods: 0,
        app_cpu_m: 0.0,
        proxy_cpu_m: 0.0,
        app_mem: 0.0,
        proxy_mem: 0.0,
        control_cpu_m: None,
        control_mem: None,
    };
    let mut meshes = std::collections::BTreeSet::new();
    let mut any = false;
    for key in pods {
        let Some(p) = state.pods.get(key) else { continue };
        let Some(u) = p.usage else { continue };
        any = true;
        s.pods += 1;
        s.app_cpu_m += u.app_cpu_m;
        s.proxy_cpu_m += u.proxy_cpu_m;
        s.app_mem += u.app_mem as f64;
        s.proxy_mem += u.proxy_mem as f64;
        if let Some(m) = p.mesh.mesh {
            meshes.insert(m);
        }
        let raw = state.usage.get(key);
        let end = raw
            .and_then(|r| r.timestamp.as_deref())
            .and_then(millis_of)
            .unwrap_or(at);
        s.end = s.end.max(end);
        let window = raw
            .and_then(|r| r.window_s)
            .map_or(0, |w| (w.clamp(0.0, 3600.0) * 1000.0) as u32);
        s.window_ms = s.window_ms.max(window);
    }
    if !any {
        return None;
    }
    for m in &meshes {
        if let Some((cpu, mem)) = control.get(m) {
            *s.control_cpu_m.get_or_insert(0.0) += cpu;
            *s.control_mem.get_or_insert(0.0) += mem;
        }
    }
    Some(s)
}

/// Each mesh's control plane usage now: its control components' whole pods (a Linkerd
/// controller's own proxy is part of what the control plane costs); add-ons (CNI agents,
/// dashboards, Prometheus) are not. One pass over the pods per usage list.
pub fn control_usage(state: &State) -> std::collections::BTreeMap<crate::mesh::Mesh, (f64, f64)> {
    use crate::mesh::rules::Role;
    let mut out = std::collections::BTreeMap::new();
    for p in state.pods.values() {
        if let (Some(Role::Control), Some(m), Some(u)) = (p.mesh.role, p.mesh.mesh, p.usage) {
            let e: &mut (f64, f64) = out.entry(m).or_default();
            e.0 += u.total_cpu();
            e.1 += u.total_mem() as f64;
        }
    }
    out
}

/// Rebuilds a sweep's table from its runs, and each target's resources from its runs'
/// readings.
fn rebuild(state: &mut State, id: u32, at: UnixMillis) {
    let Some(i) = state.sweeps.iter().position(|s| s.id == id) else {
        return;
    };
    let sweep = &state.sweeps[i];
    let spec = &sweep.spec;
    let mut runs = SweepRuns::new(spec.steps.len(), spec.targets.len());
    // (step, target) → the runs' sessions, for their readings and measured periods.
    let mut sessions: std::collections::BTreeMap<(usize, usize), Vec<&BenchSession>> = Default::default();
    for (index, b) in sweep.runs(&state.benches) {
        let Some((step, _, target)) = spec.run_at(index as usize) else {
            continue;
        };
        match (&b.result, &b.error) {
            (Some(r), _) => {
                runs.add(step, target, RunFigures::of(r));
                sessions.entry((step, target)).or_default().push(b);
            }
            (None, Some(e)) => runs.fail(step, target, e.clone()),
            (None, None) => {}
        }
    }
    let watched = state.cluster.is_some();
    let note = (!watched).then(|| crate::model::sweep::NO_CLUSTER.to_string());
    let ended = sweep.finished.unwrap_or(at);
    let mut result = SweepResult::assemble(spec, &runs, sweep.started, ended, sweep.cancelled, note);
    // mTLS as observed at the end of each of a target's runs, averaged over them.
    for (ti, t) in result.targets.iter_mut().enumerate() {
        let seen: Vec<f64> = sessions
            .iter()
            .filter(|((_, target), _)| *target == ti)
            .flat_map(|(_, b)| b.iter().filter_map(|b| b.mtls))
            .collect();
        t.mtls = (!seen.is_empty()).then(|| seen.iter().sum::<f64>() / seen.len() as f64);
    }
    if watched {
        // The result leaves out steps in which nothing ran, as `assemble` does.
        let ran = (0..spec.steps.len())
            .filter(|s| runs.runs[*s].iter().any(|r| !r.is_empty()) || runs.failures[*s].iter().any(|f| !f.is_empty()));
        for (s, step) in ran.zip(result.steps.iter_mut()) {
            for t in step.targets.iter_mut() {
                let Some(ti) = spec.targets.iter().position(|x| x.name == t.name) else {
                    continue;
                };
                let target = &spec.targets[ti];
                if target.pods.is_empty() {
                    t.resources_note = Some(target.pods_note.clone().unwrap_or_else(|| NO_PODS.into()));
                    continue;
                }
                let own = sessions.get(&(s, ti)).map(Vec::as_slice).unwrap_or_default();
                let samples: Vec<UsageSample> = own.iter().flat_map(|b| b.samples.iter().copied()).collect();
                let periods: Vec<(UnixMillis, UnixMillis)> = own
                    .iter()
                    .filter_map(|b| b.result.as_ref().map(|r| (r.started_at, r.ended_at)))
                    .collect();
                t.resources = Resources::from_samples(&samples, &periods, target.pods.len() as u32, t.rps);
                if t.resources.is_none() {
                    t.resources_note = Some(NO_READING.into());
                }
            }
        }
    }
    state.sweeps[i].result = result;
    super::compare::recompute(state);
}

/// The pods that serve `url`, as far as the watched cluster says: a pod's IP, or a
/// service's ClusterIP, load-balancer address or DNS name (`name.ns`, `name.ns.svc`,
/// `name.ns.svc.cluster.local`) and then the pods its selector picks. With nothing
/// matched, the note says why.
pub fn pods_for_url(state: &State, url: &str) -> crate::model::sweep::TargetPods {
    let Some(host) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
    else {
        return (Vec::new(), Some(NO_PODS.into()));
    };
    // A host-network pod shares its node's IP with every other one there: an address
    // matching it says nothing about which of them serves the URL. Finished pods may keep
    // an IP another pod now has.
    let by_ip: Vec<(String, String)> = state
        .pods
        .values()
        .filter(|p| p.info.ip.as_deref() == Some(host.as_str()))
        .filter(|p| !p.info.host_network && !matches!(p.info.phase.as_str(), "Succeeded" | "Failed"))
        .map(|p| (p.info.namespace.clone(), p.info.name.clone()))
        .collect();
    if !by_ip.is_empty() {
        return (by_ip, None);
    }
    let labels: Vec<&str> = host.split('.').collect();
    let by_name = |s: &&crate::model::ServiceInfo| {
        labels.len() >= 2
            && labels[0] == s.name
            && labels[1] == s.namespace
            && (labels.len() == 2 || labels[2] == "svc")
    };
    let service = state
        .services
        .values()
        .find(|s| s.cluster_ip.as_deref() == Some(host.as_str()) || s.external.contains(&host) || by_name(s));
    match service {
        Some(s) => {
            let (_, target, _) = super::bench::service_target(state, s);
            if target.pods.is_empty() {
                let why = format!("no pods: service {}/{} selects no pod", s.namespace, s.name);
                (Vec::new(), Some(why))
            } else {
                (target.pods, None)
            }
        }
        None => (Vec::new(), Some(format!("{NO_PODS}; nothing matched {host}"))),
    }
}

/// What the watched cluster says about a sweep's targets: the pods behind each URL, the
/// mesh they are in and its version, and the cluster's Kubernetes version.
pub fn describe(state: &State, plan: &crate::sweep::SweepPlan) -> SweepSpec {
    let pods: Vec<_> = plan.targets.iter().map(|t| pods_for_url(state, &t.url)).collect();
    let mut spec = plan.spec(&pods);
    spec.kubernetes_version = state.cluster.as_ref().map(|c| c.version.clone());
    for t in &mut spec.targets {
        let mesh = t.pods.iter().find_map(|k| state.pods.get(k).and_then(|p| p.mesh.mesh));
        t.mesh = mesh.map(|m| m.as_str().to_string());
        t.mesh_version = mesh.and_then(|m| {
            state
                .control_planes
                .iter()
                .filter(|c| c.mesh == m)
                .find_map(|c| c.version.clone())
        });
    }
    spec
}

/// The update a sweep's event becomes (cooling down between runs is not one).
pub fn update_for(id: u32, spec: &SweepSpec, e: &crate::sweep::run::Event) -> Option<super::Update> {
    use super::Update;
    use crate::sweep::run::What;
    let bench = run_id(id, e.index);
    Some(match &e.what {
        What::CoolingDown | What::Said(_) => return None,
        What::Started(config) => {
            let t = spec.run_at(e.index).and_then(|(_, _, t)| spec.targets.get(t));
            Update::BenchStarted {
                id: bench,
                config: config.clone(),
                target: super::bench::BenchTarget {
                    origin: format!("sweep {id} {} {} #{}", e.step, e.target, e.repeat + 1),
                    pods: t.map(|t| t.pods.clone()).unwrap_or_default(),
                    sweep: Some(SweepRun {
                        sweep: id,
                        index: e.index as u32,
                    }),
                },
            }
        }
        What::Progress(p) => Update::BenchProgress {
            id: bench,
            progress: p.clone(),
        },
        What::Finished(r) => Update::BenchFinished {
            id: bench,
            result: r.clone(),
        },
        What::Failed(m) => Update::BenchFailed {
            id: bench,
            message: m.clone(),
        },
    })
}

/// What `:sweep` takes, as help and errors say it.
pub const COMMAND_USAGE: &str = ":sweep NAME=URL [NAME=URL ...] (-c 8,16,32 | --rates 100,500 [-c N]) [-z 30s] [--warmup 5s] [--repeat N] [--cooldown 2s] [-q RATE] [--baseline NAME] [--http2]";

/// Parses `:sweep`'s arguments (the flags of `meshtop sweep` that fit on one line) into
/// a checked plan. Targets are `NAME=URL`; the first is the baseline.
pub fn parse_command(args: &str) -> Result<crate::sweep::SweepPlan, String> {
    use crate::input::{Bounds, duration};
    use crate::sweep::plan::{self, SweepPlan, Varies};
    let words: Vec<&str> = args.split_whitespace().collect();
    if words.is_empty() {
        return Err(format!("usage: {COMMAND_USAGE}"));
    }
    let mut targets = Vec::new();
    let (mut connections, mut rates) = (None, None);
    let mut opts: Vec<(&str, &str)> = Vec::new();
    let mut http2 = false;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if w == "--http2" {
            http2 = true;
        } else if w.starts_with('-') {
            let (flag, value) = match w.split_once('=') {
                Some((f, v)) => (f, v),
                None => {
                    i += 1;
                    let v = words.get(i).ok_or_else(|| format!("{w}: needs a value"))?;
                    (w, *v)
                }
            };
            match flag {
                "-c" | "--connections" => {
                    connections = Some(plan::connections_list(value).map_err(|e| format!("{flag}: {e}"))?)
                }
                "--rates" => rates = Some(plan::rates_list(value).map_err(|e| format!("{flag}: {e}"))?),
                "-z" | "--duration" | "--warmup" | "--cooldown" | "--repeat" | "-q" | "--rate" | "--baseline" => {
                    opts.push((flag, value))
                }
                other => return Err(format!("{other}: not a :sweep flag (usage: {COMMAND_USAGE})")),
            }
        } else {
            targets.push(plan::target(w)?);
        }
        i += 1;
    }
    let mut fixed = None;
    let varies = match (connections, rates) {
        (Some(c), Some(r)) if c.len() == 1 => {
            fixed = Some(c[0]);
            Varies::Rates(r)
        }
        (Some(_), Some(_)) => return Err("-c with --rates is one number: the connections of every rate step".into()),
        (Some(c), None) => Varies::Connections(c),
        (None, Some(r)) => Varies::Rates(r),
        (None, None) => Varies::Connections(Vec::new()),
    };
    if let Varies::Connections(c) = &varies
        && let Some(bad) = c.iter().find(|v| !(1..=100_000).contains(*v))
    {
        return Err(format!("-c: {bad} is not between 1 and 100000"));
    }
    if let Varies::Rates(r) = &varies
        && let Some(bad) = r.iter().find(|v| !v.is_finite() || **v <= 0.0)
    {
        return Err(format!("--rates: {bad} is not a rate above 0"));
    }
    let mut p = SweepPlan::new(targets, varies);
    if let Some(c) = fixed {
        p.connections = c;
    }
    p.http2 = http2;
    for (flag, value) in opts {
        let named = |e: String| format!("{flag}: {e}");
        match flag {
            "-z" | "--duration" => p.duration = duration(value, Bounds::RUN).map_err(named)?,
            "--warmup" => p.warmup = duration(value, Bounds::OFFSET).map_err(named)?,
            "--cooldown" => p.cooldown = duration(value, Bounds::OFFSET).map_err(named)?,
            "--repeat" => {
                p.repeat = value
                    .parse()
                    .ok()
                    .filter(|r| (1..=100).contains(r))
                    .ok_or_else(|| named(format!("{value:?} is not a whole number between 1 and 100")))?
            }
            "-q" | "--rate" => {
                p.rate = value
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r >= 0.0)
                    .ok_or_else(|| named(format!("{value:?} is not a rate (0 = closed loop)")))?
            }
            _ => p.baseline = value.to_string(),
        }
    }
    p.validate()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_commands() {
        let p =
            parse_command("direct=http://10.0.0.5:8080/ mesh=http://web.shop/ -c 8,16 -z 10s --repeat 2 --warmup=1s")
                .unwrap();
        assert_eq!(p.targets.len(), 2);
        assert_eq!(p.baseline, "direct");
        assert_eq!(p.runs(), 8);
        assert_eq!(p.duration, std::time::Duration::from_secs(10));
        assert_eq!(p.warmup, std::time::Duration::from_secs(1));
        let p = parse_command("a=http://x/ b=http://y/ --rates 100,500 -c 4 --baseline b --http2").unwrap();
        assert_eq!((p.connections, p.baseline.as_str(), p.http2), (4, "b", true));
        assert_eq!(p.step_name(1), "500 rps");
        for (args, error) in [
            ("", "usage: :sweep NAME=URL"),
            ("a=http://x/ -c", "-c: needs a value"),
            ("a=http://x/ -c 0", "-c: \"0\" is not between 1 and 100000"),
            (
                "a=http://x/ -c 8 --repeat lots",
                "--repeat: \"lots\" is not a whole number between 1 and 100",
            ),
            ("a=http://x/ -c 8 -z forever", "-z: \"forever\" is not a duration"),
            ("a=http://x/ -c 8 --nope 1", "--nope: not a :sweep flag"),
            ("a=http://x/ a=http://y/ -c 8", "target name \"a\" is given twice"),
            (
                "a=http://x/ -c 8 --baseline b",
                "--baseline \"b\" is not one of the targets (a)",
            ),
            ("a=http://x/", "no step: give --connections 8,16,32 or --rates 100,500"),
            ("a=http://x/ -c 8,16 --rates 100", "-c with --rates is one number"),
            ("justaword -c 8", "justaword"),
        ] {
            let e = parse_command(args).unwrap_err();
            assert!(e.starts_with(error) || e.contains(error), "{args:?}: {e}");
        }
    }

    #[test]
    fn a_recorded_sweep_bigger_than_meshtop_plans_is_ignored() {
        let spec = |steps: usize, repeat: u32| SweepSpec {
            label: None,
            baseline: "a".into(),
            varies: "connections".into(),
            steps: vec![(1, 0.0); steps],
            targets: vec![crate::model::sweep::SweepTarget {
                name: "a".into(),
                url: "http://a/".into(),
                pods: vec![],
                pods_note: None,
                mesh: None,
                mesh_version: None,
                mtls: None,
            }],
            duration_s: 1.0,
            requests_per_run: None,
            warmup_s: 0.0,
            cooldown_s: 0.0,
            repeat,
            protocol: "HTTP/1.1".into(),
            kubernetes_version: None,
            tls_not_verified: false,
        };
        let mut state = State::new(Default::default());
        started(&mut state, 1, spec(1_000_000, 1), 0);
        started(&mut state, 2, spec(2, u32::MAX), 0);
        assert!(state.sweeps.is_empty());
        started(&mut state, 3, spec(3, 2), 0);
        assert_eq!(state.sweeps.len(), 1);
        assert_eq!(state.sweeps[0].result.steps.len(), 0, "nothing ran yet");
    }

    #[test]
    fn sweep_run_ids_stay_apart_from_hand_started_runs() {
        assert_eq!(run_id(1, 0), 0x8000_0400);
        assert_eq!(run_id(1, 999), 0x8000_07e7);
        assert_ne!(run_id(1, 5), run_id(2, 5));
        assert!(run_id(3, 7) >= 0x8000_0000);
    }
}

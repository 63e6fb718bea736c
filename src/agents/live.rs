//! The live merge of an in-cluster run, without I/O: each agent's frames as they arrive,
//! summed as they come; at the end, the agents' last frames merged with
//! `loadgen::shard::merge`, after checking that what arrived frame by frame adds up to
//! each agent's own totals exactly (a frame lost or counted twice in a reconnect would
//! show here, not in the result).

use loadgen::shard::{self, End, Frame, Part, Shard, Start};
use loadgen::stats::Stats;

use crate::model::bench::{AgentPhase, AgentStatus, BenchProgress, Phase};

/// Where one agent is.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentState {
    /// No frame yet (its pod is being scheduled, pulling its image, or waiting to start).
    Waiting,
    Running,
    /// Its last frame arrived.
    Done,
    /// Failed, evicted or deleted before its last frame: why.
    Failed(String),
}

/// One agent's frames so far.
#[derive(Debug, Clone)]
pub struct Agent {
    pub index: u32,
    pub pod: Option<String>,
    pub state: AgentState,
    pub start: Option<Start>,
    pub intervals: Vec<Part>,
    /// Its intervals, summed.
    pub summed: Stats,
    pub end: Option<End>,
    /// Lines received: where a follower resumes after a reconnect.
    pub lines: usize,
}

/// Every agent of a run.
pub struct Live {
    pub agents: Vec<Agent>,
    /// All agents' intervals, summed: the live figures.
    pub totals: Stats,
}

/// The live figures, for the progress line.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    /// Over each running agent's latest interval.
    pub rate: f64,
    pub p99_us: u64,
    pub waiting: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
}

/// An agent whose latest frame is this far behind the newest agent's is a straggler.
const BEHIND_MS: i64 = 1000;

/// `from`'s figures added into `into`, exactly.
fn stats_add(into: &mut Stats, from: &Stats) {
    if let Ok((c, h)) = shard::counters_of(from) {
        let _ = shard::add_to(into, &c, &h);
    }
}

/// What the merge gives: the result's source, and the agents left out of it.
pub struct Final {
    pub merged: shard::Merged,
    /// (index, why) of every agent whose share is missing.
    pub missing: Vec<(u32, String)>,
}

impl Live {
    pub fn new(agents: u32) -> Live {
        Live {
            agents: (0..agents)
                .map(|index| Agent {
                    index,
                    pod: None,
                    state: AgentState::Waiting,
                    start: None,
                    intervals: Vec::new(),
                    summed: Stats::default(),
                    end: None,
                    lines: 0,
                })
                .collect(),
            totals: Stats::default(),
        }
    }

    /// Takes one frame of agent `index`, in the order it was written. A frame out of order
    /// is an error (the follower then stops trusting that agent's stream).
    pub fn apply(&mut self, index: u32, frame: Frame) -> Result<(), String> {
        let a = self
            .agents
            .get_mut(index as usize)
            .ok_or_else(|| format!("a frame from agent {index}, which this run does not have"))?;
        let who = format!("agent {index}");
        if let AgentState::Failed(why) = &a.state {
            return Err(format!("{who}: a frame after it failed ({why})"));
        }
        match (frame, &a.start, &a.end) {
            (_, _, Some(_)) => return Err(format!("{who}: a frame after its last")),
            (Frame::Start(s), None, None) => {
                a.start = Some(s);
                a.state = AgentState::Running;
            }
            (Frame::Start(_), Some(_), None) => return Err(format!("{who}: a second start frame")),
            (_, None, None) => return Err(format!("{who}: a frame before its start frame")),
            (Frame::Interval(p), Some(_), None) => {
                if p.seq != a.intervals.len() as u64 {
                    return Err(format!("{who}: interval {} where {} was due", p.seq, a.intervals.len()));
                }
                shard::add_to(&mut a.summed, &p.counters, &p.histograms).map_err(|e| format!("{who}: {e}"))?;
                shard::add_to(&mut self.totals, &p.counters, &p.histograms).map_err(|e| format!("{who}: {e}"))?;
                a.intervals.push(p);
            }
            (Frame::End(e), Some(_), None) => {
                a.end = Some(e);
                a.state = AgentState::Done;
            }
        }
        a.lines += 1;
        Ok(())
    }

    /// Agent `index` will send no more frames: its share leaves the live figures, as it
    /// leaves the result.
    pub fn fail(&mut self, index: u32, why: String) {
        if let Some(a) = self.agents.get_mut(index as usize)
            && a.state != AgentState::Done
        {
            a.state = AgentState::Failed(why);
            let mut totals = Stats::default();
            for a in self.agents.iter().filter(|a| !matches!(a.state, AgentState::Failed(_))) {
                stats_add(&mut totals, &a.summed);
            }
            self.totals = totals;
        }
    }

    /// Every agent is done or failed.
    pub fn over(&self) -> bool {
        self.agents
            .iter()
            .all(|a| matches!(a.state, AgentState::Done | AgentState::Failed(_)))
    }

    pub fn failures(&self) -> Vec<(u32, String)> {
        self.agents
            .iter()
            .filter_map(|a| match &a.state {
                AgentState::Failed(why) => Some((a.index, why.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn summary(&self) -> Summary {
        let count = |f: fn(&AgentState) -> bool| self.agents.iter().filter(|a| f(&a.state)).count();
        let rate = self
            .agents
            .iter()
            .filter(|a| a.state == AgentState::Running)
            .filter_map(|a| a.intervals.last())
            .map(|p| (p.counters.responses + p.counters.errors.total()) as f64 / 0.2)
            .sum();
        Summary {
            requests: self.totals.requests(),
            errors: self.totals.errors.total(),
            rate,
            p99_us: self.totals.corrected.value_at_quantile(0.99),
            waiting: count(|s| *s == AgentState::Waiting),
            running: count(|s| *s == AgentState::Running),
            done: count(|s| *s == AgentState::Done),
            failed: count(|s| matches!(s, AgentState::Failed(_))),
        }
    }

    /// Each agent as the bench view lists it; `whole` is the run's spec (shares are
    /// computed from it), `start_at` the planned start (ms).
    pub fn statuses(&self, whole: &loadgen::BenchSpec, start_at: i64) -> Vec<AgentStatus> {
        let newest = self
            .agents
            .iter()
            .filter_map(|a| a.intervals.last().map(|p| p.at))
            .max();
        let count = self.agents.len() as u32;
        self.agents
            .iter()
            .map(|a| {
                let last = a.intervals.last();
                let late = a.start.as_ref().is_some_and(|s| s.started_at - start_at > BEHIND_MS);
                let lagging = a.state == AgentState::Running
                    && matches!((newest, last), (Some(n), Some(l)) if n - l.at > BEHIND_MS);
                AgentStatus {
                    index: a.index,
                    pod: a.pod.clone(),
                    state: match a.state {
                        AgentState::Waiting => AgentPhase::Waiting,
                        AgentState::Running => AgentPhase::Running,
                        AgentState::Done => AgentPhase::Done,
                        AgentState::Failed(_) => AgentPhase::Failed,
                    },
                    why: match &a.state {
                        AgentState::Failed(w) => Some(w.clone()),
                        _ => None,
                    },
                    share: loadgen::split::share(whole, a.index, count)
                        .map(|s| loadgen::split::describe(&s))
                        .unwrap_or_default(),
                    requests: a.summed.requests(),
                    rate: match (&a.state, last) {
                        (AgentState::Running, Some(p)) => {
                            (p.counters.responses + p.counters.errors.total()) as f64 / 0.2
                        }
                        _ => 0.0,
                    },
                    behind: late || lagging,
                }
            })
            .collect()
    }

    /// The merged live snapshot for the bench view, at `now` (ms).
    pub fn progress(&self, whole: &loadgen::BenchSpec, start_at: i64, now: i64) -> BenchProgress {
        let mut p: BenchProgress = loadgen::engine::progress_of(whole, &self.totals).into();
        let measure_from = start_at + i64::try_from(whole.warmup.as_millis()).unwrap_or(0);
        p.phase = if self.over() {
            Phase::Finished
        } else if self.agents.iter().all(|a| a.state == AgentState::Waiting) {
            Phase::Connecting
        } else if now < measure_from {
            Phase::Warmup
        } else {
            Phase::Running
        };
        p.elapsed_s = (now - measure_from).max(0) as f64 / 1000.0;
        p.warmup_left_s = (measure_from - now).max(0) as f64 / 1000.0;
        p.current_rps = self.summary().rate;
        p.requested_rate = (whole.rate > 0.0).then_some(whole.rate);
        p
    }

    /// The agents that sent their last frame, merged; each agent's frames must add up to
    /// its last frame exactly. `cancelled`: the run was stopped, and an agent without its
    /// last frame is merged from what it sent (its end made from its intervals).
    pub fn finish(&self, cancelled: bool) -> Result<Final, String> {
        let mut shards = Vec::new();
        let mut missing = Vec::new();
        for a in &self.agents {
            let name = format!(
                "agent {}{}",
                a.index,
                a.pod.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
            );
            let (Some(start), end) = (&a.start, &a.end) else {
                missing.push((a.index, why_missing(a)));
                continue;
            };
            let failed = matches!(a.state, AgentState::Failed(_));
            let end = match end {
                Some(e) if !failed => e.clone(),
                // Stopped before its last frame came: what it sent is what it ran.
                None if cancelled && !failed && !a.intervals.is_empty() => made_end(start, a)?,
                _ => {
                    missing.push((a.index, why_missing(a)));
                    continue;
                }
            };
            let mut totals = Stats::default();
            shard::add_to(&mut totals, &end.counters, &end.histograms).map_err(|e| format!("{name}: {e}"))?;
            // The figures reported are exact or left out, named.
            if end.intervals != a.intervals.len() as u64 || !shard::same(&a.summed, &totals) {
                missing.push((
                    a.index,
                    format!(
                        "its frames add up to {} requests in {} intervals, its last frame says {} in {}: frames were lost or repeated",
                        a.summed.requests(),
                        a.intervals.len(),
                        totals.requests(),
                        end.intervals
                    ),
                ));
                continue;
            }
            shards.push((
                name,
                Shard {
                    start: start.clone(),
                    intervals: a.intervals.clone(),
                    end,
                    totals,
                },
            ));
        }
        if shards.is_empty() {
            return Err("no agent sent its frames: nothing to merge".into());
        }
        Ok(Final {
            merged: shard::merge(&shards)?,
            missing,
        })
    }
}

fn why_missing(a: &Agent) -> String {
    match &a.state {
        AgentState::Failed(why) => why.clone(),
        AgentState::Waiting => "never started".into(),
        _ => "stopped before its last frame".into(),
    }
}

/// The end of a cancelled agent that sent no last frame: its intervals, summed.
fn made_end(start: &Start, a: &Agent) -> Result<End, String> {
    let (counters, histograms) = shard::counters_of(&a.summed)?;
    let last = a.intervals.last().map_or(start.started_at, |p| p.at);
    let from = start.started_at + i64::try_from(start.spec.warmup.as_millis()).unwrap_or(0);
    Ok(End {
        intervals: a.intervals.len() as u64,
        counters,
        histograms,
        measured_from: from.min(last),
        measured_s: (last - from.min(last)) as f64 / 1000.0,
        cancelled: true,
        requested_rate: (start.spec.rate > 0.0).then_some(start.spec.rate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real shard of a short run against a closed port (errors only): frames as an
    /// agent writes them.
    fn frames() -> Vec<Frame> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut config = loadgen::BenchConfig::new("http://127.0.0.1:9/");
        config.spec.connections = 2;
        config.spec.threads = 1;
        config.spec.rate = 200.0;
        config.spec.duration = Some(std::time::Duration::from_millis(700));
        let file = std::fs::File::create(&path).unwrap();
        rt.block_on(async {
            loadgen::engine::start_with_shard(config, Some(Box::new(file)))
                .unwrap()
                .finish()
                .await
                .unwrap()
        });
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| shard::parse_line(l).unwrap())
            .collect()
    }

    #[test]
    fn frames_in_order_merge_to_the_agents_totals() {
        let f = frames();
        let mut live = Live::new(2);
        for (i, frame) in f.iter().enumerate() {
            live.apply(0, frame.clone()).unwrap();
            if i == 0 {
                assert_eq!(live.agents[0].state, AgentState::Running);
            }
        }
        assert!(!live.over());
        live.fail(1, "pod evicted".into());
        assert!(live.over());
        let fin = live.finish(false).unwrap();
        assert_eq!(fin.missing, vec![(1, "pod evicted".to_string())]);
        let Frame::End(end) = f.last().unwrap() else { panic!() };
        let want = end.counters.responses + end.counters.errors.total();
        assert!(want > 0);
        assert_eq!(fin.merged.result.requests, want);
        assert_eq!(live.summary().requests, want);
        assert_eq!((live.summary().done, live.summary().failed), (1, 1));
        let Frame::Start(start) = &f[0] else { panic!() };
        let mut whole = start.spec.clone();
        whole.connections = 4;
        whole.rate = 400.0;
        let st = live.statuses(&whole, start.started_at);
        assert_eq!(st[0].state, AgentPhase::Done);
        assert_eq!(
            (st[0].requests, st[0].share.as_str()),
            (want, "rate 200/s, 2 connections")
        );
        assert_eq!(
            (st[1].state, st[1].why.as_deref()),
            (AgentPhase::Failed, Some("pod evicted"))
        );
        assert!(!st[0].behind, "it started on time");
        assert!(live.statuses(&whole, start.started_at - 5000)[0].behind, "5 s late");
        let p = live.progress(&whole, start.started_at, start.started_at + 1500);
        assert_eq!((p.phase, p.requests, p.elapsed_s), (Phase::Finished, want, 1.5));
        assert_eq!(p.requested_rate, Some(400.0));
    }

    #[test]
    fn a_repeated_or_skipped_frame_is_refused() {
        let f = frames();
        assert!(f.len() >= 4, "start, intervals, end");
        let mut live = Live::new(1);
        live.apply(0, f[0].clone()).unwrap();
        live.apply(0, f[1].clone()).unwrap();
        assert_eq!(
            live.apply(0, f[1].clone()).unwrap_err(),
            "agent 0: interval 0 where 1 was due"
        );
        assert!(live.apply(0, f[0].clone()).unwrap_err().contains("second start"));
        assert!(live.apply(3, f[0].clone()).is_err());
    }

    #[test]
    fn an_end_that_disagrees_with_the_intervals_is_named() {
        let f = frames();
        let mut live = Live::new(1);
        // Every frame but one interval: the end frame then counts more than arrived.
        for (i, frame) in f.iter().enumerate() {
            if i == 1 {
                continue;
            }
            let frame = match frame.clone() {
                Frame::Interval(mut p) => {
                    p.seq -= 1;
                    Frame::Interval(p)
                }
                other => other,
            };
            live.apply(0, frame).unwrap();
        }
        // Left out of the figures, and named.
        let e = live.finish(false).err().unwrap();
        assert_eq!(e, "no agent sent its frames: nothing to merge");
        let mut ok = Live::new(2);
        for frame in &f {
            ok.apply(1, frame.clone()).unwrap();
        }
        ok.agents[0] = live.agents[0].clone();
        let fin = ok.finish(false).unwrap();
        assert_eq!(fin.missing.len(), 1);
        assert_eq!(fin.missing[0].0, 0);
        assert!(
            fin.missing[0].1.contains("frames were lost or repeated"),
            "{:?}",
            fin.missing
        );
    }

    #[test]
    fn a_failed_agent_leaves_the_live_figures_and_sends_no_more() {
        let f = frames();
        let mut live = Live::new(2);
        for frame in &f[..4] {
            live.apply(0, frame.clone()).unwrap();
            live.apply(1, frame.clone()).unwrap();
        }
        let one = live.agents[0].summed.requests();
        assert_eq!(live.summary().requests, 2 * one);
        live.fail(1, "evicted".into());
        assert_eq!(live.summary().requests, one, "its share is out of the live figures");
        assert!(
            live.apply(1, f[4].clone())
                .unwrap_err()
                .contains("after it failed (evicted)")
        );
        assert_eq!(live.agents[1].state, AgentState::Failed("evicted".into()));
        // Stopped now: the failed one stays missing, the other merges from its intervals.
        let fin = live.finish(true).unwrap();
        assert_eq!(fin.missing, vec![(1, "evicted".to_string())]);
        assert_eq!(fin.merged.result.requests, one);
    }

    #[test]
    fn a_cancelled_agent_without_its_end_is_merged_from_its_intervals() {
        let f = frames();
        let mut live = Live::new(1);
        for frame in &f[..f.len() - 1] {
            live.apply(0, frame.clone()).unwrap();
        }
        assert!(live.finish(false).is_err(), "not cancelled: nothing to merge");
        let fin = live.finish(true).unwrap();
        assert!(fin.merged.result.cancelled);
        assert_eq!(fin.merged.result.requests, live.totals.requests());
    }
}

//! Open-loop schedule and latency correction, as pure functions of offsets from the
//! run start, so they can be checked with a fake clock.
//!
//! Like wrk2, the total rate is split evenly across lanes (connection x stream), each
//! with its own fixed schedule: lane `l` of `n` sends its k-th request at
//! `l/rate + k*n/rate`, so the lanes interleave into one evenly spaced stream. A lane
//! that falls behind sends at once (catch-up) but never moves its schedule, so a
//! request's latency counts from when it *should* have been sent (coordinated omission
//! corrected); the latency from the actual send is kept too.

use std::time::Duration;

use super::config::RateStep;

/// Total requests/s over time since the run start: the warm-up at the first step's
/// rate, then the ramp's steps, then the main rate for ever (the run's end is decided
/// elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub struct RatePlan {
    /// (start offset, rate), sorted by start.
    steps: Vec<(Duration, f64)>,
}

impl RatePlan {
    /// None for a closed loop (`rate` 0).
    pub fn new(warmup: Duration, ramp: &[RateStep], rate: f64) -> Option<RatePlan> {
        if rate <= 0.0 {
            return None;
        }
        let first = ramp.first().map_or(rate, |s| s.rate);
        let mut steps = vec![(Duration::ZERO, first)];
        let mut at = warmup;
        for step in ramp {
            steps.push((at, step.rate));
            at += step.duration;
        }
        steps.push((at, rate));
        Some(RatePlan { steps })
    }

    pub fn rate_at(&self, t: Duration) -> f64 {
        let i = self.steps.partition_point(|(start, _)| *start <= t);
        self.steps[i.saturating_sub(1)].1
    }
}

/// One lane's intended send times.
#[derive(Debug, Clone)]
pub struct LaneSchedule {
    plan: RatePlan,
    lanes: f64,
    /// Seconds since the run start; f64 keeps sub-nanosecond steps exact enough for hours.
    next: f64,
}

impl LaneSchedule {
    pub fn new(plan: RatePlan, lane: u32, lanes: u32) -> LaneSchedule {
        let first = lane as f64 / plan.rate_at(Duration::ZERO);
        LaneSchedule {
            plan,
            lanes: lanes.max(1) as f64,
            next: first,
        }
    }

    /// The next intended send time, as an offset from the run start.
    pub fn next_send(&mut self) -> Duration {
        // A rate so low that the next send lies beyond Duration's range never sends again.
        let at = Duration::try_from_secs_f64(self.next).unwrap_or(Duration::MAX);
        self.next += self.lanes / self.plan.rate_at(at);
        at
    }
}

/// When a request leaves: at its intended time, or as soon as the lane is free when it
/// is late (catch-up, no skipping).
pub fn send_time(intended: Duration, lane_free: Duration) -> Duration {
    intended.max(lane_free)
}

/// One request's three instants, as offsets from the run start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub intended: Duration,
    pub sent: Duration,
    pub done: Duration,
}

impl Timing {
    /// From the intended send time: what a user arriving on schedule would see.
    pub fn corrected(&self) -> Duration {
        self.done.saturating_sub(self.intended)
    }

    /// From the actual send time: what the server took once it had the request.
    pub fn uncorrected(&self) -> Duration {
        self.done.saturating_sub(self.sent)
    }

    /// How late the generator sent it (its own or the lane's fault, not the server's).
    pub fn lag(&self) -> Duration {
        self.sent.saturating_sub(self.intended)
    }

    /// Requests due during the warm-up are sent but not counted, even when they
    /// complete after it.
    pub fn measured(&self, warmup: Duration) -> bool {
        self.intended >= warmup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn plan(rate: f64) -> RatePlan {
        RatePlan::new(Duration::ZERO, &[], rate).unwrap()
    }

    #[test]
    fn closed_loop_has_no_plan() {
        assert!(RatePlan::new(Duration::ZERO, &[], 0.0).is_none());
    }

    #[test]
    fn lanes_interleave_into_an_even_stream() {
        // 1000 rps over 4 lanes: each lane every 4 ms, lane l offset by l ms.
        let mut all: Vec<Duration> = (0..4)
            .flat_map(|l| {
                let mut s = LaneSchedule::new(plan(1000.0), l, 4);
                (0..250).map(move |_| s.next_send())
            })
            .collect();
        all.sort();
        assert_eq!(all.len(), 1000);
        for (i, t) in all.iter().enumerate() {
            let want = Duration::from_micros(i as u64 * 1000);
            let diff = t.abs_diff(want);
            assert!(diff < Duration::from_nanos(10), "send {i} at {t:?}, want {want:?}");
        }
        // Exactly `rate` sends fall in each second.
        let mut s = LaneSchedule::new(plan(1000.0), 0, 1);
        let in_first_second = std::iter::repeat_with(|| s.next_send())
            .take_while(|t| *t < Duration::from_secs(1))
            .count();
        assert_eq!(in_first_second, 1000);
    }

    #[test]
    fn ramp_steps_change_the_spacing() {
        let ramp = [
            RateStep {
                rate: 10.0,
                duration: Duration::from_secs(1),
            },
            RateStep {
                rate: 100.0,
                duration: Duration::from_secs(1),
            },
        ];
        // 1 s warm-up at the first step's rate, then 10, then 100, then 1000 rps.
        let p = RatePlan::new(Duration::from_secs(1), &ramp, 1000.0).unwrap();
        assert_eq!(p.rate_at(ms(500)), 10.0);
        assert_eq!(p.rate_at(ms(1500)), 10.0);
        assert_eq!(p.rate_at(ms(2500)), 100.0);
        assert_eq!(p.rate_at(ms(3000)), 1000.0);
        assert_eq!(p.rate_at(Duration::from_secs(3600)), 1000.0);
        let mut s = LaneSchedule::new(p, 0, 1);
        let sends: Vec<Duration> = std::iter::repeat_with(|| s.next_send())
            .take_while(|t| *t < Duration::from_secs(4))
            .collect();
        let count = |from: u64, to: u64| sends.iter().filter(|t| **t >= ms(from) && **t < ms(to)).count();
        assert_eq!(count(0, 1000), 10);
        assert_eq!(count(1000, 2000), 10);
        assert_eq!(count(2000, 3000), 100);
        assert_eq!(count(3000, 4000), 1000);
    }

    #[test]
    fn correction_counts_from_the_intended_time() {
        let t = Timing {
            intended: ms(100),
            sent: ms(130),
            done: ms(135),
        };
        assert_eq!(t.corrected(), ms(35));
        assert_eq!(t.uncorrected(), ms(5));
        assert_eq!(t.lag(), ms(30));
        // Sent early (timer jitter) is no negative lag.
        let early = Timing {
            intended: ms(100),
            sent: ms(99),
            done: ms(101),
        };
        assert_eq!(early.lag(), Duration::ZERO);
        assert_eq!(early.corrected(), ms(1));
    }

    #[test]
    fn warmup_excludes_by_intended_time() {
        let warmup = Duration::from_secs(2);
        let straddling = Timing {
            intended: ms(1999),
            sent: ms(1999),
            done: ms(2500),
        };
        assert!(!straddling.measured(warmup));
        let first = Timing {
            intended: ms(2000),
            sent: ms(2001),
            done: ms(2002),
        };
        assert!(first.measured(warmup));
    }

    /// Runs one lane against a server with the given response time, on a fake clock.
    fn simulate(rate: f64, lanes: u32, end: Duration, service: impl Fn(Duration) -> Duration) -> Vec<Timing> {
        let mut out = Vec::new();
        for lane in 0..lanes {
            let mut s = LaneSchedule::new(plan(rate), lane, lanes);
            let mut free = Duration::ZERO;
            loop {
                let intended = s.next_send();
                if intended >= end {
                    break;
                }
                let sent = send_time(intended, free);
                let done = sent + service(sent);
                free = done;
                out.push(Timing { intended, sent, done });
            }
        }
        out
    }

    fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
        v.sort();
        v[((p / 100.0) * v.len() as f64).ceil() as usize - 1]
    }

    #[test]
    fn late_lane_catches_up_without_skipping() {
        // One lane at 100 rps (every 10 ms); the server takes 45 ms once at t=0.
        let timings = simulate(100.0, 1, ms(100), |sent| if sent == ms(0) { ms(45) } else { ms(1) });
        let sent: Vec<u64> = timings.iter().map(|t| t.sent.as_millis() as u64).collect();
        // Requests due at 10..40 ms go back to back once the lane is free, then on schedule.
        assert_eq!(sent, [0, 45, 46, 47, 48, 50, 60, 70, 80, 90]);
        assert_eq!(timings.len(), 10, "catch-up keeps every scheduled request");
        assert_eq!(timings[1].corrected(), ms(36));
        assert_eq!(timings[1].uncorrected(), ms(1));
        assert_eq!(timings[4].lag(), ms(8));
    }

    #[test]
    fn one_second_stall_shows_in_corrected_percentiles() {
        // BENCHMARKS.md: 1000 rps for 10 s, the server stalls 1 s once. About 10% of
        // requests fall in the stall with delays spread over 0..1 s, so corrected p95
        // is near 0.5 s and p99 near 0.9 s; uncorrected sees one slow request per lane.
        let stall = (Duration::from_secs(5), Duration::from_secs(6));
        let service = |sent: Duration| {
            if sent >= stall.0 && sent < stall.1 {
                stall.1 - sent + ms(1)
            } else {
                ms(1)
            }
        };
        let lanes = 20;
        let timings = simulate(1000.0, lanes, Duration::from_secs(10), service);
        assert_eq!(timings.len(), 10_000);
        let corrected: Vec<Duration> = timings.iter().map(Timing::corrected).collect();
        let p95 = percentile(corrected.clone(), 95.0);
        let p99 = percentile(corrected, 99.0);
        assert!(p95 > ms(450) && p95 < ms(550), "corrected p95 {p95:?}");
        assert!(p99 > ms(850) && p99 < ms(950), "corrected p99 {p99:?}");
        let slow = timings.iter().filter(|t| t.uncorrected() > ms(10)).count();
        assert_eq!(slow, lanes as usize, "uncorrected: one slow request per lane");
        let uncorrected: Vec<Duration> = timings.iter().map(Timing::uncorrected).collect();
        assert!(percentile(uncorrected, 99.0) < ms(5));
    }
}

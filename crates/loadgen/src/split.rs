//! Splitting one run over several agents: each gets a share of the rate (and of every ramp
//! step's rate), of the connections and of the request count. Remainders go one unit each
//! to the first agents, so the shares always add up to what was asked, and no agent is
//! left with nothing to do (a share of rate 0 would be a closed loop).

use crate::types::BenchSpec;

/// Rates are split in thousandths of a request per second: exact in integers, and finer
/// than any rate a user types.
const RATE_UNIT: f64 = 1000.0;

/// `total` over `count` parts: part `index`. The first `total % count` parts get one more.
pub fn part(total: u64, index: u32, count: u32) -> u64 {
    let (n, i) = (u64::from(count.max(1)), u64::from(index));
    total / n + u64::from(i < total % n)
}

fn rate_units(rate: f64) -> u64 {
    (rate * RATE_UNIT).round() as u64
}

fn rate_part(rate: f64, index: u32, count: u32) -> f64 {
    part(rate_units(rate), index, count) as f64 / RATE_UNIT
}

/// Agent `index`'s share (0-based) of `spec` run by `count` agents: rate, ramp rates,
/// connections and requests divided; everything else as given. Errors when a share would
/// be empty, naming what to change.
pub fn share(spec: &BenchSpec, index: u32, count: u32) -> Result<BenchSpec, String> {
    if count == 0 {
        return Err("the run needs at least one agent".into());
    }
    if index >= count {
        return Err(format!("agent index {index} is not below the agent count {count}"));
    }
    if spec.connections < count {
        return Err(format!(
            "{} connections over {count} agents leaves some agents none: give at least one connection per agent",
            spec.connections
        ));
    }
    if let Some(n) = spec.requests
        && n < u64::from(count)
    {
        return Err(format!(
            "{n} requests over {count} agents leaves some agents none: ask for at least one per agent"
        ));
    }
    let open = spec.rate > 0.0;
    for rate in std::iter::once(spec.rate).chain(spec.ramp.iter().map(|s| s.rate)) {
        if open && rate_units(rate) < u64::from(count) {
            return Err(format!(
                "a rate of {rate}/s over {count} agents leaves some agents none: at least {}/s is needed",
                f64::from(count) / RATE_UNIT
            ));
        }
    }
    let mut out = spec.clone();
    out.connections = part(u64::from(spec.connections), index, count) as u32;
    out.requests = spec.requests.map(|n| part(n, index, count));
    if open {
        out.rate = rate_part(spec.rate, index, count);
    }
    for step in &mut out.ramp {
        step.rate = rate_part(step.rate, index, count);
    }
    Ok(out)
}

/// What share `index` of `count` runs, in words: "rate 333.334/s, 17 connections".
pub fn describe(spec: &BenchSpec) -> String {
    let mut parts = Vec::new();
    if spec.rate > 0.0 {
        parts.push(format!("rate {}/s", spec.rate));
    }
    parts.push(format!("{} connections", spec.connections));
    if let Some(n) = spec.requests {
        parts.push(format!("{n} requests"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RateStep;
    use std::time::Duration;

    fn spec(rate: f64, connections: u32, requests: Option<u64>) -> BenchSpec {
        let mut s = crate::BenchConfig::new("http://127.0.0.1:1/").spec;
        s.rate = rate;
        s.connections = connections;
        s.requests = requests;
        s
    }

    #[test]
    fn remainders_go_to_the_first_agents() {
        let s = spec(1000.0, 50, Some(10));
        let shares: Vec<BenchSpec> = (0..3).map(|i| share(&s, i, 3).unwrap()).collect();
        assert_eq!(
            shares.iter().map(|s| s.connections).collect::<Vec<_>>(),
            vec![17, 17, 16]
        );
        assert_eq!(
            shares.iter().map(|s| s.requests.unwrap()).collect::<Vec<_>>(),
            vec![4, 3, 3]
        );
        assert_eq!(
            shares.iter().map(|s| s.rate).collect::<Vec<_>>(),
            vec![333.334, 333.333, 333.333]
        );
        assert_eq!(describe(&shares[0]), "rate 333.334/s, 17 connections, 4 requests");
    }

    #[test]
    fn a_closed_loop_stays_closed_and_ramps_split_step_by_step() {
        let s = spec(0.0, 4, None);
        assert_eq!(share(&s, 1, 2).unwrap().rate, 0.0);
        let mut s = spec(100.0, 4, None);
        s.ramp = vec![RateStep {
            rate: 10.0,
            duration: Duration::from_secs(5),
        }];
        let a = share(&s, 0, 4).unwrap();
        assert_eq!(
            (a.rate, a.ramp[0].rate, a.ramp[0].duration),
            (25.0, 2.5, Duration::from_secs(5))
        );
    }

    #[test]
    fn empty_shares_are_refused_by_name() {
        let e = share(&spec(0.0, 3, None), 0, 4).unwrap_err();
        assert!(e.starts_with("3 connections over 4 agents"), "{e}");
        let e = share(&spec(0.0, 8, Some(2)), 0, 4).unwrap_err();
        assert!(e.starts_with("2 requests over 4 agents"), "{e}");
        let e = share(&spec(0.002, 8, None), 0, 4).unwrap_err();
        assert!(e.contains("at least 0.004/s"), "{e}");
        assert!(share(&spec(10.0, 8, None), 4, 4).is_err());
        assert!(share(&spec(10.0, 8, None), 0, 0).is_err());
    }

    proptest::proptest! {
        #[test]
        fn shares_add_up_to_the_whole(
            units in 1u64..10_000_000_000, connections in 1u32..100_000, requests in proptest::option::of(1u64..u64::MAX / 2), count in 1u32..512,
        ) {
            let s = spec(units as f64 / RATE_UNIT, connections, requests);
            let shares: Result<Vec<BenchSpec>, String> = (0..count).map(|i| share(&s, i, count)).collect();
            let fits = connections >= count && requests.is_none_or(|n| n >= u64::from(count)) && units >= u64::from(count);
            proptest::prop_assert_eq!(shares.is_ok(), fits);
            if let Ok(shares) = shares {
                proptest::prop_assert_eq!(shares.iter().map(|s| u64::from(s.connections)).sum::<u64>(), u64::from(connections));
                proptest::prop_assert_eq!(shares.iter().map(|s| rate_units(s.rate)).sum::<u64>(), units);
                if let Some(n) = requests {
                    proptest::prop_assert_eq!(shares.iter().map(|s| s.requests.unwrap()).sum::<u64>(), n);
                }
                proptest::prop_assert!(shares.iter().all(|s| s.connections >= 1 && s.rate > 0.0));
                let (max, min) = (shares.iter().map(|s| s.connections).max().unwrap(), shares.iter().map(|s| s.connections).min().unwrap());
                proptest::prop_assert!(max - min <= 1);
            }
        }
    }
}

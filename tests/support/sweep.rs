//! Checks of a sweep's result that hold for any sweep: every median, ratio and added
//! millisecond equals the value recomputed here from the runs the result keeps.

use meshtop::model::sweep::{RunFigures, SweepResult, median};

pub fn assert_recomputed(r: &SweepResult) {
    for step in &r.steps {
        let base = step
            .targets
            .iter()
            .find(|t| t.name == r.baseline)
            .expect("the baseline ran in every step");
        for t in &step.targets {
            assert_eq!(t.requests, t.runs.iter().map(|r| r.requests).sum::<u64>());
            let med = |f: fn(&RunFigures) -> f64| median(&t.runs.iter().map(f).collect::<Vec<_>>()).unwrap();
            assert_eq!(t.p50_ms, med(|r| r.p50_ms), "{}", t.name);
            assert_eq!(t.p90_ms, med(|r| r.p90_ms), "{}", t.name);
            assert_eq!(t.p99_ms, med(|r| r.p99_ms), "{}", t.name);
            assert_eq!(t.rps, med(|r| r.rps), "{}", t.name);
            assert_eq!(t.slowdown.p50, Some(t.p50_ms / base.p50_ms), "{}", t.name);
            assert_eq!(t.slowdown.p90, Some(t.p90_ms / base.p90_ms), "{}", t.name);
            assert_eq!(t.slowdown.p99, Some(t.p99_ms / base.p99_ms), "{}", t.name);
            assert_eq!(t.added_ms.p50, Some(t.p50_ms - base.p50_ms), "{}", t.name);
            assert_eq!(t.added_ms.p90, Some(t.p90_ms - base.p90_ms), "{}", t.name);
            assert_eq!(t.added_ms.p99, Some(t.p99_ms - base.p99_ms), "{}", t.name);
        }
        assert_eq!(base.slowdown.p99, Some(1.0));
    }
}

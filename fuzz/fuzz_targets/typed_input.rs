//! Anything typed: durations (every bound), numbers, counts, headers, rates, ramps, `--slo`,
//! replay sizes, keys, Prometheus specs, sweep targets, steps and gates, `:sweep` commands,
//! tap filters, statuses, targets and `--max-rps`. A value or an error naming the culprit,
//! never a panic. (Property tests cover the same parsers with shaped input; this finds
//! what they do not think of.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::input::{self, Bounds};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for bounds in [Bounds::RUN, Bounds::OFFSET, Bounds::TIMEOUT] {
        if let Ok(d) = input::duration(s, bounds) {
            assert!(d <= bounds.max);
            let _ = input::human(d);
        }
    }
    if let Ok(v) = input::number(s, 0.0) {
        assert!(v.is_finite() && v >= 0.0);
    }
    let _ = input::count(s, 1, 100);
    let _ = input::header(s);
    let _ = input::headers(s);
    let _ = input::flag::rate(s);
    let _ = meshtop::bench::config::parse_ramp(s);
    if let Ok(slo) = meshtop::bench::slo::parse(s) {
        assert!(slo.0.iter().all(|o| o.threshold.is_finite() && o.threshold >= 0.0));
    }
    let _ = meshtop::cmd::replay::parse_size(s);
    let _ = meshtop::app::keymap::KeyCombo::parse(s);
    let _ = meshtop::source::prometheus::Spec::parse(s);
    let _ = meshtop::sweep::plan::target(s);
    let _ = meshtop::sweep::plan::connections_list(s);
    let _ = meshtop::sweep::plan::rates_list(s);
    let _ = meshtop::sweep::gate::parse_slowdown(s);
    let _ = meshtop::sweep::gate::parse_added(s);
    if let Ok(plan) = meshtop::app::sweep::parse_command(s) {
        assert!(plan.validate().is_ok());
    }
    let _ = meshtop::tap::TapFilter::parse(s);
    let _ = meshtop::tap::StatusMatch::parse(s);
    let _ = meshtop::model::tap::TapTarget::parse(s, "default");
    let _ = meshtop::app::tap::max_rps_value(s);
    let _ = meshtop::tap::filter::latency(s);
});

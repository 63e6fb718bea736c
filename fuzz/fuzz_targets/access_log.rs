//! Any bytes as access-log lines (what the pod log API and `meshtop tap --log` give): each
//! line parses or is refused with a reason, events pass the filters and the summary.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::tap::accesslog::parse_line;
use meshtop::tap::summary::{Grouping, Summary};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut summary = Summary::new(Grouping::Peers, Some(60_000), 64);
    let filter = meshtop::tap::TapFilter::parse("status=5xx latency>=1ms").unwrap();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line, Some("ns/pod")) {
            Ok(e) => {
                let _ = filter.matches(&e);
                let _ = e.success();
                summary.add(&e, i as i64 * 1000);
            }
            Err(why) => assert!(!why.0.is_empty()),
        }
    }
    for g in summary.groups() {
        let _ = (g.count(), g.success_rate(), g.p99_ms());
    }
});

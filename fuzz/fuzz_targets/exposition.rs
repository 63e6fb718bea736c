//! Any text as a proxy's Prometheus exposition (what scrapes and `metrics parse` read): the
//! parser keeps what it can and lists bad lines; golden signals and L4 figures come out of
//! every dialect without a panic, attributed to the workloads a node proxy or waypoint
//! reports for; two dumps give a delta.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::metrics::{exposition, golden};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let e = exposition::parse(text);
    let _ = golden::detect(&e);
    let node_proxy = golden::reports_for_others(&e);
    for d in [
        golden::Dialect::Istio,
        golden::Dialect::Linkerd,
        golden::Dialect::Envoy,
        golden::Dialect::Hubble,
        golden::Dialect::Traefik,
    ] {
        let groups = golden::totals(&e, d);
        let (inbound, outbound, _) = golden::by_direction(&groups);
        let delta = inbound.delta_to(&outbound);
        let _ = delta.quantile_ms(0.99);
        let _ = delta.success_ratio();
        // What ztunnel, a waypoint or Hubble report for other workloads, and its bytes.
        for c in golden::described(&groups, node_proxy).values() {
            let _ = c.bytes();
            let _ = meshtop::metrics::window::Rates::of(10.0, &c.own);
        }
        let _ = golden::describe(&e, d);
    }
    let half = text.len() / 2;
    if text.is_char_boundary(half) {
        let _ = meshtop::metrics::report::report(
            &text[..half],
            Some(&text[half..]),
            std::time::Duration::from_secs(10),
            meshtop::metrics::report::MeshArg::Auto,
        );
    }
});

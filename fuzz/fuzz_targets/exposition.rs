//! Any text as a proxy's Prometheus exposition (what scrapes and `metrics parse` read): the
//! parser keeps what it can and lists bad lines; golden signals come out of every dialect
//! without a panic; two dumps give a delta.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::metrics::{exposition, golden};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let e = exposition::parse(text);
    let _ = golden::detect(&e);
    for d in [golden::Dialect::Istio, golden::Dialect::Linkerd, golden::Dialect::Envoy] {
        let groups = golden::totals(&e, d);
        let (inbound, outbound, _) = golden::by_direction(&groups);
        let delta = inbound.delta_to(&outbound);
        let _ = delta.quantile_ms(0.99);
        let _ = delta.success_ratio();
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

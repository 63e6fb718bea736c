//! Any bytes as a metrics.k8s.io PodMetricsList: usage per container, or an error.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = meshtop::source::podmetrics::parse_list(text);
    let _ = meshtop::metrics::quantity::cpu_millicores(text);
    let _ = meshtop::metrics::quantity::bytes(text);
});

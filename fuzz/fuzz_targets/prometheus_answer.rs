//! Any bytes as a Prometheus HTTP API answer: an answer, or an error naming what was wrong.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::metrics::promql;

fuzz_target!(|data: &[u8]| {
    if let Ok(samples) = promql::parse_response(data) {
        let answers = vec![
            (promql::Part::Requests, samples.clone()),
            (promql::Part::Buckets, samples.clone()),
        ];
        for d in [
            meshtop::metrics::golden::Dialect::Istio,
            meshtop::metrics::golden::Dialect::Linkerd,
            meshtop::metrics::golden::Dialect::Envoy,
        ] {
            let _ = promql::assemble(d, 60, &answers, &Default::default());
        }
        let _ = promql::assemble_usage(&samples, &samples, 120);
    }
});

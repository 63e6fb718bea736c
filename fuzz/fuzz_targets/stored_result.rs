//! Any bytes as a saved benchmark result (results directory, `--out` files): a result whose
//! every report renders, or an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::bench::output::{self, Format};
use meshtop::model::bench::BenchResult;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = serde_json::from_slice::<BenchResult>(data) else {
        return;
    };
    for f in [Format::Text, Format::Json, Format::Smp, Format::Fortio, Format::Csv] {
        let _ = output::render(f, &r, &[]);
    }
    if let Ok(slo) = meshtop::bench::slo::parse("p99<50ms,success>99%,rps>1") {
        let _ = meshtop::bench::slo::check(&slo, &r);
    }
});

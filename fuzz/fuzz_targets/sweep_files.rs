//! Any bytes as the files sweeps, comparisons and reports read: an experiment file (YAML),
//! a saved sweep or bench result given to `meshtop compare` or `meshtop report`. Each
//! parses, renders, compares and draws, or is an error; nothing panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::compare::{self, Format, Saved};
use meshtop::sweep::output;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = meshtop::sweep::plan::Experiment::parse(text);
    let Ok(saved) = Saved::parse(text) else { return };
    if let Saved::Sweep(s) = &saved {
        let mut s = (**s).clone();
        s.settle();
        for f in [
            output::Format::Table,
            output::Format::Md,
            output::Format::Csv,
            output::Format::Json,
            output::Format::Smp,
        ] {
            let _ = output::render(f, &s);
        }
    }
    if let Ok(svg) = meshtop::report::svg(&[("a".to_string(), saved.clone())]) {
        // The SVG meshtop drew is one resvg reads (no font needed to fail cleanly).
        let _ = meshtop::report::png(&svg);
    }
    let files = vec![("a".to_string(), saved.clone()), ("b".to_string(), saved)];
    let _ = meshtop::report::svg(&files);
    if let Ok(c) = compare::compare(&files) {
        for f in [Format::Text, Format::Md, Format::Json] {
            let _ = compare::render(f, &c);
        }
    }
});

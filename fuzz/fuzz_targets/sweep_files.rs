//! Any bytes as the files sweeps and comparisons read: an experiment file (YAML), a saved
//! sweep or bench result given to `meshtop compare`. Each parses, renders and compares,
//! or is an error; nothing panics.

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
        for f in [output::Format::Table, output::Format::Md, output::Format::Csv, output::Format::Json] {
            let _ = output::render(f, &s);
        }
    }
    let files = vec![("a".to_string(), saved.clone()), ("b".to_string(), saved)];
    if let Ok(c) = compare::compare(&files) {
        for f in [Format::Text, Format::Md, Format::Json] {
            let _ = compare::render(f, &c);
        }
    }
});

//! Any bytes as a shard file (`meshtop bench --shard-out`, what `meshtop merge` reads):
//! every line's framing, checksum and JSON, the histograms' base64, inflation (capped) and
//! V2 headers, the order of frames and the intervals' sum against the end frame; and a
//! shard that reads merges with itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::bench::shard;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    for line in raw.lines() {
        if let Err(why) = shard::parse_line(line) {
            assert!(!why.is_empty());
        }
    }
    check(&raw);
    // The input's lines taken as frames' JSON, each given its right checksum: mutations
    // that a checksum would stop reach the decoder behind it.
    let framed: String = raw.lines().map(shard::framed).collect();
    check(&framed);
});

fn check(text: &str) {
    match shard::read(text) {
        Ok(s) => {
            let both = [("a".to_string(), s.clone()), ("b".to_string(), s)];
            if let Ok(m) = shard::merge(&both) {
                assert_eq!(m.result.requests % 2, 0);
            }
        }
        Err(why) => assert!(!why.is_empty()),
    }
}

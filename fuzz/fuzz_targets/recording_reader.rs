//! Any bytes at all: the reader returns a recording (with problems) or a clear error, and
//! never panics, loops or takes unbounded memory. The indexed reader that replay uses
//! (`Chunked`) reads exactly the same entries, problems and stop as the whole reader, and
//! decoding its chunks again never fails on bytes that did not change.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::record::{Chunked, Player, Recording};

fuzz_target!(|data: &[u8]| {
    let whole = Recording::from_bytes(data);
    let chunked = Chunked::from_bytes(data.to_vec());
    match (&whole, chunked) {
        (Ok(recording), Ok(mut chunked)) => {
            // What a replay does first with whatever was read.
            let _ = recording.duration();
            let _ = recording.markers();
            let mut player = Player::new(recording);
            let now = std::time::Instant::now();
            player.play(now);
            let _ = player.due(now + std::time::Duration::from_secs(3_600));
            for problem in &recording.problems {
                let _ = problem.to_string();
            }
            assert_eq!(chunked.problems, recording.problems);
            assert_eq!(chunked.stopped, recording.stopped);
            assert_eq!(chunked.markers(), recording.markers());
            let mut entries = Vec::new();
            chunked
                .for_each(0..chunked.len(), |e| entries.push(e.clone()))
                .expect("unchanged bytes decode again");
            assert_eq!(entries, recording.entries);
        }
        (Err(a), Err(b)) => assert_eq!(a, &b),
        (a, b) => panic!("the readers disagree: {a:?} vs {:?}", b.map(|c| c.len())),
    }
});

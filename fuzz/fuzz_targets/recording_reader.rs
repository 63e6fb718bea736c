//! Any bytes at all: the reader returns a recording (with problems) or a clear error, and
//! never panics, loops or takes unbounded memory.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::record::{Player, Recording};

fuzz_target!(|data: &[u8]| {
    if let Ok(recording) = Recording::from_bytes(data) {
        // What a replay does first with whatever was read.
        let _ = recording.duration();
        let _ = recording.markers();
        let mut player = Player::new(&recording);
        let now = std::time::Instant::now();
        player.play(now);
        let _ = player.due(now + std::time::Duration::from_secs(3_600));
        for problem in &recording.problems {
            let _ = problem.to_string();
        }
    }
});

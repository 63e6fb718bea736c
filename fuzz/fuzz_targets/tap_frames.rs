//! Any bytes as the body of Linkerd's tap answer, cut into any chunks: frames are decoded,
//! joined into requests or refused; memory stays bounded by the frame limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtop::tap::linkerd::{FrameDecoder, Joiner, decode_api_error, decode_event};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let mut decoder = FrameDecoder::new(64 * 1024);
    let mut joiner = Joiner::new(16, 1000);
    let step = usize::from(cut).max(1);
    'chunks: for (i, chunk) in body.chunks(step).enumerate() {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => match decode_event(frame) {
                    Ok(ev) => {
                        for e in joiner.push(ev, i as i64 * 10) {
                            let _ = e.success();
                        }
                    }
                    Err(_) => break 'chunks,
                },
                Ok(None) => break,
                Err(_) => break 'chunks,
            }
        }
    }
    let _ = decoder.finish();
    let _ = joiner.expire(i64::MAX / 2);
    let _ = decode_api_error(body);
});

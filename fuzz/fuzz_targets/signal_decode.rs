//! The signalling decoder on arbitrary frames: it must return a frame or an error, never
//! panic, whatever a peer sends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = globallink::signal::protocol::decode(text);
    }
});

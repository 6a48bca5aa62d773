//! `manifest.jws` parsing and checking (JWS JSON, compact, certificates, CRLs, timestamps) on
//! arbitrary bytes: an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let anchors = globallink::seal::signatures::Anchors {
        certificates: &[],
        crls: &[],
    };
    let _ = globallink::seal::signatures::check(data, b"{}", anchors, chrono::Utc::now());
});

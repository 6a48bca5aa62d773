//! The bundle verifier on arbitrary bytes: a report, never a panic, within its memory bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = globallink::seal::verify_bundle(data, &globallink::seal::Trust::default());
    assert!(!report.ok || report.error.is_none());
});

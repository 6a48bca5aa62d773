//! The RFC 3161 response and token parsers (hand-written DER) on arbitrary bytes: an error,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let digest = [7u8; 32];
    let _ = globallink::seal::tsa::token_from_response(data, &digest, 42);
    let _ = globallink::seal::tsa::verify_token(data, &digest, &[]);
});

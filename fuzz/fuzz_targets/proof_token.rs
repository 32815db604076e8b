//! The proof token the page sends (JSON) and the challenge inside it: decoding never
//! panics; a challenge that parses re-encodes to the exact text (one canonical form).
#![no_main]
use ecpa_cardproto::{challenge::Challenge, token::{decode_token, ProofToken}};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = serde_json::from_slice::<ProofToken>(data) {
        if let Ok(d) = decode_token(&t) {
            let _ = ecpa_cardproto::profile::parse(&d.certificate);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Challenge::parse(text) {
            assert_eq!(c.to_tbs(), text);
        }
    }
});

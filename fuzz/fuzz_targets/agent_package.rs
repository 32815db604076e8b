//! The card agent's `/sign` request (`tbsPackage`): validated without a card; never panics,
//! and a portal challenge naming another site is never accepted.
#![no_main]
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "https://ecpa.example.gov.tw";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let accepted = ecpa_agent::service::check_package(text, ORIGIN).is_ok();
    if accepted {
        // Whatever was accepted names this origin if it claims to be a portal challenge.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let Some(tbs) = v.get("tbs").and_then(|t| t.as_str()) {
                if ecpa_cardproto::challenge::Challenge::claims(tbs)
                    && v.get("tbsEncoding").and_then(|e| e.as_str()).unwrap_or("NONE") == "NONE"
                {
                    let c = ecpa_cardproto::challenge::Challenge::parse(tbs);
                    assert!(matches!(c, Ok(ref c) if c.origin == ORIGIN));
                }
            }
        }
    }
});

//! The MOICA / GCA certificate-profile parser over arbitrary DER.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecpa_cardproto::profile::parse(data);
});

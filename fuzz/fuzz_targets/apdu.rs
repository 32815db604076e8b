//! hsm-sim's APDU parser: any bytes are a command or an error; a parsed command's parts
//! are consistent with the bytes.
#![no_main]
use hsm_sim::apdu::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Command::parse(data) {
        assert!(data.len() >= 4);
        assert_eq!([c.cla, c.ins, c.p1, c.p2], data[..4]);
        assert!(c.data.len() <= data.len() - 4);
        if let Some(le) = c.le {
            assert!((1..=65536).contains(&le));
        }
        let _ = c.chained();
    }
});

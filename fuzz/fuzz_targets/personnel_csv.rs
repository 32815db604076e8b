//! The personnel (表二) file as the importer reads it: encoding detection, the CSV layer,
//! header lookup and the row validation of `domain::personnel`.
#![no_main]
use ecpa_domain::personnel::{validate_row, RawRow};
use libfuzzer_sys::fuzz_target;

// The importer's CSV helpers, compiled here without the rest of the server.
#[path = "../../server/src/personnel/csvio.rs"]
#[allow(dead_code)]
mod csvio;

fuzz_target!(|data: &[u8]| {
    let enc = csvio::detect(data);
    let (text, _, _) = enc.decode(data);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let Ok(headers) = rdr.headers().cloned() else {
        return;
    };
    let id_col = csvio::column_index(&headers, &["身分證統一編號", "身分證號"]);
    let today = time::macros::date!(2026 - 11 - 26);
    for rec in rdr.records().take(200) {
        let Ok(rec) = rec else { break };
        let get = |i: usize| rec.get(i).unwrap_or("").to_string();
        let raw = RawRow {
            national_id: id_col.and_then(|c| rec.get(c)).unwrap_or("").to_string(),
            name: get(1),
            email: get(2),
            agency_code: get(3),
            unit_name: get(4),
            title: get(5),
            staff_category: get(6),
            concurrent_duty: get(7),
            status: get(8),
            departed_on: get(9),
            ingested_on: get(10),
        };
        if let Ok(row) = validate_row(&raw, today) {
            // What passes is well-formed.
            assert_eq!(row.national_id.as_str().len(), 10);
        }
    }
});

//! `ecpa-server personnel gen-sample N`: realistic, deterministic Table 2 files for tests
//! and benchmarks (valid national IDs, Chinese names and units, codes written the loose
//! ways real files write them, mixed date formats, some personnel officers, some departed).

use ecpa_domain::national_id::check_digit;
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;

const SURNAMES: &[&str] = &[
    "陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊", "許", "鄭", "謝", "郭", "洪", "曾",
    "邱", "廖", "賴", "周",
];
const GIVEN: &[&str] = &[
    "志明", "淑芬", "雅婷", "家豪", "怡君", "冠宇", "美華", "建宏", "宗翰", "佩君", "俊傑", "欣怡",
    "承恩", "詩涵", "文雄", "惠美", "柏翰", "思妤", "國華", "玉珍",
];
const UNITS: &[&str] = &[
    "秘書室",
    "總務處",
    "會計室",
    "資訊室",
    "政風室",
    "企劃處",
    "業務一科",
    "業務二科",
    "綜合規劃處",
    "法制處",
];
const PERSONNEL_UNITS: &[&str] = &["人事室", "人事處", "人事管理科"];
const TITLES: &[&str] = &[
    "科員",
    "科長",
    "專員",
    "視察",
    "技正",
    "辦事員",
    "書記",
    "約聘人員",
    "副處長",
    "處長",
];
const AGENCY_PREFIX: &[&str] = &[
    "臺北市政府",
    "新北市政府",
    "桃園市政府",
    "臺中市政府",
    "臺南市政府",
    "高雄市政府",
    "交通部",
    "教育部",
    "經濟部",
    "衛生福利部",
];
const AGENCY_SUFFIX: &[&str] = &[
    "",
    "秘書處",
    "財政局",
    "教育局",
    "工務局",
    "社會局",
    "人事處",
    "主計處",
    "地政局",
    "交通局",
];
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVXYWZIO";

/// `n` agencies: code, name, OID, parent (every tenth is a parent of the next nine).
pub fn agencies(n: usize) -> Vec<(String, String, String, String)> {
    (0..n)
        .map(|i| {
            let code = format!("3{:08}A", i + 1);
            let name = format!(
                "{}{}",
                AGENCY_PREFIX[(i / 10) % AGENCY_PREFIX.len()],
                AGENCY_SUFFIX[i % 10]
            );
            let name = if i >= 100 {
                format!("{name}第{}分處", i / 100)
            } else {
                name
            };
            let oid = format!("2.16.886.101.{}.{}", 20000 + i / 10, 20000 + i);
            let parent = if i % 10 == 0 {
                String::new()
            } else {
                format!("3{:08}A", (i / 10) * 10 + 1)
            };
            (code, name, oid, parent)
        })
        .collect()
}

pub fn write_agencies(out: &mut impl Write, n: usize) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["機關代碼", "機關名稱", "機關OID", "上級機關代碼"])?;
    for (c, n, o, p) in agencies(n) {
        w.write_record([c, n, o, p])?;
    }
    w.flush()
}

/// A valid, unique national ID for person `i` (unique for i < 26 × 2 × 10⁷).
pub fn national_id(i: u64) -> String {
    let letter = LETTERS[(i % 26) as usize] as char;
    let sex = if (i / 26).is_multiple_of(2) { '1' } else { '2' };
    let digits7 = format!("{:07}", (i / 52) % 10_000_000);
    let d8 = format!("{sex}{digits7}");
    let c = check_digit(letter, &d8).unwrap_or(0);
    format!("{letter}{d8}{c}")
}

/// Writes the header and `n` rows; `agency_count` must match the agencies file.
pub fn write_personnel(
    out: &mut impl Write,
    n: u64,
    agency_count: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let codes: Vec<String> = agencies(agency_count).into_iter().map(|a| a.0).collect();
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "身分證統一編號",
        "姓名",
        "電子郵件",
        "機關代碼",
        "服務單位",
        "職稱",
        "人員區分",
        "兼職性質",
        "在職狀態",
        "卸職日期",
        "入檔日期",
    ])?;
    for i in 0..n {
        let id = national_id(i);
        let name = format!(
            "{}{}",
            SURNAMES.choose(&mut rng).unwrap_or(&"王"),
            GIVEN.choose(&mut rng).unwrap_or(&"小明")
        );
        let email = if rng.gen_bool(0.7) {
            format!("u{i}@agency{}.gov.tw", i % 97)
        } else {
            String::new()
        };
        let agency = codes.choose(&mut rng).cloned().unwrap_or_default();
        let roll: f64 = rng.gen();
        let (unit, staff, duty) = if roll < 0.03 {
            ("人事室", "08", "")
        } else if roll < 0.05 {
            (
                *PERSONNEL_UNITS.choose(&mut rng).unwrap_or(&"人事室"),
                "01",
                "",
            )
        } else if roll < 0.06 {
            (*UNITS.choose(&mut rng).unwrap_or(&"秘書室"), "02", "5")
        } else {
            (
                *UNITS.choose(&mut rng).unwrap_or(&"秘書室"),
                ["01", "02", "03", "04", "05", "06", "07"][rng.gen_range(0..7)],
                "",
            )
        };
        // Codes as real files write them: sometimes without the leading zero, full-width, padded.
        let staff = match rng.gen_range(0..10) {
            0 => staff.trim_start_matches('0').to_string(),
            1 => staff
                .chars()
                .map(|c| char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap_or(c))
                .collect(),
            2 => format!(" {staff} "),
            _ => staff.to_string(),
        };
        let title = TITLES.choose(&mut rng).unwrap_or(&"科員");
        let departed = rng.gen_bool(0.05);
        let ingest_days = rng.gen_range(30..730);
        let ingested = time::macros::date!(2026 - 11 - 01) - time::Duration::days(ingest_days);
        let fmt_date = |d: time::Date, style: u32| match style {
            0 => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
            1 => format!(
                "{:03}{:02}{:02}",
                d.year() - 1911,
                u8::from(d.month()),
                d.day()
            ),
            _ => format!(
                "{}/{:02}/{:02}",
                d.year() - 1911,
                u8::from(d.month()),
                d.day()
            ),
        };
        let style = rng.gen_range(0..3);
        let (status, departed_on) = if departed {
            (
                "卸職",
                fmt_date(ingested - time::Duration::days(rng.gen_range(1..20)), style),
            )
        } else {
            ("現職", String::new())
        };
        w.write_record([
            id.as_str(),
            name.as_str(),
            email.as_str(),
            agency.as_str(),
            unit,
            title,
            staff.as_str(),
            duty,
            status,
            departed_on.as_str(),
            fmt_date(ingested, style).as_str(),
        ])?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecpa_domain::national_id::NationalId;

    #[test]
    fn ids_are_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let id = national_id(i);
            assert!(NationalId::parse(&id).is_ok(), "{id}");
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn deterministic() {
        let mut a = vec![];
        let mut b = vec![];
        write_personnel(&mut a, 50, 20, 7).unwrap();
        write_personnel(&mut b, 50, 20, 7).unwrap();
        assert_eq!(a, b);
        let mut c = vec![];
        write_personnel(&mut c, 50, 20, 8).unwrap();
        assert_ne!(a, c);
    }
}

//! Table 2 (表二) personnel records, as agencies report them, normalised the way the rules
//! need them. Real files write codes inconsistently (`8`, `08`, `０８`, ` 08 `); the parsers
//! here fold all of those into one form.

use crate::text::fold;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::Date;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum CodeError {
    #[error("must be one or two digits")]
    StaffCategory,
    #[error("must be a digit")]
    Duty,
    #[error("must be 現職 or 卸職")]
    Employment,
}

/// 人員區分: two digits (`08` = 人事人員).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StaffCategory(String);

impl StaffCategory {
    pub const PERSONNEL: &'static str = "08";

    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        let s = fold(raw);
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::StaffCategory);
        }
        Ok(Self(format!("{s:0>2}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_personnel(&self) -> bool {
        self.0 == Self::PERSONNEL
    }
}

/// 兼職性質: a one-digit code (`5` = 兼辦人事); leading zeros dropped. Empty = none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DutyCode(String);

impl DutyCode {
    pub const PERSONNEL: &'static str = "5";

    /// `Ok(None)` for an empty field.
    pub fn parse(raw: &str) -> Result<Option<Self>, CodeError> {
        let s = fold(raw);
        if s.is_empty() {
            return Ok(None);
        }
        if s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::Duty);
        }
        let t = s.trim_start_matches('0');
        Ok(Some(Self(if t.is_empty() { "0".into() } else { t.into() })))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_personnel(&self) -> bool {
        self.0 == Self::PERSONNEL
    }
}

/// 現職 / 卸職.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Employment {
    Active,
    /// Departed; the date may be missing in old records, or lie ahead (a recorded future
    /// departure: still employed until then).
    Departed {
        on: Option<Date>,
    },
}

impl Employment {
    pub fn parse(status: &str, departed_on: Option<Date>) -> Result<Self, CodeError> {
        match fold(status).as_str() {
            "現職" | "在職" => Ok(Employment::Active),
            "卸職" | "離職" | "退休" => Ok(Employment::Departed { on: departed_on }),
            _ => Err(CodeError::Employment),
        }
    }

    /// The stored status word.
    pub fn word(&self) -> &'static str {
        match self {
            Employment::Active => "現職",
            Employment::Departed { .. } => "卸職",
        }
    }

    pub fn departed_by(&self, today: Date) -> bool {
        match self {
            Employment::Active => false,
            Employment::Departed { on: None } => true,
            Employment::Departed { on: Some(d) } => *d <= today,
        }
    }
}

/// What the eligibility rules read from a person's current Table 2 record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonnelRecord {
    pub staff_category: StaffCategory,
    pub unit_name: String,
    pub concurrent_duty: Option<DutyCode>,
    pub employment: Employment,
    /// 入檔日期: when the bureau ingested this record (Taipei calendar).
    pub ingested_on: Date,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_as_files_write_them() {
        for raw in ["8", "08", "０８", " 08 ", "８", "\u{3000}08"] {
            assert_eq!(
                StaffCategory::parse(raw).map(|c| c.is_personnel()),
                Ok(true),
                "{raw:?}"
            );
        }
        assert_eq!(
            StaffCategory::parse("80").map(|c| c.is_personnel()),
            Ok(false)
        );
        assert!(StaffCategory::parse("008").is_err());
        assert!(StaffCategory::parse("").is_err());
        assert!(StaffCategory::parse("A8").is_err());
        for raw in ["5", "05", "５", " 5"] {
            assert_eq!(
                DutyCode::parse(raw).map(|c| c.map(|c| c.is_personnel())),
                Ok(Some(true)),
                "{raw:?}"
            );
        }
        assert_eq!(DutyCode::parse("  "), Ok(None));
        assert_eq!(
            DutyCode::parse("0").map(|c| c.map(|c| c.as_str().to_string())),
            Ok(Some("0".into()))
        );
        assert!(DutyCode::parse("x").is_err());
        assert_eq!(Employment::parse(" 現職 ", None), Ok(Employment::Active));
        assert!(Employment::parse("unknown", None).is_err());
    }
}

/// One row of a Table 2 file, as text (after CSV decoding).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    pub national_id: String,
    pub name: String,
    pub email: String,
    pub agency_code: String,
    pub unit_name: String,
    pub title: String,
    pub staff_category: String,
    pub concurrent_duty: String,
    pub status: String,
    pub departed_on: String,
    pub ingested_on: String,
}

/// A validated row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table2Row {
    pub national_id: crate::national_id::NationalId,
    pub name: String,
    pub email: Option<String>,
    pub agency_code: String,
    pub record: PersonnelRecord,
    pub title: String,
}

/// A problem with one field of a row; `field` is the column's name in the file (zh-TW).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

pub const F_NATIONAL_ID: &str = "身分證統一編號";
pub const F_NAME: &str = "姓名";
pub const F_EMAIL: &str = "電子郵件";
pub const F_AGENCY: &str = "機關代碼";
pub const F_UNIT: &str = "服務單位";
pub const F_TITLE: &str = "職稱";
pub const F_STAFF: &str = "人員區分";
pub const F_DUTY: &str = "兼職性質";
pub const F_STATUS: &str = "在職狀態";
pub const F_DEPARTED: &str = "卸職日期";
pub const F_INGESTED: &str = "入檔日期";

fn text_field(
    errs: &mut Vec<FieldError>,
    field: &'static str,
    raw: &str,
    max: usize,
    required: bool,
) -> String {
    let s = fold(raw);
    if required && s.is_empty() {
        errs.push(FieldError {
            field,
            message: "不可空白".into(),
        });
    } else if s.chars().count() > max {
        errs.push(FieldError {
            field,
            message: format!("超過 {max} 個字"),
        });
    } else if s.chars().any(char::is_control) {
        errs.push(FieldError {
            field,
            message: "含有控制字元".into(),
        });
    } else if s.contains('\u{FFFD}') {
        errs.push(FieldError {
            field,
            message: "含有無法辨識的字元（請確認檔案編碼為 UTF-8 或 Big5）".into(),
        });
    }
    s
}

/// Validates a row; `default_ingested` is used when the row has no 入檔日期.
pub fn validate_row(raw: &RawRow, default_ingested: Date) -> Result<Table2Row, Vec<FieldError>> {
    let mut errs = Vec::new();
    let national_id = crate::national_id::NationalId::parse(&raw.national_id)
        .map_err(|e| {
            errs.push(FieldError {
                field: F_NATIONAL_ID,
                message: match e {
                    crate::national_id::NationalIdError::Format => {
                        "格式錯誤（須為 1 個英文字母加 9 個數字）"
                    }
                    crate::national_id::NationalIdError::Category => "第 2 碼須為 1、2、8 或 9",
                    crate::national_id::NationalIdError::Checksum => "檢查碼錯誤",
                }
                .into(),
            })
        })
        .ok();
    let name = text_field(&mut errs, F_NAME, &raw.name, 50, true);
    let email = fold(&raw.email);
    let email = if email.is_empty() {
        None
    } else if crate::email::is_valid(&email) {
        Some(email)
    } else {
        errs.push(FieldError {
            field: F_EMAIL,
            message: "格式錯誤".into(),
        });
        None
    };
    let agency_code = text_field(&mut errs, F_AGENCY, &raw.agency_code, 20, true);
    if !agency_code.is_empty() && !agency_code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errs.push(FieldError {
            field: F_AGENCY,
            message: "只能包含英文字母與數字".into(),
        });
    }
    let unit_name = text_field(&mut errs, F_UNIT, &raw.unit_name, 100, true);
    let title = text_field(&mut errs, F_TITLE, &raw.title, 50, true);
    let staff = StaffCategory::parse(&raw.staff_category)
        .map_err(|_| {
            errs.push(FieldError {
                field: F_STAFF,
                message: "須為 1 至 2 位數字代碼（如 08）".into(),
            })
        })
        .ok();
    let duty = DutyCode::parse(&raw.concurrent_duty)
        .map_err(|_| {
            errs.push(FieldError {
                field: F_DUTY,
                message: "須為數字代碼（如 5）".into(),
            })
        })
        .ok()
        .flatten();
    let departed_on = if fold(&raw.departed_on).is_empty() {
        None
    } else {
        let d = crate::roc::parse_date(&raw.departed_on);
        if d.is_none() {
            errs.push(FieldError {
                field: F_DEPARTED,
                message: "日期格式錯誤".into(),
            });
        }
        d
    };
    let employment = Employment::parse(&raw.status, departed_on)
        .map_err(|_| {
            errs.push(FieldError {
                field: F_STATUS,
                message: "須為「現職」或「卸職」".into(),
            })
        })
        .ok();
    if matches!(employment, Some(Employment::Active)) && departed_on.is_some() {
        errs.push(FieldError {
            field: F_DEPARTED,
            message: "現職人員不應有卸職日期".into(),
        });
    }
    let ingested_on = if fold(&raw.ingested_on).is_empty() {
        Some(default_ingested)
    } else {
        let d = crate::roc::parse_date(&raw.ingested_on);
        if d.is_none() {
            errs.push(FieldError {
                field: F_INGESTED,
                message: "日期格式錯誤".into(),
            });
        }
        d
    };
    match (national_id, staff, employment, ingested_on) {
        (Some(national_id), Some(staff_category), Some(employment), Some(ingested_on))
            if errs.is_empty() =>
        {
            Ok(Table2Row {
                national_id,
                name,
                email,
                agency_code,
                title,
                record: PersonnelRecord {
                    staff_category,
                    unit_name,
                    concurrent_duty: duty,
                    employment,
                    ingested_on,
                },
            })
        }
        _ => Err(errs),
    }
}

#[cfg(test)]
mod row_tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    fn good() -> RawRow {
        RawRow {
            national_id: "A123456789".into(),
            name: "王小明".into(),
            email: "wang@example.gov.tw".into(),
            agency_code: "383000000A".into(),
            unit_name: "人事室".into(),
            title: "科員".into(),
            staff_category: "8".into(),
            concurrent_duty: "".into(),
            status: "現職".into(),
            departed_on: "".into(),
            ingested_on: "115/11/20".into(),
        }
    }

    #[test]
    fn good_row() {
        let r = validate_row(&good(), date!(2026 - 11 - 27)).unwrap();
        assert_eq!(r.record.staff_category.as_str(), "08");
        assert_eq!(r.record.ingested_on, date!(2026 - 11 - 20));
        let mut no_date = good();
        no_date.ingested_on.clear();
        assert_eq!(
            validate_row(&no_date, date!(2026 - 11 - 27))
                .unwrap()
                .record
                .ingested_on,
            date!(2026 - 11 - 27)
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let raw = RawRow {
            national_id: "A123456788".into(),
            name: "".into(),
            email: "not-an-email".into(),
            agency_code: "38-30".into(),
            unit_name: "人事室".into(),
            title: "科員".into(),
            staff_category: "八".into(),
            concurrent_duty: "x".into(),
            status: "休假".into(),
            departed_on: "115/02/30".into(),
            ingested_on: "yesterday".into(),
        };
        let errs = validate_row(&raw, date!(2026 - 11 - 27)).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field).collect();
        for f in [
            F_NATIONAL_ID,
            F_NAME,
            F_EMAIL,
            F_AGENCY,
            F_STAFF,
            F_DUTY,
            F_STATUS,
            F_DEPARTED,
            F_INGESTED,
        ] {
            assert!(fields.contains(&f), "{f} not reported: {fields:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_rows_never_panic(fields in prop::collection::vec("\\PC{0,24}", 11)) {
            let raw = RawRow {
                national_id: fields[0].clone(), name: fields[1].clone(), email: fields[2].clone(),
                agency_code: fields[3].clone(), unit_name: fields[4].clone(), title: fields[5].clone(),
                staff_category: fields[6].clone(), concurrent_duty: fields[7].clone(), status: fields[8].clone(),
                departed_on: fields[9].clone(), ingested_on: fields[10].clone(),
            };
            match validate_row(&raw, date!(2026 - 11 - 27)) {
                Ok(r) => prop_assert!(!r.name.is_empty()),
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }
    }
}

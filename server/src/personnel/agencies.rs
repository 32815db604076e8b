//! `ecpa-server personnel import-agencies FILE`: the agency list (機關代碼, 機關名稱,
//! 機關OID, 上級機關代碼), upserted in one transaction; all rows valid or nothing changes.

use super::csvio::{self, EncodingChoice};
use super::import::{ImportError, RowError};
use crate::db::Db;
use ecpa_domain::{personnel::FieldError, text::fold};
use std::path::Path;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agency {
    pub code: String,
    pub name: String,
    pub oid: Option<String>,
    pub parent_code: Option<String>,
}

/// Agency OIDs live under the government arc `2.16.886.101.`.
pub fn valid_agency_oid(s: &str) -> bool {
    s.strip_prefix("2.16.886.101.").is_some_and(|rest| {
        !rest.is_empty()
            && rest.split('.').all(|arc| {
                !arc.is_empty() && arc.len() <= 9 && arc.bytes().all(|b| b.is_ascii_digit())
            })
    })
}

pub fn validate(
    code: &str,
    name: &str,
    oid: &str,
    parent: &str,
) -> Result<Agency, Vec<FieldError>> {
    let mut errs = vec![];
    let code = fold(code);
    if code.is_empty() || code.len() > 20 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errs.push(FieldError {
            field: "機關代碼",
            message: "須為 1 至 20 個英文字母或數字".into(),
        });
    }
    let name = fold(name);
    if name.is_empty()
        || name.chars().count() > 100
        || name.chars().any(char::is_control)
        || name.contains('\u{FFFD}')
    {
        errs.push(FieldError {
            field: "機關名稱",
            message: "不可空白，最多 100 字".into(),
        });
    }
    let oid = fold(oid);
    if !oid.is_empty() && !valid_agency_oid(&oid) {
        errs.push(FieldError {
            field: "機關OID",
            message: "須為 2.16.886.101. 開頭的 OID".into(),
        });
    }
    let parent = fold(parent);
    if !parent.is_empty() && !parent.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errs.push(FieldError {
            field: "上級機關代碼",
            message: "格式錯誤".into(),
        });
    }
    if errs.is_empty() {
        Ok(Agency {
            code,
            name,
            oid: (!oid.is_empty()).then_some(oid),
            parent_code: (!parent.is_empty()).then_some(parent),
        })
    } else {
        Err(errs)
    }
}

pub async fn upsert(
    conn: &mut sqlx::AnyConnection,
    a: &Agency,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agencies (code, name, oid, parent_code, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, oid = excluded.oid, \
         parent_code = excluded.parent_code, updated_at = excluded.updated_at",
    )
    .bind(&a.code)
    .bind(&a.name)
    .bind(a.oid.as_deref())
    .bind(a.parent_code.as_deref())
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// An agency as the agency tree is built from it: code, name, parent code (none when
/// the data leaves it empty).
pub type AgencyRow = (String, String, Option<String>);

/// Every agency, by code.
pub async fn all(pool: &sqlx::AnyPool) -> crate::error::Result<Vec<AgencyRow>> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT code, name, parent_code FROM agencies ORDER BY code")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("code")?,
                r.try_get("name")?,
                r.try_get::<Option<String>, _>("parent_code")?
                    .filter(|p| !p.is_empty()),
            ))
        })
        .collect()
}

/// Returns the number of agencies written.
pub async fn import_agencies(
    db: &Db,
    path: &Path,
    encoding: EncodingChoice,
    now: OffsetDateTime,
) -> Result<u64, ImportError> {
    let enc = csvio::encoding_for(path, encoding)?;
    let (mut rdr, _, lines) = csvio::open_csv(path, enc)?;
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::Csv {
            line: lines.too_long().unwrap_or(1),
            message: e.to_string(),
        })?
        .clone();
    lines.next_record_line();
    let col = |names: &[&str]| csvio::column_index(&headers, names);
    let code_i =
        col(&["機關代碼", "機關代號", "code"]).ok_or(ImportError::MissingColumn("機關代碼"))?;
    let name_i = col(&["機關名稱", "name"]).ok_or(ImportError::MissingColumn("機關名稱"))?;
    let oid_i = col(&["機關OID", "機關 OID", "oid"]);
    let parent_i = col(&["上級機關代碼", "上級機關代號", "parent_code"]);
    let mut good = vec![];
    let mut errors = vec![];
    for rec in rdr.records() {
        let rec = rec.map_err(|e| ImportError::Csv {
            line: lines.line_of(&e),
            message: e.to_string(),
        })?;
        let line = lines.next_record_line().unwrap_or(0);
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
        match validate(
            get(Some(code_i)),
            get(Some(name_i)),
            get(oid_i),
            get(parent_i),
        ) {
            Ok(a) => good.push(a),
            Err(errs) => errors.push(RowError { line, errors: errs }),
        }
    }
    if !errors.is_empty() {
        let summary = super::import::ImportSummary {
            rows_read: (good.len() + errors.len()) as u64,
            rejected: errors.len() as u64,
            errors,
            ..Default::default()
        };
        return Err(ImportError::Rejected(Box::new(summary)));
    }
    let now_ms = crate::db::ms(now);
    let mut tx = db.pool.begin().await?;
    for a in &good {
        upsert(&mut tx, a, now_ms).await?;
    }
    tx.commit().await?;
    Ok(good.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids() {
        assert!(valid_agency_oid("2.16.886.101.20003.20065.20021"));
        assert!(!valid_agency_oid("2.16.886.101."));
        assert!(!valid_agency_oid("2.16.886.1.100.2.102"));
        assert!(!valid_agency_oid("2.16.886.101.20003..1"));
    }
}

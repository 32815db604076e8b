//! What the portal asks of the registry.

use crate::error::Result;
use ecpa_domain::personnel::{DutyCode, Employment, PersonnelRecord, StaffCategory};
use sqlx::{any::AnyRow, AnyPool, Row};
use time::{format_description::well_known::Iso8601, Date};

/// A person's current record with the names the screens show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRecord {
    pub national_id: String,
    pub name: String,
    pub email: Option<String>,
    pub agency_code: String,
    pub agency_name: String,
    pub agency_oid: Option<String>,
    pub title: String,
    pub record: PersonnelRecord,
}

pub fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub fn parse_date_text(s: &str) -> Option<Date> {
    Date::parse(s, &Iso8601::DATE).ok()
}

/// The columns of a current record, for queries that join `personnel_current c`,
/// `people p` and `agencies a` (left joins allowed: [`record_from_row`] then says `None`).
pub(crate) const RECORD_COLS: &str =
    "p.national_id AS person_national_id, p.name AS person_name, p.email AS person_email, \
     c.agency_code, a.name AS agency_name, a.oid AS agency_oid, c.title, c.unit_name, \
     c.staff_category, c.concurrent_duty, c.status, c.departed_on, c.ingested_on";

/// The current record of the person linked to an account, in one query.
pub async fn current_record_of_account(
    pool: &AnyPool,
    account_id: &str,
) -> Result<Option<CurrentRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {RECORD_COLS} FROM accounts acc \
         JOIN personnel_current c ON c.national_id = acc.national_id \
         JOIN people p ON p.national_id = c.national_id \
         JOIN agencies a ON a.code = c.agency_code WHERE acc.id = $1"
    ))
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => record_from_row(&r),
        None => Ok(None),
    }
}

/// A current record from a row selected with [`RECORD_COLS`]; `None` when a left join
/// found no person, record or agency.
pub(crate) fn record_from_row(r: &AnyRow) -> Result<Option<CurrentRecord>> {
    let Some(national_id) = r.try_get::<Option<String>, _>("person_national_id")? else {
        return Ok(None);
    };
    let Some(agency_name) = r.try_get::<Option<String>, _>("agency_name")? else {
        return Ok(None);
    };
    let Some(staff_category) = r.try_get::<Option<String>, _>("staff_category")? else {
        return Ok(None);
    };
    let bad = |what: &str| {
        crate::error::ServerError::Invalid(format!("stored personnel record has a bad {what}"))
    };
    let departed_on = r
        .try_get::<Option<String>, _>("departed_on")?
        .and_then(|s| parse_date_text(&s));
    let record = PersonnelRecord {
        staff_category: StaffCategory::parse(&staff_category).map_err(|_| bad("人員區分"))?,
        unit_name: r.try_get("unit_name")?,
        concurrent_duty: DutyCode::parse(
            &r.try_get::<Option<String>, _>("concurrent_duty")?
                .unwrap_or_default(),
        )
        .map_err(|_| bad("兼職性質"))?,
        employment: Employment::parse(&r.try_get::<String, _>("status")?, departed_on)
            .map_err(|_| bad("在職狀態"))?,
        ingested_on: parse_date_text(&r.try_get::<String, _>("ingested_on")?)
            .ok_or_else(|| bad("入檔日期"))?,
    };
    Ok(Some(CurrentRecord {
        national_id,
        name: r.try_get("person_name")?,
        email: r.try_get("person_email")?,
        agency_code: r.try_get("agency_code")?,
        agency_name,
        agency_oid: r.try_get("agency_oid")?,
        title: r.try_get("title")?,
        record,
    }))
}

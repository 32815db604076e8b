//! SQL the certificate sign-in needs about bindings.

use crate::auth::store::{account_from, AccountRow};
use crate::batch::Stmt;
use crate::db::ms;
use crate::error::Result;
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

/// What a certificate sign-in needs about the account a certificate is bound to.
#[derive(Debug, Clone)]
pub struct BoundSubject {
    pub binding_id: String,
    pub account: AccountRow,
    /// The registry record of the account's person, if linked and present.
    pub record: Option<crate::personnel::registry::CurrentRecord>,
}

/// The binding of a certificate (by fingerprint), its account and the account's registry
/// record, in one query: the sign-in reads nothing else before it writes.
pub async fn bound_subject(pool: &AnyPool, fingerprint: &str) -> Result<Option<BoundSubject>> {
    use crate::personnel::registry::{record_from_row, RECORD_COLS};
    let row = sqlx::query(&format!(
        "SELECT b.id AS binding_id, acc.id, acc.name, acc.display_name, acc.email, \
                acc.password_hash, acc.disabled, acc.is_admin, {RECORD_COLS} \
         FROM cert_bindings b JOIN accounts acc ON acc.id = b.account_id \
         LEFT JOIN personnel_current c ON c.national_id = acc.national_id \
         LEFT JOIN people p ON p.national_id = c.national_id \
         LEFT JOIN agencies a ON a.code = c.agency_code \
         WHERE b.fingerprint = $1"
    ))
    .bind(fingerprint)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(BoundSubject {
        binding_id: r.try_get("binding_id")?,
        account: account_from(&r)?,
        record: record_from_row(&r)?,
    }))
}

pub fn touch_binding(binding_id: &str, now: OffsetDateTime) -> Stmt {
    Stmt::new(
        "UPDATE cert_bindings SET last_used_at = $1 WHERE id = $2",
        vec![ms(now).into(), binding_id.into()],
    )
}

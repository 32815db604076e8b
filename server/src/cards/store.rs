//! SQL for the certificate flows: challenges, upload flows (`bind_flows`) and bindings
//! (`cert_bindings`), and the one-query read a certificate sign-in starts with.

use super::rules::StoredChallenge;
use crate::auth::store::{account_from, AccountRow};
use crate::batch::Stmt;
use crate::db::{from_ms, ms};
use crate::error::Result;
use crate::tokens;
use ecpa_cardproto::{
    challenge::{Challenge, Purpose},
    profile::CertProfile,
    verify::{fingerprint, CardKind},
};
use sqlx::{AnyPool, Row};
use time::{Duration, OffsetDateTime};

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

// ---- challenges --------------------------------------------------------------------------

/// A new challenge for a session, valid until `expires_at`.
pub fn insert_challenge(c: &Challenge, session_hash: &str, expires_at: OffsetDateTime) -> Stmt {
    Stmt::new(
        "INSERT INTO challenges (nonce, session_hash, purpose, origin, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            c.nonce.as_str().into(),
            session_hash.into(),
            c.purpose.as_str().into(),
            c.origin.as_str().into(),
            (c.issued_at * 1000).into(),
            ms(expires_at).into(),
        ],
    )
}

/// Marks the challenge used if it is this one (same nonce, issue time and origin), of this
/// session and purpose, unused and unexpired: one indexed update, so a challenge is taken
/// once however many proofs race for it. False when it was not taken.
pub async fn take_challenge(
    pool: &AnyPool,
    c: &Challenge,
    session_hash: &str,
    purpose: Purpose,
    now: OffsetDateTime,
) -> Result<bool> {
    let taken = sqlx::query(
        "UPDATE challenges SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL AND session_hash = $3 \
         AND purpose = $4 AND expires_at > $1 AND issued_at = $5 AND origin = $6",
    )
    .bind(ms(now))
    .bind(&c.nonce)
    .bind(session_hash)
    .bind(purpose.as_str())
    .bind(c.issued_at * 1000)
    .bind(&c.origin)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// The stored challenge with this nonce (to say why it could not be taken).
pub async fn challenge(pool: &AnyPool, nonce: &str) -> Result<Option<StoredChallenge>> {
    let row = sqlx::query(
        "SELECT session_hash, purpose, expires_at, used_at FROM challenges WHERE nonce = $1",
    )
    .bind(nonce)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(StoredChallenge {
            session_hash: r.try_get("session_hash")?,
            purpose: r.try_get("purpose")?,
            expires_at: r.try_get("expires_at")?,
            used: r.try_get::<Option<i64>, _>("used_at")?.is_some(),
        })
    })
    .transpose()
}

/// Removes challenges a day past their expiry.
pub async fn purge_challenges(pool: &AnyPool, now: OffsetDateTime) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
        .bind(ms(now - Duration::days(1)))
        .execute(pool)
        .await?
        .rows_affected())
}

// ---- upload flows --------------------------------------------------------------------------

/// An upload in progress for a browser session.
#[derive(Debug)]
pub struct Flow {
    pub account_id: String,
    pub kind: CardKind,
    pub started_at: OffsetDateTime,
    /// The verified certificate (base64 DER), once step 2 passed.
    pub certificate: Option<String>,
    pub card_sn: Option<String>,
    pub verified_at: Option<OffsetDateTime>,
}

pub async fn flow(pool: &AnyPool, session_hash: &str) -> Result<Option<Flow>> {
    let row = sqlx::query(
        "SELECT account_id, kind, started_at, certificate, card_sn, verified_at FROM bind_flows \
         WHERE session_hash = $1",
    )
    .bind(session_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Flow {
            account_id: r.try_get("account_id")?,
            kind: kind_of(&r.try_get::<String, _>("kind")?),
            started_at: from_ms(r.try_get("started_at")?),
            certificate: r.try_get("certificate")?,
            card_sn: r.try_get("card_sn")?,
            verified_at: r.try_get::<Option<i64>, _>("verified_at")?.map(from_ms),
        })
    })
    .transpose()
}

/// An upload started for this browser session, replacing any earlier one.
pub fn start_flow(
    session_hash: &str,
    account_id: &str,
    kind: CardKind,
    now: OffsetDateTime,
) -> [Stmt; 2] {
    [
        end_flow(session_hash),
        Stmt::new(
            "INSERT INTO bind_flows (session_hash, account_id, kind, started_at) VALUES ($1, $2, $3, $4)",
            vec![
                session_hash.into(),
                account_id.into(),
                kind.as_str().into(),
                ms(now).into(),
            ],
        ),
    ]
}

pub fn end_flow(session_hash: &str) -> Stmt {
    Stmt::new(
        "DELETE FROM bind_flows WHERE session_hash = $1",
        vec![session_hash.into()],
    )
}

/// Step 2 passed: the flow keeps the verified certificate (base64 DER) and card number.
pub async fn flow_verified(
    pool: &AnyPool,
    session_hash: &str,
    certificate_b64: &str,
    card_sn: Option<&str>,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE bind_flows SET certificate = $1, verified_at = $2, card_sn = $3 WHERE session_hash = $4",
    )
    .bind(certificate_b64)
    .bind(ms(now))
    .bind(card_sn)
    .bind(session_hash)
    .execute(pool)
    .await?;
    Ok(())
}

// ---- bindings ------------------------------------------------------------------------------

/// A stored kind (anything but `org` is a natural-person card, as it always was).
pub fn kind_of(stored: &str) -> CardKind {
    CardKind::from_stored(stored).unwrap_or(CardKind::Natural)
}

/// The account a certificate (by fingerprint) is bound to, if any.
pub async fn binding_owner(pool: &AnyPool, fingerprint: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT account_id FROM cert_bindings WHERE fingerprint = $1")
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?,
    )
}

/// A binding as it is written.
pub struct NewBinding<'a> {
    pub account_id: &'a str,
    pub kind: CardKind,
    pub der: &'a [u8],
    pub profile: &'a CertProfile,
    pub card_number: Option<&'a str>,
    pub contact_email: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// Writes a binding; false if the certificate is already bound (the fingerprint is
/// unique, so of two racing uploads exactly one wins).
pub async fn insert_binding(
    pool: &AnyPool,
    b: &NewBinding<'_>,
    now: OffsetDateTime,
) -> Result<bool> {
    use base64::{engine::general_purpose::STANDARD as B64, Engine};
    let p = b.profile;
    crate::db::inserted(
        sqlx::query(
            "INSERT INTO cert_bindings (id, account_id, fingerprint, kind, subject, issuer, serial, card_number, \
             not_before, not_after, certificate, contact_email, note, bound_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(tokens::row_id())
        .bind(b.account_id)
        .bind(fingerprint(b.der))
        .bind(b.kind.as_str())
        .bind(&p.subject)
        .bind(&p.issuer)
        .bind(&p.serial_hex)
        .bind(b.card_number)
        .bind(p.not_before)
        .bind(p.not_after)
        .bind(B64.encode(b.der))
        .bind(b.contact_email)
        .bind(b.note)
        .bind(ms(now))
        .execute(pool)
        .await,
    )
}

/// A binding as 我的憑證 lists it.
#[derive(Debug, Clone)]
pub struct BindingRow {
    pub id: String,
    pub kind: CardKind,
    pub subject: String,
    pub card_number: Option<String>,
    /// Unix seconds.
    pub not_after: i64,
    pub bound_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// The certificates bound to an account, oldest first.
pub async fn bindings_of(pool: &AnyPool, account_id: &str) -> Result<Vec<BindingRow>> {
    let rows = sqlx::query(
        "SELECT id, kind, subject, card_number, not_after, bound_at, last_used_at FROM cert_bindings \
         WHERE account_id = $1 ORDER BY bound_at",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BindingRow {
                id: r.try_get("id")?,
                kind: kind_of(&r.try_get::<String, _>("kind")?),
                subject: r.try_get("subject")?,
                card_number: r.try_get("card_number")?,
                not_after: r.try_get("not_after")?,
                bound_at: from_ms(r.try_get("bound_at")?),
                last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
            })
        })
        .collect()
}

/// Whether a certificate (by fingerprint) is bound to any account.
pub async fn is_bound(pool: &AnyPool, fingerprint: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cert_bindings WHERE fingerprint = $1")
        .bind(fingerprint)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// Removes one of the account's bindings; false if it has none with that id.
pub async fn delete_binding(pool: &AnyPool, id: &str, account_id: &str) -> Result<bool> {
    let n = sqlx::query("DELETE FROM cert_bindings WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

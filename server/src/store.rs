//! SQL for accounts, sessions, trusted devices and the audit log. Thin: no rules here.

use crate::batch::Stmt;
use crate::db::{from_ms, ms};
use crate::error::Result;
use crate::tokens::row_id;
use ecpa_domain::throttle::{
    client_key, AttemptOutcome, Failures, Streak, ThrottleInput, ACCOUNT_WINDOW,
};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

const ACCOUNT_COLS: &str = "id, name, display_name, email, password_hash, disabled";

fn account_from(row: &sqlx::any::AnyRow) -> Result<AccountRow> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

pub struct NewAccount<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: Option<&'a str>,
}

pub async fn insert_account(
    pool: &AnyPool,
    a: &NewAccount<'_>,
    now: OffsetDateTime,
) -> Result<String> {
    let id = row_id();
    sqlx::query(
        "INSERT INTO accounts (id, name, display_name, email, password_hash, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(&id)
    .bind(a.name)
    .bind(a.display_name)
    .bind(a.email)
    .bind(a.password_hash)
    .bind(ms(now))
    .execute(pool)
    .await?;
    Ok(id)
}

pub async fn account_by_name(pool: &AnyPool, name: &str) -> Result<Option<AccountRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLS} FROM accounts WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(account_from).transpose()
}

pub async fn account_by_id(pool: &AnyPool, id: &str) -> Result<Option<AccountRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(account_from).transpose()
}

pub async fn set_password_hash(pool: &AnyPool, account_id: &str, hash: &str) -> Result<()> {
    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

// ---- sessions --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub account_id: Option<&'a str>,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub client: &'a str,
    pub user_agent: Option<&'a str>,
}

pub fn insert_session(s: &NewSession<'_>) -> Stmt {
    Stmt::new(
        "INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at, expires_at, client, user_agent) \
         VALUES ($1, $2, $3, $3, $4, $5, $6)",
        vec![
            s.id_hash.into(),
            s.account_id.into(),
            ms(s.now).into(),
            ms(s.expires_at).into(),
            s.client.into(),
            s.user_agent
                .map(|u| u.chars().take(256).collect::<String>())
                .into(),
        ],
    )
}

pub async fn session(pool: &AnyPool, id_hash: &str) -> Result<Option<SessionRow>> {
    let row = sqlx::query(
        "SELECT id_hash, account_id, created_at, last_seen_at FROM sessions WHERE id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            id_hash: r.try_get("id_hash")?,
            account_id: r.try_get("account_id")?,
            created_at: from_ms(r.try_get("created_at")?),
            last_seen_at: from_ms(r.try_get("last_seen_at")?),
        })
    })
    .transpose()
}

pub async fn touch_session(pool: &AnyPool, id_hash: &str, now: OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(ms(now))
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub fn delete_session_stmt(id_hash: &str) -> Stmt {
    Stmt::new(
        "DELETE FROM sessions WHERE id_hash = $1",
        vec![id_hash.into()],
    )
}

pub async fn delete_session(pool: &AnyPool, id_hash: &str) -> Result<()> {
    delete_session_stmt(id_hash).execute(pool).await?;
    Ok(())
}

/// Removes sessions past their absolute expiry or idle for longer than `idle`.
pub async fn purge_sessions(
    pool: &AnyPool,
    now: OffsetDateTime,
    idle: time::Duration,
) -> Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
        .bind(ms(now))
        .bind(ms(now - idle))
        .execute(pool)
        .await?;
    Ok(r.rows_affected())
}

// ---- trusted devices -------------------------------------------------------------------

pub async fn is_trusted_device(
    pool: &AnyPool,
    token_hash: &str,
    account_id: &str,
    since: OffsetDateTime,
) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM trusted_devices WHERE token_hash = $1 AND account_id = $2 AND last_used_at > $3",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(ms(since))
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

/// The token is a trusted device of some account (used since `since`).
pub async fn is_known_device(
    pool: &AnyPool,
    token_hash: &str,
    since: OffsetDateTime,
) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM trusted_devices WHERE token_hash = $1 AND last_used_at > $2",
    )
    .bind(token_hash)
    .bind(ms(since))
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

/// A browser's trust moves to its new token (issued at every sign-in): the old token, if
/// stolen, is worth nothing after the owner's next sign-in; the browser keeps the trust it
/// earned for every account.
pub fn rotate_device(old_hash: &str, new_hash: &str) -> Stmt {
    Stmt::new(
        "UPDATE trusted_devices SET token_hash = $2 WHERE token_hash = $1",
        vec![old_hash.into(), new_hash.into()],
    )
}

pub fn trust_device_stmt(token_hash: &str, account_id: &str, now: OffsetDateTime) -> Stmt {
    Stmt::new(
        "INSERT INTO trusted_devices (token_hash, account_id, created_at, last_used_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (token_hash, account_id) DO UPDATE SET last_used_at = excluded.last_used_at",
        vec![token_hash.into(), account_id.into(), ms(now).into()],
    )
}

/// What a credential change ends: every session of the account and every browser's trust
/// for it (whoever knew the old password, and wherever it was used, starts over).
pub fn credentials_changed(account_id: &str) -> [Stmt; 2] {
    [
        Stmt::new(
            "DELETE FROM sessions WHERE account_id = $1",
            vec![account_id.into()],
        ),
        Stmt::new(
            "DELETE FROM trusted_devices WHERE account_id = $1",
            vec![account_id.into()],
        ),
    ]
}

// ---- audit log -------------------------------------------------------------------------

pub const KIND_LOGIN_PASSWORD: &str = "login.password";
pub const KIND_LOGOUT: &str = "logout";
pub const KIND_APP_OPEN: &str = "app.open";
pub const KIND_LOGIN_CERT: &str = "login.certificate";
pub const KIND_CERT_BIND: &str = "cert.bind";
pub const KIND_CERT_UNBIND: &str = "cert.unbind";

pub struct AuditEntry<'a> {
    pub kind: &'a str,
    pub account_key: &'a str,
    pub account_id: Option<&'a str>,
    pub client: &'a str,
    pub trusted: bool,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub fn outcome_str(o: AttemptOutcome) -> &'static str {
    match o {
        AttemptOutcome::Success => "success",
        AttemptOutcome::Failure => "failure",
        AttemptOutcome::Pending => "pending",
        AttemptOutcome::Throttled => "throttled",
    }
}

pub async fn audit(pool: &AnyPool, e: &AuditEntry<'_>, now: OffsetDateTime) -> Result<String> {
    let (id, stmt) = audit_stmt(e, now);
    stmt.execute(pool).await?;
    Ok(id)
}

/// An audit entry to write with other statements; its id.
pub fn audit_stmt(e: &AuditEntry<'_>, now: OffsetDateTime) -> (String, Stmt) {
    let id = row_id();
    let stmt = Stmt::new(
        "INSERT INTO audit_log (id, at, kind, account_key, account_id, client, client_key, trusted, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            id.as_str().into(),
            ms(now).into(),
            e.kind.into(),
            e.account_key.into(),
            e.account_id.into(),
            e.client.into(),
            client_key(e.client).into(),
            i64::from(e.trusted).into(),
            e.outcome.into(),
            e.detail.into(),
        ],
    );
    (id, stmt)
}

/// Sets an audit entry's outcome, and its account and detail when given (work finished
/// after the entry was written).
pub async fn set_audit_outcome(
    pool: &AnyPool,
    id: &str,
    outcome: &str,
    account_id: Option<&str>,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE audit_log SET outcome = $1, account_id = COALESCE($2, account_id), detail = COALESCE($3, detail) WHERE id = $4",
    )
    .bind(outcome)
    .bind(account_id)
    .bind(detail)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Who a throttle decision is about.
pub struct ThrottleQuery<'a> {
    pub account_key: &'a str,
    pub client_key: &'a str,
    pub trusted: bool,
    pub now: OffsetDateTime,
    pub client_window: time::Duration,
    /// The attempt being decided (already recorded as pending).
    pub exclude_id: &'a str,
}

const FAILED: &str = "outcome IN ('failure', 'pending')";

/// The throttle's input as exact aggregates over the recorded attempts (counts over every
/// row in the windows, never a sample of the newest rows).
pub async fn throttle_input(pool: &AnyPool, q: &ThrottleQuery<'_>) -> Result<ThrottleInput> {
    let hour_ago = ms(q.now - ACCOUNT_WINDOW);
    let trusted = i64::from(q.trusted);
    // The streak: this client's untrusted failures on the account (or the account's
    // trusted devices' failures) since the last success of the same kind, in the hour.
    let same = "kind = $1 AND account_key = $2 AND trusted = $3 AND ($3 = 1 OR client_key = $4) AND at > $5";
    let streak = sqlx::query(&format!(
        "SELECT COUNT(*) AS n, MAX(at) AS last FROM audit_log WHERE {same} AND id <> $6 AND {FAILED} \
         AND at > COALESCE((SELECT MAX(at) FROM audit_log WHERE {same} AND outcome = 'success'), 0)"
    ))
    .bind(KIND_LOGIN_PASSWORD)
    .bind(q.account_key)
    .bind(trusted)
    .bind(q.client_key)
    .bind(hour_ago)
    .bind(q.exclude_id)
    .fetch_one(pool)
    .await?;
    let account = sqlx::query(&format!(
        "SELECT COUNT(*) AS n, MIN(at) AS oldest, MAX(at) AS newest FROM audit_log \
         WHERE kind = $1 AND account_key = $2 AND trusted = 0 AND at > $3 AND id <> $4 AND {FAILED}"
    ))
    .bind(KIND_LOGIN_PASSWORD)
    .bind(q.account_key)
    .bind(hour_ago)
    .bind(q.exclude_id)
    .fetch_one(pool)
    .await?;
    let client = sqlx::query(&format!(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN account_key = $3 THEN 1 ELSE 0 END), 0) AS here \
         FROM audit_log WHERE kind = $1 AND client_key = $2 AND at > $4 AND id <> $5 AND {FAILED}"
    ))
    .bind(KIND_LOGIN_PASSWORD)
    .bind(q.client_key)
    .bind(q.account_key)
    .bind(ms(q.now - q.client_window))
    .bind(q.exclude_id)
    .fetch_one(pool)
    .await?;
    let count = |r: &sqlx::any::AnyRow, c: &str| -> Result<u32> {
        Ok(u32::try_from(r.try_get::<i64, _>(c)?).unwrap_or(u32::MAX))
    };
    let at = |r: &sqlx::any::AnyRow, c: &str| -> Result<Option<OffsetDateTime>> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(from_ms))
    };
    Ok(ThrottleInput {
        trusted_client: q.trusted,
        streak: Streak {
            failures: count(&streak, "n")?,
            last: at(&streak, "last")?,
        },
        account: Failures {
            count: count(&account, "n")?,
            oldest: at(&account, "oldest")?,
            newest: at(&account, "newest")?,
        },
        client_failures: count(&client, "n")?,
        client_failures_here: count(&client, "here")?,
    })
}

/// The account's successful sign-ins, newest first.
/// The account's own recent activity (sign-ins, certificate uploads and removals, sign-outs).
pub async fn recent_activity(
    pool: &AnyPool,
    account_id: &str,
    limit: i64,
) -> Result<Vec<(OffsetDateTime, String, String)>> {
    let rows = sqlx::query(
        "SELECT at, kind, outcome FROM audit_log WHERE account_id = $1 AND outcome <> 'pending' \
         AND kind IN ('login.password', 'login.certificate', 'cert.bind', 'cert.unbind', 'logout') \
         ORDER BY at DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                from_ms(r.try_get("at")?),
                r.try_get("kind")?,
                r.try_get("outcome")?,
            ))
        })
        .collect()
}

pub async fn recent_sign_ins(
    pool: &AnyPool,
    account_id: &str,
    limit: i64,
) -> Result<Vec<OffsetDateTime>> {
    let rows: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM audit_log WHERE account_id = $1 AND kind LIKE 'login.%' AND outcome = 'success' \
         ORDER BY at DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(from_ms).collect())
}

// ---- certificate bindings at sign-in ---------------------------------------------------

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
                acc.password_hash, acc.disabled, {RECORD_COLS} \
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

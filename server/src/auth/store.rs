//! SQL for accounts, sessions, trusted devices and the password throttle's aggregates.
//! Thin: no rules here. Statements that commit with others are `Stmt`s for a `Batch`.

use crate::audit::Kind;
use crate::batch::Stmt;
use crate::db::{from_ms, ms};
use crate::error::Result;
use crate::tokens::row_id;
use ecpa_domain::throttle::{Failures, Streak, ThrottleInput, ACCOUNT_WINDOW};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

// ---- accounts ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub is_admin: bool,
}

const ACCOUNT_COLS: &str = "id, name, display_name, email, password_hash, disabled, is_admin";

pub(crate) fn account_from(row: &sqlx::any::AnyRow) -> Result<AccountRow> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
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

/// Sets an account's password hash (on the pool or inside the caller's transaction).
pub async fn set_password_hash<'e>(
    conn: impl sqlx::Executor<'e, Database = sqlx::Any>,
    account_id: &str,
    hash: &str,
) -> Result<()> {
    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_admin(pool: &AnyPool, account_id: &str, admin: bool) -> Result<()> {
    sqlx::query("UPDATE accounts SET is_admin = $1 WHERE id = $2")
        .bind(i64::from(admin))
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Links the account to its person in the registry.
pub async fn set_national_id(pool: &AnyPool, account_id: &str, national_id: &str) -> Result<()> {
    sqlx::query("UPDATE accounts SET national_id = $1 WHERE id = $2")
        .bind(national_id)
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
    .bind(Kind::LoginPassword.as_str())
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
    .bind(Kind::LoginPassword.as_str())
    .bind(q.account_key)
    .bind(hour_ago)
    .bind(q.exclude_id)
    .fetch_one(pool)
    .await?;
    let client = sqlx::query(&format!(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN account_key = $3 THEN 1 ELSE 0 END), 0) AS here \
         FROM audit_log WHERE kind = $1 AND client_key = $2 AND at > $4 AND id <> $5 AND {FAILED}"
    ))
    .bind(Kind::LoginPassword.as_str())
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

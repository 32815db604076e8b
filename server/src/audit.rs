//! The audit log: every sign-in attempt (the password throttle counts them), logout,
//! application opened or refused, certificate sign-in, upload and removal, administrator
//! change and reset request. Never a password or PIN.

use crate::batch::Stmt;
use crate::db::{from_ms, ms};
use crate::error::Result;
use crate::tokens::row_id;
use ecpa_domain::throttle::client_key;
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

/// What an audit entry records. Stored as [`Kind::as_str`]; the names are the log's
/// format (the throttle and 最近活動 read them), so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginPassword,
    LoginCertificate,
    Logout,
    AppOpen,
    CertBind,
    CertUnbind,
    PasswordSet,
    AdminGrant,
    AdminRevoke,
    ResetRequest,
    Reset,
    Vote,
    AdminChange,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::LoginPassword => "login.password",
            Kind::LoginCertificate => "login.certificate",
            Kind::Logout => "logout",
            Kind::AppOpen => "app.open",
            Kind::CertBind => "cert.bind",
            Kind::CertUnbind => "cert.unbind",
            Kind::PasswordSet => "password.set",
            Kind::AdminGrant => "admin.grant",
            Kind::AdminRevoke => "admin.revoke",
            Kind::ResetRequest => "password.reset.request",
            Kind::Reset => "password.reset",
            Kind::Vote => "poll.vote",
            Kind::AdminChange => "admin.change",
        }
    }
}

/// How it ended. Stored as [`Outcome::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Recorded before the work; counts as a failure for the throttle until resolved.
    Pending,
    Throttled,
    Ok,
    Forbidden,
    Refused,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Pending => "pending",
            Outcome::Throttled => "throttled",
            Outcome::Ok => "ok",
            Outcome::Forbidden => "forbidden",
            Outcome::Refused => "refused",
        }
    }
}

pub struct AuditEntry<'a> {
    pub kind: Kind,
    pub account_key: &'a str,
    pub account_id: Option<&'a str>,
    pub client: &'a str,
    pub trusted: bool,
    pub outcome: Outcome,
    pub detail: Option<&'a str>,
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
            e.kind.as_str().into(),
            e.account_key.into(),
            e.account_id.into(),
            e.client.into(),
            client_key(e.client).into(),
            i64::from(e.trusted).into(),
            e.outcome.as_str().into(),
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
    outcome: Outcome,
    account_id: Option<&str>,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE audit_log SET outcome = $1, account_id = COALESCE($2, account_id), detail = COALESCE($3, detail) WHERE id = $4",
    )
    .bind(outcome.as_str())
    .bind(account_id)
    .bind(detail)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many entries of `kind` came from `client` since `since` (a per-client limit).
pub async fn count_from_client(
    pool: &AnyPool,
    kind: Kind,
    client: &str,
    since: OffsetDateTime,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND client = $2 AND at > $3",
    )
    .bind(kind.as_str())
    .bind(client)
    .bind(ms(since))
    .fetch_one(pool)
    .await?)
}

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

impl crate::portal::Portal {
    /// One audit entry for a request's client, now.
    pub(crate) async fn audit_simple(
        &self,
        ctx: &ecpa_app::api::context::RequestCtx,
        kind: Kind,
        key: &str,
        account_id: Option<&str>,
        outcome: Outcome,
        detail: Option<&str>,
    ) -> Result<()> {
        crate::audit::audit(
            &self.db.pool,
            &AuditEntry {
                kind,
                account_key: key,
                account_id,
                client: &ctx.client,
                trusted: false,
                outcome,
                detail,
            },
            self.now(),
        )
        .await?;
        Ok(())
    }
}

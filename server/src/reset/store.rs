//! SQL for password-reset links (`password_resets`). A link is stored by the hash of its
//! token only.

use crate::{
    batch::Stmt,
    db::{from_ms, ms},
    error::Result,
};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

/// A stored link.
#[derive(Debug, Clone)]
pub struct Link {
    pub account_id: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// The link with this token hash, if any.
pub async fn link(pool: &AnyPool, token_hash: &str) -> Result<Option<Link>> {
    let row = sqlx::query(
        "SELECT account_id, expires_at, used_at FROM password_resets WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Link {
        account_id: r.try_get("account_id")?,
        expires_at: from_ms(r.try_get("expires_at")?),
        used_at: r.try_get::<Option<i64>, _>("used_at")?.map(from_ms),
    }))
}

/// Links created for the account since `since` (the per-account mail limit).
pub async fn links_since(pool: &AnyPool, account_id: &str, since: OffsetDateTime) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM password_resets WHERE account_id = $1 AND created_at > $2",
    )
    .bind(account_id)
    .bind(ms(since))
    .fetch_one(pool)
    .await?)
}

/// Ends every unused link of the account.
pub fn retire_links(account_id: &str, now: OffsetDateTime) -> Stmt {
    Stmt::new(
        "UPDATE password_resets SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
        vec![ms(now).into(), account_id.into()],
    )
}

/// A new link, valid until `expires_at`.
pub fn insert_link(
    token_hash: &str,
    account_id: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Stmt {
    Stmt::new(
        "INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        vec![
            token_hash.into(),
            account_id.into(),
            ms(now).into(),
            ms(expires_at).into(),
        ],
    )
}

/// Uses the link to set the account's new password hash, in one transaction: the link is
/// taken only if still unused and unexpired (so of two concurrent submissions one wins),
/// the account's other links end, and so do its sessions and trusted devices (whoever knew
/// the old password is signed out everywhere). `None` if the link was already taken;
/// otherwise the number of sessions ended.
pub async fn use_link(
    pool: &AnyPool,
    token_hash: &str,
    account_id: &str,
    password_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<u64>> {
    let mut tx = pool.begin().await?;
    let took = sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(ms(now))
    .bind(token_hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if took != 1 {
        return Ok(None);
    }
    crate::auth::store::set_password_hash(&mut *tx, account_id, password_hash).await?;
    retire_links(account_id, now).execute(&mut *tx).await?;
    let [sessions, devices] = crate::auth::store::credentials_changed(account_id);
    let ended = sessions.execute(&mut *tx).await?;
    devices.execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(ended))
}

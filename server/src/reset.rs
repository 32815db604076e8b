//! 忘記密碼: a reset request answers the same whatever the account, and its work (the
//! link, the mail) happens afterwards, one request at a time; the link is single-use and
//! short-lived, and a new password ends the account's sessions and trusted devices.

use crate::{
    audit::AuditEntry,
    auth::password::account_key,
    db::{from_ms, ms},
    error::{Result, ServerError},
    mail::Mail,
    portal::Portal,
    tokens,
};
use async_trait::async_trait;
use ecpa_app::{
    api::{context::RequestCtx, reset::server::ResetBackend},
    error::ApiError,
};
use ecpa_domain::{
    account::AccountName,
    reset::{self, LinkState},
};
use sqlx::Row;
use std::sync::Arc;
use time::Duration;

type ApiResult<T> = std::result::Result<T, ApiError>;

/// Reset requests per client per hour, and mails per account per hour.
const RESET_PER_CLIENT_HOUR: i64 = 10;
const RESET_MAILS_PER_ACCOUNT_HOUR: i64 = 3;

/// A password-reset request, worked on after its answer was sent, one at a time (so the
/// per-account mail limit holds however fast requests come).
struct ResetWork {
    db: crate::db::Db,
    clock: crate::portal::Clock,
    origin: String,
    mailer: Arc<crate::mail::Mailer>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl ResetWork {
    async fn run(self, audit_id: &str, name: Option<AccountName>, email: &str) -> Result<()> {
        let _one_at_a_time = self.lock.lock().await;
        let pool = &self.db.pool;
        let now = (self.clock)();
        let acct = match &name {
            Some(n) => crate::auth::store::account_by_name(pool, n.as_str()).await?,
            None => None,
        };
        let target = acct.filter(|a| {
            !a.disabled
                && a.email
                    .as_deref()
                    .is_some_and(|e| reset::email_matches(e, email))
        });
        let Some(a) = target else {
            return crate::audit::set_audit_outcome(
                pool,
                audit_id,
                crate::audit::Outcome::Ok,
                None,
                Some("no-match"),
            )
            .await;
        };
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM password_resets WHERE account_id = $1 AND created_at > $2",
        )
        .bind(&a.id)
        .bind(ms(now - Duration::hours(1)))
        .fetch_one(pool)
        .await?;
        if recent >= RESET_MAILS_PER_ACCOUNT_HOUR {
            return crate::audit::set_audit_outcome(
                pool,
                audit_id,
                crate::audit::Outcome::Throttled,
                Some(&a.id),
                None,
            )
            .await;
        }
        let token = tokens::secret_token();
        let mut batch = crate::batch::Batch::new();
        // A new link replaces any earlier one.
        batch
            .push(crate::batch::Stmt::new(
                "UPDATE password_resets SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
                vec![ms(now).into(), a.id.as_str().into()],
            ))
            .push(crate::batch::Stmt::new(
                "INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                vec![
                    tokens::token_hash(&token).into(),
                    a.id.as_str().into(),
                    ms(now).into(),
                    ms(now + reset::LINK_TTL).into(),
                ],
            ));
        batch.commit(&self.db).await?;
        crate::audit::set_audit_outcome(
            pool,
            audit_id,
            crate::audit::Outcome::Ok,
            Some(&a.id),
            Some("sent"),
        )
        .await?;
        let link = format!("{}/password/reset?token={token}", self.origin);
        let body = format!(
            "{} 您好：\n\n\
             我們收到重設您 eCPA人事服務網 帳號（{}）密碼的申請。\n\
             請於 30 分鐘內開啟下列連結設定新密碼（連結僅能使用一次）：\n\n\
             {link}\n\n\
             若您沒有提出申請，請忽略本信，您的密碼不會變更。\n\n\
             eCPA人事服務網（本信由系統自動寄出，請勿直接回覆）\n",
            a.display_name, a.name
        );
        let mail = Mail {
            to: a.email.clone().unwrap_or_default(),
            subject: "eCPA人事服務網 重設密碼通知".into(),
            body,
        };
        if let Err(e) = self.mailer.send(mail).await {
            tracing::error!(error = %e, "password reset mail not sent");
        }
        Ok(())
    }
}

#[async_trait]
impl ResetBackend for Portal {
    /// The same work for every request before the answer (issue #16, finding 9): the
    /// client's hourly count and one audit entry. Whether the account exists and the
    /// address matches is found out afterwards, in the background ([`ResetWork`]).
    async fn request_reset(&self, ctx: &RequestCtx, account: &str, email: &str) -> ApiResult<()> {
        let pool = &self.db.pool;
        let now = self.now();
        let (key, name) = account_key(account);
        let from_client: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND client = $2 AND at > $3",
        )
        .bind(crate::audit::Kind::ResetRequest.as_str())
        .bind(&ctx.client)
        .bind(ms(now - Duration::hours(1)))
        .fetch_one(pool)
        .await
        .map_err(ServerError::from)?;
        let throttled = from_client >= RESET_PER_CLIENT_HOUR;
        let (id, stmt) = crate::audit::audit_stmt(
            &AuditEntry {
                kind: crate::audit::Kind::ResetRequest,
                account_key: &key,
                account_id: None,
                client: &ctx.client,
                trusted: false,
                outcome: if throttled {
                    crate::audit::Outcome::Throttled
                } else {
                    crate::audit::Outcome::Pending
                },
                detail: None,
            },
            now,
        );
        stmt.execute(pool).await?;
        // Same answer as always: neither the limit nor the account may become an oracle.
        if !throttled {
            let work = ResetWork {
                db: self.db.clone(),
                clock: self.clock.clone(),
                origin: self.config.origin_string(),
                mailer: self.mailer.clone(),
                lock: self.reset_lock.clone(),
            };
            let email = email.to_string();
            tokio::spawn(async move {
                if let Err(e) = work.run(&id, name, &email).await {
                    tracing::error!(error = %e, "password reset request not processed");
                }
            });
        }
        Ok(())
    }

    async fn reset_state(&self, token: &str) -> ApiResult<LinkState> {
        if !tokens::looks_like_token(token) {
            return Ok(LinkState::Used);
        }
        let row =
            sqlx::query("SELECT expires_at, used_at FROM password_resets WHERE token_hash = $1")
                .bind(tokens::token_hash(token))
                .fetch_optional(&self.db.pool)
                .await
                .map_err(ServerError::from)?;
        let Some(r) = row else {
            return Ok(LinkState::Used);
        };
        let expires: i64 = r.try_get("expires_at").map_err(ServerError::from)?;
        let used: Option<i64> = r.try_get("used_at").map_err(ServerError::from)?;
        Ok(reset::link_state(
            from_ms(expires),
            used.map(from_ms),
            self.now(),
        ))
    }

    async fn reset_password(
        &self,
        ctx: &RequestCtx,
        token: &str,
        password: &str,
        confirm: &str,
    ) -> ApiResult<()> {
        let state = self.reset_state(token).await?;
        if state != LinkState::Usable {
            return Err(ApiError::ResetLink(state));
        }
        if password != confirm {
            return Err(ApiError::PasswordMismatch);
        }
        let pool = &self.db.pool;
        let hash_of_token = tokens::token_hash(token);
        let account_id: String =
            sqlx::query_scalar("SELECT account_id FROM password_resets WHERE token_hash = $1")
                .bind(&hash_of_token)
                .fetch_one(pool)
                .await
                .map_err(ServerError::from)?;
        let acct = crate::auth::store::account_by_id(pool, &account_id)
            .await?
            .ok_or(ApiError::ResetLink(LinkState::Used))?;
        self.password_policy
            .validate(&acct.name, password)
            .map_err(ApiError::WeakPassword)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = pool.begin().await.map_err(ServerError::from)?;
        // Single use even under concurrent submissions: only one UPDATE finds it unused.
        let took = sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(ms(now))
        .bind(&hash_of_token)
        .execute(&mut *tx)
        .await
        .map_err(ServerError::from)?
        .rows_affected();
        if took != 1 {
            return Err(ApiError::ResetLink(LinkState::Used));
        }
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(&hash)
            .bind(&account_id)
            .execute(&mut *tx)
            .await
            .map_err(ServerError::from)?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
        )
        .bind(ms(now))
        .bind(&account_id)
        .execute(&mut *tx)
        .await
        .map_err(ServerError::from)?;
        // Whoever knew the old password is signed out everywhere, and no browser stays
        // trusted for the account.
        let [sessions, devices] = crate::auth::store::credentials_changed(&account_id);
        let ended = sessions.execute(&mut *tx).await?;
        devices.execute(&mut *tx).await?;
        tx.commit().await.map_err(ServerError::from)?;
        let detail = format!("sessions ended: {ended}");
        self.audit_simple(
            ctx,
            crate::audit::Kind::Reset,
            &acct.name,
            Some(&account_id),
            crate::audit::Outcome::Success,
            Some(&detail),
        )
        .await?;
        Ok(())
    }
}

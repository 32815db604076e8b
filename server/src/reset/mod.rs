//! 忘記密碼: a reset request answers the same whatever the account, and its work (the
//! link, the mail) happens afterwards, one request at a time; the link is single-use and
//! short-lived, and a new password ends the account's sessions and trusted devices.

pub mod store;

use crate::{
    audit::{AuditEntry, Kind, Outcome},
    auth::password::account_key,
    error::Result,
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
                Outcome::Ok,
                None,
                Some("no-match"),
            )
            .await;
        };
        let recent = store::links_since(pool, &a.id, now - Duration::hours(1)).await?;
        if recent >= RESET_MAILS_PER_ACCOUNT_HOUR {
            return crate::audit::set_audit_outcome(
                pool,
                audit_id,
                Outcome::Throttled,
                Some(&a.id),
                None,
            )
            .await;
        }
        let token = tokens::secret_token();
        let mut batch = crate::batch::Batch::new();
        // A new link replaces any earlier one.
        batch
            .push(store::retire_links(&a.id, now))
            .push(store::insert_link(
                &tokens::token_hash(&token),
                &a.id,
                now,
                now + reset::LINK_TTL,
            ));
        batch.commit(&self.db).await?;
        crate::audit::set_audit_outcome(pool, audit_id, Outcome::Ok, Some(&a.id), Some("sent"))
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

impl Portal {
    /// The link a token names, and its state (a token that cannot be one is `Used`).
    async fn reset_link(&self, token: &str) -> Result<(LinkState, Option<store::Link>)> {
        if !tokens::looks_like_token(token) {
            return Ok((LinkState::Used, None));
        }
        let link = store::link(&self.db.pool, &tokens::token_hash(token)).await?;
        let state = link.as_ref().map_or(LinkState::Used, |l| {
            reset::link_state(l.expires_at, l.used_at, self.now())
        });
        Ok((state, link))
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
        let from_client = crate::audit::count_from_client(
            pool,
            Kind::ResetRequest,
            &ctx.client,
            now - Duration::hours(1),
        )
        .await?;
        let throttled = from_client >= RESET_PER_CLIENT_HOUR;
        let (id, stmt) = crate::audit::audit_stmt(
            &AuditEntry {
                kind: Kind::ResetRequest,
                account_key: &key,
                account_id: None,
                client: &ctx.client,
                trusted: false,
                outcome: if throttled {
                    Outcome::Throttled
                } else {
                    Outcome::Pending
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
        Ok(self.reset_link(token).await?.0)
    }

    async fn reset_password(
        &self,
        ctx: &RequestCtx,
        token: &str,
        password: &str,
        confirm: &str,
    ) -> ApiResult<()> {
        let (state, link) = self.reset_link(token).await?;
        let (LinkState::Usable, Some(link)) = (state, link) else {
            return Err(ApiError::ResetLink(state));
        };
        if password != confirm {
            return Err(ApiError::PasswordMismatch);
        }
        let pool = &self.db.pool;
        let account_id = link.account_id;
        let acct = crate::auth::store::account_by_id(pool, &account_id)
            .await?
            .ok_or(ApiError::ResetLink(LinkState::Used))?;
        self.password_policy
            .validate(&acct.name, password)
            .map_err(ApiError::WeakPassword)?;
        let hash = self.hasher.hash(password).await?;
        let ended = store::use_link(
            pool,
            &tokens::token_hash(token),
            &account_id,
            &hash,
            self.now(),
        )
        .await?
        .ok_or(ApiError::ResetLink(LinkState::Used))?;
        let detail = format!("sessions ended: {ended}");
        self.audit_simple(
            ctx,
            Kind::Reset,
            &acct.name,
            Some(&account_id),
            Outcome::Success,
            Some(&detail),
        )
        .await?;
        Ok(())
    }
}

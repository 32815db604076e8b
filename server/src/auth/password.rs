//! Password sign-in: the attempt recorded first, the throttle decided on exact aggregates,
//! Argon2id on the bounded pool, then the session and the trusted device in one commit.

use crate::auth::cookies::DEVICE_TRUST;
use crate::batch::Batch;
use crate::portal::Portal;
use crate::{audit::AuditEntry, tokens};
use ecpa_app::{
    api::context::{LoginGranted, RequestCtx},
    error::ApiError,
};
use ecpa_domain::{
    account::AccountName,
    password::MAX_PASSWORD_BYTES,
    throttle::{self, ThrottleDecision},
};

/// How a submitted account name is keyed in the audit log and the throttle. Names that
/// can never be accounts are keyed too (by a digest), so they are throttled like any other.
pub(crate) fn account_key(raw: &str) -> (String, Option<AccountName>) {
    match AccountName::parse(raw) {
        Ok(n) => (n.as_str().to_string(), Some(n)),
        Err(_) => {
            let digest = tokens::token_hash(raw);
            (format!("invalid:{}", &digest[..16]), None)
        }
    }
}

impl Portal {
    /// Checks an account and password under the throttle, recording the attempt
    /// (`detail`: what the password was for). The account on success.
    pub async fn authenticate_password(
        &self,
        ctx: &RequestCtx,
        raw_account: &str,
        password: &str,
        detail: &str,
    ) -> std::result::Result<crate::auth::store::AccountRow, ApiError> {
        let pool = &self.db.pool;
        let now = self.now();
        let (key, name) = account_key(raw_account);
        let account = match &name {
            Some(n) => crate::auth::store::account_by_name(pool, n.as_str()).await?,
            None => None,
        };
        let trusted = match (&ctx.device_token, &account) {
            (Some(tok), Some(a)) if tokens::looks_like_token(tok) => {
                crate::auth::store::is_trusted_device(
                    pool,
                    &tokens::token_hash(tok),
                    &a.id,
                    now - DEVICE_TRUST,
                )
                .await?
            }
            _ => false,
        };

        // Record the attempt first, as pending: concurrent attempts then see each other.
        let attempt_id = crate::audit::audit(
            pool,
            &AuditEntry {
                kind: crate::audit::Kind::LoginPassword,
                account_key: &key,
                account_id: None,
                client: &ctx.client,
                trusted,
                outcome: crate::audit::Outcome::Pending,
                detail: Some(detail),
            },
            now,
        )
        .await?;
        let input = crate::auth::store::throttle_input(
            pool,
            &crate::auth::store::ThrottleQuery {
                account_key: &key,
                client_key: &throttle::client_key(&ctx.client),
                trusted,
                now,
                client_window: self.throttle.client_window,
                exclude_id: &attempt_id,
            },
        )
        .await?;
        let decision = self.throttle.decide(now, &input);
        if let ThrottleDecision::Deny {
            reason,
            retry_after,
        } = decision
        {
            crate::audit::set_audit_outcome(
                pool,
                &attempt_id,
                crate::audit::Outcome::Throttled,
                None,
                None,
            )
            .await?;
            tracing::info!(?reason, client = %ctx.client, "password sign-in throttled");
            return Err(ApiError::Throttled {
                retry_after_secs: u64::try_from(retry_after.whole_seconds())
                    .unwrap_or(1)
                    .max(1),
            });
        }

        // Over-long input is refused without hashing it, after the same dummy work.
        let pw = if password.len() > MAX_PASSWORD_BYTES {
            ""
        } else {
            password
        };
        let usable = account.as_ref().filter(|a| !a.disabled);
        let verified = self
            .hasher
            .verify(usable.and_then(|a| a.password_hash.as_deref()), pw)
            .await?;
        let (Some(acct), true) = (usable, verified.ok && !pw.is_empty()) else {
            crate::audit::set_audit_outcome(
                pool,
                &attempt_id,
                crate::audit::Outcome::Failure,
                account.as_ref().map(|a| a.id.as_str()),
                None,
            )
            .await?;
            return Err(ApiError::InvalidCredentials);
        };
        crate::audit::set_audit_outcome(
            pool,
            &attempt_id,
            crate::audit::Outcome::Success,
            Some(&acct.id),
            None,
        )
        .await?;
        if verified.needs_rehash {
            let hash = self.hasher.hash(password).await?;
            crate::auth::store::set_password_hash(pool, &acct.id, &hash).await?;
        }
        Ok(acct.clone())
    }

    pub(crate) async fn login_inner(
        &self,
        ctx: &RequestCtx,
        raw_account: &str,
        password: &str,
    ) -> std::result::Result<LoginGranted, ApiError> {
        let acct = self
            .authenticate_password(ctx, raw_account, password, "login")
            .await?;
        let now = self.now();
        // One commit: the new session, the counters, and the browser's trusted-device token
        // rotated (its trust for other accounts moves with it) and trusted for this account.
        let mut batch = Batch::new();
        let (_, session_cookie) = self.new_session_in(&mut batch, ctx, Some(&acct.id));
        let token = tokens::secret_token();
        let new_hash = tokens::token_hash(&token);
        if let Some(old) = ctx
            .device_token
            .as_deref()
            .filter(|t| tokens::looks_like_token(t))
        {
            batch.push(crate::auth::store::rotate_device(
                &tokens::token_hash(old),
                &new_hash,
            ));
        }
        batch.push(crate::auth::store::trust_device_stmt(
            &new_hash, &acct.id, now,
        ));
        batch.commit(&self.db).await?;
        Ok(LoginGranted {
            set_cookies: vec![session_cookie, self.cookies.device_cookie(&token)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys() {
        assert_eq!(account_key(" WangXM ").0, "wangxm");
        let (k, n) = account_key("王小明");
        assert!(k.starts_with("invalid:") && n.is_none());
        assert_eq!(account_key("王小明").0, k, "stable for throttling");
    }
}

//! Signing in with a password, the session and its cookies, and the operator's account
//! commands. Certificate sign-in is `cards`; it makes its sessions through [`sessions`].

pub mod access;
pub mod accounts;
pub mod cookies;
pub mod password;
pub mod sessions;
pub mod store;

use crate::portal::Portal;
use async_trait::async_trait;
use ecpa_app::{
    api::{
        auth::{server::AuthBackend, UserSummary},
        context::{LoginGranted, RequestCtx},
    },
    error::ApiError,
};

#[async_trait]
impl AuthBackend for Portal {
    async fn login_password(
        &self,
        ctx: &RequestCtx,
        account: &str,
        password: &str,
    ) -> std::result::Result<LoginGranted, ApiError> {
        self.login_inner(ctx, account, password).await
    }

    async fn logout(&self, ctx: &RequestCtx) -> std::result::Result<Vec<String>, ApiError> {
        if let Some(s) = &ctx.session {
            let pool = &self.db.pool;
            crate::auth::store::delete_session(pool, &s.id_hash).await?;
            if let Some(id) = &s.account_id {
                let key = crate::auth::store::account_by_id(pool, id)
                    .await?
                    .map(|a| a.name)
                    .unwrap_or_default();
                self.audit_simple(
                    ctx,
                    crate::audit::Kind::Logout,
                    &key,
                    Some(id),
                    crate::audit::Outcome::Ok,
                    None,
                )
                .await?;
            }
        }
        Ok(vec![self.cookies.clear_session()])
    }

    async fn current_user(
        &self,
        ctx: &RequestCtx,
    ) -> std::result::Result<Option<UserSummary>, ApiError> {
        Ok(self.signed_in(ctx).await?.map(|me| UserSummary {
            account: me.account().name.clone(),
            display_name: me.account().display_name.clone(),
        }))
    }
}

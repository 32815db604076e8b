//! 忘記密碼: the reset request (the same answer whatever the account), the link's state
//! and the new password. The server implements [`server::ResetBackend`].

use crate::error::ApiError;
use ecpa_domain::reset::LinkState;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::api::context::RequestCtx;
    use async_trait::async_trait;

    /// Password reset by e-mail link.
    #[async_trait]
    pub trait ResetBackend: Send + Sync + 'static {
        async fn request_reset(
            &self,
            ctx: &RequestCtx,
            account: &str,
            email: &str,
        ) -> Result<(), ApiError>;
        async fn reset_state(&self, token: &str) -> Result<LinkState, ApiError>;
        async fn reset_password(
            &self,
            ctx: &RequestCtx,
            token: &str,
            password: &str,
            confirm: &str,
        ) -> Result<(), ApiError>;
    }
}

#[cfg(feature = "ssr")]
use {
    crate::api::context::{port, request_ctx},
    server::ResetBackend,
};

/// 忘記密碼: always the same answer, whether or not the account and address exist.
#[server(endpoint = "password_reset_request")]
pub async fn request_password_reset(account: String, email: String) -> Result<(), ApiError> {
    port::<dyn ResetBackend>()?
        .request_reset(&request_ctx()?, &account, &email)
        .await?;
    leptos_axum::redirect("/password/forgot?sent=1");
    Ok(())
}

#[server(endpoint = "password_reset_state")]
pub async fn password_reset_state(token: String) -> Result<LinkState, ApiError> {
    port::<dyn ResetBackend>()?.reset_state(&token).await
}

#[server(endpoint = "password_reset")]
pub async fn reset_password(
    token: String,
    password: String,
    confirm: String,
) -> Result<(), ApiError> {
    port::<dyn ResetBackend>()?
        .reset_password(&request_ctx()?, &token, &password, &confirm)
        .await?;
    leptos_axum::redirect("/password/done");
    Ok(())
}

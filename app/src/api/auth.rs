//! Password sign-in, sign-out and who is signed in.

use crate::error::ApiError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub account: String,
    pub display_name: String,
}

/// Where a successful sign-in may send the browser: only local paths of this portal.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(|c| c.is_control())
                && p.len() <= 256 =>
        {
            p
        }
        _ => "/my",
    }
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::api::context::{LoginGranted, RequestCtx};
    use async_trait::async_trait;

    /// Password sign-in and the session.
    #[cfg_attr(test, mockall::automock)]
    #[async_trait]
    pub trait AuthBackend: Send + Sync + 'static {
        async fn login_password(
            &self,
            ctx: &RequestCtx,
            account: &str,
            password: &str,
        ) -> Result<LoginGranted, ApiError>;

        /// Deletes the session server-side; returns the cookies that clear it.
        async fn logout(&self, ctx: &RequestCtx) -> Result<Vec<String>, ApiError>;

        async fn current_user(&self, ctx: &RequestCtx) -> Result<Option<UserSummary>, ApiError>;
    }
}

#[cfg(feature = "ssr")]
use {
    crate::api::context::{port, request_ctx, set_cookies},
    server::AuthBackend,
};

/// Password sign-in. On success the session cookie is replaced (the id rotates) and the
/// browser is sent to `next` (default 我的專區).
#[server(endpoint = "login")]
pub async fn login(
    account: String,
    password: String,
    next: Option<String>,
) -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    let granted = port::<dyn AuthBackend>()?
        .login_password(&ctx, &account, &password)
        .await?;
    set_cookies(&granted.set_cookies);
    leptos_axum::redirect(safe_next(next.as_deref()));
    Ok(())
}

/// Ends the session on the server and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    let cookies = port::<dyn AuthBackend>()?.logout(&ctx).await?;
    set_cookies(&cookies);
    leptos_axum::redirect("/");
    Ok(())
}

/// The signed-in user, or `None`.
#[server(endpoint = "whoami")]
pub async fn current_user() -> Result<Option<UserSummary>, ApiError> {
    let ctx = request_ctx()?;
    port::<dyn AuthBackend>()?.current_user(&ctx).await
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/my")), "/my");
        assert_eq!(safe_next(Some("/my?x=1")), "/my?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/my");
        assert_eq!(safe_next(Some("https://evil.example/")), "/my");
        assert_eq!(safe_next(Some("/\\evil")), "/my");
        assert_eq!(safe_next(Some("/a\r\nSet-Cookie: x")), "/my");
        assert_eq!(safe_next(None), "/my");
    }
}

/// The server functions' own behaviour (cookies, redirects, error pass-through), with the
/// services behind them replaced by a mockall double.
#[cfg(all(test, feature = "ssr"))]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod transport_tests {
    use super::server::MockAuthBackend;
    use super::*;
    use crate::api::context::{LoginGranted, RequestCtx};
    use http::header::{LOCATION, SET_COOKIE};
    use leptos_axum::ResponseOptions;
    use std::sync::Arc;

    fn ctx() -> RequestCtx {
        RequestCtx {
            client: "192.0.2.1".into(),
            session: None,
            device_token: None,
            user_agent: None,
        }
    }

    /// Provides what the server provides for a plain (no-JavaScript) form post.
    fn setup(mock: MockAuthBackend) -> (Owner, ResponseOptions) {
        let owner = Owner::new();
        owner.set();
        let (mut parts, ()) = http::Request::builder()
            .header(http::header::ACCEPT, "text/html")
            .body(())
            .expect("request")
            .into_parts();
        parts.extensions.insert(ctx());
        provide_context(parts);
        let res = ResponseOptions::default();
        provide_context(res.clone());
        provide_context::<Arc<dyn server::AuthBackend>>(Arc::new(mock));
        (owner, res)
    }

    #[tokio::test]
    async fn login_sets_cookies_and_redirects_to_a_local_next() {
        let mut mock = MockAuthBackend::new();
        mock.expect_login_password()
            .withf(|c, a, p| c.client == "192.0.2.1" && a == "wangxm" && p == "Secret-Pass-1")
            .times(1)
            .returning(|_, _, _| {
                Ok(LoginGranted {
                    set_cookies: vec!["ecpa_sid=abc; Path=/".into(), "ecpa_dev=def; Path=/".into()],
                })
            });
        let (_owner, res) = setup(mock);
        login(
            "wangxm".into(),
            "Secret-Pass-1".into(),
            Some("//evil.example".into()),
        )
        .await
        .expect("login ok");
        let parts = res.0.read().expect("lock").clone();
        let cookies: Vec<_> = parts.headers.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies.len(), 2);
        assert_eq!(
            parts.headers.get(LOCATION).map(|v| v.as_bytes()),
            Some(&b"/my"[..])
        );
        assert_eq!(parts.status, Some(http::StatusCode::FOUND));
    }

    #[tokio::test]
    async fn login_failure_passes_the_error_through_and_sets_nothing() {
        let mut mock = MockAuthBackend::new();
        mock.expect_login_password()
            .returning(|_, _, _| Err(ApiError::InvalidCredentials));
        let (_owner, res) = setup(mock);
        let r = login("x".into(), "y".into(), None).await;
        assert_eq!(r, Err(ApiError::InvalidCredentials));
        let parts = res.0.read().expect("lock").clone();
        assert!(parts.headers.get(SET_COOKIE).is_none());
        assert!(parts.headers.get(LOCATION).is_none());
    }

    #[tokio::test]
    async fn missing_context_is_an_internal_error_not_a_panic() {
        let owner = Owner::new();
        owner.set();
        assert_eq!(current_user().await, Err(ApiError::Internal));
    }
}

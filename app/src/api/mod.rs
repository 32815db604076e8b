//! The server-function API and the types that cross the wire.
//!
//! Every endpoint has a fixed path (`/api/<name>`), so forms without JavaScript, the
//! integration tests and later the card agent address them by a stable URL.

#[cfg(feature = "ssr")]
pub mod backend;
pub mod card;
pub mod content;

use crate::error::ApiError;
use ecpa_domain::{
    eligibility::{Decision, OfficerBasis, Right},
    personnel::Employment,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use time::Date;

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub account: String,
    pub display_name: String,
}

/// Everything 我的專區 shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyArea {
    pub user: UserSummary,
    /// When this session signed in, ROC calendar, Taipei time.
    pub signed_in_at: String,
    /// The sign-in before this one, if any.
    pub previous_sign_in: Option<String>,
    /// Minutes of inactivity after which this session ends.
    pub idle_timeout_minutes: i64,
    /// Today in Taipei, as the server decided the rights.
    pub today: Date,
    /// 電子頁卡: the person's current record; `None` when the account has no registry link.
    pub ecard: Option<ECard>,
    /// 待辦事項, open ones.
    pub todos: Vec<TodoItem>,
    /// 應用系統 this user may use today, in catalog order.
    pub apps: Vec<AppEntry>,
    /// The registry-based rights and why each is (not) granted.
    pub rights: Vec<RightStatus>,
    /// Certificates bound to this account (自然人憑證／機關憑證).
    pub certificates: Vec<card::BoundCert>,
    /// Recent sign-ins, uploads and removals on this account, newest first.
    pub activity: Vec<ActivityItem>,
}

/// One line of 最近活動.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityItem {
    /// ROC date and time, Taipei.
    pub at: String,
    /// The audit kind (`login.password`, `login.certificate`, `cert.bind`, ...).
    pub kind: String,
    pub ok: bool,
}

/// 電子頁卡.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ECard {
    pub name: String,
    /// `A12****789`: the full number never leaves the server.
    pub national_id_masked: String,
    pub agency: String,
    pub unit: String,
    pub title: String,
    pub staff_category: String,
    pub employment: Employment,
    pub ingested_on: Date,
    pub officer_basis: Vec<OfficerBasis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoItem {
    pub title: String,
    pub link: Option<String>,
    pub due_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEntry {
    pub code: String,
    pub name: String,
    pub group_code: String,
    pub group_name: String,
    pub personnel_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightStatus {
    pub right: Right,
    pub decision: Decision,
}

/// An application system the user may open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLaunch {
    pub code: String,
    pub name: String,
    pub url: String,
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

/// Password sign-in. On success the session cookie is replaced (the id rotates) and the
/// browser is sent to `next` (default 我的專區).
#[server(endpoint = "login")]
pub async fn login(
    account: String,
    password: String,
    next: Option<String>,
) -> Result<(), ApiError> {
    let ctx = backend::request_ctx()?;
    let granted = backend::backend()?
        .login_password(&ctx, &account, &password)
        .await
        .inspect_err(crate::error::set_page_status)?;
    backend::set_cookies(&granted.set_cookies);
    leptos_axum::redirect(safe_next(next.as_deref()));
    Ok(())
}

/// Ends the session on the server and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    let ctx = backend::request_ctx()?;
    let cookies = backend::backend()?.logout(&ctx).await?;
    backend::set_cookies(&cookies);
    leptos_axum::redirect("/");
    Ok(())
}

/// The signed-in user, or `None`.
#[server(endpoint = "whoami")]
pub async fn current_user() -> Result<Option<UserSummary>, ApiError> {
    let ctx = backend::request_ctx()?;
    backend::backend()?.current_user(&ctx).await
}

/// The content of 我的專區; `Unauthenticated` when signed out.
#[server(endpoint = "my_area")]
pub async fn load_my_area() -> Result<MyArea, ApiError> {
    let ctx = backend::request_ctx()?;
    backend::backend()?.my_area(&ctx).await
}

/// Opens an application system: refused on the server unless the user qualifies today.
#[server(endpoint = "open_app")]
pub async fn open_app(code: String) -> Result<AppLaunch, ApiError> {
    let ctx = backend::request_ctx()?;
    backend::backend()?.open_app(&ctx, &code).await
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
    use super::backend::{LoginGranted, MockPortalBackend, RequestCtx, SharedBackend};
    use super::*;
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
    fn setup(mock: MockPortalBackend) -> (Owner, ResponseOptions) {
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
        provide_context::<SharedBackend>(Arc::new(mock));
        (owner, res)
    }

    #[tokio::test]
    async fn login_sets_cookies_and_redirects_to_a_local_next() {
        let mut mock = MockPortalBackend::new();
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
        let mut mock = MockPortalBackend::new();
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

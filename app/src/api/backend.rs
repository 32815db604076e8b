//! The seam between the server functions and the server's services (server side only).
//!
//! The server binary implements [`PortalBackend`] over its database and hands an
//! `Arc<dyn PortalBackend>` to Leptos through context; its middleware puts a
//! [`RequestCtx`] into every request. Tests can supply any implementation.

use super::card::{BindPreview, BoundCert, CardKindView, CardSetup, CertLookup};
use super::{AppLaunch, MyArea, UserSummary};
use crate::error::ApiError;
use async_trait::async_trait;
use ecpa_cardproto::{challenge::Purpose, token::ProofToken};
use http::{header::SET_COOKIE, request::Parts, HeaderValue};
use leptos::prelude::*;
use std::sync::Arc;

/// What the server knows about the request before any server function runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCtx {
    /// The client address used for throttling and audit.
    pub client: String,
    /// The session the request presented, if it is valid.
    pub session: Option<SessionRef>,
    /// The trusted-device token the browser presented, if any (opaque).
    pub device_token: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    /// SHA-256 of the session token; the token itself is never kept.
    pub id_hash: String,
    pub account_id: Option<String>,
    /// When the session began (Unix milliseconds).
    pub created_at_ms: i64,
}

/// The result of a successful sign-in: cookies to set (the new session, the device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginGranted {
    pub set_cookies: Vec<String>,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PortalBackend: Send + Sync + 'static {
    async fn login_password(
        &self,
        ctx: &RequestCtx,
        account: &str,
        password: &str,
    ) -> Result<LoginGranted, ApiError>;

    /// Deletes the session server-side; returns the cookies that clear it.
    async fn logout(&self, ctx: &RequestCtx) -> Result<Vec<String>, ApiError>;

    async fn current_user(&self, ctx: &RequestCtx) -> Result<Option<UserSummary>, ApiError>;

    async fn my_area(&self, ctx: &RequestCtx) -> Result<MyArea, ApiError>;

    /// The system `code` if the signed-in user may use it today (`Forbidden` otherwise).
    async fn open_app(&self, ctx: &RequestCtx, code: &str) -> Result<AppLaunch, ApiError>;

    async fn card_setup(&self) -> Result<CardSetup, ApiError>;
    /// A new challenge for this browser session (an anonymous session is started if there
    /// is none: returned as cookies to set).
    async fn card_challenge(
        &self,
        ctx: &RequestCtx,
        purpose: Purpose,
    ) -> Result<(String, Vec<String>), ApiError>;
    async fn cert_lookup(&self, certificate_b64: &str) -> Result<CertLookup, ApiError>;
    async fn cert_login(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
    ) -> Result<LoginGranted, ApiError>;
    async fn bind_start(
        &self,
        ctx: &RequestCtx,
        account: &str,
        password: &str,
        kind: CardKindView,
    ) -> Result<Vec<String>, ApiError>;
    async fn bind_start_signed_in(&self, ctx: &RequestCtx) -> Result<(), ApiError>;
    async fn bind_verify(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
    ) -> Result<BindPreview, ApiError>;
    async fn bind_confirm(
        &self,
        ctx: &RequestCtx,
        contact_email: Option<String>,
        note: Option<String>,
    ) -> Result<(), ApiError>;
    async fn my_certificates(&self, ctx: &RequestCtx) -> Result<Vec<BoundCert>, ApiError>;
    async fn remove_certificate(&self, ctx: &RequestCtx, id: &str) -> Result<(), ApiError>;
}

pub type SharedBackend = Arc<dyn PortalBackend>;

pub fn backend() -> Result<SharedBackend, ApiError> {
    use_context::<SharedBackend>().ok_or_else(|| {
        tracing::error!("PortalBackend missing from the Leptos context");
        ApiError::Internal
    })
}

pub fn request_ctx() -> Result<RequestCtx, ApiError> {
    use_context::<Parts>()
        .and_then(|p| p.extensions.get::<RequestCtx>().cloned())
        .ok_or_else(|| {
            tracing::error!("RequestCtx missing: is the session middleware installed?");
            ApiError::Internal
        })
}

pub fn set_cookies(cookies: &[String]) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        for c in cookies {
            match HeaderValue::from_str(c) {
                Ok(v) => res.append_header(SET_COOKIE, v),
                Err(_) => tracing::error!("refusing to send a malformed Set-Cookie header"),
            }
        }
    }
}

//! What every server function gets from the server (server side only): the request's
//! context ([`RequestCtx`], put into every request by the server's middleware), the
//! service behind each capability ([`port`]), and a way to set cookies.
//!
//! Each feature module of `api` declares its own port (a trait such as
//! `auth::server::AuthBackend`) next to its server functions; the server implements them
//! over its database and provides them as `Arc<dyn …>`. This module knows none of them.

use crate::error::ApiError;
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

/// The service behind one capability (`dyn AuthBackend`, `dyn CardBackend`, …): the server
/// provides each to Leptos as an `Arc<dyn …>`; tests provide doubles.
pub fn port<P: ?Sized + Send + Sync + 'static>() -> Result<Arc<P>, ApiError> {
    use_context::<Arc<P>>().ok_or_else(|| {
        tracing::error!(
            port = std::any::type_name::<P>(),
            "a backend is missing from the Leptos context"
        );
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

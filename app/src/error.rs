//! The error every server function returns, its HTTP status and `Retry-After`.
//!
//! The server maps its own failures into [`ApiError`] once, at its edge; its status is
//! decided here, once ([`ApiError::status`]); its Traditional Chinese text is in
//! the `wording` module (which depends on this module, never the reverse). Internal details
//! never travel: `Internal` carries none.

use ecpa_cardproto::refusal::ProofRefusal;
use ecpa_domain::{
    content::{ContentError, Field},
    eligibility::Refusal,
    password::PasswordViolation,
    reset::LinkState,
};
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum ApiError {
    /// Wrong account or password, or an unknown account: deliberately one case.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed attempts; try again after the given number of seconds.
    #[error("throttled, retry after {retry_after_secs}s")]
    Throttled { retry_after_secs: u64 },
    #[error("not signed in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// A card proof was refused, with the check that refused it.
    #[error("card proof refused: {0:?}")]
    Card(ProofRefusal),
    /// The registry does not grant the right (certificate upload or use).
    #[error("not eligible: {refusal:?}")]
    NotEligible { refusal: Refusal, today: time::Date },
    /// Certificate sign-in is not configured on this server.
    #[error("certificate sign-in not configured")]
    CardsUnavailable,
    /// No certificate upload in progress for this browser (or it expired).
    #[error("no upload in progress")]
    NoUploadInProgress,
    /// What an administrator (or a voter) submitted breaks a content rule.
    #[error("content refused: {0}")]
    Content(ContentError),
    #[error("already voted")]
    AlreadyVoted,
    #[error("poll closed")]
    PollClosed,
    /// A password reset link that cannot be used (used, replaced or expired).
    #[error("reset link not usable: {0:?}")]
    ResetLink(LinkState),
    /// The new password breaks the password policy.
    #[error("weak password: {0:?}")]
    WeakPassword(Vec<PasswordViolation>),
    #[error("passwords differ")]
    PasswordMismatch,
    /// Too many requests from this client or account; retry after the given seconds.
    #[error("rate limited, retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("server busy")]
    Busy,
    #[error("service unavailable")]
    Unavailable,
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("internal error")]
    Internal,
    /// The request never reached, or never came back from, the server function.
    #[error("transport: {0}")]
    Transport(String),
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}

impl ApiError {
    /// An error that arrived in a URL (`__err`, the answer to a form posted without
    /// JavaScript): anyone can write such a link, so only what the error *is* survives,
    /// never text from it. Strings are dropped (their messages are generic anyway, or are
    /// replaced by a generic one) and waiting times bounded.
    pub fn from_url(self) -> ApiError {
        const MAX_WAIT_SECS: u64 = 3600;
        match self {
            ApiError::Throttled { retry_after_secs } => ApiError::Throttled {
                retry_after_secs: retry_after_secs.clamp(1, MAX_WAIT_SECS),
            },
            ApiError::RateLimited { retry_after_secs } => ApiError::RateLimited {
                retry_after_secs: retry_after_secs.clamp(1, MAX_WAIT_SECS),
            },
            ApiError::InvalidInput(_) => ApiError::InvalidInput(String::new()),
            ApiError::Transport(_) => ApiError::Transport(String::new()),
            ApiError::Content(ContentError::DuplicateOption(_)) => {
                ApiError::Content(ContentError::Invalid(Field::Option))
            }
            ApiError::Content(ContentError::TooLong { field, max }) => {
                ApiError::Content(ContentError::TooLong {
                    field,
                    max: max.min(100_000),
                })
            }
            ApiError::Content(ContentError::OptionCount { min, max }) => {
                ApiError::Content(ContentError::OptionCount {
                    min: min.min(100),
                    max: max.min(100),
                })
            }
            other => other,
        }
    }

    /// The HTTP status of an answer carrying this error: the one place it is decided, for
    /// server functions, pages and the server's middleware alike.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Throttled { .. } | ApiError::RateLimited { .. } => 429,
            ApiError::Unavailable | ApiError::Busy => 503,
            ApiError::NotFound => 404,
            _ => 500,
        }
    }

    /// `Retry-After`, in seconds, for the errors that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Throttled { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => Some((*retry_after_secs).max(1)),
            ApiError::Unavailable | ApiError::Busy => Some(30),
            _ => None,
        }
    }
}

/// On the server, a page or server function that answers `e` gets its status and
/// `Retry-After` ([`ApiError::status`]): 503 when the database is unavailable (load
/// balancers and monitors see it), 404 for missing data, 429 for a throttled or
/// rate-limited attempt. A form posted without JavaScript is answered by a redirect back
/// to its page with the error, and that redirect stays a redirect for 429s.
pub fn set_page_status(e: &ApiError) {
    #[cfg(feature = "ssr")]
    {
        use http::StatusCode;
        let code = e.status();
        if code == 500 && *e != ApiError::Internal {
            return;
        }
        if code == 429 {
            let html_form = leptos::prelude::use_context::<http::request::Parts>()
                .and_then(|p| p.headers.get(http::header::ACCEPT).cloned())
                .and_then(|v| v.to_str().map(|a| a.contains("text/html")).ok())
                .unwrap_or(false);
            if html_form {
                return;
            }
        }
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
            if let Some(secs) = e.retry_after() {
                if let Ok(v) = http::HeaderValue::from_str(&secs.to_string()) {
                    res.insert_header(http::header::RETRY_AFTER, v);
                }
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = e;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_message_rounds_up_minutes() {
        let m = ApiError::Throttled {
            retry_after_secs: 601,
        }
        .message();
        assert!(m.contains("11 分鐘"), "{m}");
        let s = ApiError::Throttled {
            retry_after_secs: 0,
        }
        .message();
        assert!(s.contains("1 秒"), "{s}");
    }

    /// Nothing written into a link reaches the page as text (issue #16, finding 4).
    #[test]
    fn errors_from_urls_carry_no_text() {
        const EVIL: &str = "請撥 0800-000-000 重設密碼";
        for e in [
            ApiError::InvalidInput(EVIL.into()),
            ApiError::Transport(EVIL.into()),
            ApiError::Content(ContentError::DuplicateOption(EVIL.into())),
        ] {
            let shown = ApiError::de(e.ser()).from_url().message();
            assert!(!shown.contains("0800"), "{shown}");
        }
        let wait = ApiError::Throttled {
            retry_after_secs: u64::MAX,
        }
        .from_url()
        .message();
        assert!(wait.contains("60 分鐘"), "{wait}");
        // What the portal itself sends keeps its meaning.
        assert_eq!(
            ApiError::InvalidCredentials.from_url(),
            ApiError::InvalidCredentials
        );
        let t = ApiError::Throttled {
            retry_after_secs: 90,
        };
        assert_eq!(t.clone().from_url(), t);
    }

    #[test]
    fn json_round_trip() {
        for e in [
            ApiError::InvalidCredentials,
            ApiError::Throttled {
                retry_after_secs: 30,
            },
            ApiError::Internal,
        ] {
            let bytes = e.ser();
            assert_eq!(ApiError::de(bytes), e);
        }
    }
}

//! The server's own failures, and their one mapping to the wire error.

use ecpa_app::error::ApiError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("password hashing pool is saturated")]
    HashBusy,
    #[error("{0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("mail: {0}")]
    Mail(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// `pki check` found something missing (its report says what).
    #[error("the certificate trust is not ready (see the report)")]
    NotReady,
}

impl ServerError {
    /// Whether the failure means the database cannot be reached right now (pool timeout,
    /// connection refused, locked), as opposed to a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ServerError::Db(e) => {
                matches!(
                    e,
                    sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::Io(_)
                        | sqlx::Error::WorkerCrashed
                ) || e
                    .as_database_error()
                    .map(|d| {
                        let m = d.message();
                        // PostgreSQL: connection exceptions (08xxx), too many connections,
                        // shutting down / starting up, connections not allowed right now.
                        let code = d.code().unwrap_or_default();
                        m.contains("database is locked")
                            || m.contains("the database system is")
                            || m.contains("not currently accepting connections")
                            || code.starts_with("08")
                            || code.starts_with("57P0")
                            || code == "53300"
                    })
                    .unwrap_or(false)
            }
            _ => false,
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match &e {
            ServerError::HashBusy => ApiError::Busy,
            ServerError::Invalid(m) => ApiError::InvalidInput(m.clone()),
            _ if e.is_unavailable() => {
                tracing::warn!(error = %e, "service unavailable");
                answer_503();
                ApiError::Unavailable
            }
            _ => {
                tracing::error!(error = %e, "internal error");
                ApiError::Internal
            }
        }
    }
}

/// Inside a server function called by a script: answer 503 (with Retry-After) instead of
/// the default 500, so clients, load balancers and monitors see "try again later". Form
/// posts from a browser without JavaScript keep their redirect back to the page.
fn answer_503() {
    use leptos::prelude::use_context;
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let form_post = use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|a| a.contains("text/html"))
        })
        .unwrap_or(false);
    if !form_post {
        res.set_status(http::StatusCode::SERVICE_UNAVAILABLE);
        res.insert_header(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("30"),
        );
    }
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

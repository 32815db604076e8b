//! The server's own failures, and their one mapping to the wire error (no side effects:
//! the answer's status is `ApiError::status`, applied by `http` to every server function).

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
                ApiError::Unavailable
            }
            _ => {
                tracing::error!(error = %e, "internal error");
                ApiError::Internal
            }
        }
    }
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

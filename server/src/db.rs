//! The database: one pool over SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! Both back-ends run the same SQL (`$1` placeholders, integer timestamps in Unix
//! milliseconds, text ids, 0/1 flags) against equivalent schemas kept in
//! `migrations/sqlite` and `migrations/postgres`; the integration tests run on both, and a
//! test checks that the two schemas have the same tables and columns.

use crate::error::{Result, ServerError};
use sqlx::{
    any::{AnyPoolOptions, AnyQueryResult},
    migrate::Migrator,
    AnyPool, Executor,
};
use std::{path::Path, time::Duration};
use time::OffsetDateTime;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

impl Db {
    pub fn backend_of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(ServerError::Config(format!(
                "unsupported database URL (use sqlite:// or postgres://): {}",
                redact(url)
            )))
        }
    }

    /// Connects (creating a SQLite file and its folder when missing). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Self::backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url)?,
            Backend::Postgres => url.to_string(),
        };
        let mut opts = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5));
        if backend == Backend::Sqlite {
            // A file connection does not go stale: no test query before each use (it
            // doubled the cost of every statement on the sign-in path).
            opts = opts
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL lets readers work while one writer writes; the busy timeout makes
                        // writers queue instead of failing at once.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                        Ok(())
                    })
                });
        }
        let pool = opts.connect(&url).await?;
        Ok(Self { pool, backend })
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// True when the schema has no accounts yet (a fresh database).
    pub async fn is_empty(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_: AnyQueryResult| ())?;
        Ok(())
    }
}

/// `sqlite://data/ecpa.db` → make sure `data/` exists and ask SQLite to create the file.
fn sqlite_url_with_create(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    let mut q: Vec<&str> = query.split('&').filter(|s| !s.is_empty()).collect();
    if !q.iter().any(|p| p.starts_with("mode=")) {
        q.push("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{}", q.join("&")))
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Unix milliseconds, the time format of every column.
/// An insert's outcome where a unique key decides who wins: `true` if the row went in,
/// `false` if the key was taken (of two racing inserts exactly one gets `true`).
pub fn inserted(r: std::result::Result<sqlx::any::AnyQueryResult, sqlx::Error>) -> Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_url_with_create("sqlite://:memory:").unwrap(),
            "sqlite://:memory:?mode=rwc"
        );
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/y/ecpa.db");
        let u = sqlite_url_with_create(&format!("sqlite://{}", p.display())).unwrap();
        assert!(u.ends_with("ecpa.db?mode=rwc"));
        assert!(p.parent().unwrap().exists());
        assert_eq!(
            sqlite_url_with_create("sqlite://a.db?mode=ro").unwrap(),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn ms_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(from_ms(ms(t)), t);
    }
}

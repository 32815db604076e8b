//! The application systems (應用系統) catalog and the account's to-do items.

use crate::{db::ms, error::Result, tokens::row_id};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSystem {
    pub code: String,
    pub name: String,
    pub group_code: String,
    pub group_name: String,
    pub url: String,
    pub personnel_only: bool,
    pub sort_order: i64,
    /// A note for the administrators. Writing `None` keeps the stored note (the demo
    /// catalog is re-applied at every start); `Some("")` clears it.
    pub description: Option<String>,
}

pub const AUDIENCE_ALL: &str = "all";
pub const AUDIENCE_PERSONNEL: &str = "personnel";

fn from_row(r: &sqlx::any::AnyRow) -> Result<AppSystem> {
    Ok(AppSystem {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        group_code: r.try_get("group_code")?,
        group_name: r.try_get("group_name")?,
        url: r.try_get("url")?,
        personnel_only: r.try_get::<String, _>("audience")? != AUDIENCE_ALL,
        sort_order: r.try_get("sort_order")?,
        description: r.try_get("description")?,
    })
}

const COLS: &str = "code, name, group_code, group_name, url, audience, sort_order, description";

/// The systems `officer` may see, in catalog order.
pub async fn visible_systems(pool: &AnyPool, officer: bool) -> Result<Vec<AppSystem>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM app_systems WHERE audience = $1 OR $2 = 1 ORDER BY group_code, sort_order, code"
    ))
    .bind(AUDIENCE_ALL)
    .bind(i64::from(officer))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The whole catalog (the administrator's list), in catalog order.
pub async fn all_systems(pool: &AnyPool) -> Result<Vec<AppSystem>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM app_systems ORDER BY group_code, sort_order, code"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn system(pool: &AnyPool, code: &str) -> Result<Option<AppSystem>> {
    let row = sqlx::query(&format!("SELECT {COLS} FROM app_systems WHERE code = $1"))
        .bind(code)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn upsert_system(pool: &AnyPool, s: &AppSystem) -> Result<()> {
    sqlx::query(
        "INSERT INTO app_systems (code, name, group_code, group_name, url, audience, sort_order, description) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
         group_code = excluded.group_code, group_name = excluded.group_name, url = excluded.url, \
         audience = excluded.audience, sort_order = excluded.sort_order, \
         description = COALESCE(excluded.description, app_systems.description)",
    )
    .bind(&s.code)
    .bind(&s.name)
    .bind(&s.group_code)
    .bind(&s.group_name)
    .bind(&s.url)
    .bind(if s.personnel_only { AUDIENCE_PERSONNEL } else { AUDIENCE_ALL })
    .bind(s.sort_order)
    .bind(s.description.as_deref())
    .execute(pool)
    .await?;
    Ok(())
}

// ---- to-dos ----------------------------------------------------------------------------

pub const TODO_NATURAL_CERT: &str = "cert.natural.upload";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub kind: String,
    pub title: String,
    pub link: Option<String>,
    pub due_on: Option<String>,
}

/// Adds a to-do unless the account already has one of that kind (done or not).
pub async fn ensure_todo(
    pool: &AnyPool,
    account_id: &str,
    t: &Todo,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO todos (id, account_id, kind, title, link, due_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (account_id, kind) DO NOTHING",
    )
    .bind(row_id())
    .bind(account_id)
    .bind(&t.kind)
    .bind(&t.title)
    .bind(t.link.as_deref())
    .bind(t.due_on.as_deref())
    .bind(ms(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn complete_todo(
    pool: &AnyPool,
    account_id: &str,
    kind: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE todos SET done_at = $1 WHERE account_id = $2 AND kind = $3 AND done_at IS NULL",
    )
    .bind(ms(now))
    .bind(account_id)
    .bind(kind)
    .execute(pool)
    .await?;
    Ok(())
}

/// Open to-dos, soonest due first (undated last).
pub async fn open_todos(pool: &AnyPool, account_id: &str) -> Result<Vec<Todo>> {
    let rows = sqlx::query(
        "SELECT kind, title, link, due_on FROM todos WHERE account_id = $1 AND done_at IS NULL \
         ORDER BY CASE WHEN due_on IS NULL THEN 1 ELSE 0 END, due_on, created_at",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Todo {
                kind: r.try_get("kind")?,
                title: r.try_get("title")?,
                link: r.try_get("link")?,
                due_on: r.try_get("due_on")?,
            })
        })
        .collect()
}

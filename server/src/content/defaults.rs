//! The content a new portal starts with (announcements, poll, links, FAQ, catalog), from
//! [`super::defaults_data`], inserted once.

use super::sanitize::{plain_text, sanitize_html};
use crate::{db::ms, error::Result, tokens};
use ecpa_domain::{content::Category, search};
use sqlx::AnyPool;
use time::{Date, OffsetDateTime};

/// Loads the starting content (links, poll, FAQ) the first time only: afterwards the
/// administrators own it, and deleting a link does not bring it back at restart.
pub async fn ensure_defaults(pool: &AnyPool, now: OffsetDateTime) -> Result<()> {
    let mut tx = pool.begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO counters (name, value) VALUES ('content_defaults_v1', 1) \
         ON CONFLICT (name) DO NOTHING",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        for (i, l) in super::defaults_data::LINKS.iter().enumerate() {
            sqlx::query(
                "INSERT INTO links (id, title, url, position, updated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tokens::row_id())
            .bind(l.title)
            .bind(l.url)
            .bind((i as i64 + 1) * 10)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        }
        let poll_id = tokens::row_id();
        sqlx::query("INSERT INTO polls (id, question, active, closed, created_at) VALUES ($1, $2, 1, 0, $3)")
            .bind(&poll_id)
            .bind(super::defaults_data::POLL_QUESTION)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        for (i, o) in super::defaults_data::POLL_OPTIONS.iter().enumerate() {
            sqlx::query(
                "INSERT INTO poll_options (id, poll_id, label, position) VALUES ($1, $2, $3, $4)",
            )
            .bind(tokens::row_id())
            .bind(&poll_id)
            .bind(*o)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await?;
        }
        for (i, f) in super::defaults_data::FAQ.iter().enumerate() {
            sqlx::query(
                "INSERT INTO faq_entries (id, category, question, body_html, position, retired, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(f.id)
            .bind(f.category)
            .bind(f.question)
            .bind(sanitize_html(f.body_html))
            .bind((i as i64 + 1) * 10)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Inserts an announcement (the demo data and the admin pages use it); returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn insert_announcement(
    pool: &AnyPool,
    category: Category,
    title: &str,
    body_html: &str,
    published_on: Date,
    hot: bool,
    created_by: Option<&str>,
    now: OffsetDateTime,
) -> Result<i64> {
    let body_html = sanitize_html(body_html);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO announcements (category, title, body_html, search_text, published_on, hot, \
         retired, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8) \
         RETURNING id",
    )
    .bind(category.code())
    .bind(title)
    .bind(&body_html)
    .bind(search::search_text(title, &plain_text(&body_html)))
    .bind(published_on.to_string())
    .bind(i64::from(hot))
    .bind(created_by)
    .bind(ms(now))
    .fetch_one(pool)
    .await?;
    Ok(id)
}

//! The content a new portal starts with (links, poll, FAQ), from
//! [`super::defaults_data`], inserted once through [`super::store`].

use super::store::{self, FaqText};
use crate::error::Result;
use sqlx::AnyPool;
use time::OffsetDateTime;

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
            store::insert_link(&mut *tx, l.title, l.url, (i as i64 + 1) * 10, now).await?;
        }
        store::insert_poll_in(
            &mut tx,
            super::defaults_data::POLL_QUESTION,
            super::defaults_data::POLL_OPTIONS,
            true,
            now,
        )
        .await?;
        for (i, f) in super::defaults_data::FAQ.iter().enumerate() {
            let faq = FaqText {
                id: f.id,
                category: f.category,
                question: f.question,
                body_html: f.body_html,
                position: (i as i64 + 1) * 10,
                retired: false,
            };
            store::save_faq(&mut *tx, &faq, true, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

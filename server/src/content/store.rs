//! SQL for the portal's content tables: announcements (and their search index), polls and
//! votes, links and FAQ entries. The public pages (`content`) and the administrator
//! (`admin`) both read and write through here. Single statements take any executor, so
//! they run on the pool or inside a transaction alike.

use super::sanitize::{plain_text, sanitize_html};
use crate::{
    db::{from_ms, ms, Backend},
    error::{Result, ServerError},
    portal::roc_datetime,
    tokens,
};
use ecpa_app::api::content::{FaqEntry, FaqItem, LinkItem, PollOptionView, PollView};
use ecpa_domain::{content::Category, search};
use sqlx::{any::AnyRow, Any, AnyPool, Executor, Row};
use time::{Date, OffsetDateTime};

// ---- announcements ---------------------------------------------------------------------

const ANN_COLS: &str = "id, category, title, body_html, published_on, hot, retired";

/// An announcement as stored (its body sanitised when it was written).
pub struct AnnRow {
    pub id: i64,
    pub category: Category,
    pub title: String,
    pub body_html: String,
    pub published_on: Date,
    pub hot: bool,
    pub retired: bool,
}

fn ann_row(r: &AnyRow) -> Result<AnnRow> {
    let cat: String = r.try_get("category")?;
    let published: String = r.try_get("published_on")?;
    Ok(AnnRow {
        id: r.try_get("id")?,
        category: Category::from_code(&cat).unwrap_or(Category::General),
        title: r.try_get("title")?,
        body_html: r.try_get("body_html")?,
        published_on: Date::parse(
            &published,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|e| ServerError::Invalid(format!("announcement date {published}: {e}")))?,
        hot: r.try_get::<i64, _>("hot")? != 0,
        retired: r.try_get::<i64, _>("retired")? != 0,
    })
}

fn ann_rows(rows: &[AnyRow]) -> Result<Vec<AnnRow>> {
    rows.iter().map(ann_row).collect()
}

/// Which announcements a listing shows.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    /// The public lists: not retired, optionally one category.
    Public(Option<Category>),
    /// The administrator's list: everything, retired last.
    Admin,
}

/// The number of public announcements (in one category, or all).
pub async fn count_announcements(pool: &AnyPool, category: Option<Category>) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM announcements WHERE retired = 0 AND ($1 = '' OR category = $1)",
    )
    .bind(category.map(|c| c.code()).unwrap_or(""))
    .fetch_one(pool)
    .await?)
}

/// One page of a listing: pinned first, then newest first.
pub async fn announcements(
    pool: &AnyPool,
    listing: Listing,
    limit: u32,
    offset: u32,
) -> Result<Vec<AnnRow>> {
    let rows = match listing {
        Listing::Public(category) => {
            sqlx::query(&format!(
                "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 AND ($1 = '' OR category = $1) \
                 ORDER BY hot DESC, published_on DESC, id DESC LIMIT {limit} OFFSET {offset}"
            ))
            .bind(category.map(|c| c.code()).unwrap_or(""))
            .fetch_all(pool)
            .await?
        }
        Listing::Admin => {
            sqlx::query(&format!(
                "SELECT {ANN_COLS} FROM announcements \
                 ORDER BY retired, hot DESC, published_on DESC, id DESC LIMIT {limit} OFFSET {offset}"
            ))
            .fetch_all(pool)
            .await?
        }
    };
    ann_rows(&rows)
}

/// One announcement; a retired one only for the administrator.
pub async fn announcement(
    pool: &AnyPool,
    id: i64,
    include_retired: bool,
) -> Result<Option<AnnRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ANN_COLS} FROM announcements WHERE id = $1 AND (retired = 0 OR $2 = 1)"
    ))
    .bind(id)
    .bind(i64::from(include_retired))
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(ann_row).transpose()
}

/// The newest `limit` public announcements containing every pattern (already escaped
/// `LIKE` patterns), for the search to rank.
pub async fn search_candidates(
    pool: &AnyPool,
    backend: Backend,
    patterns: &[String],
    limit: i64,
) -> Result<Vec<AnnRow>> {
    let sql = match backend {
        Backend::Sqlite => {
            let conds: Vec<String> = (1..=patterns.len())
                .map(|i| format!("search_text LIKE ${i}"))
                .collect();
            format!(
                "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 AND id IN \
                 (SELECT rowid FROM announcements_fts WHERE {}) \
                 ORDER BY published_on DESC LIMIT {limit}",
                conds.join(" AND ")
            )
        }
        Backend::Postgres => {
            let conds: Vec<String> = (1..=patterns.len())
                .map(|i| format!("search_text ILIKE ${i}"))
                .collect();
            format!(
                "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 AND {} \
                 ORDER BY published_on DESC LIMIT {limit}",
                conds.join(" AND ")
            )
        }
    };
    let mut q = sqlx::query(&sql);
    for p in patterns {
        q = q.bind(p.clone());
    }
    ann_rows(&q.fetch_all(pool).await?)
}

/// What an announcement says, as the administrator saves it.
pub struct AnnouncementText<'a> {
    pub category: Category,
    pub title: &'a str,
    pub body_html: &'a str,
    pub published_on: Date,
    pub hot: bool,
}

/// Inserts an announcement (the demo data and the admin pages use it); returns its id.
/// The body is sanitised here, whoever calls.
pub async fn insert_announcement(
    pool: &AnyPool,
    a: &AnnouncementText<'_>,
    created_by: Option<&str>,
    now: OffsetDateTime,
) -> Result<i64> {
    let body_html = sanitize_html(a.body_html);
    Ok(sqlx::query_scalar(
        "INSERT INTO announcements (category, title, body_html, search_text, published_on, hot, \
         retired, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8) \
         RETURNING id",
    )
    .bind(a.category.code())
    .bind(a.title)
    .bind(&body_html)
    .bind(search::search_text(a.title, &plain_text(&body_html)))
    .bind(a.published_on.to_string())
    .bind(i64::from(a.hot))
    .bind(created_by)
    .bind(ms(now))
    .fetch_one(pool)
    .await?)
}

/// Rewrites an announcement; false if there is none with that id.
pub async fn update_announcement(
    pool: &AnyPool,
    id: i64,
    a: &AnnouncementText<'_>,
    now: OffsetDateTime,
) -> Result<bool> {
    let body_html = sanitize_html(a.body_html);
    let n = sqlx::query(
        "UPDATE announcements SET category = $1, title = $2, body_html = $3, search_text = $4, \
         published_on = $5, hot = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(a.category.code())
    .bind(a.title)
    .bind(&body_html)
    .bind(search::search_text(a.title, &plain_text(&body_html)))
    .bind(a.published_on.to_string())
    .bind(i64::from(a.hot))
    .bind(ms(now))
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// An announcement's on/off flags.
#[derive(Debug, Clone, Copy)]
pub enum AnnFlag {
    Hot,
    Retired,
}

/// Sets one flag; false if there is no announcement with that id.
pub async fn set_announcement_flag(
    pool: &AnyPool,
    id: i64,
    flag: AnnFlag,
    on: bool,
    now: OffsetDateTime,
) -> Result<bool> {
    let col = match flag {
        AnnFlag::Hot => "hot",
        AnnFlag::Retired => "retired",
    };
    let n = sqlx::query(&format!(
        "UPDATE announcements SET {col} = $1, updated_at = $2 WHERE id = $3"
    ))
    .bind(i64::from(on))
    .bind(ms(now))
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

// ---- the content version ----------------------------------------------------------------

/// The version of the public content, raised by every change (what other instances'
/// page caches compare with).
pub async fn content_version(pool: &AnyPool) -> Result<i64> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT value FROM counters WHERE name = 'content_version'")
            .fetch_optional(pool)
            .await?;
    Ok(v.unwrap_or(0))
}

/// Raises the content version.
pub async fn bump_content_version(pool: &AnyPool) -> Result<()> {
    sqlx::query(
        "INSERT INTO counters (name, value) VALUES ('content_version', 1) \
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1",
    )
    .execute(pool)
    .await?;
    Ok(())
}

// ---- polls and votes -------------------------------------------------------------------

/// A poll with its counts and, for `voter` (a signed-in account id), their vote.
pub async fn poll_view(pool: &AnyPool, voter: Option<&str>, id: &str) -> Result<Option<PollView>> {
    let Some(row) = sqlx::query("SELECT id, question, closed FROM polls WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let opts = sqlx::query(
        "SELECT o.id, o.label, COUNT(v.account_id) AS votes FROM poll_options o \
         LEFT JOIN poll_votes v ON v.option_id = o.id WHERE o.poll_id = $1 \
         GROUP BY o.id, o.label, o.position ORDER BY o.position",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut options = Vec::with_capacity(opts.len());
    for o in &opts {
        options.push(PollOptionView {
            id: o.try_get("id")?,
            label: o.try_get("label")?,
            votes: o.try_get("votes")?,
        });
    }
    let my_vote = match voter {
        Some(a) => {
            sqlx::query_scalar(
                "SELECT option_id FROM poll_votes WHERE poll_id = $1 AND account_id = $2",
            )
            .bind(id)
            .bind(a)
            .fetch_optional(pool)
            .await?
        }
        None => None,
    };
    Ok(Some(PollView {
        id: row.try_get("id")?,
        question: row.try_get("question")?,
        total_votes: options.iter().map(|o| o.votes).sum(),
        options,
        closed: row.try_get::<i64, _>("closed")? != 0,
        signed_in: voter.is_some(),
        my_vote,
    }))
}

/// The poll the home page shows: the newest active one.
pub async fn current_poll_id(pool: &AnyPool) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar(
            "SELECT id FROM polls WHERE active = 1 ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?,
    )
}

/// The polls page: active polls first, then closed ones, newest first.
pub async fn listed_poll_ids(pool: &AnyPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM polls WHERE active = 1 OR closed = 1 ORDER BY active DESC, created_at DESC LIMIT 20",
    )
    .fetch_all(pool)
    .await?)
}

/// Every poll for the administrator, newest first: id and whether it is active.
pub async fn admin_poll_ids(pool: &AnyPool) -> Result<Vec<(String, bool)>> {
    let rows = sqlx::query("SELECT id, active FROM polls ORDER BY created_at DESC LIMIT 100")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("active")? != 0)))
        .collect()
}

/// Inserts a poll with its options in one transaction; returns its id.
pub async fn insert_poll(
    pool: &AnyPool,
    question: &str,
    options: &[impl AsRef<str>],
    active: bool,
    now: OffsetDateTime,
) -> Result<String> {
    let mut tx = pool.begin().await?;
    let id = insert_poll_in(&mut tx, question, options, active, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`insert_poll`] inside the caller's transaction.
pub async fn insert_poll_in(
    conn: &mut sqlx::AnyConnection,
    question: &str,
    options: &[impl AsRef<str>],
    active: bool,
    now: OffsetDateTime,
) -> Result<String> {
    let id = tokens::row_id();
    sqlx::query(
        "INSERT INTO polls (id, question, active, closed, created_at) VALUES ($1, $2, $3, 0, $4)",
    )
    .bind(&id)
    .bind(question)
    .bind(i64::from(active))
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    for (i, o) in options.iter().enumerate() {
        sqlx::query(
            "INSERT INTO poll_options (id, poll_id, label, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(tokens::row_id())
        .bind(&id)
        .bind(o.as_ref())
        .bind(i as i64 + 1)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// A poll's on/off flags.
#[derive(Debug, Clone, Copy)]
pub enum PollFlag {
    Active,
    Closed,
}

/// Sets one flag; false if there is no poll with that id.
pub async fn set_poll_flag(pool: &AnyPool, id: &str, flag: PollFlag, on: bool) -> Result<bool> {
    let col = match flag {
        PollFlag::Active => "active",
        PollFlag::Closed => "closed",
    };
    let n = sqlx::query(&format!("UPDATE polls SET {col} = $1 WHERE id = $2"))
        .bind(i64::from(on))
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Whether a poll is closed; `None` if there is no such poll.
pub async fn poll_closed(pool: &AnyPool, id: &str) -> Result<Option<bool>> {
    let closed: Option<i64> = sqlx::query_scalar("SELECT closed FROM polls WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(closed.map(|c| c != 0))
}

/// Whether `option_id` is one of `poll_id`'s options.
pub async fn option_in_poll(pool: &AnyPool, option_id: &str, poll_id: &str) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM poll_options WHERE id = $1 AND poll_id = $2")
            .bind(option_id)
            .bind(poll_id)
            .fetch_one(pool)
            .await?;
    Ok(n == 1)
}

/// Records a vote; false if the account had already voted in that poll (the table's key
/// decides, so two racing votes cannot both count).
pub async fn insert_vote(
    pool: &AnyPool,
    poll_id: &str,
    account_id: &str,
    option_id: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    crate::db::inserted(
        sqlx::query(
            "INSERT INTO poll_votes (poll_id, account_id, option_id, voted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(poll_id)
        .bind(account_id)
        .bind(option_id)
        .bind(ms(now))
        .execute(pool)
        .await,
    )
}

// ---- links -----------------------------------------------------------------------------

pub async fn links(pool: &AnyPool) -> Result<Vec<LinkItem>> {
    let rows = sqlx::query("SELECT id, title, url, position FROM links ORDER BY position, title")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LinkItem {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                url: r.try_get("url")?,
                position: r.try_get("position")?,
            })
        })
        .collect()
}

/// Inserts a link; returns its id.
pub async fn insert_link<'e>(
    conn: impl Executor<'e, Database = Any>,
    title: &str,
    url: &str,
    position: i64,
    now: OffsetDateTime,
) -> Result<String> {
    let id = tokens::row_id();
    sqlx::query(
        "INSERT INTO links (id, title, url, position, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(title)
    .bind(url)
    .bind(position)
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(id)
}

/// Rewrites a link; false if there is none with that id.
pub async fn update_link(
    pool: &AnyPool,
    id: &str,
    title: &str,
    url: &str,
    position: i64,
    now: OffsetDateTime,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE links SET title = $1, url = $2, position = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(title)
    .bind(url)
    .bind(position)
    .bind(ms(now))
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn delete_link(pool: &AnyPool, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM links WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

// ---- FAQ -------------------------------------------------------------------------------

const FAQ_COLS: &str = "id, category, question, body_html, position, retired, updated_at";

fn faq_row(r: &AnyRow) -> Result<FaqEntry> {
    Ok(FaqEntry {
        id: r.try_get("id")?,
        category: r.try_get("category")?,
        question: r.try_get("question")?,
        body_html: r.try_get("body_html")?,
        updated: roc_datetime(from_ms(r.try_get("updated_at")?)),
        position: r.try_get("position")?,
        retired: r.try_get::<i64, _>("retired")? != 0,
    })
}

/// Every FAQ entry (the administrator's list), retired last.
pub async fn faq_entries(pool: &AnyPool) -> Result<Vec<FaqEntry>> {
    let rows = sqlx::query(&format!(
        "SELECT {FAQ_COLS} FROM faq_entries ORDER BY retired, position, id"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(faq_row).collect()
}

/// The public FAQ index: questions only.
pub async fn faq_index(pool: &AnyPool) -> Result<Vec<FaqItem>> {
    let rows = sqlx::query(
        "SELECT id, category, question FROM faq_entries WHERE retired = 0 ORDER BY position, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FaqItem {
                id: r.try_get("id")?,
                category: r.try_get("category")?,
                question: r.try_get("question")?,
            })
        })
        .collect()
}

/// One public (not retired) FAQ entry.
pub async fn faq_entry(pool: &AnyPool, id: &str) -> Result<Option<FaqEntry>> {
    let row = sqlx::query(&format!(
        "SELECT {FAQ_COLS} FROM faq_entries WHERE id = $1 AND retired = 0"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(faq_row).transpose()
}

/// An FAQ entry as it is written.
pub struct FaqText<'a> {
    pub id: &'a str,
    pub category: &'a str,
    pub question: &'a str,
    pub body_html: &'a str,
    pub position: i64,
    pub retired: bool,
}

/// Writes an FAQ entry (new or replacing the one with its id). With `keep_existing`, an
/// entry that already exists is left as it is (the starting content uses that).
pub async fn save_faq<'e>(
    conn: impl Executor<'e, Database = Any>,
    f: &FaqText<'_>,
    keep_existing: bool,
    now: OffsetDateTime,
) -> Result<()> {
    let on_conflict = if keep_existing {
        "DO NOTHING"
    } else {
        "DO UPDATE SET category = excluded.category, question = excluded.question, \
         body_html = excluded.body_html, position = excluded.position, \
         retired = excluded.retired, updated_at = excluded.updated_at"
    };
    sqlx::query(&format!(
        "INSERT INTO faq_entries (id, category, question, body_html, position, retired, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) {on_conflict}"
    ))
    .bind(f.id)
    .bind(f.category)
    .bind(f.question)
    .bind(sanitize_html(f.body_html))
    .bind(f.position)
    .bind(i64::from(f.retired))
    .bind(ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

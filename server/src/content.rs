//! The portal around the login, server side: announcements (with the Chinese search),
//! polls, links, FAQ, the agency tree, the home page counters, password reset by e-mail
//! and the administrator's changes. Implements the app's [`ContentBackend`].

use crate::batch::Stmt;
use crate::{
    content_defaults,
    db::{from_ms, ms, Backend},
    error::{Result, ServerError},
    mail::Mail,
    service::{account_key, roc_datetime, Portal},
    store::{self, AuditEntry},
    tokens,
};
use async_trait::async_trait;
use ecpa_app::{
    api::{
        backend::RequestCtx,
        content::{
            server::ContentBackend, AdminAnnouncement, AdminApp, AdminPoll, AgencyNode,
            AnnouncementAction, AnnouncementDetail, AnnouncementItem, AnnouncementPage, FaqEntry,
            FaqItem, HomeData, HomeStats, LinkItem, PollAction, PollOptionView, PollView,
            SearchHit, SearchResults,
        },
    },
    error::ApiError,
    wording::roc_short,
};
use ecpa_domain::{
    account::AccountName,
    content::{self, Category, ContentError, Field},
    reset::{self, LinkState},
    roc,
    search::{self, Query},
    tz,
};
use sqlx::{any::AnyRow, AnyPool, Row};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};
use time::{Date, Duration, OffsetDateTime};

type ApiResult<T> = std::result::Result<T, ApiError>;

/// Announcements per list page and per search results page.
pub const PAGE_SIZE: u32 = 15;
/// Announcements on the home page.
pub const HOME_LATEST: i64 = 6;
/// The home page counters are recomputed at most this often (per server instance).
pub const STATS_TTL: Duration = Duration::seconds(15);
/// "Online" means a signed-in session seen within this window.
pub const ONLINE_WINDOW: Duration = Duration::minutes(10);
/// Search ranks at most this many candidates (newest first) from the index.
const SEARCH_CANDIDATES: i64 = 500;
/// Reset requests per client per hour, and mails per account per hour.
const RESET_PER_CLIENT_HOUR: i64 = 10;
const RESET_MAILS_PER_ACCOUNT_HOUR: i64 = 3;

/// A password-reset request, worked on after its answer was sent, one at a time (so the
/// per-account mail limit holds however fast requests come).
struct ResetWork {
    db: crate::db::Db,
    clock: crate::service::Clock,
    origin: String,
    mailer: Arc<crate::mail::Mailer>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl ResetWork {
    async fn run(self, audit_id: &str, name: Option<AccountName>, email: &str) -> Result<()> {
        let _one_at_a_time = self.lock.lock().await;
        let pool = &self.db.pool;
        let now = (self.clock)();
        let acct = match &name {
            Some(n) => store::account_by_name(pool, n.as_str()).await?,
            None => None,
        };
        let target = acct.filter(|a| {
            !a.disabled
                && a.email
                    .as_deref()
                    .is_some_and(|e| reset::email_matches(e, email))
        });
        let Some(a) = target else {
            return store::set_audit_outcome(pool, audit_id, "ok", None, Some("no-match")).await;
        };
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM password_resets WHERE account_id = $1 AND created_at > $2",
        )
        .bind(&a.id)
        .bind(ms(now - Duration::hours(1)))
        .fetch_one(pool)
        .await?;
        if recent >= RESET_MAILS_PER_ACCOUNT_HOUR {
            return store::set_audit_outcome(pool, audit_id, "throttled", Some(&a.id), None).await;
        }
        let token = tokens::secret_token();
        let mut batch = crate::batch::Batch::new();
        // A new link replaces any earlier one.
        batch
            .push(crate::batch::Stmt::new(
                "UPDATE password_resets SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
                vec![ms(now).into(), a.id.as_str().into()],
            ))
            .push(crate::batch::Stmt::new(
                "INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                vec![
                    tokens::token_hash(&token).into(),
                    a.id.as_str().into(),
                    ms(now).into(),
                    ms(now + reset::LINK_TTL).into(),
                ],
            ));
        batch.commit(&self.db).await?;
        store::set_audit_outcome(pool, audit_id, "ok", Some(&a.id), Some("sent")).await?;
        let link = format!("{}/password/reset?token={token}", self.origin);
        let body = format!(
            "{} 您好：\n\n\
             我們收到重設您 eCPA人事服務網 帳號（{}）密碼的申請。\n\
             請於 30 分鐘內開啟下列連結設定新密碼（連結僅能使用一次）：\n\n\
             {link}\n\n\
             若您沒有提出申請，請忽略本信，您的密碼不會變更。\n\n\
             eCPA人事服務網（本信由系統自動寄出，請勿直接回覆）\n",
            a.display_name, a.name
        );
        let mail = Mail {
            to: a.email.clone().unwrap_or_default(),
            subject: "eCPA人事服務網 重設密碼通知".into(),
            body,
        };
        if let Err(e) = self.mailer.send(mail).await {
            tracing::error!(error = %e, "password reset mail not sent");
        }
        Ok(())
    }
}

pub const KIND_RESET_REQUEST: &str = "password.reset.request";
pub const KIND_RESET: &str = "password.reset";
pub const KIND_VOTE: &str = "poll.vote";
pub const KIND_ADMIN: &str = "admin.change";
pub const COUNTER_SIGN_INS: &str = "sign_ins_total";

// ---- sanitising -------------------------------------------------------------------------

/// Safe formatting only: paragraphs, emphasis, lists, headings, quotes, tables and links
/// (http, https, mailto; opened without access to this page). Everything else, scripts and
/// event attributes included, is removed.
pub fn sanitize_html(raw: &str) -> String {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "ul",
        "ol",
        "li",
        "a",
        "h3",
        "h4",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into_iter()
    .collect();
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    let mut attrs = HashMap::new();
    attrs.insert("a", ["href"].into_iter().collect::<HashSet<&str>>());
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(attrs)
        .generic_attributes(HashSet::new())
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer"))
        .clean(raw)
        .to_string()
}

/// What an administrator typed, as stored HTML. Text without markup is escaped; text
/// without block markup gets its paragraphs (blank line) and line breaks; the result is
/// always sanitised.
pub fn body_to_html(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let lower = raw.to_ascii_lowercase();
    let has_tag = lower
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'));
    let has_block = [
        "<p",
        "<ul",
        "<ol",
        "<h3",
        "<h4",
        "<table",
        "<blockquote",
        "<br",
        "<div",
    ]
    .iter()
    .any(|t| lower.contains(t));
    if has_block {
        return sanitize_html(&raw);
    }
    let esc = |s: &str| {
        if has_tag {
            s.to_string()
        } else {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        }
    };
    let html: String = raw
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", esc(p).replace('\n', "<br>")))
        .collect();
    sanitize_html(&html)
}

/// The text of sanitised HTML (for the search index and snippets).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- counters ---------------------------------------------------------------------------

/// Per-instance cache of the home page counters.
#[derive(Default)]
pub struct StatsCache(Mutex<Option<(OffsetDateTime, HomeStats)>>);

/// The writes that count a sign-in: one row per account and Taipei day, and the total.
/// Both statements are atomic in the database, so several instances count correctly.
pub fn record_sign_in(account_id: &str, now: OffsetDateTime) -> [Stmt; 2] {
    [
        Stmt::new(
            "INSERT INTO daily_sign_ins (day, account_id, first_at) VALUES ($1, $2, $3) \
             ON CONFLICT (day, account_id) DO NOTHING",
            vec![
                tz::taipei_date(now).to_string().into(),
                account_id.into(),
                ms(now).into(),
            ],
        ),
        Stmt::new(
            "UPDATE counters SET value = value + 1 WHERE name = $1",
            vec![COUNTER_SIGN_INS.into()],
        ),
    ]
}

/// The counters now, from three indexed reads (never a scan of the audit log).
pub async fn compute_stats(pool: &AnyPool, now: OffsetDateTime) -> Result<HomeStats> {
    let online: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE last_seen_at >= $1 AND expires_at > $2 \
         AND account_id IS NOT NULL",
    )
    .bind(ms(now - ONLINE_WINDOW))
    .bind(ms(now))
    .fetch_one(pool)
    .await?;
    let today: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM daily_sign_ins WHERE day = $1")
        .bind(tz::taipei_date(now).to_string())
        .fetch_one(pool)
        .await?;
    let total: Option<i64> = sqlx::query_scalar("SELECT value FROM counters WHERE name = $1")
        .bind(COUNTER_SIGN_INS)
        .fetch_optional(pool)
        .await?;
    let local = now.to_offset(tz::TAIPEI);
    Ok(HomeStats {
        online,
        today,
        total: total.unwrap_or(0),
        as_of: format!(
            "{:02}:{:02}:{:02}",
            local.hour(),
            local.minute(),
            local.second()
        ),
    })
}

// ---- defaults ---------------------------------------------------------------------------

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
        for (i, l) in content_defaults::LINKS.iter().enumerate() {
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
            .bind(content_defaults::POLL_QUESTION)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        for (i, o) in content_defaults::POLL_OPTIONS.iter().enumerate() {
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
        for (i, f) in content_defaults::FAQ.iter().enumerate() {
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

// ---- rows -------------------------------------------------------------------------------

const ANN_COLS: &str = "id, category, title, body_html, published_on, hot, retired";

struct AnnRow {
    id: i64,
    category: Category,
    title: String,
    body_html: String,
    published_on: Date,
    hot: bool,
    retired: bool,
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

impl AnnRow {
    fn item(&self) -> AnnouncementItem {
        AnnouncementItem {
            id: self.id,
            category: self.category,
            title: self.title.clone(),
            published: roc_short(self.published_on),
            hot: self.hot,
        }
    }
}

fn content_err(e: ContentError) -> ApiError {
    ApiError::Content(e)
}

impl Portal {
    fn today(&self) -> Date {
        tz::taipei_date(self.now())
    }

    async fn audit_simple(
        &self,
        ctx: &RequestCtx,
        kind: &str,
        key: &str,
        account_id: Option<&str>,
        outcome: &str,
        detail: Option<&str>,
    ) -> Result<()> {
        store::audit(
            &self.db.pool,
            &AuditEntry {
                kind,
                account_key: key,
                account_id,
                client: &ctx.client,
                trusted: false,
                outcome,
                detail,
            },
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// The signed-in administrator's account id; `Unauthenticated` / `Forbidden` otherwise.
    async fn require_admin(&self, ctx: &RequestCtx) -> ApiResult<String> {
        let Some(id) = ctx.session.as_ref().and_then(|s| s.account_id.clone()) else {
            return Err(ApiError::Unauthenticated);
        };
        let admin: Option<i64> =
            sqlx::query_scalar("SELECT is_admin FROM accounts WHERE id = $1 AND disabled = 0")
                .bind(&id)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(ServerError::from)?;
        match admin {
            Some(1) => Ok(id),
            _ => Err(ApiError::Forbidden),
        }
    }

    async fn admin_audit(&self, ctx: &RequestCtx, admin_id: &str, what: &str) -> ApiResult<()> {
        self.audit_simple(ctx, KIND_ADMIN, admin_id, Some(admin_id), "ok", Some(what))
            .await
            .map_err(ApiError::from)
    }

    async fn poll_view(&self, ctx: &RequestCtx, id: &str) -> Result<Option<PollView>> {
        let pool = &self.db.pool;
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
        let account = ctx.session.as_ref().and_then(|s| s.account_id.clone());
        let my_vote = match &account {
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
            signed_in: account.is_some(),
            my_vote,
        }))
    }

    async fn current_poll_id(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM polls WHERE active = 1 ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&self.db.pool)
        .await?)
    }

    async fn stats(&self) -> Result<HomeStats> {
        let now = self.now();
        if let Ok(guard) = self.stats_cache.0.lock() {
            if let Some((at, s)) = guard.as_ref() {
                if now - *at < STATS_TTL && now >= *at {
                    return Ok(s.clone());
                }
            }
        }
        let s = compute_stats(&self.db.pool, now).await?;
        if let Ok(mut guard) = self.stats_cache.0.lock() {
            *guard = Some((now, s.clone()));
        }
        Ok(s)
    }

    async fn links_impl(&self) -> Result<Vec<LinkItem>> {
        let rows =
            sqlx::query("SELECT id, title, url, position FROM links ORDER BY position, title")
                .fetch_all(&self.db.pool)
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
}

#[async_trait]
impl ContentBackend for Portal {
    async fn home(&self, ctx: &RequestCtx) -> ApiResult<HomeData> {
        let today = self.today();
        let rows = sqlx::query(&format!(
            "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 \
             ORDER BY hot DESC, published_on DESC, id DESC LIMIT {HOME_LATEST}"
        ))
        .fetch_all(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        let latest = rows
            .iter()
            .map(|r| ann_row(r).map(|a| a.item()))
            .collect::<Result<Vec<_>>>()?;
        let poll = match self.current_poll_id().await? {
            Some(id) => self.poll_view(ctx, &id).await?,
            None => None,
        };
        Ok(HomeData {
            today: roc::format_long(today).unwrap_or_else(|_| today.to_string()),
            stats: self.stats().await?,
            latest,
            poll,
            links: self.links_impl().await?,
        })
    }

    async fn announcements(
        &self,
        category: Option<Category>,
        page: u32,
    ) -> ApiResult<AnnouncementPage> {
        let pool = &self.db.pool;
        let code = category.map(|c| c.code()).unwrap_or("");
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM announcements WHERE retired = 0 AND ($1 = '' OR category = $1)",
        )
        .bind(code)
        .fetch_one(pool)
        .await
        .map_err(ServerError::from)?;
        let pages = content::page_count(total.max(0) as u64, u64::from(PAGE_SIZE)) as u32;
        let page = page.clamp(1, pages);
        let rows = sqlx::query(&format!(
            "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 AND ($1 = '' OR category = $1) \
             ORDER BY hot DESC, published_on DESC, id DESC LIMIT {PAGE_SIZE} OFFSET $2"
        ))
        .bind(code)
        .bind(i64::from((page - 1) * PAGE_SIZE))
        .fetch_all(pool)
        .await
        .map_err(ServerError::from)?;
        Ok(AnnouncementPage {
            items: rows
                .iter()
                .map(|r| ann_row(r).map(|a| a.item()))
                .collect::<Result<Vec<_>>>()?,
            category,
            page,
            pages,
            total,
        })
    }

    async fn announcement(&self, id: i64) -> ApiResult<AnnouncementDetail> {
        let row = sqlx::query(&format!(
            "SELECT {ANN_COLS} FROM announcements WHERE id = $1 AND retired = 0"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(ServerError::from)?
        .ok_or(ApiError::NotFound)?;
        let a = ann_row(&row)?;
        Ok(AnnouncementDetail {
            item: a.item(),
            // Sanitised when stored; again here, so a row written around the admin pages
            // cannot carry a script to the browser either.
            body_html: sanitize_html(&a.body_html),
        })
    }

    async fn search(&self, _ctx: &RequestCtx, raw: &str, page: u32) -> ApiResult<SearchResults> {
        let raw: String = raw.chars().take(200).collect();
        let query = Query::parse(&raw)
            .map_err(|_| ApiError::Content(ContentError::Required(Field::Query)))?;
        let patterns = query.like_patterns();
        let sql = match self.db.backend {
            Backend::Sqlite => {
                let conds: Vec<String> = (1..=patterns.len())
                    .map(|i| format!("search_text LIKE ${i}"))
                    .collect();
                format!(
                    "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 AND id IN \
                     (SELECT rowid FROM announcements_fts WHERE {}) \
                     ORDER BY published_on DESC LIMIT {SEARCH_CANDIDATES}",
                    conds.join(" AND ")
                )
            }
            Backend::Postgres => {
                let conds: Vec<String> = (1..=patterns.len())
                    .map(|i| format!("search_text ILIKE ${i}"))
                    .collect();
                format!(
                    "SELECT {ANN_COLS} FROM announcements WHERE retired = 0 AND {} \
                     ORDER BY published_on DESC LIMIT {SEARCH_CANDIDATES}",
                    conds.join(" AND ")
                )
            }
        };
        let mut q = sqlx::query(&sql);
        for p in &patterns {
            q = q.bind(p.clone());
        }
        let rows = q
            .fetch_all(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        let today = self.today();
        let mut scored: Vec<(u32, AnnRow, String)> = Vec::new();
        for r in &rows {
            let a = ann_row(r)?;
            let text = plain_text(&a.body_html);
            let age = (today - a.published_on).whole_days();
            if let Some(s) = search::score(&query, &a.title, &text, a.hot, age) {
                scored.push((s, a, text));
            }
        }
        scored.sort_by(|x, y| {
            y.0.cmp(&x.0)
                .then(y.1.published_on.cmp(&x.1.published_on))
                .then(y.1.id.cmp(&x.1.id))
        });
        let total = scored.len() as i64;
        let pages = content::page_count(total as u64, u64::from(PAGE_SIZE)) as u32;
        let page = page.clamp(1, pages);
        let hits = scored
            .into_iter()
            .skip(((page - 1) * PAGE_SIZE) as usize)
            .take(PAGE_SIZE as usize)
            .map(|(_, a, text)| SearchHit {
                id: a.id,
                category: a.category,
                published: roc_short(a.published_on),
                hot: a.hot,
                title: search::highlight(&a.title, &query),
                snippet: search::snippet(&text, &query, 90),
            })
            .collect();
        Ok(SearchResults {
            query: raw,
            terms: query.terms().to_vec(),
            hits,
            total,
            page,
            pages,
        })
    }

    async fn polls(&self, ctx: &RequestCtx) -> ApiResult<Vec<PollView>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM polls WHERE active = 1 OR closed = 1 ORDER BY active DESC, created_at DESC LIMIT 20",
        )
        .fetch_all(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(v) = self.poll_view(ctx, &id).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn vote(&self, ctx: &RequestCtx, poll_id: &str, option_id: &str) -> ApiResult<PollView> {
        let Some(account) = ctx.session.as_ref().and_then(|s| s.account_id.clone()) else {
            return Err(ApiError::Unauthenticated);
        };
        let pool = &self.db.pool;
        let closed: Option<i64> = sqlx::query_scalar("SELECT closed FROM polls WHERE id = $1")
            .bind(poll_id)
            .fetch_optional(pool)
            .await
            .map_err(ServerError::from)?;
        match closed {
            None => return Err(ApiError::NotFound),
            Some(c) if c != 0 => return Err(ApiError::PollClosed),
            _ => {}
        }
        let belongs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM poll_options WHERE id = $1 AND poll_id = $2")
                .bind(option_id)
                .bind(poll_id)
                .fetch_one(pool)
                .await
                .map_err(ServerError::from)?;
        if belongs != 1 {
            return Err(ApiError::Content(ContentError::Invalid(Field::Option)));
        }
        let inserted = sqlx::query(
            "INSERT INTO poll_votes (poll_id, account_id, option_id, voted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(poll_id)
        .bind(&account)
        .bind(option_id)
        .bind(ms(self.now()))
        .execute(pool)
        .await;
        match inserted {
            Ok(_) => {
                self.audit_simple(
                    ctx,
                    KIND_VOTE,
                    &account,
                    Some(&account),
                    "ok",
                    Some(poll_id),
                )
                .await?;
            }
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Err(ApiError::AlreadyVoted);
            }
            Err(e) => return Err(ServerError::from(e).into()),
        }
        self.poll_view(ctx, poll_id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    async fn agencies(&self) -> ApiResult<Vec<AgencyNode>> {
        let rows = sqlx::query("SELECT code, name, parent_code FROM agencies ORDER BY code")
            .fetch_all(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        let mut all: Vec<(String, String, Option<String>)> = Vec::with_capacity(rows.len());
        for r in &rows {
            all.push((
                r.try_get("code").map_err(ServerError::from)?,
                r.try_get("name").map_err(ServerError::from)?,
                r.try_get::<Option<String>, _>("parent_code")
                    .map_err(ServerError::from)?
                    .filter(|p| !p.is_empty()),
            ));
        }
        Ok(agency_tree(&all))
    }

    async fn links(&self) -> ApiResult<Vec<LinkItem>> {
        Ok(self.links_impl().await?)
    }

    async fn faq_list(&self) -> ApiResult<Vec<FaqItem>> {
        let rows = sqlx::query(
            "SELECT id, category, question FROM faq_entries WHERE retired = 0 ORDER BY position, id",
        )
        .fetch_all(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(FaqItem {
                id: r.try_get("id").map_err(ServerError::from)?,
                category: r.try_get("category").map_err(ServerError::from)?,
                question: r.try_get("question").map_err(ServerError::from)?,
            });
        }
        Ok(out)
    }

    async fn faq(&self, id: &str) -> ApiResult<FaqEntry> {
        let id = content::faq_id(id).map_err(|_| ApiError::NotFound)?;
        let row = sqlx::query("SELECT * FROM faq_entries WHERE id = $1 AND retired = 0")
            .bind(&id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(ServerError::from)?
            .ok_or(ApiError::NotFound)?;
        let mut e = Portal::faq_row(&row)?;
        e.body_html = sanitize_html(&e.body_html);
        Ok(e)
    }

    /// The same work for every request before the answer (issue #16, finding 9): the
    /// client's hourly count and one audit entry. Whether the account exists and the
    /// address matches is found out afterwards, in the background ([`ResetWork`]).
    async fn request_reset(&self, ctx: &RequestCtx, account: &str, email: &str) -> ApiResult<()> {
        let pool = &self.db.pool;
        let now = self.now();
        let (key, name) = account_key(account);
        let from_client: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND client = $2 AND at > $3",
        )
        .bind(KIND_RESET_REQUEST)
        .bind(&ctx.client)
        .bind(ms(now - Duration::hours(1)))
        .fetch_one(pool)
        .await
        .map_err(ServerError::from)?;
        let throttled = from_client >= RESET_PER_CLIENT_HOUR;
        let (id, stmt) = store::audit_stmt(
            &AuditEntry {
                kind: KIND_RESET_REQUEST,
                account_key: &key,
                account_id: None,
                client: &ctx.client,
                trusted: false,
                outcome: if throttled { "throttled" } else { "pending" },
                detail: None,
            },
            now,
        );
        stmt.execute(pool).await?;
        // Same answer as always: neither the limit nor the account may become an oracle.
        if !throttled {
            let work = ResetWork {
                db: self.db.clone(),
                clock: self.clock.clone(),
                origin: self.config.origin_string(),
                mailer: self.mailer.clone(),
                lock: self.reset_lock.clone(),
            };
            let email = email.to_string();
            tokio::spawn(async move {
                if let Err(e) = work.run(&id, name, &email).await {
                    tracing::error!(error = %e, "password reset request not processed");
                }
            });
        }
        Ok(())
    }

    async fn reset_state(&self, token: &str) -> ApiResult<LinkState> {
        if !tokens::looks_like_token(token) {
            return Ok(LinkState::Used);
        }
        let row =
            sqlx::query("SELECT expires_at, used_at FROM password_resets WHERE token_hash = $1")
                .bind(tokens::token_hash(token))
                .fetch_optional(&self.db.pool)
                .await
                .map_err(ServerError::from)?;
        let Some(r) = row else {
            return Ok(LinkState::Used);
        };
        let expires: i64 = r.try_get("expires_at").map_err(ServerError::from)?;
        let used: Option<i64> = r.try_get("used_at").map_err(ServerError::from)?;
        Ok(reset::link_state(
            from_ms(expires),
            used.map(from_ms),
            self.now(),
        ))
    }

    async fn reset_password(
        &self,
        ctx: &RequestCtx,
        token: &str,
        password: &str,
        confirm: &str,
    ) -> ApiResult<()> {
        let state = self.reset_state(token).await?;
        if state != LinkState::Usable {
            return Err(ApiError::ResetLink(state));
        }
        if password != confirm {
            return Err(ApiError::PasswordMismatch);
        }
        let pool = &self.db.pool;
        let hash_of_token = tokens::token_hash(token);
        let account_id: String =
            sqlx::query_scalar("SELECT account_id FROM password_resets WHERE token_hash = $1")
                .bind(&hash_of_token)
                .fetch_one(pool)
                .await
                .map_err(ServerError::from)?;
        let acct = store::account_by_id(pool, &account_id)
            .await?
            .ok_or(ApiError::ResetLink(LinkState::Used))?;
        self.password_policy
            .validate(&acct.name, password)
            .map_err(ApiError::WeakPassword)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = pool.begin().await.map_err(ServerError::from)?;
        // Single use even under concurrent submissions: only one UPDATE finds it unused.
        let took = sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(ms(now))
        .bind(&hash_of_token)
        .execute(&mut *tx)
        .await
        .map_err(ServerError::from)?
        .rows_affected();
        if took != 1 {
            return Err(ApiError::ResetLink(LinkState::Used));
        }
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(&hash)
            .bind(&account_id)
            .execute(&mut *tx)
            .await
            .map_err(ServerError::from)?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
        )
        .bind(ms(now))
        .bind(&account_id)
        .execute(&mut *tx)
        .await
        .map_err(ServerError::from)?;
        // Whoever knew the old password is signed out everywhere, and no browser stays
        // trusted for the account.
        let [sessions, devices] = store::credentials_changed(&account_id);
        let ended = sessions.execute(&mut *tx).await?;
        devices.execute(&mut *tx).await?;
        tx.commit().await.map_err(ServerError::from)?;
        let detail = format!("sessions ended: {ended}");
        self.audit_simple(
            ctx,
            KIND_RESET,
            &acct.name,
            Some(&account_id),
            "success",
            Some(&detail),
        )
        .await?;
        Ok(())
    }

    async fn is_admin(&self, ctx: &RequestCtx) -> ApiResult<bool> {
        match self.require_admin(ctx).await {
            Ok(_) => Ok(true),
            Err(ApiError::Forbidden | ApiError::Unauthenticated) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn admin_announcements(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminAnnouncement>> {
        self.require_admin(ctx).await?;
        let rows = sqlx::query(&format!(
            "SELECT {ANN_COLS} FROM announcements ORDER BY retired, hot DESC, published_on DESC, id DESC LIMIT 500"
        ))
        .fetch_all(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        rows.iter()
            .map(|r| ann_row(r).map(admin_ann).map_err(ApiError::from))
            .collect()
    }

    async fn admin_announcement(&self, ctx: &RequestCtx, id: i64) -> ApiResult<AdminAnnouncement> {
        self.require_admin(ctx).await?;
        let row = sqlx::query(&format!(
            "SELECT {ANN_COLS} FROM announcements WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(ServerError::from)?
        .ok_or(ApiError::NotFound)?;
        Ok(admin_ann(ann_row(&row)?))
    }

    async fn save_announcement(
        &self,
        ctx: &RequestCtx,
        id: Option<i64>,
        category: &str,
        title: &str,
        body: &str,
        published_on: Option<Date>,
        hot: bool,
    ) -> ApiResult<i64> {
        let admin = self.require_admin(ctx).await?;
        let category =
            Category::from_code(category).ok_or(content_err(ContentError::BadCategory))?;
        let title = content::line(Field::Title, title, content::TITLE_MAX).map_err(content_err)?;
        let body = content::body(body).map_err(content_err)?;
        let html = sanitize_html(&body_to_html(&body));
        if plain_text(&html).is_empty() {
            return Err(content_err(ContentError::Required(Field::Body)));
        }
        let published_on = published_on.unwrap_or_else(|| self.today());
        let now = self.now();
        let id = match id {
            None => {
                insert_announcement(
                    &self.db.pool,
                    category,
                    &title,
                    &html,
                    published_on,
                    hot,
                    Some(&admin),
                    now,
                )
                .await?
            }
            Some(id) => {
                let n = sqlx::query(
                    "UPDATE announcements SET category = $1, title = $2, body_html = $3, search_text = $4, \
                     published_on = $5, hot = $6, updated_at = $7 WHERE id = $8",
                )
                .bind(category.code())
                .bind(&title)
                .bind(&html)
                .bind(search::search_text(&title, &plain_text(&html)))
                .bind(published_on.to_string())
                .bind(i64::from(hot))
                .bind(ms(now))
                .bind(id)
                .execute(&self.db.pool)
                .await
                .map_err(ServerError::from)?
                .rows_affected();
                if n != 1 {
                    return Err(ApiError::NotFound);
                }
                id
            }
        };
        self.admin_audit(ctx, &admin, &format!("announcement {id} saved"))
            .await?;
        Ok(id)
    }

    async fn announcement_action(
        &self,
        ctx: &RequestCtx,
        id: i64,
        action: AnnouncementAction,
    ) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let (col, val) = match action {
            AnnouncementAction::Pin => ("hot", 1),
            AnnouncementAction::Unpin => ("hot", 0),
            AnnouncementAction::Retire => ("retired", 1),
            AnnouncementAction::Restore => ("retired", 0),
        };
        let n = sqlx::query(&format!(
            "UPDATE announcements SET {col} = $1, updated_at = $2 WHERE id = $3"
        ))
        .bind(val as i64)
        .bind(ms(self.now()))
        .bind(id)
        .execute(&self.db.pool)
        .await
        .map_err(ServerError::from)?
        .rows_affected();
        if n != 1 {
            return Err(ApiError::NotFound);
        }
        self.admin_audit(ctx, &admin, &format!("announcement {id} {action:?}"))
            .await
    }

    async fn admin_polls(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminPoll>> {
        self.require_admin(ctx).await?;
        let rows = sqlx::query("SELECT id, active FROM polls ORDER BY created_at DESC LIMIT 100")
            .fetch_all(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id").map_err(ServerError::from)?;
            let active = r.try_get::<i64, _>("active").map_err(ServerError::from)? != 0;
            if let Some(poll) = self.poll_view(ctx, &id).await? {
                out.push(AdminPoll { poll, active });
            }
        }
        Ok(out)
    }

    async fn create_poll(
        &self,
        ctx: &RequestCtx,
        question: &str,
        options: &str,
    ) -> ApiResult<String> {
        let admin = self.require_admin(ctx).await?;
        let question =
            content::line(Field::Question, question, content::QUESTION_MAX).map_err(content_err)?;
        let options = content::poll_options(options).map_err(content_err)?;
        let id = tokens::row_id();
        let mut tx = self.db.pool.begin().await.map_err(ServerError::from)?;
        sqlx::query("INSERT INTO polls (id, question, active, closed, created_at) VALUES ($1, $2, 0, 0, $3)")
            .bind(&id)
            .bind(&question)
            .bind(ms(self.now()))
            .execute(&mut *tx)
            .await
            .map_err(ServerError::from)?;
        for (i, o) in options.iter().enumerate() {
            sqlx::query(
                "INSERT INTO poll_options (id, poll_id, label, position) VALUES ($1, $2, $3, $4)",
            )
            .bind(tokens::row_id())
            .bind(&id)
            .bind(o)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await
            .map_err(ServerError::from)?;
        }
        tx.commit().await.map_err(ServerError::from)?;
        self.admin_audit(ctx, &admin, &format!("poll {id} created"))
            .await?;
        Ok(id)
    }

    async fn poll_action(&self, ctx: &RequestCtx, id: &str, action: PollAction) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let (col, val) = match action {
            PollAction::Activate => ("active", 1),
            PollAction::Deactivate => ("active", 0),
            PollAction::Close => ("closed", 1),
            PollAction::Reopen => ("closed", 0),
        };
        let n = sqlx::query(&format!("UPDATE polls SET {col} = $1 WHERE id = $2"))
            .bind(val as i64)
            .bind(id)
            .execute(&self.db.pool)
            .await
            .map_err(ServerError::from)?
            .rows_affected();
        if n != 1 {
            return Err(ApiError::NotFound);
        }
        self.admin_audit(ctx, &admin, &format!("poll {id} {action:?}"))
            .await
    }

    async fn save_link(
        &self,
        ctx: &RequestCtx,
        id: Option<String>,
        title: &str,
        url: &str,
        position: i64,
    ) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let title = content::line(Field::Name, title, content::NAME_MAX).map_err(content_err)?;
        let url = content::url(url).map_err(content_err)?;
        if !(0..=100_000).contains(&position) {
            return Err(content_err(ContentError::Invalid(Field::Position)));
        }
        let now = ms(self.now());
        let id = match id {
            Some(id) => {
                let n = sqlx::query("UPDATE links SET title = $1, url = $2, position = $3, updated_at = $4 WHERE id = $5")
                    .bind(&title)
                    .bind(&url)
                    .bind(position)
                    .bind(now)
                    .bind(&id)
                    .execute(&self.db.pool)
                    .await
                    .map_err(ServerError::from)?
                    .rows_affected();
                if n != 1 {
                    return Err(ApiError::NotFound);
                }
                id
            }
            None => {
                let id = tokens::row_id();
                sqlx::query("INSERT INTO links (id, title, url, position, updated_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&id)
                    .bind(&title)
                    .bind(&url)
                    .bind(position)
                    .bind(now)
                    .execute(&self.db.pool)
                    .await
                    .map_err(ServerError::from)?;
                id
            }
        };
        self.admin_audit(ctx, &admin, &format!("link {id} saved"))
            .await
    }

    async fn delete_link(&self, ctx: &RequestCtx, id: &str) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        sqlx::query("DELETE FROM links WHERE id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        self.admin_audit(ctx, &admin, &format!("link {id} deleted"))
            .await
    }

    async fn admin_faq(&self, ctx: &RequestCtx) -> ApiResult<Vec<FaqEntry>> {
        self.require_admin(ctx).await?;
        let rows = sqlx::query("SELECT * FROM faq_entries ORDER BY retired, position, id")
            .fetch_all(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        rows.iter()
            .map(|r| Portal::faq_row(r).map_err(ApiError::from))
            .collect()
    }

    async fn save_faq(
        &self,
        ctx: &RequestCtx,
        id: &str,
        category: &str,
        question: &str,
        body: &str,
        position: i64,
        retired: bool,
    ) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let id = content::faq_id(id).map_err(content_err)?;
        let category = content::line(Field::Category, category, 20).map_err(content_err)?;
        let question =
            content::line(Field::Question, question, content::QUESTION_MAX).map_err(content_err)?;
        let body = content::body(body).map_err(content_err)?;
        let html = sanitize_html(&body_to_html(&body));
        if plain_text(&html).is_empty() {
            return Err(content_err(ContentError::Required(Field::Body)));
        }
        sqlx::query(
            "INSERT INTO faq_entries (id, category, question, body_html, position, retired, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET category = excluded.category, \
             question = excluded.question, body_html = excluded.body_html, position = excluded.position, \
             retired = excluded.retired, updated_at = excluded.updated_at",
        )
        .bind(&id)
        .bind(&category)
        .bind(&question)
        .bind(&html)
        .bind(position)
        .bind(i64::from(retired))
        .bind(ms(self.now()))
        .execute(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        self.admin_audit(ctx, &admin, &format!("faq {id} saved"))
            .await
    }

    async fn admin_apps(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminApp>> {
        self.require_admin(ctx).await?;
        let rows = sqlx::query(
            "SELECT code, name, group_code, group_name, url, audience, sort_order, description \
             FROM app_systems ORDER BY group_code, sort_order, code",
        )
        .fetch_all(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        let mut out = Vec::new();
        for r in &rows {
            let get = |c: &str| r.try_get::<String, _>(c).map_err(ServerError::from);
            out.push(AdminApp {
                code: get("code")?,
                name: get("name")?,
                group_code: get("group_code")?,
                group_name: get("group_name")?,
                url: get("url")?,
                personnel_only: get("audience")? != crate::catalog::AUDIENCE_ALL,
                sort_order: r.try_get("sort_order").map_err(ServerError::from)?,
                description: r
                    .try_get::<Option<String>, _>("description")
                    .map_err(ServerError::from)?
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    async fn save_app(&self, ctx: &RequestCtx, app: AdminApp) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let code = content::line(Field::Id, &app.code, 12).map_err(content_err)?;
        if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(content_err(ContentError::Invalid(Field::Id)));
        }
        let name = content::line(Field::Name, &app.name, content::NAME_MAX).map_err(content_err)?;
        let group_code = content::line(Field::Category, &app.group_code, 4).map_err(content_err)?;
        let group_name = content::line(Field::Category, &app.group_name, content::NAME_MAX)
            .map_err(content_err)?;
        let url = content::url(&app.url).map_err(content_err)?;
        let description = app.description.trim();
        if description.chars().count() > 200 || description.chars().any(char::is_control) {
            return Err(content_err(ContentError::TooLong {
                field: Field::Body,
                max: 200,
            }));
        }
        if !(0..=100_000).contains(&app.sort_order) {
            return Err(content_err(ContentError::Invalid(Field::Position)));
        }
        let audience = if app.personnel_only {
            crate::catalog::AUDIENCE_PERSONNEL
        } else {
            crate::catalog::AUDIENCE_ALL
        };
        sqlx::query(
            "INSERT INTO app_systems (code, name, group_code, group_name, url, audience, sort_order, description) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
             group_code = excluded.group_code, group_name = excluded.group_name, url = excluded.url, \
             audience = excluded.audience, sort_order = excluded.sort_order, description = excluded.description",
        )
        .bind(&code)
        .bind(&name)
        .bind(&group_code)
        .bind(&group_name)
        .bind(&url)
        .bind(audience)
        .bind(app.sort_order)
        .bind((!description.is_empty()).then_some(description))
        .execute(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        self.admin_audit(ctx, &admin, &format!("app {code} saved"))
            .await
    }
}

fn admin_ann(a: AnnRow) -> AdminAnnouncement {
    AdminAnnouncement {
        id: a.id,
        category: a.category,
        title: a.title,
        body_html: a.body_html,
        published_on: a.published_on,
        hot: a.hot,
        retired: a.retired,
    }
}

/// An agency as the tree is built from it: code, name, parent code.
pub type AgencyRow = (String, String, Option<String>);

/// The agency tree: roots are agencies without a (known) parent; a cycle in the data
/// cannot loop (each agency is placed once).
pub fn agency_tree(all: &[AgencyRow]) -> Vec<AgencyNode> {
    let known: HashSet<&str> = all.iter().map(|a| a.0.as_str()).collect();
    let mut children: HashMap<&str, Vec<&AgencyRow>> = HashMap::new();
    let mut roots = Vec::new();
    for a in all {
        match a.2.as_deref() {
            Some(p) if known.contains(p) && p != a.0 => children.entry(p).or_default().push(a),
            _ => roots.push(a),
        }
    }
    let mut placed: HashSet<&str> = HashSet::new();
    fn build<'a>(
        a: &'a AgencyRow,
        children: &HashMap<&str, Vec<&'a AgencyRow>>,
        placed: &mut HashSet<&'a str>,
    ) -> AgencyNode {
        placed.insert(a.0.as_str());
        let mut kids = Vec::new();
        for c in children.get(a.0.as_str()).into_iter().flatten() {
            if !placed.contains(c.0.as_str()) {
                kids.push(build(c, children, placed));
            }
        }
        AgencyNode {
            code: a.0.clone(),
            name: a.1.clone(),
            children: kids,
        }
    }
    let mut out: Vec<AgencyNode> = roots
        .into_iter()
        .map(|r| build(r, &children, &mut placed))
        .collect();
    // Agencies only reachable through a cycle become roots of their own.
    for a in all {
        if !placed.contains(a.0.as_str()) {
            out.push(build(a, &children, &mut placed));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sanitiser_keeps_formatting_and_drops_scripts() {
        let dirty = r#"<p onclick="x()">公告<script>alert(1)</script><strong>重要</strong>
            <a href="javascript:alert(1)">a</a><a href="https://www.dgpa.gov.tw/">b</a>
            <img src=x onerror=alert(1)><iframe src="//evil"></iframe><svg onload=alert(1)></svg>
            <style>body{}</style><a href="data:text/html,x">c</a></p>"#;
        let clean = sanitize_html(dirty);
        for bad in [
            "<script",
            "onclick",
            "onerror",
            "onload",
            "javascript:",
            "<img",
            "<iframe",
            "<svg",
            "<style",
            "data:",
        ] {
            assert!(
                !clean.to_ascii_lowercase().contains(bad),
                "{bad} in {clean}"
            );
        }
        assert!(clean.contains("<strong>重要</strong>"));
        assert!(clean.contains(r#"href="https://www.dgpa.gov.tw/""#));
        assert!(clean.contains("noopener"));
    }

    #[test]
    fn plain_bodies_become_paragraphs() {
        assert_eq!(
            body_to_html("第一段\n第二行\n\n第二段 & 1 < 2"),
            "<p>第一段<br>第二行</p><p>第二段 &amp; 1 &lt; 2</p>"
        );
        assert_eq!(
            body_to_html("請<strong>務必</strong>填報\n\n謝謝<script>x</script>"),
            "<p>請<strong>務必</strong>填報</p><p>謝謝</p>"
        );
        assert_eq!(body_to_html("<ul><li>甲</li></ul>"), "<ul><li>甲</li></ul>");
        assert_eq!(plain_text("<p>甲&amp;乙</p><p>丙</p>"), "甲&乙 丙");
    }

    #[test]
    fn tree_nests_and_survives_cycles() {
        let rows = vec![
            ("A".to_string(), "行政院".to_string(), None),
            ("B".into(), "交通部".into(), Some("A".into())),
            ("C".into(), "公路局".into(), Some("B".into())),
            ("X".into(), "孤兒".into(), Some("nowhere".into())),
            ("P".into(), "環1".into(), Some("Q".into())),
            ("Q".into(), "環2".into(), Some("P".into())),
        ];
        let t = agency_tree(&rows);
        assert_eq!(t[0].name, "行政院");
        assert_eq!(t[0].children[0].children[0].name, "公路局");
        let count = |n: &AgencyNode| -> usize {
            fn c(n: &AgencyNode) -> usize {
                1 + n.children.iter().map(c).sum::<usize>()
            }
            c(n)
        };
        assert_eq!(t.iter().map(count).sum::<usize>(), rows.len());
    }

    proptest! {
        #[test]
        fn sanitised_output_is_stable_and_scriptless(s in "\\PC{0,200}") {
            let once = sanitize_html(&s);
            prop_assert_eq!(sanitize_html(&once), once.clone());
            prop_assert!(!once.to_ascii_lowercase().contains("<script"));
        }

        #[test]
        fn every_agency_is_placed_once(parents in proptest::collection::vec(proptest::option::of(0usize..12), 1..12)) {
            let rows: Vec<(String, String, Option<String>)> = parents
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("c{i}"), format!("n{i}"), p.map(|p| format!("c{p}"))))
                .collect();
            let t = agency_tree(&rows);
            fn walk(n: &AgencyNode, out: &mut Vec<String>) {
                out.push(n.code.clone());
                n.children.iter().for_each(|c| walk(c, out));
            }
            let mut seen = Vec::new();
            t.iter().for_each(|n| walk(n, &mut seen));
            seen.sort();
            let mut want: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
            want.sort();
            prop_assert_eq!(seen, want);
        }
    }
}

//! The portal around the login: the home page, announcements and their search, polls and
//! votes, the agency tree, links and FAQ (the app's `ContentBackend`).

pub mod counters;
pub mod defaults;
pub(crate) mod defaults_data;
pub mod sanitize;

use crate::{
    db::{from_ms, ms, Backend},
    error::{Result, ServerError},
    portal::{roc_datetime, Portal},
};
use async_trait::async_trait;
use counters::compute_stats;
use ecpa_app::{
    api::{
        content::{
            server::ContentBackend, AgencyNode, AnnouncementDetail, AnnouncementItem,
            AnnouncementPage, FaqEntry, FaqItem, HomeData, HomeStats, LinkItem, PollOptionView,
            PollView, SearchHit, SearchResults,
        },
        context::RequestCtx,
    },
    error::ApiError,
    wording::roc_short,
};
use ecpa_domain::{
    content::{self, Category, ContentError, Field},
    roc,
    search::{self, Query},
};
use sanitize::{plain_text, sanitize_html};
use sqlx::{any::AnyRow, Row};
use std::collections::{HashMap, HashSet};
use time::Date;

type ApiResult<T> = std::result::Result<T, ApiError>;

/// Announcements per list page and per search results page.
pub const PAGE_SIZE: u32 = 15;
/// Announcements on the home page.
pub const HOME_LATEST: i64 = 6;
/// Search ranks at most this many candidates (newest first) from the index.
const SEARCH_CANDIDATES: i64 = 500;

// ---- rows -------------------------------------------------------------------------------

pub(crate) const ANN_COLS: &str = "id, category, title, body_html, published_on, hot, retired";

pub(crate) struct AnnRow {
    pub(crate) id: i64,
    pub(crate) category: Category,
    pub(crate) title: String,
    pub(crate) body_html: String,
    pub(crate) published_on: Date,
    pub(crate) hot: bool,
    pub(crate) retired: bool,
}

pub(crate) fn ann_row(r: &AnyRow) -> Result<AnnRow> {
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

pub(crate) fn content_err(e: ContentError) -> ApiError {
    ApiError::Content(e)
}

impl Portal {
    /// A poll with its counts and, for `voter` (a signed-in account id), their vote.
    pub(crate) async fn poll_view(
        &self,
        voter: Option<&str>,
        id: &str,
    ) -> Result<Option<PollView>> {
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

    async fn current_poll_id(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM polls WHERE active = 1 ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&self.db.pool)
        .await?)
    }

    async fn stats(&self) -> Result<HomeStats> {
        let now = self.now();
        if let Some(s) = self.stats_cache.fresh(now) {
            return Ok(s);
        }
        let s = compute_stats(&self.db.pool, now).await?;
        self.stats_cache.keep(now, s.clone());
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

    pub(crate) fn faq_row(r: &AnyRow) -> Result<FaqEntry> {
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
            Some(id) => {
                let me = self.signed_in(ctx).await?;
                self.poll_view(me.as_ref().map(|m| m.id()), &id).await?
            }
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
        let me = self.signed_in(ctx).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(v) = self.poll_view(me.as_ref().map(|m| m.id()), &id).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn vote(&self, ctx: &RequestCtx, poll_id: &str, option_id: &str) -> ApiResult<PollView> {
        let me = self.require_signed_in(ctx).await?;
        let account = me.id().to_string();
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
                    crate::audit::Kind::Vote,
                    &account,
                    Some(&account),
                    crate::audit::Outcome::Ok,
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
        self.poll_view(Some(&account), poll_id)
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

//! The portal around the login: the home page, announcements and their search, polls and
//! votes, the agency tree, links and FAQ (the app's `ContentBackend`).

pub mod counters;
pub mod defaults;
pub(crate) mod defaults_data;
pub mod panels;
pub mod sanitize;
pub mod store;
pub mod versions;

use crate::{error::Result, personnel::agencies::AgencyRow, portal::Portal};
use async_trait::async_trait;
use counters::compute_stats;
use ecpa_app::{
    api::{
        content::{
            server::ContentBackend, AgencyNode, AnnouncementDetail, AnnouncementItem,
            AnnouncementPage, FaqEntry, FaqItem, HomeData, HomeStats, LinkItem, PollView,
            SearchHit, SearchResults,
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
use std::collections::{HashMap, HashSet};
use store::{AnnRow, Listing};

type ApiResult<T> = std::result::Result<T, ApiError>;

/// Announcements per list page and per search results page.
pub const PAGE_SIZE: u32 = 15;
/// Announcements on the home page.
pub const HOME_LATEST: u32 = 6;
/// Search ranks at most this many candidates (newest first) from the index.
const SEARCH_CANDIDATES: i64 = 500;

fn item(a: &AnnRow) -> AnnouncementItem {
    AnnouncementItem {
        id: a.id,
        category: a.category,
        title: a.title.clone(),
        published: roc_short(a.published_on),
        hot: a.hot,
    }
}

pub(crate) fn content_err(e: ContentError) -> ApiError {
    ApiError::Content(e)
}

impl Portal {
    /// The public content changed (an administrator's edit, a vote): what this instance
    /// keeps for visitors goes at once, other instances' within a second
    /// ([`versions`]).
    pub(crate) async fn content_changed(&self) -> Result<()> {
        self.content_versions.bump_local();
        self.pages.clear();
        store::bump_content_version(&self.db.pool).await
    }

    /// The content versions what is kept must match, with the shared one read again when
    /// a second has passed since the last read.
    pub(crate) async fn current_content_versions(&self) -> versions::Versions {
        let versions = &self.content_versions;
        if versions.check_due() {
            match store::content_version(&self.db.pool).await {
                Ok(v) => versions.set_shared(v),
                Err(e) => tracing::warn!(error = %e, "content version not read"),
            }
        }
        versions.current()
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
}

#[async_trait]
impl ContentBackend for Portal {
    async fn home(&self, ctx: &RequestCtx) -> ApiResult<HomeData> {
        let pool = &self.db.pool;
        let today = self.today();
        let versions = self.current_content_versions().await;
        let panels = match self.panels.fresh(versions) {
            Some(p) => p,
            None => {
                let latest =
                    store::announcements(pool, Listing::Public(None), HOME_LATEST, 0).await?;
                let read = panels::HomePanels {
                    latest: latest.iter().map(item).collect(),
                    links: store::links(pool).await?,
                    poll_id: store::current_poll_id(pool).await?,
                };
                self.panels.keep(versions, read)
            }
        };
        let poll = match &panels.poll_id {
            Some(id) => {
                let me = self.signed_in(ctx).await?;
                store::poll_view(pool, me.as_ref().map(|m| m.id()), id).await?
            }
            None => None,
        };
        Ok(HomeData {
            today: roc::format_long(today).unwrap_or_else(|_| today.to_string()),
            stats: self.stats().await?,
            latest: panels.latest.clone(),
            poll,
            links: panels.links.clone(),
        })
    }

    async fn announcements(
        &self,
        category: Option<Category>,
        page: u32,
    ) -> ApiResult<AnnouncementPage> {
        let pool = &self.db.pool;
        let total = store::count_announcements(pool, category).await?;
        let pages = content::page_count(total.max(0) as u64, u64::from(PAGE_SIZE)) as u32;
        let page = page.clamp(1, pages);
        let rows = store::announcements(
            pool,
            Listing::Public(category),
            PAGE_SIZE,
            (page - 1) * PAGE_SIZE,
        )
        .await?;
        Ok(AnnouncementPage {
            items: rows.iter().map(item).collect(),
            category,
            page,
            pages,
            total,
        })
    }

    async fn announcement(&self, id: i64) -> ApiResult<AnnouncementDetail> {
        let a = store::announcement(&self.db.pool, id, false)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(AnnouncementDetail {
            item: item(&a),
            // Sanitised when stored; again here, so a row written around the admin pages
            // cannot carry a script to the browser either.
            body_html: sanitize_html(&a.body_html),
        })
    }

    async fn search(&self, _ctx: &RequestCtx, raw: &str, page: u32) -> ApiResult<SearchResults> {
        let raw: String = raw.chars().take(200).collect();
        let query = Query::parse(&raw)
            .map_err(|_| ApiError::Content(ContentError::Required(Field::Query)))?;
        let rows = store::search_candidates(
            &self.db.pool,
            self.db.backend,
            &query.like_patterns(),
            SEARCH_CANDIDATES,
        )
        .await?;
        let today = self.today();
        let mut scored: Vec<(u32, AnnRow, String)> = Vec::new();
        for a in rows {
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
        let pool = &self.db.pool;
        let ids = store::listed_poll_ids(pool).await?;
        let me = self.signed_in(ctx).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(v) = store::poll_view(pool, me.as_ref().map(|m| m.id()), &id).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn vote(&self, ctx: &RequestCtx, poll_id: &str, option_id: &str) -> ApiResult<PollView> {
        let me = self.require_signed_in(ctx).await?;
        let account = me.id().to_string();
        let pool = &self.db.pool;
        match store::poll_closed(pool, poll_id).await? {
            None => return Err(ApiError::NotFound),
            Some(true) => return Err(ApiError::PollClosed),
            Some(false) => {}
        }
        if !store::option_in_poll(pool, option_id, poll_id).await? {
            return Err(ApiError::Content(ContentError::Invalid(Field::Option)));
        }
        if !store::insert_vote(pool, poll_id, &account, option_id, self.now()).await? {
            return Err(ApiError::AlreadyVoted);
        }
        self.content_changed().await?;
        self.audit_simple(
            ctx,
            crate::audit::Kind::Vote,
            &account,
            Some(&account),
            crate::audit::Outcome::Ok,
            Some(poll_id),
        )
        .await?;
        store::poll_view(pool, Some(&account), poll_id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    async fn agencies(&self) -> ApiResult<Vec<AgencyNode>> {
        let all = crate::personnel::agencies::all(&self.db.pool).await?;
        Ok(agency_tree(&all))
    }

    async fn links(&self) -> ApiResult<Vec<LinkItem>> {
        Ok(store::links(&self.db.pool).await?)
    }

    async fn faq_list(&self) -> ApiResult<Vec<FaqItem>> {
        Ok(store::faq_index(&self.db.pool).await?)
    }

    async fn faq(&self, id: &str) -> ApiResult<FaqEntry> {
        let id = content::faq_id(id).map_err(|_| ApiError::NotFound)?;
        let mut e = store::faq_entry(&self.db.pool, &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        e.body_html = sanitize_html(&e.body_html);
        Ok(e)
    }
}

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

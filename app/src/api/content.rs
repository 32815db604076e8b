//! The portal around the login: home page panels, announcements and their search, polls,
//! the agency tree, links and FAQ. The server implements [`server::ContentBackend`]; the
//! server functions below only forward.

use crate::error::ApiError;
use ecpa_domain::{content::Category, search::Segment};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// 首頁 data, one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeData {
    /// 民國 115 年 11 月 26 日 (Taipei).
    pub today: String,
    pub stats: HomeStats,
    pub latest: Vec<AnnouncementItem>,
    pub poll: Option<PollView>,
    pub links: Vec<LinkItem>,
}

/// The three counters of the home page and when they were computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeStats {
    /// 目前線上人數: signed-in sessions active in the last 10 minutes.
    pub online: i64,
    /// 今日總計人數: distinct accounts signed in today (Taipei calendar).
    pub today: i64,
    /// 累積上線人數: all sign-ins ever.
    pub total: i64,
    /// `09:30:12`, Taipei: the counters are at most a short while old.
    pub as_of: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementItem {
    pub id: i64,
    pub category: Category,
    pub title: String,
    /// `115/11/26`
    pub published: String,
    pub hot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementPage {
    pub items: Vec<AnnouncementItem>,
    pub category: Option<Category>,
    pub page: u32,
    pub pages: u32,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementDetail {
    pub item: AnnouncementItem,
    /// Sanitised on the server (safe formatting only).
    pub body_html: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub id: i64,
    pub category: Category,
    pub published: String,
    pub hot: bool,
    pub title: Vec<Segment>,
    pub snippet: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub query: String,
    pub terms: Vec<String>,
    pub hits: Vec<SearchHit>,
    pub total: i64,
    pub page: u32,
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollOptionView {
    pub id: String,
    pub label: String,
    pub votes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollView {
    pub id: String,
    pub question: String,
    pub options: Vec<PollOptionView>,
    pub total_votes: i64,
    pub closed: bool,
    pub signed_in: bool,
    /// The option this account chose, if it voted.
    pub my_vote: Option<String>,
}

impl PollView {
    /// Results are shown to those who voted and once the poll is closed.
    pub fn show_results(&self) -> bool {
        self.closed || self.my_vote.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkItem {
    pub id: String,
    pub title: String,
    pub url: String,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyNode {
    pub code: String,
    pub name: String,
    pub children: Vec<AgencyNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqItem {
    pub id: String,
    pub category: String,
    pub question: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqEntry {
    pub id: String,
    pub category: String,
    pub question: String,
    pub body_html: String,
    /// ROC date of the last change.
    pub updated: String,
    pub position: i64,
    pub retired: bool,
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::api::context::RequestCtx;
    use async_trait::async_trait;

    /// Public content and votes.
    #[async_trait]
    pub trait ContentBackend: Send + Sync + 'static {
        async fn home(&self, ctx: &RequestCtx) -> Result<HomeData, ApiError>;
        async fn announcements(
            &self,
            category: Option<Category>,
            page: u32,
        ) -> Result<AnnouncementPage, ApiError>;
        async fn announcement(&self, id: i64) -> Result<AnnouncementDetail, ApiError>;
        async fn search(
            &self,
            ctx: &RequestCtx,
            query: &str,
            page: u32,
        ) -> Result<SearchResults, ApiError>;
        async fn polls(&self, ctx: &RequestCtx) -> Result<Vec<PollView>, ApiError>;
        async fn vote(
            &self,
            ctx: &RequestCtx,
            poll_id: &str,
            option_id: &str,
        ) -> Result<PollView, ApiError>;
        async fn agencies(&self) -> Result<Vec<AgencyNode>, ApiError>;
        async fn links(&self) -> Result<Vec<LinkItem>, ApiError>;
        async fn faq_list(&self) -> Result<Vec<FaqItem>, ApiError>;
        async fn faq(&self, id: &str) -> Result<FaqEntry, ApiError>;
    }
}

#[cfg(feature = "ssr")]
use {
    crate::api::context::{port, request_ctx},
    server::ContentBackend,
};

#[server(endpoint = "home")]
pub async fn load_home() -> Result<HomeData, ApiError> {
    port::<dyn ContentBackend>()?.home(&request_ctx()?).await
}

#[server(endpoint = "announcements")]
pub async fn list_announcements(
    category: Option<String>,
    page: Option<u32>,
) -> Result<AnnouncementPage, ApiError> {
    let category = match category.as_deref() {
        None | Some("") => None,
        Some(c) => Some(Category::from_code(c).ok_or(ApiError::NotFound)?),
    };
    port::<dyn ContentBackend>()?
        .announcements(category, page.unwrap_or(1).max(1))
        .await
}

#[server(endpoint = "announcement")]
pub async fn get_announcement(id: i64) -> Result<AnnouncementDetail, ApiError> {
    port::<dyn ContentBackend>()?.announcement(id).await
}

#[server(endpoint = "search")]
pub async fn search_announcements(q: String, page: Option<u32>) -> Result<SearchResults, ApiError> {
    port::<dyn ContentBackend>()?
        .search(&request_ctx()?, &q, page.unwrap_or(1).max(1))
        .await
}

#[server(endpoint = "polls")]
pub async fn load_polls() -> Result<Vec<PollView>, ApiError> {
    port::<dyn ContentBackend>()?.polls(&request_ctx()?).await
}

/// One vote per account and poll. Without JavaScript the form posts here and the browser
/// is sent back to the page it came from.
#[server(endpoint = "vote")]
pub async fn vote(poll_id: String, option_id: Option<String>) -> Result<PollView, ApiError> {
    let option_id = option_id.ok_or(ApiError::Content(
        ecpa_domain::content::ContentError::Required(ecpa_domain::content::Field::Option),
    ))?;
    port::<dyn ContentBackend>()?
        .vote(&request_ctx()?, &poll_id, &option_id)
        .await
}

#[server(endpoint = "agencies")]
pub async fn load_agencies() -> Result<Vec<AgencyNode>, ApiError> {
    port::<dyn ContentBackend>()?.agencies().await
}

#[server(endpoint = "links")]
pub async fn load_links() -> Result<Vec<LinkItem>, ApiError> {
    port::<dyn ContentBackend>()?.links().await
}

#[server(endpoint = "faq_list")]
pub async fn load_faq_list() -> Result<Vec<FaqItem>, ApiError> {
    port::<dyn ContentBackend>()?.faq_list().await
}

#[server(endpoint = "faq")]
pub async fn load_faq(id: String) -> Result<FaqEntry, ApiError> {
    port::<dyn ContentBackend>()?.faq(&id).await
}

//! The portal around the login: home page panels, announcements and their search, polls,
//! the agency tree, links, FAQ, password reset and the administrator's pages.
//!
//! The server implements [`ContentBackend`] and hands it to Leptos through context, like
//! [`super::backend::PortalBackend`]; the server functions below only forward.

// Server functions take one argument per form field, so admin forms have many.
#![allow(clippy::too_many_arguments)]

use crate::error::ApiError;
use ecpa_domain::{content::Category, reset::LinkState, search::Segment};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use time::Date;

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

/// An announcement as the administrator edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAnnouncement {
    pub id: i64,
    pub category: Category,
    pub title: String,
    pub body_html: String,
    pub published_on: Date,
    pub hot: bool,
    pub retired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPoll {
    pub poll: PollView,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminApp {
    pub code: String,
    pub name: String,
    pub group_code: String,
    pub group_name: String,
    pub url: String,
    pub personnel_only: bool,
    pub sort_order: i64,
    pub description: String,
}

/// What an administrator can do to an announcement besides editing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnnouncementAction {
    Pin,
    Unpin,
    Retire,
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PollAction {
    /// Show on the home page (the newest active poll is shown).
    Activate,
    Deactivate,
    Close,
    Reopen,
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::api::backend::RequestCtx;
    use async_trait::async_trait;
    use std::sync::Arc;

    #[cfg_attr(test, mockall::automock)]
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

        async fn request_reset(
            &self,
            ctx: &RequestCtx,
            account: &str,
            email: &str,
        ) -> Result<(), ApiError>;
        async fn reset_state(&self, token: &str) -> Result<LinkState, ApiError>;
        async fn reset_password(
            &self,
            ctx: &RequestCtx,
            token: &str,
            password: &str,
            confirm: &str,
        ) -> Result<(), ApiError>;

        async fn is_admin(&self, ctx: &RequestCtx) -> Result<bool, ApiError>;
        async fn admin_announcements(
            &self,
            ctx: &RequestCtx,
        ) -> Result<Vec<AdminAnnouncement>, ApiError>;
        async fn admin_announcement(
            &self,
            ctx: &RequestCtx,
            id: i64,
        ) -> Result<AdminAnnouncement, ApiError>;
        async fn save_announcement(
            &self,
            ctx: &RequestCtx,
            id: Option<i64>,
            category: &str,
            title: &str,
            body: &str,
            published_on: Option<Date>,
            hot: bool,
        ) -> Result<i64, ApiError>;
        async fn announcement_action(
            &self,
            ctx: &RequestCtx,
            id: i64,
            action: AnnouncementAction,
        ) -> Result<(), ApiError>;
        async fn admin_polls(&self, ctx: &RequestCtx) -> Result<Vec<AdminPoll>, ApiError>;
        async fn create_poll(
            &self,
            ctx: &RequestCtx,
            question: &str,
            options: &str,
        ) -> Result<String, ApiError>;
        async fn poll_action(
            &self,
            ctx: &RequestCtx,
            id: &str,
            action: PollAction,
        ) -> Result<(), ApiError>;
        async fn save_link(
            &self,
            ctx: &RequestCtx,
            id: Option<String>,
            title: &str,
            url: &str,
            position: i64,
        ) -> Result<(), ApiError>;
        async fn delete_link(&self, ctx: &RequestCtx, id: &str) -> Result<(), ApiError>;
        async fn admin_faq(&self, ctx: &RequestCtx) -> Result<Vec<FaqEntry>, ApiError>;
        async fn save_faq(
            &self,
            ctx: &RequestCtx,
            id: &str,
            category: &str,
            question: &str,
            body: &str,
            position: i64,
            retired: bool,
        ) -> Result<(), ApiError>;
        async fn admin_apps(&self, ctx: &RequestCtx) -> Result<Vec<AdminApp>, ApiError>;
        async fn save_app(&self, ctx: &RequestCtx, app: AdminApp) -> Result<(), ApiError>;
    }

    pub type SharedContent = Arc<dyn ContentBackend>;

    pub fn content() -> Result<SharedContent, ApiError> {
        use_context::<SharedContent>().ok_or_else(|| {
            tracing::error!("ContentBackend missing from the Leptos context");
            ApiError::Internal
        })
    }
}

#[cfg(feature = "ssr")]
use {super::backend::request_ctx, server::content};

#[server(endpoint = "home")]
pub async fn load_home() -> Result<HomeData, ApiError> {
    content()?.home(&request_ctx()?).await
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
    content()?
        .announcements(category, page.unwrap_or(1).max(1))
        .await
}

#[server(endpoint = "announcement")]
pub async fn get_announcement(id: i64) -> Result<AnnouncementDetail, ApiError> {
    content()?.announcement(id).await
}

#[server(endpoint = "search")]
pub async fn search_announcements(q: String, page: Option<u32>) -> Result<SearchResults, ApiError> {
    content()?
        .search(&request_ctx()?, &q, page.unwrap_or(1).max(1))
        .await
}

#[server(endpoint = "polls")]
pub async fn load_polls() -> Result<Vec<PollView>, ApiError> {
    content()?.polls(&request_ctx()?).await
}

/// One vote per account and poll. Without JavaScript the form posts here and the browser
/// is sent back to the page it came from.
#[server(endpoint = "vote")]
pub async fn vote(poll_id: String, option_id: Option<String>) -> Result<PollView, ApiError> {
    let option_id = option_id.ok_or(ApiError::Content(
        ecpa_domain::content::ContentError::Required(ecpa_domain::content::Field::Option),
    ))?;
    content()?.vote(&request_ctx()?, &poll_id, &option_id).await
}

#[server(endpoint = "agencies")]
pub async fn load_agencies() -> Result<Vec<AgencyNode>, ApiError> {
    content()?.agencies().await
}

#[server(endpoint = "links")]
pub async fn load_links() -> Result<Vec<LinkItem>, ApiError> {
    content()?.links().await
}

#[server(endpoint = "faq_list")]
pub async fn load_faq_list() -> Result<Vec<FaqItem>, ApiError> {
    content()?.faq_list().await
}

#[server(endpoint = "faq")]
pub async fn load_faq(id: String) -> Result<FaqEntry, ApiError> {
    content()?.faq(&id).await
}

/// 忘記密碼: always the same answer, whether or not the account and address exist.
#[server(endpoint = "password_reset_request")]
pub async fn request_password_reset(account: String, email: String) -> Result<(), ApiError> {
    content()?
        .request_reset(&request_ctx()?, &account, &email)
        .await?;
    leptos_axum::redirect("/password/forgot?sent=1");
    Ok(())
}

#[server(endpoint = "password_reset_state")]
pub async fn password_reset_state(token: String) -> Result<LinkState, ApiError> {
    content()?.reset_state(&token).await
}

#[server(endpoint = "password_reset")]
pub async fn reset_password(
    token: String,
    password: String,
    confirm: String,
) -> Result<(), ApiError> {
    content()?
        .reset_password(&request_ctx()?, &token, &password, &confirm)
        .await?;
    leptos_axum::redirect("/password/done");
    Ok(())
}

#[server(endpoint = "am_admin")]
pub async fn am_admin() -> Result<bool, ApiError> {
    content()?.is_admin(&request_ctx()?).await
}

#[server(endpoint = "admin/announcements")]
pub async fn admin_announcements() -> Result<Vec<AdminAnnouncement>, ApiError> {
    content()?.admin_announcements(&request_ctx()?).await
}

#[server(endpoint = "admin/announcement")]
pub async fn load_admin_announcement(id: i64) -> Result<AdminAnnouncement, ApiError> {
    content()?.admin_announcement(&request_ctx()?, id).await
}

/// Creates (no `id`) or updates an announcement, then goes back to the list.
#[server(endpoint = "admin/announcement_save")]
pub async fn save_announcement(
    id: Option<i64>,
    category: String,
    title: String,
    body: String,
    published_on: Option<String>,
    hot: Option<String>,
) -> Result<(), ApiError> {
    let published_on = match published_on.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(ecpa_domain::roc::parse_date(s).ok_or(ApiError::Content(
            ecpa_domain::content::ContentError::Invalid(ecpa_domain::content::Field::Date),
        ))?),
    };
    content()?
        .save_announcement(
            &request_ctx()?,
            id,
            &category,
            &title,
            &body,
            published_on,
            hot.is_some(),
        )
        .await?;
    leptos_axum::redirect("/admin/announcements");
    Ok(())
}

#[server(endpoint = "admin/announcement_action")]
pub async fn act_on_announcement(id: i64, action: AnnouncementAction) -> Result<(), ApiError> {
    content()?
        .announcement_action(&request_ctx()?, id, action)
        .await
}

#[server(endpoint = "admin/polls")]
pub async fn admin_polls() -> Result<Vec<AdminPoll>, ApiError> {
    content()?.admin_polls(&request_ctx()?).await
}

#[server(endpoint = "admin/poll_create")]
pub async fn create_poll(question: String, options: String) -> Result<String, ApiError> {
    content()?
        .create_poll(&request_ctx()?, &question, &options)
        .await
}

#[server(endpoint = "admin/poll_action")]
pub async fn act_on_poll(id: String, action: PollAction) -> Result<(), ApiError> {
    content()?.poll_action(&request_ctx()?, &id, action).await
}

#[server(endpoint = "admin/link_save")]
pub async fn save_link(
    id: Option<String>,
    title: String,
    url: String,
    position: i64,
) -> Result<(), ApiError> {
    let id = id.filter(|s| !s.is_empty());
    content()?
        .save_link(&request_ctx()?, id, &title, &url, position)
        .await
}

#[server(endpoint = "admin/link_delete")]
pub async fn delete_link(id: String) -> Result<(), ApiError> {
    content()?.delete_link(&request_ctx()?, &id).await
}

#[server(endpoint = "admin/faq")]
pub async fn admin_faq() -> Result<Vec<FaqEntry>, ApiError> {
    content()?.admin_faq(&request_ctx()?).await
}

#[server(endpoint = "admin/faq_save")]
pub async fn save_faq(
    id: String,
    category: String,
    question: String,
    body: String,
    position: i64,
    retired: Option<String>,
) -> Result<(), ApiError> {
    content()?
        .save_faq(
            &request_ctx()?,
            &id,
            &category,
            &question,
            &body,
            position,
            retired.is_some(),
        )
        .await
}

#[server(endpoint = "admin/apps")]
pub async fn admin_apps() -> Result<Vec<AdminApp>, ApiError> {
    content()?.admin_apps(&request_ctx()?).await
}

#[server(endpoint = "admin/app_save")]
pub async fn save_app(
    code: String,
    name: String,
    group_code: String,
    group_name: String,
    url: String,
    personnel_only: Option<String>,
    sort_order: i64,
    description: String,
) -> Result<(), ApiError> {
    content()?
        .save_app(
            &request_ctx()?,
            AdminApp {
                code,
                name,
                group_code,
                group_name,
                url,
                personnel_only: personnel_only.is_some(),
                sort_order,
                description,
            },
        )
        .await
}

//! The administrator's pages: announcements, polls, links, FAQ and the application
//! catalog. Every server function is refused to anyone but an administrator (the server
//! implements [`server::AdminBackend`] and checks the role in each).

// Server functions take one argument per form field, so admin forms have many.
#![allow(clippy::too_many_arguments)]

use crate::api::content::{FaqEntry, PollView};
use crate::error::ApiError;
use ecpa_domain::content::Category;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use time::Date;

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
    use crate::api::context::RequestCtx;
    use async_trait::async_trait;

    /// The administrator's changes.
    #[async_trait]
    pub trait AdminBackend: Send + Sync + 'static {
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
}

#[cfg(feature = "ssr")]
use {
    crate::api::context::{port, request_ctx},
    server::AdminBackend,
};

#[server(endpoint = "am_admin")]
pub async fn am_admin() -> Result<bool, ApiError> {
    port::<dyn AdminBackend>()?.is_admin(&request_ctx()?).await
}

#[server(endpoint = "admin/announcements")]
pub async fn admin_announcements() -> Result<Vec<AdminAnnouncement>, ApiError> {
    port::<dyn AdminBackend>()?
        .admin_announcements(&request_ctx()?)
        .await
}

#[server(endpoint = "admin/announcement")]
pub async fn load_admin_announcement(id: i64) -> Result<AdminAnnouncement, ApiError> {
    port::<dyn AdminBackend>()?
        .admin_announcement(&request_ctx()?, id)
        .await
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
    port::<dyn AdminBackend>()?
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
    port::<dyn AdminBackend>()?
        .announcement_action(&request_ctx()?, id, action)
        .await
}

#[server(endpoint = "admin/polls")]
pub async fn admin_polls() -> Result<Vec<AdminPoll>, ApiError> {
    port::<dyn AdminBackend>()?
        .admin_polls(&request_ctx()?)
        .await
}

#[server(endpoint = "admin/poll_create")]
pub async fn create_poll(question: String, options: String) -> Result<String, ApiError> {
    port::<dyn AdminBackend>()?
        .create_poll(&request_ctx()?, &question, &options)
        .await
}

#[server(endpoint = "admin/poll_action")]
pub async fn act_on_poll(id: String, action: PollAction) -> Result<(), ApiError> {
    port::<dyn AdminBackend>()?
        .poll_action(&request_ctx()?, &id, action)
        .await
}

#[server(endpoint = "admin/link_save")]
pub async fn save_link(
    id: Option<String>,
    title: String,
    url: String,
    position: i64,
) -> Result<(), ApiError> {
    let id = id.filter(|s| !s.is_empty());
    port::<dyn AdminBackend>()?
        .save_link(&request_ctx()?, id, &title, &url, position)
        .await
}

#[server(endpoint = "admin/link_delete")]
pub async fn delete_link(id: String) -> Result<(), ApiError> {
    port::<dyn AdminBackend>()?
        .delete_link(&request_ctx()?, &id)
        .await
}

#[server(endpoint = "admin/faq")]
pub async fn admin_faq() -> Result<Vec<FaqEntry>, ApiError> {
    port::<dyn AdminBackend>()?.admin_faq(&request_ctx()?).await
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
    port::<dyn AdminBackend>()?
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
    port::<dyn AdminBackend>()?
        .admin_apps(&request_ctx()?)
        .await
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
    port::<dyn AdminBackend>()?
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

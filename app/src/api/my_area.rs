//! 我的專區: the e-page card, to-dos, rights, recent activity, and opening an application
//! system.

use crate::api::{auth::UserSummary, card};
use crate::error::ApiError;
use ecpa_domain::{
    eligibility::{Decision, OfficerBasis, Right},
    personnel::Employment,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use time::Date;

/// Everything 我的專區 shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyArea {
    pub user: UserSummary,
    /// When this session signed in, ROC calendar, Taipei time.
    pub signed_in_at: String,
    /// The sign-in before this one, if any.
    pub previous_sign_in: Option<String>,
    /// Minutes of inactivity after which this session ends.
    pub idle_timeout_minutes: i64,
    /// Today in Taipei, as the server decided the rights.
    pub today: Date,
    /// 電子頁卡: the person's current record; `None` when the account has no registry link.
    pub ecard: Option<ECard>,
    /// 待辦事項, open ones.
    pub todos: Vec<TodoItem>,
    /// 應用系統 this user may use today, in catalog order.
    pub apps: Vec<AppEntry>,
    /// The registry-based rights and why each is (not) granted.
    pub rights: Vec<RightStatus>,
    /// Certificates bound to this account (自然人憑證／機關憑證).
    pub certificates: Vec<card::BoundCert>,
    /// Recent sign-ins, uploads and removals on this account, newest first.
    pub activity: Vec<ActivityItem>,
}

/// One line of 最近活動.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityItem {
    /// ROC date and time, Taipei.
    pub at: String,
    /// The audit kind (`login.password`, `login.certificate`, `cert.bind`, ...).
    pub kind: String,
    pub ok: bool,
}

/// 電子頁卡.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ECard {
    pub name: String,
    /// `A12****789`: the full number never leaves the server.
    pub national_id_masked: String,
    pub agency: String,
    pub unit: String,
    pub title: String,
    pub staff_category: String,
    pub employment: Employment,
    pub ingested_on: Date,
    pub officer_basis: Vec<OfficerBasis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoItem {
    pub title: String,
    pub link: Option<String>,
    pub due_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEntry {
    pub code: String,
    pub name: String,
    pub group_code: String,
    pub group_name: String,
    pub personnel_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightStatus {
    pub right: Right,
    pub decision: Decision,
}

/// An application system the user may open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLaunch {
    pub code: String,
    pub name: String,
    pub url: String,
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::api::context::RequestCtx;
    use async_trait::async_trait;

    /// 我的專區 and the application systems.
    #[async_trait]
    pub trait MyAreaBackend: Send + Sync + 'static {
        async fn my_area(&self, ctx: &RequestCtx) -> Result<MyArea, ApiError>;

        /// The system `code` if the signed-in user may use it today (`Forbidden` otherwise).
        async fn open_app(&self, ctx: &RequestCtx, code: &str) -> Result<AppLaunch, ApiError>;
    }
}

#[cfg(feature = "ssr")]
use {
    crate::api::context::{port, request_ctx},
    server::MyAreaBackend,
};

/// The content of 我的專區; `Unauthenticated` when signed out.
#[server(endpoint = "my_area")]
pub async fn load_my_area() -> Result<MyArea, ApiError> {
    let ctx = request_ctx()?;
    port::<dyn MyAreaBackend>()?.my_area(&ctx).await
}

/// Opens an application system: refused on the server unless the user qualifies today.
#[server(endpoint = "open_app")]
pub async fn open_app(code: String) -> Result<AppLaunch, ApiError> {
    let ctx = request_ctx()?;
    port::<dyn MyAreaBackend>()?.open_app(&ctx, &code).await
}

//! The administrator's changes: announcements, polls, links, FAQ and the application
//! catalog. Every function checks the role first (`Portal::require_admin`, `auth::access`) and every
//! change is audited.

use crate::content::{
    content_err,
    sanitize::{body_to_html, plain_text, sanitize_html},
    store::{self, AnnFlag, AnnRow, AnnouncementText, FaqText, Listing, PollFlag},
};
use crate::{
    audit::{Kind, Outcome},
    catalog::{self, AppSystem},
    portal::Portal,
};
use async_trait::async_trait;
use ecpa_app::{
    api::{
        admin::{
            server::AdminBackend, AdminAnnouncement, AdminApp, AdminPoll, AnnouncementAction,
            PollAction,
        },
        content::FaqEntry,
        context::RequestCtx,
    },
    error::ApiError,
};
use ecpa_domain::content::{self, Category, ContentError, Field};
use time::Date;

type ApiResult<T> = std::result::Result<T, ApiError>;

/// The administrator's announcement list is capped (the public list pages through all).
const ADMIN_ANNOUNCEMENTS: u32 = 500;

impl Portal {
    /// Every change ends here: the public pages are rendered anew, and the change is
    /// audited.
    async fn admin_audit(&self, ctx: &RequestCtx, admin_id: &str, what: &str) -> ApiResult<()> {
        self.content_changed().await?;
        self.audit_simple(
            ctx,
            Kind::AdminChange,
            admin_id,
            Some(admin_id),
            Outcome::Ok,
            Some(what),
        )
        .await?;
        Ok(())
    }
}

/// A rich-text body as the admin pages store it: the typed text (or HTML) sanitised, and
/// not empty once its markup is gone.
fn stored_body(body: &str) -> ApiResult<String> {
    let body = content::body(body).map_err(content_err)?;
    let html = sanitize_html(&body_to_html(&body));
    if plain_text(&html).is_empty() {
        return Err(content_err(ContentError::Required(Field::Body)));
    }
    Ok(html)
}

/// `NotFound` when a write matched no row.
fn found(changed: bool) -> ApiResult<()> {
    if changed {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

#[async_trait]
impl AdminBackend for Portal {
    async fn is_admin(&self, ctx: &RequestCtx) -> ApiResult<bool> {
        match self.require_admin(ctx).await {
            Ok(_) => Ok(true),
            Err(ApiError::Forbidden | ApiError::Unauthenticated) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn admin_announcements(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminAnnouncement>> {
        self.require_admin(ctx).await?;
        let rows =
            store::announcements(&self.db.pool, Listing::Admin, ADMIN_ANNOUNCEMENTS, 0).await?;
        Ok(rows.into_iter().map(admin_ann).collect())
    }

    async fn admin_announcement(&self, ctx: &RequestCtx, id: i64) -> ApiResult<AdminAnnouncement> {
        self.require_admin(ctx).await?;
        let a = store::announcement(&self.db.pool, id, true)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(admin_ann(a))
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
        let admin = admin.id();
        let category =
            Category::from_code(category).ok_or(content_err(ContentError::BadCategory))?;
        let title = content::line(Field::Title, title, content::TITLE_MAX).map_err(content_err)?;
        let html = stored_body(body)?;
        let text = AnnouncementText {
            category,
            title: &title,
            body_html: &html,
            published_on: published_on.unwrap_or_else(|| self.today()),
            hot,
        };
        let pool = &self.db.pool;
        let id = match id {
            None => store::insert_announcement(pool, &text, Some(admin), self.now()).await?,
            Some(id) => {
                found(store::update_announcement(pool, id, &text, self.now()).await?)?;
                id
            }
        };
        self.admin_audit(ctx, admin, &format!("announcement {id} saved"))
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
        let admin = admin.id();
        let (flag, on) = match action {
            AnnouncementAction::Pin => (AnnFlag::Hot, true),
            AnnouncementAction::Unpin => (AnnFlag::Hot, false),
            AnnouncementAction::Retire => (AnnFlag::Retired, true),
            AnnouncementAction::Restore => (AnnFlag::Retired, false),
        };
        found(store::set_announcement_flag(&self.db.pool, id, flag, on, self.now()).await?)?;
        self.admin_audit(ctx, admin, &format!("announcement {id} {action:?}"))
            .await
    }

    async fn admin_polls(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminPoll>> {
        let admin = self.require_admin(ctx).await?;
        let pool = &self.db.pool;
        let mut out = Vec::new();
        for (id, active) in store::admin_poll_ids(pool).await? {
            if let Some(poll) = store::poll_view(pool, Some(admin.id()), &id).await? {
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
        let admin = admin.id();
        let question =
            content::line(Field::Question, question, content::QUESTION_MAX).map_err(content_err)?;
        let options = content::poll_options(options).map_err(content_err)?;
        let id = store::insert_poll(&self.db.pool, &question, &options, false, self.now()).await?;
        self.admin_audit(ctx, admin, &format!("poll {id} created"))
            .await?;
        Ok(id)
    }

    async fn poll_action(&self, ctx: &RequestCtx, id: &str, action: PollAction) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let admin = admin.id();
        let (flag, on) = match action {
            PollAction::Activate => (PollFlag::Active, true),
            PollAction::Deactivate => (PollFlag::Active, false),
            PollAction::Close => (PollFlag::Closed, true),
            PollAction::Reopen => (PollFlag::Closed, false),
        };
        found(store::set_poll_flag(&self.db.pool, id, flag, on).await?)?;
        self.admin_audit(ctx, admin, &format!("poll {id} {action:?}"))
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
        let admin = admin.id();
        let title = content::line(Field::Name, title, content::NAME_MAX).map_err(content_err)?;
        let url = content::url(url).map_err(content_err)?;
        if !(0..=100_000).contains(&position) {
            return Err(content_err(ContentError::Invalid(Field::Position)));
        }
        let pool = &self.db.pool;
        let id = match id {
            Some(id) => {
                found(store::update_link(pool, &id, &title, &url, position, self.now()).await?)?;
                id
            }
            None => store::insert_link(pool, &title, &url, position, self.now()).await?,
        };
        self.admin_audit(ctx, admin, &format!("link {id} saved"))
            .await
    }

    async fn delete_link(&self, ctx: &RequestCtx, id: &str) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let admin = admin.id();
        store::delete_link(&self.db.pool, id).await?;
        self.admin_audit(ctx, admin, &format!("link {id} deleted"))
            .await
    }

    async fn admin_faq(&self, ctx: &RequestCtx) -> ApiResult<Vec<FaqEntry>> {
        self.require_admin(ctx).await?;
        Ok(store::faq_entries(&self.db.pool).await?)
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
        let admin = admin.id();
        let id = content::faq_id(id).map_err(content_err)?;
        let category = content::line(Field::Category, category, 20).map_err(content_err)?;
        let question =
            content::line(Field::Question, question, content::QUESTION_MAX).map_err(content_err)?;
        let html = stored_body(body)?;
        let faq = FaqText {
            id: &id,
            category: &category,
            question: &question,
            body_html: &html,
            position,
            retired,
        };
        store::save_faq(&self.db.pool, &faq, false, self.now()).await?;
        self.admin_audit(ctx, admin, &format!("faq {id} saved"))
            .await
    }

    async fn admin_apps(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminApp>> {
        self.require_admin(ctx).await?;
        let all = catalog::all_systems(&self.db.pool).await?;
        Ok(all
            .into_iter()
            .map(|s| AdminApp {
                code: s.code,
                name: s.name,
                group_code: s.group_code,
                group_name: s.group_name,
                url: s.url,
                personnel_only: s.personnel_only,
                sort_order: s.sort_order,
                description: s.description.unwrap_or_default(),
            })
            .collect())
    }

    async fn save_app(&self, ctx: &RequestCtx, app: AdminApp) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let admin = admin.id();
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
        let system = AppSystem {
            code,
            name,
            group_code,
            group_name,
            url,
            personnel_only: app.personnel_only,
            sort_order: app.sort_order,
            description: Some(description.to_string()),
        };
        catalog::upsert_system(&self.db.pool, &system).await?;
        self.admin_audit(ctx, admin, &format!("app {} saved", system.code))
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

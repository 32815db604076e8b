//! The administrator's changes: announcements, polls, links, FAQ and the application
//! catalog. Every function checks the role first (`Portal::require_admin`, `auth::access`) and every
//! change is audited.

use crate::content::{
    ann_row, content_err,
    defaults::insert_announcement,
    sanitize::{body_to_html, plain_text, sanitize_html},
    AnnRow, ANN_COLS,
};
use crate::{db::ms, error::ServerError, portal::Portal, tokens};
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
use ecpa_domain::{
    content::{self, Category, ContentError, Field},
    search,
};
use sqlx::Row;
use time::Date;

type ApiResult<T> = std::result::Result<T, ApiError>;

impl Portal {
    async fn admin_audit(&self, ctx: &RequestCtx, admin_id: &str, what: &str) -> ApiResult<()> {
        self.audit_simple(
            ctx,
            crate::audit::Kind::AdminChange,
            admin_id,
            Some(admin_id),
            crate::audit::Outcome::Ok,
            Some(what),
        )
        .await
        .map_err(ApiError::from)
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
        let admin = admin.id();
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
                    Some(admin),
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
        self.admin_audit(ctx, admin, &format!("announcement {id} {action:?}"))
            .await
    }

    async fn admin_polls(&self, ctx: &RequestCtx) -> ApiResult<Vec<AdminPoll>> {
        let admin = self.require_admin(ctx).await?;
        let rows = sqlx::query("SELECT id, active FROM polls ORDER BY created_at DESC LIMIT 100")
            .fetch_all(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id").map_err(ServerError::from)?;
            let active = r.try_get::<i64, _>("active").map_err(ServerError::from)? != 0;
            if let Some(poll) = self.poll_view(Some(admin.id()), &id).await? {
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
        self.admin_audit(ctx, admin, &format!("poll {id} created"))
            .await?;
        Ok(id)
    }

    async fn poll_action(&self, ctx: &RequestCtx, id: &str, action: PollAction) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let admin = admin.id();
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
        self.admin_audit(ctx, admin, &format!("link {id} saved"))
            .await
    }

    async fn delete_link(&self, ctx: &RequestCtx, id: &str) -> ApiResult<()> {
        let admin = self.require_admin(ctx).await?;
        let admin = admin.id();
        sqlx::query("DELETE FROM links WHERE id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        self.admin_audit(ctx, admin, &format!("link {id} deleted"))
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
        let admin = admin.id();
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
        self.admin_audit(ctx, admin, &format!("faq {id} saved"))
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
        self.admin_audit(ctx, admin, &format!("app {code} saved"))
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

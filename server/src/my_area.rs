//! 我的專區: the e-page card, rights, to-dos, application systems, bound certificates and
//! recent activity; and opening an application system (decided again on the server).

use crate::portal::{roc_datetime, Portal};
use crate::{audit::AuditEntry, catalog, db::from_ms, personnel::registry};
use async_trait::async_trait;
use ecpa_app::{
    api::{
        auth::UserSummary,
        context::RequestCtx,
        my_area::{
            server::MyAreaBackend, ActivityItem, AppEntry, AppLaunch, ECard, MyArea, RightStatus,
            TodoItem,
        },
    },
    error::ApiError,
};
use ecpa_domain::{
    eligibility::{self, Right},
    national_id::NationalId,
    tz,
};
use time::Duration;

#[async_trait]
impl MyAreaBackend for Portal {
    async fn my_area(&self, ctx: &RequestCtx) -> std::result::Result<MyArea, ApiError> {
        let me = self.require_signed_in(ctx).await?;
        let (session, acct) = (me.session(), me.account().clone());
        let pool = &self.db.pool;
        let now = self.now();
        let signed_in_at = from_ms(session.created_at_ms);
        // The newest success is this session's own sign-in; the one before it is "previous".
        let previous = crate::audit::recent_sign_ins(pool, &acct.id, 5)
            .await?
            .into_iter()
            .find(|t| *t < signed_in_at - Duration::seconds(1));
        let current = self.current_record(&acct.id).await?;
        let rights: Vec<RightStatus> = [
            Right::NaturalCertificateUpload,
            Right::OrganizationCertificateUpload,
            Right::PersonnelSystems,
        ]
        .into_iter()
        .map(|right| RightStatus {
            right,
            decision: eligibility::decide(right, current.as_ref().map(|c| &c.record), now),
        })
        .collect();
        let officer_today = rights
            .iter()
            .any(|r| r.right == Right::PersonnelSystems && r.decision.is_ok());
        let apps = catalog::visible_systems(pool, officer_today)
            .await?
            .into_iter()
            .map(|a| AppEntry {
                code: a.code,
                name: a.name,
                group_code: a.group_code,
                group_name: a.group_name,
                personnel_only: a.personnel_only,
            })
            .collect();
        let todos = catalog::open_todos(pool, &acct.id)
            .await?
            .into_iter()
            .map(|t| TodoItem {
                title: t.title,
                link: t.link,
                due_on: t.due_on.as_deref().and_then(registry::parse_date_text),
            })
            .collect();
        let ecard = current.map(|c| ECard {
            national_id_masked: NationalId::parse(&c.national_id)
                .map(|n| n.masked())
                .unwrap_or_default(),
            name: c.name,
            agency: c.agency_name,
            unit: c.record.unit_name.clone(),
            title: c.title,
            staff_category: c.record.staff_category.as_str().to_string(),
            employment: c.record.employment,
            ingested_on: c.record.ingested_on,
            officer_basis: eligibility::officer_basis(&c.record),
        });
        let certificates = self.certificates_of(&acct.id).await?;
        let activity = crate::audit::recent_activity(pool, &acct.id, 10)
            .await?
            .into_iter()
            .map(|(at, kind, outcome)| ActivityItem {
                at: roc_datetime(at),
                ok: outcome == "success" || outcome == "ok",
                kind,
            })
            .collect();
        Ok(MyArea {
            certificates,
            activity,
            user: UserSummary {
                account: acct.name,
                display_name: acct.display_name,
            },
            signed_in_at: roc_datetime(signed_in_at),
            previous_sign_in: previous.map(roc_datetime),
            idle_timeout_minutes: self.sessions.idle_timeout.whole_minutes(),
            today: tz::taipei_date(now),
            ecard,
            todos,
            apps,
            rights,
        })
    }

    async fn open_app(
        &self,
        ctx: &RequestCtx,
        code: &str,
    ) -> std::result::Result<AppLaunch, ApiError> {
        let me = self.require_signed_in(ctx).await?;
        let acct = me.account();
        let code = code.trim();
        if code.is_empty() || code.len() > 16 {
            return Err(ApiError::NotFound);
        }
        let Some(app) = catalog::system(&self.db.pool, code).await? else {
            return Err(ApiError::NotFound);
        };
        let allowed = if app.personnel_only {
            let current = self.current_record(&acct.id).await?;
            eligibility::decide(
                Right::PersonnelSystems,
                current.as_ref().map(|c| &c.record),
                self.now(),
            )
            .is_ok()
        } else {
            true
        };
        crate::audit::audit(
            &self.db.pool,
            &AuditEntry {
                kind: crate::audit::Kind::AppOpen,
                account_key: &acct.name,
                account_id: Some(&acct.id),
                client: &ctx.client,
                trusted: false,
                outcome: if allowed {
                    crate::audit::Outcome::Ok
                } else {
                    crate::audit::Outcome::Forbidden
                },
                detail: Some(&app.code),
            },
            self.now(),
        )
        .await?;
        if !allowed {
            return Err(ApiError::Forbidden);
        }
        Ok(AppLaunch {
            code: app.code,
            name: app.name,
            url: app.url,
        })
    }
}

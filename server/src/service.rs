//! The portal's server-side services: the implementation of the app's [`PortalBackend`]
//! over the database, the password hasher and the domain rules.

use crate::batch::Batch;
use crate::{
    catalog,
    config::Config,
    db::{from_ms, ms, Db},
    error::{Result, ServerError},
    hashing::PasswordHasher,
    personnel::registry,
    store::{self, AuditEntry, NewAccount, NewSession},
    tokens,
};
use async_trait::async_trait;
use ecpa_app::{
    api::{
        backend::{LoginGranted, PortalBackend, RequestCtx, SessionRef},
        card::{BindPreview, BoundCert, CardKindView, CardSetup, CertLookup},
        ActivityItem, AppEntry, AppLaunch, ECard, MyArea, RightStatus, TodoItem, UserSummary,
    },
    error::ApiError,
};
use ecpa_cardproto::{challenge::Purpose, token::ProofToken};
use ecpa_domain::{
    account::AccountName,
    eligibility::{self, Right},
    national_id::NationalId,
    password::{PasswordPolicy, PasswordViolation, MAX_PASSWORD_BYTES},
    roc,
    session::{SessionPolicy, SessionState},
    throttle::{self, AttemptOutcome, ThrottleDecision, ThrottlePolicy},
    tz,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How long a browser stays a trusted device for an account after its last sign-in.
pub const DEVICE_TRUST: Duration = Duration::days(90);
/// How long a browser keeps its browser id (renewed whenever it is missing).
pub const BROWSER_ID_AGE: Duration = Duration::days(400);

pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

#[derive(Debug, Clone)]
pub struct CookieNames {
    pub session: &'static str,
    pub device: &'static str,
    /// A random id with no meaning but "the same browser as before": what the request
    /// limits charge (`limits`), so that colleagues behind one address are not one client.
    pub browser: &'static str,
    secure: bool,
}

impl CookieNames {
    pub fn for_config(c: &Config) -> Self {
        if c.is_https() {
            // `__Host-`: the browser only accepts it with Secure, Path=/ and no Domain.
            Self {
                session: "__Host-ecpa_sid",
                device: "__Host-ecpa_dev",
                browser: "__Host-ecpa_b",
                secure: true,
            }
        } else {
            Self {
                session: "ecpa_sid",
                device: "ecpa_dev",
                browser: "ecpa_b",
                secure: false,
            }
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(a) = max_age {
            c.push_str(&format!("; Max-Age={a}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    pub fn session_cookie(&self, token: &str) -> String {
        self.cookie(self.session, token, None)
    }

    pub fn clear_session(&self) -> String {
        self.cookie(self.session, "", Some(0))
    }

    pub fn device_cookie(&self, token: &str) -> String {
        self.cookie(self.device, token, Some(DEVICE_TRUST.whole_seconds()))
    }

    pub fn browser_cookie(&self, id: &str) -> String {
        self.cookie(self.browser, id, Some(BROWSER_ID_AGE.whole_seconds()))
    }
}

pub struct Portal {
    pub db: Db,
    pub config: Arc<Config>,
    pub hasher: PasswordHasher,
    pub throttle: ThrottlePolicy,
    pub sessions: SessionPolicy,
    pub password_policy: PasswordPolicy,
    pub cookies: CookieNames,
    pub clock: Clock,
    /// Certificate trust anchors and CRLs; `None` when certificate sign-in is off.
    pub card_trust: Option<crate::trust::CardTrust>,
    /// Keeps the configured CRL URLs fresh once `serve` starts it; `None` without URLs.
    pub crl_fetcher: Option<crate::crl_fetch::CrlFetcher>,
    /// OCSP at sign-in; `None` when off.
    pub ocsp: Option<crate::ocsp::OcspChecker>,
    /// Outgoing mail (password reset links).
    pub mailer: Arc<crate::mail::Mailer>,
    /// The home page counters, recomputed at most every few seconds.
    pub stats_cache: crate::content::StatsCache,
    /// Request rate limits of this process.
    pub limiter: crate::limits::Limiter,
    /// Password-reset requests are worked on one at a time, after the answer was sent
    /// (`content::ResetWork`).
    pub reset_lock: Arc<tokio::sync::Mutex<()>>,
}

/// How a submitted account name is keyed in the audit log and the throttle. Names that
/// can never be accounts are keyed too (by a digest), so they are throttled like any other.
pub(crate) fn account_key(raw: &str) -> (String, Option<AccountName>) {
    match AccountName::parse(raw) {
        Ok(n) => (n.as_str().to_string(), Some(n)),
        Err(_) => {
            let digest = tokens::token_hash(raw);
            (format!("invalid:{}", &digest[..16]), None)
        }
    }
}

/// `民國 115 年 11 月 26 日 09:30` in Taipei time.
pub fn roc_datetime(t: OffsetDateTime) -> String {
    let local = t.to_offset(tz::TAIPEI);
    match roc::format_long(local.date()) {
        Ok(d) => format!("{d} {:02}:{:02}", local.hour(), local.minute()),
        Err(_) => local.date().to_string(),
    }
}

impl Portal {
    /// A fresh session (signed in to `account_id`, or anonymous) replacing the one the
    /// request presented, if any: the id rotates. Its writes (with the sign-in counters for
    /// an account) go into the caller's batch, so that a sign-in's writes are one commit.
    /// Returns its hash and its cookie.
    pub(crate) fn new_session_in(
        &self,
        batch: &mut Batch,
        ctx: &RequestCtx,
        account_id: Option<&str>,
    ) -> (String, String) {
        let now = self.now();
        if let Some(old) = &ctx.session {
            batch.push(store::delete_session_stmt(&old.id_hash));
        }
        let token = tokens::secret_token();
        let id_hash = tokens::token_hash(&token);
        batch.push(store::insert_session(&NewSession {
            id_hash: &id_hash,
            account_id,
            now,
            expires_at: self.sessions.hard_expiry(now),
            client: &ctx.client,
            user_agent: ctx.user_agent.as_deref(),
        }));
        if let Some(account_id) = account_id {
            for s in crate::content::record_sign_in(account_id, now) {
                batch.push(s);
            }
        }
        (id_hash, self.cookies.session_cookie(&token))
    }

    pub fn new(db: Db, config: Arc<Config>, clock: Clock) -> Result<Self> {
        let hasher = PasswordHasher::new(
            config.argon2_m_kib,
            config.argon2_t,
            config.argon2_p,
            config.hash_concurrency,
        )?;
        let card_trust = crate::trust::CardTrust::from_config(&config);
        let crl_fetcher = card_trust.as_ref().and_then(|t| {
            let urls = crate::crl_fetch::urls(&config, t);
            (!urls.is_empty()).then(|| {
                crate::crl_fetch::CrlFetcher::new(
                    t.clone(),
                    config.card_crl_dir.clone(),
                    urls,
                    Default::default(),
                )
            })
        });
        let mailer = Arc::new(crate::mail::Mailer::from_config(&config)?);
        let ocsp = crate::ocsp::OcspChecker::new(
            config.card_ocsp.clone(),
            std::time::Duration::from_secs(config.card_ocsp_timeout_secs.max(1)),
            config.card_ocsp_cache_secs,
        );
        Ok(Self {
            mailer,
            stats_cache: Default::default(),
            limiter: crate::limits::Limiter::new(config.rate_limits),
            reset_lock: Default::default(),
            sessions: config.session_policy(),
            cookies: CookieNames::for_config(&config),
            db,
            config,
            hasher,
            throttle: ThrottlePolicy::default(),
            password_policy: PasswordPolicy::default(),
            card_trust,
            crl_fetcher,
            ocsp,
            clock,
        })
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Creates an account after checking the password policy.
    pub async fn create_account(
        &self,
        name: &str,
        display_name: &str,
        email: Option<&str>,
        password: &str,
    ) -> Result<String> {
        let name = AccountName::parse(name).map_err(|e| ServerError::Invalid(e.to_string()))?;
        self.check_password(name.as_str(), password)?;
        let hash = self.hasher.hash(password).await?;
        store::insert_account(
            &self.db.pool,
            &NewAccount {
                name: name.as_str(),
                display_name,
                email,
                password_hash: Some(&hash),
            },
            self.now(),
        )
        .await
    }

    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        let name = AccountName::parse(name).map_err(|e| ServerError::Invalid(e.to_string()))?;
        let acct = store::account_by_name(&self.db.pool, name.as_str())
            .await?
            .ok_or_else(|| ServerError::Invalid(format!("no account {name}")))?;
        self.check_password(name.as_str(), password)?;
        let hash = self.hasher.hash(password).await?;
        // A new password ends the account's sessions and trusted devices, in one commit.
        let mut batch = Batch::new();
        batch.push(crate::batch::Stmt::new(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
            vec![hash.into(), acct.id.as_str().into()],
        ));
        for s in store::credentials_changed(&acct.id) {
            batch.push(s);
        }
        batch.push(
            store::audit_stmt(
                &AuditEntry {
                    kind: "password.set",
                    account_key: name.as_str(),
                    account_id: Some(&acct.id),
                    client: "cli",
                    trusted: false,
                    outcome: "success",
                    detail: Some("sessions and trusted devices ended"),
                },
                self.now(),
            )
            .1,
        );
        batch.commit(&self.db).await
    }

    /// Grants or revokes the administrator role (audited as `admin.grant` / `admin.revoke`).
    pub async fn set_admin(&self, name: &str, admin: bool) -> Result<()> {
        let name = AccountName::parse(name).map_err(|e| ServerError::Invalid(e.to_string()))?;
        let acct = store::account_by_name(&self.db.pool, name.as_str())
            .await?
            .ok_or_else(|| ServerError::Invalid(format!("no account {name}")))?;
        sqlx::query("UPDATE accounts SET is_admin = $1 WHERE id = $2")
            .bind(i64::from(admin))
            .bind(&acct.id)
            .execute(&self.db.pool)
            .await?;
        store::audit(
            &self.db.pool,
            &AuditEntry {
                kind: if admin { "admin.grant" } else { "admin.revoke" },
                account_key: name.as_str(),
                account_id: Some(&acct.id),
                client: "cli",
                trusted: false,
                outcome: "ok",
                detail: None,
            },
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// Links an account to a person of the registry (by national ID).
    pub async fn link_person(&self, account_id: &str, national_id: &str) -> Result<()> {
        let nid = NationalId::parse(national_id)
            .map_err(|e| ServerError::Invalid(format!("national ID: {e}")))?;
        sqlx::query("UPDATE accounts SET national_id = $1 WHERE id = $2")
            .bind(nid.as_str())
            .bind(account_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    fn check_password(&self, account: &str, password: &str) -> Result<()> {
        self.password_policy
            .validate(account, password)
            .map_err(|v: Vec<PasswordViolation>| {
                let reasons: Vec<String> = v.iter().map(ToString::to_string).collect();
                ServerError::Invalid(format!("password {}", reasons.join("; ")))
            })
    }

    /// The session a cookie token names, if it is still valid (expired ones are deleted).
    pub async fn resolve_session(&self, token: &str) -> Result<Option<SessionRef>> {
        if !tokens::looks_like_token(token) {
            return Ok(None);
        }
        let id_hash = tokens::token_hash(token);
        let Some(row) = store::session(&self.db.pool, &id_hash).await? else {
            return Ok(None);
        };
        let now = self.now();
        match self.sessions.state(row.created_at, row.last_seen_at, now) {
            SessionState::Active { touch } => {
                if touch {
                    store::touch_session(&self.db.pool, &id_hash, now).await?;
                }
                Ok(Some(SessionRef {
                    id_hash,
                    account_id: row.account_id,
                    created_at_ms: ms(row.created_at),
                }))
            }
            SessionState::IdleExpired | SessionState::AbsoluteExpired => {
                store::delete_session(&self.db.pool, &id_hash).await?;
                Ok(None)
            }
        }
    }

    /// Checks an account and password under the throttle, recording the attempt
    /// (`detail`: what the password was for). The account on success.
    pub async fn authenticate_password(
        &self,
        ctx: &RequestCtx,
        raw_account: &str,
        password: &str,
        detail: &str,
    ) -> std::result::Result<store::AccountRow, ApiError> {
        let pool = &self.db.pool;
        let now = self.now();
        let (key, name) = account_key(raw_account);
        let account = match &name {
            Some(n) => store::account_by_name(pool, n.as_str()).await?,
            None => None,
        };
        let trusted = match (&ctx.device_token, &account) {
            (Some(tok), Some(a)) if tokens::looks_like_token(tok) => {
                store::is_trusted_device(pool, &tokens::token_hash(tok), &a.id, now - DEVICE_TRUST)
                    .await?
            }
            _ => false,
        };

        // Record the attempt first, as pending: concurrent attempts then see each other.
        let attempt_id = store::audit(
            pool,
            &AuditEntry {
                kind: store::KIND_LOGIN_PASSWORD,
                account_key: &key,
                account_id: None,
                client: &ctx.client,
                trusted,
                outcome: store::outcome_str(AttemptOutcome::Pending),
                detail: Some(detail),
            },
            now,
        )
        .await?;
        let input = store::throttle_input(
            pool,
            &store::ThrottleQuery {
                account_key: &key,
                client_key: &throttle::client_key(&ctx.client),
                trusted,
                now,
                client_window: self.throttle.client_window,
                exclude_id: &attempt_id,
            },
        )
        .await?;
        let decision = self.throttle.decide(now, &input);
        if let ThrottleDecision::Deny {
            reason,
            retry_after,
        } = decision
        {
            store::set_audit_outcome(pool, &attempt_id, "throttled", None, None).await?;
            tracing::info!(?reason, client = %ctx.client, "password sign-in throttled");
            return Err(ApiError::Throttled {
                retry_after_secs: u64::try_from(retry_after.whole_seconds())
                    .unwrap_or(1)
                    .max(1),
            });
        }

        // Over-long input is refused without hashing it, after the same dummy work.
        let pw = if password.len() > MAX_PASSWORD_BYTES {
            ""
        } else {
            password
        };
        let usable = account.as_ref().filter(|a| !a.disabled);
        let verified = self
            .hasher
            .verify(usable.and_then(|a| a.password_hash.as_deref()), pw)
            .await?;
        let (Some(acct), true) = (usable, verified.ok && !pw.is_empty()) else {
            store::set_audit_outcome(
                pool,
                &attempt_id,
                "failure",
                account.as_ref().map(|a| a.id.as_str()),
                None,
            )
            .await?;
            return Err(ApiError::InvalidCredentials);
        };
        store::set_audit_outcome(pool, &attempt_id, "success", Some(&acct.id), None).await?;
        if verified.needs_rehash {
            let hash = self.hasher.hash(password).await?;
            store::set_password_hash(pool, &acct.id, &hash).await?;
        }
        Ok(acct.clone())
    }

    async fn login_inner(
        &self,
        ctx: &RequestCtx,
        raw_account: &str,
        password: &str,
    ) -> std::result::Result<LoginGranted, ApiError> {
        let acct = self
            .authenticate_password(ctx, raw_account, password, "login")
            .await?;
        let now = self.now();
        // One commit: the new session, the counters, and the browser's trusted-device token
        // rotated (its trust for other accounts moves with it) and trusted for this account.
        let mut batch = Batch::new();
        let (_, session_cookie) = self.new_session_in(&mut batch, ctx, Some(&acct.id));
        let token = tokens::secret_token();
        let new_hash = tokens::token_hash(&token);
        if let Some(old) = ctx
            .device_token
            .as_deref()
            .filter(|t| tokens::looks_like_token(t))
        {
            batch.push(store::rotate_device(&tokens::token_hash(old), &new_hash));
        }
        batch.push(store::trust_device_stmt(&new_hash, &acct.id, now));
        batch.commit(&self.db).await?;
        Ok(LoginGranted {
            set_cookies: vec![session_cookie, self.cookies.device_cookie(&token)],
        })
    }

    async fn signed_in(&self, ctx: &RequestCtx) -> Result<Option<(SessionRef, store::AccountRow)>> {
        let Some(s) = &ctx.session else {
            return Ok(None);
        };
        let Some(id) = &s.account_id else {
            return Ok(None);
        };
        Ok(store::account_by_id(&self.db.pool, id)
            .await?
            .filter(|a| !a.disabled)
            .map(|a| (s.clone(), a)))
    }
}

#[async_trait]
impl PortalBackend for Portal {
    async fn login_password(
        &self,
        ctx: &RequestCtx,
        account: &str,
        password: &str,
    ) -> std::result::Result<LoginGranted, ApiError> {
        self.login_inner(ctx, account, password).await
    }

    async fn logout(&self, ctx: &RequestCtx) -> std::result::Result<Vec<String>, ApiError> {
        if let Some(s) = &ctx.session {
            store::delete_session(&self.db.pool, &s.id_hash)
                .await
                .map_err(ApiError::from)?;
            if let Some(id) = &s.account_id {
                let key = match store::account_by_id(&self.db.pool, id)
                    .await
                    .map_err(ApiError::from)?
                {
                    Some(a) => a.name,
                    None => String::new(),
                };
                store::audit(
                    &self.db.pool,
                    &AuditEntry {
                        kind: store::KIND_LOGOUT,
                        account_key: &key,
                        account_id: Some(id),
                        client: &ctx.client,
                        trusted: false,
                        outcome: "ok",
                        detail: None,
                    },
                    self.now(),
                )
                .await
                .map_err(ApiError::from)?;
            }
        }
        Ok(vec![self.cookies.clear_session()])
    }

    async fn current_user(
        &self,
        ctx: &RequestCtx,
    ) -> std::result::Result<Option<UserSummary>, ApiError> {
        Ok(self.signed_in(ctx).await?.map(|(_, a)| UserSummary {
            account: a.name,
            display_name: a.display_name,
        }))
    }

    async fn my_area(&self, ctx: &RequestCtx) -> std::result::Result<MyArea, ApiError> {
        let Some((session, acct)) = self.signed_in(ctx).await? else {
            return Err(ApiError::Unauthenticated);
        };
        let pool = &self.db.pool;
        let now = self.now();
        let signed_in_at = from_ms(session.created_at_ms);
        // The newest success is this session's own sign-in; the one before it is "previous".
        let previous = store::recent_sign_ins(pool, &acct.id, 5)
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
        let certificates = self.my_certificates_impl(ctx).await?;
        let activity = store::recent_activity(pool, &acct.id, 10)
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
        let Some((_, acct)) = self.signed_in(ctx).await? else {
            return Err(ApiError::Unauthenticated);
        };
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
        store::audit(
            &self.db.pool,
            &AuditEntry {
                kind: store::KIND_APP_OPEN,
                account_key: &acct.name,
                account_id: Some(&acct.id),
                client: &ctx.client,
                trusted: false,
                outcome: if allowed { "ok" } else { "forbidden" },
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

    async fn card_setup(&self) -> std::result::Result<CardSetup, ApiError> {
        Ok(self.card_setup_impl().await)
    }

    async fn card_challenge(
        &self,
        ctx: &RequestCtx,
        purpose: Purpose,
    ) -> std::result::Result<(String, Vec<String>), ApiError> {
        self.card_challenge_impl(ctx, purpose).await
    }

    async fn cert_lookup(
        &self,
        certificate_b64: &str,
    ) -> std::result::Result<CertLookup, ApiError> {
        self.cert_lookup_impl(certificate_b64).await
    }

    async fn cert_login(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
    ) -> std::result::Result<LoginGranted, ApiError> {
        self.cert_login_impl(ctx, token).await
    }

    async fn bind_start(
        &self,
        ctx: &RequestCtx,
        account: &str,
        password: &str,
        kind: CardKindView,
    ) -> std::result::Result<Vec<String>, ApiError> {
        self.bind_start_impl(ctx, account, password, kind).await
    }

    async fn bind_start_signed_in(&self, ctx: &RequestCtx) -> std::result::Result<(), ApiError> {
        self.bind_start_signed_in_impl(ctx).await
    }

    async fn bind_verify(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
    ) -> std::result::Result<BindPreview, ApiError> {
        self.bind_verify_impl(ctx, token).await
    }

    async fn bind_confirm(
        &self,
        ctx: &RequestCtx,
        contact_email: Option<String>,
        note: Option<String>,
    ) -> std::result::Result<(), ApiError> {
        self.bind_confirm_impl(ctx, contact_email.as_deref(), note.as_deref())
            .await
    }

    async fn my_certificates(
        &self,
        ctx: &RequestCtx,
    ) -> std::result::Result<Vec<BoundCert>, ApiError> {
        self.my_certificates_impl(ctx).await
    }

    async fn remove_certificate(
        &self,
        ctx: &RequestCtx,
        id: &str,
    ) -> std::result::Result<(), ApiError> {
        self.remove_certificate_impl(ctx, id).await
    }
}

impl Portal {
    /// The current registry record of the account's person, if linked.
    pub async fn current_record(
        &self,
        account_id: &str,
    ) -> Result<Option<registry::CurrentRecord>> {
        registry::current_record_of_account(&self.db.pool, account_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn roc_datetime_is_taipei() {
        assert_eq!(
            roc_datetime(datetime!(2026-11-26 16:05 UTC)),
            "民國 115 年 11 月 27 日 00:05"
        );
    }

    #[test]
    fn account_keys() {
        assert_eq!(account_key(" WangXM ").0, "wangxm");
        let (k, n) = account_key("王小明");
        assert!(k.starts_with("invalid:") && n.is_none());
        assert_eq!(account_key("王小明").0, k, "stable for throttling");
    }

    #[test]
    fn cookie_flavours() {
        let mut c = Config::defaults();
        let http = CookieNames::for_config(&c);
        assert_eq!(
            http.session_cookie("t"),
            "ecpa_sid=t; Path=/; HttpOnly; SameSite=Lax"
        );
        c.public_origin = url::Url::parse("https://ecpa.example.gov.tw").unwrap();
        let https = CookieNames::for_config(&c);
        assert_eq!(
            https.session_cookie("t"),
            "__Host-ecpa_sid=t; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(https.clear_session().contains("Max-Age=0"));
    }
}

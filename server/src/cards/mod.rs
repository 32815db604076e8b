//! Certificate sign-in and certificate upload: challenges, the proof check in the order
//! Web eID uses (one sequence, [`Portal::verify_proof_with`]), the registry rules
//! ([`rules`], pure) and their storage ([`store`]).

use crate::{
    audit::{AuditEntry, Kind, Outcome},
    batch::Batch,
    personnel::registry::CurrentRecord,
    portal::{roc_datetime, Portal},
};
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ecpa_app::{
    api::{
        card::{server::CardBackend, BindPreview, BoundCert, CardSetup, CertLookup},
        context::{LoginGranted, RequestCtx},
    },
    error::ApiError,
};
use ecpa_cardproto::{
    challenge::{self, Challenge, Purpose, NONCE_BYTES},
    profile,
    refusal::ProofRefusal,
    token::{DecodedToken, ProofToken},
    verify::{self, CardKind, CheckedCert, TrustStore},
};
use ecpa_domain::tz;
use rand::{rngs::OsRng, RngCore};
use rules::{ContactField, RuleRefusal};
use std::{future::Future, sync::Arc};
use time::{Duration, OffsetDateTime};

pub mod crl_fetch;
pub mod ocsp;
pub mod pki_check;
pub mod rules;
pub mod store;
pub mod trust;

/// An upload flow is good for this long after step 1.
pub const FLOW_TTL: Duration = Duration::minutes(15);

type ApiResult<T> = std::result::Result<T, ApiError>;

fn refused(r: ProofRefusal) -> ApiError {
    ApiError::Card(r)
}

fn not_eligible(refusal: ecpa_domain::eligibility::Refusal, now: OffsetDateTime) -> ApiError {
    ApiError::NotEligible {
        refusal,
        today: tz::taipei_date(now),
    }
}

fn rule_refused(r: RuleRefusal, now: OffsetDateTime) -> ApiError {
    match r {
        RuleRefusal::NotEligible(refusal) => not_eligible(refusal, now),
        RuleRefusal::Card(r) => refused(r),
    }
}

/// A Unix time as the pages show it (ROC calendar, Taipei).
fn roc_unix(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(roc_datetime)
        .unwrap_or_default()
}

impl Portal {
    fn trust_store(&self) -> ApiResult<Arc<TrustStore>> {
        let t = self.card_trust.as_ref().ok_or(ApiError::CardsUnavailable)?;
        t.get().map_err(|e| {
            tracing::error!(error = %e, "card trust anchors / CRLs cannot be loaded");
            ApiError::CardsUnavailable
        })
    }

    /// The presented session, or a new anonymous one (with its cookie) written with the
    /// caller's batch.
    fn ensure_session_in(&self, batch: &mut Batch, ctx: &RequestCtx) -> (String, Vec<String>) {
        match &ctx.session {
            Some(s) => (s.id_hash.clone(), vec![]),
            None => {
                let (id_hash, cookie) = self.new_session_in(batch, ctx, None);
                (id_hash, vec![cookie])
            }
        }
    }

    async fn audit_card(
        &self,
        ctx: &RequestCtx,
        kind: Kind,
        key: &str,
        account_id: Option<&str>,
        outcome: Outcome,
        detail: Option<&str>,
    ) {
        if let Err(e) = self
            .audit_simple(ctx, kind, key, account_id, outcome, detail)
            .await
        {
            tracing::error!(error = %e, "audit write failed");
        }
    }

    /// An upload refused after step 1 (the account is known, the name is not looked up).
    async fn audit_bind_refused(&self, ctx: &RequestCtx, account_id: &str, detail: &str) {
        let (kind, outcome) = (Kind::CertBind, Outcome::Refused);
        self.audit_card(ctx, kind, "", Some(account_id), outcome, Some(detail))
            .await;
    }

    /// Takes the challenge atomically if it matches this session and purpose; otherwise
    /// says why not ([`rules::challenge_refusal`]), leaving it untouched.
    async fn take_challenge(
        &self,
        c: &Challenge,
        session: &str,
        purpose: Purpose,
    ) -> ApiResult<()> {
        let now = self.now();
        let pool = &self.db.pool;
        if store::take_challenge(pool, c, session, purpose, now).await? {
            return Ok(());
        }
        let stored = store::challenge(pool, &c.nonce).await?;
        let now_ms = crate::db::ms(now);
        Err(refused(rules::challenge_refusal(
            stored.as_ref(),
            session,
            purpose,
            now_ms,
        )))
    }

    /// The proof check, whole and in this order (the only place the order is written):
    /// the token decoded → the challenge for this portal's origin → taken once, for this
    /// session and purpose (a proof without a live challenge costs one indexed update,
    /// never certificate work) → the certificate (parse, KeyUsage, type, chain,
    /// revocation) → the signature over the challenge → OCSP (the only step that may wait
    /// on the network, for proofs that passed everything else).
    ///
    /// `alongside` gets the certificate once the challenge is taken, and its future runs
    /// while the certificate is checked (the sign-in reads the binding then, so the query
    /// is on its way before the CPU work starts). Both must succeed; a failed check wins.
    pub async fn verify_proof_with<F, T>(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
        purpose: Purpose,
        alongside: impl FnOnce(&[u8]) -> F,
    ) -> ApiResult<(CheckedCert, T)>
    where
        F: Future<Output = ApiResult<T>>,
    {
        let t = verify::decode_token(token).map_err(refused)?;
        let trust = self.trust_store()?;
        let c = Challenge::parse(&t.tbs).map_err(|_| refused(ProofRefusal::ChallengeMalformed))?;
        if c.origin != self.config.origin_string() {
            return Err(refused(ProofRefusal::ChallengeWrongOrigin));
        }
        let session = ctx
            .session
            .as_ref()
            .map(|s| s.id_hash.as_str())
            .unwrap_or_default();
        self.take_challenge(&c, session, purpose).await?;
        let (checked, beside) =
            tokio::join!(self.check_proof(&t, &trust), alongside(&t.certificate));
        Ok((checked?, beside?))
    }

    /// [`Self::verify_proof_with`] with nothing alongside.
    pub async fn verify_proof(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
        purpose: Purpose,
    ) -> ApiResult<CheckedCert> {
        let (checked, ()) = self
            .verify_proof_with(ctx, token, purpose, |_| async { Ok(()) })
            .await?;
        Ok(checked)
    }

    /// The steps after the challenge: certificate, signature, OCSP.
    async fn check_proof(&self, t: &DecodedToken, trust: &TrustStore) -> ApiResult<CheckedCert> {
        let now = self.now().unix_timestamp();
        let checked = verify::check_certificate(trust, &t.certificate, now).map_err(refused)?;
        verify::check_signature(&t.certificate, t.tbs.as_bytes(), &t.signature).map_err(refused)?;
        if let Some(o) = &self.ocsp {
            o.check(&checked, now).await.map_err(refused)?;
        }
        Ok(checked)
    }

    /// The registry rules ([`rules::card_rules`]) on the person's current record.
    fn card_rules(&self, checked: &CheckedCert, current: Option<&CurrentRecord>) -> ApiResult<()> {
        let now = self.now();
        rules::card_rules(checked.kind, &checked.profile, current, now)
            .map_err(|r| rule_refused(r, now))
    }

    /// Proof, binding, rules; then the new session, the sign-in counters, the binding's
    /// last use and the audit entry as one commit.
    async fn cert_login_checked(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
        bound_to: &mut Option<(String, String)>,
    ) -> ApiResult<LoginGranted> {
        let pool = &self.db.pool;
        let (checked, subject) = self
            .verify_proof_with(ctx, token, Purpose::Login, |der| {
                let fingerprint = verify::fingerprint(der);
                async move { Ok(store::bound_subject(pool, &fingerprint).await?) }
            })
            .await?;
        let subject = subject
            .filter(|s| !s.account.disabled)
            .ok_or(refused(ProofRefusal::NotBound))?;
        let acct = &subject.account;
        *bound_to = Some((acct.name.clone(), acct.id.clone()));
        // The rules again, at every sign-in: the binding stays, the sign-in does not happen.
        self.card_rules(&checked, subject.record.as_ref())?;
        let now = self.now();
        let mut batch = Batch::new();
        let (_, session_cookie) = self.new_session_in(&mut batch, ctx, Some(&acct.id));
        batch.push(store::touch_binding(&subject.binding_id, now));
        batch.push(
            crate::audit::audit_stmt(
                &AuditEntry {
                    kind: Kind::LoginCertificate,
                    account_key: &acct.name,
                    account_id: Some(&acct.id),
                    client: &ctx.client,
                    trusted: false,
                    outcome: Outcome::Success,
                    detail: Some("success"),
                },
                now,
            )
            .1,
        );
        batch.commit(&self.db).await?;
        Ok(LoginGranted {
            set_cookies: vec![session_cookie],
        })
    }

    /// The rights the chosen kind needs, checked before the card is asked anything.
    async fn precheck(&self, account_id: &str, kind: CardKind) -> ApiResult<()> {
        let now = self.now();
        let current = self.current_record(account_id).await?;
        rules::may_hold(kind, current.as_ref().map(|c| &c.record), now)
            .map_err(|r| not_eligible(r, now))
    }

    /// An upload started for this browser session (replacing any earlier one), in one
    /// commit with the session it may create.
    async fn start_flow(
        &self,
        mut batch: Batch,
        session: &str,
        account_id: &str,
        kind: CardKind,
    ) -> ApiResult<()> {
        for stmt in store::start_flow(session, account_id, kind, self.now()) {
            batch.push(stmt);
        }
        batch.commit(&self.db).await?;
        Ok(())
    }

    async fn bind_verify_checked(
        &self,
        ctx: &RequestCtx,
        session: &str,
        f: &store::Flow,
        token: &ProofToken,
    ) -> ApiResult<BindPreview> {
        let checked = self.verify_proof(ctx, token, Purpose::Bind).await?;
        let card_number = ecpa_cardproto::token::card_number(&token.card_sn);
        if checked.kind != f.kind {
            return Err(refused(ProofRefusal::WrongCertificateType));
        }
        let pool = &self.db.pool;
        let current = self.current_record(&f.account_id).await?;
        self.card_rules(&checked, current.as_ref())?;
        match store::binding_owner(pool, &checked.fingerprint).await? {
            Some(a) if a == f.account_id => return Err(refused(ProofRefusal::AlreadyBoundToYou)),
            Some(_) => return Err(refused(ProofRefusal::AlreadyBound)),
            None => {}
        }
        let der_b64 = B64.encode(&checked.der);
        store::flow_verified(pool, session, &der_b64, card_number.as_deref(), self.now()).await?;
        let acct = crate::auth::store::account_by_id(pool, &f.account_id)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let p = &checked.profile;
        Ok(BindPreview {
            kind: checked.kind,
            holder: p.common_name.clone().unwrap_or_default(),
            card_number: card_number.unwrap_or_default(),
            issuer: p.issuer.clone(),
            valid_from: roc_unix(p.not_before),
            valid_to: roc_unix(p.not_after),
            identifier: match checked.kind {
                CardKind::Natural => p.id_last4.clone().unwrap_or_default(),
                CardKind::Organization => p.agency_oid.clone().unwrap_or_default(),
            },
            contact_email: match checked.kind {
                CardKind::Organization => acct.email.clone(),
                CardKind::Natural => None,
            },
            account: acct.name,
        })
    }

    /// The certificates bound to an account (我的憑證), oldest first.
    pub(crate) async fn certificates_of(
        &self,
        account_id: &str,
    ) -> crate::error::Result<Vec<BoundCert>> {
        let rows = store::bindings_of(&self.db.pool, account_id).await?;
        Ok(rows
            .into_iter()
            .map(|b| BoundCert {
                id: b.id,
                kind: b.kind,
                subject: b.subject,
                card_number: b.card_number.unwrap_or_default(),
                valid_to: roc_unix(b.not_after),
                bound_at: roc_datetime(b.bound_at),
                last_used: b.last_used_at.map(roc_datetime),
            })
            .collect())
    }

    /// The upload in progress for the presented session, if still within [`FLOW_TTL`].
    async fn live_flow(&self, ctx: &RequestCtx) -> ApiResult<(String, store::Flow)> {
        let session = ctx
            .session
            .as_ref()
            .map(|s| s.id_hash.clone())
            .ok_or(ApiError::NoUploadInProgress)?;
        let f = store::flow(&self.db.pool, &session)
            .await?
            .filter(|f| self.now() - f.started_at < FLOW_TTL)
            .ok_or(ApiError::NoUploadInProgress)?;
        Ok((session, f))
    }

    async fn account_name(&self, account_id: &str) -> crate::error::Result<String> {
        Ok(crate::auth::store::account_by_id(&self.db.pool, account_id)
            .await?
            .map(|a| a.name)
            .unwrap_or_default())
    }
}

#[async_trait]
impl CardBackend for Portal {
    async fn card_setup(&self) -> ApiResult<CardSetup> {
        Ok(CardSetup {
            enabled: self.card_trust.is_some(),
            agent_origin: self.config.agent_origin.clone(),
            portal_origin: self.config.origin_string(),
        })
    }

    async fn card_challenge(
        &self,
        ctx: &RequestCtx,
        purpose: Purpose,
    ) -> ApiResult<(String, Vec<String>)> {
        self.trust_store()?;
        let mut b = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut b);
        let now = self.now();
        let c = Challenge {
            purpose,
            origin: self.config.origin_string(),
            nonce: challenge::nonce_text(&b),
            issued_at: now.unix_timestamp(),
        };
        // The challenge belongs to the presented session, or to a new anonymous one
        // written in the same commit.
        let mut batch = Batch::new();
        let (session, cookies) = self.ensure_session_in(&mut batch, ctx);
        let expires = now + Duration::seconds(self.config.challenge_ttl_secs);
        batch.push(store::insert_challenge(&c, &session, expires));
        batch.commit(&self.db).await?;
        Ok((c.to_tbs(), cookies))
    }

    async fn cert_lookup(&self, certificate_b64: &str) -> ApiResult<CertLookup> {
        let der = B64
            .decode(certificate_b64.trim())
            .map_err(|_| refused(ProofRefusal::MalformedToken))?;
        if der.is_empty() || der.len() > 16 * 1024 {
            return Err(refused(ProofRefusal::MalformedToken));
        }
        let bound = store::is_bound(&self.db.pool, &verify::fingerprint(&der)).await?;
        let kind = profile::parse(&der)
            .ok()
            .and_then(|p| verify::kind_by_type(p.subject_type.as_deref()));
        Ok(CertLookup { bound, kind })
    }

    async fn cert_login(&self, ctx: &RequestCtx, token: &ProofToken) -> ApiResult<LoginGranted> {
        // The account the certificate is bound to, once known: a refusal after that point
        // (the registry rules) is shown in that user's 最近活動 too. A success is audited
        // inside the sign-in's own transaction.
        let mut bound_to = None;
        let result = self.cert_login_checked(ctx, token, &mut bound_to).await;
        if let Err(e) = &result {
            let outcome = match e {
                ApiError::Card(r) => r.code().to_string(),
                ApiError::NotEligible { refusal, .. } => format!("eligibility:{refusal:?}"),
                e => format!("error:{e}"),
            };
            let (key, account) = bound_to.unzip();
            self.audit_card(
                ctx,
                Kind::LoginCertificate,
                key.as_deref().unwrap_or_default(),
                account.as_deref(),
                Outcome::Failure,
                Some(&outcome),
            )
            .await;
        }
        result
    }

    async fn bind_start(
        &self,
        ctx: &RequestCtx,
        account: &str,
        password: &str,
        kind: CardKind,
    ) -> ApiResult<Vec<String>> {
        self.trust_store()?;
        let acct = self
            .authenticate_password(ctx, account, password, "bind")
            .await?;
        self.precheck(&acct.id, kind).await?;
        let mut batch = Batch::new();
        let (session, cookies) = self.ensure_session_in(&mut batch, ctx);
        self.start_flow(batch, &session, &acct.id, kind).await?;
        Ok(cookies)
    }

    async fn bind_start_signed_in(&self, ctx: &RequestCtx) -> ApiResult<()> {
        self.trust_store()?;
        let me = self.require_signed_in(ctx).await?;
        self.precheck(me.id(), CardKind::Natural).await?;
        self.start_flow(
            Batch::new(),
            &me.session().id_hash,
            me.id(),
            CardKind::Natural,
        )
        .await
    }

    async fn bind_verify(&self, ctx: &RequestCtx, token: &ProofToken) -> ApiResult<BindPreview> {
        let (session, f) = self.live_flow(ctx).await?;
        let result = self.bind_verify_checked(ctx, &session, &f, token).await;
        if let Err(e) = &result {
            let detail = match e {
                ApiError::Card(r) => r.code().to_string(),
                other => format!("{other:?}"),
            };
            self.audit_bind_refused(ctx, &f.account_id, &detail).await;
        }
        result
    }

    async fn bind_confirm(
        &self,
        ctx: &RequestCtx,
        contact_email: Option<String>,
        note: Option<String>,
    ) -> ApiResult<()> {
        let (session, f) = self.live_flow(ctx).await?;
        if f.verified_at.is_none() {
            return Err(ApiError::NoUploadInProgress);
        }
        let cert_b64 = f
            .certificate
            .as_deref()
            .ok_or(ApiError::NoUploadInProgress)?;
        let der = B64.decode(cert_b64).map_err(|_| ApiError::Internal)?;
        let p = profile::parse(&der).map_err(|_| ApiError::Internal)?;
        let (email, note) = rules::contact(f.kind, contact_email.as_deref(), note.as_deref())
            .map_err(|field| {
                ApiError::InvalidInput(
                    match field {
                        ContactField::Email => "email",
                        ContactField::Note => "note",
                    }
                    .into(),
                )
            })?;
        let now = self.now();
        let pool = &self.db.pool;
        let binding = store::NewBinding {
            account_id: &f.account_id,
            kind: f.kind,
            der: &der,
            profile: &p,
            card_number: f.card_sn.as_deref(),
            contact_email: email,
            note,
        };
        if !store::insert_binding(pool, &binding, now).await? {
            // Someone bound this certificate in the meantime: exactly one wins.
            let detail = ProofRefusal::AlreadyBound.code();
            self.audit_bind_refused(ctx, &f.account_id, detail).await;
            return Err(refused(ProofRefusal::AlreadyBound));
        }
        store::end_flow(&session).execute(pool).await?;
        if f.kind == CardKind::Natural {
            crate::catalog::complete_todo(
                pool,
                &f.account_id,
                crate::catalog::TODO_NATURAL_CERT,
                now,
            )
            .await?;
        }
        let key = self.account_name(&f.account_id).await?;
        let detail = format!(
            "{}:{}",
            f.kind.as_str(),
            f.card_sn.as_deref().unwrap_or_default()
        );
        self.audit_card(
            ctx,
            Kind::CertBind,
            &key,
            Some(&f.account_id),
            Outcome::Ok,
            Some(&detail),
        )
        .await;
        Ok(())
    }

    async fn my_certificates(&self, ctx: &RequestCtx) -> ApiResult<Vec<BoundCert>> {
        let me = self.require_signed_in(ctx).await?;
        Ok(self.certificates_of(me.id()).await?)
    }

    async fn remove_certificate(&self, ctx: &RequestCtx, id: &str) -> ApiResult<()> {
        let me = self.require_signed_in(ctx).await?;
        let account_id = me.id();
        if !store::delete_binding(&self.db.pool, id, account_id).await? {
            return Err(ApiError::NotFound);
        }
        let key = self.account_name(account_id).await?;
        self.audit_card(
            ctx,
            Kind::CertUnbind,
            &key,
            Some(account_id),
            Outcome::Ok,
            Some(id),
        )
        .await;
        Ok(())
    }
}

//! Certificate sign-in and certificate upload: challenges, proof validation in the order
//! Web eID uses, the binding rules, and their storage.

use crate::{
    audit::AuditEntry,
    batch::{Batch, Stmt},
    db::ms,
    error::{Result, ServerError},
    personnel::registry,
    portal::{roc_datetime, Portal},
    tokens,
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
    oid, profile,
    refusal::ProofRefusal,
    token::{DecodedToken, ProofToken},
    verify::{self, CardKind, CheckedCert, TrustStore},
};
use ecpa_domain::{
    cert_binding::{self, OrgCertType},
    eligibility::{self, Right},
    tz,
};
use rand::{rngs::OsRng, RngCore};
use sqlx::Row;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub mod crl_fetch;
pub mod ocsp;
pub mod pki_check;
pub mod store;
pub mod trust;

/// An upload flow is good for this long after step 1.
pub const FLOW_TTL: Duration = Duration::minutes(15);

// ---- storage -----------------------------------------------------------------------------

/// A stored kind (anything but `org` is a natural-person card, as it always was).
fn kind_of(stored: &str) -> CardKind {
    CardKind::from_stored(stored).unwrap_or(CardKind::Natural)
}

/// The right that lets a person upload a card of this kind.
fn upload_right(kind: CardKind) -> Right {
    match kind {
        CardKind::Natural => Right::NaturalCertificateUpload,
        CardKind::Organization => Right::OrganizationCertificateUpload,
    }
}

fn purpose_str(p: Purpose) -> &'static str {
    p.as_str()
}

#[derive(Debug)]
struct Flow {
    account_id: String,
    kind: String,
    started_at: OffsetDateTime,
    certificate: Option<String>,
    card_sn: Option<String>,
    verified_at: Option<OffsetDateTime>,
}

async fn flow(pool: &sqlx::AnyPool, session_hash: &str) -> Result<Option<Flow>> {
    let row = sqlx::query("SELECT account_id, kind, started_at, certificate, card_sn, verified_at FROM bind_flows WHERE session_hash = $1")
        .bind(session_hash)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(Flow {
            account_id: r.try_get("account_id")?,
            kind: r.try_get("kind")?,
            started_at: crate::db::from_ms(r.try_get("started_at")?),
            certificate: r.try_get("certificate")?,
            card_sn: r.try_get("card_sn")?,
            verified_at: r
                .try_get::<Option<i64>, _>("verified_at")?
                .map(crate::db::from_ms),
        })
    })
    .transpose()
}

// ---- the flows ---------------------------------------------------------------------------

fn refused(r: ProofRefusal) -> ApiError {
    ApiError::Card(r)
}

impl Portal {
    fn trust_store(&self) -> std::result::Result<Arc<TrustStore>, ApiError> {
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
        kind: crate::audit::Kind,
        key: &str,
        account_id: Option<&str>,
        outcome: crate::audit::Outcome,
        detail: Option<&str>,
    ) {
        let entry = AuditEntry {
            kind,
            account_key: key,
            account_id,
            client: &ctx.client,
            trusted: false,
            outcome,
            detail,
        };
        if let Err(e) = crate::audit::audit(&self.db.pool, &entry, self.now()).await {
            tracing::error!(error = %e, "audit write failed");
        }
    }

    /// Takes the challenge atomically if it matches this session and purpose; otherwise
    /// says why not, leaving it untouched.
    async fn take_challenge(
        &self,
        c: &Challenge,
        session_hash: &str,
        purpose: Purpose,
    ) -> std::result::Result<(), ApiError> {
        let now = ms(self.now());
        let taken = sqlx::query(
            "UPDATE challenges SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL AND session_hash = $3 \
             AND purpose = $4 AND expires_at > $1 AND issued_at = $5 AND origin = $6",
        )
        .bind(now)
        .bind(&c.nonce)
        .bind(session_hash)
        .bind(purpose_str(purpose))
        .bind(c.issued_at * 1000)
        .bind(&c.origin)
        .execute(&self.db.pool)
        .await
        .map_err(ServerError::from)?
        .rows_affected();
        if taken == 1 {
            return Ok(());
        }
        let row = sqlx::query("SELECT session_hash, purpose, expires_at, used_at, issued_at, origin FROM challenges WHERE nonce = $1")
            .bind(&c.nonce)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        let Some(r) = row else {
            return Err(refused(ProofRefusal::ChallengeUnknown));
        };
        let get = |n: &str| r.try_get::<i64, _>(n).unwrap_or(0);
        let reason = if r
            .try_get::<Option<i64>, _>("used_at")
            .ok()
            .flatten()
            .is_some()
        {
            ProofRefusal::ChallengeUsed
        } else if r.try_get::<String, _>("session_hash").unwrap_or_default() != session_hash {
            ProofRefusal::ChallengeOtherSession
        } else if r.try_get::<String, _>("purpose").unwrap_or_default() != purpose_str(purpose) {
            ProofRefusal::ChallengeWrongPurpose
        } else if get("expires_at") <= now {
            ProofRefusal::ChallengeExpired
        } else {
            // Same nonce, other issue time or origin: not a challenge we issued.
            ProofRefusal::ChallengeUnknown
        };
        Err(refused(reason))
    }

    /// The whole proof check, in order: token → challenge (taken once) → certificate
    /// (parse, KeyUsage, type, chain, revocation) → signature → OCSP.
    pub async fn verify_proof(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
        purpose: Purpose,
    ) -> std::result::Result<CheckedCert, ApiError> {
        let (t, trust) = self.take_proof_challenge(ctx, token, purpose).await?;
        self.check_proof(&t, &trust).await
    }

    /// The token decoded and its challenge taken. A proof without a live challenge of this
    /// session costs one indexed update, never certificate work.
    async fn take_proof_challenge(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
        purpose: Purpose,
    ) -> std::result::Result<(DecodedToken, Arc<TrustStore>), ApiError> {
        let t = verify::decode_token(token).map_err(refused)?;
        let trust = self.trust_store()?;
        let c = Challenge::parse(&t.tbs).map_err(|_| refused(ProofRefusal::ChallengeMalformed))?;
        if c.origin != self.config.origin_string() {
            return Err(refused(ProofRefusal::ChallengeWrongOrigin));
        }
        let session = ctx
            .session
            .as_ref()
            .map(|s| s.id_hash.clone())
            .unwrap_or_default();
        self.take_challenge(&c, &session, purpose).await?;
        Ok((t, trust))
    }

    /// Certificate, signature over the challenge, then OCSP (the only step that may wait
    /// on the network, for proofs that passed everything else).
    async fn check_proof(
        &self,
        t: &DecodedToken,
        trust: &TrustStore,
    ) -> std::result::Result<CheckedCert, ApiError> {
        let now = self.now().unix_timestamp();
        let checked = verify::check_certificate(trust, &t.certificate, now).map_err(refused)?;
        verify::check_signature(&t.certificate, t.tbs.as_bytes(), &t.signature).map_err(refused)?;
        if let Some(o) = &self.ocsp {
            o.check(&checked, now).await.map_err(refused)?;
        }
        Ok(checked)
    }

    /// Re-applies the registry rules to `account_id` for a certificate of `kind`.
    async fn card_rules(
        &self,
        account_id: &str,
        checked: &CheckedCert,
    ) -> std::result::Result<(), ApiError> {
        let current = self.current_record(account_id).await?;
        self.card_rules_on(current.as_ref(), checked)
    }

    /// The registry rules for a certificate, on the account's current record.
    fn card_rules_on(
        &self,
        current: Option<&registry::CurrentRecord>,
        checked: &CheckedCert,
    ) -> std::result::Result<(), ApiError> {
        let now = self.now();
        let right = upload_right(checked.kind);
        eligibility::decide(right, current.map(|c| &c.record), now).map_err(|refusal| {
            ApiError::NotEligible {
                refusal,
                today: tz::taipei_date(now),
            }
        })?;
        let Some(person) = current else {
            return Err(refused(ProofRefusal::NoPersonRecord));
        };
        let p = &checked.profile;
        match checked.kind {
            CardKind::Natural => {
                let last4 = person.national_id.get(6..).unwrap_or_default();
                if p.id_last4.as_deref() != Some(last4) {
                    return Err(refused(ProofRefusal::IdMismatch));
                }
                let cn = p.common_name.as_deref().unwrap_or_default();
                if !cert_binding::names_match(cn, &person.name) {
                    return Err(refused(ProofRefusal::NameMismatch));
                }
            }
            CardKind::Organization => {
                let ty = match p.subject_type.as_deref() {
                    Some(oid::TYPE_GOVERNMENT_UNIT) => OrgCertType::Unit,
                    Some(oid::TYPE_SCHOOL) => OrgCertType::School,
                    _ => OrgCertType::Agency,
                };
                let ok = match (p.agency_oid.as_deref(), person.agency_oid.as_deref()) {
                    (Some(cert), Some(agency)) => cert_binding::agency_matches(ty, cert, agency),
                    _ => false,
                };
                if !ok {
                    return Err(refused(ProofRefusal::AgencyMismatch));
                }
            }
        }
        Ok(())
    }

    /// Proof, binding, rules; then the new session, the sign-in counters, the binding's
    /// last use and the audit entry as one commit.
    async fn cert_login_checked(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
        bound_to: &mut Option<(String, String)>,
    ) -> std::result::Result<LoginGranted, ApiError> {
        let (t, trust) = self
            .take_proof_challenge(ctx, token, Purpose::Login)
            .await?;
        // The binding is read while the certificate is checked: the query is on its way to
        // the database before the CPU work starts. Both must succeed.
        let fingerprint = verify::fingerprint(&t.certificate);
        let (subject, checked) = tokio::join!(
            crate::cards::store::bound_subject(&self.db.pool, &fingerprint),
            self.check_proof(&t, &trust)
        );
        let checked = checked?;
        let subject = subject?
            .filter(|s| !s.account.disabled)
            .ok_or(refused(ProofRefusal::NotBound))?;
        let acct = &subject.account;
        *bound_to = Some((acct.name.clone(), acct.id.clone()));
        // The rules again, at every sign-in: the binding stays, the sign-in does not happen.
        self.card_rules_on(subject.record.as_ref(), &checked)?;
        let now = self.now();
        let mut batch = Batch::new();
        let (_, session_cookie) = self.new_session_in(&mut batch, ctx, Some(&acct.id));
        batch.push(crate::cards::store::touch_binding(&subject.binding_id, now));
        batch.push(
            crate::audit::audit_stmt(
                &AuditEntry {
                    kind: crate::audit::Kind::LoginCertificate,
                    account_key: &acct.name,
                    account_id: Some(&acct.id),
                    client: &ctx.client,
                    trusted: false,
                    outcome: crate::audit::Outcome::Success,
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

    /// An upload started for this browser session (replacing any earlier one).
    fn start_flow(&self, batch: &mut Batch, session_hash: &str, account_id: &str, kind: CardKind) {
        let k = kind.as_str();
        batch
            .push(Stmt::new(
                "DELETE FROM bind_flows WHERE session_hash = $1",
                vec![session_hash.into()],
            ))
            .push(Stmt::new(
                "INSERT INTO bind_flows (session_hash, account_id, kind, started_at) VALUES ($1, $2, $3, $4)",
                vec![
                    session_hash.into(),
                    account_id.into(),
                    k.into(),
                    ms(self.now()).into(),
                ],
            ));
    }

    /// The rights the chosen kind needs, checked before the card is asked anything.
    async fn precheck(
        &self,
        account_id: &str,
        kind: CardKind,
    ) -> std::result::Result<(), ApiError> {
        let now = self.now();
        let current = self.current_record(account_id).await?;
        let right = upload_right(kind);
        eligibility::decide(right, current.as_ref().map(|c| &c.record), now)
            .map(|_| ())
            .map_err(|refusal| ApiError::NotEligible {
                refusal,
                today: tz::taipei_date(now),
            })
    }

    async fn bind_verify_checked(
        &self,
        ctx: &RequestCtx,
        session: &str,
        f: &Flow,
        token: &ProofToken,
    ) -> std::result::Result<BindPreview, ApiError> {
        let checked = self.verify_proof(ctx, token, Purpose::Bind).await?;
        let card_number = ecpa_cardproto::token::card_number(&token.card_sn);
        if CardKind::as_str(checked.kind) != f.kind {
            return Err(refused(ProofRefusal::WrongCertificateType));
        }
        self.card_rules(&f.account_id, &checked).await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT account_id FROM cert_bindings WHERE fingerprint = $1")
                .bind(&checked.fingerprint)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(ServerError::from)?;
        match owner {
            Some(a) if a == f.account_id => return Err(refused(ProofRefusal::AlreadyBoundToYou)),
            Some(_) => return Err(refused(ProofRefusal::AlreadyBound)),
            None => {}
        }
        sqlx::query(
            "UPDATE bind_flows SET certificate = $1, verified_at = $2, card_sn = $3 WHERE session_hash = $4",
        )
        .bind(B64.encode(&checked.der))
        .bind(ms(self.now()))
        .bind(card_number.as_deref())
        .bind(session)
        .execute(&self.db.pool)
        .await
        .map_err(ServerError::from)?;
        let acct = crate::auth::store::account_by_id(&self.db.pool, &f.account_id)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let p = &checked.profile;
        let date = |unix: i64| {
            OffsetDateTime::from_unix_timestamp(unix)
                .map(roc_datetime)
                .unwrap_or_default()
        };
        Ok(BindPreview {
            kind: kind_of(CardKind::as_str(checked.kind)),
            holder: p.common_name.clone().unwrap_or_default(),
            card_number: card_number.unwrap_or_default(),
            issuer: p.issuer.clone(),
            valid_from: date(p.not_before),
            valid_to: date(p.not_after),
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
    pub(crate) async fn certificates_of(&self, account_id: &str) -> Result<Vec<BoundCert>> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, card_number, not_after, bound_at, last_used_at FROM cert_bindings WHERE account_id = $1 ORDER BY bound_at",
        )
        .bind(account_id)
        .fetch_all(&self.db.pool)
        .await?;
        let date = |unix: i64| {
            OffsetDateTime::from_unix_timestamp(unix)
                .map(roc_datetime)
                .unwrap_or_default()
        };
        rows.iter()
            .map(|r| {
                Ok(BoundCert {
                    id: r.try_get("id")?,
                    kind: kind_of(&r.try_get::<String, _>("kind")?),
                    subject: r.try_get("subject")?,
                    card_number: r
                        .try_get::<Option<String>, _>("card_number")?
                        .unwrap_or_default(),
                    valid_to: date(r.try_get("not_after")?),
                    bound_at: roc_datetime(crate::db::from_ms(r.try_get("bound_at")?)),
                    last_used: r
                        .try_get::<Option<i64>, _>("last_used_at")?
                        .map(|m| roc_datetime(crate::db::from_ms(m))),
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(ServerError::from)
    }
}

#[async_trait]
impl CardBackend for Portal {
    async fn card_setup(&self) -> std::result::Result<CardSetup, ApiError> {
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
    ) -> std::result::Result<(String, Vec<String>), ApiError> {
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
        batch.push(Stmt::new(
            "INSERT INTO challenges (nonce, session_hash, purpose, origin, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                c.nonce.as_str().into(),
                session.into(),
                purpose_str(purpose).into(),
                c.origin.as_str().into(),
                (c.issued_at * 1000).into(),
                ms(now + Duration::seconds(self.config.challenge_ttl_secs)).into(),
            ],
        ));
        batch.commit(&self.db).await?;
        Ok((c.to_tbs(), cookies))
    }

    async fn cert_lookup(
        &self,
        certificate_b64: &str,
    ) -> std::result::Result<CertLookup, ApiError> {
        let der = B64
            .decode(certificate_b64.trim())
            .map_err(|_| refused(ProofRefusal::MalformedToken))?;
        if der.is_empty() || der.len() > 16 * 1024 {
            return Err(refused(ProofRefusal::MalformedToken));
        }
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM cert_bindings WHERE fingerprint = $1")
                .bind(verify::fingerprint(&der))
                .fetch_one(&self.db.pool)
                .await
                .map_err(ServerError::from)?;
        let kind = profile::parse(&der)
            .ok()
            .and_then(|p| match p.subject_type.as_deref() {
                Some(oid::TYPE_NATURAL_PERSON | oid::TYPE_ALIEN_RESIDENT) => {
                    Some(CardKind::Natural)
                }
                Some(
                    oid::TYPE_GOVERNMENT_AGENCY | oid::TYPE_GOVERNMENT_UNIT | oid::TYPE_SCHOOL,
                ) => Some(CardKind::Organization),
                _ => None,
            });
        Ok(CertLookup { bound: n > 0, kind })
    }

    async fn cert_login(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
    ) -> std::result::Result<LoginGranted, ApiError> {
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
                crate::audit::Kind::LoginCertificate,
                key.as_deref().unwrap_or_default(),
                account.as_deref(),
                crate::audit::Outcome::Failure,
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
    ) -> std::result::Result<Vec<String>, ApiError> {
        self.trust_store()?;
        let acct = self
            .authenticate_password(ctx, account, password, "bind")
            .await?;
        self.precheck(&acct.id, kind).await?;
        let mut batch = Batch::new();
        let (session, cookies) = self.ensure_session_in(&mut batch, ctx);
        self.start_flow(&mut batch, &session, &acct.id, kind);
        batch.commit(&self.db).await?;
        Ok(cookies)
    }

    async fn bind_start_signed_in(&self, ctx: &RequestCtx) -> std::result::Result<(), ApiError> {
        self.trust_store()?;
        let me = self.require_signed_in(ctx).await?;
        self.precheck(me.id(), CardKind::Natural).await?;
        let mut batch = Batch::new();
        self.start_flow(
            &mut batch,
            &me.session().id_hash,
            me.id(),
            CardKind::Natural,
        );
        batch.commit(&self.db).await?;
        Ok(())
    }

    async fn bind_verify(
        &self,
        ctx: &RequestCtx,
        token: &ProofToken,
    ) -> std::result::Result<BindPreview, ApiError> {
        let session = ctx
            .session
            .as_ref()
            .map(|s| s.id_hash.clone())
            .ok_or(ApiError::NoUploadInProgress)?;
        let f = flow(&self.db.pool, &session)
            .await?
            .filter(|f| self.now() - f.started_at < FLOW_TTL)
            .ok_or(ApiError::NoUploadInProgress)?;
        let result = self.bind_verify_checked(ctx, &session, &f, token).await;
        if let Err(e) = &result {
            let detail = match e {
                ApiError::Card(r) => r.code().to_string(),
                other => format!("{other:?}"),
            };
            self.audit_card(
                ctx,
                crate::audit::Kind::CertBind,
                "",
                Some(&f.account_id),
                crate::audit::Outcome::Refused,
                Some(&detail),
            )
            .await;
        }
        result
    }

    async fn bind_confirm(
        &self,
        ctx: &RequestCtx,
        contact_email: Option<String>,
        note: Option<String>,
    ) -> std::result::Result<(), ApiError> {
        let (email, note) = (contact_email.as_deref(), note.as_deref());
        let session = ctx
            .session
            .as_ref()
            .map(|s| s.id_hash.clone())
            .ok_or(ApiError::NoUploadInProgress)?;
        let now = self.now();
        let f = flow(&self.db.pool, &session)
            .await?
            .filter(|f| now - f.started_at < FLOW_TTL && f.verified_at.is_some())
            .ok_or(ApiError::NoUploadInProgress)?;
        let cert_b64 = f.certificate.clone().ok_or(ApiError::NoUploadInProgress)?;
        let der = B64.decode(&cert_b64).map_err(|_| ApiError::Internal)?;
        let p = ecpa_cardproto::profile::parse(&der).map_err(|_| ApiError::Internal)?;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = email {
            if e.len() > 254 || !e.contains('@') || e.contains(char::is_whitespace) {
                return Err(ApiError::InvalidInput("email".into()));
            }
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control)) {
            return Err(ApiError::InvalidInput("note".into()));
        }
        let (email, note) = if f.kind == "org" {
            (email, note)
        } else {
            (None, None)
        };
        let id = tokens::row_id();
        let inserted = sqlx::query(
            "INSERT INTO cert_bindings (id, account_id, fingerprint, kind, subject, issuer, serial, card_number, not_before, not_after, \
             certificate, contact_email, note, bound_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(&f.account_id)
        .bind(verify::fingerprint(&der))
        .bind(&f.kind)
        .bind(&p.subject)
        .bind(&p.issuer)
        .bind(&p.serial_hex)
        .bind(f.card_sn.as_deref())
        .bind(p.not_before)
        .bind(p.not_after)
        .bind(&cert_b64)
        .bind(email)
        .bind(note)
        .bind(ms(now))
        .execute(&self.db.pool)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                // Someone bound this certificate in the meantime: exactly one wins.
                self.audit_card(
                    ctx,
                    crate::audit::Kind::CertBind,
                    "",
                    Some(&f.account_id),
                    crate::audit::Outcome::Refused,
                    Some(ProofRefusal::AlreadyBound.code()),
                )
                .await;
                return Err(refused(ProofRefusal::AlreadyBound));
            }
            Err(e) => return Err(ServerError::from(e).into()),
        }
        sqlx::query("DELETE FROM bind_flows WHERE session_hash = $1")
            .bind(&session)
            .execute(&self.db.pool)
            .await
            .map_err(ServerError::from)?;
        if f.kind == "natural" {
            crate::catalog::complete_todo(
                &self.db.pool,
                &f.account_id,
                crate::catalog::TODO_NATURAL_CERT,
                now,
            )
            .await?;
        }
        let key = crate::auth::store::account_by_id(&self.db.pool, &f.account_id)
            .await?
            .map(|a| a.name)
            .unwrap_or_default();
        self.audit_card(
            ctx,
            crate::audit::Kind::CertBind,
            &key,
            Some(&f.account_id),
            crate::audit::Outcome::Ok,
            Some(&format!(
                "{}:{}",
                f.kind,
                f.card_sn.as_deref().unwrap_or_default()
            )),
        )
        .await;
        Ok(())
    }

    async fn my_certificates(
        &self,
        ctx: &RequestCtx,
    ) -> std::result::Result<Vec<BoundCert>, ApiError> {
        let me = self.require_signed_in(ctx).await?;
        Ok(self.certificates_of(me.id()).await?)
    }

    async fn remove_certificate(
        &self,
        ctx: &RequestCtx,
        id: &str,
    ) -> std::result::Result<(), ApiError> {
        let me = self.require_signed_in(ctx).await?;
        let account_id = me.id().to_string();
        let n = sqlx::query("DELETE FROM cert_bindings WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(&account_id)
            .execute(&self.db.pool)
            .await
            .map_err(ServerError::from)?
            .rows_affected();
        if n == 0 {
            return Err(ApiError::NotFound);
        }
        let key = crate::auth::store::account_by_id(&self.db.pool, &account_id)
            .await?
            .map(|a| a.name)
            .unwrap_or_default();
        self.audit_card(
            ctx,
            crate::audit::Kind::CertUnbind,
            &key,
            Some(&account_id),
            crate::audit::Outcome::Ok,
            Some(id),
        )
        .await;
        Ok(())
    }
}

/// Removes challenges a day past their expiry.
pub async fn purge_challenges(pool: &sqlx::AnyPool, now: OffsetDateTime) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
        .bind(ms(now - Duration::days(1)))
        .execute(pool)
        .await?
        .rows_affected())
}

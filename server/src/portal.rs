//! The portal: its state (database, configuration, password hasher, policies, the trust
//! store, mail, caches and limits) and its clock. Each feature implements its port of the
//! app's API on [`Portal`] in its own module.

use crate::auth::cookies::CookieNames;
use crate::{config::Config, db::Db, error::Result, hashing::PasswordHasher, personnel::registry};
use ecpa_domain::{
    password::PasswordPolicy, roc, session::SessionPolicy, throttle::ThrottlePolicy, tz,
};
use std::sync::Arc;
use time::Date;
use time::OffsetDateTime;

pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
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
    pub card_trust: Option<crate::cards::trust::CardTrust>,
    /// Keeps the configured CRL URLs fresh once `serve` starts it; `None` without URLs.
    pub crl_fetcher: Option<crate::cards::crl_fetch::CrlFetcher>,
    /// OCSP at sign-in; `None` when off.
    pub ocsp: Option<crate::cards::ocsp::OcspChecker>,
    /// Outgoing mail (password reset links).
    pub mailer: Arc<crate::mail::Mailer>,
    /// The home page counters, recomputed at most every few seconds.
    pub stats_cache: crate::content::counters::StatsCache,
    /// Request rate limits of this process.
    pub limiter: crate::http::limits::Limiter,
    /// Public pages rendered once for visitors without a session (`http::page_cache`).
    pub pages: crate::http::page_cache::PageCache,
    /// The home page's panels, for every visitor (`content::panels`).
    pub panels: crate::content::panels::Panels,
    /// The content version both are checked against (`content::versions`).
    pub content_versions: crate::content::versions::ContentVersions,
    /// Password-reset requests are worked on one at a time, after the answer was sent
    /// (`content::ResetWork`).
    pub reset_lock: Arc<tokio::sync::Mutex<()>>,
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
    /// Today in Taipei.
    pub(crate) fn today(&self) -> Date {
        tz::taipei_date(self.now())
    }

    pub fn new(db: Db, config: Arc<Config>, clock: Clock) -> Result<Self> {
        let hasher = PasswordHasher::new(
            config.argon2_m_kib,
            config.argon2_t,
            config.argon2_p,
            config.hash_concurrency,
        )?;
        let card_trust = crate::cards::trust::CardTrust::from_config(&config);
        let crl_fetcher = card_trust.as_ref().and_then(|t| {
            let urls = crate::cards::crl_fetch::urls(&config, t);
            (!urls.is_empty()).then(|| {
                crate::cards::crl_fetch::CrlFetcher::new(
                    t.clone(),
                    config.card_crl_dir.clone(),
                    urls,
                    Default::default(),
                )
            })
        });
        let mailer = Arc::new(crate::mail::Mailer::from_config(&config)?);
        let ocsp = crate::cards::ocsp::OcspChecker::new(
            config.card_ocsp.clone(),
            std::time::Duration::from_secs(config.card_ocsp_timeout_secs.max(1)),
            config.card_ocsp_cache_secs,
        );
        Ok(Self {
            mailer,
            stats_cache: Default::default(),
            pages: Default::default(),
            panels: Default::default(),
            content_versions: Default::default(),
            limiter: crate::http::limits::Limiter::new(config.rate_limits),
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
}

//! The server keeps its CRLs fresh itself: each configured URL (and, if asked, each CRL
//! distribution point the configured CA certificates name: their roots' ARLs) is fetched
//! over HTTP, verified against the configured keys and judged against the CRL in use
//! (newer CRL number, current, issued) before it is written atomically into `card_crl_dir`
//! and the trust is reloaded. A failure keeps the last good CRL, which serves until its own
//! nextUpdate; after that, certificates it covered are refused (`crl.stale`) until a good
//! one arrives.
//!
//! Schedule: after a success, again at half the time left to nextUpdate (between one
//! minute and one hour); after a failure, with exponential back-off from 30 s to 15 min
//! (±20 % jitter, so several instances do not fetch in step).

use crate::{
    cards::trust::CardTrust,
    http_client::{self, HttpError},
};
use bytes::Bytes;
use ecpa_cardproto::crl::{self, Update};
use http_body_util::Full;
use serde::Serialize;
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

/// Larger than any real CRL (MOICA's complete CRL is ~17 MB).
pub const MAX_CRL_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("bad URL {0}")]
    Url(String),
    /// The exchange failed (connection, time, status or size), in the words of
    /// [`http_client`].
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("not a CRL a configured CA signed: {0}")]
    Invalid(String),
    #[error("refused: {0}")]
    Rejected(String),
    #[error("cannot write {0}")]
    Write(String),
    #[error("certificate sign-in is not configured")]
    NoTrust,
}

/// What `/readyz` and the logs tell about one URL.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CrlState {
    pub url: String,
    /// `pending` (not fetched yet), `ok`, `failing` (the last good one still current) or
    /// `stale` (no current CRL from this URL).
    pub status: &'static str,
    pub number: Option<String>,
    pub next_update: Option<i64>,
    pub last_success: Option<i64>,
    pub last_error: Option<String>,
    pub failures: u32,
}

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub timeout: Duration,
    pub max_bytes: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_bytes: MAX_CRL_BYTES,
        }
    }
}

/// The fetcher: shared state for `/readyz`, one loop per URL.
#[derive(Clone)]
pub struct CrlFetcher {
    trust: CardTrust,
    dir: PathBuf,
    options: FetchOptions,
    client: http_client::Client,
    states: Arc<Mutex<Vec<CrlState>>>,
}

/// The file a URL's CRL is kept in: the URL with everything but letters, digits, `.`, `-`
/// turned into `_`, ending in `.crl`.
pub fn file_name(url: &str) -> String {
    let body = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    let body: String = body.chars().take(180).collect();
    if body.ends_with(".crl") {
        format!("fetched_{body}")
    } else {
        format!("fetched_{body}.crl")
    }
}

/// When to fetch again, in seconds from `now`.
pub fn next_attempt(next_update: Option<i64>, now: i64, failures: u32, jitter: f64) -> u64 {
    let base = if failures > 0 {
        (30u64 << failures.min(6).saturating_sub(1)).min(900)
    } else {
        match next_update {
            Some(n) if n > now => (((n - now) / 2) as u64).clamp(60, 3600),
            _ => 30,
        }
    };
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    ((base as f64) * factor).round().max(1.0) as u64
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("crl.part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

impl CrlFetcher {
    pub fn new(trust: CardTrust, dir: PathBuf, urls: Vec<String>, options: FetchOptions) -> Self {
        let client = http_client::client();
        let states = urls
            .into_iter()
            .map(|url| CrlState {
                url,
                status: "pending",
                number: None,
                next_update: None,
                last_success: None,
                last_error: None,
                failures: 0,
            })
            .collect();
        Self {
            trust,
            dir,
            options,
            client,
            states: Arc::new(Mutex::new(states)),
        }
    }

    pub fn states(&self) -> Vec<CrlState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The bytes at `url`, within the time and size limits.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let uri: hyper::Uri = url.parse().map_err(|_| FetchError::Url(url.into()))?;
        if uri.scheme_str() != Some("http") {
            return Err(FetchError::Url(url.into()));
        }
        let req = hyper::Request::get(uri)
            .header(hyper::header::USER_AGENT, "ecpa-server CRL fetcher")
            .body(Full::new(Bytes::new()))
            .map_err(|e| FetchError::Url(e.to_string()))?;
        Ok(http_client::exchange(
            &self.client,
            req,
            self.options.timeout,
            self.options.max_bytes,
        )
        .await?)
    }

    /// One attempt for `url`: download, verify, judge, install, reload. Returns what is now
    /// in use from this URL.
    pub async fn fetch_once(&self, url: &str) -> Result<crl::Crl, FetchError> {
        let der = self.download(url).await?;
        let trust = self.trust.clone();
        let dir = self.dir.clone();
        let url = url.to_string();
        let now = now_unix();
        tokio::task::spawn_blocking(move || -> Result<crl::Crl, FetchError> {
            let store = trust.get().map_err(|_| FetchError::NoTrust)?;
            let candidate = store
                .verify_crl(&url, &der)
                .map_err(|e| FetchError::Invalid(e.to_string()))?;
            match crl::judge_update(&candidate, store.current_crl(&candidate), now) {
                Ok(Update::Same) => Ok(candidate),
                Ok(Update::Newer) => {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| FetchError::Write(format!("{}: {e}", dir.display())))?;
                    let path = dir.join(file_name(&url));
                    write_atomic(&path, &der)
                        .map_err(|e| FetchError::Write(format!("{}: {e}", path.display())))?;
                    trust
                        .reload_now()
                        .map_err(|e| FetchError::Write(format!("reload: {e}")))?;
                    Ok(candidate)
                }
                Err(r) => Err(FetchError::Rejected(r.to_string())),
            }
        })
        .await
        .map_err(|e| FetchError::Write(e.to_string()))?
    }

    /// Records an attempt's outcome; returns the seconds until the next one.
    fn record(&self, url: &str, outcome: &Result<crl::Crl, FetchError>) -> u64 {
        let now = now_unix();
        let Ok(mut states) = self.states.lock() else {
            return 60;
        };
        let Some(st) = states.iter_mut().find(|s| s.url == url) else {
            return 60;
        };
        match outcome {
            Ok(c) => {
                if st.status != "ok" || st.number.as_deref() != Some(&c.number_text()) {
                    tracing::info!(url, number = %c.number_text(), entries = c.revoked.len(), "CRL fetched and in use");
                }
                st.status = "ok";
                st.number = Some(c.number_text());
                st.next_update = c.next_update;
                st.last_success = Some(now);
                st.last_error = None;
                st.failures = 0;
            }
            Err(e) => {
                st.failures = st.failures.saturating_add(1);
                st.last_error = Some(e.to_string());
                st.status = if st.next_update.is_some_and(|n| now < n) {
                    "failing"
                } else {
                    "stale"
                };
                tracing::warn!(url, error = %e, failures = st.failures, status = st.status, "CRL fetch failed; the last good CRL stays");
            }
        }
        let jitter = (rand::random::<f64>() * 2.0) - 1.0;
        next_attempt(st.next_update, now, st.failures, jitter)
    }

    /// Runs one attempt for `url` and records it (what the loop does; tests call it).
    pub async fn attempt(&self, url: &str) -> u64 {
        let outcome = self.fetch_once(url).await;
        self.record(url, &outcome)
    }

    /// One loop per URL, for the life of the process.
    pub fn spawn(&self) {
        for st in self.states() {
            let me = self.clone();
            tokio::spawn(async move {
                loop {
                    let wait = me.attempt(&st.url).await;
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
            });
        }
    }
}

/// The URLs to keep fresh: the configured ones, plus (with `card_crl_fetch_ca_points`)
/// every CRL distribution point the configured CA certificates name.
pub fn urls(config: &crate::config::Config, trust: &CardTrust) -> Vec<String> {
    let mut urls = config.card_crl_urls.clone();
    if config.card_crl_fetch_ca_points {
        if let Ok(store) = trust.get() {
            for ca in store.cas() {
                urls.extend(
                    ca.crl_urls
                        .iter()
                        .filter(|u| u.starts_with("http://"))
                        .cloned(),
                );
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    urls.retain(|u| seen.insert(u.clone()));
    urls
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names() {
        assert_eq!(
            file_name("http://grca.nat.gov.tw/repository/CRL2/CA.crl"),
            "fetched_grca.nat.gov.tw_repository_CRL2_CA.crl"
        );
        assert_eq!(
            file_name("http://x/get?crl=1&a=../b"),
            "fetched_x_get_crl_1_a_.._b.crl"
        );
        assert!(!file_name("http://x/../../etc/passwd").contains('/'));
    }

    #[test]
    fn schedule() {
        // After a success: half the time to nextUpdate, within 1 min .. 1 h.
        assert_eq!(next_attempt(Some(1_000 + 7_200), 1_000, 0, 0.0), 3_600);
        assert_eq!(next_attempt(Some(1_000 + 600), 1_000, 0, 0.0), 300);
        assert_eq!(next_attempt(Some(1_000 + 10), 1_000, 0, 0.0), 60);
        // After failures: 30 s, 60 s, 120 s … at most 15 min.
        assert_eq!(next_attempt(None, 0, 1, 0.0), 30);
        assert_eq!(next_attempt(None, 0, 2, 0.0), 60);
        assert_eq!(next_attempt(None, 0, 3, 0.0), 120);
        assert_eq!(next_attempt(None, 0, 50, 0.0), 900);
        assert_eq!(next_attempt(Some(10_000), 0, 0, 1.0), 3_600 + 720);
    }

    proptest! {
        #[test]
        fn attempts_are_never_sooner_than_a_second_nor_later_than_an_hour_and_a_fifth(
            next in proptest::option::of(-10_000i64..1_000_000),
            failures in 0u32..100,
            jitter in -5.0f64..5.0,
        ) {
            let s = next_attempt(next, 0, failures, jitter);
            prop_assert!((1..=4_320).contains(&s));
        }
    }
}

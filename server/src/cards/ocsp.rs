//! OCSP at certificate sign-in and upload, where configured (`card_ocsp`): `off`
//! (default), `aia` (the responder the certificate names, as MOICA G3 certificates do), or
//! one responder URL for all (a local OCSP relay). Policy, fail closed: with OCSP on, a
//! certificate that names a responder (or any, with a fixed URL) is accepted only when the
//! CRLs **and** a valid, current OCSP answer both say good; revoked by either refuses;
//! an unreachable responder, a bad signature, a stale answer or another nonce refuses
//! (`ocsp.unavailable`); `unknown` refuses (`ocsp.unknown`). Answers are reused for
//! `card_ocsp_cache_secs` (default five minutes, never past their nextUpdate), so a busy
//! morning does not ask the responder for every sign-in: a revocation reaches sign-in
//! within that time (CRLs: within their publication interval).

use crate::http_client;
use bytes::Bytes;
use ecpa_cardproto::{
    ocsp::{self, OcspStatus},
    refusal::ProofRefusal,
    verify::CheckedCert,
};
use http_body_util::Full;
use rand::RngCore;
use std::{collections::HashMap, sync::Mutex, time::Duration};

const MAX_ANSWER_BYTES: usize = 64 * 1024;
const CACHE_ENTRIES: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspMode {
    Off,
    Aia,
    Url(String),
}

impl std::str::FromStr for OcspMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "off" => Ok(OcspMode::Off),
            "aia" => Ok(OcspMode::Aia),
            u if u.starts_with("http://") => Ok(OcspMode::Url(u.to_string())),
            other => Err(format!(
                "card_ocsp: {other}: expected off, aia or an http:// responder URL"
            )),
        }
    }
}

pub struct OcspChecker {
    mode: OcspMode,
    timeout: Duration,
    cache_secs: i64,
    client: http_client::Client,
    /// fingerprint → (status, good until)
    cache: Mutex<HashMap<String, (OcspStatus, i64)>>,
}

impl OcspChecker {
    /// `None` when OCSP is off.
    pub fn new(mode: OcspMode, timeout: Duration, cache_secs: i64) -> Option<Self> {
        (mode != OcspMode::Off).then(|| Self {
            mode,
            timeout,
            cache_secs: cache_secs.max(0),
            client: http_client::client(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn responder(&self, c: &CheckedCert) -> Option<String> {
        match &self.mode {
            OcspMode::Off => None,
            OcspMode::Url(u) => Some(u.clone()),
            OcspMode::Aia => c
                .profile
                .ocsp_urls
                .iter()
                .find(|u| u.starts_with("http://"))
                .cloned(),
        }
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let req = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/ocsp-request")
            .header(hyper::header::ACCEPT, "application/ocsp-response")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        http_client::exchange(&self.client, req, self.timeout, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| e.to_string())
    }

    /// The OCSP decision for a certificate that passed every other check.
    pub async fn check(&self, c: &CheckedCert, now: i64) -> Result<(), ProofRefusal> {
        let Some(url) = self.responder(c) else {
            return Ok(());
        };
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|m| m.get(&c.fingerprint).copied())
            .filter(|(_, until)| now < *until);
        let status = match cached {
            Some((s, _)) => s,
            None => {
                let mut nonce = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut nonce);
                let query = ocsp::request(&c.der, &c.issuer_der, &nonce).map_err(|e| {
                    tracing::warn!(error = %e, "OCSP request cannot be built");
                    ProofRefusal::OcspUnavailable
                })?;
                let answer = self.post(&url, query.der.clone()).await.map_err(|e| {
                    tracing::warn!(url, error = %e, "OCSP responder unreachable");
                    ProofRefusal::OcspUnavailable
                })?;
                let a = ocsp::check_response(&query, &answer, now).map_err(|e| {
                    tracing::warn!(url, error = %e, "OCSP answer refused");
                    ProofRefusal::OcspUnavailable
                })?;
                let until = a
                    .next_update
                    .map_or(now + self.cache_secs, |n| n.min(now + self.cache_secs));
                if let Ok(mut m) = self.cache.lock() {
                    if m.len() >= CACHE_ENTRIES {
                        m.retain(|_, (_, u)| now < *u);
                        if m.len() >= CACHE_ENTRIES {
                            m.clear();
                        }
                    }
                    m.insert(c.fingerprint.clone(), (a.status, until));
                }
                a.status
            }
        };
        match status {
            OcspStatus::Good => Ok(()),
            OcspStatus::Revoked { .. } => Err(ProofRefusal::Revoked),
            OcspStatus::Unknown => Err(ProofRefusal::OcspUnknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!("off".parse::<OcspMode>(), Ok(OcspMode::Off));
        assert_eq!("aia".parse::<OcspMode>(), Ok(OcspMode::Aia));
        assert_eq!(
            "http://127.0.0.1:8888/".parse::<OcspMode>(),
            Ok(OcspMode::Url("http://127.0.0.1:8888/".into()))
        );
        assert!("https://x".parse::<OcspMode>().is_err());
        assert!("on".parse::<OcspMode>().is_err());
    }
}

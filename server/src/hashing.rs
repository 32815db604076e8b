//! Argon2id password hashing on a bounded pool.
//!
//! Hashing is deliberately expensive (19 MiB, two passes). It runs on tokio's blocking
//! threads, at most `concurrency` at a time, so a burst of sign-ins queues here instead of
//! starving the async workers that serve pages. A caller that waits too long gets
//! [`ServerError::HashBusy`] ("系統忙碌") instead of an ever-growing queue.
//!
//! Unknown accounts are verified against a dummy hash made with the same parameters, so a
//! wrong account and a wrong password take the same time.

use crate::error::{Result, ServerError};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use rand::rngs::OsRng;
use std::{sync::Arc, time::Duration};
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: Arc<str>,
    queue_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash used weaker parameters than today's: store a new one.
    pub needs_rehash: bool,
}

fn argon(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(params: Params, password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Hash(e.to_string()))
}

impl PasswordHasher {
    pub fn new(m_kib: u32, t: u32, p: u32, concurrency: usize) -> Result<Self> {
        let params =
            Params::new(m_kib, t, p, None).map_err(|e| ServerError::Hash(e.to_string()))?;
        let dummy = hash_blocking(params.clone(), &crate::tokens::secret_token())?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: dummy.into(),
            queue_timeout: Duration::from_secs(10),
        })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| ServerError::HashBusy)?
            .map_err(|_| ServerError::HashBusy)?;
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ServerError::Hash(format!("hashing task failed: {e}")))?;
        Ok(out)
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let params = self.params.clone();
        let pw = password.to_owned();
        self.run(move || hash_blocking(params, &pw)).await?
    }

    /// Verifies `password` against `stored` (an Argon2 PHC string), or against the dummy
    /// hash when there is no stored hash, so the time taken does not depend on it.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> Result<Verified> {
        let real = stored.is_some();
        let phc = stored
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy.to_string());
        let pw = password.to_owned();
        let current = self.params.clone();
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Verified {
                    ok: false,
                    needs_rehash: false,
                };
            };
            // Verification uses the parameters recorded in the hash itself.
            let ok = Argon2::default()
                .verify_password(pw.as_bytes(), &parsed)
                .is_ok();
            let needs_rehash = ok
                && (parsed.algorithm.as_str() != "argon2id"
                    || Params::try_from(&parsed)
                        .map(|p| {
                            p.m_cost() < current.m_cost()
                                || p.t_cost() < current.t_cost()
                                || p.p_cost() < current.p_cost()
                        })
                        .unwrap_or(true));
            Verified {
                ok: ok && real,
                needs_rehash: needs_rehash && real,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> PasswordHasher {
        PasswordHasher::new(19_456, 2, 1, 2).unwrap()
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = h();
        let phc = h.hash("Correct-Horse-9").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            h.verify(Some(&phc), "Correct-Horse-9").await.unwrap(),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!h.verify(Some(&phc), "correct-horse-9").await.unwrap().ok);
        // No stored hash: never ok, even for the dummy's own (unknown) password.
        assert!(!h.verify(None, "anything").await.unwrap().ok);
        // Garbage in the column: a refusal, not a panic.
        assert!(!h.verify(Some("not-a-hash"), "x").await.unwrap().ok);
    }

    #[tokio::test]
    async fn weaker_hash_asks_for_rehash() {
        let weak = hash_blocking(Params::new(8192, 1, 1, None).unwrap(), "pw-Strong-2026").unwrap();
        let v = h().verify(Some(&weak), "pw-Strong-2026").await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saturated_pool_answers_busy() {
        let mut hasher = PasswordHasher::new(19_456, 2, 1, 1).unwrap();
        hasher.queue_timeout = Duration::from_millis(1);
        let hold = hasher.permits.clone().acquire_owned().await.unwrap();
        assert!(matches!(hasher.hash("x").await, Err(ServerError::HashBusy)));
        drop(hold);
        assert!(hasher.hash("Some-Pass-2026").await.is_ok());
    }
}

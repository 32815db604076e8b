//! The card trust the verifier uses: roots, issuing CAs and CRLs read from files (the
//! configured ones, every `*.crl` in `card_pki_dir`, and the CRLs the fetcher keeps in
//! `card_crl_dir`), as one immutable [`TrustStore`] swapped atomically.
//!
//! Reloads never hold up a sign-in: a request that finds the store older than a minute gets
//! the current one and starts one reload in the background (a 24 MB CRL takes most of a
//! second to verify and index); only the very first request, with nothing loaded yet, waits.

use crate::{
    config::Config,
    error::{Result, ServerError},
};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ecpa_cardproto::verify::{self, TrustStore};
use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, RwLock,
    },
    time::{Duration, Instant},
};

/// How old the loaded trust may get before a reload starts (CRL files are replaced by cron
/// jobs or the fetcher; the fetcher also asks for a reload at once).
pub const TRUST_RELOAD: Duration = Duration::from_secs(60);

/// Where the anchors and CRLs come from.
struct Sources {
    roots: Vec<PathBuf>,
    natural: Vec<PathBuf>,
    org: Vec<PathBuf>,
    crls: Vec<PathBuf>,
    /// Folders whose `*.crl` files are read at each reload (new files count).
    crl_dirs: Vec<PathBuf>,
    policy: verify::Policy,
}

struct Inner {
    sources: Sources,
    cache: RwLock<Option<(Instant, Arc<TrustStore>)>>,
    reloading: AtomicBool,
    /// Held while a reload reads and installs, so a reload that read the files earlier can
    /// never install after one that read them later.
    reload_order: Mutex<()>,
    /// The notes of the last load, logged again only when they change.
    logged: Mutex<Vec<String>>,
}

/// Cheap to clone: one shared store.
#[derive(Clone)]
pub struct CardTrust {
    inner: Arc<Inner>,
}

/// DER from a DER or PEM file.
pub fn read_der(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))?;
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(&bytes);
        let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        return B64
            .decode(b64.trim())
            .map_err(|e| ServerError::Config(format!("{}: bad PEM: {e}", path.display())));
    }
    Ok(bytes)
}

fn crl_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crl"))
        .collect();
    found.sort();
    found
}

impl CardTrust {
    /// `None` when certificate sign-in is not configured.
    pub fn from_config(c: &Config) -> Option<Self> {
        let (mut roots, mut natural, mut org, crls) = (
            c.card_roots.clone(),
            c.card_natural_cas.clone(),
            c.card_org_cas.clone(),
            c.card_crls.clone(),
        );
        let mut crl_dirs = vec![];
        if let Some(dir) = c.card_pki_dir.as_ref().filter(|d| {
            let present = d.join("test-grca-root.pem").exists();
            if !present {
                tracing::warn!(dir = %d.display(), "card PKI folder has no test anchors; ignored");
            }
            present
        }) {
            roots.push(dir.join("test-grca-root.pem"));
            natural.push(dir.join("test-moica.pem"));
            org.push(dir.join("test-gca.pem"));
            // The second generation and the school CA, where the simulator made them.
            for (list, file) in [
                (&mut roots, "test-grca-g3-root.pem"),
                (&mut natural, "test-moica-g3.pem"),
                (&mut org, "test-xca.pem"),
            ] {
                if dir.join(file).exists() {
                    list.push(dir.join(file));
                }
            }
            crl_dirs.push(dir.clone());
        }
        if roots.is_empty() || (natural.is_empty() && org.is_empty()) {
            return None;
        }
        if !c.card_crl_urls.is_empty() || c.card_crl_fetch_ca_points {
            crl_dirs.push(c.card_crl_dir.clone());
        }
        Some(Self {
            inner: Arc::new(Inner {
                sources: Sources {
                    roots,
                    natural,
                    org,
                    crls,
                    crl_dirs,
                    policy: verify::Policy {
                        allow_mobile: c.card_allow_mobile,
                    },
                },
                cache: RwLock::new(None),
                reloading: AtomicBool::new(false),
                reload_order: Mutex::new(()),
                logged: Mutex::new(vec![]),
            }),
        })
    }

    /// Reads the configured files now (what `get` caches, and `pki check` reports on).
    pub fn build(&self) -> Result<TrustStore> {
        let src = &self.inner.sources;
        let read = |v: &Vec<PathBuf>| -> Result<Vec<(String, Vec<u8>)>> {
            v.iter()
                .map(|p| Ok((p.display().to_string(), read_der(p)?)))
                .collect()
        };
        let mut crls = src.crls.clone();
        for dir in &src.crl_dirs {
            crls.extend(crl_files_in(dir));
        }
        // A CRL file that cannot be read is set aside like a bad CRL (its certificates are
        // then refused for want of a CRL), not a reason to refuse every card.
        let mut unreadable = vec![];
        let crl_files: Vec<(String, Vec<u8>)> = crls
            .iter()
            .filter_map(|p| match read_der(p) {
                Ok(d) => Some((p.display().to_string(), d)),
                Err(e) => {
                    unreadable.push(format!("CRL set aside: {e}"));
                    None
                }
            })
            .collect();
        let mut store = TrustStore::new(
            &read(&src.roots)?,
            &read(&src.natural)?,
            &read(&src.org)?,
            &crl_files,
            src.policy,
        )
        .map_err(|e| ServerError::Config(e.to_string()))?;
        store.notes.extend(unreadable);
        if let Ok(mut logged) = self.inner.logged.lock() {
            if *logged != store.notes {
                for note in &store.notes {
                    tracing::warn!(%note, "card trust");
                }
                logged.clone_from(&store.notes);
            }
        }
        Ok(store)
    }

    fn install(&self, store: TrustStore) -> Arc<TrustStore> {
        let store = Arc::new(store);
        if let Ok(mut g) = self.inner.cache.write() {
            *g = Some((Instant::now(), store.clone()));
        }
        store
    }

    /// The current store. When it is older than [`TRUST_RELOAD`], one background reload
    /// starts and this call still answers with the current store at once.
    pub fn get(&self) -> Result<Arc<TrustStore>> {
        let current = self
            .inner
            .cache
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|(at, t)| (*at, t.clone())));
        match current {
            Some((at, t)) => {
                if at.elapsed() >= TRUST_RELOAD {
                    self.reload_in_background();
                }
                Ok(t)
            }
            None => self.reload_now(),
        }
    }

    /// Starts one reload on a thread of its own unless one is running.
    pub fn reload_in_background(&self) {
        if self.inner.reloading.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("trust-reload".into())
            .spawn(move || {
                if let Err(e) = me.reload_now() {
                    tracing::error!(error = %e, "card trust reload failed; the previous one stays");
                }
                me.inner.reloading.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.inner.reloading.store(false, Ordering::Release);
        }
    }

    /// Reads everything now and swaps it in (blocking: call off the async runtime). On a
    /// failure the previous store stays.
    pub fn reload_now(&self) -> Result<Arc<TrustStore>> {
        let _order = self
            .inner
            .reload_order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let store = self.build()?;
        Ok(self.install(store))
    }

    /// Forgets the loaded store: the next [`CardTrust::get`] reads the files before it
    /// answers (tests, and operators after replacing an anchor).
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.inner.cache.write() {
            *g = None;
        }
    }
}

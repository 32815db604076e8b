//! Public pages as first-time visitors get them, rendered once and sent many times.
//!
//! A `GET` without a session cookie for a public content page (home, announcements and
//! search, polls, agencies, FAQ, help) renders the same HTML for everyone: nothing in it
//! depends on who asks. Such a page is kept for [`TTL`] and sent again as long as the
//! content has not changed, with two things fresh in every answer:
//!
//! * **the script nonce**: the page is kept in the pieces around its nonce (128 random
//!   bits that no content can have guessed), and each answer joins them with a new nonce,
//!   which its `Content-Security-Policy` names;
//! * **cookies**: a page that set one is never stored; the browser-id cookie is added
//!   around the cache, per answer.
//!
//! **Invalidation.** A page is sent again only while the content versions it was rendered
//! at are current (`content::versions`): an administrator's change or a vote shows at once
//! here and within about a second at other instances. The counters on the home page are up
//! to [`TTL`] older than their own cache says.
//!
//! Memory is bounded ([`MAX_ENTRIES`] pages of at most [`MAX_PAGE_BYTES`]); a query too long
//! to be a real one is not stored.

use crate::content::versions::Versions;
use axum::{
    body::{Body, Bytes},
    http::{header, HeaderValue, Response, StatusCode},
};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

/// How long a stored page is sent again (the home page's date and counters age by this).
pub const TTL: Duration = Duration::from_secs(5);
pub const MAX_ENTRIES: usize = 512;
pub const MAX_PAGE_BYTES: usize = 512 * 1024;
const MAX_KEY: usize = 300;

/// Whether a path is a public content page (its HTML the same for every visitor without
/// a session).
pub fn is_public_page(path: &str) -> bool {
    matches!(
        path,
        "/" | "/announcements"
            | "/announcements/search"
            | "/polls"
            | "/agencies"
            | "/faq"
            | "/help/start"
            | "/help/manual"
            | "/help/card-agent"
    ) || path
        .strip_prefix("/announcements/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        || path
            .strip_prefix("/faq/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

struct Entry {
    stored_at: Instant,
    versions: Versions,
    content_type: HeaderValue,
    /// The HTML in the pieces between the places the nonce goes.
    pieces: Arc<[String]>,
}

/// The stored pages of this instance.
pub struct PageCache {
    entries: RwLock<HashMap<String, Entry>>,
    hits: AtomicU64,
}

impl Default for PageCache {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            hits: AtomicU64::new(0),
        }
    }
}

/// The cache key of a request, if its page may be stored.
pub fn key(path: &str, query: Option<&str>) -> Option<String> {
    if !is_public_page(path) {
        return None;
    }
    let key = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    };
    (key.len() <= MAX_KEY).then_some(key)
}

/// A fresh script nonce: 128 random bits, base64 (what Leptos makes).
fn new_nonce() -> String {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    STANDARD.encode(b)
}

/// The nonce a page's policy names (`'nonce-…'`).
fn nonce_of(csp: &str) -> Option<&str> {
    let rest = &csp[csp.find("'nonce-")? + 7..];
    let end = rest.find('\'')?;
    Some(&rest[..end]).filter(|n| !n.is_empty())
}

impl PageCache {
    /// Pages served from the cache since start.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The content changed: the pages kept so far are no longer sent (their versions say
    /// so already); this frees their memory at once.
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.write() {
            e.clear();
        }
    }

    /// The stored page for `key`, with a fresh nonce, if rendered at `current` less than
    /// [`TTL`] ago.
    pub fn get(&self, key: &str, current: Versions) -> Option<Response<Body>> {
        let (pieces, content_type) = {
            let entries = self.entries.read().ok()?;
            let e = entries.get(key)?;
            if e.versions != current || e.stored_at.elapsed() >= TTL {
                return None;
            }
            (e.pieces.clone(), e.content_type.clone())
        };
        let nonce = new_nonce();
        let body = pieces.join(nonce.as_str());
        let csp = HeaderValue::from_str(&ecpa_app::content_security_policy(&nonce)).ok()?;
        let mut res = Response::new(Body::from(body));
        res.headers_mut().insert(header::CONTENT_TYPE, content_type);
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(res)
    }

    /// Stores `res` (rendered at `versions`) under `key` when it is a page every visitor
    /// may get, and returns it (read whole, its bytes unchanged).
    pub async fn store(
        &self,
        key: String,
        versions: Versions,
        res: Response<Body>,
    ) -> Response<Body> {
        let storable = res.status() == StatusCode::OK
            && !res.headers().contains_key(header::SET_COOKIE)
            && !res.headers().contains_key(header::CONTENT_ENCODING)
            && res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/html"));
        if !storable {
            return res;
        }
        let (parts, body) = res.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, %key, "page too large or unreadable");
                return Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(Body::empty())
                    .unwrap_or_default();
            }
        };
        self.keep(key, &parts, &bytes, versions);
        Response::from_parts(parts, Body::from(bytes))
    }

    fn keep(
        &self,
        key: String,
        parts: &axum::http::response::Parts,
        bytes: &Bytes,
        versions: Versions,
    ) {
        let Some(nonce) = parts
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .and_then(nonce_of)
        else {
            return;
        };
        let (Ok(html), Some(content_type)) = (
            std::str::from_utf8(bytes),
            parts.headers.get(header::CONTENT_TYPE),
        ) else {
            return;
        };
        let entry = Entry {
            stored_at: Instant::now(),
            versions,
            content_type: content_type.clone(),
            pieces: html.split(nonce).map(str::to_string).collect(),
        };
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.stored_at.elapsed() < TTL);
        }
        if entries.len() < MAX_ENTRIES || entries.contains_key(&key) {
            entries.insert(key, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::content::versions::ContentVersions;

    #[test]
    fn only_public_pages_and_reasonable_queries_are_kept() {
        for p in [
            "/",
            "/announcements",
            "/announcements/12",
            "/faq/card-1",
            "/polls",
        ] {
            assert!(key(p, None).is_some(), "{p}");
        }
        for p in [
            "/my",
            "/admin",
            "/announcements/12/x",
            "/announcements/x",
            "/login/certificate",
            "/cert/upload/natural",
            "/password/reset",
            "/api/login",
            "/faq/a/b",
        ] {
            assert!(key(p, None).is_none(), "{p}");
        }
        assert_eq!(
            key("/announcements", Some("page=2")).as_deref(),
            Some("/announcements?page=2")
        );
        assert!(key("/announcements/search", Some(&"q=".repeat(200))).is_none());
    }

    #[test]
    fn nonces_are_found_in_a_policy() {
        let csp = ecpa_app::content_security_policy("abc+/=");
        assert_eq!(nonce_of(&csp), Some("abc+/="));
        assert_eq!(nonce_of("default-src 'self'"), None);
    }

    #[tokio::test]
    async fn a_page_is_sent_again_with_a_new_nonce_until_the_content_changes() {
        let cache = PageCache::default();
        let v = ContentVersions::default();
        let page = |nonce: &str| {
            let mut r = Response::new(Body::from(format!(
                "<html><script nonce=\"{nonce}\">x</script><p>{nonce}</p></html>"
            )));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&ecpa_app::content_security_policy(nonce)).unwrap(),
            );
            r
        };
        assert!(cache.get("/", v.current()).is_none());
        let first = cache.store("/".into(), v.current(), page("N0nce111")).await;
        let first = axum::body::to_bytes(first.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(std::str::from_utf8(&first).unwrap().contains("N0nce111"));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let hit = cache.get("/", v.current()).unwrap();
            let csp = hit.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .to_string();
            let nonce = nonce_of(&csp).unwrap().to_string();
            let body = axum::body::to_bytes(hit.into_body(), 1 << 20)
                .await
                .unwrap();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert_eq!(body.matches(&nonce).count(), 2);
            assert!(!body.contains("N0nce111"));
            assert!(seen.insert(nonce), "every answer has its own nonce");
        }
        assert_eq!(cache.hits(), 3);
        v.bump_local();
        assert!(cache.get("/", v.current()).is_none());
        // A page rendered before a change and stored after it is not sent.
        let before = v.current();
        v.bump_local();
        cache.store("/".into(), before, page("N0nce333")).await;
        assert!(cache.get("/", v.current()).is_none());
        // Another instance's change, seen through the database's version.
        cache.store("/".into(), v.current(), page("N0nce222")).await;
        assert!(cache.get("/", v.current()).is_some());
        v.set_shared(7);
        assert!(cache.get("/", v.current()).is_none());
        // Clearing frees what is kept.
        cache.store("/".into(), v.current(), page("N0nce444")).await;
        cache.clear();
        assert!(cache.get("/", v.current()).is_none());
    }

    #[tokio::test]
    async fn pages_with_cookies_or_errors_are_not_kept() {
        let cache = PageCache::default();
        let v = ContentVersions::default().current();
        let html = |body: String| {
            let mut r = Response::new(Body::from(body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&ecpa_app::content_security_policy("n1")).unwrap(),
            );
            r
        };
        let mut with_cookie = html("a".into());
        with_cookie
            .headers_mut()
            .insert(header::SET_COOKIE, HeaderValue::from_static("x=1"));
        cache.store("/".into(), v, with_cookie).await;
        assert!(cache.get("/", v).is_none());
        let mut missing = html("a".into());
        *missing.status_mut() = StatusCode::NOT_FOUND;
        cache.store("/".into(), v, missing).await;
        assert!(cache.get("/", v).is_none());
        let kept = html("<p>n1</p>".into());
        cache.store("/".into(), v, kept).await;
        assert!(cache.get("/", v).is_some());
    }
}

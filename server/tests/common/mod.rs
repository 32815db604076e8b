//! Test support: the real router over a real database (SQLite file or PostgreSQL).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cards;
pub mod ocsp_responder;

use axum::{
    body::Body,
    http::{header, Request, Response, StatusCode},
    Router,
};
use ecpa_server::{config::Config, db::Db, demo, http as web, portal::Portal};
use http_body_util::BodyExt;
use std::{
    io::BufRead,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, OnceLock,
    },
};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

pub const PW: &str = demo::DEMO_PASSWORD;

/// A PostgreSQL server for this test process: the one `scripts/with-postgres.sh` started
/// (`ECPA_TEST_PG_URL`), or else a throw-away one started now through the same script and
/// stopped when this process exits.
pub fn pg_admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("ECPA_TEST_PG_URL") {
            return u;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/with-postgres.sh");
        let watch = format!(
            "echo \"URL=$ECPA_TEST_PG_URL\"; while kill -0 {} 2>/dev/null; do sleep 1; done",
            std::process::id()
        );
        let mut child = std::process::Command::new(script)
            .args(["sh", "-c", &watch])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start scripts/with-postgres.sh (is the postgresql package installed? run `make setup`)");
        let out = child.stdout.take().expect("stdout");
        for line in std::io::BufReader::new(out).lines() {
            let line = line.expect("read");
            if let Some(u) = line.strip_prefix("URL=") {
                // The script keeps PostgreSQL up until this process exits; reap it then.
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
                return u.to_string();
            }
        }
        let _ = child.wait();
        panic!("scripts/with-postgres.sh did not start PostgreSQL");
    })
    .clone()
}

/// A fresh, empty database in the test PostgreSQL server.
pub async fn pg_database() -> String {
    use sqlx::Executor;
    let admin = pg_admin_url();
    let name = format!("t_{}", ecpa_server::tokens::row_id());
    let db = Db::connect(&admin, 1)
        .await
        .expect("connect to test PostgreSQL");
    db.pool
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    db.pool.close().await;
    // .../postgres?host=... → .../<name>?host=...
    let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}?{query}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub kind: Kind,
    pub router: Router,
    pub portal: Arc<Portal>,
    /// Milliseconds added to the real clock; lets a test move time forward.
    pub offset_ms: Arc<AtomicI64>,
    _dir: Option<tempfile::TempDir>,
}

pub fn test_config() -> Config {
    let mut c = Config::defaults();
    c.trust_forwarded_for = true;
    c.hash_concurrency = 2;
    c.db_max_connections = 8;
    // Most scenarios send many requests from one address on purpose; the limits have
    // their own tests (hardening.rs) with them on.
    c.rate_limits = false;
    c
}

impl TestApp {
    pub async fn new(kind: Kind) -> Self {
        Self::with_config(kind, test_config()).await
    }

    pub async fn with_config(kind: Kind, mut config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        config.database_url = match kind {
            Kind::Sqlite => format!("sqlite://{}", dir.path().join("ecpa.db").display()),
            Kind::Postgres => pg_database().await,
        };
        config.site_root = dir.path().join("site");
        config.mail_outbox = dir.path().join("outbox");
        let db = Db::connect(&config.database_url, config.db_max_connections)
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let offset_ms = Arc::new(AtomicI64::new(0));
        let off = offset_ms.clone();
        let clock = Arc::new(move || {
            OffsetDateTime::now_utc() + Duration::milliseconds(off.load(Ordering::SeqCst))
        });
        let portal = Arc::new(Portal::new(db, Arc::new(config), clock).expect("portal"));
        demo::seed(&portal).await.expect("demo seed");
        let options = ecpa_server::leptos_options(&portal.config).expect("leptos options");
        let router = web::router(portal.clone(), options);
        if kind == Kind::Postgres {
            println!("[postgres] test database ready");
        }
        Self {
            kind,
            router,
            portal,
            offset_ms,
            _dir: Some(dir),
        }
    }

    pub fn advance(&self, d: Duration) {
        self.offset_ms
            .fetch_add(d.whole_milliseconds() as i64, Ordering::SeqCst);
    }

    /// Sends `req` as a browser would: with the `Host` of the public origin unless the
    /// test set one.
    pub async fn send(&self, mut req: Request<Body>) -> Reply {
        if !req.headers().contains_key(header::HOST) {
            let host = self
                .portal
                .config
                .public_origin
                .host_str()
                .map(|h| match self.portal.config.public_origin.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
                .unwrap_or_default();
            if let Ok(v) = header::HeaderValue::from_str(&host) {
                req.headers_mut().insert(header::HOST, v);
            }
        }
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        Reply::read(res).await
    }

    pub async fn get(&self, path: &str, cookies: &Jar) -> Reply {
        self.get_from(path, "198.51.100.7", cookies).await
    }

    /// A page view from `client`.
    pub async fn get_from(&self, path: &str, client: &str, cookies: &Jar) -> Reply {
        let req = Request::get(path)
            .header(header::ACCEPT, "text/html")
            .header("x-forwarded-for", client)
            .header(header::COOKIE, cookies.header())
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    /// A plain HTML form post, as a browser without JavaScript sends it.
    pub async fn form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        client: &str,
        cookies: &Jar,
    ) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, "http://127.0.0.1:3000/")
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .header("x-forwarded-for", client)
            .header(header::COOKIE, cookies.header())
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// The same post as the hydrated page's server-function client sends it.
    pub async fn api(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        client: &str,
        cookies: &Jar,
    ) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .header("x-forwarded-for", client)
            .header(header::COOKIE, cookies.header())
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// A server-function call with a JSON body (the `input = Json` endpoints).
    pub async fn api_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        client: &str,
        cookies: &Jar,
    ) -> Reply {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .header("x-forwarded-for", client)
            .header(header::COOKIE, cookies.header())
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    pub async fn login(&self, account: &str, password: &str, client: &str, jar: &mut Jar) -> Reply {
        let r = self
            .form(
                "/api/login",
                &[("account", account), ("password", password)],
                client,
                jar,
            )
            .await;
        jar.absorb(&r);
        r
    }

    /// The mails in the outbox folder, oldest first, as raw RFC 5322 text
    /// (`ecpa_server::mail::text_body` decodes the body).
    pub fn outbox(&self) -> Vec<String> {
        let dir = &self.portal.config.mail_outbox;
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        // Names start with the sending time.
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits (up to 10 s) until the outbox holds `n` mails.
    pub async fn wait_for_mails(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let m = self.outbox();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("outbox has {} mail(s), expected {n}", self.outbox().len());
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.portal.db.pool)
            .await
            .expect("scalar query")
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    async fn read(res: Response<Body>) -> Self {
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie`, the browser id included.
    pub fn all_set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// The cookies that carry state (session, trusted device): the browser id every answer
    /// to a browser without one hands out is random and means nothing, so answers are
    /// compared without it.
    pub fn set_cookies(&self) -> Vec<String> {
        self.all_set_cookies()
            .into_iter()
            .filter(|c| !c.starts_with("ecpa_b=") && !c.starts_with("__Host-ecpa_b="))
            .collect()
    }
}

/// A minimal cookie jar: name → value, updated from Set-Cookie.
#[derive(Debug, Default, Clone)]
pub struct Jar(pub Vec<(String, String)>);

impl Jar {
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn absorb(&mut self, r: &Reply) {
        for c in r.all_set_cookies() {
            self.absorb_set_cookie(&c);
        }
    }

    /// Keeps (or, expired, drops) the cookie of one `Set-Cookie` value.
    pub fn absorb_set_cookie(&mut self, c: &str) {
        let first = c.split(';').next().unwrap_or("");
        let Some((k, v)) = first.split_once('=') else {
            return;
        };
        let expired = c.contains("Max-Age=0");
        self.0.retain(|(name, _)| name != k);
        if !expired {
            self.0.push((k.to_string(), v.to_string()));
        }
    }
}

/// Runs each named scenario `async fn name(app: TestApp)` against SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::common::TestApp::new(super::common::Kind::Sqlite).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::common::TestApp::new(super::common::Kind::Postgres).await).await
                }
            }
        )*
    };
}

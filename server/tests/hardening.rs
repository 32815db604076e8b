//! Hardening through the real router, on SQLite and PostgreSQL: security headers and the
//! per-response CSP nonce, rate limits and their 429 answers, cross-site refusals, a
//! database that is locked or unavailable (503, no panic, recovery), and the importer
//! against a read-only or full database (nothing half-imported).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{test_config, Jar, Kind, TestApp, PW};
use ecpa_app::error::ApiError;
use ecpa_server::{
    db::{Backend, Db},
    personnel::{
        agencies::import_agencies,
        csvio::EncodingChoice,
        import::{import_personnel, ImportOptions},
        sample,
    },
};
use sqlx::Executor;
use std::path::Path;
use time::OffsetDateTime;

on_both_databases!(
    personal_answers_are_never_stored,
    pages_carry_a_nonce_policy_and_the_headers,
    cross_site_writes_are_refused_everywhere,
    database_outage_is_a_503_and_recovers,
    importer_leaves_nothing_half_done,
);

async fn limited_app(kind: Kind) -> TestApp {
    let mut c = test_config();
    c.rate_limits = true;
    TestApp::with_config(kind, c).await
}

mod rate_limits_sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run() {
        super::rate_limits(super::limited_app(super::Kind::Sqlite).await).await
    }
}
mod rate_limits_postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run() {
        super::rate_limits(super::limited_app(super::Kind::Postgres).await).await
    }
}

/// Security review #16.6: pages and answers with personal data carry `Cache-Control:
/// no-store`, so neither a shared browser's cache nor a proxy keeps them.
async fn personal_answers_are_never_stored(app: TestApp) {
    let mut jar = Jar::default();
    let login = app.login("wangxm", PW, "198.51.100.5", &mut jar).await;
    let no_store = |r: &common::Reply, what: &str| {
        let v = r
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no Cache-Control"));
        assert!(v.contains("no-store"), "{what}: {v}");
    };
    no_store(&login, "the sign-in answer (it sets the session cookie)");
    for path in ["/my", "/", "/announcements"] {
        let r = app.get(path, &jar).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        no_store(&r, path);
    }
    let area = app.api("/api/my_area", &[], "198.51.100.5", &jar).await;
    assert_eq!(area.status, StatusCode::OK, "{}", area.body);
    assert!(area.body.contains("王小明"));
    no_store(&area, "/api/my_area");
    // A protected page asked for without a session is a redirect that is not stored either.
    let anon = app.get("/my", &Jar::default()).await;
    no_store(&anon, "/my without a session");
}

fn nonce_of(policy: &str) -> String {
    let start = policy.find("'nonce-").expect("a nonce in the policy") + "'nonce-".len();
    policy[start..].split('\'').next().unwrap().to_string()
}

async fn pages_carry_a_nonce_policy_and_the_headers(app: TestApp) {
    let mut jar = Jar::default();
    app.login("wangxm", PW, "198.51.100.1", &mut jar).await;
    let mut nonces = Vec::new();
    for path in [
        "/",
        "/my",
        "/announcements",
        "/announcements/search?q=x",
        "/login/certificate",
        "/faq/Q000815",
        "/password/forgot",
        "/no-such-page",
    ] {
        let r = app.get(path, &jar).await;
        let h = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path}: no {n}"))
                .to_string()
        };
        let csp = h("content-security-policy");
        for part in [
            "default-src 'self'",
            "'strict-dynamic'",
            "'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{path}: {part} missing in {csp}");
        }
        assert!(
            !csp.contains("'unsafe-inline'; ") || csp.contains("style-src-attr 'unsafe-inline'")
        );
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
        let nonce = nonce_of(&csp);
        assert!(nonce.len() >= 22, "128-bit nonce");
        // Every script element carries this response's nonce.
        for tag in r.body.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap();
            assert!(
                open.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: a script without the nonce: <script{open}>"
            );
        }
        assert!(!r.body.contains(" onclick=") && !r.body.contains(" onload="));
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("cross-origin-opener-policy"), "same-origin-allow-popups");
        assert_eq!(h("referrer-policy"), "strict-origin-when-cross-origin");
        assert_eq!(h("x-frame-options"), "DENY");
        assert!(
            r.headers.get("strict-transport-security").is_none(),
            "plain http: no HSTS"
        );
        nonces.push(nonce);
    }
    let mut unique = nonces.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), nonces.len(), "a fresh nonce per response");

    // Server functions and error pages run no script at all.
    let api = app.api("/api/whoami", &[], "198.51.100.1", &jar).await;
    let csp = api.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_adds_hsts_and_host_cookies() {
    let mut c = test_config();
    c.public_origin = url::Url::parse("https://ecpa.example.gov.tw").unwrap();
    let app = TestApp::with_config(Kind::Sqlite, c).await;
    let r = app.get("/", &Jar::default()).await;
    assert!(r.headers["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    let req = axum::http::Request::post("/api/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("origin", "https://ecpa.example.gov.tw")
        .header("x-forwarded-for", "198.51.100.2")
        .body(axum::body::Body::from(format!(
            "account=wangxm&password={PW}"
        )))
        .unwrap();
    let r = app.send(req).await;
    let cookies = r.set_cookies().join("\n");
    assert!(
        cookies.contains("__Host-ecpa_sid=") && cookies.contains("Secure"),
        "{cookies}"
    );
}

async fn cross_site_writes_are_refused_everywhere(app: TestApp) {
    let mut jar = Jar::default();
    app.login("ecpaadmin", PW, "198.51.100.3", &mut jar).await;
    for (path, body) in [
        ("/api/vote", "poll_id=x&option_id=y"),
        (
            "/api/admin/announcement_save",
            "category=general&title=x&body=y",
        ),
        (
            "/api/password_reset_request",
            "account=wangxm&email=wangxm%40demo.ecpa.test",
        ),
        ("/api/card_challenge", "purpose=Login"),
        ("/api/logout", ""),
    ] {
        for (site, origin) in [
            (Some("cross-site"), Some("https://evil.example")),
            (Some("same-site"), Some("https://sub.ecpa.example")),
            (None, Some("https://evil.example")),
            (Some("cross-site"), None),
        ] {
            let mut req = axum::http::Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .header("host", "127.0.0.1:3000")
                .header("cookie", jar.header());
            if let Some(s) = site {
                req = req.header("sec-fetch-site", s);
            }
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            let r = app
                .send(req.body(axum::body::Body::from(body)).unwrap())
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{path} {site:?} {origin:?}"
            );
            assert_eq!(
                serde_json::from_str::<ApiError>(&r.body).unwrap(),
                ApiError::Forbidden
            );
        }
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM announcements WHERE title = 'x'")
            .await,
        0
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM poll_votes").await, 0);
    assert_eq!(
        app.get("/my", &jar).await.status,
        StatusCode::OK,
        "still signed in"
    );
    // Oversized bodies are refused before any handler, on every endpoint.
    let big = format!(
        "title={}",
        "x".repeat(ecpa_server::http::MAX_BODY_BYTES + 1)
    );
    for path in ["/api/admin/announcement_save", "/api/search", "/api/vote"] {
        let req = axum::http::Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://127.0.0.1:3000")
            .header("content-length", big.len())
            .header("cookie", jar.header())
            .body(axum::body::Body::from(big.clone()))
            .unwrap();
        assert_eq!(
            app.send(req).await.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}"
        );
    }
}

async fn rate_limits(app: TestApp) {
    let a = "198.51.100.10";
    // Sign-in: a burst of 10 per client, then 429 with Retry-After, in JSON for scripts
    // and as a page for a browser without JavaScript.
    for i in 0..10 {
        let r = app
            .api(
                "/api/login",
                &[("account", "nobody"), ("password", "x")],
                a,
                &Jar::default(),
            )
            .await;
        // (The password throttle also answers 429 — `Throttled` — after three failures on
        // one account; the request limit is `RateLimited`.)
        assert!(!r.body.contains("RateLimited"), "attempt {i}: {r:?}");
    }
    let r = app
        .api(
            "/api/login",
            &[("account", "wangxm"), ("password", PW)],
            a,
            &Jar::default(),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(
        serde_json::from_str::<ApiError>(&r.body).unwrap(),
        ApiError::RateLimited {
            retry_after_secs: wait
        }
    );
    assert!(
        r.set_cookies().is_empty(),
        "no session from a refused request"
    );
    let page = app
        .form(
            "/api/login",
            &[("account", "wangxm"), ("password", PW)],
            a,
            &Jar::default(),
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("操作過於頻繁"));
    // Another client is not affected.
    let mut jar = Jar::default();
    assert_eq!(
        app.login("wangxm", PW, "198.51.100.11", &mut jar)
            .await
            .location(),
        Some("/my")
    );

    // Card endpoints: challenge and certificate lookup (the enumeration concern).
    let c = "198.51.100.12";
    let mut refused = 0;
    for _ in 0..40 {
        let r = app
            .api(
                "/api/cert_lookup",
                &[("certificate", "AAAA")],
                c,
                &Jar::default(),
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(
        (19..=21).contains(&refused),
        "20 of 40 answered, got {refused} refused"
    );
    let mut refused = 0;
    for _ in 0..30 {
        let r = app
            .api(
                "/api/card_challenge",
                &[("purpose", "Login")],
                "198.51.100.13",
                &Jar::default(),
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 9, "{refused}");

    // Per account: one signed-in account from many addresses.
    let mut refused = 0;
    for i in 0..30 {
        let r = app
            .api(
                "/api/bind_start_signed_in",
                &[],
                &format!("198.51.101.{i}"),
                &jar,
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 9, "account limit across addresses: {refused}");

    // Password reset requests: five at once.
    let mut refused = 0;
    for _ in 0..8 {
        let r = app
            .form(
                "/api/password_reset_request",
                &[("account", "linmh"), ("email", "linmh@demo.ecpa.test")],
                "198.51.100.14",
                &Jar::default(),
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 3);

    // The search page.
    let mut refused = 0;
    for _ in 0..35 {
        let req = axum::http::Request::get("/announcements/search?q=%E4%BA%BA%E4%BA%8B")
            .header("accept", "text/html")
            .header("x-forwarded-for", "198.51.100.15")
            .body(axum::body::Body::empty())
            .unwrap();
        if app.send(req).await.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 5);

    // Waiting as told is enough.
    app.advance(time::Duration::seconds(wait as i64));
    let r = app
        .api(
            "/api/login",
            &[("account", "nobody"), ("password", "x")],
            a,
            &Jar::default(),
        )
        .await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

/// `postgres://…/NAME?host=…` → NAME.
fn db_name(url: &str) -> String {
    let base = url.split('?').next().unwrap();
    base.rsplit('/').next().unwrap().to_string()
}

/// Takes this test's PostgreSQL database away (no connections allowed, the open ones
/// terminated) or gives it back.
async fn outage(app: &TestApp, on: bool) {
    match app.kind {
        Kind::Postgres => {
            let name = db_name(&app.portal.config.database_url);
            let admin = Db::connect(&common::pg_admin_url(), 1).await.unwrap();
            admin
                .pool
                .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {on}", on = !on).as_str())
                .await
                .unwrap();
            if on {
                admin
                    .pool
                    .execute(
                        format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                        )
                        .as_str(),
                    )
                    .await
                    .unwrap();
            }
            admin.pool.close().await;
        }
        Kind::Sqlite => unreachable!("SQLite has no server to lose"),
    }
}

async fn database_outage_is_a_503_and_recovers(app: TestApp) {
    let mut jar = Jar::default();
    app.login("wangxm", PW, "198.51.100.20", &mut jar).await;
    match app.kind {
        Kind::Postgres => {
            outage(&app, true).await;
            for (path, j) in [
                ("/", &Jar::default()),
                ("/my", &jar),
                ("/announcements", &Jar::default()),
            ] {
                let r = app.get(path, j).await;
                assert_eq!(
                    r.status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{path}: {}",
                    r.body
                );
                assert!(r.body.contains("系統暫時無法"), "{path}");
            }
            let r = app
                .api(
                    "/api/login",
                    &[("account", "linmh"), ("password", PW)],
                    "198.51.100.21",
                    &Jar::default(),
                )
                .await;
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                serde_json::from_str::<ApiError>(&r.body).unwrap(),
                ApiError::Unavailable
            );
            assert_eq!(
                app.get("/readyz", &Jar::default()).await.status,
                StatusCode::SERVICE_UNAVAILABLE
            );
            outage(&app, false).await;
        }
        Kind::Sqlite => {
            // Another process holds the write lock longer than the busy timeout.
            let path = app
                .portal
                .config
                .database_url
                .trim_start_matches("sqlite://")
                .to_string();
            let other = Db::connect(&format!("sqlite://{path}"), 1).await.unwrap();
            let mut conn = other.pool.acquire().await.unwrap();
            conn.execute("BEGIN EXCLUSIVE").await.unwrap();
            let r = app
                .api(
                    "/api/login",
                    &[("account", "linmh"), ("password", PW)],
                    "198.51.100.21",
                    &Jar::default(),
                )
                .await;
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
            assert_eq!(
                serde_json::from_str::<ApiError>(&r.body).unwrap(),
                ApiError::Unavailable
            );
            // Reading still works while a writer holds the lock (WAL).
            assert_eq!(app.get("/", &Jar::default()).await.status, StatusCode::OK);
            conn.execute("COMMIT").await.unwrap();
            drop(conn);
            other.pool.close().await;
        }
    }
    // Recovery: the next requests work, without a restart.
    let mut ok = false;
    for _ in 0..50 {
        if app.get("/readyz", &Jar::default()).await.status == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "ready again");
    assert_eq!(app.get("/", &Jar::default()).await.status, StatusCode::OK);
    let mut j2 = Jar::default();
    assert_eq!(
        app.login("linmh", PW, "198.51.100.22", &mut j2)
            .await
            .location(),
        Some("/my")
    );
    assert_eq!(app.get("/my", &j2).await.status, StatusCode::OK);
}

async fn personnel_counts(app: &TestApp) -> (i64, i64, i64) {
    (
        app.scalar("SELECT COUNT(*) FROM people").await,
        app.scalar("SELECT COUNT(*) FROM personnel_records").await,
        app.scalar("SELECT COUNT(*) FROM import_batches").await,
    )
}

async fn importer_leaves_nothing_half_done(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let mut buf = vec![];
    sample::write_agencies(&mut buf, 20).unwrap();
    let agencies = dir.path().join("agencies.csv");
    std::fs::write(&agencies, &buf).unwrap();
    import_agencies(
        &app.portal.db,
        &agencies,
        EncodingChoice::Auto,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let mut rows = vec![];
    sample::write_personnel(&mut rows, 3000, 20, 5).unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(&file, &rows).unwrap();
    let before = personnel_counts(&app).await;

    // A read-only database.
    let ro = read_only_db(&app, dir.path()).await;
    let r = import_personnel(
        &ro,
        &file,
        &ImportOptions::default(),
        OffsetDateTime::now_utc(),
    )
    .await;
    assert!(r.is_err(), "imported into a read-only database?");
    ro.pool.close().await;
    assert_eq!(
        personnel_counts(&app).await,
        before,
        "nothing from the read-only attempt"
    );

    // A full disk (SQLite: the file may not grow past a few pages).
    if app.kind == Kind::Sqlite {
        let full = full_disk_db(&app).await;
        let r = import_personnel(
            &full,
            &file,
            &ImportOptions::default(),
            OffsetDateTime::now_utc(),
        )
        .await;
        let e = r.expect_err("imported onto a full disk?");
        assert!(format!("{e}").contains("full"), "{e}");
        full.pool.close().await;
        assert_eq!(
            personnel_counts(&app).await,
            before,
            "nothing from the full-disk attempt"
        );
    }

    // And with room, the same file imports whole.
    let s = import_personnel(
        &app.portal.db,
        &file,
        &ImportOptions::default(),
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!(s.imported, 3000);
    assert_eq!(personnel_counts(&app).await.1, before.1 + 3000);
}

async fn read_only_db(app: &TestApp, _dir: &Path) -> Db {
    let url = &app.portal.config.database_url;
    match app.portal.db.backend {
        Backend::Sqlite => Db::connect(&format!("{url}?mode=ro"), 2).await.unwrap(),
        Backend::Postgres => {
            let db = Db::connect(url, 2).await.unwrap();
            let name = db_name(url);
            db.pool
                .execute(
                    format!("ALTER DATABASE {name} SET default_transaction_read_only = on")
                        .as_str(),
                )
                .await
                .unwrap();
            db.pool.close().await;
            // New connections start read-only; the test's own pool is put back afterwards.
            let ro = Db::connect(url, 1).await.unwrap();
            let admin = Db::connect(&common::pg_admin_url(), 1).await.unwrap();
            admin
                .pool
                .execute(
                    format!("ALTER DATABASE {name} RESET default_transaction_read_only").as_str(),
                )
                .await
                .unwrap();
            admin.pool.close().await;
            ro
        }
    }
}

async fn full_disk_db(app: &TestApp) -> Db {
    use sqlx::any::AnyPoolOptions;
    let url = app.portal.config.database_url.clone();
    let pages: i64 = sqlx::query_scalar("SELECT page_count FROM pragma_page_count()")
        .fetch_one(&app.portal.db.pool)
        .await
        .unwrap();
    let limit = pages + 8;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(
                    format!(
                        "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA max_page_count = {limit};"
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    Db {
        pool,
        backend: Backend::Sqlite,
    }
}

/// Security review #16.4: a link to the real portal with an error of the attacker's
/// choosing (`?__path=/api/login&__err=…`, the way a form posted without JavaScript gets
/// its error back) shows what the error is, never text from the link.
#[tokio::test]
async fn error_text_in_a_link_is_never_shown() {
    use base64::{engine::general_purpose::URL_SAFE, Engine};
    use leptos::server_fn::error::FromServerFnError;
    let app = TestApp::new(Kind::Sqlite).await;
    let link = |e: ApiError| {
        format!(
            "/?__path=/api/login&__err={}",
            URL_SAFE.encode(e.ser().as_ref())
        )
    };
    // The mechanism works: a real error code is shown in the login box.
    let page = app
        .get(&link(ApiError::InvalidCredentials), &Jar::default())
        .await;
    assert!(page.body.contains("帳號或密碼錯誤"), "{}", page.body);
    const EVIL: &str = "帳號已停用，請來電 0800-123-456 由專人重設";
    for e in [
        ApiError::InvalidInput(EVIL.into()),
        ApiError::Transport(EVIL.into()),
        ApiError::Content(ecpa_domain::content::ContentError::DuplicateOption(
            EVIL.into(),
        )),
    ] {
        let page = app.get(&link(e.clone()), &Jar::default()).await;
        assert_eq!(page.status, StatusCode::OK);
        let at = page.body.find("0800-123-456").map(|i| {
            let start = page.body[..i]
                .char_indices()
                .rev()
                .nth(120)
                .map_or(0, |(j, _)| j);
            page.body[start..].chars().take(140).collect::<String>()
        });
        assert!(at.is_none(), "{e:?} shown: {at:?}");
    }
}

/// Security review #16.7: only the configured names are served (DNS rebinding: a page of
/// the attacker's whose name now resolves to the portal sends its own name as `Host`, and
/// its `Origin` equals that `Host`).
#[tokio::test]
async fn only_the_portals_own_names_are_served() {
    let mut c = test_config();
    c.extra_hosts = vec!["ecpa.intranet.example".into()];
    let app = TestApp::with_config(Kind::Sqlite, c).await;
    let mut jar = Jar::default();
    app.login("wangxm", PW, "198.51.100.31", &mut jar).await;
    let get = |host: &'static str, path: &'static str, cookies: String| {
        axum::http::Request::get(path)
            .header("host", host)
            .header("cookie", cookies)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = app
        .send(get("evil.example:3000", "/my", jar.header()))
        .await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
    assert!(
        !r.body.contains("王小明"),
        "no personal page for a foreign name"
    );
    assert!(r.set_cookies().is_empty());
    let logout = |host: &str| {
        axum::http::Request::post("/api/logout")
            .header("host", host)
            .header("origin", "http://evil.example:3000")
            .header("accept", "application/json")
            .header("cookie", jar.header())
            .body(axum::body::Body::empty())
            .unwrap()
    };
    // The old bypass: a write whose Origin is the rebound name itself.
    assert_eq!(
        app.send(logout("evil.example:3000")).await.status,
        StatusCode::MISDIRECTED_REQUEST
    );
    // And an Origin of a foreign name with our own Host is a cross-site write.
    assert_eq!(
        app.send(logout("127.0.0.1:3000")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/my", &jar).await.status,
        StatusCode::OK,
        "still signed in"
    );
    // Our names: the public origin, its loopback aliases, the configured extra name.
    for host in ["127.0.0.1:3000", "localhost:3000", "ecpa.intranet.example"] {
        let r = app.send(get(host, "/", String::new())).await;
        assert_eq!(r.status, StatusCode::OK, "{host}");
    }
    for host in ["localhost:3001", "127.0.0.1", "ecpa.example.evil", ""] {
        let r = app.send(get(host, "/", String::new())).await;
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{host:?}");
    }
    // Health probes answer whatever name a load balancer uses.
    let r = app
        .send(get("10.0.0.8:3000", "/healthz", String::new()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

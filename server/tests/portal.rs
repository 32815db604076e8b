//! The portal through its real router, on SQLite and on PostgreSQL: password sign-in,
//! the throttle, sessions, My Area and the pages around them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Jar, TestApp, PW};
use ecpa_app::error::ApiError;
use leptos::server_fn::error::ServerFnUrlError;
use std::time::Instant;
use time::Duration;

on_both_databases!(
    sign_in_ok,
    wrong_password_and_unknown_account_look_the_same,
    throttled_account_spares_the_owner,
    an_office_behind_one_address_keeps_signing_in,
    credentials_change_ends_sessions_and_trust,
    logout_ends_the_session_server_side,
    my_area_redirects_when_signed_out,
    session_id_rotates_at_sign_in,
    idle_and_absolute_timeouts,
    cross_site_post_is_refused,
    pages_health_and_headers,
    audit_never_holds_passwords,
);

fn url_error(location: &str) -> ApiError {
    let url = url::Url::parse(location).expect("absolute redirect");
    let path = url
        .query_pairs()
        .find(|(k, _)| k == "__path")
        .map(|(_, v)| v.into_owned());
    assert_eq!(path.as_deref(), Some("/api/login"));
    let err = url
        .query_pairs()
        .find(|(k, _)| k == "__err")
        .map(|(_, v)| v.into_owned())
        .expect("__err");
    ServerFnUrlError::<ApiError>::decode_err(&err)
}

async fn sign_in_ok(app: TestApp) {
    let mut jar = Jar::default();
    let r = app.login(" WangXM ", PW, "203.0.113.5", &mut jar).await;
    assert_eq!(r.status, StatusCode::FOUND, "{r:?}");
    assert_eq!(r.location(), Some("/my"));
    let sid = jar.get("ecpa_sid").expect("session cookie").to_string();
    assert_eq!(sid.len(), 43, "256-bit token");
    let line = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("ecpa_sid="))
        .unwrap();
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"),
        "{line}"
    );
    assert!(
        jar.get("ecpa_dev").is_some(),
        "a trusted-device cookie is issued"
    );

    let page = app.get("/my", &jar).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "我的專區",
        "王小明",
        "wangxm",
        "電子頁卡",
        "待辦事項",
        "應用系統",
        "登出",
    ] {
        assert!(page.body.contains(text), "My Area lacks {text}");
    }
    // Only the token's hash is stored.
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE id_hash = '{sid}'"
        ))
        .await,
        0
    );
    let hash = ecpa_server::tokens::token_hash(&sid);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE id_hash = '{hash}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'login.password' AND outcome = 'success' AND account_key = 'wangxm'").await,
        1
    );

    // The hydrated page's server-function call gets the redirect as a header, not a 302.
    let mut jar2 = Jar::default();
    let r = app
        .api(
            "/api/login",
            &[("account", "linmh"), ("password", PW)],
            "203.0.113.6",
            &jar2,
        )
        .await;
    jar2.absorb(&r);
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.location(), Some("/my"));
    assert!(jar2.get("ecpa_sid").is_some());
    let who = app.api("/api/whoami", &[], "203.0.113.6", &jar2).await;
    assert!(who.body.contains("林美華"), "{}", who.body);
}

async fn wrong_password_and_unknown_account_look_the_same(app: TestApp) {
    let jar = Jar::default();
    // Warm up both paths once (first hash allocations, connection setup).
    app.form(
        "/api/login",
        &[("account", "chenzw"), ("password", "Wrong-Pass-000")],
        "203.0.113.30",
        &jar,
    )
    .await;

    // Each path is timed four times, interleaved, on accounts with no earlier failure (so
    // no throttle delay); the fastest of each is compared. One sample of each was at the
    // mercy of whatever else the machine was doing at that moment.
    let mut answers = vec![];
    let (mut t_wrong, mut t_unknown) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for (i, known) in ["wangxm", "linmh", "huangsf", "liujh"]
        .into_iter()
        .enumerate()
    {
        let t = Instant::now();
        let wrong = app
            .form(
                "/api/login",
                &[("account", known), ("password", "Wrong-Pass-123")],
                &format!("203.0.113.{}", 40 + i),
                &jar,
            )
            .await;
        t_wrong = t_wrong.min(t.elapsed());
        let t = Instant::now();
        let unknown = app
            .form(
                "/api/login",
                &[
                    ("account", &format!("nosuchuser{i}")),
                    ("password", "Wrong-Pass-123"),
                ],
                &format!("203.0.113.{}", 50 + i),
                &jar,
            )
            .await;
        t_unknown = t_unknown.min(t.elapsed());
        answers.push((wrong, unknown));
    }
    for (w, u) in &answers {
        assert_eq!(
            (w.status, w.location(), &w.body),
            (u.status, u.location(), &u.body),
            "identical answers"
        );
    }
    let (wrong, unknown) = answers.swap_remove(0);

    assert_eq!(wrong.status, StatusCode::FOUND);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.location(), unknown.location(), "identical answers");
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.set_cookies().is_empty() && unknown.set_cookies().is_empty());
    assert_eq!(
        url_error(wrong.location().unwrap()),
        ApiError::InvalidCredentials
    );
    // Both paths ran an Argon2 verification (the unknown one against the dummy hash).
    let (a, b) = (t_wrong.as_secs_f64(), t_unknown.as_secs_f64());
    assert!(
        a < 3.0 * b && b < 3.0 * a,
        "timings differ too much: wrong {t_wrong:?} unknown {t_unknown:?}"
    );

    // Without JavaScript the error comes back in the URL and the home page shows it.
    let loc = wrong.location().unwrap();
    let path_and_query = &loc[loc.find("/?").unwrap()..];
    let home = app.get(path_and_query, &jar).await;
    assert!(
        home.body.contains("帳號或密碼錯誤"),
        "home page shows the error"
    );

    // The hydrated client gets the same error, encoded for it.
    let a = app
        .api(
            "/api/login",
            &[("account", "wangxm"), ("password", "Wrong-Pass-456")],
            "203.0.113.12",
            &jar,
        )
        .await;
    let b = app
        .api(
            "/api/login",
            &[("account", "ghost.user"), ("password", "Wrong-Pass-456")],
            "203.0.113.13",
            &jar,
        )
        .await;
    assert_eq!((a.status, &a.body), (b.status, &b.body));
    assert_eq!(
        serde_json::from_str::<ApiError>(&a.body).unwrap(),
        ApiError::InvalidCredentials
    );

    // Invalid names (that can never be accounts) answer the same way too.
    let c = app
        .api(
            "/api/login",
            &[("account", "王小明"), ("password", "Wrong-Pass-456")],
            "203.0.113.14",
            &jar,
        )
        .await;
    assert_eq!((c.status, &c.body), (a.status, &a.body));
}

fn throttled(r: &common::Reply) -> Option<u64> {
    match url_error(r.location()?) {
        ApiError::Throttled { retry_after_secs } => Some(retry_after_secs),
        _ => None,
    }
}

/// Security review #16.8: the trusted-device token rotates at every sign-in (a copied
/// token dies at the owner's next sign-in), and a new password ends the account's
/// sessions and every browser's trust for it.
async fn credentials_change_ends_sessions_and_trust(app: TestApp) {
    use ecpa_server::tokens::token_hash;
    let devices = |token: String| {
        let app = &app;
        async move {
            app.scalar(&format!(
                "SELECT COUNT(*) FROM trusted_devices WHERE token_hash = '{}'",
                token_hash(&token)
            ))
            .await
        }
    };
    let mut pc = Jar::default();
    app.login("wangxm", PW, "192.0.2.70", &mut pc).await;
    let first = pc.get("ecpa_dev").unwrap().to_string();
    let r = app.form("/api/logout", &[], "192.0.2.70", &pc).await;
    pc.absorb(&r);
    app.login("wangxm", PW, "192.0.2.70", &mut pc).await;
    let second = pc.get("ecpa_dev").unwrap().to_string();
    assert_ne!(first, second, "rotated at sign-in");
    assert_eq!(
        devices(first.clone()).await,
        0,
        "the old token is worth nothing"
    );
    assert_eq!(devices(second.clone()).await, 1);
    // A colleague signs in on the same PC: the browser keeps its trust for both.
    let r = app.form("/api/logout", &[], "192.0.2.70", &pc).await;
    pc.absorb(&r);
    app.login("linmh", PW, "192.0.2.70", &mut pc).await;
    let third = pc.get("ecpa_dev").unwrap().to_string();
    assert_eq!(devices(second).await, 0);
    assert_eq!(devices(third.clone()).await, 2);

    // wangxm is signed in elsewhere; the operator sets a new password.
    let mut laptop = Jar::default();
    app.login("wangxm", PW, "192.0.2.71", &mut laptop).await;
    assert_eq!(app.get("/my", &laptop).await.status, StatusCode::OK);
    app.portal
        .set_password("wangxm", "Operator-Set-2026")
        .await
        .unwrap();
    assert_ne!(
        app.get("/my", &laptop).await.status,
        StatusCode::OK,
        "session ended"
    );
    let wangxm_trust = app
        .scalar("SELECT COUNT(*) FROM trusted_devices t JOIN accounts a ON a.id = t.account_id WHERE a.name = 'wangxm'")
        .await;
    assert_eq!(wangxm_trust, 0, "no browser stays trusted for wangxm");
    assert_eq!(devices(third).await, 1, "the colleague's trust stays");
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'password.set' AND account_key = 'wangxm'"
        )
        .await,
        1
    );
}

/// One NAT address for a whole office (issue #16, finding 1 and 2): a guesser behind it
/// hammers one colleague's account. The owner's trusted PC and the other colleagues behind
/// the same address sign in at once; the guesser is refused with 429 and the same generic
/// message; refused attempts, however many, never push its failures out of the count; and
/// an IPv6 /64 is one client.
async fn an_office_behind_one_address_keeps_signing_in(app: TestApp) {
    const NAT: &str = "203.0.113.1";
    let mut owner = Jar::default();
    app.login("wangxm", PW, NAT, &mut owner).await;
    let r = app.form("/api/logout", &[], NAT, &owner).await;
    owner.absorb(&r);
    let nobody = Jar::default();
    let guess = [("account", "wangxm"), ("password", "Guess-Pass-001")];
    // The guesser waits out each delay, until its pair is blocked.
    let mut blocked = false;
    for _ in 0..12 {
        app.advance(Duration::seconds(31));
        let r = app.api("/api/login", &guess, NAT, &nobody).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            blocked = true;
            assert!(r.body.contains("Throttled"), "{r:?}");
            let wait: u64 = r
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap();
            assert!(wait > 800, "{wait}");
            break;
        }
        assert!(r.body.contains("InvalidCredentials"), "{r:?}");
    }
    assert!(blocked, "the guesser is slowed");
    // Refused attempts by the hundred: the failures before them still count.
    for _ in 0..1_100 {
        let r = app.api("/api/login", &guess, NAT, &nobody).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
    app.advance(Duration::minutes(5));
    let r = app.api("/api/login", &guess, NAT, &nobody).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");

    // The owner's trusted PC behind the same address, and a colleague's browser.
    let r = app.login("wangxm", PW, NAT, &mut owner).await;
    assert_eq!(r.location(), Some("/my"), "owner: {r:?}");
    let mut colleague = Jar::default();
    let r = app.login("linmh", PW, NAT, &mut colleague).await;
    assert_eq!(r.location(), Some("/my"), "colleague: {r:?}");

    // A /64 is one client: a new address for every guess gains nothing.
    let mut refused = 0;
    for i in 0..8 {
        app.advance(Duration::seconds(31));
        let addr = format!("2001:db8:ecba:7:{i:x}::1");
        let r = app
            .api(
                "/api/login",
                &[("account", "chenzw"), ("password", "Guess-Pass-001")],
                &addr,
                &nobody,
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 3,
        "five failures from the /64, then its pair is blocked"
    );
}

async fn throttled_account_spares_the_owner(app: TestApp) {
    // The owner signed in from their PC before: that browser is a trusted device.
    let mut owner = Jar::default();
    app.login("wangxm", PW, "192.0.2.50", &mut owner).await;
    let r = app.form("/api/logout", &[], "192.0.2.50", &owner).await;
    owner.absorb(&r);
    assert!(owner.get("ecpa_sid").is_none() && owner.get("ecpa_dev").is_some());

    let attacker = "203.0.113.66";
    let nobody = Jar::default();
    let bad = |acct: &'static str| [("account", acct), ("password", "Guess-Pass-001")];
    // Three free failures, then rising delays: the fourth at once is throttled.
    for _ in 0..3 {
        let r = app
            .form("/api/login", &bad("wangxm"), attacker, &nobody)
            .await;
        assert_eq!(
            url_error(r.location().unwrap()),
            ApiError::InvalidCredentials
        );
    }
    let r = app
        .form("/api/login", &bad("wangxm"), attacker, &nobody)
        .await;
    let wait = throttled(&r).expect("throttled");
    assert!((1..=2).contains(&wait), "{wait}");
    // Even the right password is not checked while throttled.
    let r = app
        .form(
            "/api/login",
            &[("account", "wangxm"), ("password", PW)],
            attacker,
            &nobody,
        )
        .await;
    assert!(throttled(&r).is_some());

    // An unknown account behaves exactly the same (the throttle reveals nothing).
    for _ in 0..3 {
        app.form("/api/login", &bad("nobody.here"), "203.0.113.67", &nobody)
            .await;
    }
    let r2 = app
        .form("/api/login", &bad("nobody.here"), "203.0.113.67", &nobody)
        .await;
    assert!(throttled(&r2).is_some());

    // The owner, on their trusted PC, signs in right now.
    let r = app.login("wangxm", PW, "192.0.2.50", &mut owner).await;
    assert_eq!(r.location(), Some("/my"), "owner locked out: {r:?}");

    // The attacker waits out the delays until this (account, client) pair is blocked.
    app.advance(Duration::seconds(3));
    assert_eq!(
        url_error(
            app.form("/api/login", &bad("wangxm"), attacker, &nobody)
                .await
                .location()
                .unwrap()
        ),
        ApiError::InvalidCredentials
    );
    app.advance(Duration::seconds(5));
    assert_eq!(
        url_error(
            app.form("/api/login", &bad("wangxm"), attacker, &nobody)
                .await
                .location()
                .unwrap()
        ),
        ApiError::InvalidCredentials
    );
    app.advance(Duration::seconds(17));
    let r = app
        .form("/api/login", &bad("wangxm"), attacker, &nobody)
        .await;
    let pair_wait = throttled(&r).expect("pair blocked");
    assert!(
        pair_wait > 800,
        "pair block lasts ~15 minutes, got {pair_wait}s"
    );

    // Another, untrusted client with the right password gets in once the account delay passed.
    let mut other = Jar::default();
    let r = app.login("wangxm", PW, "198.51.100.99", &mut other).await;
    assert_eq!(r.location(), Some("/my"), "{r:?}");

    assert!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE outcome = 'throttled'")
            .await
            >= 4
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE outcome = 'pending'")
            .await,
        0
    );
}

async fn logout_ends_the_session_server_side(app: TestApp) {
    let mut jar = Jar::default();
    app.login("linmh", PW, "203.0.113.7", &mut jar).await;
    let old = jar.clone();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 1);
    let r = app.form("/api/logout", &[], "203.0.113.7", &jar).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/"));
    assert!(r
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("ecpa_sid=;") && c.contains("Max-Age=0")));
    jar.absorb(&r);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 0);
    // The old cookie, replayed, is worthless.
    let r = app.get("/my", &old).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'logout'")
            .await,
        1
    );
}

async fn my_area_redirects_when_signed_out(app: TestApp) {
    let r = app.get("/my", &Jar::default()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/?next=%2Fmy"));
    // A forged or stale cookie: redirected, and the browser is told to drop it.
    let forged = Jar(vec![("ecpa_sid".into(), "A".repeat(43))]);
    let r = app.get("/my", &forged).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.set_cookies().iter().any(|c| c.contains("Max-Age=0")));
    // The server function refuses too.
    let r = app
        .api("/api/my_area", &[], "203.0.113.8", &Jar::default())
        .await;
    assert_eq!(
        serde_json::from_str::<ApiError>(&r.body).unwrap(),
        ApiError::Unauthenticated
    );
    // The login box keeps where the user wanted to go.
    let home = app.get("/?next=%2Fmy", &Jar::default()).await;
    assert!(
        home.body.contains(r#"name="next""#) && home.body.contains(r#"value="/my""#),
        "next kept"
    );
}

async fn session_id_rotates_at_sign_in(app: TestApp) {
    let mut jar = Jar::default();
    app.login("wangxm", PW, "203.0.113.9", &mut jar).await;
    let first = jar.get("ecpa_sid").unwrap().to_string();
    let first_jar = jar.clone();
    // Signing in again while presenting the old session replaces it.
    app.login("chenzw", PW, "203.0.113.9", &mut jar).await;
    let second = jar.get("ecpa_sid").unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        app.get("/my", &first_jar).await.status,
        StatusCode::SEE_OTHER
    );
    let page = app.get("/my", &jar).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("陳志偉"));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 1);
}

async fn idle_and_absolute_timeouts(app: TestApp) {
    let mut jar = Jar::default();
    app.login("wangxm", PW, "203.0.113.20", &mut jar).await;
    app.advance(Duration::minutes(29));
    assert_eq!(
        app.get("/my", &jar).await.status,
        StatusCode::OK,
        "activity within 30 min keeps it"
    );
    app.advance(Duration::minutes(31));
    assert_eq!(
        app.get("/my", &jar).await.status,
        StatusCode::SEE_OTHER,
        "idle 31 min ends it"
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 0);

    // Kept busy, a session still ends 12 hours after sign-in.
    let mut jar = Jar::default();
    app.login("wangxm", PW, "203.0.113.20", &mut jar).await;
    // 28 × 25 min = 11 h 40 min, each step well within the idle limit.
    for _ in 0..((12 * 60) / 25) {
        app.advance(Duration::minutes(25));
        assert_eq!(app.get("/my", &jar).await.status, StatusCode::OK);
    }
    app.advance(Duration::minutes(25));
    assert_eq!(
        app.get("/my", &jar).await.status,
        StatusCode::SEE_OTHER,
        "absolute timeout"
    );
}

async fn cross_site_post_is_refused(app: TestApp) {
    let req = axum::http::Request::post("/api/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("origin", "https://evil.example")
        .header("host", "127.0.0.1:3000")
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::from(format!(
            "account=wangxm&password={PW}"
        )))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.set_cookies().is_empty());
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind LIKE 'login%'")
            .await,
        0,
        "never reached the sign-in"
    );

    // Oversized bodies are cut off before any handler.
    let big = "a".repeat(ecpa_server::http::MAX_BODY_BYTES + 1);
    let req = axum::http::Request::post("/api/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", big.len() + 8)
        .body(axum::body::Body::from(format!("account={big}")))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn pages_health_and_headers(app: TestApp) {
    let jar = Jar::default();
    let home = app.get("/", &jar).await;
    assert_eq!(home.status, StatusCode::OK);
    for text in [
        "行政院人事行政總處",
        "eCPA人事服務網",
        "首頁",
        "最新公告",
        "主題投票",
        "機關組織",
        "登入系統",
        "帳號",
        "密碼",
        "忘記密碼",
        "使用憑證登入",
    ] {
        assert!(home.body.contains(text), "home page lacks {text}");
    }
    assert!(
        home.body.contains(r#"<label for="login-account">"#)
            && home.body.contains(r#"<label for="login-password">"#)
    );
    assert!(home.body.contains(r#"lang="zh-Hant-TW""#));
    for (h, v) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cross-origin-opener-policy", "same-origin-allow-popups"),
    ] {
        assert_eq!(
            home.headers.get(h).and_then(|x| x.to_str().ok()),
            Some(v),
            "{h}"
        );
    }
    assert!(
        home.headers.get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );

    for path in ["/login/certificate", "/password/forgot"] {
        let p = app.get(path, &jar).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
    }
    assert!(app
        .get("/login/certificate", &jar)
        .await
        .body
        .contains("讀卡機"));

    let nf = app.get("/no/such/page", &jar).await;
    assert_eq!(nf.status, StatusCode::NOT_FOUND);
    assert!(nf.body.contains("找不到您要的網頁"));

    assert_eq!(app.get("/healthz", &jar).await.body, "ok");
    let ready = app.get("/readyz", &jar).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready\n")
    );
    app.portal.db.pool.close().await;
    let down = app.get("/readyz", &jar).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "readiness follows the database"
    );
}

async fn audit_never_holds_passwords(app: TestApp) {
    let secret = "Very-Secret-Guess-77";
    app.form(
        "/api/login",
        &[("account", "wangxm"), ("password", secret)],
        "203.0.113.40",
        &Jar::default(),
    )
    .await;
    app.login("wangxm", PW, "203.0.113.41", &mut Jar::default())
        .await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT account_key, client, COALESCE(detail, '') FROM audit_log WHERE kind LIKE 'login%'",
    )
    .fetch_all(&app.portal.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    for (a, b, c) in rows {
        for field in [a, b, c] {
            assert!(!field.contains(secret) && !field.contains(PW));
        }
    }
}

/// The two migration sets describe the same tables, columns and indexes; the one
/// deliberate difference is the announcement search index (SQLite's FTS5 table and its
/// shadow tables, PostgreSQL's pg_trgm GIN index).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let lite = TestApp::new(common::Kind::Sqlite).await;
    let pg = TestApp::new(common::Kind::Postgres).await;
    let mut a: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
         AND m.name NOT LIKE 'announcements_fts%'",
    )
    .fetch_all(&lite.portal.db.pool)
    .await
    .unwrap();
    let mut b: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&pg.portal.db.pool)
    .await
    .unwrap();
    a.sort();
    b.sort();
    assert!(!a.is_empty());
    assert_eq!(a, b);
    let mut ia: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(&lite.portal.db.pool)
    .await
    .unwrap();
    let mut ib: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' \
         AND indexname NOT LIKE '%\\_trgm'",
    )
    .fetch_all(&pg.portal.db.pool)
    .await
    .unwrap();
    ia.sort();
    ib.sort();
    assert_eq!(ia, ib);
}

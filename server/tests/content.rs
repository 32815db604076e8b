//! The portal around the login through its real router, on SQLite and PostgreSQL: home
//! page panels and counters, Chinese search, the one-vote rule, password reset through the
//! outbox, stored-XSS attempts, and the administrator's changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Jar, TestApp, PW};
use ecpa_app::{
    api::content::{PollView, SearchResults},
    error::ApiError,
};
use ecpa_domain::reset::LinkState;
use ecpa_server::{content::counters::compute_stats, mail};
use serde_json::Value;
use time::Duration;

on_both_databases!(
    home_shows_every_panel_from_the_database,
    counters_count_concurrent_sign_ins,
    chinese_search_finds_substrings_ranked_and_highlighted,
    one_vote_per_account_even_when_concurrent,
    reset_link_lifecycle,
    reset_request_never_tells_who_exists,
    reset_request_answers_before_looking_at_the_account,
    stored_xss_is_rendered_inert,
    admin_changes_reach_the_home_page,
    admin_pages_are_for_admins_only,
    public_pages_are_rendered_once_for_visitors_without_a_session,
);

fn ok_json<T: serde::de::DeserializeOwned>(r: &common::Reply) -> Result<T, ApiError> {
    if r.status == StatusCode::OK {
        Ok(serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body)))
    } else {
        Err(serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{:?} {}", r.status, r.body)))
    }
}

async fn signed_in(app: &TestApp, account: &str, client: &str) -> Jar {
    let mut jar = Jar::default();
    let r = app.login(account, PW, client, &mut jar).await;
    assert_eq!(r.location(), Some("/my"), "{account} signs in: {r:?}");
    jar
}

async fn home_shows_every_panel_from_the_database(app: TestApp) {
    let page = app.get("/", &Jar::default()).await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    let today = ecpa_domain::tz::taipei_date(app.portal.now());
    let roc = ecpa_domain::roc::format_long(today).unwrap();
    for text in [
        "目前線上人數",
        "今日總計人數",
        "累積上線人數",
        "統計時間",
        roc.as_str(),
        "最新公告",
        "[更多]",
        "職缺公告",
        "國立南科國際實驗高級中學98學年度第1次職員(教務處助理員)甄選",
        "HOT",
        "公告搜尋",
        "主題投票",
        "您覺得eCPA人事服務網最應加強的是什麼？",
        "系統穩定性",
        "登入後即可投票",
        "人事業務連結",
        "行政院業務區",
        "銓敘部業務區",
        "新手上路",
        "使用手冊",
        "常見問題",
        "登入系統",
    ] {
        assert!(b.contains(text), "home page lacks {text}");
    }
    // HOT ones come first.
    let hot = b.find("國立南科國際實驗高級中學").unwrap();
    let plain = b.find("eCPA正式啓用").unwrap();
    assert!(hot < plain);

    // [更多] → paged list, filtered by category; each opens its page.
    let list = app.get("/announcements", &Jar::default()).await;
    assert!(list.body.contains("共 16 則"), "{}", list.body);
    assert!(list.body.contains("第 1 / 2 頁"));
    let p2 = app.get("/announcements?page=2", &Jar::default()).await;
    assert!(p2.body.contains("第 2 / 2 頁"));
    let vac = app
        .get("/announcements?category=vacancy", &Jar::default())
        .await;
    assert!(vac.body.contains("共 4 則"), "vacancies only");
    assert!(!vac.body.contains("eCPA正式啓用"));
    let id = app
        .scalar("SELECT id FROM announcements WHERE title = 'eCPA正式啓用'")
        .await;
    let one = app
        .get(&format!("/announcements/{id}"), &Jar::default())
        .await;
    assert!(one.body.contains("eCPA人事服務網正式上線"));
    assert_eq!(
        app.get("/announcements/999999", &Jar::default())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(app
        .get("/announcements/999999", &Jar::default())
        .await
        .body
        .contains("找不到您要的資料"));

    // 機關組織: the registry's tree, nested.
    let tree = app.get("/agencies", &Jar::default()).await.body;
    // 行政院 > 交通部 > 交通部公路局: each child inside its parent's <ul>.
    let at = |code: &str| tree.find(&format!("data-code=\"{code}\"")).unwrap();
    let (root, moi, highway) = (at("301000000A"), at("315000000H"), at("315200000H"));
    assert!(root < moi && moi < highway);
    assert!(tree[root..moi].contains("<ul>") && tree[moi..highway].contains("<ul>"));
    assert!(tree[moi..highway].contains("交通部") && tree[highway..].contains("交通部公路局"));
    assert!(
        !tree[moi..highway].contains("</ul>"),
        "公路局 is nested under 交通部"
    );

    // 常見問題 with Q000815 as a real entry.
    let faq = app.get("/faq", &Jar::default()).await.body;
    assert!(faq.contains("Q000815") && faq.contains("ECPA 如何上傳自然人憑證及機關憑證？"));
    let q = app.get("/faq/Q000815", &Jar::default()).await.body;
    for text in [
        "自然人憑證及機關憑證上傳操作方式皆同",
        "表二之【人員區分】欄位為 08 人事人員",
        "入檔後隔天",
        "方法二（僅適用於自然人憑證）",
        "6～8 碼",
    ] {
        assert!(q.contains(text), "Q000815 lacks {text}");
    }
    for path in ["/help/start", "/help/manual"] {
        let r = app.get(path, &Jar::default()).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert!(app
        .get("/help/start", &Jar::default())
        .await
        .body
        .contains("信任"));
}

async fn counters_count_concurrent_sign_ins(app: TestApp) {
    let pool = &app.portal.db.pool;
    let before = compute_stats(pool, app.portal.now()).await.unwrap();
    // Twelve people at once (the throttle rightly holds back concurrent attempts on one
    // account, so each task is its own account), then one person twice.
    let mut names = Vec::new();
    for i in 0..12 {
        let name = format!("load{i:02}");
        app.portal
            .create_account(&name, &format!("測試{i}"), None, PW)
            .await
            .unwrap();
        names.push(name);
    }
    let mut tasks = Vec::new();
    for (i, account) in names.into_iter().enumerate() {
        let app_router = app.router.clone();
        let client = format!("198.51.100.{}", 10 + i);
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let body = format!("account={account}&password={PW}");
            let req = axum::http::Request::post("/api/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .header("host", "127.0.0.1:3000")
                .header("origin", "http://127.0.0.1:3000")
                .header("referer", "http://127.0.0.1:3000/")
                .header("x-forwarded-for", client)
                .body(axum::body::Body::from(body))
                .unwrap();
            let res = app_router.oneshot(req).await.unwrap();
            res.headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().as_deref(), Some("/my"));
    }
    signed_in(&app, "wangxm", "198.51.100.40").await;
    signed_in(&app, "wangxm", "198.51.100.41").await;
    let after = compute_stats(pool, app.portal.now()).await.unwrap();
    assert_eq!(after.total - before.total, 14, "every sign-in counted once");
    assert_eq!(after.today - before.today, 13, "distinct people today");
    assert_eq!(after.online - before.online, 14, "14 live sessions");
    // The total agrees with the audit log, the source of truth.
    assert_eq!(
        after.total,
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE outcome = 'success' AND kind IN ('login.password', 'login.certificate')").await
    );

    // Sessions idle for more than 10 minutes are no longer online; today's count stays.
    app.advance(Duration::minutes(11));
    let later = compute_stats(pool, app.portal.now()).await.unwrap();
    assert_eq!(later.online, 0);
    assert_eq!(later.today, after.today);
    // The next Taipei day starts from zero.
    app.advance(Duration::hours(24));
    let tomorrow = compute_stats(pool, app.portal.now()).await.unwrap();
    assert_eq!(tomorrow.today, 0);
    assert_eq!(tomorrow.total, after.total);

    // The home page shows them, from a short-lived cache, with its time.
    let page = app.get("/", &Jar::default()).await.body;
    assert!(
        page.contains(&format!("id=\"count-total\">{}<", tomorrow.total)),
        "total on the page"
    );
}

async fn search(app: &TestApp, q: &str) -> Result<SearchResults, ApiError> {
    let r = app
        .api("/api/search", &[("q", q)], "198.51.100.3", &Jar::default())
        .await;
    ok_json(&r)
}

async fn chinese_search_finds_substrings_ranked_and_highlighted(app: TestApp) {
    // 人事室 inside 本局人事室公告 (title) and inside body text.
    let r = search(&app, "人事室").await.unwrap();
    let titles: Vec<String> = r
        .hits
        .iter()
        .map(|h| h.title.iter().map(|s| s.text.as_str()).collect())
        .collect();
    assert!(
        titles.iter().any(|t| t.starts_with("本局人事室公告")),
        "{titles:?}"
    );
    assert!(
        titles
            .iter()
            .any(|t| t == "國立南科國際實驗高級中學98學年度第1次職員(教務處助理員)甄選"),
        "found by body: {titles:?}"
    );
    // Title matches rank above body-only matches.
    let first_body_only = titles.iter().position(|t| !t.contains("人事室")).unwrap();
    assert!(titles[..first_body_only]
        .iter()
        .all(|t| t.contains("人事室")));
    assert!(titles[first_body_only..]
        .iter()
        .all(|t| !t.contains("人事室")));
    let h = &r.hits[0];
    assert!(h.title.iter().any(|s| s.hit && s.text == "人事室"));
    assert!(r
        .hits
        .iter()
        .all(|h| h.snippet.iter().chain(h.title.iter()).any(|s| s.hit)));

    // Two characters (below the trigram size), several terms, ASCII case and full width.
    assert!(search(&app, "人事").await.unwrap().total >= 4);
    let both = search(&app, "甄選 代理教師").await.unwrap();
    assert_eq!(both.total, 1);
    assert_eq!(search(&app, "ＡＢＣ不存在的字").await.unwrap().total, 0);
    assert!(search(&app, "a1").await.unwrap().total >= 1);
    assert_eq!(
        search(&app, "Ａ1").await.unwrap().total,
        search(&app, "a1").await.unwrap().total
    );
    // LIKE wildcards and quotes are not search syntax.
    assert_eq!(
        search(&app, "%").await.unwrap_err(),
        ApiError::Content(ecpa_domain::content::ContentError::Required(
            ecpa_domain::content::Field::Query
        ))
    );
    assert_eq!(
        search(&app, "人事%室").await.unwrap().total,
        search(&app, "人事 室").await.unwrap().total
    );
    assert_eq!(search(&app, "' OR 1=1 --").await.unwrap().total, 0);

    // The results page marks the match.
    let page = app
        .get(
            "/announcements/search?q=%E4%BA%BA%E4%BA%8B%E5%AE%A4",
            &Jar::default(),
        )
        .await;
    assert!(page.body.contains("<mark>人事室"), "{}", page.body);

    // Edits are re-indexed, retired announcements disappear from results.
    let id = app
        .scalar("SELECT id FROM announcements WHERE title LIKE '本局人事室公告%'")
        .await;
    sqlx::query("UPDATE announcements SET retired = 1 WHERE id = $1")
        .bind(id)
        .execute(&app.portal.db.pool)
        .await
        .unwrap();
    let after = search(&app, "人事室").await.unwrap();
    assert!(after.hits.iter().all(|h| h.id != id));
    let admin = signed_in(&app, "ecpaadmin", "198.51.100.200").await;
    let other = app
        .scalar("SELECT id FROM announcements WHERE title = 'eCPA正式啓用'")
        .await;
    let saved = app
        .api(
            "/api/admin/announcement_save",
            &[
                ("id", &other.to_string()),
                ("category", "system"),
                ("title", "eCPA正式啓用"),
                ("body", "新增關鍵字：銓敘審定查詢"),
            ],
            "198.51.100.200",
            &admin,
        )
        .await;
    assert!(
        saved.status.is_success() || saved.status.is_redirection(),
        "{saved:?}"
    );
    let found = search(&app, "銓敘審定").await.unwrap();
    assert_eq!(
        found.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![other]
    );
}

async fn vote(app: &TestApp, jar: &Jar, poll: &str, option: &str) -> Result<PollView, ApiError> {
    let r = app
        .api(
            "/api/vote",
            &[("poll_id", poll), ("option_id", option)],
            "198.51.100.50",
            jar,
        )
        .await;
    ok_json(&r)
}

async fn one_vote_per_account_even_when_concurrent(app: TestApp) {
    let poll: String = sqlx::query_scalar("SELECT id FROM polls WHERE active = 1")
        .fetch_one(&app.portal.db.pool)
        .await
        .unwrap();
    let options: Vec<String> =
        sqlx::query_scalar("SELECT id FROM poll_options WHERE poll_id = $1 ORDER BY position")
            .bind(&poll)
            .fetch_all(&app.portal.db.pool)
            .await
            .unwrap();
    // Signed out: no vote.
    assert_eq!(
        vote(&app, &Jar::default(), &poll, &options[0])
            .await
            .unwrap_err(),
        ApiError::Unauthenticated
    );

    let jar = signed_in(&app, "wangxm", "198.51.100.51").await;
    // The same account, twelve times at once, across two options.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let router = app.router.clone();
        let cookie = jar.header();
        let body = format!("poll_id={poll}&option_id={}", options[i % 2]);
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/api/vote")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .header("host", "127.0.0.1:3000")
                .header("origin", "http://127.0.0.1:3000")
                .header("x-forwarded-for", "198.51.100.51")
                .header("cookie", cookie)
                .body(axum::body::Body::from(body))
                .unwrap();
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }));
    }
    let mut ok = 0;
    let mut already = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(
                serde_json::from_str::<ApiError>(&body).unwrap(),
                ApiError::AlreadyVoted,
                "{body}"
            );
            already += 1;
        }
    }
    assert_eq!((ok, already), (1, 11));
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM poll_votes WHERE poll_id = '{poll}'"
        ))
        .await,
        1
    );

    // Others vote once each; results add up; the chart shows after voting.
    let j2 = signed_in(&app, "linmh", "198.51.100.52").await;
    let v = vote(&app, &j2, &poll, &options[2]).await.unwrap();
    assert_eq!(v.total_votes, 2);
    assert_eq!(v.my_vote.as_deref(), Some(options[2].as_str()));
    assert!(v.show_results());
    // An option of another poll, or an unknown one, is refused.
    let j3 = signed_in(&app, "huangsf", "198.51.100.53").await;
    assert!(matches!(
        vote(&app, &j3, &poll, "nope").await.unwrap_err(),
        ApiError::Content(_)
    ));
    let home = app.get("/", &j2).await.body;
    assert!(
        home.contains("（您的選擇）") && home.contains("共 2 票"),
        "bar chart after voting"
    );
    assert!(home.contains("bar__fill"));
}

async fn request_reset(app: &TestApp, account: &str, email: &str, client: &str) -> common::Reply {
    app.form(
        "/api/password_reset_request",
        &[("account", account), ("email", email)],
        client,
        &Jar::default(),
    )
    .await
}

async fn reset_link_lifecycle(app: TestApp) {
    // A second browser is signed in; the reset must end it.
    let other = signed_in(&app, "wangxm", "198.51.100.60").await;
    assert_eq!(app.get("/my", &other).await.status, StatusCode::OK);

    let r = request_reset(&app, "WangXM", " WANGXM@demo.ecpa.test ", "198.51.100.61").await;
    assert_eq!(r.location(), Some("/password/forgot?sent=1"));
    let mails = app.wait_for_mails(1).await;
    assert!(
        mails[0].contains("To: wangxm@demo.ecpa.test"),
        "{}",
        mails[0]
    );
    let text = mail::text_body(&mails[0]).unwrap();
    assert!(
        text.contains("王小明 您好") && text.contains("30 分鐘"),
        "{text}"
    );
    let link = mail::reset_link(&text).unwrap();
    assert!(link.starts_with(&format!(
        "{}/password/reset?token=",
        app.portal.config.origin_string()
    )));
    let token = link.split("token=").nth(1).unwrap().to_string();
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM password_resets WHERE token_hash = '{token}'"
        ))
        .await,
        0,
        "only the hash is stored"
    );

    let state = |t: String| {
        let app = &app;
        async move {
            ok_json::<LinkState>(
                &app.api(
                    "/api/password_reset_state",
                    &[("token", &t)],
                    "198.51.100.61",
                    &Jar::default(),
                )
                .await,
            )
            .unwrap()
        }
    };
    assert_eq!(state(token.clone()).await, LinkState::Usable);
    let page = app
        .get(&format!("/password/reset?token={token}"), &Jar::default())
        .await;
    assert!(page.body.contains("設定新密碼"));

    let reset = |pw: &str, confirm: &str| {
        let app = &app;
        let (t, pw, confirm) = (token.clone(), pw.to_string(), confirm.to_string());
        async move {
            app.api(
                "/api/password_reset",
                &[
                    ("token", t.as_str()),
                    ("password", pw.as_str()),
                    ("confirm", confirm.as_str()),
                ],
                "198.51.100.61",
                &Jar::default(),
            )
            .await
        }
    };
    let new_pw = "Brand-New-Pass-2026";
    assert_eq!(
        ok_json::<()>(&reset(new_pw, "different").await).unwrap_err(),
        ApiError::PasswordMismatch
    );
    assert!(matches!(
        ok_json::<()>(&reset("short", "short").await).unwrap_err(),
        ApiError::WeakPassword(_)
    ));
    assert_eq!(
        state(token.clone()).await,
        LinkState::Usable,
        "failed attempts do not use the link"
    );
    let done = reset(new_pw, new_pw).await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{done:?}"
    );

    // Other sessions ended, no browser trusted any more; old password refused; new one
    // works; audited.
    assert_ne!(app.get("/my", &other).await.status, StatusCode::OK);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM trusted_devices t JOIN accounts a ON a.id = t.account_id WHERE a.name = 'wangxm'")
            .await,
        0
    );
    let mut j = Jar::default();
    assert_ne!(
        app.login("wangxm", PW, "198.51.100.62", &mut j)
            .await
            .location(),
        Some("/my")
    );
    let mut j = Jar::default();
    assert_eq!(
        app.login("wangxm", new_pw, "198.51.100.63", &mut j)
            .await
            .location(),
        Some("/my")
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'password.reset' AND outcome = 'success' AND detail = 'sessions ended: 1'").await,
        1
    );

    // Used: says so, and cannot be used again.
    assert_eq!(state(token.clone()).await, LinkState::Used);
    assert_eq!(
        ok_json::<()>(&reset("Another-Pass-2026x", "Another-Pass-2026x").await).unwrap_err(),
        ApiError::ResetLink(LinkState::Used)
    );
    let used_page = app
        .get(&format!("/password/reset?token={token}"), &Jar::default())
        .await;
    assert!(used_page.body.contains("已使用過"), "{}", used_page.body);

    // A fresh link expires after 30 minutes; a newer link replaces an older one.
    request_reset(&app, "wangxm", "wangxm@demo.ecpa.test", "198.51.100.64").await;
    request_reset(&app, "wangxm", "wangxm@demo.ecpa.test", "198.51.100.64").await;
    let mails = app.wait_for_mails(3).await;
    let t2 = mail::reset_link(&mail::text_body(&mails[1]).unwrap())
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string();
    let t3 = mail::reset_link(&mail::text_body(&mails[2]).unwrap())
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(
        state(t2).await,
        LinkState::Used,
        "replaced by the newer link"
    );
    assert_eq!(state(t3.clone()).await, LinkState::Usable);
    app.advance(Duration::minutes(31));
    assert_eq!(state(t3.clone()).await, LinkState::Expired);
    let expired_page = app
        .get(&format!("/password/reset?token={t3}"), &Jar::default())
        .await;
    assert!(expired_page.body.contains("已逾時"));
    assert_eq!(state("not-a-token".into()).await, LinkState::Used);
}

async fn reset_request_never_tells_who_exists(app: TestApp) {
    let cases = [
        ("wangxm", "wangxm@demo.ecpa.test"), // right
        ("wangxm", "someone@else.test"),     // wrong address
        ("nobody", "nobody@demo.ecpa.test"), // no account
        ("", ""),                            // nothing
        ("bad name!", "x"),                  // not even an account name
    ];
    let mut answers = Vec::new();
    for (i, (a, e)) in cases.iter().enumerate() {
        let r = request_reset(&app, a, e, &format!("198.51.100.{}", 70 + i)).await;
        answers.push((
            r.status,
            r.location().map(str::to_owned),
            r.body.clone(),
            r.set_cookies(),
        ));
        let j = app
            .api(
                "/api/password_reset_request",
                &[("account", a), ("email", e)],
                &format!("198.51.100.{}", 80 + i),
                &Jar::default(),
            )
            .await;
        answers.push((j.status, None, j.body.clone(), j.set_cookies()));
    }
    for a in &answers[2..] {
        let same = if a.1.is_some() {
            &answers[0]
        } else {
            &answers[1]
        };
        assert_eq!(a, same, "every answer is the same");
    }
    // Only the right pair produced mail (twice: form + API), to the registered address only.
    let mails = app.wait_for_mails(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.outbox().len(), 2);
    assert!(mails
        .iter()
        .all(|m| m.contains("To: wangxm@demo.ecpa.test")));

    // A client that keeps asking is quietly limited (same answer, no more mail).
    for _ in 0..12 {
        let r = request_reset(&app, "linmh", "linmh@demo.ecpa.test", "198.51.100.99").await;
        assert_eq!(r.location(), Some("/password/forgot?sent=1"));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let to_linmh = app
        .outbox()
        .iter()
        .filter(|m| m.contains("To: linmh@"))
        .count();
    assert_eq!(to_linmh, 3, "three mails per account per hour");
}

/// Security review #16.9: the answer to a reset request is made before anything about
/// the account is looked at, so its timing cannot tell a matching account and address from
/// any other. With the background work held back, a matching and a non-matching request
/// have done exactly the same to the database when they are answered.
async fn reset_request_answers_before_looking_at_the_account(app: TestApp) {
    let held = app.portal.reset_lock.clone();
    let guard = held.lock().await;
    let right = request_reset(&app, "wangxm", "wangxm@demo.ecpa.test", "198.51.100.140").await;
    let wrong = request_reset(&app, "nobody", "nobody@demo.ecpa.test", "198.51.100.141").await;
    assert_eq!(right.location(), wrong.location());
    assert_eq!(right.status, wrong.status);
    let pending = app
        .scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'password.reset.request' AND outcome = 'pending' AND account_id IS NULL")
        .await;
    assert_eq!(pending, 2, "the same single entry for both");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM password_resets").await, 0);
    assert!(app.outbox().is_empty());
    drop(guard);
    let mails = app.wait_for_mails(1).await;
    assert!(mails[0].contains("To: wangxm@demo.ecpa.test"));
    for _ in 0..50 {
        if app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'password.reset.request' AND outcome = 'pending'").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'password.reset.request' AND detail = 'no-match'").await,
        1
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'password.reset.request' AND detail = 'sent'").await,
        1
    );
}

async fn stored_xss_is_rendered_inert(app: TestApp) {
    let admin = signed_in(&app, "ecpaadmin", "198.51.100.90").await;
    let payloads = [
        r#"<script>alert('x')</script>正文一"#,
        r#"<img src=x onerror="alert(1)">正文二"#,
        r#"<a href="javascript:alert(1)">點我</a>正文三"#,
        r#"<svg/onload=alert(1)>正文四"#,
        r#"<p style="background:url(javascript:alert(1))" onclick="x()">正文五</p>"#,
        r#"<iframe src="https://evil.example"></iframe><object data="x"></object>正文六"#,
        r#"<a href="https://www.dgpa.gov.tw/" target="_self" onmouseover="x()">安全連結</a>"#,
        r#"</textarea><script>alert(2)</script>"#,
    ];
    // The page title is written into <title> on the server: it must not break out.
    let r = app
        .form(
            "/api/admin/announcement_save",
            &[
                ("category", "general"),
                ("title", "</title><script>alert(7)</script>"),
                ("body", "內容"),
            ],
            "198.51.100.90",
            &admin,
        )
        .await;
    assert_eq!(r.location(), Some("/admin/announcements"));
    let id = app.scalar("SELECT MAX(id) FROM announcements").await;
    let page = app
        .get(&format!("/announcements/{id}"), &Jar::default())
        .await
        .body;
    assert!(!page.contains("<script>alert(7)"), "title broke out");
    assert!(page.contains(
        "<title>&lt;/title&gt;&lt;script&gt;alert(7)&lt;/script&gt; - eCPA人事服務網</title>"
    ));
    for (i, body) in payloads.iter().enumerate() {
        let title = format!("<script>alert({i})</script>標題{i}");
        let r = app
            .form(
                "/api/admin/announcement_save",
                &[("category", "general"), ("title", &title), ("body", body)],
                "198.51.100.90",
                &admin,
            )
            .await;
        if body.contains("</textarea>") {
            // Nothing left after sanitising but a script: refused as empty.
            assert!(r.location().unwrap_or("").contains("__err"), "{r:?}");
            continue;
        }
        assert_eq!(r.location(), Some("/admin/announcements"), "{r:?}");
        let id = app
            .scalar(&format!(
                "SELECT MAX(id) FROM announcements WHERE title = '{}'",
                title.replace('\'', "''")
            ))
            .await;
        for path in [
            format!("/announcements/{id}"),
            "/".to_string(),
            "/announcements".to_string(),
            format!("/admin/announcements/{id}"),
        ] {
            let page = app.get(&path, &admin).await.body;
            let lower = page.to_ascii_lowercase();
            for bad in [
                "<script>alert",
                "onerror=",
                "onload=",
                "onclick=",
                "onmouseover=",
                "javascript:",
                "<iframe",
                "<object",
                "<svg",
            ] {
                if let Some(at) = lower.find(bad) {
                    panic!(
                        "{bad} rendered live on {path}: payload {body}: …{}…",
                        &page[at.saturating_sub(120)..(at + 80).min(page.len())]
                    );
                }
            }
        }
        let page = app.get(&format!("/announcements/{id}"), &admin).await.body;
        assert!(
            page.contains(&format!("&lt;script&gt;alert({i})&lt;/script&gt;標題{i}")),
            "title shown as text"
        );
        assert!(page.contains("正文") || page.contains("安全連結"));
    }
    let stored: Vec<String> = sqlx::query_scalar("SELECT body_html FROM announcements")
        .fetch_all(&app.portal.db.pool)
        .await
        .unwrap();
    assert!(stored
        .iter()
        .all(|b| !b.to_ascii_lowercase().contains("<script")));
    assert!(stored
        .iter()
        .any(|b| b.contains(r#"href="https://www.dgpa.gov.tw/""#) && b.contains("noopener")));

    // Even a row written around the admin pages is sanitised on the way out.
    sqlx::query("UPDATE announcements SET body_html = '<p>x</p><script>alert(9)</script>' WHERE title = 'eCPA正式啓用'")
        .execute(&app.portal.db.pool)
        .await
        .unwrap();
    let id = app
        .scalar("SELECT id FROM announcements WHERE title = 'eCPA正式啓用'")
        .await;
    assert!(!app
        .get(&format!("/announcements/{id}"), &Jar::default())
        .await
        .body
        .contains("alert(9)"));

    // Links and FAQ are held to the same rules.
    let bad_link = app
        .api(
            "/api/admin/link_save",
            &[
                ("title", "x"),
                ("url", "javascript:alert(1)"),
                ("position", "1"),
            ],
            "198.51.100.90",
            &admin,
        )
        .await;
    assert_eq!(
        ok_json::<()>(&bad_link).unwrap_err(),
        ApiError::Content(ecpa_domain::content::ContentError::BadUrl)
    );
    let faq = app
        .api(
            "/api/admin/faq_save",
            &[
                ("id", "Q000900"),
                ("category", "測試"),
                ("question", "問題"),
                ("body", "<p onclick=x()>答<script>1</script></p>"),
                ("position", "1"),
            ],
            "198.51.100.90",
            &admin,
        )
        .await;
    ok_json::<()>(&faq).unwrap();
    let page = app.get("/faq/Q000900", &Jar::default()).await.body;
    assert!(page.contains("答") && !page.contains("onclick") && !page.contains("<script>1"));
}

async fn admin_changes_reach_the_home_page(app: TestApp) {
    let admin = signed_in(&app, "ecpaadmin", "198.51.100.95").await;
    let c = "198.51.100.95";
    // Write, pin, retire.
    let r = app
        .form(
            "/api/admin/announcement_save",
            &[
                ("category", "vacancy"),
                ("title", "銓敘部徵求科員"),
                ("body", "第一段\n\n第二段"),
                ("published_on", "115/11/27"),
                ("hot", "on"),
            ],
            c,
            &admin,
        )
        .await;
    assert_eq!(r.location(), Some("/admin/announcements"));
    let id = app
        .scalar("SELECT id FROM announcements WHERE title = '銓敘部徵求科員'")
        .await;
    assert_eq!(
        app.scalar(&format!("SELECT hot FROM announcements WHERE id = {id}"))
            .await,
        1
    );
    let home = app.get("/", &Jar::default()).await.body;
    assert!(home.contains("銓敘部徵求科員"));
    let page = app
        .get(&format!("/announcements/{id}"), &Jar::default())
        .await
        .body;
    assert!(page.contains("<p>第一段</p><p>第二段</p>") && page.contains("115/11/27"));
    let act = |action: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            ok_json::<()>(
                &app.api(
                    "/api/admin/announcement_action",
                    &[("id", &id.to_string()), ("action", action)],
                    c,
                    &admin,
                )
                .await,
            )
        }
    };
    act("Unpin").await.unwrap();
    assert_eq!(
        app.scalar(&format!("SELECT hot FROM announcements WHERE id = {id}"))
            .await,
        0
    );
    act("Retire").await.unwrap();
    assert!(!app
        .get("/", &Jar::default())
        .await
        .body
        .contains("銓敘部徵求科員"));
    assert!(app
        .get(&format!("/announcements/{id}"), &Jar::default())
        .await
        .body
        .contains("找不到您要的資料"));
    act("Restore").await.unwrap();
    assert!(app
        .get("/announcements", &Jar::default())
        .await
        .body
        .contains("銓敘部徵求科員"));
    // Validation, in words.
    let bad = app
        .api(
            "/api/admin/announcement_save",
            &[("category", "nope"), ("title", "x"), ("body", "y")],
            c,
            &admin,
        )
        .await;
    assert_eq!(
        ok_json::<()>(&bad).unwrap_err(),
        ApiError::Content(ecpa_domain::content::ContentError::BadCategory)
    );

    // A new poll becomes the home page's poll.
    let r = app
        .api(
            "/api/admin/poll_create",
            &[
                ("question", "您最常使用哪一項功能？"),
                ("options", "電子頁卡\n待辦事項\n應用系統"),
            ],
            c,
            &admin,
        )
        .await;
    let poll: String = ok_json(&r).unwrap();
    ok_json::<()>(
        &app.api(
            "/api/admin/poll_action",
            &[("id", &poll), ("action", "Activate")],
            c,
            &admin,
        )
        .await,
    )
    .unwrap();
    let home = app.get("/", &Jar::default()).await.body;
    assert!(home.contains("您最常使用哪一項功能？") && home.contains("電子頁卡"));
    ok_json::<()>(
        &app.api(
            "/api/admin/poll_action",
            &[("id", &poll), ("action", "Close")],
            c,
            &admin,
        )
        .await,
    )
    .unwrap();
    let user = signed_in(&app, "wangxm", "198.51.100.96").await;
    let opt: String =
        sqlx::query_scalar("SELECT id FROM poll_options WHERE poll_id = $1 ORDER BY position")
            .bind(&poll)
            .fetch_one(&app.portal.db.pool)
            .await
            .unwrap();
    assert_eq!(
        vote(&app, &user, &poll, &opt).await.unwrap_err(),
        ApiError::PollClosed
    );

    // Links: edit, add, delete.
    let link: String = sqlx::query_scalar("SELECT id FROM links WHERE title = '銓敘部業務區'")
        .fetch_one(&app.portal.db.pool)
        .await
        .unwrap();
    ok_json::<()>(
        &app.api(
            "/api/admin/link_save",
            &[
                ("id", &link),
                ("title", "銓敘部全球資訊網"),
                ("url", "https://www.mocs.gov.tw/"),
                ("position", "5"),
            ],
            c,
            &admin,
        )
        .await,
    )
    .unwrap();
    ok_json::<()>(
        &app.api(
            "/api/admin/link_save",
            &[
                ("title", "人事總處"),
                ("url", "https://www.dgpa.gov.tw/"),
                ("position", "1"),
            ],
            c,
            &admin,
        )
        .await,
    )
    .unwrap();
    let gone: String = sqlx::query_scalar("SELECT id FROM links WHERE title = '流感防治資訊'")
        .fetch_one(&app.portal.db.pool)
        .await
        .unwrap();
    ok_json::<()>(
        &app.api("/api/admin/link_delete", &[("id", &gone)], c, &admin)
            .await,
    )
    .unwrap();
    let home = app.get("/", &Jar::default()).await.body;
    assert!(
        home.contains("銓敘部全球資訊網")
            && !home.contains("銓敘部業務區")
            && !home.contains("流感防治資訊")
    );
    assert!(
        home.find("人事總處").unwrap() < home.find("銓敘部全球資訊網").unwrap(),
        "ordered by position"
    );

    // The catalog.
    ok_json::<()>(
        &app.api(
            "/api/admin/app_save",
            &[
                ("code", "D1"),
                ("name", "差勤管理系統"),
                ("group_code", "D"),
                ("group_name", "差勤"),
                ("url", "https://example.gov.tw/d1"),
                ("sort_order", "1"),
                ("description", ""),
            ],
            c,
            &admin,
        )
        .await,
    )
    .unwrap();
    let my = app.get("/my", &user).await.body;
    assert!(
        my.contains("差勤管理系統"),
        "a new system for everyone appears in My Area"
    );

    // Every change is audited with the administrator.
    assert!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'admin.change' AND account_key = (SELECT id FROM accounts WHERE name = 'ecpaadmin')").await >= 9);
}

async fn admin_pages_are_for_admins_only(app: TestApp) {
    let user = signed_in(&app, "wangxm", "198.51.100.97").await;
    for (path, fields) in [
        (
            "/api/admin/announcement_save",
            vec![("category", "general"), ("title", "x"), ("body", "y")],
        ),
        (
            "/api/admin/poll_create",
            vec![("question", "q"), ("options", "a\nb")],
        ),
        (
            "/api/admin/link_save",
            vec![("title", "x"), ("url", "https://x.tw/"), ("position", "1")],
        ),
        ("/api/admin/announcements", vec![]),
        ("/api/admin/faq", vec![]),
    ] {
        let r = app.api(path, &fields, "198.51.100.97", &user).await;
        assert_eq!(
            ok_json::<Value>(&r).unwrap_err(),
            ApiError::Forbidden,
            "{path}"
        );
        let r = app
            .api(path, &fields, "198.51.100.98", &Jar::default())
            .await;
        assert_eq!(
            ok_json::<Value>(&r).unwrap_err(),
            ApiError::Unauthenticated,
            "{path}"
        );
    }
    let page = app.get("/admin/announcements", &user).await;
    assert!(page.body.contains("您沒有使用此功能的權限"));
    let anon = app.get("/admin", &Jar::default()).await;
    assert!(
        anon.status.is_redirection(),
        "signed-out visitors are sent to sign in"
    );
    // Granting by the CLI path makes the page work.
    app.portal.set_admin("wangxm", true).await.unwrap();
    assert!(app
        .get("/admin/announcements", &user)
        .await
        .body
        .contains("新增公告"));
    app.portal.set_admin("wangxm", false).await.unwrap();
    assert!(app
        .get("/admin/announcements", &user)
        .await
        .body
        .contains("您沒有使用此功能的權限"));
}

/// The nonce a page's policy names, and the page's HTML with it taken out.
fn page_without_nonce(r: &common::Reply) -> (String, String) {
    let csp = r.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let start = csp.find("'nonce-").expect("a nonce") + 7;
    let nonce = csp[start..start + csp[start..].find('\'').unwrap()].to_string();
    assert!(
        r.body.contains(&format!("nonce=\"{nonce}\"")),
        "the page uses its policy's nonce"
    );
    (nonce.clone(), r.body.replace(&nonce, "NONCE"))
}

async fn public_pages_are_rendered_once_for_visitors_without_a_session(app: TestApp) {
    let visitor = Jar::default();
    let first = app.get("/", &visitor).await;
    assert_eq!(first.status, StatusCode::OK);
    let hits = app.portal.pages.hits();
    let again = app.get("/", &visitor).await;
    assert_eq!(
        app.portal.pages.hits(),
        hits + 1,
        "the second visit is the stored page"
    );
    let (n1, p1) = page_without_nonce(&first);
    let (n2, p2) = page_without_nonce(&again);
    assert_ne!(n1, n2, "every answer has its own nonce");
    assert_eq!(p1, p2, "and otherwise the same page");

    // A signed-in person never gets the stored page, nor does their page get stored.
    let me = signed_in(&app, "linmh", "198.51.100.61").await;
    let mine = app.get("/", &me).await;
    assert!(
        mine.body.contains("林"),
        "their own page: {}",
        mine.body.len()
    );
    assert_ne!(page_without_nonce(&mine).1, p1);
    let hits = app.portal.pages.hits();
    let anon = app.get("/", &visitor).await;
    assert_eq!(app.portal.pages.hits(), hits + 1);
    assert_eq!(
        page_without_nonce(&anon).1,
        p1,
        "the anonymous page, not theirs"
    );

    // An administrator's change and a vote show at once.
    let admin = signed_in(&app, "ecpaadmin", "198.51.100.62").await;
    let title = "頁面快取之後的新公告";
    let r = app
        .form(
            "/api/admin/announcement_save",
            &[
                ("category", "general"),
                ("title", title),
                ("body", "內容"),
                ("hot", "true"),
            ],
            "198.51.100.62",
            &admin,
        )
        .await;
    assert_eq!(r.location(), Some("/admin/announcements"), "{r:?}");
    assert!(app.get("/", &visitor).await.body.contains(title));
    let poll: String = sqlx::query_scalar("SELECT id FROM polls WHERE active = 1")
        .fetch_one(&app.portal.db.pool)
        .await
        .unwrap();
    let option: String =
        sqlx::query_scalar("SELECT id FROM poll_options WHERE poll_id = $1 ORDER BY position")
            .bind(&poll)
            .fetch_one(&app.portal.db.pool)
            .await
            .unwrap();
    let before = app.get("/polls", &visitor).await;
    let voted = vote(&app, &me, &poll, &option).await.unwrap();
    let after = app.get("/polls", &visitor).await;
    assert_ne!(page_without_nonce(&before).1, page_without_nonce(&after).1);
    assert!(
        after.body.contains(&format!("共 {} 票", voted.total_votes))
            || after.body.contains(&voted.total_votes.to_string()),
        "the new count shows"
    );
    // Pages outside the public set are never stored.
    let hits = app.portal.pages.hits();
    app.get("/login/certificate", &visitor).await;
    app.get("/login/certificate", &visitor).await;
    assert_eq!(app.portal.pages.hits(), hits);
}

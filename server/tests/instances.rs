//! Several instances (issue #16): two `ecpa-server` processes behind one public origin on
//! one PostgreSQL database, as behind a load balancer. Requests alternate between them:
//! a card challenge issued by one is answered at the other (upload and sign-in), a session
//! made at one is valid at the other and a logout at one ends it at both, and a password
//! guess campaign spread over both meets the same per-account limits as against one, with
//! exact counters in the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{cards::issue, cards::proof, Jar, PW};
use ecpa_server::{audit::Kind as AuditKind, db::Db};
use hsm_sim::{pki::Variant, sim::Kind as CardKind, sim::Sim};
use http_body_util::{BodyExt, Full};
use hyper::{header, Request, StatusCode};
use serde_json::{json, Value};
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

const HOST: &str = "portal.test";
const ORIGIN: &str = "http://portal.test";

struct Instance {
    child: Child,
    port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(database_url: &str, dir: &std::path::Path, pki: &std::path::Path) -> Instance {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ecpa-server"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ECPA_DATABASE_URL", database_url)
        .env("ECPA_LISTEN", format!("127.0.0.1:{port}"))
        .env("ECPA_PUBLIC_ORIGIN", ORIGIN)
        .env("ECPA_TRUST_FORWARDED_FOR", "true")
        .env("ECPA_CARD_PKI_DIR", pki)
        .env("ECPA_SITE_ROOT", dir.join("site"))
        .env("ECPA_MAIL_OUTBOX", dir.join("outbox"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start ecpa-server");
    let inst = Instance { child, port };
    for _ in 0..200 {
        if let Ok(r) = call(
            inst.port,
            "GET",
            "/healthz",
            &Jar::default(),
            None,
            "192.0.2.1",
        )
        .await
        {
            if r.0 == StatusCode::OK {
                return inst;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("instance on port {port} did not start");
}

enum Body {
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

type Answer = (StatusCode, Vec<String>, String);

/// One request to one instance, as the load balancer forwards it (the public `Host`, the
/// client's address in `X-Forwarded-For`).
async fn call(
    to: u16,
    method: &str,
    path: &str,
    jar: &Jar,
    body: Option<Body>,
    client: &str,
) -> Result<Answer, String> {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{to}{path}"))
        .header(header::HOST, HOST)
        .header("x-forwarded-for", client)
        .header(header::COOKIE, jar.header())
        .header(header::ACCEPT, "application/json");
    let bytes = match body {
        None => Bytes::new(),
        Some(Body::Form(f)) => {
            req = req
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(f)
                .finish()
                .into()
        }
        Some(Body::Json(v)) => {
            req = req
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/json");
            v.to_string().into()
        }
    };
    let res = ecpa_server::http_client::client()
        .request(req.body(Full::new(bytes)).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let body = res.into_body().collect().await.map_err(|e| e.to_string())?;
    Ok((
        status,
        cookies,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

/// `call`, keeping the cookies the answer sets.
async fn step(
    to: &Instance,
    path: &str,
    jar: &mut Jar,
    body: Option<Body>,
    client: &str,
) -> Answer {
    let method = if body.is_some() { "POST" } else { "GET" };
    let a = call(to.port, method, path, jar, body, client)
        .await
        .unwrap();
    for c in &a.1 {
        jar.absorb_set_cookie(c);
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(&dir.path().join("sim")).unwrap();
    sim.init(time::OffsetDateTime::now_utc()).unwrap();
    let pki = dir.path().join("pki");
    sim.export(&pki).unwrap();
    // The schema and the demo data, once, as `make run` would.
    let url = common::pg_database().await;
    let mut config = common::test_config();
    config.database_url = url.clone();
    config.card_pki_dir = Some(pki.clone());
    config.site_root = dir.path().join("site");
    config.mail_outbox = dir.path().join("outbox");
    let seeder = ecpa_server::portal(config).await.unwrap();
    ecpa_server::demo::seed(&seeder).await.unwrap();
    seeder.db.pool.close().await;

    let a = start(&url, dir.path(), &pki).await;
    let b = start(&url, dir.path(), &pki).await;
    let me = "198.51.100.20";

    // 1. Upload a card with every step at the other instance than the one before, then sign
    //    in with it: challenge from A, signed challenge at B.
    let card = issue(
        &sim,
        CardKind::Natural,
        "王小明",
        "A123456789",
        Variant::Good,
    )
    .number;
    let mut up = Jar::default();
    let r = step(
        &a,
        "/api/bind_start",
        &mut up,
        Some(Body::Form(vec![
            ("account", "wangxm".into()),
            ("password", PW.into()),
            ("kind", "Natural".into()),
        ])),
        me,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let r = step(
        &b,
        "/api/card_challenge",
        &mut up,
        Some(Body::Form(vec![("purpose", "bind".into())])),
        me,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let tbs: String = serde_json::from_str(&r.2).unwrap();
    let r = step(
        &a,
        "/api/bind_verify",
        &mut up,
        Some(Body::Json(json!({ "token": proof(&sim, &card, &tbs) }))),
        me,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let r = step(
        &b,
        "/api/bind_confirm",
        &mut up,
        Some(Body::Form(vec![(
            "contact_email",
            "wangxm@demo.ecpa.test".into(),
        )])),
        me,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");

    let mut cardholder = Jar::default();
    let r = step(
        &a,
        "/api/card_challenge",
        &mut cardholder,
        Some(Body::Form(vec![("purpose", "login".into())])),
        me,
    )
    .await;
    let tbs: String = serde_json::from_str(&r.2).unwrap();
    let token = proof(&sim, &card, &tbs);
    let r = step(
        &b,
        "/api/cert_login",
        &mut cardholder,
        Some(Body::Json(json!({ "token": token.clone() }))),
        me,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "challenge from A answered at B: {r:?}");
    // The challenge was taken once, for both: replayed at A it is refused.
    let r = step(
        &a,
        "/api/cert_login",
        &mut Jar::default(),
        Some(Body::Json(json!({ "token": token }))),
        me,
    )
    .await;
    assert_ne!(
        r.0,
        StatusCode::OK,
        "a used challenge is used everywhere: {r:?}"
    );
    for inst in [&a, &b] {
        let r = step(
            inst,
            "/api/my_area",
            &mut cardholder,
            Some(Body::Form(vec![])),
            me,
        )
        .await;
        assert_eq!(r.0, StatusCode::OK, "{r:?}");
        assert!(r.2.contains("王小明"), "{}", r.2);
    }

    // 2. A password session from A is valid at B; logout at B ends it at A too.
    let mut user = Jar::default();
    let r = step(
        &a,
        "/api/login",
        &mut user,
        Some(Body::Form(vec![
            ("account", "linmh".into()),
            ("password", PW.into()),
        ])),
        me,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let r = step(&b, "/api/my_area", &mut user, Some(Body::Form(vec![])), me).await;
    assert_eq!(r.0, StatusCode::OK, "session from A at B: {r:?}");
    let kept = user.clone();
    let r = step(&b, "/api/logout", &mut user, Some(Body::Form(vec![])), me).await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    for inst in [&a, &b] {
        // The old cookie, as a copy of it would be replayed.
        let r = call(
            inst.port,
            "POST",
            "/api/my_area",
            &kept,
            Some(Body::Form(vec![])),
            me,
        )
        .await
        .unwrap();
        assert_ne!(r.0, StatusCode::OK, "logged out everywhere: {r:?}");
        assert!(r.2.contains("Unauthenticated"), "{r:?}");
    }

    // 3. A guess campaign at one account, alternating instances and addresses (so no
    //    per-address rule applies): the account's limits hold as against one instance —
    //    three free failures, then a delay refuses at once, on both.
    let guess = |i: usize| {
        Body::Form(vec![
            ("account", "chenzw".into()),
            ("password", format!("Guess-Pass-{i:03}")),
        ])
    };
    let mut outcomes = vec![];
    for i in 0..12 {
        let inst = if i % 2 == 0 { &a } else { &b };
        let from = format!("203.0.113.{}", 10 + i);
        let r = call(
            inst.port,
            "POST",
            "/api/login",
            &Jar::default(),
            Some(guess(i)),
            &from,
        )
        .await
        .unwrap();
        outcomes.push(if r.2.contains("InvalidCredentials") {
            "failure"
        } else if r.2.contains("Throttled") {
            "throttled"
        } else {
            panic!("unexpected answer {r:?}")
        });
    }
    assert_eq!(
        outcomes,
        [&["failure"; 3][..], &["throttled"; 9][..]].concat(),
        "three free failures, then refused at either instance"
    );
    // Concurrently at both after the delay: one more failure at most, never two.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let burst: Vec<_> = (0..10)
        .map(|i| {
            let port = if i % 2 == 0 { a.port } else { b.port };
            let body = guess(100 + i);
            tokio::spawn(async move {
                let from = format!("203.0.113.{}", 40 + i);
                call(
                    port,
                    "POST",
                    "/api/login",
                    &Jar::default(),
                    Some(body),
                    &from,
                )
                .await
            })
        })
        .collect();
    let mut answers = vec![];
    for h in burst {
        answers.push(h.await.unwrap());
    }
    let allowed = answers
        .iter()
        .filter(|r| r.as_ref().unwrap().2.contains("InvalidCredentials"))
        .count();
    assert!(allowed <= 1, "{allowed} guesses passed the delay together");

    // The counters are exact: every attempt recorded once, with the outcome it was given.
    let db = Db::connect(&url, 1).await.unwrap();
    let count = |outcome: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND outcome = $2",
            )
            .bind(AuditKind::LoginPassword.as_str())
            .bind(outcome)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(count("failure").await, 3 + allowed as i64);
    assert_eq!(count("throttled").await, 9 + (10 - allowed) as i64);
    assert_eq!(count("pending").await, 0);
    // bind_start's password and linmh's sign-in.
    assert_eq!(count("success").await, 2);

    // 4. Public pages that A keeps for visitors without a session follow a change made at
    //    B: an administrator's new announcement shows on A's home page within about a
    //    second (A reads the shared content version once a second).
    let visitor = "198.51.100.40";
    let home = call(a.port, "GET", "/", &Jar::default(), None, visitor)
        .await
        .unwrap();
    assert_eq!(home.0, StatusCode::OK);
    let title = "兩部伺服器之間的公告同步測試";
    assert!(!home.2.contains(title));
    let mut admin = Jar::default();
    let r = step(
        &b,
        "/api/login",
        &mut admin,
        Some(Body::Form(vec![
            ("account", ecpa_server::demo::DEMO_ADMIN.into()),
            ("password", PW.into()),
        ])),
        "198.51.100.41",
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let r = step(
        &b,
        "/api/admin/announcement_save",
        &mut admin,
        Some(Body::Form(vec![
            ("category", "general".into()),
            ("title", title.into()),
            ("body", "內容".into()),
            ("hot", "true".into()),
        ])),
        "198.51.100.41",
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let changed = std::time::Instant::now();
    loop {
        let home = call(a.port, "GET", "/", &Jar::default(), None, visitor)
            .await
            .unwrap();
        if home.2.contains(title) {
            break;
        }
        assert!(
            changed.elapsed() < std::time::Duration::from_secs(3),
            "A still shows its old home page {:?} after B's change",
            changed.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

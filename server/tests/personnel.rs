//! The personnel registry: the importer (UTF-8, Big5, malformed files, batches, history)
//! and the eligibility rules as My Area and the application launcher apply them, on SQLite
//! and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Jar, TestApp, PW};
use ecpa_server::personnel::{
    agencies::import_agencies,
    csvio::EncodingChoice,
    import::{import_personnel, ImportError, ImportOptions, ImportSummary},
    sample,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

on_both_databases!(
    imports_utf8_and_big5_alike,
    a_bad_row_rejects_the_whole_batch,
    line_numbers_hold_for_crlf_and_big5,
    skip_invalid_imports_the_rest_and_reports,
    same_batch_twice_changes_nothing,
    newer_records_replace_older_and_history_stays,
    my_area_follows_the_rules,
    personnel_systems_are_refused_on_the_server,
    rights_start_the_day_after_ingestion,
);

const HEADER: &str = "身分證統一編號,姓名,電子郵件,機關代碼,服務單位,職稱,人員區分,兼職性質,在職狀態,卸職日期,入檔日期\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

async fn load_agencies(app: &TestApp, dir: &Path, n: usize) {
    let mut buf = vec![];
    sample::write_agencies(&mut buf, n).unwrap();
    let p = write(dir, "agencies.csv", &buf);
    import_agencies(
        &app.portal.db,
        &p,
        EncodingChoice::Auto,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
}

/// Imports `path` with the default options, now.
async fn import_now(app: &TestApp, path: &Path) -> Result<ImportSummary, ImportError> {
    import_personnel(
        &app.portal.db,
        path,
        &ImportOptions::default(),
        OffsetDateTime::now_utc(),
    )
    .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
}

async fn current(app: &TestApp) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT national_id, unit_name, staff_category, status, ingested_on FROM personnel_current \
         WHERE batch_id <> 'demo-seed' ORDER BY national_id",
    )
    .fetch_all(&app.portal.db.pool)
    .await
    .unwrap()
}

async fn imports_utf8_and_big5_alike(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    load_agencies(&app, dir.path(), 30).await;
    let mut utf8 = vec![];
    sample::write_personnel(&mut utf8, 400, 30, 11).unwrap();
    let text = String::from_utf8(utf8.clone()).unwrap();
    let (big5, _, unmappable) = encoding_rs::BIG5.encode(&text);
    assert!(!unmappable);
    let big5 = big5.into_owned();
    assert_ne!(big5, utf8, "really a different encoding");

    let p = write(dir.path(), "p.csv", &utf8);
    let s = import_now(&app, &p).await.unwrap();
    assert_eq!((s.rows_read, s.imported, s.rejected), (400, 400, 0));
    assert_eq!(s.encoding, "UTF-8");
    let from_utf8 = current(&app).await;
    assert_eq!(from_utf8.len(), 400);
    // Codes as files write them ("8", "０８", " 08 ") are stored in one form.
    assert!(from_utf8
        .iter()
        .all(|r| r.2.len() == 2 && r.2.bytes().all(|b| b.is_ascii_digit())));
    assert!(from_utf8.iter().any(|r| r.2 == "08"));

    // The same content in Big5, detected automatically, as a second batch: same current state.
    let p5 = write(dir.path(), "p5.csv", &big5);
    let s5 = import_now(&app, &p5).await.unwrap();
    assert_eq!(s5.encoding, "Big5");
    assert_eq!((s5.rows_read, s5.imported), (400, 400));
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM people WHERE national_id = $1")
        .bind(sample::national_id(0))
        .fetch_all(&app.portal.db.pool)
        .await
        .unwrap();
    assert!(
        names[0].chars().all(|c| c as u32 > 0x4E00),
        "Chinese name survived Big5: {names:?}"
    );
    let after: Vec<_> = current(&app)
        .await
        .into_iter()
        .map(|r| (r.0, r.1, r.2, r.3, r.4))
        .collect();
    assert_eq!(after, from_utf8);
    assert_eq!(
        count(&app, "personnel_records WHERE batch_id <> 'demo-seed'").await,
        800,
        "both batches kept"
    );
}

async fn a_bad_row_rejects_the_whole_batch(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    load_agencies(&app, dir.path(), 3).await;
    let a = &sample::agencies(3)[0].0;
    let body = format!(
        "{HEADER}{},甲,,{a},秘書室,科員,01,,現職,,115/01/01\n\
         A123456788,乙,,{a},秘書室,科員,01,,現職,,115/01/01\n\
         {},丙,,{a},秘書室,科員,01,,現職,,115/01/01\n\
         {},丁,bad-mail,NOPE,秘書室,科員,八,,休假,,115/13/01\n\
         {},戊,,{a},秘書室,科員,01,,現職,,115/01/01\n",
        sample::national_id(1),
        sample::national_id(2),
        sample::national_id(3),
        sample::national_id(1),
    );
    let p = write(dir.path(), "bad.csv", body.as_bytes());
    let people_before = count(&app, "people").await;
    let batches_before = count(&app, "import_batches").await;
    let err = import_now(&app, &p).await.unwrap_err();
    let ImportError::Rejected(s) = err else {
        panic!("expected a rejected batch, got {err}")
    };
    assert_eq!(s.rejected, 3);
    let lines: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 5, 6]);
    let line5: Vec<&str> = s.errors[1].errors.iter().map(|f| f.field).collect();
    for f in ["電子郵件", "機關代碼", "人員區分", "在職狀態", "入檔日期"] {
        assert!(line5.contains(&f), "line 5 should name {f}: {line5:?}");
    }
    assert!(s.errors[0].errors[0].message.contains("檢查碼"));
    assert!(
        s.errors[2].errors[0].message.contains("與第 2 行重複"),
        "{:?}",
        s.errors[2]
    );
    assert!(s.to_string().contains("rows read") || !s.errors.is_empty());
    // Nothing changed.
    assert_eq!(count(&app, "people").await, people_before);
    assert_eq!(count(&app, "import_batches").await, batches_before);

    // A file without a required column is refused before any row.
    let p = write(dir.path(), "nocol.csv", "姓名,機關代碼\n甲,X\n".as_bytes());
    let err = import_now(&app, &p).await.unwrap_err();
    assert!(
        matches!(err, ImportError::MissingColumn("身分證統一編號")),
        "{err}"
    );
}

/// Security review #16.10: a file saved by Excel on Windows (Big5, CRLF) names the same
/// lines as one with LF line ends, in Big5 and UTF-8; one unterminated quote fails at its
/// line instead of reading the rest of the file into one record.
async fn line_numbers_hold_for_crlf_and_big5(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    load_agencies(&app, dir.path(), 3).await;
    let a = &sample::agencies(3)[0].0;
    let body = format!(
        "{HEADER}{},甲,,{a},秘書室,科員,01,,現職,,115/01/01\n\
         A123456788,乙,,{a},秘書室,科員,01,,現職,,115/01/01\n\
         \n\
         {},丙,,{a},\"人事室,第一科\",科員,01,,現職,,115/01/01\n\
         {},丁,,NOPE,秘書室,科員,01,,現職,,115/01/01\n",
        sample::national_id(1),
        sample::national_id(2),
        sample::national_id(3),
    );
    for (name, crlf, big5) in [
        ("utf8-lf.csv", false, false),
        ("utf8-crlf.csv", true, false),
        ("big5-lf.csv", false, true),
        ("big5-crlf.csv", true, true),
    ] {
        let text = if crlf {
            body.replace('\n', "\r\n")
        } else {
            body.clone()
        };
        let bytes = if big5 {
            encoding_rs::BIG5.encode(&text).0.into_owned()
        } else {
            text.into_bytes()
        };
        let p = write(dir.path(), name, &bytes);
        let err = import_now(&app, &p).await.unwrap_err();
        let ImportError::Rejected(s) = err else {
            panic!("{name}: expected a rejected batch, got {err}")
        };
        let lines: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 6], "{name}");
    }

    // One unterminated quote on line 3, then 5,000 more lines.
    let mut text = format!(
        "{HEADER}{},甲,,{a},秘書室,科員,01,,現職,,115/01/01\r\n{},\"乙,,{a},秘書室,科員,01,,現職,,115/01/01\r\n",
        sample::national_id(1),
        sample::national_id(2),
    );
    for i in 0..5_000 {
        text.push_str(&format!(
            "{},丙,,{a},秘書室,科員,01,,現職,,115/01/01\r\n",
            sample::national_id(10 + i)
        ));
    }
    let p = write(
        dir.path(),
        "open-quote.csv",
        &encoding_rs::BIG5.encode(&text).0,
    );
    let err = import_now(&app, &p).await.unwrap_err();
    assert!(matches!(err, ImportError::Csv { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("unterminated quote"), "{err}");
}

async fn skip_invalid_imports_the_rest_and_reports(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    load_agencies(&app, dir.path(), 3).await;
    let a = &sample::agencies(3)[1].0;
    let body = format!(
        "{HEADER}{},甲,,{a},人事室,科員,1,,現職,,2026-01-01\n\
         Z999999999,乙,,{a},秘書室,科員,01,,現職,,115/01/01\n\
         {},丙,,{a},秘書室,科員,01,5,卸職,115/02/01,1150301\n",
        sample::national_id(7),
        sample::national_id(8),
    );
    let p = write(dir.path(), "mixed.csv", body.as_bytes());
    let rejects = dir.path().join("rejects.csv");
    let opts = ImportOptions {
        skip_invalid: true,
        rejects: Some(rejects.clone()),
        ..Default::default()
    };
    let s = import_personnel(&app.portal.db, &p, &opts, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!((s.rows_read, s.imported, s.rejected), (3, 2, 1));
    let text = std::fs::read_to_string(&rejects).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("行號,原因,身分證統一編號"));
    let rejected = lines.next().unwrap();
    assert!(
        rejected.starts_with("3,")
            && rejected.contains("身分證統一編號")
            && rejected.contains("Z999999999"),
        "{rejected}"
    );
    let rows = current(&app).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows.iter()
            .find(|r| r.0 == sample::national_id(8))
            .map(|r| (r.3.as_str(), r.4.as_str())),
        Some(("卸職", "2026-03-01"))
    );
}

async fn same_batch_twice_changes_nothing(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    load_agencies(&app, dir.path(), 5).await;
    let mut buf = vec![];
    sample::write_personnel(&mut buf, 50, 5, 3).unwrap();
    let p = write(dir.path(), "p.csv", &buf);
    let first = import_now(&app, &p).await.unwrap();
    assert!(!first.already_imported);
    let snapshot = current(&app).await;
    let records = count(&app, "personnel_records").await;
    let again = import_now(&app, &p).await.unwrap();
    assert!(again.already_imported);
    assert_eq!(
        again.batch_id, first.batch_id,
        "the batch is the file's digest"
    );
    assert_eq!(current(&app).await, snapshot);
    assert_eq!(count(&app, "personnel_records").await, records);
}

async fn newer_records_replace_older_and_history_stays(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    load_agencies(&app, dir.path(), 3).await;
    let a = &sample::agencies(3)[2].0;
    let id = sample::national_id(42);
    let file =
        |unit: &str, date: &str| format!("{HEADER}{id},王大同,,{a},{unit},科員,01,,現職,,{date}\n");
    let import = |name: &'static str, body: String, batch: &'static str| {
        let p = write(dir.path(), name, body.as_bytes());
        let db = app.portal.db.clone();
        async move {
            let opts = ImportOptions {
                batch_id: Some(batch.into()),
                ..Default::default()
            };
            import_personnel(&db, &p, &opts, OffsetDateTime::now_utc())
                .await
                .unwrap()
        }
    };
    import("1.csv", file("秘書室", "115/01/01"), "b1").await;
    import("2.csv", file("人事室", "115/06/01"), "b2").await;
    let unit = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT unit_name FROM personnel_current WHERE national_id = $1",
        )
        .bind(&id)
        .fetch_one(&app.portal.db.pool)
        .await
        .unwrap()
    };
    assert_eq!(unit().await, "人事室");
    // An older record arriving later does not replace the current one...
    import("3.csv", file("總務處", "115/03/01"), "b3").await;
    assert_eq!(unit().await, "人事室");
    // ...the same date from a later batch does.
    import("4.csv", file("資訊室", "115/06/01"), "b4").await;
    assert_eq!(unit().await, "資訊室");
    let history: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM personnel_records WHERE national_id = $1")
            .bind(&id)
            .fetch_one(&app.portal.db.pool)
            .await
            .unwrap();
    assert_eq!(history, 4);
}

async fn my_area(app: &TestApp, account: &str) -> String {
    let mut jar = Jar::default();
    let r = app.login(account, PW, "203.0.113.80", &mut jar).await;
    assert_eq!(r.location(), Some("/my"), "{account} signs in");
    let page = app.get("/my", &jar).await;
    assert_eq!(page.status, StatusCode::OK);
    page.body
}

async fn my_area_follows_the_rules(app: TestApp) {
    // An ordinary employee: e-page card, everyone's systems, not the personnel ones.
    let body = my_area(&app, "wangxm").await;
    for t in [
        "交通部公路局",
        "秘書室",
        "A12****789",
        "尚未上傳自然人憑證",
        "B1: 個人資料查詢",
        "自然人憑證上傳",
        "此功能限人事人員使用",
    ] {
        assert!(body.contains(t), "wangxm's My Area lacks {t}");
    }
    for t in ["A1: 人事資料報送服務網", "C1: 機關薪資", "A123456789"] {
        assert!(!body.contains(t), "wangxm must not see {t}");
    }
    // Officers by each of the three rules see the personnel systems, grouped as in the seed.
    for (acct, basis) in [
        ("linmh", "人員區分為 08"),
        ("huangsf", "服務單位為人事單位"),
        ("liujh", "兼職性質為 5"),
    ] {
        let body = my_area(&app, acct).await;
        for t in [
            "A. 人事資料填報及考核",
            "A1.1: 人事資料報送查詢(僅供查詢99.1.15前入檔紀錄)",
            "A1: 人事資料報送服務網",
            "C1: 機關薪資及待遇管理系統",
            basis,
            "人事專用",
        ] {
            assert!(body.contains(t), "{acct}'s My Area lacks {t}");
        }
    }
    // Departed and ingested-today personas are told exactly why.
    let body = my_area(&app, "zhangyt").await;
    assert!(body.contains("115/06/30 卸職") && !body.contains("A1: 人事資料報送服務網"));
    let body = my_area(&app, "wuzh").await;
    assert!(body.contains("入檔，明日起可使用"), "wuzh");
    assert!(!body.contains("A1: 人事資料報送服務網"));
}

async fn personnel_systems_are_refused_on_the_server(app: TestApp) {
    let mut jar = Jar::default();
    app.login("wangxm", PW, "203.0.113.81", &mut jar).await;
    let r = app.get("/apps/A1", &jar).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("無法開啟此系統"));
    assert!(
        !r.body.contains("apps.ecpa.example/A1"),
        "a refused system's address is not revealed"
    );
    let api = app
        .api("/api/open_app", &[("code", "A1")], "203.0.113.81", &jar)
        .await;
    assert_eq!(
        serde_json::from_str::<ecpa_app::error::ApiError>(&api.body).unwrap(),
        ecpa_app::error::ApiError::Forbidden
    );
    let ok = app.get("/apps/B1", &jar).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("https://apps.ecpa.example/B1"));
    assert_eq!(
        app.get("/apps/NOPE", &jar).await.status,
        StatusCode::NOT_FOUND
    );

    let mut officer = Jar::default();
    app.login("linmh", PW, "203.0.113.82", &mut officer).await;
    let r = app.get("/apps/A1", &officer).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("https://apps.ecpa.example/A1"));

    // Signed out: sent to sign in first.
    let r = app.get("/apps/A1", &Jar::default()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'app.open' AND outcome = 'forbidden'"
        )
        .await,
        2
    );
}

async fn rights_start_the_day_after_ingestion(app: TestApp) {
    let mut jar = Jar::default();
    app.login("wuzh", PW, "203.0.113.83", &mut jar).await;
    assert_eq!(
        app.get("/apps/A1", &jar).await.status,
        StatusCode::FORBIDDEN
    );
    // Move to 00:00:01 tomorrow, Taipei time.
    let now = OffsetDateTime::now_utc().to_offset(ecpa_domain::tz::TAIPEI);
    let midnight = (now.date() + Duration::days(1))
        .midnight()
        .assume_offset(ecpa_domain::tz::TAIPEI);
    app.advance(midnight - now + Duration::seconds(1));
    let mut jar = Jar::default();
    app.login("wuzh", PW, "203.0.113.83", &mut jar).await;
    assert_eq!(app.get("/apps/A1", &jar).await.status, StatusCode::OK);
}

//! Demo data for a fresh database: agencies, people with their Table 2 records, accounts
//! for the personas the flows need, to-dos and the application catalog. `make run` loads it
//! when the database is new; the README lists the accounts.
//!
//! The personnel records go through the real importer (as a CSV batch `demo-seed`).

use ecpa_domain::content::Category;

use crate::{
    catalog::{self, AppSystem, Todo},
    error::{Result, ServerError},
    personnel::{agencies, import},
    portal::Portal,
};

/// The shared demo password. It meets the password policy; it is public, so demo data
/// must never be loaded into a production database.
pub const DEMO_PASSWORD: &str = "Ecpa-Demo-2026";

pub struct DemoAgency {
    pub code: &'static str,
    pub name: &'static str,
    pub oid: &'static str,
    pub parent: &'static str,
}

pub const DEMO_AGENCIES: &[DemoAgency] = &[
    DemoAgency {
        code: "301000000A",
        name: "行政院",
        oid: "2.16.886.101.20003",
        parent: "",
    },
    DemoAgency {
        code: "376000000A",
        name: "行政院人事行政總處",
        oid: "2.16.886.101.20003.20006",
        parent: "301000000A",
    },
    DemoAgency {
        code: "315000000H",
        name: "交通部",
        oid: "2.16.886.101.20003.20065",
        parent: "301000000A",
    },
    DemoAgency {
        code: "315200000H",
        name: "交通部公路局",
        oid: "2.16.886.101.20003.20065.20021",
        parent: "315000000H",
    },
];

pub struct DemoPerson {
    pub account: Option<&'static str>,
    pub name: &'static str,
    pub national_id: &'static str,
    pub agency: &'static str,
    pub unit: &'static str,
    pub title: &'static str,
    pub staff: &'static str,
    pub duty: &'static str,
    pub status: &'static str,
    pub departed_on: &'static str,
    /// Empty: ingested on the day the demo data is loaded.
    pub ingested_on: &'static str,
    pub note: &'static str,
}

pub const DEMO_PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        account: Some("wangxm"),
        name: "王小明",
        national_id: "A123456789",
        agency: "315200000H",
        unit: "秘書室",
        title: "科員",
        staff: "01",
        duty: "",
        status: "現職",
        departed_on: "",
        ingested_on: "115/01/15",
        note: "一般同仁",
    },
    DemoPerson {
        account: Some("linmh"),
        name: "林美華",
        national_id: "F228000104",
        agency: "376000000A",
        unit: "綜合規劃處",
        title: "專員",
        staff: "08",
        duty: "",
        status: "現職",
        departed_on: "",
        ingested_on: "115/01/15",
        note: "人事人員（人員區分 08）",
    },
    DemoPerson {
        account: Some("huangsf"),
        name: "黃淑芬",
        national_id: "H226310029",
        agency: "315000000H",
        unit: "人事室",
        title: "科員",
        staff: "01",
        duty: "",
        status: "現職",
        departed_on: "",
        ingested_on: "115/03/02",
        note: "人事人員（服務單位 人事室）",
    },
    DemoPerson {
        account: Some("liujh"),
        name: "劉家豪",
        national_id: "E121900037",
        agency: "315200000H",
        unit: "總務處",
        title: "技正",
        staff: "02",
        duty: "5",
        status: "現職",
        departed_on: "",
        ingested_on: "115/03/02",
        note: "人事人員（兼職性質 5 兼辦人事）",
    },
    DemoPerson {
        account: Some("chenzw"),
        name: "陳志偉",
        national_id: "B120240011",
        agency: "315000000H",
        unit: "企劃處",
        title: "視察",
        staff: "03",
        duty: "",
        status: "現職",
        departed_on: "",
        ingested_on: "114/12/20",
        note: "一般同仁",
    },
    DemoPerson {
        account: Some("zhangyt"),
        name: "張雅婷",
        national_id: "D223450040",
        agency: "315000000H",
        unit: "人事室",
        title: "科員",
        staff: "08",
        duty: "",
        status: "卸職",
        departed_on: "115/06/30",
        ingested_on: "115/07/01",
        note: "已卸職",
    },
    DemoPerson {
        account: Some("wuzh"),
        name: "吳宗翰",
        national_id: "S127770052",
        agency: "376000000A",
        unit: "人事室",
        title: "科員",
        staff: "08",
        duty: "",
        status: "現職",
        departed_on: "",
        ingested_on: "",
        note: "人事人員，今日入檔（明日起可使用）",
    },
    DemoPerson {
        account: None,
        name: "李志明",
        national_id: "N126550061",
        agency: "315200000H",
        unit: "資訊室",
        title: "科員",
        staff: "01",
        duty: "",
        status: "現職",
        departed_on: "",
        ingested_on: "115/01/15",
        note: "在人事資料庫中，尚無帳號",
    },
];

pub const DEMO_BATCH: &str = "demo-seed";

fn app(
    code: &str,
    name: &str,
    group: (&str, &str),
    personnel_only: bool,
    sort_order: i64,
) -> AppSystem {
    AppSystem {
        code: code.into(),
        name: name.into(),
        group_code: group.0.into(),
        group_name: group.1.into(),
        // Each system is run by its own agency; these are placeholders to be replaced by
        // the real addresses in the catalog of a deployment.
        url: format!("https://apps.ecpa.example/{code}"),
        personnel_only,
        sort_order,
        description: None,
    }
}

/// The application catalog of the seed's screen.
pub fn catalog() -> Vec<AppSystem> {
    let a = ("A", "人事資料填報及考核");
    let b = ("B", "個人服務");
    let c = ("C", "薪資及待遇");
    vec![
        app(
            "A1.1",
            "人事資料報送查詢(僅供查詢99.1.15前入檔紀錄)",
            a,
            true,
            1,
        ),
        app("A1", "人事資料報送服務網", a, true, 2),
        app("A2", "人力資源管理系統", a, true, 3),
        app("A3", "公教人員待遇管理系統", a, true, 4),
        app("A4", "調查表系統", a, true, 5),
        app("A5", "技工工友履歷及考核線上填報系統", a, true, 6),
        app("B1", "個人資料查詢", b, false, 1),
        app("B2", "終身學習入口網", b, false, 2),
        app("B3", "公務人員待遇查詢", b, false, 3),
        app("C1", "機關薪資及待遇管理系統", c, true, 1),
    ]
}

fn personnel_csv() -> String {
    let mut s = String::from("身分證統一編號,姓名,電子郵件,機關代碼,服務單位,職稱,人員區分,兼職性質,在職狀態,卸職日期,入檔日期\n");
    for p in DEMO_PEOPLE {
        let email = p
            .account
            .map(|a| format!("{a}@demo.ecpa.test"))
            .unwrap_or_default();
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            p.national_id,
            p.name,
            email,
            p.agency,
            p.unit,
            p.title,
            p.staff,
            p.duty,
            p.status,
            p.departed_on,
            p.ingested_on
        ));
    }
    s
}

/// Loads what is missing of the demo data; returns how many accounts were added.
pub async fn seed(portal: &Portal) -> Result<usize> {
    let pool = &portal.db.pool;
    let now = portal.now();
    crate::content::defaults::ensure_defaults(pool, now).await?;
    let mut tx = pool.begin().await?;
    for a in DEMO_AGENCIES {
        let agency = agencies::validate(a.code, a.name, a.oid, a.parent)
            .map_err(|e| ServerError::Invalid(format!("demo agency {}: {e:?}", a.code)))?;
        agencies::upsert(&mut tx, &agency, crate::db::ms(now)).await?;
    }
    tx.commit().await?;

    let dir = tempfile_dir()?;
    let csv = dir.join("demo-personnel.csv");
    std::fs::write(&csv, personnel_csv())?;
    let opts = import::ImportOptions {
        batch_id: Some(DEMO_BATCH.into()),
        ..Default::default()
    };
    let imported = import::import_personnel(&portal.db, &csv, &opts, now).await;
    let _ = std::fs::remove_dir_all(&dir);
    imported.map_err(|e| ServerError::Invalid(format!("demo personnel import: {e}")))?;

    for s in catalog() {
        catalog::upsert_system(pool, &s).await?;
    }

    let mut added = 0;
    for p in DEMO_PEOPLE {
        let Some(name) = p.account else { continue };
        let id = match crate::auth::store::account_by_name(pool, name).await? {
            Some(a) => a.id,
            None => {
                added += 1;
                portal
                    .create_account(
                        name,
                        p.name,
                        Some(&format!("{name}@demo.ecpa.test")),
                        DEMO_PASSWORD,
                    )
                    .await?
            }
        };
        portal.link_person(&id, p.national_id).await?;
        catalog::ensure_todo(
            pool,
            &id,
            &Todo {
                kind: catalog::TODO_NATURAL_CERT.into(),
                title: "尚未上傳自然人憑證".into(),
                link: Some("/login/certificate".into()),
                due_on: None,
            },
            now,
        )
        .await?;
        let officer = p.staff == "08" || p.unit.contains("人事") || p.duty == "5";
        let survey = if officer {
            Todo {
                kind: "survey:2026-hr".into(),
                title: "填報 115 年度機關人力資源調查表".into(),
                link: Some("/apps/A4".into()),
                due_on: Some("2026-12-15".into()),
            }
        } else {
            Todo {
                kind: "survey:2026-learning".into(),
                title: "填報 115 年度終身學習時數".into(),
                link: Some("/apps/B2".into()),
                due_on: Some("2026-12-31".into()),
            }
        };
        catalog::ensure_todo(pool, &id, &survey, now).await?;
    }

    if crate::auth::store::account_by_name(pool, DEMO_ADMIN)
        .await?
        .is_none()
    {
        added += 1;
        portal
            .create_account(
                DEMO_ADMIN,
                "系統管理員",
                Some("ecpaadmin@demo.ecpa.test"),
                DEMO_PASSWORD,
            )
            .await?;
        portal.set_admin(DEMO_ADMIN, true).await?;
    }

    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM announcements")
        .fetch_one(pool)
        .await?;
    if have == 0 {
        let today = ecpa_domain::tz::taipei_date(now);
        // Oldest first, so ids follow publication order.
        for (cat, title, body, days, hot) in DEMO_ANNOUNCEMENTS.iter().rev() {
            let text = crate::content::store::AnnouncementText {
                category: *cat,
                title,
                body_html: body,
                published_on: today - time::Duration::days(*days),
                hot: *hot,
            };
            crate::content::store::insert_announcement(pool, &text, None, now).await?;
        }
    }
    Ok(added)
}

/// The demo administrator (no registry record: it only keeps the portal's content).
pub const DEMO_ADMIN: &str = "ecpaadmin";

/// Demo announcements: (category, title, body, days before today, HOT).
pub const DEMO_ANNOUNCEMENTS: &[(Category, &str, &str, i64, bool)] = &[
    (Category::Vacancy, "國立南科國際實驗高級中學98學年度第1次職員(教務處助理員)甄選", "<p>本校辦理職員（教務處助理員）甄選，報名資格、甄選方式及報名期間詳見附件簡章。</p><p>聯絡單位：本校人事室。</p>", 1, true),
    (Category::Vacancy, "臺中市西區大勇國民小學98學年度第2學期第1次代理教師甄選公告", "<p>甄選代理教師 2 名，請於期限內至本校教務處報名。</p>", 2, true),
    (Category::General, "國立臺北藝術大學徵人事行政專員1人", "<p>徵求人事行政專員 1 人，具公務人員任用資格者優先。履歷請寄本校人事室。</p>", 3, true),
    (Category::System, "eCPA正式啓用", "<p>eCPA人事服務網正式上線，請以帳號密碼、自然人憑證或機關憑證登入。</p>", 4, false),
    (Category::System, "憑證登入讀卡元件更新說明", "<p>讀卡元件已更新，支援 HiPKI 跨平台網頁元件協定。第一次使用請依<a href=\"/help/start#agent\">新手上路</a>說明安裝並信任本網站。</p>", 5, false),
    (Category::General, "本局人事室公告：115年度公務人員終身學習時數填報", "<p>請各機關同仁於 115 年 12 月 31 日前完成終身學習時數填報。</p>", 6, false),
    (Category::Regulation, "公務人員請假規則部分條文修正", "<p>修正條文自發布日施行，重點為家庭照顧假及生理假之規定，請各機關人事單位轉知所屬。</p>", 8, false),
    (Category::Event, "115年度人事人員專業訓練報名", "<p>人事行政總處公務人力發展學院辦理人事人員專業訓練，請於線上報名。</p>", 9, false),
    (Category::Vacancy, "交通部公路局徵求約僱人員2名", "<p>工作內容：公路監理業務行政支援。工作地點：臺北市。</p>", 10, false),
    (Category::General, "人事資料報送服務網（A1）系統維護通知", "<p>A1 系統將於週六 08:00 至 12:00 進行維護，期間暫停服務。</p>", 11, false),
    (Category::Regulation, "公務人員陞遷法施行細則修正發布", "<p>請各機關依修正後規定辦理陞遷作業。</p>", 13, false),
    (Category::Event, "人事業務研討會（北區場）", "<p>研討主題：數位人事服務與憑證應用，歡迎各機關人事人員參加。</p>", 15, false),
    (Category::General, "公教人員保險給付作業說明", "<p>公保業務請至公保業務區查詢。</p>", 18, false),
    (Category::Vacancy, "行政院人事行政總處人事室徵求科員1名", "<p>職務列等：委任第五職等至薦任第七職等。請備妥履歷寄至本處人事室。</p>", 20, false),
    (Category::System, "密碼原則調整：至少 10 個字元", "<p>為提升帳號安全，新設定之密碼須至少 10 個字元，並包含大小寫字母、數字、符號中至少 3 種。忘記密碼可於首頁申請重設。</p>", 25, false),
    (Category::General, "機關組織調整資料更新", "<p>機關組織資料已依最新組織調整更新，請至機關組織頁面查詢。</p>", 30, false),
];

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ecpa-demo-{}", crate::tokens::row_id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub fn describe() -> String {
    let mut s = format!("Demo accounts (password for all: {DEMO_PASSWORD})\n");
    for p in DEMO_PEOPLE {
        if let Some(a) = p.account {
            s.push_str(&format!("  {a:<8} {}（{}）\n", p.name, p.note));
        }
    }
    s.push_str(&format!(
        "  {DEMO_ADMIN:<8} 系統管理員（管理公告、投票、連結、常見問題、應用系統）\n"
    ));
    s
}

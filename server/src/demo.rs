//! Demo data for a fresh database: agencies, people with their Table 2 records, accounts
//! for the personas the flows need, to-dos and the application catalog. `make run` loads it
//! when the database is new; the README lists the accounts.
//!
//! The personnel records go through the real importer (as a CSV batch `demo-seed`).

use crate::{
    catalog::{self, AppSystem, Todo},
    error::{Result, ServerError},
    personnel::{agencies, import},
    service::Portal,
    store,
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
        let id = match store::account_by_name(pool, name).await? {
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
    Ok(added)
}

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
    s
}

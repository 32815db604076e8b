//! Demo data for a fresh database: a few accounts a newcomer can sign in with.
//! The README lists them; `make run` seeds them when the database is new.

use crate::{error::Result, service::Portal, store};

pub struct DemoAccount {
    pub name: &'static str,
    pub display_name: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub note: &'static str,
}

/// The shared demo password. It meets the password policy; it is public, so demo data
/// must never be loaded into a production database.
pub const DEMO_PASSWORD: &str = "Ecpa-Demo-2026";

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        name: "wangxm",
        display_name: "王小明",
        email: "wangxm@demo.ecpa.test",
        password: DEMO_PASSWORD,
        note: "一般同仁",
    },
    DemoAccount {
        name: "linmh",
        display_name: "林美華",
        email: "linmh@demo.ecpa.test",
        password: DEMO_PASSWORD,
        note: "人事人員",
    },
    DemoAccount {
        name: "chenzw",
        display_name: "陳志偉",
        email: "chenzw@demo.ecpa.test",
        password: DEMO_PASSWORD,
        note: "一般同仁",
    },
];

/// Inserts the demo accounts that do not exist yet; returns how many were added.
pub async fn seed(portal: &Portal) -> Result<usize> {
    let mut added = 0;
    for a in DEMO_ACCOUNTS {
        if store::account_by_name(&portal.db.pool, a.name)
            .await?
            .is_none()
        {
            portal
                .create_account(a.name, a.display_name, Some(a.email), a.password)
                .await?;
            added += 1;
        }
    }
    Ok(added)
}

pub fn describe() -> String {
    let mut s = String::from("Demo accounts (password for all: ");
    s.push_str(DEMO_PASSWORD);
    s.push_str(")\n");
    for a in DEMO_ACCOUNTS {
        s.push_str(&format!(
            "  {:<8} {}（{}）\n",
            a.name, a.display_name, a.note
        ));
    }
    s
}

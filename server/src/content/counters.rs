//! The home page counters (online now, signed in today, sign-ins in all): written with
//! each sign-in, read by three indexed counts, cached per instance for [`STATS_TTL`].

use crate::batch::Stmt;
use crate::{db::ms, error::Result};
use ecpa_app::api::content::HomeStats;
use ecpa_domain::tz;
use sqlx::AnyPool;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// The home page counters are recomputed at most this often (per server instance).
pub const STATS_TTL: Duration = Duration::seconds(15);
/// "Online" means a signed-in session seen within this window.
pub const ONLINE_WINDOW: Duration = Duration::minutes(10);
pub const COUNTER_SIGN_INS: &str = "sign_ins_total";

/// Per-instance cache of the home page counters.
#[derive(Default)]
pub struct StatsCache(Mutex<Option<(OffsetDateTime, HomeStats)>>);

impl StatsCache {
    /// The counters taken less than [`STATS_TTL`] before `now`, if any.
    pub fn fresh(&self, now: OffsetDateTime) -> Option<HomeStats> {
        let guard = self.0.lock().ok()?;
        let (at, s) = guard.as_ref()?;
        (now - *at < STATS_TTL && now >= *at).then(|| s.clone())
    }

    pub fn keep(&self, now: OffsetDateTime, stats: HomeStats) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((now, stats));
        }
    }
}

/// The writes that count a sign-in: one row per account and Taipei day, and the total.
/// Both statements are atomic in the database, so several instances count correctly.
pub fn record_sign_in(account_id: &str, now: OffsetDateTime) -> [Stmt; 2] {
    [
        Stmt::new(
            "INSERT INTO daily_sign_ins (day, account_id, first_at) VALUES ($1, $2, $3) \
             ON CONFLICT (day, account_id) DO NOTHING",
            vec![
                tz::taipei_date(now).to_string().into(),
                account_id.into(),
                ms(now).into(),
            ],
        ),
        Stmt::new(
            "UPDATE counters SET value = value + 1 WHERE name = $1",
            vec![COUNTER_SIGN_INS.into()],
        ),
    ]
}

/// The counters now, from three indexed reads (never a scan of the audit log).
pub async fn compute_stats(pool: &AnyPool, now: OffsetDateTime) -> Result<HomeStats> {
    let online: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE last_seen_at >= $1 AND expires_at > $2 \
         AND account_id IS NOT NULL",
    )
    .bind(ms(now - ONLINE_WINDOW))
    .bind(ms(now))
    .fetch_one(pool)
    .await?;
    let today: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM daily_sign_ins WHERE day = $1")
        .bind(tz::taipei_date(now).to_string())
        .fetch_one(pool)
        .await?;
    let total: Option<i64> = sqlx::query_scalar("SELECT value FROM counters WHERE name = $1")
        .bind(COUNTER_SIGN_INS)
        .fetch_optional(pool)
        .await?;
    let local = now.to_offset(tz::TAIPEI);
    Ok(HomeStats {
        online,
        today,
        total: total.unwrap_or(0),
        as_of: format!(
            "{:02}:{:02}:{:02}",
            local.hour(),
            local.minute(),
            local.second()
        ),
    })
}

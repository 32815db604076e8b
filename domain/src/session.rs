//! When a signed-in session is still good.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// A session unused for this long ends (default 30 minutes).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (default 12 hours).
    pub absolute_timeout: Duration,
    /// `last_seen` is written back at most this often, so browsing is not a write per page.
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
            touch_interval: Duration::seconds(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Valid; `touch` says whether `last_seen` should be written back now.
    Active {
        touch: bool,
    },
    IdleExpired,
    AbsoluteExpired,
}

impl SessionPolicy {
    pub fn state(
        &self,
        created: OffsetDateTime,
        last_seen: OffsetDateTime,
        now: OffsetDateTime,
    ) -> SessionState {
        if now - created >= self.absolute_timeout {
            SessionState::AbsoluteExpired
        } else if now - last_seen >= self.idle_timeout {
            SessionState::IdleExpired
        } else {
            SessionState::Active {
                touch: now - last_seen >= self.touch_interval,
            }
        }
    }

    /// The instant after which the session can be deleted whatever happens.
    pub fn hard_expiry(&self, created: OffsetDateTime) -> OffsetDateTime {
        created + self.absolute_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    proptest! {
        #[test]
        fn active_exactly_within_both_limits(age_s in 0i64..100_000, idle_s in 0i64..100_000) {
            let p = SessionPolicy::default();
            let now = datetime!(2026-11-26 12:00 UTC);
            let created = now - Duration::seconds(age_s);
            let last_seen = now - Duration::seconds(idle_s.min(age_s));
            let st = p.state(created, last_seen, now);
            let active = matches!(st, SessionState::Active { .. });
            prop_assert_eq!(active, age_s < 12 * 3600 && idle_s.min(age_s) < 30 * 60);
            if age_s >= 12 * 3600 {
                prop_assert_eq!(st, SessionState::AbsoluteExpired);
            }
        }
    }
}

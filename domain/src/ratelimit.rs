//! Request rate limits (GCRA, the "generic cell rate algorithm"): a burst, then one
//! request per period. The state of a key is one number, its theoretical arrival time
//! (TAT, milliseconds); "now" is passed in.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Milliseconds between requests in the long run.
    pub period_ms: i64,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

impl Quota {
    /// `per_minute` requests a minute on average, `burst` at once.
    pub const fn per_minute(per_minute: i64, burst: u32) -> Self {
        Self {
            period_ms: 60_000 / per_minute,
            burst,
        }
    }

    /// Decides a request at `now_ms` for a key whose state is `tat` (`None`: never seen).
    /// `Ok(new_tat)` admits it (store the new state); `Err(retry_after_ms)` refuses it
    /// (state unchanged).
    pub fn check(&self, tat: Option<i64>, now_ms: i64) -> Result<i64, i64> {
        let period = self.period_ms.max(1);
        let tolerance = period * i64::from(self.burst.max(1) - 1);
        let tat = tat.unwrap_or(now_ms).max(now_ms);
        let allow_at = tat - tolerance;
        if now_ms < allow_at {
            Err(allow_at - now_ms)
        } else {
            Ok(tat + period)
        }
    }

    /// After this long without requests a key's state no longer matters (it can be
    /// forgotten).
    pub fn idle_ms(&self) -> i64 {
        self.period_ms.max(1) * i64::from(self.burst.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn burst_then_steady() {
        let q = Quota::per_minute(60, 3); // one a second, three at once
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(q.check(tat, 0).unwrap_or_else(|_| panic!("burst")));
        }
        assert_eq!(q.check(tat, 0), Err(1000));
        assert!(q.check(tat, 999).is_err());
        let t = q
            .check(tat, 1000)
            .unwrap_or_else(|_| panic!("after a period"));
        assert!(q.check(Some(t), 1000).is_err());
        // Idle long enough: a full burst again.
        let mut tat = Some(t);
        for _ in 0..3 {
            tat = Some(
                q.check(tat, 1000 + q.idle_ms())
                    .unwrap_or_else(|_| panic!("refilled")),
            );
        }
    }

    proptest! {
        /// Over any stretch of time, no more than burst + elapsed / period requests pass.
        #[test]
        fn never_more_than_the_quota(
            per_minute in 1i64..600,
            burst in 1u32..20,
            gaps in proptest::collection::vec(0i64..3000, 1..300),
        ) {
            let q = Quota::per_minute(per_minute, burst);
            let mut tat = None;
            let mut now = 0i64;
            let mut admitted: Vec<i64> = Vec::new();
            for g in gaps {
                now += g;
                match q.check(tat, now) {
                    Ok(t) => { tat = Some(t); admitted.push(now); }
                    Err(wait) => prop_assert!(wait > 0 && wait <= q.period_ms * i64::from(burst)),
                }
            }
            for (i, start) in admitted.iter().enumerate() {
                for (j, end) in admitted.iter().enumerate().skip(i) {
                    let n = (j - i + 1) as i64;
                    let allowed = i64::from(burst) + (end - start) / q.period_ms;
                    prop_assert!(n <= allowed, "{n} in {}ms (quota {allowed})", end - start);
                }
            }
        }

        /// A client that waits as told is always admitted.
        #[test]
        fn waiting_as_told_works(per_minute in 1i64..600, burst in 1u32..20, n in 1usize..50) {
            let q = Quota::per_minute(per_minute, burst);
            let mut tat = None;
            let mut now = 0;
            for _ in 0..n {
                match q.check(tat, now) {
                    Ok(t) => tat = Some(t),
                    Err(wait) => {
                        now += wait;
                        let t = q.check(tat, now);
                        prop_assert!(t.is_ok());
                        tat = t.ok();
                    }
                }
            }
        }
    }
}

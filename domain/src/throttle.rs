//! Password-guessing throttle.
//!
//! Three rules, each aimed at a different attacker, none of which lets an attacker lock the
//! real owner out:
//!
//! 1. **Client**: a client (an IP address) with too many failed sign-ins across all
//!    accounts in a window is refused for a while. Stops one machine spraying many accounts.
//! 2. **Pair**: after repeated consecutive failures of one (account, client) pair within an
//!    hour, that pair is refused for a while after the last of them. The owner on any other client is unaffected.
//! 3. **Account**: failures on an account from clients that never signed in to it
//!    ("untrusted") impose rising delays between attempts, and never more than
//!    [`ThrottlePolicy::account_hourly_cap`] such failures in any rolling hour. Stops
//!    distributed guessing at one account. A client that has signed in to the account before
//!    (a trusted-device cookie) is exempt from this rule, so a guessing campaign cannot keep
//!    the owner out; the owner can also always use a certificate.
//!
//! Rules are keyed by the *submitted* account name, so an unknown account is throttled
//! exactly like a real one and the throttle reveals nothing about which accounts exist.
//! The caller records every attempt (including in-flight ones as [`AttemptOutcome::Pending`],
//! which count as failures) and passes this account's attempts of the last hour.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottlePolicy {
    pub pair_max_failures: u32,
    pub pair_block: Duration,
    pub client_max_failures: u32,
    pub client_window: Duration,
    pub account_free_failures: u32,
    pub account_base_delay: Duration,
    pub account_max_delay: Duration,
    pub account_hourly_cap: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            pair_max_failures: 5,
            pair_block: Duration::minutes(15),
            // Generous: a whole agency may sit behind one NAT address.
            client_max_failures: 50,
            client_window: Duration::minutes(15),
            account_free_failures: 3,
            account_base_delay: Duration::seconds(2),
            account_max_delay: Duration::seconds(30),
            account_hourly_cap: 100,
        }
    }
}

pub const ACCOUNT_WINDOW: Duration = Duration::HOUR;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    Success,
    Failure,
    /// Recorded before the password is checked; counts as a failure until resolved, so
    /// concurrent attempts cannot slip past the limits.
    Pending,
    /// Refused by this throttle without checking a password.
    Throttled,
}

impl AttemptOutcome {
    fn is_failure(self) -> bool {
        matches!(self, AttemptOutcome::Failure | AttemptOutcome::Pending)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: OffsetDateTime,
    pub client: String,
    /// The client held a trusted-device credential for this account at the time.
    pub trusted: bool,
    pub outcome: AttemptOutcome,
}

#[derive(Debug, Clone, Copy)]
pub struct ThrottleInput<'a> {
    pub now: OffsetDateTime,
    pub client: &'a str,
    pub trusted_client: bool,
    /// This account's attempts of the last [`ACCOUNT_WINDOW`] (any order), not including
    /// the attempt being decided.
    pub account_attempts: &'a [Attempt],
    /// Failures (and pending attempts) by this client on any account within
    /// [`ThrottlePolicy::client_window`], not including the attempt being decided.
    pub client_failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleReason {
    Client,
    Pair,
    AccountDelay,
    AccountHourlyCap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleDecision {
    Allow,
    Deny {
        reason: ThrottleReason,
        retry_after: Duration,
    },
}

impl ThrottlePolicy {
    /// The wait imposed after `failures` untrusted failures in the window.
    pub fn account_delay(&self, failures: u32) -> Duration {
        if failures < self.account_free_failures {
            return Duration::ZERO;
        }
        let exp = (failures - self.account_free_failures).min(30);
        let d = self.account_base_delay * (1i64 << exp) as f64;
        d.min(self.account_max_delay)
    }

    pub fn decide(&self, input: &ThrottleInput<'_>) -> ThrottleDecision {
        let now = input.now;
        let at_least_1s = |d: Duration| d.max(Duration::SECOND);

        // 1. Client.
        if input.client_failures >= self.client_max_failures {
            return ThrottleDecision::Deny {
                reason: ThrottleReason::Client,
                retry_after: self.client_window,
            };
        }

        // 2. Pair: the client's consecutive failures since its last success (within the
        //    hour of history); blocked for `pair_block` after the last of them.
        let mut pair: Vec<&Attempt> = input
            .account_attempts
            .iter()
            .filter(|a| a.client == input.client && now - a.at < ACCOUNT_WINDOW)
            .filter(|a| a.outcome != AttemptOutcome::Throttled)
            .collect();
        pair.sort_by_key(|a| a.at);
        let consecutive: Vec<&&Attempt> = pair
            .iter()
            .rev()
            .take_while(|a| a.outcome.is_failure())
            .collect();
        let last = consecutive.first().map(|a| a.at).unwrap_or(now);
        if consecutive.len() as u32 >= self.pair_max_failures && now - last < self.pair_block {
            return ThrottleDecision::Deny {
                reason: ThrottleReason::Pair,
                retry_after: at_least_1s(last + self.pair_block - now),
            };
        }

        // 3. Account, for untrusted clients only.
        if input.trusted_client {
            return ThrottleDecision::Allow;
        }
        let mut failures: Vec<OffsetDateTime> = input
            .account_attempts
            .iter()
            .filter(|a| !a.trusted && a.outcome.is_failure() && now - a.at < ACCOUNT_WINDOW)
            .map(|a| a.at)
            .collect();
        failures.sort();
        let f = failures.len() as u32;
        if f >= self.account_hourly_cap {
            // Room again when enough of the oldest failures leave the window.
            let idx = (f - self.account_hourly_cap) as usize;
            let frees_at = failures.get(idx).copied().unwrap_or(now) + ACCOUNT_WINDOW;
            return ThrottleDecision::Deny {
                reason: ThrottleReason::AccountHourlyCap,
                retry_after: at_least_1s(frees_at - now),
            };
        }
        let delay = self.account_delay(f);
        if let Some(last) = failures.last() {
            if delay > Duration::ZERO && now < *last + delay {
                return ThrottleDecision::Deny {
                    reason: ThrottleReason::AccountDelay,
                    retry_after: at_least_1s(*last + delay - now),
                };
            }
        }
        ThrottleDecision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-26 08:00 UTC);

    /// A simulated world: the throttle plus the attempt log the server would keep.
    struct Sim {
        policy: ThrottlePolicy,
        log: Vec<Attempt>,
    }

    impl Sim {
        fn new(policy: ThrottlePolicy) -> Self {
            Self {
                policy,
                log: vec![],
            }
        }

        fn attempt(
            &mut self,
            now: OffsetDateTime,
            client: &str,
            trusted: bool,
            correct: bool,
        ) -> ThrottleDecision {
            let window: Vec<Attempt> = self
                .log
                .iter()
                .filter(|a| now - a.at < ACCOUNT_WINDOW)
                .cloned()
                .collect();
            let client_failures = self
                .log
                .iter()
                .filter(|a| {
                    a.client == client
                        && a.outcome.is_failure()
                        && now - a.at < self.policy.client_window
                })
                .count() as u32;
            let d = self.policy.decide(&ThrottleInput {
                now,
                client,
                trusted_client: trusted,
                account_attempts: &window,
                client_failures,
            });
            let outcome = match d {
                ThrottleDecision::Allow if correct => AttemptOutcome::Success,
                ThrottleDecision::Allow => AttemptOutcome::Failure,
                ThrottleDecision::Deny { .. } => AttemptOutcome::Throttled,
            };
            self.log.push(Attempt {
                at: now,
                client: client.to_string(),
                trusted,
                outcome,
            });
            d
        }

        fn max_untrusted_failures_in_any_hour(&self) -> usize {
            let fails: Vec<OffsetDateTime> = self
                .log
                .iter()
                .filter(|a| !a.trusted && a.outcome.is_failure())
                .map(|a| a.at)
                .collect();
            fails
                .iter()
                .map(|start| {
                    fails
                        .iter()
                        .filter(|t| **t >= *start && **t - *start < ACCOUNT_WINDOW)
                        .count()
                })
                .max()
                .unwrap_or(0)
        }
    }

    #[test]
    fn first_failures_are_free_then_delays_rise() {
        let p = ThrottlePolicy::default();
        let mut s = Sim::new(p);
        for i in 0..3 {
            assert_eq!(
                s.attempt(
                    T0 + Duration::seconds(i),
                    &format!("10.0.0.{i}"),
                    false,
                    false
                ),
                ThrottleDecision::Allow
            );
        }
        // 4th immediately: delayed by the base delay.
        assert!(matches!(
            s.attempt(T0 + Duration::seconds(3), "10.0.0.9", false, false),
            ThrottleDecision::Deny {
                reason: ThrottleReason::AccountDelay,
                ..
            }
        ));
        assert_eq!(
            s.attempt(T0 + Duration::seconds(5), "10.0.0.9", false, false),
            ThrottleDecision::Allow
        );
        let delays: Vec<i64> = (0..12)
            .map(|f| p.account_delay(f).whole_seconds())
            .collect();
        assert_eq!(delays, vec![0, 0, 0, 2, 4, 8, 16, 30, 30, 30, 30, 30]);
    }

    #[test]
    fn pair_block_spares_the_owner_elsewhere() {
        let mut s = Sim::new(ThrottlePolicy::default());
        let mut t = T0;
        // Attacker fails 5 times, respecting the account delay.
        for _ in 0..5 {
            t += Duration::seconds(40);
            assert_eq!(
                s.attempt(t, "attacker", false, false),
                ThrottleDecision::Allow
            );
        }
        t += Duration::seconds(40);
        assert!(matches!(
            s.attempt(t, "attacker", false, false),
            ThrottleDecision::Deny {
                reason: ThrottleReason::Pair,
                ..
            }
        ));
        // The owner on their usual (trusted) client signs in at once.
        assert_eq!(
            s.attempt(t, "owner-pc", true, true),
            ThrottleDecision::Allow
        );
    }

    #[derive(Debug, Clone)]
    struct Step {
        gap_ms: i64,
        client: usize,
        correct: bool,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            (0i64..40_000, 0usize..8, prop::bool::weighted(0.05)).prop_map(
                |(gap_ms, client, correct)| Step {
                    gap_ms,
                    client,
                    correct,
                },
            ),
            1..400,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever attackers do, untrusted failures never exceed the hourly cap in any
        /// rolling hour, and the owner on a trusted client is refused only for their own
        /// client's mistakes, never because of what others did.
        #[test]
        fn cap_holds_and_owner_never_locked_out(schedule in steps(), small_cap in 5u32..30) {
            // A small cap and zero delay make the cap, not the delays, the binding rule.
            let policy = ThrottlePolicy {
                account_hourly_cap: small_cap,
                account_base_delay: Duration::ZERO,
                account_max_delay: Duration::ZERO,
                client_max_failures: 10_000,
                pair_max_failures: 10_000,
                ..ThrottlePolicy::default()
            };
            let mut s = Sim::new(policy);
            let mut now = T0;
            for st in &schedule {
                now += Duration::milliseconds(st.gap_ms);
                // Client 0 is the owner's trusted PC and types the right password.
                let trusted = st.client == 0;
                let d = s.attempt(now, &format!("c{}", st.client), trusted, trusted || st.correct);
                if trusted {
                    prop_assert_eq!(d, ThrottleDecision::Allow);
                }
            }
            prop_assert!(s.max_untrusted_failures_in_any_hour() <= small_cap as usize);
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// With the default policy, the cap of 100 untrusted failures per rolling hour holds
        /// against a relentless attacker, and every refusal carries a positive retry time.
        #[test]
        fn default_policy_never_exceeds_100_per_hour(gaps in prop::collection::vec(0i64..3_000, 100..1500), clients in 1usize..40) {
            let mut s = Sim::new(ThrottlePolicy::default());
            let mut now = T0;
            for (i, g) in gaps.iter().enumerate() {
                now += Duration::milliseconds(*g);
                if let ThrottleDecision::Deny { retry_after, .. } = s.attempt(now, &format!("bot{}", i % clients), false, false) {
                    prop_assert!(retry_after >= Duration::SECOND);
                }
            }
            prop_assert!(s.max_untrusted_failures_in_any_hour() <= 100);
        }
    }

    proptest! {

        /// After `pair_max_failures` consecutive failures, the same pair is refused until the
        /// block has passed, and allowed again after it.
        #[test]
        fn pair_block_is_exact(extra_wait_s in 0i64..2000) {
            let p = ThrottlePolicy { account_base_delay: Duration::ZERO, account_max_delay: Duration::ZERO, ..ThrottlePolicy::default() };
            let mut s = Sim::new(p);
            let mut now = T0;
            for _ in 0..p.pair_max_failures {
                now += Duration::seconds(1);
                prop_assert_eq!(s.attempt(now, "x", false, false), ThrottleDecision::Allow);
            }
            let last_failure = now;
            now += Duration::seconds(extra_wait_s);
            let d = s.attempt(now, "x", false, true);
            if now - last_failure < p.pair_block {
                let is_pair = matches!(d, ThrottleDecision::Deny { reason: ThrottleReason::Pair, .. });
                prop_assert!(is_pair);
            } else {
                prop_assert_eq!(d, ThrottleDecision::Allow);
            }
        }

        /// Delays never shrink as failures grow and never pass the maximum.
        #[test]
        fn delays_monotonic(f in 0u32..10_000) {
            let p = ThrottlePolicy::default();
            prop_assert!(p.account_delay(f) <= p.account_delay(f + 1));
            prop_assert!(p.account_delay(f) <= p.account_max_delay);
        }

        /// Pending attempts count as failures: N concurrent in-flight attempts at the cap's
        /// edge cannot all pass.
        #[test]
        fn pending_counts(n in 1u32..20) {
            let p = ThrottlePolicy { account_hourly_cap: 10, account_base_delay: Duration::ZERO, account_max_delay: Duration::ZERO, ..ThrottlePolicy::default() };
            let mut attempts: Vec<Attempt> = (0..9).map(|i| Attempt { at: T0 + Duration::seconds(i), client: format!("b{i}"), trusted: false, outcome: AttemptOutcome::Failure }).collect();
            let now = T0 + Duration::seconds(30);
            let mut allowed = 0;
            for i in 0..n {
                let d = p.decide(&ThrottleInput { now, client: &format!("p{i}"), trusted_client: false, account_attempts: &attempts, client_failures: 0 });
                if d == ThrottleDecision::Allow { allowed += 1; }
                attempts.push(Attempt { at: now, client: format!("p{i}"), trusted: false, outcome: if d == ThrottleDecision::Allow { AttemptOutcome::Pending } else { AttemptOutcome::Throttled } });
            }
            prop_assert!(allowed <= 1);
        }
    }
}

//! Password-guessing throttle.
//!
//! The rules, in the order they are decided, each aimed at a different attacker and none
//! able to lock out someone who is not under attack:
//!
//! 0. **Trusted device first.** A browser that signed in to this account before (a
//!    trusted-device cookie) is decided *before* any per-address rule: whatever others
//!    behind the same address do, the owner's own PC is never refused for it. Its only
//!    limit is its own streak: [`ThrottlePolicy::pair_max_failures`] consecutive failures
//!    from the account's trusted devices block them for [`ThrottlePolicy::pair_block`].
//! 1. **Pair**: consecutive untrusted failures of one (account, client) within the hour
//!    block that pair for `pair_block` after the last of them.
//! 2. **Client**: a client (an address; IPv6 by its /64, see [`client_key`]) with more than
//!    [`ThrottlePolicy::client_max_failures`] failures in its window is refused — but only
//!    on accounts it has itself failed on at least [`ThrottlePolicy::client_account_failures`]
//!    times in that window. Government offices reach the portal through one NAT address for
//!    thousands of staff: a guesser at some accounts among them is slowed there, the others
//!    are not touched. Past [`ThrottlePolicy::client_hard_max_failures`] (a password spray
//!    over many accounts, far above an office's typos) the client's untrusted attempts are
//!    refused on every account until its window has room: the spray is bounded, and
//!    colleagues on untrusted browsers behind that address wait with it (trusted devices
//!    and certificate sign-in do not).
//! 3. **Account**: untrusted failures on an account, from anywhere, impose rising delays
//!    between attempts and never exceed [`ThrottlePolicy::account_hourly_cap`] in any
//!    rolling hour. Stops distributed guessing at one account.
//!
//! Rules are keyed by the *submitted* account name, so an unknown account is throttled
//! exactly like a real one and the throttle reveals nothing about which accounts exist.
//! The caller records every attempt first (as [`AttemptOutcome::Pending`], counted as a
//! failure) and passes exact aggregates of the recorded attempts ([`ThrottleInput`]): a
//! count over all rows, never a window of the newest rows that refused attempts could
//! push older failures out of.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottlePolicy {
    pub pair_max_failures: u32,
    pub pair_block: Duration,
    pub client_max_failures: u32,
    pub client_window: Duration,
    /// Over its budget, a client is refused on an account after this many of its own
    /// failures there in the window (one typo of a colleague is not enough).
    pub client_account_failures: u32,
    /// Over this many failures in its window a client is refused on every account
    /// (untrusted attempts only): the bound on a password spray from one address.
    pub client_hard_max_failures: u32,
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
            client_max_failures: 50,
            client_window: Duration::minutes(15),
            client_account_failures: 2,
            client_hard_max_failures: 500,
            account_free_failures: 3,
            account_base_delay: Duration::seconds(2),
            account_max_delay: Duration::seconds(30),
            account_hourly_cap: 100,
        }
    }
}

pub const ACCOUNT_WINDOW: Duration = Duration::HOUR;

/// What the per-client rules are keyed by: an IPv4 address as it is, an IPv6 address by
/// its /64 (one subscriber or office gets a whole /64 and can use any address in it), an
/// IPv4-mapped IPv6 address as the IPv4 address. Anything else (e.g. `unknown`) as given.
pub fn client_key(addr: &str) -> String {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
        Err(_) => addr.to_string(),
    }
}

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
    pub fn is_failure(self) -> bool {
        matches!(self, AttemptOutcome::Failure | AttemptOutcome::Pending)
    }
}

/// Consecutive failures since the last success (within the hour), and the last of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    pub failures: u32,
    pub last: Option<OffsetDateTime>,
}

/// Failures in a window: how many, the oldest and the newest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub oldest: Option<OffsetDateTime>,
    pub newest: Option<OffsetDateTime>,
}

/// Exact aggregates of the recorded attempts, not including the attempt being decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleInput {
    /// The client holds a trusted-device credential for this account.
    pub trusted_client: bool,
    /// Trusted: the streak of the account's trusted devices; otherwise this client's
    /// untrusted streak on this account.
    pub streak: Streak,
    /// Untrusted failures on this account in the last [`ACCOUNT_WINDOW`].
    pub account: Failures,
    /// Failures by this client (its [`client_key`]) on any account in the client window.
    pub client_failures: u32,
    /// Of those, on this account.
    pub client_failures_here: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleReason {
    Client,
    Pair,
    TrustedDevice,
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

    pub fn decide(&self, now: OffsetDateTime, input: &ThrottleInput) -> ThrottleDecision {
        let at_least_1s = |d: Duration| d.max(Duration::SECOND);
        let streak_block = |reason| {
            let last = input.streak.last.unwrap_or(now);
            (input.streak.failures >= self.pair_max_failures && now - last < self.pair_block).then(
                || ThrottleDecision::Deny {
                    reason,
                    retry_after: at_least_1s(last + self.pair_block - now),
                },
            )
        };

        // 0. The account's trusted devices: only their own streak.
        if input.trusted_client {
            return streak_block(ThrottleReason::TrustedDevice).unwrap_or(ThrottleDecision::Allow);
        }
        // 1. Pair.
        if let Some(d) = streak_block(ThrottleReason::Pair) {
            return d;
        }
        // 2. Client: on the accounts it has been failing on; on all past the hard budget.
        if input.client_failures >= self.client_hard_max_failures
            || (input.client_failures >= self.client_max_failures
                && input.client_failures_here >= self.client_account_failures)
        {
            return ThrottleDecision::Deny {
                reason: ThrottleReason::Client,
                retry_after: self.client_window,
            };
        }
        // 3. Account.
        let f = input.account.count;
        if f >= self.account_hourly_cap {
            // Room again when the oldest failure leaves the window.
            let frees_at = input.account.oldest.unwrap_or(now) + ACCOUNT_WINDOW;
            return ThrottleDecision::Deny {
                reason: ThrottleReason::AccountHourlyCap,
                retry_after: at_least_1s(frees_at - now),
            };
        }
        let delay = self.account_delay(f);
        if let Some(last) = input.account.newest {
            if delay > Duration::ZERO && now < last + delay {
                return ThrottleDecision::Deny {
                    reason: ThrottleReason::AccountDelay,
                    retry_after: at_least_1s(last + delay - now),
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

    #[derive(Debug, Clone)]
    struct Attempt {
        at: OffsetDateTime,
        account: usize,
        /// The client's key ([`client_key`]).
        client: String,
        trusted: bool,
        outcome: AttemptOutcome,
    }

    /// A simulated world: the throttle plus the attempt log the server keeps, aggregated
    /// the way the server's queries aggregate it (`server/src/store.rs`). Indexed by
    /// account and by client key so that an hour of a busy office stays quick.
    struct Sim {
        policy: ThrottlePolicy,
        log: Vec<Attempt>,
        by_account: std::collections::HashMap<usize, Vec<usize>>,
        /// Failures per client key, oldest first.
        client_fails:
            std::collections::HashMap<String, std::collections::VecDeque<(OffsetDateTime, usize)>>,
    }

    impl Sim {
        fn new(policy: ThrottlePolicy) -> Self {
            Self {
                policy,
                log: vec![],
                by_account: Default::default(),
                client_fails: Default::default(),
            }
        }

        fn push(&mut self, mut a: Attempt) {
            a.client = client_key(&a.client);
            if a.outcome.is_failure() {
                self.client_fails
                    .entry(a.client.clone())
                    .or_default()
                    .push_back((a.at, a.account));
            }
            self.by_account
                .entry(a.account)
                .or_default()
                .push(self.log.len());
            self.log.push(a);
        }

        fn input(
            &mut self,
            now: OffsetDateTime,
            account: usize,
            client: &str,
            trusted: bool,
        ) -> ThrottleInput {
            let key = client_key(client);
            let (streak, account_failures) = {
                let mine: Vec<&Attempt> = self
                    .by_account
                    .get(&account)
                    .map(|v| {
                        v.iter()
                            .map(|&i| &self.log[i])
                            .filter(|a| now - a.at < ACCOUNT_WINDOW)
                            .collect()
                    })
                    .unwrap_or_default();
                // The streak: failures after the last success of the same kind of attempt
                // (this client untrusted, or the account's trusted devices).
                let same = |a: &&&Attempt| a.trusted == trusted && (trusted || a.client == key);
                let last_success = mine
                    .iter()
                    .filter(same)
                    .filter(|a| a.outcome == AttemptOutcome::Success)
                    .map(|a| a.at)
                    .max();
                let streak: Vec<OffsetDateTime> = mine
                    .iter()
                    .filter(same)
                    .filter(|a| a.outcome.is_failure() && last_success.is_none_or(|s| a.at > s))
                    .map(|a| a.at)
                    .collect();
                let account_failures: Vec<OffsetDateTime> = mine
                    .iter()
                    .filter(|a| !a.trusted && a.outcome.is_failure())
                    .map(|a| a.at)
                    .collect();
                (streak, account_failures)
            };
            let window = self.policy.client_window;
            let fails = self.client_fails.entry(key).or_default();
            while fails
                .front()
                .is_some_and(|(at, _)| now - *at >= window + Duration::minutes(1))
            {
                fails.pop_front();
            }
            let recent = || fails.iter().filter(|(at, _)| now - *at < window);
            ThrottleInput {
                trusted_client: trusted,
                streak: Streak {
                    failures: streak.len() as u32,
                    last: streak.iter().max().copied(),
                },
                account: Failures {
                    count: account_failures.len() as u32,
                    oldest: account_failures.iter().min().copied(),
                    newest: account_failures.iter().max().copied(),
                },
                client_failures: recent().count() as u32,
                client_failures_here: recent().filter(|(_, a)| *a == account).count() as u32,
            }
        }

        fn attempt_on(
            &mut self,
            now: OffsetDateTime,
            account: usize,
            client: &str,
            trusted: bool,
            correct: bool,
        ) -> ThrottleDecision {
            let input = self.input(now, account, client, trusted);
            let d = self.policy.decide(now, &input);
            let outcome = match d {
                ThrottleDecision::Allow if correct => AttemptOutcome::Success,
                ThrottleDecision::Allow => AttemptOutcome::Failure,
                ThrottleDecision::Deny { .. } => AttemptOutcome::Throttled,
            };
            self.push(Attempt {
                at: now,
                account,
                client: client.to_string(),
                trusted,
                outcome,
            });
            d
        }

        fn attempt(
            &mut self,
            now: OffsetDateTime,
            client: &str,
            trusted: bool,
            correct: bool,
        ) -> ThrottleDecision {
            self.attempt_on(now, 0, client, trusted, correct)
        }

        fn max_untrusted_failures_in_any_hour(&self, account: usize) -> usize {
            let fails: Vec<OffsetDateTime> = self
                .log
                .iter()
                .filter(|a| a.account == account && !a.trusted && a.outcome.is_failure())
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
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(client_key("2001:db8:1:3::1"), client_key("2001:db8:1:2::1"));
        assert_eq!(client_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(client_key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(client_key("unknown"), "unknown");
    }

    /// A /64 is one client: spreading guesses over its addresses gains nothing.
    #[test]
    fn a_64_cannot_spread_its_guesses() {
        let mut s = Sim::new(ThrottlePolicy {
            account_base_delay: Duration::ZERO,
            account_max_delay: Duration::ZERO,
            ..ThrottlePolicy::default()
        });
        let mut t = T0;
        let mut allowed = 0;
        for i in 0..50u32 {
            t += Duration::seconds(1);
            let addr = format!("2001:db8:7:7:{i:x}::1");
            if s.attempt(t, &addr, false, false) == ThrottleDecision::Allow {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5, "the pair rule sees one client");
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

    /// The owner's trusted PC behind the same address as the guesser signs in at once,
    /// even after the guesser used up the pair and client budgets there.
    #[test]
    fn trusted_device_is_decided_before_any_address_rule() {
        let mut s = Sim::new(ThrottlePolicy::default());
        let mut t = T0;
        for i in 0..200 {
            t += Duration::seconds(40);
            s.attempt_on(t, i % 3, "198.51.100.7", false, false);
        }
        assert!(matches!(
            s.attempt(t, "198.51.100.7", false, false),
            ThrottleDecision::Deny { .. }
        ));
        assert_eq!(
            s.attempt(t, "198.51.100.7", true, true),
            ThrottleDecision::Allow
        );
        // Its own streak is its only limit.
        for _ in 0..5 {
            t += Duration::seconds(1);
            assert_eq!(
                s.attempt(t, "198.51.100.7", true, false),
                ThrottleDecision::Allow
            );
        }
        assert!(matches!(
            s.attempt(t, "198.51.100.7", true, true),
            ThrottleDecision::Deny {
                reason: ThrottleReason::TrustedDevice,
                ..
            }
        ));
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

    /// One office behind one address: who signs in when, and how the guesser works.
    #[derive(Debug, Clone)]
    struct Office {
        /// Per colleague: minute of arrival (0..60), trusted device, one typo first.
        colleagues: Vec<(i64, bool, bool)>,
        /// The guesser's targets: one account (a colleague's) or a spray over many.
        spray: bool,
        target: usize,
    }

    fn office() -> impl Strategy<Value = Office> {
        (
            prop::collection::vec(
                (
                    0i64..60,
                    prop::bool::weighted(0.8),
                    prop::bool::weighted(0.1),
                ),
                2000,
            ),
            any::<bool>(),
            0usize..2000,
        )
            .prop_map(|(colleagues, spray, target)| Office {
                colleagues,
                spray,
                target,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4))]

        /// 2,000 colleagues behind one NAT address sign in over an hour while one of them
        /// (or malware) guesses passwords as fast as the throttle lets it, at one account
        /// or spraying all of them. Every colleague on a trusted device signs in at once;
        /// so does, against a guesser at one account, every colleague whose account is not
        /// that one (after one typo too); and the guesser is held to a few tries per account.
        #[test]
        fn an_office_behind_one_address_is_not_locked_out(o in office()) {
            const NAT: &str = "203.0.113.1";
            let mut s = Sim::new(ThrottlePolicy::default());
            let mut arrivals: Vec<(OffsetDateTime, usize)> = o
                .colleagues
                .iter()
                .enumerate()
                .map(|(i, (minute, ..))| (T0 + Duration::minutes(*minute) + Duration::milliseconds(i as i64 * 7), i))
                .collect();
            arrivals.sort();
            let mut next = arrivals.into_iter().peekable();
            let (mut guess, mut guessed) = (0usize, 0usize);
            let mut t = T0;
            let end = T0 + Duration::minutes(61);
            while t < end {
                // The guesser tries every 500 ms.
                t += Duration::milliseconds(500);
                let account = if o.spray { guess % 2000 } else { o.target };
                guess += 1;
                if s.attempt_on(t, account, NAT, false, false) == ThrottleDecision::Allow {
                    guessed += 1;
                }
                while let Some((at, i)) = next.next_if(|(at, _)| *at <= t) {
                    let (_, trusted, typo) = o.colleagues[i];
                    // Under a spray every account is attacked from this address, and an
                    // untrusted browser there is indistinguishable from the guesser (its
                    // only credential would be a password, which is what is guessed): only
                    // trusted devices are promised (SECURITY.md says so).
                    let attacked = o.spray || i == o.target;
                    if typo {
                        s.attempt_on(at, i, NAT, trusted, false);
                    }
                    let d = s.attempt_on(at, i, NAT, trusted, true);
                    if trusted || !attacked {
                        prop_assert_eq!(d, ThrottleDecision::Allow, "colleague {} (trusted {}, typo {}, spray {})", i, trusted, typo, o.spray);
                    }
                }
            }
            // The guesser: at most the pair rule's tries per account in any hour, plus the
            // ones before the address went over its budget.
            if o.spray {
                // At most the hard budget per window, and a fraction of what it tried.
                let p = ThrottlePolicy::default();
                prop_assert!(guessed as u32 <= p.client_hard_max_failures * 5, "{} guesses", guessed);
                prop_assert!(guessed * 2 < guess, "the guesser is slowed: {} of {} tried", guessed, guess);
            } else {
                let guesses = s.log.iter().filter(|x| x.account == o.target && !x.trusted && x.outcome == AttemptOutcome::Failure).count();
                // The pair rule: five per block, four blocks an hour (plus the target's own typo).
                prop_assert!(guesses <= 4 * 5 + 2, "{} failures on the target", guesses);
                prop_assert!(guessed * 20 < guess, "the guesser is slowed: {} of {} tried", guessed, guess);
            }
        }

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
                let d = s.attempt(now, &format!("10.1.1.{}", st.client), trusted, trusted || st.correct);
                if trusted {
                    prop_assert_eq!(d, ThrottleDecision::Allow);
                }
            }
            prop_assert!(s.max_untrusted_failures_in_any_hour(0) <= small_cap as usize);
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
                if let ThrottleDecision::Deny { retry_after, .. } = s.attempt(now, &format!("10.2.0.{}", i % clients), false, false) {
                    prop_assert!(retry_after >= Duration::SECOND);
                }
            }
            prop_assert!(s.max_untrusted_failures_in_any_hour(0) <= 100);
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
                prop_assert_eq!(s.attempt(now, "10.3.0.1", false, false), ThrottleDecision::Allow);
            }
            let last_failure = now;
            now += Duration::seconds(extra_wait_s);
            let d = s.attempt(now, "10.3.0.1", false, true);
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
            let mut s = Sim::new(p);
            for i in 0..9 {
                s.push(Attempt { at: T0 + Duration::seconds(i), account: 0, client: format!("10.4.0.{i}"), trusted: false, outcome: AttemptOutcome::Failure });
            }
            let now = T0 + Duration::seconds(30);
            let mut allowed = 0;
            for i in 0..n {
                let client = format!("10.4.1.{i}");
                let input = s.input(now, 0, &client, false);
                let d = p.decide(now, &input);
                if d == ThrottleDecision::Allow { allowed += 1; }
                s.push(Attempt { at: now, account: 0, client, trusted: false, outcome: if d == ThrottleDecision::Allow { AttemptOutcome::Pending } else { AttemptOutcome::Throttled } });
            }
            prop_assert!(allowed <= 1);
        }
    }
}

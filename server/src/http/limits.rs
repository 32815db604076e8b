//! Request rate limits in front of the endpoints worth hammering: sign-in, the card
//! endpoints (challenge, certificate sign-in and lookup, upload), password reset, votes and
//! admin changes, and search. The rule is `domain::ratelimit` (GCRA); the state lives in
//! this process (behind a load balancer each instance limits on its own, which bounds the
//! total at instances × quota).
//!
//! Government offices reach the portal through one NAT address for thousands of staff, so
//! the address is not who is limited (issue #16, finding 1). Each request is charged to:
//!
//! - **its browser**: the browser-id cookie every answer hands out (`CookieNames::browser`), or,
//!   for a request without one (a script), the address's cookieless bucket. This is the
//!   tight quota (e.g. 30 sign-ins a minute); one guesser exhausts only its own.
//! - **its address, as a flood ceiling**: a quota sized for a whole office at its busiest
//!   (e.g. 1,200 sign-in requests a minute), so that one machine cannot take the server.
//!   A browser presenting a trusted-device cookie valid for some account is not charged
//!   here: the owner's own PC is decided before any per-address rule.
//! - **its account** when signed in, whatever address it comes from.
//!
//! A refused request consumes nothing, so a guesser hammering its own bucket never drains
//! the address's. Browser ids cost nothing to mint (a page view): a program that mints one
//! for every request is held by the ceiling, which then slows everyone on that address
//! without a trusted device — a flood, logged, not a way to guess (SECURITY.md).
//!
//! Password guessing has its own, stricter throttle per account (`domain::throttle`),
//! decided before any password is hashed; the limits here bound the request rate whatever
//! the outcome.

use ecpa_app::api::{admin, auth, card, content, my_area, reset};
use ecpa_domain::ratelimit::Quota;
use leptos::server_fn::ServerFn;
use std::{collections::HashMap, sync::Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    SignIn,
    Card,
    Reset,
    Write,
    Search,
}

impl Class {
    /// Which limit a request falls under (`None`: not limited). Server functions are
    /// looked up in [`SERVER_FNS`] by their `PATH`; the one limited page is the search.
    pub fn of(method_is_get: bool, path: &str) -> Option<Class> {
        if method_is_get {
            return (path == "/announcements/search").then_some(Class::Search);
        }
        SERVER_FNS
            .iter()
            .find(|(p, _)| *p == path)
            .and_then(|(_, class)| *class)
    }

    /// Per browser (or per address for requests without a browser id).
    pub fn browser_quota(self) -> Quota {
        match self {
            Class::SignIn => Quota::per_minute(30, 10),
            Class::Card => Quota::per_minute(60, 20),
            Class::Reset => Quota::per_minute(10, 5),
            Class::Write => Quota::per_minute(60, 20),
            Class::Search => Quota::per_minute(120, 30),
        }
    }

    /// Per address: a whole office at its busiest (2,000 staff signing in within a few
    /// minutes of each other), far above one person, far below what takes the server.
    pub fn address_quota(self) -> Quota {
        match self {
            Class::SignIn => Quota::per_minute(1_200, 600),
            Class::Card => Quota::per_minute(2_400, 1_000),
            Class::Reset => Quota::per_minute(120, 60),
            Class::Write => Quota::per_minute(1_200, 400),
            Class::Search => Quota::per_minute(2_400, 600),
        }
    }

    /// Per signed-in account (whatever address it comes from).
    pub fn account_quota(self) -> Quota {
        match self {
            Class::SignIn | Class::Reset => Quota::per_minute(30, 10),
            Class::Card | Class::Write => Quota::per_minute(60, 20),
            Class::Search => Quota::per_minute(120, 30),
        }
    }
}

/// Every server function and its limit, by its `PATH` (so a renamed endpoint keeps its
/// limit). `None`: deliberately unlimited — public reads and reads of one's own data,
/// indexed and cheap. A test checks that every registered server function is listed, so a
/// new one cannot go unclassified.
pub const SERVER_FNS: &[(&str, Option<Class>)] = &[
    // Password sign-in.
    (auth::Login::PATH, Some(Class::SignIn)),
    (auth::Logout::PATH, None),
    (auth::CurrentUser::PATH, None),
    // Certificate sign-in and upload: a class of their own, so password guessing never
    // slows a card.
    (card::CertLogin::PATH, Some(Class::Card)),
    (card::CardChallenge::PATH, Some(Class::Card)),
    (card::LookupCertificate::PATH, Some(Class::Card)),
    (card::BindStart::PATH, Some(Class::Card)),
    (card::BindStartSignedIn::PATH, Some(Class::Card)),
    (card::BindVerify::PATH, Some(Class::Card)),
    (card::BindConfirm::PATH, Some(Class::Card)),
    (card::RemoveCertificate::PATH, Some(Class::Card)),
    (card::GetCardSetup::PATH, None),
    (card::MyCertificates::PATH, None),
    // Password reset.
    (reset::RequestPasswordReset::PATH, Some(Class::Reset)),
    (reset::ResetPassword::PATH, Some(Class::Reset)),
    (reset::PasswordResetState::PATH, None),
    // Content.
    (content::Vote::PATH, Some(Class::Write)),
    (content::SearchAnnouncements::PATH, Some(Class::Search)),
    (content::LoadHome::PATH, None),
    (content::ListAnnouncements::PATH, None),
    (content::GetAnnouncement::PATH, None),
    (content::LoadPolls::PATH, None),
    (content::LoadAgencies::PATH, None),
    (content::LoadLinks::PATH, None),
    (content::LoadFaqList::PATH, None),
    (content::LoadFaq::PATH, None),
    // 我的專區.
    (my_area::LoadMyArea::PATH, None),
    (my_area::OpenApp::PATH, None),
    // Administration: every call, read or write.
    (admin::AmAdmin::PATH, None),
    (admin::AdminAnnouncements::PATH, Some(Class::Write)),
    (admin::LoadAdminAnnouncement::PATH, Some(Class::Write)),
    (admin::SaveAnnouncement::PATH, Some(Class::Write)),
    (admin::ActOnAnnouncement::PATH, Some(Class::Write)),
    (admin::AdminPolls::PATH, Some(Class::Write)),
    (admin::CreatePoll::PATH, Some(Class::Write)),
    (admin::ActOnPoll::PATH, Some(Class::Write)),
    (admin::SaveLink::PATH, Some(Class::Write)),
    (admin::DeleteLink::PATH, Some(Class::Write)),
    (admin::AdminFaq::PATH, Some(Class::Write)),
    (admin::SaveFaq::PATH, Some(Class::Write)),
    (admin::AdminApps::PATH, Some(Class::Write)),
    (admin::SaveApp::PATH, Some(Class::Write)),
];

/// Who a request is charged to.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    /// The client's key (`domain::throttle::client_key`: IPv6 by its /64).
    pub address: &'a str,
    /// The browser-id cookie, if it has the shape of one.
    pub browser: Option<&'a str>,
    /// It presented a trusted-device cookie valid for some account.
    pub trusted_device: bool,
    /// The signed-in account.
    pub account: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Browser(Class, String),
    Cookieless(Class, String),
    Address(Class, String),
    Account(Class, String),
}

/// The limiter of one server process.
#[derive(Debug)]
pub struct Limiter {
    enabled: bool,
    state: Mutex<HashMap<Key, i64>>,
}

/// Above this many keys, forgotten (idle) ones are swept at the next check.
const SWEEP_AT: usize = 50_000;

impl Limiter {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` admits the request; `Err(seconds)` says when to retry.
    pub fn check(&self, class: Class, who: &Requester<'_>, now_ms: i64) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let Ok(mut state) = self.state.lock() else {
            // A poisoned lock means a panic elsewhere; fail open rather than lock
            // everyone out (the password throttle still holds).
            return Ok(());
        };
        if state.len() > SWEEP_AT {
            state.retain(|_, tat| *tat > now_ms);
        }
        let mut keys = Vec::with_capacity(3);
        keys.push(match who.browser {
            Some(b) => (Key::Browser(class, b.to_string()), class.browser_quota()),
            None => (
                Key::Cookieless(class, who.address.to_string()),
                class.browser_quota(),
            ),
        });
        if !who.trusted_device {
            keys.push((
                Key::Address(class, who.address.to_string()),
                class.address_quota(),
            ));
        }
        if let Some(a) = who.account {
            keys.push((Key::Account(class, a.to_string()), class.account_quota()));
        }
        // Decide on every key first: a refused request consumes nothing.
        let mut next = Vec::with_capacity(keys.len());
        for (key, quota) in &keys {
            match quota.check(state.get(key).copied(), now_ms) {
                Ok(tat) => next.push(tat),
                Err(wait_ms) => return Err(((wait_ms + 999) / 1000).max(1) as u64),
            }
        }
        for ((key, _), tat) in keys.into_iter().zip(next) {
            state.insert(key, tat);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn who<'a>(address: &'a str, browser: Option<&'a str>) -> Requester<'a> {
        Requester {
            address,
            browser,
            trusted_device: false,
            account: None,
        }
    }

    /// Every server function the app registers is in [`SERVER_FNS`], once: a new endpoint
    /// cannot go unlimited by omission.
    #[test]
    fn every_server_function_is_classified() {
        let registered: std::collections::BTreeSet<&str> =
            leptos::server_fn::axum::server_fn_paths()
                .map(|(p, _)| p)
                .collect();
        assert!(registered.len() >= 40, "{registered:?}");
        let listed: std::collections::BTreeSet<&str> = SERVER_FNS.iter().map(|(p, _)| *p).collect();
        assert_eq!(listed.len(), SERVER_FNS.len(), "listed twice");
        let missing: Vec<_> = registered.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "server functions without a limit class: {missing:?}"
        );
        let stale: Vec<_> = listed.difference(&registered).collect();
        assert!(stale.is_empty(), "listed but not registered: {stale:?}");
    }

    #[test]
    fn classes() {
        assert_eq!(Class::of(false, "/api/login"), Some(Class::SignIn));
        assert_eq!(Class::of(false, "/api/cert_login"), Some(Class::Card));
        assert_eq!(Class::of(false, "/api/cert_lookup"), Some(Class::Card));
        assert_eq!(Class::of(false, "/api/admin/link_save"), Some(Class::Write));
        assert_eq!(
            Class::of(true, "/announcements/search"),
            Some(Class::Search)
        );
        assert_eq!(Class::of(true, "/"), None);
        assert_eq!(Class::of(false, "/api/whoami"), None);
    }

    #[test]
    fn per_browser_per_address_and_per_account() {
        let l = Limiter::new(true);
        let q = Class::SignIn.browser_quota();
        for _ in 0..q.burst {
            assert!(l.check(Class::SignIn, &who("a", None), 0).is_ok());
        }
        assert!(l.check(Class::SignIn, &who("a", None), 0).is_err());
        assert!(
            l.check(Class::SignIn, &who("a", Some("b1")), 0).is_ok(),
            "a browser behind the same address"
        );
        assert!(
            l.check(Class::SignIn, &who("b", None), 0).is_ok(),
            "another address"
        );
        assert!(
            l.check(Class::Card, &who("a", None), 0).is_ok(),
            "another class"
        );
        // One account from many addresses is limited too.
        let aq = Class::Card.account_quota();
        let signed_in = |addr: &'static str| Requester {
            account: Some("acct"),
            ..who(addr, Some(addr))
        };
        for i in 0..aq.burst {
            let addr: &'static str = Box::leak(format!("10.0.0.{i}").into_boxed_str());
            assert!(l.check(Class::Card, &signed_in(addr), 0).is_ok());
        }
        assert!(l.check(Class::Card, &signed_in("10.0.1.1"), 0).is_err());
        assert!(Limiter::new(false)
            .check(Class::Reset, &who("a", None), 0)
            .is_ok());
    }

    #[test]
    fn the_address_ceiling_spares_trusted_devices() {
        let l = Limiter::new(true);
        let ceiling = Class::SignIn.address_quota().burst;
        // A flood from fresh browser ids reaches the ceiling...
        for i in 0..ceiling {
            assert!(l
                .check(Class::SignIn, &who("nat", Some(&format!("fresh{i}"))), 0)
                .is_ok());
        }
        assert!(l
            .check(Class::SignIn, &who("nat", Some("colleague")), 0)
            .is_err());
        // ...and the owner's trusted PC behind the same address is not charged there.
        let owner = Requester {
            trusted_device: true,
            ..who("nat", Some("owner-pc"))
        };
        assert!(l.check(Class::SignIn, &owner, 0).is_ok());
        // Card requests have their own ceiling.
        assert!(l
            .check(Class::Card, &who("nat", Some("colleague")), 0)
            .is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]

        /// 2,000 colleagues behind one address, each in their own browser, sign in and use
        /// their cards over a morning's ten minutes while a guesser among them hammers the
        /// sign-in endpoint as fast as it likes (from one browser, or without cookies):
        /// no colleague is ever refused, and the guesser gets its own quota and no more.
        #[test]
        fn one_guesser_cannot_slow_an_office(
            arrivals in prop::collection::vec((0i64..600_000, any::<bool>()), 2000),
            cookieless in any::<bool>(),
            guesser_gap_ms in 1i64..50,
        ) {
            let l = Limiter::new(true);
            let mut arrivals: Vec<(i64, usize, bool)> = arrivals
                .into_iter()
                .enumerate()
                .map(|(i, (t, card))| (t, i, card))
                .collect();
            arrivals.sort();
            let mut next = arrivals.into_iter().peekable();
            let (mut t, mut admitted) = (0i64, 0u64);
            let guesser = who("nat", (!cookieless).then_some("guesser"));
            while t < 600_000 {
                t += guesser_gap_ms;
                if l.check(Class::SignIn, &guesser, t).is_ok() {
                    admitted += 1;
                }
                while let Some((at, i, card)) = next.next_if(|(at, ..)| *at <= t) {
                    let browser = format!("colleague{i}");
                    let me = who("nat", Some(&browser));
                    if card {
                        // Challenge, then the signed challenge.
                        prop_assert!(l.check(Class::Card, &me, at).is_ok(), "card {}", i);
                        prop_assert!(l.check(Class::Card, &me, at).is_ok(), "card {}", i);
                    } else {
                        prop_assert!(l.check(Class::SignIn, &me, at).is_ok(), "password {}", i);
                    }
                }
            }
            // Its own bucket: the burst and then 30 a minute.
            let q = Class::SignIn.browser_quota();
            prop_assert!(admitted <= u64::from(q.burst) + 600_000 / q.period_ms as u64 + 1, "{}", admitted);
        }
    }
}

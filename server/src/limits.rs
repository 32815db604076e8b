//! Request rate limits per client address and per signed-in account, in front of the
//! endpoints worth hammering: sign-in, the card endpoints (challenge, certificate lookup,
//! upload), password reset, votes and admin changes, and search. The rule is
//! `domain::ratelimit` (GCRA); the state lives in this process (behind a load balancer
//! each instance limits on its own, which bounds the total at instances × quota).
//!
//! Password guessing has its own, stricter throttle per account (`domain::throttle`); the
//! limits here bound the request rate whatever the outcome.

use ecpa_domain::ratelimit::Quota;
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
    /// Which limit a request path falls under (`None`: not limited).
    pub fn of(method_is_get: bool, path: &str) -> Option<Class> {
        if method_is_get {
            return (path == "/announcements/search").then_some(Class::Search);
        }
        Some(match path {
            "/api/login" | "/api/cert_login" => Class::SignIn,
            "/api/card_challenge"
            | "/api/cert_lookup"
            | "/api/bind_start"
            | "/api/bind_start_signed_in"
            | "/api/bind_verify"
            | "/api/bind_confirm"
            | "/api/remove_certificate" => Class::Card,
            "/api/password_reset_request" | "/api/password_reset" => Class::Reset,
            "/api/vote" => Class::Write,
            "/api/search" => Class::Search,
            p if p.starts_with("/api/admin/") => Class::Write,
            _ => return None,
        })
    }

    /// Per client address.
    pub fn client_quota(self) -> Quota {
        match self {
            Class::SignIn => Quota::per_minute(30, 10),
            Class::Card => Quota::per_minute(60, 20),
            Class::Reset => Quota::per_minute(10, 5),
            Class::Write => Quota::per_minute(60, 20),
            Class::Search => Quota::per_minute(120, 30),
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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(Class, String),
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
    pub fn check(
        &self,
        class: Class,
        client: &str,
        account: Option<&str>,
        now_ms: i64,
    ) -> Result<(), u64> {
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
        let mut keys = vec![(Key::Client(class, client.to_string()), class.client_quota())];
        if let Some(a) = account {
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

    #[test]
    fn classes() {
        assert_eq!(Class::of(false, "/api/login"), Some(Class::SignIn));
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
    fn per_client_and_per_account() {
        let l = Limiter::new(true);
        let q = Class::SignIn.client_quota();
        for _ in 0..q.burst {
            assert!(l.check(Class::SignIn, "a", None, 0).is_ok());
        }
        assert!(l.check(Class::SignIn, "a", None, 0).is_err());
        assert!(
            l.check(Class::SignIn, "b", None, 0).is_ok(),
            "another client"
        );
        assert!(l.check(Class::Card, "a", None, 0).is_ok(), "another class");
        // One account from many addresses is limited too.
        let aq = Class::Card.account_quota();
        for i in 0..aq.burst {
            assert!(l
                .check(Class::Card, &format!("10.0.0.{i}"), Some("acct"), 0)
                .is_ok());
        }
        assert!(l.check(Class::Card, "10.0.1.1", Some("acct"), 0).is_err());
        assert!(Limiter::new(false)
            .check(Class::Reset, "a", None, 0)
            .is_ok());
    }
}

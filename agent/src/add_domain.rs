//! `/addDomain`: a web site asks the user, in the agent's own window, to be trusted with
//! the card. The page can be opened by any site, so it defends itself against the ways a
//! site could get a "yes" the user did not mean:
//!
//! - **a site asks only for itself**: the asking page's origin (from `Referer`, which
//!   browsers send to loopback addresses) must be http(s) and have the host it asks for;
//!   `null`, `file:`, `data:`, extensions and other schemes are refused. Only the user,
//!   typing the address (`Sec-Fetch-Site: none`), may name any site;
//! - **no click-through**: both buttons stay inactive for a second after the window
//!   becomes visible (again after each time it is hidden), and the server refuses a
//!   decision sooner than that after the page was issued, so the second click of a
//!   double-click on the site cannot land on 「信任此網站」; 「取消」 is first, large and
//!   focused, where such a click would land;
//! - **no prompt storm**: [`PROMPTS_PER_SITE`] prompts per site in [`PROMPT_WINDOW`], one
//!   live prompt per site (a new one replaces the old), at most [`MAX_PENDING`] pending;
//! - the decision is a one-time token posted from the agent's own page (another site's
//!   form post is refused by its `Origin` / `Sec-Fetch-Site`).

use crate::trust::normalize;
use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a prompt can be answered.
pub const PROMPT_TTL: Duration = Duration::from_secs(300);
/// How many prompts one site may open in [`PROMPT_WINDOW`].
pub const PROMPTS_PER_SITE: usize = 3;
pub const PROMPT_WINDOW: Duration = Duration::from_secs(600);
/// Pending prompts kept at most (all sites).
pub const MAX_PENDING: usize = 16;
/// The buttons' (and the server's) wait after the page is shown.
pub const ARM_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a site name or origin.
    BadName,
    /// The asking page is not an http(s) page (`null`, `file:`, no `Referer`…).
    NotAWebPage,
    /// The asking page asks for another site.
    NotItself,
    TooManyForSite,
    TooManyPending,
}

impl Refusal {
    /// What the agent's page says.
    pub fn text(&self) -> &'static str {
        match self {
            Refusal::BadName => "網站位址格式不正確。",
            Refusal::NotAWebPage | Refusal::NotItself => {
                "只有網站本身可以要求信任自己，此要求不是由該網站發出，已拒絕。"
            }
            Refusal::TooManyForSite => "此網站要求信任的次數過多，請 10 分鐘後再試。",
            Refusal::TooManyPending => "待確認的信任要求過多，請先關閉其他讀卡元件視窗，稍後再試。",
        }
    }
}

/// The origin of a `Referer` (scheme, host, port), if it is an http(s) page.
fn referer_origin(referer: &str) -> Option<String> {
    let scheme = referer.split_once("://")?.0;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let after = referer.find("://")? + 3;
    let end = referer[after..]
        .find(['/', '?', '#'])
        .map_or(referer.len(), |i| after + i);
    normalize(&referer[..end])
}

/// The site `/addDomain?domain=` asks to trust. Real sites pass `location.hostname` (no
/// scheme, no port); the asking page's origin gives the scheme and port. A whole origin
/// (`http://host:port`) must be the asking page's own. `typed_by_user`: the request came
/// from the address bar (`Sec-Fetch-Site: none`), where the user may name any site.
pub fn site_to_trust(
    domain: &str,
    referer: Option<&str>,
    typed_by_user: bool,
) -> Result<String, Refusal> {
    let d = domain.trim().trim_end_matches('/');
    if d.is_empty() || d.eq_ignore_ascii_case("null") {
        return Err(Refusal::BadName);
    }
    let named = normalize(d).ok_or(Refusal::BadName)?;
    let asking = match referer {
        Some(r) => Some(referer_origin(r).ok_or(Refusal::NotAWebPage)?),
        None if typed_by_user => None,
        None => return Err(Refusal::NotAWebPage),
    };
    let Some(asking) = asking else {
        return Ok(named);
    };
    if d.contains("://") {
        return if named == asking {
            Ok(named)
        } else {
            Err(Refusal::NotItself)
        };
    }
    let hostport = asking.split_once("://").map_or("", |(_, h)| h);
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    if host.eq_ignore_ascii_case(d) || hostport.eq_ignore_ascii_case(d) {
        Ok(asking)
    } else {
        Err(Refusal::NotItself)
    }
}

struct Pending {
    site: String,
    issued: Instant,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Pending>,
    asked: HashMap<String, VecDeque<Instant>>,
}

/// The prompts the agent has open.
pub struct Prompts {
    state: Mutex<State>,
    /// How soon after the page was issued a decision is accepted ([`ARM_DELAY`]; tests
    /// that post at once set it to zero).
    pub arm_delay: Duration,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            arm_delay: ARM_DELAY,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Site(String),
    /// Unknown, used, expired or replaced.
    Unknown,
    /// Answered sooner than a person could have read it.
    TooSoon,
}

impl Prompts {
    /// Opens a prompt for `site`: its one-time token.
    pub fn open(&self, site: &str, token: String, now: Instant) -> Result<String, Refusal> {
        let Ok(mut st) = self.state.lock() else {
            return Err(Refusal::TooManyPending);
        };
        st.pending
            .retain(|_, p| now.saturating_duration_since(p.issued) < PROMPT_TTL);
        st.asked.retain(|_, times| {
            times.retain(|t| now.saturating_duration_since(*t) < PROMPT_WINDOW);
            !times.is_empty()
        });
        if st
            .asked
            .get(site)
            .is_some_and(|t| t.len() >= PROMPTS_PER_SITE)
        {
            return Err(Refusal::TooManyForSite);
        }
        // One live prompt per site: a new one replaces the old.
        st.pending.retain(|_, p| p.site != site);
        if st.pending.len() >= MAX_PENDING {
            return Err(Refusal::TooManyPending);
        }
        st.asked.entry(site.to_string()).or_default().push_back(now);
        st.pending.insert(
            token.clone(),
            Pending {
                site: site.to_string(),
                issued: now,
            },
        );
        Ok(token)
    }

    /// Takes the prompt of `token` (once).
    pub fn take(&self, token: &str, now: Instant) -> Taken {
        let Some(p) = self
            .state
            .lock()
            .ok()
            .and_then(|mut st| st.pending.remove(token))
        else {
            return Taken::Unknown;
        };
        let age = now.saturating_duration_since(p.issued);
        if age >= PROMPT_TTL {
            Taken::Unknown
        } else if age < self.arm_delay {
            Taken::TooSoon
        } else {
            Taken::Site(p.site)
        }
    }

    #[cfg(test)]
    fn pending(&self) -> usize {
        self.state.lock().map(|s| s.pending.len()).unwrap_or(0)
    }
}

/// The buttons stay inactive until the window has been visible for [`ARM_DELAY`]; hidden
/// again, they are inactive again. 「取消」 gets the focus.
pub const ARM_JS: &str = r#"(function(){
  var bs = document.querySelectorAll('#prompt button'), timer = null;
  function arm() {
    if (timer) { clearTimeout(timer); timer = null; }
    for (var i = 0; i < bs.length; i++) bs[i].disabled = true;
    if (document.visibilityState !== 'visible') return;
    timer = setTimeout(function(){
      for (var i = 0; i < bs.length; i++) bs[i].disabled = false;
      document.getElementById('cancel').focus();
    }, 1000);
  }
  document.addEventListener('visibilitychange', arm);
  arm();
})();"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_asks_only_for_itself() {
        let r = Some("http://intranet.example:8080/login?x=1");
        assert_eq!(
            site_to_trust("intranet.example", r, false),
            Ok("http://intranet.example:8080".into())
        );
        assert_eq!(
            site_to_trust("ecpa.dgpa.gov.tw", Some("https://ecpa.dgpa.gov.tw/"), false),
            Ok("https://ecpa.dgpa.gov.tw".into())
        );
        // Another site's page cannot ask for this one, by name or by origin.
        assert_eq!(
            site_to_trust("ecpa.dgpa.gov.tw", r, false),
            Err(Refusal::NotItself)
        );
        assert_eq!(
            site_to_trust("https://ecpa.dgpa.gov.tw", r, false),
            Err(Refusal::NotItself)
        );
        assert_eq!(
            site_to_trust(
                "http://127.0.0.1:3000",
                Some("http://127.0.0.1:3000/"),
                false
            ),
            Ok("http://127.0.0.1:3000".into())
        );
        // Not a web page asking: null, file, data, extensions, no Referer at all.
        for referer in [
            Some("null"),
            Some("file:///C:/phish.html"),
            Some("data:text/html,x"),
            Some("chrome-extension://abcdef/page.html"),
            Some("about:blank"),
            None,
        ] {
            assert_eq!(
                site_to_trust("intranet.example", referer, false),
                Err(Refusal::NotAWebPage),
                "{referer:?}"
            );
        }
        // The user typing the address may name a site.
        assert_eq!(
            site_to_trust("ecpa.dgpa.gov.tw", None, true),
            Ok("https://ecpa.dgpa.gov.tw".into())
        );
        for bad in [
            "null",
            "",
            "javascript:alert(1)",
            "file:///etc",
            "a b",
            "ftp://x",
        ] {
            assert_eq!(site_to_trust(bad, r, true), Err(Refusal::BadName), "{bad}");
        }
    }

    #[test]
    fn prompts_are_limited_per_site_and_in_all() {
        let p = Prompts::default();
        let t0 = Instant::now();
        let site = "https://a.example";
        for i in 0..PROMPTS_PER_SITE {
            assert!(p.open(site, format!("t{i}"), t0).is_ok());
        }
        assert_eq!(p.pending(), 1, "one live prompt per site");
        assert_eq!(p.take("t0", t0 + ARM_DELAY), Taken::Unknown, "replaced");
        assert_eq!(p.open(site, "t9".into(), t0), Err(Refusal::TooManyForSite));
        assert!(
            p.open(site, "t10".into(), t0 + PROMPT_WINDOW).is_ok(),
            "later"
        );
        // The table is bounded whatever the number of sites.
        let mut refused = 0;
        for i in 0..100 {
            if p.open(&format!("https://s{i}.example"), format!("s{i}"), t0)
                == Err(Refusal::TooManyPending)
            {
                refused += 1;
            }
        }
        assert!(p.pending() <= MAX_PENDING);
        assert!(refused >= 100 - MAX_PENDING);
        // Expired prompts make room.
        assert!(p
            .open("https://late.example", "late".into(), t0 + PROMPT_TTL)
            .is_ok());
    }

    #[test]
    fn a_decision_needs_the_arming_delay_and_works_once() {
        let p = Prompts::default();
        let t0 = Instant::now();
        p.open("https://a.example", "tok".into(), t0).unwrap();
        assert_eq!(
            p.take("tok", t0 + Duration::from_millis(300)),
            Taken::TooSoon
        );
        assert_eq!(p.take("tok", t0 + ARM_DELAY), Taken::Unknown, "used up");
        p.open("https://a.example", "tok2".into(), t0).unwrap();
        assert_eq!(
            p.take("tok2", t0 + ARM_DELAY),
            Taken::Site("https://a.example".into())
        );
        p.open("https://b.example", "tok3".into(), t0).unwrap();
        assert_eq!(p.take("tok3", t0 + PROMPT_TTL), Taken::Unknown, "expired");
    }
}

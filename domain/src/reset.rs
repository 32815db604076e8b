//! Password reset by e-mail: how long a link lives, when it can be used, and when a
//! request names a registered address.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// A reset link works for this long after it was sent.
pub const LINK_TTL: Duration = Duration::minutes(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkState {
    Usable,
    /// Already used (or replaced by a newer link, or ended by a completed reset).
    Used,
    Expired,
}

/// Used wins over expired: a used link is reported as used for its whole life.
pub fn link_state(
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> LinkState {
    if used_at.is_some() {
        LinkState::Used
    } else if now >= expires_at {
        LinkState::Expired
    } else {
        LinkState::Usable
    }
}

/// Whether `given` is the registered address: surrounding spaces ignored, case-insensitive
/// (domain parts are; in practice mailbox parts are treated so too).
pub fn email_matches(registered: &str, given: &str) -> bool {
    let (r, g) = (registered.trim(), given.trim());
    !r.is_empty() && r.len() <= 254 && r.eq_ignore_ascii_case(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn lifecycle() {
        let sent = datetime!(2026-11-26 09:00 UTC);
        let exp = sent + LINK_TTL;
        assert_eq!(link_state(exp, None, sent), LinkState::Usable);
        assert_eq!(
            link_state(exp, None, exp - Duration::seconds(1)),
            LinkState::Usable
        );
        assert_eq!(link_state(exp, None, exp), LinkState::Expired);
        assert_eq!(link_state(exp, Some(sent), sent), LinkState::Used);
        assert_eq!(
            link_state(exp, Some(sent), exp + Duration::days(1)),
            LinkState::Used
        );
    }

    #[test]
    fn emails() {
        assert!(email_matches(
            "WangXM@demo.ecpa.test",
            " wangxm@DEMO.ecpa.test "
        ));
        assert!(!email_matches("", ""));
        assert!(!email_matches("a@b.tw", "a@b.tw.evil"));
    }

    proptest! {
        #[test]
        fn usable_only_inside_the_window(secs in -4000i64..4000) {
            let sent = datetime!(2026-11-26 09:00 UTC);
            let now = sent + Duration::seconds(secs);
            let st = link_state(sent + LINK_TTL, None, now);
            prop_assert_eq!(st == LinkState::Usable, now < sent + LINK_TTL);
        }
    }
}

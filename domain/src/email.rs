//! What counts as an e-mail address wherever the portal stores one (the registry's
//! 電子郵件, an organization certificate's contact address): one `@`, a dotted domain, no
//! spaces or control characters, at most 254 bytes. Deliverability is the mail server's
//! business; this only keeps out what cannot be an address.

/// Whether `s` is an e-mail address the portal accepts.
pub fn is_valid(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(is_valid("wang@dgpa.gov.tw"));
        assert!(is_valid("a.b+c@x.y"));
        for bad in [
            "",
            "wang",
            "@dgpa.gov.tw",
            "wang@",
            "wang@localhost",
            "wang@.tw",
            "wang@tw.",
            "a@b@c.tw",
            "wang @dgpa.gov.tw",
            "wang@dgpa.gov.tw\n",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert!(!is_valid(&format!("{}@dgpa.gov.tw", "a".repeat(250))));
    }

    proptest! {
        #[test]
        fn never_accepts_whitespace_or_a_second_at(s in "\\PC{0,40}") {
            if is_valid(&s) {
                prop_assert_eq!(s.matches('@').count(), 1);
                prop_assert!(!s.chars().any(char::is_whitespace));
            }
        }
    }
}

//! The portal's challenge: what a card signs to sign in or to bind a certificate.
//!
//! One canonical encoding, used by the server (which issues and verifies it), the page
//! (which passes it on) and the agent (which refuses to sign it for any site but the one it
//! names — a phishing page relaying the real portal's challenge gets nothing):
//!
//! ```text
//! {"ecpa":"challenge/v2","purpose":"login","origin":"https://ecpa.example.gov.tw","nonce":"<64 lower-case hex digits: 32 random bytes>","iat":1795000000}
//! ```
//!
//! Keys in this order, no whitespace, `iat` in Unix seconds. [`Challenge::parse`] accepts
//! exactly the canonical form: any other spelling of the same content is refused.
//!
//! The text needs no escaping in a form body: no `+`, `%` or `&` (v1's Base64 nonce had `+`,
//! which the real HiPKI component's raw `/popupForm` relay turns into a space), so the same
//! challenge passes intact through this agent and through Chunghwa's component.

use serde::{Deserialize, Serialize};

pub const MARKER: &str = "{\"ecpa\":\"challenge/v2\"";
pub const VERSION: &str = "challenge/v2";
pub const NONCE_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Login,
    Bind,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Bind => "bind",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub purpose: Purpose,
    /// `scheme://host[:port]`, as browsers write an origin.
    pub origin: String,
    /// 32 random bytes as 64 lower-case hex digits ([`nonce_text`]).
    pub nonce: String,
    pub issued_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("not a portal challenge")]
    NotAChallenge,
    #[error("malformed challenge: {0}")]
    Malformed(String),
    #[error("the challenge is not in canonical form")]
    NotCanonical,
    #[error("the nonce must be 32 bytes in lower-case hex")]
    BadNonce,
    #[error("the origin must be scheme://host[:port]")]
    BadOrigin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    ecpa: String,
    purpose: Purpose,
    origin: String,
    nonce: String,
    iat: i64,
}

/// The nonce as the challenge carries it: lower-case hex.
pub fn nonce_text(bytes: &[u8; NONCE_BYTES]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn nonce_ok(n: &str) -> bool {
    n.len() == 2 * NONCE_BYTES && n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `http(s)://host[:port]` with nothing after it.
pub fn valid_origin(o: &str) -> bool {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    match rest {
        Some(r) => {
            !r.is_empty()
                && r.len() <= 253
                && r.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        }
        None => false,
    }
}

impl Challenge {
    /// The bytes the card signs.
    pub fn to_tbs(&self) -> String {
        let origin = serde_json::to_string(&self.origin).unwrap_or_else(|_| "\"\"".into());
        format!(
            "{MARKER},\"purpose\":\"{}\",\"origin\":{origin},\"nonce\":\"{}\",\"iat\":{}}}",
            self.purpose.as_str(),
            self.nonce,
            self.issued_at
        )
    }

    /// Whether `tbs` claims to be a portal challenge (and must then parse as one).
    pub fn claims(tbs: &str) -> bool {
        tbs.trim_start().starts_with("{\"ecpa\"") || tbs.contains("\"ecpa\":\"challenge")
    }

    pub fn parse(tbs: &str) -> Result<Self, ChallengeError> {
        if !Self::claims(tbs) {
            return Err(ChallengeError::NotAChallenge);
        }
        let w: Wire =
            serde_json::from_str(tbs).map_err(|e| ChallengeError::Malformed(e.to_string()))?;
        if w.ecpa != VERSION {
            return Err(ChallengeError::Malformed(format!("version {}", w.ecpa)));
        }
        if !valid_origin(&w.origin) {
            return Err(ChallengeError::BadOrigin);
        }
        if !nonce_ok(&w.nonce) {
            return Err(ChallengeError::BadNonce);
        }
        let c = Challenge {
            purpose: w.purpose,
            origin: w.origin,
            nonce: w.nonce,
            issued_at: w.iat,
        };
        if c.to_tbs() != tbs {
            return Err(ChallengeError::NotCanonical);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex7() -> String {
        nonce_text(&[7u8; 32])
    }

    fn sample() -> Challenge {
        Challenge {
            purpose: Purpose::Login,
            origin: "https://ecpa.example.gov.tw".into(),
            nonce: hex7(),
            issued_at: 1_795_000_000,
        }
    }

    #[test]
    fn canonical_form() {
        let t = sample().to_tbs();
        assert_eq!(
            t,
            format!("{{\"ecpa\":\"challenge/v2\",\"purpose\":\"login\",\"origin\":\"https://ecpa.example.gov.tw\",\"nonce\":\"{}\",\"iat\":1795000000}}", hex7())
        );
        assert_eq!(Challenge::parse(&t), Ok(sample()));
        // Same content, other spelling: refused.
        let spaced = t.replace(",\"purpose\"", ", \"purpose\"");
        assert_eq!(Challenge::parse(&spaced), Err(ChallengeError::NotCanonical));
        let reordered = format!("{{\"ecpa\":\"challenge/v2\",\"origin\":\"https://ecpa.example.gov.tw\",\"purpose\":\"login\",\"nonce\":\"{}\",\"iat\":1795000000}}", hex7());
        assert_eq!(
            Challenge::parse(&reordered),
            Err(ChallengeError::NotCanonical)
        );
        assert!(matches!(
            Challenge::parse(&t.replace("}", ",\"x\":1}")),
            Err(ChallengeError::Malformed(_))
        ));
        assert_eq!(
            Challenge::parse("hello"),
            Err(ChallengeError::NotAChallenge)
        );
        let short = t.replace(&hex7(), &hex7()[2..]);
        assert_eq!(Challenge::parse(&short), Err(ChallengeError::BadNonce));
        let upper = t.replace(&hex7(), &hex7().to_uppercase().replace('0', "A"));
        assert_eq!(Challenge::parse(&upper), Err(ChallengeError::BadNonce));
        // Nothing a form body would change: no '+', '%', '&' or space.
        assert!(!t.contains(['+', '%', '&', ' ']));
        assert_eq!(
            Challenge::parse(&t.replace("https://ecpa.example.gov.tw", "https://x/path")),
            Err(ChallengeError::BadOrigin)
        );
    }

    proptest! {
        #[test]
        fn round_trip(nonce in prop::array::uniform32(any::<u8>()), iat in 0i64..4_000_000_000, host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,5}){0,2}", port in prop::option::of(1u16..65535), bind in any::<bool>()) {
            let origin = match port { Some(p) => format!("https://{host}:{p}"), None => format!("https://{host}") };
            let c = Challenge { purpose: if bind { Purpose::Bind } else { Purpose::Login }, origin, nonce: nonce_text(&nonce), issued_at: iat };
            prop_assert_eq!(Challenge::parse(&c.to_tbs()), Ok(c));
        }

        /// Changing any single byte of a challenge never yields a different valid challenge
        /// that parses: either it is refused, or (impossible) it parses to the very same.
        #[test]
        fn any_alteration_is_refused(pos in 0usize..200, byte in any::<u8>()) {
            let t = sample().to_tbs();
            let mut b = t.clone().into_bytes();
            let i = pos % b.len();
            if b[i] == byte { return Ok(()); }
            b[i] = byte;
            if let Ok(s) = String::from_utf8(b) {
                if let Ok(c) = Challenge::parse(&s) {
                    prop_assert!(c != sample(), "a changed challenge parsed as the original");
                }
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,300}") {
            let _ = Challenge::parse(&s);
            let _ = Challenge::parse(&format!("{MARKER}{s}"));
        }
    }
}

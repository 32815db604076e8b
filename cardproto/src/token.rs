//! The proof token the page sends after the card signed a challenge.

use crate::refusal::ProofRefusal;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};

pub const TOKEN_FORMAT: &str = "ecpa-card-v1";
const MAX_CERT: usize = 16 * 1024;
const MAX_SIG: usize = 2048;
const MAX_TBS: usize = 2048;

/// What the page sends after the card signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofToken {
    pub format: String,
    /// `RS256` (RSA PKCS#1 v1.5 with SHA-256).
    pub algorithm: String,
    /// Base64 DER of the signing certificate.
    pub certificate: String,
    /// Base64 signature.
    pub signature: String,
    /// The exact bytes signed (the challenge's canonical form).
    pub tbs: String,
    /// The IC-card number the card component reported (`cardSN`): for display as 卡號
    /// only; nothing is decided by it.
    #[serde(default)]
    pub card_sn: String,
}

/// A card number fit to show: 1–32 ASCII letters and digits, otherwise none.
pub fn card_number(raw: &str) -> Option<String> {
    let s = raw.trim();
    (!s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| s.to_string())
}

/// The token's parts, decoded.
#[derive(Debug, Clone)]
pub struct DecodedToken {
    pub certificate: Vec<u8>,
    pub signature: Vec<u8>,
    pub tbs: String,
}

pub fn decode_token(t: &ProofToken) -> Result<DecodedToken, ProofRefusal> {
    if t.format != TOKEN_FORMAT {
        return Err(ProofRefusal::MalformedToken);
    }
    if t.algorithm != "RS256" {
        return Err(ProofRefusal::UnsupportedAlgorithm);
    }
    if t.certificate.is_empty()
        || t.signature.is_empty()
        || t.tbs.is_empty()
        || t.tbs.len() > MAX_TBS
    {
        return Err(ProofRefusal::MalformedToken);
    }
    let certificate = STANDARD
        .decode(t.certificate.trim())
        .map_err(|_| ProofRefusal::MalformedToken)?;
    let signature = STANDARD
        .decode(t.signature.trim())
        .map_err(|_| ProofRefusal::MalformedToken)?;
    if certificate.len() > MAX_CERT || signature.len() > MAX_SIG || signature.is_empty() {
        return Err(ProofRefusal::MalformedToken);
    }
    Ok(DecodedToken {
        certificate,
        signature,
        tbs: t.tbs.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token() -> ProofToken {
        ProofToken {
            format: TOKEN_FORMAT.into(),
            algorithm: "RS256".into(),
            certificate: STANDARD.encode([1u8; 10]),
            signature: STANDARD.encode([2u8; 256]),
            tbs: "x".into(),
            card_sn: String::new(),
        }
    }

    #[test]
    fn card_numbers() {
        assert_eq!(card_number(" TP07123456 ").as_deref(), Some("TP07123456"));
        assert_eq!(card_number(""), None);
        assert_eq!(card_number("<b>"), None);
        assert_eq!(card_number(&"9".repeat(33)), None);
    }

    #[test]
    fn token_form() {
        assert!(decode_token(&token()).is_ok());
        for (f, want) in [
            (
                ProofToken {
                    format: "other".into(),
                    ..token()
                },
                ProofRefusal::MalformedToken,
            ),
            (
                ProofToken {
                    algorithm: "none".into(),
                    ..token()
                },
                ProofRefusal::UnsupportedAlgorithm,
            ),
            (
                ProofToken {
                    algorithm: "".into(),
                    ..token()
                },
                ProofRefusal::UnsupportedAlgorithm,
            ),
            (
                ProofToken {
                    algorithm: "ES999".into(),
                    ..token()
                },
                ProofRefusal::UnsupportedAlgorithm,
            ),
            (
                ProofToken {
                    certificate: "".into(),
                    ..token()
                },
                ProofRefusal::MalformedToken,
            ),
            (
                ProofToken {
                    certificate: "!!".into(),
                    ..token()
                },
                ProofRefusal::MalformedToken,
            ),
            (
                ProofToken {
                    signature: "".into(),
                    ..token()
                },
                ProofRefusal::MalformedToken,
            ),
            (
                ProofToken {
                    tbs: "".into(),
                    ..token()
                },
                ProofRefusal::MalformedToken,
            ),
            (
                ProofToken {
                    tbs: "x".repeat(MAX_TBS + 1),
                    ..token()
                },
                ProofRefusal::MalformedToken,
            ),
        ] {
            assert_eq!(decode_token(&f).map(|_| ()), Err(want), "{f:?}");
        }
    }

    proptest! {
        #[test]
        fn decoder_never_panics(f in "\\PC{0,20}", a in "\\PC{0,8}", c in "\\PC{0,100}", s in "\\PC{0,100}", t in "\\PC{0,100}") {
            let _ = decode_token(&ProofToken { format: f, algorithm: a, certificate: c, signature: s, tbs: t, card_sn: String::new() });
        }
    }
}

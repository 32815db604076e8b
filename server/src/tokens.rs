//! Random identifiers and tokens, and how they are stored.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A 256-bit secret for a cookie, URL-safe Base64 (43 characters).
pub fn secret_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A 128-bit random row id, hex.
pub fn row_id() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// What the database keeps of a secret token: its SHA-256, hex. A leaked table does not
/// give anyone a working cookie.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Cookie tokens we issue are exactly 43 URL-safe Base64 characters; anything else is
/// ignored before it reaches the database.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_well_formed() {
        let a = secret_token();
        let b = secret_token();
        assert_ne!(a, b);
        assert!(looks_like_token(&a));
        assert_eq!(row_id().len(), 32);
        assert_eq!(token_hash("x").len(), 64);
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&"a".repeat(42).replace('a', "=")));
    }
}

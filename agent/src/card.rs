//! The hardware boundary: card readers (PC/SC) and tokens (PKCS#11), as traits so the
//! agent's logic is tested with mockall doubles and run against the real stack.

use crate::codes::Failure;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderState {
    pub name: String,
    pub card_present: bool,
}

#[cfg_attr(test, mockall::automock)]
pub trait Readers: Send + Sync {
    /// The readers and whether a card is in each. `Ok(vec![])` when there is none (or no
    /// PC/SC service).
    fn list(&self) -> Result<Vec<ReaderState>, Failure>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertObject {
    pub label: String,
    /// CKA_ID, which the matching private key shares.
    pub id: Vec<u8>,
    pub der: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub serial_number: String,
    pub label: String,
    pub manufacturer_id: String,
    pub model: String,
    /// The card number, from the CHUID (PIV) or the token itself, when known.
    pub card_number: Option<String>,
    pub certs: Vec<CertObject>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSummary {
    pub slot_id: u64,
    pub description: String,
    pub token: Option<TokenSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// A signing request to a token (the PIN already checked for length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    pub slot_id: u64,
    pub key_id: Vec<u8>,
    pub hash: Hash,
    /// The message, or (when `prehashed`) its digest under `hash`.
    pub data: Vec<u8>,
    /// `signatureType: "RAW"`: `data` is already the digest.
    #[serde(default)]
    pub prehashed: bool,
}

#[cfg_attr(test, mockall::automock)]
pub trait Tokens: Send + Sync {
    fn slots(&self, with_certs: bool) -> Result<Vec<SlotSummary>, Failure>;
    /// Logs in with `pin`, signs with the private key `key_id` (PKCS#1 v1.5 or ECDSA by key
    /// type), logs out. The PIN is not kept.
    fn sign(&self, req: &SignRequest, pin: &str) -> Result<Vec<u8>, Failure>;
}

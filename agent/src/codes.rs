//! The HiPKI Local Server's `ret_code` / `last_error` values, and this agent's own.
//! Every failure of the agent maps to exactly one row of [`table`] (README lists it).

pub use ecpa_cardproto::hipki::{
    last, BAD_JSON, BAD_PARAMETER, CARD_BUSY, CARD_ERROR, CARD_LOGIN_FAILED, EXE_TIMEOUT, NO_CARD,
    NO_PIN, NO_READER, OK, ORIGIN_MISMATCH, SITE_NOT_TRUSTED, UNSUPPORTED_METHOD, USER_CANCELLED,
};

/// Why an agent request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum Failure {
    #[error("no card reader")]
    NoReader,
    #[error("no card in the reader")]
    NoCard,
    #[error("the card was removed during the operation")]
    CardRemoved,
    #[error("wrong PIN ({tries_left:?} tries left)")]
    WrongPin { tries_left: Option<u8> },
    #[error("PIN length out of range")]
    PinLength,
    #[error("PIN locked")]
    PinLocked,
    #[error("no PIN given")]
    NoPin,
    #[error("site not trusted")]
    SiteNotTrusted,
    #[error("the challenge names another site")]
    OriginMismatch,
    #[error("malformed JSON")]
    BadJson,
    #[error("bad parameter: {0}")]
    BadParameter(String),
    #[error("unsupported method")]
    UnsupportedMethod,
    #[error("card busy with another operation")]
    Busy,
    #[error("the card stack did not answer in time (worker stopped)")]
    Timeout,
    #[error("card error: {0}")]
    Card(String),
}

impl Failure {
    /// (`ret_code`, `last_error`)
    pub fn codes(&self) -> (u32, u32) {
        match self {
            Failure::NoReader => (NO_READER, last::NONE),
            Failure::NoCard => (NO_CARD, last::TOKEN_NOT_PRESENT),
            Failure::CardRemoved => (NO_CARD, last::DEVICE_REMOVED),
            Failure::WrongPin {
                tries_left: Some(1),
            } => (CARD_LOGIN_FAILED, last::ONE_TRY_LEFT),
            Failure::WrongPin {
                tries_left: Some(2),
            } => (CARD_LOGIN_FAILED, last::TWO_TRIES_LEFT),
            Failure::WrongPin { .. } => (CARD_LOGIN_FAILED, last::PIN_INCORRECT),
            Failure::PinLength => (CARD_LOGIN_FAILED, last::PIN_LEN_RANGE),
            Failure::PinLocked => (CARD_LOGIN_FAILED, last::PIN_LOCKED),
            Failure::NoPin => (NO_PIN, last::NONE),
            Failure::SiteNotTrusted => (SITE_NOT_TRUSTED, last::NONE),
            Failure::OriginMismatch => (ORIGIN_MISMATCH, last::NONE),
            Failure::BadJson => (BAD_JSON, last::NONE),
            Failure::BadParameter(_) => (BAD_PARAMETER, last::NONE),
            Failure::UnsupportedMethod => (UNSUPPORTED_METHOD, last::NONE),
            Failure::Busy => (CARD_BUSY, last::NONE),
            Failure::Timeout => (EXE_TIMEOUT, last::NONE),
            Failure::Card(_) => (CARD_ERROR, last::NONE),
        }
    }
}

/// The documented table: (condition, ret_code, last_error).
pub fn table() -> Vec<(&'static str, u32, u32)> {
    vec![
        ("success", OK, last::NONE),
        ("no card reader", NO_READER, last::NONE),
        ("no card inserted", NO_CARD, last::TOKEN_NOT_PRESENT),
        (
            "card removed during the operation",
            NO_CARD,
            last::DEVICE_REMOVED,
        ),
        (
            "wrong PIN, two tries left",
            CARD_LOGIN_FAILED,
            last::TWO_TRIES_LEFT,
        ),
        (
            "wrong PIN, one try left",
            CARD_LOGIN_FAILED,
            last::ONE_TRY_LEFT,
        ),
        (
            "wrong PIN (tries unknown)",
            CARD_LOGIN_FAILED,
            last::PIN_INCORRECT,
        ),
        (
            "PIN not 6–8 characters (card not touched)",
            CARD_LOGIN_FAILED,
            last::PIN_LEN_RANGE,
        ),
        ("PIN locked", CARD_LOGIN_FAILED, last::PIN_LOCKED),
        ("no PIN given", NO_PIN, last::NONE),
        ("site not trusted", SITE_NOT_TRUSTED, last::NONE),
        (
            "portal challenge for another site",
            ORIGIN_MISMATCH,
            last::NONE,
        ),
        ("malformed JSON", BAD_JSON, last::NONE),
        (
            "bad or missing parameter, body too large",
            BAD_PARAMETER,
            last::NONE,
        ),
        ("unsupported func", UNSUPPORTED_METHOD, last::NONE),
        ("card busy with another operation", CARD_BUSY, last::NONE),
        (
            "card stack did not answer in time (worker killed)",
            EXE_TIMEOUT,
            last::NONE,
        ),
        ("other card or module failure", CARD_ERROR, last::NONE),
    ]
}

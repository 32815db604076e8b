//! The HiPKI Local Server's `ret_code` / `last_error` values, and this agent's own.
//! Every failure of the agent maps to exactly one row of [`table`] (README lists it).

pub const OK: u32 = 0;
pub const NO_CARD: u32 = 0x7600_0006;
pub const NO_READER: u32 = 0x7610_0003;
pub const CARD_LOGIN_FAILED: u32 = 0x7610_0006;
pub const SITE_NOT_TRUSTED: u32 = 0x7600_0031;
pub const NO_PIN: u32 = 0x7600_0998;
pub const USER_CANCELLED: u32 = 0x7600_0999;
pub const BAD_JSON: u32 = 0x7600_000B;
pub const BAD_PARAMETER: u32 = 0x7600_000C;
pub const UNSUPPORTED_METHOD: u32 = 0x7600_000E;
/// This agent's: the `tbs` is a portal challenge for another site than the one asking.
pub const ORIGIN_MISMATCH: u32 = 0x7600_0032;
/// This agent's: the card is busy with another operation, or did not answer in time.
pub const CARD_BUSY: u32 = 0x7600_0033;
/// This agent's: the card or its module failed in a way not listed above.
pub const CARD_ERROR: u32 = 0x7600_0034;

/// `last_error` values (PKCS#11 return values and HiPKI's tries-left codes).
pub mod last {
    pub const NONE: u32 = 0;
    pub const PIN_INCORRECT: u32 = 0xA0;
    pub const PIN_LEN_RANGE: u32 = 0xA2;
    pub const PIN_LOCKED: u32 = 0xA4;
    pub const TWO_TRIES_LEFT: u32 = 0x8000_0002;
    pub const ONE_TRY_LEFT: u32 = 0x8000_0001;
    pub const DEVICE_REMOVED: u32 = 0x32;
    pub const TOKEN_NOT_PRESENT: u32 = 0xE0;
}

/// Why an agent request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("card busy or not answering")]
    Busy,
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
        ("card busy / timed out", CARD_BUSY, last::NONE),
        ("other card or module failure", CARD_ERROR, last::NONE),
    ]
}

//! The HiPKI Local Server protocol as pages see it: `ret_code` / `last_error` values (this
//! agent's additions marked), the answers of `pkcs11info` and `sign`, and what an answer means
//! for the user ([`Outcome`]). Shared by the agent (which produces the codes) and the portal's
//! pages (which read them), so both speak of the same numbers.

use serde::{Deserialize, Serialize};

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

/// PIN length the portal accepts (the seed: 「至少須為 6~8 碼」).
pub const PIN_MIN: usize = 6;
pub const PIN_MAX: usize = 8;

/// Whether a PIN may be sent to the card at all (checked before the card is touched).
pub fn pin_length_ok(pin: &str) -> bool {
    let n = pin.chars().count();
    (PIN_MIN..=PIN_MAX).contains(&n) && pin.chars().all(|c| c.is_ascii_graphic())
}

/// One certificate of a `pkcs11info?withcert=true` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CertInfo {
    pub label: String,
    pub usage: String,
    pub certb64: String,
    #[serde(rename = "subjectDN")]
    pub subject_dn: String,
    #[serde(rename = "issuerDN")]
    pub issuer_dn: String,
    #[serde(rename = "notAfter")]
    pub not_after: serde_json::Value,
    #[serde(rename = "subjectID")]
    pub subject_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TokenInfo {
    #[serde(rename = "serialNumber")]
    pub serial_number: String,
    pub label: String,
    pub certs: Vec<CertInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SlotInfo {
    #[serde(rename = "slotDescription")]
    pub slot_description: String,
    pub token: Option<TokenInfo>,
}

/// Any answer of the component (`func` = `pkcs11info`, `sign` or `addDomain`). Numbers may come
/// as JSON numbers or strings ("0x76000006" / decimal), depending on the component's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Answer {
    pub func: String,
    pub ret_code: serde_json::Value,
    pub last_error: serde_json::Value,
    pub slots: Vec<SlotInfo>,
    pub signature: String,
    pub certb64: String,
    #[serde(rename = "cardSN")]
    pub card_sn: String,
}

fn number(v: &serde_json::Value) -> Option<u32> {
    match v {
        serde_json::Value::Null => Some(0),
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None if s.is_empty() => Some(0),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

impl Answer {
    pub fn parse(text: &str) -> Option<Answer> {
        serde_json::from_str(text).ok()
    }
    pub fn ret_code(&self) -> u32 {
        number(&self.ret_code).unwrap_or(CARD_ERROR)
    }
    pub fn last_error(&self) -> u32 {
        number(&self.last_error).unwrap_or(0)
    }

    /// The card's signing certificate (usage digitalSignature), with its slot and card number.
    pub fn signing_certificate(&self) -> Option<(&SlotInfo, &TokenInfo, &CertInfo)> {
        self.slots.iter().find_map(|s| {
            let t = s.token.as_ref()?;
            let c = t.certs.iter().find(|c| {
                c.usage.split('|').any(|u| u.trim() == "digitalSignature") && !c.certb64.is_empty()
            })?;
            Some((s, t, c))
        })
    }

    /// What this answer means for the user.
    pub fn outcome(&self) -> Outcome {
        let last = self.last_error();
        match self.ret_code() {
            OK => {
                if self.func == "pkcs11info" {
                    if self.slots.is_empty() {
                        Outcome::NoReader
                    } else if self.slots.iter().all(|s| s.token.is_none()) {
                        Outcome::NoCard
                    } else if self.signing_certificate().is_none() {
                        Outcome::NoCertificate
                    } else {
                        Outcome::Ok
                    }
                } else if self.func == "sign" && self.signature.is_empty() {
                    Outcome::Failed(CARD_ERROR)
                } else {
                    Outcome::Ok
                }
            }
            NO_READER => Outcome::NoReader,
            NO_CARD if last == last::DEVICE_REMOVED => Outcome::CardRemoved,
            NO_CARD => Outcome::NoCard,
            SITE_NOT_TRUSTED => Outcome::SiteNotTrusted,
            USER_CANCELLED => Outcome::Cancelled,
            NO_PIN => Outcome::PinLength,
            CARD_BUSY => Outcome::Busy,
            CARD_LOGIN_FAILED => match last {
                last::PIN_LOCKED => Outcome::PinLocked,
                last::PIN_LEN_RANGE => Outcome::PinLength,
                last::TWO_TRIES_LEFT => Outcome::WrongPin {
                    tries_left: Some(2),
                },
                last::ONE_TRY_LEFT => Outcome::WrongPin {
                    tries_left: Some(1),
                },
                _ => Outcome::WrongPin { tries_left: None },
            },
            other => Outcome::Failed(other),
        }
    }
}

/// Every state of the card path a page has a message and an action for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// No answer from the component at all (not installed or not running).
    NotInstalled,
    /// The browser blocked the component's window.
    PopupBlocked,
    SiteNotTrusted,
    NoReader,
    NoCard,
    /// A card without a signing certificate.
    NoCertificate,
    CardRemoved,
    WrongPin {
        tries_left: Option<u8>,
    },
    PinLength,
    PinLocked,
    Cancelled,
    Busy,
    /// The component did not answer in time.
    Timeout,
    Failed(u32),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn readiness_from_pkcs11info() {
        let no_slots =
            Answer::parse(r#"{"func":"pkcs11info","ret_code":0,"last_error":0,"slots":[]}"#)
                .unwrap();
        assert_eq!(no_slots.outcome(), Outcome::NoReader);
        let empty = Answer::parse(
            r#"{"func":"pkcs11info","ret_code":0,"slots":[{"slotDescription":"R","token":null}]}"#,
        )
        .unwrap();
        assert_eq!(empty.outcome(), Outcome::NoCard);
        let card = Answer::parse(
            r#"{"func":"pkcs11info","ret_code":0,"slots":[{"slotDescription":"R","token":{"serialNumber":"GP01","certs":[
            {"usage":"keyEncipherment|dataEncipherment","certb64":"AAAA"},{"usage":"digitalSignature","certb64":"BBBB","subjectID":"6789"}]}}]}"#,
        )
        .unwrap();
        assert_eq!(card.outcome(), Outcome::Ok);
        let (_, t, c) = card.signing_certificate().unwrap();
        assert_eq!(
            (
                t.serial_number.as_str(),
                c.certb64.as_str(),
                c.subject_id.as_str()
            ),
            ("GP01", "BBBB", "6789")
        );
        let enc_only = Answer::parse(
            r#"{"func":"pkcs11info","ret_code":0,"slots":[{"token":{"certs":[{"usage":"keyEncipherment|dataEncipherment","certb64":"AAAA"}]}}]}"#,
        )
        .unwrap();
        assert_eq!(enc_only.outcome(), Outcome::NoCertificate);
    }

    #[test]
    fn codes_as_numbers_or_strings() {
        for text in [
            r#"{"func":"sign","ret_code":1980760070,"last_error":2147483650}"#,
            r#"{"func":"sign","ret_code":"0x76100006","last_error":"0x80000002"}"#,
        ] {
            assert_eq!(
                Answer::parse(text).unwrap().outcome(),
                Outcome::WrongPin {
                    tries_left: Some(2)
                }
            );
        }
        let table = [
            (NO_READER, 0, Outcome::NoReader),
            (NO_CARD, last::TOKEN_NOT_PRESENT, Outcome::NoCard),
            (NO_CARD, last::DEVICE_REMOVED, Outcome::CardRemoved),
            (
                CARD_LOGIN_FAILED,
                last::ONE_TRY_LEFT,
                Outcome::WrongPin {
                    tries_left: Some(1),
                },
            ),
            (
                CARD_LOGIN_FAILED,
                last::PIN_INCORRECT,
                Outcome::WrongPin { tries_left: None },
            ),
            (CARD_LOGIN_FAILED, last::PIN_LOCKED, Outcome::PinLocked),
            (CARD_LOGIN_FAILED, last::PIN_LEN_RANGE, Outcome::PinLength),
            (SITE_NOT_TRUSTED, 0, Outcome::SiteNotTrusted),
            (USER_CANCELLED, 0, Outcome::Cancelled),
            (CARD_BUSY, 0, Outcome::Busy),
            (ORIGIN_MISMATCH, 0, Outcome::Failed(ORIGIN_MISMATCH)),
        ];
        for (ret, last, want) in table {
            let a = Answer {
                func: "sign".into(),
                ret_code: ret.into(),
                last_error: last.into(),
                ..Default::default()
            };
            assert_eq!(a.outcome(), want, "{ret:#x}/{last:#x}");
        }
        let ok_without_signature = Answer {
            func: "sign".into(),
            ret_code: 0.into(),
            ..Default::default()
        };
        assert_eq!(ok_without_signature.outcome(), Outcome::Failed(CARD_ERROR));
    }

    #[test]
    fn pin_lengths() {
        assert!(!pin_length_ok("12345"));
        assert!(pin_length_ok("123456"));
        assert!(pin_length_ok("Ab1234xy"));
        assert!(!pin_length_ok("123456789"));
        assert!(!pin_length_ok("12 3456"));
        assert!(!pin_length_ok("１２３４５６"));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panic(s in ".{0,200}") {
            if let Some(a) = Answer::parse(&s) { let _ = a.outcome(); }
        }
        #[test]
        fn pin_rule_is_length_6_to_8(p in "[0-9A-Za-z]{0,12}") {
            prop_assert_eq!(pin_length_ok(&p), (6..=8).contains(&p.len()));
        }
    }
}

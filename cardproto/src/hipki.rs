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
/// 執行檔錯誤或逾時: the component's card program failed or did not answer in time (also what
/// sites assume when the `p11Image.bmp` picture holds nothing).
pub const EXE_TIMEOUT: u32 = 0x7600_000D;
/// 禁止存取的網域: the site is on the component's deny list; pages offer `/addDomain` as for
/// [`SITE_NOT_TRUSTED`].
pub const FORBIDDEN_DOMAIN: u32 = 0x7600_000F;
/// This agent's: the `tbs` is a portal challenge for another site than the one asking.
pub const ORIGIN_MISMATCH: u32 = 0x7600_0032;
/// This agent's: the card is busy with another operation.
pub const CARD_BUSY: u32 = 0x7600_0033;
/// This agent's: the card or its module failed in a way not listed above.
pub const CARD_ERROR: u32 = 0x7600_0034;

/// The component's text for a `ret_code` (its `errorcode.js` wording; this agent's own codes
/// in the same style), sent as `message` with every error.
pub fn message(ret_code: u32) -> &'static str {
    match ret_code {
        OK => "成功",
        NO_CARD => "未插入IC卡",
        NO_READER => "無可用讀卡機",
        CARD_LOGIN_FAILED => "IC卡登入失敗",
        SITE_NOT_TRUSTED => "在未授權的網站執行元件",
        FORBIDDEN_DOMAIN => "禁止存取的網域",
        BAD_JSON => "JSON格式錯誤",
        BAD_PARAMETER => "參數錯誤",
        EXE_TIMEOUT => "執行檔錯誤或逾時",
        UNSUPPORTED_METHOD => "不支援的方法",
        NO_PIN => "未輸入PIN碼",
        USER_CANCELLED => "使用者已取消動作",
        ORIGIN_MISMATCH => "簽章內容指定的網站與目前網站不符",
        CARD_BUSY => "卡片正由其他作業使用中",
        _ => "卡片或元件發生錯誤",
    }
}

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

/// One reader. The real component lists every reader: `token` is absent or null for an
/// empty one, and the string `"unknown token"` for a card its module does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SlotInfo {
    /// A reader name; some components send a number.
    #[serde(rename = "slotDescription", deserialize_with = "text_or_number")]
    pub slot_description: String,
    #[serde(deserialize_with = "token_or_unknown")]
    pub token: Option<TokenInfo>,
    /// A card is in the reader, but the component does not know it (`"unknown token"`).
    #[serde(skip)]
    pub unknown_token: bool,
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn token_or_unknown<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TokenInfo>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        v @ serde_json::Value::Object(_) => Ok(serde_json::from_value(v).ok()),
        _ => Ok(None),
    }
}

/// Labels real cards give the CA certificates they carry (never a signing certificate).
pub const CA_LABELS: [&str; 2] = ["CA Cert", "ROOT CA Cert"];

impl CertInfo {
    /// A CA certificate a card carries (by label or by a CA usage), not the holder's.
    pub fn is_ca(&self) -> bool {
        CA_LABELS
            .iter()
            .any(|l| self.label.trim().eq_ignore_ascii_case(l))
            || self
                .usage
                .split('|')
                .any(|u| matches!(u.trim(), "keyCertSign" | "cRLSign"))
    }

    /// The holder's signing certificate: usage digitalSignature, not a CA certificate.
    pub fn is_signing(&self) -> bool {
        !self.is_ca()
            && !self.certb64.is_empty()
            && self
                .usage
                .split('|')
                .any(|u| u.trim() == "digitalSignature")
    }
}

/// The `MakeSignature` request (the `tbsPackage` a page posts to `/sign`), as sites send it
/// and as the agent reads it: one type for both sides. Every field is optional on the wire
/// (sites leave out what they do not need); `ICToken` sends `userpin`, `cardid` and
/// `keyidb64` and fills what it does not mean with [`SignRequest::NOT_GIVEN`].
///
/// The PIN is wiped from memory when the request is dropped, and `Debug` never shows it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SignRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub func: Option<String>,
    /// `PKCS1` (default), `PKCS7` or `RAW`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tbs: Option<String>,
    /// `NONE`, `""` or absent: `tbs` as is; `base64`: `tbs` is base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tbs_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_algorithm: Option<String>,
    /// `"true"` for the card number in the answer (`cardSN`). A value, not a string: sites
    /// send `"true"` or `true`, and neither may make the request unreadable.
    #[serde(rename = "withCardSN", skip_serializing_if = "Option::is_none")]
    pub with_card_sn: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<zeroize::Zeroizing<String>>,
    /// ICToken's name for the PIN (it sends both).
    #[serde(rename = "userpin", skip_serializing_if = "Option::is_none")]
    pub userpin: Option<zeroize::Zeroizing<String>>,
    /// ICToken: the card number of the card to use.
    #[serde(rename = "cardid", skip_serializing_if = "Option::is_none")]
    pub cardid: Option<String>,
    /// ICToken: the CKA_ID (base64) of the key to use.
    #[serde(rename = "keyidb64", skip_serializing_if = "Option::is_none")]
    pub keyidb64: Option<String>,
    /// `"true"` (or `true`) for a signing time in a PKCS#7 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_signing_time: Option<serde_json::Value>,
    /// A reader name from `pkcs11info`, or a number (some sites send `0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_description: Option<serde_json::Value>,
    /// Sent by the real component's own pages (empty); read by nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<serde_json::Value>,
}

impl SignRequest {
    /// ICToken's placeholder for a parameter the page did not give.
    pub const NOT_GIVEN: &'static str = "__NotExistedTag__";

    /// What the portal's pages ask: SHA-256, PKCS#1 v1.5 over the challenge text as is,
    /// with the card number, optionally on one reader.
    pub fn portal_challenge(tbs: &str, pin: &str, slot: Option<&str>) -> Self {
        Self {
            func: Some("MakeSignature".into()),
            signature_type: Some("PKCS1".into()),
            tbs: Some(tbs.into()),
            tbs_encoding: Some("NONE".into()),
            hash_algorithm: Some("SHA256".into()),
            with_card_sn: Some(serde_json::Value::String("true".into())),
            pin: Some(zeroize::Zeroizing::new(pin.into())),
            nonce: Some(serde_json::Value::String(String::new())),
            slot_description: slot.map(|s| serde_json::Value::String(s.into())),
            ..Self::default()
        }
    }

    /// The PIN, under either name.
    pub fn pin(&self) -> Option<&str> {
        self.pin
            .as_deref()
            .or(self.userpin.as_deref())
            .map(String::as_str)
            .filter(|p| !p.is_empty())
    }
}

impl std::fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignRequest")
            .field("func", &self.func)
            .field("signature_type", &self.signature_type)
            .field("tbs", &self.tbs)
            .field("tbs_encoding", &self.tbs_encoding)
            .field("hash_algorithm", &self.hash_algorithm)
            .field("pin", &self.pin().map(|_| "<hidden>"))
            .field("slot_description", &self.slot_description)
            .finish_non_exhaustive()
    }
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
        // The real component sends values of 0x80000000 and above as negative 32-bit
        // numbers (−2147483646 = 0x80000002, two tries left).
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u32::try_from(u).ok(),
            (None, Some(i)) => i32::try_from(i).ok().map(|i| i as u32),
            _ => None,
        },
        serde_json::Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None if s.is_empty() => Some(0),
                None => s
                    .parse::<u32>()
                    .ok()
                    .or_else(|| s.parse::<i32>().ok().map(|i| i as u32)),
            }
        }
        _ => None,
    }
}

/// A code as the real component puts it on the wire: a signed 32-bit number.
pub fn wire(code: u32) -> i64 {
    i64::from(code as i32)
}

impl Answer {
    pub fn parse(text: &str) -> Option<Answer> {
        let mut a: Answer = serde_json::from_str(text).ok()?;
        // Which readers hold a card the component does not know (serde cannot see the
        // string once the token is `None`).
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let Some(slots) = v.get("slots").and_then(|s| s.as_array()) {
                for (info, raw) in a.slots.iter_mut().zip(slots) {
                    info.unknown_token = raw.get("token").is_some_and(|t| t.is_string());
                }
            }
        }
        Some(a)
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
            let c = t.certs.iter().find(|c| c.is_signing())?;
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
                        if self.slots.iter().any(|s| s.unknown_token) {
                            Outcome::NoCertificate
                        } else {
                            Outcome::NoCard
                        }
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
            SITE_NOT_TRUSTED | FORBIDDEN_DOMAIN => Outcome::SiteNotTrusted,
            EXE_TIMEOUT => Outcome::Timeout,
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

    #[test]
    fn the_portal_request_uses_the_wire_names_and_reads_back_whole() {
        let r = SignRequest::portal_challenge("登入 ECPA", "1+2%3&4", Some("Virtual PCD 00 00"));
        let text = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (k, want) in [
            ("func", "MakeSignature"),
            ("signatureType", "PKCS1"),
            ("tbs", "登入 ECPA"),
            ("tbsEncoding", "NONE"),
            ("hashAlgorithm", "SHA256"),
            ("withCardSN", "true"),
            ("pin", "1+2%3&4"),
            ("slotDescription", "Virtual PCD 00 00"),
            ("nonce", ""),
        ] {
            assert_eq!(v[k], want, "{k}");
        }
        assert_eq!(v.as_object().unwrap().len(), 9, "{text}");
        let back: SignRequest = serde_json::from_str(&text).unwrap();
        assert!(back == r);
        assert!(SignRequest::portal_challenge("t", "123456", None)
            .slot_description
            .is_none());
    }

    #[test]
    fn other_sites_requests_read_and_the_pin_never_shows_in_debug() {
        // ICToken's shape: userpin, placeholders, booleans where others send strings.
        let r: SignRequest = serde_json::from_str(
            r#"{"func":"MakeSignature","tbs":"x","userpin":"12345678","cardid":"GP54902532829744",
                "keyidb64":"AQ==","nonce":"__NotExistedTag__","withSigningTime":"__NotExistedTag__",
                "withCardSN":true,"slotDescription":0,"checkValidity":"__NotExistedTag__"}"#,
        )
        .unwrap();
        assert_eq!(r.pin(), Some("12345678"));
        assert_eq!(r.cardid.as_deref(), Some("GP54902532829744"));
        let shown = format!("{r:?}");
        assert!(!shown.contains("12345678"), "{shown}");
        let empty: SignRequest = serde_json::from_str(r#"{"pin":"","userpin":"123456"}"#).unwrap();
        // An empty `pin` is the PIN given (as the real component reads it): none.
        assert_eq!(empty.pin(), None);
    }

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

    /// What the real component sends where it differs from this agent: negative codes,
    /// every reader listed, `"unknown token"`, CA certificates first, a numeric reader name.
    #[test]
    fn answers_as_the_real_component_sends_them() {
        let two_left = r#"{"func":"sign","ret_code":1980760070,"last_error":-2147483646}"#;
        assert_eq!(
            Answer::parse(two_left).unwrap().outcome(),
            Outcome::WrongPin {
                tries_left: Some(2)
            }
        );
        let one_left = r#"{"func":"sign","ret_code":"1980760070","last_error":"-2147483647"}"#;
        assert_eq!(
            Answer::parse(one_left).unwrap().outcome(),
            Outcome::WrongPin {
                tries_left: Some(1)
            }
        );
        assert_eq!(wire(last::TWO_TRIES_LEFT), -2_147_483_646);
        assert_eq!(wire(NO_CARD), 0x7600_0006);
        let negative_ret = r#"{"func":"sign","ret_code":-536870893,"last_error":0}"#;
        assert_eq!(
            Answer::parse(negative_ret).unwrap().outcome(),
            Outcome::Failed(0xE000_0013)
        );

        let listing = r#"{"func":"pkcs11info","ret_code":0,"last_error":0,"serverVersion":"1.3.4.103349","slots":[
            {"slotDescription":"Generic Reader 0","slotID":0},
            {"slotDescription":1,"slotID":1,"token":"unknown token"},
            {"slotDescription":"CASTLES EZ100PU 0","slotID":2,"token":{"serialNumber":"TP03000000000001","label":"HiCOS PKI Smart Card","certs":[
              {"label":"ROOT CA Cert","certb64":"Uk9PVA==","subjectDN":"C=TW,O=Government Root Certification Authority"},
              {"label":"CA Cert","usage":"digitalSignature|keyCertSign|cRLSign","certb64":"Q0E="},
              {"label":"cert2","usage":"keyEncipherment|dataEncipherment","certb64":"RU5D"},
              {"label":"cert1","usage":"digitalSignature","certb64":"U0lHTg==","subjectID":"6789","notAfter":"20311231155959Z","notAfterT":1956585599}]}}]}"#;
        let a = Answer::parse(listing).unwrap();
        assert_eq!(a.outcome(), Outcome::Ok);
        assert_eq!(a.slots.len(), 3);
        assert_eq!(a.slots[1].slot_description, "1");
        assert!(a.slots[1].unknown_token && a.slots[1].token.is_none());
        assert!(!a.slots[0].unknown_token && a.slots[0].token.is_none());
        let (slot, token, cert) = a.signing_certificate().unwrap();
        assert_eq!(slot.slot_description, "CASTLES EZ100PU 0");
        assert_eq!(token.serial_number, "TP03000000000001");
        assert_eq!(
            (cert.label.as_str(), cert.certb64.as_str()),
            ("cert1", "U0lHTg==")
        );

        let only_unknown = r#"{"func":"pkcs11info","ret_code":0,"slots":[{"slotDescription":"R","token":"unknown token"}]}"#;
        assert_eq!(
            Answer::parse(only_unknown).unwrap().outcome(),
            Outcome::NoCertificate
        );
        let only_ca = r#"{"func":"pkcs11info","ret_code":0,"slots":[{"slotDescription":"R","token":{"certs":[
            {"label":"CA Cert","usage":"digitalSignature|keyCertSign|cRLSign","certb64":"Q0E="}]}}]}"#;
        assert_eq!(
            Answer::parse(only_ca).unwrap().outcome(),
            Outcome::NoCertificate
        );

        for (ret, want) in [
            (FORBIDDEN_DOMAIN, Outcome::SiteNotTrusted),
            (SITE_NOT_TRUSTED, Outcome::SiteNotTrusted),
            (EXE_TIMEOUT, Outcome::Timeout),
        ] {
            let text = format!(r#"{{"func":"pkcs11info","ret_code":{ret},"last_error":0}}"#);
            assert_eq!(Answer::parse(&text).unwrap().outcome(), want, "{ret:#x}");
        }
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

//! The agent's logic, free of HTTP: `pkcs11info` and `sign` as the HiPKI Local Server
//! answers them, over the [`Readers`] and [`Tokens`] traits. The caller has already decided
//! that the asking site is trusted and passes its origin.

use crate::card::{Hash, Readers, SignRequest, SlotSummary, Tokens};
use crate::codes::{self, Failure};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ecpa_cardproto::{challenge::Challenge, profile};
use serde::Deserialize;
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};
use zeroize::Zeroizing;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The largest `tbs` accepted (after decoding).
pub const MAX_TBS: usize = 32 * 1024;

pub struct Agent {
    /// `None`: the configured module is not a PC/SC card module (e.g. SoftHSM directly).
    pub readers: Option<Arc<dyn Readers>>,
    pub tokens: Arc<dyn Tokens>,
    /// One card operation at a time.
    lock: Arc<tokio::sync::Mutex<()>>,
    pub wait_for_card: Duration,
    pub op_timeout: Duration,
}

#[derive(Deserialize)]
struct TbsPackage {
    func: Option<String>,
    tbs: Option<String>,
    #[serde(rename = "tbsEncoding")]
    tbs_encoding: Option<String>,
    #[serde(rename = "hashAlgorithm")]
    hash_algorithm: Option<String>,
    #[serde(rename = "signatureType")]
    signature_type: Option<String>,
    pin: Option<Zeroizing<String>>,
    #[serde(rename = "withCardSN")]
    with_card_sn: Option<Value>,
    #[serde(rename = "slotDescription")]
    slot_description: Option<String>,
}

/// A parsed, validated signing request.
struct Parsed {
    data: Vec<u8>,
    hash: Hash,
    pin: Zeroizing<String>,
    with_card_sn: bool,
    slot_description: Option<String>,
}

fn bad(what: &str) -> Failure {
    Failure::BadParameter(what.into())
}

/// Validates a `tbsPackage` as `/sign` does, without touching any card (what the fuzz
/// target and the tests drive). `origin` is the asking site.
pub fn check_package(raw: &str, origin: &str) -> Result<(), Failure> {
    parse_package(raw, origin).map(|_| ())
}

/// Validates a `tbsPackage` without touching any card. `origin` is the asking site.
fn parse_package(raw: &str, origin: &str) -> Result<Parsed, Failure> {
    let pkg: TbsPackage = serde_json::from_str(raw).map_err(|_| Failure::BadJson)?;
    if let Some(f) = &pkg.func {
        if f != "MakeSignature" {
            return Err(Failure::UnsupportedMethod);
        }
    }
    match pkg.signature_type.as_deref().unwrap_or("PKCS1") {
        "PKCS1" => {}
        _ => return Err(bad("signatureType (PKCS1 is supported)")),
    }
    let hash = match pkg.hash_algorithm.as_deref().unwrap_or("SHA256") {
        "SHA1" => Hash::Sha1,
        "SHA256" => Hash::Sha256,
        "SHA384" => Hash::Sha384,
        "SHA512" => Hash::Sha512,
        _ => return Err(bad("hashAlgorithm")),
    };
    let tbs = pkg.tbs.ok_or_else(|| bad("tbs"))?;
    let data = match pkg.tbs_encoding.as_deref().unwrap_or("NONE") {
        "NONE" => tbs.into_bytes(),
        "base64" => B64.decode(tbs.trim()).map_err(|_| bad("tbs (base64)"))?,
        _ => return Err(bad("tbsEncoding")),
    };
    if data.is_empty() || data.len() > MAX_TBS {
        return Err(bad("tbs size"));
    }
    // A portal challenge is signed only for the site it names (the Web eID property).
    if let Ok(text) = std::str::from_utf8(&data) {
        if Challenge::claims(text) {
            match Challenge::parse(text) {
                Ok(c) if c.origin == origin => {}
                _ => return Err(Failure::OriginMismatch),
            }
        }
    }
    let pin = match pkg.pin {
        Some(p) if !p.is_empty() => p,
        _ => return Err(Failure::NoPin),
    };
    if !(6..=8).contains(&pin.chars().count()) {
        return Err(Failure::PinLength);
    }
    let with_card_sn = match pkg.with_card_sn {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    Ok(Parsed {
        data,
        hash,
        pin,
        with_card_sn,
        slot_description: pkg.slot_description,
    })
}

fn time_str(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn cert_json(label: &str, der: &[u8]) -> Value {
    match profile::parse(der) {
        Ok(p) => json!({
            "label": label,
            "usage": p.key_usage.map(|k| k.hipki_usage()).unwrap_or_default(),
            "certb64": B64.encode(der),
            "subjectDN": p.subject,
            "issuerDN": p.issuer,
            "sn": p.serial_hex,
            "notBefore": time_str(p.not_before),
            "notAfter": time_str(p.not_after),
            "subjectID": p.id_last4.unwrap_or_default(),
        }),
        Err(_) => json!({ "label": label, "usage": "", "certb64": B64.encode(der) }),
    }
}

fn error_answer(func: &str, f: &Failure) -> Value {
    let (ret, last) = f.codes();
    let mut v = json!({ "func": func, "ret_code": ret, "last_error": last });
    if func == "pkcs11info" {
        v["serverVersion"] = json!(VERSION);
        v["slots"] = json!([]);
    } else {
        v["version"] = json!(VERSION);
    }
    v
}

impl Agent {
    pub fn new(readers: Option<Arc<dyn Readers>>, tokens: Arc<dyn Tokens>) -> Self {
        Self {
            readers,
            tokens,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            wait_for_card: Duration::from_secs(10),
            op_timeout: Duration::from_secs(30),
        }
    }

    /// Runs a blocking card operation, one at a time, within the time limits.
    async fn card_op<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let guard = tokio::time::timeout(self.wait_for_card, self.lock.clone().lock_owned())
            .await
            .map_err(|_| Failure::Busy)?;
        let task = tokio::task::spawn_blocking(move || {
            let _guard = guard; // released only when the card operation really ends
            f()
        });
        match tokio::time::timeout(self.op_timeout, task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(Failure::Card(format!("card task failed: {e}"))),
            Err(_) => Err(Failure::Busy),
        }
    }

    /// Reader check: no reader vs no card, before PKCS#11 is asked anything.
    async fn check_readers(&self) -> Result<(), Failure> {
        let Some(readers) = self.readers.clone() else {
            return Ok(());
        };
        let list = self.card_op(move || readers.list()).await?;
        if list.is_empty() {
            return Err(Failure::NoReader);
        }
        if !list.iter().any(|r| r.card_present) {
            return Err(Failure::NoCard);
        }
        Ok(())
    }

    async fn slots(&self, with_certs: bool) -> Result<Vec<SlotSummary>, Failure> {
        self.check_readers().await?;
        let tokens = self.tokens.clone();
        let slots = self.card_op(move || tokens.slots(with_certs)).await?;
        if !slots.iter().any(|s| s.token.is_some()) {
            return Err(Failure::NoCard);
        }
        Ok(slots)
    }

    /// `POST /pkcs11info[?withcert=true]`
    pub async fn pkcs11info(&self, with_certs: bool) -> Value {
        match self.slots(with_certs).await {
            Err(f) => error_answer("pkcs11info", &f),
            Ok(slots) => {
                let slots: Vec<Value> = slots
                    .into_iter()
                    .filter_map(|s| {
                        let t = s.token?;
                        let mut token = json!({
                            "serialNumber": t.serial_number,
                            "label": t.label,
                            "manufacturerID": t.manufacturer_id,
                            "model": t.model,
                            "cardSN": t.card_number.clone().unwrap_or_default(),
                        });
                        if with_certs {
                            token["certs"] = Value::Array(t.certs.iter().map(|c| cert_json(&c.label, &c.der)).collect());
                        }
                        Some(json!({ "slotDescription": s.description, "slotID": s.slot_id, "token": token }))
                    })
                    .collect();
                json!({ "func": "pkcs11info", "ret_code": codes::OK, "last_error": 0, "serverVersion": VERSION, "slots": slots })
            }
        }
    }

    /// `POST /sign` with `tbsPackage`. `origin` is the (trusted) site asking.
    pub async fn sign(&self, package: &str, origin: &str) -> Value {
        match self.sign_inner(package, origin).await {
            Ok(v) => v,
            Err(f) => {
                tracing::info!(error = %f, "sign refused");
                error_answer("sign", &f)
            }
        }
    }

    async fn sign_inner(&self, package: &str, origin: &str) -> Result<Value, Failure> {
        let p = parse_package(package, origin)?;
        let slots = self.slots(true).await?;
        // The signing certificate (KeyUsage digitalSignature), never the encryption one.
        let (slot, cert, card_number) = slots
            .iter()
            .filter(|s| {
                p.slot_description
                    .as_deref()
                    .is_none_or(|d| s.description.trim() == d.trim())
            })
            .find_map(|s| {
                let t = s.token.as_ref()?;
                let c = t.certs.iter().find(|c| {
                    profile::parse(&c.der)
                        .ok()
                        .and_then(|pr| pr.key_usage)
                        .is_some_and(|k| k.digital_signature)
                })?;
                Some((s.slot_id, c.clone(), t.card_number.clone()))
            })
            .ok_or(Failure::NoCard)?;
        let req = SignRequest {
            slot_id: slot,
            key_id: cert.id.clone(),
            hash: p.hash,
            data: p.data,
        };
        let tokens = self.tokens.clone();
        let pin = p.pin;
        let signature = self.card_op(move || tokens.sign(&req, &pin)).await?;
        let mut v = json!({
            "func": "sign",
            "ret_code": codes::OK,
            "last_error": 0,
            "signature": B64.encode(signature),
            "certb64": B64.encode(&cert.der),
            "version": VERSION,
        });
        if p.with_card_sn {
            v["cardSN"] = json!(card_number.unwrap_or_default());
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{CertObject, MockReaders, MockTokens, ReaderState, TokenSummary};
    use crate::codes::last;

    /// A real certificate (from the simulator's profile builder would need SoftHSM); the
    /// unit tests use one generated once by hsm-sim and checked in as a test vector.
    fn signing_cert() -> Vec<u8> {
        B64.decode(include_str!("../tests/data/sign-cert.b64").trim())
            .unwrap_or_default()
    }

    fn enc_cert() -> Vec<u8> {
        B64.decode(include_str!("../tests/data/enc-cert.b64").trim())
            .unwrap_or_default()
    }

    fn slot_with_card() -> Vec<SlotSummary> {
        vec![SlotSummary {
            slot_id: 4,
            description: "Virtual PCD 00 00".into(),
            token: Some(TokenSummary {
                serial_number: "3332383239373434".into(),
                label: "王小明".into(),
                manufacturer_id: "piv_II".into(),
                model: "PKCS#15 emulated".into(),
                card_number: Some("GP54902532829744".into()),
                certs: vec![
                    CertObject {
                        label: "enc".into(),
                        id: vec![3],
                        der: enc_cert(),
                    },
                    CertObject {
                        label: "sign".into(),
                        id: vec![1],
                        der: signing_cert(),
                    },
                ],
            }),
        }]
    }

    fn readers(present: bool) -> Arc<dyn Readers> {
        let mut r = MockReaders::new();
        r.expect_list().returning(move || {
            Ok(vec![ReaderState {
                name: "Virtual PCD 00 00".into(),
                card_present: present,
            }])
        });
        Arc::new(r)
    }

    fn pkg(pin: &str) -> String {
        json!({"func":"MakeSignature","signatureType":"PKCS1","tbs":"hello","tbsEncoding":"NONE","hashAlgorithm":"SHA256","pin":pin,"withCardSN":"true"}).to_string()
    }

    fn codes_of(v: &Value) -> (u64, u64) {
        (
            v["ret_code"].as_u64().unwrap_or(u64::MAX),
            v["last_error"].as_u64().unwrap_or(u64::MAX),
        )
    }

    fn untouched_tokens() -> Arc<dyn Tokens> {
        let mut t = MockTokens::new();
        t.expect_slots().never();
        t.expect_sign().never();
        Arc::new(t)
    }

    #[tokio::test]
    async fn signs_with_the_signing_key_only() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign()
            .withf(|r, pin| {
                r.key_id == vec![1]
                    && r.slot_id == 4
                    && r.hash == Hash::Sha256
                    && r.data == b"hello"
                    && pin == "123456"
            })
            .times(1)
            .returning(|_, _| Ok(vec![9; 256]));
        let a = Agent::new(Some(readers(true)), Arc::new(t));
        let v = a.sign(&pkg("123456"), "https://ecpa.example").await;
        assert_eq!(codes_of(&v), (0, 0));
        assert_eq!(v["cardSN"], "GP54902532829744");
        assert_eq!(v["certb64"], B64.encode(signing_cert()));
        assert!(!v.to_string().contains("123456"), "the PIN is never echoed");
    }

    /// Every row of the error table, from the condition that produces it.
    #[tokio::test]
    async fn every_error_code_row() {
        let origin = "https://ecpa.example";
        // No reader / no card: PC/SC decides before PKCS#11 is touched.
        let mut none = MockReaders::new();
        none.expect_list().returning(|| Ok(vec![]));
        let a = Agent::new(Some(Arc::new(none)), untouched_tokens());
        assert_eq!(
            codes_of(&a.sign(&pkg("123456"), origin).await),
            (u64::from(codes::NO_READER), 0)
        );
        assert_eq!(
            codes_of(&a.pkcs11info(true).await),
            (u64::from(codes::NO_READER), 0)
        );
        let a = Agent::new(Some(readers(false)), untouched_tokens());
        assert_eq!(
            codes_of(&a.sign(&pkg("123456"), origin).await),
            (
                u64::from(codes::NO_CARD),
                u64::from(last::TOKEN_NOT_PRESENT)
            )
        );

        // Package problems never touch a card.
        let a = Agent::new(Some(readers(true)), untouched_tokens());
        let cases: Vec<(String, u32, u32)> = vec![
            ("{not json".into(), codes::BAD_JSON, 0),
            (
                json!({"func":"Other","tbs":"x","pin":"123456"}).to_string(),
                codes::UNSUPPORTED_METHOD,
                0,
            ),
            (
                json!({"tbs":"x","pin":"123456","signatureType":"PKCS7"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (
                json!({"tbs":"x","pin":"123456","hashAlgorithm":"MD5"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (
                json!({"tbs":"x","pin":"123456","tbsEncoding":"hex"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (
                json!({"tbs":"!!!","pin":"123456","tbsEncoding":"base64"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (json!({"pin":"123456"}).to_string(), codes::BAD_PARAMETER, 0),
            (
                json!({"tbs":"x".repeat(MAX_TBS + 1),"pin":"123456"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (json!({"tbs":"x"}).to_string(), codes::NO_PIN, 0),
            (json!({"tbs":"x","pin":""}).to_string(), codes::NO_PIN, 0),
            (
                json!({"tbs":"x","pin":"12345"}).to_string(),
                codes::CARD_LOGIN_FAILED,
                last::PIN_LEN_RANGE,
            ),
            (
                json!({"tbs":"x","pin":"123456789"}).to_string(),
                codes::CARD_LOGIN_FAILED,
                last::PIN_LEN_RANGE,
            ),
        ];
        for (p, ret, le) in cases {
            assert_eq!(
                codes_of(&a.sign(&p, origin).await),
                (u64::from(ret), u64::from(le)),
                "{p}"
            );
        }

        // Errors from the token.
        for (failure, ret, le) in [
            (
                Failure::WrongPin {
                    tries_left: Some(2),
                },
                codes::CARD_LOGIN_FAILED,
                last::TWO_TRIES_LEFT,
            ),
            (
                Failure::WrongPin {
                    tries_left: Some(1),
                },
                codes::CARD_LOGIN_FAILED,
                last::ONE_TRY_LEFT,
            ),
            (
                Failure::WrongPin { tries_left: None },
                codes::CARD_LOGIN_FAILED,
                last::PIN_INCORRECT,
            ),
            (
                Failure::PinLocked,
                codes::CARD_LOGIN_FAILED,
                last::PIN_LOCKED,
            ),
            (Failure::CardRemoved, codes::NO_CARD, last::DEVICE_REMOVED),
            (
                Failure::Card("CKR_DEVICE_ERROR".into()),
                codes::CARD_ERROR,
                0,
            ),
        ] {
            let mut t = MockTokens::new();
            t.expect_slots().returning(|_| Ok(slot_with_card()));
            let f = failure.clone();
            t.expect_sign().returning(move |_, _| Err(f.clone()));
            let a = Agent::new(Some(readers(true)), Arc::new(t));
            assert_eq!(
                codes_of(&a.sign(&pkg("123456"), origin).await),
                (u64::from(ret), u64::from(le)),
                "{failure:?}"
            );
        }
    }

    #[tokio::test]
    async fn relayed_challenge_for_another_site_is_not_signed() {
        let c = ecpa_cardproto::challenge::Challenge {
            purpose: ecpa_cardproto::challenge::Purpose::Login,
            origin: "https://ecpa.example".into(),
            nonce: B64.encode([1u8; 32]),
            issued_at: 1_795_000_000,
        };
        let p = json!({"tbs": c.to_tbs(), "pin": "123456"}).to_string();
        let a = Agent::new(Some(readers(true)), untouched_tokens());
        assert_eq!(
            codes_of(&a.sign(&p, "https://phish.example").await),
            (u64::from(codes::ORIGIN_MISMATCH), 0)
        );
        // An altered challenge claiming to be one is refused too.
        let p = json!({"tbs": c.to_tbs().replace("\"iat\":", "\"iat\": "), "pin": "123456"})
            .to_string();
        assert_eq!(
            codes_of(&a.sign(&p, "https://ecpa.example").await),
            (u64::from(codes::ORIGIN_MISMATCH), 0)
        );
        // The right site gets it signed.
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign()
            .withf(move |r, _| r.data == c.to_tbs().into_bytes())
            .returning(|_, _| Ok(vec![1; 256]));
        let a = Agent::new(Some(readers(true)), Arc::new(t));
        let p = json!({"tbs": ecpa_cardproto::challenge::Challenge { purpose: ecpa_cardproto::challenge::Purpose::Login, origin: "https://ecpa.example".into(), nonce: B64.encode([1u8; 32]), issued_at: 1_795_000_000 }.to_tbs(), "pin": "123456"}).to_string();
        assert_eq!(codes_of(&a.sign(&p, "https://ecpa.example").await), (0, 0));
    }

    #[tokio::test]
    async fn pkcs11info_reports_usage_and_subject_id() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        let a = Agent::new(Some(readers(true)), Arc::new(t));
        let v = a.pkcs11info(true).await;
        assert_eq!(codes_of(&v), (0, 0));
        let certs = v["slots"][0]["token"]["certs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let usages: Vec<&str> = certs.iter().filter_map(|c| c["usage"].as_str()).collect();
        assert_eq!(
            usages,
            vec!["keyEncipherment|dataEncipherment", "digitalSignature"]
        );
        assert_eq!(certs[1]["subjectID"], "6789");
        assert_eq!(v["slots"][0]["slotDescription"], "Virtual PCD 00 00");
    }

    #[tokio::test]
    async fn one_operation_at_a_time_with_a_bounded_wait() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| {
            std::thread::sleep(Duration::from_millis(300));
            Ok(slot_with_card())
        });
        let mut a = Agent::new(None, Arc::new(t));
        a.wait_for_card = Duration::from_millis(50);
        let a = Arc::new(a);
        let b = a.clone();
        let first = tokio::spawn(async move { b.pkcs11info(false).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = a.pkcs11info(false).await;
        assert_eq!(codes_of(&second), (u64::from(codes::CARD_BUSY), 0));
        assert_eq!(codes_of(&first.await.unwrap()), (0, 0));
    }
}

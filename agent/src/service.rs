//! The agent's logic, free of HTTP: `pkcs11info` and `sign` as the HiPKI Local Server
//! answers them, over the [`Readers`] and [`Tokens`] traits. The caller has already decided
//! who is asking (a trusted site's origin, or a local program) and passes it on.

use crate::card::{Hash, ReaderState, Readers, SignRequest, SlotSummary, Tokens};
use crate::codes::{self, Failure};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ecpa_cardproto::{
    challenge::Challenge,
    // The page's request type, read here as the `tbsPackage` it arrives as.
    hipki::{message, wire, SignRequest as TbsPackage},
    profile,
};
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};
use zeroize::Zeroizing;

/// The agent's own version (its `agentVersion`); the HiPKI protocol level it reports is
/// [`Agent::hipki_version`].
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
    /// What `serverVersion` / `version` say (see `Config::hipki_version`).
    pub hipki_version: String,
}

/// Who asks for a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker<'a> {
    /// A web page of this (trusted) origin.
    Site(&'a str),
    /// A program on this computer (no browser fetch metadata): it has no origin, so portal
    /// challenges, which name a site, are never signed for it.
    LocalProgram,
}

/// `withCardSN`, `withSigningTime`: `true`, `"true"`, anything else is false.
fn flag(v: &Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureType {
    /// PKCS#1 v1.5 over the hash of `tbs`.
    Pkcs1,
    /// CMS SignedData with `tbs` inside ([`crate::pkcs7`]).
    Pkcs7,
    /// `tbs` (base64) is already a digest: PKCS#1 v1.5 / ECDSA over it.
    Raw,
}

/// A parsed, validated signing request.
struct Parsed {
    data: Vec<u8>,
    hash: Hash,
    signature_type: SignatureType,
    pin: Zeroizing<String>,
    signing_time: bool,
    slot_description: Option<String>,
    card_id: Option<String>,
    key_id: Option<Vec<u8>>,
}

/// A text parameter that was really given (not empty, not ICToken's placeholder).
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != TbsPackage::NOT_GIVEN)
}

fn bad(what: &str) -> Failure {
    Failure::BadParameter(what.into())
}

/// Validates a `tbsPackage` as `/sign` does, without touching any card (what the fuzz
/// target and the tests drive). `origin` is the asking site.
pub fn check_package(raw: &str, origin: &str) -> Result<(), Failure> {
    parse_package(raw, Asker::Site(origin)).map(|_| ())
}

fn hash_of_len(n: usize) -> Option<Hash> {
    match n {
        20 => Some(Hash::Sha1),
        32 => Some(Hash::Sha256),
        48 => Some(Hash::Sha384),
        64 => Some(Hash::Sha512),
        _ => None,
    }
}

/// Validates a `tbsPackage` without touching any card.
fn parse_package(raw: &str, asker: Asker<'_>) -> Result<Parsed, Failure> {
    let pkg: TbsPackage = serde_json::from_str(raw).map_err(|_| Failure::BadJson)?;
    if let Some(f) = &pkg.func {
        if f != "MakeSignature" {
            return Err(Failure::UnsupportedMethod);
        }
    }
    let signature_type = match pkg
        .signature_type
        .as_deref()
        .map(|s| s.trim().to_ascii_uppercase())
        .as_deref()
    {
        None | Some("") | Some("PKCS1") => SignatureType::Pkcs1,
        Some("PKCS7") => SignatureType::Pkcs7,
        Some("RAW") => SignatureType::Raw,
        _ => return Err(bad("signatureType (PKCS1, PKCS7 or RAW)")),
    };
    let named_hash = match pkg
        .hash_algorithm
        .as_deref()
        .map(|s| s.trim().to_ascii_uppercase().replace('-', ""))
        .as_deref()
    {
        None | Some("") => None,
        Some("SHA1") => Some(Hash::Sha1),
        Some("SHA256") => Some(Hash::Sha256),
        Some("SHA384") => Some(Hash::Sha384),
        Some("SHA512") => Some(Hash::Sha512),
        _ => return Err(bad("hashAlgorithm")),
    };
    let tbs = pkg.tbs.ok_or_else(|| bad("tbs"))?;
    // `NONE`, `""` or absent: the text itself (sites send all three).
    let data = match pkg.tbs_encoding.as_deref().map(str::trim) {
        None | Some("") => tbs.into_bytes(),
        Some(e) if e.eq_ignore_ascii_case("none") => tbs.into_bytes(),
        Some(e) if e.eq_ignore_ascii_case("base64") => {
            let compact: String = tbs.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            B64.decode(compact).map_err(|_| bad("tbs (base64)"))?
        }
        _ => return Err(bad("tbsEncoding")),
    };
    if data.is_empty() || data.len() > MAX_TBS {
        return Err(bad("tbs size"));
    }
    let hash = match signature_type {
        SignatureType::Raw => {
            let by_len = hash_of_len(data.len()).ok_or_else(|| bad("tbs (RAW: a digest)"))?;
            if named_hash.is_some_and(|h| h != by_len) {
                return Err(bad("hashAlgorithm (RAW: the digest's length differs)"));
            }
            by_len
        }
        _ => named_hash.unwrap_or(Hash::Sha256),
    };
    // A portal challenge is signed only for the site it names (the Web eID property).
    if let Ok(text) = std::str::from_utf8(&data) {
        if Challenge::claims(text) {
            match (Challenge::parse(text), asker) {
                (Ok(c), Asker::Site(origin)) if c.origin == origin => {}
                _ => return Err(Failure::OriginMismatch),
            }
        }
    }
    let pin = match pkg.pin.or(pkg.userpin) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(Failure::NoPin),
    };
    // Checked here, so a PIN of the wrong length never costs the card a try (the real
    // component passes it to the card, which refuses it the same way: 0xA2).
    if !(6..=8).contains(&pin.chars().count()) {
        return Err(Failure::PinLength);
    }
    let slot_description = match pkg.slot_description {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let key_id = match given(pkg.keyidb64) {
        Some(k) => Some(B64.decode(k).map_err(|_| bad("keyidb64"))?),
        None => None,
    };
    Ok(Parsed {
        data,
        hash,
        signature_type,
        pin,
        signing_time: flag(&pkg.with_signing_time),
        slot_description,
        card_id: given(pkg.cardid),
        key_id,
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

/// What a certificate on a card is for, as the real component labels it on MOICA cards
/// (`cert1` signing, `cert2` encryption, `CA Cert`, `ROOT CA Cert`); PKCS#11 labels differ
/// between middlewares (OpenSC's PIV labels say nothing of the role).
fn role_label(p: &profile::CertProfile, object_label: &str) -> String {
    if is_ca_cert(p) {
        return if p.subject == p.issuer {
            "ROOT CA Cert".into()
        } else {
            "CA Cert".into()
        };
    }
    match p.key_usage {
        Some(k) if k.digital_signature => "cert1".into(),
        Some(k) if k.key_encipherment || k.data_encipherment => "cert2".into(),
        _ => object_label.to_string(),
    }
}

/// The order of certificates in a token listing (stable for equal ranks).
fn label_rank(label: Option<&str>) -> u8 {
    match label {
        Some("ROOT CA Cert") => 0,
        Some("CA Cert") => 1,
        Some("cert1") => 2,
        Some("cert2") => 3,
        _ => 4,
    }
}

fn ca_usage(p: &profile::CertProfile) -> String {
    let mut u = p.key_usage.map(|k| k.hipki_usage()).unwrap_or_default();
    if is_ca_cert(p) {
        if !u.is_empty() {
            u.push('|');
        }
        u.push_str("keyCertSign|cRLSign");
    }
    u
}

fn cert_json(label: &str, id: &[u8], der: &[u8]) -> Value {
    match profile::parse(der) {
        Ok(p) => json!({
            "label": role_label(&p, label),
            "usage": ca_usage(&p),
            "certb64": B64.encode(der),
            "subjectDN": p.subject_hipki,
            "issuerDN": p.issuer_hipki,
            "sn": p.serial_hex,
            "notBefore": time_str(p.not_before),
            "notAfter": time_str(p.not_after),
            "notBeforeT": p.not_before,
            "notAfterT": p.not_after,
            "subjectID": p.id_last4.unwrap_or_default(),
            "id": B64.encode(id),
        }),
        Err(_) => {
            json!({ "label": label, "usage": "", "certb64": B64.encode(der), "id": B64.encode(id) })
        }
    }
}

/// A CA certificate a card carries: the CA flag, or a key that signs certificates.
fn is_ca_cert(p: &profile::CertProfile) -> bool {
    p.is_ca || p.key_usage.is_some_and(|k| k.key_cert_sign)
}

/// Whether a certificate on a card is the holder's signing certificate (never a CA one).
fn is_signing(der: &[u8]) -> bool {
    profile::parse(der)
        .ok()
        .is_some_and(|p| !is_ca_cert(&p) && p.key_usage.is_some_and(|k| k.digital_signature))
}

impl Agent {
    /// The answer to a failed request: codes as the wire carries them, a `message`, versions.
    pub fn failure_answer(&self, func: &str, f: &Failure) -> Value {
        let (ret, last) = f.codes();
        let mut v = json!({
            "func": func,
            "ret_code": wire(ret),
            "last_error": wire(last),
            "message": message(ret),
        });
        if func == "pkcs11info" {
            v["serverVersion"] = json!(self.hipki_version);
            v["agentVersion"] = json!(VERSION);
            v["slots"] = json!([]);
        } else {
            v["version"] = json!(self.hipki_version);
        }
        v
    }
}

impl Agent {
    pub fn new(readers: Option<Arc<dyn Readers>>, tokens: Arc<dyn Tokens>) -> Self {
        Self {
            readers,
            tokens,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            wait_for_card: Duration::from_secs(10),
            op_timeout: Duration::from_secs(30),
            hipki_version: crate::config::HIPKI_VERSION.into(),
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
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// The readers (PC/SC), or `None` when the module is not a PC/SC one.
    async fn readers(&self) -> Result<Option<Vec<ReaderState>>, Failure> {
        let Some(readers) = self.readers.clone() else {
            return Ok(None);
        };
        let list = self.card_op(move || readers.list()).await?;
        if list.is_empty() {
            return Err(Failure::NoReader);
        }
        Ok(Some(list))
    }

    /// Every reader with what is in it (PKCS#11 is asked only when some reader holds a
    /// card), and the readers as PC/SC sees them.
    async fn listing(
        &self,
        with_certs: bool,
    ) -> Result<(Option<Vec<ReaderState>>, Vec<SlotSummary>), Failure> {
        let readers = self.readers().await?;
        let empty_readers = |r: &[ReaderState]| -> Vec<SlotSummary> {
            r.iter()
                .enumerate()
                .map(|(i, r)| SlotSummary {
                    slot_id: i as u64,
                    description: r.name.clone(),
                    token: None,
                })
                .collect()
        };
        if let Some(r) = &readers {
            if !r.iter().any(|r| r.card_present) {
                let slots = empty_readers(r);
                return Ok((readers, slots));
            }
        }
        let tokens = self.tokens.clone();
        let mut slots = self.card_op(move || tokens.slots(with_certs)).await?;
        // A reader PKCS#11 does not show (another module's reader) is still a reader.
        if let Some(r) = &readers {
            let next = slots.iter().map(|s| s.slot_id + 1).max().unwrap_or(0);
            for (i, reader) in r.iter().enumerate() {
                if !slots
                    .iter()
                    .any(|s| s.description.trim() == reader.name.trim())
                {
                    slots.push(SlotSummary {
                        slot_id: next + i as u64,
                        description: reader.name.clone(),
                        token: None,
                    });
                }
            }
        }
        Ok((readers, slots))
    }

    /// `pkcs11info[?withcert=true]`: `ret_code` 0 with every reader; an empty reader has no
    /// `token`, a card the module does not know has `"token": "unknown token"`.
    pub async fn pkcs11info(&self, with_certs: bool) -> Value {
        match self.pkcs11info_inner(with_certs).await {
            Ok(v) => v,
            Err(f) => self.failure_answer("pkcs11info", &f),
        }
    }

    async fn pkcs11info_inner(&self, with_certs: bool) -> Result<Value, Failure> {
        let (readers, slots) = self.listing(with_certs).await?;
        let present = |name: &str| {
            readers.as_ref().is_some_and(|r| {
                r.iter()
                    .any(|r| r.name.trim() == name.trim() && r.card_present)
            })
        };
        let slots: Vec<Value> = slots
            .into_iter()
            .map(|s| {
                let mut slot = json!({ "slotDescription": s.description, "slotID": s.slot_id });
                match s.token {
                    Some(t) => {
                        let card_sn = t.card_number.clone().unwrap_or(t.serial_number.clone());
                        let mut token = json!({
                            "serialNumber": card_sn,
                            "label": t.label,
                            "manufacturerID": t.manufacturer_id,
                            "model": t.model,
                            "cardSN": card_sn,
                        });
                        if with_certs {
                            let mut certs: Vec<Value> = t
                                .certs
                                .iter()
                                .map(|c| cert_json(&c.label, &c.id, &c.der))
                                .collect();
                            // As the real component lists them: the CA certificates first,
                            // then cert1, cert2. ICToken takes the *last* certificate whose
                            // usage matches /digitalSignature/, so a CA certificate after
                            // cert1 would be taken for the holder's.
                            certs.sort_by_key(|c| label_rank(c["label"].as_str()));
                            token["certs"] = Value::Array(certs);
                        }
                        slot["token"] = token;
                    }
                    None if present(&s.description) => slot["token"] = json!("unknown token"),
                    None => {}
                }
                slot
            })
            .collect();
        Ok(json!({
            "func": "pkcs11info",
            "ret_code": codes::OK,
            "last_error": 0,
            "serverVersion": self.hipki_version,
            "agentVersion": VERSION,
            "slots": slots,
        }))
    }

    /// `sign` with a `tbsPackage`.
    pub async fn sign(&self, package: &str, asker: Asker<'_>) -> Value {
        match self.sign_inner(package, asker).await {
            Ok(v) => v,
            Err(f) => {
                tracing::info!(error = %f, "sign refused");
                self.failure_answer("sign", &f)
            }
        }
    }

    async fn sign_inner(&self, package: &str, asker: Asker<'_>) -> Result<Value, Failure> {
        let p = parse_package(package, asker)?;
        let (_, slots) = self.listing(true).await?;
        let with_token: Vec<&SlotSummary> = slots.iter().filter(|s| s.token.is_some()).collect();
        if with_token.is_empty() {
            return Err(Failure::NoCard);
        }
        // The reader asked for: by name, else (a number) by its ID or position.
        let chosen: Vec<&SlotSummary> = match &p.slot_description {
            None => with_token,
            Some(d) => {
                let by_name: Vec<&SlotSummary> = with_token
                    .iter()
                    .copied()
                    .filter(|s| s.description.trim() == d)
                    .collect();
                if !by_name.is_empty() {
                    by_name
                } else if let Ok(n) = d.parse::<u64>() {
                    slots
                        .iter()
                        .filter(|s| s.slot_id == n)
                        .chain(slots.get(usize::try_from(n).unwrap_or(usize::MAX)))
                        .filter(|s| s.token.is_some())
                        .take(1)
                        .collect()
                } else {
                    vec![]
                }
            }
        };
        // The signing certificate (KeyUsage digitalSignature, not a CA), never the
        // encryption one or a CA certificate the card carries; on the card asked for
        // (`cardid`) and with the key asked for (`keyidb64`) when the page names them.
        let (slot, cert, card_sn) = chosen
            .iter()
            .find_map(|s| {
                let t = s.token.as_ref()?;
                let sn = t.card_number.clone().unwrap_or(t.serial_number.clone());
                if p.card_id.as_ref().is_some_and(|id| *id != sn) {
                    return None;
                }
                let c = t
                    .certs
                    .iter()
                    .find(|c| is_signing(&c.der) && p.key_id.as_ref().is_none_or(|k| *k == c.id))?;
                Some((s.slot_id, c.clone(), sn))
            })
            .ok_or(Failure::NoCard)?;
        let (to_card, attrs) = match p.signature_type {
            SignatureType::Pkcs7 => {
                let when = p.signing_time.then(time::OffsetDateTime::now_utc);
                let (attrs, der) = crate::pkcs7::signed_attributes(&p.data, p.hash, when)?;
                (der, Some(attrs))
            }
            _ => (p.data.clone(), None),
        };
        let req = SignRequest {
            slot_id: slot,
            key_id: cert.id.clone(),
            hash: p.hash,
            data: to_card,
            prehashed: p.signature_type == SignatureType::Raw,
        };
        let tokens = self.tokens.clone();
        let pin = p.pin;
        let raw_signature = self.card_op(move || tokens.sign(&req, &pin)).await?;
        let signature = match attrs {
            Some(attrs) => {
                crate::pkcs7::signed_data(&cert.der, &p.data, p.hash, attrs, &raw_signature)?
            }
            None => raw_signature,
        };
        Ok(json!({
            "func": "sign",
            "ret_code": codes::OK,
            "last_error": 0,
            "signature": B64.encode(signature),
            "certb64": B64.encode(&cert.der),
            "cardSN": card_sn,
            "version": self.hipki_version,
        }))
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

    /// (`ret_code`, `last_error`) as the wire carries them (signed 32-bit).
    fn codes_of(v: &Value) -> (i64, i64) {
        (
            v["ret_code"].as_i64().unwrap_or(i64::MAX),
            v["last_error"].as_i64().unwrap_or(i64::MAX),
        )
    }

    fn w(ret: u32, last: u32) -> (i64, i64) {
        (wire(ret), wire(last))
    }

    const SITE: Asker<'static> = Asker::Site("https://ecpa.example");

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
        let v = a.sign(&pkg("123456"), SITE).await;
        assert_eq!(codes_of(&v), (0, 0));
        assert_eq!(v["cardSN"], "GP54902532829744");
        assert_eq!(v["certb64"], B64.encode(signing_cert()));
        assert!(!v.to_string().contains("123456"), "the PIN is never echoed");
    }

    /// Every row of the error table, from the condition that produces it.
    #[tokio::test]
    async fn every_error_code_row() {
        let origin = SITE;
        // No reader / no card: PC/SC decides before PKCS#11 is touched.
        let mut none = MockReaders::new();
        none.expect_list().returning(|| Ok(vec![]));
        let a = Agent::new(Some(Arc::new(none)), untouched_tokens());
        assert_eq!(
            codes_of(&a.sign(&pkg("123456"), origin).await),
            w(codes::NO_READER, 0)
        );
        assert_eq!(codes_of(&a.pkcs11info(true).await), w(codes::NO_READER, 0));
        let a = Agent::new(Some(readers(false)), untouched_tokens());
        assert_eq!(
            codes_of(&a.sign(&pkg("123456"), origin).await),
            w(codes::NO_CARD, last::TOKEN_NOT_PRESENT)
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
                json!({"tbs":"x","pin":"123456","signatureType":"CMS"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (
                json!({"tbs":"aGVsbG8=","tbsEncoding":"base64","pin":"123456","signatureType":"RAW"}).to_string(),
                codes::BAD_PARAMETER,
                0,
            ),
            (
                json!({"tbs":B64.encode([7u8; 32]),"tbsEncoding":"base64","hashAlgorithm":"SHA1","pin":"123456","signatureType":"RAW"}).to_string(),
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
            assert_eq!(codes_of(&a.sign(&p, origin).await), w(ret, le), "{p}");
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
                w(ret, le),
                "{failure:?}"
            );
        }
    }

    #[tokio::test]
    async fn relayed_challenge_for_another_site_is_not_signed() {
        let c = ecpa_cardproto::challenge::Challenge {
            purpose: ecpa_cardproto::challenge::Purpose::Login,
            origin: "https://ecpa.example".into(),
            nonce: ecpa_cardproto::challenge::nonce_text(&[1u8; 32]),
            issued_at: 1_795_000_000,
        };
        let p = json!({"tbs": c.to_tbs(), "pin": "123456"}).to_string();
        let a = Agent::new(Some(readers(true)), untouched_tokens());
        assert_eq!(
            codes_of(&a.sign(&p, Asker::Site("https://phish.example")).await),
            w(codes::ORIGIN_MISMATCH, 0)
        );
        // An altered challenge claiming to be one is refused too.
        let p = json!({"tbs": c.to_tbs().replace("\"iat\":", "\"iat\": "), "pin": "123456"})
            .to_string();
        assert_eq!(
            codes_of(&a.sign(&p, SITE).await),
            w(codes::ORIGIN_MISMATCH, 0)
        );
        // The right site gets it signed.
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign()
            .withf(move |r, _| r.data == c.to_tbs().into_bytes())
            .returning(|_, _| Ok(vec![1; 256]));
        let a = Agent::new(Some(readers(true)), Arc::new(t));
        let p = json!({"tbs": ecpa_cardproto::challenge::Challenge { purpose: ecpa_cardproto::challenge::Purpose::Login, origin: "https://ecpa.example".into(), nonce: ecpa_cardproto::challenge::nonce_text(&[1u8; 32]), issued_at: 1_795_000_000 }.to_tbs(), "pin": "123456"}).to_string();
        assert_eq!(codes_of(&a.sign(&p, SITE).await), (0, 0));
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
            vec!["digitalSignature", "keyEncipherment|dataEncipherment"]
        );
        assert_eq!(certs[0]["subjectID"], "6789");
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
        assert_eq!(codes_of(&second), w(codes::CARD_BUSY, 0));
        assert_eq!(codes_of(&first.await.unwrap()), (0, 0));
    }

    fn agent_with(tokens: MockTokens, present: bool) -> Agent {
        Agent::new(Some(readers(present)), Arc::new(tokens))
    }

    #[tokio::test]
    async fn pkcs7_wraps_the_cards_signature_over_signed_attributes() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign()
            .withf(|r, _| {
                // The card signs the DER SET of signed attributes, not the tbs itself.
                r.data.first() == Some(&0x31) && !r.prehashed && r.key_id == vec![1]
            })
            .times(1)
            .returning(|_, _| Ok(vec![0x5A; 256]));
        let a = agent_with(t, true);
        let p = json!({"func":"MakeSignature","signatureType":"PKCS7","tbs":"登入 ECPA","tbsEncoding":"","hashAlgorithm":"SHA256","pin":"123456","withSigningTime":"true"}).to_string();
        let v = a.sign(&p, SITE).await;
        assert_eq!(codes_of(&v), (0, 0), "{v}");
        let der = B64.decode(v["signature"].as_str().unwrap()).unwrap();
        assert_eq!(der[0], 0x30);
        let tbs = "登入 ECPA".as_bytes();
        assert!(
            der.windows(tbs.len()).any(|w| w == tbs),
            "the tbs is inside"
        );
        let cert = signing_cert();
        assert!(
            der.windows(cert.len()).any(|w| w == cert.as_slice()),
            "the certificate is inside"
        );
        assert!(
            der.windows(256).any(|w| w == [0x5A; 256]),
            "the card's signature is inside"
        );
        assert_eq!(v["cardSN"], "GP54902532829744");
        assert_eq!(v["version"], crate::config::HIPKI_VERSION);
    }

    #[tokio::test]
    async fn raw_signs_a_given_digest() {
        let digest = [7u8; 32];
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign()
            .withf(move |r, _| r.prehashed && r.data == digest && r.hash == Hash::Sha256)
            .times(1)
            .returning(|_, _| Ok(vec![1; 256]));
        let a = agent_with(t, true);
        let p = json!({"signatureType":"RAW","tbs":B64.encode(digest),"tbsEncoding":"base64","pin":"123456"}).to_string();
        assert_eq!(codes_of(&a.sign(&p, SITE).await), (0, 0));
    }

    #[tokio::test]
    async fn reader_by_number_and_cardsn_always() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign().returning(|_, _| Ok(vec![1; 256]));
        let a = agent_with(t, true);
        for slot in [json!(0), json!(4), json!("Virtual PCD 00 00")] {
            // No withCardSN: the card number comes anyway (sites compare it).
            let p = json!({"tbs":"x","pin":"123456","slotDescription":slot}).to_string();
            let v = a.sign(&p, SITE).await;
            assert_eq!(codes_of(&v), (0, 0), "{slot}");
            assert_eq!(v["cardSN"], "GP54902532829744");
        }
        let p = json!({"tbs":"x","pin":"123456","slotDescription":"Other Reader"}).to_string();
        assert_eq!(
            codes_of(&a.sign(&p, SITE).await),
            w(codes::NO_CARD, last::TOKEN_NOT_PRESENT)
        );
    }

    #[tokio::test]
    async fn local_programs_never_get_a_portal_challenge_signed() {
        let c = ecpa_cardproto::challenge::Challenge {
            purpose: ecpa_cardproto::challenge::Purpose::Login,
            origin: "https://ecpa.example".into(),
            nonce: ecpa_cardproto::challenge::nonce_text(&[1u8; 32]),
            issued_at: 1_795_000_000,
        };
        let a = Agent::new(Some(readers(true)), untouched_tokens());
        let p = json!({"tbs": c.to_tbs(), "pin": "123456"}).to_string();
        assert_eq!(
            codes_of(&a.sign(&p, Asker::LocalProgram).await),
            w(codes::ORIGIN_MISMATCH, 0)
        );
    }

    #[tokio::test]
    async fn every_reader_is_listed_and_no_card_is_not_an_error() {
        // Readers, none holding a card: PKCS#11 is not even asked.
        let mut r = MockReaders::new();
        r.expect_list().returning(|| {
            Ok(vec![
                ReaderState {
                    name: "Reader A".into(),
                    card_present: false,
                },
                ReaderState {
                    name: "Reader B".into(),
                    card_present: false,
                },
            ])
        });
        let a = Agent::new(Some(Arc::new(r)), untouched_tokens());
        let v = a.pkcs11info(true).await;
        assert_eq!(codes_of(&v), (0, 0));
        let slots = v["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 2);
        assert!(slots.iter().all(|s| s.get("token").is_none()));
        assert_eq!(v["serverVersion"], crate::config::HIPKI_VERSION);
        assert_eq!(v["agentVersion"], VERSION);

        // A card the module does not know: "unknown token"; a known card beside it.
        let mut r = MockReaders::new();
        r.expect_list().returning(|| {
            Ok(vec![
                ReaderState {
                    name: "Virtual PCD 00 00".into(),
                    card_present: true,
                },
                ReaderState {
                    name: "Bank Reader".into(),
                    card_present: true,
                },
            ])
        });
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        let a = Agent::new(Some(Arc::new(r)), Arc::new(t));
        let v = a.pkcs11info(true).await;
        assert_eq!(codes_of(&v), (0, 0));
        let slots = v["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0]["token"]["serialNumber"], "GP54902532829744");
        assert_eq!(slots[1]["slotDescription"], "Bank Reader");
        assert_eq!(slots[1]["token"], "unknown token");
        let certs = slots[0]["token"]["certs"].as_array().unwrap();
        let labels: Vec<&str> = certs.iter().filter_map(|c| c["label"].as_str()).collect();
        assert_eq!(
            labels,
            vec!["cert1", "cert2"],
            "as the real component orders them"
        );
        let sign = &certs[0];
        let dn = sign["subjectDN"].as_str().unwrap();
        assert!(dn.starts_with("C=TW,") && !dn.contains(", "), "{dn}");
        assert!(sign["notAfterT"].as_i64().unwrap() > sign["notBeforeT"].as_i64().unwrap());
        assert_eq!(sign["id"], B64.encode([1u8]));
        // The page side reads it the way real pages do.
        let answer = ecpa_cardproto::hipki::Answer::parse(&v.to_string()).unwrap();
        assert!(answer.slots[1].unknown_token);
        assert_eq!(answer.outcome(), ecpa_cardproto::hipki::Outcome::Ok);
    }

    #[tokio::test]
    async fn errors_carry_a_message_and_negative_codes() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign().returning(|_, _| {
            Err(Failure::WrongPin {
                tries_left: Some(2),
            })
        });
        let a = agent_with(t, true);
        let v = a.sign(&pkg("000000"), SITE).await;
        assert_eq!(v["last_error"].as_i64(), Some(-2_147_483_646));
        assert_eq!(v["message"], "IC卡登入失敗");
    }

    /// ICToken's package: `cardid` and `keyidb64` pick the card and key, `userpin` is the PIN,
    /// `"__NotExistedTag__"` means "not given".
    #[tokio::test]
    async fn ictoken_package_fields() {
        let mut t = MockTokens::new();
        t.expect_slots().returning(|_| Ok(slot_with_card()));
        t.expect_sign()
            .withf(|r, pin| r.key_id == vec![1] && pin == "123456")
            .returning(|_, _| Ok(vec![1; 256]));
        let a = agent_with(t, true);
        let base = json!({"func":"MakeSignature","tbs":"x","userpin":"123456","cardid":"GP54902532829744","keyidb64":B64.encode([1u8]),"nonce":"__NotExistedTag__","withSigningTime":"__NotExistedTag__","checkValidity":"__NotExistedTag__"});
        assert_eq!(codes_of(&a.sign(&base.to_string(), SITE).await), (0, 0));
        let mut unset = base.clone();
        unset["keyidb64"] = json!("__NotExistedTag__");
        unset["cardid"] = json!("__NotExistedTag__");
        assert_eq!(codes_of(&a.sign(&unset.to_string(), SITE).await), (0, 0));
        for (field, value, want) in [
            (
                "cardid",
                json!("GP00000000000000"),
                w(codes::NO_CARD, last::TOKEN_NOT_PRESENT),
            ),
            (
                "keyidb64",
                json!(B64.encode([3u8])),
                w(codes::NO_CARD, last::TOKEN_NOT_PRESENT),
            ),
            ("keyidb64", json!("!!"), w(codes::BAD_PARAMETER, 0)),
        ] {
            let mut p = base.clone();
            p[field] = value;
            assert_eq!(codes_of(&a.sign(&p.to_string(), SITE).await), want, "{p}");
        }
    }
}

//! [`Tokens`] over PKCS#11 (cryptoki): OpenSC's module for PC/SC cards, SoftHSM, or a vendor
//! module such as HiCOS. Slots of several modules are numbered `module << 32 | slot`.

use crate::card::{CertObject, Hash, SignRequest, SlotSummary, TokenSummary, Tokens};
use crate::codes::Failure;
use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectClass},
    session::{Session, UserType},
    slot::Slot,
    types::AuthPin,
};
use sha2::Digest;
use std::{path::PathBuf, sync::Mutex};

pub struct Module {
    pub path: PathBuf,
    ctx: Mutex<Option<Pkcs11>>,
}

pub struct Pkcs11Tokens {
    modules: Vec<Module>,
    /// The cards' PIN retry limit (3 for MOICA and GCA cards). Middleware that does not
    /// report "count low" (OpenSC's PIV driver knows only the final try) still lets the agent
    /// say "two tries left": a wrong PIN that is neither the final try nor a lock leaves
    /// exactly `max − 1` when the limit is 3.
    pub pin_max_tries: Option<u8>,
    /// Load the module afresh for every operation (card modules): OpenSC keeps per-card
    /// state between calls that a card pulled out and put back can leave wedged; a fresh
    /// `C_Initialize` sees the readers as they are now.
    pub fresh_per_call: bool,
}

fn ck(e: CkError) -> Failure {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::PinLocked => Failure::PinLocked,
            RvError::PinLenRange => Failure::PinLength,
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed => Failure::CardRemoved,
            RvError::TokenNotRecognized => Failure::NoCard,
            other => Failure::Card(format!("{other:?}")),
        },
        other => Failure::Card(other.to_string()),
    }
}

/// The card number from a PIV CHUID (GUID, tag 0x34, when it holds 16 letters/digits).
pub fn card_number_from_chuid(chuid: &[u8]) -> Option<String> {
    let mut b = chuid;
    // The object may come wrapped in tag 0x53.
    if b.first() == Some(&0x53) {
        let (len_hdr, len) = match b.get(1)? {
            n @ 0..=0x7F => (1, *n as usize),
            0x81 => (2, *b.get(2)? as usize),
            0x82 => (3, u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize),
            _ => return None,
        };
        b = b.get(1 + len_hdr..1 + len_hdr + len)?;
    }
    while b.len() >= 2 {
        let tag = b[0];
        let (hdr, len) = match b[1] {
            n @ 0..=0x7F => (2, n as usize),
            0x81 => (3, *b.get(2)? as usize),
            0x82 => (4, u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize),
            _ => return None,
        };
        let value = b.get(hdr..hdr + len)?;
        if tag == 0x34 && len == 16 && value.iter().all(|c| c.is_ascii_alphanumeric()) {
            return String::from_utf8(value.to_vec()).ok();
        }
        b = &b[hdr + len..];
    }
    None
}

fn looks_like_card_number(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let mut v = if v.is_empty() { vec![0] } else { v };
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = int(r);
    body.extend(int(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// PKCS#1 v1.5 DigestInfo (RFC 8017 §9.2, note 1) around a digest, for CKM_RSA_PKCS.
pub fn digest_info(hash: Hash, digest: &[u8]) -> Vec<u8> {
    let prefix: &[u8] = match hash {
        Hash::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    };
    [prefix, digest].concat()
}

impl Pkcs11Tokens {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            modules: paths
                .into_iter()
                .map(|path| Module {
                    path,
                    ctx: Mutex::new(None),
                })
                .collect(),
            pin_max_tries: Some(3),
            fresh_per_call: false,
        }
    }

    fn with_module<T>(
        &self,
        index: usize,
        f: impl FnOnce(&Pkcs11) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let m = self
            .modules
            .get(index)
            .ok_or_else(|| Failure::BadParameter("slot".into()))?;
        let mut guard = m
            .ctx
            .lock()
            .map_err(|_| Failure::Card("module lock poisoned".into()))?;
        if guard.is_none() {
            let p = Pkcs11::new(&m.path)
                .map_err(|e| Failure::Card(format!("cannot load {}: {e}", m.path.display())))?;
            match p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                // Another component of this process initialised the module first: fine.
                Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
                Err(e) => return Err(ck(e)),
            }
            *guard = Some(p);
        }
        let result = match guard.as_ref() {
            Some(p) => f(p),
            None => Err(Failure::Card("module not initialised".into())),
        };
        if self.fresh_per_call {
            if let Some(p) = guard.take() {
                let _ = p.finalize();
            }
        }
        result
    }

    fn token(p: &Pkcs11, slot: Slot, with_certs: bool) -> Result<TokenSummary, Failure> {
        let info = p.get_token_info(slot).map_err(ck)?;
        let session = p.open_ro_session(slot).map_err(ck)?;
        let mut certs = vec![];
        if with_certs {
            for h in session
                .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
                .map_err(ck)?
            {
                let attrs = session
                    .get_attributes(
                        h,
                        &[
                            AttributeType::Value,
                            AttributeType::Id,
                            AttributeType::Label,
                        ],
                    )
                    .map_err(ck)?;
                let mut c = CertObject {
                    label: String::new(),
                    id: vec![],
                    der: vec![],
                };
                for a in attrs {
                    match a {
                        Attribute::Value(v) => c.der = v,
                        Attribute::Id(v) => c.id = v,
                        Attribute::Label(v) => c.label = String::from_utf8_lossy(&v).into_owned(),
                        _ => {}
                    }
                }
                if !c.der.is_empty() {
                    certs.push(c);
                }
            }
        }
        // The card number: the PIV CHUID, else a token labelled with it (SoftHSM cards).
        let mut card_number = None;
        if let Ok(objs) = session.find_objects(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(b"Card Holder Unique Identifier".to_vec()),
        ]) {
            for h in objs {
                if let Ok(attrs) = session.get_attributes(h, &[AttributeType::Value]) {
                    for a in attrs {
                        if let Attribute::Value(v) = a {
                            card_number = card_number.or_else(|| card_number_from_chuid(&v));
                        }
                    }
                }
            }
        }
        let label = info.label().trim().to_string();
        if card_number.is_none() && looks_like_card_number(&label) {
            card_number = Some(label.clone());
        }
        Ok(TokenSummary {
            serial_number: info.serial_number().trim().to_string(),
            label,
            manufacturer_id: info.manufacturer_id().trim().to_string(),
            model: info.model().trim().to_string(),
            card_number,
            certs,
        })
    }

    fn wrong_pin(&self, p: &Pkcs11, slot: Slot) -> Failure {
        let three = self.pin_max_tries == Some(3);
        match p.get_token_info(slot) {
            Ok(i) if i.user_pin_locked() => Failure::PinLocked,
            Ok(i) if i.user_pin_final_try() => Failure::WrongPin {
                tries_left: Some(1),
            },
            Ok(i) if i.user_pin_count_low() && three => Failure::WrongPin {
                tries_left: Some(2),
            },
            Ok(_) if three => Failure::WrongPin {
                tries_left: Some(2),
            },
            _ => Failure::WrongPin { tries_left: None },
        }
    }

    fn sign_in_session(
        session: &Session,
        req: &SignRequest,
        pin: &AuthPin,
    ) -> Result<Vec<u8>, Failure> {
        let key = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(req.key_id.clone()),
            ])
            .map_err(ck)?
            .into_iter()
            .next()
            .ok_or_else(|| Failure::Card("no private key for the signing certificate".into()))?;
        let attrs = session
            .get_attributes(
                key,
                &[AttributeType::KeyType, AttributeType::AlwaysAuthenticate],
            )
            .map_err(ck)?;
        let mut key_type = KeyType::RSA;
        let mut always_auth = false;
        for a in attrs {
            match a {
                Attribute::KeyType(k) => key_type = k,
                Attribute::AlwaysAuthenticate(b) => always_auth = b,
                _ => {}
            }
        }
        let (mech, data) = if key_type == KeyType::EC && req.prehashed {
            (Mechanism::Ecdsa, req.data.clone())
        } else if req.prehashed {
            (Mechanism::RsaPkcs, digest_info(req.hash, &req.data))
        } else if key_type == KeyType::EC {
            let digest = match req.hash {
                Hash::Sha256 => sha2::Sha256::digest(&req.data).to_vec(),
                Hash::Sha384 => sha2::Sha384::digest(&req.data).to_vec(),
                Hash::Sha512 => sha2::Sha512::digest(&req.data).to_vec(),
                Hash::Sha1 => return Err(Failure::BadParameter("SHA1 with an EC key".into())),
            };
            (Mechanism::Ecdsa, digest)
        } else {
            let m = match req.hash {
                Hash::Sha1 => Mechanism::Sha1RsaPkcs,
                Hash::Sha256 => Mechanism::Sha256RsaPkcs,
                Hash::Sha384 => Mechanism::Sha384RsaPkcs,
                Hash::Sha512 => Mechanism::Sha512RsaPkcs,
            };
            (m, req.data.clone())
        };
        let sig = if always_auth {
            session.sign_init(&mech, key).map_err(ck)?;
            session
                .login(UserType::ContextSpecific, Some(pin))
                .map_err(ck)?;
            session.sign_update(&data).map_err(ck)?;
            session.sign_final().map_err(ck)?
        } else {
            session.sign(&mech, key, &data).map_err(ck)?
        };
        Ok(if key_type == KeyType::EC {
            ecdsa_der(&sig)
        } else {
            sig
        })
    }
}

impl Tokens for Pkcs11Tokens {
    fn slots(&self, with_certs: bool) -> Result<Vec<SlotSummary>, Failure> {
        let mut out = vec![];
        for i in 0..self.modules.len() {
            self.with_module(i, |p| {
                for slot in p.get_all_slots().map_err(ck)? {
                    let info = p.get_slot_info(slot).map_err(ck)?;
                    let token = if info.token_present() {
                        match Self::token(p, slot, with_certs) {
                            Ok(t) => Some(t),
                            // A card going away mid-listing, or one the module cannot read.
                            Err(Failure::CardRemoved | Failure::NoCard) => None,
                            Err(e) => return Err(e),
                        }
                    } else {
                        None
                    };
                    out.push(SlotSummary {
                        slot_id: ((i as u64) << 32) | slot.id(),
                        description: info.slot_description().trim().to_string(),
                        token,
                    });
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    fn sign(&self, req: &SignRequest, pin: &str) -> Result<Vec<u8>, Failure> {
        let module = (req.slot_id >> 32) as usize;
        let slot = Slot::try_from(req.slot_id & 0xFFFF_FFFF)
            .map_err(|_| Failure::BadParameter("slot".into()))?;
        let pin = AuthPin::from(pin.to_string());
        self.with_module(module, |p| {
            let session = p.open_ro_session(slot).map_err(ck)?;
            match session.login(UserType::User, Some(&pin)) {
                Ok(()) => {}
                Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                    return Err(self.wrong_pin(p, slot))
                }
                Err(e) => return Err(ck(e)),
            }
            let result = Self::sign_in_session(&session, req, &pin);
            let _ = session.logout();
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chuid_card_number() {
        let mut chuid = vec![0x30, 0x02, 0xD4, 0xE7, 0x34, 0x10];
        chuid.extend_from_slice(b"GP00000000123456");
        chuid.extend_from_slice(&[0x3E, 0x00, 0xFE, 0x00]);
        assert_eq!(
            card_number_from_chuid(&chuid).as_deref(),
            Some("GP00000000123456")
        );
        let mut wrapped = vec![0x53, chuid.len() as u8];
        wrapped.extend(&chuid);
        assert_eq!(
            card_number_from_chuid(&wrapped).as_deref(),
            Some("GP00000000123456")
        );
        let mut binary_guid = vec![0x34, 0x10];
        binary_guid.extend([0u8; 16]);
        assert_eq!(card_number_from_chuid(&binary_guid), None);
    }

    #[test]
    fn ecdsa_signature_is_der() {
        let raw = [[0x80u8; 32], [0x01u8; 32]].concat();
        let der = ecdsa_der(&raw);
        assert_eq!(der[0], 0x30);
        assert_eq!(der[2..5], [0x02, 33, 0x00]);
    }

    proptest! {
        #[test]
        fn chuid_parser_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = card_number_from_chuid(&b);
        }
    }
}

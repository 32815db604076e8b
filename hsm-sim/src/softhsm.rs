//! SoftHSM through cryptoki: the simulator's secure element. All key pairs (the test CAs'
//! and the cards') are generated here and never leave it.
//!
//! One SoftHSM configuration per simulator state folder (`<state>/softhsm2.conf`, tokens in
//! `<state>/tokens`); one token per card, found by its label (the card number) because
//! SoftHSM renumbers slots after `C_InitToken`. Nothing is written to system folders.

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectClass},
    session::{Session, UserType},
    slot::Slot,
    types::{AuthPin, RawAuthPin},
};
use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error("SoftHSM: {0}")]
    Ck(#[from] CkError),
    #[error("no token labelled {0}")]
    NoToken(String),
    #[error("no free SoftHSM slot")]
    NoFreeSlot,
    #[error("no key {1:02X} on token {0}")]
    NoKey(String, u8),
    #[error("{0}")]
    Setup(String),
}

pub type Result<T, E = HsmError> = std::result::Result<T, E>;

/// RSA public key components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

pub struct Hsm {
    ctx: Pkcs11,
    pub conf: PathBuf,
}

static HSM: OnceLock<std::result::Result<Hsm, String>> = OnceLock::new();

/// The SoftHSM configuration for `state` (written when missing).
pub fn ensure_config(state: &Path) -> Result<PathBuf> {
    let tokens = state.join("tokens");
    std::fs::create_dir_all(&tokens)
        .map_err(|e| HsmError::Setup(format!("{}: {e}", tokens.display())))?;
    let conf = state.join("softhsm2.conf");
    if !conf.exists() {
        let text = format!(
            "# hsm-sim: SoftHSM for the simulated cards (created by hsm-sim)\n\
             directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        );
        std::fs::write(&conf, text)
            .map_err(|e| HsmError::Setup(format!("{}: {e}", conf.display())))?;
    }
    Ok(conf)
}

/// The process-wide SoftHSM for `state`. SoftHSM reads `SOFTHSM2_CONF` once, at
/// `C_Initialize`, so a process serves one state folder.
pub fn open(state: &Path) -> Result<&'static Hsm> {
    let conf = ensure_config(state)?;
    let r = HSM.get_or_init(|| {
        // Set before the library is initialised, by the only thread that initialises it.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let module =
            std::env::var("HSM_SIM_SOFTHSM_MODULE").unwrap_or_else(|_| DEFAULT_MODULE.into());
        let ctx = Pkcs11::new(&module).map_err(|e| {
            format!("cannot load {module} ({e}); run `make setup` (package softhsm2)")
        })?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| format!("SoftHSM C_Initialize: {e}"))?;
        Ok(Hsm {
            ctx,
            conf: conf.clone(),
        })
    });
    match r {
        Ok(h) if h.conf == conf => Ok(h),
        Ok(h) => Err(HsmError::Setup(format!(
            "this process already uses SoftHSM state {}; one state folder per process",
            h.conf.display()
        ))),
        Err(e) => Err(HsmError::Setup(e.clone())),
    }
}

fn pin(s: &str) -> AuthPin {
    AuthPin::from(s.to_string())
}

impl Hsm {
    pub fn slot(&self, label: &str) -> Result<Slot> {
        for s in self.ctx.get_slots_with_token()? {
            let info = self.ctx.get_token_info(s)?;
            if info.token_initialized() && info.label().trim() == label {
                return Ok(s);
            }
        }
        Err(HsmError::NoToken(label.into()))
    }

    pub fn has_token(&self, label: &str) -> bool {
        self.slot(label).is_ok()
    }

    /// Creates a token with an SO PIN and a user PIN.
    pub fn create_token(&self, label: &str, so_pin: &str, user_pin: &str) -> Result<()> {
        let free = self
            .ctx
            .get_slots_with_token()?
            .into_iter()
            .find(|s| {
                self.ctx
                    .get_token_info(*s)
                    .map(|i| !i.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or(HsmError::NoFreeSlot)?;
        self.ctx.init_token(free, &pin(so_pin), label)?;
        let slot = self.slot(label)?;
        let session = self.ctx.open_rw_session(slot)?;
        session.login(UserType::So, Some(&pin(so_pin)))?;
        session.init_pin(&pin(user_pin))?;
        session.logout()?;
        Ok(())
    }

    /// A read-write session logged in as the user.
    pub fn user_session(&self, label: &str, user_pin: &[u8]) -> Result<Session> {
        let session = self.ctx.open_rw_session(self.slot(label)?)?;
        session.login_with_raw(
            UserType::User,
            &RawAuthPin::new(Box::new(user_pin.to_vec())),
        )?;
        Ok(session)
    }

    /// Tries a PIN: `Ok(Some(session))` when right (the session stays logged in),
    /// `Ok(None)` when wrong.
    pub fn try_pin(&self, label: &str, user_pin: &[u8]) -> Result<Option<Session>> {
        match self.user_session(label, user_pin) {
            Ok(s) => Ok(Some(s)),
            Err(HsmError::Ck(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _))) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Generates an RSA-2048 key pair inside the token (private key sensitive, never
    /// extractable), identified by `id`.
    pub fn generate_rsa(&self, session: &Session, id: u8, label: &str) -> Result<RsaPublic> {
        self.generate_rsa_bits(session, id, label, 2048)
    }

    /// As [`Hsm::generate_rsa`], with a modulus of `bits` (4096 for the CAs that have one).
    pub fn generate_rsa_bits(
        &self,
        session: &Session,
        id: u8,
        label: &str,
        bits: u32,
    ) -> Result<RsaPublic> {
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::ModulusBits(u64::from(bits).into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Id(vec![id]),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Id(vec![id]),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let (pub_h, _) =
            session.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)?;
        let attrs = session.get_attributes(
            pub_h,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )?;
        let mut n = vec![];
        let mut e = vec![];
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = v,
                Attribute::PublicExponent(v) => e = v,
                _ => {}
            }
        }
        Ok(RsaPublic { n, e })
    }

    /// Stores a certificate object next to the key with the same CKA_ID (as card
    /// middleware does), so PKCS#11 clients using SoftHSM directly find it.
    pub fn store_certificate(
        &self,
        session: &Session,
        id: u8,
        label: &str,
        der: &[u8],
    ) -> Result<()> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| HsmError::Setup(format!("certificate: {e}")))?;
        session.create_object(&[
            Attribute::Subject(cert.tbs_certificate.subject.as_raw().to_vec()),
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(cryptoki::object::CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Id(vec![id]),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(der.to_vec()),
        ])?;
        Ok(())
    }

    fn private_key(
        session: &Session,
        token: &str,
        id: u8,
    ) -> Result<cryptoki::object::ObjectHandle> {
        session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Id(vec![id]),
            ])?
            .into_iter()
            .next()
            .ok_or_else(|| HsmError::NoKey(token.into(), id))
    }

    /// RSA PKCS#1 v1.5 with SHA-256 over `data` (the CAs' signatures).
    pub fn sign_sha256(
        &self,
        session: &Session,
        token: &str,
        id: u8,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let key = Self::private_key(session, token, id)?;
        Ok(session.sign(&Mechanism::Sha256RsaPkcs, key, data)?)
    }

    /// The raw RSA operation (`CKM_RSA_X_509`) on an already padded block: what a PIV card's
    /// GENERAL AUTHENTICATE computes.
    pub fn raw_rsa(&self, session: &Session, token: &str, id: u8, block: &[u8]) -> Result<Vec<u8>> {
        let key = Self::private_key(session, token, id)?;
        Ok(session.sign(&Mechanism::RsaX509, key, block)?)
    }

    /// As the issuing service would: a new user PIN, set with the SO PIN.
    pub fn reset_user_pin(&self, label: &str, so_pin: &str, new_pin: &str) -> Result<()> {
        let session = self.ctx.open_rw_session(self.slot(label)?)?;
        session.login(UserType::So, Some(&pin(so_pin)))?;
        session.init_pin(&pin(new_pin))?;
        session.logout()?;
        Ok(())
    }
}

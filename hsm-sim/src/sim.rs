//! The simulator's persistent state: the test PKI and the cards.
//!
//! ```text
//! <state>/softhsm2.conf, tokens/      SoftHSM (CA token "hsm-sim-ca", one token per card)
//! <state>/pki/state.json              CA token PINs, CRL numbers, revoked serials
//! <state>/pki/*.pem|*.der, crl/*.crl  trust anchors and CRLs for the server
//! <state>/cards/<number>.json         card metadata (kind, holder, counter, certificates)
//! ```

use crate::pki::{self, Ca, Holder, HsmKey, PkiError, Usage, Variant};
use crate::softhsm::{self, Hsm, HsmError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use rand::{rngs::OsRng, Rng, RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};
use time::OffsetDateTime;

pub const CA_TOKEN: &str = "hsm-sim-ca";
pub const KEY_SIGN: u8 = crate::piv::SLOT_PIV_AUTH;
pub const KEY_ENC: u8 = crate::piv::SLOT_KEY_MGMT;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("card not found: {0}")]
    CardNotFound(String),
    #[error("card {0} exists already")]
    CardExists(String),
    #[error("the simulator is not initialised: run `hsm-sim init`")]
    NotInitialised,
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = SimError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |e| SimError::Io(path.display().to_string(), e)
}

/// Writes via a temporary file and a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn random_pin(rng: &mut impl RngCore, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PkiState {
    ca_so_pin: String,
    ca_user_pin: String,
    /// Public keys of the CA keys (hex n, e), to build issuers without touching the token.
    public: BTreeMap<String, (String, String)>,
    crl_numbers: BTreeMap<String, u64>,
    /// CA → (serial hex, revocation time RFC 3339)
    revoked: BTreeMap<String, Vec<(String, String)>>,
    /// The CA names this state's certificates carry (absent in older states: legacy).
    #[serde(default)]
    naming: pki::Naming,
}

/// The G3 test root certified by the G2 test root (DER, in the `pki` folder).
pub const CROSS_CERT: &str = "test-grca-g2-to-g3-cross.der";

/// The card kind is the portal's own (`ecpa_cardproto::kind::CardKind`); a card's record
/// keeps it in the stored form (`natural` / `org`), as card folders always had it.
pub use ecpa_cardproto::kind::CardKind as Kind;

mod stored_kind {
    use super::Kind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Kind::from_stored(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown card kind {s:?}")))
    }
}

/// A card: a SoftHSM token (label = card number, user PIN = card PIN) plus this record.
/// The PIN itself is never stored; SoftHSM checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardMeta {
    pub number: String,
    #[serde(with = "stored_kind")]
    pub kind: Kind,
    /// Holder name (natural) or agency name (organization).
    pub holder: String,
    pub national_id: Option<String>,
    pub agency_oid: Option<String>,
    pub issuer: Ca,
    pub variant: Variant,
    pub tries_left: u8,
    pub revoked: bool,
    /// The issuing service's SO PIN for this token (used by `card reset-pin`).
    pub so_pin: String,
    /// Base64 DER.
    pub sign_cert: String,
    pub enc_cert: String,
    pub sign_serial: String,
    pub enc_serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Counts PIN resets: a process serving the card in a reader compares it to the one it
    /// started with (its SoftHSM instance only sees PINs set before it started).
    #[serde(default)]
    pub pin_generation: u32,
}

impl CardMeta {
    pub fn sign_cert_der(&self) -> Vec<u8> {
        B64.decode(&self.sign_cert).unwrap_or_default()
    }
    pub fn enc_cert_der(&self) -> Vec<u8> {
        B64.decode(&self.enc_cert).unwrap_or_default()
    }
    pub fn locked(&self) -> bool {
        self.tries_left == 0
    }
}

/// What `card new` needs.
#[derive(Debug, Clone)]
pub struct NewCard {
    pub kind: Kind,
    pub holder: String,
    pub national_id: Option<String>,
    pub agency_oid: Option<String>,
    pub pin: String,
    pub card_number: Option<String>,
    pub variant: Variant,
    /// Deterministic card number and certificate serials (not the PINs).
    pub seed: Option<u64>,
}

pub struct Sim {
    pub state: PathBuf,
    hsm: &'static Hsm,
}

/// PIN rule of MOICA / GCA cards: 6 to 8 letters or digits.
pub fn valid_pin(pin: &str) -> bool {
    (6..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Card numbers: 16 characters, letters and digits (`GP` + 14 digits when generated).
pub fn valid_card_number(n: &str) -> bool {
    n.len() == 16
        && n.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Sim {
    pub fn open(state: &Path) -> Result<Self> {
        std::fs::create_dir_all(state.join("cards")).map_err(io(state))?;
        std::fs::create_dir_all(state.join("pki/crl")).map_err(io(state))?;
        let state = state.canonicalize().map_err(io(state))?;
        let hsm = softhsm::open(&state)?;
        Ok(Self { state, hsm })
    }

    pub fn hsm(&self) -> &'static Hsm {
        self.hsm
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.state.join("pki")
    }

    fn pki_state(&self) -> Result<PkiState> {
        let p = self.pki_dir().join("state.json");
        let text = std::fs::read_to_string(&p).map_err(|_| SimError::NotInitialised)?;
        serde_json::from_str(&text).map_err(|e| SimError::Other(format!("{}: {e}", p.display())))
    }

    fn save_pki_state(&self, s: &PkiState) -> Result<()> {
        let p = self.pki_dir().join("state.json");
        let json = serde_json::to_vec_pretty(s).map_err(|e| SimError::Other(e.to_string()))?;
        write_atomic(&p, &json)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    pub fn initialised(&self) -> bool {
        self.pki_state().is_ok() && self.hsm.has_token(CA_TOKEN)
    }

    /// Completes a test PKI made by an older simulator (new CAs, their CRLs); nothing when
    /// it is complete.
    pub fn upgrade(&self, now: OffsetDateTime) -> Result<bool> {
        let mut st = self.pki_state()?;
        let session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        if !self.add_missing_cas(&mut st, &session)? {
            return Ok(false);
        }
        self.save_pki_state(&st)?;
        self.write_crls_with(&mut st, &session, now, false)?;
        Ok(true)
    }

    fn ca_key<'a>(
        &'a self,
        st: &PkiState,
        ca: Ca,
        session: Option<&'a cryptoki::session::Session>,
    ) -> Result<HsmKey<'a>> {
        let (n, e) = st
            .public
            .get(ca.file_stem())
            .ok_or(SimError::NotInitialised)?;
        let public = softhsm::RsaPublic {
            n: hex::decode(n).map_err(|e| SimError::Other(e.to_string()))?,
            e: hex::decode(e).map_err(|e| SimError::Other(e.to_string()))?,
        };
        Ok(HsmKey::new(
            self.hsm,
            session,
            CA_TOKEN,
            ca.key_id(),
            &public,
        )?)
    }

    /// Creates the test PKI (idempotent): CA keys in SoftHSM, certificates, CRLs.
    pub fn init(&self, now: OffsetDateTime) -> Result<bool> {
        if self.initialised() {
            return self.upgrade(now).map(|_| false);
        }
        self.init_with(now, pki::Naming::Current, &Ca::ALL)
    }

    /// A new PKI with only `cas`, named under `naming`: what `init` does (all CAs, current
    /// names), and, for the upgrade tests, what an older simulator made.
    #[doc(hidden)]
    pub fn init_with(&self, now: OffsetDateTime, naming: pki::Naming, cas: &[Ca]) -> Result<bool> {
        let mut st = PkiState {
            ca_so_pin: random_pin(&mut OsRng, 8),
            ca_user_pin: random_pin(&mut OsRng, 8),
            naming,
            ..Default::default()
        };
        if !self.hsm.has_token(CA_TOKEN) {
            self.hsm
                .create_token(CA_TOKEN, &st.ca_so_pin, &st.ca_user_pin)?;
        }
        let session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        self.add_cas(&mut st, &session, cas)?;
        self.save_pki_state(&st)?;
        self.write_crls_with(&mut st, &session, now, false)?;
        Ok(true)
    }

    /// Makes the CAs a state from an older simulator lacks (keys, certificates, the
    /// cross-certificate), so `init` on such a state completes it. Returns whether it did.
    fn add_missing_cas(
        &self,
        st: &mut PkiState,
        session: &cryptoki::session::Session,
    ) -> Result<bool> {
        self.add_cas(st, session, &Ca::ALL)
    }

    /// Makes those of `cas` the state lacks (parents first: `cas` in `Ca::ALL` order).
    fn add_cas(
        &self,
        st: &mut PkiState,
        session: &cryptoki::session::Session,
        cas: &[Ca],
    ) -> Result<bool> {
        let missing: Vec<Ca> = cas
            .iter()
            .copied()
            .filter(|ca| !st.public.contains_key(ca.file_stem()))
            .collect();
        if missing.is_empty() {
            return Ok(false);
        }
        let publication = pki::Publication::from_env();
        for ca in &missing {
            let public =
                self.hsm
                    .generate_rsa_bits(session, ca.key_id(), ca.file_stem(), ca.key_bits())?;
            st.public.insert(
                ca.file_stem().into(),
                (hex::encode(&public.n), hex::encode(&public.e)),
            );
        }
        for ca in missing {
            let key = self.ca_key(st, ca, Some(session))?;
            let der = match ca.parent() {
                None => ca
                    .params(key.key_id(), &publication, st.naming)
                    .self_signed(&key)?
                    .der()
                    .to_vec(),
                Some(parent) => {
                    let issuer =
                        pki::issuer(parent, self.ca_key(st, parent, Some(session))?, st.naming);
                    ca.params(key.key_id(), &publication, st.naming)
                        .signed_by(&key, &issuer)?
                        .der()
                        .to_vec()
                }
            };
            let base = self.pki_dir().join(ca.file_stem());
            write_atomic(&base.with_extension("der"), &der)?;
            write_atomic(
                &base.with_extension("pem"),
                pki::pem("CERTIFICATE", &der).as_bytes(),
            )?;
            if ca == Ca::RootG3 {
                // The G3 root certified by the G2 root: the cross-certificate.
                let g2 = pki::issuer(
                    Ca::Root,
                    self.ca_key(st, Ca::Root, Some(session))?,
                    st.naming,
                );
                let cross = Ca::cross_params(key.key_id(), &publication, st.naming)
                    .signed_by(&key, &g2)?
                    .der()
                    .to_vec();
                write_atomic(&self.pki_dir().join(CROSS_CERT), &cross)?;
            }
        }
        Ok(true)
    }

    /// The CA certificate (DER).
    pub fn ca_cert(&self, ca: Ca) -> Result<Vec<u8>> {
        let p = self.pki_dir().join(ca.file_stem()).with_extension("der");
        std::fs::read(&p).map_err(io(&p))
    }

    pub fn crl_path(&self, ca: Ca) -> PathBuf {
        self.pki_dir()
            .join("crl")
            .join(ca.file_stem())
            .with_extension("crl")
    }

    /// Every CRL: per issuing CA the complete CRL and one per partition (with its Issuing
    /// Distribution Point), and the roots' ARLs; each with its own CRL number sequence.
    fn write_crls_with(
        &self,
        st: &mut PkiState,
        session: &cryptoki::session::Session,
        now: OffsetDateTime,
        stale: bool,
    ) -> Result<()> {
        let publication = pki::Publication::from_env();
        let made: Vec<Ca> = Ca::ALL
            .into_iter()
            .filter(|c| *c != Ca::UntrustedRoot && st.public.contains_key(c.file_stem()))
            .collect();
        for ca in made {
            let revoked: Vec<(Vec<u8>, OffsetDateTime)> = st
                .revoked
                .get(ca.file_stem())
                .map(|v| {
                    v.iter()
                        .filter_map(|(s, t)| {
                            let t = OffsetDateTime::parse(
                                t,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .ok()?;
                            Some((hex::decode(s).ok()?, t))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let key = self.ca_key(st, ca, Some(session))?;
            let key_id = key.key_id();
            let issuer = pki::issuer(ca, key, st.naming);
            let partitions: Vec<Option<u8>> = match ca.parent() {
                Some(_) => std::iter::once(None)
                    .chain((0..pki::CRL_PARTITIONS).map(Some))
                    .collect(),
                None => vec![None],
            };
            for part in partitions {
                let stem = match part {
                    None => ca.file_stem().to_string(),
                    Some(p) => format!("{}-p{p}", ca.file_stem()),
                };
                let n = st.crl_numbers.entry(stem.clone()).or_insert(0);
                *n += 1;
                let number = *n;
                let (entries, idp) = match part {
                    None => (revoked.clone(), None),
                    Some(p) => (
                        revoked
                            .iter()
                            .filter(|(s, _)| pki::partition_of(s) == p)
                            .cloned()
                            .collect(),
                        Some(publication.partition_crl(ca, p)),
                    ),
                };
                let der = pki::crl(
                    &issuer,
                    key_id.clone(),
                    number,
                    &entries,
                    now,
                    stale,
                    idp.as_deref(),
                )?;
                let p = self.pki_dir().join("crl").join(format!("{stem}.crl"));
                write_atomic(&p, &der)?;
                write_atomic(
                    &p.with_extension("crl.pem"),
                    pki::pem("X509 CRL", &der).as_bytes(),
                )?;
            }
        }
        self.save_pki_state(st)
    }

    /// Every CRL file of `ca` (complete first, then the partitions).
    pub fn crl_paths(&self, ca: Ca) -> Vec<PathBuf> {
        let mut v = vec![self.crl_path(ca)];
        if ca.parent().is_some() {
            for p in 0..pki::CRL_PARTITIONS {
                v.push(
                    self.pki_dir()
                        .join("crl")
                        .join(format!("{}-p{p}.crl", ca.file_stem())),
                );
            }
        }
        v
    }

    /// Re-issues every CRL (fresh, or already past nextUpdate with `stale`).
    pub fn write_crls(&self, now: OffsetDateTime, stale: bool) -> Result<()> {
        let mut st = self.pki_state()?;
        let session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        self.write_crls_with(&mut st, &session, now, stale)
    }

    fn card_path(&self, number: &str) -> PathBuf {
        self.state.join("cards").join(format!("{number}.json"))
    }

    pub fn card(&self, number: &str) -> Result<CardMeta> {
        if !valid_card_number(number) {
            return Err(SimError::CardNotFound(number.into()));
        }
        let p = self.card_path(number);
        let text =
            std::fs::read_to_string(&p).map_err(|_| SimError::CardNotFound(number.into()))?;
        serde_json::from_str(&text).map_err(|e| SimError::Other(format!("{}: {e}", p.display())))
    }

    pub fn save_card(&self, c: &CardMeta) -> Result<()> {
        let json = serde_json::to_vec_pretty(c).map_err(|e| SimError::Other(e.to_string()))?;
        write_atomic(&self.card_path(&c.number), &json)
    }

    pub fn cards(&self) -> Result<Vec<CardMeta>> {
        let dir = self.state.join("cards");
        let mut v = vec![];
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(num) = name.strip_suffix(".json") {
                v.push(self.card(num)?);
            }
        }
        v.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.number.cmp(&b.number))
        });
        Ok(v)
    }

    /// Issues a card: a new token, two key pairs generated inside it, two certificates.
    pub fn new_card(&self, spec: &NewCard, now: OffsetDateTime) -> Result<CardMeta> {
        if !valid_pin(&spec.pin) {
            return Err(SimError::Invalid("PIN", "6 to 8 letters or digits".into()));
        }
        let mut rng: Box<dyn RngCore> = match spec.seed {
            Some(s) => Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(s)),
            None => Box::new(OsRng),
        };
        let number = match &spec.card_number {
            Some(n) if valid_card_number(n) => n.clone(),
            Some(n) => {
                return Err(SimError::Invalid(
                    "card number",
                    format!("{n}: 16 upper-case letters or digits"),
                ))
            }
            None => format!("GP{}", random_pin(&mut rng, 14)),
        };
        if self.card_path(&number).exists() || self.hsm.has_token(&number) {
            return Err(SimError::CardExists(number));
        }
        let holder = match spec.kind {
            Kind::Natural => {
                let id = spec.national_id.clone().ok_or(SimError::Invalid(
                    "national ID",
                    "required for a natural-person card".into(),
                ))?;
                if id.len() != 10 || !id.is_ascii() {
                    return Err(SimError::Invalid("national ID", id));
                }
                Holder::Natural {
                    name: spec.holder.clone(),
                    holder_id: pki::holder_id(&id),
                    id_last4: id[6..].to_string(),
                    alien: spec.variant == Variant::AlienResident,
                }
            }
            Kind::Organization => {
                let oid = spec.agency_oid.clone().ok_or(SimError::Invalid(
                    "agency OID",
                    "required for an organization card".into(),
                ))?;
                let school = matches!(spec.variant, Variant::School | Variant::SchoolSecondary);
                // Agencies have OIDs under 2.16.886.101 (GCA), schools and other
                // organizations under 2.16.886.111 (XCA).
                let arc = if school {
                    "2.16.886.111."
                } else {
                    "2.16.886.101."
                };
                if !oid.starts_with(arc) || oid.split('.').any(|a| a.parse::<u64>().is_err()) {
                    return Err(SimError::Invalid(
                        "agency OID",
                        format!("{oid} (under {arc})"),
                    ));
                }
                Holder::Organization {
                    agency_name: spec.holder.clone(),
                    holder_id: pki::holder_id(&oid),
                    agency_oid: oid,
                    org_type: match spec.variant {
                        Variant::Unit => pki::OrgType::Unit,
                        Variant::School => pki::OrgType::School { secondary: false },
                        Variant::SchoolSecondary => pki::OrgType::School { secondary: true },
                        _ => pki::OrgType::Agency,
                    },
                }
            }
        };
        let issuer_ca = match (spec.kind, spec.variant) {
            (_, Variant::Untrusted) => Ca::UntrustedMoica,
            (Kind::Natural, Variant::G3) => Ca::MoicaG3,
            (Kind::Natural, _) => Ca::Moica,
            (Kind::Organization, Variant::School | Variant::SchoolSecondary) => Ca::Xca,
            (Kind::Organization, _) => Ca::Gca,
        };
        let st = self.pki_state()?;
        let so_pin = random_pin(&mut OsRng, 8);
        self.hsm.create_token(&number, &so_pin, &spec.pin)?;
        let card_session = self.hsm.user_session(&number, spec.pin.as_bytes())?;
        let sign_pub = self.hsm.generate_rsa(&card_session, KEY_SIGN, "sign")?;
        let enc_pub = self.hsm.generate_rsa(&card_session, KEY_ENC, "encrypt")?;

        let ca_session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        let issuer = pki::issuer(
            issuer_ca,
            self.ca_key(&st, issuer_ca, Some(&ca_session))?,
            st.naming,
        );
        let serial = |rng: &mut Box<dyn RngCore>| {
            let mut s = [0u8; 16];
            rng.fill_bytes(&mut s);
            s[0] &= 0x7F;
            s[0] |= 0x10;
            s.to_vec()
        };
        let (s1, s2) = (serial(&mut rng), serial(&mut rng));
        let publication = pki::Publication::from_env();
        let sign_key = HsmKey::new(self.hsm, None, &number, KEY_SIGN, &sign_pub)?;
        let enc_key = HsmKey::new(self.hsm, None, &number, KEY_ENC, &enc_pub)?;
        let sign_cert = pki::card_params(
            &holder,
            Usage::Signing,
            spec.variant,
            &s1,
            sign_key.key_id(),
            now,
            issuer_ca,
            &publication,
        )
        .signed_by(&sign_key, &issuer)?;
        let enc_cert = pki::card_params(
            &holder,
            Usage::Encryption,
            spec.variant,
            &s2,
            enc_key.key_id(),
            now,
            issuer_ca,
            &publication,
        )
        .signed_by(&enc_key, &issuer)?;
        self.hsm.store_certificate(
            &card_session,
            KEY_SIGN,
            "signing certificate",
            sign_cert.der(),
        )?;
        self.hsm.store_certificate(
            &card_session,
            KEY_ENC,
            "encryption certificate",
            enc_cert.der(),
        )?;
        drop(card_session);
        let meta = CardMeta {
            number,
            kind: spec.kind,
            holder: spec.holder.clone(),
            national_id: spec.national_id.clone(),
            agency_oid: spec.agency_oid.clone(),
            issuer: issuer_ca,
            variant: spec.variant,
            tries_left: crate::piv::MAX_TRIES,
            revoked: false,
            so_pin,
            sign_cert: B64.encode(sign_cert.der()),
            enc_cert: B64.encode(enc_cert.der()),
            sign_serial: hex::encode(&s1),
            enc_serial: hex::encode(&s2),
            created_at: now,
            pin_generation: 0,
        };
        self.save_card(&meta)?;
        Ok(meta)
    }

    /// A complete CRL of `ca` listing `entries` made-up serials (none of them a card's),
    /// numbered above every CRL the simulator published, written to `path`: a national-scale
    /// CRL for benchmarks (MOICA's complete CRL has more than 100,000 entries). Returns its
    /// size in bytes.
    pub fn write_bench_crl(
        &self,
        ca: Ca,
        entries: u32,
        path: &Path,
        now: OffsetDateTime,
    ) -> Result<usize> {
        let st = self.pki_state()?;
        let session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        let key = self.ca_key(&st, ca, Some(&session))?;
        let key_id = key.key_id();
        let issuer = pki::issuer(ca, key, st.naming);
        // Card serials start 0x1…; these start 0x7E, so no card is among them.
        let revoked: Vec<(Vec<u8>, OffsetDateTime)> = (0..entries)
            .map(|i| {
                let mut s = vec![0x7E; 12];
                s.extend(i.to_be_bytes());
                (s, now - time::Duration::days(1))
            })
            .collect();
        let number = st.crl_numbers.values().max().copied().unwrap_or(0) + 1_000_000;
        let der = pki::crl(&issuer, key_id, number, &revoked, now, false, None)?;
        write_atomic(path, &der)?;
        Ok(der.len())
    }

    /// The CA database of `ca` in OpenSSL's `index.txt` format, for `openssl ocsp -index`:
    /// one line per certificate the simulator issued (`V` valid, `R` revoked with its time).
    pub fn ocsp_index(&self, ca: Ca) -> Result<String> {
        use x509_parser::prelude::FromDer;
        let st = self.pki_state()?;
        let revoked: BTreeMap<String, String> = st
            .revoked
            .get(ca.file_stem())
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default();
        let asn1 = |t: OffsetDateTime| {
            format!(
                "{:02}{:02}{:02}{:02}{:02}{:02}Z",
                t.year() % 100,
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        };
        let mut out = String::new();
        for card in self.cards()?.into_iter().filter(|c| c.issuer == ca) {
            for der in [card.sign_cert_der(), card.enc_cert_der()] {
                let Ok((_, c)) = x509_parser::certificate::X509Certificate::from_der(&der) else {
                    continue;
                };
                let serial = hex::encode_upper(c.raw_serial());
                let expiry =
                    OffsetDateTime::from_unix_timestamp(c.validity().not_after.timestamp())
                        .map_err(|e| SimError::Other(e.to_string()))?;
                // Unique per line: OpenSSL indexes subjects unless told otherwise.
                let subject = format!("/CN={}/serialNumber={serial}", card.number);
                match revoked.get(&serial.to_lowercase()) {
                    Some(t) => {
                        let at = OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .map_err(|e| SimError::Other(e.to_string()))?;
                        out.push_str(&format!(
                            "R\t{}\t{},keyCompromise\t{serial}\tunknown\t{subject}\n",
                            asn1(expiry),
                            asn1(at)
                        ));
                    }
                    None => out.push_str(&format!(
                        "V\t{}\t\t{serial}\tunknown\t{subject}\n",
                        asn1(expiry)
                    )),
                }
            }
        }
        Ok(out)
    }

    /// A delegated OCSP responder certificate of `ca` (OCSPSigning, 30 days) for an RSA key
    /// made elsewhere (`spki_der`: its SubjectPublicKeyInfo), e.g. by `openssl genpkey` for
    /// `openssl ocsp -rsigner … -rkey …`.
    pub fn ocsp_responder_cert(
        &self,
        ca: Ca,
        spki_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<u8>> {
        let st = self.pki_state()?;
        let session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        let issuer = pki::issuer(ca, self.ca_key(&st, ca, Some(&session))?, st.naming);
        let key = pki::ExternalRsaKey::from_spki(spki_der)?;
        Ok(pki::ocsp_responder_params(ca, now)
            .signed_by(&key, &issuer)?
            .der()
            .to_vec())
    }

    /// The issuing CA revokes both certificates of the card and publishes new CRLs.
    pub fn revoke(&self, number: &str, now: OffsetDateTime) -> Result<CardMeta> {
        let mut card = self.card(number)?;
        let mut st = self.pki_state()?;
        let t = now
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| SimError::Other(e.to_string()))?;
        let list = st
            .revoked
            .entry(card.issuer.file_stem().into())
            .or_default();
        for s in [&card.sign_serial, &card.enc_serial] {
            if !list.iter().any(|(x, _)| x == s) {
                list.push((s.clone(), t.clone()));
            }
        }
        let session = self.hsm.user_session(CA_TOKEN, st.ca_user_pin.as_bytes())?;
        self.write_crls_with(&mut st, &session, now, false)?;
        card.revoked = true;
        self.save_card(&card)?;
        Ok(card)
    }

    /// Blocks the PIN, as three wrong PINs would.
    pub fn lock(&self, number: &str) -> Result<CardMeta> {
        let mut card = self.card(number)?;
        card.tries_left = 0;
        self.save_card(&card)?;
        Ok(card)
    }

    /// As the issuing service would: a new PIN, the counter reset.
    pub fn reset_pin(&self, number: &str, new_pin: &str) -> Result<CardMeta> {
        if !valid_pin(new_pin) {
            return Err(SimError::Invalid("PIN", "6 to 8 letters or digits".into()));
        }
        let mut card = self.card(number)?;
        self.hsm.reset_user_pin(number, &card.so_pin, new_pin)?;
        card.tries_left = crate::piv::MAX_TRIES;
        card.pin_generation = card.pin_generation.wrapping_add(1);
        self.save_card(&card)?;
        Ok(card)
    }

    /// Signs `data` (RSA PKCS#1 v1.5, SHA-256) with the card's key `key` straight through
    /// SoftHSM, after logging in with `pin`: what the card would return, for tests and load
    /// generation that do not need the reader path.
    pub fn sign(&self, number: &str, pin: &str, key: u8, data: &[u8]) -> Result<Vec<u8>> {
        let session = self.hsm.user_session(number, pin.as_bytes())?;
        Ok(self.hsm.sign_sha256(&session, number, key, data)?)
    }

    /// Copies the trust anchors and CRLs the server needs into `dir`. A file already there
    /// as the very same file (exporting into the simulator's own `pki` folder) is left as it
    /// is: copying a file onto itself would empty it.
    pub fn export(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let copy = |src: &Path, dst: &Path| -> Result<()> {
            let same = match (std::fs::canonicalize(src), std::fs::canonicalize(dst)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if !same {
                std::fs::copy(src, dst).map_err(io(src))?;
            }
            Ok(())
        };
        let mut out = vec![];
        for ca in Ca::ALL {
            for ext in ["pem", "der"] {
                let src = self.pki_dir().join(ca.file_stem()).with_extension(ext);
                let dst = dir.join(src.file_name().unwrap_or_default());
                copy(&src, &dst)?;
                out.push(dst);
            }
        }
        let cross = self.pki_dir().join(CROSS_CERT);
        if cross.exists() {
            let dst = dir.join(CROSS_CERT);
            copy(&cross, &dst)?;
            out.push(dst);
        }
        for ca in Ca::ALL.into_iter().filter(|c| *c != Ca::UntrustedRoot) {
            for src in self.crl_paths(ca) {
                let dst = dir.join(src.file_name().unwrap_or_default());
                copy(&src, &dst)?;
                out.push(dst);
            }
        }
        Ok(out)
    }
}

//! Strict validation of a card proof, as Web eID does it: the token's form, the certificate
//! (parses, KeyUsage digitalSignature, the right profile from the right CA, a chain to a
//! configured trust anchor valid now, not revoked by a fresh CRL), then the signature over
//! the exact `tbs`. The challenge itself (exists, unused, this session, this purpose) is
//! the caller's, between the certificate and the signature checks.
//!
//! X.509 path building, CRLs and signatures are rustls-webpki's; the profile fields are
//! x509-parser's. Nothing here does I/O: trust anchors and CRLs are handed in.

use crate::{
    crl::{self, Crl, IssuerKey},
    oid,
    profile::{self, CertProfile},
    refusal::ProofRefusal,
};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use sha2::Digest;
use webpki::{EndEntityCert, KeyUsage};

pub use crate::token::{decode_token, DecodedToken, ProofToken, TOKEN_FORMAT};

pub use crate::kind::CardKind;

/// What the operator allows beyond the strict default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Accept MOICA mobile certificates (keys not on a card) for card sign-in.
    pub allow_mobile: bool,
}

/// What reports need of a configured root (its anchor is `TrustStore::anchors` at the
/// same index).
struct Root {
    name: String,
    subject: String,
    not_after: i64,
}

/// A configured issuing CA.
pub struct CaInfo {
    pub source: String,
    pub kind: CardKind,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    pub serial: Vec<u8>,
    pub crl_urls: Vec<String>,
    pub ocsp_urls: Vec<String>,
    /// The key of the root that signed it (index into the store's keys), if configured.
    pub issuer_key: Option<usize>,
    der: CertificateDer<'static>,
}

/// Trust configuration: roots, the issuing CAs of each kind, the CRLs (each verified
/// against its issuer's key and reduced to the newest per issuer key and scope).
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    roots: Vec<Root>,
    cas: Vec<CaInfo>,
    natural_cas: Vec<CertificateDer<'static>>,
    org_cas: Vec<CertificateDer<'static>>,
    natural_ca_names: Vec<String>,
    org_ca_names: Vec<String>,
    crls: Vec<Crl>,
    /// (subject, SubjectPublicKeyInfo) of the roots, then the CAs: the keys CRLs may be
    /// signed by.
    keys: Vec<(Vec<u8>, Vec<u8>)>,
    policy: Policy,
    /// What was set aside while loading (CRLs refused or replaced by newer ones, CAs no
    /// configured root issued): for logs and `pki check`.
    pub notes: Vec<String>,
    /// Chains this store has already verified (see [`PathCache`]).
    paths: PathCache,
}

/// How many verified chains a store remembers before it starts afresh.
const MAX_CACHED_PATHS: usize = 4096;

/// Chains already verified by this store, by certificate SHA-256: the parsed profile, the
/// kind, the issuer keys of the path and the window in which every certificate of the path
/// is valid. A card signs in again and again with one certificate; its chain (two RSA
/// signature checks and a path search) does not change while the store lives, so it is
/// checked once. Only what cannot change is kept: the time window is tested at every use
/// (outside it the full check runs and gives the precise refusal), revocation is looked up
/// at every use, and a reloaded store (new roots, CAs or CRLs) starts with an empty cache.
#[derive(Default)]
struct PathCache {
    map: std::sync::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<CachedPath>>>,
}

struct CachedPath {
    kind: CardKind,
    profile: CertProfile,
    serial: Vec<u8>,
    /// Key indexes from the card's issuer up to the root.
    issuer_keys: Vec<usize>,
    /// Every certificate of the path is valid in `valid.0 ..= valid.1` (Unix seconds).
    valid: (i64, i64),
}

impl PathCache {
    fn get(&self, digest: &[u8; 32]) -> Option<std::sync::Arc<CachedPath>> {
        self.map.lock().ok()?.get(digest).cloned()
    }

    fn put(&self, digest: [u8; 32], path: CachedPath) -> std::sync::Arc<CachedPath> {
        let path = std::sync::Arc::new(path);
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= MAX_CACHED_PATHS {
                m.clear();
            }
            m.insert(digest, path.clone());
        }
        path
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("{0}: not a usable certificate")]
    BadCertificate(String),
    #[error("{0}: a root signed with SHA-1 (like GRCA G1) is not accepted as a trust anchor; configure GRCA G2 / G3")]
    WeakRoot(String),
    #[error("{0}: not a CA certificate")]
    NotACa(String),
}

const SHA1_RSA: [&str; 2] = ["1.2.840.113549.1.1.5", "1.3.14.3.2.29"];

/// Whether `issuer_spki` (raw SubjectPublicKeyInfo) verifies the signature on `der`
/// (SHA-1 signatures never do).
fn signed_by(der: &[u8], issuer_spki: &[u8]) -> bool {
    use x509_parser::prelude::FromDer;
    let Ok((_, c)) = x509_parser::certificate::X509Certificate::from_der(der) else {
        return false;
    };
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(issuer_spki) else {
        return false;
    };
    !SHA1_RSA.contains(&c.signature_algorithm.algorithm.to_id_string().as_str())
        && c.verify_signature(Some(&spki)).is_ok()
}

impl TrustStore {
    /// `roots`, `natural_cas`, `org_cas`: DER certificates; `crls`: DER CRLs. Names are
    /// for messages. A bad root or CA is an error; a CRL that cannot be used (unparsable,
    /// not signed by a configured key, SHA-1, unsupported kind) is set aside with a note,
    /// so certificates it would cover are refused for want of a CRL (fail closed).
    pub fn new(
        roots: &[(String, Vec<u8>)],
        natural_cas: &[(String, Vec<u8>)],
        org_cas: &[(String, Vec<u8>)],
        crls: &[(String, Vec<u8>)],
        policy: Policy,
    ) -> Result<Self, TrustError> {
        let mut notes = vec![];
        // Keys that may sign CRLs: roots first, then CAs, in configuration order.
        let mut keys: Vec<(Vec<u8>, Vec<u8>)> = vec![];
        let mut anchors = vec![];
        let mut root_list = vec![];
        for (name, der) in roots {
            let p = profile::parse(der).map_err(|_| TrustError::BadCertificate(name.clone()))?;
            let sig_alg = {
                use x509_parser::prelude::FromDer;
                x509_parser::certificate::X509Certificate::from_der(der)
                    .map(|(_, c)| c.signature_algorithm.algorithm.to_id_string())
                    .map_err(|_| TrustError::BadCertificate(name.clone()))?
            };
            if SHA1_RSA.contains(&sig_alg.as_str()) {
                return Err(TrustError::WeakRoot(name.clone()));
            }
            let cert = CertificateDer::from(der.clone());
            let a = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|_| TrustError::BadCertificate(name.clone()))?;
            keys.push(crl::key_of(der).ok_or_else(|| TrustError::BadCertificate(name.clone()))?);
            anchors.push(a.to_owned());
            root_list.push(Root {
                name: name.clone(),
                subject: p.subject,
                not_after: p.not_after,
            });
        }
        let root_count = keys.len();
        let mut cas = vec![];
        for (kind, list) in [
            (CardKind::Natural, natural_cas),
            (CardKind::Organization, org_cas),
        ] {
            for (name, der) in list {
                let p =
                    profile::parse(der).map_err(|_| TrustError::BadCertificate(name.clone()))?;
                if !p.is_ca {
                    return Err(TrustError::NotACa(name.clone()));
                }
                let issuer_key = keys[..root_count]
                    .iter()
                    .position(|(_, spki)| signed_by(der, spki));
                if issuer_key.is_none() {
                    notes.push(format!(
                        "{name}: {} is not signed (without SHA-1) by any configured root; its certificates are refused",
                        p.subject
                    ));
                }
                keys.push(
                    crl::key_of(der).ok_or_else(|| TrustError::BadCertificate(name.clone()))?,
                );
                cas.push(CaInfo {
                    source: name.clone(),
                    kind,
                    subject: p.subject,
                    not_before: p.not_before,
                    not_after: p.not_after,
                    serial: hex_bytes(&p.serial_hex),
                    crl_urls: p.crl_urls,
                    ocsp_urls: p.ocsp_urls,
                    issuer_key,
                    der: CertificateDer::from(der.clone()),
                });
            }
        }
        let mut parsed = vec![];
        for (name, der) in crls {
            match Crl::parse_verified(name, der, &issuer_keys(&keys)) {
                Ok(c) => parsed.push(c),
                Err(e) => notes.push(format!("{name}: CRL set aside: {e}")),
            }
        }
        let (kept, replaced) = crl::newest(parsed);
        for r in replaced {
            notes.push(format!(
                "{}: CRL number {} of {} set aside for a newer one of the same issuer key and scope",
                r.source,
                r.number_text(),
                r.issuer
            ));
        }
        let ders = |k: CardKind| -> Vec<CertificateDer<'static>> {
            cas.iter()
                .filter(|c| c.kind == k)
                .map(|c| c.der.clone())
                .collect()
        };
        let names = |k: CardKind| -> Vec<String> {
            cas.iter()
                .filter(|c| c.kind == k)
                .map(|c| c.subject.clone())
                .collect()
        };
        Ok(Self {
            natural_cas: ders(CardKind::Natural),
            org_cas: ders(CardKind::Organization),
            natural_ca_names: names(CardKind::Natural),
            org_ca_names: names(CardKind::Organization),
            anchors,
            roots: root_list,
            cas,
            crls: kept,
            keys,
            policy,
            notes,
            paths: PathCache::default(),
        })
    }

    /// Verifies a CRL (a fetched one) against the configured keys, as loading would.
    pub fn verify_crl(&self, source: &str, der: &[u8]) -> Result<Crl, crl::CrlError> {
        Crl::parse_verified(source, der, &issuer_keys(&self.keys))
    }

    /// The CRL in use for the same issuer key and scope as `c`, if any.
    pub fn current_crl(&self, c: &Crl) -> Option<&Crl> {
        self.crls
            .iter()
            .find(|k| k.issuer_key == c.issuer_key && k.scope == c.scope)
    }

    /// The key index of a configured CA (roots come first in the key list).
    /// The CA behind a key index (roots come first: they have none).
    fn ca_of_key(&self, key: usize) -> Option<&CaInfo> {
        key.checked_sub(self.roots.len())
            .and_then(|i| self.cas.get(i))
    }

    fn ca_key(&self, der: &[u8]) -> Option<usize> {
        self.cas
            .iter()
            .position(|c| c.der.as_ref() == der)
            .map(|i| i + self.roots.len())
    }

    /// The key index of the root behind an anchor of a verified path (roots come first in
    /// the key list, in the order of `anchors`).
    fn anchor_key(&self, a: &TrustAnchor<'_>) -> Option<usize> {
        self.anchors.iter().position(|r| {
            r.subject == a.subject && r.subject_public_key_info == a.subject_public_key_info
        })
    }

    pub fn cas(&self) -> &[CaInfo] {
        &self.cas
    }

    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// (name, subject, notAfter) of each root.
    pub fn roots(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.roots
            .iter()
            .map(|r| (r.name.as_str(), r.subject.as_str(), r.not_after))
    }

    /// The revocation status of configured CA `i` (the root's ARL), at `now`.
    pub fn ca_status(&self, i: usize, now: i64) -> Option<crl::Status> {
        let ca = self.cas.get(i)?;
        Some(match ca.issuer_key {
            Some(k) => crl::status(&self.crls, k, &ca.serial, &ca.crl_urls, true, now),
            None => crl::Status::Missing,
        })
    }

    /// The CRLs that would speak for certificates of CA `i` (its key), newest first.
    pub fn crls_of_ca(&self, i: usize) -> Vec<&Crl> {
        let key = i + self.roots.len();
        self.crls.iter().filter(|c| c.issuer_key == key).collect()
    }

    /// The CRLs signed by root `i`.
    pub fn crls_of_root(&self, i: usize) -> Vec<&Crl> {
        self.crls.iter().filter(|c| c.issuer_key == i).collect()
    }
}

fn issuer_keys(keys: &[(Vec<u8>, Vec<u8>)]) -> Vec<IssuerKey<'_>> {
    keys.iter()
        .map(|(s, k)| IssuerKey {
            subject_der: s,
            spki_der: k,
        })
        .collect()
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// A certificate that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedCert {
    pub kind: CardKind,
    pub profile: CertProfile,
    /// SHA-256 of the DER, hex: what a binding is keyed by.
    pub fingerprint: String,
    pub der: Vec<u8>,
    /// The issuing CA's certificate (what an OCSP request names).
    pub issuer_der: Vec<u8>,
}

pub fn fingerprint(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SIG_ALGS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
];

fn map_chain_error(e: &webpki::Error) -> ProofRefusal {
    match e {
        webpki::Error::CertExpired { .. } => ProofRefusal::CertificateExpired,
        webpki::Error::CertNotValidYet { .. } => ProofRefusal::CertificateNotYetValid,
        webpki::Error::BadDer | webpki::Error::BadDerTime | webpki::Error::MalformedExtensions => {
            ProofRefusal::CertificateUnparsable
        }
        _ => ProofRefusal::UntrustedIssuer,
    }
}

fn map_status(s: crl::Status) -> Result<(), ProofRefusal> {
    match s {
        crl::Status::Good => Ok(()),
        crl::Status::Revoked => Err(ProofRefusal::Revoked),
        crl::Status::Stale => Err(ProofRefusal::CrlStale),
        crl::Status::Missing => Err(ProofRefusal::CrlMissing),
    }
}

/// The kind a subject type (the `2.16.886.1.100.3.…` value a GPKI certificate carries)
/// names, whoever issued the certificate.
pub fn kind_by_type(subject_type: Option<&str>) -> Option<CardKind> {
    match subject_type {
        Some(oid::TYPE_NATURAL_PERSON | oid::TYPE_ALIEN_RESIDENT) => Some(CardKind::Natural),
        Some(oid::TYPE_GOVERNMENT_AGENCY | oid::TYPE_GOVERNMENT_UNIT | oid::TYPE_SCHOOL) => {
            Some(CardKind::Organization)
        }
        _ => None,
    }
}

/// The kind a certificate's subject type and issuer make it, if any: the type names the
/// kind, and a CA configured for that kind must have issued it.
pub fn kind_of(trust: &TrustStore, p: &CertProfile) -> Option<CardKind> {
    let kind = kind_by_type(p.subject_type.as_deref())?;
    let cas = match kind {
        CardKind::Natural => &trust.natural_ca_names,
        CardKind::Organization => &trust.org_ca_names,
    };
    cas.contains(&p.issuer).then_some(kind)
}

/// Checks the certificate, in order: parses → KeyUsage digitalSignature, not a CA → profile
/// and issuer of one kind → on a card (not `mobile`, unless allowed) → chain to a root
/// through a configured CA of that kind, every certificate valid at `now` (built once) →
/// each certificate of the chain not revoked, by a current CRL of its issuer's key that
/// covers it (the issuing CA's CRL for the card, the root's ARL for the CA).
pub fn check_certificate(
    trust: &TrustStore,
    der: &[u8],
    now_unix: i64,
) -> Result<CheckedCert, ProofRefusal> {
    let digest: [u8; 32] = sha2::Sha256::digest(der).into();
    let path = match trust.paths.get(&digest) {
        Some(p) if p.valid.0 <= now_unix && now_unix <= p.valid.1 => p,
        _ => trust.paths.put(digest, verify_path(trust, der, now_unix)?),
    };
    // Revocation, from the card up, at every use: each certificate by the CRLs of the key
    // above it (the issuing CA's for the card, the root's ARL for the CA).
    let (mut serial, mut urls, mut is_ca): (&[u8], &[String], bool) =
        (&path.serial, &path.profile.crl_urls, false);
    for &key in &path.issuer_keys {
        map_status(crl::status(&trust.crls, key, serial, urls, is_ca, now_unix))?;
        if let Some(ca) = trust.ca_of_key(key) {
            (serial, urls, is_ca) = (&ca.serial, &ca.crl_urls, true);
        }
    }
    let issuer_der = path
        .issuer_keys
        .first()
        .and_then(|&k| trust.ca_of_key(k))
        .map(|ca| ca.der.as_ref().to_vec())
        .unwrap_or_default();
    Ok(CheckedCert {
        kind: path.kind,
        fingerprint: digest.iter().map(|b| format!("{b:02x}")).collect(),
        profile: path.profile.clone(),
        der: der.to_vec(),
        issuer_der,
    })
}

/// Profile, type and chain (everything but revocation), as a [`CachedPath`].
fn verify_path(trust: &TrustStore, der: &[u8], now_unix: i64) -> Result<CachedPath, ProofRefusal> {
    let p = profile::parse(der).map_err(|_| ProofRefusal::CertificateUnparsable)?;
    let cert = CertificateDer::from(der);
    let ee = EndEntityCert::try_from(&cert).map_err(|_| ProofRefusal::CertificateUnparsable)?;
    if !p.key_usage.is_some_and(|k| k.digital_signature) || p.is_ca {
        return Err(ProofRefusal::NotSigningCertificate);
    }
    let kind = kind_of(trust, &p).ok_or(ProofRefusal::WrongCertificateType)?;
    if p.is_mobile() && !trust.policy.allow_mobile {
        return Err(ProofRefusal::MobileCertificate);
    }
    let intermediates = match kind {
        CardKind::Natural => &trust.natural_cas,
        CardKind::Organization => &trust.org_cas,
    };
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(now_unix).unwrap_or(0),
    ));
    // The issuing CA must be one of this kind's configured CAs (not merely any chain).
    let issued_by_kind = |path: &webpki::VerifiedPath<'_>| {
        let ok = path
            .intermediate_certificates()
            .next()
            .is_some_and(|i| intermediates.iter().any(|c| c.as_ref() == i.der().as_ref()));
        if ok {
            Ok(())
        } else {
            Err(webpki::Error::UnknownIssuer)
        }
    };
    let path = ee
        .verify_for_usage(
            SIG_ALGS,
            &trust.anchors,
            intermediates,
            time,
            KeyUsage::client_auth(),
            None,
            Some(&issued_by_kind),
        )
        .map_err(|e| map_chain_error(&e))?;
    let mut issuer_keys = vec![];
    let mut valid = (p.not_before, p.not_after);
    for issuer in path.intermediate_certificates() {
        let key = trust
            .ca_key(issuer.der().as_ref())
            .ok_or(ProofRefusal::UntrustedIssuer)?;
        if let Some(ca) = trust.ca_of_key(key) {
            valid = (valid.0.max(ca.not_before), valid.1.min(ca.not_after));
        }
        issuer_keys.push(key);
    }
    let root = trust.anchor_key(path.anchor());
    issuer_keys.push(root.ok_or(ProofRefusal::UntrustedIssuer)?);
    Ok(CachedPath {
        kind,
        serial: ee.serial().to_vec(),
        profile: p,
        issuer_keys,
        valid,
    })
}

/// The signature over the exact `tbs` bytes, with the certificate's key (RSA PKCS#1 v1.5,
/// SHA-256).
pub fn check_signature(cert_der: &[u8], tbs: &[u8], signature: &[u8]) -> Result<(), ProofRefusal> {
    let cert = CertificateDer::from(cert_der.to_vec());
    let ee = EndEntityCert::try_from(&cert).map_err(|_| ProofRefusal::CertificateUnparsable)?;
    ee.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, tbs, signature)
        .map_err(|_| ProofRefusal::BadSignature)
}

//! Strict validation of a card proof, as Web eID does it: the token's form, the certificate
//! (parses, KeyUsage digitalSignature, the right profile from the right CA, a chain to a
//! configured trust anchor valid now, not revoked by a fresh CRL), then the signature over
//! the exact `tbs`. The challenge itself (exists, unused, this session, this purpose) is
//! the caller's, between the certificate and the signature checks.
//!
//! X.509 path building, CRLs and signatures are rustls-webpki's; the profile fields are
//! x509-parser's. Nothing here does I/O: trust anchors and CRLs are handed in.

use crate::{
    oid,
    profile::{self, CertProfile},
    refusal::ProofRefusal,
};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use webpki::{
    EndEntityCert, ExpirationPolicy, KeyUsage, OwnedCertRevocationList, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

pub use crate::token::{decode_token, DecodedToken, ProofToken, TOKEN_FORMAT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardKind {
    Natural,
    Organization,
}

/// Trust configuration: roots, the issuing CAs of each kind, the CRLs.
pub struct TrustStore {
    roots: Vec<TrustAnchor<'static>>,
    natural_cas: Vec<CertificateDer<'static>>,
    org_cas: Vec<CertificateDer<'static>>,
    natural_ca_names: Vec<String>,
    org_ca_names: Vec<String>,
    crls: Vec<OwnedCertRevocationList>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("{0}: not a usable certificate")]
    BadCertificate(String),
    #[error("{0}: not a usable CRL")]
    BadCrl(String),
}

impl TrustStore {
    /// `roots`, `natural_cas`, `org_cas`: DER certificates; `crls`: DER CRLs. Names are for
    /// error messages.
    pub fn new(
        roots: &[(String, Vec<u8>)],
        natural_cas: &[(String, Vec<u8>)],
        org_cas: &[(String, Vec<u8>)],
        crls: &[(String, Vec<u8>)],
    ) -> Result<Self, TrustError> {
        let mut anchors = vec![];
        for (name, der) in roots {
            let cert = CertificateDer::from(der.clone());
            let a = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|_| TrustError::BadCertificate(name.clone()))?;
            anchors.push(a.to_owned());
        }
        let names = |cas: &[(String, Vec<u8>)]| -> Result<Vec<String>, TrustError> {
            cas.iter()
                .map(|(n, d)| {
                    profile::parse(d)
                        .map(|p| p.subject)
                        .map_err(|_| TrustError::BadCertificate(n.clone()))
                })
                .collect()
        };
        let crl_list = crls
            .iter()
            .map(|(n, d)| {
                OwnedCertRevocationList::from_der(d).map_err(|_| TrustError::BadCrl(n.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            roots: anchors,
            natural_ca_names: names(natural_cas)?,
            org_ca_names: names(org_cas)?,
            natural_cas: natural_cas
                .iter()
                .map(|(_, d)| CertificateDer::from(d.clone()))
                .collect(),
            org_cas: org_cas
                .iter()
                .map(|(_, d)| CertificateDer::from(d.clone()))
                .collect(),
            crls: crl_list,
        })
    }
}

/// A certificate that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedCert {
    pub kind: CardKind,
    pub profile: CertProfile,
    /// SHA-256 of the DER, hex: what a binding is keyed by.
    pub fingerprint: String,
    pub der: Vec<u8>,
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
        webpki::Error::CertRevoked => ProofRefusal::Revoked,
        webpki::Error::CrlExpired { .. } => ProofRefusal::CrlStale,
        webpki::Error::UnknownRevocationStatus => ProofRefusal::CrlMissing,
        webpki::Error::BadDer | webpki::Error::BadDerTime | webpki::Error::MalformedExtensions => {
            ProofRefusal::CertificateUnparsable
        }
        _ => ProofRefusal::UntrustedIssuer,
    }
}

/// Checks the certificate, in order: parses → KeyUsage digitalSignature → profile and
/// issuer of one kind → chain to a root, valid at `now` → not revoked by a fresh CRL.
pub fn check_certificate(
    trust: &TrustStore,
    der: &[u8],
    now_unix: i64,
) -> Result<CheckedCert, ProofRefusal> {
    let p = profile::parse(der).map_err(|_| ProofRefusal::CertificateUnparsable)?;
    let cert = CertificateDer::from(der.to_vec());
    let ee = EndEntityCert::try_from(&cert).map_err(|_| ProofRefusal::CertificateUnparsable)?;
    if !p.key_usage.is_some_and(|k| k.digital_signature) || p.is_ca {
        return Err(ProofRefusal::NotSigningCertificate);
    }
    let kind = match p.subject_type.as_deref() {
        Some(oid::TYPE_NATURAL_PERSON) if trust.natural_ca_names.contains(&p.issuer) => {
            CardKind::Natural
        }
        Some(oid::TYPE_GOVERNMENT_AGENCY | oid::TYPE_GOVERNMENT_UNIT)
            if trust.org_ca_names.contains(&p.issuer) =>
        {
            CardKind::Organization
        }
        _ => return Err(ProofRefusal::WrongCertificateType),
    };
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
    // Chain first (valid now), then revocation, so each failure has its own reason.
    ee.verify_for_usage(
        SIG_ALGS,
        &trust.roots,
        intermediates,
        time,
        KeyUsage::client_auth(),
        None,
        Some(&issued_by_kind),
    )
    .map_err(|e| map_chain_error(&e))?;
    if trust.crls.is_empty() {
        return Err(ProofRefusal::CrlMissing);
    }
    let crl_refs: Vec<webpki::CertRevocationList<'_>> = trust
        .crls
        .iter()
        .map(|c| webpki::CertRevocationList::Owned(c.clone()))
        .collect();
    let crl_ptrs: Vec<&webpki::CertRevocationList<'_>> = crl_refs.iter().collect();
    let revocation = RevocationOptionsBuilder::new(&crl_ptrs)
        .map_err(|_| ProofRefusal::CrlMissing)?
        .with_depth(RevocationCheckDepth::Chain)
        .with_status_policy(UnknownStatusPolicy::Deny)
        .with_expiration_policy(ExpirationPolicy::Enforce)
        .build();
    ee.verify_for_usage(
        SIG_ALGS,
        &trust.roots,
        intermediates,
        time,
        KeyUsage::client_auth(),
        Some(revocation),
        Some(&issued_by_kind),
    )
    .map_err(|e| map_chain_error(&e))?;
    Ok(CheckedCert {
        kind,
        fingerprint: fingerprint(der),
        profile: p,
        der: der.to_vec(),
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

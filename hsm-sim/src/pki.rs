//! The test PKI: a test root (GRCA-like), a natural-person CA (MOICA-like) and an
//! organization CA (GCA-like) under it, plus an untrusted root with a look-alike MOICA CA
//! for negative tests. Every name carries 「測試用」/TEST, so nobody mistakes them for the
//! production CAs. Certificates and CRLs are built with rcgen; every key (CA and card)
//! lives in SoftHSM and signs there.

use crate::softhsm::{Hsm, HsmError, RsaPublic};
use cryptoki::session::Session;
use rcgen::{
    string::PrintableString, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CustomExtension, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, RevocationReason, RevokedCertParams, SerialNumber,
    SignatureAlgorithm, SigningKey, PKCS_RSA_SHA256,
};
use rsa::{pkcs1::EncodeRsaPublicKey, BigUint, RsaPublicKey};
use time::{Duration, OffsetDateTime};

/// OIDs of the Taiwanese certificate profiles.
pub mod oid {
    pub const SUBJECT_DIRECTORY_ATTRIBUTES: &[u64] = &[2, 5, 29, 9];
    pub const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
    /// Subject type (身分類別).
    pub const SUBJECT_TYPE: &[u64] = &[2, 16, 886, 1, 100, 2, 1];
    /// Last four characters of the national ID.
    pub const ID_LAST4: &[u64] = &[2, 16, 886, 1, 100, 2, 51];
    /// The agency's OID (機關 OID).
    pub const AGENCY_OID: &[u64] = &[2, 16, 886, 1, 100, 2, 102];
    pub const TYPE_NATURAL_PERSON: &[u64] = &[2, 16, 886, 1, 100, 3, 1, 1];
    pub const TYPE_GOVERNMENT_AGENCY: &[u64] = &[2, 16, 886, 1, 100, 3, 2, 1, 1];
    /// GPKI assurance level 3.
    pub const POLICY_LEVEL3: &[u64] = &[2, 16, 886, 101, 0, 3, 3];
    pub const SERIAL_NUMBER_ATTR: &[u64] = &[2, 5, 4, 5];
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}")]
    Other(String),
}

/// An RSA key in SoftHSM, usable by rcgen as a public key and (with a session) a signer.
pub struct HsmKey<'a> {
    hsm: &'a Hsm,
    session: Option<&'a Session>,
    token: String,
    id: u8,
    public_der: Vec<u8>,
}

impl<'a> HsmKey<'a> {
    pub fn new(
        hsm: &'a Hsm,
        session: Option<&'a Session>,
        token: &str,
        id: u8,
        public: &RsaPublic,
    ) -> Result<Self, PkiError> {
        let key = RsaPublicKey::new(
            BigUint::from_bytes_be(&public.n),
            BigUint::from_bytes_be(&public.e),
        )
        .map_err(|e| PkiError::Other(format!("RSA public key: {e}")))?;
        let public_der = key
            .to_pkcs1_der()
            .map_err(|e| PkiError::Other(format!("RSA public key DER: {e}")))?
            .as_bytes()
            .to_vec();
        Ok(Self {
            hsm,
            session,
            token: token.into(),
            id,
            public_der,
        })
    }
}

impl HsmKey<'_> {
    /// The key identifier (RFC 7093 method 1: SHA-256 of the subjectPublicKey, 160 bits).
    pub fn key_id(&self) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(&self.public_der)[..20].to_vec()
    }
}

impl PublicKeyData for HsmKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public_der
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_RSA_SHA256
    }
}

impl SigningKey for HsmKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let session = self.session.ok_or(rcgen::Error::RemoteKeyError)?;
        self.hsm
            .sign_sha256(session, &self.token, self.id, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// The CAs of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ca {
    Root,
    Moica,
    Gca,
    UntrustedRoot,
    UntrustedMoica,
}

impl Ca {
    pub const ALL: [Ca; 5] = [
        Ca::Root,
        Ca::Moica,
        Ca::Gca,
        Ca::UntrustedRoot,
        Ca::UntrustedMoica,
    ];

    /// The key's CKA_ID in the CA token.
    pub fn key_id(self) -> u8 {
        match self {
            Ca::Root => 1,
            Ca::Moica => 2,
            Ca::Gca => 3,
            Ca::UntrustedRoot => 4,
            Ca::UntrustedMoica => 5,
        }
    }

    pub fn file_stem(self) -> &'static str {
        match self {
            Ca::Root => "test-grca-root",
            Ca::Moica => "test-moica",
            Ca::Gca => "test-gca",
            Ca::UntrustedRoot => "untrusted-root",
            Ca::UntrustedMoica => "untrusted-moica",
        }
    }

    pub fn parent(self) -> Option<Ca> {
        match self {
            Ca::Root | Ca::UntrustedRoot => None,
            Ca::Moica | Ca::Gca => Some(Ca::Root),
            Ca::UntrustedMoica => Some(Ca::UntrustedRoot),
        }
    }

    pub fn dn(self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("TW"));
        dn.push(DnType::OrganizationName, "行政院");
        let (ou, cn) = match self {
            Ca::Root => ("政府憑證總管理中心", "hsm-sim GRCA TEST ROOT 測試用根憑證"),
            // The look-alike uses the same names as the test MOICA: only the key differs.
            Ca::Moica | Ca::UntrustedMoica => {
                ("內政部憑證管理中心", "hsm-sim MOICA TEST CA 測試用")
            }
            Ca::Gca => ("政府憑證管理中心", "hsm-sim GCA TEST CA 測試用"),
            Ca::UntrustedRoot => ("不受信任的測試根憑證", "hsm-sim UNTRUSTED TEST ROOT 測試用"),
        };
        dn.push(DnType::OrganizationalUnitName, ou);
        dn.push(DnType::CommonName, cn);
        dn
    }

    /// The CA's certificate parameters; `key_id` is its key identifier.
    pub fn params(self, key_id: Vec<u8>) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = self.dn();
        p.is_ca = IsCa::Ca(match self.parent() {
            None => BasicConstraints::Unconstrained,
            Some(_) => BasicConstraints::Constrained(0),
        });
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = time::macros::datetime!(2020-01-01 00:00 UTC);
        p.not_after = if self.parent().is_none() {
            time::macros::datetime!(2045-12-31 23:59:59 UTC)
        } else {
            time::macros::datetime!(2040-12-31 23:59:59 UTC)
        };
        p.serial_number = Some(SerialNumber::from(u64::from(self.key_id()) + 0x5157_0000));
        p.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        p.use_authority_key_identifier_extension = self.parent().is_some();
        p
    }
}

fn printable(s: &str) -> DnValue {
    PrintableString::try_from(s)
        .map(DnValue::PrintableString)
        .unwrap_or_else(|_| DnValue::Utf8String(s.into()))
}

/// An issuer built from a CA's parameters and its key in SoftHSM.
pub fn issuer<'a>(ca: Ca, key: HsmKey<'a>) -> Issuer<'a, HsmKey<'a>> {
    Issuer::new(ca.params(key.key_id()), key)
}

/// Which profile a card certificate follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// 自然人憑證: name, card number, national ID last 4.
    Natural {
        name: String,
        card_number: String,
        id_last4: String,
    },
    /// 機關憑證: agency name, card number, agency OID.
    Organization {
        agency_name: String,
        card_number: String,
        agency_oid: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Signing,
    Encryption,
}

/// The bad certificates the server must refuse, made on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    #[default]
    Good,
    Expired,
    NotYetValid,
    /// Issued by the look-alike CA under the untrusted root.
    Untrusted,
    /// The signing certificate lacks digitalSignature (keyEncipherment only).
    WrongKeyUsage,
}

fn der_oid(w: yasna::DERWriter, arcs: &[u64]) {
    w.write_oid(&yasna::models::ObjectIdentifier::from_slice(arcs));
}

/// One Attribute { type, SET { value } }.
fn attribute(w: yasna::DERWriter, ty: &[u64], value: impl FnOnce(yasna::DERWriter)) {
    w.write_sequence(|w| {
        der_oid(w.next(), ty);
        w.next().write_set(|w| value(w.next()));
    })
}

/// subjectDirectoryAttributes: SEQUENCE OF Attribute — the subject type, then the ID's last
/// four characters (natural person) or the agency OID (organization).
pub fn subject_directory_attributes(holder: &Holder) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| match holder {
            Holder::Natural { id_last4, .. } => {
                attribute(w.next(), oid::SUBJECT_TYPE, |w| {
                    der_oid(w, oid::TYPE_NATURAL_PERSON)
                });
                attribute(w.next(), oid::ID_LAST4, |w| {
                    w.write_printable_string(id_last4)
                });
            }
            Holder::Organization { agency_oid, .. } => {
                let arcs: Vec<u64> = agency_oid
                    .split('.')
                    .filter_map(|a| a.parse().ok())
                    .collect();
                attribute(w.next(), oid::SUBJECT_TYPE, |w| {
                    der_oid(w, oid::TYPE_GOVERNMENT_AGENCY)
                });
                attribute(w.next(), oid::AGENCY_OID, |w| der_oid(w, &arcs));
            }
        })
    })
}

fn policies() -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_sequence(|w| der_oid(w.next(), oid::POLICY_LEVEL3))
        })
    })
}

/// The parameters of a card certificate.
pub fn card_params(
    holder: &Holder,
    usage: Usage,
    variant: Variant,
    serial: &[u8],
    key_id: Vec<u8>,
    now: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("TW"));
    let (cn, number) = match holder {
        Holder::Natural {
            name, card_number, ..
        } => (name, card_number),
        Holder::Organization {
            agency_name,
            card_number,
            ..
        } => (agency_name, card_number),
    };
    if let Holder::Organization { agency_name, .. } = holder {
        dn.push(DnType::OrganizationName, agency_name.as_str());
    }
    dn.push(DnType::CommonName, cn.as_str());
    dn.push(
        DnType::CustomDnType(oid::SERIAL_NUMBER_ATTR.to_vec()),
        printable(number),
    );
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = match (usage, variant) {
        (Usage::Signing, Variant::WrongKeyUsage) => vec![KeyUsagePurpose::KeyEncipherment],
        (Usage::Signing, _) => vec![KeyUsagePurpose::DigitalSignature],
        (Usage::Encryption, _) => vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DataEncipherment,
        ],
    };
    let (nb, na) = match variant {
        Variant::Expired => (now - Duration::days(6 * 365), now - Duration::days(30)),
        Variant::NotYetValid => (now + Duration::days(30), now + Duration::days(5 * 365)),
        _ => (now - Duration::minutes(5), now + Duration::days(5 * 365)),
    };
    p.not_before = nb;
    p.not_after = na;
    p.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
    p.use_authority_key_identifier_extension = true;
    p.custom_extensions = vec![
        CustomExtension::from_oid_content(
            oid::SUBJECT_DIRECTORY_ATTRIBUTES,
            subject_directory_attributes(holder),
        ),
        CustomExtension::from_oid_content(oid::CERTIFICATE_POLICIES, policies()),
    ];
    p
}

/// A CRL for `ca`: `revoked` = (serial, revocation time). `stale` makes one whose
/// nextUpdate has passed (for the server's freshness check).
pub fn crl(
    issuer: &Issuer<'_, HsmKey<'_>>,
    issuer_key_id: Vec<u8>,
    number: u64,
    revoked: &[(Vec<u8>, OffsetDateTime)],
    now: OffsetDateTime,
    stale: bool,
) -> Result<Vec<u8>, PkiError> {
    let (this_update, next_update) = if stale {
        (now - Duration::days(14), now - Duration::days(7))
    } else {
        (now - Duration::minutes(5), now + Duration::days(7))
    };
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|(s, t)| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: *t,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::PreSpecified(issuer_key_id),
    };
    Ok(params.signed_by(issuer)?.der().to_vec())
}

pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

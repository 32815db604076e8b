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
    pub const TYPE_ALIEN_RESIDENT: &[u64] = &[2, 16, 886, 1, 100, 3, 1, 9];
    pub const TYPE_GOVERNMENT_AGENCY: &[u64] = &[2, 16, 886, 1, 100, 3, 2, 1, 1];
    pub const TYPE_GOVERNMENT_UNIT: &[u64] = &[2, 16, 886, 1, 100, 3, 2, 1, 2];
    pub const TYPE_SCHOOL: &[u64] = &[2, 16, 886, 1, 100, 3, 2, 11];
    /// Card form: `mobile`, `primary`, `secondary`.
    pub const CARD_FORM: &[u64] = &[2, 16, 886, 1, 100, 2, 2];
    pub const CRL_DISTRIBUTION_POINTS: &[u64] = &[2, 5, 29, 31];
    pub const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
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

/// An RSA public key made outside SoftHSM (an OCSP responder's), for rcgen to certify.
pub struct ExternalRsaKey {
    pkcs1: Vec<u8>,
}

impl ExternalRsaKey {
    /// From a SubjectPublicKeyInfo (DER) holding an RSA key.
    pub fn from_spki(spki_der: &[u8]) -> Result<Self, PkiError> {
        use x509_parser::prelude::FromDer;
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| PkiError::Other(format!("public key: {e}")))?;
        if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
            return Err(PkiError::Other("the responder key must be RSA".into()));
        }
        Ok(Self {
            pkcs1: spki.subject_public_key.data.to_vec(),
        })
    }
}

impl PublicKeyData for ExternalRsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_RSA_SHA256
    }
}

/// A delegated OCSP responder of `ca`: OCSPSigning, digitalSignature, 30 days, and
/// id-pkix-ocsp-nocheck (its own status is not asked).
pub fn ocsp_responder_params(ca: Ca, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("TW"));
    dn.push(DnType::OrganizationName, "行政院");
    dn.push(
        DnType::CommonName,
        DnValue::Utf8String(format!("{} OCSP Responder (測試用)", ca.file_stem())),
    );
    p.distinguished_name = dn;
    p.is_ca = IsCa::NoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::OcspSigning];
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7F) | 0x10;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.not_before = now - Duration::minutes(5);
    p.not_after = now + Duration::days(30);
    p.use_authority_key_identifier_extension = true;
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5],
        vec![0x05, 0x00],
    )];
    p
}

/// The CAs of the simulator, shaped as the real hierarchy: two root generations (GRCA G2
/// without a CN, GRCA G3 with one), two MOICA generations with **one name and two keys**
/// (G2-style under the G2 root, G3-style with the digitalSignature bit under the G3 root,
/// 4096-bit keys where the real ones have them), GCA and an XCA-like CA for schools under
/// the G2 root, and an untrusted look-alike of MOICA under a root nobody trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ca {
    Root,
    Moica,
    Gca,
    UntrustedRoot,
    UntrustedMoica,
    RootG3,
    MoicaG3,
    Xca,
}

impl Ca {
    pub const ALL: [Ca; 8] = [
        Ca::Root,
        Ca::Moica,
        Ca::Gca,
        Ca::UntrustedRoot,
        Ca::UntrustedMoica,
        Ca::RootG3,
        Ca::MoicaG3,
        Ca::Xca,
    ];

    /// The CAs that issue cards (and publish partitioned CRLs).
    pub const ISSUING: [Ca; 5] = [Ca::Moica, Ca::MoicaG3, Ca::Gca, Ca::Xca, Ca::UntrustedMoica];

    /// The key's CKA_ID in the CA token.
    pub fn key_id(self) -> u8 {
        match self {
            Ca::Root => 1,
            Ca::Moica => 2,
            Ca::Gca => 3,
            Ca::UntrustedRoot => 4,
            Ca::UntrustedMoica => 5,
            Ca::RootG3 => 6,
            Ca::MoicaG3 => 7,
            Ca::Xca => 8,
        }
    }

    /// RSA key size: 4096 where the real CA's is (GRCA G2/G3, MOICA G3).
    pub fn key_bits(self) -> u32 {
        match self {
            Ca::Root | Ca::RootG3 | Ca::MoicaG3 => 4096,
            _ => 2048,
        }
    }

    pub fn file_stem(self) -> &'static str {
        match self {
            Ca::Root => "test-grca-root",
            Ca::Moica => "test-moica",
            Ca::Gca => "test-gca",
            Ca::UntrustedRoot => "untrusted-root",
            Ca::UntrustedMoica => "untrusted-moica",
            Ca::RootG3 => "test-grca-g3-root",
            Ca::MoicaG3 => "test-moica-g3",
            Ca::Xca => "test-xca",
        }
    }

    pub fn parent(self) -> Option<Ca> {
        match self {
            Ca::Root | Ca::UntrustedRoot | Ca::RootG3 => None,
            Ca::Moica | Ca::Gca | Ca::Xca => Some(Ca::Root),
            Ca::MoicaG3 => Some(Ca::RootG3),
            Ca::UntrustedMoica => Some(Ca::UntrustedRoot),
        }
    }

    /// Names as the real CAs write them (no CN under the roots), marked 測試用 / TEST as
    /// MOICA's own test CA is (`OU=(測試用) 內政部憑證管理中心`).
    pub fn dn(self) -> DistinguishedName {
        self.dn_named(Naming::Current)
    }

    /// The name under `naming`: a PKI made by an older simulator keeps the names its CA
    /// certificates already carry (CRLs and cards must name their issuer exactly so).
    pub fn dn_named(self, naming: Naming) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("TW"));
        if naming == Naming::Legacy {
            let legacy = match self {
                Ca::Root => Some(("政府憑證總管理中心", "hsm-sim GRCA TEST ROOT 測試用根憑證")),
                Ca::Moica | Ca::MoicaG3 | Ca::UntrustedMoica => {
                    Some(("內政部憑證管理中心", "hsm-sim MOICA TEST CA 測試用"))
                }
                Ca::Gca => Some(("政府憑證管理中心", "hsm-sim GCA TEST CA 測試用")),
                Ca::UntrustedRoot => {
                    Some(("不受信任的測試根憑證", "hsm-sim UNTRUSTED TEST ROOT 測試用"))
                }
                Ca::RootG3 | Ca::Xca => None,
            };
            if let Some((ou, cn)) = legacy {
                dn.push(DnType::OrganizationName, "行政院");
                dn.push(DnType::OrganizationalUnitName, ou);
                dn.push(DnType::CommonName, cn);
                return dn;
            }
        }
        match self {
            Ca::Root => dn.push(
                DnType::OrganizationName,
                printable("Government Root Certification Authority TEST hsm-sim"),
            ),
            Ca::RootG3 => {
                dn.push(DnType::OrganizationName, "行政院");
                dn.push(
                    DnType::CommonName,
                    printable("Government Root Certification Authority - G3 TEST hsm-sim"),
                );
            }
            Ca::UntrustedRoot => dn.push(
                DnType::OrganizationName,
                printable("Untrusted Root Certification Authority TEST hsm-sim"),
            ),
            // Both generations and the look-alike share one name: only the keys differ.
            Ca::Moica | Ca::MoicaG3 | Ca::UntrustedMoica => {
                dn.push(DnType::OrganizationName, "行政院");
                dn.push(
                    DnType::OrganizationalUnitName,
                    "(測試用) 內政部憑證管理中心",
                );
            }
            Ca::Gca => {
                dn.push(DnType::OrganizationName, "行政院");
                dn.push(DnType::OrganizationalUnitName, "(測試用) 政府憑證管理中心");
            }
            Ca::Xca => {
                dn.push(DnType::OrganizationName, "行政院");
                dn.push(
                    DnType::OrganizationalUnitName,
                    "(測試用) 組織及團體憑證管理中心",
                );
            }
        }
        dn
    }

    /// The CA's certificate parameters; `key_id` is its key identifier. Issuing CAs name
    /// their root's ARL as their CRL distribution point, as MOICA G2/G3 do.
    pub fn params(
        self,
        key_id: Vec<u8>,
        publication: &Publication,
        naming: Naming,
    ) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = self.dn_named(naming);
        p.is_ca = IsCa::Ca(match self.parent() {
            None => BasicConstraints::Unconstrained,
            Some(_) => BasicConstraints::Constrained(0),
        });
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // The G3 generation carries the digitalSignature bit, as GRCA G3 and MOICA G3 do.
        if matches!(self, Ca::RootG3 | Ca::MoicaG3) {
            p.key_usages.push(KeyUsagePurpose::DigitalSignature);
        }
        p.not_before = time::macros::datetime!(2020-01-01 00:00 UTC);
        p.not_after = if self.parent().is_none() {
            time::macros::datetime!(2045-12-31 15:59:59 UTC)
        } else {
            time::macros::datetime!(2040-12-31 15:59:59 UTC)
        };
        p.serial_number = Some(SerialNumber::from(u64::from(self.key_id()) + 0x5157_0000));
        p.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        p.use_authority_key_identifier_extension = self.parent().is_some();
        if let Some(root) = self.parent() {
            p.custom_extensions = vec![CustomExtension::from_oid_content(
                oid::CRL_DISTRIBUTION_POINTS,
                crl_distribution_points(&[publication.complete_crl(root)]),
            )];
        }
        p
    }

    /// The G3 root certified by the G2 root's key (as GRCA certifies one generation with
    /// the other): same subject and key as the self-signed G3 root.
    pub fn cross_params(
        key_id: Vec<u8>,
        publication: &Publication,
        naming: Naming,
    ) -> CertificateParams {
        let mut p = Ca::RootG3.params(key_id, publication, naming);
        p.serial_number = Some(SerialNumber::from(0x5157_0C03u64));
        p.use_authority_key_identifier_extension = true;
        p
    }
}

fn printable(s: &str) -> DnValue {
    PrintableString::try_from(s)
        .map(DnValue::PrintableString)
        .unwrap_or_else(|_| DnValue::Utf8String(s.into()))
}

/// How the simulator names its CAs: states made before the names followed the real CAs
/// keep the old ones (`Legacy`, the default of a state file without the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Naming {
    #[default]
    Legacy,
    Current,
}

/// An issuer built from a CA's parameters (names under `naming`) and its key in SoftHSM.
pub fn issuer<'a>(ca: Ca, key: HsmKey<'a>, naming: Naming) -> Issuer<'a, HsmKey<'a>> {
    let publication = Publication::from_env();
    Issuer::new(ca.params(key.key_id(), &publication, naming), key)
}

/// Which profile a card certificate follows (facts: `../shared/real-pki/README.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// 自然人憑證: name, the 16-digit holder identifier (subject serialNumber, the same on
    /// all of a person's certificates, not the card number), national ID last 4.
    Natural {
        name: String,
        holder_id: String,
        id_last4: String,
        /// 外來人口 (subject type 2.16.886.1.100.3.1.9) rather than a citizen.
        alien: bool,
    },
    /// 機關憑證: agency (or unit, or school) name, its 16-digit identifier, its OID.
    Organization {
        agency_name: String,
        holder_id: String,
        agency_oid: String,
        org_type: OrgType,
    },
}

/// The organization profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgType {
    /// 政府機關 (2.16.886.1.100.3.2.1.1), from GCA.
    Agency,
    /// 政府單位 (…3.2.1.2), from GCA.
    Unit,
    /// A school (…3.2.11), from XCA: subject `C, O` only; primary card or 附卡.
    School { secondary: bool },
}

/// A 16-digit holder identifier derived from `key` (a national ID or agency OID): stable,
/// and unrelated to any card number.
pub fn holder_id(key: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("hsm-sim holder {key}").as_bytes());
    let n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    format!("{:016}", n % 10_000_000_000_000_000)
}

/// Where the simulator's CA publishes (CRL distribution points, AIA): `base` is a URL
/// without a trailing slash; the files below it are the ones `hsm-sim` writes into
/// `pki/crl/` and `pki/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub base: String,
}

/// Partitions of each issuing CA's CRL (MOICA publishes many; four keep tests small).
pub const CRL_PARTITIONS: u8 = 4;

impl Publication {
    /// `HSM_SIM_PUBLISH_URL` (default `http://pki.hsm-sim.test`): serve the `pki` folder
    /// there (`crl/*.crl`, `certs/*.der`) for a server that fetches its CRLs.
    pub fn from_env() -> Self {
        let base = std::env::var("HSM_SIM_PUBLISH_URL")
            .ok()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .unwrap_or_else(|| "http://pki.hsm-sim.test".into());
        Publication {
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The complete CRL of `ca`.
    pub fn complete_crl(&self, ca: Ca) -> String {
        format!("{}/crl/{}.crl", self.base, ca.file_stem())
    }
    /// The partition CRL of `ca` that covers a certificate with `serial`.
    pub fn partition_crl(&self, ca: Ca, partition: u8) -> String {
        format!("{}/crl/{}-p{partition}.crl", self.base, ca.file_stem())
    }
    pub fn ocsp(&self, ca: Ca) -> String {
        format!("{}/ocsp/{}", self.base, ca.file_stem())
    }
    pub fn ca_issuers(&self, ca: Ca) -> String {
        format!("{}/certs/{}.der", self.base, ca.file_stem())
    }
}

/// The CRL partition of a certificate serial.
pub fn partition_of(serial: &[u8]) -> u8 {
    serial.last().copied().unwrap_or(0) % CRL_PARTITIONS
}

/// GeneralName URI.
fn der_uri(w: yasna::DERWriter, uri: &str) {
    w.write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(uri));
}

/// CRLDistributionPoints with each URI a distribution point of its own (as MOICA writes
/// them: the partition CRL, then the complete CRL).
pub fn crl_distribution_points(uris: &[String]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for u in uris {
                w.next().write_sequence(|w| {
                    // distributionPoint [0] { fullName [0] GeneralNames }
                    w.next().write_tagged(yasna::Tag::context(0), |w| {
                        w.write_tagged_implicit(yasna::Tag::context(0), |w| {
                            w.write_sequence(|w| der_uri(w.next(), u))
                        })
                    })
                });
            }
        })
    })
}

/// AuthorityInfoAccess: caIssuers and OCSP.
pub fn authority_info_access(ca_issuers: &str, ocsp: &str) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (method, uri) in [
                (&[1u64, 3, 6, 1, 5, 5, 7, 48, 2][..], ca_issuers),
                (&[1u64, 3, 6, 1, 5, 5, 7, 48, 1][..], ocsp),
            ] {
                w.next().write_sequence(|w| {
                    der_oid(w.next(), method);
                    der_uri(w.next(), uri);
                })
            }
        })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Signing,
    Encryption,
}

/// The card profiles beyond the default, and the bad certificates the server must refuse,
/// made on demand.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
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
    /// A MOICA mobile certificate (2.16.886.1.100.2.2 = `mobile`; keys not on a card in
    /// reality), valid one year.
    Mobile,
    /// An alien resident's natural-person card (subject type 2.16.886.1.100.3.1.9).
    AlienResident,
    /// An organization card of a government unit (政府單位, 2.16.886.1.100.3.2.1.2).
    Unit,
    /// A natural-person card of the second MOICA generation (same CA name, another key,
    /// under the G3 root).
    G3,
    /// A school's organization card from the XCA-like CA (primary card).
    School,
    /// A school's secondary card (附卡).
    SchoolSecondary,
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

/// subjectDirectoryAttributes: SEQUENCE OF Attribute — the subject type, `mobile` for a
/// mobile certificate, then the ID's last four characters as UTF8String (natural person)
/// or the agency OID (organization).
pub fn subject_directory_attributes(holder: &Holder, mobile: bool) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| match holder {
            Holder::Natural {
                id_last4, alien, ..
            } => {
                let ty = if *alien {
                    oid::TYPE_ALIEN_RESIDENT
                } else {
                    oid::TYPE_NATURAL_PERSON
                };
                attribute(w.next(), oid::SUBJECT_TYPE, |w| der_oid(w, ty));
                if mobile {
                    attribute(w.next(), oid::CARD_FORM, |w| {
                        w.write_printable_string("mobile")
                    });
                }
                attribute(w.next(), oid::ID_LAST4, |w| w.write_utf8_string(id_last4));
            }
            Holder::Organization {
                agency_oid,
                org_type,
                ..
            } => {
                let arcs: Vec<u64> = agency_oid
                    .split('.')
                    .filter_map(|a| a.parse().ok())
                    .collect();
                let ty = match org_type {
                    OrgType::Agency => oid::TYPE_GOVERNMENT_AGENCY,
                    OrgType::Unit => oid::TYPE_GOVERNMENT_UNIT,
                    OrgType::School { .. } => oid::TYPE_SCHOOL,
                };
                attribute(w.next(), oid::SUBJECT_TYPE, |w| der_oid(w, ty));
                if let OrgType::School { secondary } = org_type {
                    attribute(w.next(), oid::CARD_FORM, |w| {
                        w.write_printable_string(if *secondary { "secondary" } else { "primary" })
                    });
                }
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

/// 23:59:59 Taipei (15:59:59Z) of the day `t` falls on in UTC, as real card certificates
/// end.
pub fn end_of_taipei_day(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_time(time::macros::time!(15:59:59))
}

/// The parameters of a card certificate issued by `ca`, as MOICA / GCA write them: subject
/// `C, CN, serialNumber` (the holder identifier), KeyUsage critical (digitalSignature only
/// for signing), no BasicConstraints, the level-3 policy, subjectDirectoryAttributes, CRL
/// distribution points (the certificate's partition CRL, then the complete CRL) and AIA.
#[allow(clippy::too_many_arguments)]
pub fn card_params(
    holder: &Holder,
    usage: Usage,
    variant: Variant,
    serial: &[u8],
    key_id: Vec<u8>,
    now: OffsetDateTime,
    ca: Ca,
    publication: &Publication,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("TW"));
    let (cn, id) = match holder {
        Holder::Natural {
            name, holder_id, ..
        } => (name, holder_id),
        Holder::Organization {
            agency_name,
            holder_id,
            ..
        } => (agency_name, holder_id),
    };
    let school = matches!(
        holder,
        Holder::Organization {
            org_type: OrgType::School { .. },
            ..
        }
    );
    if let Holder::Organization { agency_name, .. } = holder {
        dn.push(DnType::OrganizationName, agency_name.as_str());
    }
    // XCA school certificates name the organization only (no CN, no serialNumber).
    if !school {
        dn.push(DnType::CommonName, DnValue::Utf8String(cn.clone()));
        dn.push(
            DnType::CustomDnType(oid::SERIAL_NUMBER_ATTR.to_vec()),
            printable(id),
        );
    }
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.is_ca = IsCa::NoCa;
    p.key_usages = match (usage, variant) {
        (Usage::Signing, Variant::WrongKeyUsage) => vec![KeyUsagePurpose::KeyEncipherment],
        (Usage::Signing, _) => vec![KeyUsagePurpose::DigitalSignature],
        (Usage::Encryption, _) => vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DataEncipherment,
        ],
    };
    let years = |n: i64| end_of_taipei_day(now + Duration::days(n * 365 + n / 4));
    let (nb, na) = match variant {
        Variant::Expired => (
            now - Duration::days(6 * 365),
            end_of_taipei_day(now - Duration::days(30)),
        ),
        Variant::NotYetValid => (now + Duration::days(30), years(5)),
        Variant::Mobile => (now - Duration::minutes(5), years(1)),
        _ => (now - Duration::minutes(5), years(5)),
    };
    p.not_before = nb;
    p.not_after = na;
    p.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
    p.use_authority_key_identifier_extension = true;
    p.custom_extensions = vec![
        CustomExtension::from_oid_content(
            oid::SUBJECT_DIRECTORY_ATTRIBUTES,
            subject_directory_attributes(holder, variant == Variant::Mobile),
        ),
        CustomExtension::from_oid_content(oid::CERTIFICATE_POLICIES, policies()),
        CustomExtension::from_oid_content(
            oid::CRL_DISTRIBUTION_POINTS,
            crl_distribution_points(&[
                publication.partition_crl(ca, partition_of(serial)),
                publication.complete_crl(ca),
            ]),
        ),
        CustomExtension::from_oid_content(
            oid::AUTHORITY_INFO_ACCESS,
            authority_info_access(&publication.ca_issuers(ca), &publication.ocsp(ca)),
        ),
    ];
    p
}

/// A CRL for `ca`: `revoked` = (serial, revocation time). `stale` makes one whose
/// nextUpdate has passed (for the server's freshness check).
/// `partition`: the distribution point URI of a partition CRL (an Issuing Distribution
/// Point, end-entity certificates only); `None` for the complete CRL.
#[allow(clippy::too_many_arguments)]
pub fn crl(
    issuer: &Issuer<'_, HsmKey<'_>>,
    issuer_key_id: Vec<u8>,
    number: u64,
    revoked: &[(Vec<u8>, OffsetDateTime)],
    now: OffsetDateTime,
    stale: bool,
    partition: Option<&str>,
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
        issuing_distribution_point: partition.map(|u| rcgen::CrlIssuingDistributionPoint {
            distribution_point: rcgen::CrlDistributionPoint {
                uris: vec![u.to_string()],
            },
            scope: Some(rcgen::CrlScope::UserCertsOnly),
        }),
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

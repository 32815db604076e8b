//! `signatureType: "PKCS7"`: a CMS SignedData (RFC 5652) with the `tbs` as encapsulated
//! content, the signer's certificate, and signed attributes (contentType, messageDigest and,
//! when asked, signingTime) that the card signs. The structures are RustCrypto's `cms` types,
//! DER-encoded by `der`; the only private-key operation is the card's.

use crate::card::Hash;
use crate::codes::Failure;
use cms::cert::x509::{
    attr::Attribute,
    der::{
        asn1::{ObjectIdentifier as Oid, OctetString, SetOfVec, UtcTime},
        Any, Decode, Encode,
    },
    spki::AlgorithmIdentifierOwned,
    Certificate,
};
use cms::{
    cert::{CertificateChoices, IssuerAndSerialNumber},
    content_info::{CmsVersion, ContentInfo},
    signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
        SignerInfo, SignerInfos,
    },
};
use sha2::Digest;

const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");

fn bad(what: impl std::fmt::Display) -> Failure {
    Failure::Card(format!("PKCS#7: {what}"))
}

pub fn digest(hash: Hash, data: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha1 => sha1_digest(data),
        Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
    }
}

fn sha1_digest(data: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(data).to_vec()
}

fn digest_oid(hash: Hash) -> Oid {
    match hash {
        Hash::Sha1 => Oid::new_unwrap("1.3.14.3.2.26"),
        Hash::Sha256 => Oid::new_unwrap("2.16.840.1.101.3.4.2.1"),
        Hash::Sha384 => Oid::new_unwrap("2.16.840.1.101.3.4.2.2"),
        Hash::Sha512 => Oid::new_unwrap("2.16.840.1.101.3.4.2.3"),
    }
}

fn ecdsa_oid(hash: Hash) -> Oid {
    match hash {
        Hash::Sha1 => Oid::new_unwrap("1.2.840.10045.4.1"),
        Hash::Sha256 => Oid::new_unwrap("1.2.840.10045.4.3.2"),
        Hash::Sha384 => Oid::new_unwrap("1.2.840.10045.4.3.3"),
        Hash::Sha512 => Oid::new_unwrap("1.2.840.10045.4.3.4"),
    }
}

fn attribute(oid: Oid, value: Any) -> Result<Attribute, Failure> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(bad)?,
    })
}

/// The signed attributes for `content`, and their DER (a SET) — what the card signs.
pub fn signed_attributes(
    content: &[u8],
    hash: Hash,
    signing_time: Option<time::OffsetDateTime>,
) -> Result<(SignedAttributes, Vec<u8>), Failure> {
    let mut attrs = vec![
        attribute(CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(bad)?)?,
        attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest(hash, content)).map_err(bad)?)
                .map_err(bad)?,
        )?,
    ];
    if let Some(t) = signing_time {
        let since = std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).map_err(bad)?);
        let utc = UtcTime::from_unix_duration(since).map_err(bad)?;
        attrs.push(attribute(
            SIGNING_TIME,
            Any::encode_from(&utc).map_err(bad)?,
        )?);
    }
    let set = SetOfVec::try_from(attrs).map_err(bad)?;
    let der = set.to_der().map_err(bad)?;
    Ok((set, der))
}

/// The DER `ContentInfo` holding the SignedData, once the card has signed `attrs`.
pub fn signed_data(
    cert_der: &[u8],
    content: &[u8],
    hash: Hash,
    attrs: SignedAttributes,
    signature: &[u8],
) -> Result<Vec<u8>, Failure> {
    let cert = Certificate::from_der(cert_der).map_err(bad)?;
    let key_alg = &cert.tbs_certificate.subject_public_key_info.algorithm.oid;
    let signature_algorithm = if *key_alg == EC_PUBLIC_KEY {
        AlgorithmIdentifierOwned {
            oid: ecdsa_oid(hash),
            parameters: None,
        }
    } else if *key_alg == RSA_ENCRYPTION {
        AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        }
    } else {
        return Err(bad("unsupported key type"));
    };
    let digest_alg = AlgorithmIdentifierOwned {
        oid: digest_oid(hash),
        parameters: None,
    };
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm,
        signature: OctetString::new(signature.to_vec()).map_err(bad)?,
        unsigned_attrs: None,
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(bad)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: Some(
                Any::encode_from(&OctetString::new(content.to_vec()).map_err(bad)?).map_err(bad)?,
            ),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)]).map_err(bad)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).map_err(bad)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_attributes_hold_the_digest_of_the_content() {
        let (set, der) = signed_attributes(b"hello", Hash::Sha256, None).unwrap();
        assert_eq!(der[0], 0x31, "a DER SET is what gets signed");
        assert_eq!(set.len(), 2);
        let d = sha2::Sha256::digest(b"hello");
        assert!(der.windows(d.len()).any(|w| w == d.as_slice()));
        let (set, _) = signed_attributes(
            b"hello",
            Hash::Sha256,
            Some(time::OffsetDateTime::UNIX_EPOCH),
        )
        .unwrap();
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn garbage_certificate_is_an_error_not_a_panic() {
        let (attrs, _) = signed_attributes(b"x", Hash::Sha256, None).unwrap();
        assert!(signed_data(b"\x30\x00", b"x", Hash::Sha256, attrs, &[1, 2]).is_err());
    }
}

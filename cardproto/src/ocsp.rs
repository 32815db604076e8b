//! OCSP (RFC 6960) for card certificates, without I/O: the request for one certificate
//! (SHA-1 CertID, as every GPKI responder understands, and a 32-byte nonce), and the
//! judgement of an answer: a successful basic response, signed by the issuing CA or by a
//! responder it delegated (its certificate issued by that CA's key, with the OCSPSigning
//! purpose, valid now), for this very certificate, with our nonce when the responder echoes
//! one, and current (thisUpdate not in the future; nextUpdate not passed; without nextUpdate
//! or without the nonce, produced within the last 15 minutes).
//!
//! Message types are RustCrypto's `x509-ocsp`; signatures are checked with ring.

use der::{
    asn1::{Null, ObjectIdentifier, OctetString},
    Decode, Encode,
};
use sha1::{Digest, Sha1};
use x509_cert::{ext::Extension, Certificate};
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest, Version,
};

const ID_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const ID_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
/// An answer without nextUpdate, or without our nonce, must be this recent.
pub const MAX_AGE_SECS: i64 = 900;
const SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcspError {
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("not an OCSP response: {0}")]
    Malformed(String),
    #[error("the responder answered {0}")]
    NotSuccessful(String),
    #[error("the response is not signed by the CA or a responder it authorised")]
    BadSignature,
    #[error("the response does not speak of this certificate")]
    NotThisCertificate,
    #[error("the response carries another nonce (a replay)")]
    NonceMismatch,
    #[error("the response is not yet valid")]
    NotYetValid,
    #[error("the response is out of date")]
    Stale,
}

/// One question to a responder.
#[derive(Debug, Clone)]
pub struct OcspQuery {
    /// The DER body to POST (`application/ocsp-request`).
    pub der: Vec<u8>,
    cert_id: CertId,
    nonce_ext: Vec<u8>,
    issuer_der: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStatus {
    Good,
    Revoked { at: i64 },
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspAnswer {
    pub status: OcspStatus,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub nonce_echoed: bool,
}

fn req_err(e: impl std::fmt::Display) -> OcspError {
    OcspError::Request(e.to_string())
}

fn bad(e: impl std::fmt::Display) -> OcspError {
    OcspError::Malformed(e.to_string())
}

/// The request for `cert_der` issued by `issuer_der`, with `nonce` (32 random bytes).
pub fn request(cert_der: &[u8], issuer_der: &[u8], nonce: &[u8]) -> Result<OcspQuery, OcspError> {
    let cert = Certificate::from_der(cert_der).map_err(req_err)?;
    let issuer = Certificate::from_der(issuer_der).map_err(req_err)?;
    let cert_id = CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(
            Sha1::digest(issuer.tbs_certificate.subject.to_der().map_err(req_err)?).to_vec(),
        )
        .map_err(req_err)?,
        issuer_key_hash: OctetString::new(
            Sha1::digest(
                issuer
                    .tbs_certificate
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes(),
            )
            .to_vec(),
        )
        .map_err(req_err)?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    };
    let nonce_ext = OctetString::new(nonce.to_vec())
        .and_then(|o| o.to_der())
        .map_err(req_err)?;
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id.clone(),
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![Extension {
                extn_id: ID_NONCE,
                critical: false,
                extn_value: OctetString::new(nonce_ext.clone()).map_err(req_err)?,
            }]),
        },
        optional_signature: None,
    };
    Ok(OcspQuery {
        der: req.to_der().map_err(req_err)?,
        cert_id,
        nonce_ext,
        issuer_der: issuer_der.to_vec(),
    })
}

fn unix(t: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Whether `spki_der` (a whole SubjectPublicKeyInfo) verifies `signature` over `data` with
/// the algorithm `alg` (SHA-1 never).
fn verify(alg: &str, spki_der: &[u8], data: &[u8], signature: &[u8]) -> bool {
    use ring::signature as s;
    use x509_parser::prelude::FromDer;
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der) else {
        return false;
    };
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let algorithm: &dyn s::VerificationAlgorithm = match (alg, curve.as_deref()) {
        ("1.2.840.113549.1.1.11", _) => &s::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", _) => &s::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", _) => &s::RSA_PKCS1_2048_8192_SHA512,
        ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => &s::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => &s::ECDSA_P384_SHA384_ASN1,
        _ => return false,
    };
    s::UnparsedPublicKey::new(algorithm, &spki.subject_public_key.data)
        .verify(data, signature)
        .is_ok()
}

/// The SubjectPublicKeyInfo DER of a certificate.
fn spki_of(cert_der: &[u8]) -> Option<Vec<u8>> {
    crate::crl::key_of(cert_der).map(|(_, k)| k)
}

/// A delegated responder: issued by the CA's key, OCSPSigning, valid at `now`.
fn authorised_responder(responder_der: &[u8], issuer_der: &[u8], now: i64) -> Option<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(responder_der).ok()?;
    let issuer_spki = spki_of(issuer_der)?;
    let signed = verify(
        &c.signature_algorithm.algorithm.to_id_string(),
        &issuer_spki,
        c.tbs_certificate.as_ref(),
        &c.signature_value.data,
    );
    let purpose = c.extended_key_usage().ok().flatten().is_some_and(|e| {
        e.value.ocsp_signing
            || e.value
                .other
                .iter()
                .any(|o| o.to_id_string() == KP_OCSP_SIGNING)
    });
    let valid =
        c.validity().not_before.timestamp() <= now && now < c.validity().not_after.timestamp();
    (signed && purpose && valid).then(|| c.public_key().raw.to_vec())
}

/// Judges `response_der`, the answer to `query`, at `now`.
pub fn check_response(
    query: &OcspQuery,
    response_der: &[u8],
    now: i64,
) -> Result<OcspAnswer, OcspError> {
    let resp = OcspResponse::from_der(response_der).map_err(bad)?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(OcspError::NotSuccessful(format!(
            "{:?}",
            resp.response_status
        )));
    }
    let bytes = resp
        .response_bytes
        .ok_or_else(|| bad("no response bytes"))?;
    if bytes.response_type != ID_BASIC {
        return Err(bad("not a basic OCSP response"));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(bad)?;
    let tbs = basic.tbs_response_data.to_der().map_err(bad)?;
    let alg = basic.signature_algorithm.oid.to_string();
    let signature = basic.signature.raw_bytes();
    // The CA itself, or a responder certificate it issued for this purpose.
    let mut keys = vec![];
    if let Some(k) = spki_of(&query.issuer_der) {
        keys.push(k);
    }
    for c in basic.certs.iter().flatten() {
        if let Some(k) = c
            .to_der()
            .ok()
            .and_then(|d| authorised_responder(&d, &query.issuer_der, now))
        {
            keys.push(k);
        }
    }
    if !keys.iter().any(|k| verify(&alg, k, &tbs, signature)) {
        return Err(OcspError::BadSignature);
    }
    let data = &basic.tbs_response_data;
    let single = data
        .responses
        .iter()
        .find(|r| r.cert_id == query.cert_id)
        .ok_or(OcspError::NotThisCertificate)?;
    let echoed = data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_NONCE);
    let nonce_echoed = match echoed {
        Some(e) if e.extn_value.as_bytes() == query.nonce_ext.as_slice() => true,
        Some(_) => return Err(OcspError::NonceMismatch),
        None => false,
    };
    let this_update = unix(&single.this_update);
    let next_update = single.next_update.as_ref().map(unix);
    if this_update > now + SKEW_SECS {
        return Err(OcspError::NotYetValid);
    }
    match next_update {
        Some(n) if n <= now => return Err(OcspError::Stale),
        None if this_update < now - MAX_AGE_SECS => return Err(OcspError::Stale),
        _ => {}
    }
    if !nonce_echoed && this_update < now - MAX_AGE_SECS {
        return Err(OcspError::Stale);
    }
    let status = match &single.cert_status {
        CertStatus::Good(_) => OcspStatus::Good,
        CertStatus::Revoked(info) => OcspStatus::Revoked {
            at: unix(&info.revocation_time),
        },
        CertStatus::Unknown(_) => OcspStatus::Unknown,
    };
    Ok(OcspAnswer {
        status,
        this_update,
        next_update,
        nonce_echoed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_answers_never_panic(b in prop::collection::vec(any::<u8>(), 0..3000)) {
            let q = OcspQuery {
                der: vec![],
                cert_id: CertId {
                    hash_algorithm: spki::AlgorithmIdentifierOwned { oid: ID_SHA1, parameters: None },
                    issuer_name_hash: OctetString::new(vec![0; 20]).unwrap_or_else(|_| unreachable!()),
                    issuer_key_hash: OctetString::new(vec![0; 20]).unwrap_or_else(|_| unreachable!()),
                    serial_number: x509_cert::serial_number::SerialNumber::new(&[1]).unwrap_or_else(|_| unreachable!()),
                },
                nonce_ext: vec![],
                issuer_der: vec![],
            };
            let _ = check_response(&q, &b, 0);
        }
    }
}

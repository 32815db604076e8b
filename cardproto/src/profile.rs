//! Reads the fields of a MOICA / GCA-style certificate that the card flows rely on. Parsing
//! is done by x509-parser (and its DER parser for subjectDirectoryAttributes, which
//! x509-parser leaves unparsed); nothing here decides trust.

use crate::oid;
use x509_parser::{
    der_parser::{ber::BerObjectContent, der::parse_der},
    extensions::ParsedExtension,
    prelude::*,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("not a DER X.509 certificate: {0}")]
    NotACertificate(String),
    #[error("trailing bytes after the certificate")]
    TrailingBytes,
    #[error("malformed subjectDirectoryAttributes")]
    BadDirectoryAttributes,
    #[error("malformed extension: {0}")]
    BadExtension(String),
}

/// What a card certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertProfile {
    pub subject: String,
    pub issuer: String,
    /// The subject as the HiPKI component writes it: `C=TW,CN=王小明,serialNumber=…`
    /// (attributes in certificate order, `,` without spaces).
    pub subject_hipki: String,
    pub issuer_hipki: String,
    pub common_name: Option<String>,
    /// Subject serialNumber: on MOICA certificates a 16-digit holder identifier (the same
    /// on a person's card and mobile certificates), on GCA ones the agency's; never the
    /// IC-card number, which comes from the card.
    pub subject_serial: Option<String>,
    pub serial_hex: String,
    pub not_before: i64,
    pub not_after: i64,
    /// `None` when the certificate has no KeyUsage extension.
    pub key_usage: Option<KeyUsageBits>,
    pub subject_type: Option<String>,
    pub id_last4: Option<String>,
    pub agency_oid: Option<String>,
    pub policies: Vec<String>,
    pub is_ca: bool,
    /// `2.16.886.1.100.2.2`: `mobile` (keys not on a card), `primary`, `secondary` (附卡).
    pub card_form: Option<String>,
    /// CRL distribution points (URIs), in certificate order.
    pub crl_urls: Vec<String>,
    /// AIA: OCSP responders and caIssuers (URIs).
    pub ocsp_urls: Vec<String>,
    pub ca_issuer_urls: Vec<String>,
}

impl CertProfile {
    /// A certificate whose keys are not on a card (MOICA 行動自然人憑證).
    pub fn is_mobile(&self) -> bool {
        self.card_form.as_deref() == Some("mobile")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    pub digital_signature: bool,
    pub non_repudiation: bool,
    pub key_encipherment: bool,
    pub data_encipherment: bool,
    pub key_cert_sign: bool,
}

impl KeyUsageBits {
    /// The `usage` string of the HiPKI protocol.
    pub fn hipki_usage(&self) -> String {
        let mut parts = vec![];
        if self.digital_signature {
            parts.push("digitalSignature");
        }
        if self.non_repudiation {
            parts.push("nonRepudiation");
        }
        if self.key_encipherment {
            parts.push("keyEncipherment");
        }
        if self.data_encipherment {
            parts.push("dataEncipherment");
        }
        parts.join("|")
    }
}

fn string_of(content: &BerObjectContent<'_>) -> Option<String> {
    match content {
        BerObjectContent::PrintableString(s)
        | BerObjectContent::UTF8String(s)
        | BerObjectContent::IA5String(s)
        | BerObjectContent::VisibleString(s)
        | BerObjectContent::NumericString(s) => Some((*s).to_string()),
        BerObjectContent::OID(o) => Some(o.to_id_string()),
        _ => None,
    }
}

/// (type OID, values) of each attribute in subjectDirectoryAttributes.
fn directory_attributes(value: &[u8]) -> Result<Vec<(String, Vec<String>)>, ProfileError> {
    let (rest, seq) = parse_der(value).map_err(|_| ProfileError::BadDirectoryAttributes)?;
    if !rest.is_empty() {
        return Err(ProfileError::BadDirectoryAttributes);
    }
    let attrs = seq
        .as_sequence()
        .map_err(|_| ProfileError::BadDirectoryAttributes)?;
    let mut out = vec![];
    for a in attrs {
        let parts = a
            .as_sequence()
            .map_err(|_| ProfileError::BadDirectoryAttributes)?;
        let [ty, values] = parts.as_slice() else {
            return Err(ProfileError::BadDirectoryAttributes);
        };
        let ty = ty
            .as_oid()
            .map_err(|_| ProfileError::BadDirectoryAttributes)?
            .to_id_string();
        let values = values
            .as_set()
            .map_err(|_| ProfileError::BadDirectoryAttributes)?;
        out.push((
            ty,
            values
                .iter()
                .filter_map(|v| string_of(&v.content))
                .collect(),
        ));
    }
    Ok(out)
}

/// A name as `C=TW,O=…,CN=…,serialNumber=…`: what real sites split on `,` and `=`.
pub fn hipki_dn(name: &X509Name<'_>) -> String {
    name.iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .map(|a| {
            let oid = a.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.6" => "C",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.3" => "CN",
                "2.5.4.5" => "serialNumber",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.4" => "SN",
                "2.5.4.42" => "GN",
                "1.2.840.113549.1.9.1" => "E",
                other => other,
            }
            .to_string();
            let raw = a.attr_value();
            let value = a.as_str().map(str::to_string).unwrap_or_else(|_| {
                if raw.tag() == x509_parser::der_parser::asn1_rs::Tag::BmpString {
                    let units: Vec<u16> = raw
                        .data
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    String::from_utf16_lossy(&units)
                } else {
                    String::from_utf8_lossy(raw.data).into_owned()
                }
            });
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn name_attr(name: &X509Name<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Option<String> {
    name.iter_by_oid(oid)
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
}

/// The URIs among general names.
pub fn uris(names: &[GeneralName<'_>]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some((*u).to_string()),
            _ => None,
        })
        .collect()
}

pub fn parse(der: &[u8]) -> Result<CertProfile, ProfileError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| ProfileError::NotACertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ProfileError::TrailingBytes);
    }
    let serial_oid = x509_parser::oid_registry::OID_X509_SERIALNUMBER;
    let cn_oid = x509_parser::oid_registry::OID_X509_COMMON_NAME;
    let mut p = CertProfile {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_hipki: hipki_dn(cert.subject()),
        issuer_hipki: hipki_dn(cert.issuer()),
        common_name: name_attr(cert.subject(), &cn_oid),
        subject_serial: name_attr(cert.subject(), &serial_oid),
        serial_hex: cert
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key_usage: None,
        subject_type: None,
        id_last4: None,
        agency_oid: None,
        policies: vec![],
        is_ca: false,
        card_form: None,
        crl_urls: vec![],
        ocsp_urls: vec![],
        ca_issuer_urls: vec![],
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => {
                p.key_usage = Some(KeyUsageBits {
                    digital_signature: ku.digital_signature(),
                    non_repudiation: ku.non_repudiation(),
                    key_encipherment: ku.key_encipherment(),
                    data_encipherment: ku.data_encipherment(),
                    key_cert_sign: ku.key_cert_sign(),
                })
            }
            ParsedExtension::CertificatePolicies(pol) => {
                p.policies = pol.iter().map(|i| i.policy_id.to_id_string()).collect();
            }
            ParsedExtension::BasicConstraints(bc) => p.is_ca = bc.ca,
            ParsedExtension::CRLDistributionPoints(dps) => {
                for dp in dps.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point {
                        p.crl_urls.extend(uris(names));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in aia.iter() {
                    let target = match d.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.1" => &mut p.ocsp_urls,
                        "1.3.6.1.5.5.7.48.2" => &mut p.ca_issuer_urls,
                        _ => continue,
                    };
                    target.extend(uris(std::slice::from_ref(&d.access_location)));
                }
            }
            ParsedExtension::ParseError { error } => {
                return Err(ProfileError::BadExtension(error.to_string()))
            }
            _ if ext.oid.to_id_string() == oid::SUBJECT_DIRECTORY_ATTRIBUTES => {
                for (ty, values) in directory_attributes(ext.value)? {
                    let first = values.into_iter().next();
                    match ty.as_str() {
                        oid::SUBJECT_TYPE => p.subject_type = first,
                        oid::ID_LAST4 => p.id_last4 = first,
                        oid::AGENCY_OID => p.agency_oid = first,
                        oid::CARD_FORM => p.card_form = first,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..2000)) {
            let _ = parse(&b);
            let _ = directory_attributes(&b);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            parse(b"\x30\x03\x02\x01\x01"),
            Err(ProfileError::NotACertificate(_))
        ));
        assert!(directory_attributes(&[0x30, 0x03, 0x30, 0x01, 0x06]).is_err());
    }
}

//! Certificate revocation lists as the verifier keeps them: parsed once (x509-parser), the
//! signature checked against the key of the CA that issued it (not only its name: MOICA
//! G1/G2/G3 and GRCA G1/G2 share their names), reduced to what a lookup needs (a sorted
//! table of revoked serials, its scope, its dates), and chosen per certificate by issuer key
//! and Issuing Distribution Point.
//!
//! Memory: the serials of a 500,000-entry CRL take about 10 MB (bytes plus a `u32` offset
//! each), against its ~17 MB of DER; nothing else of the CRL is kept.

use x509_parser::{
    extensions::{DistributionPointName, ParsedExtension},
    prelude::*,
    x509::SubjectPublicKeyInfo,
};
// (`FromDer` for the entries comes with the prelude.)

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    #[error("not a DER CRL: {0}")]
    NotACrl(String),
    #[error("trailing bytes after the CRL")]
    TrailingBytes,
    #[error("signed with SHA-1 ({0}), which is not accepted")]
    WeakSignature(String),
    #[error("not signed by any configured CA or root named {0}")]
    UnknownIssuer(String),
    #[error("{0} is not supported (delta, indirect or partial-reason CRLs)")]
    Unsupported(&'static str),
    #[error("unknown critical extension {0}")]
    UnknownCritical(String),
    #[error("more than {0} entries")]
    TooLarge(usize),
}

/// Entries beyond this are refused (MOICA's complete CRL has ~100,000; this is 20× that).
pub const MAX_ENTRIES: usize = 2_000_000;

/// What a CRL covers (RFC 5280 Issuing Distribution Point). `uris` empty = the complete
/// CRL of its issuer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Scope {
    pub uris: Vec<String>,
    pub only_user_certs: bool,
    pub only_ca_certs: bool,
}

impl Scope {
    /// Whether a CRL of this scope speaks for a certificate with these distribution points.
    pub fn covers(&self, cert_crl_urls: &[String], cert_is_ca: bool) -> bool {
        if (self.only_user_certs && cert_is_ca) || (self.only_ca_certs && !cert_is_ca) {
            return false;
        }
        self.uris.is_empty() || self.uris.iter().any(|u| cert_crl_urls.contains(u))
    }

    pub fn describe(&self) -> String {
        let mut s = if self.uris.is_empty() {
            "complete".to_string()
        } else {
            format!("partition {}", self.uris.join(" "))
        };
        if self.only_ca_certs {
            s.push_str(" (CA certificates only)");
        }
        if self.only_user_certs {
            s.push_str(" (end-entity certificates only)");
        }
        s
    }
}

/// Sorted, de-duplicated serial numbers (DER INTEGER content bytes) in one buffer.
#[derive(Debug, Clone, Default)]
pub struct SerialSet {
    bytes: Vec<u8>,
    /// Start of each serial in `bytes`; serial `i` ends where `i + 1` starts.
    starts: Vec<u32>,
}

impl SerialSet {
    pub fn from_serials(mut serials: Vec<&[u8]>) -> Self {
        serials.sort_unstable();
        serials.dedup();
        let mut set = SerialSet {
            bytes: Vec::with_capacity(serials.iter().map(|s| s.len()).sum()),
            starts: Vec::with_capacity(serials.len()),
        };
        for s in serials {
            set.starts
                .push(u32::try_from(set.bytes.len()).unwrap_or(u32::MAX));
            set.bytes.extend_from_slice(s);
        }
        set
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = self.starts[i] as usize;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.bytes.len(), |e| *e as usize);
        &self.bytes[start..end]
    }

    pub fn contains(&self, serial: &[u8]) -> bool {
        let (mut lo, mut hi) = (0, self.starts.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(serial) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        false
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.starts.capacity() * 4
    }
}

/// A key that may have signed a CRL: a configured root or CA.
pub struct IssuerKey<'a> {
    /// The certificate's subject, raw DER.
    pub subject_der: &'a [u8],
    /// The certificate's SubjectPublicKeyInfo, raw DER.
    pub spki_der: &'a [u8],
}

/// The raw subject and SubjectPublicKeyInfo of a certificate (what [`IssuerKey`] holds).
pub fn key_of(cert_der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(cert_der).ok()?;
    Some((c.subject().as_raw().to_vec(), c.public_key().raw.to_vec()))
}

/// A verified CRL, reduced to what the revocation check needs.
#[derive(Debug, Clone)]
pub struct Crl {
    /// Where it came from (file or URL), for messages.
    pub source: String,
    pub issuer: String,
    /// Index into the [`IssuerKey`] list it was verified against.
    pub issuer_key: usize,
    /// The CRL number, minimal big-endian bytes (empty when absent).
    pub number: Vec<u8>,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub scope: Scope,
    pub revoked: SerialSet,
    pub der_len: usize,
}

const SHA1_RSA: [&str; 2] = ["1.2.840.113549.1.1.5", "1.3.14.3.2.29"];

impl Crl {
    /// Parses `der` and checks its signature with the first of `keys` whose subject is the
    /// CRL's issuer and whose key verifies it.
    pub fn parse_verified(
        source: &str,
        der: &[u8],
        keys: &[IssuerKey<'_>],
    ) -> Result<Crl, CrlError> {
        // The entry list is walked one entry at a time below; x509-parser reads everything
        // else from a copy without it (it would hold every entry at once: hundreds of MB for
        // a national CRL). The signature is checked over the original tbsCertList.
        let parts = split(der)?;
        let (rest, crl) = CertificateRevocationList::from_der(&parts.without_entries)
            .map_err(|e| CrlError::NotACrl(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CrlError::TrailingBytes);
        }
        let alg = crl.signature_algorithm.algorithm.to_id_string();
        if SHA1_RSA.contains(&alg.as_str()) {
            return Err(CrlError::WeakSignature(alg));
        }
        let issuer_raw = crl.issuer().as_raw();
        let issuer_key = keys
            .iter()
            .position(|k| {
                k.subject_der == issuer_raw
                    && SubjectPublicKeyInfo::from_der(k.spki_der).is_ok_and(|(_, spki)| {
                        x509_parser::verify::verify_signature(
                            &spki,
                            &crl.signature_algorithm,
                            &crl.signature_value,
                            parts.tbs,
                        )
                        .is_ok()
                    })
            })
            .ok_or_else(|| CrlError::UnknownIssuer(crl.issuer().to_string()))?;
        let mut scope = Scope::default();
        for ext in crl.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::CRLNumber(_) | ParsedExtension::AuthorityKeyIdentifier(_) => {}
                _ if ext.oid.to_id_string() == "2.5.29.27" => {
                    return Err(CrlError::Unsupported("delta CRL"))
                }
                ParsedExtension::IssuingDistributionPoint(idp) => {
                    if idp.indirect_crl {
                        return Err(CrlError::Unsupported("indirect CRL"));
                    }
                    if idp.only_some_reasons.is_some() {
                        return Err(CrlError::Unsupported("onlySomeReasons"));
                    }
                    if idp.only_contains_attribute_certs {
                        return Err(CrlError::Unsupported("attribute-certificate CRL"));
                    }
                    scope.only_ca_certs = idp.only_contains_ca_certs;
                    scope.only_user_certs = idp.only_contains_user_certs;
                    match &idp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            scope.uris = crate::profile::uris(names);
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            return Err(CrlError::Unsupported("nameRelativeToCRLIssuer"))
                        }
                        None => {}
                    }
                }
                _ if ext.critical => return Err(CrlError::UnknownCritical(ext.oid.to_id_string())),
                _ => {}
            }
        }
        let mut serials = Vec::new();
        let mut rest = parts.entries;
        while !rest.is_empty() {
            if serials.len() >= MAX_ENTRIES {
                return Err(CrlError::TooLarge(MAX_ENTRIES));
            }
            let (next, entry) = x509_parser::revocation_list::RevokedCertificate::from_der(rest)
                .map_err(|e| CrlError::NotACrl(format!("revoked certificate entry: {e}")))?;
            // An entry naming another issuer makes the CRL indirect.
            if entry
                .extensions()
                .iter()
                .any(|e| e.oid.to_id_string() == "2.5.29.29")
            {
                return Err(CrlError::Unsupported("certificateIssuer entry"));
            }
            // The serial's bytes, borrowed from the CRL itself (the entry is dropped here).
            let raw = &rest[..rest.len() - next.len()];
            serials.push(entry_serial(raw)?);
            rest = next;
        }
        let number = crl
            .crl_number()
            .map(|n| n.to_bytes_be())
            .unwrap_or_default();
        Ok(Crl {
            source: source.to_string(),
            issuer: crl.issuer().to_string(),
            issuer_key,
            number,
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            scope,
            revoked: SerialSet::from_serials(serials),
            der_len: der.len(),
        })
    }

    /// Newer than `other` (same issuer key and scope): a higher CRL number, or a later
    /// thisUpdate when the numbers tie.
    pub fn newer_than(&self, other: &Crl) -> bool {
        let n = |c: &Crl| (c.number.len(), c.number.clone());
        (n(self), self.this_update) > (n(other), other.this_update)
    }

    /// Usable at `now`: issued, and not past its nextUpdate (a CRL without nextUpdate is
    /// never taken as current).
    pub fn fresh_at(&self, now: i64) -> bool {
        self.this_update <= now && self.next_update.is_some_and(|n| now < n)
    }

    /// The CRL number as decimal text (for reports).
    pub fn number_text(&self) -> String {
        if self.number.is_empty() {
            return "—".into();
        }
        x509_parser::der_parser::num_bigint::BigUint::from_bytes_be(&self.number).to_string()
    }
}

/// Why a freshly fetched CRL is not taken in place of the one in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateRejection {
    #[error("its thisUpdate is in the future")]
    NotYetValid,
    #[error("it is already past its nextUpdate (or has none)")]
    Stale,
    #[error("its CRL number {got} is older than the {have} in use")]
    Older { got: String, have: String },
}

/// What a fetched, verified CRL means next to the one in use (same key and scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Newer (or the first): install it.
    Newer,
    /// The same CRL number again: nothing to do.
    Same,
}

/// Decides whether `candidate` may replace `current` at `now` (five minutes of clock skew
/// allowed on thisUpdate).
pub fn judge_update(
    candidate: &Crl,
    current: Option<&Crl>,
    now: i64,
) -> Result<Update, UpdateRejection> {
    if candidate.this_update > now + 300 {
        return Err(UpdateRejection::NotYetValid);
    }
    if candidate.next_update.is_none_or(|n| now >= n) {
        return Err(UpdateRejection::Stale);
    }
    match current {
        None => Ok(Update::Newer),
        Some(c) if candidate.number == c.number && candidate.this_update == c.this_update => {
            Ok(Update::Same)
        }
        Some(c) if candidate.newer_than(c) => Ok(Update::Newer),
        Some(c) => Err(UpdateRejection::Older {
            got: candidate.number_text(),
            have: c.number_text(),
        }),
    }
}

/// A CertificateList taken apart without parsing its entries.
struct Parts<'a> {
    /// The original tbsCertList (what the signature covers).
    tbs: &'a [u8],
    /// The contents of revokedCertificates (the entries, back to back).
    entries: &'a [u8],
    /// The CertificateList again, without revokedCertificates.
    without_entries: Vec<u8>,
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut v = vec![0x80 | bytes.len() as u8];
    v.extend(bytes);
    v
}

fn sequence(content: &[&[u8]]) -> Vec<u8> {
    let n = content.iter().map(|c| c.len()).sum();
    let mut v = vec![0x30];
    v.extend(der_len(n));
    for c in content {
        v.extend_from_slice(c);
    }
    v
}

/// One DER element: its raw bytes, whether it is a universal SEQUENCE, its contents.
type Element<'a> = (&'a [u8], bool, &'a [u8]);

/// Each DER element of `content`.
fn elements(mut content: &[u8]) -> Result<Vec<Element<'_>>, CrlError> {
    use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer as _, Tag};
    let mut out = vec![];
    while !content.is_empty() {
        let (rest, any) = Any::from_der(content).map_err(|e| CrlError::NotACrl(e.to_string()))?;
        let raw = &content[..content.len() - rest.len()];
        let is_seq = any.header.class() == Class::Universal && any.header.tag() == Tag::Sequence;
        out.push((raw, is_seq, any.data));
        content = rest;
    }
    Ok(out)
}

/// The content bytes of the serial INTEGER of one revokedCertificates entry.
fn entry_serial(entry: &[u8]) -> Result<&[u8], CrlError> {
    use x509_parser::der_parser::asn1_rs::{Any, FromDer as _};
    let (_, seq) = Any::from_der(entry).map_err(|e| CrlError::NotACrl(e.to_string()))?;
    let (_, serial) = Any::from_der(seq.data).map_err(|e| CrlError::NotACrl(e.to_string()))?;
    Ok(serial.data)
}

fn split(der: &[u8]) -> Result<Parts<'_>, CrlError> {
    use x509_parser::der_parser::asn1_rs::{Any, FromDer as _};
    let (rest, outer) = Any::from_der(der).map_err(|e| CrlError::NotACrl(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CrlError::TrailingBytes);
    }
    let top = elements(outer.data)?;
    let [(tbs, true, tbs_content), (sig_alg, true, _), (sig, false, _)] = top.as_slice() else {
        return Err(CrlError::NotACrl("not a CertificateList".into()));
    };
    // tbsCertList: version?, signature (SEQ), issuer (SEQ), thisUpdate, nextUpdate?,
    // revokedCertificates (SEQ)?, crlExtensions [0]?: the third SEQUENCE is the entries.
    let mut kept: Vec<&[u8]> = vec![];
    let mut entries: &[u8] = &[];
    let mut sequences = 0;
    for (raw, is_seq, content) in elements(tbs_content)? {
        if is_seq {
            sequences += 1;
            if sequences == 3 {
                entries = content;
                continue;
            }
        }
        kept.push(raw);
    }
    let reduced_tbs = sequence(&kept);
    Ok(Parts {
        tbs,
        entries,
        without_entries: sequence(&[&reduced_tbs, sig_alg, sig]),
    })
}

/// Keeps the newest CRL per (issuer key, scope); returns the kept ones and the replaced
/// ones.
pub fn newest(crls: Vec<Crl>) -> (Vec<Crl>, Vec<Crl>) {
    let mut kept: Vec<Crl> = vec![];
    let mut replaced = vec![];
    for c in crls {
        match kept
            .iter_mut()
            .find(|k| k.issuer_key == c.issuer_key && k.scope == c.scope)
        {
            Some(k) if c.newer_than(k) => replaced.push(std::mem::replace(k, c)),
            Some(_) => replaced.push(c),
            None => kept.push(c),
        }
    }
    (kept, replaced)
}

/// The revocation status of one certificate, from the CRLs of its issuer's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked,
    /// CRLs of this issuer cover it, but none is current.
    Stale,
    /// No CRL of this issuer covers it.
    Missing,
}

/// Decides from `crls` (already reduced by [`newest`]) for a certificate with `serial`,
/// issued by key `issuer_key`, with these distribution points.
pub fn status(
    crls: &[Crl],
    issuer_key: usize,
    serial: &[u8],
    cert_crl_urls: &[String],
    cert_is_ca: bool,
    now: i64,
) -> Status {
    let mut covering = crls
        .iter()
        .filter(|c| c.issuer_key == issuer_key && c.scope.covers(cert_crl_urls, cert_is_ca))
        .peekable();
    if covering.peek().is_none() {
        return Status::Missing;
    }
    let mut any_fresh = false;
    for c in covering.filter(|c| c.fresh_at(now)) {
        if c.revoked.contains(serial) {
            return Status::Revoked;
        }
        any_fresh = true;
    }
    if any_fresh {
        Status::Good
    } else {
        Status::Stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn serial_set_is_a_set(
            serials in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 0..200),
            probe in prop::collection::vec(any::<u8>(), 1..20),
        ) {
            let set = SerialSet::from_serials(serials.iter().map(Vec::as_slice).collect());
            for s in &serials {
                prop_assert!(set.contains(s));
            }
            prop_assert_eq!(set.contains(&probe), serials.contains(&probe));
            let mut distinct = serials.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(set.len(), distinct.len());
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..2000)) {
            let _ = Crl::parse_verified("fuzz", &b, &[]);
        }
    }

    #[test]
    fn scope_rules() {
        let urls = vec!["http://x/crl/MOICA-G3-10-8.crl".to_string()];
        assert!(Scope::default().covers(&urls, false));
        assert!(Scope::default().covers(&[], true));
        let part = Scope {
            uris: urls.clone(),
            ..Scope::default()
        };
        assert!(part.covers(&urls, false));
        assert!(!part.covers(&["http://x/crl/MOICA-G3-10-9.crl".into()], false));
        assert!(!part.covers(&[], false));
        let ca_only = Scope {
            only_ca_certs: true,
            ..Scope::default()
        };
        assert!(ca_only.covers(&[], true) && !ca_only.covers(&[], false));
        let users = Scope {
            only_user_certs: true,
            ..Scope::default()
        };
        assert!(!users.covers(&[], true) && users.covers(&[], false));
    }
}

//! Why a card proof (a signed challenge with its certificate) is refused. One code per
//! check, in the order the server runs them; the UI words each one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProofRefusal {
    // The token itself.
    MalformedToken,
    UnsupportedAlgorithm,
    // The certificate.
    CertificateUnparsable,
    NotSigningCertificate,
    WrongCertificateType,
    /// A MOICA mobile certificate (keys not on a card) where a card is required.
    MobileCertificate,
    UntrustedIssuer,
    CertificateExpired,
    CertificateNotYetValid,
    Revoked,
    CrlStale,
    CrlMissing,
    /// OCSP is required and no valid, current answer could be had.
    OcspUnavailable,
    /// The OCSP responder does not know the certificate.
    OcspUnknown,
    // The challenge.
    ChallengeMalformed,
    ChallengeWrongOrigin,
    ChallengeUnknown,
    ChallengeExpired,
    ChallengeUsed,
    ChallengeOtherSession,
    ChallengeWrongPurpose,
    // The signature.
    BadSignature,
    // Sign-in.
    NotBound,
    // Binding rules.
    IdMismatch,
    /// The holder's name in the certificate is not the registry's.
    NameMismatch,
    AgencyMismatch,
    AlreadyBound,
    AlreadyBoundToYou,
    NoPersonRecord,
}

impl ProofRefusal {
    /// A stable machine code (audit log, tests).
    pub fn code(self) -> &'static str {
        match self {
            ProofRefusal::MalformedToken => "token.malformed",
            ProofRefusal::UnsupportedAlgorithm => "token.algorithm",
            ProofRefusal::CertificateUnparsable => "cert.unparsable",
            ProofRefusal::NotSigningCertificate => "cert.key_usage",
            ProofRefusal::WrongCertificateType => "cert.type",
            ProofRefusal::MobileCertificate => "cert.mobile",
            ProofRefusal::UntrustedIssuer => "cert.untrusted",
            ProofRefusal::CertificateExpired => "cert.expired",
            ProofRefusal::CertificateNotYetValid => "cert.not_yet_valid",
            ProofRefusal::Revoked => "cert.revoked",
            ProofRefusal::CrlStale => "crl.stale",
            ProofRefusal::CrlMissing => "crl.missing",
            ProofRefusal::OcspUnavailable => "ocsp.unavailable",
            ProofRefusal::OcspUnknown => "ocsp.unknown",
            ProofRefusal::ChallengeMalformed => "challenge.malformed",
            ProofRefusal::ChallengeWrongOrigin => "challenge.origin",
            ProofRefusal::ChallengeUnknown => "challenge.unknown",
            ProofRefusal::ChallengeExpired => "challenge.expired",
            ProofRefusal::ChallengeUsed => "challenge.used",
            ProofRefusal::ChallengeOtherSession => "challenge.session",
            ProofRefusal::ChallengeWrongPurpose => "challenge.purpose",
            ProofRefusal::BadSignature => "signature.invalid",
            ProofRefusal::NotBound => "binding.none",
            ProofRefusal::IdMismatch => "binding.id_mismatch",
            ProofRefusal::NameMismatch => "binding.name_mismatch",
            ProofRefusal::AgencyMismatch => "binding.agency_mismatch",
            ProofRefusal::AlreadyBound => "binding.taken",
            ProofRefusal::AlreadyBoundToYou => "binding.yours",
            ProofRefusal::NoPersonRecord => "binding.no_person",
        }
    }
}

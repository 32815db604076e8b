//! Facts of the Taiwanese card ecosystem that several crates need, defined once.
//!
//! * [`oid`]: the OIDs of the MOICA / GCA certificate profiles.
//! * [`challenge`]: the portal challenge and its one canonical encoding (what cards sign).
//! * [`hipki`]: the card component's codes and answers, and what they mean for a page.
//! * [`profile`] (feature `x509`): reads those profiles out of a certificate.

pub mod oid {
    pub const SUBJECT_DIRECTORY_ATTRIBUTES: &str = "2.5.29.9";
    /// Subject type (身分類別).
    pub const SUBJECT_TYPE: &str = "2.16.886.1.100.2.1";
    /// Last four characters of the holder's national ID.
    pub const ID_LAST4: &str = "2.16.886.1.100.2.51";
    /// The agency's (or organization's) OID, an OID value.
    pub const AGENCY_OID: &str = "2.16.886.1.100.2.102";
    /// Card form: `mobile`, `primary`, `secondary` (附卡).
    pub const CARD_FORM: &str = "2.16.886.1.100.2.2";
    /// Subject type: natural person (citizen).
    pub const TYPE_NATURAL_PERSON: &str = "2.16.886.1.100.3.1.1";
    /// Subject type: natural person, alien resident (外來人口).
    pub const TYPE_ALIEN_RESIDENT: &str = "2.16.886.1.100.3.1.9";
    /// Subject type: school or other organization under XCA (組織及團體).
    pub const TYPE_SCHOOL: &str = "2.16.886.1.100.3.2.11";
    /// Subject type: government agency.
    pub const TYPE_GOVERNMENT_AGENCY: &str = "2.16.886.1.100.3.2.1.1";
    /// Subject type: government unit.
    pub const TYPE_GOVERNMENT_UNIT: &str = "2.16.886.1.100.3.2.1.2";
    /// GPKI assurance level 3.
    pub const POLICY_LEVEL3: &str = "2.16.886.101.0.3.3";
}

pub mod challenge;
#[cfg(feature = "verify")]
pub mod crl;
pub mod hipki;
pub mod kind;
#[cfg(feature = "verify")]
pub mod ocsp;
#[cfg(feature = "x509")]
pub mod profile;
pub mod refusal;
pub mod token;
#[cfg(feature = "verify")]
pub mod verify;
#[cfg(feature = "verify")]
pub use webpki;

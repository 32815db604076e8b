//! Whom a certificate belongs to, beyond what the CA vouches for: the holder's name and ID
//! last four for natural-person certificates, the agency OID rule for organization ones.
//!
//! * Names: the certificate's CN against the registry's name, both folded (full-width →
//!   half-width, Latin letters in one case, spaces and middle dots removed), so
//!   「王　小明」 matches 「王小明」 and 「SMITH, JOHN」 matches 「Smith John」; any other
//!   difference (a variant character) is a mismatch the personnel office must resolve.
//! * Agency OIDs: a 政府機關 (agency) or school certificate binds to the agency whose OID it
//!   carries; a 政府單位 (unit) certificate carries its unit's OID, which GCA assigns under its
//!   agency's arc, so it binds to the agency whose OID equals it or is a proper arc prefix
//!   of it (`2.16.886.101.20003.20065.20021` is under `2.16.886.101.20003.20065`, but not
//!   under `2.16.886.101.20003.2006`).

use crate::text::fold_width;

/// The organization-certificate profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgCertType {
    /// 政府機關 (2.16.886.1.100.3.2.1.1).
    Agency,
    /// 政府單位 (2.16.886.1.100.3.2.1.2).
    Unit,
    /// 學校 / 組織 under XCA (2.16.886.1.100.3.2.11).
    School,
}

fn name_key(s: &str) -> String {
    s.chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '‧' | '・' | '.' | ',' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether the certificate's holder name is the registry's name.
pub fn names_match(cert_name: &str, registry_name: &str) -> bool {
    let (a, b) = (name_key(cert_name), name_key(registry_name));
    !a.is_empty() && a == b
}

/// Whether `oid` is `parent` or lies under it (a whole-arc prefix).
pub fn oid_within(oid: &str, parent: &str) -> bool {
    !parent.is_empty()
        && (oid == parent
            || oid
                .strip_prefix(parent)
                .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1))
}

/// Whether an organization certificate of `ty` carrying `cert_oid` belongs to the agency
/// with `agency_oid`.
pub fn agency_matches(ty: OrgCertType, cert_oid: &str, agency_oid: &str) -> bool {
    match ty {
        OrgCertType::Agency | OrgCertType::School => !cert_oid.is_empty() && cert_oid == agency_oid,
        OrgCertType::Unit => oid_within(cert_oid, agency_oid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        assert!(names_match("王小明", "王小明"));
        assert!(names_match("王　小明", "王小明"));
        assert!(names_match("ＳＭＩＴＨ，ＪＯＨＮ", "Smith John"));
        assert!(!names_match("王小明", "王曉明"));
        assert!(!names_match("", ""));
        assert!(!names_match("王小明", "王小明明"));
    }

    #[test]
    fn agency_oids() {
        let parent = "2.16.886.101.20003.20065";
        assert!(agency_matches(OrgCertType::Agency, parent, parent));
        assert!(!agency_matches(
            OrgCertType::Agency,
            "2.16.886.101.20003.20065.20021",
            parent
        ));
        assert!(agency_matches(
            OrgCertType::Unit,
            "2.16.886.101.20003.20065.20021",
            parent
        ));
        assert!(agency_matches(OrgCertType::Unit, parent, parent));
        assert!(!agency_matches(
            OrgCertType::Unit,
            "2.16.886.101.20003.200651",
            parent
        ));
        assert!(!agency_matches(
            OrgCertType::Unit,
            "2.16.886.101.20003.2006",
            parent
        ));
        assert!(!agency_matches(
            OrgCertType::Unit,
            "2.16.886.101.20003.20006.1",
            parent
        ));
        assert!(!agency_matches(OrgCertType::Agency, "", ""));
        assert!(!agency_matches(OrgCertType::Unit, "2.16", ""));
    }

    proptest! {
        #[test]
        fn a_unit_is_within_exactly_its_ancestors(
            arcs in prop::collection::vec(1u32..100_000, 1..8),
            cut in 0usize..8,
            extra in 0u32..10,
        ) {
            let oid = arcs.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            let cut = cut.min(arcs.len());
            let parent = arcs[..cut].iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            prop_assert_eq!(oid_within(&oid, &parent), cut > 0);
            // A sibling arc that merely shares leading digits is never within.
            let sibling = format!("{oid}{extra}");
            prop_assert!(!oid_within(&sibling, &oid));
        }

        #[test]
        fn name_matching_is_symmetric(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            prop_assert_eq!(names_match(&a, &b), names_match(&b, &a));
        }
    }
}

//! Real GPKI certificates (`../shared/real-pki`, read at run time, never copied into the
//! repository): the real roots and CAs load or are refused for a stated reason, the real
//! end-entity certificates get the profile they really have, and the verifier gives each
//! the decision a real portal must. Skipped, with the reason printed, when the folder is
//! absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecpa_cardproto::{
    oid, profile,
    refusal::ProofRefusal,
    verify::{check_certificate, CardKind, Policy, TrustError, TrustStore},
};
use std::path::PathBuf;

fn dir() -> Option<PathBuf> {
    // ECPA_REAL_PKI, or `shared/real-pki` beside the checkout or any folder above it.
    let d = std::env::var_os("ECPA_REAL_PKI")
        .map(PathBuf::from)
        .or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|a| a.join("shared/real-pki"))
                .find(|d| d.join("moica-g3.der").exists())
        })
        .unwrap_or_else(|| PathBuf::from("../shared/real-pki"));
    if d.join("moica-g3.der").exists() {
        Some(d)
    } else {
        eprintln!(
            "SKIPPED: no real GPKI certificates at {} (set ECPA_REAL_PKI)",
            d.display()
        );
        None
    }
}

fn read(d: &std::path::Path, name: &str) -> (String, Vec<u8>) {
    (name.to_string(), std::fs::read(d.join(name)).unwrap())
}

/// 2026-12-01 00:00 UTC, a time when GRCA G2/G3 and MOICA G2/G3 are all valid.
const AT: i64 = 1_795_996_800;

fn production_store(d: &std::path::Path) -> TrustStore {
    TrustStore::new(
        &[read(d, "grca-g2-root.der"), read(d, "grca-g3-root.der")],
        &[read(d, "moica-g2.der"), read(d, "moica-g3.der")],
        &[],
        &[],
        Policy::default(),
    )
    .unwrap()
}

#[test]
fn grca_g1_is_refused_as_an_anchor_with_a_clear_reason() {
    let Some(d) = dir() else { return };
    let err = TrustStore::new(
        &[read(&d, "grca-g1-root.der")],
        &[],
        &[],
        &[],
        Policy::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err, TrustError::WeakRoot("grca-g1-root.der".into()));
    assert!(err.to_string().contains("SHA-1") && err.to_string().contains("G2"));
}

#[test]
fn real_cas_chain_to_their_own_generation_of_root() {
    let Some(d) = dir() else { return };
    let t = production_store(&d);
    let cas = t.cas();
    // MOICA G2 and G3 carry one name; G2 is signed by GRCA G2 (root 0), G3 by GRCA G3
    // (root 1): found by key, not name.
    assert_eq!(cas[0].subject, cas[1].subject);
    assert_eq!(cas[0].issuer_key, Some(0));
    assert_eq!(cas[1].issuer_key, Some(1));
    assert!(t.notes.is_empty(), "{:?}", t.notes);
    // MOICA G1 (SHA-1, under GRCA G1) is loaded but no configured root vouches for it.
    let with_g1 = TrustStore::new(
        &[read(&d, "grca-g2-root.der")],
        &[read(&d, "moica-g1.der"), read(&d, "moica-g2.der")],
        &[],
        &[],
        Policy::default(),
    )
    .unwrap();
    assert_eq!(with_g1.cas()[0].issuer_key, None);
    assert!(
        with_g1.notes[0].contains("moica-g1.der"),
        "{:?}",
        with_g1.notes
    );
    // The ARL URLs the issuing CAs name (what an operator must configure or fetch).
    assert_eq!(
        cas[0].crl_urls,
        ["http://grca.nat.gov.tw/repository/CRL2/CA.crl"]
    );
    assert_eq!(
        cas[1].crl_urls,
        ["http://grca.nat.gov.tw/repository/CRL3/CA.crl"]
    );
    assert_eq!(cas[1].ocsp_urls, ["http://ocsp.grca.nat.gov.tw/OCSP"]);
    // Without ARLs, a real MOICA CA's status is unknown: its cards would be refused.
    assert_eq!(
        t.ca_status(0, AT),
        Some(ecpa_cardproto::crl::Status::Missing)
    );
    // So the README's production example lists the ARL of every root generation the real
    // CA certificates name.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for ca in cas {
        for url in &ca.crl_urls {
            assert!(readme.contains(url.as_str()), "README lacks the ARL {url}");
        }
    }
}

#[test]
fn real_ca_certificates_are_never_signing_certificates() {
    let Some(d) = dir() else { return };
    let t = production_store(&d);
    for name in [
        "grca-g2-root.der",
        "grca-g3-root.der",
        "moica-g1.der",
        "moica-g2.der",
        "moica-g3.der",
        "moeaca-g2.der",
        "grca-g1-to-g2-cross.der",
    ] {
        let (_, der) = read(&d, name);
        let p = profile::parse(&der).unwrap();
        assert!(p.is_ca, "{name}");
        assert_eq!(
            check_certificate(&t, &der, AT).map(|c| c.kind),
            Err(ProofRefusal::NotSigningCertificate),
            "{name}"
        );
    }
    // MOICA G3 and GRCA G3 have the digitalSignature bit and are still CAs.
    for name in ["moica-g3.der", "grca-g3-root.der"] {
        let p = profile::parse(&read(&d, name).1).unwrap();
        assert!(p.key_usage.unwrap().digital_signature && p.is_ca, "{name}");
    }
}

#[test]
fn real_natural_person_certificates_read_as_they_are() {
    let Some(d) = dir() else { return };
    let (_, der) = read(&d, "moica-test-g3-ee-natural-mobile-enc-2024a.der");
    let p = profile::parse(&der).unwrap();
    assert_eq!(p.subject_type.as_deref(), Some(oid::TYPE_NATURAL_PERSON));
    assert_eq!(p.common_name.as_deref(), Some("測試人"));
    assert_eq!(p.subject_serial.as_deref(), Some("1061720472004809"));
    assert!(p.is_mobile());
    assert_eq!(
        p.crl_urls,
        [
            "http://ocsp-moica.moi.gov.tw/crl/MOICA-G3-10-8.crl",
            "http://ocsp-moica.moi.gov.tw/crl/MOICA-G3-complete.crl"
        ]
    );
    assert_eq!(p.ocsp_urls, ["http://moica.nat.gov.tw/OCSP/ocsp"]);
    assert_eq!(p.not_after % 86_400, 15 * 3600 + 59 * 60 + 59, "15:59:59Z");
    let (_, alien) = read(&d, "moica-test-g3-ee-alien-mobile-enc-2024b.der");
    let a = profile::parse(&alien).unwrap();
    assert_eq!(a.subject_type.as_deref(), Some(oid::TYPE_ALIEN_RESIDENT));
    assert_eq!(a.id_last4.as_deref(), Some("9945"), "UTF8String last four");
    assert!(a.is_mobile());
    // Encryption certificates: refused as not for signing, before anything else.
    let t = production_store(&d);
    for der in [&der, &alien] {
        assert_eq!(
            check_certificate(&t, der, AT).map(|c| c.kind),
            Err(ProofRefusal::NotSigningCertificate)
        );
    }
}

#[test]
fn real_organization_certificates_get_their_kind_or_refusal() {
    let Some(d) = dir() else { return };
    // XCA school card (附卡): organization OID as an OID value, no CN, no serialNumber.
    let (_, school) = read(&d, "xca-ee-org-school-secondary-2015.der");
    let s = profile::parse(&school).unwrap();
    assert_eq!(s.subject_type.as_deref(), Some(oid::TYPE_SCHOOL));
    assert_eq!(
        s.agency_oid.as_deref(),
        Some("2.16.886.111.90005.90003.100004")
    );
    assert_eq!(s.card_form.as_deref(), Some("secondary"));
    assert_eq!(s.common_name, None);
    assert_eq!(s.subject_serial, None);
    assert!(s.key_usage.unwrap().digital_signature && !s.is_ca);
    // Its CA (XCA) is not configured: not a card this portal accepts.
    let t = production_store(&d);
    assert_eq!(
        check_certificate(&t, &school, AT).map(|c| c.kind),
        Err(ProofRefusal::WrongCertificateType)
    );
    // MOEACA company card: the right CA configured as an organization CA, still a
    // profile (工商憑證, 3.2.2.1.1) the portal does not take.
    let (_, company) = read(&d, "moeaca-g2-ee-org-2013.der");
    let c = profile::parse(&company).unwrap();
    assert_eq!(c.subject_type.as_deref(), Some("2.16.886.1.100.3.2.2.1.1"));
    assert_eq!(c.card_form.as_deref(), Some("primary"));
    let with_moeaca = TrustStore::new(
        &[read(&d, "grca-g2-root.der")],
        &[],
        &[read(&d, "moeaca-g2.der")],
        &[],
        Policy::default(),
    )
    .unwrap();
    assert_eq!(with_moeaca.cas()[0].issuer_key, Some(0));
    assert_eq!(
        check_certificate(&with_moeaca, &company, AT).map(|c| c.kind),
        Err(ProofRefusal::WrongCertificateType)
    );
    // A GCA TLS server certificate (3.3.1): never a card.
    let (_, tls) = read(&d, "gca-g2-ee-tls-server-2017.der");
    let p = profile::parse(&tls).unwrap();
    assert_eq!(p.subject_type.as_deref(), Some("2.16.886.1.100.3.3.1"));
    assert_eq!(p.issuer_hipki, "C=TW,O=行政院,OU=政府憑證管理中心");
    assert_eq!(
        check_certificate(&t, &tls, AT).map(|c| c.kind),
        Err(ProofRefusal::WrongCertificateType)
    );
}

#[test]
fn a_crl_claiming_moicas_name_is_checked_against_moicas_keys() {
    let Some(d) = dir() else { return };
    // Any bytes claiming to be a CRL are set aside unless a configured key signed them;
    // here a CRL of a real CA cannot be forged, so a garbage one and a truncated one.
    let t = TrustStore::new(
        &[read(&d, "grca-g2-root.der")],
        &[read(&d, "moica-g2.der")],
        &[],
        &[
            ("garbage.crl".into(), b"not a crl".to_vec()),
            ("cert-as-crl.crl".into(), read(&d, "moica-g2.der").1),
        ],
        Policy::default(),
    )
    .unwrap();
    assert!(t.crls().is_empty());
    assert_eq!(t.notes.len(), 2, "{:?}", t.notes);
    let _ = CardKind::Natural;
}

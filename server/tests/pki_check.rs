//! `ecpa-server pki check` on the simulator's PKI (complete, then with the ARL and a CRL
//! missing, then stale) and on real GPKI certificates: what it says is covered, missing,
//! accepted and refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ecpa_server::{
    cards::{pki_check, trust::CardTrust},
    config::Config,
};
use hsm_sim::{
    pki::Variant,
    sim::{Kind, Sim},
};
use time::OffsetDateTime;

fn card(sim: &Sim, variant: Variant) -> Vec<u8> {
    common::cards::issue(sim, Kind::Natural, "王小明", "A123456789", variant).sign_cert_der()
}

#[test]
fn reports_coverage_and_decisions_on_the_simulators_pki() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(&dir.path().join("sim")).unwrap();
    let now = OffsetDateTime::now_utc();
    sim.init(now).unwrap();
    let pki = dir.path().join("pki");
    let good = dir.path().join("good.der");
    std::fs::write(&good, card(&sim, Variant::Good)).unwrap();
    let mobile = dir.path().join("mobile.der");
    std::fs::write(&mobile, card(&sim, Variant::Mobile)).unwrap();
    sim.export(&pki).unwrap();
    let mut config = Config::defaults();
    config.card_pki_dir = Some(pki.clone());
    let trust = CardTrust::from_config(&config).unwrap();
    let at = now.unix_timestamp();

    let r = pki_check::run(&trust, std::slice::from_ref(&good), at).unwrap();
    assert!(r.ok, "{}", pki_check::render(&r));
    let moica = r
        .cas
        .iter()
        .find(|c| c.source.ends_with("test-moica.pem"))
        .unwrap();
    assert_eq!(moica.kind, "natural");
    assert_eq!(moica.arl, "good");
    // The complete CRL and the four partitions.
    assert_eq!(moica.crls.len(), 5, "{:?}", moica.crls);
    assert!(moica.crls.iter().all(|c| c.current));
    assert_eq!(r.certificates[0].decision, "accepted");
    assert_eq!(r.certificates[0].kind, Some("natural"));
    assert_eq!(r.certificates[0].id_last4.as_deref(), Some("6789"));
    // The look-alike CA's CRLs (same name as the test MOICA) are set aside by key.
    assert!(
        r.notes.iter().any(|n| n.contains("untrusted-moica")),
        "{:?}",
        r.notes
    );

    // A mobile certificate: refused with its own code; the report is not OK.
    let r = pki_check::run(&trust, &[good.clone(), mobile], at).unwrap();
    assert!(!r.ok);
    assert_eq!(r.certificates[1].decision, "cert.mobile");
    assert_eq!(r.certificates[1].form, "mobile");

    // Without the root's ARL and the complete MOICA CRL.
    std::fs::remove_file(pki.join("test-grca-root.crl")).unwrap();
    std::fs::remove_file(pki.join("test-moica.crl")).unwrap();
    let r = pki_check::run(&trust, std::slice::from_ref(&good), at).unwrap();
    assert!(!r.ok);
    let moica = r
        .cas
        .iter()
        .find(|c| c.source.ends_with("test-moica.pem"))
        .unwrap();
    assert_eq!(moica.arl, "missing");
    assert!(moica.problems.iter().any(|p| p.contains("no ARL")));
    assert!(moica
        .problems
        .iter()
        .any(|p| p.contains("no current complete CRL")));
    assert_eq!(r.certificates[0].decision, "crl.missing");

    // As at a time after every nextUpdate: stale.
    sim.export(&pki).unwrap();
    let later = at + 30 * 86_400;
    let r = pki_check::run(&trust, std::slice::from_ref(&good), later).unwrap();
    assert!(!r.ok);
    assert_eq!(r.certificates[0].decision, "crl.stale");
    assert!(pki_check::render(&r).contains("NOT CURRENT"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["certificates"][0]["decision"], "crl.stale");
}

#[test]
fn parses_the_time_it_checks_at() {
    assert_eq!(
        pki_check::parse_at("2027-01-31").unwrap(),
        pki_check::parse_at("2027-01-31T00:00:00+08:00").unwrap()
    );
    assert!(pki_check::parse_at("31/01/2027").is_err());
}

//! The issued certificates follow the MOICA / GCA profiles, the bad ones are bad in exactly
//! the intended way, and revocation reaches the CRL. (SoftHSM only; no reader needed.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ::time::OffsetDateTime;
use ecpa_cardproto::{oid, profile};
use hsm_sim::{
    pki::{Ca, Variant},
    sim::{Kind, NewCard, Sim},
};
use x509_parser::prelude::*;

fn spec(kind: Kind, variant: Variant) -> NewCard {
    NewCard {
        kind,
        holder: if kind == Kind::Natural {
            "王小明".into()
        } else {
            "交通部公路局".into()
        },
        national_id: (kind == Kind::Natural).then(|| "A123456789".into()),
        agency_oid: (kind == Kind::Org).then(|| "2.16.886.101.20003.20065.20021".into()),
        pin: "975310".into(),
        card_number: None,
        variant,
        seed: None,
    }
}

fn aki(der: &[u8]) -> Vec<u8> {
    let (_, c) = parse_x509_certificate(der).unwrap();
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .unwrap()
}

fn ski(der: &[u8]) -> Vec<u8> {
    let (_, c) = parse_x509_certificate(der).unwrap();
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn profiles_variants_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(dir.path()).unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(sim.init(now).unwrap());
    assert!(!sim.init(now).unwrap(), "init is idempotent");

    // CAs: marked as test, chained to the test root, named as the real ones (no CN).
    let root = sim.ca_cert(Ca::Root).unwrap();
    let moica = sim.ca_cert(Ca::Moica).unwrap();
    let gca = sim.ca_cert(Ca::Gca).unwrap();
    for der in [&root, &moica, &gca] {
        let p = profile::parse(der).unwrap();
        assert!(
            p.is_ca && (p.subject.contains("測試用") || p.subject.contains("TEST")),
            "{}",
            p.subject
        );
        assert!(!p.subject.contains("CN="), "{}", p.subject);
    }
    assert_eq!(
        profile::parse(&moica).unwrap().subject_hipki,
        "C=TW,O=行政院,OU=(測試用) 內政部憑證管理中心"
    );
    assert!(profile::parse(&moica)
        .unwrap()
        .subject
        .contains("內政部憑證管理中心"));
    assert!(profile::parse(&gca)
        .unwrap()
        .subject
        .contains("政府憑證管理中心"));
    assert_eq!(aki(&moica), ski(&root));

    // Natural-person card.
    let n = sim
        .new_card(&spec(Kind::Natural, Variant::Good), now)
        .unwrap();
    assert!(n.number.starts_with("GP") && n.number.len() == 16);
    let s = profile::parse(&n.sign_cert_der()).unwrap();
    assert_eq!(s.common_name.as_deref(), Some("王小明"));
    // serialNumber: a 16-digit holder identifier, not the card number, the same on every
    // card of the person.
    let holder = s.subject_serial.clone().unwrap();
    assert!(
        holder.len() == 16 && holder.bytes().all(|b| b.is_ascii_digit()),
        "{holder}"
    );
    assert_ne!(holder, n.number);
    assert_eq!(
        profile::parse(
            &sim.new_card(&spec(Kind::Natural, Variant::Good), now)
                .unwrap()
                .sign_cert_der()
        )
        .unwrap()
        .subject_serial,
        Some(holder)
    );
    // Field by field as a real MOICA card certificate (x509-parser as the second reader).
    {
        let der = n.sign_cert_der();
        let (_, c) = parse_x509_certificate(&der).unwrap();
        let cn = c.subject().iter_common_name().next().unwrap();
        assert_eq!(
            cn.attr_value().tag(),
            x509_parser::der_parser::asn1_rs::Tag::Utf8String
        );
        assert_eq!(c.raw_serial().len(), 16);
        assert!(
            c.basic_constraints().unwrap().is_none(),
            "no BasicConstraints"
        );
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.digital_signature() && !ku.value.non_repudiation());
        assert_eq!(
            c.validity().not_after.timestamp() % 86_400,
            15 * 3600 + 59 * 60 + 59
        );
        // The last four as UTF8String: 0x0c before "6789".
        assert!(der.windows(6).any(|w| w == b"\x0c\x046789"));
    }
    let part = hsm_sim::pki::partition_of(&hex::decode(&n.sign_serial).unwrap());
    let base = hsm_sim::sim::publication().base;
    assert_eq!(
        s.crl_urls,
        [
            format!("{base}/crl/test-moica-p{part}.crl"),
            format!("{base}/crl/test-moica.crl")
        ]
    );
    assert_eq!(s.ocsp_urls, [format!("{base}/ocsp/test-moica")]);
    assert_eq!(s.ca_issuer_urls, [format!("{base}/certs/test-moica.der")]);
    assert_eq!(s.id_last4.as_deref(), Some("6789"));
    assert_eq!(s.subject_type.as_deref(), Some(oid::TYPE_NATURAL_PERSON));
    assert_eq!(s.policies, vec![oid::POLICY_LEVEL3.to_string()]);
    let ku = s.key_usage.unwrap();
    assert!(ku.digital_signature && !ku.key_encipherment);
    let enc = profile::parse(&n.enc_cert_der()).unwrap();
    let ku = enc.key_usage.unwrap();
    assert!(!ku.digital_signature && ku.key_encipherment && ku.data_encipherment);
    assert_eq!(
        enc.key_usage.unwrap().hipki_usage(),
        "keyEncipherment|dataEncipherment"
    );
    assert_eq!(aki(&n.sign_cert_der()), ski(&moica));
    assert!(s.not_before <= now.unix_timestamp() && now.unix_timestamp() < s.not_after);

    // Organization card.
    let o = sim.new_card(&spec(Kind::Org, Variant::Good), now).unwrap();
    let p = profile::parse(&o.sign_cert_der()).unwrap();
    assert_eq!(
        p.agency_oid.as_deref(),
        Some("2.16.886.101.20003.20065.20021")
    );
    assert_eq!(p.subject_type.as_deref(), Some(oid::TYPE_GOVERNMENT_AGENCY));
    assert_eq!(aki(&o.sign_cert_der()), ski(&gca));

    // The other real profiles.
    let unit = profile::parse(
        &sim.new_card(&spec(Kind::Org, Variant::Unit), now)
            .unwrap()
            .sign_cert_der(),
    )
    .unwrap();
    assert_eq!(
        unit.subject_type.as_deref(),
        Some(oid::TYPE_GOVERNMENT_UNIT)
    );
    let alien = profile::parse(
        &sim.new_card(&spec(Kind::Natural, Variant::AlienResident), now)
            .unwrap()
            .sign_cert_der(),
    )
    .unwrap();
    assert_eq!(
        alien.subject_type.as_deref(),
        Some(oid::TYPE_ALIEN_RESIDENT)
    );
    assert!(!alien.is_mobile());
    let mobile = profile::parse(
        &sim.new_card(&spec(Kind::Natural, Variant::Mobile), now)
            .unwrap()
            .sign_cert_der(),
    )
    .unwrap();
    assert!(mobile.is_mobile());
    assert!(mobile.not_after - now.unix_timestamp() < 367 * 86_400);

    // The bad ones.
    let expired = profile::parse(
        &sim.new_card(&spec(Kind::Natural, Variant::Expired), now)
            .unwrap()
            .sign_cert_der(),
    )
    .unwrap();
    assert!(expired.not_after < now.unix_timestamp());
    let future = profile::parse(
        &sim.new_card(&spec(Kind::Natural, Variant::NotYetValid), now)
            .unwrap()
            .sign_cert_der(),
    )
    .unwrap();
    assert!(future.not_before > now.unix_timestamp());
    let wrong = profile::parse(
        &sim.new_card(&spec(Kind::Natural, Variant::WrongKeyUsage), now)
            .unwrap()
            .sign_cert_der(),
    )
    .unwrap();
    assert!(!wrong.key_usage.unwrap().digital_signature);
    let untrusted = sim
        .new_card(&spec(Kind::Natural, Variant::Untrusted), now)
        .unwrap();
    let u = profile::parse(&untrusted.sign_cert_der()).unwrap();
    assert_eq!(u.issuer, s.issuer, "the look-alike CA has the same name...");
    assert_ne!(
        aki(&untrusted.sign_cert_der()),
        ski(&moica),
        "...but another key"
    );

    // Revocation reaches the CRL; a stale CRL is really stale.
    sim.revoke(&n.number, now).unwrap();
    let crl_der = std::fs::read(sim.crl_path(Ca::Moica)).unwrap();
    let (_, crl) = parse_x509_crl(&crl_der).unwrap();
    let revoked: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial_as_string().replace(':', ""))
        .collect();
    assert!(
        revoked.contains(&n.sign_serial) && revoked.contains(&n.enc_serial),
        "{revoked:?} vs {}",
        n.sign_serial
    );
    assert!(crl.next_update().unwrap().timestamp() > now.unix_timestamp());
    // Partition CRLs: each with its Issuing Distribution Point, listing only its own serials.
    let paths = sim.crl_paths(Ca::Moica);
    assert_eq!(paths.len(), 1 + hsm_sim::pki::CRL_PARTITIONS as usize);
    for (i, path) in paths.iter().enumerate().skip(1) {
        let der = std::fs::read(path).unwrap();
        let (_, c) = parse_x509_crl(&der).unwrap();
        let idp = c
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::IssuingDistributionPoint(i) => Some(i.clone()),
                _ => None,
            })
            .unwrap();
        assert!(idp.only_contains_user_certs);
        let mine = (i - 1) as u8 == part;
        let listed = c
            .iter_revoked_certificates()
            .any(|r| r.raw_serial_as_string().replace(':', "") == n.sign_serial);
        assert_eq!(listed, mine, "partition {}", i - 1);
    }
    sim.write_crls(now, true).unwrap();
    let stale_der = std::fs::read(sim.crl_path(Ca::Moica)).unwrap();
    let (_, stale) = parse_x509_crl(&stale_der).unwrap();
    assert!(stale.next_update().unwrap().timestamp() < now.unix_timestamp());
    assert_eq!(
        stale.iter_revoked_certificates().count(),
        2,
        "stale but still listing the revocation"
    );

    // Export for the server.
    let out = tempfile::tempdir().unwrap();
    let files = sim.export(out.path()).unwrap();
    assert!(files.iter().any(|f| f.ends_with("test-grca-root.pem")));
    assert!(files.iter().any(|f| f.ends_with("test-moica.crl")));
    // Into the simulator's own pki folder (what `make demo-cards` does): nothing is emptied.
    let own = sim.export(&dir.path().join("pki")).unwrap();
    for f in own.iter().chain(files.iter()) {
        assert!(
            std::fs::metadata(f).unwrap().len() > 0,
            "{} is empty",
            f.display()
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("pki").join("test-moica.der")).unwrap(),
        std::fs::read(out.path().join("test-moica.der")).unwrap()
    );

    // Card metadata never holds the PIN.
    let text = std::fs::read_to_string(dir.path().join("cards").join(format!("{}.json", n.number)))
        .unwrap();
    assert!(!text.contains("975310") && !text.contains("\"pin\""));
}

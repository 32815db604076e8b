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
        agency_oid: (kind == Kind::Organization).then(|| "2.16.886.101.20003.20065.20021".into()),
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
    let base = hsm_sim::pki::Publication::from_env().base;
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
    let o = sim
        .new_card(&spec(Kind::Organization, Variant::Good), now)
        .unwrap();
    let p = profile::parse(&o.sign_cert_der()).unwrap();
    assert_eq!(
        p.agency_oid.as_deref(),
        Some("2.16.886.101.20003.20065.20021")
    );
    assert_eq!(p.subject_type.as_deref(), Some(oid::TYPE_GOVERNMENT_AGENCY));
    assert_eq!(aki(&o.sign_cert_der()), ski(&gca));

    // The second generation: the same CA name, another key, under the G3 root; 4096-bit
    // keys and the digitalSignature bit where the real G3 ones have them.
    let moica_g3 = sim.ca_cert(Ca::MoicaG3).unwrap();
    let root_g3 = sim.ca_cert(Ca::RootG3).unwrap();
    let pm3 = profile::parse(&moica_g3).unwrap();
    assert_eq!(pm3.subject, profile::parse(&moica).unwrap().subject);
    assert_ne!(ski(&moica_g3), ski(&moica));
    assert_eq!(aki(&moica_g3), ski(&root_g3));
    assert!(pm3.key_usage.unwrap().digital_signature && pm3.is_ca);
    assert!(
        !profile::parse(&moica)
            .unwrap()
            .key_usage
            .unwrap()
            .digital_signature
    );
    let bits = |der: &[u8]| {
        let (_, c) = parse_x509_certificate(der).unwrap();
        c.public_key().parsed().map(|k| k.key_size()).unwrap()
    };
    assert_eq!(
        (bits(&root), bits(&root_g3), bits(&moica_g3), bits(&moica)),
        (4096, 4096, 4096, 2048)
    );
    assert!(profile::parse(&root_g3).unwrap().subject.contains("G3"));
    // The cross-certificate: the G3 root's name and key, certified by the G2 root.
    let cross = std::fs::read(dir.path().join("pki").join(hsm_sim::sim::CROSS_CERT)).unwrap();
    let (_, cx) = parse_x509_certificate(&cross).unwrap();
    let (_, r3) = parse_x509_certificate(&root_g3).unwrap();
    let (_, r2) = parse_x509_certificate(&root).unwrap();
    assert_eq!(cx.subject().as_raw(), r3.subject().as_raw());
    assert_eq!(cx.issuer().as_raw(), r2.subject().as_raw());
    assert_eq!(cx.public_key().raw, r3.public_key().raw);
    // OpenSSL, as an independent judge, verifies the cross-certificate under the G2 root.
    let pki = dir.path().join("pki");
    std::fs::write(
        pki.join("cross.pem"),
        hsm_sim::pki::pem("CERTIFICATE", &cross),
    )
    .unwrap();
    let out = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(pki.join("test-grca-root.pem"))
        .arg(pki.join("cross.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Issuing CAs name their root's ARL.
    assert_eq!(
        pm3.crl_urls,
        [format!(
            "{}/crl/test-grca-g3-root.crl",
            hsm_sim::pki::Publication::from_env().base
        )]
    );
    let g3 = sim
        .new_card(&spec(Kind::Natural, Variant::G3), now)
        .unwrap();
    assert_eq!(g3.issuer, Ca::MoicaG3);
    assert_eq!(aki(&g3.sign_cert_der()), ski(&moica_g3));
    assert_eq!(
        profile::parse(&g3.sign_cert_der()).unwrap().issuer,
        s.issuer
    );

    // A school card from the XCA-like CA: C and O only, type 3.2.11, primary or 附卡.
    for (variant, form) in [
        (Variant::School, "primary"),
        (Variant::SchoolSecondary, "secondary"),
    ] {
        let mut sc = spec(Kind::Organization, variant);
        sc.holder = "測試國民小學".into();
        sc.agency_oid = Some("2.16.886.111.90005.90003.100004".into());
        let card = sim.new_card(&sc, now).unwrap();
        assert_eq!(card.issuer, Ca::Xca);
        let p = profile::parse(&card.sign_cert_der()).unwrap();
        assert_eq!(p.subject_hipki, "C=TW,O=測試國民小學");
        assert_eq!(p.subject_type.as_deref(), Some(oid::TYPE_SCHOOL));
        assert_eq!(p.card_form.as_deref(), Some(form));
        assert_eq!(
            p.agency_oid.as_deref(),
            Some("2.16.886.111.90005.90003.100004")
        );
    }
    // A school OID is refused for a GCA card and a GCA OID for a school card.
    let mut wrong = spec(Kind::Organization, Variant::School);
    wrong.agency_oid = Some("2.16.886.101.20003".into());
    assert!(sim.new_card(&wrong, now).is_err());

    // The other real profiles.
    let unit = profile::parse(
        &sim.new_card(&spec(Kind::Organization, Variant::Unit), now)
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

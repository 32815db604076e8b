//! Revocation as the real GPKI publishes it, on a PKI of our own keys built here: two root
//! generations with one name (GRCA G1/G2), two issuing-CA generations with one name
//! (MOICA G2/G3), partitioned CRLs with an Issuing Distribution Point plus the complete
//! CRL, and the roots' ARLs. Each case asserts the exact decision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecpa_cardproto::{
    crl::{self, Crl},
    refusal::ProofRefusal,
    verify::{check_certificate, CardKind, Policy, TrustStore},
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CrlIssuingDistributionPoint, CrlScope, CustomExtension, DistinguishedName, DnType, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

const PARTITION_A: &str = "http://moica.test/crl/MOICA-G3-10-8.crl";
const PARTITION_B: &str = "http://moica.test/crl/MOICA-G3-10-9.crl";
const COMPLETE: &str = "http://moica.test/crl/MOICA-G3-complete.crl";

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 128 {
        v.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        v.push(0x80 | bytes.len() as u8);
        v.extend(bytes);
    }
    v.extend_from_slice(body);
    v
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut chunk = vec![(a & 0x7f) as u8];
        let mut rest = a >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

/// subjectDirectoryAttributes of a natural-person card: type, then UTF8String last four.
fn natural_sda(subject_type: &[u64], last4: &str, mobile: bool) -> Vec<u8> {
    let attr = |ty: &[u64], value: Vec<u8>| {
        let mut b = oid(ty);
        b.extend(tlv(0x31, &value));
        tlv(0x30, &b)
    };
    let mut body = attr(&[2, 16, 886, 1, 100, 2, 1], oid(subject_type));
    if mobile {
        body.extend(attr(&[2, 16, 886, 1, 100, 2, 2], tlv(0x13, b"mobile")));
    }
    body.extend(attr(
        &[2, 16, 886, 1, 100, 2, 51],
        tlv(0x0c, last4.as_bytes()),
    ));
    tlv(0x30, &body)
}

fn dn(o: &str, ou: Option<&str>) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CountryName, "TW");
    d.push(DnType::OrganizationName, o);
    if let Some(ou) = ou {
        d.push(DnType::OrganizationalUnitName, ou);
    }
    d
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: Vec<u8>,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ca_params(name: DistinguishedName, serial: u64, crl_url: Option<&str>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = now() - Duration::days(365);
    p.not_after = now() + Duration::days(3650);
    p.serial_number = Some(SerialNumber::from(serial));
    p.crl_distribution_points = crl_url
        .map(|u| {
            vec![CrlDistributionPoint {
                uris: vec![u.into()],
            }]
        })
        .unwrap_or_default();
    p.use_authority_key_identifier_extension = true;
    p
}

fn root(serial: u64) -> Ca {
    let key = KeyPair::generate().unwrap();
    let p = ca_params(
        dn("Government Root Certification Authority", None),
        serial,
        None,
    );
    let der = p.self_signed(&key).unwrap().der().to_vec();
    Ca {
        issuer: Issuer::new(p, key),
        der,
    }
}

fn sub_ca(parent: &Ca, serial: u64) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = ca_params(
        dn("行政院", Some("內政部憑證管理中心")),
        serial,
        Some("http://grca.test/CRL2/CA.crl"),
    );
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let der = p.signed_by(&key, &parent.issuer).unwrap().der().to_vec();
    Ca {
        issuer: Issuer::new(p, key),
        der,
    }
}

fn card(ca: &Ca, serial: &[u8], partition: &str, subject_type: &[u64], mobile: bool) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    let mut d = DistinguishedName::new();
    d.push(DnType::CountryName, "TW");
    d.push(DnType::CommonName, "王小明");
    d.push(DnType::CustomDnType(vec![2, 5, 4, 5]), "0000000116770722");
    p.distinguished_name = d;
    p.is_ca = IsCa::NoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = now() - Duration::days(30);
    p.not_after = now() + Duration::days(365);
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![partition.into(), COMPLETE.into()],
    }];
    p.use_authority_key_identifier_extension = true;
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[2, 5, 29, 9],
        natural_sda(subject_type, "6789", mobile),
    )];
    p.signed_by(&key, &ca.issuer).unwrap().der().to_vec()
}

struct CrlSpec<'a> {
    number: u64,
    revoked: &'a [&'a [u8]],
    /// `None`: the complete CRL.
    partition: Option<&'a str>,
    ca_only: bool,
    stale: bool,
}

impl Default for CrlSpec<'_> {
    fn default() -> Self {
        CrlSpec {
            number: 1,
            revoked: &[],
            partition: None,
            ca_only: false,
            stale: false,
        }
    }
}

fn crl_by(ca: &Ca, spec: CrlSpec<'_>) -> Vec<u8> {
    let (this, next) = if spec.stale {
        (now() - Duration::days(10), now() - Duration::days(3))
    } else {
        (now() - Duration::hours(1), now() + Duration::days(1))
    };
    let params = CertificateRevocationListParams {
        this_update: this,
        next_update: next,
        crl_number: SerialNumber::from(spec.number),
        issuing_distribution_point: match (spec.partition, spec.ca_only) {
            (Some(u), _) => Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec![u.into()],
                },
                scope: Some(CrlScope::UserCertsOnly),
            }),
            (None, true) => Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec!["http://grca.test/CRL2/CA.crl".into()],
                },
                scope: Some(CrlScope::CaCertsOnly),
            }),
            (None, false) => None,
        },
        revoked_certs: spec
            .revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: now() - Duration::days(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params.signed_by(&ca.issuer).unwrap().der().to_vec()
}

/// GRCA "G1" and "G2" (one name), MOICA "G2" and "G3" (one name, under G2 and G1...).
struct World {
    g1: Ca,
    g2: Ca,
    moica_old: Ca,
    moica_new: Ca,
}

fn world() -> World {
    let g1 = root(1);
    let g2 = root(2);
    let moica_old = sub_ca(&g1, 11);
    let moica_new = sub_ca(&g2, 12);
    World {
        g1,
        g2,
        moica_old,
        moica_new,
    }
}

const GOOD: &[u8] = &[0x11; 16];
const OTHER: &[u8] = &[0x22; 16];

impl World {
    fn store(&self, crls: &[Vec<u8>], policy: Policy) -> TrustStore {
        let named = |v: &[&Vec<u8>], p: &str| -> Vec<(String, Vec<u8>)> {
            v.iter()
                .enumerate()
                .map(|(i, d)| (format!("{p}{i}"), (*d).clone()))
                .collect()
        };
        TrustStore::new(
            &named(&[&self.g1.der, &self.g2.der], "root"),
            &named(&[&self.moica_old.der, &self.moica_new.der], "moica"),
            &[],
            &named(&crls.iter().collect::<Vec<_>>(), "crl"),
            policy,
        )
        .unwrap()
    }

    /// Both ARLs, no CA revoked.
    fn arls(&self) -> Vec<Vec<u8>> {
        vec![
            crl_by(&self.g1, CrlSpec::default()),
            crl_by(&self.g2, CrlSpec::default()),
        ]
    }

    fn check(&self, cert: &[u8], crls: Vec<Vec<u8>>) -> Result<CardKind, ProofRefusal> {
        let t = self.store(&crls, Policy::default());
        check_certificate(&t, cert, now().unix_timestamp()).map(|c| c.kind)
    }
}

const NATURAL: &[u64] = &[2, 16, 886, 1, 100, 3, 1, 1];
const ALIEN: &[u64] = &[2, 16, 886, 1, 100, 3, 1, 9];

#[test]
fn another_generations_crl_listed_first_does_not_refuse_a_good_card() {
    let w = world();
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    // The old generation's CRL (same issuer name, other key) lists this very serial.
    let mut crls = vec![crl_by(
        &w.moica_old,
        CrlSpec {
            number: 900,
            revoked: &[GOOD],
            ..CrlSpec::default()
        },
    )];
    crls.push(crl_by(&w.moica_new, CrlSpec::default()));
    crls.extend(w.arls());
    assert_eq!(w.check(&cert, crls), Ok(CardKind::Natural));
}

#[test]
fn the_right_generations_crl_revokes() {
    let w = world();
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    let mut crls = vec![
        crl_by(&w.moica_old, CrlSpec::default()),
        crl_by(
            &w.moica_new,
            CrlSpec {
                revoked: &[GOOD],
                ..CrlSpec::default()
            },
        ),
    ];
    crls.extend(w.arls());
    assert_eq!(w.check(&cert, crls), Err(ProofRefusal::Revoked));
}

#[test]
fn the_newest_crl_of_a_key_and_scope_wins_in_either_order() {
    let w = world();
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    // Number 7 lists it (on hold); number 8, newer, no longer does.
    let old = crl_by(
        &w.moica_new,
        CrlSpec {
            number: 7,
            revoked: &[GOOD],
            ..CrlSpec::default()
        },
    );
    let new = crl_by(
        &w.moica_new,
        CrlSpec {
            number: 8,
            ..CrlSpec::default()
        },
    );
    for order in [
        vec![old.clone(), new.clone()],
        vec![new.clone(), old.clone()],
    ] {
        let mut crls = order;
        crls.extend(w.arls());
        let t = w.store(&crls, Policy::default());
        assert_eq!(
            check_certificate(&t, &cert, now().unix_timestamp()).map(|c| c.kind),
            Ok(CardKind::Natural)
        );
        assert!(
            t.notes.iter().any(|n| n.contains("CRL number 7")),
            "{:?}",
            t.notes
        );
    }
    // And a newer one that lists it revokes, whatever the order.
    let newer = crl_by(
        &w.moica_new,
        CrlSpec {
            number: 9,
            revoked: &[GOOD],
            ..CrlSpec::default()
        },
    );
    let mut crls = vec![new, newer];
    crls.extend(w.arls());
    assert_eq!(w.check(&cert, crls), Err(ProofRefusal::Revoked));
}

#[test]
fn partitioned_crls_speak_only_for_their_partition() {
    let w = world();
    let in_a = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    let in_b = card(&w.moica_new, OTHER, PARTITION_B, NATURAL, false);
    let part_a = crl_by(
        &w.moica_new,
        CrlSpec {
            partition: Some(PARTITION_A),
            // Lists B's serial: partition A's CRL does not speak for B.
            revoked: &[OTHER],
            ..CrlSpec::default()
        },
    );
    // Only partition A's CRL: A is decided, B has no CRL that covers it.
    let mut crls = vec![part_a.clone()];
    crls.extend(w.arls());
    assert_eq!(w.check(&in_a, crls.clone()), Ok(CardKind::Natural));
    assert_eq!(w.check(&in_b, crls), Err(ProofRefusal::CrlMissing));
    // With partition B's own CRL listing it: revoked.
    let part_b = crl_by(
        &w.moica_new,
        CrlSpec {
            partition: Some(PARTITION_B),
            revoked: &[OTHER],
            ..CrlSpec::default()
        },
    );
    let mut crls = vec![part_a.clone(), part_b];
    crls.extend(w.arls());
    assert_eq!(w.check(&in_b, crls), Err(ProofRefusal::Revoked));
    // The complete CRL covers both; a revocation in it counts even where the partition
    // CRL is silent.
    let complete = crl_by(
        &w.moica_new,
        CrlSpec {
            revoked: &[GOOD],
            ..CrlSpec::default()
        },
    );
    let mut crls = vec![part_a, complete];
    crls.extend(w.arls());
    assert_eq!(w.check(&in_a, crls), Err(ProofRefusal::Revoked));
}

#[test]
fn the_roots_arl_is_required_and_read_for_the_issuing_ca() {
    let w = world();
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    let issuing = crl_by(&w.moica_new, CrlSpec::default());
    // No ARL from G2 (only G1's, same name, other key): the CA's status is unknown.
    let g1_arl = crl_by(&w.g1, CrlSpec::default());
    assert_eq!(
        w.check(&cert, vec![issuing.clone(), g1_arl.clone()]),
        Err(ProofRefusal::CrlMissing)
    );
    // G2's ARL revoking MOICA "G3" (serial 12) refuses its cards.
    let revoking = crl_by(
        &w.g2,
        CrlSpec {
            revoked: &[&[12]],
            ca_only: true,
            ..CrlSpec::default()
        },
    );
    assert_eq!(
        w.check(&cert, vec![issuing.clone(), g1_arl.clone(), revoking]),
        Err(ProofRefusal::Revoked)
    );
    // G1's ARL revoking serial 12 says nothing about G2's CA 12.
    let g1_revoking = crl_by(
        &w.g1,
        CrlSpec {
            revoked: &[&[12]],
            ..CrlSpec::default()
        },
    );
    let g2_arl = crl_by(&w.g2, CrlSpec::default());
    assert_eq!(
        w.check(&cert, vec![issuing, g1_revoking, g2_arl]),
        Ok(CardKind::Natural)
    );
}

#[test]
fn stale_and_missing_crls_fail_closed() {
    let w = world();
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    let stale = crl_by(
        &w.moica_new,
        CrlSpec {
            stale: true,
            ..CrlSpec::default()
        },
    );
    let mut crls = vec![stale.clone()];
    crls.extend(w.arls());
    assert_eq!(w.check(&cert, crls), Err(ProofRefusal::CrlStale));
    // A stale complete CRL beside a current partition CRL: the partition decides.
    let part = crl_by(
        &w.moica_new,
        CrlSpec {
            partition: Some(PARTITION_A),
            number: 2,
            ..CrlSpec::default()
        },
    );
    let mut crls = vec![stale, part];
    crls.extend(w.arls());
    assert_eq!(w.check(&cert, crls), Ok(CardKind::Natural));
    assert_eq!(w.check(&cert, w.arls()), Err(ProofRefusal::CrlMissing));
    let stale_arl = crl_by(
        &w.g2,
        CrlSpec {
            stale: true,
            ..CrlSpec::default()
        },
    );
    assert_eq!(
        w.check(
            &cert,
            vec![crl_by(&w.moica_new, CrlSpec::default()), stale_arl]
        ),
        Err(ProofRefusal::CrlStale)
    );
}

#[test]
fn a_crl_no_configured_key_signed_is_set_aside() {
    let w = world();
    let stranger = sub_ca(&root(3), 13);
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    let mut crls = vec![
        // Same issuer name as MOICA, signed by a key nobody configured: it would revoke.
        crl_by(
            &stranger,
            CrlSpec {
                number: 99,
                revoked: &[GOOD],
                ..CrlSpec::default()
            },
        ),
        crl_by(&w.moica_new, CrlSpec::default()),
    ];
    crls.extend(w.arls());
    let t = w.store(&crls, Policy::default());
    assert!(
        t.notes
            .iter()
            .any(|n| n.contains("crl0") && n.contains("not signed by any configured")),
        "{:?}",
        t.notes
    );
    assert_eq!(
        check_certificate(&t, &cert, now().unix_timestamp()).map(|c| c.kind),
        Ok(CardKind::Natural)
    );
}

#[test]
fn alien_residents_are_natural_persons_and_mobile_certificates_need_a_policy() {
    let w = world();
    let mut crls = vec![crl_by(&w.moica_new, CrlSpec::default())];
    crls.extend(w.arls());
    let alien = card(&w.moica_new, GOOD, PARTITION_A, ALIEN, false);
    assert_eq!(w.check(&alien, crls.clone()), Ok(CardKind::Natural));
    let mobile = card(&w.moica_new, OTHER, PARTITION_A, NATURAL, true);
    assert_eq!(
        w.check(&mobile, crls.clone()),
        Err(ProofRefusal::MobileCertificate)
    );
    let t = w.store(&crls, Policy { allow_mobile: true });
    assert_eq!(
        check_certificate(&t, &mobile, now().unix_timestamp()).map(|c| c.kind),
        Ok(CardKind::Natural)
    );
}

#[test]
fn serial_lookup_on_a_large_crl() {
    let w = world();
    let serials: Vec<Vec<u8>> = (0u32..20_000)
        .map(|i| {
            let mut s = vec![0x40; 12];
            s.extend(i.to_be_bytes());
            s
        })
        .collect();
    let refs: Vec<&[u8]> = serials.iter().map(Vec::as_slice).collect();
    let der = crl_by(
        &w.moica_new,
        CrlSpec {
            revoked: &refs,
            ..CrlSpec::default()
        },
    );
    let subject = crl::key_of(&w.moica_new.der).unwrap();
    let c = Crl::parse_verified(
        "big",
        &der,
        &[crl::IssuerKey {
            subject_der: &subject.0,
            spki_der: &subject.1,
        }],
    )
    .unwrap();
    assert_eq!(c.revoked.len(), 20_000);
    assert!(c.revoked.contains(&serials[12_345]));
    assert!(!c.revoked.contains(GOOD));
    assert!(
        c.revoked.heap_bytes() < der.len(),
        "{} vs {}",
        c.revoked.heap_bytes(),
        der.len()
    );
}

/// A store remembers a chain it verified, but only what cannot change: the same store
/// asked again at other times still refuses an expired or not-yet-valid card and still
/// reads the CRLs at every use (a CRL gone stale since the first check refuses).
#[test]
fn a_remembered_chain_is_checked_again_for_time_and_revocation() {
    let w = world();
    let cert = card(&w.moica_new, GOOD, PARTITION_A, NATURAL, false);
    let mut crls = vec![crl_by(&w.moica_new, CrlSpec::default())];
    crls.extend(w.arls());
    let t = w.store(&crls, Policy::default());
    let at = |d: Duration| (now() + d).unix_timestamp();
    let first = check_certificate(&t, &cert, at(Duration::ZERO)).unwrap();
    let again = check_certificate(&t, &cert, at(Duration::ZERO)).unwrap();
    let fresh = check_certificate(
        &w.store(&crls, Policy::default()),
        &cert,
        at(Duration::ZERO),
    )
    .unwrap();
    for c in [&again, &fresh] {
        assert_eq!(
            (c.kind, &c.fingerprint, &c.issuer_der, &c.profile.serial_hex),
            (
                first.kind,
                &first.fingerprint,
                &first.issuer_der,
                &first.profile.serial_hex
            )
        );
    }
    // The CRLs' nextUpdate is a day away: two days on, the same store refuses.
    assert_eq!(
        check_certificate(&t, &cert, at(Duration::days(2))).map(|c| c.kind),
        Err(ProofRefusal::CrlStale)
    );
    assert_eq!(
        check_certificate(&t, &cert, at(Duration::days(400))).map(|c| c.kind),
        Err(ProofRefusal::CertificateExpired)
    );
    assert_eq!(
        check_certificate(&t, &cert, at(-Duration::days(31))).map(|c| c.kind),
        Err(ProofRefusal::CertificateNotYetValid)
    );
    // And back inside the window, accepted again.
    assert!(check_certificate(&t, &cert, at(Duration::ZERO)).is_ok());
    // A certificate that differs in one byte is not the remembered one.
    let mut forged = cert.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(check_certificate(&t, &forged, at(Duration::ZERO)).is_err());
}

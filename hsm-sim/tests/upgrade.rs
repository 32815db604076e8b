//! A test PKI made by an older simulator (three CAs, the old names with a CN, a card issued)
//! is completed by `init`: the new CAs are added, every CRL is re-issued under the name its
//! CA certificate carries, and the old card, a second-generation card and a school card all
//! pass the portal's verifier (cardproto) on the exported trust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecpa_cardproto::verify::{check_certificate, CardKind, Policy, TrustStore};
use hsm_sim::{
    pki::{Ca, Naming, Variant},
    sim::{Kind, NewCard, Sim},
};
use time::OffsetDateTime;

fn spec(kind: Kind, variant: Variant) -> NewCard {
    let natural = kind == Kind::Natural;
    NewCard {
        kind,
        holder: if natural {
            "王小明".into()
        } else {
            "測試國民小學".into()
        },
        national_id: natural.then(|| "A123456789".into()),
        agency_oid: (!natural).then(|| "2.16.886.111.90005.90003.100004".into()),
        pin: "123456".into(),
        card_number: None,
        variant,
        seed: None,
    }
}

#[test]
fn an_older_state_is_completed_and_keeps_its_names() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(dir.path()).unwrap();
    let now = OffsetDateTime::now_utc();
    sim.init_with(
        now,
        Naming::Legacy,
        &[
            Ca::Root,
            Ca::Moica,
            Ca::Gca,
            Ca::UntrustedRoot,
            Ca::UntrustedMoica,
        ],
    )
    .unwrap();
    let old_card = sim
        .new_card(&spec(Kind::Natural, Variant::Good), now)
        .unwrap();
    assert!(
        !sim.init(now).unwrap(),
        "already initialised: completed, not recreated"
    );
    let g3 = sim
        .new_card(&spec(Kind::Natural, Variant::G3), now)
        .unwrap();
    let school = sim
        .new_card(&spec(Kind::Organization, Variant::School), now)
        .unwrap();
    let after = sim
        .new_card(&spec(Kind::Natural, Variant::Good), now)
        .unwrap();

    let out = dir.path().join("export");
    let files = sim.export(&out).unwrap();
    let read = |n: &str| (n.to_string(), std::fs::read(out.join(n)).unwrap());
    let crls: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "crl"))
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    let trust = TrustStore::new(
        &[read("test-grca-root.der"), read("test-grca-g3-root.der")],
        &[read("test-moica.der"), read("test-moica-g3.der")],
        &[read("test-gca.der"), read("test-xca.der")],
        &crls,
        Policy::default(),
    )
    .unwrap();
    // Only the look-alike CA's CRLs are set aside (its key is nobody's trust).
    assert!(
        trust.notes.iter().all(|n| n.contains("untrusted-moica")),
        "{:?}",
        trust.notes
    );
    let at = now.unix_timestamp() + 60;
    for (card, kind) in [
        (&old_card, CardKind::Natural),
        (&after, CardKind::Natural),
        (&g3, CardKind::Natural),
        (&school, CardKind::Organization),
    ] {
        assert_eq!(
            check_certificate(&trust, &card.sign_cert_der(), at).map(|c| c.kind),
            Ok(kind),
            "{:?} card {}",
            card.issuer,
            card.number
        );
    }
    // The old CAs kept their names (with a CN), and their CRLs name them so.
    let moica = ecpa_cardproto::profile::parse(&read("test-moica.der").1).unwrap();
    assert!(
        moica.subject.contains("CN=hsm-sim MOICA TEST CA"),
        "{}",
        moica.subject
    );
}

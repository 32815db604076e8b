//! The simulator through the real card stack: pcscd with the vpcd driver, OpenSC's PIV
//! driver and PKCS#11 module (`opensc-pkcs11.so`), SoftHSM behind the card. Nothing is
//! mocked. Each test runs its own pcscd ([`Private`]: own socket, own vpcd ports), so a demo
//! left running or another test never holds its readers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    mechanism::Mechanism,
    object::{Attribute, ObjectClass},
    session::UserType,
    types::AuthPin,
};
use hsm_sim::{
    pcscd::Private,
    pki::Variant,
    reader,
    sim::{Kind, NewCard, Sim},
};
use rsa::{pkcs1v15::Pkcs1v15Sign, BigUint, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::{process::Command, sync::OnceLock, time::Duration};
use time::OffsetDateTime;

const OPENSC: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

struct Env {
    sim: Sim,
    _pcscd: Private,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let pcscd =
        Private::start().expect("a private pcscd with vpcd readers (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(dir.path()).unwrap();
    sim.init(OffsetDateTime::now_utc()).unwrap();
    Env {
        sim,
        _pcscd: pcscd,
        _dir: dir,
    }
}

fn natural(sim: &Sim, name: &str, id: &str, pin: &str) -> String {
    let spec = NewCard {
        kind: Kind::Natural,
        holder: name.into(),
        national_id: Some(id.into()),
        agency_oid: None,
        pin: pin.into(),
        card_number: None,
        variant: Variant::Good,
        seed: None,
    };
    sim.new_card(&spec, OffsetDateTime::now_utc())
        .unwrap()
        .number
}

/// `pkcs11-tool -L` as a QA engineer would run it.
fn list_tokens() -> String {
    let out = Command::new("pkcs11-tool")
        .args(["--module", OPENSC, "-L"])
        .output()
        .expect("pkcs11-tool (package opensc)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `pred(listing)` holds (pcscd notices insertions and removals in ~0.2 s).
fn wait_listing(pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..50 {
        let l = list_tokens();
        if pred(&l) {
            return l;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    list_tokens()
}

/// OpenSC's PKCS#11 module, loaded once per test process.
fn opensc() -> &'static Pkcs11 {
    static P: OnceLock<Pkcs11> = OnceLock::new();
    P.get_or_init(|| {
        let p = Pkcs11::new(OPENSC).unwrap();
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        p
    })
}

fn slot_with_label(label: &str) -> cryptoki::slot::Slot {
    for _ in 0..50 {
        for s in opensc().get_slots_with_token().unwrap() {
            if opensc()
                .get_token_info(s)
                .map(|t| t.label().trim() == label)
                .unwrap_or(false)
            {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no token labelled {label}");
}

#[test]
fn listed_after_insert_and_gone_after_eject() {
    let e = env();
    let number = natural(&e.sim, "王小明", "A123456789", "123456");
    let card = reader::insert(&e.sim, &number, 0).unwrap();
    let l = wait_listing(|l| l.contains("王小明"));
    assert!(
        l.contains("Virtual PCD 00 00") && l.contains("token label        : 王小明"),
        "{l}"
    );
    // The token serial carries the card number's end (the full number is in the CHUID).
    let tail = hex::encode(&number.as_bytes()[8..]);
    assert!(l.contains(&tail), "serial {tail} in {l}");
    card.eject();
    let l = wait_listing(|l| !l.contains("王小明"));
    assert!(!l.contains("王小明"), "still listed after eject: {l}");
}

#[test]
fn right_pin_signs_and_the_signature_verifies() {
    let e = env();
    let number = natural(&e.sim, "林美華", "F228000104", "246810");
    let meta = e.sim.card(&number).unwrap();
    let _card = reader::insert(&e.sim, &number, 0).unwrap();
    let slot = slot_with_label("林美華");
    let session = opensc().open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from("246810".to_string())))
        .unwrap();
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(vec![1]),
        ])
        .unwrap()
        .into_iter()
        .next()
        .expect("signing key (PIV AUTH, id 01)");
    let msg = b"{\"purpose\":\"login\",\"nonce\":\"test\"}";
    let sig = session.sign(&Mechanism::Sha256RsaPkcs, key, msg).unwrap();

    // Verify against the certificate the card carries.
    let profile = ecpa_cardproto::profile::parse(&meta.sign_cert_der()).unwrap();
    assert!(profile.key_usage.unwrap().digital_signature);
    let cert_der = meta.sign_cert_der();
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    let rsa_key = cert.public_key().parsed().unwrap();
    let x509_parser::public_key::PublicKey::RSA(k) = rsa_key else {
        panic!("RSA key expected")
    };
    let public = RsaPublicKey::new(
        BigUint::from_bytes_be(k.modulus),
        BigUint::from_bytes_be(k.exponent),
    )
    .unwrap();
    public
        .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), &sig)
        .expect("signature verifies");
}

#[test]
fn three_wrong_pins_lock_the_card_for_good() {
    let e = env();
    let number = natural(&e.sim, "張雅婷", "D223450040", "135790");
    let _card = reader::insert(&e.sim, &number, 1).unwrap();
    let slot = slot_with_label("張雅婷");
    let login = |p: &str| {
        let s = opensc().open_ro_session(slot).unwrap();
        s.login(UserType::User, Some(&AuthPin::from(p.to_string())))
    };
    let code = |r: Result<(), CkError>| match r {
        Err(CkError::Pkcs11(rv, _)) => Some(rv),
        Ok(()) => None,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(code(login("000000")), Some(RvError::PinIncorrect));
    assert_eq!(code(login("000001")), Some(RvError::PinIncorrect));
    assert_eq!(code(login("000002")), Some(RvError::PinLocked));
    assert_eq!(
        code(login("135790")),
        Some(RvError::PinLocked),
        "blocked: the right PIN fails too"
    );
    assert_eq!(
        e.sim.card(&number).unwrap().tries_left,
        0,
        "the lock is persisted"
    );
    // The issuing service resets it.
    e.sim.reset_pin(&number, "864200").unwrap();
    assert_eq!(e.sim.card(&number).unwrap().tries_left, 3);
}

#[test]
fn two_cards_in_two_readers() {
    let e = env();
    let a = natural(&e.sim, "王小明", "A123456789", "123456");
    let spec = NewCard {
        kind: Kind::Organization,
        holder: "交通部公路局".into(),
        national_id: None,
        agency_oid: Some("2.16.886.101.20003.20065.20021".into()),
        pin: "87654321".into(),
        card_number: None,
        variant: Variant::Good,
        seed: None,
    };
    let b = e
        .sim
        .new_card(&spec, OffsetDateTime::now_utc())
        .unwrap()
        .number;
    let _ca = reader::insert(&e.sim, &a, 0).unwrap();
    let _cb = reader::insert(&e.sim, &b, 1).unwrap();
    let l = wait_listing(|l| l.contains("王小明") && l.contains("交通部公路局"));
    assert!(l.contains("王小明") && l.contains("交通部公路局"), "{l}");
    // Both sign independently.
    for (label, pin) in [("王小明", "123456"), ("交通部公路局", "87654321")] {
        let s = opensc().open_ro_session(slot_with_label(label)).unwrap();
        s.login(UserType::User, Some(&AuthPin::from(pin.to_string())))
            .unwrap();
        let k = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(vec![1]),
            ])
            .unwrap()[0];
        assert_eq!(
            s.sign(&Mechanism::Sha256RsaPkcs, k, b"x").unwrap().len(),
            256
        );
    }
}

//! The QA walk-through of hsm-sim's README, through the real binary: create cards, insert
//! one (a detached process keeps it in the reader), see it with OpenSC's tools, lock it
//! with wrong PINs, eject it. Runs its own pcscd (`Private`), so it never touches the machine's readers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hsm_sim::pcscd::Private;
use std::{process::Command, time::Duration};

const OPENSC: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

fn sim(state: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hsm-sim"))
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p11(args: &[&str]) -> String {
    let out = Command::new("pkcs11-tool")
        .args(["--module", OPENSC])
        .args(args)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..50 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn qa_walk_through() {
    let _pcscd =
        Private::start().expect("a private pcscd with vpcd readers (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path();

    let (ok, _, err) = sim(st, &["card", "list"]);
    assert!(!ok && err.contains("hsm-sim init"), "{err}");
    assert!(sim(st, &["init"]).0);

    let (ok, out, err) = sim(
        st,
        &[
            "--json",
            "card",
            "new",
            "--kind",
            "natural",
            "--name",
            "王小明",
            "--national-id",
            "A123456789",
            "--pin",
            "123456",
            "--seed",
            "7",
        ],
    );
    assert!(ok, "{err}");
    let card: serde_json::Value = serde_json::from_str(&out).unwrap();
    let number = card["number"].as_str().unwrap().to_string();
    assert_eq!(card["sign_certificate"]["id_last4"], "6789");
    assert_eq!(card["sign_certificate"]["usage"], "digitalSignature");
    // --seed makes the card number deterministic.
    let other = tempfile::tempdir().unwrap();
    sim(other.path(), &["init"]);
    let (_, out2, _) = sim(
        other.path(),
        &[
            "--json",
            "card",
            "new",
            "--kind",
            "natural",
            "--name",
            "王小明",
            "--national-id",
            "A123456789",
            "--pin",
            "123456",
            "--seed",
            "7",
        ],
    );
    let card2: serde_json::Value = serde_json::from_str(&out2).unwrap();
    assert_eq!(card2["number"], card["number"]);

    let (ok, _, err) = sim(
        st,
        &[
            "card",
            "new",
            "--kind",
            "org",
            "--agency-name",
            "交通部",
            "--agency-oid",
            "2.16.886.101.20003.20065",
            "--pin",
            "12345",
        ],
    );
    assert!(!ok && err.contains("PIN"), "short PIN refused: {err}");
    assert!(
        sim(
            st,
            &[
                "card",
                "new",
                "--kind",
                "org",
                "--agency-name",
                "交通部",
                "--agency-oid",
                "2.16.886.101.20003.20065",
                "--pin",
                "12345678"
            ]
        )
        .0
    );

    let (ok, _, err) = sim(st, &["insert", "GP00000000000000"]);
    assert!(!ok && err.contains("card not found"), "{err}");

    let (ok, out, err) = sim(st, &["insert", &number, "--reader", "1"]);
    assert!(ok, "{err}");
    assert!(out.contains("inserted into reader 1"));
    let (ok, _, err) = sim(st, &["insert", &number, "--reader", "1"]);
    assert!(!ok && err.contains("reader 1 is occupied"), "{err}");
    eventually("token listed", || p11(&["-L"]).contains("王小明"));
    let (_, status, _) = sim(st, &["status"]);
    assert!(
        status.contains(&format!("reader 1: card {number}")),
        "{status}"
    );

    // Lock it with wrong PINs, through OpenSC.
    assert!(p11(&["--login", "--pin", "000000", "-O"]).contains("CKR_PIN_INCORRECT"));
    assert!(p11(&["--login", "--pin", "000001", "-O"]).contains("CKR_PIN_INCORRECT"));
    assert!(p11(&["--login", "--pin", "000002", "-O"]).contains("CKR_PIN_LOCKED"));
    assert!(p11(&["--login", "--pin", "123456", "-O"]).contains("CKR_PIN_LOCKED"));
    let (_, out, _) = sim(st, &["--json", "card", "show", &number]);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["locked"], true);

    // The issuer's changes reach the card while it stays in the reader (another process
    // serves it): a new PIN works at once; a lock blocks at once.
    let (ok, _, err) = sim(st, &["card", "reset-pin", &number, "--pin", "654321"]);
    assert!(ok, "{err}");
    let listed = p11(&["--login", "--pin", "654321", "-O"]);
    assert!(
        !listed.contains("CKR_"),
        "the new PIN works without re-inserting: {listed}"
    );
    let (ok, _, err) = sim(st, &["card", "lock", &number]);
    assert!(ok, "{err}");
    assert!(p11(&["--login", "--pin", "654321", "-O"]).contains("CKR_PIN_LOCKED"));
    let (ok, _, err) = sim(st, &["card", "reset-pin", &number, "--pin", "123456"]);
    assert!(ok, "{err}");
    assert!(!p11(&["--login", "--pin", "123456", "-O"]).contains("CKR_"));

    let (ok, out, _) = sim(st, &["eject", "--reader", "1"]);
    assert!(ok && out.contains("ejected"), "{out}");
    eventually("token gone", || !p11(&["-L"]).contains("王小明"));
    let (ok, _, err) = sim(st, &["eject", "--reader", "1"]);
    assert!(!ok && err.contains("empty"), "{err}");
}

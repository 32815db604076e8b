//! The agent on the real card stack, no mocks: SoftHSM directly, and an hsm-sim card in a
//! vpcd reader of pcscd through OpenSC's PKCS#11 module (the production path), card work in
//! the agent's own worker processes. Each test runs its own pcscd (`Private`), so the
//! machine's readers (a demo left running) are never touched, and pcscd can be stopped and
//! restarted under a busy agent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use common::*;
use ecpa_agent::codes;
use hsm_sim::{pcscd::Private, reader};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softhsm_directly() {
    let dir = tempfile::tempdir().unwrap();
    let sim = fresh_sim(dir.path());
    let number = new_card(&sim, "王小明", "123456");
    let app = agent(SOFTHSM, false);
    let info = call(&app, "/pkcs11info?withcert=true", String::new()).await;
    assert_eq!(codes_of(&info), (0, 0), "{info}");
    let token = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["token"]["label"] == number)
        .expect("the card's token")["token"]
        .clone();
    assert_eq!(token["cardSN"], number);
    let usages: Vec<&str> = token["certs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["usage"].as_str().unwrap())
        .collect();
    assert!(
        usages.contains(&"digitalSignature")
            && usages.contains(&"keyEncipherment|dataEncipherment"),
        "{usages:?}"
    );
    let v = sign(&app, "hello ECPA", "123456").await;
    assert_eq!(codes_of(&v), (0, 0), "{v}");
    assert_eq!(v["cardSN"], number);
    verify(&v, b"hello ECPA");
    let wrong = sign(&app, "x", "000000").await;
    assert!(ret_is(&wrong, codes::CARD_LOGIN_FAILED), "{wrong}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensc_and_a_card_in_the_reader() {
    let mut pcscd = Private::start().expect("a private pcscd (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let sim = fresh_sim(dir.path());
    let number = new_card(&sim, "王小明", "123456");
    let app = agent(OPENSC, true);

    // No card yet: every reader listed, none with a token; not an error.
    let v = call(&app, "/pkcs11info", String::new()).await;
    assert_eq!(codes_of(&v), (0, 0), "{v}");
    let slots = v["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2, "{v}");
    assert!(slots.iter().all(|s| s.get("token").is_none()), "{v}");
    let v = sign(&app, "x", "123456").await;
    assert_eq!(
        codes_of(&v),
        w(codes::NO_CARD, codes::last::TOKEN_NOT_PRESENT),
        "{v}"
    );

    let card = reader::insert(&sim, &number, 0).unwrap();
    let info = wait_for(&app, has_token).await;
    assert_eq!(codes_of(&info), (0, 0), "{info}");
    let token = &info["slots"][0]["token"];
    assert_eq!(token["label"], "王小明");
    assert_eq!(token["cardSN"], number, "the card number, from the CHUID");
    assert_eq!(
        token["serialNumber"], number,
        "serialNumber is the card number"
    );
    let certs = token["certs"].as_array().unwrap();
    let signing = certs
        .iter()
        .find(|c| c["usage"] == "digitalSignature")
        .expect("signing certificate");
    assert_eq!(signing["subjectID"], "6789");
    assert_eq!(signing["label"], "cert1");
    // The card carries its CA certificates too, as real cards do; they are labelled as the
    // real component labels them and never chosen for signing.
    let labels: Vec<&str> = certs.iter().filter_map(|c| c["label"].as_str()).collect();
    assert_eq!(
        labels,
        ["ROOT CA Cert", "CA Cert", "cert1", "cert2"],
        "the real order"
    );
    let ca = certs.iter().find(|c| c["label"] == "CA Cert").unwrap();
    assert!(
        ca["usage"].as_str().unwrap().contains("keyCertSign"),
        "{ca}"
    );
    let dn = signing["subjectDN"].as_str().unwrap();
    assert!(dn.starts_with("C=TW,") && !dn.contains(", "), "{dn}");
    assert!(certs
        .iter()
        .any(|c| c["usage"] == "keyEncipherment|dataEncipherment"));

    // Sign and verify.
    let v = sign(&app, "{\"hello\":\"card\"}", "123456").await;
    assert_eq!(codes_of(&v), (0, 0), "{v}");
    verify(&v, b"{\"hello\":\"card\"}");
    assert_eq!(
        v["certb64"], signing["certb64"],
        "signed with the signing certificate's key"
    );

    // A PIN of the wrong length never reaches the card (the counter stays at 3).
    let v = sign(&app, "x", "12345").await;
    assert_eq!(
        codes_of(&v),
        w(codes::CARD_LOGIN_FAILED, codes::last::PIN_LEN_RANGE)
    );
    assert_eq!(sim.card(&number).unwrap().tries_left, 3);

    // Wrong PINs: tries left, then locked; the right PIN then fails too.
    let v = sign(&app, "x", "000000").await;
    assert_eq!(
        codes_of(&v),
        w(codes::CARD_LOGIN_FAILED, codes::last::TWO_TRIES_LEFT),
        "{v}"
    );
    let v = sign(&app, "x", "000001").await;
    assert_eq!(
        codes_of(&v),
        w(codes::CARD_LOGIN_FAILED, codes::last::ONE_TRY_LEFT),
        "{v}"
    );
    let v = sign(&app, "x", "000002").await;
    assert_eq!(
        codes_of(&v),
        w(codes::CARD_LOGIN_FAILED, codes::last::PIN_LOCKED),
        "{v}"
    );
    let v = sign(&app, "x", "123456").await;
    assert_eq!(
        codes_of(&v),
        w(codes::CARD_LOGIN_FAILED, codes::last::PIN_LOCKED),
        "{v}"
    );

    // The issuer resets the PIN; the card is pulled out before signing: a clean answer.
    sim.reset_pin(&number, "654321").unwrap();
    card.eject();
    let v = wait_for(&app, |v| {
        v["slots"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s.get("token").is_none()))
    })
    .await;
    assert_eq!(codes_of(&v), (0, 0), "{v}");
    let v = sign(&app, "x", "654321").await;
    assert!(ret_is(&v, codes::NO_CARD), "{v}");

    // Back in, and pulled out while signing: success or a clean "no card", never a hang.
    let card = reader::insert(&sim, &number, 1).unwrap();
    wait_for(&app, has_token).await;
    let app2 = app.clone();
    let signing = tokio::spawn(async move { sign(&app2, "racing", "654321").await });
    tokio::time::sleep(Duration::from_millis(5)).await;
    card.eject();
    let v = tokio::time::timeout(Duration::from_secs(40), signing)
        .await
        .expect("answered in time")
        .unwrap();
    assert!(
        [
            codes::OK,
            codes::NO_CARD,
            codes::CARD_ERROR,
            codes::EXE_TIMEOUT
        ]
        .iter()
        .any(|c| ret_is(&v, *c)),
        "{v}"
    );

    // No reader at all (this test's pcscd gone): a different answer from "no card".
    pcscd.stop();
    let v = wait_for(&app, |v| ret_is(v, codes::NO_READER)).await;
    assert!(ret_is(&v, codes::NO_READER), "{v}");
}

/// pcscd stops and comes back while the agent is busy (what happens on Windows when the last
/// reader is unplugged, or when the PC/SC service restarts): every request is answered within
/// the card deadline plus a margin, with a code, and once pcscd and the card are back, the
/// card signs again. Before card work ran in killable workers, OpenSC deadlocked in
/// `C_GetTokenInfo` here and the agent never answered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pcscd_stops_and_restarts_under_a_busy_agent() {
    let mut pcscd = Private::start().expect("a private pcscd (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let sim = fresh_sim(dir.path());
    let number = new_card(&sim, "王小明", "123456");
    let app = agent(OPENSC, true);
    let card = reader::insert(&sim, &number, 0).unwrap();
    assert!(has_token(&wait_for(&app, has_token).await));

    let limit = Duration::from_secs(CARD_TIMEOUT_SECS * 2 + 10);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut busy = vec![];
    for i in 0..3 {
        let (app, stop) = (app.clone(), stop.clone());
        busy.push(tokio::spawn(async move {
            let mut answered = 0u32;
            let mut slowest = Duration::ZERO;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = std::time::Instant::now();
                let v = tokio::time::timeout(limit, async {
                    if i == 0 {
                        sign(&app, "busy", "123456").await
                    } else {
                        call(&app, "/pkcs11info?withcert=true", String::new()).await
                    }
                })
                .await
                .expect("the agent answered within its deadline");
                slowest = slowest.max(t.elapsed());
                assert!(v["ret_code"].is_i64(), "{v}");
                answered += 1;
            }
            (answered, slowest)
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    pcscd.stop();
    drop(card);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let v = wait_for(&app, |v| ret_is(v, codes::NO_READER)).await;
    assert!(ret_is(&v, codes::NO_READER), "{v}");
    pcscd.restart().unwrap();
    let _card = reader::insert(&sim, &number, 0).unwrap();
    let v = wait_for(&app, has_token).await;
    assert!(has_token(&v), "{v}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        let (answered, slowest) = b.await.unwrap();
        assert!(answered > 0);
        assert!(slowest < limit, "{slowest:?}");
    }
    let v = sign(&app, "after the restart", "123456").await;
    assert_eq!(codes_of(&v), (0, 0), "{v}");
    verify(&v, b"after the restart");
}

/// `signatureType: "PKCS7"` through the real stack, verified by OpenSSL (`openssl cms
/// -verify`) against the simulator's test PKI: the exact `tbs` is the content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs7_verifies_with_openssl() {
    let _pcscd = Private::start().expect("a private pcscd (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let sim = fresh_sim(dir.path());
    let number = new_card(&sim, "王小明", "123456");
    let pki = dir.path().join("exported-pki");
    let app = agent(OPENSC, true);
    let _card = reader::insert(&sim, &number, 0).unwrap();
    wait_for(&app, has_token).await;
    for (tbs, hash, with_time) in [
        ("登入 eCPA+測試/=", "SHA256", "true"),
        ("plain text", "SHA1", "false"),
        ("SHA-512 content", "SHA512", ""),
    ] {
        let pkg = json!({"func":"MakeSignature","signatureType":"PKCS7","tbs":tbs,"tbsEncoding":"","hashAlgorithm":hash,"pin":"123456","withSigningTime":with_time,"nonce":""});
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("tbsPackage", &pkg.to_string())
            .finish();
        let v = call(&app, "/sign", body).await;
        assert_eq!(codes_of(&v), (0, 0), "{v}");
        assert_eq!(v["cardSN"], number);
        let der = B64.decode(v["signature"].as_str().unwrap()).unwrap();
        let content =
            openssl_cms_verify(&der, &pki).unwrap_or_else(|e| panic!("openssl cms -verify: {e}"));
        assert_eq!(content, tbs.as_bytes(), "the exact tbs");
        // A changed content fails verification (the oracle can say no).
        let mut bad = der.clone();
        if let Some(i) = bad.windows(tbs.len()).position(|w| w == tbs.as_bytes()) {
            bad[i] ^= 1;
        }
        assert!(
            openssl_cms_verify(&bad, &pki).is_err(),
            "a tampered SignedData must not verify"
        );
    }
}

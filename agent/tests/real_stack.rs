//! The agent on the real card stack, no mocks: SoftHSM directly, and an hsm-sim card in a
//! vpcd reader of pcscd through OpenSC's PKCS#11 module (the production path). Runs in the
//! `card-readers` nextest group (one test at a time: they share pcscd's readers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::{body::Body, http::Request, Router};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ecpa_agent::{codes, config::Config};
use hsm_sim::{
    pcscd::Pcscd,
    pki::Variant,
    reader,
    sim::{Kind, NewCard, Sim},
};
use http_body_util::BodyExt;
use rsa::{pkcs1v15::Pkcs1v15Sign, BigUint, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tower::ServiceExt;

const PORTAL: &str = "http://127.0.0.1:3000";
const OPENSC: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn agent(module: &str, pcsc: bool) -> Router {
    let cfg = Config {
        modules: vec![module.into()],
        pcsc,
        trusted_sites: vec![PORTAL.into()],
        trust_file: None,
        ..Config::default()
    };
    ecpa_agent::http::router(ecpa_agent::build(&cfg))
}

async fn call(app: &Router, path: &str, body: String) -> Value {
    let req = Request::post(path)
        .header("host", "127.0.0.1:61161")
        .header("origin", PORTAL)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

async fn sign(app: &Router, tbs: &str, pin: &str) -> Value {
    let pkg = json!({"func":"MakeSignature","signatureType":"PKCS1","tbs":tbs,"tbsEncoding":"NONE","hashAlgorithm":"SHA256","pin":pin,"withCardSN":"true"});
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("tbsPackage", &pkg.to_string())
        .finish();
    call(app, "/sign", body).await
}

fn codes_of(v: &Value) -> (u64, u64) {
    (
        v["ret_code"].as_u64().unwrap(),
        v["last_error"].as_u64().unwrap(),
    )
}

fn verify(v: &Value, tbs: &[u8]) {
    let cert = B64.decode(v["certb64"].as_str().unwrap()).unwrap();
    let sig = B64.decode(v["signature"].as_str().unwrap()).unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&cert).unwrap();
    let x509_parser::public_key::PublicKey::RSA(k) = c.public_key().parsed().unwrap() else {
        panic!("RSA")
    };
    let key = RsaPublicKey::new(
        BigUint::from_bytes_be(k.modulus),
        BigUint::from_bytes_be(k.exponent),
    )
    .unwrap();
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(tbs), &sig)
        .expect("the signature verifies with the certificate");
}

fn new_card(sim: &Sim, name: &str, pin: &str) -> String {
    let spec = NewCard {
        kind: Kind::Natural,
        holder: name.into(),
        national_id: Some("A123456789".into()),
        agency_oid: None,
        pin: pin.into(),
        card_number: None,
        variant: Variant::Good,
        seed: None,
    };
    sim.new_card(&spec, time::OffsetDateTime::now_utc())
        .unwrap()
        .number
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softhsm_directly() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(dir.path()).unwrap();
    sim.init(time::OffsetDateTime::now_utc()).unwrap();
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
    assert_eq!(
        wrong["ret_code"].as_u64(),
        Some(u64::from(codes::CARD_LOGIN_FAILED))
    );
}

async fn wait_for<F: Fn(&Value) -> bool>(app: &Router, f: F) -> Value {
    let mut last = Value::Null;
    for _ in 0..50 {
        last = call(app, "/pkcs11info?withcert=true", String::new()).await;
        if f(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensc_and_a_card_in_the_reader() {
    let pcscd = Pcscd::ensure().expect("pcscd (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::open(dir.path()).unwrap();
    sim.init(time::OffsetDateTime::now_utc()).unwrap();
    let number = new_card(&sim, "王小明", "123456");
    let app = agent(OPENSC, true);

    // No card yet: the reader is there, the card is not.
    let v = call(&app, "/pkcs11info", String::new()).await;
    assert_eq!(
        v["ret_code"].as_u64(),
        Some(u64::from(codes::NO_CARD)),
        "{v}"
    );

    let card = reader::insert(&sim, &number, 0).unwrap();
    let info = wait_for(&app, |v| v["ret_code"] == 0).await;
    assert_eq!(codes_of(&info), (0, 0), "{info}");
    let token = &info["slots"][0]["token"];
    assert_eq!(token["label"], "王小明");
    assert_eq!(token["cardSN"], number, "the card number, from the CHUID");
    let certs = token["certs"].as_array().unwrap();
    let signing = certs
        .iter()
        .find(|c| c["usage"] == "digitalSignature")
        .expect("signing certificate");
    assert_eq!(signing["subjectID"], "6789");
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
        (
            u64::from(codes::CARD_LOGIN_FAILED),
            u64::from(codes::last::PIN_LEN_RANGE)
        )
    );
    assert_eq!(sim.card(&number).unwrap().tries_left, 3);

    // Wrong PINs: tries left, then locked; the right PIN then fails too.
    let v = sign(&app, "x", "000000").await;
    assert_eq!(
        codes_of(&v),
        (
            u64::from(codes::CARD_LOGIN_FAILED),
            u64::from(codes::last::TWO_TRIES_LEFT)
        ),
        "{v}"
    );
    let v = sign(&app, "x", "000001").await;
    assert_eq!(
        codes_of(&v),
        (
            u64::from(codes::CARD_LOGIN_FAILED),
            u64::from(codes::last::ONE_TRY_LEFT)
        ),
        "{v}"
    );
    let v = sign(&app, "x", "000002").await;
    assert_eq!(
        codes_of(&v),
        (
            u64::from(codes::CARD_LOGIN_FAILED),
            u64::from(codes::last::PIN_LOCKED)
        ),
        "{v}"
    );
    let v = sign(&app, "x", "123456").await;
    assert_eq!(
        codes_of(&v),
        (
            u64::from(codes::CARD_LOGIN_FAILED),
            u64::from(codes::last::PIN_LOCKED)
        ),
        "{v}"
    );

    // The issuer resets the PIN; the card is pulled out before signing: a clean answer.
    sim.reset_pin(&number, "654321").unwrap();
    card.eject();
    let v = wait_for(&app, |v| {
        v["ret_code"].as_u64() == Some(u64::from(codes::NO_CARD))
    })
    .await;
    assert_eq!(v["ret_code"].as_u64(), Some(u64::from(codes::NO_CARD)));
    let v = sign(&app, "x", "654321").await;
    assert_eq!(
        v["ret_code"].as_u64(),
        Some(u64::from(codes::NO_CARD)),
        "{v}"
    );

    // Back in, and pulled out while signing: success or a clean "no card", never a hang.
    let card = reader::insert(&sim, &number, 1).unwrap();
    wait_for(&app, |v| v["ret_code"] == 0).await;
    let app2 = app.clone();
    let signing = tokio::spawn(async move { sign(&app2, "racing", "654321").await });
    tokio::time::sleep(Duration::from_millis(5)).await;
    card.eject();
    let v = tokio::time::timeout(Duration::from_secs(40), signing)
        .await
        .expect("answered in time")
        .unwrap();
    let ret = v["ret_code"].as_u64().unwrap();
    assert!(
        ret == 0 || ret == u64::from(codes::NO_CARD) || ret == u64::from(codes::CARD_ERROR),
        "{v}"
    );

    // No reader at all (pcscd gone): a different answer from "no card".
    if pcscd.started_here() {
        drop(pcscd);
        let v = wait_for(&app, |v| {
            v["ret_code"].as_u64() == Some(u64::from(codes::NO_READER))
        })
        .await;
        assert_eq!(
            v["ret_code"].as_u64(),
            Some(u64::from(codes::NO_READER)),
            "{v}"
        );
    } else {
        panic!("a pcscd started outside this test is running: stop it (pkill pcscd) so the no-reader case can be tested");
    }
}

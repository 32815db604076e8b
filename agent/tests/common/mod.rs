//! What the real-stack tests of the agent share: the agent as configured in production but
//! with a short card deadline, requests as sites send them, and checks of the answers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::{body::Body, http::Request, Router};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ecpa_agent::config::Config;
use ecpa_cardproto::hipki::wire;
use hsm_sim::{
    pki::Variant,
    sim::{Kind, NewCard, Sim},
};
use http_body_util::BodyExt;
use rsa::{pkcs1v15::Pkcs1v15Sign, BigUint, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::{path::Path, time::Duration};
use tower::ServiceExt;

pub const PORTAL: &str = "http://127.0.0.1:3000";
pub const OPENSC: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The deadline of one card operation in these tests (a hung worker is killed after it).
pub const CARD_TIMEOUT_SECS: u64 = 6;

pub fn agent(module: &str, pcsc: bool) -> Router {
    let cfg = Config {
        modules: vec![module.into()],
        pcsc,
        trusted_sites: vec![PORTAL.into()],
        trust_file: None,
        card_timeout_secs: CARD_TIMEOUT_SECS,
        // The test binary is not the agent: card workers are the agent's own program.
        worker_exe: Some(env!("CARGO_BIN_EXE_ecpa-agent").into()),
        ..Config::default()
    };
    ecpa_agent::http::router(ecpa_agent::build(&cfg))
}

pub async fn call(app: &Router, path: &str, body: String) -> Value {
    let req = Request::post(path)
        .header("host", "127.0.0.1:61161")
        .header("origin", PORTAL)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

pub async fn sign(app: &Router, tbs: &str, pin: &str) -> Value {
    let pkg = json!({"func":"MakeSignature","signatureType":"PKCS1","tbs":tbs,"tbsEncoding":"NONE","hashAlgorithm":"SHA256","pin":pin,"withCardSN":"true"});
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("tbsPackage", &pkg.to_string())
        .finish();
    call(app, "/sign", body).await
}

/// (`ret_code`, `last_error`) as sent: signed 32-bit numbers, as the real component sends them.
pub fn codes_of(v: &Value) -> (i64, i64) {
    (
        v["ret_code"].as_i64().unwrap(),
        v["last_error"].as_i64().unwrap(),
    )
}

pub fn w(ret: u32, last: u32) -> (i64, i64) {
    (wire(ret), wire(last))
}

pub fn ret_is(v: &Value, code: u32) -> bool {
    v["ret_code"].as_i64() == Some(wire(code))
}

pub fn verify(v: &Value, tbs: &[u8]) {
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

pub fn new_card(sim: &Sim, name: &str, pin: &str) -> String {
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

/// Polls `pkcs11info?withcert=true` until `f` holds (at most 20 s: each call starts a card
/// worker).
pub async fn wait_for<F: Fn(&Value) -> bool>(app: &Router, f: F) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let last = call(app, "/pkcs11info?withcert=true", String::new()).await;
        if f(&last) || std::time::Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn has_token(v: &Value) -> bool {
    v["ret_code"] == 0
        && v["slots"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["token"].is_object()))
}

/// `openssl cms -verify` of a DER SignedData against the simulator's exported test PKI
/// (root + MOICA-like CA): the content on success, OpenSSL's complaint otherwise.
pub fn openssl_cms_verify(der: &[u8], pki: &Path) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().unwrap();
    let (sig, out) = (dir.path().join("sig.p7s"), dir.path().join("content"));
    std::fs::write(&sig, der).unwrap();
    // The root and the issuing CA (OpenSSL 3.0's `cms` has no `-untrusted`; the chain is
    // still checked up to the self-signed root).
    let bundle = dir.path().join("chain.pem");
    let chain = [
        std::fs::read(pki.join("test-grca-root.pem")).unwrap(),
        std::fs::read(pki.join("test-moica.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(&bundle, chain).unwrap();
    let o = std::process::Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
        ])
        .arg(&sig)
        .arg("-CAfile")
        .arg(&bundle)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl");
    if o.status.success() {
        Ok(std::fs::read(&out).unwrap())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// A fresh simulator with its test PKI exported to `<dir>/exported-pki` (`<dir>/pki` is the
/// simulator's own).
pub fn fresh_sim(dir: &Path) -> Sim {
    let sim = Sim::open(dir).unwrap();
    sim.init(time::OffsetDateTime::now_utc()).unwrap();
    sim.export(&dir.join("exported-pki")).unwrap();
    sim
}

/// Any request, with exactly the headers given (plus `Host: localhost:61161`).
pub async fn raw(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost:61161");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(b.body(body.into()).unwrap())
        .await
        .unwrap();
    let (p, body) = res.into_parts();
    (
        p.status,
        p.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

pub fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

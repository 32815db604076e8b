//! Compatibility with what real clients of Chunghwa Telecom's HiPKI Local Server send,
//! request by request, on the real card stack (OpenSC → pcscd → hsm-sim card, card work in
//! the agent's workers). Each client kind is replayed from the facts of its public code (see
//! `agent/README.md`, "Compatibility"): what it sends, with which headers, and every field it
//! reads from the answer. PKCS7 answers are verified by OpenSSL, not by our own code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use common::*;
use ecpa_agent::codes;
use hsm_sim::{pcscd::Private, reader};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const AGENT_ORIGIN: &str = "http://localhost:61161";

/// Headers of a fetch from the relay window (the agent's own page) for `site`.
fn relayed(site: &str) -> Vec<(&'static str, String)> {
    vec![
        ("origin", AGENT_ORIGIN.into()),
        ("sec-fetch-site", "same-origin".into()),
        ("sec-fetch-mode", "cors".into()),
        ("x-ecpa-relay-origin", site.into()),
        ("content-type", "application/x-www-form-urlencoded".into()),
    ]
}

fn refs<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    h.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// What a real page does to the `tbsPackage` before the raw relay: `encodeURIComponent` of
/// the base64 `tbs` and of the PIN (a HiCOS wrapper, Chunghwa's sign sample derivative).
fn encode_uri_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode_bmp(b: &[u8]) -> String {
    assert_eq!(&b[..2], b"BM");
    assert_eq!(b.len(), 54 + 2000 * 3);
    // getImageData(i,0,1,1).data = [R, G, B, A]; pages stop when data[2] (B, the pixel's
    // first file byte) is 0 and append String.fromCharCode(data[2], data[1], data[0]).
    let mut out = String::new();
    for px in b[54..].chunks(3) {
        let (b0, g, r) = (px[0], px[1], px[2]);
        if b0 == 0 {
            break;
        }
        out.extend([b0 as char, g as char, r as char]);
    }
    out
}

/// The relay window a site opens: the agent's page, which says `getTbs` to its opener.
async fn relay_page_opens(app: &axum::Router, path: &str) {
    let (s, _, page) = raw(app, "GET", path, &[("sec-fetch-dest", "document")], "").await;
    assert_eq!(s, 200, "{path}");
    assert!(String::from_utf8_lossy(&page).contains("getTbs"), "{path}");
}

struct Lab {
    _pcscd: Private,
    _dir: tempfile::TempDir,
    pki: std::path::PathBuf,
    sim: hsm_sim::sim::Sim,
    number: String,
    _card: reader::Inserted,
    app: axum::Router,
}

async fn lab() -> Lab {
    let pcscd = Private::start().expect("a private pcscd (as root; `make setup`)");
    let dir = tempfile::tempdir().unwrap();
    let sim = fresh_sim(dir.path());
    let number = new_card(&sim, "王小明", "123456");
    let card = reader::insert(&sim, &number, 0).unwrap();
    let app = agent(OPENSC, true);
    assert!(has_token(&wait_for(&app, has_token).await));
    Lab {
        _pcscd: pcscd,
        pki: dir.path().join("exported-pki"),
        _dir: dir,
        sim,
        number,
        _card: card,
        app,
    }
}

/// A 自然人憑證 login site on the popupForm relay (Chunghwa's readCertificate sample, the
/// 台中通 login page): GetUserCert, then MakeSignature PKCS7 of a base64 `tbs` with `+` and
/// `/`, pre-escaped as those pages do, sent raw by the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popup_form_site_reads_the_card_and_gets_a_pkcs7_signature() {
    let l = lab().await;
    relay_page_opens(&l.app, "/popupForm").await;

    // GetUserCert → pkcs11info?withcert=true, through the relay.
    let h = relayed(PORTAL);
    let (_, _, b) = raw(&l.app, "POST", "/pkcs11info?withcert=true", &refs(&h), "").await;
    let v = json_of(&b);
    assert_eq!(v["func"], "pkcs11info");
    assert_eq!(
        (v["ret_code"].as_i64(), v["last_error"].as_i64()),
        (Some(0), Some(0))
    );
    assert!(v["serverVersion"].as_str().unwrap().starts_with("1.3.4."));
    let slots = v["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2, "every reader is listed");
    let slot = slots.iter().find(|s| s["token"].is_object()).unwrap();
    assert!(
        slots.iter().any(|s| s.get("token").is_none()),
        "the empty reader has no token"
    );
    let token = &slot["token"];
    assert_eq!(
        token["serialNumber"],
        l.number.as_str(),
        "卡號 = serialNumber"
    );
    let certs = token["certs"].as_array().unwrap();
    let cert1 = certs
        .iter()
        .find(|c| c["label"] == "cert1")
        .expect("cert1 (signing)");
    let cert2 = certs
        .iter()
        .find(|c| c["label"] == "cert2")
        .expect("cert2 (encryption)");
    assert_eq!(cert1["usage"], "digitalSignature");
    assert_eq!(cert2["usage"], "keyEncipherment|dataEncipherment");
    assert_eq!(cert1["subjectID"], "6789");
    for c in [cert1, cert2] {
        for field in [
            "certb64",
            "subjectDN",
            "issuerDN",
            "sn",
            "notBefore",
            "notAfter",
        ] {
            assert!(
                c[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field}: {c}"
            );
        }
        assert!(c["notAfterT"].as_i64().unwrap() > c["notBeforeT"].as_i64().unwrap());
        // A loan site parser splits the DN on ',' and '=': no spaces, C first.
        let dn = c["subjectDN"].as_str().unwrap();
        let parts: Vec<(&str, &str)> = dn.split(',').map(|p| p.split_once('=').unwrap()).collect();
        assert_eq!(parts[0], ("C", "TW"), "{dn}");
        assert!(
            parts.iter().any(|(k, v)| *k == "CN" && *v == "王小明"),
            "{dn}"
        );
    }

    // MakeSignature, PKCS7, base64 tbs with '+' and '/', escaped as real pages do.
    let content: Vec<u8> = (0u8..=255).rev().collect(); // base64 of this has '+' and '/'
    let tbs = B64.encode(&content);
    assert!(tbs.contains('+') && tbs.contains('/'));
    let package = format!(
        r#"{{"func":"MakeSignature","signatureType":"PKCS7","tbs":"{}","tbsEncoding":"base64","hashAlgorithm":"SHA256","pin":"{}","nonce":"","withCardSN":"true","slotDescription":"{}"}}"#,
        encode_uri_component(&tbs),
        encode_uri_component("123456"),
        slot["slotDescription"].as_str().unwrap()
    );
    // The relay: "tbsPackage=" + the page's text, not encoded again.
    let (_, _, b) = raw(
        &l.app,
        "POST",
        "/sign",
        &refs(&h),
        format!("tbsPackage={package}"),
    )
    .await;
    let v = json_of(&b);
    assert_eq!(
        (v["ret_code"].as_i64(), v["last_error"].as_i64()),
        (Some(0), Some(0)),
        "{v}"
    );
    assert_eq!(v["func"], "sign");
    assert_eq!(
        v["cardSN"], token["serialNumber"],
        "ICToken compares cardSN with serialNumber"
    );
    assert_eq!(v["certb64"], cert1["certb64"]);
    let der = B64.decode(v["signature"].as_str().unwrap()).unwrap();
    let signed = openssl_cms_verify(&der, &l.pki).unwrap_or_else(|e| panic!("openssl: {e}"));
    assert_eq!(signed, content, "the exact tbs, '+' and '/' intact");

    // A '+' a page forgot to escape arrives as a space, as with the real component: the
    // base64 no longer decodes to the same bytes and the card is asked nothing.
    let unescaped = format!(
        r#"{{"signatureType":"PKCS7","tbs":"{tbs}","tbsEncoding":"base64","pin":"123456"}}"#
    );
    let (_, _, b) = raw(
        &l.app,
        "POST",
        "/sign",
        &refs(&h),
        format!("tbsPackage={unescaped}"),
    )
    .await;
    let v = json_of(&b);
    if v["ret_code"] == 0 {
        let der = B64.decode(v["signature"].as_str().unwrap()).unwrap();
        assert_ne!(openssl_cms_verify(&der, &l.pki).unwrap(), content);
    }
}

/// Sites that detect the component and list readers with the picture (Chunghwa's
/// checkVersion sample, a MOICA login page): `GET /p11Image.bmp?<time>` with
/// `crossOrigin="Anonymous"`, decoded from the pixels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p11_image_detection() {
    let l = lab().await;
    let img = [
        ("origin", PORTAL),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-dest", "image"),
    ];
    let (s, h, b) = raw(&l.app, "GET", "/p11Image.bmp?1765000000000", &img, "").await;
    assert_eq!(s, 200);
    assert_eq!(h["access-control-allow-origin"], PORTAL);
    let v: Value = serde_json::from_str(&decode_bmp(&b)).unwrap();
    assert_eq!(v["ret_code"], 0);
    let slots = v["slots"].as_array().unwrap();
    let token = slots.iter().find_map(|s| s["token"].as_object()).unwrap();
    assert_eq!(token["serialNumber"], l.number.as_str());
    assert!(
        token.get("certs").is_none(),
        "no certificates in the picture"
    );
    // The file's bytes read as text (the Edge/Safari path: from byte 54 to the first 0).
    let text: String = b[54..]
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as char)
        .collect();
    assert!(serde_json::from_str::<Value>(&text).is_ok());

    // A site not trusted reads that it is not (and offers /addDomain), nothing more.
    let other = [
        ("origin", "https://unknown.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-dest", "image"),
    ];
    let (_, _, b) = raw(&l.app, "GET", "/p11Image.bmp", &other, "").await;
    let v: Value = serde_json::from_str(&decode_bmp(&b)).unwrap();
    assert_eq!(v["ret_code"], codes::SITE_NOT_TRUSTED);
    assert_eq!(v["slots"], json!([]));
}

/// A program on the computer (zkID's native client): `GET /pkcs11info?withcert=true`, then
/// `POST /sign` as a form with `{tbs, pin, hashAlgorithm, signatureType: PKCS1}`, no Origin,
/// no fetch metadata. Also `RAW` (a HiCOS wrapper): the base64 of a SHA-256 digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_program() {
    let l = lab().await;
    let (s, h, b) = raw(&l.app, "GET", "/pkcs11info?withcert=true", &[], "").await;
    assert_eq!(s, 200);
    assert!(h.get("access-control-allow-origin").is_none());
    let v = json_of(&b);
    assert_eq!(v["ret_code"], 0);
    let form = |pkg: Value| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("tbsPackage", &pkg.to_string())
            .finish()
    };
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let pkg = json!({"tbs": "zkID challenge 123", "pin": "123456", "hashAlgorithm": "SHA256", "signatureType": "PKCS1"});
    let (_, _, b) = raw(&l.app, "POST", "/sign", &ct, form(pkg)).await;
    let v = json_of(&b);
    for field in [
        "func",
        "ret_code",
        "last_error",
        "signature",
        "certb64",
        "cardSN",
        "version",
    ] {
        assert!(v.get(field).is_some(), "zkID requires {field}: {v}");
    }
    assert_eq!(v["ret_code"], 0, "{v}");
    verify(&v, b"zkID challenge 123");

    let digest = Sha256::digest(b"pre-hashed elsewhere");
    let pkg = json!({"tbs": B64.encode(digest), "tbsEncoding": "base64", "pin": "123456", "signatureType": "RAW"});
    let (_, _, b) = raw(&l.app, "POST", "/sign", &ct, form(pkg)).await;
    let v = json_of(&b);
    assert_eq!(v["ret_code"], 0, "{v}");
    verify(&v, b"pre-hashed elsewhere");

    // A portal challenge is never signed for a program: it names a site.
    let c = ecpa_cardproto::challenge::Challenge {
        purpose: ecpa_cardproto::challenge::Purpose::Login,
        origin: PORTAL.into(),
        nonce: ecpa_cardproto::challenge::nonce_text(&[9; 32]),
        issued_at: 1_795_000_000,
    };
    let (_, _, b) = raw(
        &l.app,
        "POST",
        "/sign",
        &ct,
        form(json!({"tbs": c.to_tbs(), "pin": "123456"})),
    )
    .await;
    assert!(ret_is(&json_of(&b), codes::ORIGIN_MISMATCH));
}

/// Bad input gets a clear code and nothing happens on the card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_touches_nothing() {
    let l = lab().await;
    let h = relayed(PORTAL);
    let sign = |pkg: String| {
        let (app, h) = (l.app.clone(), h.clone());
        async move {
            let (_, _, b) = raw(
                &app,
                "POST",
                "/sign",
                &refs(&h),
                format!("tbsPackage={pkg}"),
            )
            .await;
            json_of(&b)
        }
    };
    let cases = [
        (
            r#"{"func":"umakeSig","tbs":"x","pin":"123456"}"#.to_string(),
            codes::UNSUPPORTED_METHOD,
            0,
        ),
        (
            r#"{"tbs":"x","pin":"123456""#.to_string(),
            codes::BAD_JSON,
            0,
        ),
        (
            format!(r#"{{"tbs":"{}","pin":"123456"}}"#, "x".repeat(40_000)),
            codes::BAD_PARAMETER,
            0,
        ),
        (
            r#"{"tbs":"x","pin":"12345"}"#.to_string(),
            codes::CARD_LOGIN_FAILED,
            codes::last::PIN_LEN_RANGE,
        ),
        (
            r#"{"tbs":"x","pin":"123456789"}"#.to_string(),
            codes::CARD_LOGIN_FAILED,
            codes::last::PIN_LEN_RANGE,
        ),
        (r#"{"tbs":"x","pin":""}"#.to_string(), codes::NO_PIN, 0),
        (
            r#"{"tbs":"x","pin":"123456","signatureType":"XML"}"#.to_string(),
            codes::BAD_PARAMETER,
            0,
        ),
    ];
    for (pkg, ret, last) in cases {
        let v = sign(pkg.clone()).await;
        assert_eq!(codes_of(&v), w(ret, last), "{pkg}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(
        l.sim.card(&l.number).unwrap().tries_left,
        3,
        "no PIN try was spent"
    );
    // Over 64 KiB: refused before it is read whole.
    let (_, _, b) = raw(
        &l.app,
        "POST",
        "/sign",
        &refs(&h),
        format!("tbsPackage={}", "A".repeat(70_000)),
    )
    .await;
    assert!(ret_is(&json_of(&b), codes::BAD_PARAMETER));
    // The picture only answers GET.
    let (s, _, _) = raw(&l.app, "POST", "/p11Image.bmp", &[], "x").await;
    assert_eq!(s, 405);
    let (s, _, b) = raw(
        &l.app,
        "GET",
        "/p11Image.bmp?%ZZ&&==",
        &[("sec-fetch-mode", "no-cors")],
        "",
    )
    .await;
    assert_eq!(s, 200, "a junk query is ignored");
    assert!(serde_json::from_str::<Value>(&decode_bmp(&b)).is_ok());
}

/// Chunghwa's ICToken library over `/ChtPopupForm` (organization-card sites): `CheckEnvir`
/// (`stDa`: `serverVersion` compared as a string with the library's minimum, every slot's
/// `token.serialNumber` kept as the card id), `GetUserCert` (`gtCrt`: the last certificate
/// whose `usage` matches /digitalSignature/i, or whose `id` matches `keyidb64`), then
/// `MakeSignature` with the library's package (`getInfo()`: `"__NotExistedTag__"` for unset
/// parameters, `cardid`, `userpin`, `+` escaped as `%2B`); `StSgn` refuses a signature whose
/// `cardSN` differs from the card id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ictoken_library_over_cht_popup_form() {
    let l = lab().await;
    relay_page_opens(&l.app, "/ChtPopupForm").await;
    let h = relayed(PORTAL);

    // CheckEnvir → pkcs11info.
    let (_, _, b) = raw(&l.app, "POST", "/pkcs11info", &refs(&h), "").await;
    let v = json_of(&b);
    assert_eq!(v["ret_code"], 0);
    let version = v["serverVersion"].as_str().unwrap();
    // The library's minimum for Windows (its WbSckVrsn), compared as JS localeCompare does.
    assert!("1.3.4.103319" <= version, "{version}");
    let slots = v["slots"].as_array().unwrap();
    assert!(slots[0].is_object());
    let (index, slot) = slots
        .iter()
        .enumerate()
        .find(|(_, s)| !s["token"].is_null() && s.get("token").is_some())
        .unwrap();
    let card_id = slot["token"]["serialNumber"].as_str().unwrap().to_string();
    let reader = slot["slotDescription"].as_str().unwrap().to_string();
    assert_eq!(card_id, l.number);

    // GetUserCert → pkcs11info?withcert=true; the library takes the last digitalSignature match.
    let (_, _, b) = raw(&l.app, "POST", "/pkcs11info?withcert=true", &refs(&h), "").await;
    let v = json_of(&b);
    let certs = v["slots"][index]["token"]["certs"].as_array().unwrap();
    let chosen = certs
        .iter()
        .rfind(|c| {
            c["usage"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .contains("digitalsignature")
        })
        .unwrap();
    assert_eq!(chosen["label"], "cert1");
    let keyidb64 = chosen["id"].as_str().unwrap().to_string();

    // MakeSignature (UserSign(B64ToBeSign, PIN, "SHA256", cb, "PKCS7", keyidb64)), as getInfo() builds it.
    let content = b"ICToken+organization/sign-in=test".to_vec();
    let tbs = B64.encode(&content);
    let pkg = json!({
        "tbs": tbs, "tbsEncoding": "base64", "hashAlgorithm": "SHA256",
        "pin": "123456", "userpin": "123456", "func": "MakeSignature", "signatureType": "PKCS7",
        "readername": reader, "slotDescription": reader, "cardid": card_id,
        "checkValidity": "__NotExistedTag__", "keyidb64": keyidb64, "nonce": "__NotExistedTag__",
        "withSigningTime": "__NotExistedTag__", "withCardSN": "__NotExistedTag__",
    })
    .to_string()
    .replace('+', "%2B");
    let (_, _, b) = raw(
        &l.app,
        "POST",
        "/sign",
        &refs(&h),
        format!("tbsPackage={pkg}"),
    )
    .await;
    let v = json_of(&b);
    assert_eq!(v["ret_code"], 0, "{v}");
    assert_eq!(
        v["cardSN"],
        card_id.as_str(),
        "StSgn: cardSN must equal the card id"
    );
    let der = B64.decode(v["signature"].as_str().unwrap()).unwrap();
    assert_eq!(openssl_cms_verify(&der, &l.pki).unwrap(), content);

    // Another card id, or a key the card does not have: nothing is signed.
    for (field, value) in [("cardid", "GP00000000000000"), ("keyidb64", "AAAA")] {
        let mut p: Value = serde_json::from_str(&pkg.replace("%2B", "+")).unwrap();
        p[field] = json!(value);
        let (_, _, b) = raw(
            &l.app,
            "POST",
            "/sign",
            &refs(&h),
            format!("tbsPackage={}", p.to_string().replace('+', "%2B")),
        )
        .await;
        assert!(ret_is(&json_of(&b), codes::NO_CARD), "{field}");
    }
    assert_eq!(l.sim.card(&l.number).unwrap().tries_left, 3);

    // A wrong PIN: StSgn moves last_error into RCode and reads -2147483646 as two tries left.
    let wrong = pkg.replace("\"123456\"", "\"000000\"");
    let (_, _, b) = raw(
        &l.app,
        "POST",
        "/sign",
        &refs(&h),
        format!("tbsPackage={wrong}"),
    )
    .await;
    let v = json_of(&b);
    assert_eq!(v["ret_code"], codes::CARD_LOGIN_FAILED);
    assert_eq!(v["last_error"], -2_147_483_646);
}

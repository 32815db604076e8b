//! OCSP against a real responder: `openssl ocsp` serving the simulator's CA database
//! (`hsm-sim`'s `index.txt`) with a delegated responder certificate the simulated MOICA
//! issued. Good, revoked, unknown, a responder the CA never authorised, a stale answer, a
//! responder that is down; then through the portal: a card the CRL still calls good is
//! refused at sign-in once OCSP says revoked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ocsp_responder::{delegated_responder, openssl, Responder};
use ecpa_cardproto::{ocsp, refusal::ProofRefusal, verify::check_certificate};
use ecpa_server::{
    cards::{
        ocsp::{OcspChecker, OcspMode},
        trust::CardTrust,
    },
    config::Config,
};
use hsm_sim::{
    pki::{Ca, Variant},
    sim::{Kind, Sim},
};
use std::time::Duration;
use time::OffsetDateTime;

fn card(sim: &Sim) -> hsm_sim::sim::CardMeta {
    common::cards::issue(sim, Kind::Natural, "王小明", "A123456789", Variant::Good)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_a_real_responder() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = Sim::open(&tmp.path().join("sim")).unwrap();
    sim.init(OffsetDateTime::now_utc()).unwrap();
    let pki = tmp.path().join("pki");
    let good = card(&sim);
    let revoked = card(&sim);
    sim.export(&pki).unwrap();
    let mut config = Config::defaults();
    config.card_pki_dir = Some(pki.clone());
    let trust = CardTrust::from_config(&config).unwrap();
    let now = || OffsetDateTime::now_utc().unix_timestamp();
    let checked = |c: &hsm_sim::sim::CardMeta| {
        check_certificate(&trust.get().unwrap(), &c.sign_cert_der(), now()).unwrap()
    };
    let (good_c, revoked_c) = (checked(&good), checked(&revoked));
    // Revoked after the server's CRL copy was made: only OCSP knows.
    sim.revoke(&revoked.number, OffsetDateTime::now_utc())
        .unwrap();
    let signer = delegated_responder(&sim, &pki);
    let mut responder = Responder::start(
        &pki,
        &sim.ocsp_index(Ca::Moica).unwrap(),
        (&signer.0, &signer.1),
    );
    // Issued after the index was written: the responder does not know it.
    let unknown_c = checked(&card(&sim));

    let checker =
        OcspChecker::new(OcspMode::Url(responder.url()), Duration::from_secs(3), 300).unwrap();
    assert_eq!(checker.check(&good_c, now()).await, Ok(()));
    assert_eq!(
        checker.check(&revoked_c, now()).await,
        Err(ProofRefusal::Revoked)
    );
    assert_eq!(
        checker.check(&unknown_c, now()).await,
        Err(ProofRefusal::OcspUnknown)
    );

    // The same exchange, judged by hand: our nonce echoed, nextUpdate one minute on; as at
    // two minutes later the answer is stale.
    let q = ocsp::request(&good_c.der, &good_c.issuer_der, &[7u8; 32]).unwrap();
    let answer = post(&responder.url(), &q.der).await;
    let a = ocsp::check_response(&q, &answer, now()).unwrap();
    assert!(a.nonce_echoed);
    assert_eq!(a.status, ocsp::OcspStatus::Good);
    assert_eq!(
        ocsp::check_response(&q, &answer, now() + 120),
        Err(ocsp::OcspError::Stale)
    );
    // Another request's answer (another nonce): a replay.
    let q2 = ocsp::request(&good_c.der, &good_c.issuer_der, &[8u8; 32]).unwrap();
    assert_eq!(
        ocsp::check_response(&q2, &answer, now()),
        Err(ocsp::OcspError::NonceMismatch)
    );
    // Asked about another certificate.
    let q3 = ocsp::request(&revoked_c.der, &revoked_c.issuer_der, &[7u8; 32]).unwrap();
    assert_eq!(
        ocsp::check_response(&q3, &answer, now()),
        Err(ocsp::OcspError::NotThisCertificate)
    );
    // Garbage.
    assert!(matches!(
        ocsp::check_response(&q, b"<html>", now()),
        Err(ocsp::OcspError::Malformed(_))
    ));

    // A responder the CA never authorised (a self-made certificate for its key).
    let rogue = pki.join("rogue.pem");
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &signer.1,
        "-out",
        rogue.to_str().unwrap(),
        "-days",
        "30",
        "-subj",
        "/C=TW/O=行政院/CN=rogue OCSP",
        "-addext",
        "extendedKeyUsage=OCSPSigning",
        "-utf8",
    ]);
    let mut rogue_responder = Responder::start(
        &pki,
        &sim.ocsp_index(Ca::Moica).unwrap(),
        (rogue.to_str().unwrap(), &signer.1),
    );
    let q = ocsp::request(&good_c.der, &good_c.issuer_der, &[9u8; 32]).unwrap();
    let answer = post(&rogue_responder.url(), &q.der).await;
    assert_eq!(
        ocsp::check_response(&q, &answer, now()),
        Err(ocsp::OcspError::BadSignature)
    );
    let fresh = OcspChecker::new(
        OcspMode::Url(rogue_responder.url()),
        Duration::from_secs(3),
        300,
    )
    .unwrap();
    assert_eq!(
        fresh.check(&good_c, now()).await,
        Err(ProofRefusal::OcspUnavailable)
    );
    drop(rogue_responder.child.take().map(|mut c| c.kill()));

    // The responder down: fail closed.
    let down = responder.url();
    drop(responder.child.take().map(|mut c| {
        let _ = c.kill();
        c.wait()
    }));
    let cold = OcspChecker::new(OcspMode::Url(down), Duration::from_secs(2), 300).unwrap();
    assert_eq!(
        cold.check(&good_c, now()).await,
        Err(ProofRefusal::OcspUnavailable)
    );
    // The answers already had stay for their few minutes.
    assert_eq!(checker.check(&good_c, now()).await, Ok(()));
    responder.restart(&sim.ocsp_index(Ca::Moica).unwrap());
}

async fn post(url: &str, body: &[u8]) -> Vec<u8> {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::post(url)
        .header("content-type", "application/ocsp-request")
        .body(Full::new(bytes::Bytes::copy_from_slice(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    resp.into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

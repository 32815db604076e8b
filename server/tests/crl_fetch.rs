//! The server fetches its CRLs itself, from a real local HTTP server serving the
//! simulator's CRLs: a good CRL is installed and used; a server that is down, slow, answers
//! an error, a truncated body, a CRL under MOICA's name signed by another key, an older CRL
//! number or a stale CRL changes nothing (the last good CRL stays) and is reported; the
//! last good CRL is used until its own nextUpdate, then cards are refused as stale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use ecpa_cardproto::{refusal::ProofRefusal, verify::check_certificate};
use ecpa_server::{
    cards::{
        crl_fetch::{CrlFetcher, FetchError, FetchOptions},
        trust::CardTrust,
    },
    config::Config,
    http_client::HttpError,
};
use hsm_sim::{
    pki::{Ca, Variant},
    sim::{Kind, Sim},
};
use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};
use time::OffsetDateTime;

#[derive(Clone)]
enum Mode {
    Serve,
    Slow,
    Status(u16),
    Truncated,
    Bytes(Vec<u8>),
}

#[derive(Clone)]
struct Repo {
    dir: PathBuf,
    mode: Arc<Mutex<Mode>>,
}

async fn crl(
    State(r): State<Repo>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    let mode = r.mode.lock().unwrap().clone();
    let file = || std::fs::read(r.dir.join("crl").join(&name)).unwrap_or_default();
    match mode {
        Mode::Serve => file().into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            file().into_response()
        }
        Mode::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Mode::Truncated => {
            let b = file();
            b[..b.len() / 2].to_vec().into_response()
        }
        Mode::Bytes(b) => b.into_response(),
    }
}

async fn repo(dir: PathBuf) -> (String, Arc<Mutex<Mode>>) {
    let mode = Arc::new(Mutex::new(Mode::Serve));
    let app = Router::new()
        .route("/crl/{name}", get(crl))
        .with_state(Repo {
            dir,
            mode: mode.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), mode)
}

fn new_card(sim: &Sim) -> hsm_sim::sim::CardMeta {
    common::cards::issue(sim, Kind::Natural, "王小明", "A123456789", Variant::Good)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_verifies_and_keeps_the_last_good_crl() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = Sim::open(&tmp.path().join("sim")).unwrap();
    let now = OffsetDateTime::now_utc();
    sim.init(now).unwrap();
    let pki = sim.state.join("pki");
    let (base, mode) = repo(pki.clone()).await;
    let moica_url = format!("{base}/crl/test-moica.crl");
    let arl_url = format!("{base}/crl/test-grca-root.crl");

    let mut config = Config::defaults();
    config.card_roots = vec![pki.join("test-grca-root.pem")];
    config.card_natural_cas = vec![pki.join("test-moica.pem")];
    config.card_crl_urls = vec![moica_url.clone(), arl_url.clone()];
    config.card_crl_dir = tmp.path().join("fetched");
    let trust = CardTrust::from_config(&config).unwrap();
    let fetcher = CrlFetcher::new(
        trust.clone(),
        config.card_crl_dir.clone(),
        config.card_crl_urls.clone(),
        FetchOptions {
            timeout: Duration::from_secs(2),
            max_bytes: 1 << 20,
        },
    );
    let card = new_card(&sim);
    let decide = || {
        check_certificate(
            &trust.get().unwrap(),
            &card.sign_cert_der(),
            OffsetDateTime::now_utc().unix_timestamp(),
        )
        .map(|_| ())
    };
    let state = |url: &str| fetcher.states().into_iter().find(|s| s.url == url).unwrap();

    // Nothing fetched yet: no CRL, refused.
    assert_eq!(decide(), Err(ProofRefusal::CrlMissing));
    assert_eq!(state(&moica_url).status, "pending");
    // Both fetched: accepted.
    fetcher.attempt(&moica_url).await;
    fetcher.attempt(&arl_url).await;
    assert_eq!(state(&moica_url).status, "ok", "{:?}", state(&moica_url));
    assert_eq!(decide(), Ok(()));
    let good_number = state(&moica_url).number.clone().unwrap();

    // Revoked at the CA: refused once the new CRL is fetched.
    sim.revoke(&card.number, OffsetDateTime::now_utc()).unwrap();
    let revoking = std::fs::read(pki.join("crl/test-moica.crl")).unwrap();
    fetcher.attempt(&moica_url).await;
    assert_eq!(decide(), Err(ProofRefusal::Revoked));
    let revoking_number = state(&moica_url).number.clone().unwrap();
    assert_ne!(good_number, revoking_number);

    // Every kind of bad answer: nothing changes, the state says why.
    let mut bad: Vec<(Mode, &str)> = vec![
        (Mode::Status(503), "HTTP status 503"),
        (Mode::Slow, "timed out"),
        (Mode::Truncated, "not a CRL"),
        (
            Mode::Bytes(b"<html>maintenance</html>".to_vec()),
            "not a CRL",
        ),
        // Under MOICA's very name, signed by the look-alike CA's key.
        (
            Mode::Bytes(std::fs::read(pki.join("crl/untrusted-moica.crl")).unwrap()),
            "not signed by any configured CA",
        ),
    ];
    // An older CRL number (the one from before the revocation was published, re-served).
    let older = {
        // Re-issue, then serve the previous file.
        let previous = revoking.clone();
        sim.write_crls(OffsetDateTime::now_utc(), false).unwrap();
        fetcher.attempt(&moica_url).await;
        assert_eq!(state(&moica_url).status, "ok");
        previous
    };
    bad.push((Mode::Bytes(older), "older than"));
    // A stale CRL (nextUpdate already past), even though it is newer.
    sim.write_crls(OffsetDateTime::now_utc(), true).unwrap();
    let stale = std::fs::read(pki.join("crl/test-moica.crl")).unwrap();
    bad.push((Mode::Bytes(stale), "past its nextUpdate"));
    let in_use = state(&moica_url).number.clone();
    for (m, why) in bad {
        *mode.lock().unwrap() = m;
        let wait = fetcher.attempt(&moica_url).await;
        let st = state(&moica_url);
        assert_eq!(st.status, "failing", "{why}: {st:?}");
        assert!(
            st.last_error.as_deref().unwrap_or_default().contains(why),
            "{why}: {st:?}"
        );
        assert_eq!(st.number, in_use, "{why}: the last good CRL stays");
        assert!(wait <= 36 * (1 << st.failures.min(6)), "back-off {wait} s");
        assert_eq!(decide(), Err(ProofRefusal::Revoked), "{why}");
    }
    assert!(state(&moica_url).failures >= 7);

    // The server down altogether.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = CrlFetcher::new(
        trust.clone(),
        config.card_crl_dir.clone(),
        vec![format!("http://{closed}/crl/test-moica.crl")],
        FetchOptions::default(),
    );
    let err = down
        .fetch_once(&format!("http://{closed}/crl/test-moica.crl"))
        .await;
    assert!(
        matches!(err, Err(FetchError::Http(HttpError::Network(_)))),
        "{err:?}"
    );

    // The good CRL is back: taken again, counters reset.
    *mode.lock().unwrap() = Mode::Serve;
    sim.write_crls(OffsetDateTime::now_utc(), false).unwrap();
    fetcher.attempt(&moica_url).await;
    assert_eq!(state(&moica_url).failures, 0);
    assert_eq!(state(&moica_url).status, "ok");
    // The fetched files are what the trust reads (a restart keeps them).
    let kept = std::fs::read_dir(&config.card_crl_dir).unwrap().count();
    assert_eq!(kept, 2);

    // The last good CRL serves until its own nextUpdate, then cards are refused as stale.
    let st = state(&moica_url);
    let after = st.next_update.unwrap() + 1;
    assert_eq!(
        check_certificate(
            &trust.get().unwrap(),
            &new_card(&sim).sign_cert_der(),
            after
        )
        .map(|_| ()),
        Err(ProofRefusal::CrlStale)
    );
    let _ = Ca::Moica;
}

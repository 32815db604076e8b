//! The ECPA card agent: a local component that speaks the HiPKI Local Server protocol over
//! PKCS#11 and PC/SC, and refuses to be used by sites the user did not trust.

pub mod add_domain;
pub mod card;
pub mod codes;
pub mod config;
pub mod http;
pub mod own_user;
pub mod pkcs11;
pub mod pkcs7;
pub mod platform;
pub mod readers;
pub mod service;
pub mod trust;
pub mod worker;

use std::{net::SocketAddr, sync::Arc, time::Duration};

/// Builds the agent from its configuration.
pub fn build(cfg: &config::Config) -> Arc<http::AppState> {
    let deadline = Duration::from_secs(cfg.card_timeout_secs);
    let worker_exe = cfg
        .worker_exe
        .clone()
        .or_else(|| std::env::current_exe().ok());
    let (readers, tokens): (Option<Arc<dyn card::Readers>>, Arc<dyn card::Tokens>) =
        match worker_exe.filter(|_| cfg.isolate) {
            Some(exe) => {
                let w = Arc::new(worker::Isolated::new(
                    exe,
                    cfg.modules.clone(),
                    cfg.pcsc,
                    deadline,
                ));
                let readers: Option<Arc<dyn card::Readers>> =
                    if cfg.pcsc { Some(w.clone()) } else { None };
                (readers, w)
            }
            None => {
                if cfg.isolate {
                    tracing::warn!(
                        "cannot find the agent's own program: card work runs in-process"
                    );
                }
                let mut tokens = pkcs11::Pkcs11Tokens::new(cfg.modules.clone());
                tokens.fresh_per_call = cfg.pcsc;
                let readers: Option<Arc<dyn card::Readers>> = if cfg.pcsc {
                    Some(Arc::new(readers::PcscReaders))
                } else {
                    None
                };
                (readers, Arc::new(tokens))
            }
        };
    let mut agent = service::Agent::new(readers, tokens);
    agent.hipki_version = cfg.hipki_version.clone();
    // The agent's own limit sits above the worker's deadline, so a killed worker's answer
    // (0x7600000D) is what the page sees; waiting for the card is bounded by the same.
    agent.op_timeout = deadline + Duration::from_secs(5);
    agent.wait_for_card = deadline + Duration::from_secs(5);
    let trust = trust::Trust::new(cfg.trusted_sites.clone(), cfg.trust_file.clone());
    Arc::new(http::AppState::new(agent, trust, cfg.port))
}

/// Serves until the process is stopped; `ready` gets the bound address.
pub async fn serve(
    cfg: config::Config,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> std::io::Result<()> {
    cfg.validate().map_err(std::io::Error::other)?;
    let state = build(&cfg);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(cfg.listen, cfg.port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "ECPA card agent {} listening on http://{addr}",
        service::VERSION
    );
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    axum::serve(own_user::OwnUserOnly::new(listener), http::router(state)).await
}

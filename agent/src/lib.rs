//! The ECPA card agent: a local component that speaks the HiPKI Local Server protocol over
//! PKCS#11 and PC/SC, and refuses to be used by sites the user did not trust.

pub mod card;
pub mod codes;
pub mod config;
pub mod http;
pub mod pkcs11;
pub mod readers;
pub mod service;
pub mod trust;

use std::{net::SocketAddr, sync::Arc};

/// Builds the agent from its configuration.
pub fn build(cfg: &config::Config) -> Arc<http::AppState> {
    let mut tokens = pkcs11::Pkcs11Tokens::new(cfg.modules.clone());
    tokens.fresh_per_call = cfg.pcsc;
    let tokens = Arc::new(tokens);
    let readers: Option<Arc<dyn card::Readers>> = if cfg.pcsc {
        Some(Arc::new(readers::PcscReaders))
    } else {
        None
    };
    let agent = service::Agent::new(readers, tokens);
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
    axum::serve(listener, http::router(state)).await
}

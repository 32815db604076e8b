//! The ECPA portal server.
//!
//! * [`config`]: settings from defaults, a TOML file and the environment.
//! * [`db`] and [`store`]: the database (SQLite or PostgreSQL) and its SQL.
//! * [`service`]: the server-side services behind the app's server functions.
//! * [`content`]: announcements, search, polls, links, FAQ, counters, password reset, admin.
//! * [`mail`]: outgoing mail (SMTP, or an outbox folder in development).
//! * [`web`]: the HTTP edge (router, middleware, headers, health, error pages).
//! * [`hashing`], [`tokens`]: password hashing and random tokens.

pub mod batch;
pub mod cards;
pub mod catalog;
pub mod config;
pub mod content;
mod content_defaults;
pub mod crl_fetch;
pub mod db;
pub mod demo;
pub mod error;
pub mod hashing;
pub mod http_client;
pub mod limits;
pub mod mail;
pub mod ocsp;
pub mod personnel;
pub mod pki_check;
pub mod service;
pub mod store;
pub mod tokens;
pub mod trust;
pub mod web;

use crate::{config::Config, db::Db, error::Result, service::Portal};
use leptos::prelude::LeptosOptions;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::sync::oneshot;

/// Leptos's options for our site: the compiled assets under `config.site_root`.
pub fn leptos_options(config: &Config) -> Result<LeptosOptions> {
    let mut opts = leptos::config::get_configuration(None)
        .map_err(|e| error::ServerError::Config(format!("leptos: {e}")))?
        .leptos_options;
    opts.site_root = config.site_root.display().to_string().into();
    opts.site_addr = config.listen;
    if opts.output_name.is_empty() {
        opts.output_name = "ecpa".into();
    }
    Ok(opts)
}

/// Connects, migrates and builds the portal services.
pub async fn portal(config: Config) -> Result<Arc<Portal>> {
    let db = Db::connect(&config.database_url, config.db_max_connections).await?;
    db.migrate().await?;
    let portal = Portal::new(db, Arc::new(config), service::system_clock())?;
    content::ensure_defaults(&portal.db.pool, portal.now()).await?;
    tracing::info!("mail goes to the {}", portal.mailer.describe());
    Ok(Arc::new(portal))
}

/// Serves until Ctrl-C / SIGTERM. `ready` receives the bound address once listening.
pub async fn serve(portal: Arc<Portal>, ready: Option<oneshot::Sender<SocketAddr>>) -> Result<()> {
    let options = leptos_options(&portal.config)?;
    let app = web::router(portal.clone(), options);
    let listener = tokio::net::TcpListener::bind(portal.config.listen).await?;
    let addr = listener.local_addr()?;

    if let Some(f) = &portal.crl_fetcher {
        f.spawn();
    }
    let janitor = portal.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            let now = janitor.now();
            match store::purge_sessions(&janitor.db.pool, now, janitor.sessions.idle_timeout).await
            {
                Ok(n) if n > 0 => tracing::debug!(removed = n, "expired sessions purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
            if let Err(e) = cards::purge_challenges(&janitor.db.pool, now).await {
                tracing::warn!(error = %e, "challenge purge failed");
            }
        }
    });

    tracing::info!(
        "listening on http://{addr} (public origin {})",
        portal.config.origin_string()
    );
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

//! The ECPA portal server, one module per feature (each implements its port of the app's
//! API on [`portal::Portal`] and holds its own SQL):
//!
//! * [`auth`]: password sign-in, sessions, cookies, the operator's account commands.
//! * [`cards`]: certificate sign-in and upload, the trust store, CRLs, OCSP, `pki check`.
//! * [`my_area`]: 我的專區 and opening an application system.
//! * [`content`]: home page, announcements and search, polls, agencies, links, FAQ.
//! * [`reset`]: password reset by e-mail link. [`admin`]: the administrator's changes.
//! * [`catalog`]: the application systems and to-dos. [`personnel`]: the registry import.
//! * [`http`]: the HTTP edge (router, middleware, rate limits, headers, error pages).
//!
//! Underneath: [`portal`] (the state), [`audit`] (the audit log), [`config`], [`db`] and
//! [`batch`] (SQLite or PostgreSQL, writes that commit together), [`mail`], [`hashing`],
//! [`tokens`], [`http_client`].

pub mod admin;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod cards;
pub mod catalog;
pub mod config;
pub mod content;
pub mod db;
pub mod demo;
pub mod error;
pub mod hashing;
pub mod http;
pub mod http_client;
pub mod mail;
pub mod my_area;
pub mod personnel;
pub mod portal;
pub mod reset;
pub mod tokens;

use crate::{config::Config, db::Db, error::Result, portal::Portal};
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
    // Pages name the site's files by their version (http::assets), except under watch.
    if !http::assets::watched() {
        if let Some(v) = http::assets::version(&config.site_root)? {
            opts.site_pkg_dir = format!("pkg/{v}").into();
        }
    }
    Ok(opts)
}

/// Connects, migrates and builds the portal services.
pub async fn portal(config: Config) -> Result<Arc<Portal>> {
    let db = Db::connect(&config.database_url, config.db_max_connections).await?;
    db.migrate().await?;
    let portal = Portal::new(db, Arc::new(config), portal::system_clock())?;
    content::defaults::ensure_defaults(&portal.db.pool, portal.now()).await?;
    tracing::info!("mail goes to the {}", portal.mailer.describe());
    Ok(Arc::new(portal))
}

/// Serves until Ctrl-C / SIGTERM. `ready` receives the bound address once listening.
pub async fn serve(portal: Arc<Portal>, ready: Option<oneshot::Sender<SocketAddr>>) -> Result<()> {
    let options = leptos_options(&portal.config)?;
    let app = http::router(portal.clone(), options);
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
            match crate::auth::store::purge_sessions(
                &janitor.db.pool,
                now,
                janitor.sessions.idle_timeout,
            )
            .await
            {
                Ok(n) if n > 0 => tracing::debug!(removed = n, "expired sessions purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
            if let Err(e) = cards::store::purge_challenges(&janitor.db.pool, now).await {
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
    // Small answers go out at once: without TCP_NODELAY a response written in two pieces
    // waits for the client's delayed ACK (~40 ms on Linux) on a kept-alive connection.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
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

//! Certificate sign-in and certificate upload (自然人憑證／機關憑證上傳).

use crate::error::ApiError;
use ecpa_cardproto::{challenge::Purpose, token::ProofToken};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// What the card pages need to know about this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSetup {
    /// Whether certificate sign-in is configured.
    pub enabled: bool,
    /// The card agent's origin (HiPKI Local Server compatible), e.g. http://127.0.0.1:61161.
    pub agent_origin: String,
    /// This portal's origin, for /addDomain.
    pub portal_origin: String,
}

pub use ecpa_cardproto::kind::CardKind;

/// The result of looking a certificate up before asking for the PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertLookup {
    pub bound: bool,
    /// What the certificate's profile says it is (`None`: neither profile).
    pub kind: Option<CardKind>,
}

/// Step 3 of the upload: what the user confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindPreview {
    pub kind: CardKind,
    /// Holder name (natural) or agency name (organization).
    pub holder: String,
    pub card_number: String,
    pub issuer: String,
    /// ROC dates.
    pub valid_from: String,
    pub valid_to: String,
    /// National ID last four (natural) or agency OID (organization).
    pub identifier: String,
    /// Organization only: editable contact e-mail (prefilled from the registry).
    pub contact_email: Option<String>,
    pub account: String,
}

/// A bound certificate, as My Area lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundCert {
    pub id: String,
    pub kind: CardKind,
    pub subject: String,
    pub card_number: String,
    pub valid_to: String,
    pub bound_at: String,
    pub last_used: Option<String>,
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::api::context::{LoginGranted, RequestCtx};
    use async_trait::async_trait;

    /// Certificate sign-in and upload.
    #[async_trait]
    pub trait CardBackend: Send + Sync + 'static {
        async fn card_setup(&self) -> Result<CardSetup, ApiError>;
        /// A new challenge for this browser session (an anonymous session is started if there
        /// is none: returned as cookies to set).
        async fn card_challenge(
            &self,
            ctx: &RequestCtx,
            purpose: Purpose,
        ) -> Result<(String, Vec<String>), ApiError>;
        async fn cert_lookup(&self, certificate_b64: &str) -> Result<CertLookup, ApiError>;
        async fn cert_login(
            &self,
            ctx: &RequestCtx,
            token: &ProofToken,
        ) -> Result<LoginGranted, ApiError>;
        async fn bind_start(
            &self,
            ctx: &RequestCtx,
            account: &str,
            password: &str,
            kind: CardKind,
        ) -> Result<Vec<String>, ApiError>;
        async fn bind_start_signed_in(&self, ctx: &RequestCtx) -> Result<(), ApiError>;
        async fn bind_verify(
            &self,
            ctx: &RequestCtx,
            token: &ProofToken,
        ) -> Result<BindPreview, ApiError>;
        async fn bind_confirm(
            &self,
            ctx: &RequestCtx,
            contact_email: Option<String>,
            note: Option<String>,
        ) -> Result<(), ApiError>;
        async fn my_certificates(&self, ctx: &RequestCtx) -> Result<Vec<BoundCert>, ApiError>;
        async fn remove_certificate(&self, ctx: &RequestCtx, id: &str) -> Result<(), ApiError>;
    }
}

#[cfg(feature = "ssr")]
use {
    crate::api::context::{port, request_ctx, set_cookies},
    server::CardBackend,
};

#[server(endpoint = "card_setup")]
pub async fn get_card_setup() -> Result<CardSetup, ApiError> {
    port::<dyn CardBackend>()?.card_setup().await
}

/// A fresh challenge (the exact text the card signs) for this browser session.
#[server(endpoint = "card_challenge")]
pub async fn card_challenge(purpose: Purpose) -> Result<String, ApiError> {
    let ctx = request_ctx()?;
    let (tbs, cookies) = port::<dyn CardBackend>()?
        .card_challenge(&ctx, purpose)
        .await?;
    set_cookies(&cookies);
    Ok(tbs)
}

/// Whether the card's signing certificate is bound to an account.
#[server(endpoint = "cert_lookup")]
pub async fn lookup_certificate(certificate: String) -> Result<CertLookup, ApiError> {
    port::<dyn CardBackend>()?.cert_lookup(&certificate).await
}

/// Certificate sign-in: the card signed a `login` challenge.
#[server(endpoint = "cert_login", input = Json)]
pub async fn cert_login(token: ProofToken) -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    let granted = port::<dyn CardBackend>()?.cert_login(&ctx, &token).await?;
    set_cookies(&granted.set_cookies);
    Ok(())
}

/// Upload, method 1, step 1: the ECPA account and password.
#[server(endpoint = "bind_start")]
pub async fn bind_start(account: String, password: String, kind: CardKind) -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    let cookies = port::<dyn CardBackend>()?
        .bind_start(&ctx, &account, &password, kind)
        .await?;
    set_cookies(&cookies);
    Ok(())
}

/// Upload, method 2 (signed in, natural-person certificate).
#[server(endpoint = "bind_start_signed_in")]
pub async fn bind_start_signed_in() -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    port::<dyn CardBackend>()?.bind_start_signed_in(&ctx).await
}

/// Upload, step 2: the card signed a `bind` challenge; the server checks everything.
#[server(endpoint = "bind_verify", input = Json)]
pub async fn bind_verify(token: ProofToken) -> Result<BindPreview, ApiError> {
    let ctx = request_ctx()?;
    port::<dyn CardBackend>()?.bind_verify(&ctx, &token).await
}

/// Upload, step 3: confirm (organization: contact e-mail and a note).
#[server(endpoint = "bind_confirm")]
pub async fn bind_confirm(
    contact_email: Option<String>,
    note: Option<String>,
) -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    port::<dyn CardBackend>()?
        .bind_confirm(&ctx, contact_email, note)
        .await
}

#[server(endpoint = "my_certificates")]
pub async fn my_certificates() -> Result<Vec<BoundCert>, ApiError> {
    let ctx = request_ctx()?;
    port::<dyn CardBackend>()?.my_certificates(&ctx).await
}

#[server(endpoint = "remove_certificate")]
pub async fn remove_certificate(id: String) -> Result<(), ApiError> {
    let ctx = request_ctx()?;
    port::<dyn CardBackend>()?
        .remove_certificate(&ctx, &id)
        .await
}

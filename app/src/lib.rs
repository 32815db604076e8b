//! The ECPA portal's user interface: one Leptos codebase rendered on the server (`ssr`)
//! and hydrated in the browser (`hydrate`).
//!
//! * [`api`] holds the server functions and every type that crosses the wire. Server
//!   functions are thin: they read the request context the server put in, call the
//!   server-side [`api::backend::PortalBackend`], and translate the answer.
//! * [`error`] is the one place where failures become Traditional Chinese text.
//! * [`pages`] and [`components`] are the screens.

pub mod api;
pub mod card_client;
pub mod components;
pub mod error;
pub mod pages;
pub mod wording;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::components::layout::Layout;
use crate::pages::{
    admin::{
        AdminAnnouncementEditPage, AdminAnnouncementsPage, AdminAppsPage, AdminFaqPage,
        AdminHomePage, AdminLinksPage, AdminPollsPage,
    },
    agencies::AgenciesPage,
    announcements::{AnnouncementPage, AnnouncementsPage, SearchPage},
    app_launch::AppLaunchPage,
    cert_login::CertLoginPage,
    cert_upload::{CertUploadPage, MyCertUploadPage},
    forgot_password::{ForgotPasswordPage, ResetDonePage, ResetPasswordPage},
    help::{FaqListPage, FaqPage, GuidePage, ManualPage},
    help_card::HelpCardAgentPage,
    home::HomePage,
    my_area::MyAreaPage,
    not_found::NotFoundPage,
    polls::PollsPage,
};

/// The HTML document around the app (server side only renders this).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="zh-Hant-TW">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link
                    rel="stylesheet"
                    id="leptos"
                    href=format!("/{}/ecpa.css", options.site_pkg_dir)
                />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The document title for a page title. On the server it is also HTML-escaped:
/// leptos_meta 0.8 writes the `<title>` text into the server-rendered page as is, so a
/// stored title such as `</title><script>…` would otherwise become markup. In the browser
/// the text is assigned to `document.title` and must stay unescaped.
pub fn page_title(t: &str) -> String {
    let full = if t.is_empty() {
        "eCPA人事服務網".to_string()
    } else {
        format!("{t} - eCPA人事服務網")
    };
    if cfg!(feature = "ssr") {
        full.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        full
    }
}

/// The Content-Security-Policy of a page rendered with `nonce`: scripts only with the
/// nonce (and what they load: `strict-dynamic`), WebAssembly allowed to compile, styles
/// from this site (style attributes allowed: the poll's bars), no framing, no plugins,
/// forms and requests to this site only. Development builds also let the hot-reload
/// socket of `cargo leptos watch` connect.
pub fn content_security_policy(nonce: &str) -> String {
    let reload = if cfg!(debug_assertions) {
        " ws://127.0.0.1:3001 ws://localhost:3001"
    } else {
        ""
    };
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'{reload}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    )
}

/// Puts the page's policy, with this response's nonce, on the response.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    let (Some(res), Some(nonce)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        leptos::nonce::use_nonce(),
    ) else {
        return;
    };
    match HeaderValue::from_str(&content_security_policy(&nonce.to_string())) {
        Ok(v) => res.insert_header(CONTENT_SECURITY_POLICY, v),
        Err(_) => tracing::error!("content security policy is not a valid header value"),
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    set_content_security_policy();

    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Meta name="description" content="行政院人事行政總處 eCPA人事服務網" />
        <Title formatter=|t: String| page_title(&t) />
        <Router>
            <Layout>
                <Routes fallback=NotFoundPage>
                    // Pages that load data render whole on the server (async mode), so
                    // they work in a browser without JavaScript too.
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/my") view=MyAreaPage ssr=SsrMode::Async />
                    <Route path=path!("/apps/:code") view=AppLaunchPage ssr=SsrMode::Async />
                    <Route path=path!("/login/certificate") view=CertLoginPage />
                    <Route path=path!("/cert/upload/:kind") view=CertUploadPage />
                    <Route path=path!("/my/cert-upload") view=MyCertUploadPage />
                    <Route path=path!("/help/card-agent") view=HelpCardAgentPage />
                    <Route path=path!("/password/forgot") view=ForgotPasswordPage />
                    <Route
                        path=path!("/password/reset")
                        view=ResetPasswordPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/password/done") view=ResetDonePage />
                    <Route path=path!("/announcements") view=AnnouncementsPage ssr=SsrMode::Async />
                    <Route path=path!("/announcements/search") view=SearchPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/announcements/:id")
                        view=AnnouncementPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/polls") view=PollsPage ssr=SsrMode::Async />
                    <Route path=path!("/agencies") view=AgenciesPage ssr=SsrMode::Async />
                    <Route path=path!("/help/start") view=GuidePage />
                    <Route path=path!("/help/manual") view=ManualPage />
                    <Route path=path!("/faq") view=FaqListPage ssr=SsrMode::Async />
                    <Route path=path!("/faq/:id") view=FaqPage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=AdminHomePage ssr=SsrMode::Async />
                    <Route
                        path=path!("/admin/announcements")
                        view=AdminAnnouncementsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/announcements/:id")
                        view=AdminAnnouncementEditPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/admin/polls") view=AdminPollsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/links") view=AdminLinksPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/faq") view=AdminFaqPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/apps") view=AdminAppsPage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}

/// Browser entry point: attach to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}

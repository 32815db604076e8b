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
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::components::layout::Layout;
use crate::pages::{
    app_launch::AppLaunchPage,
    cert_login::CertLoginPage,
    cert_upload::{CertUploadPage, MyCertUploadPage},
    forgot_password::ForgotPasswordPage,
    help_card::HelpCardAgentPage,
    home::HomePage,
    my_area::MyAreaPage,
    not_found::NotFoundPage,
    section::SectionPage,
};

/// The HTML document around the app (server side only renders this).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="zh-Hant-TW">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/ecpa.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Meta name="description" content="行政院人事行政總處 eCPA人事服務網"/>
        <Title formatter=|t: String| if t.is_empty() { "eCPA人事服務網".to_string() } else { format!("{t} - eCPA人事服務網") }/>
        <Router>
            <Layout>
                <Routes fallback=NotFoundPage>
                    // Pages that load data render whole on the server (async mode), so
                    // they work in a browser without JavaScript too.
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/my") view=MyAreaPage ssr=SsrMode::Async/>
                    <Route path=path!("/apps/:code") view=AppLaunchPage ssr=SsrMode::Async/>
                    <Route path=path!("/login/certificate") view=CertLoginPage/>
                    <Route path=path!("/cert/upload/:kind") view=CertUploadPage/>
                    <Route path=path!("/my/cert-upload") view=MyCertUploadPage/>
                    <Route path=path!("/help/card-agent") view=HelpCardAgentPage/>
                    <Route path=path!("/password/forgot") view=ForgotPasswordPage/>
                    <Route path=path!("/announcements") view=|| view! { <SectionPage title="最新公告"/> }/>
                    <Route path=path!("/polls") view=|| view! { <SectionPage title="主題投票"/> }/>
                    <Route path=path!("/agencies") view=|| view! { <SectionPage title="機關組織"/> }/>
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

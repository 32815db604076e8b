use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// 404: rendered for any path no route matches, with a real 404 status on the server.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="找不到網頁" />
        <section class="card prose" aria-labelledby="nf-title">
            <h1 id="nf-title">"找不到您要的網頁"</h1>
            <p>"網址可能有誤，或該網頁已移除。"</p>
            <p>
                <A href="/" attr:class="btn btn--primary">
                    "返回首頁"
                </A>
            </p>
        </section>
    }
}

use leptos::prelude::*;
use leptos_meta::Title;

/// A portal section whose content is not published on this site yet.
#[component]
pub fn SectionPage(title: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <section class="card prose" aria-labelledby="section-title">
            <h1 id="section-title">{title}</h1>
            <p class="notice" role="status">"此區塊尚未開放，敬請期待。"</p>
        </section>
    }
}

//! 忘記密碼. Online reset by e-mail comes later; until then, say who can help.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <Title text="忘記密碼"/>
        <section class="card prose" aria-labelledby="forgot-title">
            <h1 id="forgot-title">"忘記密碼"</h1>
            <p class="notice" role="status">"線上重設密碼功能尚未開放。"</p>
            <p>"請洽貴機關人事單位協助重設密碼；若您已上傳自然人憑證，也可以改用憑證登入。"</p>
            <p><A href="/" attr:class="btn btn--secondary">"返回首頁"</A></p>
        </section>
    }
}

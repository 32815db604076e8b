//! 首頁: the login box for visitors, a way on for signed-in users.

use crate::api::current_user;
use crate::components::login_box::LoginBox;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next"));

    view! {
        <Title text=""/>
        <div class="home-grid">
            <div class="home-main">
                <section class="card intro" aria-labelledby="intro-title">
                    <h1 id="intro-title">"eCPA人事服務網"</h1>
                    <p>
                        "全國公務人員的人事服務入口：以帳號密碼、自然人憑證或機關憑證登入後，"
                        "於「我的專區」查看電子頁卡、待辦事項與人事應用系統。"
                    </p>
                </section>
            </div>
            <aside class="home-side">
                <Suspense fallback=|| view! { <section class="card login-box" aria-busy="true"><p>"載入中…"</p></section> }>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! {
                                <section class="card login-box" aria-labelledby="welcome-title">
                                    <h2 id="welcome-title">"歡迎回來"</h2>
                                    <p>{u.display_name}" 您好，您已登入。"</p>
                                    <A href="/my" attr:class="btn btn--primary">"前往我的專區"</A>
                                </section>
                            }.into_any(),
                            _ => view! { <LoginBox next=next().unwrap_or_default()/> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="hint">"如果您為第一次登入或使用上有疑問，請洽貴機關人事單位。"</p>
            </aside>
        </div>
    }
}

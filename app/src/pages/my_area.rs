//! 我的專區 (My Area). Requires sign-in: the server redirects signed-out visitors before
//! rendering, and the page redirects again if the session ends while it is open.

use crate::api::{load_my_area, Logout};
use crate::error::ApiError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn MyAreaPage() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let data = Resource::new(|| (), |_| load_my_area());

    view! {
        <Title text="我的專區"/>
        <Suspense fallback=|| view! { <p class="loading" aria-busy="true">"載入中…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(ApiError::Unauthenticated) => view! { <Redirect path="/?next=/my"/> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any(),
                    Ok(area) => view! {
                        <div class="my-area">
                            <nav class="my-area__side card" aria-label="我的專區選單">
                                <h1 class="my-area__title">"我的專區"</h1>
                                <ul>
                                    <li><a href="#ecard">"電子頁卡"</a></li>
                                    <li><a href="#todo">"待辦事項"</a></li>
                                    <li><a href="#apps">"應用系統"</a></li>
                                </ul>
                            </nav>
                            <div class="my-area__main">
                                <section class="card whoami" aria-labelledby="whoami-title">
                                    <h2 id="whoami-title" class="visually-hidden">"登入者"</h2>
                                    <p class="whoami__line">
                                        <span class="whoami__name" id="signed-in-name">{area.user.display_name.clone()}</span>
                                        " （帳號 "<span id="signed-in-account">{area.user.account.clone()}</span>"）已登入"
                                    </p>
                                    <ActionForm action=logout attr:class="logout-form">
                                        <button type="submit" class="btn btn--secondary" id="logout">"登出"</button>
                                    </ActionForm>
                                </section>
                                <section class="card" id="ecard" aria-labelledby="ecard-title">
                                    <h2 id="ecard-title">"電子頁卡"</h2>
                                    <dl class="facts">
                                        <dt>"姓名"</dt><dd>{area.user.display_name}</dd>
                                        <dt>"帳號"</dt><dd>{area.user.account}</dd>
                                        <dt>"本次登入"</dt><dd>{area.signed_in_at}</dd>
                                        <dt>"上次登入"</dt><dd>{area.previous_sign_in.unwrap_or_else(|| "（首次登入）".into())}</dd>
                                    </dl>
                                    <p class="hint">{format!("閒置 {} 分鐘後將自動登出。", area.idle_timeout_minutes)}</p>
                                </section>
                                <section class="card" id="todo" aria-labelledby="todo-title">
                                    <h2 id="todo-title">"待辦事項"</h2>
                                    <p>"目前沒有待辦事項。"</p>
                                </section>
                                <section class="card" id="apps" aria-labelledby="apps-title">
                                    <h2 id="apps-title">"應用系統"</h2>
                                    <p>"應用系統清單依人事資料開放；人事資料匯入後即顯示您可使用的系統。"</p>
                                </section>
                            </div>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

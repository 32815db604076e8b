//! 首頁, as in the seed's screen: the counters and today's ROC date, 最新公告 with
//! [更多], 公告搜尋, 主題投票, 人事業務連結, the help links and the login box.

use crate::api::auth::current_user;
use crate::api::content::{load_home, HomeData};
use crate::components::content::{failed, loading, AnnouncementList, PollPanel};
use crate::components::login_box::LoginBox;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let home = Resource::new(|| (), |_| load_home());
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next"));

    view! {
        <Title text="" />
        <div class="home-grid">
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match home.await {
                        Ok(h) => {
                            view! {
                                <HomeStrip home=h.clone() />
                                <HomeBody home=h />
                            }
                                .into_any()
                        }
                        Err(e) => failed(e),
                    }
                })}
            </Suspense>
            <aside class="home-side">
                <Suspense fallback=|| {
                    view! {
                        <section class="card login-box" aria-busy="true">
                            <p>"載入中…"</p>
                        </section>
                    }
                }>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => {
                                view! {
                                    <section class="card login-box" aria-labelledby="welcome-title">
                                        <h2 id="welcome-title">"歡迎回來"</h2>
                                        <p>{u.display_name}" 您好，您已登入。"</p>
                                        <A href="/my" attr:class="btn btn--primary">
                                            "前往我的專區"
                                        </A>
                                    </section>
                                }
                                    .into_any()
                            }
                            _ => view! { <LoginBox next=next().unwrap_or_default() /> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="hint">
                    "如果您為第一次登入或使用上有疑問，請先點選"
                    <A href="/help/start">"這裡"</A>"。"
                </p>
                <nav class="card help-links" aria-label="使用說明">
                    <ul>
                        <li>
                            <A href="/help/start">"新手上路"</A>
                        </li>
                        <li>
                            <A href="/help/manual">"使用手冊"</A>
                        </li>
                        <li>
                            <A href="/faq">"常見問題"</A>
                        </li>
                    </ul>
                </nav>
            </aside>
        </div>
    }
}

/// 目前線上人數 / 今日總計人數 / 累積上線人數 and 民國 date.
#[component]
fn HomeStrip(home: HomeData) -> impl IntoView {
    let s = home.stats;
    view! {
        <section class="home-strip" aria-label="網站統計">
            <dl class="counters" id="counters">
                <div>
                    <dt>"目前線上人數"</dt>
                    <dd id="count-online">{s.online}</dd>
                </div>
                <div>
                    <dt>"今日總計人數"</dt>
                    <dd id="count-today">{s.today}</dd>
                </div>
                <div>
                    <dt>"累積上線人數"</dt>
                    <dd id="count-total">{s.total}</dd>
                </div>
            </dl>
            <p class="hint counters__as-of" id="counters-as-of">
                {format!("統計時間 {}", s.as_of)}
            </p>
            <p class="today" id="today-roc">
                {home.today}
            </p>
        </section>
    }
}

#[component]
fn HomeBody(home: HomeData) -> impl IntoView {
    let links = home
        .links
        .iter()
        .map(|l| {
            let external = l.url.starts_with("http");
            view! {
                <li>
                    <a
                        href=l.url.clone()
                        target=external.then_some("_blank")
                        rel=external.then_some("noopener noreferrer")
                    >
                        {l.title.clone()}
                        {external
                            .then(|| {
                                view! {
                                    <span class="visually-hidden">"（另開新視窗）"</span>
                                }
                            })}
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="home-main">
            <section class="card" aria-labelledby="latest-title">
                <div class="card__head">
                    <h2 id="latest-title">"最新公告"</h2>
                    <A
                        href="/announcements"
                        attr:id="more-announcements"
                        attr:aria-label="更多最新公告"
                    >
                        "[更多]"
                    </A>
                </div>
                <AnnouncementList items=home.latest id="latest-announcements" />
            </section>
            <section class="card" aria-labelledby="search-title">
                <h2 id="search-title">"公告搜尋"</h2>
                <form method="get" action="/announcements/search" role="search" class="search-form">
                    <label for="search-q" class="visually-hidden">
                        "搜尋公告關鍵字"
                    </label>
                    <input
                        id="search-q"
                        name="q"
                        type="search"
                        maxlength="100"
                        required
                        placeholder="請輸入關鍵字，例如：人事室"
                    />
                    <button type="submit" class="btn btn--secondary" id="search-submit">
                        "搜尋"
                    </button>
                </form>
            </section>
            <section class="card" aria-labelledby="poll-title" id="home-poll">
                <div class="card__head">
                    <h2 id="poll-title">"主題投票"</h2>
                    <A href="/polls">"[更多]"</A>
                </div>
                {match home.poll {
                    Some(p) => view! { <PollPanel poll=p /> }.into_any(),
                    None => view! { <p>"目前沒有進行中的投票。"</p> }.into_any(),
                }}
            </section>
            <section class="card" aria-labelledby="links-title">
                <h2 id="links-title">"人事業務連結"</h2>
                <ul class="link-grid" id="hr-links">
                    {links}
                </ul>
            </section>
        </div>
    }
}

//! The frame every page shares: header, navigation, main content, footer.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Set once the browser has taken over the server-rendered page; the end-to-end tests
    // and the CSS (`[data-hydrated]`) use it to know JavaScript-only controls are live.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <a class="skip-link" href="#main">
            "跳至主要內容"
        </a>
        <header class="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="brand">
                    <span class="brand__org">"行政院人事行政總處"</span>
                    <span class="brand__name">"eCPA人事服務網"</span>
                </A>
            </div>
            <nav class="site-nav" aria-label="主選單">
                <ul>
                    <li>
                        <A href="/" exact=true>
                            "首頁"
                        </A>
                    </li>
                    <li>
                        <A href="/announcements">"最新公告"</A>
                    </li>
                    <li>
                        <A href="/polls">"主題投票"</A>
                    </li>
                    <li>
                        <A href="/agencies">"機關組織"</A>
                    </li>
                    <li>
                        <A href="/my">"我的專區"</A>
                    </li>
                </ul>
            </nav>
        </header>
        <main id="main" class="site-main" tabindex="-1">
            {children()}
        </main>
        <footer class="site-footer">
            <p>"行政院人事行政總處 eCPA人事服務網"</p>
            <p class="site-footer__small">
                "本網站為開放原始碼重建版本；建議使用最新版瀏覽器。"
            </p>
        </footer>
    }
}

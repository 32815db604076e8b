//! 使用憑證登入: what certificate sign-in needs. The card flow itself comes with the card
//! agent; until then this page says honestly what is needed and what to do instead.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn CertLoginPage() -> impl IntoView {
    view! {
        <Title text="使用憑證登入"/>
        <section class="card prose" aria-labelledby="cert-title">
            <h1 id="cert-title">"使用憑證登入"</h1>
            <p>"以自然人憑證或機關憑證登入，您需要："</p>
            <ol>
                <li>"一台讀卡機，並插入您的自然人憑證（MOICA）或機關憑證（GCA）。"</li>
                <li>"在電腦上安裝並啟動憑證元件（本系統的讀卡代理程式，或中華電信 HiPKI 跨平台網頁元件），並將本網站加入信任的網站。"</li>
                <li>"先以 ECPA 帳號密碼完成「憑證上傳」，日後即可直接以憑證及 PIN 碼登入。"</li>
            </ol>
            <p class="notice" role="status">
                "本站的憑證登入功能尚未開放。目前請使用帳號密碼登入。"
            </p>
            <p><A href="/" attr:class="btn btn--primary">"返回首頁以帳號密碼登入"</A></p>
        </section>
    }
}

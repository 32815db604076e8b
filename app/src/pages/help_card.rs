//! 新手上路：安裝讀卡元件 — what a user needs before certificate sign-in, step by step.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn HelpCardAgentPage() -> impl IntoView {
    view! {
        <Title text="新手上路：安裝讀卡元件" />
        <article class="card prose" aria-labelledby="help-card-title">
            <h1 id="help-card-title">"新手上路：安裝讀卡元件"</h1>
            <p>
                "使用自然人憑證或機關憑證登入、上傳憑證時，瀏覽器需要透過電腦上的「讀卡元件」存取卡片。本網站可使用下列任一種元件："
            </p>
            <ul>
                <li>
                    "ECPA 讀卡元件（開放原始碼，Windows、macOS、Linux 皆可使用）。"
                </li>
                <li>"中華電信 HiPKI 跨平台網頁元件（HiPKI Local Server）。"</li>
            </ul>
            <h2>"安裝步驟"</h2>
            <ol>
                <li>"安裝讀卡機驅動程式，將讀卡機連接電腦。"</li>
                <li>
                    "安裝讀卡元件並啟動；元件在本機 127.0.0.1 的 61161 埠等候網頁呼叫（不對外連線）。可在瀏覽器開啟 http://127.0.0.1:61161/ 確認，畫面會顯示版本（version:…）。"
                </li>
                <li>
                    "將 ECPA 網站加入元件信任的網站：在「使用憑證登入」或「憑證上傳」畫面出現「憑證元件尚未信任本網站」時，按「將本網站加入信任的網站」，並在元件視窗中按「信任此網站」。"
                </li>
                <li>
                    "允許本網站開啟彈出式視窗（元件透過一個小視窗與網頁溝通）。"
                </li>
                <li>
                    "插入自然人憑證或機關憑證，回到"
                    <A href="/login/certificate">"使用憑證登入"</A>"。"
                </li>
            </ol>
            <h2>"第一次使用憑證"</h2>
            <p>
                "憑證須先上傳（與 ECPA 帳號綁定）才能登入：點按「使用憑證登入」，系統會自動偵測該憑證是否已上傳；若尚未上傳，會顯示「找不到對應的憑證資訊，請依下列步驟，完成憑證上傳作業」，再依步驟輸入 ECPA 帳號密碼、PIN Code 並確認即可。已登入者也可由「我的專區」→「自然人憑證上傳」辦理。"
            </p>
            <p>
                "機關憑證限人事人員上傳（表二人員區分為 08、服務單位含「人事」字樣，或兼職性質為 5 兼辦人事），且人事資料入檔後隔天起方可使用。"
            </p>
            <h2>"PIN Code"</h2>
            <p>
                "PIN Code 只會送到您電腦上的讀卡元件及卡片，不會傳送到本網站。ECPA 系統驗證之憑證密碼須為 6~8 碼；連續輸入錯誤 3 次卡片將被鎖住，自然人憑證請至內政部憑證管理中心辦理解鎖。"
            </p>
        </article>
    }
}

//! 新手上路, 使用手冊 and 常見問題 (the FAQ list and each entry, by its id).

use crate::api::content::{load_faq, load_faq_list};
use crate::components::content::{failed, loading};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

#[component]
pub fn GuidePage() -> impl IntoView {
    view! {
        <Title text="新手上路" />
        <article class="card prose" aria-labelledby="guide-title">
            <h1 id="guide-title">"新手上路"</h1>
            <p>"第一次使用 eCPA人事服務網？依下列步驟即可開始使用。"</p>
            <h2 id="account">"1. 取得帳號並登入"</h2>
            <p>
                "帳號由貴機關人事單位申請開立。於首頁「登入系統」輸入帳號及密碼後按【登入】。密碼忘記時，請按【忘記密碼】以登錄的電子郵件重設。"
            </p>
            <h2 id="agent">"2. 安裝讀卡元件並信任本網站（使用憑證者）"</h2>
            <ol>
                <li>"安裝讀卡機驅動程式並連接讀卡機。"</li>
                <li>
                    "安裝並啟動讀卡元件（ECPA 讀卡元件，或與其相容的內政部 HiPKI 跨平台網頁元件），元件在 http://127.0.0.1:61161 等候呼叫，只接受本機連線。"
                </li>
                <li>
                    "第一次使用憑證時，頁面會請您將 ECPA 網站加入元件信任的網站：確認元件視窗顯示的網址正是本網站後按【信任】。未經信任的網站無法使用您的卡片。"
                </li>
                <li>
                    "允許本網站開啟彈出式視窗（元件經由小視窗與網頁溝通）。"
                </li>
            </ol>
            <p>
                "完整說明與各種狀態的處理方式請見"
                <A href="/help/card-agent">"讀卡元件安裝說明"</A>"。"
            </p>
            <h2 id="upload">"3. 上傳憑證"</h2>
            <p>
                "憑證須先上傳（與帳號綁定）才能用來登入。自然人憑證任何現職人員皆可上傳；機關憑證限人事人員。操作方式見常見問題"
                <A href="/faq/Q000815">
                    "Q000815 ECPA 如何上傳自然人憑證及機關憑證？"
                </A>"。"
            </p>
            <h2 id="my-area">"4. 使用我的專區"</h2>
            <p>
                "登入後進入「我的專區」：查看電子頁卡、待辦事項，並由「應用系統」進入您有權使用的人事應用系統。"
            </p>
            <p>
                <A href="/" attr:class="btn btn--primary">
                    "回首頁登入"
                </A>
            </p>
        </article>
    }
}

#[component]
pub fn ManualPage() -> impl IntoView {
    view! {
        <Title text="使用手冊" />
        <article class="card prose" aria-labelledby="manual-title">
            <h1 id="manual-title">"使用手冊"</h1>
            <nav aria-label="本頁目錄">
                <ol>
                    <li>
                        <a href="#m-login">"登入與登出"</a>
                    </li>
                    <li>
                        <a href="#m-cert">"憑證登入與憑證上傳"</a>
                    </li>
                    <li>
                        <a href="#m-my">"我的專區"</a>
                    </li>
                    <li>
                        <a href="#m-home">"首頁：公告、搜尋、投票與連結"</a>
                    </li>
                    <li>
                        <a href="#m-password">"忘記密碼"</a>
                    </li>
                    <li>
                        <a href="#m-access">"無障礙與瀏覽器"</a>
                    </li>
                </ol>
            </nav>
            <h2 id="m-login">"一、登入與登出"</h2>
            <p>
                "於首頁輸入帳號與密碼登入。連續輸入錯誤時系統會要求稍候再試，以保護您的帳號；您也可以改用憑證登入。閒置 30 分鐘或登入滿 12 小時後，系統會自動登出。使用公用電腦請記得按【登出】。"
            </p>
            <h2 id="m-cert">"二、憑證登入與憑證上傳"</h2>
            <p>
                "按【使用憑證登入】，系統讀取卡片上的簽章憑證，若已上傳則請您輸入 PIN Code（6～8 碼）後登入；若尚未上傳，依畫面步驟輸入 ECPA 帳號密碼、PIN Code 並確認後完成上傳。PIN Code 只會交給您電腦上的讀卡元件及卡片，不會傳送到本網站。"
            </p>
            <p>
                "已上傳的憑證可在「我的專區」的「我的憑證」查看或移除。"
            </p>
            <h2 id="m-my">"三、我的專區"</h2>
            <ul>
                <li>
                    "電子頁卡：您在人事資料庫中的現職資料（服務機關、單位、職稱、入檔日期等）。"
                </li>
                <li>
                    "待辦事項：需要您處理的事項，例如尚未上傳憑證、調查表填報。"
                </li>
                <li>
                    "應用系統：依您的身分可使用的系統；人事專用系統限人事人員，且於人事資料入檔後隔天起可用。"
                </li>
                <li>
                    "最近活動：您帳號最近的登入、憑證上傳與移除紀錄，發現異常請立即變更密碼並通知人事單位。"
                </li>
            </ul>
            <h2 id="m-home">"四、首頁：公告、搜尋、投票與連結"</h2>
            <p>
                "「最新公告」列出最近的公告，標示 HOT 者為置頂公告，按【更多】可依類別瀏覽全部公告。「公告搜尋」可用標題或內文中的任何字詞搜尋（例如「人事室」），結果會標示符合的文字。「主題投票」登入後每個帳號可投一票，投票後顯示結果。「人事業務連結」提供各業務網站的連結。"
            </p>
            <h2 id="m-password">"五、忘記密碼"</h2>
            <p>
                "按【忘記密碼】，輸入帳號與登錄的電子郵件信箱。若資料相符，系統會寄出重設連結，30 分鐘內有效、僅能使用一次；設定新密碼後，您帳號在其他地方的登入都會被登出。為保護個人資料，畫面不會顯示帳號或信箱是否存在。"
            </p>
            <h2 id="m-access">"六、無障礙與瀏覽器"</h2>
            <p>
                "本網站可完全以鍵盤操作（Tab 鍵移動、Enter 鍵執行），並支援螢幕報讀軟體；每頁開頭有「跳至主要內容」連結。建議使用最新版 Chrome、Edge、Firefox 或 Safari。"
            </p>
        </article>
    }
}

#[component]
pub fn FaqListPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_faq_list());
    view! {
        <Title text="常見問題" />
        <section class="card" aria-labelledby="faq-title">
            <h1 id="faq-title">"常見問題"</h1>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(list) => {
                            let rows = list
                                .into_iter()
                                .map(|f| {
                                    let href = format!("/faq/{}", f.id);
                                    view! {
                                        <li data-id=f.id.clone()>
                                            <span class="faq__id">{f.id.clone()}</span>
                                            " "
                                            <span class="faq__cat">
                                                {format!("［{}］", f.category)}
                                            </span>
                                            <A href=href>{f.question}</A>
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! {
                                <ul class="faq-list" id="faq-list">
                                    {rows}
                                </ul>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn FaqPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, load_faq);
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => {
                        view! {
                            <Title text="常見問題" />
                            {failed(e)}
                            <p>
                                <A href="/faq">"回常見問題"</A>
                            </p>
                        }
                            .into_any()
                    }
                    Ok(f) => {
                        view! {
                            <Title text=f.question.clone() />
                            <article class="card prose faq" aria-labelledby="faq-q">
                                <p class="ann__meta">
                                    <span class="faq__id" id="faq-id">
                                        {f.id.clone()}
                                    </span>
                                    " · "
                                    {f.category.clone()}
                                    " · 更新於 "
                                    {f.updated.clone()}
                                </p>
                                <h1 id="faq-q">{f.question.clone()}</h1>
                                // Sanitised on the server (safe formatting only).
                                <div class="faq__body" id="faq-body" inner_html=f.body_html></div>
                                <p>
                                    <A href="/faq">"回常見問題"</A>
                                </p>
                            </article>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

//! The content a new portal starts with (loaded once, then the administrators own it):
//! the seed's link table (人事業務連結), its poll, and the FAQ entries, Q000815 with the
//! seed's text and its screenshots described in words.

pub struct DefaultLink {
    pub title: &'static str,
    pub url: &'static str,
}

pub const LINKS: &[DefaultLink] = &[
    DefaultLink {
        title: "行政院業務區",
        url: "https://www.ey.gov.tw/",
    },
    DefaultLink {
        title: "公保業務區",
        url: "https://www.bot.com.tw/tw/government-employees-insurance",
    },
    DefaultLink {
        title: "考試院業務區",
        url: "https://www.exam.gov.tw/",
    },
    DefaultLink {
        title: "銓敘部業務區",
        url: "https://www.mocs.gov.tw/",
    },
    DefaultLink {
        title: "研考會業務區",
        url: "https://www.ndc.gov.tw/",
    },
    DefaultLink {
        title: "全國就業e網",
        url: "https://www.taiwanjobs.gov.tw/",
    },
    DefaultLink {
        title: "流感防治資訊",
        url: "https://www.cdc.gov.tw/",
    },
    DefaultLink {
        title: "公務人員赴大陸相關資訊",
        url: "https://www.mac.gov.tw/",
    },
    DefaultLink {
        title: "讀卡元件安裝程式",
        url: "/help/start#agent",
    },
];

pub const POLL_QUESTION: &str = "您覺得eCPA人事服務網最應加強的是什麼？";
pub const POLL_OPTIONS: &[&str] = &[
    "系統穩定性",
    "操作便利性",
    "資訊內容豐富度",
    "網頁回應速度",
    "憑證登入功能",
];

pub struct DefaultFaq {
    pub id: &'static str,
    pub category: &'static str,
    pub question: &'static str,
    pub body_html: &'static str,
}

pub const FAQ: &[DefaultFaq] = &[
    DefaultFaq {
        id: "Q000815",
        category: "憑證登入",
        question: "ECPA 如何上傳自然人憑證及機關憑證？",
        body_html: Q000815,
    },
    DefaultFaq {
        id: "Q000816",
        category: "憑證登入",
        question: "使用憑證時出現「請先安裝讀卡元件」或「請將 ECPA 網站加入信任的網站」怎麼辦？",
        body_html: "<p>憑證登入及上傳需要在您的電腦上執行讀卡元件（與內政部 HiPKI 跨平台網頁元件相容，位址 http://127.0.0.1:61161）。</p>\
<ol><li>依<a href=\"/help/start#agent\">新手上路</a>的說明安裝並啟動讀卡元件。</li>\
<li>第一次使用時，頁面會請讀卡元件詢問您是否信任本網站，請確認網址為本網站後按【信任】，即完成「將 ECPA 網站加入信任的網站」。</li>\
<li>將讀卡機接上電腦並插入卡片後，回到頁面按【重新偵測】。</li></ol>\
<p>詳細的狀態說明請見<a href=\"/help/card-agent\">讀卡元件說明</a>。</p>",
    },
    DefaultFaq {
        id: "Q000817",
        category: "憑證登入",
        question: "憑證 PIN 碼輸錯被鎖住了怎麼辦？",
        body_html: "<p>憑證 PIN 碼為 6～8 碼，連續輸入錯誤達卡片規定次數後，卡片會被鎖住，之後即使輸入正確的 PIN 碼也無法使用。</p>\
<p>自然人憑證請至戶政事務所或內政部憑證管理中心網站辦理 PIN 碼解鎖；機關憑證請洽貴機關憑證管理人員或政府憑證管理中心。解鎖前仍可使用帳號密碼登入。</p>",
    },
    DefaultFaq {
        id: "Q000818",
        category: "帳號密碼",
        question: "忘記密碼怎麼辦？",
        body_html: "<p>請在首頁按【忘記密碼】，輸入帳號及您在本系統登錄的電子郵件信箱，系統會寄出重設密碼連結。連結 30 分鐘內有效、僅能使用一次；重設完成後，您帳號在其他地方的登入都會被登出。</p>\
<p>若未收到信件，請確認信箱是否正確，或洽貴機關人事單位協助。</p>",
    },
];

const Q000815: &str = "<p>自然人憑證及機關憑證上傳操作方式皆同，唯一不同的是上傳者身分限制不同：</p>\
<ul><li><strong>自然人憑證</strong>：不設限，只要存在於本局公務人力資料庫中所有現職人員皆可上傳。</li>\
<li><strong>機關憑證</strong>：除上述條件外，亦須符合 ECPA 系統中定義的人事人員才可上傳。</li></ul>\
<h3>附註：所謂 ECPA 系統中定義的人事人員</h3>\
<p>ECPA 判斷人事人員身分，係依據各機關報送至人事局的人事資料，只要符合下列條件之一，即認定為人事人員：</p>\
<ol><li>表二之【人員區分】欄位為 08 人事人員</li>\
<li>表二之【服務單位】欄位有《人事》字樣（如：人事處、人事室等）</li>\
<li>表二之【兼職性質】欄位為 5：兼辦人事</li></ol>\
<p>符合上述條件之一且人員非卸職狀態，則只要將人事資料報送至人事局，入檔後隔天該員即可使用人事服務網之人事專用應用管理系統。</p>\
<h3>ECPA 憑證上傳操作方式有下列兩種方式（請先將 ECPA 網站加入信任的網站）</h3>\
<h4>方法一（自然人及機關憑證皆適用）</h4>\
<p>直接至 ECPA 登入首頁點按【使用憑證登入】，系統會自動偵測該憑證是否有上傳過：若已上傳則會顯示【請輸入您的 PIN Code】，若無則會顯示【找不到對應的憑證資訊，請依下列步驟完成憑證上傳作業】。</p>\
<blockquote><p>畫面說明：首頁左側為登入區（請輸入帳號、登入、忘記密碼、使用憑證登入），上方顯示目前線上人數、今日總計人數、累積上線人數及民國日期，右側為最新公告與主題投票，下方為人事業務連結。按【使用憑證登入】而憑證尚未上傳時，畫面中央出現「找不到對應的憑證資訊，請依下列步驟，完成憑證上傳作業」對話框及【確定】按鈕。將 ECPA 網站加入信任的網站後，瀏覽器會顯示已加入信任的網站之訊息。</p></blockquote>\
<p><strong>自然人憑證上傳畫面：</strong></p>\
<ol><li>「自然人憑證上傳：請輸入帳號密碼登入」：輸入 ECPA 帳號及 ECPA 密碼後按【登入】。</li>\
<li>輸入憑證 PIN 碼。請注意此處 ECPA 系統驗證之憑證密碼至少須為 6～8 碼。</li>\
<li>確認畫面列出憑證資訊（持卡人、卡號、有效期間、身分證統一編號末四碼），確認無誤後按【確定】。</li>\
<li>顯示上傳完成。</li></ol>\
<p><strong>機關憑證上傳畫面：</strong></p>\
<ol><li>輸入 ECPA 帳號及密碼後按【登入】。</li>\
<li>輸入憑證 PIN 碼。請注意此處 ECPA 系統驗證之憑證密碼至少須為 6～8 碼。</li>\
<li>確認畫面列出機關名稱、機關 OID、卡號及有效期間；紅框處（聯絡電子郵件、備註）可修改，確認後按【確定】。</li></ol>\
<h4>方法二（僅適用於自然人憑證）</h4>\
<p>先使用 ECPA 帳號密碼登入後，再點按【我的專區】＼【自然人憑證上傳】，插入卡片、輸入 PIN 碼並確認後即完成上傳。</p>\
<h3>完成上傳後</h3>\
<p>最後完成上傳憑證作業後（無論是自然人或是機關憑證），日後則皆可依此憑證登入系統使用：</p>\
<blockquote><p>畫面說明：第一張畫面為登入頁面，按【使用憑證登入】（標示 1）後出現「請輸入您的 PIN Code」輸入框（標示 2），輸入後按【確定】（標示 3）。第二張畫面為【我的專區】（標示 1），左側有電子頁卡、待辦事項、應用系統，中央的應用系統列表可點選「A1：人事資料報送服務網」（標示 2）等系統；人事人員另可見「A. 人事資料填報及考核」下的 A1.1 人事資料報送查詢、A2 人力資源管理系統、A3 公教人員待遇管理系統、A4 調查表系統等人事專用系統。</p></blockquote>";

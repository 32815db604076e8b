//! The error every server function returns, and its Traditional Chinese wording.
//!
//! The server maps its own failures into [`ApiError`] once, at its edge; the UI maps
//! [`ApiError`] to text here, once. Internal details never travel: `Internal` carries none.

use ecpa_cardproto::refusal::ProofRefusal;
use ecpa_domain::{
    content::{ContentError, Field},
    eligibility::Refusal,
    password::PasswordViolation,
    reset::LinkState,
};
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum ApiError {
    /// Wrong account or password, or an unknown account: deliberately one case.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed attempts; try again after the given number of seconds.
    #[error("throttled, retry after {retry_after_secs}s")]
    Throttled { retry_after_secs: u64 },
    #[error("not signed in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// A card proof was refused, with the check that refused it.
    #[error("card proof refused: {0:?}")]
    Card(ProofRefusal),
    /// The registry does not grant the right (certificate upload or use).
    #[error("not eligible: {refusal:?}")]
    NotEligible { refusal: Refusal, today: time::Date },
    /// Certificate sign-in is not configured on this server.
    #[error("certificate sign-in not configured")]
    CardsUnavailable,
    /// No certificate upload in progress for this browser (or it expired).
    #[error("no upload in progress")]
    NoUploadInProgress,
    /// What an administrator (or a voter) submitted breaks a content rule.
    #[error("content refused: {0}")]
    Content(ContentError),
    #[error("already voted")]
    AlreadyVoted,
    #[error("poll closed")]
    PollClosed,
    /// A password reset link that cannot be used (used, replaced or expired).
    #[error("reset link not usable: {0:?}")]
    ResetLink(LinkState),
    /// The new password breaks the password policy.
    #[error("weak password: {0:?}")]
    WeakPassword(Vec<PasswordViolation>),
    #[error("passwords differ")]
    PasswordMismatch,
    /// Too many requests from this client or account; retry after the given seconds.
    #[error("rate limited, retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("server busy")]
    Busy,
    #[error("service unavailable")]
    Unavailable,
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("internal error")]
    Internal,
    /// The request never reached, or never came back from, the server function.
    #[error("transport: {0}")]
    Transport(String),
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}

impl ApiError {
    /// An error that arrived in a URL (`__err`, the answer to a form posted without
    /// JavaScript): anyone can write such a link, so only what the error *is* survives,
    /// never text from it. Strings are dropped (their messages are generic anyway, or are
    /// replaced by a generic one) and waiting times bounded.
    pub fn from_url(self) -> ApiError {
        const MAX_WAIT_SECS: u64 = 3600;
        match self {
            ApiError::Throttled { retry_after_secs } => ApiError::Throttled {
                retry_after_secs: retry_after_secs.clamp(1, MAX_WAIT_SECS),
            },
            ApiError::RateLimited { retry_after_secs } => ApiError::RateLimited {
                retry_after_secs: retry_after_secs.clamp(1, MAX_WAIT_SECS),
            },
            ApiError::InvalidInput(_) => ApiError::InvalidInput(String::new()),
            ApiError::Transport(_) => ApiError::Transport(String::new()),
            ApiError::Content(ContentError::DuplicateOption(_)) => {
                ApiError::Content(ContentError::Invalid(Field::Option))
            }
            ApiError::Content(ContentError::TooLong { field, max }) => {
                ApiError::Content(ContentError::TooLong {
                    field,
                    max: max.min(100_000),
                })
            }
            ApiError::Content(ContentError::OptionCount { min, max }) => {
                ApiError::Content(ContentError::OptionCount {
                    min: min.min(100),
                    max: max.min(100),
                })
            }
            other => other,
        }
    }

    /// What the user reads.
    pub fn message(&self) -> String {
        match self {
            ApiError::InvalidCredentials => "帳號或密碼錯誤".into(),
            ApiError::Throttled { retry_after_secs } => {
                let wait = if *retry_after_secs >= 120 {
                    format!("{} 分鐘", retry_after_secs.div_ceil(60))
                } else {
                    format!("{} 秒", retry_after_secs.max(&1))
                };
                format!("登入嘗試次數過多，請於 {wait}後再試；或改用憑證登入。")
            }
            ApiError::Unauthenticated => "請先登入".into(),
            ApiError::Forbidden => "您沒有使用此功能的權限".into(),
            ApiError::NotFound => "找不到您要的資料".into(),
            ApiError::Card(r) => card_refusal_message(*r).into(),
            ApiError::NotEligible { refusal, today } => {
                crate::wording::refusal_message(refusal, *today)
            }
            ApiError::CardsUnavailable => "本站尚未設定憑證登入，請改用帳號密碼登入。".into(),
            ApiError::NoUploadInProgress => {
                "憑證上傳作業已逾時或尚未開始，請從第一步重新操作。".into()
            }
            ApiError::Content(e) => content_message(e),
            ApiError::AlreadyVoted => "您已投過票，每個帳號每項投票限投一次。".into(),
            ApiError::PollClosed => "此投票已結束。".into(),
            ApiError::ResetLink(LinkState::Used) => {
                "此重設密碼連結已使用過或已失效，請重新申請。".into()
            }
            ApiError::ResetLink(LinkState::Expired) => {
                "此重設密碼連結已逾時（有效時間 30 分鐘），請重新申請。".into()
            }
            ApiError::ResetLink(LinkState::Usable) => "此重設密碼連結無效，請重新申請。".into(),
            ApiError::WeakPassword(v) => {
                let parts: Vec<String> = v.iter().map(password_rule_message).collect();
                format!("新密碼不符合規定：{}", parts.join("；"))
            }
            ApiError::PasswordMismatch => "兩次輸入的新密碼不一致。".into(),
            ApiError::RateLimited { retry_after_secs } => {
                format!("操作過於頻繁，請於 {} 秒後再試。", retry_after_secs.max(&1))
            }
            ApiError::Busy => "系統忙碌中，請稍後再試".into(),
            ApiError::Unavailable => "系統暫時無法提供服務，請稍後再試".into(),
            ApiError::InvalidInput(_) => "輸入的資料格式不正確".into(),
            ApiError::Internal => "系統發生錯誤，請稍後再試".into(),
            ApiError::Transport(_) => "無法連線至伺服器，請檢查網路後再試".into(),
        }
    }
}

fn field_name(f: &Field) -> &'static str {
    match f {
        Field::Title => "標題",
        Field::Body => "內容",
        Field::Category => "類別",
        Field::Question => "問題",
        Field::Option => "選項",
        Field::Url => "網址",
        Field::Name => "名稱",
        Field::Id => "編號",
        Field::Date => "日期",
        Field::Position => "排序",
        Field::Query => "搜尋關鍵字",
    }
}

/// A content rule, in words.
pub fn content_message(e: &ContentError) -> String {
    match e {
        ContentError::Required(f) => format!("請填寫{}。", field_name(f)),
        ContentError::TooLong { field, max } => {
            format!("{}不可超過 {max} 個字。", field_name(field))
        }
        ContentError::ControlChars(f) => format!("{}含有不允許的控制字元。", field_name(f)),
        ContentError::BadUrl => {
            "網址須以 https:// 或 http:// 開頭，或為本站路徑（/ 開頭）。".into()
        }
        ContentError::OptionCount { min, max } => {
            format!("投票選項須有 {min} 至 {max} 個（每行一個）。")
        }
        ContentError::DuplicateOption(o) => format!("選項「{o}」重複。"),
        ContentError::BadFaqId => "常見問題編號格式為 Q 加 6 位數字（例如 Q000815）。".into(),
        ContentError::BadCategory => "請選擇公告類別。".into(),
        ContentError::Invalid(f) => format!("{}的格式不正確。", field_name(f)),
    }
}

/// A password rule, in words.
pub fn password_rule_message(v: &PasswordViolation) -> String {
    match v {
        PasswordViolation::TooShort(n) => format!("至少 {n} 個字元"),
        PasswordViolation::TooLong(n) => format!("不可超過 {n} 個字元"),
        PasswordViolation::TooFewClasses(n) => {
            format!("須包含小寫字母、大寫字母、數字、符號中至少 {n} 種")
        }
        PasswordViolation::ControlCharacter => "不可包含控制字元".into(),
        PasswordViolation::ContainsAccountName => "不可包含帳號名稱".into(),
        PasswordViolation::TooCommon => "不可使用常見的密碼".into(),
    }
}

/// On the server, a page or server function that answers `e` gets its HTTP status: 503 when
/// the database is unavailable (load balancers and monitors see it), 404 for missing data,
/// 429 with `Retry-After` for a throttled or rate-limited attempt.
pub fn set_page_status(e: &ApiError) {
    #[cfg(feature = "ssr")]
    {
        use http::StatusCode;
        let status = match e {
            ApiError::Throttled { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => {
                // A form posted without JavaScript is answered by a redirect back to its
                // page with the error; that redirect must stay a redirect.
                let html_form = leptos::prelude::use_context::<http::request::Parts>()
                    .and_then(|p| p.headers.get(http::header::ACCEPT).cloned())
                    .and_then(|v| v.to_str().map(|a| a.contains("text/html")).ok())
                    .unwrap_or(false);
                if html_form {
                    return;
                }
                if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                    res.set_status(StatusCode::TOO_MANY_REQUESTS);
                    if let Ok(v) =
                        http::HeaderValue::from_str(&retry_after_secs.max(&1).to_string())
                    {
                        res.insert_header(http::header::RETRY_AFTER, v);
                    }
                }
                return;
            }
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => return,
        };
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(status);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                res.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("30"),
                );
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = e;
}

/// What each refused check means to the user.
pub fn card_refusal_message(r: ProofRefusal) -> &'static str {
    match r {
        ProofRefusal::MalformedToken | ProofRefusal::UnsupportedAlgorithm => {
            "讀卡元件傳回的資料格式不正確，請重新操作。"
        }
        ProofRefusal::CertificateUnparsable => "無法讀取卡片上的憑證。",
        ProofRefusal::NotSigningCertificate => "此憑證不是簽章用憑證，請使用卡片上的簽章憑證。",
        ProofRefusal::WrongCertificateType => "此憑證不是本系統接受的自然人憑證或機關憑證。",
        ProofRefusal::MobileCertificate => {
            "此為行動自然人憑證（金鑰不在卡片上），本系統僅接受 IC 卡憑證。"
        }
        ProofRefusal::UntrustedIssuer => "此憑證不是由受信任的憑證管理中心簽發。",
        ProofRefusal::CertificateExpired => "此憑證已過期，請至憑證管理中心辦理展期或換發。",
        ProofRefusal::CertificateNotYetValid => "此憑證尚未生效。",
        ProofRefusal::Revoked => "此憑證已被廢止，無法使用。",
        ProofRefusal::CrlStale | ProofRefusal::CrlMissing | ProofRefusal::OcspUnavailable => {
            "目前無法確認憑證的廢止狀態，請稍後再試。"
        }
        ProofRefusal::OcspUnknown => "憑證管理中心查無此憑證的狀態，無法使用。",
        ProofRefusal::ChallengeMalformed | ProofRefusal::ChallengeWrongOrigin => {
            "簽章內容不是本網站的登入請求，已拒絕。"
        }
        ProofRefusal::ChallengeUnknown | ProofRefusal::ChallengeOtherSession => {
            "登入請求無效，請重新整理頁面後再試。"
        }
        ProofRefusal::ChallengeExpired => "登入請求已逾時（5 分鐘），請重新操作。",
        ProofRefusal::ChallengeUsed => "此登入請求已使用過，請重新操作。",
        ProofRefusal::ChallengeWrongPurpose => "登入請求的用途不符，請重新操作。",
        ProofRefusal::BadSignature => "憑證簽章驗證失敗，請重新操作。",
        ProofRefusal::NotBound => "找不到對應的憑證資訊，請依下列步驟，完成憑證上傳作業",
        ProofRefusal::IdMismatch => {
            "此自然人憑證不屬於您的帳號（身分證統一編號末四碼不符），無法上傳。"
        }
        ProofRefusal::NameMismatch => {
            "此自然人憑證的姓名與您的人事資料不符，無法使用，請洽貴機關人事單位。"
        }
        ProofRefusal::AgencyMismatch => "此機關憑證不屬於您服務的機關，無法上傳。",
        ProofRefusal::AlreadyBound => "此憑證已上傳至其他帳號，無法重複上傳。",
        ProofRefusal::AlreadyBoundToYou => "此憑證已上傳至您的帳號，日後可直接以此憑證登入。",
        ProofRefusal::NoPersonRecord => {
            "您的帳號尚未對應人事資料，無法上傳憑證，請洽貴機關人事單位。"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_message_rounds_up_minutes() {
        let m = ApiError::Throttled {
            retry_after_secs: 601,
        }
        .message();
        assert!(m.contains("11 分鐘"), "{m}");
        let s = ApiError::Throttled {
            retry_after_secs: 0,
        }
        .message();
        assert!(s.contains("1 秒"), "{s}");
    }

    /// Nothing written into a link reaches the page as text (issue #16, finding 4).
    #[test]
    fn errors_from_urls_carry_no_text() {
        const EVIL: &str = "請撥 0800-000-000 重設密碼";
        for e in [
            ApiError::InvalidInput(EVIL.into()),
            ApiError::Transport(EVIL.into()),
            ApiError::Content(ContentError::DuplicateOption(EVIL.into())),
        ] {
            let shown = ApiError::de(e.ser()).from_url().message();
            assert!(!shown.contains("0800"), "{shown}");
        }
        let wait = ApiError::Throttled {
            retry_after_secs: u64::MAX,
        }
        .from_url()
        .message();
        assert!(wait.contains("60 分鐘"), "{wait}");
        // What the portal itself sends keeps its meaning.
        assert_eq!(
            ApiError::InvalidCredentials.from_url(),
            ApiError::InvalidCredentials
        );
        let t = ApiError::Throttled {
            retry_after_secs: 90,
        };
        assert_eq!(t.clone().from_url(), t);
    }

    #[test]
    fn json_round_trip() {
        for e in [
            ApiError::InvalidCredentials,
            ApiError::Throttled {
                retry_after_secs: 30,
            },
            ApiError::Internal,
        ] {
            let bytes = e.ser();
            assert_eq!(ApiError::de(bytes), e);
        }
    }
}

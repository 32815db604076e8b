//! Traditional Chinese wording for domain facts (rights, refusals, codes, dates) and for
//! every [`ApiError`].

use crate::error::ApiError;
use ecpa_cardproto::{hipki::Outcome, kind::CardKind, refusal::ProofRefusal};
use ecpa_domain::{
    content::{ContentError, Field},
    eligibility::{OfficerBasis, Refusal, Right},
    password::PasswordViolation,
    personnel::Employment,
    reset::LinkState,
    roc,
};
use time::{Date, Duration};

impl ApiError {
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
            ApiError::NotEligible { refusal, today } => refusal_message(refusal, *today),
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

/// `115/11/26`.
pub fn roc_short(d: Date) -> String {
    roc::format_short(d).unwrap_or_else(|_| d.to_string())
}

pub fn right_label(r: Right) -> &'static str {
    match r {
        Right::NaturalCertificateUpload => "自然人憑證上傳",
        Right::OrganizationCertificateUpload => "機關憑證上傳",
        Right::PersonnelSystems => "人事專用應用系統",
    }
}

pub fn officer_basis_label(b: OfficerBasis) -> &'static str {
    match b {
        OfficerBasis::StaffCategory => "人員區分為 08 人事人員",
        OfficerBasis::PersonnelUnit => "服務單位為人事單位",
        OfficerBasis::ConcurrentDuty => "兼職性質為 5 兼辦人事",
    }
}

pub fn employment_label(e: &Employment) -> String {
    match e {
        Employment::Active => "現職".into(),
        Employment::Departed { on: Some(d) } => format!("卸職（{}）", roc_short(*d)),
        Employment::Departed { on: None } => "卸職".into(),
    }
}

/// Why a right is refused, in words a user can act on.
pub fn refusal_message(r: &Refusal, today: Date) -> String {
    match r {
        Refusal::NotInRegistry => "查無您的人事資料：此功能限本總處公務人力資料庫中的現職人員使用，請洽貴機關人事單位確認人事資料已報送。".into(),
        Refusal::Departed { on: Some(d) } => format!("您的人事資料顯示已於 {} 卸職，無法使用此功能。", roc_short(*d)),
        Refusal::Departed { on: None } => "您的人事資料顯示已卸職，無法使用此功能。".into(),
        Refusal::NotPersonnelOfficer => {
            "此功能限人事人員使用（表二人員區分為 08、服務單位含「人事」字樣，或兼職性質為 5 兼辦人事）。".into()
        }
        Refusal::NotYetEffective { ingested_on, effective_from } => {
            if *effective_from == today + Duration::days(1) {
                format!("您的人事資料於 {} 入檔，明日起可使用。", roc_short(*ingested_on))
            } else {
                format!("您的人事資料於 {} 入檔，自 {} 起可使用。", roc_short(*ingested_on), roc_short(*effective_from))
            }
        }
    }
}

/// What a page offers next to a card-component message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction {
    /// Link to the install guide (新手上路).
    InstallGuide,
    /// Button: ask the component to trust this site (`/addDomain`).
    TrustSite,
    /// Enter the PIN again.
    ReenterPin,
    /// How to unlock a locked card (the card's issuer, not us).
    UnlockCard,
    /// Try again.
    Retry,
}

/// A message and an action for every state of the card path.
pub fn agent_message(o: Outcome) -> (String, AgentAction) {
    use AgentAction::*;
    match o {
        Outcome::Ok => ("完成。".into(), Retry),
        Outcome::NotInstalled => (
            "偵測不到憑證元件。請確認電腦已安裝並啟動讀卡元件（ECPA 讀卡元件或 HiPKI 跨平台網頁元件），再按「重試」。".into(),
            InstallGuide,
        ),
        Outcome::PopupBlocked => (
            "瀏覽器封鎖了憑證元件的視窗。請允許本網站開啟彈出式視窗後，再按「重試」。".into(),
            Retry,
        ),
        Outcome::SiteNotTrusted => (
            "憑證元件尚未信任本網站。請按「將本網站加入信任的網站」，在元件視窗中按「信任此網站」後再試一次。".into(),
            TrustSite,
        ),
        Outcome::NoReader => ("找不到讀卡機。請將讀卡機連接電腦後，再按「重試」。".into(), Retry),
        Outcome::NoCard => (
            "讀卡機中沒有卡片。請插入您的自然人憑證或機關憑證後，再按「重試」。".into(),
            Retry,
        ),
        Outcome::NoCertificate => (
            "卡片中找不到可用於簽章的憑證，請確認插入的是自然人憑證或機關憑證。".into(),
            Retry,
        ),
        Outcome::CardRemoved => (
            "卡片在作業中被取出。請重新插入卡片後，再試一次。".into(),
            Retry,
        ),
        Outcome::WrongPin { tries_left: Some(n) } => (
            format!("PIN 碼錯誤，還可以再試 {n} 次；連續錯誤 3 次卡片將被鎖住。"),
            ReenterPin,
        ),
        Outcome::WrongPin { tries_left: None } => ("PIN 碼錯誤，請重新輸入。".into(), ReenterPin),
        Outcome::PinLength => (PIN_RULE.into(), ReenterPin),
        Outcome::PinLocked => (
            "卡片的 PIN 碼已鎖住（連續輸入錯誤 3 次），本網站無法解鎖。自然人憑證請至內政部憑證管理中心網站（moica.nat.gov.tw）使用「憑證 IC 卡解鎖」服務，或攜帶卡片至戶政事務所辦理；機關憑證請洽政府憑證管理中心（gca.nat.gov.tw）。".into(),
            UnlockCard,
        ),
        Outcome::Cancelled => ("作業已取消。".into(), Retry),
        Outcome::Busy => ("卡片忙碌中或沒有回應，請稍候再試。".into(), Retry),
        Outcome::Timeout => ("憑證元件沒有在時間內回應，請再試一次。".into(), Retry),
        Outcome::Failed(code) => (
            format!("憑證元件回報錯誤（代碼 0x{code:08X}）。請再試一次；若持續發生，請重新插入卡片或重新啟動憑證元件。"),
            Retry,
        ),
    }
}

/// The seed's PIN rule, word for word.
pub const PIN_RULE: &str = "請注意此處 ECPA 系統驗證之憑證密碼至少須為 6~8 碼";

/// 最近活動: what an audit kind means for the user.
pub fn activity_label(kind: &str) -> &'static str {
    match kind {
        "login.password" => "帳號密碼登入",
        "login.certificate" => "憑證登入",
        "cert.bind" => "憑證上傳",
        "cert.unbind" => "憑證移除",
        "logout" => "登出",
        _ => "其他",
    }
}

pub fn card_kind_label(k: CardKind) -> &'static str {
    match k {
        CardKind::Natural => "自然人憑證",
        CardKind::Organization => "機關憑證",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn every_card_state_has_a_message() {
        let all = [
            Outcome::NotInstalled,
            Outcome::PopupBlocked,
            Outcome::SiteNotTrusted,
            Outcome::NoReader,
            Outcome::NoCard,
            Outcome::NoCertificate,
            Outcome::CardRemoved,
            Outcome::WrongPin {
                tries_left: Some(2),
            },
            Outcome::WrongPin { tries_left: None },
            Outcome::PinLength,
            Outcome::PinLocked,
            Outcome::Cancelled,
            Outcome::Busy,
            Outcome::Timeout,
            Outcome::Failed(0x7600_0034),
        ];
        let mut seen = std::collections::HashSet::new();
        for o in all {
            let (m, _) = agent_message(o);
            assert!(seen.insert(m.clone()), "{o:?} shares a message");
        }
        assert_eq!(
            agent_message(Outcome::NotInstalled).1,
            AgentAction::InstallGuide
        );
        assert_eq!(
            agent_message(Outcome::SiteNotTrusted).1,
            AgentAction::TrustSite
        );
        assert!(agent_message(Outcome::WrongPin {
            tries_left: Some(1)
        })
        .0
        .contains("還可以再試 1 次"));
        assert!(agent_message(Outcome::PinLocked).0.contains("解鎖"));
        assert!(agent_message(Outcome::Failed(0x7600_0034))
            .0
            .contains("0x76000034"));
    }

    #[test]
    fn tomorrow_message() {
        let today = date!(2026 - 11 - 26);
        let r = Refusal::NotYetEffective {
            ingested_on: today,
            effective_from: date!(2026 - 11 - 27),
        };
        assert_eq!(
            refusal_message(&r, today),
            "您的人事資料於 115/11/26 入檔，明日起可使用。"
        );
        let later = Refusal::NotYetEffective {
            ingested_on: date!(2026 - 11 - 28),
            effective_from: date!(2026 - 11 - 29),
        };
        assert!(refusal_message(&later, today).contains("自 115/11/29 起可使用"));
    }
}

//! Traditional Chinese wording for domain facts (rights, refusals, codes, dates).

use crate::api::card::CardKindView;
use ecpa_cardproto::hipki::Outcome;
use ecpa_domain::{
    eligibility::{OfficerBasis, Refusal, Right},
    personnel::Employment,
    roc,
};
use time::{Date, Duration};

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

pub fn card_kind_label(k: CardKindView) -> &'static str {
    match k {
        CardKindView::Natural => "自然人憑證",
        CardKindView::Organization => "機關憑證",
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

//! Traditional Chinese wording for domain facts (rights, refusals, codes, dates).

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

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

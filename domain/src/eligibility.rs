//! Who may do what, from the seed (Q000815):
//!
//! * Upload a **natural-person certificate**: anyone in the personnel registry who is
//!   currently employed (not 卸職).
//! * Upload an **organization certificate**, and use the **personnel-only application
//!   systems** (人事專用應用管理系統): additionally a personnel officer (人事人員), i.e. any of
//!   人員區分 = 08, 服務單位 contains 人事, 兼職性質 = 5.
//! * Rights start the day after the record was ingested (入檔後隔天), Taipei calendar.
//!   The registry is the bureau's processed data: a record ingested today is not in force
//!   until tomorrow, for every right.
//!
//! Every decision says why, so the UI can tell the user exactly what stands in the way.

use crate::{personnel::PersonnelRecord, tz::taipei_date};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Right {
    NaturalCertificateUpload,
    OrganizationCertificateUpload,
    PersonnelSystems,
}

impl Right {
    fn needs_officer(self) -> bool {
        !matches!(self, Right::NaturalCertificateUpload)
    }
}

/// Why someone counts as a personnel officer (the seed's three rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OfficerBasis {
    /// 人員區分 08 人事人員
    StaffCategory,
    /// 服務單位 contains 人事
    PersonnelUnit,
    /// 兼職性質 5 兼辦人事
    ConcurrentDuty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No record in the personnel registry.
    NotInRegistry,
    /// 卸職.
    Departed { on: Option<Date> },
    /// Not a personnel officer by any of the three rules.
    NotPersonnelOfficer,
    /// Ingested too recently: in force from `effective_from`.
    NotYetEffective {
        ingested_on: Date,
        effective_from: Date,
    },
}

pub type Decision = Result<Vec<OfficerBasis>, Refusal>;

pub fn officer_basis(r: &PersonnelRecord) -> Vec<OfficerBasis> {
    let mut v = Vec::new();
    if r.staff_category.is_personnel() {
        v.push(OfficerBasis::StaffCategory);
    }
    if crate::text::fold(&r.unit_name).contains("人事") {
        v.push(OfficerBasis::PersonnelUnit);
    }
    if r.concurrent_duty.as_ref().is_some_and(|d| d.is_personnel()) {
        v.push(OfficerBasis::ConcurrentDuty);
    }
    v
}

/// The first day the record is in force.
pub fn effective_from(ingested_on: Date) -> Date {
    ingested_on + Duration::days(1)
}

/// Whether `record` grants `right` at instant `now`; on success, the officer bases found
/// (empty for a non-officer granted a natural-person upload).
pub fn decide(right: Right, record: Option<&PersonnelRecord>, now: OffsetDateTime) -> Decision {
    let today = taipei_date(now);
    let r = record.ok_or(Refusal::NotInRegistry)?;
    if r.employment.departed_by(today) {
        return Err(Refusal::Departed {
            on: match r.employment {
                crate::personnel::Employment::Departed { on } => on,
                crate::personnel::Employment::Active => None,
            },
        });
    }
    let basis = officer_basis(r);
    if right.needs_officer() && basis.is_empty() {
        return Err(Refusal::NotPersonnelOfficer);
    }
    let from = effective_from(r.ingested_on);
    if today < from {
        return Err(Refusal::NotYetEffective {
            ingested_on: r.ingested_on,
            effective_from: from,
        });
    }
    Ok(basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personnel::{DutyCode, Employment, StaffCategory};
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn rec(
        cat: &str,
        unit: &str,
        duty: &str,
        employment: Employment,
        ingested_on: Date,
    ) -> PersonnelRecord {
        PersonnelRecord {
            staff_category: StaffCategory::parse(cat).unwrap(),
            unit_name: unit.into(),
            concurrent_duty: DutyCode::parse(duty).unwrap(),
            employment,
            ingested_on,
        }
    }

    #[test]
    fn seed_rules() {
        let now = datetime!(2026-11-27 02:00 UTC); // 10:00 Taipei
        let old = date!(2026 - 01 - 05);
        let clerk = rec("01", "秘書室", "", Employment::Active, old);
        assert_eq!(
            decide(Right::NaturalCertificateUpload, Some(&clerk), now),
            Ok(vec![])
        );
        assert_eq!(
            decide(Right::OrganizationCertificateUpload, Some(&clerk), now),
            Err(Refusal::NotPersonnelOfficer)
        );
        assert_eq!(
            decide(Right::PersonnelSystems, None, now),
            Err(Refusal::NotInRegistry)
        );
        for (r, basis) in [
            (
                rec("8", "秘書室", "", Employment::Active, old),
                OfficerBasis::StaffCategory,
            ),
            (
                rec("01", "人事室", "", Employment::Active, old),
                OfficerBasis::PersonnelUnit,
            ),
            (
                rec("01", "總務處", "５", Employment::Active, old),
                OfficerBasis::ConcurrentDuty,
            ),
        ] {
            assert_eq!(
                decide(Right::OrganizationCertificateUpload, Some(&r), now),
                Ok(vec![basis])
            );
        }
        let gone = rec(
            "08",
            "人事處",
            "",
            Employment::Departed {
                on: Some(date!(2026 - 06 - 30)),
            },
            old,
        );
        assert_eq!(
            decide(Right::NaturalCertificateUpload, Some(&gone), now),
            Err(Refusal::Departed {
                on: Some(date!(2026 - 06 - 30))
            })
        );
        let leaving = rec(
            "08",
            "人事處",
            "",
            Employment::Departed {
                on: Some(date!(2026 - 12 - 31)),
            },
            old,
        );
        assert!(
            decide(Right::PersonnelSystems, Some(&leaving), now).is_ok(),
            "still employed until then"
        );
        let fresh = rec(
            "08",
            "人事處",
            "",
            Employment::Active,
            date!(2026 - 11 - 27),
        );
        assert_eq!(
            decide(Right::PersonnelSystems, Some(&fresh), now),
            Err(Refusal::NotYetEffective {
                ingested_on: date!(2026 - 11 - 27),
                effective_from: date!(2026 - 11 - 28)
            })
        );
    }

    #[test]
    fn midnight_in_taipei_not_utc() {
        let r = rec(
            "08",
            "人事室",
            "",
            Employment::Active,
            date!(2026 - 11 - 26),
        );
        // 2026-11-26 23:59:59 Taipei = 15:59:59 UTC: still the ingestion day.
        assert!(decide(
            Right::PersonnelSystems,
            Some(&r),
            datetime!(2026-11-26 15:59:59 UTC)
        )
        .is_err());
        // 2026-11-27 00:00:00 Taipei = 16:00:00 UTC on the 26th: in force.
        assert!(decide(
            Right::PersonnelSystems,
            Some(&r),
            datetime!(2026-11-26 16:00:00 UTC)
        )
        .is_ok());
        // A UTC clock reading the 27th at 01:00 is 09:00 Taipei: in force.
        assert!(decide(
            Right::PersonnelSystems,
            Some(&r),
            datetime!(2026-11-27 01:00 UTC)
        )
        .is_ok());
    }

    fn category() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "8", "08", "０８", " 08 ", "８", "01", "1", "80", "09", "18", "00",
        ])
        .prop_map(String::from)
    }
    fn unit() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "人事室",
            "人事處",
            "秘書室人事科",
            "總務處",
            "秘書室",
            "資訊室",
            "",
            "人 事",
        ])
        .prop_map(String::from)
    }
    fn duty() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["", "5", "05", "５", " 5 ", "1", "15", "50", "0"])
            .prop_map(String::from)
    }
    fn employment() -> impl Strategy<Value = (bool, Option<i64>)> {
        (any::<bool>(), prop::option::of(-5i64..5))
    }

    proptest! {
        /// The whole truth table against an independent statement of the seed's rules,
        /// at instants around Taipei midnight on a UTC clock.
        #[test]
        fn truth_table(
            cat in category(), unit in unit(), duty in duty(), (departed, dep_off) in employment(),
            ingest_off in -3i64..3, exists in any::<bool>(), minute in 0i64..(48 * 60),
        ) {
            let today_taipei = date!(2026 - 11 - 26);
            // now = 2026-11-26 00:00 Taipei + minute (spans two Taipei days).
            let now = datetime!(2026-11-25 16:00 UTC) + Duration::minutes(minute);
            let local_today = if minute < 24 * 60 { today_taipei } else { today_taipei + Duration::days(1) };
            let ingested = today_taipei + Duration::days(ingest_off);
            let dep_date = dep_off.map(|d| local_today + Duration::days(d));
            let employment = if departed { Employment::Departed { on: dep_date } } else { Employment::Active };
            let r = rec(&cat, &unit, &duty, employment, ingested);

            // The oracle.
            let cat_n: u32 = cat.chars().map(crate::text::fold_width).collect::<String>().trim().parse().unwrap();
            let duty_t = duty.chars().map(crate::text::fold_width).collect::<String>();
            let duty_n: Option<u32> = duty_t.trim().parse().ok();
            let officer = cat_n == 8 || unit.contains("人事") || duty_n == Some(5);
            let employed = !departed || dep_date.is_some_and(|d| d > local_today);
            let in_force = local_today > ingested;
            let natural = exists && employed && in_force;
            let org = natural && officer;

            let rr = exists.then_some(&r);
            prop_assert_eq!(decide(Right::NaturalCertificateUpload, rr, now).is_ok(), natural);
            prop_assert_eq!(decide(Right::OrganizationCertificateUpload, rr, now).is_ok(), org);
            prop_assert_eq!(decide(Right::PersonnelSystems, rr, now).is_ok(), org);
            if let Ok(b) = decide(Right::PersonnelSystems, rr, now) {
                prop_assert!(!b.is_empty());
            }
            // The reason names the first obstacle in the documented order.
            if let Err(reason) = decide(Right::OrganizationCertificateUpload, rr, now) {
                let expected = if !exists { "registry" } else if !employed { "departed" } else if !officer { "officer" } else { "effective" };
                let got = match reason {
                    Refusal::NotInRegistry => "registry",
                    Refusal::Departed { .. } => "departed",
                    Refusal::NotPersonnelOfficer => "officer",
                    Refusal::NotYetEffective { .. } => "effective",
                };
                prop_assert_eq!(got, expected);
            }
        }
    }
}

//! The Republic of China (Minguo) calendar as the portal shows it.
//!
//! ROC year = Gregorian year - 1911; year 1 is 1912. The portal writes dates as
//! `民國 115 年 11 月 26 日`, the year zero-padded to three digits (`民國 099 年 01 月 20 日`),
//! and in compact form as `115/11/26`.

use thiserror::Error;
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RocError {
    #[error("date {0} is before the ROC era (1912-01-01)")]
    BeforeEra(Date),
}

/// The ROC year of a date (1912 → 1).
pub fn roc_year(d: Date) -> Result<i32, RocError> {
    let y = d.year() - 1911;
    if y < 1 {
        return Err(RocError::BeforeEra(d));
    }
    Ok(y)
}

/// `民國 115 年 11 月 26 日`
pub fn format_long(d: Date) -> Result<String, RocError> {
    let y = roc_year(d)?;
    Ok(format!(
        "民國 {:03} 年 {:02} 月 {:02} 日",
        y,
        u8::from(d.month()),
        d.day()
    ))
}

/// `115/11/26`
pub fn format_short(d: Date) -> Result<String, RocError> {
    let y = roc_year(d)?;
    Ok(format!("{}/{:02}/{:02}", y, u8::from(d.month()), d.day()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn seed_examples() {
        assert_eq!(
            format_long(date!(2026 - 11 - 26)).as_deref(),
            Ok("民國 115 年 11 月 26 日")
        );
        assert_eq!(
            format_long(date!(2010 - 01 - 20)).as_deref(),
            Ok("民國 099 年 01 月 20 日")
        );
        assert_eq!(
            format_short(date!(2026 - 11 - 26)).as_deref(),
            Ok("115/11/26")
        );
    }

    #[test]
    fn era_boundary() {
        assert_eq!(
            format_long(date!(1912 - 01 - 01)).as_deref(),
            Ok("民國 001 年 01 月 01 日")
        );
        assert!(format_long(date!(1911 - 12 - 31)).is_err());
    }

    proptest! {
        #[test]
        fn long_form_round_trips(days in 0i32..80_000) {
            let d = date!(1912 - 01 - 01) + time::Duration::days(days as i64);
            let s = format_long(d).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // 民國 YYY 年 MM 月 DD 日: fixed width, parse it back.
            let parts: Vec<&str> = s.split(' ').collect();
            prop_assert_eq!(parts.len(), 7);
            prop_assert_eq!(parts[0], "民國");
            prop_assert!(parts[1].len() >= 3);
            let y: i32 = parts[1].parse().map_err(|_| TestCaseError::fail("year"))?;
            let m: u8 = parts[3].parse().map_err(|_| TestCaseError::fail("month"))?;
            let dd: u8 = parts[5].parse().map_err(|_| TestCaseError::fail("day"))?;
            prop_assert_eq!(parts[3].len(), 2);
            prop_assert_eq!(parts[5].len(), 2);
            prop_assert_eq!(y + 1911, d.year());
            prop_assert_eq!(m, u8::from(d.month()));
            prop_assert_eq!(dd, d.day());
        }

        #[test]
        fn year_is_three_digits_zero_padded(days in 0i32..(365 * 99)) {
            // 1912..=2010: ROC years 1..=99 are written 001..=099.
            let d = date!(1912 - 01 - 01) + time::Duration::days(days as i64);
            let s = format_long(d).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let year = &s["民國 ".len().."民國 ".len() + 3];
            prop_assert_eq!(year, format!("{:03}", d.year() - 1911));
            prop_assert!(year.starts_with('0'));
            prop_assert_eq!(s.as_bytes()["民國 ".len() + 3], b' ');
        }

        #[test]
        fn before_era_is_refused(days in 1i32..100_000) {
            let d = date!(1912 - 01 - 01) - time::Duration::days(days as i64);
            prop_assert!(format_long(d).is_err());
            prop_assert!(format_short(d).is_err());
        }
    }
}

/// Parses a date the way Taiwanese government files write it: ISO `2026-11-26`,
/// `2026/11/26`, ROC `115/11/26`, `115-11-26`, or ROC compact `1151126` / `0991231`,
/// Gregorian compact `20261126`. Full-width digits are folded first.
pub fn parse_date(raw: &str) -> Option<Date> {
    let s = crate::text::fold(raw);
    let (y, m, d): (i32, u8, u8) = if let Some((a, rest)) = s.split_once(['-', '/', '.']) {
        let (b, c) = rest.split_once(['-', '/', '.'])?;
        if a.is_empty() || a.len() > 4 || b.is_empty() || b.len() > 2 || c.is_empty() || c.len() > 2
        {
            return None;
        }
        let y: i32 = a.parse().ok()?;
        let y = if a.len() == 4 { y } else { y + 1911 };
        (y, b.parse().ok()?, c.parse().ok()?)
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        match s.len() {
            8 => (
                s[..4].parse().ok()?,
                s[4..6].parse().ok()?,
                s[6..].parse().ok()?,
            ),
            7 => (
                s[..3].parse::<i32>().ok()? + 1911,
                s[3..5].parse().ok()?,
                s[5..].parse().ok()?,
            ),
            _ => return None,
        }
    } else {
        return None;
    };
    if y < 1912 {
        return None;
    }
    let month = time::Month::try_from(m).ok()?;
    Date::from_calendar_date(y, month, d).ok()
}

#[cfg(test)]
mod parse_tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn formats_in_the_wild() {
        for s in [
            "2026-11-26",
            "2026/11/26",
            "115/11/26",
            "115-11-26",
            "1151126",
            "20261126",
            "１１５／１１／２６",
            " 115/11/26 ",
        ] {
            assert_eq!(parse_date(s), Some(date!(2026 - 11 - 26)), "{s}");
        }
        assert_eq!(parse_date("0991231"), Some(date!(2010 - 12 - 31)));
        assert_eq!(parse_date("99/1/15"), Some(date!(2010 - 01 - 15)));
        for s in [
            "",
            "115/13/01",
            "115/02/30",
            "abc",
            "2026-11",
            "1/2/3/4",
            "0/01/01",
            "20261301",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn short_form_parses_back(days in 0i64..60_000) {
            let d = date!(1912 - 01 - 01) + time::Duration::days(days);
            let s = format_short(d).unwrap();
            prop_assert_eq!(parse_date(&s), Some(d));
            prop_assert_eq!(parse_date(&d.to_string()), Some(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,16}") {
            let _ = parse_date(&s);
        }
    }
}

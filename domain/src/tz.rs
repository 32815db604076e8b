//! Time-zone facts the rules depend on.

use time::{Date, OffsetDateTime, UtcOffset};

/// Asia/Taipei: UTC+8 all year (Taiwan has observed no daylight saving time since 1979).
pub const TAIPEI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// The calendar date in Taipei at the instant `t`, whatever offset `t` carries.
pub fn taipei_date(t: OffsetDateTime) -> Date {
    t.to_offset(TAIPEI).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_evening_is_next_day_in_taipei() {
        assert_eq!(
            taipei_date(datetime!(2026-11-26 15:59:59 UTC)),
            time::macros::date!(2026 - 11 - 26)
        );
        assert_eq!(
            taipei_date(datetime!(2026-11-26 16:00:00 UTC)),
            time::macros::date!(2026 - 11 - 27)
        );
    }
}

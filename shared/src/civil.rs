//! Civil dates and instants. Permit dates are calendar dates in China Standard Time (UTC+08:00,
//! no daylight saving); instants are Unix seconds.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};

/// China Standard Time, UTC+08:00.
pub const CST: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(o) => o,
    None => panic!("UTC+08:00 is a valid offset"),
};

/// China Standard Time, UTC+08:00.
pub fn cst() -> FixedOffset {
    CST
}

/// Parses a strict `YYYY-MM-DD` date (four-digit year, two-digit month and day, a real date).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    NaiveDate::from_ymd_opt(
        s[0..4].parse().ok()?,
        s[5..7].parse().ok()?,
        s[8..10].parse().ok()?,
    )
}

/// A date as the integer `YYYYMMDD` used in the credential.
pub fn date_to_int(d: NaiveDate) -> u32 {
    let y = u32::try_from(d.year()).unwrap_or(0);
    y * 10000 + d.month() * 100 + d.day()
}

/// The date for an integer `YYYYMMDD`, if it is a real date between 1850 and 9999.
pub fn date_from_int(v: u64) -> Option<NaiveDate> {
    if !(18500101..=99991231).contains(&v) {
        return None;
    }
    let y = i32::try_from(v / 10000).ok()?;
    let m = u32::try_from(v / 100 % 100).ok()?;
    let d = u32::try_from(v % 100).ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The instant at which a date begins in China Standard Time, as Unix seconds.
pub fn start_of_day(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| cst().from_local_datetime(&t).single())
        .map_or(0, |t| t.timestamp())
}

/// The China Standard Time calendar date of an instant.
pub fn date_of(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&cst()).date_naive()
}

/// The China Standard Time date of Unix seconds.
pub fn date_of_unix(secs: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(secs, 0).map_or(NaiveDate::MIN, date_of)
}

/// Adds whole years, clamping 29 February to 28 February in non-leap years.
pub fn add_years(d: NaiveDate, years: i32) -> NaiveDate {
    add_months(d, years * 12)
}

/// Adds (or subtracts) whole months, clamping the day to the end of the target month
/// (31 March minus one month is 28 or 29 February).
pub fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + i32::try_from(d.month0()).unwrap_or(0) + months;
    let y = total.div_euclid(12);
    let m = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
    let mut day = d.day();
    loop {
        if let Some(r) = NaiveDate::from_ymd_opt(y, m, day) {
            return r;
        }
        if day <= 28 {
            return d;
        }
        day -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2024-02-29"), Some(d(2024, 2, 29)));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-2-03"), None);
        assert_eq!(parse_date("+024-02-03"), None);
        assert_eq!(date_to_int(d(1991, 7, 19)), 19910719);
        assert_eq!(date_from_int(19910719), Some(d(1991, 7, 19)));
        assert_eq!(date_from_int(19910732), None);
        assert_eq!(date_from_int(1991071), None);
        assert_eq!(add_years(d(2024, 2, 29), 1), d(2025, 2, 28));
        assert_eq!(add_months(d(2025, 3, 31), -1), d(2025, 2, 28));
        assert_eq!(add_months(d(2024, 1, 31), 1), d(2024, 2, 29));
        assert_eq!(add_months(d(2025, 1, 15), -1), d(2024, 12, 15));
        // 2026-11-25 00:00 +08:00 = 2026-11-24T16:00:00Z
        assert_eq!(start_of_day(d(2026, 11, 25)), 1_795_536_000);
        assert_eq!(date_of_unix(1_795_536_000), d(2026, 11, 25));
        assert_eq!(date_of_unix(1_795_535_999), d(2026, 11, 24));
    }
}

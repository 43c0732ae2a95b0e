//! Calendar dates, and today's date in Norway, for deadlines counted in days.

use std::fmt;

use super::FieldViolation;
use super::time::Instant;

/// An optional date as a request gives it: absent, a date, or why it is not one.
pub type DateInput = Option<Result<Date, FieldViolation>>;

/// A date of the Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// A valid date between the years 1900 and 9999, or `None`.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        Date::civil(year, month, day).filter(|_| year >= 1900)
    }

    /// Any valid date of the years 1 to 9999, for dates no request gave (a birth date read from
    /// an identity number), or `None`.
    pub fn civil(year: i32, month: u32, day: u32) -> Option<Self> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(Date { year, month, day })
    }

    /// The date `years` later: the same day and month, or 1 March for 29 February in a year
    /// without one.
    pub fn plus_years(self, years: i32) -> Self {
        let year = self.year + years;
        Date::civil(year, self.month, self.day).unwrap_or(Date { year, month: 3, day: 1 })
    }

    /// The instant this date begins in Norway (00:00 Europe/Oslo).
    pub fn start_in_norway(self) -> Instant {
        let midnight_utc = to_days(self) * 86_400;
        // Midnight falls outside the hour the clocks change, so the offset at 23:00 UTC the
        // evening before decides.
        let offset_hours = if is_summer_time(midnight_utc - 3600, self.year) { 2 } else { 1 };
        Instant((midnight_utc - offset_hours * 3600) * 1_000_000)
    }

    /// Checks a date from a request; `field` names it in the violation.
    pub fn parse(field: &str, year: i32, month: i32, day: i32) -> Result<Self, FieldViolation> {
        u32::try_from(month)
            .ok()
            .zip(u32::try_from(day).ok())
            .and_then(|(m, d)| Date::new(year, m, d))
            .ok_or_else(|| FieldViolation::new(field, "is not a valid date between 1900 and 9999"))
    }

    /// Parses the stored `YYYY-MM-DD` form.
    pub fn from_stored(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        Date::new(year, month, day)
    }

    /// Year, month and day.
    pub fn parts(self) -> (i32, u32, u32) {
        (self.year, self.month, self.day)
    }

    /// The date `days` later.
    pub fn plus_days(self, days: i64) -> Self {
        from_days(to_days(self) + days)
    }

    /// Today in Norway (Europe/Oslo: UTC+1, UTC+2 in summer time) at `now`.
    pub fn today_in_norway(now: Instant) -> Self {
        let seconds = now.0.div_euclid(1_000_000);
        let utc_date = from_days(seconds.div_euclid(86_400));
        let offset_hours = if is_summer_time(seconds, utc_date.year) { 2 } else { 1 };
        from_days((seconds + offset_hours * 3600).div_euclid(86_400))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn to_days(date: Date) -> i64 {
    let y = i64::from(date.year) - i64::from(date.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(date.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(date.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 (`civil_from_days`).
fn from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

/// European summer time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
/// Sunday of October.
fn is_summer_time(unix_seconds: i64, year: i32) -> bool {
    let last_sunday = |month: u32| {
        let last = Date { year, month, day: 31 };
        let days = to_days(last);
        // 1970-01-01 was a Thursday: weekday 0 = Sunday when (days + 4) % 7 == 0.
        days - (days + 4).rem_euclid(7)
    };
    let start = last_sunday(3) * 86_400 + 3600;
    let end = last_sunday(10) * 86_400 + 3600;
    (start..end).contains(&unix_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_counts_days() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2025, 2, 29).is_none());
        assert!(Date::new(2025, 13, 1).is_none());
        assert!(Date::new(1899, 12, 31).is_none());
        let d = Date::new(2026, 12, 10).unwrap();
        assert_eq!(d.plus_days(28).to_string(), "2027-01-07");
        assert_eq!(to_days(Date::new(1970, 1, 1).unwrap()), 0);
        assert_eq!(from_days(to_days(d)), d);
        assert_eq!(Date::from_stored("2026-03-05"), Date::new(2026, 3, 5));
        assert_eq!(Date::from_stored("2026-02-30"), None);
    }

    #[test]
    fn years_later_and_the_start_of_a_day() {
        let leap = Date::new(2024, 2, 29).unwrap();
        assert_eq!(leap.plus_years(1).to_string(), "2025-03-01");
        assert_eq!(leap.plus_years(4).to_string(), "2028-02-29");
        assert!(Date::civil(1854, 1, 1).is_some());
        // 2026-07-01 begins at 2026-06-30T22:00Z (summer time), 2026-01-31 at 2026-01-30T23:00Z.
        let summer = Date::new(2026, 7, 1).unwrap().start_in_norway();
        assert_eq!(summer.0, 1_782_856_800 * 1_000_000);
        assert_eq!(Date::today_in_norway(summer), Date::new(2026, 7, 1).unwrap());
        let winter = Date::new(2026, 1, 31).unwrap().start_in_norway();
        assert_eq!(Date::today_in_norway(winter), Date::new(2026, 1, 31).unwrap());
        assert_eq!(Date::today_in_norway(Instant(winter.0 - 1)), Date::new(2026, 1, 30).unwrap());
    }

    #[test]
    fn today_follows_norwegian_time() {
        // 2026-06-30T22:30Z is 00:30 on 1 July in Oslo (summer time).
        let summer = Instant(1_782_858_600 * 1_000_000);
        assert_eq!(Date::today_in_norway(summer).to_string(), "2026-07-01");
        // 2026-01-31T22:30Z is 23:30 on 31 January in Oslo (winter time).
        let winter = Instant(1_769_898_600 * 1_000_000);
        assert_eq!(Date::today_in_norway(winter).to_string(), "2026-01-31");
    }
}

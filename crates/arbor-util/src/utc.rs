//! Unix seconds as a UTC calendar date and time, without a time crate.

/// Seconds since the Unix epoch now (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A UTC date and time (proleptic Gregorian calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    /// The date and time `secs` seconds after 1970-01-01 00:00:00 UTC.
    pub fn from_unix(secs: u64) -> Self {
        let days = (secs / 86_400) as i64;
        let rem = (secs % 86_400) as u32;
        // Civil date from days since 1970-01-01 (Howard Hinnant's
        // algorithm: 400-year eras of 146,097 days, years from 1 March).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Utc {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `date -u -d @SECS` (GNU coreutils) for these instants: the epoch,
    /// leap days, a century year that is a leap year (2000) and one that
    /// is not (2100).
    #[test]
    fn dates_are_gnu_dates() {
        let d = |secs| {
            let u = Utc::from_unix(secs);
            (u.year, u.month, u.day, u.hour, u.minute, u.second)
        };
        assert_eq!(d(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(d(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(d(1_709_164_800), (2024, 2, 29, 0, 0, 0));
        assert_eq!(d(1_765_065_600), (2025, 12, 7, 0, 0, 0));
        assert_eq!(d(4_107_542_399), (2100, 2, 28, 23, 59, 59));
    }
}

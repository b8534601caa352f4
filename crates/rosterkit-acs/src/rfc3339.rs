//! A strict RFC 3339 timestamp parser for token expiry (`expiresOn`).
//!
//! One format only, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (e.g.
//! `2023-10-10T21:39:39.3244584+00:00`), so a few dozen lines here replace a date-time
//! dependency. Fractions of any length are accepted and truncated to nanoseconds; a leap second
//! (`:60`) counts as `:59`; times before 1970 are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `text`; `None` when it is not an RFC 3339 date-time (or is before 1970).
pub(crate) fn parse(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits.iter().try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let sep = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b.get(i).copied().unwrap_or(b'0') - b'0');
            }
            i += 1;
        }
        let len = i - start;
        if len == 0 {
            return None;
        }
        for _ in len..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let local =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second.min(59));
    let utc = u64::try_from(local - offset_secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(utc, nanos))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unix(t: SystemTime) -> (u64, u32) {
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        (d.as_secs(), d.subsec_nanos())
    }

    #[test]
    fn documented_example_and_variants() {
        // Identity IssueAccessToken example: 7 fraction digits and an offset.
        assert_eq!(
            unix(parse("2023-10-10T21:39:39.3244584+00:00").unwrap()),
            (1_696_973_979, 324_458_400)
        );
        assert_eq!(
            unix(parse("2023-11-14T22:13:20Z").unwrap()),
            (1_700_000_000, 0)
        );
        assert_eq!(
            unix(parse("2023-11-15T00:13:20+02:00").unwrap()),
            (1_700_000_000, 0)
        );
        assert_eq!(
            unix(parse("2023-11-14T20:13:20.5-02:00").unwrap()),
            (1_700_000_000, 500_000_000)
        );
        assert_eq!(unix(parse("1970-01-01T00:00:00z").unwrap()), (0, 0));
        assert_eq!(
            unix(parse("2024-02-29T00:00:00.1234567891234Z").unwrap()),
            (1_709_164_800, 123_456_789)
        );
        assert_eq!(
            unix(parse("2016-12-31T23:59:60Z").unwrap()),
            (1_483_228_799, 0)
        );
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "2023-10-10",
            "2023-10-10T21:39:39",
            "2023-10-10 21:39:39Z",
            "2023-13-10T21:39:39Z",
            "2023-02-29T21:39:39Z",
            "2023-10-10T24:00:00Z",
            "2023-10-10T21:39:39.Z",
            "2023-10-10T21:39:39+0000",
            "2023-10-10T21:39:39+24:00",
            "2023-10-10T21:39:39Zjunk",
            "1969-12-31T23:59:59Z",
            "+023-10-10T21:39:39Z",
            "2023-1a-10T21:39:39Z",
            "２023-10-10T21:39:39Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn round_trips_through_days(secs in 0u64..253_402_300_799) {
            let days = i64::try_from(secs / 86_400).unwrap();
            // Find the civil date by walking from the era formula's inverse (slow but simple).
            let z = days + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z - era * 146_097;
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap();
            let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap();
            let year = yoe + era * 400 + i64::from(month <= 2);
            let rem = secs % 86_400;
            let text = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                rem / 60 % 60,
                rem % 60
            );
            prop_assert_eq!(unix(parse(&text).unwrap()), (secs, 0));
        }
    }
}

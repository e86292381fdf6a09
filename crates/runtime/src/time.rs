//! Validation of `EFI_TIME` values (UEFI 2.10 section 8.3, "EFI_TIME" field ranges).
//!
//! SetTime and SetWakeupTime must reject out-of-range fields with `EFI_INVALID_PARAMETER` before any back end sees
//! them; [`validate`] is that check, shared by every back end.

use r_efi::efi::{Time, TIME_ADJUST_DAYLIGHT, TIME_IN_DAYLIGHT, UNSPECIFIED_TIMEZONE};

/// The field of an `EFI_TIME` that was out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// Year outside 1900..=9999.
    Year,
    /// Month outside 1..=12.
    Month,
    /// Day is 0 or past the last day of that month (leap years honoured).
    Day,
    /// Hour above 23.
    Hour,
    /// Minute above 59.
    Minute,
    /// Second above 59.
    Second,
    /// Nanosecond above 999,999,999.
    Nanosecond,
    /// TimeZone outside -1440..=1440 minutes and not `EFI_UNSPECIFIED_TIMEZONE` (0x07FF).
    TimeZone,
    /// Daylight has bits other than `EFI_TIME_ADJUST_DAYLIGHT | EFI_TIME_IN_DAYLIGHT`.
    Daylight,
}

/// Days in `month` (1..=12) of `year`, Gregorian calendar.
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks every field of `time` against the ranges of UEFI 2.10 section 8.3.
///
/// Errors: the first out-of-range field, checked in declaration order.
pub fn validate(time: &Time) -> Result<(), TimeError> {
    if !(1900..=9999).contains(&time.year) {
        return Err(TimeError::Year);
    }
    if !(1..=12).contains(&time.month) {
        return Err(TimeError::Month);
    }
    if time.day == 0 || time.day > days_in_month(time.year, time.month) {
        return Err(TimeError::Day);
    }
    if time.hour > 23 {
        return Err(TimeError::Hour);
    }
    if time.minute > 59 {
        return Err(TimeError::Minute);
    }
    if time.second > 59 {
        return Err(TimeError::Second);
    }
    if time.nanosecond > 999_999_999 {
        return Err(TimeError::Nanosecond);
    }
    if time.timezone != UNSPECIFIED_TIMEZONE && !(-1440..=1440).contains(&time.timezone) {
        return Err(TimeError::TimeZone);
    }
    if time.daylight & !(TIME_ADJUST_DAYLIGHT | TIME_IN_DAYLIGHT) != 0 {
        return Err(TimeError::Daylight);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Time {
        Time {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 59,
            second: 59,
            nanosecond: 999_999_999,
            timezone: UNSPECIFIED_TIMEZONE,
            daylight: TIME_IN_DAYLIGHT,
            ..Time::default()
        }
    }

    #[test]
    fn valid_time_accepted() {
        assert_eq!(validate(&good()), Ok(()));
    }

    #[test]
    fn each_out_of_range_field_is_named() {
        type Case = (fn(&mut Time), TimeError);
        let cases: [Case; 9] = [
            (|t| t.year = 1899, TimeError::Year),
            (|t| t.month = 13, TimeError::Month),
            (|t| t.year = 2023, TimeError::Day), // 2023-02-29 does not exist
            (|t| t.hour = 24, TimeError::Hour),
            (|t| t.minute = 60, TimeError::Minute),
            (|t| t.second = 60, TimeError::Second),
            (|t| t.nanosecond = 1_000_000_000, TimeError::Nanosecond),
            (|t| t.timezone = 1441, TimeError::TimeZone),
            (|t| t.daylight = 0x04, TimeError::Daylight),
        ];
        for (mutate, expected) in cases {
            let mut t = good();
            mutate(&mut t);
            assert_eq!(validate(&t), Err(expected));
        }
    }

    #[test]
    fn century_leap_rules() {
        let mut t = good();
        t.year = 1900;
        assert_eq!(validate(&t), Err(TimeError::Day));
        t.year = 2000;
        assert_eq!(validate(&t), Ok(()));
    }
}

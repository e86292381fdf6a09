//! The rest of the `variables` group: time services (UEFI 2.10 §8.3: GetTime/SetTime round trip, range checks,
//! the wakeup timer as the `EFI_RT_PROPERTIES_TABLE` describes it, §4.6.2), and GetNextHighMonotonicCount
//! (§8.5.2).
//!
//! The round trip moves the clock five years and back, at noon so that the few seconds the check takes cannot
//! change the date; the original time (plus the seconds the check took) and time zone are restored.

use core::fmt::Write;
use core::ptr;

use uefi_raw::table::runtime::TimeCapabilities;
use uefi_raw::time::{Daylight, Time};
use uefi_raw::{guid, Boolean, Guid, Status};

use crate::report::{Detail, Outcome, Report};
use crate::variables::runtime;
use crate::{expect_status, system_table};

/// `EFI_RT_PROPERTIES_TABLE_GUID` (§4.6.2).
const RT_PROPERTIES_TABLE: Guid = guid!("eb66918a-7eef-402a-842e-931d21c38ae9");
/// `EFI_RT_SUPPORTED_GET_WAKEUP_TIME`.
const RT_SUPPORTED_GET_WAKEUP_TIME: u32 = 0x4;

fn get_time() -> Result<(Time, TimeCapabilities), Detail> {
    let mut time = Time::invalid();
    let mut capabilities = TimeCapabilities::default();
    // SAFETY: two valid out-pointers.
    let status = unsafe { (runtime().get_time)(&mut time, &mut capabilities) };
    expect_status("GetTime", status, Status::SUCCESS)?;
    ensure!(
        time.is_valid(),
        "GetTime returned an out-of-range time {time:?}"
    );
    Ok((time, capabilities))
}

fn set_time(time: &Time) -> Status {
    // SAFETY: a valid EFI_TIME.
    unsafe { (runtime().set_time)(time) }
}

fn seconds_of_day(t: &Time) -> i64 {
    i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second)
}

fn time_round_trip() -> Outcome {
    let (original, capabilities) = get_time()?;
    ensure!(capabilities.resolution > 0, "GetTime reports resolution 0");
    let mut moved = original;
    moved.year = if original.year < 2090 {
        original.year + 5
    } else {
        original.year - 5
    };
    moved.day = original.day.min(28);
    (moved.hour, moved.minute, moved.second, moved.nanosecond) = (12, 0, 0, 0);
    moved.time_zone = -60;
    moved.daylight = Daylight::empty();
    expect_status("SetTime", set_time(&moved), Status::SUCCESS)?;
    let read = get_time();
    let mut restore = original;
    if let Ok((now, _)) = &read {
        let elapsed = (seconds_of_day(now) - seconds_of_day(&moved)).clamp(0, 59);
        let second = i64::from(original.second) + elapsed;
        if second < 60 {
            restore.second = second as u8;
        }
    }
    let restored = set_time(&restore);
    let (now, _) = read?;
    ensure!(
        (now.year, now.month, now.day) == (moved.year, moved.month, moved.day),
        "set {}-{}-{}, read back {}-{}-{}",
        moved.year,
        moved.month,
        moved.day,
        now.year,
        now.month,
        now.day
    );
    let drift = seconds_of_day(&now) - seconds_of_day(&moved);
    ensure!(
        (0..=10).contains(&drift),
        "read back {drift} s away from the time set"
    );
    ensure!(
        now.time_zone == -60,
        "time zone {} after setting -60",
        now.time_zone
    );
    expect_status("SetTime(restore)", restored, Status::SUCCESS)
}

fn time_ranges() -> Outcome {
    let (now, _) = get_time()?;
    let mut bad_month = now;
    bad_month.month = 13;
    expect_status(
        "SetTime(month 13)",
        set_time(&bad_month),
        Status::INVALID_PARAMETER,
    )?;
    let mut bad_day = now;
    (bad_day.year, bad_day.month, bad_day.day) = (2023, 2, 29);
    expect_status(
        "SetTime(2023-02-29)",
        set_time(&bad_day),
        Status::INVALID_PARAMETER,
    )?;
    let mut bad_zone = now;
    bad_zone.time_zone = 1441;
    expect_status(
        "SetTime(time zone 1441)",
        set_time(&bad_zone),
        Status::INVALID_PARAMETER,
    )?;
    // SAFETY: a null Time is what is being checked; Capabilities is null too (optional).
    let status = unsafe { (runtime().get_time)(ptr::null_mut(), ptr::null_mut()) };
    expect_status("GetTime(null)", status, Status::INVALID_PARAMETER)
}

/// The `RuntimeServicesSupported` mask of the `EFI_RT_PROPERTIES_TABLE`, if the firmware installed one; an error
/// if its version or length is wrong.
fn rt_properties() -> Result<Option<u32>, Detail> {
    let st = system_table();
    for i in 0..st.number_of_configuration_table_entries {
        // SAFETY: the firmware's configuration table holds that many entries.
        let entry = unsafe { &*st.configuration_table.add(i) };
        if entry.vendor_guid != RT_PROPERTIES_TABLE {
            continue;
        }
        // SAFETY: the table the GUID names: Version u16, Length u16, RuntimeServicesSupported u32.
        let (version, length, supported) = unsafe {
            let p = entry.vendor_table.cast::<u8>();
            (
                p.cast::<u16>().read_unaligned(),
                p.add(2).cast::<u16>().read_unaligned(),
                p.add(4).cast::<u32>().read_unaligned(),
            )
        };
        ensure!(
            version == 1 && length >= 8,
            "RT properties table version {version} length {length}"
        );
        return Ok(Some(supported));
    }
    Ok(None)
}

fn wakeup_time() -> Outcome {
    let (mut enabled, mut pending) = (Boolean::FALSE, Boolean::FALSE);
    let mut time = Time::invalid();
    // SAFETY: three valid out-pointers.
    let status = unsafe { (runtime().get_wakeup_time)(&mut enabled, &mut pending, &mut time) };
    let supported = rt_properties()?;
    match status {
        Status::SUCCESS => {
            ensure!(
                supported.is_none_or(|s| s & RT_SUPPORTED_GET_WAKEUP_TIME != 0),
                "GetWakeupTime works but the RT properties table says it does not"
            );
            ensure!(
                !bool::from(enabled) || time.is_valid(),
                "an enabled alarm at {time:?}"
            );
            Ok(())
        }
        Status::UNSUPPORTED => {
            ensure!(
                supported.is_some_and(|s| s & RT_SUPPORTED_GET_WAKEUP_TIME == 0),
                "GetWakeupTime is UNSUPPORTED without an RT properties table that says so"
            );
            // SAFETY: SetWakeupTime(FALSE, NULL) disables an alarm; allowed with a null time.
            let set = unsafe { (runtime().set_wakeup_time)(Boolean::FALSE, ptr::null()) };
            expect_status("SetWakeupTime(disable)", set, Status::UNSUPPORTED)
        }
        other => crate::fail!("GetWakeupTime returned {other:?}"),
    }
}

fn high_monotonic_count() -> Outcome {
    let (mut first, mut second) = (0u32, 0u32);
    // SAFETY: valid out-pointers.
    let (a, b) = unsafe {
        (
            (runtime().get_next_high_monotonic_count)(&mut first),
            (runtime().get_next_high_monotonic_count)(&mut second),
        )
    };
    expect_status("GetNextHighMonotonicCount", a, Status::SUCCESS)?;
    expect_status("GetNextHighMonotonicCount", b, Status::SUCCESS)?;
    ensure!(
        second == first.wrapping_add(1),
        "high count went from {first} to {second}"
    );
    // SAFETY: a null pointer is what is being checked.
    let null = unsafe { (runtime().get_next_high_monotonic_count)(ptr::null_mut()) };
    expect_status(
        "GetNextHighMonotonicCount(null)",
        null,
        Status::INVALID_PARAMETER,
    )
}

/// Runs the checks of this file.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    type Check = (&'static str, fn() -> Outcome);
    const CHECKS: [Check; 4] = [
        (
            "variables: GetTime/SetTime round trip with a time zone",
            time_round_trip,
        ),
        (
            "variables: SetTime and GetTime reject bad arguments",
            time_ranges,
        ),
        (
            "variables: wakeup timer as the RT properties table says",
            wakeup_time,
        ),
        (
            "variables: GetNextHighMonotonicCount increments",
            high_monotonic_count,
        ),
    ];
    for (name, check) in CHECKS {
        report.record(out, name, check());
    }
}

//! Tests of the CMOS RTC against a fake register file.

use std::vec::Vec;

use r_efi::efi::{Time, TIME_IN_DAYLIGHT, UNSPECIFIED_TIMEZONE};

use super::*;

/// A CMOS register file behind ports 0x70/0x71. `busy_reads` status-A reads report UIP before it clears;
/// `tick_after` data reads, the seconds register advances once (a torn read if not re-checked).
struct FakeCmos {
    registers: [u8; 128],
    index: u8,
    busy_reads: u32,
    tick_after: Option<u32>,
    data_reads: u32,
    writes: Vec<(u8, u8)>,
}

impl FakeCmos {
    fn new(binary: bool, h24: bool) -> FakeCmos {
        let mut registers = [0u8; 128];
        registers[usize::from(STATUS_B)] =
            if binary { B_BINARY } else { 0 } | if h24 { B_24_HOUR } else { 0 };
        FakeCmos {
            registers,
            index: 0,
            busy_reads: 0,
            tick_after: None,
            data_reads: 0,
            writes: Vec::new(),
        }
    }

    fn with(mut self, values: &[(u8, u8)]) -> FakeCmos {
        for &(register, value) in values {
            self.registers[usize::from(register)] = value;
        }
        self
    }
}

impl PortIo for FakeCmos {
    fn read8(&mut self, port: u16) -> u8 {
        assert_eq!(port, CMOS_DATA);
        self.data_reads += 1;
        if self.tick_after == Some(self.data_reads) {
            self.registers[usize::from(SECONDS)] += 1;
        }
        if self.index == STATUS_A && self.busy_reads > 0 {
            self.busy_reads -= 1;
            return A_UPDATE_IN_PROGRESS;
        }
        self.registers[usize::from(self.index)]
    }
    fn write8(&mut self, port: u16, value: u8) {
        match port {
            CMOS_INDEX => {
                assert_eq!(value & 0x80, 0, "the NMI-disable bit is never set");
                self.index = value;
            }
            CMOS_DATA => {
                self.writes.push((self.index, value));
                self.registers[usize::from(self.index)] = value;
            }
            _ => panic!("unexpected port {port:#x}"),
        }
    }
    fn read16(&mut self, _: u16) -> u16 {
        unreachable!()
    }
    fn read32(&mut self, _: u16) -> u32 {
        unreachable!()
    }
    fn write16(&mut self, _: u16, _: u16) {
        unreachable!()
    }
    fn write32(&mut self, _: u16, _: u32) {
        unreachable!()
    }
}

/// 2024-02-29 23:58:07 in BCD.
const BCD_LEAP_EVENING: [(u8, u8); 7] = [
    (SECONDS, 0x07),
    (MINUTES, 0x58),
    (HOURS, 0x23),
    (DAY, 0x29),
    (MONTH, 0x02),
    (YEAR, 0x24),
    (CENTURY, 0x20),
];

fn ymdhms(t: &Time) -> (u16, u8, u8, u8, u8, u8) {
    (t.year, t.month, t.day, t.hour, t.minute, t.second)
}

#[test]
fn bcd_24_hour_time_is_decoded() {
    let mut rtc = CmosRtc::new(FakeCmos::new(false, true).with(&BCD_LEAP_EVENING));
    let (t, caps) = rtc.get_time().unwrap();
    assert_eq!(ymdhms(&t), (2024, 2, 29, 23, 58, 7));
    assert_eq!(t.timezone, UNSPECIFIED_TIMEZONE);
    assert_eq!((caps.resolution, caps.accuracy), (1, 50_000_000));
}

#[test]
fn binary_12_hour_time_is_decoded() {
    let pm = |h: u8| h | HOUR_PM;
    for (hour, expected) in [(12, 0), (1, 1), (pm(12), 12), (pm(11), 23)] {
        let cmos = FakeCmos::new(true, false).with(&[
            (HOURS, hour),
            (DAY, 1),
            (MONTH, 1),
            (YEAR, 99),
            (CENTURY, 19),
        ]);
        let (t, _) = CmosRtc::new(cmos).get_time().unwrap();
        assert_eq!((t.year, t.hour), (1999, expected), "register {hour:#x}");
    }
}

#[test]
fn a_missing_century_means_the_2000s() {
    let cmos = FakeCmos::new(false, true).with(&[(DAY, 1), (MONTH, 1), (YEAR, 0x30), (CENTURY, 0)]);
    assert_eq!(CmosRtc::new(cmos).get_time().unwrap().0.year, 2030);
}

#[test]
fn malformed_bcd_and_12_hour_zero_are_device_errors() {
    let cmos = FakeCmos::new(false, true).with(&[(MINUTES, 0x5a), (DAY, 1), (MONTH, 1)]);
    assert_eq!(CmosRtc::new(cmos).get_time().err(), Some(CLOCK_FAULT));
    let cmos = FakeCmos::new(true, false).with(&[(HOURS, 0), (DAY, 1), (MONTH, 1)]);
    assert_eq!(CmosRtc::new(cmos).get_time().err(), Some(CLOCK_FAULT));
}

#[test]
fn reading_waits_out_an_update_and_a_stuck_clock_is_bounded() {
    let mut cmos = FakeCmos::new(false, true).with(&BCD_LEAP_EVENING);
    cmos.busy_reads = 500;
    let mut rtc = CmosRtc::new(cmos);
    assert_eq!(ymdhms(&rtc.get_time().unwrap().0).5, 7);
    let mut cmos = FakeCmos::new(false, true).with(&BCD_LEAP_EVENING);
    cmos.busy_reads = u32::MAX;
    let mut rtc = CmosRtc::new(cmos);
    assert_eq!(rtc.get_time().err(), Some(CLOCK_FAULT));
    assert!(rtc.io.data_reads <= UIP_POLLS + 1);
}

#[test]
fn a_torn_read_is_retried() {
    let mut cmos = FakeCmos::new(false, true).with(&BCD_LEAP_EVENING);
    // The seconds register ticks during the first pass: the two passes differ, the third agrees with the second.
    cmos.tick_after = Some(3);
    let (t, _) = CmosRtc::new(cmos).get_time().unwrap();
    assert_eq!(t.second, 8);
}

#[test]
fn set_time_writes_the_clocks_own_format_with_updates_halted() {
    for (binary, h24) in [(false, true), (true, true), (false, false), (true, false)] {
        let mut rtc = CmosRtc::new(FakeCmos::new(binary, h24));
        let t = Time {
            year: 2031,
            month: 12,
            day: 31,
            hour: 0,
            minute: 59,
            second: 30,
            timezone: -60,
            daylight: TIME_IN_DAYLIGHT,
            ..Time::default()
        };
        rtc.set_time(&t).unwrap();
        let writes = &rtc.io.writes;
        assert_eq!(
            writes.first().map(|w| (w.0, w.1 & B_SET)),
            Some((STATUS_B, B_SET))
        );
        assert_eq!(
            writes.last().map(|w| (w.0, w.1 & B_SET)),
            Some((STATUS_B, 0))
        );
        let hours = writes.iter().find(|w| w.0 == HOURS).unwrap().1;
        let expected_hours = match (binary, h24) {
            (_, true) => 0,
            (false, false) => 0x12,
            (true, false) => 12,
        };
        assert_eq!(hours, expected_hours, "binary {binary} 24h {h24}");
        let weekday_written = writes.iter().find(|w| w.0 == WEEKDAY).unwrap().1;
        assert_eq!(weekday_written, 4, "2031-12-31 is a Wednesday");
        let (back, _) = rtc.get_time().unwrap();
        assert_eq!(ymdhms(&back), ymdhms(&t));
        assert_eq!((back.timezone, back.daylight), (-60, TIME_IN_DAYLIGHT));
    }
}

#[test]
fn afternoon_hours_set_the_pm_bit_in_12_hour_mode() {
    let mut rtc = CmosRtc::new(FakeCmos::new(false, false));
    let t = Time {
        year: 2024,
        month: 6,
        day: 1,
        hour: 13,
        ..Time::default()
    };
    rtc.set_time(&t).unwrap();
    assert_eq!(rtc.io.registers[usize::from(HOURS)], HOUR_PM | 0x01);
    assert_eq!(rtc.get_time().unwrap().0.hour, 13);
}

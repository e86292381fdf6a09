//! The CMOS real-time clock of PC-compatible machines (MC146818 register set, as QEMU's `mc146818rtc` emulates it)
//! as a [`Clock`]: GetTime/SetTime of UEFI 2.10 section 8.3.
//!
//! Registers (index port 0x70, data port 0x71): seconds 0x00, minutes 0x02, hours 0x04, day of week 0x06, day of
//! month 0x07, month 0x08, year 0x09, status A 0x0A (bit 7 UIP: update in progress), status B 0x0B (bit 7 SET:
//! updates halted, bit 2 DM: binary instead of BCD, bit 1 24-hour mode), century 0x32 (the ACPI FADT `CENTURY`
//! index QEMU uses). In 12-hour mode bit 7 of the hours register means PM and the hour runs 1..=12.
//!
//! - Reading waits until UIP is clear (at most [`UIP_POLLS`] status reads; the update cycle lasts about 2 ms)
//!   and reads every register twice, until two consecutive passes agree (at most [`READ_ATTEMPTS`]), so a value
//!   is never torn by an update. A clock that stays busy or returns malformed BCD is a device error.
//! - Setting halts updates (SET), writes every field in the clock's own format (BCD or binary, 12- or 24-hour),
//!   and restarts it. The RTC has no time-zone or daylight fields: the values SetTime passes are kept in this
//!   structure and reported by GetTime until the machine resets (edk2 keeps them in a variable instead; vmfw's
//!   variables are not persistent yet either).
//! - Capabilities: 1 Hz resolution, 50 ppm accuracy (the MC146818 data sheet figure for a 32.768 kHz crystal), and
//!   SetTime does not clear sub-second state.
//!
//! The RTC alarm cannot wake a powered-off QEMU guest, so GetWakeupTime/SetWakeupTime are unsupported
//! (`crate::ops::PlatformServices`).

use hw::PortIo;
use r_efi::efi::{Boolean, Time, TimeCapabilities, UNSPECIFIED_TIMEZONE};

use crate::error::{DeviceFault, Result, RuntimeError};
use crate::ops::Clock;

/// CMOS index port.
pub const CMOS_INDEX: u16 = 0x70;
/// CMOS data port.
pub const CMOS_DATA: u16 = 0x71;
/// Status reads spent waiting for an update cycle to finish before giving up.
pub const UIP_POLLS: u32 = 100_000;
/// Double-read passes before giving up on a stable value.
pub const READ_ATTEMPTS: u32 = 8;

const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const WEEKDAY: u8 = 0x06;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const STATUS_A: u8 = 0x0a;
const STATUS_B: u8 = 0x0b;
const CENTURY: u8 = 0x32;
const A_UPDATE_IN_PROGRESS: u8 = 0x80;
const B_SET: u8 = 0x80;
const B_BINARY: u8 = 0x04;
const B_24_HOUR: u8 = 0x02;
const HOUR_PM: u8 = 0x80;

const CLOCK_FAULT: RuntimeError = RuntimeError::DeviceError(DeviceFault::Clock);

/// The CMOS RTC reached through `P`.
pub struct CmosRtc<P> {
    io: P,
    timezone: i16,
    daylight: u8,
}

/// One pass over the time registers, as the hardware holds them.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Raw {
    second: u8,
    minute: u8,
    hour: u8,
    day: u8,
    month: u8,
    year: u8,
    century: u8,
}

impl<P: PortIo> CmosRtc<P> {
    /// The clock behind `io`; the time zone reads as unspecified until SetTime gives one.
    pub const fn new(io: P) -> Self {
        CmosRtc {
            io,
            timezone: UNSPECIFIED_TIMEZONE,
            daylight: 0,
        }
    }

    fn read(&mut self, register: u8) -> u8 {
        // Bit 7 of the index stays clear: NMIs remain enabled, as the OS left them.
        self.io.write8(CMOS_INDEX, register);
        self.io.read8(CMOS_DATA)
    }

    fn write(&mut self, register: u8, value: u8) {
        self.io.write8(CMOS_INDEX, register);
        self.io.write8(CMOS_DATA, value);
    }

    fn wait_not_updating(&mut self) -> Result<()> {
        for _ in 0..UIP_POLLS {
            if self.read(STATUS_A) & A_UPDATE_IN_PROGRESS == 0 {
                return Ok(());
            }
        }
        log::error!(target: "runtime::rtc", "CMOS RTC: update in progress for {UIP_POLLS} status reads");
        Err(CLOCK_FAULT)
    }

    fn read_raw(&mut self) -> Raw {
        Raw {
            second: self.read(SECONDS),
            minute: self.read(MINUTES),
            hour: self.read(HOURS),
            day: self.read(DAY),
            month: self.read(MONTH),
            year: self.read(YEAR),
            century: self.read(CENTURY),
        }
    }

    fn read_stable(&mut self) -> Result<Raw> {
        for _ in 0..READ_ATTEMPTS {
            self.wait_not_updating()?;
            let first = self.read_raw();
            self.wait_not_updating()?;
            if self.read_raw() == first {
                return Ok(first);
            }
        }
        log::error!(target: "runtime::rtc", "CMOS RTC: no two equal readings in {READ_ATTEMPTS} attempts");
        Err(CLOCK_FAULT)
    }
}

/// A register value in the clock's format to a number.
fn decode(value: u8, binary: bool) -> Result<u8> {
    if binary {
        return Ok(value);
    }
    let (tens, ones) = (value >> 4, value & 0x0f);
    if tens > 9 || ones > 9 {
        return Err(CLOCK_FAULT);
    }
    Ok(tens * 10 + ones)
}

/// A number (below 100) to the clock's format.
fn encode(value: u8, binary: bool) -> u8 {
    if binary {
        value
    } else {
        ((value / 10) << 4) | (value % 10)
    }
}

/// Day of the week, 1 = Sunday .. 7 = Saturday (the RTC's convention), for a Gregorian date.
fn weekday(year: u16, month: u8, day: u8) -> u8 {
    const OFFSETS: [u16; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    let d = (y + y / 4 - y / 100 + y / 400 + OFFSETS[usize::from(month - 1)] + u16::from(day)) % 7;
    d as u8 + 1
}

impl<P: PortIo + Send> Clock for CmosRtc<P> {
    fn get_time(&mut self) -> Result<(Time, TimeCapabilities)> {
        let raw = self.read_stable()?;
        let status_b = self.read(STATUS_B);
        let binary = status_b & B_BINARY != 0;
        let mut hour = decode(raw.hour & !HOUR_PM, binary)?;
        if status_b & B_24_HOUR == 0 {
            if !(1..=12).contains(&hour) {
                return Err(CLOCK_FAULT);
            }
            hour = hour % 12 + if raw.hour & HOUR_PM != 0 { 12 } else { 0 };
        }
        // No usable century register content: assume 2000..2099.
        let century = decode(raw.century, binary)
            .ok()
            .filter(|c| (19..=99).contains(c))
            .unwrap_or(20);
        let time = Time {
            year: u16::from(century) * 100 + u16::from(decode(raw.year, binary)?),
            month: decode(raw.month, binary)?,
            day: decode(raw.day, binary)?,
            hour,
            minute: decode(raw.minute, binary)?,
            second: decode(raw.second, binary)?,
            pad1: 0,
            nanosecond: 0,
            timezone: self.timezone,
            daylight: self.daylight,
            pad2: 0,
        };
        let capabilities = TimeCapabilities {
            resolution: 1,
            accuracy: 50_000_000,
            sets_to_zero: Boolean::FALSE,
        };
        Ok((time, capabilities))
    }

    fn set_time(&mut self, time: &Time) -> Result<()> {
        self.wait_not_updating()?;
        let status_b = self.read(STATUS_B);
        let binary = status_b & B_BINARY != 0;
        let hour = if status_b & B_24_HOUR != 0 {
            encode(time.hour, binary)
        } else {
            let twelve = match time.hour % 12 {
                0 => 12,
                h => h,
            };
            encode(twelve, binary) | if time.hour >= 12 { HOUR_PM } else { 0 }
        };
        self.write(STATUS_B, status_b | B_SET);
        self.write(SECONDS, encode(time.second, binary));
        self.write(MINUTES, encode(time.minute, binary));
        self.write(HOURS, hour);
        self.write(
            WEEKDAY,
            encode(weekday(time.year, time.month, time.day), binary),
        );
        self.write(DAY, encode(time.day, binary));
        self.write(MONTH, encode(time.month, binary));
        self.write(YEAR, encode((time.year % 100) as u8, binary));
        self.write(CENTURY, encode((time.year / 100) as u8, binary));
        self.write(STATUS_B, status_b & !B_SET);
        self.timezone = time.timezone;
        self.daylight = time.daylight;
        Ok(())
    }
}

#[cfg(test)]
#[path = "rtc_tests.rs"]
mod tests;

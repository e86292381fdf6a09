//! Time after ExitBootServices: the TSC, calibrated against channel 2 of the 8254 PIT (gated through port 0x61),
//! which exists on both QEMU machines and needs no ACPI. The PIT counts at 1.193182 MHz; channel 2 in mode 0
//! raises its OUT line (port 0x61 bit 5) when the count reaches 0.
//!
//! Calibration: gate off, program channel 2 (mode 0, binary, low then high byte), gate on, read the TSC, poll OUT,
//! read the TSC again: `tsc_hz = delta_tsc * 1193182 / count`. Port 0x61 is restored afterwards (the speaker
//! stays off throughout).

use hw::PortIo;

/// PIT input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// PIT mode/command register.
pub const PIT_COMMAND: u16 = 0x43;
/// PIT channel 2 data port.
pub const PIT_CHANNEL2: u16 = 0x42;
/// NMI status and control: bit 0 = channel 2 gate, bit 1 = speaker data enable, bit 5 = channel 2 OUT.
pub const PORT_61: u16 = 0x61;
/// Channel 2, access low then high byte, mode 0 (interrupt on terminal count), binary.
const CHANNEL2_MODE0: u8 = 0b1011_0000;
/// Polls of port 0x61 before giving up on a PIT that never counts down.
const MAX_POLLS: u64 = 100_000_000;

/// Why calibration failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// OUT never went high.
    NoTerminalCount,
    /// The TSC did not advance, or advanced implausibly (outside 1 MHz..=100 GHz).
    Implausible(u64),
}

/// Measures the TSC frequency over `ms` milliseconds (1..=54, the 16-bit count's limit) of PIT channel 2.
pub fn calibrate(
    ports: &mut impl PortIo,
    rdtsc: &mut impl FnMut() -> u64,
    ms: u16,
) -> Result<u64, TimerError> {
    let count = (PIT_HZ * u64::from(ms.clamp(1, 54)) / 1000) as u16;
    let saved = ports.read8(PORT_61);
    ports.write8(PORT_61, saved & !0x03);
    ports.write8(PIT_COMMAND, CHANNEL2_MODE0);
    ports.write8(PIT_CHANNEL2, count as u8);
    ports.write8(PIT_CHANNEL2, (count >> 8) as u8);
    ports.write8(PORT_61, (saved & !0x02) | 0x01);
    let start = rdtsc();
    let mut done = false;
    for _ in 0..MAX_POLLS {
        if ports.read8(PORT_61) & 0x20 != 0 {
            done = true;
            break;
        }
    }
    let end = rdtsc();
    ports.write8(PORT_61, saved & !0x02);
    if !done {
        return Err(TimerError::NoTerminalCount);
    }
    let hz = end.wrapping_sub(start).saturating_mul(PIT_HZ) / u64::from(count);
    if !(1_000_000..=100_000_000_000).contains(&hz) {
        return Err(TimerError::Implausible(hz));
    }
    Ok(hz)
}

/// TSC ticks in `ms` milliseconds at `hz`.
pub fn ticks(hz: u64, ms: u64) -> u64 {
    (u128::from(hz) * u128::from(ms) / 1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use std::vec::Vec;

    /// A PIT whose OUT rises after `polls` reads of port 0x61; each poll advances the shared TSC by `tsc_step`.
    struct FakePit<'a> {
        tsc: &'a Cell<u64>,
        tsc_step: u64,
        polls_left: Option<u64>,
        writes: Vec<(u16, u8)>,
        p61: u8,
    }

    impl PortIo for FakePit<'_> {
        fn read8(&mut self, port: u16) -> u8 {
            assert_eq!(port, PORT_61);
            self.tsc.set(self.tsc.get() + self.tsc_step);
            let out = match &mut self.polls_left {
                Some(0) => 0x20,
                Some(n) if self.p61 & 1 == 1 => {
                    *n -= 1;
                    0
                }
                _ => 0,
            };
            self.p61 | out
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, port: u16, value: u8) {
            if port == PORT_61 {
                self.p61 = value;
            }
            self.writes.push((port, value));
        }
        fn write16(&mut self, _: u16, _: u16) {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    #[test]
    fn calibrates_from_the_terminal_count() {
        let tsc = Cell::new(0);
        // 50 ms = 59659 PIT ticks; 1000 polls of 100_000 TSC ticks = 1e8 ticks in 50 ms -> 2 GHz.
        let mut pit = FakePit {
            tsc: &tsc,
            tsc_step: 100_000,
            polls_left: Some(1000),
            writes: Vec::new(),
            p61: 0x4c,
        };
        let hz = calibrate(&mut pit, &mut || tsc.get(), 50).unwrap();
        assert!((1_990_000_000..=2_010_000_000).contains(&hz), "{hz}");
        assert_eq!(
            pit.writes,
            [
                (PORT_61, 0x4c),
                (PIT_COMMAND, 0xb0),
                (PIT_CHANNEL2, (59659u16 & 0xff) as u8),
                (PIT_CHANNEL2, (59659u16 >> 8) as u8),
                (PORT_61, 0x4d),
                (PORT_61, 0x4c)
            ]
        );
    }

    #[test]
    fn a_dead_pit_or_tsc_is_an_error() {
        let tsc = Cell::new(0);
        let mut pit = FakePit {
            tsc: &tsc,
            tsc_step: 0,
            polls_left: Some(3),
            writes: Vec::new(),
            p61: 0,
        };
        assert_eq!(
            calibrate(&mut pit, &mut || tsc.get(), 10),
            Err(TimerError::Implausible(0))
        );
        assert_eq!(ticks(2_000_000_000, 1500), 3_000_000_000);
    }
}

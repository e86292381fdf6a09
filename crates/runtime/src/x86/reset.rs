//! Reset and power-off of QEMU's PC machines as a [`Reset`]: ResetSystem of UEFI 2.10 section 8.5.1.
//!
//! - **Cold and warm reset** use the reset control register at port 0xCF9, which both chipsets have (PIIX3/PIIX4
//!   on `pc`, ICH9 LPC on `q35`): its bit 2 (RST_CPU) starts the reset on a 0-to-1 transition, bit 1 (SYS_RST)
//!   makes it a hard reset and bit 3 (FULL_RST) a full power cycle. Cold writes 0x0A then 0x0E, warm 0x02 then
//!   0x06. If the machine is still running, the 8042 keyboard controller's reset pulse (command 0xFE on port 0x64)
//!   is the fallback.
//! - **Shutdown** enters ACPI S5: `SLP_TYP | SLP_EN` written to the PM1a control register (ACPI 6.5 section
//!   4.8.3.2.1). The firmware passes the register's port and the S5 sleep type from the machine's ACPI tables; on
//!   QEMU `pc` and `q35` PM1a_CNT is PM base + 4 and `\_S5` is type 0.
//! - **Platform-specific** reset: vmfw knows no platform-specific reset GUID, so it performs a cold reset, as the
//!   spec asks of a platform that does not recognise the GUID in the reset data.
//!
//! [`Reset::reset`] returns only when none of that stopped the machine.

use hw::PortIo;
use r_efi::efi::{ResetType, RESET_SHUTDOWN, RESET_WARM};

use crate::ops::Reset;

/// The reset control register.
pub const RESET_CONTROL: u16 = 0xcf9;
/// The 8042 keyboard controller's command/status port.
pub const KBC_COMMAND: u16 = 0x64;
/// 8042 command: pulse the reset line.
pub const KBC_PULSE_RESET: u8 = 0xfe;
/// PM1 control register: sleep enable (ACPI 6.5 table 4.13).
pub const SLP_EN: u16 = 1 << 13;
/// Status reads spent waiting for the 8042 input buffer to drain.
pub const KBC_POLLS: u32 = 100_000;

const SYS_RST: u8 = 0x02;
const RST_CPU: u8 = 0x04;
const FULL_RST: u8 = 0x08;
const KBC_INPUT_FULL: u8 = 0x02;

/// Reset and power-off through port I/O `P`.
pub struct PortReset<P> {
    io: P,
    pm1a_control: u16,
    s5_sleep_type: u16,
}

impl<P> PortReset<P> {
    /// Reset through `io`; shutdown writes sleep type `s5_sleep_type` (3 bits) to the PM1a control register at
    /// port `pm1a_control`.
    pub const fn new(io: P, pm1a_control: u16, s5_sleep_type: u16) -> Self {
        PortReset {
            io,
            pm1a_control,
            s5_sleep_type,
        }
    }
}

impl<P: PortIo + Copy> PortReset<P> {
    fn reset_control(&self, value: u8) {
        let mut io = self.io;
        io.write8(RESET_CONTROL, value & !RST_CPU);
        io.write8(RESET_CONTROL, value);
    }

    fn keyboard_controller_reset(&self) {
        let mut io = self.io;
        for _ in 0..KBC_POLLS {
            if io.read8(KBC_COMMAND) & KBC_INPUT_FULL == 0 {
                break;
            }
        }
        io.write8(KBC_COMMAND, KBC_PULSE_RESET);
    }
}

impl<P: PortIo + Copy + Sync> Reset for PortReset<P> {
    fn reset(&self, reset_type: ResetType) {
        match reset_type {
            RESET_SHUTDOWN => {
                let mut io = self.io;
                io.write16(self.pm1a_control, ((self.s5_sleep_type & 7) << 10) | SLP_EN);
                log::error!(target: "runtime::reset", "ACPI S5 through PM1a_CNT {:#x} did not power off", self.pm1a_control);
            }
            RESET_WARM => {
                self.reset_control(SYS_RST | RST_CPU);
                self.keyboard_controller_reset();
            }
            // EFI_RESET_COLD, and EFI_RESET_PLATFORM_SPECIFIC (no platform-specific GUID is known).
            _ => {
                self.reset_control(FULL_RST | SYS_RST | RST_CPU);
                self.keyboard_controller_reset();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;
    use r_efi::efi::{RESET_COLD, RESET_PLATFORM_SPECIFIC};
    use std::vec::Vec;

    std::thread_local! {
        static WRITES: RefCell<Vec<(u16, u16)>> = const { RefCell::new(Vec::new()) };
    }

    /// Records every write in a per-thread log; the 8042 reports a full input buffer for 3 reads.
    #[derive(Clone, Copy)]
    struct Ports;

    impl PortIo for Ports {
        fn read8(&mut self, port: u16) -> u8 {
            assert_eq!(port, KBC_COMMAND);
            WRITES.with(|w| {
                let reads = w.borrow().iter().filter(|e| e.0 == 0xffff).count();
                w.borrow_mut().push((0xffff, 0));
                if reads < 3 {
                    KBC_INPUT_FULL
                } else {
                    0
                }
            })
        }
        fn write8(&mut self, port: u16, value: u8) {
            WRITES.with(|w| w.borrow_mut().push((port, value.into())));
        }
        fn write16(&mut self, port: u16, value: u16) {
            WRITES.with(|w| w.borrow_mut().push((port, value)));
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write32(&mut self, _: u16, _: u32) {
            unreachable!()
        }
    }

    fn writes_of(reset_type: ResetType) -> Vec<(u16, u16)> {
        WRITES.with(|w| w.borrow_mut().clear());
        PortReset::new(Ports, 0x604, 0).reset(reset_type);
        WRITES.with(|w| {
            w.borrow()
                .iter()
                .copied()
                .filter(|e| e.0 != 0xffff)
                .collect()
        })
    }

    #[test]
    fn cold_reset_is_a_full_reset_then_the_keyboard_controller() {
        assert_eq!(
            writes_of(RESET_COLD),
            [(0xcf9, 0x0a), (0xcf9, 0x0e), (0x64, 0xfe)]
        );
        assert_eq!(writes_of(RESET_PLATFORM_SPECIFIC), writes_of(RESET_COLD));
    }

    #[test]
    fn warm_reset_is_a_hard_reset_without_power_cycle() {
        assert_eq!(
            writes_of(RESET_WARM),
            [(0xcf9, 0x02), (0xcf9, 0x06), (0x64, 0xfe)]
        );
    }

    #[test]
    fn shutdown_enters_s5_and_never_resets() {
        assert_eq!(writes_of(RESET_SHUTDOWN), [(0x604, 1 << 13)]);
        WRITES.with(|w| w.borrow_mut().clear());
        PortReset::new(Ports, 0xb004, 5).reset(RESET_SHUTDOWN);
        assert_eq!(
            WRITES.with(|w| w.borrow().clone()),
            [(0xb004, (5 << 10) | (1 << 13))]
        );
    }

    #[test]
    fn the_keyboard_controller_fallback_waits_for_its_input_buffer() {
        WRITES.with(|w| w.borrow_mut().clear());
        PortReset::new(Ports, 0x604, 0).reset(RESET_COLD);
        let log = WRITES.with(|w| w.borrow().clone());
        let pulse = log.iter().position(|e| *e == (0x64, 0xfe)).unwrap();
        assert_eq!(log[..pulse].iter().filter(|e| e.0 == 0xffff).count(), 4);
    }
}

//! The two pieces of hardware the app touches itself: COM1 (after ExitBootServices, when ConOut is gone) and
//! QEMU's `isa-debug-exit` device (to report the verdict as QEMU's exit status).
//!
//! Design: both are written through [`hw::PortIo`], so the byte sequences are unit-tested against a fake; only
//! [`X86Ports`] executes real `in`/`out`. COM1 is assumed already programmed by the firmware (baud, 8N1); the app
//! only waits for the transmitter-holding-register-empty bit before each byte, with a bounded spin so a missing
//! UART cannot hang the run.

use core::fmt;

use hw::PortIo;

/// COM1's base I/O port (16550 UART): the transmit holding register (THR) when written.
pub const COM1: u16 = 0x3F8;
/// Line status register (LSR) offset from the UART base.
const LSR: u16 = 5;
/// LSR bit 5: transmitter holding register empty (THRE).
const LSR_THRE: u8 = 1 << 5;
/// How many LSR polls to make before sending a byte anyway.
const THRE_SPINS: u32 = 100_000;

/// `isa-debug-exit` I/O port as configured by `-device isa-debug-exit,iobase=0xf4,iosize=0x04`.
pub const DEBUG_EXIT: u16 = 0xF4;
/// Value written for "every check passed": QEMU exits with status `(0x10 << 1) | 1` = 33.
pub const EXIT_PASSED: u8 = 0x10;
/// Value written for "some check failed": QEMU exits with status `(0x11 << 1) | 1` = 35.
pub const EXIT_FAILED: u8 = 0x11;

/// Real port I/O with the x86 `in`/`out` instructions.
pub struct X86Ports;

impl PortIo for X86Ports {
    fn read8(&mut self, port: u16) -> u8 {
        let value: u8;
        // SAFETY: the app only reads COM1's LSR, which has no side effects.
        unsafe {
            core::arch::asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack))
        };
        value
    }
    fn read16(&mut self, port: u16) -> u16 {
        let value: u16;
        // SAFETY: see `read8`; port reads touch no memory.
        unsafe {
            core::arch::asm!("in ax, dx", in("dx") port, out("ax") value, options(nomem, nostack))
        };
        value
    }
    fn read32(&mut self, port: u16) -> u32 {
        let value: u32;
        // SAFETY: see `read8`; port reads touch no memory.
        unsafe {
            core::arch::asm!("in eax, dx", in("dx") port, out("eax") value, options(nomem, nostack))
        };
        value
    }
    fn write8(&mut self, port: u16, value: u8) {
        // SAFETY: the app only writes COM1's THR and the debug-exit port; neither touches memory.
        unsafe {
            core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack))
        };
    }
    fn write16(&mut self, port: u16, value: u16) {
        // SAFETY: see `write8`.
        unsafe {
            core::arch::asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack))
        };
    }
    fn write32(&mut self, port: u16, value: u32) {
        // SAFETY: see `write8`.
        unsafe {
            core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack))
        };
    }
}

/// A `fmt::Write` sink on a 16550 UART at `base` that sends `\n` as `\r\n`.
pub struct Serial<P: PortIo> {
    ports: P,
    base: u16,
}

impl<P: PortIo> Serial<P> {
    /// A writer on the UART at I/O port `base` (e.g. [`COM1`]).
    pub fn new(ports: P, base: u16) -> Serial<P> {
        Serial { ports, base }
    }

    fn put(&mut self, byte: u8) {
        for _ in 0..THRE_SPINS {
            if self.ports.read8(self.base + LSR) & LSR_THRE != 0 {
                break;
            }
        }
        self.ports.write8(self.base, byte);
    }
}

impl<P: PortIo> fmt::Write for Serial<P> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
        Ok(())
    }
}

/// Writes the verdict to `isa-debug-exit` (QEMU exits at once when the device is present; otherwise the write is
/// ignored and the caller must halt).
pub fn debug_exit(ports: &mut impl PortIo, all_passed: bool) {
    ports.write8(
        DEBUG_EXIT,
        if all_passed { EXIT_PASSED } else { EXIT_FAILED },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::vec::Vec;

    /// Records writes; LSR reports "busy" for `busy_polls` reads, then "empty".
    #[derive(Default)]
    struct FakePorts {
        writes: Vec<(u16, u8)>,
        lsr_reads: u32,
        busy_polls: u32,
    }

    impl PortIo for FakePorts {
        fn read8(&mut self, port: u16) -> u8 {
            assert_eq!(port, COM1 + LSR, "only the LSR is read");
            self.lsr_reads += 1;
            if self.busy_polls > 0 {
                self.busy_polls -= 1;
                0
            } else {
                LSR_THRE
            }
        }
        fn read16(&mut self, _: u16) -> u16 {
            unreachable!()
        }
        fn read32(&mut self, _: u16) -> u32 {
            unreachable!()
        }
        fn write8(&mut self, port: u16, value: u8) {
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
    fn serial_translates_newlines_and_waits_for_thre() {
        let mut fake = FakePorts {
            busy_polls: 3,
            ..FakePorts::default()
        };
        writeln!(Serial::new(&mut fake, COM1), "ok").unwrap();
        let bytes: Vec<u8> = fake.writes.iter().map(|&(_, b)| b).collect();
        assert_eq!(bytes, b"ok\r\n");
        assert!(fake.writes.iter().all(|&(port, _)| port == COM1));
        // 3 busy polls before the first byte, then one poll per byte.
        assert_eq!(fake.lsr_reads, 3 + 4);
    }

    #[test]
    fn serial_gives_up_waiting_on_a_dead_uart() {
        let mut fake = FakePorts {
            busy_polls: u32::MAX,
            ..FakePorts::default()
        };
        write!(Serial::new(&mut fake, COM1), "x").unwrap();
        assert_eq!(fake.writes, [(COM1, b'x')]);
        assert_eq!(fake.lsr_reads, THRE_SPINS);
    }

    #[test]
    fn debug_exit_values() {
        let mut fake = FakePorts::default();
        debug_exit(&mut fake, true);
        debug_exit(&mut fake, false);
        assert_eq!(fake.writes, [(DEBUG_EXIT, 0x10), (DEBUG_EXIT, 0x11)]);
    }
}

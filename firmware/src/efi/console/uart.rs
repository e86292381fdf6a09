//! COM1 as the console's terminal: raw bytes out (mirrored to QEMU's debug console, as the firmware log is) and
//! bytes in. The firmware's `print!` translates `\n` to `\r\n`; the console must not, so it writes here.
//!
//! The UART itself (115200 8N1, FIFOs on, no interrupts) is programmed at bring-up by `crate::console::init`.

use hw::PortIo;

use crate::arch::io::X86PortIo;

const COM1: u16 = 0x3f8;
const DEBUGCON: u16 = 0x402;
/// Line status register offset.
const LSR: u16 = 5;
const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;
/// LSR polls before a byte is sent anyway: a missing UART (LSR reads 0xFF) or a stuck one cannot hang output.
const THR_SPINS: u32 = 100_000;
/// Bytes sent per interrupt-masked stretch (about 4 ms at 115200 baud on real hardware).
const BURST: usize = 64;

/// Sends `bytes` to COM1 and the debug console unchanged. Each burst of [`BURST`] bytes is sent with interrupts
/// masked, so a timer notification that prints cannot cut into the middle of an escape sequence of it.
pub fn write(bytes: &[u8]) {
    let mut io = X86PortIo;
    for burst in bytes.chunks(BURST) {
        x86_64::instructions::interrupts::without_interrupts(|| {
            for &byte in burst {
                let mut spins = 0;
                while io.read8(COM1 + LSR) & LSR_THR_EMPTY == 0 && spins < THR_SPINS {
                    spins += 1;
                }
                io.write8(COM1, byte);
                io.write8(DEBUGCON, byte);
            }
        });
    }
}

/// The next received byte, if one is waiting. A missing UART (LSR 0xFF) reports nothing.
pub fn read() -> Option<u8> {
    let mut io = X86PortIo;
    let lsr = io.read8(COM1 + LSR);
    (lsr != 0xff && lsr & LSR_DATA_READY != 0).then(|| io.read8(COM1))
}

//! The firmware console: COM1 (16550 UART, 115200 8N1) and QEMU's debug console port 0x402, written together.
//!
//! `println!` writes here directly (the inventory, fault reports); `log` records go through [`crate::logger`].
//! After ExitBootServices the OS owns COM1: [`release_uart`] leaves only the debug console, and a writer that finds
//! the console busy drops its text instead of spinning (runtime services must never wait on the firmware).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use hw::PortIo;

use crate::arch::io::X86PortIo;

const COM1: u16 = 0x3f8;
const DEBUGCON: u16 = 0x402;
const LSR_THR_EMPTY: u8 = 0x20;

static LOCK: AtomicBool = AtomicBool::new(false);
static UART_RELEASED: AtomicBool = AtomicBool::new(false);

/// Stops all use of COM1 (at ExitBootServices); the debug console keeps the firmware's text.
pub fn release_uart() {
    UART_RELEASED.store(true, Ordering::Release);
}

/// Programs COM1 for 115200 baud, 8 data bits, no parity, 1 stop bit, FIFOs on, interrupts off.
pub fn init() {
    let mut io = X86PortIo;
    io.write8(COM1 + 1, 0x00); // IER: no interrupts
    io.write8(COM1 + 3, 0x80); // LCR: DLAB
    io.write8(COM1, 0x01); // DLL: 115200 / 1
    io.write8(COM1 + 1, 0x00); // DLM
    io.write8(COM1 + 3, 0x03); // LCR: 8N1
    io.write8(COM1 + 2, 0xc7); // FCR: enable and clear FIFOs
    io.write8(COM1 + 4, 0x03); // MCR: DTR | RTS
}

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut io = X86PortIo;
        for &byte in s.as_bytes() {
            if byte == b'\n' {
                put(&mut io, b'\r');
            }
            put(&mut io, byte);
        }
        Ok(())
    }
}

fn put(io: &mut X86PortIo, byte: u8) {
    if !UART_RELEASED.load(Ordering::Relaxed) {
        // A missing UART reads 0xff: LSR then says "empty" and the write goes nowhere, which is fine.
        let mut spins = 0u32;
        while io.read8(COM1 + 5) & LSR_THR_EMPTY == 0 && spins < 100_000 {
            spins += 1;
        }
        io.write8(COM1, byte);
    }
    io.write8(DEBUGCON, byte);
}

/// Writes formatted text to the console. Serialised with a spin flag so interleaved callers do not mix lines.
pub fn write_fmt(args: fmt::Arguments) {
    while LOCK
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        if UART_RELEASED.load(Ordering::Relaxed) {
            return;
        }
        core::hint::spin_loop();
    }
    let _ = Console.write_fmt(args);
    LOCK.store(false, Ordering::Release);
}

/// Releases the console lock unconditionally: for the fault handler, which may interrupt a writer.
pub fn force_unlock() {
    LOCK.store(false, Ordering::Release);
}

/// Prints to the console (COM1 and the debug console).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the console (COM1 and the debug console).
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

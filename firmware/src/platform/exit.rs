//! Leaving the machine: QEMU's `isa-debug-exit` device and system reset through port 0xCF9.

use hw::PortIo;

use crate::arch::io::X86PortIo;

/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Why the firmware stops. QEMU exits with status `(code << 1) | 1`.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub enum ExitCode {
    /// A CPU exception was reported (QEMU exit status 99).
    CpuException = 0x31,
    /// A Rust panic was reported (QEMU exit status 101).
    Panic = 0x32,
    /// ExitBootServices recorded a handoff violation in a strict run (QEMU exit status 103).
    HandoffViolation = 0x33,
}

/// Exits QEMU through `isa-debug-exit` when present; halts forever otherwise. Never returns.
pub fn fail(code: ExitCode) -> ! {
    X86PortIo.write8(DEBUG_EXIT_PORT, code as u8);
    halt_forever()
}

/// Disables interrupts and halts for good.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Resets the system through the reset control register at port 0xCF9 (PIIX4 and ICH9 both have it): a hard
/// reset (bits 1 and 2).
pub fn reset() -> ! {
    let mut io = X86PortIo;
    io.write8(0xcf9, 0x02);
    io.write8(0xcf9, 0x06);
    halt_forever()
}

//! The instructions the app executes itself: port I/O, `rdtsc`, control-register access, `hlt`, and the
//! `isa-debug-exit` write that ends the QEMU run.

use hw::PortIo;

/// Real port I/O with `in`/`out`.
pub struct X86Ports;

impl PortIo for X86Ports {
    fn read8(&mut self, port: u16) -> u8 {
        let value: u8;
        // SAFETY: port reads touch no memory; the app only reads ports of devices it audits.
        unsafe { core::arch::asm!("in al, dx", in("dx") port, out("al") value, options(nostack)) };
        value
    }
    fn read16(&mut self, port: u16) -> u16 {
        let value: u16;
        // SAFETY: as `read8`.
        unsafe { core::arch::asm!("in ax, dx", in("dx") port, out("ax") value, options(nostack)) };
        value
    }
    fn read32(&mut self, port: u16) -> u32 {
        let value: u32;
        // SAFETY: as `read8`.
        unsafe {
            core::arch::asm!("in eax, dx", in("dx") port, out("eax") value, options(nostack))
        };
        value
    }
    fn write8(&mut self, port: u16, value: u8) {
        // SAFETY: the app writes only the UART, the PIT/port 0x61, PCI configuration and virtio selectors,
        // none of which makes a device write memory.
        unsafe { core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nostack)) };
    }
    fn write16(&mut self, port: u16, value: u16) {
        // SAFETY: as `write8`.
        unsafe { core::arch::asm!("out dx, ax", in("dx") port, in("ax") value, options(nostack)) };
    }
    fn write32(&mut self, port: u16, value: u32) {
        // SAFETY: as `write8`.
        unsafe {
            core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nostack))
        };
    }
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` only reads the counter.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    u64::from(hi) << 32 | u64::from(lo)
}

/// CR4.
pub fn cr4() -> u64 {
    let value: u64;
    // SAFETY: reading CR4 has no side effects.
    unsafe { core::arch::asm!("mov {}, cr4", out(reg) value, options(nomem, nostack)) };
    value
}

/// CR4.LA57: 5-level paging, which the app's page tables do not support.
pub const CR4_LA57: u64 = 1 << 12;

/// Disables maskable interrupts.
pub fn cli() {
    // SAFETY: the app runs on its own and needs no interrupts.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
}

/// Writes `value` to `isa-debug-exit` at 0xf4 (QEMU exits with `(value << 1) | 1`), then halts for good in case
/// the device is absent.
pub fn debug_exit(value: u8) -> ! {
    X86Ports.write8(0xf4, value);
    loop {
        // SAFETY: interrupts are off: `hlt` stops the CPU.
        unsafe { core::arch::asm!("cli; hlt", options(nomem, nostack)) };
    }
}

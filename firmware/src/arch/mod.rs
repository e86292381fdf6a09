//! x86_64 architecture edge: reset and mode switches, interrupts, paging, port I/O.

pub mod idt;
pub mod io;
pub mod paging;

use core::arch::global_asm;

global_asm!(include_str!("reset.S"), options(att_syntax));

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects and is available on every x86_64 CPU.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Halts until the next interrupt, with interrupts enabled while waiting.
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

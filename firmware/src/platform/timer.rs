//! Time: the ACPI PM timer as the reference clock, the TSC for timestamps, the local APIC timer for the periodic
//! tick. The choice and its reasons are in docs/bring-up.md ("Time").
//!
//! - ACPI PM timer (ACPI 6.5 section 4.8.3.3): a fixed 3.579545 MHz counter at `PM base + 8`. No calibration needed,
//!   identical under TCG and KVM; QEMU implements it as 24 bits, so readers handle wrap-around. Used by `stall` and
//!   to calibrate the two others.
//! - TSC: read without an exit and monotonic; counts from 0 at reset, so `micros_since_reset` is `tsc / rate`.
//! - Local APIC timer (Intel SDM vol. 3A section 11.5.4): periodic, per-CPU, no legacy routing; its rate is
//!   measured against the PM timer. The 8259 PICs are remapped and masked, so it is the only interrupt source.

use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use hw::PortIo;

use crate::arch::{idt, io::X86PortIo, rdtsc};

/// ACPI PM timer frequency in Hz.
pub const PM_TIMER_HZ: u64 = 3_579_545;
/// Period of the firmware's timer tick, in microseconds (UEFI's customary 10 ms).
pub const TICK_US: u64 = 10_000;

const PM_TIMER_MASK: u32 = 0x00ff_ffff;
const APIC_BASE_MSR: u32 = 0x1b;
const APIC_EOI: u64 = 0xb0;
const APIC_SVR: u64 = 0xf0;
const APIC_LVT_TIMER: u64 = 0x320;
const APIC_LVT_LINT0: u64 = 0x350;
const APIC_LVT_LINT1: u64 = 0x360;
const APIC_TIMER_INITIAL: u64 = 0x380;
const APIC_TIMER_CURRENT: u64 = 0x390;
const APIC_TIMER_DIVIDE: u64 = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;

static PM_TIMER_PORT: AtomicU16 = AtomicU16::new(0);
static TSC_PER_MS: AtomicU64 = AtomicU64::new(0);
static APIC_BASE: AtomicU64 = AtomicU64::new(0);
static APIC_COUNT_PER_TICK: AtomicU64 = AtomicU64::new(0);

fn pm_timer() -> u32 {
    X86PortIo.read32(PM_TIMER_PORT.load(Ordering::Relaxed)) & PM_TIMER_MASK
}

/// Busy-waits `us` microseconds on the PM timer. Before `init` (no PM base yet) it returns at once.
pub fn stall(us: u64) {
    if PM_TIMER_PORT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let needed = us.saturating_mul(PM_TIMER_HZ) / 1_000_000;
    let mut elapsed = 0u64;
    let mut last = pm_timer();
    while elapsed < needed {
        let now = pm_timer();
        elapsed += u64::from(now.wrapping_sub(last) & PM_TIMER_MASK);
        last = now;
        core::hint::spin_loop();
    }
}

/// Microseconds since reset, from the TSC; 0 until the TSC has been calibrated.
pub fn micros_since_reset() -> u64 {
    match TSC_PER_MS.load(Ordering::Relaxed) {
        0 => 0,
        per_ms => rdtsc().saturating_mul(1000) / per_ms,
    }
}

fn apic_read(offset: u64) -> u32 {
    // SAFETY: the local APIC page is identity-mapped MMIO; the offset is one of its 32-bit registers.
    unsafe { core::ptr::read_volatile((APIC_BASE.load(Ordering::Relaxed) + offset) as *const u32) }
}

fn apic_write(offset: u64, value: u32) {
    // SAFETY: as in `apic_read`.
    unsafe {
        core::ptr::write_volatile(
            (APIC_BASE.load(Ordering::Relaxed) + offset) as *mut u32,
            value,
        )
    }
}

/// Remaps the two 8259 PICs to vectors 0x20..0x30 and masks every line.
fn mask_legacy_pics() {
    let mut io = X86PortIo;
    for (command, data, vector_base, cascade) in
        [(0x20u16, 0x21u16, 0x20u8, 0x04u8), (0xa0, 0xa1, 0x28, 0x02)]
    {
        io.write8(command, 0x11); // ICW1: edge, cascade, ICW4 follows
        io.write8(data, vector_base); // ICW2
        io.write8(data, cascade); // ICW3
        io.write8(data, 0x01); // ICW4: 8086 mode
        io.write8(data, 0xff); // OCW1: mask all
    }
}

/// Starts the clocks: PM timer at `pm_base + 8`, TSC and local APIC timer calibrated over 10 ms, the periodic
/// tick every [`TICK_US`] on [`idt::TIMER_VECTOR`]. Interrupts stay disabled; the caller enables them.
pub fn init(pm_base: u16) {
    PM_TIMER_PORT.store(pm_base + 8, Ordering::Relaxed);
    mask_legacy_pics();
    // SAFETY: reading IA32_APIC_BASE has no side effects.
    let base =
        unsafe { x86_64::registers::model_specific::Msr::new(APIC_BASE_MSR).read() } & !0xfff;
    APIC_BASE.store(base & 0x000f_ffff_ffff_f000, Ordering::Relaxed);
    apic_write(APIC_SVR, 0x100 | u32::from(idt::SPURIOUS_VECTOR));
    // Virtual-wire mode as the MP spec describes: LINT0 ExtINT, LINT1 NMI.
    apic_write(APIC_LVT_LINT0, 0x700);
    apic_write(APIC_LVT_LINT1, 0x400);
    apic_write(APIC_TIMER_DIVIDE, 0b1011); // divide by 1
    apic_write(APIC_LVT_TIMER, LVT_MASKED | u32::from(idt::TIMER_VECTOR));

    // Measure TSC and APIC timer rates over 10 ms of PM timer.
    const WINDOW_US: u64 = 10_000;
    apic_write(APIC_TIMER_INITIAL, u32::MAX);
    let tsc0 = rdtsc();
    stall(WINDOW_US);
    let tsc1 = rdtsc();
    let apic_elapsed = u64::from(u32::MAX - apic_read(APIC_TIMER_CURRENT));
    TSC_PER_MS.store(((tsc1 - tsc0) * 1000 / WINDOW_US).max(1), Ordering::Relaxed);
    let per_tick = (apic_elapsed * TICK_US / WINDOW_US).clamp(1, u64::from(u32::MAX));
    APIC_COUNT_PER_TICK.store(per_tick, Ordering::Relaxed);
    log::debug!(target: "timer", "TSC {} kHz, APIC timer {} counts per {} us tick", TSC_PER_MS.load(Ordering::Relaxed), per_tick, TICK_US);

    start();
}

/// (Re)starts the periodic tick at the calibrated rate.
pub fn start() {
    let per_tick = APIC_COUNT_PER_TICK.load(Ordering::Relaxed);
    if per_tick != 0 {
        apic_write(APIC_LVT_TIMER, LVT_PERIODIC | u32::from(idt::TIMER_VECTOR));
        apic_write(APIC_TIMER_INITIAL, per_tick as u32);
    }
}

/// Stops the periodic tick (ExitBootServices): masks the LVT entry and clears the count.
pub fn stop() {
    apic_write(APIC_LVT_TIMER, LVT_MASKED | u32::from(idt::TIMER_VECTOR));
    apic_write(APIC_TIMER_INITIAL, 0);
}

/// The timer interrupt (called by `timer_interrupt_stub` with interrupts disabled).
#[no_mangle]
extern "C" fn timer_interrupt() {
    apic_write(APIC_EOI, 0);
    crate::efi::event::timer_tick();
}

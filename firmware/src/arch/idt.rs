//! The interrupt descriptor table and CPU exception reporting (Intel SDM vol. 3A chapter 6).
//!
//! Every exception is reported on the console with its vector, error code, RIP, CR2 and the general registers,
//! then the firmware leaves QEMU through `isa-debug-exit` (halting where that device is absent): a fault is
//! never silent and never a reboot loop.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

global_asm!(include_str!("interrupts.S"), options(att_syntax));

extern "C" {
    static exception_stub_table: [u64; 32];
    fn timer_interrupt_stub();
    fn spurious_interrupt_stub();
}

/// Vector of the periodic timer interrupt (LAPIC timer).
pub const TIMER_VECTOR: u8 = 0x30;
/// Vector the local APIC uses for spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xff;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const EMPTY: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// A 64-bit interrupt gate (type 0xE, present, DPL 0) on the 64-bit code selector 0x18.
    fn interrupt(handler: u64) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: 0x18,
            ist: 0,
            type_attr: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; 256]>);

// SAFETY: the table is written only by `init`, on the boot processor with interrupts disabled, before `lidt`.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new([Gate::EMPTY; 256]));

/// Fills the IDT with the exception, timer and spurious-interrupt stubs and loads it.
pub fn init() {
    // SAFETY: single-threaded bring-up with interrupts off; nothing else references the table yet.
    let idt = unsafe { &mut *IDT.0.get() };
    // SAFETY: `exception_stub_table` is an immutable table of 32 addresses emitted by interrupts.S.
    let stubs = unsafe { &exception_stub_table };
    for (gate, &stub) in idt.iter_mut().zip(stubs.iter()) {
        *gate = Gate::interrupt(stub);
    }
    idt[TIMER_VECTOR as usize] = Gate::interrupt(timer_interrupt_stub as *const () as u64);
    idt[SPURIOUS_VECTOR as usize] = Gate::interrupt(spurious_interrupt_stub as *const () as u64);
    // Legacy 8259 vectors (remapped to 0x20..0x30 and masked) are routed to the spurious stub too.
    for gate in &mut idt[0x20..0x30] {
        *gate = Gate::interrupt(spurious_interrupt_stub as *const () as u64);
    }
    #[repr(C, packed)]
    struct Descriptor {
        limit: u16,
        base: u64,
    }
    let descriptor = Descriptor {
        limit: (core::mem::size_of::<[Gate; 256]>() - 1) as u16,
        base: idt.as_ptr() as u64,
    };
    // SAFETY: the descriptor points at a static, fully initialised table of 256 valid gates.
    unsafe { asm!("lidt [{}]", in(reg) &descriptor, options(readonly, nostack, preserves_flags)) };
}

/// The registers saved by `exception_common`, in stack order.
#[repr(C)]
pub struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

const EXCEPTION_NAMES: [&str; 32] = [
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 floating point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating point",
    "#VE virtualization",
    "#CP control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved",
];

/// Called by `exception_common` with the saved state; reports it and leaves the machine.
#[no_mangle]
extern "C" fn exception_handler(frame: &ExceptionFrame) -> ! {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    let name = EXCEPTION_NAMES
        .get(frame.vector as usize)
        .copied()
        .unwrap_or("unknown");
    let f = frame;
    crate::console::force_unlock();
    crate::println!(
        "\n!!!! vmfw: CPU exception {} ({}) error code {:#x}",
        f.vector,
        name,
        f.error_code
    );
    crate::println!(
        "RIP {:#018x} CS {:#06x} RFLAGS {:#010x} RSP {:#018x} SS {:#06x} CR2 {:#018x}",
        f.rip,
        f.cs,
        f.rflags,
        f.rsp,
        f.ss,
        cr2
    );
    crate::println!(
        "RAX {:#018x} RBX {:#018x} RCX {:#018x} RDX {:#018x}",
        f.rax,
        f.rbx,
        f.rcx,
        f.rdx
    );
    crate::println!(
        "RSI {:#018x} RDI {:#018x} RBP {:#018x} R8  {:#018x}",
        f.rsi,
        f.rdi,
        f.rbp,
        f.r8
    );
    crate::println!(
        "R9  {:#018x} R10 {:#018x} R11 {:#018x} R12 {:#018x}",
        f.r9,
        f.r10,
        f.r11,
        f.r12
    );
    crate::println!(
        "R13 {:#018x} R14 {:#018x} R15 {:#018x}",
        f.r13,
        f.r14,
        f.r15
    );
    crate::platform::exit::fail(crate::platform::exit::ExitCode::CpuException)
}

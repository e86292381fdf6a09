//! The app's own GDT, IDT and stack after ExitBootServices, all in its own image or loader memory (Intel SDM
//! vol. 3A §3.5.1, §6.10, §6.14).
//!
//! GDT: null, 64-bit code (selector 0x08), data (0x10). IDT: vectors 0..=31 point at stubs that push the vector
//! (and a 0 where the CPU pushes no error code) and call [`exception`], which reports on COM1 and ends the run
//! with the audit-error code; a fault can therefore never reach the firmware's handlers in memory the canary has
//! overwritten. Interrupts stay disabled, so vectors 32..=255 are left absent.

use core::fmt::Write;

use handoff_audit_core::report::EXIT_AUDIT_ERROR;
use handoff_audit_core::serial::{Uart, COM1};

use crate::x86::{debug_exit, X86Ports};

/// The GDT: null, code64 (P, DPL 0, S, execute/read, L), data (P, DPL 0, S, read/write).
static GDT: [u64; 3] = [0, 0x00af_9a00_0000_ffff, 0x00cf_9200_0000_ffff];
const CODE_SELECTOR: u16 = 0x08;
const DATA_SELECTOR: u16 = 0x10;

/// 256 interrupt gates of 16 bytes; filled by [`load`]. Only the boot CPU runs, with interrupts off.
static mut IDT: [[u64; 2]; 256] = [[0; 2]; 256];

#[repr(C, packed)]
struct TableRegister {
    limit: u16,
    base: u64,
}

// Vectors with an error code: 8, 10..=14, 17, 21, 29, 30 (SDM table 6-1). Each stub is padded to 16 bytes so
// stub N lives at `handoff_audit_isr_stubs + 16 * N`.
macro_rules! stubs {
    ($($vector:literal $push:literal),* $(,)?) => {
        core::arch::global_asm!(
            ".balign 16",
            ".globl handoff_audit_isr_stubs",
            "handoff_audit_isr_stubs:",
            $(
                concat!(".if ", $push),
                "push 0",
                ".endif",
                concat!("push ", $vector),
                "jmp 2f",
                ".balign 16",
            )*
            "2:",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {handler}",
            "ud2",
            handler = sym exception,
        );
    };
}

stubs!(
    0 1, 1 1, 2 1, 3 1, 4 1, 5 1, 6 1, 7 1, 8 0, 9 1, 10 0, 11 0, 12 0, 13 0, 14 0, 15 1,
    16 1, 17 0, 18 1, 19 1, 20 1, 21 0, 22 1, 23 1, 24 1, 25 1, 26 1, 27 1, 28 1, 29 0, 30 0, 31 1,
);

extern "C" {
    static handoff_audit_isr_stubs: u8;
}

/// Reports an exception taken after the switch and ends the run as an audit error. `frame` points at the vector,
/// the error code, then the CPU's frame (RIP, CS, RFLAGS, RSP, SS).
extern "sysv64" fn exception(frame: *const u64) -> ! {
    // SAFETY: the stub passes its stack pointer; the 7 quadwords above it were pushed by the CPU and the stub.
    let [vector, error, rip, _, _, rsp, _] = unsafe { *frame.cast::<[u64; 7]>() };
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { core::arch::asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack)) };
    let _ = writeln!(
        Uart::new(X86Ports, COM1),
        "\nhandoff-audit: fatal: exception {vector} at rip {rip:#x} (error code {error:#x}, cr2 {cr2:#x}, rsp {rsp:#x})"
    );
    debug_exit(EXIT_AUDIT_ERROR)
}

/// Loads the app's GDT (reloading every segment register) and IDT.
///
/// # Safety
/// Interrupts must be disabled; the app's image must stay mapped.
pub unsafe fn load() {
    // Defined by the global_asm above; only its address is taken.
    let stubs = core::ptr::addr_of!(handoff_audit_isr_stubs) as u64;
    let idt = core::ptr::addr_of_mut!(IDT);
    for vector in 0..32u64 {
        let handler = stubs + 16 * vector;
        let low = (handler & 0xffff)
            | u64::from(CODE_SELECTOR) << 16
            | 0x8e00u64 << 32 // present, DPL 0, 64-bit interrupt gate, IST 0
            | (handler >> 16 & 0xffff) << 48;
        // SAFETY: the only writer, before the IDT is loaded; `vector` < 256.
        unsafe { (*idt)[vector as usize] = [low, handler >> 32] };
    }
    let gdtr = TableRegister {
        limit: (core::mem::size_of_val(&GDT) - 1) as u16,
        base: GDT.as_ptr() as u64,
    };
    let idtr = TableRegister {
        limit: (core::mem::size_of::<[[u64; 2]; 256]>() - 1) as u16,
        base: idt as u64,
    };
    // SAFETY: both tables are valid statics; the far return reloads CS with the new code descriptor and the data
    // selector is loaded into every data segment register. Interrupts are off (caller).
    unsafe {
        core::arch::asm!(
            "lgdt [{gdtr}]",
            "push {code}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {data:x}",
            "mov es, {data:x}",
            "mov ss, {data:x}",
            "mov fs, {data:x}",
            "mov gs, {data:x}",
            "lidt [{idtr}]",
            gdtr = in(reg) &gdtr,
            idtr = in(reg) &idtr,
            code = in(reg) u64::from(CODE_SELECTOR),
            data = in(reg) u64::from(DATA_SELECTOR),
            tmp = out(reg) _,
        );
    }
}

/// Continues on a new stack whose top is `top` (16-byte aligned) by calling `entry(arg)`, which never returns.
///
/// # Safety
/// `[top - size, top)` must be mapped memory the app owns; nothing on the old stack may be used afterwards.
pub unsafe fn switch_stack<T>(top: u64, entry: extern "sysv64" fn(*mut T) -> !, arg: *mut T) -> ! {
    // SAFETY: the caller guarantees the stack; `entry` follows the System V ABI and gets `arg` in RDI.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {entry}",
            "ud2",
            top = in(reg) top,
            entry = in(reg) entry,
            in("rdi") arg,
            options(noreturn),
        )
    }
}

//! `handoff-audit`: a UEFI application that the firmware under test boots as `\EFI\BOOT\BOOTX64.EFI`, like an OS
//! loader, and that checks what an OS would otherwise find out the hard way.
//!
//! - Before ExitBootServices: which PCI functions a firmware driver holds `BY_DRIVER` ([`bindings`]); the
//!   system, boot-services and runtime-services table CRC32s; the memory map rules (descriptor size and version,
//!   alignment, overlaps, known types, EFI_MEMORY_RUNTIME); the map-key rule (a stale key is refused with
//!   EFI_INVALID_PARAMETER, a fresh one accepted) ([`handoff`]).
//! - After it ([`os`]): its own page tables, GDT, IDT and stack in loader memory; every PCI function's Command
//!   register and, for virtio, NVMe, xHCI and e1000, whether the device still runs; the DMA canary over all
//!   memory the OS now owns while the host runner sends traffic to every NIC.
//!
//! Output goes to COM1 (directly, as no firmware console exists after ExitBootServices): progress lines, then one
//! JSON report between `=== handoff-audit report begin ===` and `=== handoff-audit report end ===`. The verdict
//! goes to `isa-debug-exit` at 0xf4: 0x20 clean (QEMU status 65), 0x21 violations (67), 0x22 audit error (69).
//! The rules live in `crates/handoff-audit-core`, host-tested; this crate binds them to the hardware. The load
//! option `leak-e1000` makes the app leave an e1000 receiving on purpose ([`leak`]), to show the audit catches it.
//!
//! On the host the crate builds as a stub that says it must run under UEFI.
#![cfg_attr(target_os = "uefi", no_std, no_main)]

#[cfg(target_os = "uefi")]
extern crate alloc;

#[cfg(target_os = "uefi")]
mod bindings;
#[cfg(target_os = "uefi")]
mod cpu;
#[cfg(target_os = "uefi")]
mod handoff;
#[cfg(target_os = "uefi")]
mod heap;
#[cfg(target_os = "uefi")]
mod leak;
#[cfg(target_os = "uefi")]
mod os;
#[cfg(target_os = "uefi")]
mod paging;
#[cfg(target_os = "uefi")]
mod x86;

#[cfg(target_os = "uefi")]
mod app {
    use alloc::boxed::Box;
    use alloc::format;
    use alloc::vec;
    use core::fmt::Write;

    use handoff_audit_core::memmap::{Range, PAGE_SIZE};
    use handoff_audit_core::report::{Report, BEGIN_MARKER, END_MARKER, EXIT_AUDIT_ERROR};
    use handoff_audit_core::serial::{Uart, COM1};
    use uefi::Status;
    use uefi_raw::table::boot::{AllocateType, MemoryType};

    use crate::heap::{Bump, HEAP_PAGES};
    use crate::x86::{debug_exit, X86Ports};
    use crate::{bindings, handoff, leak, os};

    #[global_allocator]
    static HEAP: Bump = Bump::empty();

    /// COM1, written directly.
    pub fn com1() -> Uart<X86Ports> {
        Uart::new(X86Ports, COM1)
    }

    /// Prints the report between its markers and ends the run with its verdict.
    pub fn finish(report: &Report) -> ! {
        let json = report.to_json();
        let mut out = com1();
        let _ = writeln!(out, "\n{BEGIN_MARKER}\n{json}\n{END_MARKER}");
        let _ = writeln!(out, "handoff-audit: outcome {}", report.outcome().name());
        debug_exit(report.outcome().exit_value())
    }

    fn init_heap() -> Result<Range, Status> {
        let mut addr = 0u64;
        let st = uefi::table::system_table_raw().ok_or(Status::NOT_READY)?;
        // SAFETY: boot services are live at entry; `addr` is a valid out-pointer.
        let status = unsafe {
            ((*st.as_ref().boot_services).allocate_pages)(
                AllocateType::ANY_PAGES,
                MemoryType::LOADER_DATA,
                HEAP_PAGES,
                &mut addr,
            )
        };
        if status != Status::SUCCESS {
            return Err(status);
        }
        let len = HEAP_PAGES as u64 * PAGE_SIZE;
        HEAP.init(addr, len);
        Ok(Range::at(addr, len))
    }

    #[uefi::entry]
    fn main() -> Status {
        let _ = writeln!(com1(), "handoff-audit: starting");
        let heap = match init_heap() {
            Ok(r) => r,
            Err(status) => {
                let _ = writeln!(
                    com1(),
                    "handoff-audit: fatal: heap AllocatePages: {status:?}"
                );
                debug_exit(EXIT_AUDIT_ERROR);
            }
        };
        let mut report = Report::default();
        let mut own = vec![heap];
        match handoff::image_range() {
            Some(image) => own.push(image),
            None => report.error("no Loaded Image protocol on the app's handle"),
        }
        if leak::requested() {
            match leak::arm() {
                Ok(what) => {
                    let _ = writeln!(com1(), "handoff-audit: {what}");
                    report.notes.push(what);
                }
                Err(why) => report.error(format!(
                    "{} requested but not armed: {why}",
                    leak::LEAK_WORD
                )),
            }
        }
        bindings::record(&mut report);
        match handoff::run(&mut report, own) {
            Ok(handoff) => os::enter(Box::new(os::Context {
                report,
                handoff,
                tables: None,
            })),
            Err(()) => finish(&report),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        let _ = writeln!(com1(), "\nhandoff-audit: fatal: panic: {info}");
        debug_exit(EXIT_AUDIT_ERROR)
    }
}

#[cfg(target_os = "uefi")]
use app::{com1, finish};

/// On the host there is nothing to run.
#[cfg(not(target_os = "uefi"))]
fn main() {
    eprintln!("handoff-audit is a UEFI application: build it with --target x86_64-unknown-uefi and boot it as \\EFI\\BOOT\\BOOTX64.EFI");
    std::process::exit(2);
}

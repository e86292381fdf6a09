//! `bs-selftest`: a UEFI application that exercises the firmware's boot services for real.
//!
//! The firmware loads it (QEMU `-kernel bs-selftest.efi`) and starts it with its image handle and the system
//! table. The app then runs groups of checks against the raw boot-services table (UEFI 2.10 §7), so every status
//! code the firmware returns is seen unfiltered:
//!
//! - [`memory`]: AllocatePages (AnyPages/Address/MaxAddress), FreePages, AllocatePool/FreePool, GetMemoryMap;
//! - [`crc`]: CalculateCrc32, the system and boot-services table header CRCs, CopyMem/SetMem;
//! - [`events`]: timers, Stall, CheckEvent, WaitForEvent, TPL masking, CloseEvent, event groups;
//! - [`protocols`]: Install/Uninstall(Multiple)ProtocolInterface(s), HandleProtocol, OpenProtocol,
//!   LocateHandleBuffer, OpenProtocolInformation, ProtocolsPerHandle, a forged handle;
//! - [`driver`]: a driver binding on the app's own image handle, ConnectController/DisconnectController;
//! - [`pci`]: the PCI I/O protocol on every function: device paths, config/BAR access, attributes, DMA mapping;
//! - [`blockio`]: Block I/O on the virtio-blk disks the load options describe;
//! - [`console`]: Simple Text Output/Input (Ex), the console's device path, the device path protocols, and keys
//!   typed on the serial line when the load options ask (`console-keys`);
//! - [`fs`]: partitions, Partition Info and the FAT file system on test disks (only with `-append fs`/`fs-bad`);
//! - `variables`: variable services, time, monotonic count, and (after ExitBootServices) SetVirtualAddressMap with
//!   runtime services called at their new virtual addresses;
//! - [`exit`]: ExitBootServices with a stale then a fresh map key.
//!
//! Each check prints `selftest: <name> ... ok|FAILED (<detail>)` (ConOut before ExitBootServices, COM1 after) and
//! the run closes with `selftest: N passed, M failed`; then the verdict goes to QEMU's `isa-debug-exit` (0x10 = all
//! passed, exit status 33; 0x11 = some failed, exit status 35). A panic also reports failure that way.
//!
//! Invariants: nothing here allocates through a Rust global allocator (there is none); every buffer the firmware
//! fills comes from AllocatePool and is freed by the check that asked for it; interfaces installed on handles are
//! uninstalled before the check returns, so a later check never sees another's leftovers.
//!
//! On any other target (the host) the crate builds as a tiny std program that only says it must run under UEFI,
//! so workspace-wide `cargo build`/`cargo test` work; `cargo test` runs the unit tests of the pure helpers.
#![cfg_attr(target_os = "uefi", no_std, no_main)]
// The checks only run on the UEFI target.
#![cfg_attr(not(target_os = "uefi"), allow(dead_code, unused_imports))]
// A failure detail is a fixed 128-byte buffer by design: the app has no heap that survives ExitBootServices.
#![allow(clippy::result_large_err)]

// First, so its `ensure!`/`fail!` macros are in scope in the other modules.
#[macro_use]
mod report;

mod blockio;
mod console;
mod crc;
mod driver;
mod events;
mod exit;
mod fs;
mod memmap;
mod memory;
mod pci;
mod ports;
mod protocols;
#[cfg(target_os = "uefi")]
mod variables;
#[cfg(target_os = "uefi")]
mod variables_time;
#[cfg(target_os = "uefi")]
mod variables_virtual;
#[cfg(target_os = "uefi")]
mod violation;

use core::fmt::{self, Write};

use uefi::Status;
use uefi_raw::table::boot::BootServices;
use uefi_raw::table::system::SystemTable;
use uefi_raw::Handle;

use crate::report::{Outcome, Report};

/// The raw system table the firmware passed to the entry point.
///
/// Only valid while boot services run, except for reading the table itself.
fn system_table() -> &'static SystemTable {
    let st = uefi::table::system_table_raw().expect("the entry point stored the system table");
    // SAFETY: the firmware's system table lives for the whole run; the app never writes it.
    unsafe { st.as_ref() }
}

/// The raw boot-services table. Call only before ExitBootServices succeeded.
fn boot_services() -> &'static BootServices {
    // SAFETY: the pointer comes from the firmware's system table and stays valid until ExitBootServices.
    unsafe { &*system_table().boot_services }
}

/// The app's own image handle (as a raw `EFI_HANDLE`).
fn image_handle() -> Handle {
    uefi::boot::image_handle().as_ptr()
}

/// `Ok` when `status` is `want`, else a detail naming the call.
fn expect_status(call: &str, status: Status, want: Status) -> Outcome {
    ensure!(
        status == want,
        "{call} returned {status:?}, expected {want:?}"
    );
    Ok(())
}

/// A sink on ConOut (the system table's `ConOut` through the `uefi` crate); errors are ignored.
struct ConOut;

impl Write for ConOut {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        uefi::system::with_stdout(|out| {
            let _ = out.write_str(s);
        });
        Ok(())
    }
}

/// Ends the run: the verdict to `isa-debug-exit`, then halt in case the device is absent.
fn finish(report: &Report) -> ! {
    ports::debug_exit(&mut ports::X86Ports, report.all_passed());
    loop {
        // SAFETY: `hlt` only waits for the next interrupt.
        unsafe { core::arch::asm!("hlt", options(nomem, nostack)) };
    }
}

#[cfg(target_os = "uefi")]
#[uefi::entry]
fn main() -> Status {
    let mut report = Report::default();
    let mut out = ConOut;
    let _ = writeln!(out, "selftest: bs-selftest starting");
    memory::run(&mut report, &mut out);
    crc::run(&mut report, &mut out);
    events::run(&mut report, &mut out);
    protocols::run(&mut report, &mut out);
    driver::run(&mut report, &mut out);
    pci::run(&mut report, &mut out);
    variables::run(&mut report, &mut out);
    blockio::run(&mut report, &mut out);
    console::run(&mut report, &mut out);
    fs::run(&mut report, &mut out);
    violation::arm_if_requested(&mut out);
    // Whether or not ExitBootServices succeeded (a failure was reported), the summary goes to COM1.
    let after = exit::run(&mut report, &mut out);
    let mut serial = ports::Serial::new(ports::X86Ports, ports::COM1);
    if after == exit::After::Exited {
        variables_virtual::run(&mut report, &mut serial);
    }
    report.summary(&mut serial);
    finish(&report)
}

/// On the host there is nothing to test: the checks need the firmware's boot services.
#[cfg(not(target_os = "uefi"))]
fn main() {
    eprintln!("bs-selftest is a UEFI application: build it with --target x86_64-unknown-uefi and boot it in QEMU");
    std::process::exit(2);
}

/// Reports the panic on COM1 (ConOut may already be gone) and exits QEMU with the failure status.
#[cfg(target_os = "uefi")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut serial = ports::Serial::new(ports::X86Ports, ports::COM1);
    let _ = writeln!(serial, "selftest: panic ... FAILED ({})", info.message());
    let report = Report {
        passed: 0,
        failed: 1,
    };
    report.summary(&mut serial);
    finish(&report)
}

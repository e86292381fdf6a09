//! ExitBootServices checks (UEFI 2.10 §7.4.6), the last group: after it no boot service may be called.
//!
//! Sequence: a map buffer with slack is allocated first; GetMemoryMap gives the old key; a 1 MiB AllocatePool
//! changes the map; ExitBootServices with the old key must fail with INVALID_PARAMETER; then only GetMemoryMap
//! (into the buffer allocated before, so no allocation is needed) and ExitBootServices with the new key, which
//! must succeed. Lines for the calls after the first ExitBootServices are held back and printed on COM1 once
//! boot services are gone, because ConOut may no longer be used from the first ExitBootServices call on.
//!
//! Invariant: nothing allocated here is freed (the map buffer is never dropped), since FreePool is a boot service.

use core::fmt::Write;
use core::mem::ManuallyDrop;

use uefi_raw::table::boot::{AllocateType, MemoryType};
use uefi_raw::Status;

use crate::memmap;
use crate::memory::{alloc_pool, MapBuffer};
use crate::ports::{Serial, X86Ports, COM1};
use crate::report::{Detail, Outcome, Report};
use crate::{boot_services, crc, image_handle};

fn exit_boot_services(key: usize) -> Status {
    // SAFETY: the app owns no boot-services resources it still needs; after SUCCESS it calls no boot service.
    unsafe { (boot_services().exit_boot_services)(image_handle(), key) }
}

/// Whether boot services are still usable when [`run`] returns.
#[derive(PartialEq, Eq)]
pub enum After {
    /// ExitBootServices succeeded.
    Exited,
    /// It never succeeded (the run was aborted before, or both attempts failed).
    StillRunning,
}

/// Runs the ExitBootServices checks. Lines before the first ExitBootServices go to `out` (ConOut), later ones
/// to COM1.
pub fn run(report: &mut Report, out: &mut dyn Write) -> After {
    let mut buffer = match MapBuffer::new(16) {
        Ok(buffer) => ManuallyDrop::new(buffer),
        Err(detail) => {
            report.record(out, "exit: map buffer with slack", Err(detail));
            return After::StillRunning;
        }
    };
    let old = match buffer.fetch_checked() {
        Ok(info) => info,
        Err(detail) => {
            report.record(
                out,
                "exit: GetMemoryMap before ExitBootServices",
                Err(detail),
            );
            return After::StillRunning;
        }
    };
    let key_changed = (|| {
        let _never_freed = alloc_pool(1 << 20)?;
        let new = buffer.fetch_checked()?;
        ensure!(
            new.key != old.key,
            "map key {:#x} unchanged after AllocatePool(1 MiB)",
            old.key
        );
        Ok(())
    })();
    let pool_changed_key = key_changed.is_ok();
    report.record(
        out,
        "exit: AllocatePool(1 MiB) changes the map key",
        key_changed,
    );
    if !pool_changed_key {
        // Make the old key stale for sure, so ExitBootServices with it cannot succeed by accident.
        let mut addr = 0;
        // SAFETY: `addr` is a valid out-pointer; the page is never freed.
        let status = unsafe {
            (boot_services().allocate_pages)(
                AllocateType::ANY_PAGES,
                MemoryType::LOADER_DATA,
                1,
                &mut addr,
            )
        };
        let still_same = buffer.fetch().map(|info| info.key == old.key);
        if status != Status::SUCCESS || still_same != Ok(false) {
            let detail = Detail::new(format_args!(
                "AllocatePages gave {status:?}; key unchanged: {still_same:?}"
            ));
            report.record(out, "exit: make the old map key stale", Err(detail));
            return After::StillRunning;
        }
    }
    let _ = writeln!(
        out,
        "selftest: calling ExitBootServices (results follow on COM1)"
    );

    // From here on: only GetMemoryMap and ExitBootServices, and no ConOut.
    let stale = exit_boot_services(old.key);
    let mut final_map = None;
    let mut final_status = Status::ABORTED;
    if stale != Status::SUCCESS {
        // The spec lets the firmware change the map during a failed call, so allow one retry with a fresh key.
        for _ in 0..2 {
            match buffer.fetch() {
                Ok(info) => {
                    final_status = exit_boot_services(info.key);
                    final_map = Some(info);
                }
                Err(status) => final_status = status,
            }
            if final_status == Status::SUCCESS {
                break;
            }
        }
    }
    let exited = stale == Status::SUCCESS || final_status == Status::SUCCESS;

    let mut serial = Serial::new(X86Ports, COM1);
    report.record(
        &mut serial,
        "exit: ExitBootServices with the stale key is refused",
        crate::expect_status(
            "ExitBootServices(old key)",
            stale,
            Status::INVALID_PARAMETER,
        ),
    );
    if stale == Status::SUCCESS {
        return After::Exited;
    }
    report.record(
        &mut serial,
        "exit: ExitBootServices with a fresh key succeeds",
        crate::expect_status("ExitBootServices(new key)", final_status, Status::SUCCESS),
    );
    if !exited {
        return After::StillRunning;
    }
    report.record(
        &mut serial,
        "exit: final memory map well-formed",
        check_final_map(&buffer, final_map),
    );
    report.record(
        &mut serial,
        "exit: system table CRC32 valid after ExitBootServices",
        crc::system_table_crc(),
    );
    After::Exited
}

fn check_final_map(buffer: &MapBuffer, info: Option<crate::memory::MapInfo>) -> Outcome {
    let Some(info) = info else {
        return fail!("no memory map was fetched for the successful call");
    };
    let count = memmap::validate(buffer.bytes(&info), info.desc_size)
        .map_err(|e| Detail::new(format_args!("{e}")))?;
    ensure!(count > 0, "the final map is empty");
    Ok(())
}

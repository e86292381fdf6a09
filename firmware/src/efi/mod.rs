//! The UEFI ABI shell: the system table and the `extern "efiapi"` entry points of boot services, bound to the
//! host-tested engine in `crates/boot-services`.
//!
//! Every entry point is a thin shell: it validates the raw arguments (null and alignment of pointers, handles,
//! TPLs and enum values), calls safe engine code that returns `Result<T, Status>`, copies results out and returns
//! the status. Caller errors never panic and never reach undefined behaviour in the firmware. The design of the
//! engine (TPL as the lock, event queues, ExitBootServices phases) is in `docs/boot-services.md`.
//!
//! Global state is one locked structure per subsystem, in [`state`]: the event service (TPL, events, timers),
//! the memory map and the protocol database. None is borrowed while foreign code (a notify function, a driver,
//! an image) runs.

pub mod console;
pub mod device_path;
pub mod event;
pub mod exit;
pub mod image;
pub mod initrd;
pub mod memory;
pub mod misc;
pub mod pci_io;
pub mod protocol;
pub mod runtime;
pub mod state;
pub mod system_table;
pub mod variadic;

use r_efi::efi::Status;

/// Converts an engine result to the status the ABI returns.
pub fn status<T>(result: Result<T, Status>) -> Status {
    match result {
        Ok(_) => Status::SUCCESS,
        Err(status) => status,
    }
}

/// Writes `value` through an output pointer the caller gave, or returns `INVALID_PARAMETER` if it is null or
/// misaligned.
///
/// # Safety
/// A non-null, aligned `out` must be valid for a write of `T` (the UEFI calling contract for OUT parameters).
pub unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), Status> {
    if out.is_null() || !out.is_aligned() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: non-null and aligned here; validity is the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

//! `ExitBootServices()` (UEFI 2.10 section 7.4): the phases run in `boot_services::exit`; this shell validates
//! the image handle, then leaves runtime mode's last step to [`super::system_table::enter_runtime`] and reports
//! any handoff violation the memory map recorded.

use core::sync::atomic::{AtomicBool, Ordering};

use r_efi::efi::{Handle, Status};

use super::memory::Handoff;
use super::state::{events, MEMORY};

/// When set (fw_cfg `opt/org.vmfw/strict-handoff`, for test runs), a handoff violation ends the machine
/// through `isa-debug-exit` instead of only being logged.
pub static STRICT_HANDOFF: AtomicBool = AtomicBool::new(false);

pub extern "efiapi" fn exit_boot_services(image: Handle, map_key: usize) -> Status {
    if !super::image::is_image_handle(image) {
        log::error!(target: "efi::exit", "ExitBootServices with {image:p}, which is not an image handle");
        return Status::INVALID_PARAMETER;
    }
    match events().exit_boot_services(&Handoff, map_key) {
        Ok(()) => {
            super::system_table::enter_runtime();
            let violations = MEMORY.with(|m| {
                let violations = m.as_ref().map(|m| m.violations()).unwrap_or(&[]);
                for v in violations {
                    log::error!(target: "efi::exit", "handoff violation: {v:?}");
                }
                violations.len()
            });
            if violations > 0 && STRICT_HANDOFF.load(Ordering::Relaxed) {
                log::error!(target: "efi::exit", "{violations} handoff violation(s) in a strict run: stopping");
                crate::platform::exit::fail(crate::platform::exit::ExitCode::HandoffViolation);
            }
            super::runtime::enter_runtime();
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

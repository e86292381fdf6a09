//! `ExitBootServices()` (UEFI 2.10 section 7.4): the phases run in `boot_services::exit`; this shell validates
//! the image handle, then leaves runtime mode's last step to [`super::system_table::enter_runtime`] and reports
//! any handoff violation the memory map recorded.

use r_efi::efi::{Handle, Status};

use super::memory::Handoff;
use super::state::{events, MEMORY};

pub extern "efiapi" fn exit_boot_services(image: Handle, map_key: usize) -> Status {
    if !super::image::is_image_handle(image) {
        log::error!(target: "efi::exit", "ExitBootServices with {image:p}, which is not an image handle");
        return Status::INVALID_PARAMETER;
    }
    match events().exit_boot_services(&Handoff, map_key) {
        Ok(()) => {
            super::system_table::enter_runtime();
            MEMORY.with(|m| {
                for v in m.as_ref().map(|m| m.violations()).unwrap_or(&[]) {
                    log::error!(target: "efi::exit", "handoff violation: {v:?}");
                }
            });
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

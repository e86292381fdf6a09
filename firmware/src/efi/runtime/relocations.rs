//! The image relocation table (`runtime::relocation`): read at boot from the flash, where `cargo xtask build` put
//! it right below the image copy (it ends at `rom_image_lma`), checked, and copied into runtime-services data,
//! because the flash is not RAM the OS keeps mapped after ExitBootServices.

use ::runtime::relocation::{self, TRAILER_SIZE};
use r_efi::efi::{self, Status};

use super::kept::KEPT;
use crate::efi::memory::allocate_zeroed;

extern "C" {
    static rom_image_lma: u8;
    static image_start: u8;
    static runtime_image_end: u8;
}

/// The lowest address QEMU maps flash at: the image is at most 2 MiB and ends at 4 GiB.
const FLASH_FLOOR: u64 = (1 << 32) - (2 << 20);

/// The runtime image: `[image_start, runtime_image_end)`, the firmware's `EfiRuntimeServicesCode` region.
pub fn image() -> (u64, u64) {
    (
        core::ptr::addr_of!(image_start) as u64,
        core::ptr::addr_of!(runtime_image_end) as u64,
    )
}

/// Copies the table into runtime-services data and records it in [`KEPT`]. A flash image without a valid table
/// is logged as an error: SetVirtualAddressMap can then only keep the image where it is.
///
/// Errors: `OUT_OF_RESOURCES` when the copy cannot be allocated.
pub fn load() -> Result<(), Status> {
    let end = core::ptr::addr_of!(rom_image_lma) as u64;
    let trailer_at = end - TRAILER_SIZE as u64;
    // SAFETY: the 16 bytes below the image copy are flash, mapped at bring-up and identity-mapped.
    let trailer: [u8; TRAILER_SIZE] =
        unsafe { (trailer_at as *const [u8; TRAILER_SIZE]).read_unaligned() };
    let (count, sum) = match relocation::parse_trailer(&trailer) {
        Ok(found) => found,
        Err(e) => {
            log::error!(target: "efi::runtime", "no image relocation table in the flash ({e:?}): the runtime image cannot move at SetVirtualAddressMap");
            return Ok(());
        }
    };
    let bytes = count * 4;
    let start = trailer_at - bytes as u64;
    if start < FLASH_FLOOR {
        log::error!(target: "efi::runtime", "image relocation table of {count} entries runs below the flash");
        return Ok(());
    }
    // SAFETY: [start, trailer_at) lies in the flash (checked above), identity-mapped and read-only.
    let entries = unsafe { core::slice::from_raw_parts(start as *const u8, bytes) };
    let (start_of_image, end_of_image) = image();
    if let Err(e) = relocation::validate(entries, sum, (end_of_image - start_of_image) as usize) {
        log::error!(target: "efi::runtime", "image relocation table rejected: {e:?}");
        return Ok(());
    }
    let copy = allocate_zeroed(efi::RUNTIME_SERVICES_DATA, bytes.max(1))?;
    // SAFETY: `copy` is a fresh pool block of at least `bytes` bytes; `entries` is flash, disjoint from it.
    unsafe { core::ptr::copy_nonoverlapping(entries.as_ptr(), copy, bytes) };
    match KEPT.try_lock() {
        Some(mut kept) => kept.relocations = Some((copy as usize, bytes)),
        None => return Err(Status::DEVICE_ERROR),
    }
    log::info!(target: "efi::runtime", "image relocation table: {count} pointer slots");
    Ok(())
}

//! The UEFI environment the boot manager runs in: memory map, system table, the core's image handle, console and
//! configuration tables (ACPI, SMBIOS).

use r_efi::efi::{self, Handle, Status};

use crate::efi::{console, device_path, image, memory as efi_memory, system_table};
use crate::platform::acpi::Acpi;
use crate::platform::memory::Memory;
use crate::platform::smbios::Smbios;

extern "C" {
    static image_start: u8;
    static image_copy_end: u8;
}

/// Builds the UEFI environment; returns the firmware core's image handle.
pub fn start_boot_services(
    memory: &Memory,
    acpi: Option<&Acpi>,
    smbios: Option<&Smbios>,
) -> Result<Handle, Status> {
    efi_memory::init(memory);
    system_table::init()?;
    let (start, end) = {
        (
            core::ptr::addr_of!(image_start) as u64,
            core::ptr::addr_of!(image_copy_end) as u64,
        )
    };
    let core = image::init_core_image(start, end - start)?;
    console::install()?;
    device_path::install()?;
    crate::efi::runtime::init()?;
    if let Some(acpi) = acpi {
        let guid = if acpi.info.revision >= 2 {
            efi::ACPI_20_TABLE_GUID
        } else {
            efi::ACPI_10_TABLE_GUID
        };
        system_table::set_configuration_table(guid, acpi.rsdp as *mut _)?;
    }
    if let Some(smbios) = smbios {
        system_table::set_configuration_table(
            efi::SMBIOS3_TABLE_GUID,
            smbios.entry_point as *mut _,
        )?;
    }
    log::info!(target: "boot", "boot services ready");
    Ok(core)
}

//! From bring-up to an OS loader: start boot services (memory map, system table, console, configuration tables),
//! then boot. Boot options so far: a PE image handed over in the fw_cfg file `opt/org.vmfw/boot-image`
//! (`-fw_cfg name=opt/org.vmfw/boot-image,file=app.efi`), which is how the QEMU tests run UEFI applications
//! before disks are supported. When nothing boots the firmware says what it tried and resets after a timeout.

use r_efi::efi::{self, Handle, Status};

use crate::arch::io::X86PortIo;
use crate::efi::{console, image, memory as efi_memory, system_table};
use crate::platform::acpi::Acpi;
use crate::platform::memory::Memory;
use crate::platform::smbios::Smbios;
use qemu::fw_cfg::FwCfg;

/// fw_cfg file holding a PE image to boot.
pub const BOOT_IMAGE_FILE: &str = "opt/org.vmfw/boot-image";
/// Seconds before the reset when nothing could be booted.
const NOTHING_TO_BOOT_RESET_SECONDS: u64 = 10;

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
    // SAFETY: linker-script symbols; only their addresses are taken.
    let (start, end) = unsafe {
        (
            core::ptr::addr_of!(image_start) as u64,
            core::ptr::addr_of!(image_copy_end) as u64,
        )
    };
    let core = image::init_core_image(start, end - start)?;
    console::install()?;
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

/// Tries each boot option in turn; never returns.
pub fn boot(core: Handle, mut fw_cfg: Option<&mut FwCfg<X86PortIo>>) -> ! {
    let mut tried = alloc::vec::Vec::new();
    if let Some(fw_cfg) = fw_cfg.as_deref_mut() {
        if let Ok(bytes) = fw_cfg.read_file(BOOT_IMAGE_FILE) {
            tried.push(BOOT_IMAGE_FILE);
            match image::load_from_buffer(core, &bytes) {
                Ok(handle) => {
                    drop(bytes);
                    let status =
                        image::start_image(handle, core::ptr::null_mut(), core::ptr::null_mut());
                    log::warn!(target: "boot", "{BOOT_IMAGE_FILE} returned {status:?}");
                }
                Err(status) => {
                    log::error!(target: "boot", "{BOOT_IMAGE_FILE}: cannot load: {status:?}")
                }
            }
        }
    }
    if tried.is_empty() {
        log::error!(target: "boot", "no bootable option found (tried: fw_cfg {BOOT_IMAGE_FILE}: absent)");
    } else {
        log::error!(target: "boot", "every boot option failed (tried: {})", tried.join(", "));
    }
    log::error!(target: "boot", "resetting in {NOTHING_TO_BOOT_RESET_SECONDS} s");
    crate::platform::timer::stall(NOTHING_TO_BOOT_RESET_SECONDS * 1_000_000);
    crate::platform::exit::reset()
}

//! From bring-up to an OS loader: start boot services (memory map, system table, console, configuration tables),
//! then boot. Boot options so far: QEMU's `-kernel` when it is a PE32+ UEFI image (QEMU splits the file into its
//! fw_cfg "setup" and "kernel" items; joined again they are the file). When nothing boots the firmware says what
//! it tried and resets after a timeout.

use r_efi::efi::{self, Handle, Status};

use crate::arch::io::X86PortIo;
use crate::efi::{console, device_path, image, initrd, memory as efi_memory, system_table};
use crate::platform::acpi::Acpi;
use crate::platform::memory::Memory;
use crate::platform::smbios::Smbios;
use qemu::fw_cfg::FwCfg;

/// fw_cfg items of `-kernel` (QEMU docs/specs/fw_cfg.txt, "selector keys").
const FW_CFG_KERNEL_SIZE: u16 = 0x08;
const FW_CFG_KERNEL_DATA: u16 = 0x11;
const FW_CFG_SETUP_SIZE: u16 = 0x17;
const FW_CFG_SETUP_DATA: u16 = 0x18;
const FW_CFG_CMDLINE_SIZE: u16 = 0x14;
const FW_CFG_CMDLINE_DATA: u16 = 0x15;
/// fw_cfg file that makes handoff violations fatal (for test runs).
const STRICT_HANDOFF_KNOB: &str = "opt/org.vmfw/strict-handoff";
/// Largest `-kernel` the firmware reads (a sanity bound on the sizes fw_cfg reports).
const MAX_KERNEL: usize = 512 << 20;
/// The boot manager's watchdog while a boot option runs (UEFI 2.10 section 3.1.2: five minutes).
const WATCHDOG_SECONDS: usize = 300;
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

fn item_u32(fw_cfg: &mut FwCfg<X86PortIo>, key: u16) -> usize {
    let mut bytes = [0u8; 4];
    match fw_cfg.read_item(key, &mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes) as usize,
        Err(_) => 0,
    }
}

/// The `-kernel` file, rebuilt from fw_cfg's setup and kernel items; `None` without `-kernel`.
fn kernel_file(fw_cfg: &mut FwCfg<X86PortIo>) -> Option<alloc::vec::Vec<u8>> {
    let kernel_size = item_u32(fw_cfg, FW_CFG_KERNEL_SIZE);
    let setup_size = item_u32(fw_cfg, FW_CFG_SETUP_SIZE);
    if kernel_size == 0 || kernel_size + setup_size > MAX_KERNEL {
        return None;
    }
    let mut file = alloc::vec![0u8; setup_size + kernel_size];
    let (setup, kernel) = file.split_at_mut(setup_size);
    if fw_cfg.read_item(FW_CFG_SETUP_DATA, setup).is_err()
        || fw_cfg.read_item(FW_CFG_KERNEL_DATA, kernel).is_err()
    {
        log::error!(target: "boot", "-kernel: reading it from fw_cfg failed");
        return None;
    }
    Some(file)
}

/// QEMU's `-append` text (without its NUL), or an empty string.
fn command_line(fw_cfg: &mut FwCfg<X86PortIo>) -> alloc::string::String {
    let size = item_u32(fw_cfg, FW_CFG_CMDLINE_SIZE).min(64 << 10);
    let mut bytes = alloc::vec![0u8; size];
    if size == 0 || fw_cfg.read_item(FW_CFG_CMDLINE_DATA, &mut bytes).is_err() {
        return alloc::string::String::new();
    }
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    alloc::string::String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Tries each boot option in turn; never returns.
pub fn boot(core: Handle, mut fw_cfg: Option<&mut FwCfg<X86PortIo>>) -> ! {
    let mut tried = alloc::vec::Vec::new();
    if fw_cfg
        .as_deref()
        .is_some_and(|f| f.find(STRICT_HANDOFF_KNOB).is_some())
    {
        log::warn!(target: "boot", "{STRICT_HANDOFF_KNOB}: handoff violations will stop the machine");
        crate::efi::exit::STRICT_HANDOFF.store(true, core::sync::atomic::Ordering::Relaxed);
    }
    let cmdline = fw_cfg.as_mut().map(|f| command_line(f)).unwrap_or_default();
    if let Some(bytes) = fw_cfg.as_mut().and_then(|f| kernel_file(f)) {
        tried.push("QEMU -kernel");
        match image::load_from_buffer(core, &bytes) {
            Ok(handle) => {
                drop(bytes);
                if let Err(status) = image::set_load_options(handle, &cmdline) {
                    log::error!(target: "boot", "-kernel: load options not set: {status:?}");
                }
                if let Err(status) = fw_cfg.as_mut().map_or(Ok(None), |f| initrd::install(f)) {
                    log::error!(target: "boot", "-initrd: not offered to the image: {status:?}");
                }
                // UEFI 2.10 section 3.1.2: a 5-minute watchdog guards every boot option; a loader that takes
                // over disables or re-arms it.
                let events = crate::efi::state::events();
                let _ = events.set_watchdog_timer(WATCHDOG_SECONDS, 0, &[]);
                let status =
                    image::start_image(handle, core::ptr::null_mut(), core::ptr::null_mut());
                let _ = events.set_watchdog_timer(0, 0, &[]);
                log::warn!(target: "boot", "-kernel image returned {status:?}");
            }
            Err(status) => {
                log::error!(target: "boot", "-kernel: cannot load it as a UEFI image: {status:?}")
            }
        }
    }
    if tried.is_empty() {
        log::error!(target: "boot", "no bootable option found (tried: QEMU -kernel: absent; disks: no drivers yet)");
    } else {
        log::error!(target: "boot", "every boot option failed (tried: {})", tried.join(", "));
    }
    log::error!(target: "boot", "resetting in {NOTHING_TO_BOOT_RESET_SECONDS} s");
    crate::platform::timer::stall(NOTHING_TO_BOOT_RESET_SECONDS * 1_000_000);
    crate::platform::exit::reset()
}

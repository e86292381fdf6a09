//! QEMU's `-kernel` as a boot device: a handle with the device path `VenMedia(KERNEL_LOADER_GUID)` and a LoadFile
//! protocol (UEFI 2.10 section 13.1) that returns the file, so the boot manager boots it through a `Boot####`
//! option and LoadImage like any other device.
//!
//! QEMU splits the `-kernel` file into its fw_cfg "setup" and "kernel" items (QEMU docs/specs/fw_cfg.txt,
//! "selector keys"); joined again they are the file. LoadFile reads them straight from fw_cfg into the caller's
//! buffer, so the file never sits in the firmware heap. `-append` is the option's command line.

use alloc::string::String;
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

use boot_manager::device_path::{SUBTYPE_END_ENTIRE, SUBTYPE_VENDOR_MEDIA, TYPE_END, TYPE_MEDIA};
use boot_manager::refresh::KERNEL_LOADER_GUID;
use boot_manager::status::Name;
use boot_services::protocol::DatabaseLock;
use qemu::fw_cfg::FwCfg;
use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{device_path, load_file, load_file2};

use crate::arch::io::X86PortIo;
use crate::efi::initrd;
use crate::efi::protocol::{services, Lock};

/// fw_cfg items of `-kernel` and `-append` (QEMU docs/specs/fw_cfg.txt, "selector keys").
const FW_CFG_KERNEL_SIZE: u16 = 0x08;
const FW_CFG_KERNEL_DATA: u16 = 0x11;
const FW_CFG_SETUP_SIZE: u16 = 0x17;
const FW_CFG_SETUP_DATA: u16 = 0x18;
const FW_CFG_CMDLINE_SIZE: u16 = 0x14;
const FW_CFG_CMDLINE_DATA: u16 = 0x15;
/// Largest `-kernel` served (a sanity bound on the sizes fw_cfg reports).
const MAX_KERNEL: usize = 512 << 20;
/// Longest `-append` read.
const MAX_CMDLINE: usize = 64 << 10;

/// Sizes of the setup and kernel items, set once by [`install`].
static SETUP_SIZE: AtomicUsize = AtomicUsize::new(0);
static KERNEL_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The LoadFile instance (its address identifies `This`).
static LOAD_FILE: load_file::Protocol = load_file::Protocol {
    load_file: kernel_load_file,
};

const fn loader_path() -> [u8; 24] {
    let mut path = [0u8; 24];
    path[0] = TYPE_MEDIA;
    path[1] = SUBTYPE_VENDOR_MEDIA;
    path[2] = 20;
    let mut i = 0;
    while i < 16 {
        path[4 + i] = KERNEL_LOADER_GUID[i];
        i += 1;
    }
    path[20] = TYPE_END;
    path[21] = SUBTYPE_END_ENTIRE;
    path[22] = 4;
    path
}

/// `VenMedia(KERNEL_LOADER_GUID)` followed by the end node.
static LOADER_PATH: [u8; 24] = loader_path();

fn item_u32(fw_cfg: &mut FwCfg<X86PortIo>, key: u16) -> usize {
    let mut bytes = [0u8; 4];
    match fw_cfg.read_item(key, &mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes) as usize,
        Err(_) => 0,
    }
}

/// QEMU's `-append` text (without its NUL), or an empty string.
fn command_line(fw_cfg: &mut FwCfg<X86PortIo>) -> String {
    let size = item_u32(fw_cfg, FW_CFG_CMDLINE_SIZE).min(MAX_CMDLINE);
    let mut bytes = alloc::vec![0u8; size];
    if size == 0 || fw_cfg.read_item(FW_CFG_CMDLINE_DATA, &mut bytes).is_err() {
        return String::new();
    }
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `-kernel` is present: the loader handle is installed; `command_line` is `-append`.
pub struct Kernel {
    /// QEMU's `-append`, for the option's load options.
    pub command_line: String,
}

/// Installs the `-kernel` loader handle when QEMU was given `-kernel`.
pub fn install(fw_cfg: &mut FwCfg<X86PortIo>) -> Option<Kernel> {
    let kernel_size = item_u32(fw_cfg, FW_CFG_KERNEL_SIZE);
    let setup_size = item_u32(fw_cfg, FW_CFG_SETUP_SIZE);
    if kernel_size == 0 {
        return None;
    }
    if kernel_size + setup_size > MAX_KERNEL {
        log::error!(target: "boot", "-kernel: fw_cfg reports {} bytes, more than the {MAX_KERNEL}-byte limit", kernel_size + setup_size);
        return None;
    }
    SETUP_SIZE.store(setup_size, Ordering::Relaxed);
    KERNEL_SIZE.store(kernel_size, Ordering::Relaxed);
    let installed = services()
        .install_protocol_interface(
            None,
            device_path::PROTOCOL_GUID,
            LOADER_PATH.as_ptr() as *mut c_void,
        )
        .and_then(|handle| {
            services().install_protocol_interface(
                Some(handle),
                load_file::PROTOCOL_GUID,
                &LOAD_FILE as *const load_file::Protocol as *mut c_void,
            )
        });
    if let Err(status) = installed {
        log::error!(target: "boot", "-kernel: loader handle not installed: {}", Name(status));
        return None;
    }
    log::info!(target: "boot", "-kernel: {} bytes, served by LoadFile", kernel_size + setup_size);
    Some(Kernel {
        command_line: command_line(fw_cfg),
    })
}

/// Offers QEMU's `-initrd` (LoadFile2 on the Linux initrd media path, `efi::initrd`) to the `-kernel` image about
/// to start; returns the handle, `None` without `-initrd` or when it could not be installed (logged).
pub fn offer_initrd(fw_cfg: Option<&mut FwCfg<X86PortIo>>) -> Option<Handle> {
    match fw_cfg.map_or(Ok(None), initrd::install) {
        Ok(handle) => handle,
        Err(status) => {
            log::error!(target: "boot", "-initrd: not offered to the image: {}", Name(status));
            None
        }
    }
}

/// Takes the `-initrd` handle's protocols back after the `-kernel` image returned, so that a loader tried next
/// (a UKI or systemd-boot installs its own initrd LoadFile2 on the same device path) can offer its own.
pub fn withdraw_initrd(handle: Handle) {
    for guid in [load_file2::PROTOCOL_GUID, device_path::PROTOCOL_GUID] {
        let Ok(interface) = Lock.with(|db| db.handle_protocol(handle, &guid)) else {
            continue;
        };
        if let Err(status) = services().uninstall_protocol_interface(handle, guid, interface) {
            log::warn!(target: "boot", "-initrd: protocol not withdrawn: {}", Name(status));
        }
    }
}

/// `EFI_LOAD_FILE_PROTOCOL.LoadFile()` for the `-kernel` file. `FilePath` must be the end node (the device holds
/// one file); `BootPolicy` does not matter.
extern "efiapi" fn kernel_load_file(
    this: *mut load_file::Protocol,
    file_path: *mut device_path::Protocol,
    _boot_policy: efi::Boolean,
    size: *mut usize,
    buffer: *mut c_void,
) -> Status {
    if !core::ptr::eq(this, &LOAD_FILE) || size.is_null() || file_path.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: a non-null device path starts with a 4-byte node header (LoadFile contract).
    let node_type = unsafe { (*file_path).r#type };
    if node_type != TYPE_END {
        return Status::NOT_FOUND;
    }
    let (setup, kernel) = (
        SETUP_SIZE.load(Ordering::Relaxed),
        KERNEL_SIZE.load(Ordering::Relaxed),
    );
    let total = setup + kernel;
    // SAFETY: `size` is a non-null IN/OUT UINTN.
    let available = unsafe { size.read_unaligned() };
    // SAFETY: as above.
    unsafe { size.write_unaligned(total) };
    if buffer.is_null() || available < total {
        return Status::BUFFER_TOO_SMALL;
    }
    // SAFETY: the caller provides `available >= total` writable bytes at `buffer` (LoadFile contract).
    let file = unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, total) };
    let (setup_part, kernel_part) = file.split_at_mut(setup);
    let read = FwCfg::new(X86PortIo).and_then(|mut fw_cfg| {
        fw_cfg.read_item(FW_CFG_SETUP_DATA, setup_part)?;
        fw_cfg.read_item(FW_CFG_KERNEL_DATA, kernel_part)
    });
    match read {
        Ok(()) => Status::SUCCESS,
        Err(e) => {
            log::error!(target: "boot", "-kernel: reading it from fw_cfg failed: {e}");
            Status::DEVICE_ERROR
        }
    }
}

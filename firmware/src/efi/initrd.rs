//! QEMU `-initrd` for the Linux EFI stub: a handle with the `LINUX_EFI_INITRD_MEDIA_GUID` vendor media device path
//! and an `EFI_LOAD_FILE2_PROTOCOL` (UEFI 2.10 section 13.2) that returns the initrd from fw_cfg.
//!
//! The Linux EFI stub (drivers/firmware/efi/libstub, `efi_load_initrd_dev_path`) finds the handle with
//! LocateDevicePath on the device path `VenMedia(5568e427-68fc-4f3d-ac74-ca555231cc68)/End`, calls LoadFile with
//! no buffer to learn the size (`EFI_BUFFER_TOO_SMALL`), allocates, and calls again. The data comes from the fw_cfg
//! items `FW_CFG_INITRD_SIZE` (0x0b) and `FW_CFG_INITRD_DATA` (0x12) (QEMU docs/specs/fw_cfg.txt), read straight
//! into the caller's buffer on each call; nothing is copied in advance.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use qemu::fw_cfg::FwCfg;
use r_efi::efi::{self, Boolean, Guid, Handle, Status};
use r_efi::protocols::{device_path, load_file, load_file2};

use super::memory::allocate_zeroed;
use super::protocol::services;
use crate::arch::io::X86PortIo;

/// `LINUX_EFI_INITRD_MEDIA_GUID`: the vendor media node the Linux EFI stub looks the initrd up by.
pub const LINUX_EFI_INITRD_MEDIA_GUID: Guid = Guid::from_fields(
    0x5568e427,
    0x68fc,
    0x4f3d,
    0xac,
    0x74,
    &[0xca, 0x55, 0x52, 0x31, 0xcc, 0x68],
);
/// fw_cfg item: initrd size (little-endian u32).
const FW_CFG_INITRD_SIZE: u16 = 0x0b;
/// fw_cfg item: initrd data.
const FW_CFG_INITRD_DATA: u16 = 0x12;

/// `VenMedia(LINUX_EFI_INITRD_MEDIA_GUID)/End`: 24 bytes, alignment 1, no padding.
#[repr(C)]
struct InitrdDevicePath {
    vendor: device_path::Protocol,
    guid: [u8; 16],
    end: device_path::Protocol,
}

/// The installed protocol (for `This` checks) and the initrd size.
static PROTOCOL: AtomicPtr<load_file::Protocol> = AtomicPtr::new(core::ptr::null_mut());
static SIZE: AtomicUsize = AtomicUsize::new(0);

/// Installs the initrd handle if QEMU was given `-initrd`; returns it (`None` without `-initrd`).
///
/// Errors: `OUT_OF_RESOURCES`; the protocol database's errors.
pub fn install(fw_cfg: &mut FwCfg<X86PortIo>) -> Result<Option<Handle>, Status> {
    let mut size = [0u8; 4];
    if fw_cfg.read_item(FW_CFG_INITRD_SIZE, &mut size).is_err() {
        return Ok(None);
    }
    let size = u32::from_le_bytes(size) as usize;
    if size == 0 {
        return Ok(None);
    }
    if !PROTOCOL.load(Ordering::Acquire).is_null() {
        return Err(Status::ALREADY_STARTED);
    }
    let path = InitrdDevicePath {
        vendor: device_path::Protocol {
            r#type: device_path::TYPE_MEDIA,
            sub_type: device_path::Media::SUBTYPE_VENDOR,
            length: (4u16 + 16).to_le_bytes(),
        },
        guid: *LINUX_EFI_INITRD_MEDIA_GUID.as_bytes(),
        end: device_path::Protocol {
            r#type: device_path::TYPE_END,
            sub_type: device_path::End::SUBTYPE_ENTIRE,
            length: 4u16.to_le_bytes(),
        },
    };
    let path_block = allocate_zeroed(
        efi::BOOT_SERVICES_DATA,
        core::mem::size_of::<InitrdDevicePath>(),
    )? as *mut InitrdDevicePath;
    let protocol_block = allocate_zeroed(
        efi::BOOT_SERVICES_DATA,
        core::mem::size_of::<load_file::Protocol>(),
    )? as *mut load_file::Protocol;
    // SAFETY: fresh pool blocks of the right sizes (8-byte aligned, more than either type needs).
    unsafe {
        path_block.write(path);
        protocol_block.write(load_file::Protocol { load_file });
    }
    SIZE.store(size, Ordering::Release);
    PROTOCOL.store(protocol_block, Ordering::Release);
    let mut db = services();
    let handle =
        db.install_protocol_interface(None, device_path::PROTOCOL_GUID, path_block as *mut c_void)?;
    db.install_protocol_interface(
        Some(handle),
        load_file2::PROTOCOL_GUID,
        protocol_block as *mut c_void,
    )?;
    log::info!(target: "efi::initrd", "-initrd: {size} bytes offered through LoadFile2 on the Linux initrd media device path");
    Ok(Some(handle))
}

/// Whether `path` is empty: null or an end-of-device-path node (what remains of the initrd device path after
/// LocateDevicePath matched it).
///
/// # Safety
/// `path` is null or points at a device path node header.
unsafe fn is_end(path: *const device_path::Protocol) -> bool {
    // SAFETY: per the contract; the header is 4 bytes with alignment 1.
    path.is_null() || unsafe { (*path).r#type } == device_path::TYPE_END
}

/// `EFI_LOAD_FILE2_PROTOCOL.LoadFile`.
extern "efiapi" fn load_file(
    this: *mut load_file::Protocol,
    file_path: *mut device_path::Protocol,
    boot_policy: Boolean,
    buffer_size: *mut usize,
    buffer: *mut c_void,
) -> Status {
    if this.is_null() || this != PROTOCOL.load(Ordering::Acquire) || buffer_size.is_null() {
        log::error!(target: "efi::initrd", "LoadFile2: wrong This or no BufferSize");
        return Status::INVALID_PARAMETER;
    }
    if boot_policy.into() {
        // UEFI 2.10 section 13.2: LoadFile2 is not for boot options; BootPolicy must be FALSE.
        return Status::UNSUPPORTED;
    }
    // SAFETY: the caller passes a device path (LoadFile contract).
    if !unsafe { is_end(file_path) } {
        return Status::NOT_FOUND;
    }
    let size = SIZE.load(Ordering::Acquire);
    // SAFETY: non-null IN/OUT UINTN (LoadFile contract).
    let given = unsafe { buffer_size.read_unaligned() };
    // SAFETY: as above.
    unsafe { buffer_size.write_unaligned(size) };
    if buffer.is_null() || given < size {
        return Status::BUFFER_TOO_SMALL;
    }
    // SAFETY: the caller owns `*BufferSize >= size` writable bytes at `buffer` (LoadFile contract).
    let out = unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, size) };
    let read = FwCfg::new(X86PortIo).and_then(|mut f| f.read_item(FW_CFG_INITRD_DATA, out));
    match read {
        Ok(()) => Status::SUCCESS,
        Err(e) => {
            log::error!(target: "efi::initrd", "LoadFile2: reading the initrd from fw_cfg: {e}");
            Status::DEVICE_ERROR
        }
    }
}

//! The protocols on every image handle: `EFI_LOADED_IMAGE_PROTOCOL` (UEFI 2.10 section 9.1) and, for images
//! LoadImage loaded, `EFI_LOADED_IMAGE_DEVICE_PATH_PROTOCOL` (section 9.2).
//!
//! Loaded Image's `DeviceHandle` is the device LocateDevicePath found for the image's path and `FilePath` the rest
//! of the path after that device's (a copy, `EfiBootServicesData`); the Loaded Image Device Path protocol is the
//! whole path given to LoadImage (a copy), installed with a NULL interface when LoadImage got no path. The blocks
//! are pool allocations owned by the image and freed by [`uninstall`].

use core::ffi::c_void;

use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::{loaded_image, loaded_image_device_path};

use super::super::memory::{allocate_zeroed, with_map};
use super::super::protocol::services;
use super::super::system_table::system_table;

/// Where an image came from, as its protocols record it.
pub struct Provenance<'a> {
    /// The device LocateDevicePath found for the path (null when none or no path).
    pub device: Handle,
    /// The path after the device's part (end node included); `None` when LoadImage got no path.
    pub file_path: Option<&'a [u8]>,
    /// The whole path LoadImage got (end node included); `None` when it got none.
    pub full_path: Option<&'a [u8]>,
}

impl Provenance<'_> {
    /// An image with no path (the firmware core, or a buffer load without a path).
    pub const NONE: Provenance<'static> = Provenance {
        device: core::ptr::null_mut(),
        file_path: None,
        full_path: None,
    };
}

/// The pool blocks behind an image's protocols.
pub struct Blocks {
    /// The Loaded Image protocol instance.
    pub loaded_image: *mut loaded_image::Protocol,
    /// The Loaded Image Device Path interface (null when installed with a NULL interface, or not installed).
    pub device_path: *mut u8,
    /// Whether a Loaded Image Device Path protocol is installed (even with a NULL interface).
    pub has_device_path: bool,
    /// The copy of the file path the Loaded Image protocol points at (null when none).
    pub file_path: *mut u8,
    /// Load options the firmware allocated for the image (null when none).
    pub load_options: *mut u8,
}

fn copy_to_pool(memory_type: u32, bytes: Option<&[u8]>) -> Result<*mut u8, Status> {
    let Some(bytes) = bytes else {
        return Ok(core::ptr::null_mut());
    };
    let block = allocate_zeroed(memory_type, bytes.len())?;
    // SAFETY: `block` was just allocated for `bytes.len()` bytes.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), block, bytes.len()) };
    Ok(block)
}

fn free(block: *mut u8) {
    if !block.is_null() {
        let _ = with_map(|map| map.free_pool(block as u64));
    }
}

/// Installs the protocols on a new handle; `image` is (base, size) and `types` (code, data) memory types.
/// `device_path_protocol` says whether to install the Loaded Image Device Path protocol (LoadImage always does;
/// the firmware core's handle has none).
pub fn install(
    parent: Handle,
    image: (u64, u64),
    types: (u32, u32),
    from: &Provenance<'_>,
    device_path_protocol: bool,
) -> Result<(Handle, Blocks), Status> {
    let file_path = copy_to_pool(efi::BOOT_SERVICES_DATA, from.file_path)?;
    let full_path = match copy_to_pool(efi::BOOT_SERVICES_DATA, from.full_path) {
        Ok(p) => p,
        Err(e) => {
            free(file_path);
            return Err(e);
        }
    };
    let protocol = loaded_image::Protocol {
        revision: loaded_image::REVISION,
        parent_handle: parent,
        system_table: system_table(),
        device_handle: from.device,
        file_path: file_path as *mut r_efi::protocols::device_path::Protocol,
        reserved: core::ptr::null_mut(),
        load_options_size: 0,
        load_options: core::ptr::null_mut(),
        image_base: image.0 as *mut c_void,
        image_size: image.1,
        image_code_type: types.0,
        image_data_type: types.1,
        unload: None,
    };
    let installed = allocate_zeroed(types.1, core::mem::size_of::<loaded_image::Protocol>())
        .map(|block| block as *mut loaded_image::Protocol)
        .and_then(|block| {
            // SAFETY: freshly allocated, correctly sized and aligned block (pool blocks are 8-byte aligned).
            unsafe { block.write(protocol) };
            let handle = services()
                .install_protocol_interface(None, loaded_image::PROTOCOL_GUID, block as *mut c_void)
                .inspect_err(|_| free(block as *mut u8))?;
            Ok((handle, block))
        });
    let (handle, block) = match installed {
        Ok(v) => v,
        Err(e) => {
            free(file_path);
            free(full_path);
            return Err(e);
        }
    };
    let blocks = Blocks {
        loaded_image: block,
        device_path: full_path,
        has_device_path: device_path_protocol,
        file_path,
        load_options: core::ptr::null_mut(),
    };
    if device_path_protocol {
        if let Err(e) = services().install_protocol_interface(
            Some(handle),
            loaded_image_device_path::PROTOCOL_GUID,
            full_path as *mut c_void,
        ) {
            uninstall(
                handle,
                Blocks {
                    has_device_path: false,
                    ..blocks
                },
            );
            return Err(e);
        }
    }
    Ok((handle, blocks))
}

/// Uninstalls the protocols and frees their blocks and the load options the firmware allocated.
pub fn uninstall(handle: Handle, blocks: Blocks) {
    if blocks.has_device_path {
        let _ = services().uninstall_protocol_interface(
            handle,
            loaded_image_device_path::PROTOCOL_GUID,
            blocks.device_path as *mut c_void,
        );
    }
    let _ = services().uninstall_protocol_interface(
        handle,
        loaded_image::PROTOCOL_GUID,
        blocks.loaded_image as *mut c_void,
    );
    free(blocks.file_path);
    free(blocks.load_options);
    free(blocks.device_path);
    free(blocks.loaded_image as *mut u8);
}

//! Image services (UEFI 2.10 section 7.4): LoadImage (from a memory buffer or from a device path), StartImage,
//! Exit, UnloadImage, and the protocols on every image handle (the firmware core has one too).
//!
//! Layout: this file owns the table of images, LoadImage and UnloadImage; `source` reads an image a device path
//! names (Simple File System, LoadFile2, LoadFile); `loaded` installs Loaded Image and Loaded Image Device Path;
//! `start` is StartImage/Exit and their register-saving trampoline. PE/COFF parsing and relocation are
//! `pe_loader`'s.
//!
//! LoadImage statuses (section 7.4): `EFI_NOT_FOUND` when no device serves the path or the file is missing,
//! `EFI_LOAD_ERROR` when the bytes are not a PE32+ image (a clear log line says what is wrong),
//! `EFI_UNSUPPORTED` for a well-formed image of another machine type or subsystem, `EFI_DEVICE_ERROR` when
//! reading failed, `EFI_INVALID_PARAMETER` for bad arguments, `EFI_OUT_OF_RESOURCES`.

mod loaded;
mod source;
mod start;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;
use core::ffi::c_void;

use boot_manager::device_path::{self, Text};
use boot_services::handle::handle_key;
use boot_services::memory::AllocateType;
use pe_loader::{PeError, PeImage, Subsystem};
use r_efi::efi::{self, Handle, Status};

use super::memory::{allocate_zeroed, with_map};
use super::state::Global;
pub use source::LoadError;
pub use start::{exit, start_image};

struct Image {
    /// Pages holding the image: (address, count); `None` for the firmware core.
    pages: Option<(u64, u64)>,
    entry_point: u64,
    subsystem: Option<Subsystem>,
    /// The protocol blocks on the handle.
    blocks: loaded::Blocks,
    started: bool,
    /// Where Exit() jumps while the image runs.
    context: Option<*mut start::JumpContext>,
    exit_data: (usize, *mut efi::Char16),
}

struct Images {
    by_handle: BTreeMap<usize, Image>,
    /// Handles of started images, innermost last.
    running: Vec<Handle>,
}

static IMAGES: Global<Images> = Global::new(Images {
    by_handle: BTreeMap::new(),
    running: Vec::new(),
});

/// Whether `handle` is an image handle (loaded by LoadImage, or the firmware core's).
pub fn is_image_handle(handle: Handle) -> bool {
    IMAGES.with(|i| i.by_handle.contains_key(&handle_key(handle)))
}

/// Creates the firmware core's image handle (the parent of images the firmware loads, and the agent of its
/// own protocol opens).
pub fn init_core_image(base: u64, size: u64) -> Result<Handle, Status> {
    let (handle, blocks) = loaded::install(
        core::ptr::null_mut(),
        (base, size),
        (efi::RUNTIME_SERVICES_CODE, efi::BOOT_SERVICES_DATA),
        &loaded::Provenance::NONE,
        false,
    )?;
    boot_services::protocol::DatabaseLock::with(&super::protocol::Lock, |db| {
        db.set_core_agent(handle)
    });
    IMAGES.with(|i| {
        i.by_handle.insert(
            handle_key(handle),
            Image {
                pages: None,
                entry_point: 0,
                subsystem: None,
                blocks,
                started: true,
                context: None,
                exit_data: (0, core::ptr::null_mut()),
            },
        )
    });
    Ok(handle)
}

/// Where LoadImage takes the image from.
pub enum Source<'a> {
    /// `SourceBuffer`: the image's bytes (the path, if any, only says where they came from).
    Buffer(&'a [u8]),
    /// `SourceBuffer` NULL: read the file or LoadFile data the path names.
    Path,
}

/// LoadImage (UEFI 2.10 section 7.4): loads a PE32+ image for `parent` from `source`; `path` (a whole device
/// path, end node included) names where it comes from. Returns the new image handle, or the status with a reason.
pub fn load(
    boot_policy: bool,
    parent: Handle,
    path: Option<&[u8]>,
    source: Source<'_>,
) -> Result<Handle, LoadError> {
    let (file, origin);
    let bytes: &[u8] = match source {
        Source::Buffer(bytes) => {
            origin = path.map(|p| source::origin_of(p, boot_policy));
            bytes
        }
        Source::Path => {
            let Some(path) = path else {
                return Err(LoadError::new(
                    Status::NOT_FOUND,
                    "neither a source buffer nor a device path",
                ));
            };
            let (buffer, found) = source::read(path, boot_policy)?;
            file = buffer;
            origin = Some(found);
            file.as_slice()
        }
    };
    let provenance = loaded::Provenance {
        device: origin.as_ref().map_or(core::ptr::null_mut(), |o| o.device),
        file_path: origin.as_ref().map(|o| o.remaining.as_slice()),
        full_path: path,
    };
    load_pe(parent, bytes, &provenance).map_err(|e| match path.map(device_path::parse) {
        Some(Ok(nodes)) => LoadError::new(e.status, format!("{}: {}", Text(&nodes), e.reason)),
        _ => e,
    })
}

/// Parses, relocates and registers a PE32+ image from `bytes`.
fn load_pe(
    parent: Handle,
    bytes: &[u8],
    from: &loaded::Provenance<'_>,
) -> Result<Handle, LoadError> {
    let pe = PeImage::parse(bytes).map_err(|e| {
        let status = if e.is_unsupported() {
            Status::UNSUPPORTED
        } else {
            Status::LOAD_ERROR
        };
        LoadError::new(status, format!("not a loadable PE32+ image: {e}"))
    })?;
    let (code_type, data_type) = (
        pe.subsystem().code_memory_type(),
        pe.subsystem().data_memory_type(),
    );
    let size = u64::from(pe.size_of_image());
    let alignment = pe.required_alignment();
    let pages = size.div_ceil(4096) + (alignment / 4096).saturating_sub(1);
    let allocate = |kind| with_map(|map| map.allocate_pages(kind, code_type, pages));
    let no_memory = |_| {
        LoadError::new(
            Status::OUT_OF_RESOURCES,
            format!("no memory for {size} bytes of image"),
        )
    };
    let mut base = allocate(AllocateType::AnyPages).map_err(no_memory)?;
    let load = |base: u64| {
        let aligned = base.div_ceil(alignment) * alignment;
        // SAFETY: [base, base + pages * 4096) was just allocated to this image and is identity-mapped RAM; the
        // aligned window of `size` bytes lies inside it.
        let dest = unsafe { core::slice::from_raw_parts_mut(aligned as *mut u8, size as usize) };
        pe.load(dest, aligned)
    };
    let loaded = match load(base) {
        Err(PeError::NeedsPreferredBase { image_base }) => {
            let _ = with_map(|map| map.free_pages(base, pages));
            base = allocate(AllocateType::Address(image_base)).map_err(|_| {
                LoadError::new(
                    Status::LOAD_ERROR,
                    format!("image without relocations needs {image_base:#x}, which is not free"),
                )
            })?;
            load(base)
        }
        other => other,
    };
    let loaded = loaded.map_err(|e| {
        let _ = with_map(|map| map.free_pages(base, pages));
        LoadError::new(Status::LOAD_ERROR, format!("{e}"))
    })?;
    let (handle, blocks) = loaded::install(
        parent,
        (loaded.image_base, loaded.size),
        (code_type, data_type),
        from,
        true,
    )
    .map_err(|s| {
        let _ = with_map(|map| map.free_pages(base, pages));
        LoadError::new(s, "cannot install the Loaded Image protocols")
    })?;
    log::info!(target: "efi::image", "loaded {:?} image at {:#x} ({} KiB), entry {:#x}", pe.subsystem(), loaded.image_base, loaded.size >> 10, loaded.entry_point);
    IMAGES.with(|i| {
        i.by_handle.insert(
            handle_key(handle),
            Image {
                pages: Some((base, pages)),
                entry_point: loaded.entry_point,
                subsystem: Some(pe.subsystem()),
                blocks,
                started: false,
                context: None,
                exit_data: (0, core::ptr::null_mut()),
            },
        )
    });
    Ok(handle)
}

/// Gives an image its load options (`LoadOptions`/`LoadOptionsSize` of its Loaded Image protocol): a copy of
/// `options` in `EfiLoaderData`, freed with the image. Empty `options` leave them NULL and 0.
pub fn set_load_options(handle: Handle, options: &[u8]) -> Result<(), Status> {
    if !is_image_handle(handle) {
        return Err(Status::INVALID_PARAMETER);
    }
    if options.is_empty() {
        return Ok(());
    }
    let buffer = allocate_zeroed(efi::LOADER_DATA, options.len())?;
    // SAFETY: `buffer` was just allocated for `options.len()` bytes.
    unsafe { core::ptr::copy_nonoverlapping(options.as_ptr(), buffer, options.len()) };
    let block = IMAGES.with(|i| {
        i.by_handle.get_mut(&handle_key(handle)).map(|image| {
            let old = core::mem::replace(&mut image.blocks.load_options, buffer);
            (image.blocks.loaded_image, old)
        })
    });
    let Some((block, old)) = block else {
        return Err(Status::INVALID_PARAMETER);
    };
    if !old.is_null() {
        let _ = with_map(|map| map.free_pool(old as u64));
    }
    // SAFETY: `block` is the image's own Loaded Image protocol, which lives as long as the image.
    unsafe {
        (*block).load_options = buffer as *mut c_void;
        (*block).load_options_size = options.len() as u32;
    }
    Ok(())
}

pub extern "efiapi" fn load_image(
    boot_policy: efi::Boolean,
    parent: Handle,
    path: *mut r_efi::protocols::device_path::Protocol,
    source: *mut c_void,
    size: usize,
    image: *mut Handle,
) -> Status {
    if image.is_null() || !is_image_handle(parent) {
        return Status::INVALID_PARAMETER;
    }
    let path_bytes = if path.is_null() {
        None
    } else {
        match super::protocol::device_path_bytes(path as *const u8) {
            Some(bytes) => Some(bytes),
            None => {
                log::error!(target: "efi::image", "LoadImage: malformed device path");
                return Status::INVALID_PARAMETER;
            }
        }
    };
    let from = if source.is_null() {
        Source::Path
    } else {
        // SAFETY: the caller passes `size` readable bytes at `source` (LoadImage contract); copied into the image.
        Source::Buffer(unsafe { core::slice::from_raw_parts(source as *const u8, size) })
    };
    match load(bool::from(boot_policy), parent, path_bytes.as_deref(), from) {
        // SAFETY: non-null OUT EFI_HANDLE.
        Ok(handle) => super::status(unsafe { super::write_out(image, handle) }),
        Err(e) => {
            log::error!(target: "efi::image", "LoadImage: {e}");
            e.status
        }
    }
}

fn unload(handle: Handle, call_unload: bool) -> Result<(), Status> {
    let image = IMAGES
        .with(|i| i.by_handle.remove(&handle_key(handle)))
        .ok_or(Status::INVALID_PARAMETER)?;
    if call_unload {
        // SAFETY: `loaded_image` is the image's own Loaded Image protocol block.
        if let Some(unload_fn) = unsafe { (*image.blocks.loaded_image).unload } {
            // SAFETY: the image's Unload() entry, called with its own handle.
            let status = unsafe { unload_fn(handle) };
            if status.is_error() {
                IMAGES.with(|i| i.by_handle.insert(handle_key(handle), image));
                return Err(status);
            }
        } else if image.started {
            IMAGES.with(|i| i.by_handle.insert(handle_key(handle), image));
            return Err(Status::UNSUPPORTED);
        }
    }
    loaded::uninstall(handle, image.blocks);
    if let Some((base, pages)) = image.pages {
        let _ = with_map(|map| map.free_pages(base, pages));
    }
    Ok(())
}

pub extern "efiapi" fn unload_image(handle: Handle) -> Status {
    super::status(unload(handle, true))
}

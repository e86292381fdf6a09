//! Image services (UEFI 2.10 section 7.4): LoadImage from a memory buffer, StartImage, Exit, UnloadImage, and
//! the Loaded Image protocol on every image handle (the firmware core has one too).
//!
//! PE/COFF parsing and relocation are `pe_loader`'s; this file owns the pages, the handle and the control
//! transfer. `Exit()` really returns to the caller of `StartImage()`: StartImage saves the callee-saved
//! registers (MS x64: RBX RBP RDI RSI R12-R15, XMM6-XMM15) and the stack pointer in a per-start context before
//! calling the entry point; Exit restores them and returns from that StartImage with the exit status.
//! Loading from a device path needs file systems, which arrive with the disk drivers; until then it reports
//! `EFI_NOT_FOUND`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::arch::global_asm;
use core::ffi::c_void;

use boot_services::handle::handle_key;
use boot_services::memory::AllocateType;
use pe_loader::{PeError, PeImage, Subsystem};
use r_efi::efi::{self, Handle, Status};
use r_efi::protocols::loaded_image;

use super::memory::{allocate_zeroed, with_map};
use super::protocol::services;
use super::state::Global;
use super::system_table::system_table;

/// Saved state of one running StartImage: 8 general registers, RSP, then XMM6-XMM15 (16-byte aligned).
#[repr(C, align(16))]
struct JumpContext([u64; 10 + 20]);

global_asm!(
    ".section .text.image, \"ax\"",
    // efiapi start_image_call(entry: rcx, image: rdx, system_table: r8, context: r9) -> Status
    ".global vmfw_start_image_call",
    "vmfw_start_image_call:",
    "    mov [r9 + 0], rbx",
    "    mov [r9 + 8], rbp",
    "    mov [r9 + 16], rdi",
    "    mov [r9 + 24], rsi",
    "    mov [r9 + 32], r12",
    "    mov [r9 + 40], r13",
    "    mov [r9 + 48], r14",
    "    mov [r9 + 56], r15",
    "    mov [r9 + 64], rsp",
    "    movdqa [r9 + 80], xmm6",
    "    movdqa [r9 + 96], xmm7",
    "    movdqa [r9 + 112], xmm8",
    "    movdqa [r9 + 128], xmm9",
    "    movdqa [r9 + 144], xmm10",
    "    movdqa [r9 + 160], xmm11",
    "    movdqa [r9 + 176], xmm12",
    "    movdqa [r9 + 192], xmm13",
    "    movdqa [r9 + 208], xmm14",
    "    movdqa [r9 + 224], xmm15",
    "    mov rax, rcx",
    "    mov rcx, rdx",
    "    mov rdx, r8",
    "    sub rsp, 40",
    "    call rax",
    "    add rsp, 40",
    "    ret",
    // efiapi exit_image_jump(context: rcx, status: rdx) -> !: returns from vmfw_start_image_call with `status`.
    ".global vmfw_exit_image_jump",
    "vmfw_exit_image_jump:",
    "    mov rax, rdx",
    "    mov rbx, [rcx + 0]",
    "    mov rbp, [rcx + 8]",
    "    mov rdi, [rcx + 16]",
    "    mov rsi, [rcx + 24]",
    "    mov r12, [rcx + 32]",
    "    mov r13, [rcx + 40]",
    "    mov r14, [rcx + 48]",
    "    mov r15, [rcx + 56]",
    "    movdqa xmm6, [rcx + 80]",
    "    movdqa xmm7, [rcx + 96]",
    "    movdqa xmm8, [rcx + 112]",
    "    movdqa xmm9, [rcx + 128]",
    "    movdqa xmm10, [rcx + 144]",
    "    movdqa xmm11, [rcx + 160]",
    "    movdqa xmm12, [rcx + 176]",
    "    movdqa xmm13, [rcx + 192]",
    "    movdqa xmm14, [rcx + 208]",
    "    movdqa xmm15, [rcx + 224]",
    "    mov rsp, [rcx + 64]",
    "    ret",
);

extern "efiapi" {
    fn vmfw_start_image_call(
        entry: u64,
        image: Handle,
        system_table: *mut efi::SystemTable,
        context: *mut JumpContext,
    ) -> Status;
    fn vmfw_exit_image_jump(context: *mut JumpContext, status: Status) -> !;
}

struct Image {
    /// Pages holding the image: (address, count); `None` for the firmware core.
    pages: Option<(u64, u64)>,
    entry_point: u64,
    subsystem: Option<Subsystem>,
    loaded_image: *mut loaded_image::Protocol,
    started: bool,
    /// Where Exit() jumps while the image runs.
    context: Option<*mut JumpContext>,
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

/// Installs a Loaded Image protocol on a new handle; `image` is (base, size) and `types` (code, data).
fn install_loaded_image(
    parent: Handle,
    image: (u64, u64),
    types: (u32, u32),
) -> Result<(Handle, *mut loaded_image::Protocol), Status> {
    let protocol = loaded_image::Protocol {
        revision: loaded_image::REVISION,
        parent_handle: parent,
        system_table: system_table(),
        device_handle: core::ptr::null_mut(),
        file_path: core::ptr::null_mut(),
        reserved: core::ptr::null_mut(),
        load_options_size: 0,
        load_options: core::ptr::null_mut(),
        image_base: image.0 as *mut c_void,
        image_size: image.1,
        image_code_type: types.0,
        image_data_type: types.1,
        unload: None,
    };
    let block = allocate_zeroed(types.1, core::mem::size_of::<loaded_image::Protocol>())?
        as *mut loaded_image::Protocol;
    // SAFETY: freshly allocated, correctly sized and aligned block.
    unsafe { block.write(protocol) };
    let handle = services().install_protocol_interface(
        None,
        loaded_image::PROTOCOL_GUID,
        block as *mut c_void,
    )?;
    Ok((handle, block))
}

/// Creates the firmware core's image handle (the parent of images the firmware loads, and the agent of its
/// own protocol opens).
pub fn init_core_image(base: u64, size: u64) -> Result<Handle, Status> {
    let (handle, block) = install_loaded_image(
        core::ptr::null_mut(),
        (base, size),
        (efi::RUNTIME_SERVICES_CODE, efi::BOOT_SERVICES_DATA),
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
                loaded_image: block,
                started: true,
                context: None,
                exit_data: (0, core::ptr::null_mut()),
            },
        )
    });
    Ok(handle)
}

/// Loads a PE32+ image from memory; returns its new image handle.
pub fn load_from_buffer(parent: Handle, bytes: &[u8]) -> Result<Handle, Status> {
    let pe = PeImage::parse(bytes).map_err(|e| {
        log::error!(target: "efi::image", "LoadImage: not a loadable PE32+ image: {e}");
        if e.is_unsupported() {
            Status::UNSUPPORTED
        } else {
            Status::LOAD_ERROR
        }
    })?;
    let (code_type, data_type) = (
        pe.subsystem().code_memory_type(),
        pe.subsystem().data_memory_type(),
    );
    let size = u64::from(pe.size_of_image());
    let alignment = pe.required_alignment();
    let pages = size.div_ceil(4096) + (alignment / 4096).saturating_sub(1);
    let allocate = |kind| with_map(|map| map.allocate_pages(kind, code_type, pages));
    let mut base = allocate(AllocateType::AnyPages).map_err(|_| Status::OUT_OF_RESOURCES)?;
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
            base = allocate(AllocateType::Address(image_base)).inspect_err(|_| {
                log::error!(target: "efi::image", "LoadImage: image without relocations needs {image_base:#x}, which is not free");
            })?;
            load(base)
        }
        other => other,
    };
    let loaded = loaded.map_err(|e| {
        let _ = with_map(|map| map.free_pages(base, pages));
        log::error!(target: "efi::image", "LoadImage: {e}");
        Status::LOAD_ERROR
    })?;
    let (handle, block) = install_loaded_image(
        parent,
        (loaded.image_base, loaded.size),
        (code_type, data_type),
    )?;
    log::info!(target: "efi::image", "loaded {:?} image at {:#x} ({} KiB), entry {:#x}", pe.subsystem(), loaded.image_base, loaded.size >> 10, loaded.entry_point);
    IMAGES.with(|i| {
        i.by_handle.insert(
            handle_key(handle),
            Image {
                pages: Some((base, pages)),
                entry_point: loaded.entry_point,
                subsystem: Some(pe.subsystem()),
                loaded_image: block,
                started: false,
                context: None,
                exit_data: (0, core::ptr::null_mut()),
            },
        )
    });
    Ok(handle)
}

/// Gives an image its load options (the command line for a loader): UCS-2, NUL-terminated, in `EfiLoaderData`.
pub fn set_load_options(handle: Handle, options: &str) -> Result<(), Status> {
    let units: Vec<u16> = options.encode_utf16().chain(core::iter::once(0)).collect();
    let size = units.len() * 2;
    let buffer = allocate_zeroed(efi::LOADER_DATA, size)? as *mut u16;
    // SAFETY: `buffer` was just allocated for `units.len()` UTF-16 units.
    unsafe { core::ptr::copy_nonoverlapping(units.as_ptr(), buffer, units.len()) };
    let block = IMAGES.with(|i| {
        i.by_handle
            .get(&handle_key(handle))
            .map(|image| image.loaded_image)
    });
    let block = block.ok_or(Status::INVALID_PARAMETER)?;
    // SAFETY: `block` is the image's own Loaded Image protocol, which lives as long as the image.
    unsafe {
        (*block).load_options = buffer as *mut c_void;
        (*block).load_options_size = size as u32;
    }
    Ok(())
}

pub extern "efiapi" fn load_image(
    _boot_policy: efi::Boolean,
    parent: Handle,
    path: *mut r_efi::protocols::device_path::Protocol,
    source: *mut c_void,
    size: usize,
    image: *mut Handle,
) -> Status {
    if image.is_null() || !is_image_handle(parent) {
        return Status::INVALID_PARAMETER;
    }
    if source.is_null() || size == 0 {
        if path.is_null() {
            return Status::INVALID_PARAMETER;
        }
        log::warn!(target: "efi::image", "LoadImage from a device path: no file system can serve it yet");
        return Status::NOT_FOUND;
    }
    // SAFETY: the caller passes `size` readable bytes at `source` (LoadImage contract); copied into the image.
    let bytes = unsafe { core::slice::from_raw_parts(source as *const u8, size) };
    match load_from_buffer(parent, bytes) {
        // SAFETY: non-null OUT EFI_HANDLE.
        Ok(handle) => super::status(unsafe { super::write_out(image, handle) }),
        Err(e) => e,
    }
}

pub extern "efiapi" fn start_image(
    handle: Handle,
    exit_data_size: *mut usize,
    exit_data: *mut *mut efi::Char16,
) -> Status {
    let mut context = alloc::boxed::Box::new(JumpContext([0; 30]));
    let context_ptr: *mut JumpContext = &mut *context;
    let entry = IMAGES.with(|i| match i.by_handle.get_mut(&handle_key(handle)) {
        Some(image) if !image.started && image.pages.is_some() => {
            image.started = true;
            image.context = Some(context_ptr);
            i.running.push(handle);
            Ok(image.entry_point)
        }
        Some(_) => Err(Status::INVALID_PARAMETER),
        None => Err(Status::INVALID_PARAMETER),
    });
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return e,
    };
    // SAFETY: `entry` is the relocated entry point of an image this firmware loaded into its own pages; the
    // context lives until this call returns (also through Exit, which returns here).
    let status = unsafe { vmfw_start_image_call(entry, handle, system_table(), context_ptr) };
    let (data, is_application) = IMAGES.with(|i| {
        i.running.retain(|&h| h != handle);
        let image = i.by_handle.get_mut(&handle_key(handle));
        image
            .map(|image| {
                image.context = None;
                (
                    core::mem::replace(&mut image.exit_data, (0, core::ptr::null_mut())),
                    image.subsystem == Some(Subsystem::EfiApplication),
                )
            })
            .unwrap_or(((0, core::ptr::null_mut()), false))
    });
    if !exit_data_size.is_null() && !exit_data.is_null() {
        // SAFETY: non-null OUT pointers (StartImage contract).
        unsafe {
            exit_data_size.write_unaligned(data.0);
            exit_data.write_unaligned(data.1);
        }
    }
    log::info!(target: "efi::image", "image {handle:p} returned {status:?}");
    // Applications, and drivers that fail, are unloaded when they return (UEFI 2.10 section 7.4, StartImage).
    if is_application || status.is_error() {
        let _ = unload(handle, false);
    }
    status
}

pub extern "efiapi" fn exit(
    handle: Handle,
    status: Status,
    data_size: usize,
    data: *mut efi::Char16,
) -> Status {
    let action = IMAGES.with(|i| {
        let running = i.running.last().copied();
        match i.by_handle.get_mut(&handle_key(handle)) {
            None => Err(Status::INVALID_PARAMETER),
            Some(image) if !image.started => Ok(None),
            Some(image) if running == Some(handle) => {
                image.exit_data = (data_size, data);
                Ok(image.context)
            }
            Some(_) => Err(Status::INVALID_PARAMETER),
        }
    });
    match action {
        Err(e) => e,
        Ok(None) => super::status(unload(handle, false)),
        // SAFETY: the context was filled by the StartImage call currently running this image, whose stack
        // frame is still live below us.
        Ok(Some(context)) => unsafe { vmfw_exit_image_jump(context, status) },
    }
}

fn unload(handle: Handle, call_unload: bool) -> Result<(), Status> {
    let image = IMAGES
        .with(|i| i.by_handle.remove(&handle_key(handle)))
        .ok_or(Status::INVALID_PARAMETER)?;
    if call_unload {
        // SAFETY: `loaded_image` is the image's own Loaded Image protocol block.
        if let Some(unload_fn) = unsafe { (*image.loaded_image).unload } {
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
    let _ = services().uninstall_protocol_interface(
        handle,
        loaded_image::PROTOCOL_GUID,
        image.loaded_image as *mut c_void,
    );
    if let Some((base, pages)) = image.pages {
        let _ = with_map(|map| map.free_pages(base, pages));
    }
    let _ = with_map(|map| map.free_pool(image.loaded_image as u64));
    Ok(())
}

pub extern "efiapi" fn unload_image(handle: Handle) -> Status {
    super::status(unload(handle, true))
}

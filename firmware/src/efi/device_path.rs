//! Device path protocols: `EFI_DEVICE_PATH_TO_TEXT_PROTOCOL`, `EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL` (UEFI 2.10
//! section 10.6) and `EFI_DEVICE_PATH_UTILITIES_PROTOCOL` (section 10.5), installed on one handle: the ABI shell
//! over the host-tested `device_path` crate.
//!
//! Every member copies the caller's device path (read node by node up to its end-of-entire-path node, at most
//! [`device_path::MAX_PATH_BYTES`]) or string (at most [`MAX_TEXT_UNITS`] code units) into firmware memory,
//! converts it with safe code, and returns the result in new `EfiBootServicesData` pool memory, allocated as
//! AllocatePool does, so the caller releases it with FreePool. Malformed input returns NULL (or 0 / FALSE where
//! the member returns those) with a log line naming the member and the problem.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_void;

use device_path::{utilities, TextOptions, MAX_PATH_BYTES};
use r_efi::efi::{self, Boolean, Char16, Status};
use r_efi::protocols::{
    device_path as dp, device_path_from_text as from_text, device_path_to_text as to_text,
    device_path_utilities as utils,
};

use super::memory::allocate_zeroed;

const LOG: &str = "efi::device_path";
/// Longest text read from a caller, in UCS-2 code units (a bound against a missing terminator).
const MAX_TEXT_UNITS: usize = 64 * 1024;

/// The bytes of the caller's path at `path`, end node included, or why not. The walk reads 4-byte headers and
/// stops at the first end-of-entire-path node, a Length below 4, or [`MAX_PATH_BYTES`].
fn read_path(path: *const dp::Protocol) -> Result<Vec<u8>, &'static str> {
    let start = path as *const u8;
    if start.is_null() {
        return Err("NULL device path");
    }
    let mut len = 0usize;
    loop {
        // SAFETY: a device path is a sequence of nodes whose 4-byte header gives the node's length; the walk
        // reads only headers of nodes the previous headers announced, within MAX_PATH_BYTES.
        let header = unsafe { start.add(len).cast::<[u8; 4]>().read_unaligned() };
        let node_len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        if node_len < 4 {
            return Err("a node with Length below 4");
        }
        len += node_len;
        if len > MAX_PATH_BYTES {
            return Err("longer than 64 KiB or without an end node");
        }
        if header[0] == 0x7f && header[1] == 0xff {
            break;
        }
    }
    // SAFETY: the walk above covered [start, start + len) node by node.
    Ok(unsafe { core::slice::from_raw_parts(start, len) }.to_vec())
}

/// The bytes of the one node at `node`.
fn read_node(node: *const dp::Protocol) -> Result<Vec<u8>, &'static str> {
    let start = node as *const u8;
    if start.is_null() {
        return Err("NULL device node");
    }
    // SAFETY: a device node starts with its 4-byte header.
    let header = unsafe { start.cast::<[u8; 4]>().read_unaligned() };
    let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
    if len < 4 {
        return Err("a node with Length below 4");
    }
    // SAFETY: the header says the node spans `len` bytes.
    Ok(unsafe { core::slice::from_raw_parts(start, len) }.to_vec())
}

/// The caller's NUL-terminated UCS-2 string as UTF-8.
fn read_text(text: *const Char16) -> Result<String, &'static str> {
    if text.is_null() {
        return Err("NULL text");
    }
    let mut units = Vec::new();
    loop {
        if units.len() == MAX_TEXT_UNITS {
            return Err("text longer than 64 Ki units");
        }
        // SAFETY: the caller passes a NUL-terminated string; the read stops at its NUL or the bound.
        let unit = unsafe { text.add(units.len()).read_unaligned() };
        if unit == 0 {
            break;
        }
        units.push(unit);
    }
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| "text with an unpaired surrogate")
}

/// Copies `bytes` into new pool memory; NULL when the pool is exhausted.
fn pool_bytes(bytes: &[u8]) -> *mut u8 {
    match allocate_zeroed(efi::BOOT_SERVICES_DATA, bytes.len()) {
        Ok(block) => {
            // SAFETY: `block` was just allocated with `bytes.len()` bytes.
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), block, bytes.len()) };
            block
        }
        Err(status) => {
            log::warn!(target: LOG, "no pool for a {}-byte result: {status:?}", bytes.len());
            core::ptr::null_mut()
        }
    }
}

/// A path result in pool memory, or NULL (with a log line naming `member`) for an error.
fn path_out<E: core::fmt::Display>(member: &str, result: Result<Vec<u8>, E>) -> *mut dp::Protocol {
    match result {
        Ok(bytes) => pool_bytes(&bytes).cast(),
        Err(e) => {
            log::warn!(target: LOG, "{member}: {e}");
            core::ptr::null_mut()
        }
    }
}

/// A text result as a NUL-terminated UCS-2 string in pool memory, or NULL for an error.
fn text_out<E: core::fmt::Display>(member: &str, result: Result<String, E>) -> *mut Char16 {
    match result {
        Ok(text) => {
            let bytes: Vec<u8> = text
                .encode_utf16()
                .chain(core::iter::once(0))
                .flat_map(u16::to_le_bytes)
                .collect();
            pool_bytes(&bytes).cast()
        }
        Err(e) => {
            log::warn!(target: LOG, "{member}: {e}");
            core::ptr::null_mut()
        }
    }
}

fn options(display_only: Boolean, allow_shortcuts: Boolean) -> TextOptions {
    TextOptions {
        display_only: display_only.into(),
        allow_shortcuts: allow_shortcuts.into(),
    }
}

extern "efiapi" fn convert_device_node_to_text(
    node: *mut dp::Protocol,
    display_only: Boolean,
    allow_shortcuts: Boolean,
) -> *mut Char16 {
    let text = read_node(node).and_then(|bytes| {
        let node = device_path::Node::parse(&bytes).map_err(|_| "malformed node")?;
        Ok(device_path::node_to_text(
            &node,
            options(display_only, allow_shortcuts),
        ))
    });
    text_out("ConvertDeviceNodeToText", text)
}

extern "efiapi" fn convert_device_path_to_text(
    path: *mut dp::Protocol,
    display_only: Boolean,
    allow_shortcuts: Boolean,
) -> *mut Char16 {
    let text = read_path(path).and_then(|bytes| {
        device_path::path_to_text(&bytes, options(display_only, allow_shortcuts))
            .map_err(|_| "malformed device path")
    });
    text_out("ConvertDevicePathToText", text)
}

extern "efiapi" fn convert_text_to_device_node(text: *const Char16) -> *mut dp::Protocol {
    match read_text(text) {
        Ok(text) => path_out(
            "ConvertTextToDeviceNode",
            device_path::text_to_node(&text).map_err(|e| alloc::format!("{text:?}: {e}")),
        ),
        Err(e) => path_out::<&str>("ConvertTextToDeviceNode", Err(e)),
    }
}

extern "efiapi" fn convert_text_to_device_path(text: *const Char16) -> *mut dp::Protocol {
    match read_text(text) {
        Ok(text) => path_out(
            "ConvertTextToDevicePath",
            device_path::text_to_path(&text).map_err(|e| alloc::format!("{text:?}: {e}")),
        ),
        Err(e) => path_out::<&str>("ConvertTextToDevicePath", Err(e)),
    }
}

/// Reads an optional path argument: NULL is `None`, a malformed path an error.
fn optional_path(path: *const dp::Protocol) -> Result<Option<Vec<u8>>, &'static str> {
    if path.is_null() {
        Ok(None)
    } else {
        read_path(path).map(Some)
    }
}

extern "efiapi" fn get_device_path_size(path: *const dp::Protocol) -> usize {
    if path.is_null() {
        return 0;
    }
    match read_path(path) {
        Ok(bytes) => bytes.len(),
        Err(e) => {
            log::warn!(target: LOG, "GetDevicePathSize: {e}");
            0
        }
    }
}

extern "efiapi" fn duplicate_device_path(path: *const dp::Protocol) -> *mut dp::Protocol {
    if path.is_null() {
        return core::ptr::null_mut();
    }
    path_out("DuplicateDevicePath", read_path(path))
}

extern "efiapi" fn append_device_path(
    first: *const dp::Protocol,
    second: *const dp::Protocol,
) -> *mut dp::Protocol {
    let result = optional_path(first).and_then(|a| {
        let b = optional_path(second)?;
        utilities::append_path(a.as_deref(), b.as_deref()).map_err(|_| "result too long")
    });
    path_out("AppendDevicePath", result)
}

extern "efiapi" fn append_device_node(
    path: *const dp::Protocol,
    node: *const dp::Protocol,
) -> *mut dp::Protocol {
    let result = optional_path(path).and_then(|p| {
        let n = if node.is_null() {
            None
        } else {
            Some(read_node(node)?)
        };
        utilities::append_node(p.as_deref(), n.as_deref()).map_err(|_| "result too long")
    });
    path_out("AppendDeviceNode", result)
}

extern "efiapi" fn append_device_path_instance(
    path: *const dp::Protocol,
    instance: *const dp::Protocol,
) -> *mut dp::Protocol {
    let result = optional_path(path).and_then(|p| {
        let instance = read_path(instance)?;
        utilities::append_instance(p.as_deref(), &instance).map_err(|_| "result too long")
    });
    path_out("AppendDevicePathInstance", result)
}

extern "efiapi" fn get_next_device_path_instance(
    instance: *mut *mut dp::Protocol,
    size: *mut usize,
) -> *mut dp::Protocol {
    const MEMBER: &str = "GetNextDevicePathInstance";
    if instance.is_null() || size.is_null() {
        log::warn!(target: LOG, "{MEMBER}: NULL DevicePathInstance or DevicePathInstanceSize");
        return core::ptr::null_mut();
    }
    // SAFETY: non-null IN/OUT EFI_DEVICE_PATH_PROTOCOL** (GetNextDevicePathInstance contract).
    let current = unsafe { instance.read_unaligned() };
    if current.is_null() {
        // SAFETY: non-null OUT UINTN.
        unsafe { size.write_unaligned(0) };
        return core::ptr::null_mut();
    }
    let result = read_path(current)
        .and_then(|bytes| utilities::next_instance(&bytes).map_err(|_| "malformed device path"));
    let (copy, next) = match result {
        Ok(found) => found,
        Err(e) => {
            log::warn!(target: LOG, "{MEMBER}: {e}");
            return core::ptr::null_mut();
        }
    };
    let out = pool_bytes(&copy);
    if out.is_null() {
        return out.cast();
    }
    let next = next.map_or(core::ptr::null_mut(), |offset| {
        // SAFETY: `offset` lies inside the caller's path that `read_path` just walked.
        unsafe { current.cast::<u8>().add(offset).cast::<dp::Protocol>() }
    });
    // SAFETY: both OUT pointers were checked non-null above.
    unsafe {
        instance.write_unaligned(next);
        size.write_unaligned(copy.len());
    }
    out.cast()
}

extern "efiapi" fn is_device_path_multi_instance(path: *const dp::Protocol) -> Boolean {
    if path.is_null() {
        return Boolean::FALSE;
    }
    match read_path(path) {
        Ok(bytes) => utilities::is_multi_instance(&bytes).into(),
        Err(e) => {
            log::warn!(target: LOG, "IsDevicePathMultiInstance: {e}");
            Boolean::FALSE
        }
    }
}

extern "efiapi" fn create_device_node(kind: u8, sub_type: u8, length: u16) -> *mut dp::Protocol {
    match utilities::create_node(kind, sub_type, length) {
        Some(node) => pool_bytes(&node).cast(),
        None => {
            log::warn!(target: LOG, "CreateDeviceNode: NodeLength {length} is below the 4-byte header");
            core::ptr::null_mut()
        }
    }
}

/// Copies `value` into new boot-services pool memory.
fn pool_copy<T>(value: T) -> Result<*mut T, Status> {
    let block = allocate_zeroed(efi::BOOT_SERVICES_DATA, core::mem::size_of::<T>())? as *mut T;
    // SAFETY: freshly allocated, 8-byte aligned pool memory of the size of `T`.
    unsafe { block.write(value) };
    Ok(block)
}

/// Installs the three protocols on a new handle. Call once, after boot services started.
///
/// Errors: `OUT_OF_RESOURCES` from pool allocation; protocol installation errors.
pub fn install() -> Result<(), Status> {
    let to = pool_copy(to_text::Protocol {
        convert_device_node_to_text,
        convert_device_path_to_text,
    })?;
    let from = pool_copy(from_text::Protocol {
        convert_text_to_device_node,
        convert_text_to_device_path,
    })?;
    let util = pool_copy(utils::Protocol {
        get_device_path_size,
        duplicate_device_path,
        append_device_path,
        append_device_node,
        append_device_path_instance,
        get_next_device_path_instance,
        is_device_path_multi_instance,
        create_device_node,
    })?;
    let pairs = [
        (to_text::PROTOCOL_GUID, to as *mut c_void),
        (from_text::PROTOCOL_GUID, from as *mut c_void),
        (utils::PROTOCOL_GUID, util as *mut c_void),
    ];
    super::protocol::services().install_multiple_protocol_interfaces(None, &pairs)?;
    Ok(())
}

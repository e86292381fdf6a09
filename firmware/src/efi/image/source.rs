//! Reading an image named by a device path: LoadImage with `SourceBuffer` NULL (UEFI 2.10 section 7.4).
//!
//! The device is found as the spec and edk2 do it, each with LocateDevicePath on the path:
//! 1. **Simple File System**: the rest of the path must be file path media nodes (one or several, joined with
//!    `\`, see `boot_manager::device_path::file`); the file is opened read-only from the volume's root, its size
//!    taken from `EFI_FILE_INFO`, and read whole;
//! 2. **LoadFile2**, only when `BootPolicy` is FALSE (section 13.2: LoadFile2 never serves boot selections);
//! 3. **LoadFile**, with `BootPolicy` passed on (section 13.1).
//!
//! Each LoadFile call is made twice: with no buffer to learn the size (`EFI_BUFFER_TOO_SMALL`), then with pages
//! of that size. File contents go to `EfiBootServicesData` pages ([`FileBuffer`]) freed once the image is loaded,
//! not to the firmware heap, so images of any size that fits in RAM can be read.
//!
//! Errors follow LoadImage's list: `EFI_NOT_FOUND` (no provider for the path, no such file, a directory),
//! `EFI_DEVICE_ERROR` (a read failed, including a corrupt file system), `EFI_OUT_OF_RESOURCES`,
//! `EFI_INVALID_PARAMETER` (malformed path). Every error carries a reason for the log and the boot manager.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::fmt;

use boot_manager::device_path::{self, file::file_name, Text};
use boot_manager::status::Name;
use boot_services::memory::AllocateType;
use boot_services::protocol::DatabaseLock;
use r_efi::efi::{self, Guid, Handle, Status};
use r_efi::protocols::{device_path as dp, file, load_file, load_file2, simple_file_system};

use super::super::memory::with_map;
use super::super::protocol::{Calls, Lock};

/// Largest file LoadImage reads (a sanity bound on sizes a file system or LoadFile reports).
const MAX_IMAGE_FILE: u64 = 1 << 30;
/// Largest `EFI_FILE_INFO` accepted (the structure plus a file name).
const MAX_FILE_INFO: usize = 4096;

/// Why an image could not be loaded: the status LoadImage returns and a reason for people.
#[derive(Debug)]
pub struct LoadError {
    /// The LoadImage status.
    pub status: Status,
    /// What went wrong, naming the file or device.
    pub reason: String,
}

impl LoadError {
    /// An error with `status` and `reason`.
    pub fn new(status: Status, reason: impl Into<String>) -> LoadError {
        LoadError {
            status,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, Name(self.status))
    }
}

/// Pages of `EfiBootServicesData` holding a file read from a device; freed when dropped.
pub struct FileBuffer {
    address: u64,
    pages: u64,
    len: usize,
}

impl FileBuffer {
    fn allocate(len: u64) -> Result<FileBuffer, LoadError> {
        if len > MAX_IMAGE_FILE {
            return Err(LoadError::new(
                Status::LOAD_ERROR,
                format!("{len} bytes is larger than the {MAX_IMAGE_FILE}-byte limit for images"),
            ));
        }
        let pages = len.div_ceil(4096).max(1);
        let address = with_map(|map| {
            map.allocate_pages(AllocateType::AnyPages, efi::BOOT_SERVICES_DATA, pages)
        })
        .map_err(|_| {
            LoadError::new(
                Status::OUT_OF_RESOURCES,
                format!("no memory for {len} bytes"),
            )
        })?;
        Ok(FileBuffer {
            address,
            pages,
            len: len as usize,
        })
    }

    /// The bytes read.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: [address, address + len) lies in pages this buffer owns; the device wrote them (or they were
        // allocated and are only read after the device filled them).
        unsafe { core::slice::from_raw_parts(self.address as *const u8, self.len) }
    }

    fn as_mut_ptr(&self) -> *mut c_void {
        self.address as *mut c_void
    }
}

impl Drop for FileBuffer {
    fn drop(&mut self) {
        let _ = with_map(|map| map.free_pages(self.address, self.pages));
    }
}

/// The device an image path leads to.
pub struct Origin {
    /// The handle LocateDevicePath found (null when none).
    pub device: Handle,
    /// Bytes of the path after the device's part, end node included.
    pub remaining: Vec<u8>,
}

fn locate(guid: &Guid, path: &[u8]) -> Option<(Handle, usize)> {
    Lock.with(|db| db.locate_device_path(guid, path, &Calls))
        .ok()
}

fn interface<T>(handle: Handle, guid: &Guid) -> Result<*mut T, LoadError> {
    Lock.with(|db| db.handle_protocol(handle, guid))
        .map(|i| i as *mut T)
        .map_err(|s| LoadError::new(s, "the device's protocol went away"))
}

/// The device and remaining path for `path`, by the order of section 7.4 (for LoadImage from a buffer with a
/// path too): Simple File System, LoadFile2 unless `boot_policy`, LoadFile; none found: no device and the whole
/// path as the remaining path.
pub fn origin_of(path: &[u8], boot_policy: bool) -> Origin {
    let mut guids = alloc::vec![simple_file_system::PROTOCOL_GUID];
    if !boot_policy {
        guids.push(load_file2::PROTOCOL_GUID);
    }
    guids.push(load_file::PROTOCOL_GUID);
    for guid in guids {
        if let Some((device, offset)) = locate(&guid, path) {
            return Origin {
                device,
                remaining: path[offset..].to_vec(),
            };
        }
    }
    Origin {
        device: core::ptr::null_mut(),
        remaining: path.to_vec(),
    }
}

/// Reads the image `path` names (a whole device path, end node included). See the module documentation.
pub fn read(path: &[u8], boot_policy: bool) -> Result<(FileBuffer, Origin), LoadError> {
    let nodes = device_path::parse(path).map_err(|e| {
        LoadError::new(
            Status::INVALID_PARAMETER,
            format!("malformed device path: {e}"),
        )
    })?;
    let text = Text(&nodes);
    let mut not_a_file = None;
    if let Some((device, offset)) = locate(&simple_file_system::PROTOCOL_GUID, path) {
        let remaining = &path[offset..];
        let rest = device_path::parse(remaining).unwrap_or_default();
        match file_name(&rest) {
            Ok(name) => {
                let buffer = read_file(device, &name).map_err(|e| LoadError {
                    reason: format!("{text}: {}", e.reason),
                    ..e
                })?;
                let origin = Origin {
                    device,
                    remaining: remaining.to_vec(),
                };
                return Ok((buffer, origin));
            }
            Err(e) => not_a_file = Some(e),
        }
    }
    let mut providers = Vec::new();
    if !boot_policy {
        providers.push((load_file2::PROTOCOL_GUID, "LoadFile2"));
    }
    providers.push((load_file::PROTOCOL_GUID, "LoadFile"));
    for (guid, name) in providers {
        if let Some((device, offset)) = locate(&guid, path) {
            let origin = Origin {
                device,
                remaining: path[offset..].to_vec(),
            };
            let buffer = call_load_file(&origin, &guid, boot_policy)
                .map_err(|e| LoadError::new(e.status, format!("{text}: {name}: {}", e.reason)))?;
            return Ok((buffer, origin));
        }
    }
    Err(LoadError::new(
        Status::NOT_FOUND,
        match not_a_file {
            Some(e) => format!("{text}: the path leads to a file system but {e}"),
            None => format!("{text}: no file system, LoadFile2 or LoadFile provider for this path"),
        },
    ))
}

/// LoadImage's status for a failed file or device operation: what its list allows, else `EFI_DEVICE_ERROR`.
fn load_status(status: Status) -> Status {
    match status {
        Status::NOT_FOUND | Status::NO_MEDIA => Status::NOT_FOUND,
        Status::OUT_OF_RESOURCES | Status::ACCESS_DENIED | Status::SECURITY_VIOLATION => status,
        _ => Status::DEVICE_ERROR,
    }
}

/// An open `EFI_FILE_PROTOCOL`, closed when dropped.
struct OpenFile(*mut file::Protocol);

impl Drop for OpenFile {
    fn drop(&mut self) {
        // SAFETY: an open file handle the file system gave us; closed exactly once.
        unsafe { ((*self.0).close)(self.0) };
    }
}

fn read_file(device: Handle, name: &[u16]) -> Result<FileBuffer, LoadError> {
    let fs = interface::<simple_file_system::Protocol>(device, &simple_file_system::PROTOCOL_GUID)?;
    let mut root: *mut file::Protocol = core::ptr::null_mut();
    // SAFETY: `fs` is an installed Simple File System interface; OpenVolume writes a file handle.
    let status = unsafe { ((*fs).open_volume)(fs, &mut root) };
    if status.is_error() || root.is_null() {
        return Err(LoadError::new(
            load_status(status),
            format!("cannot open the file system: {}", Name(status)),
        ));
    }
    let root = OpenFile(root);
    let mut path: Vec<u16> = name.to_vec();
    path.push(0);
    let mut handle: *mut file::Protocol = core::ptr::null_mut();
    // SAFETY: `root.0` is an open directory; `path` is a NUL-terminated UCS-2 name that outlives the call.
    let status =
        unsafe { ((*root.0).open)(root.0, &mut handle, path.as_mut_ptr(), file::MODE_READ, 0) };
    if status.is_error() || handle.is_null() {
        let why = if status == Status::NOT_FOUND {
            String::from("file not found")
        } else {
            format!("cannot open the file: {}", Name(status))
        };
        return Err(LoadError::new(load_status(status), why));
    }
    let file = OpenFile(handle);
    drop(root);
    let (size, attribute) = file_info(&file)?;
    if attribute & file::DIRECTORY != 0 {
        return Err(LoadError::new(
            Status::NOT_FOUND,
            String::from("a directory, not a file"),
        ));
    }
    let buffer = FileBuffer::allocate(size)?;
    let mut done = 0usize;
    while done < buffer.len {
        let mut chunk = buffer.len - done;
        // SAFETY: the destination is the unread tail of the buffer's pages, `chunk` bytes long.
        let status = unsafe {
            ((*file.0).read)(
                file.0,
                &mut chunk,
                (buffer.address as usize + done) as *mut c_void,
            )
        };
        if status.is_error() {
            return Err(LoadError::new(
                load_status(status),
                format!(
                    "reading failed after {done} of {size} bytes: {}",
                    Name(status)
                ),
            ));
        }
        if chunk == 0 || chunk > buffer.len - done {
            return Err(LoadError::new(
                Status::DEVICE_ERROR,
                format!(
                    "reading: the file system returned {chunk} bytes at offset {done} of {size}"
                ),
            ));
        }
        done += chunk;
    }
    Ok(buffer)
}

/// `(FileSize, Attribute)` from `EFI_FILE_INFO` (section 13.5.16).
fn file_info(file: &OpenFile) -> Result<(u64, u64), LoadError> {
    let mut guid = file::INFO_ID;
    let mut size = 0usize;
    // SAFETY: an open file; a zero-sized buffer asks for the size (GetInfo contract).
    let status =
        unsafe { ((*file.0).get_info)(file.0, &mut guid, &mut size, core::ptr::null_mut()) };
    let fixed = core::mem::size_of::<file::Info>();
    if status != Status::BUFFER_TOO_SMALL || size < fixed || size > MAX_FILE_INFO {
        return Err(LoadError::new(
            load_status(if status.is_error() {
                status
            } else {
                Status::DEVICE_ERROR
            }),
            format!(
                "GetInfo(EFI_FILE_INFO) answered {} with size {size}",
                Name(status)
            ),
        ));
    }
    let mut info = alloc::vec![0u64; size.div_ceil(8)];
    // SAFETY: `info` holds at least `size` bytes, 8-byte aligned.
    let status = unsafe {
        ((*file.0).get_info)(
            file.0,
            &mut guid,
            &mut size,
            info.as_mut_ptr() as *mut c_void,
        )
    };
    if status.is_error() {
        return Err(LoadError::new(
            load_status(status),
            format!("GetInfo(EFI_FILE_INFO) failed: {}", Name(status)),
        ));
    }
    // SAFETY: `info` holds a complete EFI_FILE_INFO (at least `fixed` bytes were required above).
    let info = unsafe { (info.as_ptr() as *const file::Info).read_unaligned() };
    Ok((info.file_size, info.attribute))
}

/// Reads through LoadFile or LoadFile2 (`guid`), asking for the size first.
fn call_load_file(
    origin: &Origin,
    guid: &Guid,
    boot_policy: bool,
) -> Result<FileBuffer, LoadError> {
    let protocol = interface::<load_file::Protocol>(origin.device, guid)?;
    let path = origin.remaining.as_ptr() as *mut dp::Protocol;
    let policy = efi::Boolean::from(boot_policy);
    let mut size = 0usize;
    // SAFETY: an installed LoadFile(2) interface; a zero size with a NULL buffer asks for the size; `path` is our
    // copy of the remaining device path, alive for the call.
    let status = unsafe {
        ((*protocol).load_file)(protocol, path, policy, &mut size, core::ptr::null_mut())
    };
    if status != Status::BUFFER_TOO_SMALL {
        let status = if status.is_error() {
            status
        } else {
            Status::NOT_FOUND
        };
        return Err(LoadError::new(
            load_status(status),
            format!("asking for the size answered {}", Name(status)),
        ));
    }
    let mut buffer = FileBuffer::allocate(size as u64)?;
    let mut got = size;
    // SAFETY: as above, now with a buffer of `size` bytes.
    let status =
        unsafe { ((*protocol).load_file)(protocol, path, policy, &mut got, buffer.as_mut_ptr()) };
    if status.is_error() {
        return Err(LoadError::new(
            load_status(status),
            format!("loading {size} bytes failed: {}", Name(status)),
        ));
    }
    if got > size {
        return Err(LoadError::new(
            Status::DEVICE_ERROR,
            format!("returned {got} bytes into a buffer of the {size} it announced"),
        ));
    }
    buffer.len = got;
    Ok(buffer)
}

//! `EFI_FILE_PROTOCOL` revision 2 (UEFI 2.10 section 13.5): the ABI shell over `storage::sfs::Volume`.
//!
//! Each open file is a [`FileHandle`] whose first field is the protocol, so `This` identifies it; `This` is
//! checked against the registry of live handles before anything is dereferenced (a closed or forged handle is
//! `EFI_INVALID_PARAMETER`). Every function validates its pointers, copies the caller's data into safe slices,
//! calls the volume under its lock and maps `storage::sfs::FsError` to the status. `Close` and `Delete` free the
//! handle whatever happens. The `Ex` functions run synchronously: with a token event, the result goes to
//! `Token->Status` and the event is signalled before they return `EFI_SUCCESS`; without one they return the
//! result.

use alloc::boxed::Box;
use core::ffi::c_void;

use boot_services::event::EventId;
use r_efi::efi::{self, Guid, Status};
use r_efi::protocols::file;
use storage::fat::DateTime;
use storage::sfs::{FileId, FsError, InfoKind, Volume};

use super::{free_volume, VolumeInstance, LOG};
use crate::drivers::disk_io::binding::Registry;
use crate::drivers::disk_io::device::DiskIoDevice;
use crate::efi::state::events;

/// Longest file name read from a caller, in UCS-2 units (a bound on runaway strings).
const MAX_PATH_UNITS: usize = 32 * 1024;

/// One open file; `This` points at `protocol`.
#[repr(C)]
pub struct FileHandle {
    protocol: file::Protocol,
    volume: *mut VolumeInstance,
    id: FileId,
}

static FILES: Registry<FileHandle> = Registry::new();

/// A new handle for the open file `id` of `volume`.
pub fn new_handle(volume: *mut VolumeInstance, id: FileId) -> *mut file::Protocol {
    let handle = Box::into_raw(Box::new(FileHandle {
        protocol: file::Protocol {
            revision: file::REVISION2,
            open,
            close,
            delete,
            read,
            write,
            get_position,
            set_position,
            get_info,
            set_info,
            flush,
            open_ex,
            read_ex,
            write_ex,
            flush_ex,
        },
        volume,
        id,
    }));
    // SAFETY: `volume` is a live registered instance.
    unsafe { (*volume).open_files.set((*volume).open_files.get() + 1) };
    FILES.add(handle);
    handle as *mut file::Protocol
}

/// Unregisters and frees `handle`; frees its volume too when that was stopped and this was its last file.
fn drop_handle(handle: *mut FileHandle) {
    if !FILES.remove(handle) {
        return;
    }
    // SAFETY: the handle was registered (live) and is now unreachable; its volume outlives its files.
    let volume = unsafe { Box::from_raw(handle) }.volume;
    // SAFETY: as above.
    let (left, mounted) = unsafe {
        let left = (*volume).open_files.get().saturating_sub(1);
        (*volume).open_files.set(left);
        (left, (*volume).mounted.get())
    };
    if left == 0 && !mounted {
        free_volume(volume);
    }
}

/// The current RTC time as a FAT time (1980-01-01 if the RTC reads outside FAT's range).
fn now() -> DateTime {
    let mut t = efi::Time::default();
    let st = crate::efi::system_table::system_table();
    // SAFETY: the system table and its runtime services table are the firmware's own, valid while boot services
    // run (file writes happen only then); GetTime writes `t` only.
    unsafe { ((*(*st).runtime_services).get_time)(&mut t, core::ptr::null_mut()) };
    let fat = storage::sfs::info::efi_to_fat(&storage::sfs::info::Time {
        year: t.year,
        month: t.month,
        day: t.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second,
        nanosecond: 0,
        timezone: t.timezone,
        daylight: t.daylight,
    });
    fat.unwrap_or(DateTime::from_fat(0x21, 0, 0))
}

/// Runs `f` on the volume and open file behind `this`. Errors: `INVALID_PARAMETER` (unknown `This`),
/// `NO_MEDIA` (volume stopped), `ACCESS_DENIED` (lock), or `f`'s error as a status.
fn with_file<R>(
    this: *mut file::Protocol,
    what: &str,
    f: impl FnOnce(&mut Volume<DiskIoDevice>, FileId) -> Result<R, FsError>,
) -> Result<R, Status> {
    let handle = FILES.check(this as *mut FileHandle)?;
    // SAFETY: registered handles and their volumes are live.
    let (volume, id) = unsafe { ((*handle).volume, (*handle).id) };
    // SAFETY: as above.
    let state = unsafe { &(*volume).state };
    match state.with(what, |s| s.as_mut().map(|v| f(v, id)))? {
        Some(Ok(r)) => Ok(r),
        Some(Err(e)) => Err(e.status()),
        None => Err(Status::NO_MEDIA),
    }
}

fn status_of(r: Result<(), Status>) -> Status {
    r.err().unwrap_or(Status::SUCCESS)
}

/// The caller's NUL-terminated UCS-2 string (without the NUL). Errors: null, or no NUL within the bound.
fn ucs2_arg(p: *const u16) -> Result<alloc::vec::Vec<u16>, Status> {
    if p.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    let mut units = alloc::vec::Vec::new();
    for i in 0..MAX_PATH_UNITS {
        // SAFETY: a CHAR16 string is readable up to its NUL (Open contract); bounded by MAX_PATH_UNITS.
        let u = unsafe { p.add(i).read_unaligned() };
        if u == 0 {
            return Ok(units);
        }
        units.push(u);
    }
    log::error!(target: LOG, "Open: file name longer than {MAX_PATH_UNITS} units or not terminated");
    Err(Status::INVALID_PARAMETER)
}

fn do_open(
    this: *mut file::Protocol,
    new: *mut *mut file::Protocol,
    name: *mut u16,
    mode: u64,
    attributes: u64,
) -> Result<(), Status> {
    if new.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    let path = ucs2_arg(name)?;
    let id = with_file(this, "Open", |v, id| {
        v.set_time(now());
        v.open(id, &path, mode, attributes)
    })?;
    // SAFETY: `this` was checked by with_file; its volume is live.
    let volume = unsafe { (*(this as *mut FileHandle)).volume };
    // SAFETY: `new` is a non-null OUT pointer.
    unsafe { new.write_unaligned(new_handle(volume, id)) };
    Ok(())
}

/// `Open()` (section 13.5.2).
extern "efiapi" fn open(
    this: *mut file::Protocol,
    new: *mut *mut file::Protocol,
    name: *mut u16,
    mode: u64,
    attributes: u64,
) -> Status {
    status_of(do_open(this, new, name, mode, attributes))
}

/// `Close()` (section 13.5.3): always succeeds for a live handle.
extern "efiapi" fn close(this: *mut file::Protocol) -> Status {
    let r = with_file(this, "Close", |v, id| v.close(id));
    if r == Err(Status::INVALID_PARAMETER) {
        return Status::INVALID_PARAMETER;
    }
    drop_handle(this as *mut FileHandle);
    Status::SUCCESS
}

/// `Delete()` (section 13.5.4): closes the handle; `EFI_WARN_DELETE_FAILURE` when the file stays.
extern "efiapi" fn delete(this: *mut file::Protocol) -> Status {
    let r = with_file(this, "Delete", |v, id| v.delete(id));
    match r {
        Err(Status::INVALID_PARAMETER) => Status::INVALID_PARAMETER,
        Ok(()) => {
            drop_handle(this as *mut FileHandle);
            Status::SUCCESS
        }
        Err(_) => {
            // The volume closed the file already (or is gone): only our handle is left to drop.
            drop_handle(this as *mut FileHandle);
            Status::WARN_DELETE_FAILURE
        }
    }
}

fn do_read(this: *mut file::Protocol, size: *mut usize, buffer: *mut c_void) -> Result<(), Status> {
    if size.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: non-null IN/OUT UINTN.
    let len = unsafe { size.read_unaligned() };
    if buffer.is_null() && len != 0 {
        return Err(Status::INVALID_PARAMETER);
    }
    let buf: &mut [u8] = if len == 0 {
        &mut []
    } else {
        // SAFETY: the caller owns `len` bytes at `buffer` (Read contract).
        unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, len) }
    };
    let result = with_file(this, "Read", |v, id| match v.read(id, buf) {
        Err(FsError::BufferTooSmall(n)) => Ok(Err(n)),
        r => r.map(Ok),
    })?;
    let (n, status) = match result {
        Ok(n) => (n, Ok(())),
        Err(needed) => (needed, Err(Status::BUFFER_TOO_SMALL)),
    };
    // SAFETY: as above.
    unsafe { size.write_unaligned(n) };
    status
}

/// `Read()` (section 13.5.5).
extern "efiapi" fn read(
    this: *mut file::Protocol,
    size: *mut usize,
    buffer: *mut c_void,
) -> Status {
    status_of(do_read(this, size, buffer))
}

fn do_write(
    this: *mut file::Protocol,
    size: *mut usize,
    buffer: *mut c_void,
) -> Result<(), Status> {
    if size.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: non-null IN/OUT UINTN.
    let len = unsafe { size.read_unaligned() };
    if buffer.is_null() && len != 0 {
        return Err(Status::INVALID_PARAMETER);
    }
    let data: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the caller owns `len` readable bytes at `buffer` (Write contract).
        unsafe { core::slice::from_raw_parts(buffer as *const u8, len) }
    };
    let result = with_file(this, "Write", |v, id| {
        v.set_time(now());
        v.write(id, data)
    });
    // SAFETY: as above; nothing is written on failure.
    unsafe { size.write_unaligned(*result.as_ref().unwrap_or(&0)) };
    result.map(|_| ())
}

/// `Write()` (section 13.5.6).
extern "efiapi" fn write(
    this: *mut file::Protocol,
    size: *mut usize,
    buffer: *mut c_void,
) -> Status {
    status_of(do_write(this, size, buffer))
}

/// `GetPosition()` (section 13.5.8).
extern "efiapi" fn get_position(this: *mut file::Protocol, position: *mut u64) -> Status {
    if position.is_null() {
        return Status::INVALID_PARAMETER;
    }
    match with_file(this, "GetPosition", |v, id| v.get_position(id)) {
        Ok(p) => {
            // SAFETY: non-null OUT UINT64.
            unsafe { position.write_unaligned(p) };
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

/// `SetPosition()` (section 13.5.7).
extern "efiapi" fn set_position(this: *mut file::Protocol, position: u64) -> Status {
    status_of(with_file(this, "SetPosition", |v, id| {
        v.set_position(id, position)
    }))
}

fn info_kind(guid: *mut Guid) -> Result<InfoKind, Status> {
    if guid.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: non-null EFI_GUID pointer; copied.
    let g = unsafe { guid.read_unaligned() };
    if g == file::INFO_ID {
        Ok(InfoKind::File)
    } else if g == file::SYSTEM_INFO_ID {
        Ok(InfoKind::FileSystem)
    } else if g == file::SYSTEM_VOLUME_LABEL_ID {
        Ok(InfoKind::VolumeLabel)
    } else {
        Err(Status::UNSUPPORTED)
    }
}

fn do_get_info(
    this: *mut file::Protocol,
    guid: *mut Guid,
    size: *mut usize,
    buffer: *mut c_void,
) -> Result<(), Status> {
    let kind = info_kind(guid)?;
    if size.is_null() {
        return Err(Status::INVALID_PARAMETER);
    }
    // SAFETY: non-null IN/OUT UINTN.
    let len = unsafe { size.read_unaligned() };
    if buffer.is_null() && len != 0 {
        return Err(Status::INVALID_PARAMETER);
    }
    let buf: &mut [u8] = if len == 0 {
        &mut []
    } else {
        // SAFETY: the caller owns `len` bytes at `buffer` (GetInfo contract).
        unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, len) }
    };
    let result = with_file(this, "GetInfo", |v, id| match v.get_info(id, kind, buf) {
        Err(FsError::BufferTooSmall(n)) => Ok(Err(n)),
        r => r.map(Ok),
    })?;
    let (n, status) = match result {
        Ok(n) => (n, Ok(())),
        Err(needed) => (needed, Err(Status::BUFFER_TOO_SMALL)),
    };
    // SAFETY: as above.
    unsafe { size.write_unaligned(n) };
    status
}

/// `GetInfo()` (section 13.5.10).
extern "efiapi" fn get_info(
    this: *mut file::Protocol,
    guid: *mut Guid,
    size: *mut usize,
    buffer: *mut c_void,
) -> Status {
    status_of(do_get_info(this, guid, size, buffer))
}

/// `SetInfo()` (section 13.5.11).
extern "efiapi" fn set_info(
    this: *mut file::Protocol,
    guid: *mut Guid,
    size: usize,
    buffer: *mut c_void,
) -> Status {
    let kind = match info_kind(guid) {
        Ok(k) => k,
        Err(e) => return e,
    };
    if buffer.is_null() || size == 0 {
        return Status::BAD_BUFFER_SIZE;
    }
    // SAFETY: the caller owns `size` readable bytes at `buffer` (SetInfo contract).
    let data = unsafe { core::slice::from_raw_parts(buffer as *const u8, size) };
    status_of(with_file(this, "SetInfo", |v, id| {
        v.set_time(now());
        v.set_info(id, kind, data)
    }))
}

/// `Flush()` (section 13.5.12).
extern "efiapi" fn flush(this: *mut file::Protocol) -> Status {
    status_of(with_file(this, "Flush", |v, id| v.flush(id)))
}

/// Completes an `Ex` request: with a token event, stores `status` in the token, signals the event and returns
/// `EFI_SUCCESS`; without one, returns `status`.
fn complete(token: *mut file::IoToken, status: Status) -> Status {
    // SAFETY: `token` was checked non-null by the caller; the caller owns it until the event is signalled.
    let event = unsafe { (*token).event };
    if event.is_null() {
        return status;
    }
    // SAFETY: as above.
    unsafe { (*token).status = status };
    if let Err(e) = events().signal_event(EventId::from_event(event)) {
        log::error!(target: LOG, "file token event could not be signalled: {e:?}");
        return Status::INVALID_PARAMETER;
    }
    Status::SUCCESS
}

/// `OpenEx()` (section 13.5.13).
extern "efiapi" fn open_ex(
    this: *mut file::Protocol,
    new: *mut *mut file::Protocol,
    name: *mut u16,
    mode: u64,
    attributes: u64,
    token: *mut file::IoToken,
) -> Status {
    if token.is_null() {
        return Status::INVALID_PARAMETER;
    }
    complete(token, status_of(do_open(this, new, name, mode, attributes)))
}

/// `ReadEx()` (section 13.5.14): `Token->BufferSize` and `Token->Buffer` as Read's arguments.
extern "efiapi" fn read_ex(this: *mut file::Protocol, token: *mut file::IoToken) -> Status {
    if token.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-null token owned by the caller; its buffer fields are Read's arguments.
    let status = unsafe {
        do_read(
            this,
            core::ptr::addr_of_mut!((*token).buffer_size),
            (*token).buffer,
        )
    };
    complete(token, status_of(status))
}

/// `WriteEx()` (section 13.5.15).
extern "efiapi" fn write_ex(this: *mut file::Protocol, token: *mut file::IoToken) -> Status {
    if token.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: as for ReadEx.
    let status = unsafe {
        do_write(
            this,
            core::ptr::addr_of_mut!((*token).buffer_size),
            (*token).buffer,
        )
    };
    complete(token, status_of(status))
}

/// `FlushEx()` (section 13.5.16).
extern "efiapi" fn flush_ex(this: *mut file::Protocol, token: *mut file::IoToken) -> Status {
    if token.is_null() {
        return Status::INVALID_PARAMETER;
    }
    complete(token, flush(this))
}

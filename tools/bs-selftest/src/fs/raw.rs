//! Thin, allocation-free wrappers for the fs checks: handle lists by protocol, device path nodes, UCS-2 names and
//! an `EFI_FILE_PROTOCOL` handle that closes itself.

use core::ffi::c_void;
use core::fmt::Write as _;
use core::ptr;

use uefi_raw::protocol::file_system::{FileAttribute, FileMode, FileProtocolV1};
use uefi_raw::{guid, Guid, Handle, Status};

use crate::boot_services;
use crate::memory::free_pool;
use crate::protocols::handle_protocol;
use crate::report::Detail;

/// `EFI_PARTITION_INFO_PROTOCOL_GUID` (UEFI 2.10 section 13.18).
pub const PARTITION_INFO_GUID: Guid = guid!("8cf2f62c-bc9b-4821-808d-ec9ec421a1a0");
/// `EFI_PART_TYPE_EFI_SYSTEM_PART_GUID`: tags an ESP handle (NULL interface).
pub const ESP_TAG_GUID: Guid = guid!("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
/// The Device Path protocol.
pub const DEVICE_PATH_GUID: Guid = guid!("09576e91-6d3f-11d2-8e39-00a0c969723b");
/// LocateHandleBuffer `ByProtocol`.
const BY_PROTOCOL: i32 = 2;

/// A LocateHandleBuffer result, freed on drop (empty when none has the protocol).
pub struct HandleList {
    buffer: *mut Handle,
    count: usize,
}

impl HandleList {
    /// Every handle with `guid`.
    pub fn by_protocol(guid: &Guid) -> Result<HandleList, Detail> {
        let (mut count, mut buffer) = (0usize, ptr::null_mut::<Handle>());
        // SAFETY: valid out-pointers; ByProtocol takes no key.
        let status = unsafe {
            (boot_services().locate_handle_buffer)(
                BY_PROTOCOL,
                guid,
                ptr::null(),
                &mut count,
                &mut buffer,
            )
        };
        match status {
            Status::SUCCESS if !buffer.is_null() => Ok(HandleList { buffer, count }),
            Status::NOT_FOUND => Ok(HandleList {
                buffer: ptr::null_mut(),
                count: 0,
            }),
            s => fail!("LocateHandleBuffer({guid}) returned {s:?}"),
        }
    }

    /// The handles.
    pub fn iter(&self) -> impl Iterator<Item = Handle> + '_ {
        let all: &[Handle] = if self.buffer.is_null() {
            &[]
        } else {
            // SAFETY: the firmware returned `count` handles in this pool buffer, alive until drop.
            unsafe { core::slice::from_raw_parts(self.buffer, self.count) }
        };
        all.iter().copied()
    }
}

impl Drop for HandleList {
    fn drop(&mut self) {
        if !self.buffer.is_null() {
            let _ = free_pool(self.buffer.cast());
        }
    }
}

/// ConnectController(handle, NULL, NULL, recursive) on every handle, so every driver had its chance (OVMF may
/// connect lazily).
pub fn connect_all() {
    let Ok(all) = HandleList::by_protocol(&DEVICE_PATH_GUID) else {
        return;
    };
    for h in all.iter() {
        // SAFETY: plain call on a handle the firmware gave us.
        let _ = unsafe {
            (boot_services().connect_controller)(h, ptr::null(), ptr::null(), true.into())
        };
    }
}

/// The bytes of `handle`'s device path through its end node (at most 64 nodes).
pub fn path_bytes(handle: Handle) -> Option<&'static [u8]> {
    let path = handle_protocol(handle, &DEVICE_PATH_GUID)
        .ok()?
        .cast::<u8>();
    let mut at = 0usize;
    for _ in 0..64 {
        // SAFETY: device path nodes are walked by their 4-byte headers up to the end node (bounded).
        let header = unsafe { core::slice::from_raw_parts(path.add(at), 4) };
        let len = u16::from_le_bytes([header[2], header[3]]) as usize;
        if len < 4 {
            return None;
        }
        at += len;
        if header[0] == 0x7f {
            // SAFETY: the walk above covered `at` bytes; the firmware keeps the path while the handle lives.
            return Some(unsafe { core::slice::from_raw_parts(path, at) });
        }
    }
    None
}

/// The last node before the end of `handle`'s device path: (type, subtype, bytes of the node).
pub fn last_node(handle: Handle) -> Option<(u8, u8, &'static [u8])> {
    let path = handle_protocol(handle, &DEVICE_PATH_GUID)
        .ok()?
        .cast::<u8>();
    let mut at = 0usize;
    let mut last = None;
    for _ in 0..64 {
        // SAFETY: device path nodes are walked by their 4-byte headers up to the end node (bounded).
        let header = unsafe { core::slice::from_raw_parts(path.add(at), 4) };
        let len = u16::from_le_bytes([header[2], header[3]]) as usize;
        if header[0] == 0x7f || len < 4 {
            break;
        }
        // SAFETY: the node is `len` bytes long; the firmware keeps the path while the handle lives.
        last = Some((header[0], header[1], unsafe {
            core::slice::from_raw_parts(path.add(at), len)
        }));
        at += len;
    }
    last
}

/// A NUL-terminated UCS-2 copy of an ASCII/BMP string (at most 127 units).
pub struct Ucs2 {
    units: [u16; 128],
}

impl Ucs2 {
    /// Encodes `s`, truncated to 127 units.
    pub fn new(s: &str) -> Ucs2 {
        let mut units = [0u16; 128];
        for (slot, u) in units[..127].iter_mut().zip(s.encode_utf16()) {
            *slot = u;
        }
        Ucs2 { units }
    }

    /// Pointer to the first unit.
    pub fn as_ptr(&self) -> *const u16 {
        self.units.as_ptr()
    }
}

/// Compares UCS-2 `units` (up to a NUL) with `s`, ignoring ASCII case.
pub fn ucs2_eq_ignore_case(units: &[u16], s: &str) -> bool {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    let lower = |u: u16| {
        if (u16::from(b'A')..=u16::from(b'Z')).contains(&u) {
            u + 32
        } else {
            u
        }
    };
    units[..end].len() == s.encode_utf16().count()
        && units[..end]
            .iter()
            .zip(s.encode_utf16())
            .all(|(&a, b)| lower(a) == lower(b))
}

/// An open `EFI_FILE_PROTOCOL` handle; closed on drop.
pub struct File(pub *mut FileProtocolV1);

impl File {
    /// Open(`path`, `mode`, `attributes`) relative to this file.
    pub fn open(&self, path: &str, mode: u64, attributes: u64) -> Result<File, Status> {
        let name = Ucs2::new(path);
        let mut new = ptr::null_mut();
        // SAFETY: `self.0` is a live file handle; `name` is NUL-terminated; `new` is a valid out-pointer.
        let status = unsafe {
            ((*self.0).open)(
                self.0,
                &mut new,
                name.as_ptr(),
                FileMode::from_bits_retain(mode),
                FileAttribute::from_bits_retain(attributes),
            )
        };
        if status == Status::SUCCESS && !new.is_null() {
            Ok(File(new))
        } else if status == Status::SUCCESS {
            Err(Status::ABORTED)
        } else {
            Err(status)
        }
    }

    /// Read(): the status and the size the firmware wrote back.
    pub fn read_raw(&self, buf: &mut [u8]) -> (Status, usize) {
        let mut size = buf.len();
        let ptr = if buf.is_empty() {
            ptr::null_mut()
        } else {
            buf.as_mut_ptr()
        };
        // SAFETY: `size` bytes at `ptr` are ours.
        let status = unsafe { ((*self.0).read)(self.0, &mut size, ptr.cast()) };
        (status, size)
    }

    /// Read(): bytes read.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Status> {
        match self.read_raw(buf) {
            (Status::SUCCESS, n) => Ok(n),
            (s, _) => Err(s),
        }
    }

    /// Write(): bytes written.
    pub fn write(&self, data: &[u8]) -> Result<usize, Status> {
        let mut size = data.len();
        // SAFETY: `size` readable bytes at `data`.
        let status = unsafe { ((*self.0).write)(self.0, &mut size, data.as_ptr().cast()) };
        if status == Status::SUCCESS {
            Ok(size)
        } else {
            Err(status)
        }
    }

    /// GetPosition().
    pub fn position(&self) -> Result<u64, Status> {
        let mut p = 0u64;
        // SAFETY: valid out-pointer.
        let status = unsafe { ((*self.0).get_position)(self.0, &mut p) };
        if status == Status::SUCCESS {
            Ok(p)
        } else {
            Err(status)
        }
    }

    /// SetPosition().
    pub fn set_position(&self, p: u64) -> Status {
        // SAFETY: plain call on a live handle.
        unsafe { ((*self.0).set_position)(self.0, p) }
    }

    /// GetInfo(`guid`) into `buf`: the status and the size written back.
    pub fn get_info(&self, guid: &Guid, buf: &mut [u8]) -> (Status, usize) {
        let mut size = buf.len();
        let ptr = if buf.is_empty() {
            ptr::null_mut()
        } else {
            buf.as_mut_ptr()
        };
        // SAFETY: `size` bytes at `ptr` are ours.
        let status = unsafe { ((*self.0).get_info)(self.0, guid, &mut size, ptr.cast::<c_void>()) };
        (status, size)
    }

    /// SetInfo(`guid`) with the bytes `data`.
    pub fn set_info(&self, guid: &Guid, data: &[u8]) -> Status {
        // SAFETY: `data.len()` readable bytes at `data`.
        unsafe { ((*self.0).set_info)(self.0, guid, data.len(), data.as_ptr().cast()) }
    }

    /// Delete(): the handle is closed by the call.
    pub fn delete(self) -> Status {
        let this = self.0;
        core::mem::forget(self);
        // SAFETY: a live handle; Delete closes it, so it is not closed again.
        unsafe { ((*this).delete)(this) }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: a live handle, closed once.
        let _ = unsafe { ((*self.0).close)(self.0) };
    }
}

/// `u64` at byte `o` of `b`.
pub fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// `u32` at byte `o` of `b`.
pub fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// The UCS-2 units of `b` from byte `o` (the name fields of the info structures), up to 64 units.
pub fn units_at(b: &[u8], o: usize, out: &mut [u16; 64]) -> usize {
    let mut n = 0;
    while n < 64 && o + 2 * n + 1 < b.len() {
        out[n] = u16::from_le_bytes([b[o + 2 * n], b[o + 2 * n + 1]]);
        if out[n] == 0 {
            break;
        }
        n += 1;
    }
    n
}

/// Displays UCS-2 units up to a NUL (invalid units as U+FFFD), for failure details.
pub struct Units<'a>(pub &'a [u16]);

impl core::fmt::Display for Units<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let units = self.0.iter().copied().take_while(|&u| u != 0);
        for c in char::decode_utf16(units) {
            f.write_char(c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
        }
        Ok(())
    }
}

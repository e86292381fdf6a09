//! The disks of the `blockio` checks: finding a disk's Block I/O instance on its PCI handle, calling it, pool
//! buffers, the load options, and comparing bytes with the disk pattern (`spec`).

use core::ptr;

use uefi_raw::protocol::block::{BlockIoMedia, BlockIoProtocol};
use uefi_raw::protocol::loaded_image::LoadedImageProtocol;
use uefi_raw::{Handle, Status};

use super::spec::{self, DiskSpec, Disks};
use crate::memory::{alloc_pool, free_pool};
use crate::pci::protocol::{Function, Handles, DEVICE_PATH_GUID, PNP0A03};
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome};
use crate::{boot_services, expect_status, image_handle};

/// `LocateHandleBuffer` search type `ByProtocol`.
const BY_PROTOCOL: i32 = 2;

/// A pool buffer freed on drop.
pub struct Pool {
    /// Start of the buffer.
    pub ptr: *mut u8,
    len: usize,
}

impl Pool {
    /// Allocates `len` bytes.
    pub fn new(len: usize) -> Result<Pool, Detail> {
        Ok(Pool {
            ptr: alloc_pool(len)?,
            len,
        })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes of pool memory owned by this value.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, exclusively.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = free_pool(self.ptr);
    }
}

/// A described disk and its Block I/O instance.
pub struct Disk {
    /// What the runner said about it.
    pub spec: DiskSpec,
    /// Its (PCI function's) handle.
    pub handle: Handle,
    /// Its Block I/O instance.
    pub io: *mut BlockIoProtocol,
}

impl Disk {
    pub fn media(&self) -> BlockIoMedia {
        // SAFETY: `io` is an installed Block I/O protocol whose `Media` pointer stays valid while installed.
        unsafe { *(*self.io).media }
    }

    pub fn read(&self, lba: u64, len: usize, buffer: *mut u8) -> Status {
        self.read_with(self.media().media_id, lba, len, buffer)
    }

    pub fn read_with(&self, media_id: u32, lba: u64, len: usize, buffer: *mut u8) -> Status {
        // SAFETY: `buffer` holds `len` bytes (or is deliberately NULL/odd in the refusal checks, which the
        // firmware must reject or handle); `io` is installed.
        unsafe { ((*self.io).read_blocks)(self.io, media_id, lba, len, buffer.cast()) }
    }

    pub fn write(&self, lba: u64, len: usize, buffer: *const u8) -> Status {
        // SAFETY: as in `read_with`.
        unsafe {
            ((*self.io).write_blocks)(self.io, self.media().media_id, lba, len, buffer.cast())
        }
    }

    /// Reads `len` bytes from `lba` into a fresh buffer and compares them with the disk's pattern.
    pub fn expect_pattern(&self, lba: u64, len: usize, tag: u8) -> Outcome {
        let mut buffer = Pool::new(len)?;
        buffer.bytes_mut().fill(0x5a);
        expect_status(
            "ReadBlocks",
            self.read(lba, len, buffer.ptr),
            Status::SUCCESS,
        )?;
        compare(tag, lba, buffer.bytes())
    }
}

/// `Ok` when `bytes` (whole sectors from `lba`) carry the pattern of `tag`, else the first difference.
pub fn compare(tag: u8, lba: u64, bytes: &[u8]) -> Outcome {
    match spec::first_mismatch(tag, lba, bytes) {
        None => Ok(()),
        Some((sector, index, found)) => fail!(
            "sector {sector} word {index} is {found:#018x}, want {:#018x}",
            spec::pattern_word(tag, sector, index)
        ),
    }
}

/// The load options as ASCII (non-ASCII units become `?`), at most 256 bytes, or `None` without options.
pub fn load_options(buffer: &mut [u8; 256]) -> Option<&str> {
    let image = handle_protocol(image_handle(), &LoadedImageProtocol::GUID).ok()?;
    // SAFETY: the firmware returned our Loaded Image protocol.
    let image = unsafe { &*image.cast::<LoadedImageProtocol>() };
    if image.load_options.is_null() {
        return None;
    }
    // SAFETY: the load options are `load_options_size` bytes of UCS-2.
    let units = unsafe {
        core::slice::from_raw_parts(
            image.load_options.cast::<u16>(),
            image.load_options_size as usize / 2,
        )
    };
    let mut len = 0;
    for (slot, &unit) in buffer.iter_mut().zip(units.iter().take_while(|&&u| u != 0)) {
        *slot = if unit < 0x80 { unit as u8 } else { b'?' };
        len += 1;
    }
    core::str::from_utf8(&buffer[..len]).ok()
}

/// `(device, function)` when `path` is exactly `PciRoot(PNP0A03)/Pci(D,F)/End`.
fn root_pci_location(handle: Handle) -> Option<(u8, u8)> {
    let path = handle_protocol(handle, &DEVICE_PATH_GUID)
        .ok()?
        .cast::<u8>();
    // SAFETY: a device path starts with a 4-byte node header; the ACPI node is 12 bytes, a PCI node 6, the end
    // node 4; each header is checked before the bytes it announces are read.
    unsafe {
        let acpi = core::slice::from_raw_parts(path, 4);
        if acpi != [2, 1, 12, 0] || path.add(4).cast::<u32>().read_unaligned() != PNP0A03 {
            return None;
        }
        let pci = core::slice::from_raw_parts(path.add(12), 4);
        if pci != [1, 1, 6, 0] {
            return None;
        }
        let (function, device) = (path.add(16).read(), path.add(17).read());
        let end = core::slice::from_raw_parts(path.add(18), 4);
        (end == [0x7f, 0xff, 4, 0]).then_some((device, function))
    }
}

/// ConnectController(recursive) on the PCI functions of the described disks (a firmware that connects only
/// boot devices may not have started their drivers; one that did answers NOT_FOUND, which is fine).
pub fn connect(disks: &Disks) -> Outcome {
    let handles = Handles::locate()?;
    for handle in handles.iter() {
        let f = Function::open(handle)?;
        if f.bus == 0
            && disks
                .iter()
                .any(|d| (d.device, d.function) == (f.device, f.function))
        {
            // SAFETY: plain call; NULL driver list and remaining path are allowed.
            let _ = unsafe {
                (boot_services().connect_controller)(
                    handle,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    true.into(),
                )
            };
        }
    }
    Ok(())
}

/// The Block I/O instance of `spec` (module notes: on the PCI handle itself).
pub fn find(spec: &DiskSpec) -> Result<Disk, Detail> {
    let (mut count, mut buffer) = (0usize, ptr::null_mut::<Handle>());
    // SAFETY: valid out-pointers; ByProtocol takes no search key.
    let status = unsafe {
        (boot_services().locate_handle_buffer)(
            BY_PROTOCOL,
            &BlockIoProtocol::GUID,
            ptr::null(),
            &mut count,
            &mut buffer,
        )
    };
    expect_status("LocateHandleBuffer(Block I/O)", status, Status::SUCCESS)?;
    // SAFETY: the firmware returned `count` handles in a pool buffer, freed below.
    let handles = unsafe { core::slice::from_raw_parts(buffer, count) };
    let found = handles
        .iter()
        .copied()
        .find(|&h| root_pci_location(h) == Some((spec.device, spec.function)));
    let _ = free_pool(buffer.cast());
    let Some(handle) = found else {
        return fail!(
            "no Block I/O handle with device path PciRoot(0x0)/Pci({:#x},{:#x})",
            spec.device,
            spec.function
        );
    };
    let io = handle_protocol(handle, &BlockIoProtocol::GUID)
        .map_err(|s| Detail::new(format_args!("HandleProtocol(Block I/O) returned {s:?}")))?;
    Ok(Disk {
        spec: *spec,
        handle,
        io: io.cast(),
    })
}

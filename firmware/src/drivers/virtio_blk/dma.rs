//! The driver's DMA memory: one common buffer per device for the request queue and the request area
//! (`AllocateBuffer` + `Map(BusMasterCommonBuffer)`, UEFI 2.10 section 14.4), and [`DmaWindow`], the
//! `virtio::queue::QueueMemory` over a part of it.
//!
//! Layout of the common buffer: pages `0..QUEUE_PAGES` hold the split virtqueue (sized for the largest queue the
//! driver accepts: a modern queue of up to 256 entries or a legacy one of up to 1024), the last page the request
//! header and status byte. Both parts are page-aligned, which the legacy queue layout needs (4096) and is more
//! than the modern one (16) and the request header (8) need.
//!
//! Accesses are volatile: the device reads and writes this memory behind the compiler's back. Ordering between
//! them is the virtqueue's business (its fences, see `virtio::queue::split`).

use core::ffi::c_void;

use r_efi::efi::Status;
use r_efi::protocols::pci_io;
use virtio::queue::QueueMemory;

use super::pci::PciIo;

/// Pages of the virtqueue part.
pub const QUEUE_PAGES: usize = 8;
/// Pages of the request area.
pub const REQUEST_PAGES: usize = 1;
const PAGE: usize = 4096;

/// A mapped common buffer of `pages` pages, owned by one controller.
pub struct CommonBuffer {
    pci: PciIo,
    host: *mut u8,
    device: u64,
    pages: usize,
    mapping: *mut c_void,
}

impl CommonBuffer {
    /// Allocates and maps the buffer (dual address cycle asks for memory anywhere, else below 4 GiB).
    ///
    /// Errors: the statuses of AllocateBuffer and Map; `OUT_OF_RESOURCES` when Map covered less than the buffer
    /// (a common buffer must be mapped whole). Nothing stays allocated on error.
    pub fn new(pci: PciIo, dual_address_cycle: bool) -> Result<Self, Status> {
        let pages = QUEUE_PAGES + REQUEST_PAGES;
        let attributes = if dual_address_cycle {
            pci_io::ATTRIBUTE_DUAL_ADDRESS_CYCLE
        } else {
            0
        };
        let host = pci.allocate_buffer(pages, attributes)?;
        let mapped = pci.map(
            pci_io::OPERATION_BUS_MASTER_COMMON_BUFFER,
            host as u64,
            pages * PAGE,
        );
        match mapped {
            Ok((device, len, mapping)) if len == pages * PAGE => Ok(Self {
                pci,
                host,
                device,
                pages,
                mapping,
            }),
            other => {
                if let Ok((_, _, mapping)) = other {
                    let _ = pci.unmap(mapping);
                }
                let _ = pci.free_buffer(pages, host);
                Err(other.err().unwrap_or(Status::OUT_OF_RESOURCES))
            }
        }
    }

    /// The virtqueue part.
    pub fn queue_window(&self) -> DmaWindow {
        self.window(0, QUEUE_PAGES * PAGE)
    }

    /// The request-area part.
    pub fn request_window(&self) -> DmaWindow {
        self.window(QUEUE_PAGES * PAGE, REQUEST_PAGES * PAGE)
    }

    fn window(&self, offset: usize, len: usize) -> DmaWindow {
        DmaWindow {
            // SAFETY: `offset + len` lies inside the `pages * PAGE` bytes allocated.
            host: unsafe { self.host.add(offset) },
            device: self.device + offset as u64,
            len,
        }
    }

    /// Unmaps and frees the buffer. Only call it once the device is reset (it no longer uses the memory).
    pub fn release(self) {
        if let Err(status) = self.pci.unmap(self.mapping) {
            log::error!(target: super::LOG, "Unmap of the queue buffer failed: {status:?}");
        }
        if let Err(status) = self.pci.free_buffer(self.pages, self.host) {
            log::error!(target: super::LOG, "FreeBuffer of the queue buffer failed: {status:?}");
        }
    }
}

/// `len` bytes of a common buffer: host pointer for the CPU, `device` address for the device.
pub struct DmaWindow {
    host: *mut u8,
    device: u64,
    len: usize,
}

impl DmaWindow {
    fn at<T>(&self, offset: usize) -> *mut T {
        debug_assert!(offset + core::mem::size_of::<T>() <= self.len);
        // SAFETY: the queue only accesses offsets inside `len` aligned to the width (QueueMemory contract), and
        // the window lies inside its buffer.
        unsafe { self.host.add(offset).cast() }
    }
}

impl QueueMemory for DmaWindow {
    fn base_address(&self) -> u64 {
        self.device
    }
    fn len(&self) -> usize {
        self.len
    }
    fn read8(&self, offset: usize) -> u8 {
        // SAFETY: `at` gives an in-bounds pointer into mapped, identity-addressed memory (see `at`).
        unsafe { self.at::<u8>(offset).read_volatile() }
    }
    fn read16(&self, offset: usize) -> u16 {
        // SAFETY: as in `read8`; the offset is 2-aligned in a page-aligned window.
        unsafe { self.at::<u16>(offset).read_volatile() }
    }
    fn read32(&self, offset: usize) -> u32 {
        // SAFETY: as in `read8`; 4-aligned.
        unsafe { self.at::<u32>(offset).read_volatile() }
    }
    fn write8(&mut self, offset: usize, value: u8) {
        // SAFETY: as in `read8`.
        unsafe { self.at::<u8>(offset).write_volatile(value) }
    }
    fn write16(&mut self, offset: usize, value: u16) {
        // SAFETY: as in `read16`.
        unsafe { self.at::<u16>(offset).write_volatile(value) }
    }
    fn write32(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read32`.
        unsafe { self.at::<u32>(offset).write_volatile(value) }
    }
    fn write64(&mut self, offset: usize, value: u64) {
        // SAFETY: as in `read8`; 8-aligned.
        unsafe { self.at::<u64>(offset).write_volatile(value) }
    }
}

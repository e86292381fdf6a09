//! Split virtqueues (virtio 1.2 §2.7), driver side.
//!
//! - [`layout`]: where the descriptor table, available ring and used ring sit in the queue memory, for the modern
//!   and the legacy interface, and which queue sizes are valid.
//! - [`split`]: [`SplitQueue`], the driver's queue: free-descriptor list, chain building, publication and
//!   reclamation of used chains.
//!
//! The queue lives in memory the caller provides through [`QueueMemory`] (the firmware: DMA common-buffer pages
//! mapped for the device; tests: [`crate::mock::SharedMemory`]). All multi-byte values in it are little-endian
//! (modern: §2.4; legacy: guest-native, which is little-endian on x86).
//!
//! Typical use: read [`crate::Transport::max_queue_size`], pick a size with [`choose_size`], allocate
//! [`Layout::new`]`(..).total_len` bytes, build the [`SplitQueue`], then [`activate`] it inside the
//! `setup_queues` callback of [`crate::status::initialize`].

pub mod layout;
pub mod split;

pub use layout::Layout;
pub use split::SplitQueue;

use core::sync::atomic::Ordering;

use crate::transport::{Transport, TransportKind};
use crate::Error;

/// Memory holding one split virtqueue, shared with the device.
///
/// Offsets are bytes from the start of the region; values are little-endian. The queue only accesses offsets it
/// has checked against [`QueueMemory::len`] and aligned to the access width. Implementations over real DMA memory
/// must use volatile accesses.
pub trait QueueMemory {
    /// Address of offset 0 as the device sees it (bus/physical address, or IOMMU address with
    /// `VIRTIO_F_ACCESS_PLATFORM`).
    fn base_address(&self) -> u64;
    /// Size of the region in bytes.
    fn len(&self) -> usize;
    /// Whether the region is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads the byte at `offset`.
    fn read8(&self, offset: usize) -> u8;
    /// Reads the 16-bit value at `offset`.
    fn read16(&self, offset: usize) -> u16;
    /// Reads the 32-bit value at `offset`.
    fn read32(&self, offset: usize) -> u32;
    /// Writes the byte at `offset`.
    fn write8(&mut self, offset: usize, value: u8);
    /// Writes the 16-bit value at `offset`.
    fn write16(&mut self, offset: usize, value: u16);
    /// Writes the 32-bit value at `offset`.
    fn write32(&mut self, offset: usize, value: u32);
    /// Writes the 64-bit value at `offset`.
    fn write64(&mut self, offset: usize, value: u64);
    /// A memory barrier of the given ordering between the queue's accesses (§2.7.13, §2.7.14). The default is
    /// `core::sync::atomic::fence`, right for cache-coherent DMA; overriders must keep at least that strength.
    fn fence(&mut self, order: Ordering) {
        core::sync::atomic::fence(order);
    }
}

/// One buffer of a descriptor chain: `len` bytes at device address `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Device-visible address of the buffer.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
    /// `true` when the device writes the buffer (`VIRTQ_DESC_F_WRITE`), `false` when it reads it.
    pub device_writes: bool,
}

impl Buffer {
    /// A buffer the device reads (request header, data to write to a disk).
    pub const fn readable(addr: u64, len: u32) -> Self {
        Self {
            addr,
            len,
            device_writes: false,
        }
    }

    /// A buffer the device writes (data read from a disk, status byte).
    pub const fn writable(addr: u64, len: u32) -> Self {
        Self {
            addr,
            len,
            device_writes: true,
        }
    }
}

/// A chain returned by the device: its head descriptor index and the number of bytes the device wrote into its
/// device-writable buffers (`virtq_used_elem`, §2.7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedElement {
    /// Head descriptor index, as returned by [`SplitQueue::add_chain`].
    pub head: u16,
    /// Bytes written by the device.
    pub len: u32,
}

/// Picks the queue size to use: on the modern interface the largest power of two not above `wanted` and
/// `device_max`; on the legacy interface `device_max` itself, which is the only size it allows.
///
/// Errors: [`Error::InvalidQueueSize`] (with `size = wanted`) when `device_max` or `wanted` is 0 (the queue does
/// not exist) or a legacy `device_max` is not a power of two up to 32768.
pub fn choose_size(kind: TransportKind, device_max: u16, wanted: u16) -> Result<u16, Error> {
    let invalid = Error::InvalidQueueSize {
        size: wanted,
        max: device_max,
    };
    let size = match kind {
        TransportKind::Legacy => device_max,
        TransportKind::Modern => {
            let limit = wanted.min(device_max).min(layout::MAX_QUEUE_SIZE);
            if limit == 0 {
                return Err(invalid);
            }
            1 << (15 - limit.leading_zeros().min(15))
        }
    };
    layout::check_size(size, device_max).map_err(|_| invalid)?;
    Ok(size)
}

/// Programs `queue` into the device as virtqueue `index` and enables it (§3.1.1 step 7, §4.1.5.1.3).
///
/// Errors: [`Error::TransportKindMismatch`], [`Error::QueueUnavailable`] (device max is 0),
/// [`Error::InvalidQueueSize`] (queue larger than the device max), [`Error::LegacyQueueSizeMismatch`], and the
/// errors of [`Transport::set_queue`] / [`Transport::enable_queue`].
pub fn activate<T, M>(transport: &mut T, index: u16, queue: &SplitQueue<M>) -> Result<(), Error>
where
    T: Transport + ?Sized,
    M: QueueMemory,
{
    let kind = transport.kind();
    if kind != queue.layout().kind {
        return Err(Error::TransportKindMismatch);
    }
    let max = transport.max_queue_size(index);
    if max == 0 {
        return Err(Error::QueueUnavailable { queue: index });
    }
    let size = queue.size();
    match kind {
        TransportKind::Legacy if size != max => {
            return Err(Error::LegacyQueueSizeMismatch { size, device: max });
        }
        TransportKind::Modern if size > max => return Err(Error::InvalidQueueSize { size, max }),
        _ => {}
    }
    transport.set_queue(index, size, queue.addresses())?;
    transport.enable_queue(index)?;
    log::debug!("queue {index}: {size} entries at {:#x?}", queue.addresses());
    Ok(())
}

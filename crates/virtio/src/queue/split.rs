//! The driver's split virtqueue (virtio 1.2 §2.7).
//!
//! # Invariants
//!
//! - **Free list.** `next` is the driver's private copy of every descriptor's `next` field; the free descriptors
//!   form one list through it starting at `free_head`, `num_free` long. Allocating a chain pops consecutive list
//!   entries, so the popped descriptors are already linked to each other through `next`; freeing a chain links its
//!   tail to the old head and makes its head the new list head. Every descriptor is either on the free list or in
//!   exactly one in-flight chain: `num_free + sum(chain lengths) == size`.
//! - **In-flight heads.** `in_flight[head]` is `Some` exactly for heads published and not yet returned; it
//!   records the chain's tail, length and total device-writable bytes, which is all reclamation and validation of
//!   a used entry needs. The driver never reads the descriptor table back (the device could have changed it).
//! - **Ordering.** Publication (§2.7.13) writes the descriptors and the ring entry, then a release fence, then
//!   `avail.idx`. Reclamation (§2.7.14) reads `used.idx`, then an acquire fence, then the used entry.
//! - **Indices.** `avail.idx` and `used.idx` are free-running `u16`s; ring slots are `idx % size`.
//!
//! The queue sets `VIRTQ_AVAIL_F_NO_INTERRUPT`: vmfw drivers poll the used ring.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::{Buffer, Layout, QueueMemory, UsedElement};
use crate::transport::{QueueAddresses, TransportKind};
use crate::Error;

/// `VIRTQ_DESC_F_NEXT`: the descriptor continues via `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// `VIRTQ_DESC_F_WRITE`: the buffer is device-writable.
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// `VIRTQ_DESC_F_INDIRECT`: the buffer is an indirect descriptor table (never used by this queue).
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// `VIRTQ_AVAIL_F_NO_INTERRUPT`: the driver does not want used-buffer interrupts.
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// `VIRTQ_USED_F_NO_NOTIFY`: the device does not want available-buffer notifications.
pub const VIRTQ_USED_F_NO_NOTIFY: u16 = 1;

#[derive(Debug, Clone, Copy)]
struct Chain {
    tail: u16,
    count: u16,
    writable: u32,
}

/// A split virtqueue over the caller's memory `M`. See the module notes for its invariants.
pub struct SplitQueue<M: QueueMemory> {
    memory: M,
    layout: Layout,
    next: Vec<u16>,
    free_head: u16,
    num_free: u16,
    in_flight: Vec<Option<Chain>>,
    in_flight_count: u16,
    next_avail: u16,
    last_used: u16,
}

impl<M: QueueMemory> SplitQueue<M> {
    /// Builds a `size`-entry queue of `kind`'s layout in `memory`, zeroing the memory and putting every descriptor
    /// on the free list.
    ///
    /// Errors: [`Error::InvalidQueueSize`], [`Error::QueueMemoryTooSmall`], [`Error::QueueMemoryMisaligned`].
    pub fn new(memory: M, kind: TransportKind, size: u16) -> Result<Self, Error> {
        let layout = Layout::new(kind, size)?;
        if memory.len() < layout.total_len {
            return Err(Error::QueueMemoryTooSmall {
                needed: layout.total_len,
                available: memory.len(),
            });
        }
        let align = layout.base_align();
        if memory.base_address() & (align - 1) != 0 {
            return Err(Error::QueueMemoryMisaligned {
                address: memory.base_address(),
                align,
            });
        }
        let mut queue = Self {
            memory,
            layout,
            next: vec![0; usize::from(size)],
            free_head: 0,
            num_free: size,
            in_flight: vec![None; usize::from(size)],
            in_flight_count: 0,
            next_avail: 0,
            last_used: 0,
        };
        queue.reset();
        Ok(queue)
    }

    /// Returns the queue to its freshly built state: memory zeroed (with `VIRTQ_AVAIL_F_NO_INTERRUPT` set), every
    /// descriptor free, no chain in flight, both ring indices 0. Only call it while the device does not use the
    /// queue (after a device reset, §2.1.2), before activating it again.
    pub fn reset(&mut self) {
        // Every part's length is even (16 * size, 6 + 2 * size, 6 + 8 * size).
        for offset in (0..self.layout.total_len).step_by(2) {
            self.memory.write16(offset, 0);
        }
        self.memory
            .write16(self.layout.avail_offset, VIRTQ_AVAIL_F_NO_INTERRUPT);
        let size = self.layout.size;
        for (index, next) in self.next.iter_mut().enumerate() {
            *next = (index as u16 + 1) % size;
        }
        self.in_flight.fill(None);
        self.free_head = 0;
        self.num_free = size;
        self.in_flight_count = 0;
        self.next_avail = 0;
        self.last_used = 0;
    }

    /// Number of entries.
    pub fn size(&self) -> u16 {
        self.layout.size
    }

    /// The queue's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Descriptors currently free.
    pub fn num_free(&self) -> u16 {
        self.num_free
    }

    /// Chains published and not yet returned by the device.
    pub fn in_flight(&self) -> u16 {
        self.in_flight_count
    }

    /// Device addresses of the descriptor table, available ring and used ring.
    pub fn addresses(&self) -> QueueAddresses {
        let base = self.memory.base_address();
        QueueAddresses {
            desc: base,
            avail: base + self.layout.avail_offset as u64,
            used: base + self.layout.used_offset as u64,
        }
    }

    /// The queue memory.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// Builds one descriptor chain from `buffers` (device-readable ones first) and publishes it in the available
    /// ring (ring entry, release fence, `avail.idx`). The caller then notifies the device through its transport.
    /// Returns the chain's head descriptor index, which [`SplitQueue::poll_used`] reports when the device is done.
    ///
    /// Errors (nothing is changed): [`Error::EmptyChain`], [`Error::QueueFull`] (more buffers than free
    /// descriptors), [`Error::ReadableAfterWritable`], [`Error::ChainTooLong`].
    pub fn add_chain(&mut self, buffers: &[Buffer]) -> Result<u16, Error> {
        if buffers.is_empty() {
            return Err(Error::EmptyChain);
        }
        if buffers.len() > usize::from(self.num_free) {
            return Err(Error::QueueFull {
                needed: buffers.len(),
                free: self.num_free,
            });
        }
        let mut total: u64 = 0;
        let mut writable: u64 = 0;
        let mut seen_writable = false;
        for (index, buffer) in buffers.iter().enumerate() {
            if buffer.device_writes {
                seen_writable = true;
                writable += u64::from(buffer.len);
            } else if seen_writable {
                return Err(Error::ReadableAfterWritable { index });
            }
            total += u64::from(buffer.len);
        }
        let writable = u32::try_from(writable).map_err(|_| Error::ChainTooLong { total })?;
        if total > u64::from(u32::MAX) {
            return Err(Error::ChainTooLong { total });
        }

        let head = self.free_head;
        let mut index = head;
        for (position, buffer) in buffers.iter().enumerate() {
            let last = position + 1 == buffers.len();
            let mut flags = if last { 0 } else { VIRTQ_DESC_F_NEXT };
            if buffer.device_writes {
                flags |= VIRTQ_DESC_F_WRITE;
            }
            let next = self.next[usize::from(index)];
            let offset = self.layout.descriptor(index);
            self.memory.write64(offset, buffer.addr);
            self.memory.write32(offset + 8, buffer.len);
            self.memory.write16(offset + 12, flags);
            self.memory
                .write16(offset + 14, if last { 0 } else { next });
            if !last {
                index = next;
            }
        }
        let tail = index;
        let count = buffers.len() as u16;
        self.free_head = self.next[usize::from(tail)];
        self.num_free -= count;
        self.in_flight[usize::from(head)] = Some(Chain {
            tail,
            count,
            writable,
        });
        self.in_flight_count += 1;

        let slot = self.next_avail % self.layout.size;
        self.memory.write16(self.layout.avail_ring(slot), head);
        self.memory.fence(Ordering::Release);
        self.next_avail = self.next_avail.wrapping_add(1);
        self.memory
            .write16(self.layout.avail_idx(), self.next_avail);
        log::trace!("published chain head {head} ({count} descriptors)");
        Ok(head)
    }

    /// Whether the device currently wants a notification for new buffers (`VIRTQ_USED_F_NO_NOTIFY` clear in
    /// `used.flags`), read after a full fence that orders it behind the `avail.idx` write (§2.7.13.4).
    pub fn needs_notification(&mut self) -> bool {
        self.memory.fence(Ordering::SeqCst);
        self.memory.read16(self.layout.used_offset) & VIRTQ_USED_F_NO_NOTIFY == 0
    }

    /// Takes the next used-ring entry, if `used.idx` has moved: reads `used.idx`, fences (acquire), reads the
    /// entry, returns the chain's descriptors to the free list and reports its head and written length.
    ///
    /// Errors: [`Error::UsedIdxAhead`] (nothing consumed); [`Error::UsedIdNotInFlight`] (the entry is consumed,
    /// nothing freed); [`Error::UsedLenTooLarge`] (the entry is consumed and the chain freed). Any error means the
    /// device is misbehaving: the driver should reset it.
    pub fn poll_used(&mut self) -> Result<Option<UsedElement>, Error> {
        let used_idx = self.memory.read16(self.layout.used_idx());
        if used_idx == self.last_used {
            return Ok(None);
        }
        self.memory.fence(Ordering::Acquire);
        if used_idx.wrapping_sub(self.last_used) > self.in_flight_count {
            return Err(Error::UsedIdxAhead {
                used_idx,
                last_used: self.last_used,
                in_flight: self.in_flight_count,
            });
        }
        let entry = self.layout.used_ring(self.last_used % self.layout.size);
        let id = self.memory.read32(entry);
        let len = self.memory.read32(entry + 4);
        self.last_used = self.last_used.wrapping_add(1);

        let chain = usize::try_from(id)
            .ok()
            .and_then(|index| self.in_flight.get_mut(index))
            .and_then(Option::take)
            .ok_or(Error::UsedIdNotInFlight { id })?;
        let head = id as u16;
        self.next[usize::from(chain.tail)] = self.free_head;
        self.free_head = head;
        self.num_free += chain.count;
        self.in_flight_count -= 1;
        if len > chain.writable {
            return Err(Error::UsedLenTooLarge {
                head,
                len,
                writable: u64::from(chain.writable),
            });
        }
        Ok(Some(UsedElement { head, len }))
    }
}

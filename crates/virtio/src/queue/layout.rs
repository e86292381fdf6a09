//! Placement of a split virtqueue's parts in its memory (virtio 1.2 §2.7, §2.7.2, and "Legacy Interfaces: A Note
//! on Virtqueue Layout").
//!
//! For `size` entries: the descriptor table is `16 * size` bytes at offset 0; the available ring (`flags`, `idx`,
//! `ring[size]`, `used_event`: `6 + 2 * size` bytes) follows it directly; the used ring (`flags`, `idx`,
//! `ring[size]` of 8-byte `{id, len}`, `avail_event`: `6 + 8 * size` bytes) starts at the next multiple of 4
//! (modern) or 4096 (legacy). A legacy queue's total length is rounded to 4096 as well, and its base must be
//! 4096-aligned; a modern one's 16-aligned.

use crate::transport::TransportKind;
use crate::Error;

/// Largest split-queue size (§2.7: "The maximum Queue Size value is 32768").
pub const MAX_QUEUE_SIZE: u16 = 32768;
/// Size of one descriptor-table entry (`struct virtq_desc`).
pub const DESCRIPTOR_SIZE: usize = 16;
/// Alignment of the used ring and of the whole queue on the legacy interface.
pub const LEGACY_ALIGN: usize = 4096;

/// Offsets of a split virtqueue's parts inside its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Interface the layout is for.
    pub kind: TransportKind,
    /// Number of entries.
    pub size: u16,
    /// Offset of the available ring (the descriptor table is at 0).
    pub avail_offset: usize,
    /// Offset of the used ring.
    pub used_offset: usize,
    /// Bytes of memory the queue needs.
    pub total_len: usize,
}

impl Layout {
    /// Computes the layout of a `size`-entry queue for `kind`.
    ///
    /// Errors: [`Error::InvalidQueueSize`] (with `max` = 32768) when `size` is 0, not a power of two or above 32768.
    pub fn new(kind: TransportKind, size: u16) -> Result<Self, Error> {
        check_size(size, MAX_QUEUE_SIZE)?;
        let entries = usize::from(size);
        let avail_offset = DESCRIPTOR_SIZE * entries;
        let avail_end = avail_offset + 6 + 2 * entries;
        let used_len = 6 + 8 * entries;
        let (used_offset, total_len) = match kind {
            TransportKind::Modern => {
                let used_offset = avail_end.next_multiple_of(4);
                (used_offset, used_offset + used_len)
            }
            TransportKind::Legacy => {
                let used_offset = avail_end.next_multiple_of(LEGACY_ALIGN);
                (
                    used_offset,
                    used_offset + used_len.next_multiple_of(LEGACY_ALIGN),
                )
            }
        };
        Ok(Self {
            kind,
            size,
            avail_offset,
            used_offset,
            total_len,
        })
    }

    /// Required alignment of the queue memory's base address: 16 (modern descriptor table) or 4096 (legacy).
    pub fn base_align(&self) -> u64 {
        match self.kind {
            TransportKind::Modern => DESCRIPTOR_SIZE as u64,
            TransportKind::Legacy => LEGACY_ALIGN as u64,
        }
    }

    /// Offset of descriptor `index`.
    pub fn descriptor(&self, index: u16) -> usize {
        DESCRIPTOR_SIZE * usize::from(index)
    }

    /// Offset of `avail.idx`.
    pub fn avail_idx(&self) -> usize {
        self.avail_offset + 2
    }

    /// Offset of `avail.ring[slot]`.
    pub fn avail_ring(&self, slot: u16) -> usize {
        self.avail_offset + 4 + 2 * usize::from(slot)
    }

    /// Offset of `used.idx`.
    pub fn used_idx(&self) -> usize {
        self.used_offset + 2
    }

    /// Offset of `used.ring[slot]` (its `id`; `len` follows at +4).
    pub fn used_ring(&self, slot: u16) -> usize {
        self.used_offset + 4 + 8 * usize::from(slot)
    }
}

/// Checks that `size` is a valid split-queue size no larger than `max`: non-zero, a power of two, at most 32768.
///
/// Errors: [`Error::InvalidQueueSize`].
pub fn check_size(size: u16, max: u16) -> Result<(), Error> {
    if size == 0 || !size.is_power_of_two() || size > MAX_QUEUE_SIZE || size > max {
        return Err(Error::InvalidQueueSize { size, max });
    }
    Ok(())
}

//! `AllocatePool()` and `FreePool()` (UEFI 2.10 section 7.2): byte allocations on top of pages.
//!
//! Design: per memory type, the pool owns *chunks* of pages carved from free memory with the `AllocateAnyPages`
//! policy (at least [`POOL_CHUNK_PAGES`], more for big requests). Each chunk keeps a first-fit free list of
//! 8-byte-aligned blocks. All bookkeeping (the live allocations with their size and type, the free lists) lives
//! in this engine's `alloc` structures, never in headers written into guest pages, so host tests touch no guest
//! memory and a stray write by a caller cannot corrupt the allocator.
//!
//! Invariants: every live block lies inside one chunk of its type; blocks and free blocks of a chunk tile it
//! without overlap; every chunk holds at least one live block (a chunk whose last block is freed goes back to
//! free memory at once, which changes the map key). Pool pages are not `FreePages()`-able.

use alloc::collections::BTreeMap;

use super::types::{is_allocatable_type, PAGE_SIZE};
use super::MemoryMap;
use crate::{Result, Status};

/// Alignment of every pool allocation in bytes (UEFI 2.10 section 7.2: "eight-byte aligned").
pub const POOL_ALIGN: u64 = 8;

/// Minimum size of a pool chunk in 4 KiB pages.
pub const POOL_CHUNK_PAGES: u64 = 4;

/// A live pool allocation as the engine remembers it (what a header would hold in a C firmware).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolAllocation {
    /// `PoolType` it was allocated with.
    pub memory_type: u32,
    /// `Size` the caller asked for, in bytes.
    pub size: u64,
    /// Bytes reserved for it: `size` rounded up to [`POOL_ALIGN`] (at least 8).
    pub capacity: u64,
}

#[derive(Clone, Debug)]
struct Chunk {
    memory_type: u32,
    pages: u64,
    /// Free blocks: byte address -> length in bytes, coalesced.
    free: BTreeMap<u64, u64>,
    live: usize,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    allocation: PoolAllocation,
    chunk: u64,
}

/// Pool state: chunks keyed by base address, live blocks keyed by address.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pool {
    chunks: BTreeMap<u64, Chunk>,
    live: BTreeMap<u64, Block>,
}

impl Pool {
    /// First fit among existing chunks of `memory_type`.
    fn take(&mut self, memory_type: u32, capacity: u64) -> Option<(u64, u64)> {
        for (&chunk_base, chunk) in self
            .chunks
            .iter_mut()
            .filter(|(_, c)| c.memory_type == memory_type)
        {
            let Some((&addr, &len)) = chunk.free.iter().find(|(_, &len)| len >= capacity) else {
                continue;
            };
            chunk.free.remove(&addr);
            if len > capacity {
                chunk.free.insert(addr + capacity, len - capacity);
            }
            chunk.live += 1;
            return Some((addr, chunk_base));
        }
        None
    }

    /// Returns a block to its chunk's free list; `true` if the chunk is now empty.
    fn give_back(&mut self, addr: u64, block: Block) -> bool {
        let Some(chunk) = self.chunks.get_mut(&block.chunk) else {
            return false;
        };
        let mut start = addr;
        let mut len = block.allocation.capacity;
        if let Some((&prev, &prev_len)) = chunk.free.range(..addr).next_back() {
            if prev + prev_len == addr {
                chunk.free.remove(&prev);
                start = prev;
                len += prev_len;
            }
        }
        if let Some(next_len) = chunk.free.remove(&(addr + block.allocation.capacity)) {
            len += next_len;
        }
        chunk.free.insert(start, len);
        chunk.live -= 1;
        chunk.live == 0
    }
}

impl MemoryMap {
    /// `AllocatePool()`: `size` bytes of `memory_type`, 8-byte aligned; returns the byte address. A request of 0
    /// bytes gets a unique 8-byte block. The map (and its key) changes only if a new chunk of pages is needed.
    ///
    /// Errors: `INVALID_PARAMETER` for a type rejected by [`super::is_allocatable_type`]; `OUT_OF_RESOURCES` if
    /// no free range can hold a new chunk; [`super::HANDOFF_LOCKED_STATUS`] after [`MemoryMap::lock`].
    pub fn allocate_pool(&mut self, memory_type: u32, size: usize) -> Result<u64> {
        let size = size as u64;
        self.refuse_if_locked("AllocatePool", Some(memory_type), None, size)?;
        if !is_allocatable_type(memory_type) {
            return Err(Status::INVALID_PARAMETER);
        }
        let capacity = size
            .max(1)
            .checked_next_multiple_of(POOL_ALIGN)
            .ok_or(Status::OUT_OF_RESOURCES)?;
        let (addr, chunk) = match self.pool.take(memory_type, capacity) {
            Some(found) => found,
            None => {
                self.add_pool_chunk(memory_type, capacity)?;
                self.pool
                    .take(memory_type, capacity)
                    .ok_or(Status::OUT_OF_RESOURCES)?
            }
        };
        let allocation = PoolAllocation {
            memory_type,
            size,
            capacity,
        };
        self.pool.live.insert(addr, Block { allocation, chunk });
        log::trace!(target: "memory", "AllocatePool type {memory_type:#x} {size} bytes: {addr:#x}");
        Ok(addr)
    }

    /// `FreePool()`: frees the live pool allocation at byte address `buffer`. If it was the last one in its
    /// chunk, the chunk's pages return to free memory (the map key changes).
    ///
    /// Errors: `INVALID_PARAMETER` if `buffer` is not the address of a live pool allocation (never allocated,
    /// already freed, or pointing inside one); [`super::HANDOFF_LOCKED_STATUS`] after [`MemoryMap::lock`].
    pub fn free_pool(&mut self, buffer: u64) -> Result<()> {
        self.refuse_if_locked("FreePool", None, Some(buffer), 0)?;
        let block = self
            .pool
            .live
            .remove(&buffer)
            .ok_or(Status::INVALID_PARAMETER)?;
        if self.pool.give_back(buffer, block) {
            if let Some(chunk) = self.pool.chunks.remove(&block.chunk) {
                self.release(block.chunk, chunk.pages);
            }
        }
        log::trace!(target: "memory", "FreePool {buffer:#x}");
        Ok(())
    }

    /// The live pool allocation starting at byte address `buffer`, if any.
    pub fn pool_allocation(&self, buffer: u64) -> Option<PoolAllocation> {
        self.pool.live.get(&buffer).map(|b| b.allocation)
    }

    /// All live pool allocations as (byte address, allocation), sorted by address.
    pub fn pool_allocations(&self) -> impl Iterator<Item = (u64, PoolAllocation)> + '_ {
        self.pool.live.iter().map(|(&addr, b)| (addr, b.allocation))
    }

    /// Carves a chunk able to hold `capacity` bytes for pool type `memory_type`.
    fn add_pool_chunk(&mut self, memory_type: u32, capacity: u64) -> Result<()> {
        let granularity = self.granularity_pages(memory_type);
        let pages = capacity
            .div_ceil(PAGE_SIZE)
            .max(POOL_CHUNK_PAGES)
            .checked_next_multiple_of(granularity)
            .ok_or(Status::OUT_OF_RESOURCES)?;
        let base = self
            .find_any(pages, granularity)
            .ok_or(Status::OUT_OF_RESOURCES)?;
        self.carve(base, pages, memory_type);
        let mut free = BTreeMap::new();
        free.insert(base, pages * PAGE_SIZE);
        self.pool.chunks.insert(
            base,
            Chunk {
                memory_type,
                pages,
                free,
                live: 0,
            },
        );
        log::debug!(target: "memory", "pool chunk for type {memory_type:#x}: {base:#x}+{pages} pages");
        Ok(())
    }
}

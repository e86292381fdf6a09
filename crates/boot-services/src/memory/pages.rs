//! `AllocatePages()` and `FreePages()` (UEFI 2.10 section 7.2) and the free-range search behind them.
//!
//! Search policy (see the module documentation of [`super`]): top-down, below 4 GiB first for
//! `AllocateAnyPages`; below the limit for `AllocateMaxAddress`; never page 0 unless asked for by address.

use r_efi::efi;

use super::types::{
    is_allocatable_type, is_runtime_granular_type, page_end, AllocateType, PAGE_SIZE,
};
use super::MemoryMap;
use crate::{Result, Status};

/// 4 GiB: `AllocateAnyPages` prefers memory below this byte address.
const FOUR_GIB: u64 = 1 << 32;

/// `pages` rounded up to a multiple of `granularity` pages, or `None` on overflow.
fn round_up_pages(pages: u64, granularity: u64) -> Option<u64> {
    Some(pages.checked_add(granularity - 1)? / granularity * granularity)
}

impl MemoryMap {
    /// `AllocatePages()`: carves `pages` 4 KiB pages of `memory_type` out of `EfiConventionalMemory` and returns
    /// the byte address of the first page.
    ///
    /// Runtime-granular types are aligned and rounded up to the [`super::RuntimeGranularity`].
    ///
    /// Errors: `INVALID_PARAMETER` for a type rejected by [`super::is_allocatable_type`], zero pages, or an
    /// `AllocateAddress` not aligned to 4 KiB (64 KiB for runtime types on AArch64); `NOT_FOUND` if the
    /// `AllocateAddress` range is not entirely free; `OUT_OF_RESOURCES` if no free range fits;
    /// [`super::HANDOFF_LOCKED_STATUS`] after [`MemoryMap::lock`].
    pub fn allocate_pages(
        &mut self,
        allocate: AllocateType,
        memory_type: u32,
        pages: u64,
    ) -> Result<u64> {
        let address = match allocate {
            AllocateType::AnyPages => None,
            AllocateType::MaxAddress(a) | AllocateType::Address(a) => Some(a),
        };
        self.refuse_if_locked("AllocatePages", Some(memory_type), address, pages)?;
        if !is_allocatable_type(memory_type) || pages == 0 {
            return Err(Status::INVALID_PARAMETER);
        }
        let granularity = self.granularity_pages(memory_type);
        let pages = round_up_pages(pages, granularity).ok_or(Status::OUT_OF_RESOURCES)?;
        let base = match allocate {
            AllocateType::Address(base) => {
                if base % (granularity * PAGE_SIZE) != 0 {
                    return Err(Status::INVALID_PARAMETER);
                }
                let end = page_end(base, pages).ok_or(Status::NOT_FOUND)?;
                if !self.is_free(base, end) {
                    return Err(Status::NOT_FOUND);
                }
                base
            }
            AllocateType::MaxAddress(max) => self
                .find_top_down(pages, granularity, 0, max.saturating_add(1))
                .ok_or(Status::OUT_OF_RESOURCES)?,
            AllocateType::AnyPages => self
                .find_any(pages, granularity)
                .ok_or(Status::OUT_OF_RESOURCES)?,
        };
        self.carve(base, pages, memory_type);
        self.allocated.insert(base, base + pages * PAGE_SIZE);
        log::trace!(target: "memory", "AllocatePages {allocate:?} type {memory_type:#x}: {base:#x}+{pages} pages");
        Ok(base)
    }

    /// `FreePages()`: returns `pages` pages at byte address `memory` to free memory. Any sub-range of pages handed
    /// out by [`Self::allocate_pages`] may be freed (loaders trim over-sized allocations this way).
    ///
    /// Errors: `INVALID_PARAMETER` if `memory` is not 4 KiB aligned (64 KiB for runtime types on AArch64), `pages`
    /// is 0, the range overflows, or it would cut a runtime-granular range inside a 64 KiB granule (AArch64); `NOT_FOUND` if any page of the range was not allocated by `AllocatePages()`
    /// (free memory, firmware reservations, pool pages, holes); [`super::HANDOFF_LOCKED_STATUS`] after
    /// [`MemoryMap::lock`].
    pub fn free_pages(&mut self, memory: u64, pages: u64) -> Result<()> {
        self.refuse_if_locked("FreePages", None, Some(memory), pages)?;
        if !memory.is_multiple_of(PAGE_SIZE) || pages == 0 {
            return Err(Status::INVALID_PARAMETER);
        }
        let memory_type = self.memory_type_at(memory).ok_or(Status::NOT_FOUND)?;
        let granularity = self.granularity_pages(memory_type);
        if !memory.is_multiple_of(granularity * PAGE_SIZE) {
            return Err(Status::INVALID_PARAMETER);
        }
        let pages = round_up_pages(pages, granularity).ok_or(Status::INVALID_PARAMETER)?;
        let end = page_end(memory, pages).ok_or(Status::INVALID_PARAMETER)?;
        if !self.allocated.contains(memory, end) {
            return Err(Status::NOT_FOUND);
        }
        if !self.granules_intact(memory, end) {
            return Err(Status::INVALID_PARAMETER);
        }
        self.allocated.remove(memory, end);
        self.release(memory, pages);
        log::trace!(target: "memory", "FreePages {memory:#x}+{pages} pages");
        Ok(())
    }

    /// A free range of `pages` pages for the firmware's own use (e.g. its heap), chosen with the
    /// `AllocateAnyPages` policy, or below `max_address` (last byte, inclusive) if given. Reserve it with
    /// [`Self::reserve_range`]. `None` if nothing fits.
    pub fn find_free_range(&self, pages: u64, max_address: Option<u64>) -> Option<u64> {
        if pages == 0 {
            return None;
        }
        match max_address {
            Some(max) => self.find_top_down(pages, 1, 0, max.saturating_add(1)),
            None => self.find_any(pages, 1),
        }
    }

    /// Whether freeing `[start, end)` would leave every runtime-granular range in whole granules: each such range
    /// touched must be cut only at multiples of the runtime granularity. (A range that starts in a 4 KiB-granular
    /// allocation may run into an adjacent 64 KiB-granular one on AArch64.)
    fn granules_intact(&self, start: u64, end: u64) -> bool {
        let granule = self.granularity.pages() * PAGE_SIZE;
        self.regions
            .overlapping(start, end)
            .filter(|r| is_runtime_granular_type(r.memory_type))
            .all(|r| start.max(r.base) % granule == 0 && end.min(r.end()) % granule == 0)
    }

    /// Granularity in pages for allocations of `memory_type`.
    pub(crate) fn granularity_pages(&self, memory_type: u32) -> u64 {
        if is_runtime_granular_type(memory_type) {
            self.granularity.pages()
        } else {
            1
        }
    }

    /// `AllocateAnyPages` search: top-down below 4 GiB, then top-down above.
    pub(crate) fn find_any(&self, pages: u64, granularity: u64) -> Option<u64> {
        self.find_top_down(pages, granularity, 0, FOUR_GIB)
            .or_else(|| self.find_top_down(pages, granularity, FOUR_GIB, u64::MAX))
    }

    /// Highest base `b`, a multiple of `granularity` pages, with `[b, b + pages)` inside one free range and inside
    /// `[max(lo, 4 KiB), hi)` (page 0 is skipped). Byte addresses; `hi` need not be page aligned.
    fn find_top_down(&self, pages: u64, granularity: u64, lo: u64, hi: u64) -> Option<u64> {
        let len = pages.checked_mul(PAGE_SIZE)?;
        let align = granularity.checked_mul(PAGE_SIZE)?;
        self.regions
            .iter()
            .rev()
            .filter(|r| r.memory_type == efi::CONVENTIONAL_MEMORY)
            .find_map(|r| {
                let start = r.base.max(lo).max(PAGE_SIZE);
                let end = r.end().min(hi);
                if end <= start || end - start < len {
                    return None;
                }
                let candidate = (end - len) / align * align;
                (candidate >= start).then_some(candidate)
            })
    }
}

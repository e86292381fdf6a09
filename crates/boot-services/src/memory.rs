//! Memory allocation services (UEFI 2.10 section 7.2): the memory map, `AllocatePages()`, `FreePages()`,
//! `GetMemoryMap()`, `AllocatePool()` and `FreePool()`, as a host-testable engine that never touches guest memory.
//!
//! # The map
//! [`MemoryMap`] describes physical memory in 4 KiB pages. The firmware builds it from the platform's RAM ranges
//! ([`MemoryMap::add_range`] with `EfiConventionalMemory`), the MMIO that runtime code uses
//! ([`MemoryMap::add_runtime_mmio`]: `EfiMemoryMappedIO` + `EFI_MEMORY_RUNTIME`) and its own reservations, reported
//! honestly with their real types ([`MemoryMap::reserve_range`], e.g. its image as `EfiBootServicesCode`, its heap
//! as `EfiBootServicesData`). Memory types are raw `u32`s: OEM (`0x7000_0000..=0x7FFF_FFFF`) and OS
//! (`0x8000_0000..=0xFFFF_FFFF`) values are kept as distinct types.
//!
//! Invariants, always true between calls (checked by the property tests):
//! - ranges are sorted by address, never overlap, and have at least one page;
//! - no two contiguous ranges have equal type and attributes (they are merged), so the stored list *is* the
//!   descriptor list `GetMemoryMap()` reports;
//! - allocations only ever re-type pages: the total number of pages never changes after the map is built;
//! - free memory is exactly the `EfiConventionalMemory` ranges, and every page is either free, handed out by
//!   `AllocatePages()` (tracked so `FreePages()` can return `EFI_NOT_FOUND` for anything else), owned by a pool
//!   chunk, or reserved by the firmware.
//!
//! # The map key
//! [`MemoryMap::map_key`] changes on every change of the descriptor list and on nothing else: a pool allocation
//! served from an existing pool chunk keeps the key; one that needs new pages changes it; so does freeing the last
//! allocation of a chunk (its pages are returned to free memory). The key is what `ExitBootServices()` compares.
//! [`MemoryMap::take_changed`] tells the events engine that the map changed since it last asked, so it can signal
//! `EFI_EVENT_GROUP_MEMORY_MAP_CHANGE`.
//!
//! # Allocation policy
//! - Pages are carved from `EfiConventionalMemory` only; freed pages return to it with the attributes they had.
//! - `AllocateAnyPages` searches **top-down below 4 GiB first**, then top-down above 4 GiB. Boot-time allocations
//!   thus pack at the top of low RAM, leaving low memory free for loaders and real-mode/32-bit DMA users that
//!   need it by address (the same choice edk2 makes). `AllocateMaxAddress` searches top-down below its limit.
//!   Page 0 is only ever handed out to an explicit `AllocateAddress`, since callers treat address 0 as NULL.
//! - `EfiRuntimeServicesCode`/`Data` allocations get `EFI_MEMORY_RUNTIME`, so the OS maps them for
//!   `SetVirtualAddressMap()`.
//! - Runtime-granular types (`EfiReservedMemoryType`, `EfiRuntimeServicesCode`/`Data`, `EfiACPIMemoryNVS`) are
//!   aligned and sized to [`RuntimeGranularity`]: 4 KiB on x86_64 (UEFI 2.10 section 2.3.4 asks for nothing more),
//!   64 KiB on AArch64 (section 2.3.6).
//! - Pool allocations (see `pool.rs`) are 8-byte aligned, come from per-type chunks of pages, and keep their
//!   bookkeeping in this engine (not in headers inside guest memory).
//!
//! # The handoff lock
//! Once `ExitBootServices()` has accepted the caller's map key, the orchestrator calls [`MemoryMap::lock`]. From
//! then on every allocate/free fails with [`HANDOFF_LOCKED_STATUS`] and is recorded as a [`HandoffViolation`]
//! attributed to the context set with [`MemoryMap::set_context`]. There is deliberately no unlock: the spec locks
//! the map only after the key check succeeded, and a failed `ExitBootServices()` never reaches the lock.
//!
//! # Status codes
//! `INVALID_PARAMETER`: invalid memory type, zero pages, misaligned address, pool pointer that is not live.
//! `NOT_FOUND`: `AllocateAddress` range not entirely free; `FreePages()` of pages not from `AllocatePages()`.
//! `OUT_OF_RESOURCES`: `AllocateAnyPages`/`AllocateMaxAddress`/pool found no fitting free range.

mod handoff;
mod page_set;
mod pages;
mod pool;
mod regions;
mod snapshot;
mod types;

#[cfg(test)]
mod tests;

use alloc::collections::BTreeMap;

use r_efi::efi;

pub use handoff::{HandoffViolation, HANDOFF_LOCKED_STATUS};
pub use pool::{PoolAllocation, POOL_ALIGN, POOL_CHUNK_PAGES};
pub use snapshot::{BufferTooSmall, MemoryMapSnapshot, DESCRIPTOR_SIZE};
pub use types::{
    gets_runtime_attribute, is_allocatable_type, is_runtime_granular_type, page_end, AllocateType,
    MapError, MemoryRange, AARCH64_RUNTIME_GRANULARITY_PAGES, MAX_MEMORY_TYPE,
    OEM_MEMORY_TYPE_START, OS_MEMORY_TYPE_START, PAGE_SIZE, X64_RUNTIME_GRANULARITY_PAGES,
};

/// Allocation granularity of runtime-granular memory types (UEFI 2.10 sections 2.3.4 and 2.3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RuntimeGranularity {
    /// 4 KiB, the x86_64 rule.
    #[default]
    X64,
    /// 64 KiB, the AArch64 rule.
    AArch64,
}

impl RuntimeGranularity {
    /// The granularity in 4 KiB pages (1 or 16).
    pub fn pages(self) -> u64 {
        match self {
            RuntimeGranularity::X64 => X64_RUNTIME_GRANULARITY_PAGES,
            RuntimeGranularity::AArch64 => AARCH64_RUNTIME_GRANULARITY_PAGES,
        }
    }
}

/// The firmware's map of physical memory and the UEFI memory services over it. See the module documentation for
/// invariants, the key rule, the policy and the lock.
#[derive(Clone, Debug)]
pub struct MemoryMap {
    regions: regions::Regions,
    allocated: page_set::PageSet,
    pool: pool::Pool,
    map_key: usize,
    changed: bool,
    granularity: RuntimeGranularity,
    handoff: handoff::Handoff,
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryMap {
    /// An empty map with the x86_64 runtime granularity (4 KiB).
    pub fn new() -> Self {
        Self::with_runtime_granularity(RuntimeGranularity::X64)
    }

    /// An empty map with the given runtime granularity.
    pub fn with_runtime_granularity(granularity: RuntimeGranularity) -> Self {
        MemoryMap {
            regions: regions::Regions::default(),
            allocated: page_set::PageSet::default(),
            pool: pool::Pool::default(),
            map_key: 1,
            changed: false,
            granularity,
            handoff: handoff::Handoff::default(),
        }
    }

    /// The runtime granularity this map was built with.
    pub fn runtime_granularity(&self) -> RuntimeGranularity {
        self.granularity
    }

    /// Adds `pages` 4 KiB pages at byte address `base` with `memory_type` and `EFI_MEMORY_*` `attribute` bits.
    /// For platform RAM (`EfiConventionalMemory`), firmware-used MMIO, ROM, reserved holes, persistent memory...
    ///
    /// Errors: [`MapError::MisalignedBase`], [`MapError::ZeroPages`], [`MapError::AddressOverflow`],
    /// [`MapError::Overlap`] with any existing range, [`MapError::RuntimeConventional`] for free memory marked
    /// `EFI_MEMORY_RUNTIME`, [`MapError::Locked`] after [`Self::lock`].
    pub fn add_range(
        &mut self,
        base: u64,
        pages: u64,
        memory_type: u32,
        attribute: u64,
    ) -> Result<(), MapError> {
        let end = self.check_new_range(base, pages)?;
        if memory_type == efi::CONVENTIONAL_MEMORY && attribute & efi::MEMORY_RUNTIME != 0 {
            return Err(MapError::RuntimeConventional);
        }
        if self.regions.overlaps(base, end) {
            return Err(MapError::Overlap { base });
        }
        self.regions.insert(MemoryRange {
            base,
            pages,
            memory_type,
            attribute,
        });
        log::debug!(target: "memory", "add range {base:#x}+{pages} pages type {memory_type:#x} attr {attribute:#x}");
        self.touch();
        Ok(())
    }

    /// Adds an MMIO range that runtime services use: `EfiMemoryMappedIO` with `EFI_MEMORY_UC | EFI_MEMORY_RUNTIME`,
    /// so the OS maps it for `SetVirtualAddressMap()`. Errors as [`Self::add_range`].
    pub fn add_runtime_mmio(&mut self, base: u64, pages: u64) -> Result<(), MapError> {
        self.add_range(
            base,
            pages,
            efi::MEMORY_MAPPED_IO,
            efi::MEMORY_UC | efi::MEMORY_RUNTIME,
        )
    }

    /// Re-types free pages the firmware itself uses (its image, stack, heap, tables) to `memory_type`, keeping
    /// their attributes (plus `EFI_MEMORY_RUNTIME` for runtime code/data). Such pages are not `FreePages()`-able.
    ///
    /// Errors: [`MapError::MisalignedBase`], [`MapError::ZeroPages`], [`MapError::AddressOverflow`],
    /// [`MapError::ConventionalReservation`] if `memory_type` is `EfiConventionalMemory`,
    /// [`MapError::NotConventional`] if some page is not free, [`MapError::Locked`] after [`Self::lock`].
    pub fn reserve_range(
        &mut self,
        base: u64,
        pages: u64,
        memory_type: u32,
    ) -> Result<(), MapError> {
        let end = self.check_new_range(base, pages)?;
        if memory_type == efi::CONVENTIONAL_MEMORY {
            return Err(MapError::ConventionalReservation);
        }
        if !self.is_free(base, end) {
            return Err(MapError::NotConventional { base });
        }
        self.carve(base, pages, memory_type);
        log::debug!(target: "memory", "firmware reserves {base:#x}+{pages} pages as type {memory_type:#x}");
        Ok(())
    }

    fn check_new_range(&self, base: u64, pages: u64) -> Result<u64, MapError> {
        if self.handoff.is_locked() {
            return Err(MapError::Locked);
        }
        if !base.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::MisalignedBase { base });
        }
        if pages == 0 {
            return Err(MapError::ZeroPages);
        }
        page_end(base, pages).ok_or(MapError::AddressOverflow)
    }

    /// The map key: the `MapKey` `GetMemoryMap()` returns and `ExitBootServices()` checks. Changes exactly when
    /// the descriptor list changes.
    pub fn map_key(&self) -> usize {
        self.map_key
    }

    /// Whether the map changed since the previous call (and clears the flag). The events engine calls this after
    /// memory services return and signals `EFI_EVENT_GROUP_MEMORY_MAP_CHANGE` when it is `true`.
    pub fn take_changed(&mut self) -> bool {
        core::mem::take(&mut self.changed)
    }

    /// The memory type of the page containing byte address `addr`, or `None` if no range describes it.
    pub fn memory_type_at(&self, addr: u64) -> Option<u32> {
        self.regions.containing(addr).map(|r| r.memory_type)
    }

    /// The (merged) range containing byte address `addr`, if any.
    pub fn range_at(&self, addr: u64) -> Option<MemoryRange> {
        self.regions.containing(addr)
    }

    /// All ranges, sorted by address: the same list `GetMemoryMap()` reports.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = MemoryRange> + '_ {
        self.regions.iter()
    }

    /// Free (`EfiConventionalMemory`) ranges, sorted by address.
    pub fn free_ranges(&self) -> impl Iterator<Item = MemoryRange> + '_ {
        self.regions
            .iter()
            .filter(|r| r.memory_type == efi::CONVENTIONAL_MEMORY)
    }

    /// Number of pages of each memory type (for the inventory summary).
    pub fn pages_by_type(&self) -> BTreeMap<u32, u64> {
        let mut totals = BTreeMap::new();
        for r in self.regions.iter() {
            *totals.entry(r.memory_type).or_insert(0) += r.pages;
        }
        totals
    }

    /// Total number of pages described by the map.
    pub fn total_pages(&self) -> u64 {
        self.regions.iter().map(|r| r.pages).sum()
    }

    /// Whether every page of `[base, end)` is `EfiConventionalMemory`.
    fn is_free(&self, base: u64, end: u64) -> bool {
        self.regions
            .covered_by(base, end, |r| r.memory_type == efi::CONVENTIONAL_MEMORY)
    }

    /// Re-types free pages `[base, base + pages)` (checked free by the caller) to `memory_type`.
    fn carve(&mut self, base: u64, pages: u64, memory_type: u32) {
        let runtime = if gets_runtime_attribute(memory_type) {
            efi::MEMORY_RUNTIME
        } else {
            0
        };
        self.regions
            .convert(base, pages, |_, attr| (memory_type, attr | runtime));
        self.touch();
    }

    /// Returns pages `[base, base + pages)` to free memory, dropping `EFI_MEMORY_RUNTIME`.
    fn release(&mut self, base: u64, pages: u64) {
        self.regions.convert(base, pages, |_, attr| {
            (efi::CONVENTIONAL_MEMORY, attr & !efi::MEMORY_RUNTIME)
        });
        self.touch();
    }

    /// Records a change of the descriptor list.
    fn touch(&mut self) {
        self.map_key = self.map_key.wrapping_add(1);
        self.changed = true;
    }
}

//! The physical-memory interface the DMA layer needs ([`DmaMemory`]) and page arithmetic.

use crate::Status;

/// UEFI page size in bytes (UEFI 2.10 section 7.2, `EFI_PAGE_SIZE`).
pub const PAGE_SIZE: u64 = 4096;

/// First address a 32-bit bus master cannot reach: a buffer is reachable without dual address cycle if its
/// exclusive end is at most this value.
pub const FOUR_GIB: u64 = 1 << 32;

/// Number of 4 KiB pages covering `len` bytes (rounded up; 0 for 0).
pub fn pages_for(len: usize) -> usize {
    (len as u64).div_ceil(PAGE_SIZE) as usize
}

/// Physical memory as the DMA layer sees it. Addresses are physical and identity-mapped in the firmware.
///
/// The firmware implements this over the UEFI memory map (`AllocatePages` of boot-services data, `FreePages`,
/// and a `memcpy` on identity-mapped addresses). Host tests use a `Vec`-backed fake.
pub trait DmaMemory {
    /// Allocate `pages` contiguous 4 KiB pages and return the page-aligned physical base address. With
    /// `below_4g`, the whole range must end at or below [`FOUR_GIB`]; otherwise it may be anywhere.
    ///
    /// # Errors
    /// The UEFI status of the failure (typically `OUT_OF_RESOURCES`).
    fn allocate_pages(&mut self, pages: usize, below_4g: bool) -> Result<u64, Status>;

    /// Free `pages` pages at `addr`, previously returned by [`DmaMemory::allocate_pages`] with the same count.
    ///
    /// # Errors
    /// The UEFI status of the failure (e.g. `NOT_FOUND`, or `ACCESS_DENIED` once the map is locked).
    fn free_pages(&mut self, addr: u64, pages: usize) -> Result<(), Status>;

    /// Copy `len` bytes from physical `src` to physical `dst` (the ranges never overlap). Must not allocate:
    /// it is called from the ExitBootServices final phase. The DMA layer only passes ranges it allocated or
    /// that a `Map()` caller handed in; validating the latter is the caller's contract (UEFI trusts
    /// `HostAddress`).
    fn copy(&mut self, dst: u64, src: u64, len: usize);
}

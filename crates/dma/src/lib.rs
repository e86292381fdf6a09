//! The one DMA-mapping layer of vmfw: every `EFI_PCI_IO_PROTOCOL.Map()`, `Unmap()`, `AllocateBuffer()` and
//! `FreeBuffer()` (UEFI 2.10 section 14.4) goes through a single [`Dma`], which tracks every live mapping and
//! common buffer so that ExitBootServices can release them all in a final phase that allocates nothing.
//!
//! # Source
//!
//! UEFI 2.10 section 14.4, `EFI_PCI_IO_PROTOCOL.Map()` (operations `EfiPciIoOperationBusMasterRead`,
//! `...BusMasterWrite`, `...BusMasterCommonBuffer` and their `...64` variants), `Unmap()`, `AllocateBuffer()` and
//! `FreeBuffer()`. "Read" and "write" are from the device's point of view: in a bus-master read the device reads
//! host memory, in a bus-master write it writes host memory. A `...64` operation means the device can address
//! all of the 64-bit address space (dual address cycle); the others reach only the first 4 GiB.
//!
//! # Invariants
//!
//! 1. **Every mapping is in the list.** A [`Mapping`] handed out by [`Dma::map`] and a buffer handed out by
//!    [`Dma::allocate_buffer`] stay in [`Dma::live_mappings`] / [`Dma::live_buffers`] until [`Dma::unmap`] /
//!    [`Dma::free_buffer`] or [`Dma::release_all_at_exit`]. Each carries an `owner` tag (the controller handle
//!    of the driver that made it), so [`Dma::mappings_of`] and [`Dma::check_released`] can prove that a
//!    driver's `Stop()` released everything.
//! 2. **Tokens are never reused.** A [`MapToken`] is a counter that only grows (0 is never issued, so it can
//!    double as the non-null `Mapping` pointer of the ABI). Unmapping an unknown or already-unmapped token is
//!    [`DmaError::UnknownToken`], never undefined behaviour.
//! 3. **Bounce semantics per operation.** A mapping is identity (`device_address == host_address`) when the
//!    device can reach the whole buffer: a `...64` operation, or a buffer that ends at or below 4 GiB.
//!    Otherwise the buffer is bounced through pages allocated below 4 GiB:
//!    - `BusMasterRead`: host → bounce at map time (the device reads the bounce copy).
//!    - `BusMasterWrite`: host → bounce at map time too (so bytes the device does not write copy back
//!      unchanged and no stale data leaks into the caller's buffer), and bounce → host at unmap or at the
//!      final phase.
//!    - `BusMasterCommonBuffer`: never bounces (both sides access the memory concurrently, so a copy cannot be
//!      coherent). It is accepted only inside a buffer from [`Dma::allocate_buffer`] and only if the device can
//!      reach it, otherwise [`DmaError::CommonBufferNotAllocated`] / [`DmaError::CommonBufferUnreachable`].
//!
//!    [`Policy::force_bounce`] (tests; later SEV or an IOMMU) bounces every non-common mapping, the `...64` ones
//!    into pages anywhere, the others into pages below 4 GiB. Mappings are all-or-nothing: the mapped length is
//!    always the requested length (the spec allows a shorter one; vmfw never returns it).
//! 4. **The final phase allocates nothing.** [`Dma::release_all_at_exit`] runs after every device has been reset
//!    and the memory map is locked. It never calls [`DmaMemory::allocate_pages`] or [`DmaMemory::free_pages`]
//!    (bounce pages and common buffers stay allocated as boot-services data, which the OS reclaims), and it
//!    never touches the heap: the report's owner list is written into a `Vec` whose capacity [`Dma::map`] and
//!    [`Dma::allocate_buffer`] reserved beforehand (one slot per tracked item, reserved with `try_reserve`
//!    before the item is created), the list is only cleared (elements are plain data, nothing is dropped that
//!    owns memory), and the [`ExitReport`] borrows its owner list from the [`Dma`] instead of owning it. A push
//!    that would exceed the reserved capacity is skipped and flagged in [`ExitReport::owners_truncated`] rather
//!    than reallocating. The host test suite checks this with a counting global allocator.
//!
//! # How drivers use it
//!
//! - `Start()`: map/allocate with the controller handle as `owner`.
//! - `Stop()`: reset the device, then unmap every mapping and free every common buffer, then call
//!   [`Dma::check_released`] for the handle (an error names what leaked).
//! - ExitBootServices quiesce (the per-binding handler): only reset the device so it stops bus-mastering. Do
//!   **not** unmap or free there: the memory map is already locked. The core's final action calls
//!   [`Dma::release_all_at_exit`] once every quiesce handler has run; it completes the copy-back of pending
//!   bus-master-write bounces (the device is reset, so the data is final) and forgets everything.
//! - After the final phase every call except the read-only ones returns [`DmaError::AfterExitBootServices`].
//!   The [`Dma`] must not be dropped afterwards (dropping frees its tracking vectors on the heap); the firmware
//!   keeps it in a static.
//!
//! # Memory
//!
//! [`DmaMemory`] is the narrow interface to physical memory: page allocation (below 4 GiB or anywhere) and
//! copying between physical addresses. The firmware implements it over the UEFI memory map with identity
//! paging; the host tests use a fake whose "physical addresses" are arbitrary `u64`s backed by `Vec<u8>`
//! regions (host buffers are registered at chosen addresses, allocations are placed around them).
#![no_std]
#![deny(missing_docs)]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub use r_efi::efi::Status;

mod dma;
mod error;
mod exit;
mod memory;
mod operation;

pub use dma::{Bounce, CommonBuffer, Dma, LiveMapping, MapToken, Mapping, Policy};
pub use error::DmaError;
pub use exit::ExitReport;
pub use memory::{pages_for, DmaMemory, FOUR_GIB, PAGE_SIZE};
pub use operation::Operation;

/// Result type of every DMA-layer function.
pub type Result<T> = core::result::Result<T, DmaError>;

#[cfg(test)]
mod tests;

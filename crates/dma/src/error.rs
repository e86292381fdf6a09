//! [`DmaError`]: every way a DMA-layer call can fail, and its UEFI status (UEFI 2.10 section 14.4, the status
//! codes of `Map()`, `Unmap()`, `AllocateBuffer()` and `FreeBuffer()`).

use core::fmt;

use crate::dma::MapToken;
use crate::Status;

/// Why a DMA-layer call failed. [`DmaError::status`] gives the status the PCI I/O protocol returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaError {
    /// `Map()` with a length of 0 bytes.
    ZeroLength,
    /// `AllocateBuffer()`/`FreeBuffer()` with 0 pages.
    ZeroPages,
    /// `host_address + len` does not fit in 64 bits.
    AddressOverflow {
        /// Start of the range (bytes, physical).
        host_address: u64,
        /// Length of the range in bytes.
        len: usize,
    },
    /// The raw operation value is not an `EFI_PCI_IO_PROTOCOL_OPERATION` (0..=5).
    UnknownOperation(u32),
    /// `Unmap()` of a token that is not live: never issued, already unmapped, or released at exit.
    UnknownToken(MapToken),
    /// A common-buffer `Map()` of a range that is not entirely inside one buffer from `AllocateBuffer()`.
    CommonBufferNotAllocated {
        /// Start of the range (bytes, physical).
        host_address: u64,
        /// Length of the range in bytes.
        len: usize,
    },
    /// A 32-bit common-buffer `Map()` of memory above 4 GiB: common buffers cannot bounce.
    CommonBufferUnreachable {
        /// Start of the range (bytes, physical).
        host_address: u64,
        /// Length of the range in bytes.
        len: usize,
    },
    /// `FreeBuffer()` of an address that is not the base of a live common buffer.
    BufferNotAllocated {
        /// The address given (bytes, physical).
        address: u64,
    },
    /// `FreeBuffer()` with a page count different from the one allocated.
    BufferPagesMismatch {
        /// Base of the buffer (bytes, physical).
        address: u64,
        /// Pages allocated by `AllocateBuffer()`.
        allocated: usize,
        /// Pages given to `FreeBuffer()`.
        given: usize,
    },
    /// `FreeBuffer()` of a buffer that still has a live common-buffer mapping (unmap it first).
    BufferStillMapped {
        /// Base of the buffer (bytes, physical).
        address: u64,
        /// A live mapping inside it.
        token: MapToken,
    },
    /// [`crate::Dma::check_released`]: the owner still holds mappings or common buffers.
    OwnerStillHolds {
        /// The owner tag (controller handle).
        owner: u64,
        /// Its live mappings.
        mappings: usize,
        /// Its live common buffers.
        buffers: usize,
    },
    /// The 64-bit token counter is exhausted (not reachable in practice).
    TokensExhausted,
    /// The heap could not grow the tracking list (nothing was mapped or allocated).
    TrackingOutOfMemory,
    /// [`crate::DmaMemory::allocate_pages`] failed with this status.
    AllocatePages(Status),
    /// [`crate::DmaMemory::free_pages`] failed with this status (the mapping or buffer is gone; its pages leak).
    FreePages(Status),
    /// [`crate::DmaMemory::allocate_pages`] returned pages above 4 GiB although asked for pages below (they were freed).
    PagesAbove4GiB {
        /// Base the memory returned (bytes, physical).
        address: u64,
        /// Pages returned.
        pages: usize,
    },
    /// A mutating call after [`crate::Dma::release_all_at_exit`]: boot services are gone.
    AfterExitBootServices,
}

impl DmaError {
    /// The UEFI status for this error, per the status lists of `Map()`, `Unmap()`, `AllocateBuffer()` and
    /// `FreeBuffer()` (UEFI 2.10 section 14.4): bad arguments are `INVALID_PARAMETER`, a common buffer that
    /// cannot be mapped is `UNSUPPORTED`, exhausted resources are `OUT_OF_RESOURCES`, and a failed release is
    /// `DEVICE_ERROR`.
    pub fn status(&self) -> Status {
        match self {
            DmaError::ZeroLength
            | DmaError::ZeroPages
            | DmaError::AddressOverflow { .. }
            | DmaError::UnknownOperation(_)
            | DmaError::UnknownToken(_)
            | DmaError::CommonBufferNotAllocated { .. }
            | DmaError::BufferNotAllocated { .. }
            | DmaError::BufferPagesMismatch { .. }
            | DmaError::BufferStillMapped { .. }
            | DmaError::OwnerStillHolds { .. } => Status::INVALID_PARAMETER,
            DmaError::CommonBufferUnreachable { .. } | DmaError::AfterExitBootServices => {
                Status::UNSUPPORTED
            }
            DmaError::TokensExhausted
            | DmaError::TrackingOutOfMemory
            | DmaError::PagesAbove4GiB { .. } => Status::OUT_OF_RESOURCES,
            DmaError::AllocatePages(status) => {
                if *status == Status::OUT_OF_RESOURCES {
                    Status::OUT_OF_RESOURCES
                } else {
                    Status::DEVICE_ERROR
                }
            }
            DmaError::FreePages(_) => Status::DEVICE_ERROR,
        }
    }
}

impl fmt::Display for DmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmaError::ZeroLength => write!(f, "map of 0 bytes"),
            DmaError::ZeroPages => write!(f, "buffer of 0 pages"),
            DmaError::AddressOverflow { host_address, len } => {
                write!(f, "range {host_address:#x}+{len:#x} overflows 64 bits")
            }
            DmaError::UnknownOperation(raw) => write!(f, "unknown PCI I/O operation {raw}"),
            DmaError::UnknownToken(token) => {
                write!(f, "mapping token {} is not live", token.as_raw())
            }
            DmaError::CommonBufferNotAllocated { host_address, len } => {
                write!(f, "common-buffer map of {host_address:#x}+{len:#x} outside any AllocateBuffer() buffer")
            }
            DmaError::CommonBufferUnreachable { host_address, len } => {
                write!(f, "common buffer {host_address:#x}+{len:#x} is above 4 GiB for a 32-bit operation")
            }
            DmaError::BufferNotAllocated { address } => {
                write!(f, "no common buffer at {address:#x}")
            }
            DmaError::BufferPagesMismatch {
                address,
                allocated,
                given,
            } => {
                write!(
                    f,
                    "common buffer {address:#x} has {allocated} pages, free of {given}"
                )
            }
            DmaError::BufferStillMapped { address, token } => {
                write!(
                    f,
                    "common buffer {address:#x} still mapped by token {}",
                    token.as_raw()
                )
            }
            DmaError::OwnerStillHolds {
                owner,
                mappings,
                buffers,
            } => {
                write!(
                    f,
                    "owner {owner:#x} still holds {mappings} mappings and {buffers} common buffers"
                )
            }
            DmaError::TokensExhausted => write!(f, "mapping tokens exhausted"),
            DmaError::TrackingOutOfMemory => {
                write!(f, "heap exhausted while growing the mapping list")
            }
            DmaError::AllocatePages(status) => {
                write!(f, "allocating pages failed: {:#x}", status.as_usize())
            }
            DmaError::FreePages(status) => {
                write!(f, "freeing pages failed: {:#x}", status.as_usize())
            }
            DmaError::PagesAbove4GiB { address, pages } => {
                write!(
                    f,
                    "pages {address:#x} ({pages} pages) asked below 4 GiB end above it"
                )
            }
            DmaError::AfterExitBootServices => write!(f, "DMA call after ExitBootServices"),
        }
    }
}

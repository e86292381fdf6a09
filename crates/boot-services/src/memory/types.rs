//! Plain types of the memory services: page arithmetic, memory-type classes, `EFI_ALLOCATE_TYPE`, ranges and
//! the firmware-facing error enum (UEFI 2.10 section 7.2).

use r_efi::efi;

use crate::{Result, Status};

/// `EFI_PAGE_SIZE`: the unit of the memory map and of `AllocatePages()`, 4 KiB (UEFI 2.10 section 7.2).
pub const PAGE_SIZE: u64 = 4096;

/// `EfiMaxMemoryType` in UEFI 2.10 (one past `EfiUnacceptedMemoryType`); `EfiMaxMemoryType..=0x6FFF_FFFF` is
/// reserved and invalid for allocations.
pub const MAX_MEMORY_TYPE: u32 = 0x10;

/// First memory type of the range reserved for OEM use (`0x7000_0000..=0x7FFF_FFFF`).
pub const OEM_MEMORY_TYPE_START: u32 = 0x7000_0000;

/// First memory type of the range reserved for OS loaders and OSes (`0x8000_0000..=0xFFFF_FFFF`).
pub const OS_MEMORY_TYPE_START: u32 = 0x8000_0000;

/// Runtime allocation granularity on x86_64, in pages: 4 KiB. UEFI 2.10 section 2.3.4 (x64 platforms) asks for
/// nothing coarser than the page.
pub const X64_RUNTIME_GRANULARITY_PAGES: u64 = 1;

/// Runtime allocation granularity on AArch64, in pages: 64 KiB. UEFI 2.10 section 2.3.6 requires that any 64 KiB
/// page holding `EfiRuntimeServicesCode`/`Data`, `EfiReservedMemoryType` or `EfiACPIMemoryNVS` is uniformly typed,
/// so that an OS running with 64 KiB pages can map it.
pub const AARCH64_RUNTIME_GRANULARITY_PAGES: u64 = 16;

/// Exclusive end of `pages` pages starting at byte address `base`, or `None` if it does not fit in 64 bits.
pub fn page_end(base: u64, pages: u64) -> Option<u64> {
    pages
        .checked_mul(PAGE_SIZE)
        .and_then(|len| base.checked_add(len))
}

/// Whether `memory_type` may be passed to `AllocatePages()`/`AllocatePool()`.
///
/// Invalid (UEFI 2.10 section 7.2 lists the first three; `EfiConventionalMemory` is free memory itself, so
/// "allocating" it would be a no-op that the caller could never free): `EfiConventionalMemory`,
/// `EfiPersistentMemory`, `EfiUnacceptedMemoryType`, and `EfiMaxMemoryType..=0x6FFF_FFFF`. OEM and OS ranges
/// (`0x7000_0000..=0xFFFF_FFFF`) are valid and kept apart as their own types.
pub fn is_allocatable_type(memory_type: u32) -> bool {
    match memory_type {
        efi::CONVENTIONAL_MEMORY | efi::PERSISTENT_MEMORY | efi::UNACCEPTED_MEMORY_TYPE => false,
        t if t < MAX_MEMORY_TYPE => true,
        t => t >= OEM_MEMORY_TYPE_START,
    }
}

/// Whether `memory_type` is subject to the runtime allocation granularity (UEFI 2.10 section 2.3.6):
/// `EfiReservedMemoryType`, `EfiRuntimeServicesCode`, `EfiRuntimeServicesData`, `EfiACPIMemoryNVS`.
pub fn is_runtime_granular_type(memory_type: u32) -> bool {
    matches!(
        memory_type,
        efi::RESERVED_MEMORY_TYPE
            | efi::RUNTIME_SERVICES_CODE
            | efi::RUNTIME_SERVICES_DATA
            | efi::ACPI_MEMORY_NVS
    )
}

/// Whether allocations of `memory_type` get `EFI_MEMORY_RUNTIME` (the OS must map them for
/// `SetVirtualAddressMap()`): `EfiRuntimeServicesCode` and `EfiRuntimeServicesData`.
pub fn gets_runtime_attribute(memory_type: u32) -> bool {
    matches!(
        memory_type,
        efi::RUNTIME_SERVICES_CODE | efi::RUNTIME_SERVICES_DATA
    )
}

/// `EFI_ALLOCATE_TYPE` with its `Memory` argument (UEFI 2.10 section 7.2, `AllocatePages()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocateType {
    /// `AllocateAnyPages`: any free range (policy: see the module documentation).
    AnyPages,
    /// `AllocateMaxAddress`: any free range whose last byte is at or below this byte address.
    MaxAddress(u64),
    /// `AllocateAddress`: exactly the range starting at this page-aligned byte address.
    Address(u64),
}

impl AllocateType {
    /// Decodes the raw `Type` and `*Memory` arguments of `AllocatePages()`.
    ///
    /// Errors: `INVALID_PARAMETER` if `raw` is not `AllocateAnyPages` (0), `AllocateMaxAddress` (1) or
    /// `AllocateAddress` (2).
    pub fn from_raw(raw: efi::AllocateType, memory: u64) -> Result<Self> {
        match raw {
            efi::ALLOCATE_ANY_PAGES => Ok(AllocateType::AnyPages),
            efi::ALLOCATE_MAX_ADDRESS => Ok(AllocateType::MaxAddress(memory)),
            efi::ALLOCATE_ADDRESS => Ok(AllocateType::Address(memory)),
            _ => Err(Status::INVALID_PARAMETER),
        }
    }
}

/// One range of the memory map: `pages` 4 KiB pages from byte address `base`, with a UEFI memory type
/// (`EFI_MEMORY_TYPE`, raw `u32` so OEM/OS values survive) and `EFI_MEMORY_*` attribute bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryRange {
    /// Page-aligned byte address of the first page (`PhysicalStart`).
    pub base: u64,
    /// Number of 4 KiB pages (`NumberOfPages`), at least 1.
    pub pages: u64,
    /// `EFI_MEMORY_TYPE` (`Type`).
    pub memory_type: u32,
    /// `EFI_MEMORY_*` bits (`Attribute`), e.g. `EFI_MEMORY_WB | EFI_MEMORY_RUNTIME`.
    pub attribute: u64,
}

impl MemoryRange {
    /// Exclusive end byte address. Ranges in a map never overflow 64 bits.
    pub fn end(&self) -> u64 {
        self.base + self.pages * PAGE_SIZE
    }

    /// The range as a UEFI 2.10 `EFI_MEMORY_DESCRIPTOR` (`VirtualStart` is 0 during boot services).
    pub fn to_descriptor(&self) -> efi::MemoryDescriptor {
        efi::MemoryDescriptor {
            r#type: self.memory_type,
            physical_start: self.base,
            virtual_start: 0,
            number_of_pages: self.pages,
            attribute: self.attribute,
        }
    }
}

/// Why the firmware's own map-building call ([`super::MemoryMap::add_range`] and friends) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// `base` is not a multiple of 4 KiB.
    MisalignedBase {
        /// The offending byte address.
        base: u64,
    },
    /// A range of zero pages was given.
    ZeroPages,
    /// `base + pages * 4 KiB` does not fit in 64 bits.
    AddressOverflow,
    /// The new range overlaps a range already in the map.
    Overlap {
        /// Byte address of the new range.
        base: u64,
    },
    /// Some page of the range is not `EfiConventionalMemory` (so it cannot be reserved), or is not in the map.
    NotConventional {
        /// Byte address of the requested range.
        base: u64,
    },
    /// `EfiConventionalMemory` was given `EFI_MEMORY_RUNTIME`, which free memory never has.
    RuntimeConventional,
    /// The type cannot be reserved out of free memory (`EfiConventionalMemory` itself).
    ConventionalReservation,
    /// The map is locked for the ExitBootServices handoff and can no longer change.
    Locked,
}

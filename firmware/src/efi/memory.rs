//! Memory allocation services (UEFI 2.10 section 7.2): the ABI shell over `boot_services::memory`, and the
//! construction of the UEFI memory map from the bring-up map.
//!
//! Bring-up kinds map to UEFI types as follows: free RAM is `EfiConventionalMemory`; the firmware image is
//! `EfiRuntimeServicesCode` (runtime services run from it, so the OS must keep it); page tables, stack and heaps
//! are `EfiBootServicesData`; the table arena is `EfiACPIMemoryNVS` (it holds the FACS); the legacy hole, e820
//! reserved ranges and the q35 ECAM window are `EfiReservedMemoryType` (so the OS sees ECAM reserved, as the
//! PCI firmware spec asks for MMCONFIG).

use core::ffi::c_void;

use boot_services::event::group;
use boot_services::exit::HandoffMemory;
use boot_services::memory::{AllocateType, MemoryMap};
use qemu::e820::MemoryKind;
use r_efi::efi::{self, Status};

use super::state::{events, MEMORY};
use super::{status, write_out};
use crate::platform::memory::Memory;

const PAGE: u64 = 4096;
/// Cacheability attributes every RAM range supports.
const RAM_ATTRIBUTES: u64 = efi::MEMORY_UC | efi::MEMORY_WC | efi::MEMORY_WT | efi::MEMORY_WB;

fn uefi_type(kind: MemoryKind) -> (u32, u64) {
    match kind {
        MemoryKind::Ram => (efi::CONVENTIONAL_MEMORY, RAM_ATTRIBUTES),
        MemoryKind::FirmwareImage => (
            efi::RUNTIME_SERVICES_CODE,
            RAM_ATTRIBUTES | efi::MEMORY_RUNTIME,
        ),
        MemoryKind::FirmwareHeap | MemoryKind::FirmwareStack | MemoryKind::PageTables => {
            (efi::BOOT_SERVICES_DATA, RAM_ATTRIBUTES)
        }
        MemoryKind::AcpiReclaimable => (efi::ACPI_RECLAIM_MEMORY, RAM_ATTRIBUTES),
        MemoryKind::AcpiNvs => (efi::ACPI_MEMORY_NVS, RAM_ATTRIBUTES),
        MemoryKind::Reserved | MemoryKind::PciEcam => (efi::RESERVED_MEMORY_TYPE, efi::MEMORY_UC),
        MemoryKind::Unusable => (efi::UNUSABLE_MEMORY, 0),
    }
}

/// Builds the UEFI memory map from the bring-up map (page-granular: partial pages at the edges of free RAM are
/// left out, partial pages of firmware ranges are rounded out).
pub fn init(memory: &Memory) {
    let mut map = MemoryMap::new();
    for range in memory.ranges.iter() {
        let (memory_type, attributes) = uefi_type(range.kind);
        let (start, end) = if range.kind == MemoryKind::Ram {
            (range.start.div_ceil(PAGE) * PAGE, range.end / PAGE * PAGE)
        } else {
            (range.start / PAGE * PAGE, range.end.div_ceil(PAGE) * PAGE)
        };
        if end <= start {
            continue;
        }
        if let Err(e) = map.add_range(start, (end - start) / PAGE, memory_type, attributes) {
            log::error!(target: "efi::memory", "memory map: {start:#x}..{end:#x} ({:?}) not added: {e:?}", range.kind);
        }
    }
    MEMORY.with(|m| *m = Some(map));
}

/// Runs `f` on the memory map, then signals `EFI_EVENT_GROUP_MEMORY_MAP_CHANGE` if the map changed.
pub fn with_map<R>(f: impl FnOnce(&mut MemoryMap) -> Result<R, Status>) -> Result<R, Status> {
    let (result, changed) = MEMORY.with(|m| match m.as_mut() {
        Some(map) => {
            let r = f(map);
            (r, map.take_changed())
        }
        None => (Err(Status::NOT_READY), false),
    });
    if changed {
        let _ = events().signal_group(&group::MEMORY_MAP_CHANGE);
    }
    result
}

/// The memory map as the ExitBootServices phases see it (locks per call).
pub struct Handoff;

impl HandoffMemory for Handoff {
    fn map_key(&self) -> usize {
        MEMORY.with(|m| m.as_ref().map_or(0, |map| map.map_key()))
    }
    fn lock(&self) {
        MEMORY.with(|m| m.as_mut().map(|map| map.lock("ExitBootServices")));
    }
    fn set_context(&self, who: Option<&str>) {
        MEMORY.with(|m| {
            if let Some(map) = m.as_mut() {
                match who {
                    Some(who) => map.set_context(who),
                    None => map.clear_context(),
                }
            }
        });
    }
}

pub extern "efiapi" fn allocate_pages(
    kind: efi::AllocateType,
    memory_type: efi::MemoryType,
    pages: usize,
    memory: *mut efi::PhysicalAddress,
) -> Status {
    if memory.is_null() || !memory.is_aligned() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: non-null and aligned; for AllocateAddress/MaxAddress it is an IN/OUT EFI_PHYSICAL_ADDRESS.
    let requested = unsafe { memory.read() };
    let result = AllocateType::from_raw(kind, requested)
        .and_then(|kind| with_map(|map| map.allocate_pages(kind, memory_type, pages as u64)));
    match result {
        // SAFETY: as above.
        Ok(address) => status(unsafe { write_out(memory, address) }),
        Err(e) => e,
    }
}

pub extern "efiapi" fn free_pages(memory: efi::PhysicalAddress, pages: usize) -> Status {
    status(with_map(|map| map.free_pages(memory, pages as u64)))
}

pub extern "efiapi" fn get_memory_map(
    size: *mut usize,
    buffer: *mut efi::MemoryDescriptor,
    map_key: *mut usize,
    descriptor_size: *mut usize,
    descriptor_version: *mut u32,
) -> Status {
    if size.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: `size` is non-null: an IN/OUT UINTN (GetMemoryMap contract).
    let buffer_size = unsafe { size.read_unaligned() };
    let snapshot = MEMORY.with(|m| m.as_ref().map(|map| map.get_memory_map(buffer_size)));
    let snapshot = match snapshot {
        None => return Status::NOT_READY,
        Some(Err(too_small)) => {
            // SAFETY: as above.
            unsafe { size.write_unaligned(too_small.needed) };
            if !descriptor_size.is_null() {
                // SAFETY: non-null OUT UINTN.
                unsafe { descriptor_size.write_unaligned(boot_services::memory::DESCRIPTOR_SIZE) };
            }
            return Status::BUFFER_TOO_SMALL;
        }
        Some(Ok(snapshot)) => snapshot,
    };
    if buffer.is_null()
        || map_key.is_null()
        || descriptor_size.is_null()
        || descriptor_version.is_null()
    {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the caller owns `buffer_size` bytes at `buffer` (GetMemoryMap contract); the snapshot fits them.
    let out = unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, buffer_size) };
    match snapshot.write_to(out) {
        Ok(written) => {
            // SAFETY: all four OUT pointers are non-null (checked above) and point at caller storage.
            unsafe {
                size.write_unaligned(written);
                map_key.write_unaligned(snapshot.map_key);
                descriptor_size.write_unaligned(snapshot.descriptor_size);
                descriptor_version.write_unaligned(snapshot.descriptor_version);
            }
            Status::SUCCESS
        }
        Err(e) => e,
    }
}

pub extern "efiapi" fn allocate_pool(
    memory_type: efi::MemoryType,
    size: usize,
    buffer: *mut *mut c_void,
) -> Status {
    if buffer.is_null() {
        return Status::INVALID_PARAMETER;
    }
    match with_map(|map| map.allocate_pool(memory_type, size)) {
        // SAFETY: `buffer` is non-null: an OUT VOID** (AllocatePool contract).
        Ok(address) => status(unsafe { write_out(buffer, address as *mut c_void) }),
        Err(e) => e,
    }
}

pub extern "efiapi" fn free_pool(buffer: *mut c_void) -> Status {
    if buffer.is_null() {
        return Status::INVALID_PARAMETER;
    }
    status(with_map(|map| map.free_pool(buffer as u64)))
}

/// Allocates pool memory for the firmware's own use (tables handed to images), as `memory_type`.
pub fn allocate_zeroed(memory_type: u32, size: usize) -> Result<*mut u8, Status> {
    let address = with_map(|map| map.allocate_pool(memory_type, size))?;
    // SAFETY: the engine just handed out `size` bytes of identity-mapped RAM at `address`.
    unsafe { core::ptr::write_bytes(address as *mut u8, 0, size) };
    Ok(address as *mut u8)
}

//! Building and reading the map: `add_range`, `reserve_range`, merging, queries, `GetMemoryMap()`.

use alloc::vec;

use r_efi::efi;

use super::*;
use crate::memory::{AllocateType, MapError, DESCRIPTOR_SIZE};
use crate::Status;

#[test]
fn add_range_rejects_overlap() {
    let mut m = qemu();
    let key = m.map_key();
    assert_eq!(
        m.add_range(MIB + 4 * PAGE_SIZE, 1, efi::RESERVED_MEMORY_TYPE, 0),
        Err(MapError::Overlap {
            base: MIB + 4 * PAGE_SIZE
        })
    );
    // Starts in the hole, ends inside the main RAM range.
    assert_eq!(
        m.add_range(MIB - PAGE_SIZE, 2, efi::RESERVED_MEMORY_TYPE, 0),
        Err(MapError::Overlap {
            base: MIB - PAGE_SIZE
        })
    );
    assert_eq!(m.map_key(), key);
    // Exactly filling the hole is fine.
    m.add_range(
        0xA0000,
        (MIB - 0xA0000) / PAGE_SIZE,
        efi::RESERVED_MEMORY_TYPE,
        0,
    )
    .unwrap();
}

#[test]
fn add_range_rejects_misaligned_zero_and_overflowing() {
    let mut m = MemoryMap::new();
    assert_eq!(
        m.add_range(0x1001, 1, efi::CONVENTIONAL_MEMORY, 0),
        Err(MapError::MisalignedBase { base: 0x1001 })
    );
    assert_eq!(
        m.add_range(0x1000, 0, efi::CONVENTIONAL_MEMORY, 0),
        Err(MapError::ZeroPages)
    );
    assert_eq!(
        m.add_range(u64::MAX - 0xFFF, 1, efi::CONVENTIONAL_MEMORY, 0),
        Err(MapError::AddressOverflow)
    );
    assert_eq!(
        m.add_range(0, u64::MAX / 2, efi::CONVENTIONAL_MEMORY, 0),
        Err(MapError::AddressOverflow)
    );
    assert_eq!(m.total_pages(), 0);
}

#[test]
fn add_range_rejects_runtime_conventional() {
    let mut m = MemoryMap::new();
    assert_eq!(
        m.add_range(
            0,
            1,
            efi::CONVENTIONAL_MEMORY,
            efi::MEMORY_WB | efi::MEMORY_RUNTIME
        ),
        Err(MapError::RuntimeConventional)
    );
}

#[test]
fn adjacent_equal_descriptors_are_merged() {
    let mut m = MemoryMap::new();
    m.add_range(8 * PAGE_SIZE, 4, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    m.add_range(0, 4, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    // Fills the gap: all three become one descriptor.
    m.add_range(4 * PAGE_SIZE, 4, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    assert_eq!(
        ranges(&m),
        vec![MemoryRange {
            base: 0,
            pages: 12,
            memory_type: efi::CONVENTIONAL_MEMORY,
            attribute: RAM_ATTR
        }]
    );
    // Allocating in the middle splits it, freeing merges it back.
    let a = m
        .allocate_pages(AllocateType::Address(4 * PAGE_SIZE), efi::LOADER_DATA, 2)
        .unwrap();
    assert_eq!(ranges(&m).len(), 3);
    m.free_pages(a, 2).unwrap();
    assert_eq!(ranges(&m).len(), 1);
}

#[test]
fn descriptors_with_different_attributes_or_gaps_stay_apart() {
    let mut m = MemoryMap::new();
    m.add_range(0, 4, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    m.add_range(4 * PAGE_SIZE, 4, efi::CONVENTIONAL_MEMORY, efi::MEMORY_UC)
        .unwrap();
    m.add_range(9 * PAGE_SIZE, 4, efi::CONVENTIONAL_MEMORY, efi::MEMORY_UC)
        .unwrap();
    assert_eq!(ranges(&m).len(), 3);
    assert_invariants(&m, 12);
}

#[test]
fn oem_and_os_memory_types_are_kept_apart() {
    let mut m = MemoryMap::new();
    m.add_range(0, 1, 0x7000_0000, 0).unwrap();
    m.add_range(PAGE_SIZE, 1, 0x7FFF_FFFF, 0).unwrap();
    m.add_range(2 * PAGE_SIZE, 1, 0x8000_0000, 0).unwrap();
    m.add_range(3 * PAGE_SIZE, 1, 0xFFFF_FFFF, 0).unwrap();
    let types: alloc::vec::Vec<u32> = m.ranges().map(|r| r.memory_type).collect();
    assert_eq!(
        types,
        vec![0x7000_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
    );
    assert_eq!(m.memory_type_at(2 * PAGE_SIZE + 5), Some(0x8000_0000));
}

#[test]
fn memory_type_at_reports_type_or_none() {
    let m = qemu();
    assert_eq!(m.memory_type_at(0), Some(efi::CONVENTIONAL_MEMORY));
    assert_eq!(m.memory_type_at(0x9FFFF), Some(efi::CONVENTIONAL_MEMORY));
    assert_eq!(m.memory_type_at(0xA0000), None);
    assert_eq!(m.memory_type_at(MIB), Some(efi::BOOT_SERVICES_CODE));
    assert_eq!(
        m.memory_type_at(MIB + FW_IMAGE_PAGES * PAGE_SIZE),
        Some(efi::CONVENTIONAL_MEMORY)
    );
    assert_eq!(
        m.memory_type_at(FLASH_BASE + 17),
        Some(efi::MEMORY_MAPPED_IO)
    );
    assert_eq!(m.memory_type_at(u64::MAX), None);
}

#[test]
fn runtime_mmio_has_runtime_attribute() {
    let m = qemu();
    let r = m.range_at(FLASH_BASE).unwrap();
    assert_eq!(r.memory_type, efi::MEMORY_MAPPED_IO);
    assert_eq!(r.attribute, efi::MEMORY_UC | efi::MEMORY_RUNTIME);
}

#[test]
fn reserve_range_retypes_free_pages_and_is_not_freeable() {
    let mut m = qemu();
    let heap = m.find_free_range(256, None).unwrap();
    m.reserve_range(heap, 256, efi::BOOT_SERVICES_DATA).unwrap();
    assert_eq!(m.memory_type_at(heap), Some(efi::BOOT_SERVICES_DATA));
    assert_eq!(m.range_at(heap).unwrap().attribute, RAM_ATTR);
    assert_eq!(m.free_pages(heap, 256), Err(Status::NOT_FOUND));
    // Runtime data reservations get EFI_MEMORY_RUNTIME.
    m.reserve_range(0x1000, 1, efi::RUNTIME_SERVICES_DATA)
        .unwrap();
    assert_eq!(
        m.range_at(0x1000).unwrap().attribute,
        RAM_ATTR | efi::MEMORY_RUNTIME
    );
}

#[test]
fn reserve_range_rejects_non_free_and_conventional() {
    let mut m = qemu();
    assert_eq!(
        m.reserve_range(MIB, 1, efi::BOOT_SERVICES_DATA),
        Err(MapError::NotConventional { base: MIB })
    );
    assert_eq!(
        m.reserve_range(0x9F000, 2, efi::BOOT_SERVICES_DATA),
        Err(MapError::NotConventional { base: 0x9F000 })
    );
    assert_eq!(
        m.reserve_range(0, 1, efi::CONVENTIONAL_MEMORY),
        Err(MapError::ConventionalReservation)
    );
    assert_eq!(
        m.reserve_range(0x10, 1, efi::BOOT_SERVICES_DATA),
        Err(MapError::MisalignedBase { base: 0x10 })
    );
}

#[test]
fn find_free_range_prefers_top_of_low_memory() {
    let m = qemu();
    assert_eq!(m.find_free_range(16, None), Some(64 * MIB - 16 * PAGE_SIZE));
    assert_eq!(
        m.find_free_range(16, Some(0x9FFFF)),
        Some(0xA0000 - 16 * PAGE_SIZE)
    );
    assert_eq!(m.find_free_range(0, None), None);
}

#[test]
fn pages_by_type_and_total_describe_the_inventory() {
    let m = qemu();
    let totals = m.pages_by_type();
    let main = (64 * MIB - MIB) / PAGE_SIZE;
    assert_eq!(
        totals.get(&efi::CONVENTIONAL_MEMORY),
        Some(&(160 + main - FW_IMAGE_PAGES + 2048))
    );
    assert_eq!(totals.get(&efi::BOOT_SERVICES_CODE), Some(&FW_IMAGE_PAGES));
    assert_eq!(totals.get(&efi::MEMORY_MAPPED_IO), Some(&1024));
    assert_eq!(totals.len(), 3);
    assert_eq!(m.total_pages(), 160 + main + 1024 + 2048);
    assert_eq!(m.free_ranges().count(), 3);
}

#[test]
fn get_memory_map_too_small_reports_needed_size() {
    let m = qemu();
    let needed = 5 * DESCRIPTOR_SIZE;
    let err = m.get_memory_map(needed - 1).unwrap_err();
    assert_eq!(err.needed, needed);
    assert_eq!(err.status(), Status::BUFFER_TOO_SMALL);
    assert_eq!(m.get_memory_map(0).unwrap_err().needed, needed);
    assert_eq!(m.get_memory_map(needed).unwrap().map_size(), needed);
}

#[test]
fn get_memory_map_reports_version_1_and_descriptor_size_48() {
    let m = qemu();
    let snap = m.get_memory_map(usize::MAX).unwrap();
    assert_eq!(snap.descriptor_version, 1);
    assert_eq!(snap.descriptor_size, 48);
    assert!(snap.descriptor_size > core::mem::size_of::<efi::MemoryDescriptor>());
    assert_eq!(snap.map_key, m.map_key());
}

#[test]
fn get_memory_map_is_sorted_by_address() {
    let m = qemu();
    let snap = m.get_memory_map(usize::MAX).unwrap();
    let starts: alloc::vec::Vec<u64> = snap.descriptors.iter().map(|d| d.physical_start).collect();
    assert_eq!(
        starts,
        vec![
            0,
            MIB,
            MIB + FW_IMAGE_PAGES * PAGE_SIZE,
            FLASH_BASE,
            4 * GIB
        ]
    );
    assert!(snap.descriptors.iter().all(|d| d.virtual_start == 0));
}

#[test]
fn get_memory_map_bytes_use_descriptor_stride() {
    let m = qemu();
    let snap = m.get_memory_map(usize::MAX).unwrap();
    let bytes = snap.to_bytes();
    assert_eq!(bytes.len(), 5 * 48);
    let entry = &bytes[3 * 48..4 * 48];
    assert_eq!(
        u32::from_le_bytes(entry[0..4].try_into().unwrap()),
        efi::MEMORY_MAPPED_IO
    );
    assert_eq!(&entry[4..8], &[0; 4]);
    assert_eq!(
        u64::from_le_bytes(entry[8..16].try_into().unwrap()),
        FLASH_BASE
    );
    assert_eq!(u64::from_le_bytes(entry[16..24].try_into().unwrap()), 0);
    assert_eq!(u64::from_le_bytes(entry[24..32].try_into().unwrap()), 1024);
    assert_eq!(
        u64::from_le_bytes(entry[32..40].try_into().unwrap()),
        efi::MEMORY_UC | efi::MEMORY_RUNTIME
    );
    assert_eq!(&entry[40..48], &[0; 8]);
}

#[test]
fn write_to_short_buffer_is_buffer_too_small_and_writes_nothing() {
    let snap = qemu().get_memory_map(usize::MAX).unwrap();
    let mut buf = vec![0xAAu8; snap.map_size() - 1];
    assert_eq!(snap.write_to(&mut buf), Err(Status::BUFFER_TOO_SMALL));
    assert!(buf.iter().all(|&b| b == 0xAA));
    let mut big = vec![0xAAu8; snap.map_size() + 8];
    assert_eq!(snap.write_to(&mut big), Ok(snap.map_size()));
    assert_eq!(&big[snap.map_size()..], &[0xAA; 8]);
}

#[test]
fn reading_the_map_keeps_map_key() {
    let mut m = qemu();
    m.take_changed();
    let key = m.map_key();
    let _ = m.get_memory_map(0);
    let _ = m.get_memory_map(usize::MAX);
    let _ = m.memory_type_at(MIB);
    let _ = m.pages_by_type();
    let _ = m.find_free_range(4, None);
    assert_eq!(m.map_key(), key);
    assert!(!m.take_changed());
}

#[test]
fn take_changed_reports_each_change_once() {
    let mut m = MemoryMap::new();
    assert!(!m.take_changed());
    m.add_range(0, 64, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    assert!(m.take_changed());
    assert!(!m.take_changed());
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 1)
        .unwrap();
    assert!(m.take_changed());
    assert_eq!(
        m.allocate_pages(AllocateType::Address(a), efi::LOADER_DATA, 1),
        Err(Status::NOT_FOUND)
    );
    assert!(!m.take_changed());
    m.free_pages(a, 1).unwrap();
    assert!(m.take_changed());
}

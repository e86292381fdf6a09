//! `AllocatePages()` and `FreePages()` rules.

use r_efi::efi;

use super::*;
use crate::memory::{AllocateType, MAX_MEMORY_TYPE};
use crate::Status;

#[test]
fn allocate_pages_any_pages_is_top_down_below_4gib() {
    let mut m = qemu();
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 3)
        .unwrap();
    assert_eq!(a, 64 * MIB - 3 * PAGE_SIZE);
    let b = m
        .allocate_pages(AllocateType::AnyPages, efi::BOOT_SERVICES_DATA, 1)
        .unwrap();
    assert_eq!(b, a - PAGE_SIZE);
    assert_eq!(m.memory_type_at(a), Some(efi::LOADER_DATA));
    assert_eq!(m.memory_type_at(b), Some(efi::BOOT_SERVICES_DATA));
}

#[test]
fn allocate_pages_any_pages_falls_back_above_4gib() {
    let mut m = platform(RuntimeGranularity::X64, 2 * MIB, 2048);
    // Low memory holds at most 160 and 192 contiguous pages; 1000 only fit above 4 GiB.
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 1000)
        .unwrap();
    assert_eq!(a, 4 * GIB + (2048 - 1000) * PAGE_SIZE);
}

#[test]
fn allocate_pages_max_address_stays_at_or_below_limit() {
    let mut m = qemu();
    let a = m
        .allocate_pages(AllocateType::MaxAddress(0x9FFFF), efi::LOADER_CODE, 2)
        .unwrap();
    assert_eq!(a, 0xA0000 - 2 * PAGE_SIZE);
    // A limit that is not page aligned: the last byte of the allocation must be <= the limit.
    let b = m
        .allocate_pages(AllocateType::MaxAddress(0x5800), efi::LOADER_CODE, 1)
        .unwrap();
    assert_eq!(b, 0x4000);
    // MaxAddress above 4 GiB searches top-down from the limit, including high memory.
    let c = m
        .allocate_pages(AllocateType::MaxAddress(u64::MAX), efi::LOADER_CODE, 1)
        .unwrap();
    assert_eq!(c, 4 * GIB + 2047 * PAGE_SIZE);
}

#[test]
fn allocate_pages_max_address_too_low_is_out_of_resources() {
    let mut m = qemu();
    // Only page 0 lies below 0x1FFF... and page 0 is never handed out by a search.
    assert_eq!(
        m.allocate_pages(AllocateType::MaxAddress(0x1FFE), efi::LOADER_DATA, 1),
        Err(Status::OUT_OF_RESOURCES)
    );
    assert_eq!(
        m.allocate_pages(AllocateType::MaxAddress(0x1FFF), efi::LOADER_DATA, 1),
        Ok(0x1000)
    );
}

#[test]
fn allocate_pages_address_returns_exactly_that_range() {
    let mut m = qemu();
    let base = 8 * MIB;
    assert_eq!(
        m.allocate_pages(AllocateType::Address(base), efi::LOADER_CODE, 16),
        Ok(base)
    );
    let r = m.range_at(base).unwrap();
    assert_eq!(
        (r.base, r.pages, r.memory_type, r.attribute),
        (base, 16, efi::LOADER_CODE, RAM_ATTR)
    );
}

#[test]
fn allocate_pages_address_zero_is_allowed_but_searches_skip_page_0() {
    let mut m = MemoryMap::new();
    m.add_range(0, 1, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    assert_eq!(
        m.allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 1),
        Err(Status::OUT_OF_RESOURCES)
    );
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0), efi::LOADER_DATA, 1),
        Ok(0)
    );
}

#[test]
fn allocate_pages_address_not_free_is_not_found() {
    let mut m = qemu();
    let key = m.map_key();
    // The firmware image, the MMIO range, the hole, and a range straddling RAM and the hole.
    assert_eq!(
        m.allocate_pages(AllocateType::Address(MIB), efi::LOADER_DATA, 1),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        m.allocate_pages(AllocateType::Address(FLASH_BASE), efi::LOADER_DATA, 1),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0xB0000), efi::LOADER_DATA, 1),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0x9F000), efi::LOADER_DATA, 2),
        Err(Status::NOT_FOUND)
    );
    // Beyond the end of the address space.
    assert_eq!(
        m.allocate_pages(AllocateType::Address(u64::MAX - 0xFFF), efi::LOADER_DATA, 2),
        Err(Status::NOT_FOUND)
    );
    // Already allocated.
    m.allocate_pages(AllocateType::Address(0x10000), efi::LOADER_DATA, 4)
        .unwrap();
    let key2 = m.map_key();
    assert_ne!(key, key2);
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0x12000), efi::LOADER_DATA, 4),
        Err(Status::NOT_FOUND)
    );
    assert_eq!(m.map_key(), key2);
}

#[test]
fn allocate_pages_misaligned_address_is_invalid_parameter() {
    let mut m = qemu();
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0x10010), efi::LOADER_DATA, 1),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn allocate_pages_invalid_memory_types_are_invalid_parameter() {
    let mut m = qemu();
    for t in [
        efi::CONVENTIONAL_MEMORY,
        efi::PERSISTENT_MEMORY,
        efi::UNACCEPTED_MEMORY_TYPE,
        MAX_MEMORY_TYPE,
        0x1234,
        0x6FFF_FFFF,
    ] {
        assert_eq!(
            m.allocate_pages(AllocateType::AnyPages, t, 1),
            Err(Status::INVALID_PARAMETER),
            "type {t:#x}"
        );
    }
    for t in [
        efi::RESERVED_MEMORY_TYPE,
        efi::MEMORY_MAPPED_IO,
        efi::PAL_CODE,
        0x7000_0000,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFFF,
    ] {
        let a = m.allocate_pages(AllocateType::AnyPages, t, 1).unwrap();
        assert_eq!(m.memory_type_at(a), Some(t));
    }
}

#[test]
fn allocate_pages_zero_pages_is_invalid_parameter() {
    let mut m = qemu();
    assert_eq!(
        m.allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 0),
        Err(Status::INVALID_PARAMETER)
    );
}

#[test]
fn allocate_type_from_raw_rejects_unknown_types() {
    assert_eq!(
        AllocateType::from_raw(efi::ALLOCATE_ANY_PAGES, 7),
        Ok(AllocateType::AnyPages)
    );
    assert_eq!(
        AllocateType::from_raw(efi::ALLOCATE_MAX_ADDRESS, 7),
        Ok(AllocateType::MaxAddress(7))
    );
    assert_eq!(
        AllocateType::from_raw(efi::ALLOCATE_ADDRESS, 7),
        Ok(AllocateType::Address(7))
    );
    assert_eq!(AllocateType::from_raw(3, 7), Err(Status::INVALID_PARAMETER));
}

#[test]
fn allocate_pages_out_of_resources() {
    let mut m = qemu();
    let total_free = m.pages_by_type()[&efi::CONVENTIONAL_MEMORY];
    assert_eq!(
        m.allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, total_free),
        Err(Status::OUT_OF_RESOURCES)
    );
    assert_eq!(
        m.allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, u64::MAX),
        Err(Status::OUT_OF_RESOURCES)
    );
}

#[test]
fn runtime_allocations_get_runtime_attribute_and_lose_it_when_freed() {
    let mut m = qemu();
    let initial = ranges(&m);
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::RUNTIME_SERVICES_CODE, 2)
        .unwrap();
    assert_eq!(
        m.range_at(a).unwrap().attribute,
        RAM_ATTR | efi::MEMORY_RUNTIME
    );
    let b = m
        .allocate_pages(AllocateType::AnyPages, efi::ACPI_MEMORY_NVS, 2)
        .unwrap();
    assert_eq!(m.range_at(b).unwrap().attribute, RAM_ATTR);
    m.free_pages(a, 2).unwrap();
    m.free_pages(b, 2).unwrap();
    assert_eq!(ranges(&m), initial);
}

#[test]
fn free_pages_restores_free_memory() {
    let mut m = qemu();
    let initial = ranges(&m);
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 10)
        .unwrap();
    let b = m
        .allocate_pages(AllocateType::Address(0x20000), efi::BOOT_SERVICES_DATA, 3)
        .unwrap();
    m.free_pages(a, 10).unwrap();
    m.free_pages(b, 3).unwrap();
    assert_eq!(ranges(&m), initial);
}

#[test]
fn free_pages_not_allocated_is_not_found() {
    let mut m = qemu();
    let key = m.map_key();
    assert_eq!(
        m.free_pages(0x20000, 1),
        Err(Status::NOT_FOUND),
        "free memory"
    );
    assert_eq!(
        m.free_pages(MIB, 1),
        Err(Status::NOT_FOUND),
        "firmware reservation"
    );
    assert_eq!(m.free_pages(FLASH_BASE, 1), Err(Status::NOT_FOUND), "MMIO");
    assert_eq!(m.free_pages(0xB0000, 1), Err(Status::NOT_FOUND), "hole");
    let a = m
        .allocate_pages(AllocateType::Address(0x20000), efi::LOADER_DATA, 2)
        .unwrap();
    assert_eq!(
        m.free_pages(a, 3),
        Err(Status::NOT_FOUND),
        "runs past the allocation"
    );
    let key2 = m.map_key();
    assert_ne!(key, key2);
    m.free_pages(a, 2).unwrap();
    assert_eq!(m.free_pages(a, 2), Err(Status::NOT_FOUND), "double free");
}

#[test]
fn free_pages_misaligned_or_zero_is_invalid_parameter() {
    let mut m = qemu();
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 2)
        .unwrap();
    assert_eq!(m.free_pages(a + 8, 1), Err(Status::INVALID_PARAMETER));
    assert_eq!(m.free_pages(a, 0), Err(Status::INVALID_PARAMETER));
    assert_eq!(m.free_pages(a, u64::MAX), Err(Status::INVALID_PARAMETER));
    assert_eq!(m.memory_type_at(a), Some(efi::LOADER_DATA));
}

#[test]
fn free_pages_may_trim_part_of_an_allocation() {
    // The loader pattern: over-allocate, then free the unaligned head and the tail.
    let mut m = qemu();
    let initial = ranges(&m);
    let a = m
        .allocate_pages(AllocateType::Address(0x21000), efi::LOADER_DATA, 48)
        .unwrap();
    m.free_pages(a, 15).unwrap();
    m.free_pages(0x40000, 17).unwrap();
    let r = m.range_at(0x30000).unwrap();
    assert_eq!(
        (r.base, r.pages, r.memory_type),
        (0x30000, 16, efi::LOADER_DATA)
    );
    m.free_pages(0x30000, 16).unwrap();
    assert_eq!(ranges(&m), initial);
}

#[test]
fn free_pages_may_span_adjacent_allocations() {
    let mut m = qemu();
    let initial = ranges(&m);
    m.allocate_pages(AllocateType::Address(0x20000), efi::LOADER_DATA, 2)
        .unwrap();
    m.allocate_pages(AllocateType::Address(0x22000), efi::LOADER_CODE, 2)
        .unwrap();
    m.free_pages(0x21000, 2).unwrap();
    assert_eq!(m.memory_type_at(0x20000), Some(efi::LOADER_DATA));
    assert_eq!(m.memory_type_at(0x21000), Some(efi::CONVENTIONAL_MEMORY));
    assert_eq!(m.memory_type_at(0x23000), Some(efi::LOADER_CODE));
    m.free_pages(0x20000, 1).unwrap();
    m.free_pages(0x23000, 1).unwrap();
    assert_eq!(ranges(&m), initial);
}

#[test]
fn map_key_changes_on_allocate_and_free_only() {
    let mut m = qemu();
    let k0 = m.map_key();
    assert!(m
        .allocate_pages(AllocateType::AnyPages, efi::CONVENTIONAL_MEMORY, 1)
        .is_err());
    assert!(m.free_pages(0x20000, 1).is_err());
    let _ = m.get_memory_map(usize::MAX);
    assert_eq!(m.map_key(), k0);
    let a = m
        .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 1)
        .unwrap();
    let k1 = m.map_key();
    assert_ne!(k1, k0);
    let _ = m.memory_type_at(a);
    assert_eq!(m.map_key(), k1);
    m.free_pages(a, 1).unwrap();
    let k2 = m.map_key();
    assert_ne!(k2, k1);
    assert_ne!(k2, k0, "a key must not come back after a change");
}

#[test]
fn x64_runtime_allocations_use_4kib_granularity() {
    let mut m = qemu();
    let a = m
        .allocate_pages(
            AllocateType::Address(0x21000),
            efi::RUNTIME_SERVICES_DATA,
            1,
        )
        .unwrap();
    assert_eq!(m.range_at(a).unwrap().pages, 1);
}

#[test]
fn aarch64_runtime_allocations_use_64kib_granularity() {
    let mut m = platform(RuntimeGranularity::AArch64, 64 * MIB, 0);
    let initial = ranges(&m);
    for t in [
        efi::RUNTIME_SERVICES_CODE,
        efi::RUNTIME_SERVICES_DATA,
        efi::RESERVED_MEMORY_TYPE,
        efi::ACPI_MEMORY_NVS,
    ] {
        let a = m
            .allocate_pages(AllocateType::AnyPages, efi::LOADER_DATA, 1)
            .unwrap();
        let b = m.allocate_pages(AllocateType::AnyPages, t, 1).unwrap();
        assert_eq!(b % (64 * 1024), 0, "type {t:#x}");
        assert_eq!(m.range_at(b).unwrap().pages, 16, "type {t:#x}");
        // Freeing rounds the page count up the same way; a 4 KiB-aligned but not 64 KiB-aligned address is invalid.
        assert_eq!(
            m.free_pages(b + PAGE_SIZE, 1),
            Err(Status::INVALID_PARAMETER)
        );
        m.free_pages(b, 1).unwrap();
        m.free_pages(a, 1).unwrap();
    }
    assert_eq!(ranges(&m), initial);
    assert_eq!(
        m.allocate_pages(
            AllocateType::Address(0x21000),
            efi::RUNTIME_SERVICES_DATA,
            1
        ),
        Err(Status::INVALID_PARAMETER)
    );
    // Boot-time types keep 4 KiB granularity.
    assert_eq!(
        m.allocate_pages(AllocateType::Address(0x21000), efi::BOOT_SERVICES_DATA, 1),
        Ok(0x21000)
    );
    assert_eq!(m.range_at(0x21000).unwrap().pages, 1);
}

#[test]
fn aarch64_free_pages_may_not_cut_into_a_runtime_granule() {
    let mut m = platform(RuntimeGranularity::AArch64, 64 * MIB, 0);
    let rt = m
        .allocate_pages(
            AllocateType::Address(0x40000),
            efi::RUNTIME_SERVICES_DATA,
            16,
        )
        .unwrap();
    let ld = m
        .allocate_pages(AllocateType::Address(0x3F000), efi::LOADER_DATA, 1)
        .unwrap();
    // Starts in the 4 KiB-granular loader page, ends inside the 64 KiB runtime granule.
    assert_eq!(m.free_pages(ld, 2), Err(Status::INVALID_PARAMETER));
    assert_eq!(m.memory_type_at(rt), Some(efi::RUNTIME_SERVICES_DATA));
    // Covering the whole granule is fine.
    m.free_pages(ld, 17).unwrap();
    assert_eq!(m.memory_type_at(rt), Some(efi::CONVENTIONAL_MEMORY));
}

//! `AllocatePool()` and `FreePool()` rules.

use alloc::vec::Vec;

use r_efi::efi;

use super::*;
use crate::memory::{PoolAllocation, POOL_CHUNK_PAGES};
use crate::Status;

#[test]
fn pool_allocations_are_8_byte_aligned_and_disjoint() {
    let mut m = qemu();
    let mut blocks: Vec<(u64, u64)> = Vec::new();
    for size in [1usize, 3, 8, 13, 100, 7, 4095, 4097, 0] {
        let a = m.allocate_pool(efi::BOOT_SERVICES_DATA, size).unwrap();
        assert_eq!(a % 8, 0);
        let cap = m.pool_allocation(a).unwrap().capacity;
        assert!(cap >= size as u64 && cap.is_multiple_of(8) && cap > 0);
        for &(b, bcap) in &blocks {
            assert!(
                a + cap <= b || b + bcap <= a,
                "{a:#x}+{cap} overlaps {b:#x}+{bcap}"
            );
        }
        blocks.push((a, cap));
    }
}

#[test]
fn pool_allocation_within_page_keeps_map_key() {
    let mut m = qemu();
    let first = m.allocate_pool(efi::BOOT_SERVICES_DATA, 64).unwrap();
    let key = m.map_key();
    m.take_changed();
    let second = m.allocate_pool(efi::BOOT_SERVICES_DATA, 64).unwrap();
    assert_eq!(m.map_key(), key);
    assert!(!m.take_changed());
    // Freeing one of two blocks of a chunk keeps the key too.
    m.free_pool(second).unwrap();
    assert_eq!(m.map_key(), key);
    assert!(m.pool_allocation(first).is_some());
}

#[test]
fn pool_allocation_taking_new_pages_changes_map_key() {
    let mut m = qemu();
    let key = m.map_key();
    let a = m.allocate_pool(efi::BOOT_SERVICES_DATA, 64).unwrap();
    assert_ne!(m.map_key(), key);
    assert_eq!(m.memory_type_at(a), Some(efi::BOOT_SERVICES_DATA));
    // Bigger than what is left in the chunk: a new chunk, a new key.
    let key = m.map_key();
    let big = m
        .allocate_pool(
            efi::BOOT_SERVICES_DATA,
            (POOL_CHUNK_PAGES * PAGE_SIZE) as usize,
        )
        .unwrap();
    assert_ne!(m.map_key(), key);
    assert_eq!(m.memory_type_at(big), Some(efi::BOOT_SERVICES_DATA));
}

#[test]
fn pool_types_use_separate_pages() {
    let mut m = qemu();
    let bs = m.allocate_pool(efi::BOOT_SERVICES_DATA, 16).unwrap();
    let ld = m.allocate_pool(efi::LOADER_DATA, 16).unwrap();
    let rt = m.allocate_pool(efi::RUNTIME_SERVICES_DATA, 16).unwrap();
    let os = m.allocate_pool(0x8000_0001, 16).unwrap();
    assert_eq!(m.memory_type_at(bs), Some(efi::BOOT_SERVICES_DATA));
    assert_eq!(m.memory_type_at(ld), Some(efi::LOADER_DATA));
    assert_eq!(m.memory_type_at(rt), Some(efi::RUNTIME_SERVICES_DATA));
    assert_eq!(
        m.range_at(rt).unwrap().attribute & efi::MEMORY_RUNTIME,
        efi::MEMORY_RUNTIME
    );
    assert_eq!(m.memory_type_at(os), Some(0x8000_0001));
}

#[test]
fn pool_remembers_size_and_type() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::LOADER_DATA, 13).unwrap();
    assert_eq!(
        m.pool_allocation(a),
        Some(PoolAllocation {
            memory_type: efi::LOADER_DATA,
            size: 13,
            capacity: 16
        })
    );
    assert_eq!(m.pool_allocations().count(), 1);
}

#[test]
fn free_pool_of_unknown_pointer_is_invalid_parameter() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::BOOT_SERVICES_DATA, 64).unwrap();
    let _keep = m.allocate_pool(efi::BOOT_SERVICES_DATA, 64).unwrap();
    let key = m.map_key();
    assert_eq!(
        m.free_pool(0x20000),
        Err(Status::INVALID_PARAMETER),
        "never allocated"
    );
    assert_eq!(
        m.free_pool(a + 8),
        Err(Status::INVALID_PARAMETER),
        "inside a block"
    );
    m.free_pool(a).unwrap();
    assert_eq!(
        m.free_pool(a),
        Err(Status::INVALID_PARAMETER),
        "double free"
    );
    assert_eq!(m.map_key(), key);
}

#[test]
fn free_pool_of_last_block_returns_chunk_pages() {
    let mut m = qemu();
    let initial = ranges(&m);
    let a = m.allocate_pool(efi::BOOT_SERVICES_DATA, 100).unwrap();
    let b = m.allocate_pool(efi::BOOT_SERVICES_DATA, 200).unwrap();
    m.free_pool(a).unwrap();
    let key = m.map_key();
    m.free_pool(b).unwrap();
    assert_ne!(m.map_key(), key);
    assert_eq!(ranges(&m), initial);
}

#[test]
fn freed_pool_space_is_reused() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::BOOT_SERVICES_DATA, 40).unwrap();
    let _b = m.allocate_pool(efi::BOOT_SERVICES_DATA, 40).unwrap();
    m.free_pool(a).unwrap();
    assert_eq!(m.allocate_pool(efi::BOOT_SERVICES_DATA, 40), Ok(a));
}

#[test]
fn freed_neighbours_coalesce() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::BOOT_SERVICES_DATA, 16).unwrap();
    let b = m.allocate_pool(efi::BOOT_SERVICES_DATA, 16).unwrap();
    let c = m.allocate_pool(efi::BOOT_SERVICES_DATA, 16).unwrap();
    let _d = m.allocate_pool(efi::BOOT_SERVICES_DATA, 16).unwrap();
    assert_eq!((b - a, c - b), (16, 16));
    m.free_pool(a).unwrap();
    m.free_pool(c).unwrap();
    m.free_pool(b).unwrap();
    // 48 contiguous bytes at `a` again, without a new chunk.
    let key = m.map_key();
    assert_eq!(m.allocate_pool(efi::BOOT_SERVICES_DATA, 48), Ok(a));
    assert_eq!(m.map_key(), key);
}

#[test]
fn large_pool_allocation_gets_enough_pages() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::LOADER_DATA, 100 * 1024).unwrap();
    let r = m.range_at(a).unwrap();
    assert_eq!(r.memory_type, efi::LOADER_DATA);
    assert!(r.end() - a >= 100 * 1024);
    assert_eq!(r.pages, 25);
}

#[test]
fn pool_pages_are_not_freeable_with_free_pages() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::LOADER_DATA, 64).unwrap();
    assert_eq!(m.free_pages(a, 1), Err(Status::NOT_FOUND));
    assert!(m.pool_allocation(a).is_some());
}

#[test]
fn allocate_pool_invalid_type_is_invalid_parameter() {
    let mut m = qemu();
    for t in [
        efi::CONVENTIONAL_MEMORY,
        efi::PERSISTENT_MEMORY,
        efi::UNACCEPTED_MEMORY_TYPE,
        0x10,
        0x6FFF_FFFF,
    ] {
        assert_eq!(
            m.allocate_pool(t, 8),
            Err(Status::INVALID_PARAMETER),
            "type {t:#x}"
        );
    }
}

#[test]
fn allocate_pool_zero_size_returns_unique_blocks() {
    let mut m = qemu();
    let a = m.allocate_pool(efi::LOADER_DATA, 0).unwrap();
    let b = m.allocate_pool(efi::LOADER_DATA, 0).unwrap();
    assert_ne!(a, b);
    m.free_pool(a).unwrap();
    m.free_pool(b).unwrap();
}

#[test]
fn allocate_pool_out_of_resources() {
    let mut m = qemu();
    let key = m.map_key();
    assert_eq!(
        m.allocate_pool(efi::LOADER_DATA, usize::MAX),
        Err(Status::OUT_OF_RESOURCES)
    );
    assert_eq!(
        m.allocate_pool(efi::LOADER_DATA, 1 << 40),
        Err(Status::OUT_OF_RESOURCES)
    );
    assert_eq!(m.map_key(), key);
}

#[test]
fn aarch64_runtime_pool_chunks_are_64kib_aligned() {
    let mut m = platform(RuntimeGranularity::AArch64, 64 * MIB, 0);
    let a = m.allocate_pool(efi::RUNTIME_SERVICES_DATA, 8).unwrap();
    let r = m.range_at(a).unwrap();
    assert_eq!((r.base % (64 * 1024), r.pages), (0, 16));
}

//! Host tests of the memory services, one or more per rule, plus property tests.

mod handoff;
mod map;
mod pages;
mod pool;
mod props;

use alloc::vec::Vec;

use r_efi::efi;

use super::{MemoryMap, MemoryRange, RuntimeGranularity, PAGE_SIZE};

pub(super) const MIB: u64 = 1 << 20;
pub(super) const GIB: u64 = 1 << 30;
/// Cacheability a QEMU RAM range advertises.
pub(super) const RAM_ATTR: u64 = efi::MEMORY_UC | efi::MEMORY_WC | efi::MEMORY_WT | efi::MEMORY_WB;
/// Pages of the firmware image reserved at 1 MiB.
pub(super) const FW_IMAGE_PAGES: u64 = 64;
/// Base of the runtime flash MMIO range.
pub(super) const FLASH_BASE: u64 = 0xFFC0_0000;

/// A QEMU-like platform: 640 KiB of low RAM, a hole up to 1 MiB, RAM from 1 MiB to `main_end` with the
/// firmware image (Boot Services Code) at 1 MiB, runtime flash MMIO below 4 GiB, and `high_pages` of RAM at 4 GiB.
pub(super) fn platform(
    granularity: RuntimeGranularity,
    main_end: u64,
    high_pages: u64,
) -> MemoryMap {
    let mut m = MemoryMap::with_runtime_granularity(granularity);
    m.add_range(0, 0xA0000 / PAGE_SIZE, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
        .unwrap();
    m.add_range(
        MIB,
        (main_end - MIB) / PAGE_SIZE,
        efi::CONVENTIONAL_MEMORY,
        RAM_ATTR,
    )
    .unwrap();
    m.reserve_range(MIB, FW_IMAGE_PAGES, efi::BOOT_SERVICES_CODE)
        .unwrap();
    m.add_runtime_mmio(FLASH_BASE, 1024).unwrap();
    if high_pages > 0 {
        m.add_range(4 * GIB, high_pages, efi::CONVENTIONAL_MEMORY, RAM_ATTR)
            .unwrap();
    }
    m
}

/// The default test platform: x86_64 granularity, RAM up to 64 MiB, 8 MiB above 4 GiB.
pub(super) fn qemu() -> MemoryMap {
    platform(RuntimeGranularity::X64, 64 * MIB, 2048)
}

/// The ranges of the map, as `GetMemoryMap()` would list them.
pub(super) fn ranges(m: &MemoryMap) -> Vec<MemoryRange> {
    m.ranges().collect()
}

/// Asserts the structural invariants of the map: sorted, disjoint, non-empty, merged, `total` pages.
pub(super) fn assert_invariants(m: &MemoryMap, total: u64) {
    let list = ranges(m);
    for r in &list {
        assert!(r.pages > 0, "empty range {r:?}");
        assert_eq!(r.base % PAGE_SIZE, 0, "misaligned range {r:?}");
    }
    for w in list.windows(2) {
        assert!(
            w[0].end() <= w[1].base,
            "unsorted or overlapping: {:?} {:?}",
            w[0],
            w[1]
        );
        let equal_kind = w[0].memory_type == w[1].memory_type && w[0].attribute == w[1].attribute;
        assert!(
            !(w[0].end() == w[1].base && equal_kind),
            "unmerged: {:?} {:?}",
            w[0],
            w[1]
        );
    }
    assert_eq!(
        list.iter().map(|r| r.pages).sum::<u64>(),
        total,
        "pages not conserved"
    );
    assert_eq!(m.memory_map_size(), list.len() * super::DESCRIPTOR_SIZE);
}

/// Whether every page of `[base, base + pages)` is free in `list` (an oracle independent of the engine).
pub(super) fn all_free(list: &[MemoryRange], base: u64, pages: u64) -> bool {
    (0..pages).all(|i| {
        let addr = base + i * PAGE_SIZE;
        list.iter()
            .any(|r| r.memory_type == efi::CONVENTIONAL_MEMORY && r.base <= addr && addr < r.end())
    })
}

use alloc::vec::Vec;

use hw::PortIo;

use super::*;
use MemoryKind::*;

const MIB: u64 = 1 << 20;

fn blob(entries: &[(u64, u64, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(addr, len, kind) in entries {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
    }
    out
}

fn triples(map: &MemoryRanges) -> Vec<(u64, u64, MemoryKind)> {
    map.iter().map(|r| (r.start, r.end, r.kind)).collect()
}

#[test]
fn parses_qemu_q35_map() {
    // QEMU 7.2 q35 with 4 GiB: 2 GiB low, 2 GiB high, KVM identity-map page reserved.
    let map = MemoryRanges::from_e820(&blob(&[
        (0, 0x8000_0000, 1),
        (0xfeff_c000, 0x4000, 2),
        (FOUR_GIB, 0x8000_0000, 1),
    ]))
    .unwrap();
    assert_eq!(
        triples(&map),
        [
            (0, 0x8000_0000, Ram),
            (0xfeff_c000, 0xff00_0000, Reserved),
            (FOUR_GIB, FOUR_GIB + 0x8000_0000, Ram)
        ]
    );
    assert_eq!(map.total_ram_bytes(), 4 << 30);
    assert_eq!(map.top_of_ram_below_4g(), 0x8000_0000);
    assert_eq!(map.top_of_ram(), FOUR_GIB + 0x8000_0000);
    assert_eq!(map.kind_at(0xfeff_d000), Some(Reserved));
    assert_eq!(map.kind_at(0x9000_0000), None);
}

#[test]
fn rejects_bad_blobs() {
    assert_eq!(
        MemoryRanges::from_e820(&[0; 21]),
        Err(E820Error::BadLength { len: 21 })
    );
    let bad = blob(&[(0, 10, 1), (u64::MAX - 5, 10, 1)]);
    assert_eq!(
        MemoryRanges::from_e820(&bad),
        Err(E820Error::EntryOverflows { index: 1 })
    );
    assert!(MemoryRanges::from_e820(&[]).unwrap().is_empty());
}

#[test]
fn sorts_merges_adjacent_and_overlapping_same_kind_and_drops_empty() {
    let map = MemoryRanges::from_e820(&blob(&[
        (0x3000, 0x1000, 1),
        (0x0, 0x1000, 1),
        (0x1000, 0x2000, 1), // adjacent to the first two: one range [0, 0x4000)
        (0x3800, 0x1000, 1), // overlapping: extends to 0x4800
        (0x9000, 0, 2),      // empty
        (0x8000, 0x1000, 3),
    ]))
    .unwrap();
    assert_eq!(
        triples(&map),
        [(0, 0x4800, Ram), (0x8000, 0x9000, AcpiReclaimable)]
    );
}

#[test]
fn overlap_of_different_kinds_favours_the_restrictive_one() {
    let map = MemoryRanges::from_e820(&blob(&[
        (0, 0x10000, 1),
        (0x4000, 0x2000, 2),   // reserved inside RAM splits it
        (0xf000, 0x2000, 4),   // NVS overlapping RAM's end wins the overlap
        (0x5000, 0x4000, 5),   // unusable beats reserved and RAM
        (0x20000, 0x1000, 77), // unknown type is reserved
    ]))
    .unwrap();
    assert_eq!(
        triples(&map),
        [
            (0, 0x4000, Ram),
            (0x4000, 0x5000, Reserved),
            (0x5000, 0x9000, Unusable),
            (0x9000, 0xf000, Ram),
            (0xf000, 0x11000, AcpiNvs),
            (0x20000, 0x21000, Reserved),
        ]
    );
    assert_eq!(map.total_ram_bytes(), 0x4000 + 0x6000);
}

#[test]
fn reserve_carves_middle_and_edges_of_ram() {
    let mut map =
        MemoryRanges::from_e820(&blob(&[(0, 0x10_0000, 1), (0x10_0000, 0x7ff0_0000, 1)])).unwrap();
    assert_eq!(triples(&map), [(0, 0x8000_0000, Ram)]);
    // Middle.
    map.reserve(0x100_0000..0x110_0000, FirmwareImage).unwrap();
    // Top edge.
    map.reserve(0x7fff_0000..0x8000_0000, FirmwareStack)
        .unwrap();
    // Bottom edge.
    map.reserve(0..0x1000, PageTables).unwrap();
    // Extending an existing reservation of the same kind merges with it.
    map.reserve(0x110_0000..0x120_0000, FirmwareImage).unwrap();
    // Outside any RAM (ECAM on q35) fills the hole.
    map.reserve(0xb000_0000..0xc000_0000, PciEcam).unwrap();
    assert_eq!(
        triples(&map),
        [
            (0, 0x1000, PageTables),
            (0x1000, 0x100_0000, Ram),
            (0x100_0000, 0x120_0000, FirmwareImage),
            (0x120_0000, 0x7fff_0000, Ram),
            (0x7fff_0000, 0x8000_0000, FirmwareStack),
            (0xb000_0000, 0xc000_0000, PciEcam),
        ]
    );
    assert_eq!(map.total_ram_bytes(), 0x8000_0000);
    assert_eq!(
        map.free_ram_bytes(),
        0x8000_0000 - 0x1000 - 0x20_0000 - 0x1_0000
    );
    assert_eq!(map.top_of_ram_below_4g(), 0x8000_0000);
}

#[test]
fn reserve_refuses_non_ram_and_bad_ranges() {
    let mut map = MemoryRanges::from_e820(&blob(&[(0, 0x10000, 1), (0x8000, 0x1000, 4)])).unwrap();
    let before = map.clone();
    assert_eq!(
        map.reserve(0x7000..0x8800, FirmwareHeap),
        Err(E820Error::Conflict {
            start: 0x8000,
            end: 0x9000,
            existing: AcpiNvs
        })
    );
    map.reserve(0x1000..0x2000, FirmwareHeap).unwrap();
    assert_eq!(
        map.reserve(0x1800..0x2800, FirmwareStack),
        Err(E820Error::Conflict {
            start: 0x1000,
            end: 0x2000,
            existing: FirmwareHeap
        })
    );
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = 0x3000..0x2000;
    assert_eq!(
        map.reserve(inverted, FirmwareHeap),
        Err(E820Error::InvalidRange {
            start: 0x3000,
            end: 0x2000
        })
    );
    map.reserve(0x5000..0x5000, FirmwareHeap).unwrap();
    assert_eq!(map.len(), before.len() + 2);
}

#[test]
fn add_merges_into_existing_map() {
    let mut map = MemoryRanges::new();
    map.add(0..MIB, Ram).unwrap();
    map.add(MIB..2 * MIB, Ram).unwrap();
    map.add(MIB / 2..MIB + 1, Reserved).unwrap();
    assert_eq!(
        triples(&map),
        [
            (0, MIB / 2, Ram),
            (MIB / 2, MIB + 1, Reserved),
            (MIB + 1, 2 * MIB, Ram)
        ]
    );
}

/// CMOS NVRAM fake: index port selects a register of `regs`.
struct FakeCmos {
    regs: [u8; 128],
    index: u8,
}

impl PortIo for FakeCmos {
    fn read8(&mut self, port: u16) -> u8 {
        if port == CMOS_DATA_PORT {
            self.regs[(self.index & 0x7f) as usize]
        } else {
            0xff
        }
    }
    fn read16(&mut self, _: u16) -> u16 {
        0xffff
    }
    fn read32(&mut self, _: u16) -> u32 {
        0xffff_ffff
    }
    fn write8(&mut self, port: u16, value: u8) {
        if port == CMOS_INDEX_PORT {
            self.index = value;
        }
    }
    fn write16(&mut self, _: u16, _: u16) {}
    fn write32(&mut self, _: u16, _: u32) {}
}

#[test]
fn cmos_fallback_low_and_high_ram() {
    // 3 GiB below 4 GiB (QEMU pc with 5 GiB), 2 GiB above.
    let mut cmos = FakeCmos {
        regs: [0; 128],
        index: 0,
    };
    let above_16m = ((3u64 << 30) - 16 * MIB) / 0x10000;
    cmos.regs[0x34] = above_16m as u8;
    cmos.regs[0x35] = (above_16m >> 8) as u8;
    cmos.regs[0x30] = 0xff;
    cmos.regs[0x31] = 0xff;
    let high = (2u64 << 30) / 0x10000; // 0x8000
    cmos.regs[0x5b] = high as u8;
    cmos.regs[0x5c] = (high >> 8) as u8;
    cmos.regs[0x5d] = (high >> 16) as u8;
    let map = ranges_from_cmos(&mut cmos);
    assert_eq!(
        triples(&map),
        [
            (0, 0xa0000, Ram),
            (MIB, 3 << 30, Ram),
            (FOUR_GIB, FOUR_GIB + (2 << 30), Ram)
        ]
    );
    assert_eq!(map.top_of_ram_below_4g(), 3 << 30);
}

#[test]
fn cmos_fallback_small_guest_uses_extended_memory_registers() {
    // 8 MiB guest: 0x34/0x35 are zero, 0x30/0x31 hold 7 MiB in KiB; no high RAM.
    let mut cmos = FakeCmos {
        regs: [0; 128],
        index: 0,
    };
    cmos.regs[0x30] = (7 * 1024u16) as u8;
    cmos.regs[0x31] = ((7 * 1024u16) >> 8) as u8;
    let map = ranges_from_cmos(&mut cmos);
    assert_eq!(triples(&map), [(0, 0xa0000, Ram), (MIB, 8 * MIB, Ram)]);
    assert_eq!(map.top_of_ram(), 8 * MIB);
}

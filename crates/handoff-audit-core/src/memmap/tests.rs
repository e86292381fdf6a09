//! Unit tests of the memory-map rules.

use super::*;
use alloc::vec;

/// Encodes descriptors (type, start, pages, attribute) at a 48-byte stride, as edk2 does.
pub fn encode(descs: &[(u32, u64, u64, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(t, start, pages, attr) in descs {
        let mut d = [0u8; 48];
        d[0..4].copy_from_slice(&t.to_le_bytes());
        d[8..16].copy_from_slice(&start.to_le_bytes());
        d[16..24].copy_from_slice(&0xdead_beefu64.to_le_bytes());
        d[24..32].copy_from_slice(&pages.to_le_bytes());
        d[32..40].copy_from_slice(&attr.to_le_bytes());
        d[40..48].fill(0xee);
        out.extend_from_slice(&d);
    }
    out
}

const RT: u64 = EFI_MEMORY_RUNTIME | 0xf;

#[test]
fn a_good_map_has_no_problems() {
    let map = encode(&[
        (ty::CONVENTIONAL, 0, 0x9f, 0xf),
        (ty::BOOT_SERVICES_DATA, 0x10_0000, 0x100, 0xf),
        (ty::RUNTIME_SERVICES_DATA, 0x20_0000, 4, RT),
        (ty::LOADER_CODE, 0x20_4000, 4, 0xf),
        (ty::MMIO, 0xffc0_0000, 0x400, EFI_MEMORY_RUNTIME | 1),
    ]);
    let m = parse(&map, 48, 1);
    assert_eq!(m.problems, []);
    assert_eq!(m.descriptors.len(), 5);
    assert_eq!(m.descriptors[2].attribute, RT);
    assert_eq!(m.descriptors[2].virt_start, 0xdead_beef);
}

#[test]
fn shape_problems_stop_parsing() {
    let map = encode(&[(ty::CONVENTIONAL, 0, 1, 0)]);
    assert_eq!(parse(&map, 36, 1).problems, [Problem::DescriptorSize(36)]);
    assert_eq!(parse(&map, 44, 1).problems, [Problem::DescriptorSize(44)]);
    assert_eq!(
        parse(&map[..40], 48, 2).problems,
        [
            Problem::Version(2),
            Problem::SizeNotMultiple {
                size: 40,
                desc_size: 48
            }
        ]
    );
}

#[test]
fn per_descriptor_problems() {
    let map = encode(&[
        (ty::CONVENTIONAL, 0x1800, 1, 0),
        (ty::LOADER_DATA, 0x10_0000, 0, 0),
        (ty::CONVENTIONAL, 0xffff_ffff_ffff_f000, 2, 0),
        (16, 0x20_0000, 1, 0),
        (0x7000_0001, 0x30_0000, 1, 0),
        (0x8000_0000, 0x40_0000, 1, 0),
        (ty::RUNTIME_SERVICES_CODE, 0x50_0000, 1, 0xf),
    ]);
    assert_eq!(
        parse(&map, 48, 1).problems,
        [
            Problem::Unaligned {
                index: 0,
                start: 0x1800
            },
            Problem::Empty { index: 1 },
            Problem::Wraps { index: 2 },
            Problem::UnknownType { index: 3, ty: 16 },
            Problem::RuntimeWithoutAttribute { index: 6, ty: 5 },
        ]
    );
}

#[test]
fn overlaps_found_in_any_order_adjacency_allowed() {
    let adjacent = encode(&[(7, 0x2000, 2, 0), (2, 0x4000, 1, 0), (4, 0x1000, 1, 0)]);
    assert_eq!(parse(&adjacent, 48, 1).problems, []);
    let nested = encode(&[(7, 0x1000, 16, 0), (2, 0x4000, 1, 0), (4, 0x8000, 1, 0)]);
    assert_eq!(
        parse(&nested, 48, 1).problems,
        [
            Problem::Overlap {
                first: 0,
                second: 1
            },
            Problem::Overlap {
                first: 0,
                second: 2
            }
        ]
    );
}

#[test]
fn free_memory_ranges_merge_across_types() {
    let map = encode(&[
        (ty::CONVENTIONAL, 0, 0x9f, 0),
        (ty::BOOT_SERVICES_CODE, 0x10_0000, 0x10, 0),
        (ty::BOOT_SERVICES_DATA, 0x11_0000, 0x10, 0),
        (ty::LOADER_DATA, 0x12_0000, 0x10, 0),
        (ty::CONVENTIONAL, 0x13_0000, 0x10, 0),
        (ty::RUNTIME_SERVICES_DATA, 0x14_0000, 1, RT),
        (ty::MMIO, 0xe000_0000, 0x1000, 0),
    ]);
    let m = parse(&map, 48, 1);
    assert_eq!(
        m.free_ranges(),
        vec![
            Range::at(0, 0x9f000),
            Range::at(0x10_0000, 0x2_0000),
            Range::at(0x13_0000, 0x1_0000),
        ]
    );
    assert_eq!(
        m.memory_ranges(),
        vec![Range::at(0, 0x9f000), Range::at(0x10_0000, 0x4_1000)]
    );
    assert_eq!(m.mmio_ranges(), vec![Range::at(0xe000_0000, 0x100_0000)]);
    assert_eq!(
        m.pages_by_type(),
        vec![
            (2, 0x10),
            (3, 0x10),
            (4, 0x10),
            (6, 1),
            (7, 0xaf),
            (11, 0x1000)
        ]
    );
}

#[test]
fn covering_type_spans_unmerged_neighbours() {
    let map = encode(&[(2, 0x3000, 2, 0), (2, 0x1000, 2, 0), (7, 0x5000, 1, 0)]);
    let m = parse(&map, 48, 1);
    assert_eq!(m.covering_type(Range::at(0x2000, 0x2000)), Some(2));
    assert_eq!(m.covering_type(Range::at(0x4000, 0x2000)), None);
    assert_eq!(m.covering_type(Range::at(0x8000, 0x1000)), None);
    assert_eq!(m.covering_type(Range::at(0x1000, 0)), None);
}

#[test]
fn subtract_cuts_holes() {
    let ranges = [Range::at(0, 0x10000), Range::at(0x20000, 0x10000)];
    let holes = [
        Range::at(0x1000, 0x1000),
        Range::at(0xf000, 0x12000),
        Range::at(0x2f000, 0x1000),
    ];
    assert_eq!(
        subtract(&ranges, &holes),
        vec![
            Range::at(0, 0x1000),
            Range::at(0x2000, 0xd000),
            Range::at(0x21000, 0xe000)
        ]
    );
    assert_eq!(
        merge(vec![Range::at(5, 5), Range::at(0, 5), Range::at(20, 0)]),
        vec![Range::at(0, 10)]
    );
}

#[test]
fn type_names() {
    assert_eq!(type_name(ty::CONVENTIONAL), "conventional");
    assert_eq!(type_name(0x7000_0002), "oem");
    assert_eq!(type_name(0x8000_0002), "os");
    assert_eq!(type_name(99), "unknown");
    assert!(is_known_type(ty::UNACCEPTED) && !is_known_type(16));
}

//! Reading a memory map returned by GetMemoryMap (UEFI 2.10 §7.2.3) as raw bytes.
//!
//! Design: the firmware's descriptor stride (`DescriptorSize`) may exceed `size_of::<EFI_MEMORY_DESCRIPTOR>()`
//! (40 bytes), so descriptors are read at multiples of the reported stride, field by field in little-endian
//! order, never by casting to a Rust struct. All functions are pure so they run in host unit tests.

use core::fmt;

/// `sizeof(EFI_MEMORY_DESCRIPTOR)` for descriptor version 1: Type (u32), padding, PhysicalStart (u64),
/// VirtualStart (u64), NumberOfPages (u64), Attribute (u64).
pub const DESCRIPTOR_SIZE_V1: usize = 40;
/// UEFI pages are always 4 KiB.
pub const PAGE_SIZE: u64 = 4096;

/// The fields of one EFI_MEMORY_DESCRIPTOR the checks look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// `Type`: an EFI_MEMORY_TYPE value (7 = EfiConventionalMemory, 2 = EfiLoaderData, ...).
    pub ty: u32,
    /// `PhysicalStart`: first byte, 4 KiB aligned.
    pub phys_start: u64,
    /// `NumberOfPages`: length in 4 KiB pages.
    pub page_count: u64,
}

impl Descriptor {
    /// One past the last byte, or `None` when the range wraps around 2^64.
    pub fn end(&self) -> Option<u64> {
        self.page_count
            .checked_mul(PAGE_SIZE)?
            .checked_add(self.phys_start)
    }
}

/// What is wrong with a memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// `DescriptorSize` is smaller than a version-1 descriptor.
    DescriptorTooSmall { desc_size: usize },
    /// `MemoryMapSize` is not a whole number of descriptors.
    SizeNotMultiple { size: usize, desc_size: usize },
    /// A descriptor's `PhysicalStart` is not 4 KiB aligned.
    Unaligned { index: usize, start: u64 },
    /// A descriptor has `NumberOfPages` = 0.
    Empty { index: usize },
    /// A descriptor's range wraps around the 64-bit address space.
    Wraps { index: usize },
    /// Two descriptors cover the same bytes.
    Overlap { first: usize, second: usize },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MapError::DescriptorTooSmall { desc_size } => {
                write!(f, "descriptor size {desc_size} < {DESCRIPTOR_SIZE_V1}")
            }
            MapError::SizeNotMultiple { size, desc_size } => {
                write!(
                    f,
                    "map size {size} is not a multiple of descriptor size {desc_size}"
                )
            }
            MapError::Unaligned { index, start } => {
                write!(f, "descriptor {index} starts at unaligned {start:#x}")
            }
            MapError::Empty { index } => write!(f, "descriptor {index} has 0 pages"),
            MapError::Wraps { index } => write!(f, "descriptor {index} wraps around 2^64"),
            MapError::Overlap { first, second } => {
                write!(f, "descriptors {first} and {second} overlap")
            }
        }
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(raw)
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut raw = [0; 8];
    raw.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(raw)
}

/// The descriptors in `map` (exactly `MemoryMapSize` bytes) at stride `desc_size`.
///
/// Errors: [`MapError::DescriptorTooSmall`], [`MapError::SizeNotMultiple`].
pub fn descriptors(
    map: &[u8],
    desc_size: usize,
) -> Result<impl Iterator<Item = Descriptor> + '_, MapError> {
    if desc_size < DESCRIPTOR_SIZE_V1 {
        return Err(MapError::DescriptorTooSmall { desc_size });
    }
    if !map.len().is_multiple_of(desc_size) {
        return Err(MapError::SizeNotMultiple {
            size: map.len(),
            desc_size,
        });
    }
    Ok(map.chunks_exact(desc_size).map(|d| Descriptor {
        ty: u32_at(d, 0),
        phys_start: u64_at(d, 8),
        page_count: u64_at(d, 24),
    }))
}

/// Checks that every descriptor is page aligned, non-empty, does not wrap, and that no two overlap; returns the
/// number of descriptors.
pub fn validate(map: &[u8], desc_size: usize) -> Result<usize, MapError> {
    let mut count = 0;
    for (index, d) in descriptors(map, desc_size)?.enumerate() {
        count += 1;
        if !d.phys_start.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Unaligned {
                index,
                start: d.phys_start,
            });
        }
        if d.page_count == 0 {
            return Err(MapError::Empty { index });
        }
        let end = d.end().ok_or(MapError::Wraps { index })?;
        for (first, e) in descriptors(map, desc_size)?.enumerate().take(index) {
            let e_end = e.end().ok_or(MapError::Wraps { index: first })?;
            if d.phys_start < e_end && e.phys_start < end {
                return Err(MapError::Overlap {
                    first,
                    second: index,
                });
            }
        }
    }
    Ok(count)
}

/// The memory type of `[start, start + len)` when descriptors of one single type cover all of it (firmware need not
/// merge neighbours, so the range may span several descriptors); `None` when part of it is not in the map, the
/// types differ, or `len` is 0.
pub fn type_covering(map: &[u8], desc_size: usize, start: u64, len: u64) -> Option<u32> {
    let end = start.checked_add(len)?;
    let mut cursor = start;
    let mut ty = None;
    while cursor < end {
        let d = descriptors(map, desc_size)
            .ok()?
            .find(|d| d.phys_start <= cursor && d.end().is_some_and(|e| cursor < e))?;
        if ty.is_some_and(|t| t != d.ty) {
            return None;
        }
        ty = Some(d.ty);
        cursor = d.end()?;
    }
    ty
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Encodes descriptors (type, start, pages) at a 48-byte stride, like firmware that pads descriptors.
    fn encode(descs: &[(u32, u64, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(ty, start, pages) in descs {
            let mut d = [0u8; 48];
            d[0..4].copy_from_slice(&ty.to_le_bytes());
            d[8..16].copy_from_slice(&start.to_le_bytes());
            d[16..24].copy_from_slice(&0xdead_beefu64.to_le_bytes()); // VirtualStart: ignored
            d[24..32].copy_from_slice(&pages.to_le_bytes());
            d[32..40].copy_from_slice(&0xfu64.to_le_bytes());
            out.extend_from_slice(&d);
        }
        out
    }

    #[test]
    fn reads_fields_at_the_reported_stride() {
        let map = encode(&[(7, 0x1000, 2), (2, 0x10_0000, 16)]);
        let got: Vec<Descriptor> = descriptors(&map, 48).unwrap().collect();
        assert_eq!(
            got,
            [
                Descriptor {
                    ty: 7,
                    phys_start: 0x1000,
                    page_count: 2
                },
                Descriptor {
                    ty: 2,
                    phys_start: 0x10_0000,
                    page_count: 16
                }
            ]
        );
        assert_eq!(validate(&map, 48), Ok(2));
    }

    #[test]
    fn rejects_bad_shapes() {
        let map = encode(&[(7, 0x1000, 2)]);
        assert_eq!(
            validate(&map, 32).unwrap_err(),
            MapError::DescriptorTooSmall { desc_size: 32 }
        );
        assert_eq!(
            validate(&map[..47], 48).unwrap_err(),
            MapError::SizeNotMultiple {
                size: 47,
                desc_size: 48
            }
        );
        let map = encode(&[(7, 0x1000, 2), (7, 0x1800, 1)]);
        assert_eq!(
            validate(&map, 48).unwrap_err(),
            MapError::Unaligned {
                index: 1,
                start: 0x1800
            }
        );
        let map = encode(&[(7, 0x1000, 0)]);
        assert_eq!(
            validate(&map, 48).unwrap_err(),
            MapError::Empty { index: 0 }
        );
        let map = encode(&[(7, 0xffff_ffff_ffff_f000, 2)]);
        assert_eq!(
            validate(&map, 48).unwrap_err(),
            MapError::Wraps { index: 0 }
        );
    }

    #[test]
    fn detects_overlap_but_not_adjacency() {
        let adjacent = encode(&[(7, 0x2000, 2), (2, 0x4000, 1), (4, 0x1000, 1)]);
        assert_eq!(validate(&adjacent, 48), Ok(3));
        let overlapping = encode(&[(7, 0x2000, 2), (2, 0x4000, 1), (4, 0x3000, 1)]);
        assert_eq!(
            validate(&overlapping, 48).unwrap_err(),
            MapError::Overlap {
                first: 0,
                second: 2
            }
        );
    }

    #[test]
    fn finds_the_covering_type() {
        let map = encode(&[(7, 0x1000, 4), (2, 0x10_0000, 16)]);
        assert_eq!(type_covering(&map, 48, 0x10_2000, 0x3000), Some(2));
        assert_eq!(type_covering(&map, 48, 0x1000, 0x4000), Some(7));
        // Straddles the end of the first descriptor.
        assert_eq!(type_covering(&map, 48, 0x4000, 0x2000), None);
        assert_eq!(type_covering(&map, 48, 0x8000, 0x1000), None);
        assert_eq!(type_covering(&map, 48, 0x1000, 0), None);
    }

    #[test]
    fn covering_spans_unmerged_neighbours_of_one_type() {
        let map = encode(&[(7, 0x3000, 2), (7, 0x1000, 2), (2, 0x5000, 1)]);
        assert_eq!(type_covering(&map, 48, 0x2000, 0x2000), Some(7));
        // Same span, but it runs into a descriptor of another type.
        assert_eq!(type_covering(&map, 48, 0x4000, 0x2000), None);
    }
}

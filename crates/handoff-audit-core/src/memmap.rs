//! The memory map from GetMemoryMap (UEFI 2.10 §7.2.3) read as raw bytes, the rules a map must follow, and the
//! memory an OS may use once ExitBootServices succeeded (§7.4.6, table 7-6 "Memory Type Usage after
//! ExitBootServices()").
//!
//! Descriptors are read at multiples of the reported `DescriptorSize`, field by field in little-endian order
//! (Type u32 at 0, PhysicalStart u64 at 8, VirtualStart u64 at 16, NumberOfPages u64 at 24, Attribute u64 at 32),
//! never by casting to a struct, because the stride may exceed the 40 bytes of a version-1 descriptor.

use alloc::vec::Vec;
use core::fmt;

/// `sizeof(EFI_MEMORY_DESCRIPTOR)` for descriptor version 1.
pub const DESCRIPTOR_SIZE_V1: usize = 40;
/// `EFI_MEMORY_DESCRIPTOR_VERSION`.
pub const DESCRIPTOR_VERSION: u32 = 1;
/// UEFI pages are 4 KiB.
pub const PAGE_SIZE: u64 = 4096;
/// `EFI_MEMORY_RUNTIME`: the range must be mapped by the OS for runtime services.
pub const EFI_MEMORY_RUNTIME: u64 = 1 << 63;

/// `EFI_MEMORY_TYPE` values (UEFI 2.10 table 7-5).
pub mod ty {
    /// EfiReservedMemoryType.
    pub const RESERVED: u32 = 0;
    /// EfiLoaderCode.
    pub const LOADER_CODE: u32 = 1;
    /// EfiLoaderData.
    pub const LOADER_DATA: u32 = 2;
    /// EfiBootServicesCode.
    pub const BOOT_SERVICES_CODE: u32 = 3;
    /// EfiBootServicesData.
    pub const BOOT_SERVICES_DATA: u32 = 4;
    /// EfiRuntimeServicesCode.
    pub const RUNTIME_SERVICES_CODE: u32 = 5;
    /// EfiRuntimeServicesData.
    pub const RUNTIME_SERVICES_DATA: u32 = 6;
    /// EfiConventionalMemory.
    pub const CONVENTIONAL: u32 = 7;
    /// EfiUnusableMemory.
    pub const UNUSABLE: u32 = 8;
    /// EfiACPIReclaimMemory.
    pub const ACPI_RECLAIM: u32 = 9;
    /// EfiACPIMemoryNVS.
    pub const ACPI_NVS: u32 = 10;
    /// EfiMemoryMappedIO.
    pub const MMIO: u32 = 11;
    /// EfiMemoryMappedIOPortSpace.
    pub const MMIO_PORT_SPACE: u32 = 12;
    /// EfiPalCode.
    pub const PAL_CODE: u32 = 13;
    /// EfiPersistentMemory.
    pub const PERSISTENT: u32 = 14;
    /// EfiUnacceptedMemoryType.
    pub const UNACCEPTED: u32 = 15;
    /// First OEM-reserved value (0x70000000..=0x7FFFFFFF).
    pub const OEM_FIRST: u32 = 0x7000_0000;
    /// First value reserved for OS loaders (0x80000000..=0xFFFFFFFF).
    pub const OS_FIRST: u32 = 0x8000_0000;
}

/// A short name of a memory type for the report ("conventional", "bs_data", "oem:0x70000001", ...).
pub fn type_name(t: u32) -> &'static str {
    const NAMES: [&str; 16] = [
        "reserved",
        "loader_code",
        "loader_data",
        "bs_code",
        "bs_data",
        "rt_code",
        "rt_data",
        "conventional",
        "unusable",
        "acpi_reclaim",
        "acpi_nvs",
        "mmio",
        "mmio_port",
        "pal_code",
        "persistent",
        "unaccepted",
    ];
    match t {
        0..=15 => NAMES[t as usize],
        ty::OEM_FIRST..=0x7FFF_FFFF => "oem",
        ty::OS_FIRST.. => "os",
        _ => "unknown",
    }
}

/// Whether `t` is a value the specification defines (including the OEM and OS-loader ranges).
pub fn is_known_type(t: u32) -> bool {
    t <= ty::UNACCEPTED || t >= ty::OEM_FIRST
}

/// Whether memory of type `t` is the OS's to use after ExitBootServices: boot-services code and data and
/// conventional memory (loader memory is too, but it holds the loader itself).
pub fn is_free_after_exit(t: u32) -> bool {
    matches!(
        t,
        ty::BOOT_SERVICES_CODE | ty::BOOT_SERVICES_DATA | ty::CONVENTIONAL
    )
}

/// One EFI_MEMORY_DESCRIPTOR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// `Type` (EFI_MEMORY_TYPE).
    pub ty: u32,
    /// `PhysicalStart`: first byte.
    pub phys_start: u64,
    /// `VirtualStart`.
    pub virt_start: u64,
    /// `NumberOfPages` (4 KiB).
    pub page_count: u64,
    /// `Attribute` (EFI_MEMORY_UC, ..., EFI_MEMORY_RUNTIME).
    pub attribute: u64,
}

impl Descriptor {
    /// One past the last byte, or `None` when the range wraps around 2^64.
    pub fn end(&self) -> Option<u64> {
        self.page_count
            .checked_mul(PAGE_SIZE)?
            .checked_add(self.phys_start)
    }
}

/// A half-open physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// `[start, start + len)`, saturating at 2^64.
    pub fn at(start: u64, len: u64) -> Range {
        Range {
            start,
            end: start.saturating_add(len),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no byte.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the two ranges share a byte.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Sorts `ranges` and merges overlapping or adjacent ones; empty ranges are dropped.
pub fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort();
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// `ranges` (merged, sorted) with every byte of `holes` removed.
pub fn subtract(ranges: &[Range], holes: &[Range]) -> Vec<Range> {
    let holes = merge(holes.to_vec());
    let mut out = Vec::new();
    for r in ranges {
        let mut cursor = r.start;
        for h in holes.iter().filter(|h| h.overlaps(r)) {
            if h.start > cursor {
                out.push(Range {
                    start: cursor,
                    end: h.start,
                });
            }
            cursor = cursor.max(h.end);
        }
        if cursor < r.end {
            out.push(Range {
                start: cursor,
                end: r.end,
            });
        }
    }
    out
}

/// A broken rule of the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// `DescriptorSize` is below 40 bytes or not a multiple of 8 (its u64 fields would be misaligned).
    DescriptorSize(usize),
    /// `DescriptorVersion` is not 1.
    Version(u32),
    /// `MemoryMapSize` is not a whole number of descriptors.
    SizeNotMultiple {
        /// `MemoryMapSize`.
        size: usize,
        /// `DescriptorSize`.
        desc_size: usize,
    },
    /// `PhysicalStart` is not 4 KiB aligned.
    Unaligned {
        /// Descriptor index.
        index: usize,
        /// `PhysicalStart`.
        start: u64,
    },
    /// `NumberOfPages` is 0.
    Empty {
        /// Descriptor index.
        index: usize,
    },
    /// The range wraps around the 64-bit address space.
    Wraps {
        /// Descriptor index.
        index: usize,
    },
    /// Two descriptors cover the same bytes.
    Overlap {
        /// The descriptor that starts first.
        first: usize,
        /// The one that starts inside it.
        second: usize,
    },
    /// `Type` is a reserved value (16..0x70000000).
    UnknownType {
        /// Descriptor index.
        index: usize,
        /// `Type`.
        ty: u32,
    },
    /// A runtime-services code or data range lacks `EFI_MEMORY_RUNTIME`.
    RuntimeWithoutAttribute {
        /// Descriptor index.
        index: usize,
        /// `Type`.
        ty: u32,
    },
}

/// Check name for the map's shape: descriptor size and version, whole descriptors.
pub const RULE_SHAPE: &str = "descriptor size and version";
/// Check name for page alignment, non-empty and non-wrapping descriptors.
pub const RULE_ALIGNED: &str = "page-aligned, non-empty descriptors";
/// Check name for overlaps.
pub const RULE_OVERLAP: &str = "no overlapping descriptors";
/// Check name for types.
pub const RULE_TYPES: &str = "known memory types";
/// Check name for the runtime attribute.
pub const RULE_RUNTIME: &str = "runtime types carry EFI_MEMORY_RUNTIME";
/// Every rule, in report order.
pub const RULES: [&str; 5] = [
    RULE_SHAPE,
    RULE_ALIGNED,
    RULE_OVERLAP,
    RULE_TYPES,
    RULE_RUNTIME,
];

impl Problem {
    /// The rule this problem breaks (one of [`RULES`]).
    pub fn rule(&self) -> &'static str {
        match self {
            Problem::DescriptorSize(_) | Problem::Version(_) | Problem::SizeNotMultiple { .. } => {
                RULE_SHAPE
            }
            Problem::Unaligned { .. } | Problem::Empty { .. } | Problem::Wraps { .. } => {
                RULE_ALIGNED
            }
            Problem::Overlap { .. } => RULE_OVERLAP,
            Problem::UnknownType { .. } => RULE_TYPES,
            Problem::RuntimeWithoutAttribute { .. } => RULE_RUNTIME,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Problem::DescriptorSize(size) => write!(
                f,
                "DescriptorSize {size} is below {DESCRIPTOR_SIZE_V1} or not a multiple of 8"
            ),
            Problem::Version(v) => {
                write!(f, "DescriptorVersion {v}, expected {DESCRIPTOR_VERSION}")
            }
            Problem::SizeNotMultiple { size, desc_size } => write!(
                f,
                "MemoryMapSize {size} is not a multiple of DescriptorSize {desc_size}"
            ),
            Problem::Unaligned { index, start } => {
                write!(f, "descriptor {index} starts at unaligned {start:#x}")
            }
            Problem::Empty { index } => write!(f, "descriptor {index} has 0 pages"),
            Problem::Wraps { index } => write!(f, "descriptor {index} wraps around 2^64"),
            Problem::Overlap { first, second } => {
                write!(f, "descriptors {first} and {second} overlap")
            }
            Problem::UnknownType { index, ty } => {
                write!(f, "descriptor {index} has reserved type {ty:#x}")
            }
            Problem::RuntimeWithoutAttribute { index, ty } => write!(
                f,
                "descriptor {index} of type {} lacks EFI_MEMORY_RUNTIME",
                type_name(ty)
            ),
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

/// A parsed and checked memory map.
#[derive(Clone, Debug, Default)]
pub struct MemoryMap {
    /// The descriptors in firmware order.
    pub descriptors: Vec<Descriptor>,
    /// Every broken rule found, in the order found.
    pub problems: Vec<Problem>,
}

/// Parses `map` (exactly `MemoryMapSize` bytes) at stride `desc_size` and checks every rule of the module
/// documentation. A map whose shape is unusable (descriptor size, size not a multiple) yields no descriptors.
pub fn parse(map: &[u8], desc_size: usize, version: u32) -> MemoryMap {
    let mut out = MemoryMap::default();
    if version != DESCRIPTOR_VERSION {
        out.problems.push(Problem::Version(version));
    }
    if desc_size < DESCRIPTOR_SIZE_V1 || !desc_size.is_multiple_of(8) {
        out.problems.push(Problem::DescriptorSize(desc_size));
        return out;
    }
    if !map.len().is_multiple_of(desc_size) {
        out.problems.push(Problem::SizeNotMultiple {
            size: map.len(),
            desc_size,
        });
        return out;
    }
    out.descriptors = map
        .chunks_exact(desc_size)
        .map(|d| Descriptor {
            ty: u32_at(d, 0),
            phys_start: u64_at(d, 8),
            virt_start: u64_at(d, 16),
            page_count: u64_at(d, 24),
            attribute: u64_at(d, 32),
        })
        .collect();
    for (index, d) in out.descriptors.iter().enumerate() {
        if !d.phys_start.is_multiple_of(PAGE_SIZE) {
            out.problems.push(Problem::Unaligned {
                index,
                start: d.phys_start,
            });
        }
        if d.page_count == 0 {
            out.problems.push(Problem::Empty { index });
        }
        if d.end().is_none() {
            out.problems.push(Problem::Wraps { index });
        }
        if !is_known_type(d.ty) {
            out.problems.push(Problem::UnknownType { index, ty: d.ty });
        }
        let runtime_type = matches!(d.ty, ty::RUNTIME_SERVICES_CODE | ty::RUNTIME_SERVICES_DATA);
        if runtime_type && d.attribute & EFI_MEMORY_RUNTIME == 0 {
            out.problems
                .push(Problem::RuntimeWithoutAttribute { index, ty: d.ty });
        }
    }
    // Overlaps: sort by start, then every descriptor must begin at or after the furthest end seen so far.
    let mut order: Vec<usize> = (0..out.descriptors.len())
        .filter(|&i| out.descriptors[i].end().is_some())
        .collect();
    order.sort_by_key(|&i| out.descriptors[i].phys_start);
    let mut furthest: Option<(usize, u64)> = None;
    for &i in &order {
        let d = out.descriptors[i];
        let end = d.end().unwrap_or(u64::MAX);
        if let Some((first, reach)) = furthest {
            if d.phys_start < reach && d.page_count > 0 {
                out.problems.push(Problem::Overlap { first, second: i });
            }
            if end > reach {
                furthest = Some((i, end));
            }
        } else {
            furthest = Some((i, end));
        }
    }
    out
}

impl MemoryMap {
    /// The merged ranges of the types an OS may treat as free after ExitBootServices ([`is_free_after_exit`]).
    pub fn free_ranges(&self) -> Vec<Range> {
        self.ranges_where(|d| is_free_after_exit(d.ty))
    }

    /// The merged ranges of every descriptor whose type is not memory-mapped I/O (what an OS identity-maps as
    /// RAM).
    pub fn memory_ranges(&self) -> Vec<Range> {
        self.ranges_where(|d| !matches!(d.ty, ty::MMIO | ty::MMIO_PORT_SPACE))
    }

    /// The merged ranges of the MMIO descriptors.
    pub fn mmio_ranges(&self) -> Vec<Range> {
        self.ranges_where(|d| matches!(d.ty, ty::MMIO | ty::MMIO_PORT_SPACE))
    }

    fn ranges_where(&self, keep: impl Fn(&Descriptor) -> bool) -> Vec<Range> {
        merge(
            self.descriptors
                .iter()
                .filter(|d| keep(d))
                .filter_map(|d| {
                    Some(Range {
                        start: d.phys_start,
                        end: d.end()?,
                    })
                })
                .collect(),
        )
    }

    /// The type of every byte of `range` when descriptors of one single type cover all of it; `None` when part
    /// of it is missing from the map, the types differ, or the range is empty.
    pub fn covering_type(&self, range: Range) -> Option<u32> {
        if range.is_empty() {
            return None;
        }
        let mut cursor = range.start;
        let mut found = None;
        while cursor < range.end {
            let d = self
                .descriptors
                .iter()
                .find(|d| d.phys_start <= cursor && d.end().is_some_and(|e| cursor < e))?;
            if found.is_some_and(|t| t != d.ty) {
                return None;
            }
            found = Some(d.ty);
            cursor = d.end()?;
        }
        found
    }

    /// Total pages per memory type, for the report: `(type, pages)` sorted by type.
    pub fn pages_by_type(&self) -> Vec<(u32, u64)> {
        let mut out: Vec<(u32, u64)> = Vec::new();
        for d in &self.descriptors {
            match out.iter_mut().find(|(t, _)| *t == d.ty) {
                Some((_, pages)) => *pages = pages.saturating_add(d.page_count),
                None => out.push((d.ty, d.page_count)),
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests;

//! Guest physical memory map: QEMU's `etc/e820` fw_cfg file, normalised, plus the firmware's own reservations.
//!
//! Source: the `etc/e820` format is QEMU's `struct e820_entry` (`hw/i386/e820_memory_layout.h`): packed
//! little-endian `{u64 address; u64 length; u32 type}`, 20 bytes per entry; types follow the ACPI address range
//! types (ACPI 6.5 section 15.1: 1 memory, 2 reserved, 3 ACPI reclaim, 4 NVS, 5 unusable; other values are treated
//! as reserved). When the file is absent, [`ranges_from_cmos`] rebuilds a coarse map from the CMOS size registers.
//!
//! Design note / invariants of [`MemoryRanges`]: ranges are half-open `[start, end)`, sorted by `start`,
//! non-overlapping, non-empty, and two neighbours that touch never share a kind (they are merged). Every insertion
//! re-normalises with a sweep over range boundaries; where ranges of different kinds overlap, the more restrictive
//! kind wins, with "restrictive" being the declaration order of [`MemoryKind`] (RAM is the least restrictive,
//! unusable the most). [`MemoryRanges::reserve`] is stricter: it carves firmware regions out of RAM (or unmapped
//! space) only, and refuses to cover a region of any other kind.

mod cmos;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::ops::Range;

pub use cmos::{ranges_from_cmos, CMOS_DATA_PORT, CMOS_INDEX_PORT};

/// Size of one `etc/e820` entry in bytes.
pub const E820_ENTRY_SIZE: usize = 20;
/// 4 GiB, the end of the 32-bit physical address space.
pub const FOUR_GIB: u64 = 1 << 32;

/// What a physical address range is used for, ordered from least to most restrictive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryKind {
    /// Usable RAM (e820 type 1).
    Ram,
    /// RAM holding the firmware's heap (boot-time allocations).
    FirmwareHeap,
    /// RAM holding the firmware's stack.
    FirmwareStack,
    /// RAM holding the firmware's page tables.
    PageTables,
    /// RAM holding the firmware image (code and data).
    FirmwareImage,
    /// ACPI tables, reclaimable once read (e820 type 3).
    AcpiReclaimable,
    /// ACPI non-volatile storage (e820 type 4).
    AcpiNvs,
    /// Reserved (e820 type 2 and any unknown type).
    Reserved,
    /// PCI Express enhanced configuration space (ECAM/MMCONFIG window, 0xB000_0000 on q35).
    PciEcam,
    /// Memory with errors, not to be used (e820 type 5).
    Unusable,
}

impl MemoryKind {
    /// All kinds, in restrictiveness order (index = rank).
    const ALL: [MemoryKind; 10] = [
        MemoryKind::Ram,
        MemoryKind::FirmwareHeap,
        MemoryKind::FirmwareStack,
        MemoryKind::PageTables,
        MemoryKind::FirmwareImage,
        MemoryKind::AcpiReclaimable,
        MemoryKind::AcpiNvs,
        MemoryKind::Reserved,
        MemoryKind::PciEcam,
        MemoryKind::Unusable,
    ];

    fn rank(self) -> usize {
        self as usize
    }

    /// Maps an e820 / ACPI address range type to a kind; unknown types are reserved.
    pub fn from_e820_type(raw: u32) -> MemoryKind {
        match raw {
            1 => MemoryKind::Ram,
            2 => MemoryKind::Reserved,
            3 => MemoryKind::AcpiReclaimable,
            4 => MemoryKind::AcpiNvs,
            5 => MemoryKind::Unusable,
            other => {
                log::debug!("e820: unknown type {} treated as reserved", other);
                MemoryKind::Reserved
            }
        }
    }

    /// Whether the range is system RAM: free RAM or RAM the firmware carved out for itself.
    pub fn is_system_ram(self) -> bool {
        matches!(
            self,
            MemoryKind::Ram
                | MemoryKind::FirmwareHeap
                | MemoryKind::FirmwareStack
                | MemoryKind::PageTables
                | MemoryKind::FirmwareImage
        )
    }
}

/// One normalised range `[start, end)` of a single kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    /// First byte address.
    pub start: u64,
    /// One past the last byte address (exclusive).
    pub end: u64,
    /// Use of the range.
    pub kind: MemoryKind,
}

impl MemoryRange {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Always false for ranges held in a [`MemoryRanges`] (empty ranges are dropped).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Errors of e820 parsing and memory map edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E820Error {
    /// The `etc/e820` blob is not a multiple of 20 bytes.
    BadLength {
        /// Blob length in bytes.
        len: usize,
    },
    /// Entry `index` has `address + length` beyond the 64-bit address space.
    EntryOverflows {
        /// Position of the entry in the blob.
        index: usize,
    },
    /// A range with `start > end` was passed.
    InvalidRange {
        /// Requested start.
        start: u64,
        /// Requested end.
        end: u64,
    },
    /// [`MemoryRanges::reserve`] would cover part of a region that is neither RAM nor of the requested kind.
    Conflict {
        /// Start of the conflicting existing region.
        start: u64,
        /// End of the conflicting existing region.
        end: u64,
        /// Kind of the conflicting existing region.
        existing: MemoryKind,
    },
}

impl core::fmt::Display for E820Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

/// A normalised physical memory map (see the module note for invariants).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryRanges {
    ranges: Vec<MemoryRange>,
}

impl MemoryRanges {
    /// An empty map.
    pub fn new() -> Self {
        MemoryRanges { ranges: Vec::new() }
    }

    /// Parses an `etc/e820` blob (20-byte little-endian `{addr, len, type}` entries) and normalises it.
    ///
    /// Errors: [`E820Error::BadLength`], [`E820Error::EntryOverflows`].
    pub fn from_e820(blob: &[u8]) -> Result<Self, E820Error> {
        if !blob.chunks_exact(E820_ENTRY_SIZE).remainder().is_empty() {
            return Err(E820Error::BadLength { len: blob.len() });
        }
        let mut raw = Vec::with_capacity(blob.len() / E820_ENTRY_SIZE);
        for (index, entry) in blob.chunks_exact(E820_ENTRY_SIZE).enumerate() {
            let addr = u64::from_le_bytes(entry[0..8].try_into().unwrap_or_default());
            let len = u64::from_le_bytes(entry[8..16].try_into().unwrap_or_default());
            let kind = u32::from_le_bytes(entry[16..20].try_into().unwrap_or_default());
            let end = addr
                .checked_add(len)
                .ok_or(E820Error::EntryOverflows { index })?;
            log::debug!("e820: [{:#x}, {:#x}) type {}", addr, end, kind);
            raw.push(MemoryRange {
                start: addr,
                end,
                kind: MemoryKind::from_e820_type(kind),
            });
        }
        Ok(MemoryRanges {
            ranges: normalise(&raw),
        })
    }

    /// Adds `range` as `kind`; where it overlaps existing ranges the more restrictive kind wins.
    ///
    /// An empty range is a no-op. Errors: [`E820Error::InvalidRange`] when `range.start > range.end`.
    pub fn add(&mut self, range: Range<u64>, kind: MemoryKind) -> Result<(), E820Error> {
        if range.start > range.end {
            return Err(E820Error::InvalidRange {
                start: range.start,
                end: range.end,
            });
        }
        let mut all = core::mem::take(&mut self.ranges);
        all.push(MemoryRange {
            start: range.start,
            end: range.end,
            kind,
        });
        self.ranges = normalise(&all);
        Ok(())
    }

    /// Carves `range` out as `kind` (a firmware region, or the PCI ECAM window).
    ///
    /// The range may cover RAM, unmapped space and ranges already of `kind`; anything else is refused with
    /// [`E820Error::Conflict`] naming the first conflicting region, and the map is left unchanged.
    /// An empty range is a no-op. Errors: [`E820Error::InvalidRange`], [`E820Error::Conflict`].
    pub fn reserve(&mut self, range: Range<u64>, kind: MemoryKind) -> Result<(), E820Error> {
        if range.start > range.end {
            return Err(E820Error::InvalidRange {
                start: range.start,
                end: range.end,
            });
        }
        if let Some(clash) = self.ranges.iter().find(|r| {
            r.start < range.end
                && range.start < r.end
                && r.kind != MemoryKind::Ram
                && r.kind != kind
        }) {
            return Err(E820Error::Conflict {
                start: clash.start,
                end: clash.end,
                existing: clash.kind,
            });
        }
        // Only RAM (the least restrictive kind) and `kind` itself are overlapped, so a plain insert lets `kind` win.
        let mut all = core::mem::take(&mut self.ranges);
        all.push(MemoryRange {
            start: range.start,
            end: range.end,
            kind,
        });
        self.ranges = normalise(&all);
        Ok(())
    }

    /// The normalised ranges, sorted by address.
    pub fn as_slice(&self) -> &[MemoryRange] {
        &self.ranges
    }

    /// Iterates over the normalised ranges in address order.
    pub fn iter(&self) -> core::slice::Iter<'_, MemoryRange> {
        self.ranges.iter()
    }

    /// Number of normalised ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Kind of the range containing `address`, if any.
    pub fn kind_at(&self, address: u64) -> Option<MemoryKind> {
        self.ranges
            .iter()
            .find(|r| r.start <= address && address < r.end)
            .map(|r| r.kind)
    }

    /// Bytes of system RAM (free RAM plus firmware-carved RAM, see [`MemoryKind::is_system_ram`]).
    pub fn total_ram_bytes(&self) -> u64 {
        self.ranges
            .iter()
            .filter(|r| r.kind.is_system_ram())
            .map(MemoryRange::len)
            .sum()
    }

    /// Bytes of free RAM ([`MemoryKind::Ram`] only).
    pub fn free_ram_bytes(&self) -> u64 {
        self.ranges
            .iter()
            .filter(|r| r.kind == MemoryKind::Ram)
            .map(MemoryRange::len)
            .sum()
    }

    /// End (exclusive) of the highest system RAM below 4 GiB, capped at 4 GiB; 0 when there is none.
    pub fn top_of_ram_below_4g(&self) -> u64 {
        self.ranges
            .iter()
            .filter(|r| r.kind.is_system_ram() && r.start < FOUR_GIB)
            .map(|r| r.end.min(FOUR_GIB))
            .max()
            .unwrap_or(0)
    }

    /// End (exclusive) of the highest system RAM; 0 when there is none.
    pub fn top_of_ram(&self) -> u64 {
        self.ranges
            .iter()
            .filter(|r| r.kind.is_system_ram())
            .map(|r| r.end)
            .max()
            .unwrap_or(0)
    }
}

impl<'a> IntoIterator for &'a MemoryRanges {
    type Item = &'a MemoryRange;
    type IntoIter = core::slice::Iter<'a, MemoryRange>;
    fn into_iter(self) -> Self::IntoIter {
        self.ranges.iter()
    }
}

/// Sorts, resolves overlaps (most restrictive kind wins), drops empty ranges and merges touching same-kind ranges.
///
/// Sweep over boundary events: at each boundary the active kind is the highest-ranked kind with a nonzero
/// coverage count.
fn normalise(input: &[MemoryRange]) -> Vec<MemoryRange> {
    // (position, is_start, rank); ends and starts at one position are all applied before emitting.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(input.len() * 2);
    for r in input.iter().filter(|r| !r.is_empty()) {
        events.push((r.start, true, r.kind.rank()));
        events.push((r.end, false, r.kind.rank()));
    }
    events.sort_unstable_by_key(|e| e.0);
    let mut coverage = [0usize; MemoryKind::ALL.len()];
    let mut out: Vec<MemoryRange> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let pos = events[i].0;
        while i < events.len() && events[i].0 == pos {
            let (_, is_start, rank) = events[i];
            if is_start {
                coverage[rank] += 1;
            } else {
                coverage[rank] -= 1;
            }
            i += 1;
        }
        let Some(&(next, _, _)) = events.get(i) else {
            break;
        };
        let Some(rank) = coverage.iter().rposition(|&c| c > 0) else {
            continue;
        };
        let kind = MemoryKind::ALL[rank];
        match out.last_mut() {
            Some(last) if last.end == pos && last.kind == kind => last.end = next,
            _ => out.push(MemoryRange {
                start: pos,
                end: next,
                kind,
            }),
        }
    }
    out
}

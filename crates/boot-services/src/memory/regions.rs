//! The normalized store of memory ranges behind [`super::MemoryMap`].
//!
//! Invariants (checked by the property tests):
//! - ranges are keyed by base address, so iteration is sorted by address;
//! - no two ranges overlap, and every range has at least one page;
//! - no two *contiguous* ranges have the same type and attributes (they are merged on every change).
//!
//! Because the store is always in this normal form, the list of ranges is exactly the descriptor list that
//! `GetMemoryMap()` reports; any mutation of the store is a change of the reported map.

use alloc::collections::BTreeMap;

use super::types::{page_end, MemoryRange, PAGE_SIZE};

/// Type and attributes of one range; the base address is the key of the map holding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    pages: u64,
    memory_type: u32,
    attribute: u64,
}

impl Extent {
    fn end(&self, base: u64) -> u64 {
        base + self.pages * PAGE_SIZE
    }

    fn same_kind(&self, other: &Extent) -> bool {
        self.memory_type == other.memory_type && self.attribute == other.attribute
    }
}

/// Sorted, non-overlapping, merged set of typed page ranges.
#[derive(Clone, Debug, Default)]
pub(crate) struct Regions {
    map: BTreeMap<u64, Extent>,
}

impl Regions {
    /// All ranges, sorted by base address.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = MemoryRange> + '_ {
        self.map.iter().map(|(&base, e)| MemoryRange {
            base,
            pages: e.pages,
            memory_type: e.memory_type,
            attribute: e.attribute,
        })
    }

    /// Number of ranges (= number of descriptors `GetMemoryMap()` reports).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The range containing byte address `addr`, if any.
    pub(crate) fn containing(&self, addr: u64) -> Option<MemoryRange> {
        let (&base, e) = self.map.range(..=addr).next_back()?;
        (addr < e.end(base)).then_some(MemoryRange {
            base,
            pages: e.pages,
            memory_type: e.memory_type,
            attribute: e.attribute,
        })
    }

    /// Whether any page of `[base, end)` is already described.
    pub(crate) fn overlaps(&self, base: u64, end: u64) -> bool {
        if let Some((&b, e)) = self.map.range(..base).next_back() {
            if e.end(b) > base {
                return true;
            }
        }
        self.map.range(base..end).next().is_some()
    }

    /// Whether `[base, end)` is covered without holes by ranges that all satisfy `pred`.
    pub(crate) fn covered_by(
        &self,
        base: u64,
        end: u64,
        pred: impl Fn(&MemoryRange) -> bool,
    ) -> bool {
        let mut cursor = base;
        for r in self.overlapping(base, end) {
            if r.base > cursor || !pred(&r) {
                return false;
            }
            cursor = r.end();
            if cursor >= end {
                return true;
            }
        }
        false
    }

    /// Ranges that share at least one byte with `[base, end)`, sorted.
    pub(crate) fn overlapping(
        &self,
        base: u64,
        end: u64,
    ) -> impl Iterator<Item = MemoryRange> + '_ {
        let first = self.containing(base);
        let rest_from = first.map_or(base, |r| r.base.saturating_add(1));
        first.into_iter().chain(
            self.map
                .range(rest_from..end.max(rest_from))
                .map(|(&b, e)| MemoryRange {
                    base: b,
                    pages: e.pages,
                    memory_type: e.memory_type,
                    attribute: e.attribute,
                }),
        )
    }

    /// Adds a range that must not overlap any existing one (the caller checked with [`Self::overlaps`]).
    pub(crate) fn insert(&mut self, range: MemoryRange) {
        self.map.insert(
            range.base,
            Extent {
                pages: range.pages,
                memory_type: range.memory_type,
                attribute: range.attribute,
            },
        );
        self.merge_around(range.base, range.end());
    }

    /// Re-types every page of `[base, base + pages * 4 KiB)`, which must be fully covered (the caller checked with
    /// [`Self::covered_by`]). `retype` maps each affected range's (type, attributes) to the new pair.
    pub(crate) fn convert(
        &mut self,
        base: u64,
        pages: u64,
        retype: impl Fn(u32, u64) -> (u32, u64),
    ) {
        let Some(end) = page_end(base, pages) else {
            return;
        };
        self.split_at(base);
        self.split_at(end);
        for (_, e) in self.map.range_mut(base..end) {
            let (t, a) = retype(e.memory_type, e.attribute);
            e.memory_type = t;
            e.attribute = a;
        }
        self.merge_around(base, end);
    }

    /// Splits the range containing `addr` (if `addr` is strictly inside it) into two at `addr`.
    fn split_at(&mut self, addr: u64) {
        let Some((&base, e)) = self.map.range(..addr).next_back() else {
            return;
        };
        let e = *e;
        if addr >= e.end(base) {
            return;
        }
        let head_pages = (addr - base) / PAGE_SIZE;
        self.map.insert(
            base,
            Extent {
                pages: head_pages,
                ..e
            },
        );
        self.map.insert(
            addr,
            Extent {
                pages: e.pages - head_pages,
                ..e
            },
        );
    }

    /// Merges contiguous equal ranges among those touching `[lo, hi]` (including the neighbours just outside).
    fn merge_around(&mut self, lo: u64, hi: u64) {
        let start = self.map.range(..lo).next_back().map_or(lo, |(&b, _)| b);
        let mut cursor = start;
        while let Some((&base, &e)) = self.map.range(cursor..).next() {
            if base > hi {
                break;
            }
            let end = e.end(base);
            match self.map.get(&end) {
                Some(next) if next.same_kind(&e) => {
                    let next_pages = next.pages;
                    self.map.remove(&end);
                    if let Some(cur) = self.map.get_mut(&base) {
                        cur.pages += next_pages;
                    }
                    // Stay on `base`: it may now be contiguous with the following range too.
                }
                _ => cursor = base + 1,
            }
        }
    }
}

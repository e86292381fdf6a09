//! The set of pages handed out by `AllocatePages()`, so that `FreePages()` can tell its own allocations from
//! firmware reservations and pool pages (UEFI 2.10 section 7.2: `FreePages()` returns `EFI_NOT_FOUND` for "pages
//! not allocated with `AllocatePages()`").
//!
//! Invariant: intervals are non-empty, sorted, disjoint and never contiguous (contiguous ones are merged). Merging
//! lets a caller free a sub-range of one allocation, or a range spanning two adjacent ones, as loaders do when
//! they trim an over-sized allocation to an alignment.

use alloc::collections::BTreeMap;

/// Disjoint half-open byte intervals `[start, end)`, keyed by start.
#[derive(Clone, Debug, Default)]
pub(crate) struct PageSet {
    intervals: BTreeMap<u64, u64>,
}

impl PageSet {
    /// Whether `[start, end)` lies entirely inside the set.
    pub(crate) fn contains(&self, start: u64, end: u64) -> bool {
        matches!(self.intervals.range(..=start).next_back(), Some((_, &e)) if e >= end)
    }

    /// Adds `[start, end)`, which must be disjoint from the set (freshly carved from free memory).
    pub(crate) fn insert(&mut self, start: u64, end: u64) {
        let mut new_start = start;
        let mut new_end = end;
        if let Some((&s, &e)) = self.intervals.range(..=start).next_back() {
            if e == start {
                new_start = s;
                self.intervals.remove(&s);
            }
        }
        if let Some(e) = self.intervals.remove(&end) {
            new_end = e;
        }
        self.intervals.insert(new_start, new_end);
    }

    /// Removes `[start, end)`, which must be contained in the set (checked with [`Self::contains`]).
    pub(crate) fn remove(&mut self, start: u64, end: u64) {
        let Some((&s, &e)) = self.intervals.range(..=start).next_back() else {
            return;
        };
        if e < end {
            return;
        }
        self.intervals.remove(&s);
        if s < start {
            self.intervals.insert(s, start);
        }
        if end < e {
            self.intervals.insert(end, e);
        }
    }
}

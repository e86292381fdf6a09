//! The DMA canary: a pattern written over all memory the OS owns after ExitBootServices, and the list of pages
//! found changed afterwards.
//!
//! Pattern (per 16-byte slot at physical address `a`): the first quadword holds `a` itself, the second
//! [`ODD_WORD`]. A device that reads canary memory as a descriptor therefore finds a buffer pointer into canary
//! memory (the slot itself) with a plausible length and the virtio "device writes" flag, so that if it writes
//! through that pointer the write lands where the scan sees it, instead of outside RAM where it would be lost.
//! Every slot differs from every other, so a page copied over another is caught too.

use alloc::vec::Vec;

use crate::memmap::{Range, PAGE_SIZE};

/// Quadwords per 4 KiB page.
pub const WORDS_PER_PAGE: usize = (PAGE_SIZE / 8) as usize;
/// The second quadword of every slot: as a virtio descriptor (virtio 1.2 §2.7.5) `len` 0x800, `flags`
/// VIRTQ_DESC_F_WRITE, `next` 0; as an e1000 receive descriptor's status half it reads "not done".
pub const ODD_WORD: u64 = 0x0000_0002_0000_0800;

/// The expected quadword `index` (0..512) of the page at `base`.
pub fn word(base: u64, index: usize) -> u64 {
    if index & 1 == 0 {
        base + 8 * index as u64
    } else {
        ODD_WORD
    }
}

/// Writes the pattern of the page at physical `base` through `write(index, value)` (the app passes a volatile
/// store into the page).
pub fn fill(base: u64, mut write: impl FnMut(usize, u64)) {
    for i in 0..WORDS_PER_PAGE {
        write(i, word(base, i));
    }
}

/// Whether the page at `base`, read through `read(index)`, still holds the pattern.
pub fn intact(base: u64, mut read: impl FnMut(usize) -> u64) -> bool {
    (0..WORDS_PER_PAGE).all(|i| read(i) == word(base, i))
}

/// Changed pages coalesced into ranges, in ascending order; beyond `max_ranges` ranges only the count grows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// The ranges kept.
    pub ranges: Vec<Range>,
    /// Changed pages in total (kept or not).
    pub pages: u64,
    /// Ranges not kept because of the cap.
    pub dropped_ranges: u64,
    max_ranges: usize,
}

impl Changes {
    /// No changes yet; keep at most `max_ranges` ranges.
    pub fn new(max_ranges: usize) -> Changes {
        Changes {
            ranges: Vec::new(),
            pages: 0,
            dropped_ranges: 0,
            max_ranges,
        }
    }

    /// Records the changed page at `base`; pages must come in ascending order.
    pub fn record(&mut self, base: u64) {
        self.pages += 1;
        let room = self.ranges.len() < self.max_ranges && self.dropped_ranges == 0;
        match self.ranges.last_mut() {
            Some(last) if last.end == base && self.dropped_ranges == 0 => last.end += PAGE_SIZE,
            _ if room => self.ranges.push(Range::at(base, PAGE_SIZE)),
            _ => self.dropped_ranges += 1,
        }
    }
}

/// The changed ranges that share a page with `ring`.
pub fn touching(changed: &[Range], ring: &Range) -> Vec<Range> {
    let pages = Range {
        start: ring.start & !(PAGE_SIZE - 1),
        end: ring.end.next_multiple_of(PAGE_SIZE),
    };
    changed
        .iter()
        .filter(|r| r.overlaps(&pages))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;

    #[test]
    fn pattern_points_each_slot_at_itself() {
        let mut page = Box::new([0u64; WORDS_PER_PAGE]);
        fill(0x1234_5000, |i, w| page[i] = w);
        assert_eq!(page[0], 0x1234_5000);
        assert_eq!(page[1], ODD_WORD);
        assert_eq!(page[2], 0x1234_5010);
        assert_eq!(page[510], 0x1234_5ff0);
        assert!(intact(0x1234_5000, |i| page[i]));
        assert!(
            !intact(0x1234_6000, |i| page[i]),
            "a page copied elsewhere is caught"
        );
        page[301] ^= 1 << 40;
        assert!(!intact(0x1234_5000, |i| page[i]));
    }

    #[test]
    fn changes_coalesce_and_cap() {
        let mut c = Changes::new(2);
        for base in [0x1000, 0x2000, 0x3000, 0x8000, 0xa000, 0xb000] {
            c.record(base);
        }
        assert_eq!(
            c.ranges,
            vec![Range::at(0x1000, 0x3000), Range::at(0x8000, 0x1000)]
        );
        assert_eq!(c.pages, 6);
        assert_eq!(
            c.dropped_ranges, 2,
            "0xa000 opened a third range; 0xb000 counts too once dropping"
        );
    }

    #[test]
    fn touching_works_at_page_granularity() {
        let changed = [Range::at(0x1000, 0x1000), Range::at(0x5000, 0x2000)];
        assert_eq!(
            touching(&changed, &Range::at(0x1ff0, 0x20)),
            vec![changed[0]]
        );
        assert_eq!(touching(&changed, &Range::at(0x6800, 6)), vec![changed[1]]);
        assert!(touching(&changed, &Range::at(0x3000, 0x2000)).is_empty());
    }
}

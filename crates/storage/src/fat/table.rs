//! The File Allocation Table: entry access, chain walking, allocation and freeing (Microsoft FAT spec section 4).
//!
//! Entry values: 0 free; 2..=max a next cluster; `0xFF7`/`0xFFF7`/`0x0FFFFFF7` bad; `>= 0xFF8`/`0xFFF8`/
//! `0x0FFFFFF8` end of chain. FAT32 entries are 28 bits: the top 4 bits are ignored on read and kept on write.
//! FAT12 entry `n` is the 12 bits at byte `n + n / 2` (low 12 bits of the u16 there for even `n`, high 12 for odd
//! `n`), so it may straddle two sectors; `ByteIo` handles that.
//!
//! Walking a chain never trusts the table: every next cluster must be a data cluster, free or bad entries are
//! errors, Brent's cycle detection stops a loop early, the walk is bounded by the cluster count, and the resulting
//! extents are checked for overlap, so any revisited cluster is [`FatError::CorruptChain`].

use super::bpb::FatType;
use super::{FatError, FatFs};
use crate::block::BlockDevice;
use alloc::vec::Vec;

/// A walked cluster chain as runs of consecutive clusters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    /// `(first cluster, cluster count)` runs in chain order.
    pub(crate) extents: Vec<(u32, u32)>,
    /// Clusters in the chain (the walk may have stopped at a limit).
    pub(crate) clusters: u32,
    /// The walk reached the end-of-chain mark.
    pub(crate) complete: bool,
}

impl Chain {
    /// The `index`-th cluster (0-based) of the chain, if walked.
    pub(crate) fn cluster(&self, mut index: u32) -> Option<u32> {
        for &(start, len) in &self.extents {
            if index < len {
                return Some(start + index);
            }
            index -= len;
        }
        None
    }

    /// The last cluster walked.
    pub(crate) fn last(&self) -> Option<u32> {
        self.extents.last().map(|&(s, l)| s + l - 1)
    }
}

impl<D: BlockDevice> FatFs<D> {
    fn entry_location(&self, cluster: u32) -> (u64, usize) {
        let c = cluster as u64;
        match self.bpb.fat_type {
            FatType::Fat12 => (c + c / 2, 2),
            FatType::Fat16 => (c * 2, 2),
            FatType::Fat32 => (c * 4, 4),
        }
    }

    fn active_fat(&self) -> u8 {
        if self.bpb.ext_flags & 0x80 != 0 {
            ((self.bpb.ext_flags & 0xF) as u8).min(self.bpb.num_fats - 1)
        } else {
            0
        }
    }

    /// Raw value of FAT entry `cluster` (`cluster < cluster_count + 2`), FAT32 masked to 28 bits.
    pub(crate) fn fat_entry(&mut self, cluster: u32) -> Result<u32, FatError> {
        let (off, width) = self.entry_location(cluster);
        let mut b = [0u8; 4];
        let base = self.bpb.fat_offset(self.active_fat());
        self.io.read(base + off, &mut b[..width])?;
        let raw = u32::from_le_bytes(b);
        Ok(match self.bpb.fat_type {
            FatType::Fat12 if cluster & 1 == 1 => raw >> 4,
            FatType::Fat12 => raw & 0xFFF,
            FatType::Fat16 => raw,
            FatType::Fat32 => raw & 0x0FFF_FFFF,
        })
    }

    /// Sets FAT entry `cluster` to `value` in every mirrored FAT (or only the active one if mirroring is off).
    pub(crate) fn set_fat_entry(&mut self, cluster: u32, value: u32) -> Result<(), FatError> {
        self.chain_cache = None;
        self.invalidate_fs_info()?;
        let (off, width) = self.entry_location(cluster);
        let fats: Vec<u8> = if self.bpb.ext_flags & 0x80 != 0 {
            alloc::vec![self.active_fat()]
        } else {
            (0..self.bpb.num_fats).collect()
        };
        for fat in fats {
            let at = self.bpb.fat_offset(fat) + off;
            let mut b = [0u8; 4];
            self.io.read(at, &mut b[..width])?;
            let old = u32::from_le_bytes(b);
            let new = match self.bpb.fat_type {
                FatType::Fat12 if cluster & 1 == 1 => (old & 0x000F) | ((value & 0xFFF) << 4),
                FatType::Fat12 => (old & 0xF000) | (value & 0xFFF),
                FatType::Fat16 => value & 0xFFFF,
                FatType::Fat32 => (old & 0xF000_0000) | (value & 0x0FFF_FFFF),
            };
            self.io.write(at, &new.to_le_bytes()[..width])?;
        }
        Ok(())
    }

    /// The end-of-chain value written by this driver.
    pub(crate) fn eoc(&self) -> u32 {
        match self.bpb.fat_type {
            FatType::Fat12 => 0xFFF,
            FatType::Fat16 => 0xFFFF,
            FatType::Fat32 => 0x0FFF_FFFF,
        }
    }

    fn bad_mark(&self) -> u32 {
        self.eoc() - 8
    }

    /// The cluster after `cluster` (`Ok(None)` at end of chain); errors for free, bad or out-of-range entries.
    pub(crate) fn next_cluster(&mut self, cluster: u32) -> Result<Option<u32>, FatError> {
        let v = self.fat_entry(cluster)?;
        if v > self.bad_mark() {
            Ok(None)
        } else if v == self.bad_mark() {
            Err(FatError::BadClusterInChain { cluster })
        } else if v == 0 {
            Err(FatError::FreeClusterInChain { cluster })
        } else if !self.bpb.is_data_cluster(v) {
            Err(FatError::ClusterOutOfRange { cluster: v })
        } else {
            Ok(Some(v))
        }
    }

    /// Walks the chain from `start` for at most `limit` clusters (fewer if it ends). The result is cached until
    /// the FAT changes; a later walk of the same chain that needs more clusters continues from the cached end
    /// instead of starting over, so reading a file front to back in chunks walks its chain once.
    pub(crate) fn walk(&mut self, start: u32, limit: u32) -> Result<Chain, FatError> {
        let mut resume = None;
        if let Some((s, c)) = &self.chain_cache {
            if *s == start && (c.complete || c.clusters >= limit) {
                let mut c = c.clone();
                truncate_chain(&mut c, limit);
                return Ok(c);
            }
            if *s == start {
                resume = Some(c.clone());
            }
        }
        if !self.bpb.is_data_cluster(start) {
            return Err(FatError::ClusterOutOfRange { cluster: start });
        }
        let limit = limit.min(self.bpb.cluster_count);
        let mut chain = Chain::default();
        let mut cur = start;
        if let Some(prefix) = resume.filter(|c| c.clusters > 0) {
            // The cached walk stopped at its limit: go on from the cluster after its last one.
            let last = prefix.last().unwrap_or(start);
            chain = prefix;
            match self.next_cluster(last)? {
                Some(next) => cur = next,
                None => {
                    chain.complete = true;
                    self.chain_cache = Some((start, chain.clone()));
                    return Ok(chain);
                }
            }
        }
        let (mut tortoise, mut power, mut lam) = (cur, 1u32, 0u32);
        while chain.clusters < limit {
            match chain.extents.last_mut() {
                Some((s, l)) if *s + *l == cur => *l += 1,
                _ => chain.extents.push((cur, 1)),
            }
            chain.clusters += 1;
            let Some(next) = self.next_cluster(cur)? else {
                chain.complete = true;
                break;
            };
            if power == lam {
                tortoise = cur;
                power = power.saturating_mul(2);
                lam = 0;
            }
            lam += 1;
            if next == tortoise {
                return Err(FatError::CorruptChain { start });
            }
            cur = next;
        }
        let mut sorted = chain.extents.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(FatError::CorruptChain { start });
        }
        self.chain_cache = Some((start, chain.clone()));
        Ok(chain)
    }

    /// Walks the whole chain from `start`; a chain that does not end within the cluster count is corrupt.
    pub(crate) fn walk_all(&mut self, start: u32) -> Result<Chain, FatError> {
        let chain = self.walk(start, u32::MAX)?;
        if !chain.complete {
            return Err(FatError::CorruptChain { start });
        }
        Ok(chain)
    }

    /// Allocates a free cluster, marks it end-of-chain and links it after `prev` if given.
    pub(crate) fn allocate(&mut self, prev: Option<u32>) -> Result<u32, FatError> {
        let count = self.bpb.cluster_count;
        let mut c = self.next_free;
        for _ in 0..count {
            if !self.bpb.is_data_cluster(c) {
                c = 2;
            }
            if self.fat_entry(c)? == 0 {
                self.set_fat_entry(c, self.eoc())?;
                if let Some(p) = prev {
                    self.set_fat_entry(p, c)?;
                }
                self.next_free = c + 1;
                return Ok(c);
            }
            c += 1;
        }
        Err(FatError::NoSpace)
    }

    /// Marks every cluster of `chain` free.
    pub(crate) fn free_chain(&mut self, chain: &Chain) -> Result<(), FatError> {
        for &(s, l) in &chain.extents {
            for c in s..s + l {
                self.set_fat_entry(c, 0)?;
            }
        }
        Ok(())
    }

    /// Invalidates the FAT32 FSInfo free-count and next-free hints (set to 0xFFFFFFFF, "unknown") before the
    /// first FAT change, so they never disagree with the FAT.
    fn invalidate_fs_info(&mut self) -> Result<(), FatError> {
        if let Some(off) = self.fs_info.take() {
            self.io.write(off + 488, &[0xFF; 8])?;
        }
        Ok(())
    }
}

fn truncate_chain(c: &mut Chain, limit: u32) {
    if c.clusters <= limit {
        return;
    }
    let mut left = limit;
    let mut out = Vec::new();
    for &(s, l) in &c.extents {
        if left == 0 {
            break;
        }
        out.push((s, l.min(left)));
        left -= l.min(left);
    }
    c.extents = out;
    c.clusters = limit;
    c.complete = false;
}

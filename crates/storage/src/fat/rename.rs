//! Renaming and moving entries (Microsoft FAT spec sections 6-7), what `EFI_FILE_PROTOCOL.SetInfo` needs when the
//! `FileName` of an `EFI_FILE_INFO` changes (UEFI 2.10 section 13.5.15).
//!
//! A rename writes the entry under its new name first (long-name entries plus a short entry holding the same
//! attributes, times, first cluster and size) and only then frees the old slots, so an interrupted rename leaves
//! two names for one chain rather than none. A directory moved to another parent gets its `..` entry pointed at
//! the new parent (cluster 0 for the root). Moving a directory into itself or below itself is refused: the walk
//! up from the destination follows `..` entries, bounded by [`MAX_DEPTH`].

use super::dir::{DirEntry, EntryPos};
use super::write::{names_for, short_entry, valid_long_name};
use super::{FatError, FatFs, FatType};
use crate::block::BlockDevice;
use alloc::vec::Vec;

/// Deepest directory nesting followed when checking a move (a bound against `..` loops on a corrupt volume).
pub const MAX_DEPTH: usize = 256;

impl<D: BlockDevice> FatFs<D> {
    /// Gives `e` (an entry read from its parent directory) the name `new_name` in the directory `new_parent`
    /// (which may be its current parent). Returns the entry at its new place; the old one is gone.
    ///
    /// Errors: [`FatError::InvalidPath`] for the root, a dot entry, or a directory moved into itself or below
    /// itself; [`FatError::InvalidName`]; [`FatError::AlreadyExists`] when another entry of `new_parent` has that
    /// name (a change of case of the entry's own name is allowed); [`FatError::NotADirectory`];
    /// [`FatError::DirectoryFull`], [`FatError::NoSpace`]; chain corruption; I/O.
    pub fn rename(
        &mut self,
        e: &DirEntry,
        new_parent: &DirEntry,
        new_name: &str,
    ) -> Result<DirEntry, FatError> {
        let old = e.pos.clone().ok_or(FatError::InvalidPath)?;
        if e.short_name[0] == b'.' {
            return Err(FatError::InvalidPath);
        }
        if !valid_long_name(new_name) {
            return Err(FatError::InvalidName);
        }
        let loc = self.dir_loc(new_parent)?;
        if e.is_dir() {
            self.check_not_below(e, new_parent)?;
        }
        let data = self.load_dir(loc)?;
        let others: Vec<DirEntry> = data
            .entries(self.bpb.fat_type == FatType::Fat32)
            .into_iter()
            .filter(|x| x.pos.as_ref().map(|p| p.short) != Some(old.short))
            .collect();
        if others.iter().any(|x| x.matches(new_name)) {
            return Err(FatError::AlreadyExists);
        }
        let (short, lfn) = names_for(new_name, others.iter().map(|x| x.short_name))?;
        let slots = self.reserve_slots(loc, data, lfn.len() + 1)?;
        let moved = DirEntry {
            name: new_name.into(),
            short_name: short,
            pos: Some(EntryPos {
                lfn: slots[..lfn.len()].to_vec(),
                short: slots[lfn.len()],
            }),
            ..e.clone()
        };
        for (entry, &pos) in lfn.iter().zip(&slots) {
            self.io.write(pos, entry)?;
        }
        self.io.write(slots[lfn.len()], &short_entry(&moved))?;
        for p in old.lfn.iter().chain([&old.short]) {
            self.io.write(*p, &[0xE5])?;
        }
        if e.is_dir() && e.first_cluster != 0 {
            self.point_dotdot(e.first_cluster, new_parent)?;
        }
        Ok(moved)
    }

    /// Fails with [`FatError::InvalidPath`] when `dest` is the directory `dir` or lies below it.
    fn check_not_below(&mut self, dir: &DirEntry, dest: &DirEntry) -> Result<(), FatError> {
        let root = self.root();
        let mut cur = dest.clone();
        for _ in 0..MAX_DEPTH {
            if cur.is_root() || cur.first_cluster == 0 || cur.first_cluster == root.first_cluster {
                return Ok(());
            }
            if cur.first_cluster == dir.first_cluster {
                return Err(FatError::InvalidPath);
            }
            cur = self.lookup(&cur, "..")?;
        }
        Err(FatError::CorruptChain {
            start: dest.first_cluster,
        })
    }

    /// Points the `..` entry (slot 1) of the directory starting at `cluster` at `parent`.
    fn point_dotdot(&mut self, cluster: u32, parent: &DirEntry) -> Result<(), FatError> {
        if !self.bpb.is_data_cluster(cluster) {
            return Err(FatError::ClusterOutOfRange { cluster });
        }
        let target = if parent.is_root() {
            0
        } else {
            parent.first_cluster
        };
        let at = self.bpb.cluster_offset(cluster) + 32;
        let mut slot = [0u8; 32];
        self.io.read(at, &mut slot)?;
        if &slot[..11] != b"..         " {
            // Not a well-formed directory: leave it alone rather than overwrite a real entry.
            return Ok(());
        }
        self.io
            .write(at + 20, &((target >> 16) as u16).to_le_bytes())?;
        self.io.write(at + 26, &(target as u16).to_le_bytes())?;
        Ok(())
    }
}

//! The volume label (Microsoft FAT spec section 6: a root-directory entry with `ATTR_VOLUME_ID`), as
//! `EFI_FILE_SYSTEM_INFO.VolumeLabel` and `EFI_FILE_SYSTEM_VOLUME_LABEL` report and set it (UEFI 2.10 section
//! 13.5.16-17).
//!
//! The label is the 11-byte name of the first live volume-ID entry of the root directory (not a long-name entry),
//! trailing spaces trimmed, bytes >= 0x80 read as Latin-1; no such entry means an empty label. `BS_VolLab` in the
//! boot sector is not consulted or changed, as the UEFI FAT driver does. A new label must be at most 11 characters
//! of the short-name set or spaces (ASCII letters are upper-cased); the empty label removes the entry.

use super::dir::{Attributes, DirLoc};
use super::write::is_short_char;
use super::{FatError, FatFs};
use crate::block::BlockDevice;
use alloc::string::String;

impl<D: BlockDevice> FatFs<D> {
    /// Root-directory slot position and name bytes of the volume-ID entry, if any.
    fn label_entry(&mut self) -> Result<Option<(u64, [u8; 11])>, FatError> {
        let root = self.root();
        let loc = self.dir_loc(&root)?;
        let data = self.load_dir(loc)?;
        for i in 0..data.slots() {
            let e = data.slot(i);
            if e[0] == 0 {
                break;
            }
            let attr = e[11];
            if e[0] != 0xE5
                && attr & 0x3F != Attributes::LONG_NAME
                && attr & Attributes::VOLUME_ID != 0
            {
                let mut name = [0u8; 11];
                name.copy_from_slice(&e[..11]);
                return Ok(Some((data.slot_pos(i), name)));
            }
        }
        Ok(None)
    }

    /// The volume label (empty when the root directory has none). Errors: root directory corruption, I/O.
    pub fn volume_label(&mut self) -> Result<String, FatError> {
        Ok(match self.label_entry()? {
            Some((_, name)) => {
                let end = 11 - name.iter().rev().take_while(|&&b| b == b' ').count();
                name[..end].iter().map(|&b| char::from(b)).collect()
            }
            None => String::new(),
        })
    }

    /// Sets the volume label to `label` (empty: removes it). Errors: [`FatError::InvalidName`] for a label that
    /// is too long, starts with a space or has characters outside the short-name set; [`FatError::DirectoryFull`]
    /// when the root has no free slot; I/O.
    pub fn set_volume_label(&mut self, label: &str) -> Result<(), FatError> {
        let upper: String = label.chars().map(|c| c.to_ascii_uppercase()).collect();
        if upper.len() > 11
            || upper.starts_with(' ')
            || !upper.chars().all(|c| c == ' ' || is_short_char(c))
        {
            return Err(FatError::InvalidName);
        }
        let mut name = [b' '; 11];
        name[..upper.len()].copy_from_slice(upper.as_bytes());
        let existing = self.label_entry()?;
        match (existing, upper.trim_end().is_empty()) {
            (Some((pos, _)), true) => self.io.write(pos, &[0xE5])?,
            (Some((pos, _)), false) => self.io.write(pos, &name)?,
            (None, true) => {}
            (None, false) => {
                let loc = match self.bpb.root_cluster {
                    0 => DirLoc::FixedRoot,
                    c => DirLoc::Chain(c),
                };
                let data = self.load_dir(loc)?;
                let pos = self.reserve_slots(loc, data, 1)?[0];
                let mut e = [0u8; 32];
                e[..11].copy_from_slice(&name);
                e[11] = Attributes::VOLUME_ID;
                let (date, time, _) = self.now.to_fat();
                e[22..24].copy_from_slice(&time.to_le_bytes());
                e[24..26].copy_from_slice(&date.to_le_bytes());
                self.io.write(pos, &e)?;
            }
        }
        Ok(())
    }

    /// Bytes a directory occupies: the FAT12/16 fixed root's size, else its chain's clusters times the cluster
    /// size. Errors: [`FatError::NotADirectory`], chain corruption.
    pub fn dir_size(&mut self, dir: &super::DirEntry) -> Result<u64, FatError> {
        match self.dir_loc(dir)? {
            DirLoc::FixedRoot => Ok(self.bpb.root_entry_count as u64 * 32),
            DirLoc::Chain(start) => {
                let chain = self.walk_all(start)?;
                Ok(chain.clusters as u64 * self.bpb.cluster_bytes() as u64)
            }
        }
    }
}

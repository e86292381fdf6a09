//! Write support: create files and directories, write/extend/truncate files, delete (FAT spec sections 6-7).
//!
//! New entries take the first run of free slots (0xE5, or at/after the 0x00 end mark) long enough for the
//! long-name entries plus the short entry; a full cluster directory is extended by one zeroed cluster at a time
//! (the FAT12/16 fixed root cannot grow: [`FatError::DirectoryFull`]). A name that is already a valid upper-case
//! 8.3 name is stored as a short entry only; any other name gets long-name entries and a short alias from the
//! section 7.4 basis-name rules with a `~n` numeric tail unique in the directory. Growing a file zero-fills the
//! bytes between the old end and the write offset. The FAT32 FSInfo hints are set to "unknown" on the first FAT
//! change. Read-only attributes are not enforced here (that is the caller's open-mode policy).

use super::dir::{
    lfn_checksum, Attributes, DateTime, DirData, DirEntry, DirLoc, EntryPos, MAX_DIR_ENTRIES,
};
use super::table::Chain;
use super::{components, FatError, FatFs, FatType};
use crate::block::BlockDevice;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Characters allowed in a short name besides `A-Z` and `0-9` (FAT spec section 6.1).
const SHORT_SPECIALS: &[u8] = b"!#$%&'()-@^_`{}~";

pub(crate) fn is_short_char(c: char) -> bool {
    c.is_ascii_uppercase()
        || c.is_ascii_digit()
        || (c.is_ascii() && SHORT_SPECIALS.contains(&(c as u8)))
}

/// True if `name` may be stored as a long name (FAT spec section 7.3, and no trailing dot or space).
pub fn valid_long_name(name: &str) -> bool {
    let units = name.encode_utf16().count();
    units > 0
        && units <= 255
        && name != "."
        && name != ".."
        && !name.ends_with(['.', ' '])
        && !name
            .chars()
            .any(|c| (c as u32) < 0x20 || "\"*/:<>?\\|".contains(c))
}

/// `name` as an 11-byte short name if it already is a valid upper-case 8.3 name.
fn exact_short(name: &str) -> Option<[u8; 11]> {
    let (base, ext) = name.split_once('.').unwrap_or((name, ""));
    if base.is_empty()
        || base.len() > 8
        || ext.len() > 3
        || !base.chars().chain(ext.chars()).all(is_short_char)
    {
        return None;
    }
    let mut s = [b' '; 11];
    s[..base.len()].copy_from_slice(base.as_bytes());
    s[8..8 + ext.len()].copy_from_slice(ext.as_bytes());
    Some(s)
}

/// A short alias with a numeric tail for a long name, unique among `taken` (FAT spec section 7.4).
fn alias(name: &str, taken: &[[u8; 11]]) -> Result<[u8; 11], FatError> {
    let map = |c: char| {
        let u = c.to_ascii_uppercase();
        if is_short_char(u) {
            u as u8
        } else {
            b'_'
        }
    };
    let stripped = name.trim_start_matches('.');
    let (base, ext) = match stripped.rfind('.') {
        Some(i) => (&stripped[..i], &stripped[i + 1..]),
        None => (stripped, ""),
    };
    let base: Vec<u8> = base
        .chars()
        .filter(|&c| c != ' ' && c != '.')
        .map(map)
        .take(8)
        .collect();
    let ext: Vec<u8> = ext.chars().filter(|&c| c != ' ').map(map).take(3).collect();
    let base = if base.is_empty() { vec![b'_'] } else { base };
    for n in 1..=MAX_DIR_ENTRIES {
        let mut tail = [0u8; 8];
        let mut t = n;
        let mut len = 0;
        while t > 0 {
            tail[7 - len] = b'0' + (t % 10) as u8;
            t /= 10;
            len += 1;
        }
        tail[7 - len] = b'~';
        let tail = &tail[7 - len..];
        let keep = base.len().min(8 - tail.len());
        let mut s = [b' '; 11];
        s[..keep].copy_from_slice(&base[..keep]);
        s[keep..keep + tail.len()].copy_from_slice(tail);
        s[8..8 + ext.len()].copy_from_slice(&ext);
        if !taken.contains(&s) {
            return Ok(s);
        }
    }
    Err(FatError::DirectoryFull)
}

/// The short name and long-name entries (empty for an exact 8.3 name) for storing `name` in a directory whose
/// entries have the short names `taken`.
pub(crate) fn names_for(
    name: &str,
    taken: impl Iterator<Item = [u8; 11]>,
) -> Result<([u8; 11], Vec<[u8; 32]>), FatError> {
    Ok(match exact_short(name) {
        Some(s) => (s, Vec::new()),
        None => {
            let taken: Vec<[u8; 11]> = taken.collect();
            let s = alias(name, &taken)?;
            (s, lfn_entries(name, lfn_checksum(&s)))
        }
    })
}

/// Long-name entries for `name`, in disk order (highest order first).
fn lfn_entries(name: &str, checksum: u8) -> Vec<[u8; 32]> {
    const OFFSETS: [usize; 13] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    let units: Vec<u16> = name.encode_utf16().collect();
    let n = units.len().div_ceil(13);
    (1..=n)
        .rev()
        .map(|seq| {
            let mut e = [0u8; 32];
            e[0] = seq as u8 | if seq == n { 0x40 } else { 0 };
            e[11] = Attributes::LONG_NAME;
            e[13] = checksum;
            for (k, &o) in OFFSETS.iter().enumerate() {
                let i = (seq - 1) * 13 + k;
                let u = match i.cmp(&units.len()) {
                    core::cmp::Ordering::Less => units[i],
                    core::cmp::Ordering::Equal => 0,
                    core::cmp::Ordering::Greater => 0xFFFF,
                };
                e[o..o + 2].copy_from_slice(&u.to_le_bytes());
            }
            e
        })
        .collect()
}

/// The 32-byte short entry for `e` (NT case byte 0).
pub(crate) fn short_entry(e: &DirEntry) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..11].copy_from_slice(&e.short_name);
    if b[0] == 0xE5 {
        b[0] = 0x05;
    }
    b[11] = e.attributes.0;
    let (cd, ct, tenth) = e.created.to_fat();
    let (md, mt, _) = e.modified.to_fat();
    let (ad, _, _) = e.accessed.to_fat();
    b[13] = tenth;
    b[14..16].copy_from_slice(&ct.to_le_bytes());
    b[16..18].copy_from_slice(&cd.to_le_bytes());
    b[18..20].copy_from_slice(&ad.to_le_bytes());
    b[20..22].copy_from_slice(&((e.first_cluster >> 16) as u16).to_le_bytes());
    b[22..24].copy_from_slice(&mt.to_le_bytes());
    b[24..26].copy_from_slice(&md.to_le_bytes());
    b[26..28].copy_from_slice(&(e.first_cluster as u16).to_le_bytes());
    b[28..32].copy_from_slice(&e.size.to_le_bytes());
    b
}

/// First run of `k` free slots: `(first slot, whether the run reaches past the 0x00 end mark)`.
fn free_run(data: &DirData, k: usize) -> Option<(usize, bool)> {
    let (mut past_end, mut run) = (false, 0);
    for i in 0..data.slots() {
        let b = data.slot(i)[0];
        past_end |= b == 0;
        if past_end || b == 0xE5 {
            run += 1;
            if run == k {
                return Some((i + 1 - k, past_end));
            }
        } else {
            run = 0;
        }
    }
    None
}

/// Splits `chain` after its first `keep` clusters, returning the rest.
fn chain_tail(chain: &Chain, keep: u32) -> Chain {
    let mut tail = Chain::default();
    let mut skip = keep;
    for &(s, l) in &chain.extents {
        if skip >= l {
            skip -= l;
            continue;
        }
        tail.extents.push((s + skip, l - skip));
        tail.clusters += l - skip;
        skip = 0;
    }
    tail
}

impl<D: BlockDevice> FatFs<D> {
    /// Creates an empty file at `path` in an existing directory. Errors: [`FatError::InvalidName`],
    /// [`FatError::AlreadyExists`], [`FatError::DirectoryFull`], [`FatError::NoSpace`], lookup errors.
    pub fn create_file(&mut self, path: &str) -> Result<DirEntry, FatError> {
        self.create(path, false)
    }

    /// Creates an empty directory (with `.` and `..`) at `path`. Errors as [`FatFs::create_file`].
    pub fn create_dir(&mut self, path: &str) -> Result<DirEntry, FatError> {
        self.create(path, true)
    }

    fn split_parent<'p>(&mut self, path: &'p str) -> Result<(DirEntry, &'p str), FatError> {
        let comps: Vec<&str> = components(path).collect();
        let (&name, parents) = comps.split_last().ok_or(FatError::InvalidPath)?;
        if name == "." || name == ".." {
            return Err(FatError::InvalidPath);
        }
        let parent_path: String = parents.iter().flat_map(|c| ["\\", c]).collect();
        let parent = self.open(&parent_path)?;
        if !parent.is_dir() {
            return Err(FatError::NotADirectory);
        }
        Ok((parent, name))
    }

    fn create(&mut self, path: &str, is_dir: bool) -> Result<DirEntry, FatError> {
        let (parent, name) = self.split_parent(path)?;
        self.create_in(&parent, name, is_dir)
    }

    /// Creates an empty file or (with `.` and `..`) directory named `name` in the directory `parent`.
    /// Errors: [`FatError::NotADirectory`], [`FatError::InvalidName`], [`FatError::AlreadyExists`],
    /// [`FatError::DirectoryFull`], [`FatError::NoSpace`], chain corruption, I/O.
    pub fn create_in(
        &mut self,
        parent: &DirEntry,
        name: &str,
        is_dir: bool,
    ) -> Result<DirEntry, FatError> {
        if !valid_long_name(name) {
            return Err(FatError::InvalidName);
        }
        let loc = self.dir_loc(parent)?;
        let data = self.load_dir(loc)?;
        let existing = data.entries(self.bpb.fat_type == FatType::Fat32);
        if existing.iter().any(|e| e.matches(name)) {
            return Err(FatError::AlreadyExists);
        }
        let (short, lfn) = names_for(name, existing.iter().map(|e| e.short_name))?;
        let slots = self.reserve_slots(loc, data, lfn.len() + 1)?;
        let mut entry = DirEntry {
            name: name.into(),
            short_name: short,
            attributes: Attributes(if is_dir {
                Attributes::DIRECTORY
            } else {
                Attributes::ARCHIVE
            }),
            first_cluster: 0,
            size: 0,
            created: self.now,
            modified: self.now,
            accessed: DateTime {
                hour: 0,
                minute: 0,
                second: 0,
                millisecond: 0,
                ..self.now
            },
            pos: Some(EntryPos {
                lfn: slots[..lfn.len()].to_vec(),
                short: slots[lfn.len()],
            }),
        };
        if is_dir {
            let c = self.allocate(None)?;
            let off = self.bpb.cluster_offset(c);
            self.io.zero(off, self.bpb.cluster_bytes() as u64)?;
            let mut dot = DirEntry {
                short_name: *b".          ",
                first_cluster: c,
                pos: None,
                ..entry.clone()
            };
            self.io.write(off, &short_entry(&dot))?;
            dot.short_name = *b"..         ";
            dot.first_cluster = if parent.is_root() {
                0
            } else {
                parent.first_cluster
            };
            self.io.write(off + 32, &short_entry(&dot))?;
            entry.first_cluster = c;
        }
        for (e, &pos) in lfn.iter().zip(&slots) {
            self.io.write(pos, e)?;
        }
        self.io.write(slots[lfn.len()], &short_entry(&entry))?;
        Ok(entry)
    }

    /// Disk positions of `k` consecutive free slots in the directory at `loc`, growing a cluster directory if
    /// needed. Keeps the 0x00 end mark after a run that reaches past it.
    pub(crate) fn reserve_slots(
        &mut self,
        loc: DirLoc,
        mut data: DirData,
        k: usize,
    ) -> Result<Vec<u64>, FatError> {
        // k <= 21 slots need at most two more clusters (a cluster holds at least 16 slots).
        for _ in 0..3 {
            if let Some((first, past_end)) = free_run(&data, k) {
                if past_end && first + k < data.slots() && data.slot(first + k)[0] != 0 {
                    self.io.write(data.slot_pos(first + k), &[0])?;
                }
                return Ok((first..first + k).map(|i| data.slot_pos(i)).collect());
            }
            let DirLoc::Chain(start) = loc else {
                return Err(FatError::DirectoryFull);
            };
            let cb = self.bpb.cluster_bytes() as usize;
            if data.slots() + cb / 32 > MAX_DIR_ENTRIES as usize {
                return Err(FatError::DirectoryFull);
            }
            let chain = self.walk_all(start)?;
            let last = chain.last().ok_or(FatError::CorruptChain { start })?;
            let c = self.allocate(Some(last))?;
            self.io.zero(self.bpb.cluster_offset(c), cb as u64)?;
            data = self.load_dir(loc)?;
        }
        Err(FatError::DirectoryFull)
    }

    /// Rewrites the short entry of `e` on disk from its fields (attributes, times, first cluster, size), keeping
    /// the name and NT case byte: how a caller stores attribute or time changes. Errors:
    /// [`FatError::InvalidPath`] for the root (it has no entry), I/O.
    pub fn update_entry(&mut self, e: &DirEntry) -> Result<(), FatError> {
        self.store_entry(e)
    }

    /// Rewrites the short entry of `e` (attributes, times, first cluster, size), keeping name and NT case byte.
    fn store_entry(&mut self, e: &DirEntry) -> Result<(), FatError> {
        let pos = e.pos.as_ref().ok_or(FatError::InvalidPath)?.short;
        let new = short_entry(e);
        self.io.write(pos + 11, &new[11..12])?;
        self.io.write(pos + 13, &new[13..])?;
        Ok(())
    }

    fn stamp(&self, e: &mut DirEntry) {
        e.modified = DateTime {
            millisecond: 0,
            ..self.now
        };
        e.accessed = DateTime {
            hour: 0,
            minute: 0,
            second: 0,
            millisecond: 0,
            ..self.now
        };
        e.attributes.0 |= Attributes::ARCHIVE;
    }

    /// Makes the chain of `file` at least `needed` clusters long (allocating the first cluster if it has none).
    fn ensure_clusters(&mut self, file: &mut DirEntry, needed: u64) -> Result<(), FatError> {
        if needed == 0 {
            return Ok(());
        }
        if needed > self.bpb.cluster_count as u64 {
            return Err(FatError::NoSpace);
        }
        let cb = self.bpb.cluster_bytes() as u64;
        let (mut have, mut last) = if file.first_cluster == 0 {
            if file.size != 0 {
                return Err(FatError::ClusterOutOfRange { cluster: 0 });
            }
            let c = self.allocate(None)?;
            file.first_cluster = c;
            self.store_entry(file)?;
            (1, c)
        } else {
            let chain = self.walk_all(file.first_cluster)?;
            if (chain.clusters as u64) < (file.size as u64).div_ceil(cb) {
                return Err(FatError::ChainTooShort {
                    start: file.first_cluster,
                });
            }
            (
                chain.clusters as u64,
                chain.last().ok_or(FatError::CorruptChain {
                    start: file.first_cluster,
                })?,
            )
        };
        while have < needed {
            last = self.allocate(Some(last))?;
            have += 1;
        }
        Ok(())
    }

    fn write_runs(
        &mut self,
        first: u32,
        offset: u64,
        data: Option<&[u8]>,
        len: u64,
    ) -> Result<(), FatError> {
        let mut at = 0usize;
        for (disk, n) in self.file_runs(first, offset, len)? {
            match data {
                Some(d) => self.io.write(disk, &d[at..at + n as usize])?,
                None => self.io.zero(disk, n)?,
            }
            at += n as usize;
        }
        Ok(())
    }

    /// Writes `data` at byte `offset` of `file`, extending it (zero-filling any gap) as needed, and updates the
    /// size, modification time and archive bit in `file` and on disk. Errors: [`FatError::IsADirectory`],
    /// [`FatError::FileTooLarge`] past 4 GiB - 1, [`FatError::NoSpace`], chain corruption, I/O.
    pub fn write_at(
        &mut self,
        file: &mut DirEntry,
        offset: u64,
        data: &[u8],
    ) -> Result<(), FatError> {
        if file.is_dir() {
            return Err(FatError::IsADirectory);
        }
        if data.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= u32::MAX as u64)
            .ok_or(FatError::FileTooLarge)?;
        let old = file.size as u64;
        let new_size = old.max(end);
        self.ensure_clusters(file, new_size.div_ceil(self.bpb.cluster_bytes() as u64))?;
        if offset > old {
            self.write_runs(file.first_cluster, old, None, offset - old)?;
        }
        self.write_runs(file.first_cluster, offset, Some(data), data.len() as u64)?;
        file.size = new_size as u32;
        self.stamp(file);
        self.store_entry(file)
    }

    /// Sets the size of `file` to `len`: shrinking frees clusters past the new end, growing zero-fills.
    pub fn set_len(&mut self, file: &mut DirEntry, len: u32) -> Result<(), FatError> {
        if file.is_dir() {
            return Err(FatError::IsADirectory);
        }
        let cb = self.bpb.cluster_bytes() as u64;
        let old = file.size;
        if len > old {
            self.ensure_clusters(file, (len as u64).div_ceil(cb))?;
            self.write_runs(file.first_cluster, old as u64, None, (len - old) as u64)?;
        } else if file.first_cluster != 0 {
            let chain = self.walk_all(file.first_cluster)?;
            let keep = (len as u64).div_ceil(cb) as u32;
            let tail = chain_tail(&chain, keep);
            if keep == 0 {
                file.first_cluster = 0;
            } else if let Some(last) = chain.cluster(keep - 1) {
                self.set_fat_entry(last, self.eoc())?;
            }
            self.free_chain(&tail)?;
        }
        file.size = len;
        self.stamp(file);
        self.store_entry(file)
    }

    /// Deletes the file or empty directory at `path`: frees its chain and marks its entries free (0xE5).
    /// Errors: [`FatError::InvalidPath`] for the root, [`FatError::DirectoryNotEmpty`], lookup and chain errors.
    pub fn delete(&mut self, path: &str) -> Result<(), FatError> {
        let (parent, name) = self.split_parent(path)?;
        let e = self.lookup(&parent, name)?;
        self.delete_entry(&e)
    }

    /// Deletes the file or empty directory `e` (an entry read from its parent): frees its chain and marks its
    /// entries free. Errors: [`FatError::InvalidPath`] for the root or a dot entry,
    /// [`FatError::DirectoryNotEmpty`], chain errors, I/O.
    pub fn delete_entry(&mut self, e: &DirEntry) -> Result<(), FatError> {
        if e.short_name[0] == b'.' {
            return Err(FatError::InvalidPath);
        }
        if e.is_dir() && e.first_cluster != 0 {
            let data = self.load_dir(self.dir_loc(e)?)?;
            if data
                .entries(self.bpb.fat_type == FatType::Fat32)
                .iter()
                .any(|x| x.name != "." && x.name != "..")
            {
                return Err(FatError::DirectoryNotEmpty);
            }
        }
        if e.first_cluster != 0 {
            let chain = self.walk_all(e.first_cluster)?;
            self.free_chain(&chain)?;
        }
        let pos = e.pos.as_ref().ok_or(FatError::InvalidPath)?;
        for p in pos.lfn.iter().chain([&pos.short]) {
            self.io.write(*p, &[0xE5])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(exact_short("BOOTX64.EFI"), Some(*b"BOOTX64 EFI"));
        assert_eq!(exact_short("bootx64.efi"), None);
        assert_eq!(exact_short("TOOLONGNAME.EFI"), None);
        assert_eq!(alias("My Long File.txt", &[]).unwrap(), *b"MYLONG~1TXT");
        assert_eq!(
            alias("My Long File.txt", &[*b"MYLONG~1TXT"]).unwrap(),
            *b"MYLONG~2TXT"
        );
        assert_eq!(alias(".bashrc", &[]).unwrap(), *b"BASHRC~1   ");
        assert_eq!(alias("a+b", &[]).unwrap(), *b"A_B~1      ");
        assert!(valid_long_name("Ünïcødé name.tar.gz"));
        assert!(!valid_long_name("bad?"));
        assert!(!valid_long_name("trailing."));
        assert!(!valid_long_name(""));
    }

    #[test]
    fn lfn_layout() {
        let e = lfn_entries("abcdefghijklmn", 0x42);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0][0], 0x42); // order 2 | last
        assert_eq!(e[1][0], 0x01);
        assert_eq!(u16::from_le_bytes([e[0][1], e[0][2]]), 'n' as u16);
        assert_eq!(u16::from_le_bytes([e[0][3], e[0][4]]), 0);
        assert_eq!(u16::from_le_bytes([e[0][5], e[0][6]]), 0xFFFF);
        assert!(e.iter().all(|x| x[11] == 0x0F && x[13] == 0x42));
    }
}

//! Directory entries (Microsoft FAT spec section 6: 32-byte short entries; section 7: long file name entries).
//!
//! A directory is read whole (at most [`MAX_DIR_ENTRIES`] entries, 2 MiB) and parsed in memory. Parsing stops at
//! the first entry whose first byte is 0x00 and skips 0xE5 (free) entries and volume labels. Long-name entries
//! (attribute 0x0F) are collected only as a well-formed run: first the entry with the 0x40 "last" flag and order
//! `n <= 20`, then `n-1`, ..., 1, all with the same checksum, immediately followed by a short entry whose
//! `ChkSum` (section 7.2) equals it. Anything else is an orphan and ignored, so the short name is used. Long names
//! decode as UTF-16 up to the first NUL (invalid units become U+FFFD); short names as `BASE.EXT` with trailing
//! spaces trimmed, a leading 0x05 meaning 0xE5, the NT lower-case flags (`DIR_NTRes` bits 3 and 4) applied, and
//! bytes >= 0x80 read as Latin-1. Name comparison is case-insensitive on Unicode simple upper-case, as the UEFI
//! FAT driver compares through `EFI_UNICODE_COLLATION_PROTOCOL.StriColl`.

use super::{FatError, FatFs};
use crate::block::BlockDevice;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Most entries a directory may have (FAT spec section 6: 65536 32-byte entries).
pub const MAX_DIR_ENTRIES: u32 = 65536;
/// Size of one directory entry in bytes.
pub const DIR_ENTRY_SIZE: usize = 32;

/// `DIR_Attr` bits (FAT spec section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attributes(pub u8);

impl Attributes {
    /// `ATTR_READ_ONLY`.
    pub const READ_ONLY: u8 = 0x01;
    /// `ATTR_HIDDEN`.
    pub const HIDDEN: u8 = 0x02;
    /// `ATTR_SYSTEM`.
    pub const SYSTEM: u8 = 0x04;
    /// `ATTR_VOLUME_ID`.
    pub const VOLUME_ID: u8 = 0x08;
    /// `ATTR_DIRECTORY`.
    pub const DIRECTORY: u8 = 0x10;
    /// `ATTR_ARCHIVE`.
    pub const ARCHIVE: u8 = 0x20;
    /// `ATTR_LONG_NAME` (READ_ONLY | HIDDEN | SYSTEM | VOLUME_ID).
    pub const LONG_NAME: u8 = 0x0F;

    /// True if the directory bit is set.
    pub fn is_directory(self) -> bool {
        self.0 & Self::DIRECTORY != 0
    }
}

/// A FAT timestamp, fields as stored (not range-checked): date bits 15..9 year since 1980, 8..5 month, 4..0 day;
/// time bits 15..11 hour, 10..5 minute, 4..0 seconds / 2; plus the creation "tenth" (0..199, units of 10 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateTime {
    /// Year (1980..=2107).
    pub year: u16,
    /// Month (1..=12 when valid).
    pub month: u8,
    /// Day of month (1..=31 when valid).
    pub day: u8,
    /// Hour (0..=23 when valid).
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second (0..=59; 2-second resolution plus the tenth field).
    pub second: u8,
    /// Milliseconds (0..=999; only creation times carry them).
    pub millisecond: u16,
}

impl DateTime {
    /// Decodes FAT `date`, `time` and `tenth` (10 ms units) fields.
    pub fn from_fat(date: u16, time: u16, tenth: u8) -> Self {
        let tenth = tenth.min(199) as u16;
        DateTime {
            year: 1980 + (date >> 9),
            month: ((date >> 5) & 0xF) as u8,
            day: (date & 0x1F) as u8,
            hour: (time >> 11) as u8,
            minute: ((time >> 5) & 0x3F) as u8,
            second: ((time & 0x1F) * 2 + tenth / 100) as u8,
            millisecond: (tenth % 100) * 10,
        }
    }

    /// Encodes as FAT `(date, time, tenth)`; out-of-range fields are clamped to what the bit fields hold.
    pub fn to_fat(&self) -> (u16, u16, u8) {
        let year = self.year.clamp(1980, 2107) - 1980;
        let date = (year << 9) | ((self.month.min(15) as u16) << 5) | self.day.min(31) as u16;
        let sec = self.second.min(59);
        let time = ((self.hour.min(23) as u16) << 11)
            | ((self.minute.min(59) as u16) << 5)
            | (sec / 2) as u16;
        let tenth = (sec % 2) as u16 * 100 + self.millisecond.min(999) / 10;
        (date, time, tenth as u8)
    }
}

/// Where a directory's entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirLoc {
    /// The FAT12/16 fixed root directory.
    FixedRoot,
    /// A cluster chain starting here.
    Chain(u32),
}

/// Disk positions of an entry: its long-name entries (in disk order) and the short entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPos {
    pub(crate) lfn: Vec<u64>,
    pub(crate) short: u64,
}

/// One directory entry (file or directory), or the root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The long name if present and valid, else the short name as `BASE.EXT`.
    pub name: String,
    /// `DIR_Name`: 8 + 3 bytes, space-padded.
    pub short_name: [u8; 11],
    /// `DIR_Attr`.
    pub attributes: Attributes,
    /// `DIR_FstClusHI:DIR_FstClusLO` (0 for an empty file; for `..` 0 means the root).
    pub first_cluster: u32,
    /// `DIR_FileSize` in bytes (0 for directories).
    pub size: u32,
    /// `DIR_CrtDate`/`DIR_CrtTime`/`DIR_CrtTimeTenth`.
    pub created: DateTime,
    /// `DIR_WrtDate`/`DIR_WrtTime`.
    pub modified: DateTime,
    /// `DIR_LstAccDate` (time fields zero).
    pub accessed: DateTime,
    /// `None` for the root directory.
    pub(crate) pos: Option<EntryPos>,
}

impl DirEntry {
    /// True for directories (including the root).
    pub fn is_dir(&self) -> bool {
        self.attributes.is_directory()
    }

    /// True for the root directory (it has no entry on disk).
    pub fn is_root(&self) -> bool {
        self.pos.is_none()
    }

    /// The short name as `BASE.EXT`.
    pub fn short_name_string(&self) -> String {
        short_display(&self.short_name, 0)
    }

    /// True if `name` equals the long or the short name, ignoring case.
    pub fn matches(&self, name: &str) -> bool {
        names_equal(&self.name, name) || names_equal(&self.short_name_string(), name)
    }
}

/// The long-name checksum of an 11-byte short name (FAT spec section 7.2).
pub fn lfn_checksum(short: &[u8; 11]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// `BASE.EXT` of a short name; `nt_res` bits 3/4 lower-case base/extension.
pub(crate) fn short_display(short: &[u8; 11], nt_res: u8) -> String {
    let conv = |b: u8, lower: bool| {
        let c = char::from(b);
        if lower {
            c.to_ascii_lowercase()
        } else {
            c
        }
    };
    let trim = |b: &[u8]| b.len() - b.iter().rev().take_while(|&&c| c == b' ').count();
    let (base, ext) = (
        &short[..trim(&short[..8])],
        &short[8..8 + trim(&short[8..])],
    );
    let mut s = String::new();
    for (i, &b) in base.iter().enumerate() {
        s.push(conv(
            if i == 0 && b == 0x05 { 0xE5 } else { b },
            nt_res & 0x08 != 0,
        ));
    }
    if !ext.is_empty() {
        s.push('.');
        s.extend(ext.iter().map(|&b| conv(b, nt_res & 0x10 != 0)));
    }
    s
}

/// Case-insensitive comparison (Unicode simple upper-case per character).
pub fn names_equal(a: &str, b: &str) -> bool {
    let mut x = a.chars().flat_map(char::to_uppercase);
    let mut y = b.chars().flat_map(char::to_uppercase);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (p, q) if p != q => return false,
            _ => {}
        }
    }
}

/// A directory read into memory, with the disk runs its bytes came from.
pub(crate) struct DirData {
    pub(crate) bytes: Vec<u8>,
    /// `(disk byte offset, length)` runs, concatenated into `bytes`.
    pub(crate) runs: Vec<(u64, u64)>,
}

impl DirData {
    /// Number of entry slots.
    pub(crate) fn slots(&self) -> usize {
        self.bytes.len() / DIR_ENTRY_SIZE
    }

    /// Disk byte offset of slot `index` (`< slots()`).
    pub(crate) fn slot_pos(&self, index: usize) -> u64 {
        let mut off = (index * DIR_ENTRY_SIZE) as u64;
        for &(disk, len) in &self.runs {
            if off < len {
                return disk + off;
            }
            off -= len;
        }
        0
    }

    /// The 32 bytes of slot `index`.
    pub(crate) fn slot(&self, index: usize) -> &[u8] {
        &self.bytes[index * DIR_ENTRY_SIZE..(index + 1) * DIR_ENTRY_SIZE]
    }

    /// Parses every live entry (see module doc), dot entries included. `fat32` selects whether `DIR_FstClusHI`
    /// counts (on FAT12/16 it is not part of the cluster number; OS/2 kept an EA handle there).
    pub(crate) fn entries(&self, fat32: bool) -> Vec<DirEntry> {
        let mut out = Vec::new();
        // Long-name run being collected: (checksum, next expected order, UTF-16 units, slot positions).
        let mut lfn: Option<(u8, u8, Vec<u16>, Vec<u64>)> = None;
        for i in 0..self.slots() {
            let e = self.slot(i);
            if e[0] == 0 {
                break;
            }
            if e[0] == 0xE5 {
                lfn = None;
                continue;
            }
            let attr = e[11];
            if attr & 0x3F == Attributes::LONG_NAME {
                lfn = collect_lfn(lfn.take(), e, self.slot_pos(i));
                continue;
            }
            if attr & Attributes::VOLUME_ID != 0 {
                lfn = None;
                continue;
            }
            let mut short = [0u8; 11];
            short.copy_from_slice(&e[..11]);
            let long = match lfn.take() {
                Some((chk, 0, units, pos)) if chk == lfn_checksum(&short) => {
                    decode_lfn(&units).map(|n| (n, pos))
                }
                _ => None,
            };
            let u16_at = |o: usize| u16::from_le_bytes([e[o], e[o + 1]]);
            let (name, lfn_pos) =
                long.unwrap_or_else(|| (short_display(&short, e[12]), Vec::new()));
            out.push(DirEntry {
                name,
                short_name: short,
                attributes: Attributes(attr),
                first_cluster: if fat32 { (u16_at(20) as u32) << 16 } else { 0 }
                    | u16_at(26) as u32,
                size: u32::from_le_bytes([e[28], e[29], e[30], e[31]]),
                created: DateTime::from_fat(u16_at(16), u16_at(14), e[13]),
                modified: DateTime::from_fat(u16_at(24), u16_at(22), 0),
                accessed: DateTime::from_fat(u16_at(18), 0, 0),
                pos: Some(EntryPos {
                    lfn: lfn_pos,
                    short: self.slot_pos(i),
                }),
            });
        }
        out
    }
}

/// Character offsets of the 13 UTF-16 units in a long-name entry.
const LFN_UNIT_OFFSETS: [usize; 13] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

type LfnRun = (u8, u8, Vec<u16>, Vec<u64>);

fn collect_lfn(cur: Option<LfnRun>, e: &[u8], pos: u64) -> Option<LfnRun> {
    let ord = e[0];
    let seq = ord & 0x3F;
    if e[12] != 0 || e[26] != 0 || e[27] != 0 || seq == 0 || seq > 20 {
        return None;
    }
    let (chk, expect, mut units, mut positions) = if ord & 0x40 != 0 {
        (e[13], seq, vec![0xFFFF; seq as usize * 13], Vec::new())
    } else {
        match cur {
            Some(run) if run.1 == seq && run.0 == e[13] => run,
            _ => return None,
        }
    };
    let base = (seq as usize - 1) * 13;
    for (k, &o) in LFN_UNIT_OFFSETS.iter().enumerate() {
        units[base + k] = u16::from_le_bytes([e[o], e[o + 1]]);
    }
    positions.push(pos);
    Some((chk, expect - 1, units, positions))
}

fn decode_lfn(units: &[u16]) -> Option<String> {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    if end == 0 || end > 255 {
        return None;
    }
    Some(
        char::decode_utf16(units[..end].iter().copied())
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

impl<D: BlockDevice> FatFs<D> {
    /// Where the entries of directory `dir` live (`..` entries with cluster 0 mean the root).
    pub(crate) fn dir_loc(&self, dir: &DirEntry) -> Result<DirLoc, FatError> {
        if !dir.is_dir() {
            return Err(FatError::NotADirectory);
        }
        if dir.is_root() || dir.first_cluster == 0 {
            return Ok(match self.bpb.root_cluster {
                0 => DirLoc::FixedRoot,
                c => DirLoc::Chain(c),
            });
        }
        Ok(DirLoc::Chain(dir.first_cluster))
    }

    /// Reads a whole directory (at most [`MAX_DIR_ENTRIES`] entries).
    pub(crate) fn load_dir(&mut self, loc: DirLoc) -> Result<DirData, FatError> {
        let runs = match loc {
            DirLoc::FixedRoot => vec![(
                self.bpb.root_dir_offset(),
                self.bpb.root_entry_count as u64 * 32,
            )],
            DirLoc::Chain(start) => {
                let cb = self.bpb.cluster_bytes() as u64;
                let max = (MAX_DIR_ENTRIES as u64 * 32).div_ceil(cb) as u32;
                let chain = self.walk(start, max)?;
                chain
                    .extents
                    .iter()
                    .map(|&(s, l)| (self.bpb.cluster_offset(s), l as u64 * cb))
                    .collect()
            }
        };
        let total: u64 = runs.iter().map(|r| r.1).sum();
        let mut bytes = vec![0u8; total as usize];
        let mut at = 0usize;
        for &(off, len) in &runs {
            self.io.read(off, &mut bytes[at..at + len as usize])?;
            at += len as usize;
        }
        Ok(DirData { bytes, runs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_and_names() {
        // "FOO     BAR": computed by hand with the rotate-right-add rule.
        let mut sum = 0u8;
        for &b in b"FOO     BAR" {
            sum = ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(b);
        }
        assert_eq!(lfn_checksum(b"FOO     BAR"), sum);
        assert_eq!(short_display(b"FOO     BAR", 0), "FOO.BAR");
        assert_eq!(short_display(b"FOO     BAR", 0x18), "foo.bar");
        assert_eq!(short_display(b"README     ", 0), "README");
        assert!(names_equal("BootX64.efi", "BOOTX64.EFI"));
        assert!(names_equal("éfi", "ÉFI"));
        assert!(!names_equal("a", "ab"));
    }

    #[test]
    fn datetime_roundtrip() {
        let t = DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 13,
            minute: 7,
            second: 41,
            millisecond: 500,
        };
        let (d, tm, tenth) = t.to_fat();
        assert_eq!(DateTime::from_fat(d, tm, tenth), t);
    }
}

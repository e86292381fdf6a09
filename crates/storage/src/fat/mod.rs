//! A FAT12/16/32 file system over a [`BlockDevice`] (normally a [`crate::block::BlockWindow`] on a partition).
//!
//! Source: Microsoft "FAT: General Overview of On-Disk Format" 1.03 (sections 3 BPB, 4 FAT, 5 FSInfo,
//! 6 directories, 7 long names) and UEFI 2.10 section 13.3 (file system format).
//!
//! Layers: [`bpb`] validates the boot sector once at [`FatFs::mount`]; `io` gives byte access with a one-block
//! cache; `table` reads and writes FAT entries and walks chains; [`dir`] parses directories; `write` allocates,
//! creates, writes and deletes; `rename` renames and moves entries; `label` reads and sets the volume label.
//!
//! Invariants: no on-disk number is used before it is range-checked (cluster numbers against `2..count + 2`,
//! sizes against chains, directory sizes against 65536 entries); every loop is bounded (chains by the cluster
//! count with cycle detection, directories by 65536 entries, long names by 20 entries, paths by their length).
//! Errors are [`FatError`] values; nothing panics on a corrupt volume.
//!
//! Paths use `\` or `/` as separators; empty components and `.` are skipped, `..` goes up (not above the root).
//! Lookup is case-insensitive against long and short names.
//!
//! Decision on the `fatfs` crate: its crates.io release (0.3.x) needs `std` or, for `no_std`, the `core_io`
//! crate, which builds only on nightly; the `no_std`-on-stable 0.4 line is unreleased. It therefore does not fit
//! a stable `no_std` + `alloc` build, and this module is our own implementation.

pub mod bpb;
pub mod dir;
mod error;
mod io;
mod label;
mod rename;
mod table;
mod write;

pub use bpb::{Bpb, BpbError, FatType};
pub use dir::{Attributes, DateTime, DirEntry};
pub use error::FatError;

use crate::block::BlockDevice;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use io::ByteIo;
use table::Chain;

/// A mounted FAT volume.
pub struct FatFs<D> {
    pub(crate) io: ByteIo<D>,
    pub(crate) bpb: Bpb,
    /// Where the next free-cluster search starts.
    pub(crate) next_free: u32,
    /// Byte offset of a valid FAT32 FSInfo sector whose hints have not been invalidated yet.
    pub(crate) fs_info: Option<u64>,
    /// The last chain walked, valid until the FAT changes.
    pub(crate) chain_cache: Option<(u32, Chain)>,
    /// Timestamp written on create and write.
    pub(crate) now: DateTime,
}

impl<D: BlockDevice> FatFs<D> {
    /// Reads and validates the boot sector of `dev` (see [`Bpb::parse`]) and, on FAT32, the FSInfo signatures.
    pub fn mount(dev: D) -> Result<Self, FatError> {
        let mut io = ByteIo::new(dev)?;
        if io.size() < 512 {
            return Err(BpbError::TooSmall.into());
        }
        let mut sector = [0u8; 512];
        io.read(0, &mut sector)?;
        let bpb = Bpb::parse(&sector, io.size())?;
        let mut fs_info = None;
        if bpb.fat_type == FatType::Fat32
            && bpb.fs_info_sector != 0
            && bpb.fs_info_sector < bpb.reserved_sectors
        {
            let off = bpb.fs_info_sector as u64 * bpb.bytes_per_sector as u64;
            let mut s = [0u8; 512];
            io.read(off, &mut s)?;
            let sig = |o: usize| u32::from_le_bytes([s[o], s[o + 1], s[o + 2], s[o + 3]]);
            if sig(0) == 0x4161_5252 && sig(484) == 0x6141_7272 && sig(508) == 0xAA55_0000 {
                fs_info = Some(off);
            }
        }
        log::debug!(target: "storage::fat", "mounted {:?}, {} clusters of {} bytes", bpb.fat_type, bpb.cluster_count, bpb.cluster_bytes());
        Ok(FatFs {
            io,
            bpb,
            next_free: 2,
            fs_info,
            chain_cache: None,
            now: DateTime::from_fat(0x21, 0, 0),
        })
    }

    /// The validated BPB.
    pub fn bpb(&self) -> &Bpb {
        &self.bpb
    }

    /// FAT12, FAT16 or FAT32.
    pub fn fat_type(&self) -> FatType {
        self.bpb.fat_type
    }

    /// Sets the time stamped on entries created or written from now on (default 1980-01-01 00:00).
    pub fn set_time(&mut self, now: DateTime) {
        self.now = now;
    }

    /// The root directory.
    pub fn root(&self) -> DirEntry {
        DirEntry {
            name: String::new(),
            short_name: [b' '; 11],
            attributes: Attributes(Attributes::DIRECTORY),
            first_cluster: self.bpb.root_cluster,
            size: 0,
            created: DateTime::default(),
            modified: DateTime::default(),
            accessed: DateTime::default(),
            pos: None,
        }
    }

    /// Resolves `path` (e.g. `\EFI\BOOT\BOOTX64.EFI`) from the root. Errors: [`FatError::NotFound`],
    /// [`FatError::NotADirectory`] for a file used as a directory, or corruption met on the way.
    pub fn open(&mut self, path: &str) -> Result<DirEntry, FatError> {
        let mut stack = vec![self.root()];
        for comp in components(path) {
            match comp {
                "." => {}
                ".." => {
                    if stack.len() < 2 {
                        return Err(FatError::NotFound);
                    }
                    stack.pop();
                }
                name => {
                    let next = self.lookup(stack.last().unwrap_or(&self.root()), name)?;
                    stack.push(next);
                }
            }
        }
        Ok(stack.pop().unwrap_or_else(|| self.root()))
    }

    /// Finds `name` in directory `dir`. Errors: [`FatError::NotADirectory`], [`FatError::NotFound`].
    pub fn lookup(&mut self, dir: &DirEntry, name: &str) -> Result<DirEntry, FatError> {
        let data = self.load_dir(self.dir_loc(dir)?)?;
        data.entries(self.bpb.fat_type == FatType::Fat32)
            .into_iter()
            .find(|e| e.matches(name))
            .ok_or(FatError::NotFound)
    }

    /// Lists directory `dir` in on-disk order, `.` and `..` included as stored.
    pub fn read_dir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FatError> {
        let data = self.load_dir(self.dir_loc(dir)?)?;
        Ok(data.entries(self.bpb.fat_type == FatType::Fat32))
    }

    /// Reads up to `buf.len()` bytes of `file` from byte `offset`; returns the count (0 at or past the end).
    /// Errors: [`FatError::IsADirectory`], [`FatError::ChainTooShort`] if the chain does not cover the bytes the
    /// size promises, chain corruption, I/O.
    pub fn read_at(
        &mut self,
        file: &DirEntry,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, FatError> {
        if file.is_dir() {
            return Err(FatError::IsADirectory);
        }
        let size = file.size as u64;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - offset) as usize;
        let runs = self.file_runs(file.first_cluster, offset, n as u64)?;
        let mut at = 0;
        for (disk, len) in runs {
            self.io.read(disk, &mut buf[at..at + len as usize])?;
            at += len as usize;
        }
        Ok(n)
    }

    /// Reads a whole file.
    pub fn read_to_vec(&mut self, path: &str) -> Result<Vec<u8>, FatError> {
        let file = self.open(path)?;
        if file.is_dir() {
            return Err(FatError::IsADirectory);
        }
        let mut v = vec![0u8; file.size as usize];
        self.read_at(&file, 0, &mut v)?;
        Ok(v)
    }

    /// Number of free clusters (scans the whole FAT: `cluster_count` entry reads).
    pub fn free_clusters(&mut self) -> Result<u32, FatError> {
        let mut free = 0;
        for c in 2..self.bpb.cluster_count + 2 {
            if self.fat_entry(c)? == 0 {
                free += 1;
            }
        }
        Ok(free)
    }

    /// Flushes the device.
    pub fn flush(&mut self) -> Result<(), FatError> {
        Ok(self.io.dev.flush()?)
    }

    /// The device the volume is on.
    pub fn device(&self) -> &D {
        &self.io.dev
    }

    /// Unmounts, returning the device.
    pub fn into_inner(self) -> D {
        self.io.dev
    }

    /// Disk runs `(byte offset, length)` holding file bytes `[offset, offset + len)` of the chain at `first`.
    pub(crate) fn file_runs(
        &mut self,
        first: u32,
        offset: u64,
        len: u64,
    ) -> Result<Vec<(u64, u64)>, FatError> {
        let cb = self.bpb.cluster_bytes() as u64;
        let end = offset + len;
        let needed = end.div_ceil(cb);
        if needed > self.bpb.cluster_count as u64 {
            return Err(FatError::ChainTooShort { start: first });
        }
        let chain = self.walk(first, needed as u32)?;
        if (chain.clusters as u64) < needed {
            return Err(FatError::ChainTooShort { start: first });
        }
        let mut runs = Vec::new();
        let mut file_pos = 0u64;
        for &(s, l) in &chain.extents {
            let ext_end = file_pos + l as u64 * cb;
            let (a, b) = (offset.max(file_pos), end.min(ext_end));
            if a < b {
                runs.push((self.bpb.cluster_offset(s) + (a - file_pos), b - a));
            }
            file_pos = ext_end;
        }
        Ok(runs)
    }
}

/// Non-empty path components, split on `\` and `/`.
pub(crate) fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split(['\\', '/']).filter(|c| !c.is_empty())
}

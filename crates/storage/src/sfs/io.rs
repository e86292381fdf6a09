//! `Read`, `Write`, `GetPosition`, `SetPosition` and `Flush` (UEFI 2.10 sections 13.5.5-13.5.9, 13.5.12).
//!
//! Files: the position is a byte offset and may lie past the end (a later write fills the gap with zeros); a
//! read there is `EFI_DEVICE_ERROR`, a read at the end returns 0 bytes; `SetPosition(0xFFFF_FFFF_FFFF_FFFF)`
//! moves to the end. Directories: `Read` returns the next entry as an `EFI_FILE_INFO` (`.` and `..` as stored,
//! deleted entries and the volume label skipped), 0 bytes after the last, and `EFI_BUFFER_TOO_SMALL` with the
//! needed size without moving on when the buffer is short; the only position is 0 (restart the listing);
//! `GetPosition` and `Write` are `EFI_UNSUPPORTED`.

use super::info::{fat_to_efi, FileInfo};
use super::{FileId, FsError, Volume, VALID_ATTR};
use crate::block::BlockDevice;
use crate::fat::DirEntry;

/// `SetPosition` value meaning "the end of the file".
pub const POSITION_END: u64 = u64::MAX;

impl<D: BlockDevice> Volume<D> {
    /// The `EFI_FILE_INFO` of `entry` (`name` overrides its name: the root's is empty). A directory's size is
    /// its allocated size; a corrupt directory chain shows as 0 (opening it reports the corruption).
    pub(crate) fn file_info(&mut self, entry: &DirEntry, name: &str) -> FileInfo {
        let cluster = self.fs.bpb().cluster_bytes() as u64;
        let (size, physical) = if entry.is_dir() {
            let s = self.fs.dir_size(entry).unwrap_or(0);
            (s, s)
        } else {
            let s = entry.size as u64;
            (s, s.div_ceil(cluster) * cluster)
        };
        FileInfo {
            file_size: size,
            physical_size: physical,
            create_time: fat_to_efi(&entry.created),
            last_access_time: fat_to_efi(&entry.accessed),
            modification_time: fat_to_efi(&entry.modified),
            attribute: entry.attributes.0 as u64 & VALID_ATTR,
            file_name: name.into(),
        }
    }

    /// `Read`: for a file, reads up to `buf.len()` bytes at the position and advances it; for a directory,
    /// encodes the next entry into `buf`. Returns the bytes produced.
    ///
    /// Errors: `DeviceError` (file position past the end, or the device), `BufferTooSmall(n)` (directories),
    /// `VolumeCorrupted`, `InvalidParameter` (unknown handle).
    pub fn read(&mut self, id: FileId, buf: &mut [u8]) -> Result<usize, FsError> {
        let (node, position) = {
            let f = self.file(id)?;
            (f.node, f.position)
        };
        let entry = self.node(node).entry.clone();
        if entry.is_dir() {
            let list = self
                .fs
                .read_dir(&entry)
                .map_err(|e| self.fail(node, "read directory", e))?;
            let Some(next) = usize::try_from(position).ok().and_then(|i| list.get(i)) else {
                return Ok(0);
            };
            let info = self.file_info(next, &next.name);
            let n = info.encode(buf)?;
            self.file_mut(id)?.position += 1;
            return Ok(n);
        }
        if position > entry.size as u64 {
            log::debug!(target: super::LOG, "{}: read {}: position {position} is past the end ({})",
                self.name, self.path_of(node), entry.size);
            return Err(FsError::DeviceError);
        }
        let n = self
            .fs
            .read_at(&entry, position, buf)
            .map_err(|e| self.fail(node, "read", e))?;
        self.file_mut(id)?.position += n as u64;
        Ok(n)
    }

    /// `Write`: writes `data` at the position (extending the file) and advances it; returns `data.len()`.
    ///
    /// Errors: `Unsupported` (directory), `WriteProtected` (medium), `AccessDenied` (handle opened read-only),
    /// `VolumeFull`, `VolumeCorrupted`, device errors, `InvalidParameter` (unknown handle).
    pub fn write(&mut self, id: FileId, data: &[u8]) -> Result<usize, FsError> {
        let (node, position, writable) = {
            let f = self.file(id)?;
            (f.node, f.position, f.writable)
        };
        if self.node(node).entry.is_dir() {
            return Err(FsError::Unsupported);
        }
        if self.read_only {
            return Err(FsError::WriteProtected);
        }
        if !writable {
            return Err(FsError::AccessDenied);
        }
        let mut entry = self.node(node).entry.clone();
        let result = self.fs.write_at(&mut entry, position, data);
        // The entry reflects what reached the disk even when the write failed half-way.
        self.node_mut(node).entry = entry;
        result.map_err(|e| self.fail(node, "write", e))?;
        self.file_mut(id)?.position += data.len() as u64;
        Ok(data.len())
    }

    /// `GetPosition`. Errors: `Unsupported` for directories, `InvalidParameter` (unknown handle).
    pub fn get_position(&self, id: FileId) -> Result<u64, FsError> {
        let f = self.file(id)?;
        if self.node(f.node).entry.is_dir() {
            return Err(FsError::Unsupported);
        }
        Ok(f.position)
    }

    /// `SetPosition`: any byte offset for files ([`POSITION_END`] is the end); only 0 for directories (restarts
    /// the listing). Errors: `Unsupported` (non-zero directory position), `InvalidParameter` (unknown handle).
    pub fn set_position(&mut self, id: FileId, position: u64) -> Result<(), FsError> {
        let node = self.file(id)?.node;
        let entry = &self.node(node).entry;
        let new = if entry.is_dir() {
            if position != 0 {
                return Err(FsError::Unsupported);
            }
            0
        } else if position == POSITION_END {
            entry.size as u64
        } else {
            position
        };
        self.file_mut(id)?.position = new;
        Ok(())
    }

    /// `Flush`: makes the volume's writes durable. Errors: `WriteProtected` (medium), `AccessDenied` (handle
    /// opened read-only), device errors, `InvalidParameter` (unknown handle).
    pub fn flush(&mut self, id: FileId) -> Result<(), FsError> {
        let f = self.file(id)?;
        let (node, writable) = (f.node, f.writable);
        if self.read_only {
            return Err(FsError::WriteProtected);
        }
        if !writable {
            return Err(FsError::AccessDenied);
        }
        self.fs.flush().map_err(|e| self.fail(node, "flush", e))
    }
}

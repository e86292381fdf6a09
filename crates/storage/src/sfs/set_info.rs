//! `GetInfo` and `SetInfo` (UEFI 2.10 sections 13.5.10-13.5.11, structures 13.5.16-13.5.18).
//!
//! SetInfo of `EFI_FILE_INFO` may change, in this order of checks:
//! - nothing on the root directory (`EFI_ACCESS_DENIED`);
//! - nothing through a handle opened read-only (`EFI_ACCESS_DENIED`) or on a read-only medium
//!   (`EFI_WRITE_PROTECTED`);
//! - `Attribute` (bits outside `EFI_FILE_VALID_ATTR` are `EFI_INVALID_PARAMETER`; changing `EFI_FILE_DIRECTORY`
//!   is `EFI_ACCESS_DENIED`);
//! - the three times (an all-zero time is left unchanged);
//! - `FileSize` of a file (truncate or zero-extend; a directory's size cannot change: `EFI_ACCESS_DENIED`);
//! - `FileName`: a rename, or a move when it is a path (`\` at the start: from the root; otherwise from the
//!   file's directory); onto an existing name, or a directory into itself, is `EFI_ACCESS_DENIED`.
//!
//! A file whose read-only attribute is set (and stays set) only accepts attribute and time changes.
//! SetInfo of `EFI_FILE_SYSTEM_INFO` changes only the label, as does `EFI_FILE_SYSTEM_VOLUME_LABEL`; both need a
//! writable medium but not a writable handle.

use super::info::{efi_to_fat, encode_label, is_zero_time, read_ucs2, FileInfo, FsInfo};
use super::{FileId, FsError, Volume, ATTR_DIRECTORY, ATTR_READ_ONLY, VALID_ATTR};
use crate::block::BlockDevice;
use crate::fat::{Attributes, FatError};
use alloc::string::String;
use alloc::vec::Vec;

/// Which information structure a GetInfo/SetInfo call names by its GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoKind {
    /// `EFI_FILE_INFO_ID`.
    File,
    /// `EFI_FILE_SYSTEM_INFO_ID`.
    FileSystem,
    /// `EFI_FILE_SYSTEM_VOLUME_LABEL_ID`.
    VolumeLabel,
}

impl<D: BlockDevice> Volume<D> {
    /// `GetInfo`: encodes the structure `kind` for `id` into `buf`; returns its length.
    /// Errors: `BufferTooSmall(n)`, `VolumeCorrupted` or device errors while counting free space or reading the
    /// label, `InvalidParameter` (unknown handle).
    pub fn get_info(
        &mut self,
        id: FileId,
        kind: InfoKind,
        buf: &mut [u8],
    ) -> Result<usize, FsError> {
        let node = self.file(id)?.node;
        match kind {
            InfoKind::File => {
                let entry = self.node(node).entry.clone();
                let name = if node == 0 {
                    String::new()
                } else {
                    entry.name.clone()
                };
                self.file_info(&entry, &name).encode(buf)
            }
            InfoKind::FileSystem => {
                let label = self
                    .fs
                    .volume_label()
                    .map_err(|e| self.fail(0, "volume label", e))?;
                let cluster = self.fs.bpb().cluster_bytes();
                let clusters = self.fs.bpb().cluster_count as u64;
                let info = FsInfo {
                    read_only: self.read_only,
                    volume_size: clusters * cluster as u64,
                    free_space: 0,
                    block_size: cluster,
                    volume_label: label,
                };
                // Check the size before the free-space scan, which reads the whole FAT.
                if buf.len() < info.encoded_len() {
                    return Err(FsError::BufferTooSmall(info.encoded_len()));
                }
                let free = self
                    .fs
                    .free_clusters()
                    .map_err(|e| self.fail(0, "free space", e))?;
                FsInfo {
                    free_space: free as u64 * cluster as u64,
                    ..info
                }
                .encode(buf)
            }
            InfoKind::VolumeLabel => {
                let label = self
                    .fs
                    .volume_label()
                    .map_err(|e| self.fail(0, "volume label", e))?;
                encode_label(&label, buf)
            }
        }
    }

    /// `SetInfo`: applies the structure `kind` in `data` (`BufferSize` bytes) to `id` (see the module doc).
    /// Errors: `InvalidParameter`, `AccessDenied`, `WriteProtected`, `VolumeFull`, `VolumeCorrupted`, device
    /// errors.
    pub fn set_info(&mut self, id: FileId, kind: InfoKind, data: &[u8]) -> Result<(), FsError> {
        let (node, writable) = {
            let f = self.file(id)?;
            (f.node, f.writable)
        };
        let label = match kind {
            InfoKind::File => return self.set_file_info(node, writable, &FileInfo::decode(data)?),
            InfoKind::FileSystem => FsInfo::decode_label(data)?,
            InfoKind::VolumeLabel => read_ucs2(data)?,
        };
        if self.read_only {
            return Err(FsError::WriteProtected);
        }
        match self.fs.set_volume_label(&label) {
            Err(FatError::InvalidName) => Err(FsError::InvalidParameter),
            r => r.map_err(|e| self.fail(0, "set volume label", e)),
        }
    }

    fn set_file_info(
        &mut self,
        node: usize,
        writable: bool,
        info: &FileInfo,
    ) -> Result<(), FsError> {
        if info.attribute & !VALID_ATTR != 0 {
            return Err(FsError::InvalidParameter);
        }
        if node == 0 || !writable {
            return Err(FsError::AccessDenied);
        }
        if self.read_only {
            return Err(FsError::WriteProtected);
        }
        let entry = self.node(node).entry.clone();
        let is_dir = entry.is_dir();
        if (info.attribute & ATTR_DIRECTORY != 0) != is_dir {
            return Err(FsError::AccessDenied);
        }
        let times = [
            &info.create_time,
            &info.last_access_time,
            &info.modification_time,
        ];
        let mut converted = Vec::new();
        for t in times {
            converted.push(if is_zero_time(t) {
                None
            } else {
                Some(efi_to_fat(t)?)
            });
        }
        let size_change = !is_dir && info.file_size != entry.size as u64;
        if is_dir && info.file_size != entry.size as u64 && info.file_size != self.dir_size_of(node)
        {
            return Err(FsError::AccessDenied);
        }
        let read_only_stays =
            entry.attributes.0 & Attributes::READ_ONLY != 0 && info.attribute & ATTR_READ_ONLY != 0;
        let rename = self.rename_target(node, &info.file_name)?;
        let result = if read_only_stays && (size_change || rename.is_some()) {
            Err(FsError::AccessDenied)
        } else {
            self.apply_file_info(node, info, &converted, size_change, rename.as_ref())
        };
        if let Some((dir, _)) = rename {
            self.release(dir);
        }
        result
    }

    /// The changes of [`Self::set_file_info`] once checked: size, name, then attributes and times.
    fn apply_file_info(
        &mut self,
        node: usize,
        info: &FileInfo,
        times: &[Option<crate::fat::DateTime>],
        size_change: bool,
        rename: Option<&(usize, String)>,
    ) -> Result<(), FsError> {
        let mut entry = self.node(node).entry.clone();
        if size_change {
            let len = u32::try_from(info.file_size).map_err(|_| FsError::VolumeFull)?;
            let r = self.fs.set_len(&mut entry, len);
            self.node_mut(node).entry = entry.clone();
            r.map_err(|e| self.fail(node, "set size", e))?;
        }
        if let Some((parent, name)) = rename {
            let parent_entry = self.node(*parent).entry.clone();
            entry = match self.fs.rename(&entry, &parent_entry, name) {
                Ok(moved) => moved,
                Err(FatError::AlreadyExists | FatError::InvalidPath) => {
                    return Err(FsError::AccessDenied)
                }
                Err(e) => return Err(self.fail(node, "rename", e)),
            };
            let old_parent = self.node(node).parent.unwrap_or(0);
            if old_parent != *parent {
                self.retain(*parent);
                self.node_mut(node).parent = Some(*parent);
                self.release(old_parent);
            }
            self.node_mut(node).entry = entry.clone();
        }
        let keep = Attributes::DIRECTORY | Attributes::VOLUME_ID;
        entry.attributes.0 =
            (entry.attributes.0 & keep) | (info.attribute & (VALID_ATTR & !ATTR_DIRECTORY)) as u8;
        for (slot, t) in [&mut entry.created, &mut entry.accessed, &mut entry.modified]
            .into_iter()
            .zip(times)
        {
            if let Some(t) = t {
                *slot = *t;
            }
        }
        let r = self.fs.update_entry(&entry);
        self.node_mut(node).entry = entry;
        r.map_err(|e| self.fail(node, "set info", e))
    }

    fn dir_size_of(&mut self, node: usize) -> u64 {
        let entry = self.node(node).entry.clone();
        self.fs.dir_size(&entry).unwrap_or(0)
    }

    /// Where a new `FileName` puts node `node`: `None` when it names the file as it is, else the directory node
    /// (retained: the caller releases it) and the new last component.
    fn rename_target(
        &mut self,
        node: usize,
        new: &str,
    ) -> Result<Option<(usize, String)>, FsError> {
        let parent = self.node(node).parent.unwrap_or(0);
        let absolute = new.starts_with('\\');
        let comps: Vec<&str> = new.split('\\').filter(|c| !c.is_empty()).collect();
        let Some((&last, dirs)) = comps.split_last() else {
            return Err(FsError::InvalidParameter);
        };
        if !absolute && dirs.is_empty() && last == self.node(node).entry.name {
            return Ok(None);
        }
        if last == "." || last == ".." {
            return Err(FsError::InvalidParameter);
        }
        let mut cur = if absolute { 0 } else { parent };
        self.retain(cur);
        for comp in dirs {
            match self.step(cur, comp, false, 0) {
                Ok((next, _)) => {
                    self.retain(next);
                    self.release(cur);
                    cur = next;
                }
                Err(e) => {
                    self.release(cur);
                    return Err(e);
                }
            }
        }
        if !self.node(cur).entry.is_dir() {
            self.release(cur);
            return Err(FsError::NotFound);
        }
        if cur == parent && last == self.node(node).entry.name {
            self.release(cur);
            return Ok(None);
        }
        Ok(Some((cur, last.into())))
    }
}

//! UEFI file semantics over a FAT volume: what `EFI_SIMPLE_FILE_SYSTEM_PROTOCOL` and `EFI_FILE_PROTOCOL`
//! (UEFI 2.10 sections 13.4, 13.5) do, without the ABI. The firmware's protocol functions are thin shells that
//! find the [`Volume`] and [`FileId`] behind `This` and call the method of the same name here.
//!
//! # Model
//! - A [`Volume`] owns the mounted [`FatFs`], a table of **nodes** and a table of **open files**.
//! - A node is one file or directory that is open or lies on the way to one: its current [`DirEntry`] (size,
//!   first cluster, attributes, times, on-disk position) and its parent node. Every handle to the same file
//!   shares its node, so a write through one handle is seen through the others; `..` goes to the parent node.
//!   Node 0 is the root and lives as long as the volume. A node lives while `refs` (open files on it plus child
//!   nodes) is non-zero.
//! - An open file (a [`FileId`]) is a node, the access it was opened with, and a position: a byte offset for
//!   files, the index of the next entry for directories.
//!
//! # Paths (`Open`, section 13.5.2)
//! UCS-2, separator `\` only. A leading `\` starts at the root, otherwise at the directory of `This` (a file handle
//! cannot start a relative path: `EFI_NOT_FOUND`). Empty components and `.` stay, `..` goes up (above the root:
//! `EFI_NOT_FOUND`), names compare case-insensitively with long and short names. The empty path opens `This`'s
//! file again.
//!
//! # Rules enforced (beyond the FAT layer's own checks)
//! - Open modes are `READ`, `READ|WRITE` or `READ|WRITE|CREATE`; anything else, or attributes outside
//!   `EFI_FILE_VALID_ATTR` on create, is `EFI_INVALID_PARAMETER`. `WRITE` on a read-only medium is
//!   `EFI_WRITE_PROTECTED`; `WRITE` on an existing read-only file is `EFI_ACCESS_DENIED`.
//! - Writes, SetInfo of `EFI_FILE_INFO`, Delete and Flush need a handle opened with `WRITE` (else
//!   `EFI_ACCESS_DENIED`, or `EFI_WARN_DELETE_FAILURE` for Delete) and a writable medium.
//! - Delete refuses the root, a non-empty directory, and a file or directory another handle (or an open
//!   descendant) still uses; the handle is closed either way.
//! - Corruption found on the way (looping or out-of-range chains, ...) is `EFI_VOLUME_CORRUPTED` with an `error`
//!   log line naming the volume, the file and the on-disk value at fault; device failures are
//!   `EFI_DEVICE_ERROR` (or `EFI_NO_MEDIA`/`EFI_MEDIA_CHANGED`), also logged.

mod error;
pub mod info;
mod io;
mod set_info;

pub use error::FsError;
pub use set_info::InfoKind;

use crate::block::BlockDevice;
use crate::fat::{Attributes, DateTime, DirEntry, FatError, FatFs};
use alloc::string::String;
use alloc::vec::Vec;

/// `EFI_FILE_MODE_READ`.
pub const MODE_READ: u64 = 0x1;
/// `EFI_FILE_MODE_WRITE`.
pub const MODE_WRITE: u64 = 0x2;
/// `EFI_FILE_MODE_CREATE`.
pub const MODE_CREATE: u64 = 0x8000_0000_0000_0000;
/// `EFI_FILE_READ_ONLY`.
pub const ATTR_READ_ONLY: u64 = 0x01;
/// `EFI_FILE_DIRECTORY`.
pub const ATTR_DIRECTORY: u64 = 0x10;
/// `EFI_FILE_VALID_ATTR`: READ_ONLY | HIDDEN | SYSTEM | DIRECTORY | ARCHIVE.
pub const VALID_ATTR: u64 = 0x37;

const LOG: &str = "storage::sfs";

/// An open file of a [`Volume`] (the index of its slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(pub usize);

struct Node {
    entry: DirEntry,
    parent: Option<usize>,
    refs: u32,
}

struct OpenFile {
    node: usize,
    writable: bool,
    position: u64,
}

/// A mounted FAT volume with its open files (see the module documentation).
pub struct Volume<D> {
    fs: FatFs<D>,
    name: String,
    read_only: bool,
    nodes: Vec<Option<Node>>,
    files: Vec<Option<OpenFile>>,
}

impl<D: BlockDevice> Volume<D> {
    /// Wraps a mounted file system. `name` identifies the volume in log lines (a device path text);
    /// `read_only` is the medium's write protection.
    pub fn new(fs: FatFs<D>, name: String, read_only: bool) -> Self {
        let root = Node {
            entry: fs.root(),
            parent: None,
            refs: 1,
        };
        Volume {
            fs,
            name,
            read_only,
            nodes: alloc::vec![Some(root)],
            files: Vec::new(),
        }
    }

    /// The file system (for the caller's own queries).
    pub fn fs(&mut self) -> &mut FatFs<D> {
        &mut self.fs
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the medium is read-only.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Sets the time stamped on files created or written from now on.
    pub fn set_time(&mut self, now: DateTime) {
        self.fs.set_time(now);
    }

    /// Number of open files.
    pub fn open_files(&self) -> usize {
        self.files.iter().flatten().count()
    }

    /// Unmounts, returning the device.
    pub fn into_inner(self) -> D {
        self.fs.into_inner()
    }

    /// `OpenVolume` (section 13.4.2): a new handle on the root directory, writable unless the medium is read-only.
    pub fn open_root(&mut self) -> FileId {
        self.retain(0);
        let writable = !self.read_only;
        self.add_file(0, writable)
    }

    fn add_file(&mut self, node: usize, writable: bool) -> FileId {
        let file = OpenFile {
            node,
            writable,
            position: 0,
        };
        match self.files.iter().position(Option::is_none) {
            Some(i) => {
                self.files[i] = Some(file);
                FileId(i)
            }
            None => {
                self.files.push(Some(file));
                FileId(self.files.len() - 1)
            }
        }
    }

    fn file(&self, id: FileId) -> Result<&OpenFile, FsError> {
        self.files
            .get(id.0)
            .and_then(Option::as_ref)
            .ok_or(FsError::InvalidParameter)
    }

    fn file_mut(&mut self, id: FileId) -> Result<&mut OpenFile, FsError> {
        self.files
            .get_mut(id.0)
            .and_then(Option::as_mut)
            .ok_or(FsError::InvalidParameter)
    }

    fn node(&self, index: usize) -> &Node {
        // Invariant: a node referenced by an open file or a child node is live.
        self.nodes[index].as_ref().expect("live node")
    }

    fn node_mut(&mut self, index: usize) -> &mut Node {
        self.nodes[index].as_mut().expect("live node")
    }

    fn retain(&mut self, index: usize) {
        self.node_mut(index).refs += 1;
    }

    /// Drops one reference; frees the node (and its parent's reference, and so on up) when none is left.
    fn release(&mut self, mut index: usize) {
        loop {
            let node = self.node_mut(index);
            node.refs -= 1;
            if node.refs > 0 || index == 0 {
                return;
            }
            let parent = node.parent;
            self.nodes[index] = None;
            match parent {
                Some(p) => index = p,
                None => return,
            }
        }
    }

    /// The node for `entry` (a child of `parent`), created if needed; not retained.
    fn child_node(&mut self, parent: usize, entry: DirEntry) -> usize {
        let short = entry.pos.as_ref().map(|p| p.short);
        let existing = self.nodes.iter().position(|n| {
            n.as_ref().is_some_and(|n| {
                n.parent == Some(parent) && n.entry.pos.as_ref().map(|p| p.short) == short
            })
        });
        if let Some(i) = existing {
            return i;
        }
        self.retain(parent);
        let node = Some(Node {
            entry,
            parent: Some(parent),
            refs: 0,
        });
        match self.nodes.iter().position(Option::is_none) {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        }
    }

    /// The path of a node from the root, for log lines (`\` for the root).
    pub(crate) fn path_of(&self, mut index: usize) -> String {
        let mut names = Vec::new();
        while let Some(parent) = self.node(index).parent {
            names.push(self.node(index).entry.name.clone());
            index = parent;
        }
        if names.is_empty() {
            return String::from("\\");
        }
        names
            .iter()
            .rev()
            .flat_map(|n| ["\\", n.as_str()])
            .collect()
    }

    /// Converts a FAT error met while working on node `index`, logging corruption and device failures.
    pub(crate) fn fail(&self, index: usize, what: &str, e: FatError) -> FsError {
        let err = FsError::from(e);
        match err {
            FsError::VolumeCorrupted => log::error!(target: LOG,
                "{}: {}: {what}: {e}: the volume is corrupt (EFI_VOLUME_CORRUPTED)", self.name, self.path_of(index)),
            FsError::DeviceError | FsError::NoMedia | FsError::MediaChanged => {
                log::error!(target: LOG,
                "{}: {}: {what}: {e} ({:?})", self.name, self.path_of(index), err)
            }
            _ => log::debug!(target: LOG, "{}: {}: {what}: {e}", self.name, self.path_of(index)),
        }
        err
    }

    /// `Open` (section 13.5.2): opens `path` (UCS-2 without its NUL) relative to the directory of `from` with
    /// `mode`, creating it with `attributes` when `mode` has `CREATE` and it does not exist.
    ///
    /// Errors: `InvalidParameter` (mode, attributes, path encoding or name), `WriteProtected`, `NotFound`,
    /// `AccessDenied` (write access to a read-only file), `VolumeFull`, `VolumeCorrupted`, device errors.
    pub fn open(
        &mut self,
        from: FileId,
        path: &[u16],
        mode: u64,
        attributes: u64,
    ) -> Result<FileId, FsError> {
        let start = self.file(from)?.node;
        if !matches!(
            mode,
            MODE_READ | 0x3 /* READ|WRITE */ | 0x8000_0000_0000_0003 /* READ|WRITE|CREATE */
        ) {
            return Err(FsError::InvalidParameter);
        }
        let create = mode & MODE_CREATE != 0;
        if create && attributes & !VALID_ATTR != 0 {
            return Err(FsError::InvalidParameter);
        }
        let writable = mode & MODE_WRITE != 0;
        if writable && self.read_only {
            return Err(FsError::WriteProtected);
        }
        let path = String::from_utf16(path).map_err(|_| FsError::InvalidParameter)?;
        let mut cur = if path.starts_with('\\') { 0 } else { start };
        self.retain(cur);
        let comps: Vec<&str> = path.split('\\').filter(|c| !c.is_empty()).collect();
        let mut created = false;
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            match self.step(cur, comp, last && create, attributes) {
                Ok((next, made)) => {
                    self.retain(next);
                    self.release(cur);
                    cur = next;
                    created = made;
                }
                Err(e) => {
                    self.release(cur);
                    return Err(e);
                }
            }
        }
        let entry = &self.node(cur).entry;
        if writable
            && !created
            && !entry.is_dir()
            && entry.attributes.0 & Attributes::READ_ONLY != 0
        {
            self.release(cur);
            return Err(FsError::AccessDenied);
        }
        Ok(self.add_file(cur, writable))
    }

    /// One path component from node `cur`: returns the node reached and whether it was created.
    fn step(
        &mut self,
        cur: usize,
        comp: &str,
        create: bool,
        attributes: u64,
    ) -> Result<(usize, bool), FsError> {
        match comp {
            "." => return Ok((cur, false)),
            ".." => {
                return self
                    .node(cur)
                    .parent
                    .map(|p| (p, false))
                    .ok_or(FsError::NotFound)
            }
            _ => {}
        }
        let dir = self.node(cur).entry.clone();
        if !dir.is_dir() {
            return Err(FsError::NotFound);
        }
        match self.fs.lookup(&dir, comp) {
            Ok(e) => Ok((self.child_node(cur, e), false)),
            Err(FatError::NotFound) if create => {
                let is_dir = attributes & ATTR_DIRECTORY != 0;
                let mut e = self
                    .fs
                    .create_in(&dir, comp, is_dir)
                    .map_err(|e| self.fail(cur, "create", e))?;
                let extra = (attributes & (VALID_ATTR & !ATTR_DIRECTORY)) as u8;
                if extra & !e.attributes.0 != 0 {
                    e.attributes.0 |= extra;
                    self.fs
                        .update_entry(&e)
                        .map_err(|err| self.fail(cur, "create", err))?;
                }
                Ok((self.child_node(cur, e), true))
            }
            Err(e) => Err(self.fail(cur, "open", e)),
        }
    }

    /// `Close` (section 13.5.3). Errors: `InvalidParameter` for an unknown handle.
    pub fn close(&mut self, id: FileId) -> Result<(), FsError> {
        let node = self.file(id)?.node;
        self.files[id.0] = None;
        self.release(node);
        Ok(())
    }

    /// `Delete` (section 13.5.4): closes `id` and deletes its file. `Err` means the file was not deleted (the
    /// protocol returns `EFI_WARN_DELETE_FAILURE`); the handle is closed in every case except an unknown `id`
    /// (`InvalidParameter`).
    pub fn delete(&mut self, id: FileId) -> Result<(), FsError> {
        let (node, writable) = {
            let f = self.file(id)?;
            (f.node, f.writable)
        };
        let refused = if node == 0 {
            Some("the root directory cannot be deleted")
        } else if !writable || self.read_only {
            Some("the handle or medium is read-only")
        } else if self.node(node).refs > 1 {
            Some("another handle (or an open file below it) still uses it")
        } else {
            None
        };
        let result = match refused {
            Some(why) => {
                log::warn!(target: LOG, "{}: delete {}: refused: {why}", self.name, self.path_of(node));
                Err(FsError::AccessDenied)
            }
            None => {
                let entry = self.node(node).entry.clone();
                self.fs
                    .delete_entry(&entry)
                    .map_err(|e| self.fail(node, "delete", e))
            }
        };
        self.files[id.0] = None;
        self.release(node);
        result
    }
}

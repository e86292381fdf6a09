//! Errors of the FAT layer.

use super::bpb::BpbError;
use crate::block::BlockError;

/// Why a FAT operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatError {
    /// The device failed (or the request reached past its end).
    Io(BlockError),
    /// The boot sector / BPB is invalid; the volume cannot be mounted.
    Bpb(BpbError),
    /// A cluster number (in a directory entry or FAT entry) is below 2 or above the last data cluster.
    ClusterOutOfRange {
        /// The offending cluster number.
        cluster: u32,
    },
    /// The cluster chain starting at `start` revisits a cluster or is longer than the volume's cluster count.
    CorruptChain {
        /// First cluster of the chain.
        start: u32,
    },
    /// A cluster chain runs into a free (0) FAT entry.
    FreeClusterInChain {
        /// The cluster whose FAT entry is free.
        cluster: u32,
    },
    /// A cluster chain runs into a cluster marked bad.
    BadClusterInChain {
        /// The cluster marked bad.
        cluster: u32,
    },
    /// The chain ends before covering the file size.
    ChainTooShort {
        /// First cluster of the chain.
        start: u32,
    },
    /// A path component does not exist.
    NotFound,
    /// A path component used as a directory is a file.
    NotADirectory,
    /// A file operation was given a directory.
    IsADirectory,
    /// The path is empty where a name is needed, or names the root where an entry is needed.
    InvalidPath,
    /// The name cannot be stored (empty, over 255 UTF-16 units, reserved characters, trailing dot or space).
    InvalidName,
    /// An entry of that name already exists.
    AlreadyExists,
    /// A directory to delete still has entries.
    DirectoryNotEmpty,
    /// No free directory entries: FAT12/16 root full, or 65536 entries reached.
    DirectoryFull,
    /// No free cluster left.
    NoSpace,
    /// The file would exceed 4 GiB - 1 bytes.
    FileTooLarge,
}

impl From<BlockError> for FatError {
    fn from(e: BlockError) -> Self {
        FatError::Io(e)
    }
}

impl From<BpbError> for FatError {
    fn from(e: BpbError) -> Self {
        FatError::Bpb(e)
    }
}

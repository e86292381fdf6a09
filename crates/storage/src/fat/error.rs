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

impl core::fmt::Display for FatError {
    /// A sentence for log lines, naming the on-disk value at fault.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FatError::Io(e) => write!(f, "device error {e:?}"),
            FatError::Bpb(e) => write!(f, "invalid boot sector: {e:?}"),
            FatError::ClusterOutOfRange { cluster } => {
                write!(
                    f,
                    "cluster number {cluster:#x} is outside the volume's data clusters"
                )
            }
            FatError::CorruptChain { start } => write!(
                f,
                "the cluster chain from cluster {start:#x} loops or is longer than the volume"
            ),
            FatError::FreeClusterInChain { cluster } => {
                write!(f, "a cluster chain runs into free cluster {cluster:#x}")
            }
            FatError::BadClusterInChain { cluster } => {
                write!(
                    f,
                    "a cluster chain runs into cluster {cluster:#x}, marked bad"
                )
            }
            FatError::ChainTooShort { start } => write!(
                f,
                "the cluster chain from cluster {start:#x} is shorter than the file size"
            ),
            FatError::NotFound => f.write_str("not found"),
            FatError::NotADirectory => f.write_str("not a directory"),
            FatError::IsADirectory => f.write_str("is a directory"),
            FatError::InvalidPath => f.write_str("invalid path"),
            FatError::InvalidName => f.write_str("invalid name"),
            FatError::AlreadyExists => f.write_str("an entry of that name exists"),
            FatError::DirectoryNotEmpty => f.write_str("directory not empty"),
            FatError::DirectoryFull => f.write_str("directory full"),
            FatError::NoSpace => f.write_str("no free cluster"),
            FatError::FileTooLarge => f.write_str("FAT files end at 4 GiB - 1 bytes"),
        }
    }
}

impl FatError {
    /// True for the errors that mean the on-disk structures are inconsistent (a corrupt volume), as opposed to a
    /// caller's mistake, a full volume or a device failure.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            FatError::Bpb(_)
                | FatError::ClusterOutOfRange { .. }
                | FatError::CorruptChain { .. }
                | FatError::FreeClusterInChain { .. }
                | FatError::BadClusterInChain { .. }
                | FatError::ChainTooShort { .. }
        )
    }
}

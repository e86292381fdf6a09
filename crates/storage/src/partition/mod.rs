//! Partition tables: GPT ([`gpt`], UEFI 2.10 section 5.3) and legacy MBR ([`mbr`], section 5.2), plus the
//! values a UEFI Hard Drive media device path node needs ([`HardDriveNode`], section 10.3.5.1).
//!
//! [`read_partition_table`] follows section 5.2.3/13.3.2 (partition discovery): if LBA 0 holds an MBR with a
//! record of type 0xEE (protective or hybrid MBR) the disk is GPT and only the GPT is trusted; if it holds an MBR
//! without one it is a legacy MBR disk; otherwise [`PartitionError::NoPartitionTable`]. An `Err` from this function
//! on a disk that has a boot sector may still mean "unpartitioned medium": the caller can try a file system on the
//! whole disk.

pub mod gpt;
pub mod guid;
pub mod mbr;

use crate::block::{BlockDevice, BlockError};
use alloc::vec;
use alloc::vec::Vec;
use gpt::{Gpt, GptError};
use mbr::{Mbr, MbrError};

/// Why no partition table could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionError {
    /// Reading LBA 0 failed.
    Io(BlockError),
    /// The block size is below 512 bytes.
    BlockTooSmall(u32),
    /// LBA 0 has no `0x55 0xAA` signature: neither MBR nor (protective-MBR) GPT.
    NoPartitionTable,
    /// The protective MBR announced a GPT but neither header is valid.
    GptInvalid {
        /// Why the primary header (LBA 1) was rejected.
        primary: GptError,
        /// Why the backup header (last LBA) was rejected.
        backup: GptError,
    },
    /// The legacy MBR is malformed.
    Mbr(MbrError),
}

/// A disk's partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionTable {
    /// A GUID Partition Table.
    Gpt(Gpt),
    /// A legacy MBR.
    Mbr(Mbr),
}

/// `PartitionFormat` of a Hard Drive device path node (UEFI 2.10 section 10.3.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PartitionFormat {
    /// PC-AT compatible legacy MBR (0x01).
    Mbr = 0x01,
    /// GUID Partition Table (0x02).
    Gpt = 0x02,
}

/// `SignatureType` of a Hard Drive device path node (UEFI 2.10 section 10.3.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SignatureType {
    /// No signature (0x00).
    None = 0x00,
    /// 32-bit MBR disk signature (offset 0x1B8 of LBA 0) in the first 4 bytes of the signature (0x01).
    Mbr = 0x01,
    /// The partition's unique GUID (0x02).
    Guid = 0x02,
}

/// Fields of a `HD(...)` media device path node (UEFI 2.10 section 10.3.5.1, type 4 subtype 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardDriveNode {
    /// `PartitionNumber`: GPT entry index (1-based) or MBR number (1-4 primary, 5.. logical).
    pub partition_number: u32,
    /// `PartitionStart` in logical blocks.
    pub partition_start: u64,
    /// `PartitionSize` in logical blocks.
    pub partition_size: u64,
    /// `PartitionSignature`: GUID bytes, or the MBR signature little-endian in bytes 0..4 and zero after.
    pub partition_signature: [u8; 16],
    /// `PartitionFormat` (`MBRType`).
    pub partition_format: PartitionFormat,
    /// `SignatureType`.
    pub signature_type: SignatureType,
}

/// A partition from either table, in the form the firmware consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Device path values; `partition_start`/`partition_size` locate it on the disk.
    pub node: HardDriveNode,
    /// EFI System Partition: GPT type C12A7328-F81F-11D2-BA4B-00A0C93EC93B or MBR `OSType` 0xEF.
    pub is_esp: bool,
}

impl PartitionTable {
    /// Every file-system partition (GPT used entries; MBR primaries and logicals, not the extended container).
    pub fn partitions(&self) -> Vec<Partition> {
        match self {
            PartitionTable::Gpt(g) => g
                .partitions
                .iter()
                .map(|p| Partition {
                    node: HardDriveNode {
                        partition_number: p.index,
                        partition_start: p.starting_lba,
                        partition_size: p.size_lba(),
                        partition_signature: p.unique_guid.0,
                        partition_format: PartitionFormat::Gpt,
                        signature_type: SignatureType::Guid,
                    },
                    is_esp: p.is_esp(),
                })
                .collect(),
            PartitionTable::Mbr(m) => {
                let mut sig = [0u8; 16];
                sig[..4].copy_from_slice(&m.disk_signature.to_le_bytes());
                m.partitions
                    .iter()
                    .map(|p| Partition {
                        node: HardDriveNode {
                            partition_number: p.number,
                            partition_start: p.starting_lba,
                            partition_size: p.size_lba,
                            partition_signature: sig,
                            partition_format: PartitionFormat::Mbr,
                            signature_type: SignatureType::Mbr,
                        },
                        is_esp: p.os_type == mbr::OS_TYPE_EFI_SYSTEM,
                    })
                    .collect()
            }
        }
    }
}

/// Reads the disk's partition table (see the module doc for the decision rules).
pub fn read_partition_table<D: BlockDevice>(dev: &mut D) -> Result<PartitionTable, PartitionError> {
    let bs = dev.block_size();
    if bs < 512 {
        return Err(PartitionError::BlockTooSmall(bs));
    }
    let mut lba0 = vec![0u8; bs as usize];
    dev.read_blocks(0, &mut lba0).map_err(PartitionError::Io)?;
    if !mbr::has_signature(&lba0) {
        return Err(PartitionError::NoPartitionTable);
    }
    if mbr::records(&lba0)
        .iter()
        .any(|r| r.os_type == mbr::OS_TYPE_GPT_PROTECTIVE)
    {
        return gpt::read_gpt(dev)
            .map(PartitionTable::Gpt)
            .map_err(|(primary, backup)| PartitionError::GptInvalid { primary, backup });
    }
    mbr::read_mbr(dev)
        .map(PartitionTable::Mbr)
        .map_err(PartitionError::Mbr)
}

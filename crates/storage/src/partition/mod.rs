//! Partition tables: GPT ([`gpt`], UEFI 2.10 section 5.3) and legacy MBR ([`mbr`], section 5.2), plus the
//! values a UEFI Hard Drive media device path node needs ([`HardDriveNode`], section 10.3.5.1).
//!
//! [`read_partition_table`] follows section 5.2.3/13.3.2 (partition discovery): if LBA 0 holds an MBR with a
//! record of type 0xEE (protective or hybrid MBR) the disk is GPT and only the GPT is trusted; if LBA 0 is a valid
//! FAT boot sector (a "superfloppy": a file system on the whole medium, section 13.3.2.2) the answer is
//! [`PartitionError::FileSystemAtLba0`], because the boot code where MBR records would be is not a table; if it
//! holds an MBR without a 0xEE record it is a legacy MBR disk; otherwise [`PartitionError::NoPartitionTable`].
//! Any `Err` means "no partitions": the caller can try a file system on the whole disk.
//!
//! GPT entries with attribute bit 1 ("No Block IO Protocol", table 5.7) are left out of
//! [`PartitionTable::partitions`]: the firmware must not make a block device of them.

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
    /// LBA 0 is a valid FAT boot sector and no record is 0xEE: an unpartitioned medium (superfloppy).
    FileSystemAtLba0,
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

/// Length of a Hard Drive media device path node in bytes (UEFI 2.10 section 10.3.5.1).
pub const HARD_DRIVE_NODE_LEN: usize = 42;

impl HardDriveNode {
    /// The device path node (type 4 Media, subtype 1 Hard Drive, length 42): `PartitionNumber` u32,
    /// `PartitionStart` u64, `PartitionSize` u64, `PartitionSignature` [16], `PartitionFormat` u8,
    /// `SignatureType` u8, all little-endian and unaligned.
    pub fn to_bytes(&self) -> [u8; HARD_DRIVE_NODE_LEN] {
        let mut n = [0u8; HARD_DRIVE_NODE_LEN];
        n[0] = 4;
        n[1] = 1;
        n[2..4].copy_from_slice(&(HARD_DRIVE_NODE_LEN as u16).to_le_bytes());
        n[4..8].copy_from_slice(&self.partition_number.to_le_bytes());
        n[8..16].copy_from_slice(&self.partition_start.to_le_bytes());
        n[16..24].copy_from_slice(&self.partition_size.to_le_bytes());
        n[24..40].copy_from_slice(&self.partition_signature);
        n[40] = self.partition_format as u8;
        n[41] = self.signature_type as u8;
        n
    }
}

/// The table entry behind a partition, as `EFI_PARTITION_INFO_PROTOCOL` (UEFI 2.10 section 13.18) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionRecord {
    /// The GPT entry (first 128 bytes, table 5.6).
    Gpt([u8; 128]),
    /// The MBR or EBR partition record (16 bytes, table 5.2).
    Mbr([u8; 16]),
}

/// A partition from either table, in the form the firmware consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Device path values; `partition_start`/`partition_size` locate it on the disk.
    pub node: HardDriveNode,
    /// EFI System Partition: GPT type C12A7328-F81F-11D2-BA4B-00A0C93EC93B or MBR `OSType` 0xEF.
    pub is_esp: bool,
    /// The table entry.
    pub record: PartitionRecord,
}

/// GPT entry attribute bit 1: the firmware must not produce a Block I/O protocol for it (UEFI 2.10 table 5.7).
pub const GPT_ATTRIBUTE_NO_BLOCK_IO: u64 = 1 << 1;

impl PartitionTable {
    /// Every file-system partition (GPT used entries without the "No Block IO" attribute; MBR primaries and
    /// logicals, not the extended container).
    pub fn partitions(&self) -> Vec<Partition> {
        match self {
            PartitionTable::Gpt(g) => g
                .partitions
                .iter()
                .filter(|p| p.attributes & GPT_ATTRIBUTE_NO_BLOCK_IO == 0)
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
                    record: PartitionRecord::Gpt(p.entry_bytes()),
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
                        record: PartitionRecord::Mbr(p.record),
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
    let device_bytes = (dev.last_block().saturating_add(1)).saturating_mul(bs as u64);
    if crate::fat::Bpb::parse(&lba0, device_bytes).is_ok() {
        return Err(PartitionError::FileSystemAtLba0);
    }
    mbr::read_mbr(dev)
        .map(PartitionTable::Mbr)
        .map_err(PartitionError::Mbr)
}

impl core::fmt::Display for PartitionError {
    /// A sentence for log lines, e.g. `GPT invalid: primary header: HeaderCRC32 ... ; backup header: ...`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PartitionError::Io(e) => write!(f, "reading LBA 0 failed ({e:?})"),
            PartitionError::BlockTooSmall(bs) => write!(f, "blocks of {bs} bytes are too small for a partition table"),
            PartitionError::NoPartitionTable => f.write_str("no partition table (LBA 0 has no 0x55AA signature)"),
            PartitionError::GptInvalid { primary, backup } => write!(
                f,
                "the protective MBR announces a GPT but both headers are invalid: primary header (LBA 1): {primary}; backup header (last LBA): {backup}"
            ),
            PartitionError::Mbr(e) => write!(f, "invalid MBR: {e}"),
            PartitionError::FileSystemAtLba0 => f.write_str("no partition table: a FAT file system starts at LBA 0"),
        }
    }
}

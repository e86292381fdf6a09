//! Legacy MBR partition tables (UEFI 2.10 section 5.2.1, table 5.1/5.2) with extended partitions (EBR chains).
//!
//! The MBR is the first 512 bytes of LBA 0: `UniqueMBRDiskSignature` (u32 at 440), four 16-byte partition records
//! at 446, and `0x55 0xAA` at 510. A record is used when its `OSType` and `SizeInLBA` are non-zero. Used records
//! must have `BootIndicator` 0x00 or 0x80, start past LBA 0, end on the disk and not overlap (this also rejects
//! most FAT boot sectors of unpartitioned media, whose boot code sits where the records would be).
//!
//! An extended partition (type 0x05, 0x0F or 0x85; at most one) holds a chain of EBRs. Each EBR (same layout,
//! signature required) has record 0 = a logical partition, its start relative to this EBR, and record 1 = the
//! next EBR, its start relative to the extended partition. Every EBR and logical partition must lie inside the
//! extended partition; the chain is bounded by [`MAX_LOGICAL_PARTITIONS`] and a revisited EBR LBA is
//! [`MbrError::ExtendedChainLoop`]. Logical partitions are numbered from 5 in chain order.

use crate::block::{BlockDevice, BlockError};
use alloc::vec;
use alloc::vec::Vec;

/// `OSType` of a GPT protective MBR record (UEFI 2.10 table 5.4).
pub const OS_TYPE_GPT_PROTECTIVE: u8 = 0xEE;
/// `OSType` of an EFI System Partition in an MBR (UEFI 2.10 section 5.2.2).
pub const OS_TYPE_EFI_SYSTEM: u8 = 0xEF;
/// Most logical partitions followed in an EBR chain.
pub const MAX_LOGICAL_PARTITIONS: usize = 128;

/// Why an MBR (or EBR chain) was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MbrError {
    /// Reading the MBR or an EBR failed.
    Io(BlockError),
    /// The block size is below 512 bytes, so no MBR fits in LBA 0.
    BlockTooSmall(u32),
    /// LBA 0 does not end in `0x55 0xAA`.
    BadSignature,
    /// A used record's `BootIndicator` is neither 0x00 nor 0x80.
    BadBootIndicator {
        /// Partition number (1-4).
        number: u32,
    },
    /// A used record starts at LBA 0 or ends past the last block.
    PartitionOutsideDisk {
        /// Partition number.
        number: u32,
    },
    /// Two partitions (or a partition and an EBR) share blocks.
    PartitionsOverlap {
        /// Number of one partition (0 stands for an EBR).
        first: u32,
        /// Number of the other (0 stands for an EBR).
        second: u32,
    },
    /// More than one primary record is an extended partition.
    MultipleExtended,
    /// An EBR does not end in `0x55 0xAA`.
    EbrBadSignature {
        /// LBA of the EBR.
        lba: u64,
    },
    /// An EBR or logical partition lies outside the extended partition.
    OutsideExtended {
        /// LBA of the EBR concerned.
        lba: u64,
    },
    /// The EBR chain comes back to an EBR it already visited.
    ExtendedChainLoop {
        /// The revisited LBA.
        lba: u64,
    },
    /// The EBR chain has more than [`MAX_LOGICAL_PARTITIONS`] links.
    ExtendedChainTooLong,
}

impl From<BlockError> for MbrError {
    fn from(e: BlockError) -> Self {
        MbrError::Io(e)
    }
}

/// One partition record (UEFI 2.10 table 5.2), converted to absolute LBAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbrPartition {
    /// 1-4 for primary records, 5.. for logical partitions in chain order.
    pub number: u32,
    /// `BootIndicator` was 0x80.
    pub bootable: bool,
    /// `OSType`.
    pub os_type: u8,
    /// Absolute first LBA.
    pub starting_lba: u64,
    /// Size in blocks (non-zero).
    pub size_lba: u64,
    /// The 16-byte record as stored (UEFI 2.10 table 5.2; for a logical partition the EBR's record, whose start
    /// is relative to that EBR). `EFI_PARTITION_INFO_PROTOCOL` hands it out unchanged.
    pub record: [u8; 16],
}

impl MbrPartition {
    /// Last LBA (inclusive).
    pub fn ending_lba(&self) -> u64 {
        self.starting_lba + self.size_lba - 1
    }
}

/// A validated MBR partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mbr {
    /// `UniqueMBRDiskSignature`.
    pub disk_signature: u32,
    /// Used primary records (extended containers excluded) then logical partitions.
    pub partitions: Vec<MbrPartition>,
    /// The extended container, if any (not itself a file-system partition).
    pub extended: Option<MbrPartition>,
}

/// True for the extended-partition `OSType`s 0x05, 0x0F and 0x85.
pub fn is_extended(os_type: u8) -> bool {
    matches!(os_type, 0x05 | 0x0F | 0x85)
}

/// One raw 16-byte record: (boot indicator, OS type, relative start, size).
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub(crate) boot: u8,
    pub(crate) os_type: u8,
    pub(crate) start: u32,
    pub(crate) size: u32,
    pub(crate) raw: [u8; 16],
}

/// The four records of an MBR-layout sector (`sector` at least 512 bytes).
pub(crate) fn records(sector: &[u8]) -> [Record; 4] {
    core::array::from_fn(|i| {
        let r = &sector[446 + 16 * i..462 + 16 * i];
        let mut raw = [0u8; 16];
        raw.copy_from_slice(r);
        Record {
            raw,
            boot: r[0],
            os_type: r[4],
            start: u32::from_le_bytes([r[8], r[9], r[10], r[11]]),
            size: u32::from_le_bytes([r[12], r[13], r[14], r[15]]),
        }
    })
}

/// True if `sector` ends in the `0x55 0xAA` boot signature at offset 510.
pub(crate) fn has_signature(sector: &[u8]) -> bool {
    sector.get(510..512) == Some(&[0x55, 0xAA][..])
}

fn read_sector<D: BlockDevice>(dev: &mut D, lba: u64) -> Result<Vec<u8>, MbrError> {
    let bs = dev.block_size();
    if bs < 512 {
        return Err(MbrError::BlockTooSmall(bs));
    }
    let mut b = vec![0u8; bs as usize];
    dev.read_blocks(lba, &mut b)?;
    Ok(b)
}

/// Parses and validates the legacy MBR in LBA 0 and follows the extended partition's EBR chain.
pub fn read_mbr<D: BlockDevice>(dev: &mut D) -> Result<Mbr, MbrError> {
    let last = dev.last_block();
    let sector = read_sector(dev, 0)?;
    if !has_signature(&sector) {
        return Err(MbrError::BadSignature);
    }
    let disk_signature = u32::from_le_bytes([sector[440], sector[441], sector[442], sector[443]]);
    let mut partitions = Vec::new();
    let mut extended = None;
    // (start, end, number) of every occupied range, for the overlap check; EBRs use number 0.
    let mut used: Vec<(u64, u64, u32)> = Vec::new();
    for (i, r) in records(&sector).iter().enumerate() {
        let number = i as u32 + 1;
        if r.os_type == 0 || r.size == 0 {
            continue;
        }
        if r.boot != 0 && r.boot != 0x80 {
            return Err(MbrError::BadBootIndicator { number });
        }
        let (start, size) = (r.start as u64, r.size as u64);
        if start == 0 || start + size - 1 > last {
            return Err(MbrError::PartitionOutsideDisk { number });
        }
        let p = MbrPartition {
            number,
            bootable: r.boot == 0x80,
            os_type: r.os_type,
            starting_lba: start,
            size_lba: size,
            record: r.raw,
        };
        used.push((start, p.ending_lba(), number));
        if is_extended(r.os_type) {
            if extended.replace(p).is_some() {
                return Err(MbrError::MultipleExtended);
            }
        } else {
            partitions.push(p);
        }
    }
    check_overlaps(&mut used)?;
    if let Some(ext) = extended {
        let mut logical_used = Vec::new();
        read_ebr_chain(dev, &ext, &mut partitions, &mut logical_used)?;
        check_overlaps(&mut logical_used)?;
    }
    Ok(Mbr {
        disk_signature,
        partitions,
        extended,
    })
}

fn read_ebr_chain<D: BlockDevice>(
    dev: &mut D,
    ext: &MbrPartition,
    partitions: &mut Vec<MbrPartition>,
    used: &mut Vec<(u64, u64, u32)>,
) -> Result<(), MbrError> {
    let inside =
        |s: u64, size: u64| s >= ext.starting_lba && size > 0 && s + size - 1 <= ext.ending_lba();
    let mut visited: Vec<u64> = Vec::new();
    let mut ebr = ext.starting_lba;
    let mut number = 5;
    loop {
        if visited.contains(&ebr) {
            return Err(MbrError::ExtendedChainLoop { lba: ebr });
        }
        if visited.len() >= MAX_LOGICAL_PARTITIONS {
            return Err(MbrError::ExtendedChainTooLong);
        }
        visited.push(ebr);
        let sector = read_sector(dev, ebr)?;
        if !has_signature(&sector) {
            return Err(MbrError::EbrBadSignature { lba: ebr });
        }
        used.push((ebr, ebr, 0));
        let [logical, next, ..] = records(&sector);
        if logical.os_type != 0 && logical.size != 0 {
            let start = ebr + logical.start as u64;
            let size = logical.size as u64;
            if logical.start == 0 || !inside(start, size) {
                return Err(MbrError::OutsideExtended { lba: ebr });
            }
            let p = MbrPartition {
                number,
                bootable: logical.boot == 0x80,
                os_type: logical.os_type,
                starting_lba: start,
                size_lba: size,
                record: logical.raw,
            };
            used.push((start, p.ending_lba(), number));
            partitions.push(p);
            number += 1;
        }
        if !is_extended(next.os_type) || next.size == 0 {
            return Ok(());
        }
        let next_lba = ext.starting_lba + next.start as u64;
        if !inside(next_lba, 1) {
            return Err(MbrError::OutsideExtended { lba: ebr });
        }
        ebr = next_lba;
    }
}

fn check_overlaps(used: &mut [(u64, u64, u32)]) -> Result<(), MbrError> {
    used.sort_unstable();
    for w in used.windows(2) {
        if w[1].0 <= w[0].1 {
            return Err(MbrError::PartitionsOverlap {
                first: w[0].2,
                second: w[1].2,
            });
        }
    }
    Ok(())
}

impl core::fmt::Display for MbrError {
    /// A sentence for log lines.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MbrError::Io(e) => write!(f, "read failed ({e:?})"),
            MbrError::BlockTooSmall(bs) => write!(f, "blocks of {bs} bytes cannot hold an MBR"),
            MbrError::BadSignature => f.write_str("no 0x55AA signature"),
            MbrError::BadBootIndicator { number } => {
                write!(
                    f,
                    "record {number} has a boot indicator other than 0x00/0x80"
                )
            }
            MbrError::PartitionOutsideDisk { number } => {
                write!(
                    f,
                    "partition {number} starts at LBA 0 or ends past the disk"
                )
            }
            MbrError::PartitionsOverlap { first, second } => {
                write!(f, "partitions {first} and {second} overlap (0 = an EBR)")
            }
            MbrError::MultipleExtended => f.write_str("more than one extended partition"),
            MbrError::EbrBadSignature { lba } => {
                write!(f, "the EBR at LBA {lba} has no 0x55AA signature")
            }
            MbrError::OutsideExtended { lba } => {
                write!(
                    f,
                    "the EBR at LBA {lba} points outside the extended partition"
                )
            }
            MbrError::ExtendedChainLoop { lba } => {
                write!(f, "the EBR chain loops back to LBA {lba}")
            }
            MbrError::ExtendedChainTooLong => write!(
                f,
                "the EBR chain has more than {MAX_LOGICAL_PARTITIONS} links"
            ),
        }
    }
}

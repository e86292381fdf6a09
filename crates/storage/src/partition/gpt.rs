//! GUID Partition Table (UEFI 2.10 section 5.3).
//!
//! A header (table 5.5) is accepted only if, in this order: the signature is `"EFI PART"`; the revision's major
//! number is 1; `HeaderSize` is in `92..=block size`; `HeaderCRC32` (over `HeaderSize` bytes with the field zeroed)
//! matches; `MyLBA` is the LBA it was read from; the usable range `[FirstUsableLBA, LastUsableLBA]` is non-empty,
//! inside the disk, and excludes LBA 0 and both header LBAs; `SizeOfPartitionEntry` is `128 * 2^n`; the entry
//! array fits [`MAX_ENTRY_ARRAY_BYTES`], lies on the disk outside the usable range and off LBA 0 and the header;
//! and `PartitionEntryArrayCRC32` matches. Entries (table 5.6) with a non-zero type GUID must satisfy
//! `FirstUsableLBA <= StartingLBA <= EndingLBA <= LastUsableLBA` and must not overlap each other.
//!
//! Section 5.3.2: if the primary header (LBA 1) or its entries fail, the backup header at the last LBA is used;
//! [`Gpt::primary_error`] records why. If both fail, [`super::PartitionError::GptInvalid`] carries both reasons.

use super::guid::{Guid, EFI_SYSTEM_PARTITION_GUID};
use crate::block::{BlockDevice, BlockError};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// `"EFI PART"` (table 5.5 `Signature`).
pub const GPT_SIGNATURE: [u8; 8] = *b"EFI PART";
/// Minimum `HeaderSize` (table 5.5).
pub const GPT_MIN_HEADER_SIZE: u32 = 92;
/// Largest entry array read (bytes); bounds the allocation for hostile headers. 4 MiB is 32768 entries of 128 bytes.
pub const MAX_ENTRY_ARRAY_BYTES: u64 = 4 << 20;

/// Why one GPT header or its entry array was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GptError {
    /// Reading the header or the entry array failed.
    Io(BlockError),
    /// The header does not start with `"EFI PART"`.
    BadSignature,
    /// `Revision` major number is not 1.
    UnsupportedRevision(u32),
    /// `HeaderSize` is below 92 or above the block size.
    BadHeaderSize(u32),
    /// `HeaderCRC32` does not match the header contents.
    HeaderCrcMismatch {
        /// Value stored in the header.
        stored: u32,
        /// Value computed over the header.
        computed: u32,
    },
    /// `MyLBA` is not the LBA the header was read from.
    MyLbaMismatch {
        /// LBA the header was read from.
        expected: u64,
        /// `MyLBA` field.
        found: u64,
    },
    /// The usable range is empty, past the last block, or contains LBA 0 or a header.
    BadUsableRange {
        /// `FirstUsableLBA`.
        first: u64,
        /// `LastUsableLBA`.
        last: u64,
    },
    /// `SizeOfPartitionEntry` is not `128 * 2^n`.
    BadEntrySize(u32),
    /// `NumberOfPartitionEntries * SizeOfPartitionEntry` exceeds [`MAX_ENTRY_ARRAY_BYTES`].
    EntryArrayTooLarge {
        /// `NumberOfPartitionEntries`.
        entries: u32,
        /// `SizeOfPartitionEntry`.
        entry_size: u32,
    },
    /// The entry array is off the disk, or overlaps LBA 0, the header or the usable range.
    BadEntryArrayLocation {
        /// `PartitionEntryLBA`.
        lba: u64,
        /// Blocks the array occupies.
        blocks: u64,
    },
    /// `PartitionEntryArrayCRC32` does not match the entries.
    EntryArrayCrcMismatch {
        /// Value stored in the header.
        stored: u32,
        /// Value computed over the entries.
        computed: u32,
    },
    /// An entry's `EndingLBA` is below its `StartingLBA`.
    PartitionEndBeforeStart {
        /// 1-based entry index.
        index: u32,
    },
    /// An entry lies (partly) outside `[FirstUsableLBA, LastUsableLBA]`.
    PartitionOutsideUsable {
        /// 1-based entry index.
        index: u32,
    },
    /// Two entries share blocks.
    PartitionsOverlap {
        /// 1-based index of one entry.
        first: u32,
        /// 1-based index of the other.
        second: u32,
    },
}

impl From<BlockError> for GptError {
    fn from(e: BlockError) -> Self {
        GptError::Io(e)
    }
}

/// A validated GPT header (UEFI 2.10 table 5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptHeader {
    /// `Revision` (0x0001_0000 for 1.0).
    pub revision: u32,
    /// `HeaderSize` in bytes.
    pub header_size: u32,
    /// `MyLBA`: where this header lives.
    pub my_lba: u64,
    /// `AlternateLBA`: where the other header lives.
    pub alternate_lba: u64,
    /// `FirstUsableLBA`.
    pub first_usable_lba: u64,
    /// `LastUsableLBA` (inclusive).
    pub last_usable_lba: u64,
    /// `DiskGUID`.
    pub disk_guid: Guid,
    /// `PartitionEntryLBA`: first block of the entry array.
    pub partition_entry_lba: u64,
    /// `NumberOfPartitionEntries`.
    pub number_of_partition_entries: u32,
    /// `SizeOfPartitionEntry` in bytes.
    pub size_of_partition_entry: u32,
    /// `PartitionEntryArrayCRC32`.
    pub partition_entry_array_crc32: u32,
}

/// Which header the table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderSource {
    /// The primary header at LBA 1.
    Primary,
    /// The backup header at the last LBA (the primary was invalid).
    Backup,
}

/// One used GPT entry (UEFI 2.10 table 5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptPartition {
    /// 1-based index in the entry array (the UEFI `PartitionNumber`).
    pub index: u32,
    /// `PartitionTypeGUID` (never zero here).
    pub type_guid: Guid,
    /// `UniquePartitionGUID`.
    pub unique_guid: Guid,
    /// `StartingLBA`.
    pub starting_lba: u64,
    /// `EndingLBA` (inclusive).
    pub ending_lba: u64,
    /// `Attributes` (bit 0 required, bit 1 no block I/O, bit 2 legacy BIOS bootable, 48..63 type-specific).
    pub attributes: u64,
    /// `PartitionName`: 36 UTF-16 code units, NUL-padded.
    pub name: [u16; 36],
}

impl GptPartition {
    /// True if the type is the EFI System Partition.
    pub fn is_esp(&self) -> bool {
        self.type_guid == EFI_SYSTEM_PARTITION_GUID
    }

    /// The first 128 bytes of the entry (UEFI 2.10 table 5.6: type, unique GUID, start, end, attributes, name),
    /// as `EFI_PARTITION_INFO_PROTOCOL` hands it out. Bytes past 128 of larger entries are reserved and not kept.
    pub fn entry_bytes(&self) -> [u8; 128] {
        let mut e = [0u8; 128];
        e[0..16].copy_from_slice(&self.type_guid.0);
        e[16..32].copy_from_slice(&self.unique_guid.0);
        e[32..40].copy_from_slice(&self.starting_lba.to_le_bytes());
        e[40..48].copy_from_slice(&self.ending_lba.to_le_bytes());
        e[48..56].copy_from_slice(&self.attributes.to_le_bytes());
        for (k, unit) in self.name.iter().enumerate() {
            e[56 + 2 * k..58 + 2 * k].copy_from_slice(&unit.to_le_bytes());
        }
        e
    }

    /// Size in blocks.
    pub fn size_lba(&self) -> u64 {
        self.ending_lba - self.starting_lba + 1
    }

    /// The name up to the first NUL, invalid UTF-16 replaced by U+FFFD.
    pub fn name_string(&self) -> String {
        let end = self
            .name
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(self.name.len());
        char::decode_utf16(self.name[..end].iter().copied())
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }
}

/// A validated GPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpt {
    /// The header used.
    pub header: GptHeader,
    /// Which header was used.
    pub source: HeaderSource,
    /// Why the primary was rejected, when `source` is [`HeaderSource::Backup`].
    pub primary_error: Option<GptError>,
    /// Used entries in entry-array order.
    pub partitions: Vec<GptPartition>,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap_or([0; 8]))
}

impl GptHeader {
    /// Parses and checks the header in `block` (one whole block read from `lba`) on a disk whose last LBA is
    /// `last_block`. Checks everything listed in the module doc except the entry array CRC.
    pub fn parse(block: &[u8], lba: u64, last_block: u64) -> Result<Self, GptError> {
        if block.len() < GPT_MIN_HEADER_SIZE as usize || block[..8] != GPT_SIGNATURE {
            return Err(GptError::BadSignature);
        }
        let revision = u32_at(block, 8);
        if revision >> 16 != 1 {
            return Err(GptError::UnsupportedRevision(revision));
        }
        let header_size = u32_at(block, 12);
        if header_size < GPT_MIN_HEADER_SIZE || header_size as usize > block.len() {
            return Err(GptError::BadHeaderSize(header_size));
        }
        let stored = u32_at(block, 16);
        let mut h = crc32fast::Hasher::new();
        h.update(&block[..16]);
        h.update(&[0; 4]);
        h.update(&block[20..header_size as usize]);
        let computed = h.finalize();
        if stored != computed {
            return Err(GptError::HeaderCrcMismatch { stored, computed });
        }
        let hdr = GptHeader {
            revision,
            header_size,
            my_lba: u64_at(block, 24),
            alternate_lba: u64_at(block, 32),
            first_usable_lba: u64_at(block, 40),
            last_usable_lba: u64_at(block, 48),
            disk_guid: Guid::from_slice(&block[56..72]).unwrap_or_default(),
            partition_entry_lba: u64_at(block, 72),
            number_of_partition_entries: u32_at(block, 80),
            size_of_partition_entry: u32_at(block, 84),
            partition_entry_array_crc32: u32_at(block, 88),
        };
        if hdr.my_lba != lba {
            return Err(GptError::MyLbaMismatch {
                expected: lba,
                found: hdr.my_lba,
            });
        }
        let (first, last) = (hdr.first_usable_lba, hdr.last_usable_lba);
        let usable = first..=last;
        if first == 0
            || first > last
            || last > last_block
            || usable.contains(&lba)
            || usable.contains(&hdr.alternate_lba)
        {
            return Err(GptError::BadUsableRange { first, last });
        }
        let es = hdr.size_of_partition_entry;
        if es < 128 || !es.is_power_of_two() {
            return Err(GptError::BadEntrySize(es));
        }
        let bytes = hdr.entry_array_bytes();
        if bytes > MAX_ENTRY_ARRAY_BYTES {
            return Err(GptError::EntryArrayTooLarge {
                entries: hdr.number_of_partition_entries,
                entry_size: es,
            });
        }
        let blocks = bytes.div_ceil(block.len() as u64);
        let start = hdr.partition_entry_lba;
        let bad = GptError::BadEntryArrayLocation { lba: start, blocks };
        if blocks > 0 {
            let end = start.checked_add(blocks - 1).ok_or(bad)?;
            let overlaps = |a: u64, b: u64| start <= b && a <= end;
            if start == 0 || end > last_block || overlaps(lba, lba) || overlaps(first, last) {
                return Err(bad);
            }
        }
        Ok(hdr)
    }

    /// Size of the entry array in bytes (`NumberOfPartitionEntries * SizeOfPartitionEntry`).
    pub fn entry_array_bytes(&self) -> u64 {
        self.number_of_partition_entries as u64 * self.size_of_partition_entry as u64
    }
}

/// Parses and validates the entries of `array` (exactly `entry_array_bytes` long) described by `hdr`.
pub fn parse_entries(hdr: &GptHeader, array: &[u8]) -> Result<Vec<GptPartition>, GptError> {
    let computed = crc32fast::hash(array);
    if computed != hdr.partition_entry_array_crc32 {
        return Err(GptError::EntryArrayCrcMismatch {
            stored: hdr.partition_entry_array_crc32,
            computed,
        });
    }
    let mut parts = Vec::new();
    for (i, e) in array
        .chunks_exact(hdr.size_of_partition_entry as usize)
        .enumerate()
    {
        let type_guid = Guid::from_slice(&e[0..16]).unwrap_or_default();
        if type_guid.is_zero() {
            continue;
        }
        let index = i as u32 + 1;
        let (starting_lba, ending_lba) = (u64_at(e, 32), u64_at(e, 40));
        if ending_lba < starting_lba {
            return Err(GptError::PartitionEndBeforeStart { index });
        }
        if starting_lba < hdr.first_usable_lba || ending_lba > hdr.last_usable_lba {
            return Err(GptError::PartitionOutsideUsable { index });
        }
        let mut name = [0u16; 36];
        for (k, n) in name.iter_mut().enumerate() {
            *n = u16::from_le_bytes([e[56 + 2 * k], e[57 + 2 * k]]);
        }
        parts.push(GptPartition {
            index,
            type_guid,
            unique_guid: Guid::from_slice(&e[16..32]).unwrap_or_default(),
            starting_lba,
            ending_lba,
            attributes: u64_at(e, 48),
            name,
        });
    }
    let mut order: Vec<&GptPartition> = parts.iter().collect();
    order.sort_by_key(|p| p.starting_lba);
    for w in order.windows(2) {
        if w[1].starting_lba <= w[0].ending_lba {
            let (a, b) = (w[0].index.min(w[1].index), w[0].index.max(w[1].index));
            return Err(GptError::PartitionsOverlap {
                first: a,
                second: b,
            });
        }
    }
    Ok(parts)
}

/// Reads and fully validates the header at `lba` and its entry array.
pub fn read_gpt_at<D: BlockDevice>(
    dev: &mut D,
    lba: u64,
) -> Result<(GptHeader, Vec<GptPartition>), GptError> {
    let bs = dev.block_size() as usize;
    let mut block = vec![0u8; bs];
    dev.read_blocks(lba, &mut block)?;
    let hdr = GptHeader::parse(&block, lba, dev.last_block())?;
    let bytes = hdr.entry_array_bytes() as usize; // <= MAX_ENTRY_ARRAY_BYTES
    let mut array = vec![0u8; bytes.div_ceil(bs) * bs];
    if bytes > 0 {
        dev.read_blocks(hdr.partition_entry_lba, &mut array)?;
    }
    let parts = parse_entries(&hdr, &array[..bytes])?;
    Ok((hdr, parts))
}

/// Reads the GPT: the primary at LBA 1, else the backup at the last LBA (UEFI 2.10 section 5.3.2).
/// Errors: `(primary reason, backup reason)` when neither is valid.
pub fn read_gpt<D: BlockDevice>(dev: &mut D) -> Result<Gpt, (GptError, GptError)> {
    let primary = match read_gpt_at(dev, 1) {
        Ok((header, partitions)) => {
            return Ok(Gpt {
                header,
                source: HeaderSource::Primary,
                primary_error: None,
                partitions,
            })
        }
        Err(e) => e,
    };
    log::debug!(target: "storage::partition::gpt", "primary GPT header invalid: {primary}; trying the backup header");
    match read_gpt_at(dev, dev.last_block()) {
        Ok((header, partitions)) => Ok(Gpt {
            header,
            source: HeaderSource::Backup,
            primary_error: Some(primary),
            partitions,
        }),
        Err(backup) => Err((primary, backup)),
    }
}

impl core::fmt::Display for GptError {
    /// A sentence for log lines.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GptError::Io(e) => write!(f, "read failed ({e:?})"),
            GptError::BadSignature => f.write_str("no \"EFI PART\" signature"),
            GptError::UnsupportedRevision(r) => write!(f, "revision {r:#x} is not 1.x"),
            GptError::BadHeaderSize(s) => write!(f, "HeaderSize {s} is outside 92..=block size"),
            GptError::HeaderCrcMismatch { stored, computed } => write!(
                f,
                "HeaderCRC32 {stored:#010x} does not match the header ({computed:#010x})"
            ),
            GptError::MyLbaMismatch { expected, found } => {
                write!(f, "MyLBA is {found} but the header was read from LBA {expected}")
            }
            GptError::BadUsableRange { first, last } => {
                write!(f, "usable range {first}..={last} is empty, off the disk or covers a header")
            }
            GptError::BadEntrySize(s) => write!(f, "SizeOfPartitionEntry {s} is not 128 * 2^n"),
            GptError::EntryArrayTooLarge {
                entries,
                entry_size,
            } => write!(f, "{entries} entries of {entry_size} bytes exceed the 4 MiB limit"),
            GptError::BadEntryArrayLocation { lba, blocks } => write!(
                f,
                "the entry array at LBA {lba} ({blocks} blocks) is off the disk or overlaps a header or the usable range"
            ),
            GptError::EntryArrayCrcMismatch { stored, computed } => write!(
                f,
                "PartitionEntryArrayCRC32 {stored:#010x} does not match the entries ({computed:#010x})"
            ),
            GptError::PartitionEndBeforeStart { index } => {
                write!(f, "entry {index} ends before it starts")
            }
            GptError::PartitionOutsideUsable { index } => {
                write!(f, "entry {index} lies outside the usable range")
            }
            GptError::PartitionsOverlap { first, second } => {
                write!(f, "entries {first} and {second} overlap")
            }
        }
    }
}

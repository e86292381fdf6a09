//! Decoding of QEMU linker/loader commands (`etc/table-loader`) and the loader's error types.
//!
//! Each command is a 128-byte little-endian record (QEMU `hw/acpi/bios-linker-loader.c`, `BiosLinkerLoaderEntry`):
//!
//! ```text
//! off  ALLOCATE (1)      ADD_POINTER (2)     ADD_CHECKSUM (3)     WRITE_POINTER (4)
//! 0    u32 command       u32 command         u32 command          u32 command
//! 4    file[56]          dest_file[56]       file[56]             dest_file[56]
//! 60   u32 align         src_file[56]        u32 result_offset    src_file[56]
//! 64   u8 zone                               u32 start
//! 68                                         u32 length
//! 116                    u32 offset                               u32 dst_offset
//! 120                    u8 size                                  u32 src_offset
//! 124                                                             u8 size
//! ```
//!
//! File names are NUL-terminated within their 56-byte field.

use alloc::string::String;

use crate::fw_cfg::directory::{decode_name, NameError, FILE_NAME_SIZE};
use crate::fw_cfg::FwCfgError;

/// Size of one linker/loader command record in bytes.
pub const COMMAND_SIZE: usize = 128;
/// Command code of ALLOCATE.
pub const COMMAND_ALLOCATE: u32 = 1;
/// Command code of ADD_POINTER.
pub const COMMAND_ADD_POINTER: u32 = 2;
/// Command code of ADD_CHECKSUM.
pub const COMMAND_ADD_CHECKSUM: u32 = 3;
/// Command code of WRITE_POINTER.
pub const COMMAND_WRITE_POINTER: u32 = 4;

/// Allocation zone requested by ALLOCATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// Anywhere in 32-bit memory (`BIOS_LINKER_LOADER_ALLOC_ZONE_HIGH`, 1).
    High,
    /// The legacy F segment 0xE0000-0xFFFFF (`BIOS_LINKER_LOADER_ALLOC_ZONE_FSEG`, 2), used for the RSDP.
    FSeg,
}

impl Zone {
    /// Decodes the zone byte; `None` for values other than 1 and 2.
    pub fn from_raw(raw: u8) -> Option<Zone> {
        match raw {
            1 => Some(Zone::High),
            2 => Some(Zone::FSeg),
            _ => None,
        }
    }
}

/// One decoded linker/loader command; names borrow from the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Allocate memory for fw_cfg file `file` and load it there.
    Allocate {
        /// fw_cfg file name.
        file: &'a str,
        /// Required alignment in bytes (power of two).
        align: u32,
        /// Raw zone byte (see [`Zone`]).
        zone: u8,
    },
    /// Add the address of `src_file`'s allocation to the `size`-byte value at `offset` in `dest_file`.
    AddPointer {
        /// Allocated file that holds the pointer.
        dest_file: &'a str,
        /// Allocated file the pointer points into.
        src_file: &'a str,
        /// Byte offset of the pointer in `dest_file`.
        offset: u32,
        /// Pointer width in bytes (1, 2, 4 or 8).
        size: u8,
    },
    /// Set the byte at `result_offset` so that `[start, start + length)` of `file` sums to zero (mod 256).
    AddChecksum {
        /// Allocated file.
        file: &'a str,
        /// Offset of the checksum byte.
        result_offset: u32,
        /// Start of the summed range.
        start: u32,
        /// Length of the summed range.
        length: u32,
    },
    /// Write the address of `src_file`'s allocation plus `src_offset` into fw_cfg file `dest_file` at `dst_offset`.
    WritePointer {
        /// fw_cfg file written through the DMA interface.
        dest_file: &'a str,
        /// Allocated file whose address is written.
        src_file: &'a str,
        /// Byte offset in `dest_file`.
        dst_offset: u32,
        /// Offset added to the source address.
        src_offset: u32,
        /// Pointer width in bytes (1, 2, 4 or 8).
        size: u8,
    },
    /// A command code this loader does not know (skipped).
    Unknown(u32),
}

/// Errors of one linker/loader command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// A file name field has no NUL within its 56 bytes.
    NameNotTerminated,
    /// A file name field is not UTF-8.
    NameNotUtf8,
    /// The named file is not in the fw_cfg directory.
    FileNotFound {
        /// File name.
        file: String,
    },
    /// The named file exists but no earlier ALLOCATE loaded it.
    FileNotAllocated {
        /// File name.
        file: String,
    },
    /// ALLOCATE for a file that is already allocated.
    AlreadyAllocated {
        /// File name.
        file: String,
    },
    /// ALLOCATE alignment is zero or not a power of two.
    AlignmentNotPowerOfTwo {
        /// Requested alignment.
        align: u32,
    },
    /// ALLOCATE zone is neither 1 (high) nor 2 (FSEG).
    UnknownZone {
        /// Raw zone byte.
        zone: u8,
    },
    /// The [`super::TableMemory`] could not provide the memory.
    AllocationFailed {
        /// File name.
        file: String,
        /// Requested size in bytes.
        size: usize,
        /// Requested alignment.
        align: usize,
        /// Requested zone.
        zone: Zone,
    },
    /// The [`super::TableMemory`] returned memory that is not aligned as requested.
    MisalignedAllocation {
        /// File name.
        file: String,
        /// Address returned.
        address: u64,
        /// Requested alignment.
        align: usize,
    },
    /// Pointer size is not 1, 2, 4 or 8.
    BadPointerSize {
        /// Raw size byte.
        size: u8,
    },
    /// The pointer field `[offset, offset + size)` lies outside the destination file.
    PointerOutOfRange {
        /// Destination file.
        file: String,
        /// Pointer offset.
        offset: u32,
        /// Pointer size.
        size: u8,
        /// Destination file length.
        file_len: usize,
    },
    /// The offset into the source file (the pointer's initial value, or WRITE_POINTER's `src_offset`) is not
    /// inside the source file.
    TargetOutOfRange {
        /// Source file.
        file: String,
        /// Offset into the source file.
        target: u64,
        /// Source file length.
        file_len: usize,
    },
    /// The patched pointer value does not fit in `size` bytes (e.g. a 4-byte pointer to memory above 4 GiB).
    PointerOverflow {
        /// Value that did not fit (saturated at `u64::MAX` if the addition itself overflowed).
        value: u64,
        /// Pointer size.
        size: u8,
    },
    /// ADD_CHECKSUM's range or result byte lies outside the file.
    ChecksumOutOfRange {
        /// File name.
        file: String,
        /// Checksum byte offset.
        result_offset: u32,
        /// Range start.
        start: u32,
        /// Range length.
        length: u32,
        /// File length.
        file_len: usize,
    },
    /// fw_cfg access failed (reading an allocated file, or WRITE_POINTER's DMA write).
    FwCfg(FwCfgError),
}

/// Errors of executing a whole linker/loader script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableLoaderError {
    /// fw_cfg has no `etc/table-loader` file.
    ScriptMissing,
    /// Reading `etc/table-loader` failed.
    ReadScript(FwCfgError),
    /// The script length is not a multiple of 128 bytes.
    ScriptLength {
        /// Script length in bytes.
        len: usize,
    },
    /// Command number `index` (0-based) failed; earlier commands' effects remain.
    Command {
        /// 0-based command position in the script.
        index: usize,
        /// What was wrong.
        error: CommandError,
    },
}

impl core::fmt::Display for TableLoaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

fn u32_at(entry: &[u8; COMMAND_SIZE], offset: usize) -> u32 {
    u32::from_le_bytes([
        entry[offset],
        entry[offset + 1],
        entry[offset + 2],
        entry[offset + 3],
    ])
}

fn name_at(entry: &[u8; COMMAND_SIZE], offset: usize) -> Result<&str, CommandError> {
    decode_name(&entry[offset..offset + FILE_NAME_SIZE]).map_err(|e| match e {
        NameError::NotTerminated => CommandError::NameNotTerminated,
        NameError::NotUtf8 => CommandError::NameNotUtf8,
    })
}

/// Decodes one 128-byte command record (layout in the module note).
///
/// Errors: [`CommandError::NameNotTerminated`], [`CommandError::NameNotUtf8`]. Unknown codes decode to
/// [`Command::Unknown`] without looking at the rest of the record.
pub fn parse_command(entry: &[u8; COMMAND_SIZE]) -> Result<Command<'_>, CommandError> {
    Ok(match u32_at(entry, 0) {
        COMMAND_ALLOCATE => Command::Allocate {
            file: name_at(entry, 4)?,
            align: u32_at(entry, 60),
            zone: entry[64],
        },
        COMMAND_ADD_POINTER => Command::AddPointer {
            dest_file: name_at(entry, 4)?,
            src_file: name_at(entry, 60)?,
            offset: u32_at(entry, 116),
            size: entry[120],
        },
        COMMAND_ADD_CHECKSUM => Command::AddChecksum {
            file: name_at(entry, 4)?,
            result_offset: u32_at(entry, 60),
            start: u32_at(entry, 64),
            length: u32_at(entry, 68),
        },
        COMMAND_WRITE_POINTER => Command::WritePointer {
            dest_file: name_at(entry, 4)?,
            src_file: name_at(entry, 60)?,
            dst_offset: u32_at(entry, 116),
            src_offset: u32_at(entry, 120),
            size: entry[124],
        },
        other => Command::Unknown(other),
    })
}

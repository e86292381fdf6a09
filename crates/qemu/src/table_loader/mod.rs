//! Executor for QEMU's ACPI linker/loader script (`etc/table-loader`), plus RSDP validation.
//!
//! Source: the command format and semantics documented in QEMU `hw/acpi/bios-linker-loader.c`; the record layout
//! is in [`command`]. QEMU ships ACPI tables as fw_cfg blobs with zeroed cross-pointers and checksums; the script
//! tells the firmware to allocate each blob (ALLOCATE), patch pointers between blobs (ADD_POINTER), fix checksums
//! (ADD_CHECKSUM) and report allocation addresses back to QEMU (WRITE_POINTER, e.g. for VMGENID).
//!
//! Design note / invariants:
//! - Memory comes from a [`TableMemory`] the firmware implements; the returned pointer's address *is* the physical
//!   address written into the tables (identity mapping). Allocations are never freed, even on error.
//! - Every command is bounds-checked before it touches memory: a malformed script yields a [`TableLoaderError`]
//!   naming the command index, and nothing is written outside an allocation. Commands already executed keep their
//!   effect.
//! - ADD_POINTER requires the pointer's initial value (an offset into the source blob) to lie inside the source
//!   blob, and the patched value to fit in the pointer width; ADD_CHECKSUM subtracts the range's byte sum from the
//!   result byte, so the range sums to zero whatever the byte held before.
//! - Unknown command codes are skipped (logged at debug), as QEMU requires of firmware for forward compatibility.

pub mod command;
pub mod rsdp;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::NonNull;

use hw::PortIo;

use crate::fw_cfg::FwCfg;
pub use command::{parse_command, Command, CommandError, TableLoaderError, Zone, COMMAND_SIZE};
pub use rsdp::{validate_rsdp, RsdpError, RsdpInfo};

/// fw_cfg file holding the linker/loader script.
pub const TABLE_LOADER_FILE: &str = "etc/table-loader";
/// fw_cfg file holding the RSDP.
pub const RSDP_FILE: &str = "etc/acpi/rsdp";

/// The [`TableMemory`] could not satisfy an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

/// Memory provider for ALLOCATE.
///
/// # Safety
///
/// A successful [`TableMemory::allocate`] must return a pointer that is valid for reads and writes of `size` bytes,
/// aligned to `align`, not overlapping any other allocation or memory otherwise in use, and valid at least as long as
/// the implementing value lives. The pointer's address must be the physical address of the memory (the firmware
/// identity-maps), because it is written into ACPI tables and reported to QEMU.
pub unsafe trait TableMemory {
    /// Allocates `size` bytes (possibly 0) aligned to `align` (a power of two) in `zone`.
    fn allocate(
        &mut self,
        size: usize,
        align: usize,
        zone: Zone,
    ) -> Result<NonNull<u8>, AllocError>;
}

/// One blob placed in memory by ALLOCATE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedFile {
    /// fw_cfg file name.
    pub name: String,
    /// Physical address of the allocation.
    pub address: u64,
    /// Length in bytes.
    pub len: usize,
    /// Zone it was allocated in.
    pub zone: Zone,
}

/// Result of a successful script execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadedTables {
    /// Physical address of the allocated `etc/acpi/rsdp`, if the script allocated it.
    pub rsdp: Option<u64>,
    /// Every allocated blob, in allocation order.
    pub files: Vec<LoadedFile>,
}

struct Blob {
    file: LoadedFile,
    ptr: NonNull<u8>,
}

impl Blob {
    /// Runs `f` on the blob's bytes.
    fn with_bytes<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        // SAFETY: `ptr` came from `TableMemory::allocate(len, ..)`, whose contract makes it valid and exclusive for
        // `len` bytes while the memory provider lives (it is mutably borrowed for the whole execution); the slice
        // exists only for the duration of `f`, and no other slice of any blob is alive meanwhile.
        let bytes = unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.file.len) };
        f(bytes)
    }
}

/// Reads `etc/table-loader` from fw_cfg and executes it (see [`execute`]).
///
/// Errors: [`TableLoaderError::ScriptMissing`], [`TableLoaderError::ReadScript`], and those of [`execute`].
pub fn load_tables<P: PortIo, M: TableMemory>(
    fw: &mut FwCfg<P>,
    memory: &mut M,
) -> Result<LoadedTables, TableLoaderError> {
    if fw.find(TABLE_LOADER_FILE).is_none() {
        return Err(TableLoaderError::ScriptMissing);
    }
    let script = fw
        .read_file(TABLE_LOADER_FILE)
        .map_err(TableLoaderError::ReadScript)?;
    execute(&script, fw, memory)
}

/// Executes a linker/loader `script` (a sequence of 128-byte commands) against fw_cfg `fw` and `memory`.
///
/// Errors: [`TableLoaderError::ScriptLength`] if the script is not a whole number of commands;
/// [`TableLoaderError::Command`] with the failing command's index and the [`CommandError`].
pub fn execute<P: PortIo, M: TableMemory>(
    script: &[u8],
    fw: &mut FwCfg<P>,
    memory: &mut M,
) -> Result<LoadedTables, TableLoaderError> {
    if !script.chunks_exact(COMMAND_SIZE).remainder().is_empty() {
        return Err(TableLoaderError::ScriptLength { len: script.len() });
    }
    let mut loader = Loader {
        fw,
        memory,
        blobs: Vec::new(),
    };
    for (index, record) in script.chunks_exact(COMMAND_SIZE).enumerate() {
        let record: &[u8; COMMAND_SIZE] = record
            .try_into()
            .map_err(|_| TableLoaderError::ScriptLength { len: script.len() })?;
        loader
            .run(record)
            .map_err(|error| TableLoaderError::Command { index, error })?;
    }
    let files: Vec<LoadedFile> = loader.blobs.into_iter().map(|b| b.file).collect();
    let rsdp = files
        .iter()
        .find(|f| f.name == RSDP_FILE)
        .map(|f| f.address);
    Ok(LoadedTables { rsdp, files })
}

struct Loader<'a, P: PortIo, M: TableMemory> {
    fw: &'a mut FwCfg<P>,
    memory: &'a mut M,
    blobs: Vec<Blob>,
}

impl<P: PortIo, M: TableMemory> Loader<'_, P, M> {
    fn run(&mut self, record: &[u8; COMMAND_SIZE]) -> Result<(), CommandError> {
        match parse_command(record)? {
            Command::Allocate { file, align, zone } => self.allocate(file, align, zone),
            Command::AddPointer {
                dest_file,
                src_file,
                offset,
                size,
            } => self.add_pointer(dest_file, src_file, offset, size),
            Command::AddChecksum {
                file,
                result_offset,
                start,
                length,
            } => self.add_checksum(file, result_offset, start, length),
            Command::WritePointer {
                dest_file,
                src_file,
                dst_offset,
                src_offset,
                size,
            } => self.write_pointer(dest_file, src_file, dst_offset, src_offset, size),
            Command::Unknown(code) => {
                log::debug!("table-loader: skipping unknown command {:#x}", code);
                Ok(())
            }
        }
    }

    /// The allocated blob `name`, or why there is none.
    fn blob(&self, name: &str) -> Result<&Blob, CommandError> {
        if let Some(blob) = self.blobs.iter().find(|b| b.file.name == name) {
            return Ok(blob);
        }
        let file = String::from(name);
        Err(match self.fw.find(name) {
            Some(_) => CommandError::FileNotAllocated { file },
            None => CommandError::FileNotFound { file },
        })
    }

    fn allocate(&mut self, name: &str, align: u32, zone: u8) -> Result<(), CommandError> {
        let size = self
            .fw
            .find(name)
            .ok_or_else(|| CommandError::FileNotFound { file: name.into() })?
            .size as usize;
        if self.blobs.iter().any(|b| b.file.name == name) {
            return Err(CommandError::AlreadyAllocated { file: name.into() });
        }
        if !align.is_power_of_two() {
            return Err(CommandError::AlignmentNotPowerOfTwo { align });
        }
        let zone = Zone::from_raw(zone).ok_or(CommandError::UnknownZone { zone })?;
        let align = align as usize;
        let ptr = self
            .memory
            .allocate(size, align, zone)
            .map_err(|AllocError| CommandError::AllocationFailed {
                file: name.into(),
                size,
                align,
                zone,
            })?;
        let address = ptr.as_ptr().expose_provenance() as u64;
        // `align` is a nonzero power of two (checked above), so `align - 1` is its low-bit mask.
        if address & (align as u64 - 1) != 0 {
            return Err(CommandError::MisalignedAllocation {
                file: name.into(),
                address,
                align,
            });
        }
        let blob = Blob {
            file: LoadedFile {
                name: name.into(),
                address,
                len: size,
                zone,
            },
            ptr,
        };
        let fw = &mut *self.fw;
        blob.with_bytes(|bytes| fw.read_file_into(name, bytes))
            .map_err(CommandError::FwCfg)?;
        log::debug!(
            "table-loader: {} ({} bytes) at {:#x} ({:?})",
            name,
            size,
            address,
            zone
        );
        self.blobs.push(blob);
        Ok(())
    }

    fn add_pointer(
        &mut self,
        dest: &str,
        src: &str,
        offset: u32,
        size: u8,
    ) -> Result<(), CommandError> {
        let (src_address, src_len) = {
            let src = self.blob(src)?;
            (src.file.address, src.file.len)
        };
        let dest = self.blob(dest)?;
        let width = pointer_width(size)?;
        let start = offset as usize;
        if start
            .checked_add(width)
            .is_none_or(|end| end > dest.file.len)
        {
            return Err(CommandError::PointerOutOfRange {
                file: dest.file.name.clone(),
                offset,
                size,
                file_len: dest.file.len,
            });
        }
        dest.with_bytes(|bytes| {
            let field = &mut bytes[start..start + width];
            let target = read_le(field);
            if target >= src_len as u64 {
                return Err(CommandError::TargetOutOfRange {
                    file: src.into(),
                    target,
                    file_len: src_len,
                });
            }
            let value = checked_pointer(src_address, target, size)?;
            field.copy_from_slice(&value.to_le_bytes()[..width]);
            Ok(())
        })
    }

    fn add_checksum(
        &mut self,
        name: &str,
        result_offset: u32,
        start: u32,
        length: u32,
    ) -> Result<(), CommandError> {
        let blob = self.blob(name)?;
        let len = blob.file.len as u64;
        if start as u64 + length as u64 > len || result_offset as u64 >= len {
            return Err(CommandError::ChecksumOutOfRange {
                file: name.into(),
                result_offset,
                start,
                length,
                file_len: blob.file.len,
            });
        }
        blob.with_bytes(|bytes| {
            let range = &bytes[start as usize..start as usize + length as usize];
            let sum = range.iter().fold(0u8, |acc, &b| acc.wrapping_add(b));
            let result = &mut bytes[result_offset as usize];
            *result = result.wrapping_sub(sum);
        });
        Ok(())
    }

    fn write_pointer(
        &mut self,
        dest: &str,
        src: &str,
        dst_offset: u32,
        src_offset: u32,
        size: u8,
    ) -> Result<(), CommandError> {
        let src_blob = self.blob(src)?;
        let (src_address, src_len) = (src_blob.file.address, src_blob.file.len);
        let dest_len = self
            .fw
            .find(dest)
            .ok_or_else(|| CommandError::FileNotFound { file: dest.into() })?
            .size;
        let width = pointer_width(size)?;
        if dst_offset as u64 + width as u64 > dest_len as u64 {
            return Err(CommandError::PointerOutOfRange {
                file: dest.into(),
                offset: dst_offset,
                size,
                file_len: dest_len as usize,
            });
        }
        if src_offset as u64 >= src_len as u64 {
            return Err(CommandError::TargetOutOfRange {
                file: src.into(),
                target: src_offset as u64,
                file_len: src_len,
            });
        }
        let value = checked_pointer(src_address, src_offset as u64, size)?;
        self.fw
            .write_file(dest, dst_offset, &value.to_le_bytes()[..width])
            .map_err(CommandError::FwCfg)?;
        log::debug!(
            "table-loader: wrote {:#x} to {}+{:#x}",
            value,
            dest,
            dst_offset
        );
        Ok(())
    }
}

/// Width in bytes of a pointer `size` field; only 1, 2, 4 and 8 are valid.
fn pointer_width(size: u8) -> Result<usize, CommandError> {
    match size {
        1 | 2 | 4 | 8 => Ok(size as usize),
        _ => Err(CommandError::BadPointerSize { size }),
    }
}

/// `base + offset`, checked to fit in `size` bytes.
fn checked_pointer(base: u64, offset: u64, size: u8) -> Result<u64, CommandError> {
    let value = base
        .checked_add(offset)
        .ok_or(CommandError::PointerOverflow {
            value: u64::MAX,
            size,
        })?;
    if size < 8 && value >> (size as u32 * 8) != 0 {
        return Err(CommandError::PointerOverflow { value, size });
    }
    Ok(value)
}

/// Little-endian value of up to 8 bytes.
fn read_le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| acc << 8 | b as u64)
}

//! Parsing of the fw_cfg file directory (item `0x0019`, QEMU `docs/specs/fw_cfg.txt`, "File Directory").
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! u32 count
//! count x { u32 size; u16 select; u16 reserved; u8 name[56] /* NUL-terminated */ }
//! ```
//!
//! The parser works on a byte slice and never trusts `count`: a count that needs more bytes than the slice holds is
//! an error, as is an entry whose name has no NUL, is empty, or is not UTF-8.

use alloc::string::String;
use alloc::vec::Vec;

use super::FwCfgError;

/// Size of one directory entry in bytes: size (4) + select (2) + reserved (2) + name (56).
pub const DIR_ENTRY_SIZE: usize = 64;
/// Size of the NUL-terminated name field of a directory entry (`FW_CFG_MAX_FILE_PATH`).
pub const FILE_NAME_SIZE: usize = 56;

/// One named fw_cfg file, as listed in the file directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FwCfgFile {
    /// File name, e.g. `etc/e820` (at most 55 bytes, the NUL is stripped).
    pub name: String,
    /// File size in bytes.
    pub size: u32,
    /// Selector key that selects this file's data (written to the selector port or the DMA control word).
    pub select: u16,
}

/// Decodes a NUL-terminated fixed-size name field (the bytes before the first NUL, as UTF-8; may be empty).
pub(crate) fn decode_name(field: &[u8]) -> Result<&str, NameError> {
    let nul = field
        .iter()
        .position(|&b| b == 0)
        .ok_or(NameError::NotTerminated)?;
    core::str::from_utf8(&field[..nul]).map_err(|_| NameError::NotUtf8)
}

/// Why a fixed-size name field could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameError {
    /// No NUL byte inside the field.
    NotTerminated,
    /// The bytes before the NUL are not valid UTF-8.
    NotUtf8,
}

/// Reads the big-endian entry count at the start of a directory blob.
///
/// Errors: [`FwCfgError::DirectoryTruncated`] when fewer than 4 bytes are given.
pub fn directory_count(data: &[u8]) -> Result<u32, FwCfgError> {
    match data.get(..4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(FwCfgError::DirectoryTruncated {
            count: 0,
            available: 0,
        }),
    }
}

/// Parses a complete file directory blob (count followed by entries).
///
/// Errors: [`FwCfgError::DirectoryTruncated`] if `count` entries do not fit in `data`;
/// [`FwCfgError::FileNameNotTerminated`], [`FwCfgError::FileNameNotUtf8`] or [`FwCfgError::FileNameEmpty`] for a
/// bad name field (`index` is the entry's position). Bytes after the last entry are ignored.
pub fn parse_directory(data: &[u8]) -> Result<Vec<FwCfgFile>, FwCfgError> {
    let count = directory_count(data)?;
    let entries = &data[4..];
    let available = entries.len() / DIR_ENTRY_SIZE;
    if count as usize > available {
        return Err(FwCfgError::DirectoryTruncated {
            count,
            available: available as u32,
        });
    }
    let mut files = Vec::with_capacity(count as usize);
    for (index, raw) in entries
        .chunks_exact(DIR_ENTRY_SIZE)
        .take(count as usize)
        .enumerate()
    {
        let index = index as u32;
        let size = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let select = u16::from_be_bytes([raw[4], raw[5]]);
        let name = match decode_name(&raw[8..8 + FILE_NAME_SIZE]) {
            Ok("") => return Err(FwCfgError::FileNameEmpty { index }),
            Ok(name) => String::from(name),
            Err(NameError::NotTerminated) => {
                return Err(FwCfgError::FileNameNotTerminated { index })
            }
            Err(NameError::NotUtf8) => return Err(FwCfgError::FileNameNotUtf8 { index }),
        };
        files.push(FwCfgFile { name, size, select });
    }
    Ok(files)
}

/// Encodes a directory blob from `(name, size, select)` triples; the inverse of [`parse_directory`].
///
/// Names longer than 55 bytes are truncated so that the NUL always fits. Used by the test fake.
#[cfg(test)]
pub(crate) fn encode_directory<'a>(
    files: impl ExactSizeIterator<Item = (&'a str, u32, u16)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(files.len() as u32).to_be_bytes());
    for (name, size, select) in files {
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&select.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        let mut field = [0u8; FILE_NAME_SIZE];
        let n = name.len().min(FILE_NAME_SIZE - 1);
        field[..n].copy_from_slice(&name.as_bytes()[..n]);
        out.extend_from_slice(&field);
    }
    out
}

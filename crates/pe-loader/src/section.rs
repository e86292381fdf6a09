//! One entry of the PE/COFF section table (PE/COFF spec, "Section Table (Section Headers)").
//!
//! The 40-byte entry is decoded field by field; nothing here is validated against the image; that is done by
//! `PeImage::parse`, which guarantees for every section it hands out that `[virtual_address,
//! virtual_address + loaded_size())` lies inside the image after the headers and that the raw data lies in the
//! file.

use crate::read::{u16_at, u32_at};

/// Size in bytes of one section table entry.
pub const SECTION_HEADER_SIZE: usize = 40;

/// Section characteristic `IMAGE_SCN_CNT_CODE`: the section contains executable code.
pub const IMAGE_SCN_CNT_CODE: u32 = 0x0000_0020;
/// Section characteristic `IMAGE_SCN_CNT_INITIALIZED_DATA`.
pub const IMAGE_SCN_CNT_INITIALIZED_DATA: u32 = 0x0000_0040;
/// Section characteristic `IMAGE_SCN_CNT_UNINITIALIZED_DATA` (e.g. `.bss`).
pub const IMAGE_SCN_CNT_UNINITIALIZED_DATA: u32 = 0x0000_0080;
/// Section characteristic `IMAGE_SCN_MEM_DISCARDABLE` (e.g. `.reloc`).
pub const IMAGE_SCN_MEM_DISCARDABLE: u32 = 0x0200_0000;
/// Section characteristic `IMAGE_SCN_MEM_EXECUTE`.
pub const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
/// Section characteristic `IMAGE_SCN_MEM_READ`.
pub const IMAGE_SCN_MEM_READ: u32 = 0x4000_0000;
/// Section characteristic `IMAGE_SCN_MEM_WRITE`.
pub const IMAGE_SCN_MEM_WRITE: u32 = 0x8000_0000;

/// A decoded section table entry. Addresses are RVAs, sizes are bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionHeader {
    /// `Name`: 8 bytes, NUL-padded (images do not use the `/n` string-table form).
    pub name: [u8; 8],
    /// `VirtualSize`: size of the section in memory; 0 means "use `SizeOfRawData`".
    pub virtual_size: u32,
    /// `VirtualAddress`: RVA of the section's first byte.
    pub virtual_address: u32,
    /// `SizeOfRawData`: size of the initialised data in the file.
    pub size_of_raw_data: u32,
    /// `PointerToRawData`: file offset of that data (ignored when `SizeOfRawData` is 0).
    pub pointer_to_raw_data: u32,
    /// `Characteristics`: `IMAGE_SCN_*` flags.
    pub characteristics: u32,
}

impl SectionHeader {
    /// Decodes the entry at the start of `entry`; `None` if `entry` is shorter than 40 bytes.
    pub(crate) fn decode(entry: &[u8]) -> Option<Self> {
        let name_bytes = entry.get(..8)?;
        let mut name = [0u8; 8];
        name.copy_from_slice(name_bytes);
        // NumberOfRelocations / NumberOfLinenumbers (offsets 32, 34) are object-file fields; read to bound-check.
        u16_at(entry, 34)?;
        Some(SectionHeader {
            name,
            virtual_size: u32_at(entry, 8)?,
            virtual_address: u32_at(entry, 12)?,
            size_of_raw_data: u32_at(entry, 16)?,
            pointer_to_raw_data: u32_at(entry, 20)?,
            characteristics: u32_at(entry, 36)?,
        })
    }

    /// The name up to its first NUL, or `"?"` if those bytes are not UTF-8 (for logging).
    pub fn name_str(&self) -> &str {
        let len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    /// Bytes the section occupies in the loaded image: `VirtualSize`, or `SizeOfRawData` when `VirtualSize` is 0
    /// (some toolchains leave it 0).
    pub fn loaded_size(&self) -> u32 {
        if self.virtual_size == 0 {
            self.size_of_raw_data
        } else {
            self.virtual_size
        }
    }

    /// Bytes copied from the file: `min(SizeOfRawData, loaded_size())`. Raw data beyond the loaded size is file
    /// alignment padding; loaded bytes beyond it are zero-filled.
    pub fn file_copy_size(&self) -> u32 {
        self.size_of_raw_data.min(self.loaded_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields_and_sizes() {
        let mut e = [0u8; SECTION_HEADER_SIZE];
        e[..5].copy_from_slice(b".text");
        e[8..12].copy_from_slice(&0x1800u32.to_le_bytes());
        e[12..16].copy_from_slice(&0x1000u32.to_le_bytes());
        e[16..20].copy_from_slice(&0x2000u32.to_le_bytes());
        e[20..24].copy_from_slice(&0x400u32.to_le_bytes());
        e[36..40].copy_from_slice(&(IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE).to_le_bytes());
        let s = SectionHeader::decode(&e).unwrap();
        assert_eq!(s.name_str(), ".text");
        assert_eq!((s.virtual_address, s.virtual_size), (0x1000, 0x1800));
        assert_eq!((s.pointer_to_raw_data, s.size_of_raw_data), (0x400, 0x2000));
        assert_eq!(s.file_copy_size(), 0x1800);
        assert_eq!(
            s.characteristics,
            IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE
        );
        let zero_vsize = SectionHeader {
            virtual_size: 0,
            ..s
        };
        assert_eq!(zero_vsize.loaded_size(), 0x2000);
        assert!(SectionHeader::decode(&e[..39]).is_none());
        let bad_name = SectionHeader {
            name: [0xff; 8],
            ..s
        };
        assert_eq!(bad_name.name_str(), "?");
    }
}

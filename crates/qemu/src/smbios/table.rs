//! Walking an SMBIOS structure table (DSP0134 section 6.1) and extracting inventory strings.
//!
//! Each structure is a formatted area — `u8 type, u8 length, u16 handle` followed by `length - 4` type-specific
//! bytes — and then a string-set: NUL-terminated strings ended by one more NUL (a structure without strings ends
//! with two NULs). Strings are referenced from the formatted area by 1-based index, 0 meaning "none". Type 127
//! (End-of-Table) ends the walk.

use alloc::string::String;

use super::SmbiosError;

/// Structure type of BIOS Information.
pub const TYPE_BIOS_INFORMATION: u8 = 0;
/// Structure type of System Information.
pub const TYPE_SYSTEM_INFORMATION: u8 = 1;
/// Structure type of End-of-Table.
pub const TYPE_END_OF_TABLE: u8 = 127;

/// One structure of the table, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Structure<'a> {
    /// Offset of the structure in the table.
    pub offset: usize,
    /// Structure type.
    pub kind: u8,
    /// Structure handle.
    pub handle: u16,
    /// The formatted area, header included (`length` bytes).
    pub formatted: &'a [u8],
    /// The strings of the string-set separated by single NULs, without the closing double NUL (empty when the
    /// structure has no strings).
    pub strings: &'a [u8],
}

impl<'a> Structure<'a> {
    /// Total size in bytes: formatted area plus string-set including terminators.
    pub fn size(&self) -> usize {
        self.formatted.len() + self.strings.len() + 2
    }

    /// Byte at `offset` of the formatted area, if the area is that long.
    pub fn byte(&self, offset: usize) -> Option<u8> {
        self.formatted.get(offset).copied()
    }

    /// String number `index` (1-based); `None` for 0 or an index past the string-set.
    pub fn string(&self, index: u8) -> Option<&'a [u8]> {
        if index == 0 || self.strings.is_empty() {
            return None;
        }
        self.strings.split(|&b| b == 0).nth(index as usize - 1)
    }

    /// The string referenced by the formatted-area byte at `offset`, lossily decoded as UTF-8.
    pub fn string_at(&self, offset: usize) -> Option<String> {
        let bytes = self.string(self.byte(offset)?)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Iterator over the structures of a table; stops after End-of-Table, at the end of the data, or after an error.
pub struct StructureIter<'a> {
    table: &'a [u8],
    offset: usize,
    done: bool,
}

/// Iterates over the structures of `table` (see [`StructureIter`]).
pub fn structures(table: &[u8]) -> StructureIter<'_> {
    StructureIter {
        table,
        offset: 0,
        done: false,
    }
}

impl<'a> Iterator for StructureIter<'a> {
    type Item = Result<Structure<'a>, SmbiosError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset >= self.table.len() {
            return None;
        }
        let result = parse_structure(self.table, self.offset);
        match &result {
            Ok(s) => {
                self.offset += s.size();
                self.done = s.kind == TYPE_END_OF_TABLE;
            }
            Err(_) => self.done = true,
        }
        Some(result)
    }
}

fn parse_structure(table: &[u8], offset: usize) -> Result<Structure<'_>, SmbiosError> {
    let rest = &table[offset..];
    let header = rest.get(..4).ok_or(SmbiosError::Truncated { offset })?;
    let length = header[1];
    if length < 4 {
        return Err(SmbiosError::FormattedAreaTooShort { offset, length });
    }
    let formatted = rest
        .get(..length as usize)
        .ok_or(SmbiosError::Truncated { offset })?;
    let tail = &rest[length as usize..];
    let end = tail
        .windows(2)
        .position(|w| w == [0, 0])
        .ok_or(SmbiosError::UnterminatedStrings { offset })?;
    // `end` is the index of the first NUL of the closing double NUL (0 when there are no strings).
    let strings = &tail[..end];
    Ok(Structure {
        offset,
        kind: header[0],
        handle: u16::from_le_bytes([header[2], header[3]]),
        formatted,
        strings,
    })
}

/// Result of validating a structure table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableSummary {
    /// Number of structures, End-of-Table included.
    pub structure_count: usize,
    /// Size of the largest structure (formatted area plus strings) in bytes.
    pub max_structure_size: usize,
    /// Bytes from the start of the table to the end of the last structure walked.
    pub length: usize,
    /// Whether an End-of-Table (type 127) structure ended the walk.
    pub end_of_table: bool,
}

/// Walks the whole table, validating every structure.
///
/// Errors: the first [`SmbiosError::Truncated`], [`SmbiosError::FormattedAreaTooShort`] or
/// [`SmbiosError::UnterminatedStrings`] met. Bytes after End-of-Table are not examined.
pub fn walk_table(table: &[u8]) -> Result<TableSummary, SmbiosError> {
    let mut summary = TableSummary::default();
    for structure in structures(table) {
        let s = structure?;
        summary.structure_count += 1;
        summary.max_structure_size = summary.max_structure_size.max(s.size());
        summary.length = s.offset + s.size();
        summary.end_of_table = s.kind == TYPE_END_OF_TABLE;
    }
    Ok(summary)
}

/// Platform identity strings from the BIOS (type 0) and System (type 1) Information structures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmbiosInventory {
    /// Type 0 offset 0x04: BIOS vendor.
    pub bios_vendor: Option<String>,
    /// Type 0 offset 0x05: BIOS version.
    pub bios_version: Option<String>,
    /// Type 0 offset 0x08: BIOS release date.
    pub bios_release_date: Option<String>,
    /// Type 1 offset 0x04: manufacturer.
    pub system_manufacturer: Option<String>,
    /// Type 1 offset 0x05: product name.
    pub system_product: Option<String>,
    /// Type 1 offset 0x06: version.
    pub system_version: Option<String>,
    /// Type 1 offset 0x07: serial number.
    pub system_serial: Option<String>,
    /// Type 1 offsets 0x08..0x18: UUID bytes as stored (first three fields little-endian since SMBIOS 2.6).
    pub system_uuid: Option<[u8; 16]>,
}

/// Collects the [`SmbiosInventory`] from the first type 0 and type 1 structures of `table`.
///
/// Missing structures, fields beyond a structure's length and string index 0 give `None`.
/// Errors: those of [`walk_table`] for structures met before both types were seen.
pub fn inventory(table: &[u8]) -> Result<SmbiosInventory, SmbiosError> {
    let mut inv = SmbiosInventory::default();
    let (mut seen_bios, mut seen_system) = (false, false);
    for structure in structures(table) {
        let s = structure?;
        match s.kind {
            TYPE_BIOS_INFORMATION if !seen_bios => {
                seen_bios = true;
                inv.bios_vendor = s.string_at(0x04);
                inv.bios_version = s.string_at(0x05);
                inv.bios_release_date = s.string_at(0x08);
            }
            TYPE_SYSTEM_INFORMATION if !seen_system => {
                seen_system = true;
                inv.system_manufacturer = s.string_at(0x04);
                inv.system_product = s.string_at(0x05);
                inv.system_version = s.string_at(0x06);
                inv.system_serial = s.string_at(0x07);
                inv.system_uuid = s.formatted.get(0x08..0x18).and_then(|u| u.try_into().ok());
            }
            _ => {}
        }
        if seen_bios && seen_system {
            break;
        }
    }
    Ok(inv)
}

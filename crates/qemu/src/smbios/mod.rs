//! SMBIOS entry points and structure tables as QEMU provides them over fw_cfg.
//!
//! Source: DMTF DSP0134 (SMBIOS 3.x) section 5.2.1 (2.1 32-bit entry point), 5.2.2 (3.0 64-bit entry point) and
//! section 6.1 (structure format). QEMU ships `etc/smbios/smbios-tables` (the structure table) and
//! `etc/smbios/smbios-anchor` (an entry point whose checksums and table address are left zero for the firmware to
//! fill in). The firmware reads the version from the anchor, places the table, and builds its own entry point
//! with [`Smbios3EntryPoint::to_bytes`] (or [`Smbios2EntryPoint::to_bytes`]).
//!
//! Design note: everything here works on byte slices and returns [`SmbiosError`] on malformed input; nothing
//! indexes past a slice's end. [`parse_anchor`] deliberately ignores the anchor's checksums (QEMU leaves them 0),
//! while [`Smbios3EntryPoint::parse`]/[`Smbios2EntryPoint::parse`] are strict and check them.

mod table;
#[cfg(test)]
mod tests;

pub use table::{
    inventory, structures, walk_table, SmbiosInventory, Structure, StructureIter, TableSummary,
};

/// fw_cfg file with the structure table.
pub const TABLES_FILE: &str = "etc/smbios/smbios-tables";
/// fw_cfg file with QEMU's entry point.
pub const ANCHOR_FILE: &str = "etc/smbios/smbios-anchor";

/// Length of the SMBIOS 2.1 (32-bit) entry point.
pub const SMBIOS2_ENTRY_POINT_SIZE: usize = 0x1f;
/// Length of the SMBIOS 3.0 (64-bit) entry point.
pub const SMBIOS3_ENTRY_POINT_SIZE: usize = 0x18;

/// Errors of SMBIOS parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmbiosError {
    /// Neither `"_SM_"` nor `"_SM3_"` at the start of the anchor.
    BadAnchor,
    /// The 2.1 entry point lacks `"_DMI_"` at offset 0x10.
    BadIntermediateAnchor,
    /// The entry point length field is smaller than the structure, or the slice is shorter than it.
    BadEntryPointLength {
        /// The entry point length field.
        length: u8,
        /// Bytes available.
        available: usize,
    },
    /// The entry point bytes do not sum to zero.
    BadChecksum,
    /// The 2.1 intermediate (`_DMI_`) bytes do not sum to zero.
    BadIntermediateChecksum,
    /// A structure header or formatted area at `offset` runs past the end of the table.
    Truncated {
        /// Offset of the structure in the table.
        offset: usize,
    },
    /// The structure at `offset` has a formatted-area length below the 4-byte header.
    FormattedAreaTooShort {
        /// Offset of the structure in the table.
        offset: usize,
        /// Its length field.
        length: u8,
    },
    /// The string-set of the structure at `offset` has no double-NUL terminator within the table.
    UnterminatedStrings {
        /// Offset of the structure in the table.
        offset: usize,
    },
}

impl core::fmt::Display for SmbiosError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)))
}

fn sums_to_zero(bytes: &[u8]) -> bool {
    checksum(bytes) == 0
}

/// SMBIOS 3.0 64-bit entry point (`_SM3_`, 24 bytes, DSP0134 section 5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smbios3EntryPoint {
    /// SMBIOS major version.
    pub major: u8,
    /// SMBIOS minor version.
    pub minor: u8,
    /// SMBIOS docrev.
    pub docrev: u8,
    /// Maximum size of the structure table in bytes.
    pub table_max_size: u32,
    /// Physical address of the structure table.
    pub table_address: u64,
}

impl Smbios3EntryPoint {
    /// An entry point for a table at `table_address` of at most `table_max_size` bytes, for version
    /// `major.minor.docrev`.
    pub fn new(table_address: u64, table_max_size: u32, major: u8, minor: u8, docrev: u8) -> Self {
        Smbios3EntryPoint {
            major,
            minor,
            docrev,
            table_max_size,
            table_address,
        }
    }

    /// Encodes the 24-byte entry point: anchor, checksum (making all 24 bytes sum to 0), length 0x18, version,
    /// entry point revision 1, reserved 0, table maximum size, table address.
    pub fn to_bytes(&self) -> [u8; SMBIOS3_ENTRY_POINT_SIZE] {
        let mut ep = [0u8; SMBIOS3_ENTRY_POINT_SIZE];
        ep[0..5].copy_from_slice(b"_SM3_");
        ep[6] = SMBIOS3_ENTRY_POINT_SIZE as u8;
        ep[7] = self.major;
        ep[8] = self.minor;
        ep[9] = self.docrev;
        ep[0x0a] = 1;
        ep[0x0c..0x10].copy_from_slice(&self.table_max_size.to_le_bytes());
        ep[0x10..0x18].copy_from_slice(&self.table_address.to_le_bytes());
        ep[5] = checksum(&ep);
        ep
    }

    /// Decodes a 3.0 entry point, checking the anchor, length and checksum.
    ///
    /// Errors: [`SmbiosError::BadAnchor`], [`SmbiosError::BadEntryPointLength`], [`SmbiosError::BadChecksum`].
    pub fn parse(bytes: &[u8]) -> Result<Self, SmbiosError> {
        let ep = Self::parse_unchecked(bytes)?;
        let length = bytes[6] as usize;
        if !sums_to_zero(&bytes[..length]) {
            return Err(SmbiosError::BadChecksum);
        }
        Ok(ep)
    }

    fn parse_unchecked(bytes: &[u8]) -> Result<Self, SmbiosError> {
        if bytes.get(..5) != Some(b"_SM3_") {
            return Err(SmbiosError::BadAnchor);
        }
        let length = bytes.get(6).copied().unwrap_or(0);
        if (length as usize) < SMBIOS3_ENTRY_POINT_SIZE || bytes.len() < length as usize {
            return Err(SmbiosError::BadEntryPointLength {
                length,
                available: bytes.len(),
            });
        }
        let mut max = [0u8; 4];
        max.copy_from_slice(&bytes[0x0c..0x10]);
        let mut addr = [0u8; 8];
        addr.copy_from_slice(&bytes[0x10..0x18]);
        Ok(Smbios3EntryPoint {
            major: bytes[7],
            minor: bytes[8],
            docrev: bytes[9],
            table_max_size: u32::from_le_bytes(max),
            table_address: u64::from_le_bytes(addr),
        })
    }
}

/// SMBIOS 2.1 32-bit entry point (`_SM_` ... `_DMI_`, 31 bytes, DSP0134 section 5.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smbios2EntryPoint {
    /// SMBIOS major version.
    pub major: u8,
    /// SMBIOS minor version.
    pub minor: u8,
    /// Size of the largest structure (formatted area plus strings) in bytes.
    pub max_structure_size: u16,
    /// Total length of the structure table in bytes.
    pub table_length: u16,
    /// Physical address of the structure table (32-bit).
    pub table_address: u32,
    /// Number of structures in the table.
    pub structure_count: u16,
    /// BCD revision (e.g. 0x28 for 2.8).
    pub bcd_revision: u8,
}

impl Smbios2EntryPoint {
    /// Encodes the 31-byte entry point with both checksums (whole structure, and the `_DMI_` part 0x10..0x1f).
    pub fn to_bytes(&self) -> [u8; SMBIOS2_ENTRY_POINT_SIZE] {
        let mut ep = [0u8; SMBIOS2_ENTRY_POINT_SIZE];
        ep[0..4].copy_from_slice(b"_SM_");
        ep[5] = SMBIOS2_ENTRY_POINT_SIZE as u8;
        ep[6] = self.major;
        ep[7] = self.minor;
        ep[8..10].copy_from_slice(&self.max_structure_size.to_le_bytes());
        ep[0x10..0x15].copy_from_slice(b"_DMI_");
        ep[0x16..0x18].copy_from_slice(&self.table_length.to_le_bytes());
        ep[0x18..0x1c].copy_from_slice(&self.table_address.to_le_bytes());
        ep[0x1c..0x1e].copy_from_slice(&self.structure_count.to_le_bytes());
        ep[0x1e] = self.bcd_revision;
        ep[0x15] = checksum(&ep[0x10..]);
        ep[4] = checksum(&ep);
        ep
    }

    /// Decodes a 2.1 entry point, checking anchors, length and both checksums.
    ///
    /// Errors: [`SmbiosError::BadAnchor`], [`SmbiosError::BadIntermediateAnchor`],
    /// [`SmbiosError::BadEntryPointLength`], [`SmbiosError::BadChecksum`], [`SmbiosError::BadIntermediateChecksum`].
    pub fn parse(bytes: &[u8]) -> Result<Self, SmbiosError> {
        let ep = Self::parse_unchecked(bytes)?;
        if !sums_to_zero(&bytes[..bytes[5] as usize]) {
            return Err(SmbiosError::BadChecksum);
        }
        if !sums_to_zero(&bytes[0x10..SMBIOS2_ENTRY_POINT_SIZE]) {
            return Err(SmbiosError::BadIntermediateChecksum);
        }
        Ok(ep)
    }

    fn parse_unchecked(bytes: &[u8]) -> Result<Self, SmbiosError> {
        if bytes.get(..4) != Some(b"_SM_") {
            return Err(SmbiosError::BadAnchor);
        }
        let length = bytes.get(5).copied().unwrap_or(0);
        if (length as usize) < SMBIOS2_ENTRY_POINT_SIZE || bytes.len() < length as usize {
            return Err(SmbiosError::BadEntryPointLength {
                length,
                available: bytes.len(),
            });
        }
        if &bytes[0x10..0x15] != b"_DMI_" {
            return Err(SmbiosError::BadIntermediateAnchor);
        }
        let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
        Ok(Smbios2EntryPoint {
            major: bytes[6],
            minor: bytes[7],
            max_structure_size: u16_at(8),
            table_length: u16_at(0x16),
            table_address: u32::from_le_bytes([bytes[0x18], bytes[0x19], bytes[0x1a], bytes[0x1b]]),
            structure_count: u16_at(0x1c),
            bcd_revision: bytes[0x1e],
        })
    }
}

/// The entry point found in QEMU's `etc/smbios/smbios-anchor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmbiosAnchor {
    /// A 2.x `_SM_` entry point.
    V2(Smbios2EntryPoint),
    /// A 3.x `_SM3_` entry point.
    V3(Smbios3EntryPoint),
}

impl SmbiosAnchor {
    /// `(major, minor, docrev)`; docrev is 0 for 2.x entry points, which do not carry one.
    pub fn version(&self) -> (u8, u8, u8) {
        match self {
            SmbiosAnchor::V2(ep) => (ep.major, ep.minor, 0),
            SmbiosAnchor::V3(ep) => (ep.major, ep.minor, ep.docrev),
        }
    }
}

/// Decodes QEMU's anchor blob (either entry point type) without checking checksums, which QEMU leaves 0.
///
/// Errors: [`SmbiosError::BadAnchor`], [`SmbiosError::BadIntermediateAnchor`], [`SmbiosError::BadEntryPointLength`].
pub fn parse_anchor(bytes: &[u8]) -> Result<SmbiosAnchor, SmbiosError> {
    if bytes.starts_with(b"_SM3_") {
        Smbios3EntryPoint::parse_unchecked(bytes).map(SmbiosAnchor::V3)
    } else if bytes.starts_with(b"_SM_") {
        Smbios2EntryPoint::parse_unchecked(bytes).map(SmbiosAnchor::V2)
    } else {
        Err(SmbiosError::BadAnchor)
    }
}

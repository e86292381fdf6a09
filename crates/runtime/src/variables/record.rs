//! The byte format of the variable region: one region header, then a log of variable records.
//!
//! All integers are little-endian; nothing is padded or aligned, so the format is the same on every host.
//!
//! Region header ([`REGION_HEADER_SIZE`] = 16 bytes):
//!
//! | offset | size | field     | meaning                                                   |
//! |--------|------|-----------|-----------------------------------------------------------|
//! | 0      | 8    | magic     | [`MAGIC`], `"VMFWVARS"`                                   |
//! | 8      | 2    | version   | [`FORMAT_VERSION`]                                        |
//! | 10     | 2    | reserved  | 0                                                         |
//! | 12     | 4    | log_len   | bytes of records after the header (the append offset)     |
//!
//! Record header ([`RECORD_HEADER_SIZE`] = 28 bytes), immediately followed by the name then the data:
//!
//! | offset | size | field      | meaning                                                       |
//! |--------|------|------------|---------------------------------------------------------------|
//! | 0      | 1    | state      | [`STATE_VALID`] (0xAA) or [`STATE_OBSOLETE`] (0x00)           |
//! | 1      | 1    | flags      | [`FLAG_READ_ONLY`]; other bits 0                              |
//! | 2      | 2    | name_len   | bytes of the UCS-2LE name, NUL included (even, at least 4)    |
//! | 4      | 4    | attributes | stored attribute bits (NV, BS, RT, HR)                        |
//! | 8      | 4    | data_len   | bytes of data                                                 |
//! | 12     | 16   | vendor     | vendor GUID in its EFI_GUID memory layout                     |
//!
//! A record's state only ever goes from VALID to OBSOLETE, which clears bits, so a flash back end can retire a
//! record in place without erasing.

use r_efi::efi::Guid;

/// Magic bytes at offset 0 of an initialised region.
pub const MAGIC: [u8; 8] = *b"VMFWVARS";
/// Version of this record format.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the region header.
pub const REGION_HEADER_SIZE: usize = 16;
/// Bytes of a record header (name and data follow).
pub const RECORD_HEADER_SIZE: usize = 28;
/// State byte of the record that holds a variable's current value.
pub const STATE_VALID: u8 = 0xAA;
/// State byte of a superseded or deleted record; compaction reclaims it.
pub const STATE_OBSOLETE: u8 = 0x00;
/// Flag: the firmware owns this variable; SetVariable refuses to change or delete it (`EFI_WRITE_PROTECTED`).
pub const FLAG_READ_ONLY: u8 = 0x01;
/// Every flag bit a record may carry.
pub const KNOWN_FLAGS: u8 = FLAG_READ_ONLY;

/// Why a region's bytes do not form a valid store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The region cannot hold the region header plus one minimal record.
    RegionTooSmall,
    /// The region is larger than `u32::MAX` bytes, which `log_len` cannot describe.
    RegionTooLarge,
    /// The first 8 bytes are not [`MAGIC`].
    BadMagic,
    /// The version field is not [`FORMAT_VERSION`]; the value found.
    UnsupportedVersion(u16),
    /// `log_len` runs past the end of the region.
    LogLenOutOfRange,
    /// A record at this region byte offset is cut off by the end of the log.
    TruncatedRecord(usize),
    /// A record at this region byte offset has a state byte other than VALID or OBSOLETE.
    BadState(usize),
    /// A record at this region byte offset has a malformed name.
    BadName(usize),
    /// A record at this region byte offset has attributes a stored variable cannot have.
    BadAttributes(usize),
    /// A record at this region byte offset has flag bits this format does not define.
    BadFlags(usize),
    /// A record at this region byte offset is larger than the per-variable limit.
    RecordTooLarge(usize),
    /// A valid record at this region byte offset repeats the key of an earlier valid record.
    DuplicateVariable(usize),
    /// An image to load is larger than the region it is loaded into.
    ImageTooLarge,
}

/// A decoded record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub state: u8,
    pub flags: u8,
    pub name_len: usize,
    pub attributes: u32,
    pub data_len: usize,
    pub vendor: Guid,
}

impl RecordHeader {
    /// Decodes the 28 header bytes at the start of `bytes`; `None` if fewer are given.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..RECORD_HEADER_SIZE)?;
        let mut vendor = [0u8; 16];
        vendor.copy_from_slice(&b[12..28]);
        Some(RecordHeader {
            state: b[0],
            flags: b[1],
            name_len: u16::from_le_bytes([b[2], b[3]]) as usize,
            attributes: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            data_len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize,
            vendor: Guid::from_bytes(&vendor),
        })
    }

    /// Encodes into `out`; the caller guarantees `name_len <= u16::MAX` and `data_len <= u32::MAX`.
    pub fn encode(&self, out: &mut [u8; RECORD_HEADER_SIZE]) {
        out[0] = self.state;
        out[1] = self.flags;
        out[2..4].copy_from_slice(&(self.name_len as u16).to_le_bytes());
        out[4..8].copy_from_slice(&self.attributes.to_le_bytes());
        out[8..12].copy_from_slice(&(self.data_len as u32).to_le_bytes());
        out[12..28].copy_from_slice(self.vendor.as_bytes());
    }

    /// Bytes the whole record occupies: header, name and data.
    pub fn total_len(&self) -> usize {
        RECORD_HEADER_SIZE + self.name_len + self.data_len
    }
}

/// Encodes a region header with `log_len` into the first [`REGION_HEADER_SIZE`] bytes of `out`.
pub(crate) fn encode_region_header(out: &mut [u8; REGION_HEADER_SIZE], log_len: u32) {
    out[..8].copy_from_slice(&MAGIC);
    out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[10..12].copy_from_slice(&[0, 0]);
    out[12..16].copy_from_slice(&log_len.to_le_bytes());
}

/// Decodes a region header and returns its `log_len`.
///
/// Errors: [`FormatError::RegionTooSmall`], [`FormatError::BadMagic`], [`FormatError::UnsupportedVersion`].
pub(crate) fn decode_region_header(bytes: &[u8]) -> Result<usize, FormatError> {
    let b = bytes
        .get(..REGION_HEADER_SIZE)
        .ok_or(FormatError::RegionTooSmall)?;
    if b[..8] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = u16::from_le_bytes([b[8], b[9]]);
    if version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    Ok(u32::from_le_bytes([b[12], b[13], b[14], b[15]]) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_header_roundtrips_little_endian() {
        let h = RecordHeader {
            state: STATE_VALID,
            flags: FLAG_READ_ONLY,
            name_len: 0x0106,
            attributes: 7,
            data_len: 0x0102_0304,
            vendor: Guid::from_fields(0x11223344, 0x5566, 0x7788, 0x99, 0xaa, &[1, 2, 3, 4, 5, 6]),
        };
        let mut out = [0u8; RECORD_HEADER_SIZE];
        h.encode(&mut out);
        assert_eq!(&out[..4], &[0xAA, FLAG_READ_ONLY, 0x06, 0x01]);
        assert_eq!(&out[8..12], &[0x04, 0x03, 0x02, 0x01]);
        assert_eq!(&out[12..16], &[0x44, 0x33, 0x22, 0x11]);
        assert_eq!(RecordHeader::decode(&out), Some(h));
        assert_eq!(h.total_len(), 28 + 0x0106 + 0x0102_0304);
    }

    #[test]
    fn region_header_checks_magic_and_version() {
        let mut out = [0u8; REGION_HEADER_SIZE];
        encode_region_header(&mut out, 40);
        assert_eq!(decode_region_header(&out), Ok(40));
        out[9] = 1;
        assert_eq!(
            decode_region_header(&out),
            Err(FormatError::UnsupportedVersion(0x0101))
        );
        out[0] = b'X';
        assert_eq!(decode_region_header(&out), Err(FormatError::BadMagic));
        assert_eq!(
            decode_region_header(&out[..4]),
            Err(FormatError::RegionTooSmall)
        );
    }
}

//! Root System Description Pointer validation (ACPI 6.5 section 5.2.5.3, "Root System Description Pointer (RSDP)
//! Structure").
//!
//! Layout (little-endian):
//!
//! ```text
//! 0  [u8; 8] signature "RSD PTR "     16 u32 RsdtAddress
//! 8  u8 checksum (bytes 0..20)        20 u32 Length            (revision >= 2 from here on)
//! 9  [u8; 6] OEMID                    24 u64 XsdtAddress
//! 15 u8 revision (0 = ACPI 1.0)       32 u8 extended checksum (bytes 0..Length), 33 [u8; 3] reserved
//! ```

/// Size of the ACPI 1.0 RSDP covered by the first checksum.
pub const RSDP_V1_SIZE: usize = 20;
/// Size of the ACPI 2.0+ RSDP.
pub const RSDP_V2_SIZE: usize = 36;
/// RSDP signature.
pub const RSDP_SIGNATURE: &[u8; 8] = b"RSD PTR ";

/// Decoded fields of a valid RSDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsdpInfo {
    /// OEM identifier (6 bytes, space padded by convention).
    pub oem_id: [u8; 6],
    /// Revision: 0 for ACPI 1.0, 2 for ACPI 2.0 and later.
    pub revision: u8,
    /// Physical address of the RSDT (may be 0 when only an XSDT exists).
    pub rsdt_address: u32,
    /// Length of the structure: 20 for revision 0, the `Length` field otherwise.
    pub length: u32,
    /// Physical address of the XSDT (revision >= 2 only).
    pub xsdt_address: Option<u64>,
}

impl RsdpInfo {
    /// The OEM id as text with trailing spaces/NULs trimmed; `None` if it is not UTF-8.
    pub fn oem_id_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.oem_id)
            .ok()
            .map(|s| s.trim_end_matches([' ', '\0']))
    }
}

/// Why an RSDP is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsdpError {
    /// Fewer bytes than the structure needs.
    TooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        len: usize,
    },
    /// The first 8 bytes are not `"RSD PTR "`.
    BadSignature,
    /// Bytes 0..20 do not sum to zero.
    BadChecksum,
    /// Revision >= 2 with a `Length` below 36.
    BadLength {
        /// The `Length` field.
        length: u32,
    },
    /// Bytes `0..Length` do not sum to zero.
    BadExtendedChecksum,
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

/// Validates the RSDP at the start of `bytes` and decodes it.
///
/// Checks the signature and the 20-byte checksum; for revision >= 2 also that `Length >= 36`, that `Length` bytes
/// are present, and the extended checksum over them. Errors: [`RsdpError`].
pub fn validate_rsdp(bytes: &[u8]) -> Result<RsdpInfo, RsdpError> {
    let v1 = bytes.get(..RSDP_V1_SIZE).ok_or(RsdpError::TooShort {
        needed: RSDP_V1_SIZE,
        len: bytes.len(),
    })?;
    if &v1[..8] != RSDP_SIGNATURE {
        return Err(RsdpError::BadSignature);
    }
    if sum(v1) != 0 {
        return Err(RsdpError::BadChecksum);
    }
    let mut oem_id = [0u8; 6];
    oem_id.copy_from_slice(&v1[9..15]);
    let revision = v1[15];
    let rsdt_address = u32::from_le_bytes([v1[16], v1[17], v1[18], v1[19]]);
    if revision < 2 {
        return Ok(RsdpInfo {
            oem_id,
            revision,
            rsdt_address,
            length: RSDP_V1_SIZE as u32,
            xsdt_address: None,
        });
    }
    let v2 = bytes.get(..RSDP_V2_SIZE).ok_or(RsdpError::TooShort {
        needed: RSDP_V2_SIZE,
        len: bytes.len(),
    })?;
    let length = u32::from_le_bytes([v2[20], v2[21], v2[22], v2[23]]);
    if (length as usize) < RSDP_V2_SIZE {
        return Err(RsdpError::BadLength { length });
    }
    let full = bytes.get(..length as usize).ok_or(RsdpError::TooShort {
        needed: length as usize,
        len: bytes.len(),
    })?;
    if sum(full) != 0 {
        return Err(RsdpError::BadExtendedChecksum);
    }
    let mut xsdt = [0u8; 8];
    xsdt.copy_from_slice(&v2[24..32]);
    Ok(RsdpInfo {
        oem_id,
        revision,
        rsdt_address,
        length,
        xsdt_address: Some(u64::from_le_bytes(xsdt)),
    })
}

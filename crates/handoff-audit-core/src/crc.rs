//! EFI_TABLE_HEADER.CRC32 checks (UEFI 2.10 §4.2): the CRC-32 of `HeaderSize` bytes of the table with the CRC32
//! field taken as zero.
//!
//! The CRC is computed here (IEEE 802.3, reflected, polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), never
//! by the firmware's CalculateCrc32, so a firmware cannot vouch for itself.

use core::fmt;

/// Offset of `Signature` (u64) in EFI_TABLE_HEADER.
pub const SIGNATURE_OFFSET: usize = 0;
/// Offset of `HeaderSize` (u32) in EFI_TABLE_HEADER.
pub const HEADER_SIZE_OFFSET: usize = 12;
/// Offset of `CRC32` (u32) in EFI_TABLE_HEADER.
pub const CRC_OFFSET: usize = 16;
/// Size of EFI_TABLE_HEADER itself (Signature, Revision, HeaderSize, CRC32, Reserved).
pub const HEADER_LEN: usize = 24;
/// Largest `HeaderSize` accepted (the UEFI 2.10 boot-services table is 376 bytes); larger means a corrupt header.
pub const MAX_TABLE: usize = 4096;

/// `EFI_SYSTEM_TABLE_SIGNATURE` ("IBI SYST").
pub const SYSTEM_TABLE_SIGNATURE: u64 = 0x5453_5953_2049_4249;
/// `EFI_BOOT_SERVICES_SIGNATURE` ("BOOTSERV").
pub const BOOT_SERVICES_SIGNATURE: u64 = 0x5652_4553_544f_4f42;
/// `EFI_RUNTIME_SERVICES_SIGNATURE` ("RUNTSERV").
pub const RUNTIME_SERVICES_SIGNATURE: u64 = 0x5652_4553_544e_5552;

/// CRC-32 (IEEE 802.3) of `data`, the algorithm of EFI_TABLE_HEADER.CRC32 and CalculateCrc32.
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0, data)
}

/// Continues a CRC-32: `crc32_update(crc32(a), b) == crc32(a ++ b)`.
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut crc = !crc;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// What is wrong with a table header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// `Signature` is not the one the table must carry.
    Signature {
        /// The signature found.
        found: u64,
        /// The signature the table must carry.
        expected: u64,
    },
    /// `HeaderSize` is smaller than the header, larger than [`MAX_TABLE`], or larger than the bytes given.
    BadSize(u32),
    /// The stored CRC32 differs from the one computed over `HeaderSize` bytes with the CRC field zeroed.
    Mismatch {
        /// EFI_TABLE_HEADER.CRC32 as stored.
        stored: u32,
        /// The CRC computed here.
        computed: u32,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TableError::Signature { found, expected } => {
                write!(f, "signature {found:#018x}, expected {expected:#018x}")
            }
            TableError::BadSize(size) => write!(f, "HeaderSize {size} is implausible"),
            TableError::Mismatch { stored, computed } => {
                write!(f, "CRC32 {stored:#010x} stored, {computed:#010x} computed")
            }
        }
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(raw)
}

/// `HeaderSize` of the header at the start of `table` (at least [`HEADER_LEN`] bytes).
pub fn header_size(table: &[u8]) -> u32 {
    u32_at(table, HEADER_SIZE_OFFSET)
}

/// Checks the signature and CRC32 of a table given as at least its first `HeaderSize` bytes.
///
/// Errors: [`TableError::Signature`], [`TableError::BadSize`], [`TableError::Mismatch`].
pub fn check_table(table: &[u8], signature: u64) -> Result<(), TableError> {
    if table.len() < HEADER_LEN {
        return Err(TableError::BadSize(table.len() as u32));
    }
    let mut raw = [0; 8];
    raw.copy_from_slice(&table[SIGNATURE_OFFSET..SIGNATURE_OFFSET + 8]);
    let found = u64::from_le_bytes(raw);
    if found != signature {
        return Err(TableError::Signature {
            found,
            expected: signature,
        });
    }
    let size = header_size(table);
    let len = size as usize;
    if !(HEADER_LEN..=MAX_TABLE).contains(&len) || len > table.len() {
        return Err(TableError::BadSize(size));
    }
    let stored = u32_at(table, CRC_OFFSET);
    let crc = crc32_update(0, &table[..CRC_OFFSET]);
    let crc = crc32_update(crc, &[0; 4]);
    let computed = crc32_update(crc, &table[CRC_OFFSET + 4..len]);
    if computed == stored {
        Ok(())
    } else {
        Err(TableError::Mismatch { stored, computed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32_update(crc32(b"1234"), b"56789"), 0xCBF4_3926);
    }

    fn table(signature: u64, size: u32) -> [u8; 64] {
        let mut t = [0u8; 64];
        t[..8].copy_from_slice(&signature.to_le_bytes());
        t[12..16].copy_from_slice(&size.to_le_bytes());
        for (i, b) in t[24..].iter_mut().enumerate() {
            *b = i as u8 ^ 0x5a;
        }
        let crc = crc32(&t[..size as usize]);
        t[16..20].copy_from_slice(&crc.to_le_bytes());
        t
    }

    #[test]
    fn accepts_a_good_table_and_ignores_bytes_past_header_size() {
        let mut t = table(BOOT_SERVICES_SIGNATURE, 40);
        assert_eq!(check_table(&t, BOOT_SERVICES_SIGNATURE), Ok(()));
        t[50] ^= 0xFF;
        assert_eq!(check_table(&t, BOOT_SERVICES_SIGNATURE), Ok(()));
    }

    #[test]
    fn detects_a_changed_byte_and_a_wrong_signature() {
        let mut t = table(RUNTIME_SERVICES_SIGNATURE, 48);
        assert_eq!(
            check_table(&t, SYSTEM_TABLE_SIGNATURE),
            Err(TableError::Signature {
                found: RUNTIME_SERVICES_SIGNATURE,
                expected: SYSTEM_TABLE_SIGNATURE
            })
        );
        t[30] ^= 1;
        assert!(matches!(
            check_table(&t, RUNTIME_SERVICES_SIGNATURE),
            Err(TableError::Mismatch { .. })
        ));
    }

    #[test]
    fn rejects_implausible_sizes() {
        let t = table(SYSTEM_TABLE_SIGNATURE, 40);
        let mut small = t;
        small[12..16].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(
            check_table(&small, SYSTEM_TABLE_SIGNATURE),
            Err(TableError::BadSize(8))
        );
        let mut big = t;
        big[12..16].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(
            check_table(&big, SYSTEM_TABLE_SIGNATURE),
            Err(TableError::BadSize(100))
        );
        assert_eq!(
            check_table(&t[..10], SYSTEM_TABLE_SIGNATURE),
            Err(TableError::BadSize(10))
        );
    }
}

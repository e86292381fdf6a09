//! CRC and memory-utility checks: CalculateCrc32 (UEFI 2.10 §7.5.1), the header CRC32 of the system and
//! boot-services tables (§4.2 EFI_TABLE_HEADER), CopyMem and SetMem (§7.5.2, §7.5.3).
//!
//! Design: the app computes CRC-32 itself ([`crc32`], IEEE 802.3 reflected, polynomial 0xEDB88320, initial and
//! final XOR 0xFFFFFFFF) so a table CRC is checked independently of the firmware's CalculateCrc32.

use core::ffi::c_void;
use core::fmt::Write;

use uefi_raw::table::Header;
use uefi_raw::Status;

use crate::report::{Outcome, Report};
use crate::{boot_services, expect_status, system_table};

/// Offset of `CRC32` in EFI_TABLE_HEADER (after Signature u64, Revision u32, HeaderSize u32).
pub const HEADER_CRC_OFFSET: usize = 16;
/// Largest table header+body the app will copy to check (the system table is 120 bytes, boot services 376).
const MAX_TABLE: usize = 1024;

/// CRC-32 (IEEE 802.3) of `data`, as used by EFI_TABLE_HEADER.CRC32 and CalculateCrc32.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What is wrong with a table's header CRC.
#[derive(Debug, PartialEq, Eq)]
pub enum TableCrcError {
    /// `HeaderSize` is smaller than the header itself or larger than the app will copy.
    BadSize(u32),
    /// The stored CRC32 differs from the one computed over `HeaderSize` bytes with the CRC field zeroed.
    Mismatch { stored: u32, computed: u32 },
}

/// Checks EFI_TABLE_HEADER.CRC32 of a table given as its first `HeaderSize` bytes (or more).
pub fn check_table_crc(table: &[u8]) -> Result<(), TableCrcError> {
    let size = u32::from_le_bytes([table[12], table[13], table[14], table[15]]);
    let len = size as usize;
    if len < core::mem::size_of::<Header>() || len > MAX_TABLE || len > table.len() {
        return Err(TableCrcError::BadSize(size));
    }
    let mut copy = [0u8; MAX_TABLE];
    copy[..len].copy_from_slice(&table[..len]);
    let stored = u32::from_le_bytes([copy[16], copy[17], copy[18], copy[19]]);
    copy[HEADER_CRC_OFFSET..HEADER_CRC_OFFSET + 4].fill(0);
    let computed = crc32(&copy[..len]);
    if computed == stored {
        Ok(())
    } else {
        Err(TableCrcError::Mismatch { stored, computed })
    }
}

/// The bytes of a firmware table whose header starts at `header`.
///
/// # Safety
/// `header` must point to a live table of at least `HeaderSize` bytes (clamped to [`MAX_TABLE`]).
unsafe fn table_bytes(header: *const Header) -> &'static [u8] {
    // SAFETY: the caller guarantees the header is readable.
    let size = unsafe { (*header).size } as usize;
    // SAFETY: the caller guarantees `HeaderSize` bytes are readable; the length is clamped to what we inspect.
    unsafe {
        core::slice::from_raw_parts(
            header.cast::<u8>(),
            size.clamp(core::mem::size_of::<Header>(), MAX_TABLE),
        )
    }
}

/// Runs the CRC and memory-utility checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "crc: CalculateCrc32(\"123456789\")",
        check_calculate_crc32(),
    );
    report.record(out, "crc: system table header CRC32", check_system_table());
    report.record(
        out,
        "crc: boot services table header CRC32",
        check_boot_services_table(),
    );
    report.record(
        out,
        "mem: CopyMem (overlapping both ways)",
        check_copy_mem(),
    );
    report.record(out, "mem: SetMem", check_set_mem());
}

fn check_calculate_crc32() -> Outcome {
    let data = b"123456789";
    let mut crc = 0u32;
    // SAFETY: `data` is readable for its length; `crc` is a valid out-pointer.
    let status = unsafe {
        (boot_services().calculate_crc32)(data.as_ptr().cast::<c_void>(), data.len(), &mut crc)
    };
    expect_status("CalculateCrc32", status, Status::SUCCESS)?;
    ensure!(
        crc == 0xCBF4_3926,
        "CalculateCrc32(\"123456789\") = {crc:#010x}, expected 0xcbf43926"
    );
    Ok(())
}

/// Shared by the system-table check here and the after-ExitBootServices check.
pub fn system_table_crc() -> Outcome {
    // SAFETY: the system table is live for the whole run and at least `HeaderSize` bytes long.
    let bytes = unsafe { table_bytes(&system_table().header) };
    ensure!(
        system_table().header.signature == uefi_raw::table::system::SystemTable::SIGNATURE,
        "system table signature {:#x}",
        system_table().header.signature
    );
    check_table_crc(bytes).map_err(|e| crate::report::Detail::new(format_args!("{e:?}")))
}

fn check_system_table() -> Outcome {
    system_table_crc()
}

fn check_boot_services_table() -> Outcome {
    // SAFETY: the boot-services table is live and at least `HeaderSize` bytes long while boot services run.
    let bytes = unsafe { table_bytes(&boot_services().header) };
    check_table_crc(bytes).map_err(|e| crate::report::Detail::new(format_args!("{e:?}")))
}

fn check_copy_mem() -> Outcome {
    let copy_mem = boot_services().copy_mem;
    let fresh = || core::array::from_fn::<u8, 64, _>(|i| i as u8);
    // Forward overlap: destination above source.
    let mut buf = fresh();
    // SAFETY: both ranges lie inside `buf` (8..40 and 0..32).
    unsafe { copy_mem(buf.as_mut_ptr().add(8), buf.as_ptr(), 32) };
    let mut want = fresh();
    want.copy_within(0..32, 8);
    ensure!(
        buf == want,
        "CopyMem(dest = src + 8, 32) corrupted the overlap"
    );
    // Backward overlap: destination below source.
    let mut buf = fresh();
    // SAFETY: both ranges lie inside `buf` (0..32 and 8..40).
    unsafe { copy_mem(buf.as_mut_ptr(), buf.as_ptr().add(8), 32) };
    let mut want = fresh();
    want.copy_within(8..40, 0);
    ensure!(
        buf == want,
        "CopyMem(dest = src - 8, 32) corrupted the overlap"
    );
    Ok(())
}

fn check_set_mem() -> Outcome {
    let mut buf = [0x11u8; 64];
    // SAFETY: 5..45 lies inside `buf`.
    unsafe { (boot_services().set_mem)(buf.as_mut_ptr().add(5), 40, 0xA5) };
    for (i, &b) in buf.iter().enumerate() {
        let want = if (5..45).contains(&i) { 0xA5 } else { 0x11 };
        ensure!(
            b == want,
            "SetMem(buf + 5, 40, 0xA5): byte {i} is {b:#x}, expected {want:#x}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    fn table(size: u32) -> [u8; 64] {
        let mut t = [0u8; 64];
        t[..8].copy_from_slice(&0x5453_5953_2049_4249u64.to_le_bytes());
        t[12..16].copy_from_slice(&size.to_le_bytes());
        for (i, b) in t[24..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let crc = crc32(&t[..size as usize]);
        t[16..20].copy_from_slice(&crc.to_le_bytes());
        t
    }

    #[test]
    fn table_crc_accepts_a_good_header_and_ignores_bytes_past_size() {
        let mut t = table(40);
        assert_eq!(check_table_crc(&t), Ok(()));
        t[50] ^= 0xFF; // beyond HeaderSize: not covered
        assert_eq!(check_table_crc(&t), Ok(()));
    }

    #[test]
    fn table_crc_detects_a_changed_byte() {
        let mut t = table(40);
        t[30] ^= 1;
        assert!(matches!(
            check_table_crc(&t),
            Err(TableCrcError::Mismatch { .. })
        ));
    }

    #[test]
    fn table_crc_rejects_bad_sizes() {
        let t = table(40);
        let mut small = t;
        small[12..16].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(check_table_crc(&small), Err(TableCrcError::BadSize(8)));
        let mut big = t;
        big[12..16].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(check_table_crc(&big), Err(TableCrcError::BadSize(100)));
    }
}

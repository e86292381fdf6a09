//! Miscellaneous boot services (UEFI 2.10 section 7.5): Stall, GetNextMonotonicCount, CalculateCrc32, CopyMem,
//! SetMem. InstallConfigurationTable is in [`super::system_table`].

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use r_efi::efi::Status;

use super::write_out;

/// Low 32 bits count calls; the high 32 bits would come from a non-volatile counter, which QEMU machines have
/// not got, so they stay 0 for this boot (UEFI 2.10 section 7.5, GetNextMonotonicCount).
static MONOTONIC: AtomicU64 = AtomicU64::new(0);

pub extern "efiapi" fn stall(microseconds: usize) -> Status {
    crate::platform::timer::stall(microseconds as u64);
    Status::SUCCESS
}

pub extern "efiapi" fn get_next_monotonic_count(count: *mut u64) -> Status {
    let value = MONOTONIC.fetch_add(1, Ordering::Relaxed);
    if value & 0xffff_ffff == 0xffff_ffff {
        return Status::DEVICE_ERROR;
    }
    // SAFETY: `write_out` checks null/alignment; a valid pointer is the caller's OUT UINT64.
    super::status(unsafe { write_out(count, value) })
}

/// CRC-32 (IEEE 802.3, as the spec's table headers use).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

pub extern "efiapi" fn calculate_crc32(data: *mut c_void, size: usize, crc: *mut u32) -> Status {
    if data.is_null() || crc.is_null() || size == 0 {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the caller passes `size` readable bytes at `data` (CalculateCrc32 contract).
    let bytes = unsafe { core::slice::from_raw_parts(data as *const u8, size) };
    // SAFETY: non-null OUT UINT32.
    unsafe { crc.write_unaligned(crc32(bytes)) };
    Status::SUCCESS
}

pub extern "efiapi" fn copy_mem(destination: *mut c_void, source: *mut c_void, length: usize) {
    if length == 0 || destination.is_null() || source.is_null() {
        return;
    }
    // SAFETY: the caller owns both ranges (CopyMem contract); `copy` handles overlap as the spec requires.
    unsafe { core::ptr::copy(source as *const u8, destination as *mut u8, length) };
}

pub extern "efiapi" fn set_mem(buffer: *mut c_void, size: usize, value: u8) {
    if size == 0 || buffer.is_null() {
        return;
    }
    // SAFETY: the caller owns `size` bytes at `buffer` (SetMem contract).
    unsafe { core::ptr::write_bytes(buffer as *mut u8, value, size) };
}

//! File-system checks (UEFI 2.10 sections 13.3 partitions, 13.4 Simple File System, 13.5 File protocol, 13.18
//! Partition Info, 10.3.5.1 Hard Drive device path node) against test disks the integration test attaches.
//!
//! The group runs only when the load options (QEMU `-append`) name it, because it needs those disks:
//! - `fs`: a GPT disk and an MBR disk (made by `xtask/src/itest/fs.rs`), each with one EFI system partition
//!   holding a FAT32 volume labelled [`GPT_LABEL`]/[`MBR_LABEL`] with a marker file, `\data\pattern.bin`
//!   ([`PATTERN_LEN`] bytes of [`pattern_byte`]) and `\data\A file with a long name.txt`. Checked: the partition
//!   handles and their `HD()` nodes, Partition Info (System flag, the ESP tag), reads (also case-insensitive long
//!   names and relative paths), directory reads one `EFI_FILE_INFO` at a time with `EFI_BUFFER_TOO_SMALL`, a
//!   write read back then deleted, `EFI_FILE_SYSTEM_INFO` and the volume label, positions, and error statuses;
//!   a third disk is a "superfloppy" (FAT from LBA 0, no table) that must be mounted on the whole disk; last,
//!   DisconnectController on the GPT disk must remove its partition and ConnectController bring it back.
//! - `fs-bad`: a disk whose two GPT headers are corrupt and a disk whose `\EFI\BOOT\BOOTX64.EFI` cluster chain
//!   loops. Checked: no partition comes from the first, and reading the looping file fails with
//!   `EFI_VOLUME_CORRUPTED` instead of hanging (vmfw's own promise; this mode runs on vmfw only).
//!
//! The expectations are the specification's, so `fs` passes on OVMF as the reference.

mod bad;
mod checks;
mod files;
mod raw;

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use uefi_raw::protocol::loaded_image::LoadedImageProtocol;
use uefi_raw::Status;

use crate::report::Report;
use crate::{boot_services, image_handle};

/// Volume label of the GPT test disk's FAT volume.
pub const GPT_LABEL: &str = "VMFWGPT";
/// Volume label of the MBR test disk's FAT volume.
pub const MBR_LABEL: &str = "VMFWMBR";
/// Length of `\data\pattern.bin`.
pub const PATTERN_LEN: usize = 300_000;

/// Byte `i` of `\data\pattern.bin` (the same function is in `xtask/src/itest/fs.rs`; both are unit-tested
/// against the same values).
pub fn pattern_byte(i: usize) -> u8 {
    ((i as u32).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// Whether the load options (UCS-2 text) contain `word` as a whole word.
fn requested(word: &str) -> bool {
    let mut interface: *mut c_void = ptr::null_mut();
    // SAFETY: HandleProtocol on our own image handle with a valid out-pointer.
    let status = unsafe {
        (boot_services().handle_protocol)(
            image_handle(),
            &LoadedImageProtocol::GUID,
            &mut interface,
        )
    };
    if status != Status::SUCCESS || interface.is_null() {
        return false;
    }
    // SAFETY: the firmware returned our Loaded Image protocol.
    let image = unsafe { &*interface.cast::<LoadedImageProtocol>() };
    if image.load_options.is_null() || image.load_options_size < 2 {
        return false;
    }
    // SAFETY: the load options are `load_options_size` bytes of UCS-2.
    let units = unsafe {
        core::slice::from_raw_parts(
            image.load_options.cast::<u16>(),
            image.load_options_size as usize / 2,
        )
    };
    let text = units.split(|&u| u == 0).next().unwrap_or(&[]);
    text.split(|&u| u == u16::from(b' '))
        .any(|w| w.iter().copied().eq(word.encode_utf16()))
}

/// Runs the `fs` or `fs-bad` checks when the load options ask for them.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    if requested("fs") {
        let _ = writeln!(out, "selftest: fs: checking the test disks");
        raw::connect_all();
        checks::run(report, out);
    }
    if requested("fs-bad") {
        let _ = writeln!(out, "selftest: fs: checking the corrupt disks");
        raw::connect_all();
        bad::run(report, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_the_disk_builder() {
        // The same values are asserted in xtask/src/itest/fs.rs.
        let first: [u8; 6] = core::array::from_fn(pattern_byte);
        assert_eq!(first, [0x00, 0x9E, 0x3C, 0xDA, 0x78, 0x17]);
        assert_eq!(
            pattern_byte(299_999),
            ((299_999u32).wrapping_mul(0x9E37_79B1) >> 24) as u8
        );
    }
}

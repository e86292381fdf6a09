//! The `fs-bad` checks (vmfw only): a disk whose primary and backup GPT headers are both corrupt, and a GPT disk
//! whose `\EFI\BOOT\BOOTX64.EFI` cluster chain loops (both made by `xtask/src/itest/bad_disks.rs`).
//!
//! Expected: the corrupt-GPT disk yields no partition handle (vmfw logs why; the integration test reads the log),
//! the looping disk yields exactly one partition with a file system, the file opens and reports its size, and
//! reading it fails with `EFI_VOLUME_CORRUPTED` within a bounded number of reads instead of hanging.

use core::fmt::Write;

use uefi_raw::protocol::block::BlockIoProtocol;
use uefi_raw::protocol::file_system::{FileInfo, FileProtocolV1, SimpleFileSystemProtocol};
use uefi_raw::Status;

use super::raw::{last_node, u64_at, File, HandleList};
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};

fn check_partitions() -> Outcome {
    let mut hd = 0;
    for h in HandleList::by_protocol(&BlockIoProtocol::GUID)?.iter() {
        if let Some((4, 1, node)) = last_node(h) {
            hd += 1;
            ensure!(
                node[40] == 2,
                "partition with format {} (the looping disk is GPT)",
                node[40]
            );
        }
    }
    ensure!(
        hd == 1,
        "{hd} partition handles: expected 1 (none from the disk whose GPTs are corrupt)"
    );
    Ok(())
}

fn check_looping_file() -> Outcome {
    let volumes = HandleList::by_protocol(&SimpleFileSystemProtocol::GUID)?;
    let mut it = volumes.iter();
    let Some(handle) = it.next() else {
        return fail!("no Simple File System");
    };
    ensure!(it.next().is_none(), "more than one Simple File System");
    ensure!(
        matches!(last_node(handle), Some((4, 1, _))),
        "the file system is not on a partition"
    );
    let sfs = handle_protocol(handle, &SimpleFileSystemProtocol::GUID)
        .map_err(|s| Detail::new(format_args!("HandleProtocol(SFS) returned {s:?}")))?
        .cast::<SimpleFileSystemProtocol>();
    let mut root: *mut FileProtocolV1 = core::ptr::null_mut();
    // SAFETY: the firmware's Simple File System; valid out-pointer.
    let status = unsafe { ((*sfs).open_volume)(sfs, &mut root) };
    ensure!(
        status == Status::SUCCESS && !root.is_null(),
        "OpenVolume returned {status:?}"
    );
    let root = File(root);
    let f = root
        .open("\\EFI\\BOOT\\BOOTX64.EFI", 0x1, 0)
        .map_err(|s| Detail::new(format_args!("Open(BOOTX64.EFI) returned {s:?}")))?;
    let mut buf = [0u8; 4096];
    let (status, _) = f.get_info(&FileInfo::ID, &mut buf);
    let size = u64_at(&buf, 8);
    ensure!(
        status == Status::SUCCESS && size > 0,
        "GetInfo: {status:?}, FileSize {size}"
    );
    let mut total = 0u64;
    for _ in 0..=size / buf.len() as u64 + 1 {
        match f.read(&mut buf) {
            Ok(0) => return fail!("read all {total} bytes of a looping chain without an error"),
            Ok(n) => total += n as u64,
            Err(Status::VOLUME_CORRUPTED) => return Ok(()),
            Err(s) => return fail!("Read at {total} returned {s:?}, expected VOLUME_CORRUPTED"),
        }
    }
    fail!("{total} bytes read from a {size}-byte file with a looping chain")
}

/// The `fs-bad` checks.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    report.record(
        out,
        "fs-bad: no partitions from a disk with both GPT headers corrupt",
        check_partitions(),
    );
    report.record(
        out,
        "fs-bad: a looping cluster chain reads as VOLUME_CORRUPTED",
        check_looping_file(),
    );
}

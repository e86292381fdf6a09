//! The `fs` checks of partitions on the test disks (see the parent module for what the disks hold): handles and
//! `HD()` nodes, Partition Info, the superfloppy, disconnect and reconnect; then [`super::files`] per disk.

use core::fmt::Write;

use uefi_raw::protocol::block::BlockIoProtocol;
use uefi_raw::protocol::file_system::{FileProtocolV1, SimpleFileSystemProtocol};
use uefi_raw::{Handle, Status};

use super::files::{self, read_check};
use super::raw::{
    last_node, path_bytes, u32_at, u64_at, File, HandleList, ESP_TAG_GUID, PARTITION_INFO_GUID,
};
use crate::boot_services;
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};

const READ: u64 = 0x1;
/// First LBA of the one partition of each test disk (`xtask/src/disk.rs` `FIRST_LBA`).
const FIRST_LBA: u64 = 2048;
/// The ESP partition type GUID in its on-disk byte order.
const ESP_TYPE: [u8; 16] = [
    0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B,
];

/// One partition handle: its HD() node fields.
#[derive(Clone, Copy)]
pub(super) struct Hd {
    pub(super) handle: Handle,
    number: u32,
    start: u64,
    size: u64,
    signature: [u8; 16],
    format: u8,
    signature_type: u8,
}

/// Every Block I/O handle whose device path ends in a Hard Drive node (at most 8).
fn partitions() -> Result<([Option<Hd>; 8], usize), Detail> {
    let mut found = [None; 8];
    let mut n = 0;
    for h in HandleList::by_protocol(&BlockIoProtocol::GUID)?.iter() {
        let Some((4, 1, node)) = last_node(h) else {
            continue;
        };
        ensure!(
            node.len() == 42,
            "HD() node of {} bytes, not 42",
            node.len()
        );
        ensure!(n < 8, "more than 8 partition handles");
        let mut signature = [0u8; 16];
        signature.copy_from_slice(&node[24..40]);
        found[n] = Some(Hd {
            handle: h,
            number: u32_at(node, 4),
            start: u64_at(node, 8),
            size: u64_at(node, 16),
            signature,
            format: node[40],
            signature_type: node[41],
        });
        n += 1;
    }
    Ok((found, n))
}

/// The partition handle of format `format` (1 MBR, 2 GPT): exactly one must exist.
pub(super) fn partition(format: u8) -> Result<Hd, Detail> {
    let (all, n) = partitions()?;
    let mut it = all[..n].iter().flatten().filter(|p| p.format == format);
    let first = it.next().copied();
    ensure!(
        it.next().is_none(),
        "more than one partition of format {format}"
    );
    first.ok_or_else(|| {
        Detail::new(format_args!(
            "no partition handle with HD(...,format {format})"
        ))
    })
}

fn check_hd_node(format: u8) -> Outcome {
    let p = partition(format)?;
    ensure!(
        p.number == 1 && p.start == FIRST_LBA && p.size > 0,
        "HD({}, start {:#x}, size {:#x}), expected partition 1 at {FIRST_LBA:#x}",
        p.number,
        p.start,
        p.size
    );
    ensure!(
        p.signature_type == format,
        "SignatureType {} for format {format}",
        p.signature_type
    );
    ensure!(p.signature != [0; 16], "zero partition signature");
    let bio = handle_protocol(p.handle, &BlockIoProtocol::GUID)
        .map_err(|s| Detail::new(format_args!("HandleProtocol(Block I/O) returned {s:?}")))?
        .cast::<BlockIoProtocol>();
    // SAFETY: the firmware's Block I/O; its media pointer is valid while the protocol is installed.
    let media = unsafe { &*(*bio).media };
    ensure!(
        bool::from(media.logical_partition),
        "LogicalPartition is FALSE on a partition"
    );
    ensure!(
        media.last_block + 1 == p.size && media.block_size == 512,
        "media LastBlock {:#x} / BlockSize {} vs partition size {:#x}",
        media.last_block,
        media.block_size,
        p.size
    );
    // Read the partition's first block: a FAT boot sector.
    let mut block = [0u8; 512];
    // SAFETY: 512 bytes at `block` are ours; the media ID is the current one.
    let status =
        unsafe { ((*bio).read_blocks)(bio, media.media_id, 0, 512, block.as_mut_ptr().cast()) };
    ensure!(
        status == Status::SUCCESS,
        "ReadBlocks(LBA 0) returned {status:?}"
    );
    ensure!(
        block[510..512] == [0x55, 0xAA] && &block[82..87] == b"FAT32",
        "LBA 0 of the partition is not a FAT32 boot sector"
    );
    // Past the end of the partition.
    // SAFETY: as above.
    let status = unsafe {
        ((*bio).read_blocks)(bio, media.media_id, p.size, 512, block.as_mut_ptr().cast())
    };
    ensure!(
        status == Status::INVALID_PARAMETER,
        "ReadBlocks(LastBlock + 1) returned {status:?}"
    );
    Ok(())
}

fn check_partition_info(format: u8) -> Outcome {
    let p = partition(format)?;
    let info = handle_protocol(p.handle, &PARTITION_INFO_GUID)
        .map_err(|s| {
            Detail::new(format_args!(
                "HandleProtocol(Partition Info) returned {s:?}"
            ))
        })?
        .cast::<u8>();
    // SAFETY: EFI_PARTITION_INFO_PROTOCOL is 144 packed bytes.
    let b = unsafe { core::slice::from_raw_parts(info, 144) };
    ensure!(u32_at(b, 0) == 0x1000, "Revision {:#x}", u32_at(b, 0));
    ensure!(
        u32_at(b, 4) == u32::from(format),
        "Type {} for format {format}",
        u32_at(b, 4)
    );
    ensure!(b[8] == 1, "System is {} on an EFI system partition", b[8]);
    if format == 2 {
        let e = &b[16..144];
        ensure!(e[..16] == ESP_TYPE, "PartitionTypeGUID is not the ESP's");
        ensure!(
            e[16..32] == p.signature,
            "UniquePartitionGUID differs from the HD() signature"
        );
        ensure!(
            u64_at(e, 32) == FIRST_LBA,
            "StartingLBA {:#x}",
            u64_at(e, 32)
        );
        ensure!(
            u64_at(e, 40) == FIRST_LBA + p.size - 1,
            "EndingLBA {:#x}",
            u64_at(e, 40)
        );
    } else {
        let r = &b[16..32];
        ensure!(r[4] == 0xEF, "MBR OSType {:#x}", r[4]);
        ensure!(
            u64::from(u32_at(r, 8)) == FIRST_LBA,
            "MBR StartingLBA {:#x}",
            u32_at(r, 8)
        );
    }
    let tag = handle_protocol(p.handle, &ESP_TAG_GUID);
    ensure!(
        tag.is_ok(),
        "the ESP handle has no EFI_PART_TYPE_EFI_SYSTEM_PART_GUID ({:?})",
        tag.err()
    );
    Ok(())
}

/// The superfloppy disk: a FAT volume from LBA 0, no partition table; mounted on the whole disk.
fn check_superfloppy() -> Outcome {
    let mut found = false;
    for h in HandleList::by_protocol(&SimpleFileSystemProtocol::GUID)?.iter() {
        if matches!(last_node(h), Some((4, 1, _))) {
            continue;
        }
        let sfs = handle_protocol(h, &SimpleFileSystemProtocol::GUID)
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
        let Ok(f) = root.open("VMFW-FLOPPY.TXT", READ, 0) else {
            continue;
        };
        let text = b"vmfw fs test: superfloppy\n";
        let n = read_check(&f, 64, |i| text.get(i).copied().unwrap_or(0))?;
        ensure!(n == text.len(), "marker of {n} bytes");
        let bio = handle_protocol(h, &BlockIoProtocol::GUID)
            .map_err(|s| Detail::new(format_args!("no Block I/O beside the file system ({s:?})")))?
            .cast::<BlockIoProtocol>();
        // SAFETY: the firmware's Block I/O and its media.
        let whole_disk = unsafe { !bool::from((*(*bio).media).logical_partition) };
        ensure!(
            whole_disk,
            "the superfloppy volume sits on a logical partition"
        );
        found = true;
    }
    ensure!(
        found,
        "no file system on a whole disk holds vmfw-floppy.txt"
    );
    Ok(())
}

/// DisconnectController on the GPT disk removes its partition and file system; ConnectController brings them
/// back (the drivers' Stop and Start paths).
fn check_reconnect(format: u8) -> Outcome {
    let p = partition(format)?;
    let child_path = path_bytes(p.handle)
        .ok_or_else(|| Detail::new(format_args!("partition without a path")))?;
    let prefix = &child_path[..child_path.len() - 46];
    let disks = HandleList::by_protocol(&BlockIoProtocol::GUID)?;
    let disk = disks
        .iter()
        .find(|&h| {
            path_bytes(h).is_some_and(|b| b.len() == prefix.len() + 4 && b.starts_with(prefix))
        })
        .ok_or_else(|| Detail::new(format_args!("no Block I/O handle for the partition's disk")))?;
    // SAFETY: plain boot-services calls on a handle the firmware gave us.
    let status = unsafe {
        (boot_services().disconnect_controller)(disk, core::ptr::null_mut(), core::ptr::null_mut())
    };
    ensure!(
        status == Status::SUCCESS,
        "DisconnectController(disk) returned {status:?}"
    );
    ensure!(
        partition(format).is_err(),
        "the partition handle survived DisconnectController"
    );
    // SAFETY: as above.
    let status = unsafe {
        (boot_services().connect_controller)(
            disk,
            core::ptr::null(),
            core::ptr::null(),
            true.into(),
        )
    };
    ensure!(
        status == Status::SUCCESS,
        "ConnectController(disk) returned {status:?}"
    );
    files::check_reads(format)
}

/// A check of one disk, given its partition format (1 MBR, 2 GPT).
type Check = fn(u8) -> Outcome;

/// The `fs` checks, for the GPT then the MBR disk.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    for (format, table) in [(2u8, "gpt"), (1u8, "mbr")] {
        let checks: [(&str, Check); 7] = [
            ("partition handle and HD() node", check_hd_node),
            ("Partition Info and ESP tag", check_partition_info),
            ("reads", files::check_reads),
            ("directory reads", files::check_directory),
            ("write, SetInfo, read back, delete", files::check_write),
            ("file system info and label", files::check_fs_info),
            ("error statuses", files::check_errors),
        ];
        for (name, check) in checks {
            // The check name, formatted without a heap.
            let title = Detail::new(format_args!("fs: {table}: {name}"));
            report.record(out, title.as_str(), check(format));
        }
    }
    report.record(
        out,
        "fs: superfloppy: a FAT volume on the whole disk",
        check_superfloppy(),
    );
    report.record(
        out,
        "fs: gpt: disconnect and reconnect the disk",
        check_reconnect(2),
    );
}

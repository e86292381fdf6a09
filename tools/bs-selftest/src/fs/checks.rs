//! The `fs` checks on the two good test disks (see the parent module for what the disks hold).

use core::fmt::Write;

use uefi_raw::protocol::block::BlockIoProtocol;
use uefi_raw::protocol::file_system::{
    FileInfo, FileProtocolV1, FileSystemInfo, FileSystemVolumeLabel, SimpleFileSystemProtocol,
};
use uefi_raw::{guid, Handle, Status};

use super::raw::{
    last_node, u32_at, u64_at, ucs2_eq_ignore_case, units_at, File, HandleList, Units,
    ESP_TAG_GUID, PARTITION_INFO_GUID,
};
use super::{pattern_byte, GPT_LABEL, MBR_LABEL, PATTERN_LEN};
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome, Report};

const READ: u64 = 0x1;
const RW: u64 = 0x3;
const RWC: u64 = 0x8000_0000_0000_0003;
const ATTR_DIRECTORY: u64 = 0x10;
/// First LBA of the one partition of each test disk (`xtask/src/disk.rs` `FIRST_LBA`).
const FIRST_LBA: u64 = 2048;
/// The ESP partition type GUID in its on-disk byte order.
const ESP_TYPE: [u8; 16] = [
    0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B,
];

/// One partition handle: its HD() node fields.
#[derive(Clone, Copy)]
struct Hd {
    handle: Handle,
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
fn partition(format: u8) -> Result<Hd, Detail> {
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

/// The root of the volume on the partition of `format`.
fn root(format: u8) -> Result<File, Detail> {
    let p = partition(format)?;
    let sfs = handle_protocol(p.handle, &SimpleFileSystemProtocol::GUID)
        .map_err(|s| {
            Detail::new(format_args!(
                "no Simple File System on the partition ({s:?})"
            ))
        })?
        .cast::<SimpleFileSystemProtocol>();
    let mut root: *mut FileProtocolV1 = core::ptr::null_mut();
    // SAFETY: the firmware's Simple File System; valid out-pointer.
    let status = unsafe { ((*sfs).open_volume)(sfs, &mut root) };
    ensure!(
        status == Status::SUCCESS && !root.is_null(),
        "OpenVolume returned {status:?}"
    );
    Ok(File(root))
}

fn open(dir: &File, path: &str, mode: u64) -> Result<File, Detail> {
    dir.open(path, mode, 0)
        .map_err(|s| Detail::new(format_args!("Open({path}) returned {s:?}")))
}

/// Reads `f` to the end in chunks of `chunk` bytes, checking every byte with `expect`; returns the length.
fn read_check(f: &File, chunk: usize, expect: impl Fn(usize) -> u8) -> Result<usize, Detail> {
    let mut buf = [0u8; 4096];
    let chunk = chunk.min(buf.len());
    let mut total = 0;
    loop {
        let n = f
            .read(&mut buf[..chunk])
            .map_err(|s| Detail::new(format_args!("Read at {total} returned {s:?}")))?;
        if n == 0 {
            return Ok(total);
        }
        if let Some(i) = (0..n).find(|&i| buf[i] != expect(total + i)) {
            return fail!(
                "byte {} reads {:#x}, expected {:#x}",
                total + i,
                buf[i],
                expect(total + i)
            );
        }
        total += n;
        ensure!(total <= 16 << 20, "file longer than 16 MiB");
    }
}

fn check_reads(format: u8) -> Outcome {
    let root = root(format)?;
    let (marker, text): (&str, &[u8]) = if format == 2 {
        ("vmfw-gpt.txt", b"vmfw fs test: gpt\n")
    } else {
        ("vmfw-mbr.txt", b"vmfw fs test: mbr\n")
    };
    let f = open(&root, marker, READ)?;
    let n = read_check(&f, 5, |i| text.get(i).copied().unwrap_or(0))?;
    ensure!(n == text.len(), "{marker}: {n} bytes");
    let p = open(&root, "\\DATA\\PATTERN.BIN", READ)?;
    let n = read_check(&p, 4093, pattern_byte)?;
    ensure!(
        n == PATTERN_LEN,
        "pattern.bin: {n} bytes, expected {PATTERN_LEN}"
    );
    let long = open(&root, "data\\a file with a LONG name.TXT", READ)?;
    read_check(&long, 100, |i| b"long name\n".get(i).copied().unwrap_or(0))?;
    let data = open(&root, "data", READ)?;
    let again = open(&data, "..\\data\\.\\A file with a long name.txt", READ)?;
    let n = read_check(&again, 3, |i| b"long name\n".get(i).copied().unwrap_or(0))?;
    ensure!(n == 10, "relative open read {n} bytes");
    Ok(())
}

fn check_directory(format: u8) -> Outcome {
    let root = root(format)?;
    let data = open(&root, "\\data", READ)?;
    let mut buf = [0u8; 1024];
    let (status, size) = data.get_info(&FileInfo::ID, &mut buf);
    ensure!(
        status == Status::SUCCESS,
        "GetInfo(FILE_INFO) on a directory returned {status:?}"
    );
    ensure!(
        u64_at(&buf, 72) & ATTR_DIRECTORY != 0 && size > 80,
        "directory attribute missing"
    );
    let (status, needed) = data.read_raw(&mut []);
    ensure!(
        status == Status::BUFFER_TOO_SMALL && needed > 80,
        "Read with a 0-byte buffer returned {status:?}, size {needed}"
    );
    let (mut pattern, mut long, mut entries) = (false, false, 0);
    let mut name = [0u16; 64];
    loop {
        let n = data
            .read(&mut buf)
            .map_err(|s| Detail::new(format_args!("directory Read returned {s:?}")))?;
        if n == 0 {
            break;
        }
        entries += 1;
        ensure!(
            entries < 16 && u64_at(&buf, 0) == n as u64,
            "entry {entries}: Size {} vs {n}",
            u64_at(&buf, 0)
        );
        units_at(&buf[..n], 80, &mut name);
        if ucs2_eq_ignore_case(&name, "pattern.bin") {
            pattern = true;
            ensure!(
                u64_at(&buf, 8) == PATTERN_LEN as u64,
                "pattern.bin FileSize {}",
                u64_at(&buf, 8)
            );
        } else if ucs2_eq_ignore_case(&name, "A file with a long name.txt") {
            long = true;
        } else {
            ensure!(
                ucs2_eq_ignore_case(&name, ".") || ucs2_eq_ignore_case(&name, ".."),
                "unexpected entry {}",
                Units(&name)
            );
        }
    }
    ensure!(
        pattern && long,
        "listing lacks pattern.bin ({pattern}) or the long name ({long})"
    );
    ensure!(
        data.position() == Err(Status::UNSUPPORTED),
        "GetPosition on a directory did not return UNSUPPORTED"
    );
    ensure!(
        data.set_position(0) == Status::SUCCESS,
        "SetPosition(0) on a directory failed"
    );
    ensure!(
        data.read(&mut buf).is_ok_and(|n| n > 80),
        "no entry after SetPosition(0)"
    );
    Ok(())
}

fn check_write(format: u8) -> Outcome {
    const LEN: usize = 10_000;
    const PATH: &str = "\\data\\written by selftest.bin";
    let root = root(format)?;
    let expect = |i: usize| pattern_byte(i + 7);
    {
        let f = open(&root, PATH, RWC)?;
        let mut chunk = [0u8; 1000];
        for start in (0..LEN).step_by(chunk.len()) {
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = expect(start + i);
            }
            let n = f
                .write(&chunk)
                .map_err(|s| Detail::new(format_args!("Write returned {s:?}")))?;
            ensure!(n == chunk.len(), "Write wrote {n} bytes");
        }
        ensure!(
            f.position() == Ok(LEN as u64),
            "position after writing: {:?}",
            f.position()
        );
    }
    let f = open(&root, PATH, READ)?;
    let mut buf = [0u8; 200];
    let (status, _) = f.get_info(&FileInfo::ID, &mut buf);
    ensure!(
        status == Status::SUCCESS && u64_at(&buf, 8) == LEN as u64,
        "GetInfo: {status:?}, FileSize {}",
        u64_at(&buf, 8)
    );
    ensure!(
        read_check(&f, 777, expect)? == LEN,
        "read back a different length"
    );
    ensure!(
        f.set_position(u64::MAX) == Status::SUCCESS,
        "SetPosition(end) failed"
    );
    ensure!(
        f.position() == Ok(LEN as u64),
        "SetPosition(end) gave {:?}",
        f.position()
    );
    ensure!(
        f.read(&mut buf) == Ok(0),
        "read at the end did not return 0 bytes"
    );
    ensure!(
        f.write(b"x") == Err(Status::ACCESS_DENIED),
        "Write through a read-only handle: {:?}",
        f.write(b"x")
    );
    drop(f);
    let f = open(&root, PATH, RW)?;
    let status = f.delete();
    ensure!(status == Status::SUCCESS, "Delete returned {status:?}");
    ensure!(
        root.open(PATH, READ, 0).err() == Some(Status::NOT_FOUND),
        "the deleted file still opens"
    );
    Ok(())
}

fn check_fs_info(format: u8) -> Outcome {
    let label = if format == 2 { GPT_LABEL } else { MBR_LABEL };
    let root = root(format)?;
    let (status, needed) = root.get_info(&FileSystemInfo::ID, &mut []);
    ensure!(
        status == Status::BUFFER_TOO_SMALL && needed >= 36 + 2 * (label.len() + 1),
        "GetInfo(FILE_SYSTEM_INFO, 0 bytes): {status:?}, {needed}"
    );
    let mut buf = [0u8; 256];
    let (status, n) = root.get_info(&FileSystemInfo::ID, &mut buf);
    ensure!(
        status == Status::SUCCESS && u64_at(&buf, 0) == n as u64,
        "GetInfo(FILE_SYSTEM_INFO): {status:?}, Size {} vs {n}",
        u64_at(&buf, 0)
    );
    let (volume, free, block) = (u64_at(&buf, 16), u64_at(&buf, 24), u32_at(&buf, 32));
    ensure!(buf[8] == 0, "ReadOnly set on a writable disk");
    ensure!(
        volume > 32 << 20 && free > 0 && free < volume && block >= 512,
        "VolumeSize {volume}, FreeSpace {free}, BlockSize {block}"
    );
    let mut name = [0u16; 64];
    units_at(&buf[..n], 36, &mut name);
    ensure!(
        ucs2_eq_ignore_case(&name, label),
        "VolumeLabel is not {label}"
    );
    let (status, n) = root.get_info(&FileSystemVolumeLabel::ID, &mut buf);
    ensure!(
        status == Status::SUCCESS,
        "GetInfo(VOLUME_LABEL) returned {status:?}"
    );
    units_at(&buf[..n], 0, &mut name);
    ensure!(
        ucs2_eq_ignore_case(&name, label),
        "FILE_SYSTEM_VOLUME_LABEL is not {label}"
    );
    Ok(())
}

fn check_errors(format: u8) -> Outcome {
    let root = root(format)?;
    let e = root.open("\\no such file.txt", READ, 0).err();
    ensure!(e == Some(Status::NOT_FOUND), "missing file: {e:?}");
    let e = root.open("data\\pattern.bin\\below a file", READ, 0).err();
    ensure!(e == Some(Status::NOT_FOUND), "path through a file: {e:?}");
    let e = root.open("data", 0x2, 0).err();
    ensure!(
        e == Some(Status::INVALID_PARAMETER),
        "mode WRITE without READ: {e:?}"
    );
    let unknown = guid!("0f7e1d4c-8a52-4b3e-9d61-2a4c6e8f1bff");
    let (status, _) = root.get_info(&unknown, &mut [0u8; 64]);
    ensure!(
        status == Status::UNSUPPORTED,
        "GetInfo(unknown GUID) returned {status:?}"
    );
    let status = root.set_position(5);
    ensure!(
        status == Status::UNSUPPORTED,
        "SetPosition(5) on a directory returned {status:?}"
    );
    let f = open(&root, "data\\pattern.bin", READ)?;
    ensure!(
        f.set_position(PATTERN_LEN as u64 + 1) == Status::SUCCESS,
        "SetPosition past the end failed"
    );
    let r = f.read(&mut [0u8; 8]);
    ensure!(r == Err(Status::DEVICE_ERROR), "Read past the end: {r:?}");
    Ok(())
}

/// A check of one disk, given its partition format (1 MBR, 2 GPT).
type Check = fn(u8) -> Outcome;

/// The `fs` checks, for the GPT then the MBR disk.
pub fn run(report: &mut Report, out: &mut dyn Write) {
    for (format, table) in [(2u8, "gpt"), (1u8, "mbr")] {
        let checks: [(&str, Check); 7] = [
            ("partition handle and HD() node", check_hd_node),
            ("Partition Info and ESP tag", check_partition_info),
            ("reads", check_reads),
            ("directory reads", check_directory),
            ("write, read back, delete", check_write),
            ("file system info and label", check_fs_info),
            ("error statuses", check_errors),
        ];
        for (name, check) in checks {
            // The check name, formatted without a heap.
            let title = Detail::new(format_args!("fs: {table}: {name}"));
            report.record(out, title.as_str(), check(format));
        }
    }
}

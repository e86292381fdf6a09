//! The `fs` checks of files and directories on the GPT and MBR test disks: reads, directory listings, a write
//! read back and deleted, file system information and the error statuses.

use uefi_raw::protocol::file_system::{
    FileInfo, FileProtocolV1, FileSystemInfo, FileSystemVolumeLabel, SimpleFileSystemProtocol,
};
use uefi_raw::{guid, Status};

use super::checks::partition;
use super::raw::{u32_at, u64_at, ucs2_eq_ignore_case, units_at, File, Units};
use super::{pattern_byte, GPT_LABEL, MBR_LABEL, PATTERN_LEN};
use crate::protocols::handle_protocol;
use crate::report::{Detail, Outcome};

const READ: u64 = 0x1;
const RW: u64 = 0x3;
const RWC: u64 = 0x8000_0000_0000_0003;
const ATTR_DIRECTORY: u64 = 0x10;

/// The root of the volume on the partition of `format`.
pub(super) fn root(format: u8) -> Result<File, Detail> {
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

pub(super) fn open(dir: &File, path: &str, mode: u64) -> Result<File, Detail> {
    dir.open(path, mode, 0)
        .map_err(|s| Detail::new(format_args!("Open({path}) returned {s:?}")))
}

/// Reads `f` to the end in chunks of `chunk` bytes, checking every byte with `expect`; returns the length.
pub(super) fn read_check(
    f: &File,
    chunk: usize,
    expect: impl Fn(usize) -> u8,
) -> Result<usize, Detail> {
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

pub(super) fn check_reads(format: u8) -> Outcome {
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

pub(super) fn check_directory(format: u8) -> Outcome {
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

pub(super) fn check_write(format: u8) -> Outcome {
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
    set_info_rename_truncate(&f)?;
    drop(f);
    ensure!(
        root.open(PATH, READ, 0).err() == Some(Status::NOT_FOUND),
        "the old name still opens after the rename"
    );
    let f = open(&root, RENAMED, READ)?;
    ensure!(
        read_check(&f, 1000, expect)? == TRUNCATED,
        "the renamed file does not read back {TRUNCATED} bytes"
    );
    drop(f);
    let f = open(&root, RENAMED, RW)?;
    let status = f.delete();
    ensure!(status == Status::SUCCESS, "Delete returned {status:?}");
    ensure!(
        root.open(RENAMED, READ, 0).err() == Some(Status::NOT_FOUND),
        "the deleted file still opens"
    );
    Ok(())
}

/// The name [`check_write`]'s file gets through SetInfo, and the size it is truncated to.
const RENAMED: &str = "\\data\\renamed by selftest.bin";
const TRUNCATED: usize = 4000;

/// SetInfo(EFI_FILE_INFO) on an open file: a short buffer is BAD_BUFFER_SIZE; then one call truncates it to
/// [`TRUNCATED`] bytes and renames it to the last component of [`RENAMED`].
fn set_info_rename_truncate(f: &File) -> Outcome {
    let mut buf = [0u8; 300];
    let (status, n) = f.get_info(&FileInfo::ID, &mut buf);
    ensure!(status == Status::SUCCESS, "GetInfo returned {status:?}");
    let status = f.set_info(&FileInfo::ID, &buf[..40]);
    ensure!(
        status == Status::BAD_BUFFER_SIZE,
        "SetInfo with 40 bytes returned {status:?}"
    );
    ensure!(n >= 82, "FILE_INFO of {n} bytes");
    let name = "renamed by selftest.bin";
    let size = 80 + 2 * (name.len() + 1);
    buf[0..8].copy_from_slice(&(size as u64).to_le_bytes());
    buf[8..16].copy_from_slice(&(TRUNCATED as u64).to_le_bytes());
    for (i, u) in name.encode_utf16().chain([0]).enumerate() {
        buf[80 + 2 * i..82 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    let status = f.set_info(&FileInfo::ID, &buf[..size]);
    ensure!(
        status == Status::SUCCESS,
        "SetInfo(rename, truncate) returned {status:?}"
    );
    let (status, _) = f.get_info(&FileInfo::ID, &mut buf);
    let mut units = [0u16; 64];
    units_at(&buf, 80, &mut units);
    ensure!(
        status == Status::SUCCESS
            && u64_at(&buf, 8) == TRUNCATED as u64
            && ucs2_eq_ignore_case(&units, name),
        "after SetInfo: {status:?}, FileSize {}, name {}",
        u64_at(&buf, 8),
        Units(&units)
    );
    Ok(())
}

pub(super) fn check_fs_info(format: u8) -> Outcome {
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

pub(super) fn check_errors(format: u8) -> Outcome {
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

//! Test disks without root: a FAT file system made by `mkfs.fat` and filled by mtools, placed in a GPT or MBR
//! partition table written here.
//!
//! GPT layout (UEFI 2.10 section 5.3): protective MBR at LBA 0, primary header at LBA 1, 128 entries of 128 bytes
//! at LBA 2..34, the partition from LBA 2048 (1 MiB aligned), the backup entries and the backup header at the end.
//! Sectors are 512 bytes. Everything is deterministic: GUIDs derive from the disk's name, so the same inputs make
//! the same bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bytes per sector.
pub const SECTOR: u64 = 512;
/// First LBA of the one partition.
pub const FIRST_LBA: u64 = 2048;
/// GPT partition type of the EFI system partition (UEFI 2.10 table 5-7).
pub const ESP_TYPE: [u8; 16] = guid_bytes(
    0xC12A7328,
    0xF81F,
    0x11D2,
    [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
);
const ENTRIES: u64 = 128;
const ENTRY_SIZE: u64 = 128;
const ENTRY_SECTORS: u64 = ENTRIES * ENTRY_SIZE / SECTOR;

/// What a file on the test file system holds.
pub enum Content {
    /// A file of the host, copied.
    File(PathBuf),
    /// Bytes given here.
    Bytes(Vec<u8>),
}

/// A file to put on the file system: its path with `/` separators (e.g. `EFI/BOOT/BOOTX64.EFI`) and content.
pub struct Entry {
    /// Path inside the file system, without a leading separator.
    pub path: String,
    /// What it holds.
    pub content: Content,
}

impl Entry {
    /// A host file copied to `path`.
    pub fn file(path: &str, source: &Path) -> Entry {
        Entry {
            path: path.to_string(),
            content: Content::File(source.to_path_buf()),
        }
    }

    /// `bytes` stored at `path`.
    pub fn bytes(path: &str, bytes: impl Into<Vec<u8>>) -> Entry {
        Entry {
            path: path.to_string(),
            content: Content::Bytes(bytes.into()),
        }
    }
}

/// The partition table around the file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// GPT with the partition typed as an EFI system partition.
    Gpt,
    /// MBR with one partition of type 0xEF (EFI system partition).
    Mbr,
}

const fn guid_bytes(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// A deterministic version-4-shaped GUID derived from `seed` (FNV-1a, expanded).
pub fn seeded_guid(seed: &str) -> [u8; 16] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = [0u8; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        for b in seed.bytes().chain([i as u8]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        *slot = (hash >> 24) as u8;
    }
    out[7] = (out[7] & 0x0f) | 0x40;
    out[8] = (out[8] & 0x3f) | 0x80;
    out
}

/// CRC-32 (IEEE 802.3, reflected), as GPT headers use.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Makes a FAT32 file system image `out` holding `entries`, sized to fit them (at least 64 MiB, so FAT32 has
/// enough clusters).
pub fn fat_image(out: &Path, label: &str, entries: &[Entry]) -> Result<u64, String> {
    let dir = out.with_extension("d");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut payload = 0u64;
    let mut sources = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let source = match &entry.content {
            Content::File(path) => path.clone(),
            Content::Bytes(bytes) => {
                let path = dir.join(format!("entry{i}"));
                fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                path
            }
        };
        payload += fs::metadata(&source)
            .map_err(|e| format!("{}: {e}", source.display()))?
            .len();
        sources.push(source);
    }
    let mib = (payload * 5 / 4 / (1 << 20) + 16).max(64);
    let _ = fs::remove_file(out);
    let out_str = out.to_str().ok_or("non-UTF-8 path")?;
    run(
        "mkfs.fat",
        &[
            "-F",
            "32",
            "-n",
            label,
            "-C",
            out_str,
            &(mib * 1024).to_string(),
        ],
    )?;
    let mut made = std::collections::BTreeSet::new();
    for (entry, source) in entries.iter().zip(&sources) {
        let parts: Vec<&str> = entry.path.split('/').collect();
        for depth in 1..parts.len() {
            let dir = parts[..depth].join("/");
            if made.insert(dir.clone()) {
                run("mmd", &["-D", "s", "-i", out_str, &format!("::/{dir}")])?;
            }
        }
        let source = source.to_str().ok_or("non-UTF-8 path")?;
        run(
            "mcopy",
            &["-o", "-i", out_str, source, &format!("::/{}", entry.path)],
        )?;
    }
    let _ = fs::remove_dir_all(&dir);
    Ok(mib << 20)
}

fn header(disk_guid: &[u8; 16], entries_crc: u32, last_lba: u64, backup: bool) -> Vec<u8> {
    let (my_lba, alternate, entries_lba) = if backup {
        (last_lba, 1, last_lba - ENTRY_SECTORS)
    } else {
        (1, last_lba, 2)
    };
    let mut h = vec![0u8; SECTOR as usize];
    h[0..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&my_lba.to_le_bytes());
    h[32..40].copy_from_slice(&alternate.to_le_bytes());
    h[40..48].copy_from_slice(&(2 + ENTRY_SECTORS).to_le_bytes());
    h[48..56].copy_from_slice(&(last_lba - ENTRY_SECTORS - 1).to_le_bytes());
    h[56..72].copy_from_slice(disk_guid);
    h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
    h[80..84].copy_from_slice(&(ENTRIES as u32).to_le_bytes());
    h[84..88].copy_from_slice(&(ENTRY_SIZE as u32).to_le_bytes());
    h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
    let crc = crc32(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Writes a disk image `out` whose one partition holds `fs_image` (a file system image whose length is a multiple
/// of the sector size): GPT (typed as an EFI system partition) or MBR (type 0xEF). Returns the disk's size.
pub fn partitioned(out: &Path, name: &str, table: Table, fs_image: &Path) -> Result<u64, String> {
    let part = fs::read(fs_image).map_err(|e| format!("{}: {e}", fs_image.display()))?;
    let part_sectors = (part.len() as u64).div_ceil(SECTOR);
    let total = FIRST_LBA + part_sectors + FIRST_LBA;
    let last_lba = total - 1;
    let part_last = FIRST_LBA + part_sectors - 1;
    let mut disk = vec![0u8; (total * SECTOR) as usize];
    // MBR: one entry; 0xEE (protective) for GPT.
    let mbr_entry = &mut disk[446..462];
    let (kind, first, count) = match table {
        Table::Gpt => (0xEE, 1u64, last_lba.min(u64::from(u32::MAX))),
        Table::Mbr => (0xEF, FIRST_LBA, part_sectors),
    };
    mbr_entry[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
    mbr_entry[4] = kind;
    mbr_entry[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    mbr_entry[8..12].copy_from_slice(&(first as u32).to_le_bytes());
    mbr_entry[12..16].copy_from_slice(&(count as u32).to_le_bytes());
    disk[440..444].copy_from_slice(&seeded_guid(name)[..4]);
    disk[510] = 0x55;
    disk[511] = 0xAA;
    if table == Table::Gpt {
        let mut entries = vec![0u8; (ENTRIES * ENTRY_SIZE) as usize];
        entries[0..16].copy_from_slice(&ESP_TYPE);
        entries[16..32].copy_from_slice(&seeded_guid(&format!("{name}/part1")));
        entries[32..40].copy_from_slice(&FIRST_LBA.to_le_bytes());
        entries[40..48].copy_from_slice(&part_last.to_le_bytes());
        for (i, unit) in "EFI system partition".encode_utf16().enumerate() {
            entries[56 + 2 * i..58 + 2 * i].copy_from_slice(&unit.to_le_bytes());
        }
        let entries_crc = crc32(&entries);
        let disk_guid = seeded_guid(name);
        let at = |lba: u64| (lba * SECTOR) as usize;
        disk[at(1)..at(2)].copy_from_slice(&header(&disk_guid, entries_crc, last_lba, false));
        disk[at(2)..at(2 + ENTRY_SECTORS)].copy_from_slice(&entries);
        let backup_entries = last_lba - ENTRY_SECTORS;
        disk[at(backup_entries)..at(last_lba)].copy_from_slice(&entries);
        disk[at(last_lba)..at(last_lba + 1)].copy_from_slice(&header(
            &disk_guid,
            entries_crc,
            last_lba,
            true,
        ));
    }
    let start = (FIRST_LBA * SECTOR) as usize;
    disk[start..start + part.len()].copy_from_slice(&part);
    fs::write(out, &disk).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(disk.len() as u64)
}

/// A GPT disk whose EFI system partition (FAT32) holds `entries`: the usual shape of a bootable disk.
pub fn esp_disk(out: &Path, name: &str, entries: &[Entry]) -> Result<(), String> {
    let fs_image = out.with_extension("fat");
    fat_image(&fs_image, "ESP", entries)?;
    partitioned(out, name, Table::Gpt, &fs_image)?;
    fs::remove_file(&fs_image).map_err(|e| format!("{}: {e}", fs_image.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn esp_type_guid_has_the_mixed_endian_layout() {
        assert_eq!(&ESP_TYPE[..4], &[0x28, 0x73, 0x2A, 0xC1]);
        assert_eq!(
            &ESP_TYPE[8..],
            &[0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B]
        );
    }

    #[test]
    fn seeded_guids_differ_by_seed_and_repeat_for_one() {
        assert_eq!(seeded_guid("a"), seeded_guid("a"));
        assert_ne!(seeded_guid("a"), seeded_guid("b"));
        assert_eq!(seeded_guid("a")[7] >> 4, 4);
    }

    #[test]
    fn gpt_headers_checksum_and_point_at_each_other() {
        let dir = std::env::temp_dir().join(format!("vmfw-disk-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fs_image = dir.join("fs.img");
        fs::write(&fs_image, vec![0xA5u8; 64 * 1024]).unwrap();
        let disk = dir.join("disk.img");
        let size = partitioned(&disk, "t", Table::Gpt, &fs_image).unwrap();
        let bytes = fs::read(&disk).unwrap();
        assert_eq!(bytes.len() as u64, size);
        let last = size / SECTOR - 1;
        for (lba, other) in [(1u64, last), (last, 1u64)] {
            let h = &bytes[(lba * SECTOR) as usize..][..92];
            assert_eq!(&h[..8], b"EFI PART");
            let mut copy = h.to_vec();
            copy[16..20].fill(0);
            assert_eq!(
                crc32(&copy),
                u32::from_le_bytes(h[16..20].try_into().unwrap())
            );
            assert_eq!(u64::from_le_bytes(h[24..32].try_into().unwrap()), lba);
            assert_eq!(u64::from_le_bytes(h[32..40].try_into().unwrap()), other);
        }
        assert_eq!(bytes[(FIRST_LBA * SECTOR) as usize], 0xA5);
        assert_eq!(&bytes[510..512], &[0x55, 0xAA]);
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! Disks that are broken on purpose, for the tests that a firmware reports bad input clearly and moves on:
//! [`corrupt_gpt_disk`] (both GPT headers invalid) and [`looping_fat_disk`] (the loader's FAT cluster chain
//! loops). Both start from a good disk made by `crate::disk` and patch its bytes; the patches are located with
//! `crates/storage`'s own readers, so they hit exactly the structures they mean to break.

use std::fs;
use std::path::Path;

use storage::block::MemDisk;
use storage::fat::{FatFs, FatType};
use storage::partition::{read_partition_table, PartitionError};

use crate::disk::{self, Entry, Table, SECTOR};

/// Path of the loader the boot manager looks for on removable media.
pub const BOOTX64: &str = "EFI/BOOT/BOOTX64.EFI";

/// Writes `out`: a GPT disk (one FAT32 EFI system partition holding `\vmfw-corrupt-gpt.txt`) whose primary
/// header fails its CRC (a changed `FirstUsableLBA`) and whose backup header is valid but points at an entry
/// array that fails its CRC. No partition can be trusted, so a firmware must find none and say why.
///
/// Errors: building the file system (mkfs.fat/mtools) or writing `out` failed, or the result is not rejected
/// by `storage::partition` (a self-check).
pub fn corrupt_gpt_disk(out: &Path) -> Result<(), String> {
    let fat = out.with_extension("fat");
    disk::fat_image(
        &fat,
        "CORRUPT",
        &[Entry::bytes(
            "vmfw-corrupt-gpt.txt",
            "both GPT headers are corrupt\n",
        )],
    )?;
    disk::partitioned(out, "corrupt-gpt", Table::Gpt, &fat)?;
    let _ = fs::remove_file(&fat);
    let mut bytes = fs::read(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let last = bytes.len() as u64 / SECTOR - 1;
    // Primary header: FirstUsableLBA (offset 40) changed, CRC left stale.
    bytes[SECTOR as usize + 40] ^= 0x01;
    // Backup entry array (the 32 sectors before the backup header): the first entry's name changed.
    let backup_entries = ((last - 32) * SECTOR) as usize;
    bytes[backup_entries + 56] ^= 0x20;
    match read_partition_table(
        &mut MemDisk::from_vec(SECTOR as u32, bytes.clone()).map_err(|e| format!("{e:?}"))?,
    ) {
        Err(PartitionError::GptInvalid { .. }) => {}
        other => {
            return Err(format!(
                "corrupt_gpt_disk: the damage was not detected: {other:?}"
            ))
        }
    }
    fs::write(out, &bytes).map_err(|e| format!("{}: {e}", out.display()))
}

/// Writes `out`: a GPT disk whose FAT32 EFI system partition holds `bootx64` as `\EFI\BOOT\BOOTX64.EFI`, with the
/// file's cluster chain looping: the FAT entry of its second cluster points back to its first (a file of one
/// cluster points to itself), in every FAT copy. Directory entries stay intact, so the file opens and shows its
/// size; reading it must fail instead of spinning.
///
/// Errors: building the disk failed, `bootx64` cannot be read, or the file system cannot be read back to find
/// the chain.
pub fn looping_fat_disk(out: &Path, bootx64: &Path) -> Result<(), String> {
    let fat = out.with_extension("fat");
    disk::fat_image(&fat, "LOOPING", &[Entry::file(BOOTX64, bootx64)])?;
    let mut image = fs::read(&fat).map_err(|e| format!("{}: {e}", fat.display()))?;
    make_chain_loop(&mut image, &format!("\\{}", BOOTX64.replace('/', "\\")))?;
    fs::write(&fat, &image).map_err(|e| format!("{}: {e}", fat.display()))?;
    disk::partitioned(out, "looping-fat", Table::Gpt, &fat)?;
    let _ = fs::remove_file(&fat);
    Ok(())
}

/// Makes the cluster chain of `path` in the FAT volume `image` loop back to its first cluster.
fn make_chain_loop(image: &mut [u8], path: &str) -> Result<(), String> {
    let dev = MemDisk::from_vec(SECTOR as u32, image.to_vec()).map_err(|e| format!("{e:?}"))?;
    let mut fs = FatFs::mount(dev).map_err(|e| format!("mounting the image: {e}"))?;
    let file = fs.open(path).map_err(|e| format!("{path}: {e}"))?;
    let bpb = *fs.bpb();
    if bpb.fat_type != FatType::Fat32 {
        return Err(format!("expected FAT32, found {:?}", bpb.fat_type));
    }
    let first = file.first_cluster;
    if !bpb.is_data_cluster(first) {
        return Err(format!(
            "{path}: first cluster {first} is not a data cluster"
        ));
    }
    let entry_at = |fat: u8, cluster: u32| (bpb.fat_offset(fat) + 4 * cluster as u64) as usize;
    let read = |image: &[u8], cluster: u32| {
        let at = entry_at(0, cluster);
        u32::from_le_bytes(image[at..at + 4].try_into().expect("4 bytes")) & 0x0FFF_FFFF
    };
    let second = read(image, first);
    let from = if bpb.is_data_cluster(second) {
        second
    } else {
        first
    };
    for fat in 0..bpb.num_fats {
        let at = entry_at(fat, from);
        image[at..at + 4].copy_from_slice(&first.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::fat::FatError;

    fn have_tools() -> bool {
        ["/usr/sbin/mkfs.fat", "/usr/bin/mcopy"]
            .iter()
            .all(|p| Path::new(p).exists())
    }

    #[test]
    fn the_loop_is_found_by_the_reader_and_the_gpt_damage_is_found() {
        if !have_tools() {
            eprintln!("skipping: mkfs.fat/mtools not installed");
            return;
        }
        let dir = std::env::temp_dir().join(format!("vmfw-bad-disks-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let loader = dir.join("loader.bin");
        fs::write(&loader, vec![0x5Au8; 20_000]).unwrap();
        let looping = dir.join("looping.img");
        looping_fat_disk(&looping, &loader).unwrap();
        let bytes = fs::read(&looping).unwrap();
        let part = &bytes[(disk::FIRST_LBA * SECTOR) as usize..];
        let part_len = part.len() - (disk::FIRST_LBA * SECTOR) as usize;
        let dev = MemDisk::from_vec(512, part[..part_len].to_vec()).unwrap();
        let mut fs = FatFs::mount(dev).unwrap();
        assert!(matches!(
            fs.read_to_vec("\\EFI\\BOOT\\BOOTX64.EFI"),
            Err(FatError::CorruptChain { .. })
        ));
        let corrupt = dir.join("corrupt.img");
        corrupt_gpt_disk(&corrupt).unwrap();
        let mut d = MemDisk::from_vec(512, fs::read(&corrupt).unwrap()).unwrap();
        assert!(matches!(
            read_partition_table(&mut d),
            Err(PartitionError::GptInvalid { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}

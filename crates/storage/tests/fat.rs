mod common;

use common::*;
use storage::block::{BlockWindow, MemDisk};
use storage::fat::{BpbError, DateTime, FatError, FatFs, FatType};

const KINDS: [(Kind, FatType); 3] = [
    (Kind::Fat12, FatType::Fat12),
    (Kind::Fat16, FatType::Fat16),
    (Kind::Fat32, FatType::Fat32),
];

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

const LONG: &str = "A rather long file name, with spaces & Ünïcode.data";

/// Builds the standard tree on a fresh volume; returns the disk.
fn populate(kind: Kind) -> MemDisk {
    let mut fs = FatFs::mount(disk(small(kind))).unwrap();
    fs.set_time(DateTime {
        year: 2025,
        month: 6,
        day: 7,
        hour: 8,
        minute: 9,
        second: 10,
        millisecond: 0,
    });
    fs.create_dir("\\EFI").unwrap();
    fs.create_dir("/EFI/BOOT").unwrap();
    fs.create_dir("\\EFI\\BOOT\\Nested directory with a long name")
        .unwrap();
    let mut f = fs.create_file("\\EFI\\BOOT\\BOOTX64.EFI").unwrap();
    fs.write_at(&mut f, 0, &pattern(5000, 1)).unwrap();
    let mut g = fs
        .create_file(&format!(
            "\\EFI\\BOOT\\Nested directory with a long name\\{LONG}"
        ))
        .unwrap();
    fs.write_at(&mut g, 0, &pattern(1234, 2)).unwrap();
    fs.flush().unwrap();
    fs.into_inner()
}

#[test]
fn create_nested_and_read_back_all_types() {
    for (kind, ty) in KINDS {
        let d = populate(kind);
        let mut fs = FatFs::mount(d).unwrap();
        assert_eq!(fs.fat_type(), ty);
        for p in [
            "\\EFI\\BOOT\\BOOTX64.EFI",
            "/efi/boot/bootx64.efi",
            "efi//Boot/./BootX64.Efi",
            "\\EFI\\BOOT\\..\\BOOT\\BOOTX64.EFI",
        ] {
            assert_eq!(fs.read_to_vec(p).unwrap(), pattern(5000, 1), "{kind:?} {p}");
        }
        let long_path = format!(
            "\\efi\\boot\\NESTED DIRECTORY WITH A LONG NAME\\{}",
            LONG.to_uppercase()
        );
        assert_eq!(fs.read_to_vec(&long_path).unwrap(), pattern(1234, 2));
        let f = fs.open(&long_path).unwrap();
        assert_eq!(f.name, LONG);
        assert_eq!(f.size, 1234);
        assert_eq!(f.modified.year, 2025);
        assert_eq!(
            (
                f.modified.month,
                f.modified.day,
                f.modified.hour,
                f.modified.minute,
                f.modified.second
            ),
            (6, 7, 8, 9, 10)
        );
        assert!(f.matches(&f.short_name_string()));
        // Listing.
        let boot = fs.open("\\EFI\\BOOT").unwrap();
        assert!(boot.is_dir());
        let names: Vec<String> = fs
            .read_dir(&boot)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                ".",
                "..",
                "Nested directory with a long name",
                "BOOTX64.EFI"
            ]
        );
        // Partial reads at offsets.
        let boot_efi = fs.open("\\EFI\\BOOT\\BOOTX64.EFI").unwrap();
        let mut buf = [0u8; 700];
        assert_eq!(fs.read_at(&boot_efi, 4500, &mut buf).unwrap(), 500);
        assert_eq!(buf[..500], pattern(5000, 1)[4500..]);
        assert_eq!(fs.read_at(&boot_efi, 5000, &mut buf).unwrap(), 0);
        assert_eq!(fs.read_at(&boot_efi, 511, &mut buf[..3]).unwrap(), 3);
        assert_eq!(buf[..3], pattern(5000, 1)[511..514]);
        // Errors.
        assert_eq!(fs.open("\\EFI\\MISSING").unwrap_err(), FatError::NotFound);
        assert_eq!(
            fs.open("\\EFI\\BOOT\\BOOTX64.EFI\\X").unwrap_err(),
            FatError::NotADirectory
        );
        assert_eq!(fs.open("\\..").unwrap_err(), FatError::NotFound);
        assert_eq!(fs.read_to_vec("\\EFI").unwrap_err(), FatError::IsADirectory);
        assert_eq!(
            fs.create_file("\\efi\\boot\\bootx64.efi").unwrap_err(),
            FatError::AlreadyExists
        );
        assert_eq!(
            fs.create_file("\\EFI\\bad|name").unwrap_err(),
            FatError::InvalidName
        );
        assert_eq!(fs.create_file("\\NOPE\\X").unwrap_err(), FatError::NotFound);
        assert!(fs.open("\\").unwrap().is_root());
    }
}

#[test]
fn write_extend_truncate_delete() {
    for (kind, _) in KINDS {
        let mut fs = FatFs::mount(disk(small(kind))).unwrap();
        let free0 = fs.free_clusters().unwrap();
        let mut f = fs.create_file("\\data.bin").unwrap();
        fs.write_at(&mut f, 0, b"hello").unwrap();
        fs.write_at(&mut f, 3000, b"world").unwrap(); // gap is zero-filled
        let mut expect = vec![0u8; 3005];
        expect[..5].copy_from_slice(b"hello");
        expect[3000..].copy_from_slice(b"world");
        assert_eq!(fs.read_to_vec("\\DATA.BIN").unwrap(), expect);
        assert_eq!(fs.free_clusters().unwrap(), free0 - 6);
        fs.write_at(&mut f, 2, b"XY").unwrap(); // overwrite in place
        expect[2..4].copy_from_slice(b"XY");
        assert_eq!(fs.read_to_vec("\\data.bin").unwrap(), expect);
        fs.set_len(&mut f, 600).unwrap();
        assert_eq!(fs.free_clusters().unwrap(), free0 - 2);
        assert_eq!(fs.read_to_vec("\\data.bin").unwrap(), expect[..600]);
        fs.set_len(&mut f, 0).unwrap();
        assert_eq!(fs.free_clusters().unwrap(), free0);
        assert_eq!(fs.open("\\data.bin").unwrap().first_cluster, 0);
        fs.write_at(&mut f, 0, &pattern(70_000, 9)).unwrap();
        assert_eq!(fs.read_to_vec("\\data.bin").unwrap(), pattern(70_000, 9));
        // Delete: file, then non-empty and empty directories.
        fs.create_dir("\\d").unwrap();
        fs.create_file("\\d\\inner file.txt").unwrap();
        assert_eq!(fs.delete("\\d").unwrap_err(), FatError::DirectoryNotEmpty);
        fs.delete("\\d\\inner file.txt").unwrap();
        fs.delete("\\d").unwrap();
        fs.delete("\\data.bin").unwrap();
        assert_eq!(fs.open("\\data.bin").unwrap_err(), FatError::NotFound);
        assert_eq!(fs.open("\\d").unwrap_err(), FatError::NotFound);
        assert_eq!(fs.free_clusters().unwrap(), free0);
        assert_eq!(fs.delete("\\").unwrap_err(), FatError::InvalidPath);
        // Slots are reused.
        fs.create_file("\\again with a long name").unwrap();
        assert_eq!(fs.read_dir(&fs.root()).unwrap().len(), 1);
    }
}

#[test]
fn directory_growth_and_full_root() {
    let mut fs = FatFs::mount(disk(small(Kind::Fat16))).unwrap();
    fs.create_dir("\\many").unwrap();
    for i in 0..60 {
        let mut f = fs
            .create_file(&format!("\\many\\file number {i:03} with long name"))
            .unwrap();
        fs.write_at(&mut f, 0, format!("{i}").as_bytes()).unwrap();
    }
    let many = fs.open("\\many").unwrap();
    let list = fs.read_dir(&many).unwrap();
    assert_eq!(list.len(), 62);
    for i in (0..60).step_by(7) {
        let v = fs
            .read_to_vec(&format!("/MANY/FILE NUMBER {i:03} WITH LONG NAME"))
            .unwrap();
        assert_eq!(v, format!("{i}").into_bytes());
    }
    let shorts: std::collections::HashSet<[u8; 11]> = list.iter().map(|e| e.short_name).collect();
    assert_eq!(shorts.len(), 62, "short aliases are unique");

    // FAT12 volume with a 64-entry fixed root: 64 short names fit, the 65th does not.
    let mut fs = FatFs::mount(disk(small(Kind::Fat12))).unwrap();
    for i in 0..64 {
        fs.create_file(&format!("\\F{i}")).unwrap();
    }
    assert_eq!(
        fs.create_file("\\F64").unwrap_err(),
        FatError::DirectoryFull
    );
}

/// Independent FAT12 decoder for the test.
fn fat12_entry(img: &[u8], fat_off: usize, c: usize) -> u16 {
    let o = fat_off + c + c / 2;
    let v = u16::from_le_bytes([img[o], img[o + 1]]);
    if c % 2 == 1 {
        v >> 4
    } else {
        v & 0xFFF
    }
}

#[test]
fn fat12_entries_straddle_sectors_correctly() {
    let mut fs = FatFs::mount(disk(small(Kind::Fat12))).unwrap();
    let data = pattern(700 * 512 - 17, 5); // 700 clusters: crosses FAT sector boundaries (341.3 entries/sector)
    let mut f = fs.create_file("\\big.bin").unwrap();
    // Write in odd-sized pieces to exercise extension.
    for (i, chunk) in data.chunks(3333).enumerate() {
        fs.write_at(&mut f, (i * 3333) as u64, chunk).unwrap();
    }
    let first = f.first_cluster as usize;
    let bpb = *fs.bpb();
    let img = fs.into_inner().into_vec();
    let fat0 = bpb.reserved_sectors as usize * 512;
    let fat1 = fat0 + bpb.fat_size as usize * 512;
    assert_eq!(
        img[fat0..fat1],
        img[fat1..fat1 + bpb.fat_size as usize * 512],
        "FAT copies agree"
    );
    let (mut c, mut n) = (first, 1);
    while fat12_entry(&img, fat0, c) < 0xFF8 {
        let next = fat12_entry(&img, fat0, c) as usize;
        assert!(next >= 2 && next < bpb.cluster_count as usize + 2);
        c = next;
        n += 1;
        assert!(n <= 700);
    }
    assert_eq!(n, 700);
    let mut fs = FatFs::mount(disk(img)).unwrap();
    assert_eq!(fs.read_to_vec("\\BIG.BIN").unwrap(), data);
}

fn fat_off(bpb: &storage::fat::Bpb) -> usize {
    bpb.reserved_sectors as usize * 512
}

fn set_raw_entry(img: &mut [u8], bpb: &storage::fat::Bpb, c: u32, v: u32) {
    for f in 0..bpb.num_fats as usize {
        let base = fat_off(bpb) + f * bpb.fat_size as usize * 512;
        let c = c as usize;
        match bpb.fat_type {
            FatType::Fat12 => {
                let o = base + c + c / 2;
                let old = u16::from_le_bytes([img[o], img[o + 1]]);
                let new = if c % 2 == 1 {
                    (old & 0xF) | ((v as u16) << 4)
                } else {
                    (old & 0xF000) | (v as u16 & 0xFFF)
                };
                img[o..o + 2].copy_from_slice(&new.to_le_bytes());
            }
            FatType::Fat16 => {
                img[base + 2 * c..base + 2 * c + 2].copy_from_slice(&(v as u16).to_le_bytes())
            }
            FatType::Fat32 => img[base + 4 * c..base + 4 * c + 4].copy_from_slice(&v.to_le_bytes()),
        }
    }
}

#[test]
fn looping_and_bad_chains_are_errors() {
    for (kind, _) in KINDS {
        let mut fs = FatFs::mount(disk(small(kind))).unwrap();
        let mut f = fs.create_file("\\LOOP.BIN").unwrap();
        fs.write_at(&mut f, 0, &pattern(512 * 4, 3)).unwrap();
        let first = f.first_cluster;
        let bpb = *fs.bpb();
        let clean = fs.into_inner().into_vec();

        // Second cluster points back to the first: c1 -> c2 -> c1.
        let mut img = clean.clone();
        set_raw_entry(&mut img, &bpb, first + 1, first);
        let mut fs = FatFs::mount(disk(img)).unwrap();
        assert_eq!(
            fs.read_to_vec("\\LOOP.BIN").unwrap_err(),
            FatError::CorruptChain { start: first }
        );
        assert_eq!(
            fs.delete("\\LOOP.BIN").unwrap_err(),
            FatError::CorruptChain { start: first }
        );

        // Last cluster points to itself: a file larger than its chain would spin without detection.
        let mut img = clean.clone();
        set_raw_entry(&mut img, &bpb, first + 3, first + 3);
        let mut fs = FatFs::mount(disk(img)).unwrap();
        let mut f = fs.open("\\LOOP.BIN").unwrap();
        assert_eq!(
            fs.write_at(&mut f, 4096, b"x").unwrap_err(),
            FatError::CorruptChain { start: first }
        );

        // Free, out-of-range and bad entries in the chain.
        for (v, err) in [
            (0, FatError::FreeClusterInChain { cluster: first + 1 }),
            (1, FatError::ClusterOutOfRange { cluster: 1 }),
            (
                bpb.cluster_count + 2,
                FatError::ClusterOutOfRange {
                    cluster: bpb.cluster_count + 2,
                },
            ),
            (
                match kind {
                    Kind::Fat12 => 0xFF7,
                    Kind::Fat16 => 0xFFF7,
                    Kind::Fat32 => 0x0FFF_FFF7,
                },
                FatError::BadClusterInChain { cluster: first + 1 },
            ),
        ] {
            let mut img = clean.clone();
            set_raw_entry(&mut img, &bpb, first + 1, v);
            let mut fs = FatFs::mount(disk(img)).unwrap();
            assert_eq!(
                fs.read_to_vec("\\LOOP.BIN").unwrap_err(),
                err,
                "{kind:?} value {v:#x}"
            );
        }

        // Size larger than the chain.
        let mut img = clean.clone();
        let entry = find_short_entry(&img, b"LOOP    BIN").expect("entry");
        img[entry + 28..entry + 32].copy_from_slice(&(512u32 * 9).to_le_bytes());
        let mut fs = FatFs::mount(disk(img)).unwrap();
        assert_eq!(
            fs.read_to_vec("\\LOOP.BIN").unwrap_err(),
            FatError::ChainTooShort { start: first }
        );

        // First cluster out of range.
        let mut img = clean;
        img[entry + 26..entry + 28].copy_from_slice(&1u16.to_le_bytes());
        img[entry + 20..entry + 22].copy_from_slice(&0u16.to_le_bytes());
        let mut fs = FatFs::mount(disk(img)).unwrap();
        assert_eq!(
            fs.read_to_vec("\\LOOP.BIN").unwrap_err(),
            FatError::ClusterOutOfRange { cluster: 1 }
        );
    }
}

fn find_short_entry(img: &[u8], name: &[u8; 11]) -> Option<usize> {
    (0..img.len() / 32)
        .map(|i| i * 32)
        .find(|&o| &img[o..o + 11] == name && img[o + 11] & 0x0F != 0x0F)
}

#[test]
fn bad_bpbs_are_rejected() {
    let base = small(Kind::Fat16);
    let mount = |img: Vec<u8>| FatFs::mount(disk(img)).err();
    let mut img = base.clone();
    img[13] = 0;
    assert_eq!(
        mount(img),
        Some(FatError::Bpb(BpbError::BadSectorsPerCluster(0)))
    );
    let mut img = base.clone();
    img[13] = 3;
    assert_eq!(
        mount(img),
        Some(FatError::Bpb(BpbError::BadSectorsPerCluster(3)))
    );
    let mut img = base.clone();
    img[11..13].copy_from_slice(&500u16.to_le_bytes());
    assert_eq!(
        mount(img),
        Some(FatError::Bpb(BpbError::BadBytesPerSector(500)))
    );
    let mut img = base.clone();
    img[16] = 0;
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::ZeroFats)));
    let mut img = base.clone();
    img[14..16].fill(0);
    assert_eq!(
        mount(img),
        Some(FatError::Bpb(BpbError::ZeroReservedSectors))
    );
    let mut img = base.clone();
    img[510] = 0;
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::BadSignature)));
    let mut img = base.clone();
    img[22..24].copy_from_slice(&1u16.to_le_bytes());
    assert!(matches!(
        mount(img),
        Some(FatError::Bpb(BpbError::FatTooSmall { .. }))
    ));
    let mut img = base.clone();
    img[22..24].copy_from_slice(&0u16.to_le_bytes()); // BPB_FATSz32 then overlays BS_BootSig: huge FAT
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::NoDataRegion)));
    let mut img = base.clone();
    img[22..24].copy_from_slice(&0u16.to_le_bytes());
    img[36..40].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::ZeroFatSize)));
    let mut img = base.clone();
    img[22..24].copy_from_slice(&0u16.to_le_bytes()); // FAT32 layout on a FAT16-sized volume
    img[36..40].copy_from_slice(&64u32.to_le_bytes());
    img[17..19].fill(0);
    assert!(matches!(
        mount(img),
        Some(FatError::Bpb(BpbError::FatTypeMismatch {
            fat_type: FatType::Fat16,
            ..
        }))
    ));
    let mut img = base.clone();
    img[19..21].copy_from_slice(&10u16.to_le_bytes());
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::NoDataRegion)));
    // Truncated disk: the BPB promises more sectors than the device has.
    let mut img = base.clone();
    img.truncate(8192 * 512);
    assert_eq!(
        mount(img),
        Some(FatError::Bpb(BpbError::VolumeLargerThanDevice {
            volume_bytes: 16384 * 512,
            device_bytes: 8192 * 512
        }))
    );
    let mut img = small(Kind::Fat32);
    img[44..48].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::BadRootCluster(1))));
    let img = vec![0u8; 512];
    assert_eq!(mount(img), Some(FatError::Bpb(BpbError::BadSignature)));
}

#[test]
fn fat_inside_a_gpt_partition() {
    let mut img = gpt_disk(
        20000,
        &[Part {
            type_guid: ESP,
            unique: [7; 16],
            first: 2048,
            last: 2048 + 16383,
            name: "ESP",
        }],
    );
    let vol = small(Kind::Fat16);
    img[2048 * 512..(2048 + 16384) * 512].copy_from_slice(&vol);
    let mut d = MemDisk::from_vec(512, img).unwrap();
    let table = storage::partition::read_partition_table(&mut d).unwrap();
    let esp = table.partitions().into_iter().find(|p| p.is_esp).unwrap();
    let w = BlockWindow::new(&mut d, esp.node.partition_start, esp.node.partition_size).unwrap();
    let mut fs = FatFs::mount(w).unwrap();
    fs.create_dir("\\EFI").unwrap();
    fs.create_dir("\\EFI\\BOOT").unwrap();
    let mut f = fs.create_file("\\EFI\\BOOT\\BOOTX64.EFI").unwrap();
    fs.write_at(&mut f, 0, b"MZ payload").unwrap();
    drop(fs);
    let w = BlockWindow::new(&mut d, 2048, 16384).unwrap();
    assert_eq!(
        FatFs::mount(w)
            .unwrap()
            .read_to_vec("\\efi\\boot\\bootx64.efi")
            .unwrap(),
        b"MZ payload"
    );
    // The GPT is untouched by the file system.
    assert!(storage::partition::read_partition_table(&mut d).is_ok());
}

/// Walks every directory (bounded depth) and reads every file; errors are fine, panics and hangs are not.
fn exercise(fs: &mut FatFs<MemDisk>, dir: &storage::fat::DirEntry, depth: u32, budget: &mut u32) {
    if depth > 6 || *budget == 0 {
        return;
    }
    *budget -= 1;
    let Ok(list) = fs.read_dir(dir) else { return };
    for e in list.iter().take(64) {
        if e.name == "." || e.name == ".." {
            continue;
        }
        if e.is_dir() {
            exercise(fs, e, depth + 1, budget);
        } else {
            let mut buf = vec![0u8; (e.size as usize).min(1 << 20)];
            let _ = fs.read_at(e, 0, &mut buf);
        }
    }
}

#[test]
fn random_corruption_never_panics() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for (kind, _) in KINDS {
        let base = populate(kind).into_vec();
        let bpb = *FatFs::mount(disk(base.clone())).unwrap().bpb();
        // Corrupt metadata: boot sector, FATs, root directory and the first data clusters.
        let hot = (bpb.first_data_sector as usize + 64) * 512;
        let seeds = if kind == Kind::Fat32 { 60 } else { 250 };
        for seed in 0..seeds {
            let mut img = base.clone();
            for _ in 0..1 + rng.below(16) {
                let at = if rng.below(4) == 0 {
                    rng.below(90) as usize
                } else {
                    rng.below(hot as u64) as usize
                };
                img[at] = rng.next() as u8;
            }
            let Ok(mut fs) = FatFs::mount(disk(img)) else {
                continue;
            };
            let root = fs.root();
            exercise(&mut fs, &root, 0, &mut 200);
            let _ = fs.read_to_vec("\\EFI\\BOOT\\BOOTX64.EFI");
            if seed % 4 == 0 {
                if let Ok(mut f) = fs.create_file("\\EFI\\BOOT\\new file.txt") {
                    let _ = fs.write_at(&mut f, 100, &[1; 2000]);
                }
                let _ = fs.delete("\\EFI\\BOOT\\BOOTX64.EFI");
                let _ = fs.free_clusters();
            }
        }
    }
}

#[test]
fn fat_on_4096_byte_blocks() {
    // 512-byte FAT sectors on a 4 KiB-block device: FAT entries and directory slots are partial blocks.
    let img = small(Kind::Fat12);
    let mut fs = FatFs::mount(MemDisk::from_vec(4096, img).unwrap()).unwrap();
    fs.create_dir("\\Dir One").unwrap();
    let mut f = fs.create_file("\\Dir One\\file.bin").unwrap();
    fs.write_at(&mut f, 1, &pattern(9000, 4)).unwrap();
    let img = fs.into_inner().into_vec();
    let mut fs = FatFs::mount(MemDisk::from_vec(512, img).unwrap()).unwrap();
    let v = fs.read_to_vec("\\dir one\\FILE.BIN").unwrap();
    assert_eq!((v[0], &v[1..]), (0, &pattern(9000, 4)[..]));
}

/// A device that counts block reads.
struct Counting {
    disk: MemDisk,
    reads: usize,
}

impl storage::block::BlockDevice for Counting {
    fn block_size(&self) -> u32 {
        self.disk.block_size()
    }
    fn last_block(&self) -> u64 {
        self.disk.last_block()
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), storage::block::BlockError> {
        self.reads += 1;
        self.disk.read_blocks(lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), storage::block::BlockError> {
        self.disk.write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), storage::block::BlockError> {
        Ok(())
    }
}

#[test]
fn chunked_reads_walk_the_chain_once() {
    let mut fs = FatFs::mount(disk(small(Kind::Fat16))).unwrap();
    let data = pattern(2000 * 512, 5);
    let mut f = fs.create_file("\\BIG.BIN").unwrap();
    fs.write_at(&mut f, 0, &data).unwrap();
    let mut fs = FatFs::mount(Counting {
        disk: fs.into_inner(),
        reads: 0,
    })
    .unwrap();
    let f = fs.open("\\BIG.BIN").unwrap();
    let before = fs.device().reads;
    let mut buf = [0u8; 512];
    for (i, chunk) in data.chunks(512).enumerate() {
        assert_eq!(fs.read_at(&f, i as u64 * 512, &mut buf).unwrap(), 512);
        assert_eq!(&buf[..], chunk);
    }
    let reads = fs.device().reads - before;
    // 2000 data blocks plus the 8 FAT blocks holding the chain, each loaded about once; walking the chain from
    // its start for every chunk would load FAT blocks thousands of times.
    assert!(reads < 2000 + 40, "{reads} block reads");
}

mod common;

use common::*;
use storage::block::{BlockDevice, BlockWindow, MemDisk};
use storage::partition::gpt::{GptError, HeaderSource};
use storage::partition::guid::EFI_SYSTEM_PARTITION_GUID;
use storage::partition::mbr::MbrError;
use storage::partition::{
    read_partition_table, PartitionError, PartitionFormat, PartitionTable, SignatureType,
};

const BLOCKS: u64 = 4096;

fn two_parts() -> Vec<u8> {
    gpt_disk(
        BLOCKS,
        &[
            Part {
                type_guid: ESP,
                unique: [0xA1; 16],
                first: 34,
                last: 2081,
                name: "EFI system",
            },
            Part {
                type_guid: LINUX_FS,
                unique: [0xB2; 16],
                first: 2082,
                last: 4000,
                name: "root",
            },
        ],
    )
}

fn table(img: Vec<u8>) -> Result<PartitionTable, PartitionError> {
    read_partition_table(&mut MemDisk::from_vec(512, img).unwrap())
}

#[test]
fn crc_reference_value() {
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

#[test]
fn gpt_with_esp_and_second_partition() {
    let PartitionTable::Gpt(gpt) = table(two_parts()).unwrap() else {
        panic!("not GPT")
    };
    assert_eq!(gpt.source, HeaderSource::Primary);
    assert_eq!(gpt.primary_error, None);
    assert_eq!(gpt.header.my_lba, 1);
    assert_eq!(gpt.header.alternate_lba, BLOCKS - 1);
    assert_eq!(gpt.header.number_of_partition_entries, 128);
    assert_eq!(gpt.partitions.len(), 2);
    let esp = &gpt.partitions[0];
    assert_eq!(
        (esp.index, esp.starting_lba, esp.ending_lba, esp.size_lba()),
        (1, 34, 2081, 2048)
    );
    assert!(esp.is_esp());
    assert_eq!(esp.type_guid, EFI_SYSTEM_PARTITION_GUID);
    assert_eq!(esp.name_string(), "EFI system");
    assert_eq!(esp.attributes, 1);
    assert!(!gpt.partitions[1].is_esp());
    assert_eq!(gpt.partitions[1].name_string(), "root");

    let parts = PartitionTable::Gpt(gpt).partitions();
    assert!(parts[0].is_esp && !parts[1].is_esp);
    let hd = parts[1].node;
    assert_eq!(
        (hd.partition_number, hd.partition_start, hd.partition_size),
        (2, 2082, 1919)
    );
    assert_eq!(hd.partition_signature, [0xB2; 16]);
    assert_eq!(
        (hd.partition_format, hd.signature_type),
        (PartitionFormat::Gpt, SignatureType::Guid)
    );
}

#[test]
fn corrupt_primary_crc_uses_backup() {
    let mut img = two_parts();
    img[512 + 40] ^= 1; // FirstUsableLBA changed without fixing the CRC
    let PartitionTable::Gpt(gpt) = table(img).unwrap() else {
        panic!()
    };
    assert_eq!(gpt.source, HeaderSource::Backup);
    assert!(matches!(
        gpt.primary_error,
        Some(GptError::HeaderCrcMismatch { .. })
    ));
    assert_eq!(gpt.header.my_lba, BLOCKS - 1);
    assert_eq!(gpt.partitions.len(), 2);
}

#[test]
fn both_headers_corrupt_is_an_error() {
    let mut img = two_parts();
    img[512] = b'X';
    img[(BLOCKS as usize - 1) * 512 + 40] ^= 1;
    match table(img) {
        Err(PartitionError::GptInvalid { primary, backup }) => {
            assert_eq!(primary, GptError::BadSignature);
            assert!(matches!(backup, GptError::HeaderCrcMismatch { .. }));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn entry_array_crc_wrong() {
    // Primary array damaged: backup used.
    let mut img = two_parts();
    img[2 * 512 + 60] ^= 0xFF;
    let PartitionTable::Gpt(gpt) = table(img.clone()).unwrap() else {
        panic!()
    };
    assert!(matches!(
        gpt.primary_error,
        Some(GptError::EntryArrayCrcMismatch { .. })
    ));
    // Both arrays damaged: error.
    let backup_array = (BLOCKS as usize - 1 - 32) * 512;
    img[backup_array + 60] ^= 0xFF;
    assert!(matches!(
        table(img),
        Err(PartitionError::GptInvalid {
            primary: GptError::EntryArrayCrcMismatch { .. },
            backup: GptError::EntryArrayCrcMismatch { .. }
        })
    ));
}

#[test]
fn overlapping_and_out_of_range_partitions() {
    let img = gpt_disk(
        BLOCKS,
        &[
            Part {
                type_guid: ESP,
                unique: [1; 16],
                first: 34,
                last: 2081,
                name: "a",
            },
            Part {
                type_guid: LINUX_FS,
                unique: [2; 16],
                first: 2000,
                last: 3000,
                name: "b",
            },
        ],
    );
    let overlap = GptError::PartitionsOverlap {
        first: 1,
        second: 2,
    };
    assert_eq!(
        table(img),
        Err(PartitionError::GptInvalid {
            primary: overlap,
            backup: overlap
        })
    );

    let img = gpt_disk(
        BLOCKS,
        &[Part {
            type_guid: ESP,
            unique: [1; 16],
            first: 34,
            last: 4064,
            name: "a",
        }],
    );
    let out = GptError::PartitionOutsideUsable { index: 1 };
    assert_eq!(
        table(img),
        Err(PartitionError::GptInvalid {
            primary: out,
            backup: out
        })
    );

    let img = gpt_disk(
        BLOCKS,
        &[Part {
            type_guid: ESP,
            unique: [1; 16],
            first: 100,
            last: 99,
            name: "a",
        }],
    );
    let bad = GptError::PartitionEndBeforeStart { index: 1 };
    assert_eq!(
        table(img),
        Err(PartitionError::GptInvalid {
            primary: bad,
            backup: bad
        })
    );
}

#[test]
fn header_field_checks() {
    type Case = (usize, &'static [u8], fn(GptError) -> bool);
    let cases: &[Case] = &[
        (80, &[0xFF, 0xFF, 0xFF, 0x0F], |e| {
            matches!(e, GptError::EntryArrayTooLarge { .. })
        }),
        (84, &[100, 0, 0, 0], |e| e == GptError::BadEntrySize(100)),
        (84, &[0x80, 1, 0, 0], |e| e == GptError::BadEntrySize(384)),
        (12, &[20, 0, 0, 0], |e| e == GptError::BadHeaderSize(20)),
        (12, &[1, 2, 0, 0], |e| e == GptError::BadHeaderSize(513)),
        (8, &[0, 0, 2, 0], |e| {
            e == GptError::UnsupportedRevision(0x0002_0000)
        }),
        (24, &[5, 0, 0, 0], |e| {
            e == GptError::MyLbaMismatch {
                expected: 1,
                found: 5,
            }
        }),
        (48, &[0xFF; 8], |e| {
            matches!(e, GptError::BadUsableRange { .. })
        }),
        (72, &[40, 0, 0, 0, 0, 0, 0, 0], |e| {
            matches!(e, GptError::BadEntryArrayLocation { lba: 40, .. })
        }),
    ];
    for (off, bytes, check) in cases {
        let mut img = two_parts();
        img[512 + off..512 + off + bytes.len()].copy_from_slice(bytes);
        fix_header_crc(&mut img, 1);
        let PartitionTable::Gpt(gpt) = table(img).unwrap() else {
            panic!()
        };
        let e = gpt.primary_error.expect("primary should be rejected");
        assert!(check(e), "offset {off}: {e:?}");
        assert_eq!(gpt.source, HeaderSource::Backup);
    }
}

#[test]
fn partition_window_reads_partition_blocks() {
    let mut img = two_parts();
    img[2082 * 512] = 0x5A;
    let mut d = MemDisk::from_vec(512, img).unwrap();
    let t = read_partition_table(&mut d).unwrap();
    let p = t.partitions()[1];
    let mut w = BlockWindow::new(&mut d, p.node.partition_start, p.node.partition_size).unwrap();
    assert_eq!(w.last_block(), 1918);
    let mut b = [0u8; 512];
    w.read_blocks(0, &mut b).unwrap();
    assert_eq!(b[0], 0x5A);
}

fn ebr(img: &mut [u8], lba: u64, logical: (u8, u32, u32), next: Option<(u32, u32)>) {
    let s = lba as usize * 512;
    let sector = &mut img[s..s + 512];
    mbr_record(sector, 0, 0, logical.0, logical.1, logical.2);
    if let Some((start, size)) = next {
        mbr_record(sector, 1, 0, 0x05, start, size);
    }
    sector[510] = 0x55;
    sector[511] = 0xAA;
}

fn mbr_disk() -> Vec<u8> {
    let mut img = vec![0u8; 8192 * 512];
    img[440..444].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    mbr_record(&mut img, 0, 0x80, 0xEF, 63, 1000);
    mbr_record(&mut img, 1, 0, 0x0F, 2048, 4096);
    mbr_record(&mut img, 2, 0, 0x83, 6144, 2048);
    img[510] = 0x55;
    img[511] = 0xAA;
    // Extended at 2048: EBR 2048 -> logical 2049..2548, next EBR at +1000 = 3048 -> logical 3049..3548.
    ebr(&mut img, 2048, (0x83, 1, 500), Some((1000, 600)));
    ebr(&mut img, 3048, (0x07, 1, 500), None);
    img
}

#[test]
fn mbr_primary_and_extended_chain() {
    let PartitionTable::Mbr(m) = table(mbr_disk()).unwrap() else {
        panic!("not MBR")
    };
    assert_eq!(m.disk_signature, 0xDEAD_BEEF);
    assert_eq!(m.extended.map(|e| e.starting_lba), Some(2048));
    let got: Vec<(u32, u8, u64, u64, bool)> = m
        .partitions
        .iter()
        .map(|p| (p.number, p.os_type, p.starting_lba, p.size_lba, p.bootable))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 0xEF, 63, 1000, true),
            (3, 0x83, 6144, 2048, false),
            (5, 0x83, 2049, 500, false),
            (6, 0x07, 3049, 500, false)
        ]
    );
    let parts = PartitionTable::Mbr(m).partitions();
    assert!(parts[0].is_esp);
    assert_eq!(
        parts[2].node.partition_signature[..4],
        0xDEAD_BEEFu32.to_le_bytes()
    );
    assert_eq!(
        (parts[2].node.partition_format, parts[2].node.signature_type),
        (PartitionFormat::Mbr, SignatureType::Mbr)
    );
}

#[test]
fn looping_ebr_chain_is_an_error() {
    let mut img = mbr_disk();
    ebr(&mut img, 3048, (0x07, 1, 500), Some((0, 600))); // points back to the first EBR
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::ExtendedChainLoop {
            lba: 2048
        }))
    );
    let mut img = mbr_disk();
    ebr(&mut img, 3048, (0x07, 1, 500), Some((1000, 600))); // points to itself
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::ExtendedChainLoop {
            lba: 3048
        }))
    );
}

#[test]
fn mbr_malformed() {
    let mut img = mbr_disk();
    mbr_record(&mut img, 3, 0, 0x83, 7000, 100); // overlaps partition 3
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::PartitionsOverlap {
            first: 3,
            second: 4
        }))
    );
    let mut img = mbr_disk();
    mbr_record(&mut img, 3, 0x12, 0x83, 8000, 10);
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::BadBootIndicator {
            number: 4
        }))
    );
    let mut img = mbr_disk();
    mbr_record(&mut img, 3, 0, 0x83, 8000, 500);
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::PartitionOutsideDisk {
            number: 4
        }))
    );
    let mut img = mbr_disk();
    ebr(&mut img, 3048, (0x07, 1, 5000), None);
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::OutsideExtended { lba: 3048 }))
    );
    let mut img = mbr_disk();
    img[3048 * 512 + 510] = 0;
    assert_eq!(
        table(img),
        Err(PartitionError::Mbr(MbrError::EbrBadSignature { lba: 3048 }))
    );
    let mut img = mbr_disk();
    img[510] = 0;
    assert_eq!(table(img), Err(PartitionError::NoPartitionTable));
}

#[test]
fn random_corruption_never_panics() {
    let base_gpt = two_parts();
    let base_mbr = mbr_disk();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for seed in 0..400 {
        let mut img = if seed % 2 == 0 {
            base_gpt.clone()
        } else {
            base_mbr.clone()
        };
        for _ in 0..1 + rng.below(8) {
            // Hit the structures: LBA 0..34 (MBR, GPT, array), the EBRs, the backup.
            let region: [(u64, u64); 4] = [
                (0, 34 * 512),
                (2048 * 512, 512),
                (3048 * 512, 512),
                ((BLOCKS - 33) * 512, 33 * 512),
            ];
            let (start, len) = region[rng.below(4) as usize];
            let at = (start + rng.below(len)) as usize;
            if at < img.len() {
                img[at] = rng.next() as u8;
            }
            if seed % 3 == 0 {
                fix_header_crc(&mut img, 1);
            }
        }
        let _ = table(img);
    }
}

#[test]
fn partition_records_for_partition_info() {
    let img = two_parts();
    let parts = table(img.clone()).unwrap().partitions();
    // The GPT record is the on-disk entry (first 128 bytes).
    let storage::partition::PartitionRecord::Gpt(entry) = parts[0].record else {
        panic!("GPT record expected")
    };
    assert_eq!(&entry[..], &img[2 * 512..2 * 512 + 128]);
    // The MBR record of a logical partition is the EBR's record, start relative to that EBR.
    let parts = table(mbr_disk()).unwrap().partitions();
    let storage::partition::PartitionRecord::Mbr(rec) = parts[2].record else {
        panic!("MBR record expected")
    };
    assert_eq!(&rec[..], &mbr_disk()[2048 * 512 + 446..2048 * 512 + 462]);
    assert_eq!(u32::from_le_bytes(rec[8..12].try_into().unwrap()), 1);
    // HD() node bytes.
    let n = parts[2].node.to_bytes();
    assert_eq!((n[0], n[1], u16::from_le_bytes([n[2], n[3]])), (4, 1, 42));
    assert_eq!(u32::from_le_bytes(n[4..8].try_into().unwrap()), 5);
    assert_eq!(u64::from_le_bytes(n[8..16].try_into().unwrap()), 2049);
    assert_eq!(u64::from_le_bytes(n[16..24].try_into().unwrap()), 500);
    assert_eq!(&n[24..28], &0xDEAD_BEEFu32.to_le_bytes());
    assert_eq!((n[40], n[41]), (1, 1));
}

#[test]
fn no_block_io_attribute_hides_a_partition() {
    let mut img = two_parts();
    // Entry 2's attributes: set bit 1, then fix both array CRCs and headers.
    let at = 2 * 512 + 128 + 48;
    img[at] |= 2;
    let backup_array = (BLOCKS as usize - 1 - 32) * 512;
    img[backup_array + 128 + 48] |= 2;
    let crc = crc32fast::hash(&img[2 * 512..34 * 512]);
    for lba in [1u64, BLOCKS - 1] {
        let h = lba as usize * 512;
        img[h + 88..h + 92].copy_from_slice(&crc.to_le_bytes());
        fix_header_crc(&mut img, lba);
    }
    let PartitionTable::Gpt(gpt) = table(img).unwrap() else {
        panic!()
    };
    assert_eq!(gpt.source, HeaderSource::Primary);
    assert_eq!(gpt.partitions.len(), 2, "the entry is valid");
    let parts = PartitionTable::Gpt(gpt).partitions();
    assert_eq!(parts.len(), 1, "but gets no block device");
    assert!(parts[0].is_esp);
}

#[test]
fn fat_at_lba0_is_a_superfloppy_not_an_mbr() {
    // A FAT boot sector has 0x55AA and boot code where MBR records would be.
    let mut img = small(Kind::Fat16);
    img[446..510].fill(0x7F);
    assert_eq!(table(img), Err(PartitionError::FileSystemAtLba0));
    // A protective MBR still wins (GPT disks are never superfloppies).
    let gpt = two_parts();
    assert!(matches!(table(gpt), Ok(PartitionTable::Gpt(_))));
}

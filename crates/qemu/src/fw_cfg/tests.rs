use alloc::vec;
use alloc::vec::Vec;

use super::directory::encode_directory;
use super::fake::FakeFwCfg;
use super::*;

fn sample(dma: bool) -> FakeFwCfg {
    let mut fake = FakeFwCfg::new(dma);
    fake.add_file("etc/e820", &[1, 2, 3, 4, 5]);
    let big: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    fake.add_file("etc/acpi/tables", &big);
    fake.add_writable_file("etc/vmgenid_addr", &[0; 8]);
    fake
}

#[test]
fn directory_parses_entries() {
    let blob = encode_directory([("etc/e820", 40, 0x20), ("bootorder", 0, 0x21)].into_iter());
    let files = parse_directory(&blob).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[0],
        FwCfgFile {
            name: "etc/e820".into(),
            size: 40,
            select: 0x20
        }
    );
    assert_eq!(
        files[1],
        FwCfgFile {
            name: "bootorder".into(),
            size: 0,
            select: 0x21
        }
    );
}

#[test]
fn directory_rejects_truncated_and_bad_counts() {
    let blob = encode_directory([("a", 1, 0x20), ("b", 2, 0x21)].into_iter());
    // Cut the second entry short.
    assert_eq!(
        parse_directory(&blob[..blob.len() - 1]),
        Err(FwCfgError::DirectoryTruncated {
            count: 2,
            available: 1
        })
    );
    // Count larger than the data.
    let mut big = blob.clone();
    big[..4].copy_from_slice(&7u32.to_be_bytes());
    assert_eq!(
        parse_directory(&big),
        Err(FwCfgError::DirectoryTruncated {
            count: 7,
            available: 2
        })
    );
    // Not even a count.
    assert_eq!(
        parse_directory(&[0, 0]),
        Err(FwCfgError::DirectoryTruncated {
            count: 0,
            available: 0
        })
    );
}

#[test]
fn directory_rejects_bad_names() {
    let mut blob = encode_directory([("a", 1, 0x20), ("b", 2, 0x21)].into_iter());
    let name1 = 4 + 64 + 8;
    blob[name1..name1 + 56].fill(b'x');
    assert_eq!(
        parse_directory(&blob),
        Err(FwCfgError::FileNameNotTerminated { index: 1 })
    );
    blob[name1] = 0;
    assert_eq!(
        parse_directory(&blob),
        Err(FwCfgError::FileNameEmpty { index: 1 })
    );
    blob[name1] = 0xff;
    blob[name1 + 1] = 0;
    assert_eq!(
        parse_directory(&blob),
        Err(FwCfgError::FileNameNotUtf8 { index: 1 })
    );
}

#[test]
fn probe_rejects_missing_device() {
    let mut fake = FakeFwCfg::new(false);
    fake.set_item(KEY_SIGNATURE, b"NOPE");
    assert_eq!(
        FwCfg::new(fake).err(),
        Some(FwCfgError::BadSignature(*b"NOPE"))
    );
}

#[test]
fn probe_rejects_count_beyond_device_data() {
    for dma in [false, true] {
        // The device pads reads past an item's end with zeros, so extra entries have empty names.
        let mut fake = sample(dma);
        let mut dir = encode_directory([("etc/e820", 5, 0x20)].into_iter());
        dir[..4].copy_from_slice(&3u32.to_be_bytes());
        fake.set_item(KEY_FILE_DIR, &dir);
        assert_eq!(
            FwCfg::new(fake).err(),
            Some(FwCfgError::FileNameEmpty { index: 1 })
        );

        let mut fake = sample(dma);
        fake.set_item(KEY_FILE_DIR, &(MAX_FILES + 1).to_be_bytes());
        assert_eq!(
            FwCfg::new(fake).err(),
            Some(FwCfgError::DirectoryTooLarge {
                count: MAX_FILES + 1
            })
        );
    }
}

#[test]
fn reads_files_through_port_io() {
    let mut fw = FwCfg::new(sample(false)).unwrap();
    assert!(!fw.has_dma());
    assert_eq!(fw.files().len(), 3);
    assert_eq!(
        fw.find("etc/e820").map(|f| (f.size, f.select)),
        Some((5, 0x20))
    );
    assert_eq!(fw.read_file("etc/e820").unwrap(), vec![1, 2, 3, 4, 5]);
    let tables = fw.read_file("etc/acpi/tables").unwrap();
    assert_eq!(tables.len(), 3000);
    assert_eq!(tables[2999], (2999u32 * 7) as u8);
    assert_eq!(fw.read_file("nope"), Err(FwCfgError::FileNotFound));
    let fake = fw.into_inner();
    assert_eq!(fake.dma_transfers, 0);
    assert!(fake.port_reads >= 3005);
}

#[test]
fn reads_files_through_dma() {
    let mut fw = FwCfg::new(sample(true)).unwrap();
    assert!(fw.has_dma());
    let reads_after_probe = fw.io_mut().port_reads;
    assert_eq!(fw.read_file("etc/e820").unwrap(), vec![1, 2, 3, 4, 5]);
    let tables = fw.read_file("etc/acpi/tables").unwrap();
    assert_eq!(
        tables.iter().map(|&b| b as u32).sum::<u32>(),
        (0..3000u32).map(|i| (i * 7) % 256).sum()
    );
    let mut small = [0u8; 4];
    assert_eq!(
        fw.read_file_into("etc/e820", &mut small),
        Err(FwCfgError::BufferTooSmall {
            needed: 5,
            provided: 4
        })
    );
    let mut buf = [0xaau8; 8];
    assert_eq!(fw.read_file_into("etc/e820", &mut buf), Ok(5));
    assert_eq!(buf, [1, 2, 3, 4, 5, 0xaa, 0xaa, 0xaa]);
    let fake = fw.into_inner();
    assert_eq!(
        fake.port_reads, reads_after_probe,
        "data must not go through the data port"
    );
    assert!(fake.dma_transfers >= 4);
}

#[test]
fn read_item_pads_past_end_with_zeros() {
    for dma in [false, true] {
        let mut fw = FwCfg::new(sample(dma)).unwrap();
        let mut buf = [0xffu8; 8];
        fw.read_item(0x20, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 0, 0, 0]);
    }
}

#[test]
fn writes_through_dma_with_offset() {
    let mut fw = FwCfg::new(sample(true)).unwrap();
    fw.write_file("etc/vmgenid_addr", 2, &[0x11, 0x22, 0x33])
        .unwrap();
    assert_eq!(
        fw.write_file("etc/vmgenid_addr", 6, &[1, 2, 3]),
        Err(FwCfgError::WriteOutOfBounds {
            offset: 6,
            len: 3,
            size: 8
        })
    );
    // Read-only file: the device answers with the error bit.
    assert_eq!(
        fw.write_file("etc/e820", 0, &[9]),
        Err(FwCfgError::DmaError)
    );
    let fake = fw.into_inner();
    assert_eq!(
        fake.file_data("etc/vmgenid_addr").unwrap(),
        &[0, 0, 0x11, 0x22, 0x33, 0, 0, 0]
    );
    assert_eq!(fake.file_data("etc/e820").unwrap(), &[1, 2, 3, 4, 5]);
}

#[test]
fn write_without_dma_is_refused() {
    let mut fw = FwCfg::new(sample(false)).unwrap();
    assert_eq!(
        fw.write_file("etc/vmgenid_addr", 0, &[1]),
        Err(FwCfgError::WriteNeedsDma)
    );
}

#[test]
fn dma_failures_are_reported() {
    let mut fw = FwCfg::new(sample(true)).unwrap();
    fw.io_mut().fail_dma = true;
    assert_eq!(fw.read_file("etc/e820"), Err(FwCfgError::DmaError));
    fw.io_mut().fail_dma = false;
    fw.io_mut().hang_dma = true;
    assert_eq!(fw.read_file("etc/e820"), Err(FwCfgError::DmaTimeout));
}

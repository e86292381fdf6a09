use alloc::vec::Vec;

use super::*;

fn structure(kind: u8, handle: u16, body: &[u8], strings: &[&str]) -> Vec<u8> {
    let mut s = Vec::from([kind, 4 + body.len() as u8]);
    s.extend_from_slice(&handle.to_le_bytes());
    s.extend_from_slice(body);
    for string in strings {
        s.extend_from_slice(string.as_bytes());
        s.push(0);
    }
    if strings.is_empty() {
        s.push(0);
    }
    s.push(0);
    s
}

const UUID: [u8; 16] = [
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 9, 10, 11, 12, 13, 14, 15, 16,
];

/// A table shaped like QEMU 7.2's: type 0, type 1, type 3 without strings, End-of-Table.
fn qemu_like_table() -> Vec<u8> {
    // Type 0, length 0x18: vendor 1, version 2, start segment, release date 3, ROM size, characteristics...
    let mut t0 = [0u8; 0x14];
    t0[0] = 1;
    t0[1] = 2;
    t0[2..4].copy_from_slice(&0xe800u16.to_le_bytes());
    t0[4] = 3;
    let bios = structure(
        0,
        0,
        &t0,
        &["EFI Development Kit II / OVMF", "0.0.0", "02/06/2015"],
    );
    // Type 1, length 0x1b: manufacturer 1, product 2, version 3, serial 0 (none), UUID, wake-up, SKU, family.
    let mut t1 = [0u8; 0x17];
    t1[0] = 1;
    t1[1] = 2;
    t1[2] = 3;
    t1[3] = 0;
    t1[4..20].copy_from_slice(&UUID);
    t1[20] = 6;
    let system = structure(
        1,
        0x100,
        &t1,
        &["QEMU", "Standard PC (Q35 + ICH9, 2009)", "pc-q35-7.2"],
    );
    let chassis = structure(3, 0x300, &[0; 0x11], &[]);
    let end = structure(127, 0x7f00, &[], &[]);
    [bios, system, chassis, end].concat()
}

#[test]
fn walks_a_qemu_like_table() {
    let table = qemu_like_table();
    let summary = walk_table(&table).unwrap();
    assert_eq!(summary.structure_count, 4);
    assert!(summary.end_of_table);
    assert_eq!(summary.length, table.len());
    let system_size =
        0x1b + "QEMU".len() + "Standard PC (Q35 + ICH9, 2009)".len() + "pc-q35-7.2".len() + 4;
    assert_eq!(summary.max_structure_size, system_size);

    let kinds: Vec<(u8, u16, usize)> = structures(&table)
        .map(|s| s.unwrap())
        .map(|s| (s.kind, s.handle, s.size()))
        .collect();
    assert_eq!(kinds[2], (3, 0x300, 0x15 + 2));
    assert_eq!(kinds[3], (127, 0x7f00, 6));

    // Bytes after End-of-Table are not walked.
    let mut padded = table.clone();
    padded.extend_from_slice(&[0xff; 3]);
    assert_eq!(walk_table(&padded).unwrap(), summary);
}

#[test]
fn structure_strings_by_index() {
    let table = qemu_like_table();
    let system = structures(&table).nth(1).unwrap().unwrap();
    assert_eq!(system.string(1), Some(&b"QEMU"[..]));
    assert_eq!(system.string(3), Some(&b"pc-q35-7.2"[..]));
    assert_eq!(system.string(0), None);
    assert_eq!(system.string(4), None);
    let chassis = structures(&table).nth(2).unwrap().unwrap();
    assert_eq!(chassis.string(1), None);
}

#[test]
fn inventory_reads_type0_and_type1() {
    let inv = inventory(&qemu_like_table()).unwrap();
    assert_eq!(
        inv.bios_vendor.as_deref(),
        Some("EFI Development Kit II / OVMF")
    );
    assert_eq!(inv.bios_version.as_deref(), Some("0.0.0"));
    assert_eq!(inv.bios_release_date.as_deref(), Some("02/06/2015"));
    assert_eq!(inv.system_manufacturer.as_deref(), Some("QEMU"));
    assert_eq!(
        inv.system_product.as_deref(),
        Some("Standard PC (Q35 + ICH9, 2009)")
    );
    assert_eq!(inv.system_version.as_deref(), Some("pc-q35-7.2"));
    assert_eq!(inv.system_serial, None);
    assert_eq!(inv.system_uuid, Some(UUID));

    // Without type 0 (QEMU omits it unless asked) only the system fields are filled; a short type 1 has no UUID.
    let short_system = structure(1, 1, &[1, 0, 0, 0], &["Acme"]);
    let table = [short_system, structure(127, 2, &[], &[])].concat();
    let inv = inventory(&table).unwrap();
    assert_eq!(inv.bios_vendor, None);
    assert_eq!(inv.system_manufacturer.as_deref(), Some("Acme"));
    assert_eq!(inv.system_uuid, None);
}

#[test]
fn truncated_tables_are_errors_not_panics() {
    let table = qemu_like_table();
    let first = structure(0, 0, &[0u8; 0x14], &[]).len();
    for cut in 1..table.len() {
        match walk_table(&table[..cut]) {
            Ok(summary) => {
                // Only possible when the cut falls exactly between two structures.
                assert!(!summary.end_of_table);
                assert_eq!(summary.length, cut);
            }
            Err(SmbiosError::Truncated { .. }) | Err(SmbiosError::UnterminatedStrings { .. }) => {}
            Err(other) => panic!("unexpected {other:?} at cut {cut}"),
        }
    }
    assert_eq!(
        walk_table(&table[..2]),
        Err(SmbiosError::Truncated { offset: 0 })
    );
    assert_eq!(
        walk_table(&table[..10]),
        Err(SmbiosError::Truncated { offset: 0 })
    );
    assert_eq!(
        walk_table(&table[..0x18 + 3]),
        Err(SmbiosError::UnterminatedStrings { offset: 0 })
    );
    assert!(first > 0);
    let mut short = table.clone();
    short[1] = 3;
    assert_eq!(
        walk_table(&short),
        Err(SmbiosError::FormattedAreaTooShort {
            offset: 0,
            length: 3
        })
    );
    assert_eq!(
        inventory(&short),
        Err(SmbiosError::FormattedAreaTooShort {
            offset: 0,
            length: 3
        })
    );
}

#[test]
fn smbios3_entry_point_checksum_and_layout() {
    let ep = Smbios3EntryPoint::new(0xf0000, 0x100, 3, 0, 0).to_bytes();
    // Independent arithmetic: "_SM3_" (401) + length 24 + major 3 + revision 1 + max size byte 1 + address byte 15
    // = 445 = 0xbd (mod 256), so the checksum is 0x100 - 0xbd = 0x43.
    assert_eq!(ep[5], 0x43);
    assert_eq!(&ep[0..5], b"_SM3_");
    assert_eq!(
        (ep[6], ep[7], ep[8], ep[9], ep[10], ep[11]),
        (0x18, 3, 0, 0, 1, 0)
    );
    assert_eq!(ep[0x0c..0x10], 0x100u32.to_le_bytes());
    assert_eq!(ep[0x10..0x18], 0xf0000u64.to_le_bytes());

    let ep = Smbios3EntryPoint::new(0x1_2345_6789, 0x1234, 3, 6, 1);
    let bytes = ep.to_bytes();
    assert_eq!(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0);
    assert_eq!(Smbios3EntryPoint::parse(&bytes), Ok(ep));
    let mut bad = bytes;
    bad[0x10] ^= 0x80;
    assert_eq!(
        Smbios3EntryPoint::parse(&bad),
        Err(SmbiosError::BadChecksum)
    );
    assert_eq!(
        Smbios3EntryPoint::parse(&bytes[..20]),
        Err(SmbiosError::BadEntryPointLength {
            length: 0x18,
            available: 20
        })
    );
}

#[test]
fn smbios2_entry_point_round_trip() {
    let ep = Smbios2EntryPoint {
        major: 2,
        minor: 8,
        max_structure_size: 0x60,
        table_length: 0x1a0,
        table_address: 0x7fff_0000,
        structure_count: 9,
        bcd_revision: 0x28,
    };
    let bytes = ep.to_bytes();
    assert_eq!(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0);
    assert_eq!(bytes[0x10..].iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0);
    assert_eq!(Smbios2EntryPoint::parse(&bytes), Ok(ep));
    let mut bad = bytes;
    bad[0x18] += 1; // address low byte was 0
    bad[4] = bad[4].wrapping_sub(1); // outer checksum still fine, intermediate one is not
    assert_eq!(
        Smbios2EntryPoint::parse(&bad),
        Err(SmbiosError::BadIntermediateChecksum)
    );
}

#[test]
fn parses_qemu_anchors_without_checksums() {
    // QEMU 7.2 2.x anchor: version 2.8, checksums and table address zero.
    let mut v2 = [0u8; 31];
    v2[0..4].copy_from_slice(b"_SM_");
    v2[5] = 0x1f;
    v2[6] = 2;
    v2[7] = 8;
    v2[0x10..0x15].copy_from_slice(b"_DMI_");
    v2[0x1c] = 9;
    v2[0x1e] = 0x28;
    let anchor = parse_anchor(&v2).unwrap();
    assert_eq!(anchor.version(), (2, 8, 0));
    assert!(matches!(anchor, SmbiosAnchor::V2(ep) if ep.structure_count == 9));
    assert_eq!(Smbios2EntryPoint::parse(&v2), Err(SmbiosError::BadChecksum));

    let mut v3 = [0u8; 24];
    v3[0..5].copy_from_slice(b"_SM3_");
    v3[6] = 0x18;
    v3[7] = 3;
    v3[0x0a] = 1;
    v3[0x0c] = 0x40;
    let anchor = parse_anchor(&v3).unwrap();
    assert_eq!(anchor.version(), (3, 0, 0));
    assert!(matches!(anchor, SmbiosAnchor::V3(ep) if ep.table_max_size == 0x40));

    assert_eq!(parse_anchor(b"_XX_"), Err(SmbiosError::BadAnchor));
    assert_eq!(
        parse_anchor(&v3[..10]),
        Err(SmbiosError::BadEntryPointLength {
            length: 0x18,
            available: 10
        })
    );
    v2[0x10] = b'X';
    assert_eq!(parse_anchor(&v2), Err(SmbiosError::BadIntermediateAnchor));
}

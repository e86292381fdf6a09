//! `PeImage::load` on synthetic images: copying, zero-fill, relocation and the preferred-base rule.

mod common;

use common::*;
use pe_loader::{
    PeError, PeImage, Subsystem, EFI_BOOT_SERVICES_CODE, EFI_LOADER_CODE,
    IMAGE_FILE_RELOCS_STRIPPED,
};

/// A destination pre-filled with garbage, so zero-fill is observable.
fn dest_for(img: &PeImage) -> Vec<u8> {
    vec![0xaa; img.size_of_image() as usize]
}

#[test]
fn loads_at_another_base_and_patches_dir64_and_highlow() {
    let file = Builder::standard().build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    let load_address = 0x8000_0000u64;
    let delta = load_address.wrapping_sub(IMAGE_BASE);
    let loaded = img.load(&mut dest, load_address).unwrap();

    assert_eq!(
        loaded.entry_point,
        load_address + u64::from(TEXT_RVA) + 0x10
    );
    assert_eq!(loaded.image_base, load_address);
    assert_eq!(loaded.size, 0x4000);
    assert_eq!(loaded.subsystem, Subsystem::EfiApplication);
    assert_eq!(loaded.code_type, EFI_LOADER_CODE);
    assert_eq!(loaded.relocations_applied, 3);

    assert_eq!(get64(&dest, DIR64_A), DIR64_A_VALUE.wrapping_add(delta));
    assert_eq!(get64(&dest, DIR64_A), 0x8000_2000);
    assert_eq!(get64(&dest, DIR64_B), 0x8000_1010);
    assert_eq!(
        get32(&dest, HIGHLOW_AT),
        HIGHLOW_VALUE.wrapping_add(delta as u32)
    );
    // The ABSOLUTE entry's location is left alone.
    assert_eq!(get64(&dest, ABSOLUTE_AT), ABSOLUTE_MARKER);
}

#[test]
fn headers_and_sections_are_copied_and_the_rest_zeroed() {
    let b = Builder::standard();
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    img.load(&mut dest, IMAGE_BASE).unwrap();

    assert_eq!(dest[..0x200], file[..0x200]);
    assert!(
        dest[0x200..0x1000].iter().all(|&x| x == 0),
        "gap after headers"
    );
    assert_eq!(dest[0x1000..0x1200], b.sections[0].data[..]);
    assert!(
        dest[0x1200..0x2000].iter().all(|&x| x == 0),
        "gap after .text"
    );
    assert_eq!(dest[0x2000..0x2200], b.sections[1].data[..]);
    assert!(
        dest[0x2200..0x3000].iter().all(|&x| x == 0),
        ".data VirtualSize > SizeOfRawData"
    );
    assert_eq!(dest[0x3000..0x301c], b.sections[2].data[..]);
    assert!(dest[0x301c..].iter().all(|&x| x == 0), "tail");
}

#[test]
fn raw_data_beyond_virtual_size_is_not_copied() {
    let mut b = Builder::standard();
    b.sections[0].virtual_size = 0x180; // raw .text is 0x200 bytes, the last 0x10 are 0xcc
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    img.load(&mut dest, IMAGE_BASE).unwrap();
    assert_eq!(dest[0x1000..0x1180], b.sections[0].data[..0x180]);
    assert!(dest[0x1180..0x2000].iter().all(|&x| x == 0));
}

#[test]
fn at_preferred_base_nothing_is_patched() {
    let file = Builder::standard().build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    let loaded = img.load(&mut dest, IMAGE_BASE).unwrap();
    assert_eq!(loaded.relocations_applied, 0);
    assert_eq!(loaded.image_base, IMAGE_BASE);
    assert_eq!(get64(&dest, DIR64_A), DIR64_A_VALUE);
    assert_eq!(get32(&dest, HIGHLOW_AT), HIGHLOW_VALUE);
}

#[test]
fn loading_below_image_base_wraps_the_delta() {
    let mut b = Builder::standard();
    b.image_base = 0x10_0000; // load at 0x1000: delta = -0xff000
    b.sections[0].data[0x100..0x108].copy_from_slice(&0x10_2000u64.to_le_bytes());
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    img.load(&mut dest, 0x1000).unwrap();
    assert_eq!(get64(&dest, DIR64_A), 0x3000);
    assert_eq!(
        get32(&dest, HIGHLOW_AT),
        HIGHLOW_VALUE.wrapping_sub(0xff000)
    );
}

#[test]
fn highlow_takes_only_the_low_32_bits_of_the_delta() {
    let file = Builder::standard().build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    let load_address = IMAGE_BASE + 0x1_0000_3000; // delta 0x1_0000_3000
    img.load(&mut dest, load_address).unwrap();
    assert_eq!(get32(&dest, HIGHLOW_AT), HIGHLOW_VALUE + 0x3000);
    assert_eq!(get64(&dest, DIR64_A), DIR64_A_VALUE + 0x1_0000_3000);
}

#[test]
fn stripped_relocations_need_the_preferred_base() {
    let mut b = Builder::standard().without_relocs();
    b.characteristics |= IMAGE_FILE_RELOCS_STRIPPED;
    b.subsystem = 11;
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();
    assert!(!img.has_relocations());
    let mut dest = dest_for(&img);
    assert_eq!(
        img.load(&mut dest, 0x8000_0000).unwrap_err(),
        PeError::NeedsPreferredBase {
            image_base: IMAGE_BASE
        }
    );
    assert!(dest.iter().all(|&x| x == 0xaa), "dest untouched on error");

    // Retrying at ImageBase works and leaves the absolute addresses as linked.
    let loaded = img.load(&mut dest, IMAGE_BASE).unwrap();
    assert_eq!(loaded.image_base, IMAGE_BASE);
    assert_eq!(loaded.code_type, EFI_BOOT_SERVICES_CODE);
    assert_eq!(get64(&dest, DIR64_A), DIR64_A_VALUE);
}

#[test]
fn no_relocation_directory_without_stripped_flag_loads_anywhere_unpatched() {
    let file = Builder::standard().without_relocs().build();
    let img = PeImage::parse(&file).unwrap();
    assert!(!img.has_relocations());
    assert!(img.can_relocate());
    let mut dest = dest_for(&img);
    let loaded = img.load(&mut dest, 0x8000_0000).unwrap();
    assert_eq!(loaded.relocations_applied, 0);
    assert_eq!(get64(&dest, DIR64_A), DIR64_A_VALUE);
}

#[test]
fn directory_with_only_absolute_entries_is_relocatable() {
    let mut b = Builder::standard();
    b.set_relocs(reloc_block(0x1000, &[entry(0, 0), entry(0, 0)]));
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();
    assert!(img.has_relocations());
    let mut dest = dest_for(&img);
    assert_eq!(
        img.load(&mut dest, 0x20_0000).unwrap().relocations_applied,
        0
    );
}

#[test]
fn destination_and_address_are_checked_before_writing() {
    let mut b = Builder::standard();
    b.section_alignment = 0x1_0000;
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();

    let mut short = vec![0xaa; 0x3fff];
    assert_eq!(
        img.load(&mut short, IMAGE_BASE).unwrap_err(),
        PeError::DestinationSize {
            expected: 0x4000,
            actual: 0x3fff
        }
    );
    let mut long = vec![0xaa; 0x5000];
    assert!(matches!(
        img.load(&mut long, IMAGE_BASE),
        Err(PeError::DestinationSize { .. })
    ));

    let mut dest = dest_for(&img);
    assert_eq!(
        img.load(&mut dest, 0x8000_8000).unwrap_err(),
        PeError::MisalignedLoadAddress {
            load_address: 0x8000_8000,
            alignment: 0x1_0000
        }
    );
    assert!(dest.iter().all(|&x| x == 0xaa), "dest untouched on error");
    img.load(&mut dest, 0x8001_0000).unwrap();

    let file = Builder::standard().build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    // 0xffff_ffff_ffff_e000 + SizeOfImage (0x4000) does not fit in 64 bits.
    assert_eq!(
        img.load(&mut dest, 0xffff_ffff_ffff_e000).unwrap_err(),
        PeError::AddressOverflow
    );
    assert!(dest.iter().all(|&x| x == 0xaa), "dest untouched on error");
    img.load(&mut dest, 0xffff_ffff_ffff_a000).unwrap();
}

#[test]
fn relocation_patching_a_relocation_block_does_not_change_the_walk() {
    // A DIR64 fix-up aimed at the relocation directory itself: the walk reads the file, so the second block is
    // still applied as written even though the loaded copy of the directory is modified.
    let mut relocs = reloc_block(0x3000, &[entry(10, 0x10), entry(0, 0)]);
    relocs.extend(reloc_block(0x1000, &[entry(10, 0x100), entry(0, 0)]));
    let mut b = Builder::standard();
    b.set_relocs(relocs);
    let file = b.build();
    let img = PeImage::parse(&file).unwrap();
    let mut dest = dest_for(&img);
    let loaded = img.load(&mut dest, 0x8000_0000).unwrap();
    assert_eq!(loaded.relocations_applied, 2);
    assert_eq!(get64(&dest, DIR64_A), 0x8000_2000);
}

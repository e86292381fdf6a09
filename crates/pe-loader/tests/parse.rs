//! `PeImage::parse` on synthetic images: accepted fields and every rejection path.

mod common;

use common::*;
use pe_loader::{
    PeError, PeImage, PeStructure, Subsystem, IMAGE_FILE_MACHINE_ARM64, IMAGE_FILE_RELOCS_STRIPPED,
};

fn parse_err(b: &Builder) -> PeError {
    PeImage::parse(&b.build()).expect_err("image should be rejected")
}

#[test]
fn standard_image_parses_with_its_header_fields() {
    let file = Builder::standard().build();
    let img = PeImage::parse(&file).unwrap();
    assert_eq!(img.size_of_image(), 0x4000);
    assert_eq!(img.size_of_headers(), 0x200);
    assert_eq!(img.image_base(), IMAGE_BASE);
    assert_eq!(img.address_of_entry_point(), TEXT_RVA + 0x10);
    assert_eq!(img.subsystem(), Subsystem::EfiApplication);
    assert_eq!(img.machine(), 0x8664);
    assert_eq!(img.dll_characteristics(), 0x0140);
    assert_eq!(
        (img.section_alignment(), img.file_alignment()),
        (0x1000, 0x200)
    );
    assert_eq!(img.required_alignment(), 0x1000);
    assert!(img.has_relocations());
    assert!(img.can_relocate());
    assert!(!img.relocs_stripped());
    let dir = img.data_directory(5).unwrap();
    assert_eq!((dir.virtual_address, dir.size), (RELOC_RVA, 28));
    assert!(img.data_directory(16).is_none());
    let sections: Vec<_> = img
        .sections()
        .map(|s| {
            (
                s.name_str().to_string(),
                s.virtual_address,
                s.loaded_size(),
                s.characteristics,
            )
        })
        .collect();
    assert_eq!(
        sections,
        [
            (".text".to_string(), 0x1000, 0x200, 0x6000_0020),
            (".data".to_string(), 0x2000, 0x1000, 0xc000_0040),
            (".reloc".to_string(), 0x3000, 28, 0x4200_0040),
        ]
    );
}

#[test]
fn every_proper_prefix_is_a_truncation_error() {
    let file = Builder::standard().build();
    PeImage::parse(&file).unwrap();
    for len in 0..file.len() {
        match PeImage::parse(&file[..len]) {
            Err(PeError::Truncated { .. }) => {}
            other => panic!("prefix of {len} bytes gave {other:?}"),
        }
    }
    // Spot-check which structure is named at a few cut points.
    let what = |len: usize| match PeImage::parse(&file[..len]) {
        Err(PeError::Truncated { what }) => what,
        other => panic!("{other:?}"),
    };
    assert_eq!(what(0), PeStructure::DosHeader);
    assert_eq!(what(0x82), PeStructure::PeSignature);
    assert_eq!(what(0x90), PeStructure::CoffHeader);
    assert_eq!(what(0x100), PeStructure::OptionalHeader);
    assert_eq!(what(0x190), PeStructure::SectionTable);
    assert_eq!(what(0x1ff), PeStructure::SectionTable);
    assert_eq!(what(0x3ff), PeStructure::SectionData(0));
    assert_eq!(what(0x5ff), PeStructure::SectionData(1));
    assert_eq!(what(0x601), PeStructure::SectionData(2));

    // SizeOfHeaders beyond the section table and beyond the end of the file.
    let mut b = Builder::standard().without_relocs();
    b.sections.clear();
    b.size_of_headers = 0x400;
    let f = b.build();
    assert_eq!(f.len(), 0x400);
    PeImage::parse(&f).unwrap();
    assert_eq!(
        PeImage::parse(&f[..0x300]).unwrap_err(),
        PeError::Truncated {
            what: PeStructure::Headers
        }
    );
}

#[test]
fn non_pe_files_are_rejected() {
    let good = Builder::standard().build();
    let mut f = good.clone();
    f[0] = b'Z';
    assert_eq!(PeImage::parse(&f).unwrap_err(), PeError::NotPe);
    let mut f = good.clone();
    f[E_LFANEW + 2] = 1;
    assert_eq!(PeImage::parse(&f).unwrap_err(), PeError::NotPe);
    let mut f = good.clone();
    put32(&mut f, 0x3c, 0xffff_fffe);
    assert_eq!(
        PeImage::parse(&f).unwrap_err(),
        PeError::Truncated {
            what: PeStructure::PeSignature
        }
    );
    assert_eq!(PeImage::parse(&[0u8; 0x1000]).unwrap_err(), PeError::NotPe);
}

#[test]
fn wrong_machine_is_rejected_and_machine_is_a_parameter() {
    let mut b = Builder::standard();
    b.machine = 0x014c;
    assert_eq!(parse_err(&b), PeError::UnsupportedMachine(0x014c));
    let x64 = Builder::standard().build();
    assert_eq!(
        PeImage::parse_for_machine(&x64, IMAGE_FILE_MACHINE_ARM64).unwrap_err(),
        PeError::UnsupportedMachine(0x8664)
    );
    b.machine = IMAGE_FILE_MACHINE_ARM64;
    let arm = b.build();
    assert_eq!(
        PeImage::parse(&arm).unwrap_err(),
        PeError::UnsupportedMachine(0xaa64)
    );
    assert_eq!(
        PeImage::parse_for_machine(&arm, IMAGE_FILE_MACHINE_ARM64)
            .unwrap()
            .machine(),
        0xaa64
    );
}

#[test]
fn pe32_and_other_magics_are_rejected() {
    let mut b = Builder::standard();
    b.magic = 0x10b;
    assert_eq!(parse_err(&b), PeError::NotPe32Plus(0x10b));
    assert!(PeError::NotPe32Plus(0x10b).is_unsupported());
    b.magic = 0x107;
    assert_eq!(parse_err(&b), PeError::NotPe32Plus(0x107));
}

#[test]
fn optional_header_must_hold_its_directories() {
    let mut f = Builder::standard().build();
    put32(&mut f, OPT + 108, 17);
    assert_eq!(
        PeImage::parse(&f).unwrap_err(),
        PeError::OptionalHeaderTooSmall {
            size_of_optional_header: 240,
            number_of_rva_and_sizes: 17
        }
    );
    let mut f = Builder::standard().build();
    put16(&mut f, COFF + 16, 100);
    assert!(matches!(
        PeImage::parse(&f).unwrap_err(),
        PeError::OptionalHeaderTooSmall {
            size_of_optional_header: 100,
            ..
        }
    ));
    // Fewer directories than 6: no relocation directory at all.
    let mut b = Builder::standard().without_relocs();
    b.number_of_rva_and_sizes = 2;
    let f = b.build();
    let img = PeImage::parse(&f).unwrap();
    assert!(!img.has_relocations());
    assert_eq!(img.data_directory(5).unwrap().size, 0);
}

#[test]
fn subsystem_is_exposed_and_non_efi_subsystems_rejected() {
    for (raw, expected) in [
        (11, Subsystem::EfiBootServiceDriver),
        (12, Subsystem::EfiRuntimeDriver),
    ] {
        let mut b = Builder::standard();
        b.subsystem = raw;
        assert_eq!(PeImage::parse(&b.build()).unwrap().subsystem(), expected);
    }
    for raw in [0, 3, 13] {
        let mut b = Builder::standard();
        b.subsystem = raw;
        assert_eq!(parse_err(&b), PeError::UnsupportedSubsystem(raw));
    }
}

#[test]
fn image_geometry_is_validated() {
    let mut b = Builder::standard();
    b.section_alignment = 0x3000;
    assert_eq!(parse_err(&b), PeError::InvalidSectionAlignment(0x3000));
    b.section_alignment = 0;
    assert_eq!(parse_err(&b), PeError::InvalidSectionAlignment(0));

    let mut b = Builder::standard();
    b.size_of_image = 0;
    assert_eq!(parse_err(&b), PeError::EmptyImage);

    let mut b = Builder::standard();
    b.size_of_headers = 0x100; // below the end of the section table (0x200)
    assert!(matches!(
        parse_err(&b),
        PeError::InvalidSizeOfHeaders {
            size_of_headers: 0x100,
            headers_end: 0x200,
            ..
        }
    ));

    let mut b = Builder::standard();
    b.size_of_image = 0x180;
    b.size_of_headers = 0x200;
    assert!(matches!(
        parse_err(&b),
        PeError::InvalidSizeOfHeaders {
            size_of_image: 0x180,
            ..
        }
    ));

    for entry in [0, 0x1ff, 0x4000, u32::MAX] {
        let mut b = Builder::standard();
        b.entry = entry;
        assert_eq!(parse_err(&b), PeError::EntryPointOutOfImage(entry));
    }
}

#[test]
fn large_section_alignment_raises_required_alignment() {
    let mut b = Builder::standard();
    b.section_alignment = 0x1_0000;
    assert_eq!(
        PeImage::parse(&b.build()).unwrap().required_alignment(),
        0x1_0000
    );
    b.section_alignment = 0x20;
    assert_eq!(
        PeImage::parse(&b.build()).unwrap().required_alignment(),
        0x1000
    );
}

#[test]
fn sections_outside_the_image_are_rejected() {
    let mut b = Builder::standard();
    b.sections[1].virtual_size = 0x1001; // .data now reaches into .reloc
    assert_eq!(parse_err(&b), PeError::SectionOverlap { index: 2 });

    let mut b = Builder::standard();
    b.sections[2].virtual_size = 0x1001;
    assert_eq!(parse_err(&b), PeError::SectionOutOfImage { index: 2 });

    let mut b = Builder::standard();
    b.sections[0].virtual_address = 0x100; // inside the headers
    assert_eq!(parse_err(&b), PeError::SectionOutOfImage { index: 0 });

    let mut b = Builder::standard();
    b.sections[1].virtual_address = 0xffff_f000; // VirtualAddress + VirtualSize overflows u32
    assert_eq!(parse_err(&b), PeError::SectionOutOfImage { index: 1 });

    let mut b = Builder::standard();
    b.sections[1].virtual_address = 0x1100; // inside .text
    assert_eq!(parse_err(&b), PeError::SectionOverlap { index: 1 });
}

#[test]
fn section_raw_data_must_be_in_the_file() {
    let b = Builder::standard();
    let mut f = b.build();
    let entry = b.section_table_offset() + 40;
    put32(&mut f, entry + 20, 0xffff_ff00); // PointerToRawData of .data
    assert_eq!(
        PeImage::parse(&f).unwrap_err(),
        PeError::Truncated {
            what: PeStructure::SectionData(1)
        }
    );
}

#[test]
fn relocation_directory_is_validated() {
    let mut b = Builder::standard();
    b.reloc_dir = (0x3ff0, 0x20);
    assert_eq!(parse_err(&b), PeError::DirectoryOutOfImage { index: 5 });

    let mut b = Builder::standard();
    b.reloc_dir = (DATA_RVA + 0x800, 0x10); // zero-filled part of .data: not in the file
    assert_eq!(parse_err(&b), PeError::RelocationDirectoryNotInFile);

    let mut b = Builder::standard();
    b.set_relocs(reloc_block(0x3000, &[entry(10, 0xffc), entry(0, 0)]));
    assert_eq!(parse_err(&b), PeError::RelocationOutOfImage { rva: 0x3ffc });

    let mut b = Builder::standard();
    b.set_relocs(reloc_block(0x1000, &[entry(3, 0x0), entry(4, 0x8)]));
    let err = parse_err(&b);
    assert_eq!(
        err,
        PeError::UnsupportedRelocation {
            kind: 4,
            rva: 0x1008
        }
    );
    assert!(err.is_unsupported());

    let mut blocks = reloc_block(0x1000, &[entry(10, 0x100), entry(0, 0)]);
    blocks.extend_from_slice(&[0u8; 8]); // a zero-sized block
    let mut b = Builder::standard();
    b.set_relocs(blocks);
    assert_eq!(
        parse_err(&b),
        PeError::InvalidRelocationBlock {
            offset: 12,
            size_of_block: 0
        }
    );

    // Directory shorter than the block it holds.
    let mut b = Builder::standard();
    b.reloc_dir.1 = 20;
    assert!(matches!(
        parse_err(&b),
        PeError::InvalidRelocationBlock { offset: 16, .. }
    ));
}

#[test]
fn relocation_directory_in_the_headers_is_read_from_the_file() {
    let mut b = Builder::standard().without_relocs();
    b.number_of_rva_and_sizes = 6; // section table now ends at 0x98 + 160 + 2 * 40 = 0x188
    let block = reloc_block(0x1000, &[entry(10, 0x100), entry(0, 0)]);
    b.reloc_dir = (0x1e0, block.len() as u32);
    let mut f = b.build();
    f[0x1e0..0x1e0 + block.len()].copy_from_slice(&block);
    let img = PeImage::parse(&f).unwrap();
    assert!(img.has_relocations());
}

#[test]
fn stripped_flag_ignores_the_directory() {
    let mut b = Builder::standard();
    b.characteristics |= IMAGE_FILE_RELOCS_STRIPPED;
    b.reloc_dir = (0x3ff0, 0x20); // would be DirectoryOutOfImage if it were looked at
    let f = b.build();
    let img = PeImage::parse(&f).unwrap();
    assert!(img.relocs_stripped());
    assert!(!img.has_relocations());
    assert!(!img.can_relocate());
}

#[test]
fn corrupting_any_header_byte_never_panics() {
    let good = Builder::standard().build();
    for at in 0..0x200 {
        for value in [0x00, 0x7f, 0xff] {
            let mut f = good.clone();
            f[at] = value;
            if let Ok(img) = PeImage::parse(&f) {
                // Only load what parses; cap allocations for corrupted SizeOfImage values.
                if img.size_of_image() <= 0x100_0000 {
                    let mut dest = vec![0u8; img.size_of_image() as usize];
                    let _ = img.load(&mut dest, img.image_base());
                    let _ = img.load(&mut dest, 0x10_0000);
                }
            }
        }
    }
}

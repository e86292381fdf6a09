//! PE32+ (PE/COFF) image loading for UEFI `LoadImage`.
//!
//! UEFI images are PE32+ files (UEFI 2.10 section 2.1.1) with subsystem 10 (application), 11 (boot service
//! driver) or 12 (runtime driver). This crate parses and validates such a file ([`PeImage::parse`]), then copies it
//! into memory the caller allocated and applies base relocations ([`PeImage::load`]). It does no allocation of
//! image memory, no signature checking and no memory protection; the firmware does those with the accessors here
//! (`size_of_image`, `required_alignment`, `subsystem`, `sections`).
//!
//! # What `parse` validates
//! - MS-DOS header `"MZ"`, `e_lfanew` → `"PE\0\0"`; COFF `Machine` equal to the requested one
//!   ([`IMAGE_FILE_MACHINE_X64`] for [`PeImage::parse`]); optional header magic PE32+ (0x20b);
//!   `SizeOfOptionalHeader` large enough for the fixed fields and `NumberOfRvaAndSizes` directories;
//! - `Subsystem` in 10..=12; `SectionAlignment` a power of two; `SizeOfImage` non-zero;
//! - `SizeOfHeaders` covers the section table, is at most `SizeOfImage`, and exists in the file;
//! - `AddressOfEntryPoint` in `[SizeOfHeaders, SizeOfImage)`;
//! - each section inside `[SizeOfHeaders, SizeOfImage]`, sections ascending and disjoint, file data present;
//! - the base relocation directory (index 5) inside the image and file-backed, every block and entry valid.
//!
//! All offset arithmetic is checked (`checked_add` on `usize`, or `u64` sums of `u32` fields that cannot
//! overflow) and every read is a bounds-checked slice access: any input gives `Ok` or a [`PeError`], never a
//! panic. Not validated (not needed to load safely): `FileAlignment`, checksums, data directories other than
//! index 5, `SizeOfImage` being a multiple of `SectionAlignment`.
//!
//! # Relocation rules
//! `delta = load_address - ImageBase` (wrapping). Blocks need `8 <= SizeOfBlock`, even, inside the directory.
//! `ABSOLUTE` (0) entries are skipped, `HIGHLOW` (3) adds the low 32 bits of the delta to a 32-bit field, `DIR64`
//! (10) adds the delta to a 64-bit field; any other type is rejected, as is any field reaching past
//! `SizeOfImage`. An image marked `IMAGE_FILE_RELOCS_STRIPPED` loads only at `ImageBase`
//! ([`PeError::NeedsPreferredBase`] tells the caller to retry there); one with no relocation directory and no
//! such mark is position-independent and loads anywhere (see [`PeImage::load`]).
//!
//! # Errors
//! [`PeError`] names the structure or field at fault (`Truncated { what }`, `UnsupportedMachine(m)`,
//! `SectionOutOfImage { index }`, `RelocationOutOfImage { rva }`, ...). [`PeError::is_unsupported`] separates
//! well-formed-but-unsupported images (`EFI_UNSUPPORTED`) from malformed ones (`EFI_LOAD_ERROR`).
//!
//! # Sources
//! UEFI Specification 2.10, section 2.1.1 (UEFI images), 7.2 (`EFI_MEMORY_TYPE`), 7.4 (`LoadImage`), 9.1
//! (`EFI_LOADED_IMAGE_PROTOCOL`); Microsoft "PE Format" specification (MS-DOS stub, COFF file header, optional
//! header, section table, `.reloc` section).
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod error;
mod image;
mod load;
mod read;
mod reloc;
mod section;
mod subsystem;

pub use error::{PeError, PeStructure};
pub use image::{
    DataDirectory, PeImage, IMAGE_DIRECTORY_ENTRY_BASERELOC, IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE,
    IMAGE_DLLCHARACTERISTICS_NX_COMPAT, IMAGE_FILE_EXECUTABLE_IMAGE, IMAGE_FILE_MACHINE_ARM64,
    IMAGE_FILE_MACHINE_X64, IMAGE_FILE_RELOCS_STRIPPED, MAX_DATA_DIRECTORIES, PAGE_SIZE,
    PE32PLUS_MAGIC, PE32_MAGIC,
};
pub use load::LoadedImage;
pub use reloc::{IMAGE_REL_BASED_ABSOLUTE, IMAGE_REL_BASED_DIR64, IMAGE_REL_BASED_HIGHLOW};
pub use section::{
    SectionHeader, IMAGE_SCN_CNT_CODE, IMAGE_SCN_CNT_INITIALIZED_DATA,
    IMAGE_SCN_CNT_UNINITIALIZED_DATA, IMAGE_SCN_MEM_DISCARDABLE, IMAGE_SCN_MEM_EXECUTE,
    IMAGE_SCN_MEM_READ, IMAGE_SCN_MEM_WRITE, SECTION_HEADER_SIZE,
};
pub use subsystem::{
    Subsystem, EFI_BOOT_SERVICES_CODE, EFI_BOOT_SERVICES_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA,
    EFI_RUNTIME_SERVICES_CODE, EFI_RUNTIME_SERVICES_DATA,
};

//! The error type of parsing and loading.
//!
//! Every variant names exactly which structure or field was wrong, so that the firmware can log it and map it to
//! an `EFI_STATUS` (`EFI_LOAD_ERROR` for malformed files, `EFI_UNSUPPORTED` for well-formed images this loader does
//! not run, see [`PeError::is_unsupported`]).

use core::fmt;

/// A structure of a PE/COFF file, named in [`PeError::Truncated`] when the file ends before it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeStructure {
    /// The 64-byte MS-DOS header (`e_magic` .. `e_lfanew`).
    DosHeader,
    /// The 4-byte `"PE\0\0"` signature at `e_lfanew`.
    PeSignature,
    /// The 20-byte COFF file header following the signature.
    CoffHeader,
    /// The optional header (`SizeOfOptionalHeader` bytes following the COFF header).
    OptionalHeader,
    /// The section table (`NumberOfSections` entries of 40 bytes).
    SectionTable,
    /// The `SizeOfHeaders` bytes at the start of the file that are copied to the image.
    Headers,
    /// The raw data (`PointerToRawData`, `SizeOfRawData`) of the section with this index.
    SectionData(u16),
}

/// Why a file could not be parsed as, or loaded as, a UEFI PE32+ image.
///
/// Offsets are file offsets in bytes; RVAs are relative virtual addresses (offsets from the start of the loaded
/// image) in bytes; sizes are in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeError {
    /// The file does not start with the MS-DOS `"MZ"` magic or `e_lfanew` does not point at `"PE\0\0"`.
    NotPe,
    /// The file ends before the named structure does.
    Truncated {
        /// The structure that does not fit in the file.
        what: PeStructure,
    },
    /// COFF `Machine` is not the one this loader was asked to accept (value as found in the file).
    UnsupportedMachine(u16),
    /// The optional header magic is not PE32+ (0x20b); 0x10b is a 32-bit PE32 image.
    NotPe32Plus(u16),
    /// `SizeOfOptionalHeader` is too small for the PE32+ fixed fields plus `NumberOfRvaAndSizes` data directories.
    OptionalHeaderTooSmall {
        /// `SizeOfOptionalHeader` from the COFF header.
        size_of_optional_header: u16,
        /// `NumberOfRvaAndSizes` from the optional header (0 if the header cannot even hold that field).
        number_of_rva_and_sizes: u32,
    },
    /// The optional-header `Subsystem` is not one of EFI application (10), boot service driver (11) or runtime
    /// driver (12).
    UnsupportedSubsystem(u16),
    /// `SectionAlignment` is zero or not a power of two.
    InvalidSectionAlignment(u32),
    /// `SizeOfImage` is zero.
    EmptyImage,
    /// `SizeOfHeaders` is larger than `SizeOfImage`, or smaller than the end of the section table.
    InvalidSizeOfHeaders {
        /// `SizeOfHeaders` from the optional header.
        size_of_headers: u32,
        /// File offset just past the section table, the least valid `SizeOfHeaders`.
        headers_end: u32,
        /// `SizeOfImage` from the optional header, the greatest valid `SizeOfHeaders`.
        size_of_image: u32,
    },
    /// `AddressOfEntryPoint` is not inside `[SizeOfHeaders, SizeOfImage)`.
    EntryPointOutOfImage(u32),
    /// Section `index` reaches past `SizeOfImage` or starts inside the headers (`VirtualAddress < SizeOfHeaders`).
    SectionOutOfImage {
        /// Index of the section in the section table.
        index: u16,
    },
    /// Section `index` starts before the end of the previous section (the table must be ascending and disjoint).
    SectionOverlap {
        /// Index of the section in the section table.
        index: u16,
    },
    /// Data directory `index` (5 = base relocation) reaches past `SizeOfImage`.
    DirectoryOutOfImage {
        /// Index of the data directory.
        index: usize,
    },
    /// The base relocation directory is not entirely inside file-backed bytes of one section (or of the headers),
    /// so it cannot be read from the file.
    RelocationDirectoryNotInFile,
    /// A base relocation block has `SizeOfBlock` below 8, odd, or reaching past the end of the directory.
    InvalidRelocationBlock {
        /// Offset of the block from the start of the relocation directory.
        offset: u32,
        /// `SizeOfBlock` of that block.
        size_of_block: u32,
    },
    /// A base relocation has a type other than ABSOLUTE (0), HIGHLOW (3) or DIR64 (10).
    UnsupportedRelocation {
        /// The relocation type (top 4 bits of the entry).
        kind: u8,
        /// RVA of the field it would patch.
        rva: u64,
    },
    /// A base relocation patches bytes at or past `SizeOfImage`.
    RelocationOutOfImage {
        /// RVA of the field it would patch.
        rva: u64,
    },
    /// The image has no base relocations (stripped, or no relocation directory) and so can only run at its
    /// preferred `ImageBase`; the caller should retry there.
    NeedsPreferredBase {
        /// The image's preferred `ImageBase`.
        image_base: u64,
    },
    /// The destination buffer given to `load` is not exactly `SizeOfImage` bytes long.
    DestinationSize {
        /// `SizeOfImage`.
        expected: usize,
        /// Length of the buffer passed.
        actual: usize,
    },
    /// The load address is not a multiple of [`crate::PeImage::required_alignment`].
    MisalignedLoadAddress {
        /// The load address passed.
        load_address: u64,
        /// The required alignment in bytes.
        alignment: u64,
    },
    /// `load_address + SizeOfImage` does not fit in 64 bits.
    AddressOverflow,
}

impl PeError {
    /// True for images that are well-formed but that this loader does not run (machine, PE32, subsystem,
    /// relocation type): UEFI `LoadImage` reports these as `EFI_UNSUPPORTED` rather than `EFI_LOAD_ERROR`.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            PeError::UnsupportedMachine(_)
                | PeError::NotPe32Plus(_)
                | PeError::UnsupportedSubsystem(_)
                | PeError::UnsupportedRelocation { .. }
        )
    }
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeError::NotPe => write!(f, "not a PE image (no MZ / PE\\0\\0 signature)"),
            PeError::Truncated { what } => write!(f, "file truncated inside {what:?}"),
            PeError::UnsupportedMachine(m) => write!(f, "unsupported COFF machine {m:#06x}"),
            PeError::NotPe32Plus(m) => write!(f, "optional header magic {m:#05x} is not PE32+ (0x20b)"),
            PeError::OptionalHeaderTooSmall {
                size_of_optional_header,
                number_of_rva_and_sizes,
            } => write!(
                f,
                "SizeOfOptionalHeader {size_of_optional_header} too small for {number_of_rva_and_sizes} directories"
            ),
            PeError::UnsupportedSubsystem(s) => write!(f, "subsystem {s} is not an EFI image"),
            PeError::InvalidSectionAlignment(a) => write!(f, "SectionAlignment {a:#x} is not a power of two"),
            PeError::EmptyImage => write!(f, "SizeOfImage is zero"),
            PeError::InvalidSizeOfHeaders {
                size_of_headers,
                headers_end,
                size_of_image,
            } => write!(
                f,
                "SizeOfHeaders {size_of_headers:#x} outside [{headers_end:#x}, SizeOfImage {size_of_image:#x}]"
            ),
            PeError::EntryPointOutOfImage(rva) => write!(f, "entry point RVA {rva:#x} outside the image"),
            PeError::SectionOutOfImage { index } => write!(f, "section {index} lies outside the image"),
            PeError::SectionOverlap { index } => write!(f, "section {index} overlaps the previous section"),
            PeError::DirectoryOutOfImage { index } => write!(f, "data directory {index} lies outside the image"),
            PeError::RelocationDirectoryNotInFile => write!(f, "relocation directory is not backed by file data"),
            PeError::InvalidRelocationBlock { offset, size_of_block } => {
                write!(f, "relocation block at {offset:#x} has invalid SizeOfBlock {size_of_block:#x}")
            }
            PeError::UnsupportedRelocation { kind, rva } => {
                write!(f, "unsupported relocation type {kind} at RVA {rva:#x}")
            }
            PeError::RelocationOutOfImage { rva } => write!(f, "relocation at RVA {rva:#x} outside the image"),
            PeError::NeedsPreferredBase { image_base } => {
                write!(f, "image has no relocations; must load at ImageBase {image_base:#x}")
            }
            PeError::DestinationSize { expected, actual } => {
                write!(f, "destination is {actual:#x} bytes, SizeOfImage is {expected:#x}")
            }
            PeError::MisalignedLoadAddress {
                load_address,
                alignment,
            } => write!(f, "load address {load_address:#x} not aligned to {alignment:#x}"),
            PeError::AddressOverflow => write!(f, "load address + SizeOfImage overflows"),
        }
    }
}

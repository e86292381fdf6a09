//! Header parsing and validation: [`PeImage::parse`] and the accessors the firmware uses before loading.
//!
//! Invariants of a [`PeImage`] (established once in `parse`, relied on by `load`):
//! - `0 < SizeOfHeaders <= SizeOfImage`, the headers (through the section table) fit in `SizeOfHeaders`, and
//!   `SizeOfHeaders` bytes exist in the file;
//! - every section's loaded range `[VirtualAddress, VirtualAddress + loaded_size)` lies in
//!   `[SizeOfHeaders, SizeOfImage]`, sections are ascending and disjoint, and the bytes copied from the file
//!   (`file_copy_size` at `PointerToRawData`) exist in the file;
//! - `AddressOfEntryPoint` is in `[SizeOfHeaders, SizeOfImage)`; `SectionAlignment` is a power of two;
//! - when the image is relocatable, the base relocation directory is file-backed and every block and target in it
//!   has been validated (see the `reloc` module).
//!
//! Field offsets are those of the PE/COFF specification ("MS-DOS Stub", "COFF File Header", "Optional Header
//! Standard/Windows-Specific Fields (Image Only)", "Optional Header Data Directories").

use alloc::vec::Vec;
use core::fmt;

use crate::error::{PeError, PeStructure};
use crate::read::{slice, to_usize, u16_at, u32_at, u64_at};
use crate::reloc;
use crate::section::{SectionHeader, SECTION_HEADER_SIZE};
use crate::subsystem::Subsystem;

/// COFF `Machine` for x86_64 (`IMAGE_FILE_MACHINE_AMD64`).
pub const IMAGE_FILE_MACHINE_X64: u16 = 0x8664;
/// COFF `Machine` for AArch64 (`IMAGE_FILE_MACHINE_ARM64`), for [`PeImage::parse_for_machine`].
pub const IMAGE_FILE_MACHINE_ARM64: u16 = 0xaa64;
/// COFF characteristic `IMAGE_FILE_RELOCS_STRIPPED`: the image has no base relocations and must be loaded at its
/// preferred `ImageBase`.
pub const IMAGE_FILE_RELOCS_STRIPPED: u16 = 0x0001;
/// COFF characteristic `IMAGE_FILE_EXECUTABLE_IMAGE`.
pub const IMAGE_FILE_EXECUTABLE_IMAGE: u16 = 0x0002;
/// Optional header magic of a PE32+ (64-bit) image.
pub const PE32PLUS_MAGIC: u16 = 0x20b;
/// Optional header magic of a PE32 (32-bit) image, rejected by this loader.
pub const PE32_MAGIC: u16 = 0x10b;
/// `DllCharacteristics` `IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE`: the image can be relocated.
pub const IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE: u16 = 0x0040;
/// `DllCharacteristics` `IMAGE_DLLCHARACTERISTICS_NX_COMPAT`: the image tolerates non-executable data pages.
pub const IMAGE_DLLCHARACTERISTICS_NX_COMPAT: u16 = 0x0100;
/// Index of the base relocation table in the data directories.
pub const IMAGE_DIRECTORY_ENTRY_BASERELOC: usize = 5;
/// Number of data directories kept (the PE/COFF spec defines 16).
pub const MAX_DATA_DIRECTORIES: usize = 16;

/// The smallest page size the loader aligns images to, in bytes (UEFI allocates images in 4 KiB pages).
pub const PAGE_SIZE: u64 = 4096;

/// Size of the MS-DOS header up to and including `e_lfanew`.
const DOS_HEADER_SIZE: usize = 0x40;
/// File offset of `e_lfanew` in the MS-DOS header.
const E_LFANEW_OFFSET: usize = 0x3c;
/// Size of the COFF file header.
const COFF_HEADER_SIZE: usize = 20;
/// Size of the PE32+ optional header without its data directories.
const PE32PLUS_FIXED_SIZE: usize = 112;

/// One data directory entry: an RVA and a size in bytes (for index 4, the certificate table, a file offset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataDirectory {
    /// `VirtualAddress` (RVA) of the table.
    pub virtual_address: u32,
    /// `Size` of the table in bytes; 0 means the table is absent.
    pub size: u32,
}

/// A validated PE32+ UEFI image, borrowing the file bytes it was parsed from.
///
/// `Debug` prints the header fields and the file length, not the file bytes.
#[derive(Clone)]
pub struct PeImage<'a> {
    pub(crate) data: &'a [u8],
    machine: u16,
    characteristics: u16,
    subsystem: Subsystem,
    dll_characteristics: u16,
    pub(crate) size_of_image: u32,
    pub(crate) size_of_headers: u32,
    pub(crate) address_of_entry_point: u32,
    image_base: u64,
    section_alignment: u32,
    file_alignment: u32,
    data_directories: [DataDirectory; MAX_DATA_DIRECTORIES],
    pub(crate) sections: Vec<SectionHeader>,
    /// File bytes of the validated base relocation directory; `None` when the image is not relocatable.
    pub(crate) relocations: Option<&'a [u8]>,
}

impl fmt::Debug for PeImage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeImage")
            .field("file_len", &self.data.len())
            .field("machine", &self.machine)
            .field("characteristics", &self.characteristics)
            .field("subsystem", &self.subsystem)
            .field("dll_characteristics", &self.dll_characteristics)
            .field("size_of_image", &self.size_of_image)
            .field("size_of_headers", &self.size_of_headers)
            .field("address_of_entry_point", &self.address_of_entry_point)
            .field("image_base", &self.image_base)
            .field("section_alignment", &self.section_alignment)
            .field("file_alignment", &self.file_alignment)
            .field("sections", &self.sections)
            .field("relocation_bytes", &self.relocations.map(<[u8]>::len))
            .finish()
    }
}

fn truncated(what: PeStructure) -> PeError {
    PeError::Truncated { what }
}

impl<'a> PeImage<'a> {
    /// Parses and validates an x86_64 PE32+ UEFI image (`Machine` = [`IMAGE_FILE_MACHINE_X64`]).
    ///
    /// Errors: see [`PeImage::parse_for_machine`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PeError> {
        Self::parse_for_machine(bytes, IMAGE_FILE_MACHINE_X64)
    }

    /// Parses and validates a PE32+ UEFI image whose COFF `Machine` must equal `machine`.
    ///
    /// Errors, in the order checked: [`PeError::Truncated`] / [`PeError::NotPe`] for the DOS header and signature,
    /// [`PeError::UnsupportedMachine`], [`PeError::NotPe32Plus`], [`PeError::OptionalHeaderTooSmall`],
    /// [`PeError::UnsupportedSubsystem`], [`PeError::InvalidSectionAlignment`], [`PeError::EmptyImage`],
    /// [`PeError::InvalidSizeOfHeaders`], [`PeError::EntryPointOutOfImage`], then per section
    /// [`PeError::SectionOutOfImage`], [`PeError::SectionOverlap`], `Truncated { SectionData(i) }`, then the
    /// relocation directory ([`PeError::DirectoryOutOfImage`], [`PeError::RelocationDirectoryNotInFile`],
    /// [`PeError::InvalidRelocationBlock`], [`PeError::UnsupportedRelocation`], [`PeError::RelocationOutOfImage`]).
    pub fn parse_for_machine(bytes: &'a [u8], machine: u16) -> Result<Self, PeError> {
        // MS-DOS header: "MZ" at 0, e_lfanew at 0x3c.
        let dos = slice(bytes, 0, DOS_HEADER_SIZE).ok_or(truncated(PeStructure::DosHeader))?;
        if &dos[..2] != b"MZ" {
            return Err(PeError::NotPe);
        }
        let e_lfanew = u32_at(dos, E_LFANEW_OFFSET)
            .and_then(to_usize)
            .ok_or(PeError::NotPe)?;
        let signature = slice(bytes, e_lfanew, 4).ok_or(truncated(PeStructure::PeSignature))?;
        if signature != b"PE\0\0" {
            return Err(PeError::NotPe);
        }

        // COFF file header.
        let coff_offset = e_lfanew
            .checked_add(4)
            .ok_or(truncated(PeStructure::CoffHeader))?;
        let coff = slice(bytes, coff_offset, COFF_HEADER_SIZE)
            .ok_or(truncated(PeStructure::CoffHeader))?;
        let field16 = |o| u16_at(coff, o).ok_or(truncated(PeStructure::CoffHeader));
        let file_machine = field16(0)?;
        let number_of_sections = field16(2)?;
        let size_of_optional_header = field16(16)?;
        let characteristics = field16(18)?;
        if file_machine != machine {
            return Err(PeError::UnsupportedMachine(file_machine));
        }

        // Optional header: magic first, so a PE32 file is reported as such rather than as "too small".
        let opt_offset = coff_offset
            .checked_add(COFF_HEADER_SIZE)
            .ok_or(truncated(PeStructure::OptionalHeader))?;
        let opt_len = usize::from(size_of_optional_header);
        let opt =
            slice(bytes, opt_offset, opt_len).ok_or(truncated(PeStructure::OptionalHeader))?;
        let too_small = |n| PeError::OptionalHeaderTooSmall {
            size_of_optional_header,
            number_of_rva_and_sizes: n,
        };
        let magic = u16_at(opt, 0).ok_or(too_small(0))?;
        if magic != PE32PLUS_MAGIC {
            return Err(PeError::NotPe32Plus(magic));
        }
        if opt_len < PE32PLUS_FIXED_SIZE {
            return Err(too_small(0));
        }
        // All fixed fields are inside `opt` now (length checked above), so these reads cannot fail.
        let field32 = |o| u32_at(opt, o).ok_or(too_small(0));
        let address_of_entry_point = field32(16)?;
        let image_base = u64_at(opt, 24).ok_or(too_small(0))?;
        let section_alignment = field32(32)?;
        let file_alignment = field32(36)?;
        let size_of_image = field32(56)?;
        let size_of_headers = field32(60)?;
        let raw_subsystem = u16_at(opt, 68).ok_or(too_small(0))?;
        let dll_characteristics = u16_at(opt, 70).ok_or(too_small(0))?;
        let number_of_rva_and_sizes = field32(108)?;
        let mut data_directories = [DataDirectory::default(); MAX_DATA_DIRECTORIES];
        let dirs_len = to_usize(number_of_rva_and_sizes)
            .and_then(|n| n.checked_mul(8))
            .filter(|len| {
                PE32PLUS_FIXED_SIZE
                    .checked_add(*len)
                    .is_some_and(|end| end <= opt_len)
            })
            .ok_or(too_small(number_of_rva_and_sizes))?;
        for (i, dir) in data_directories.iter_mut().enumerate().take(dirs_len / 8) {
            let at = PE32PLUS_FIXED_SIZE + i * 8;
            *dir = DataDirectory {
                virtual_address: field32(at)?,
                size: field32(at + 4)?,
            };
        }

        let subsystem = Subsystem::from_raw(raw_subsystem)
            .ok_or(PeError::UnsupportedSubsystem(raw_subsystem))?;
        if !section_alignment.is_power_of_two() {
            return Err(PeError::InvalidSectionAlignment(section_alignment));
        }
        if size_of_image == 0 {
            return Err(PeError::EmptyImage);
        }

        // Section table, right after the optional header; it must lie inside SizeOfHeaders.
        let table_offset = opt_offset
            .checked_add(opt_len)
            .ok_or(truncated(PeStructure::SectionTable))?;
        let table_len = usize::from(number_of_sections) * SECTION_HEADER_SIZE;
        let table =
            slice(bytes, table_offset, table_len).ok_or(truncated(PeStructure::SectionTable))?;
        let headers_end = table_offset + table_len; // cannot overflow: `slice` succeeded
        let bad_headers = PeError::InvalidSizeOfHeaders {
            size_of_headers,
            headers_end: u32::try_from(headers_end).unwrap_or(u32::MAX),
            size_of_image,
        };
        let headers_len = to_usize(size_of_headers).ok_or(bad_headers.clone())?;
        if headers_len < headers_end || size_of_headers > size_of_image {
            return Err(bad_headers);
        }
        slice(bytes, 0, headers_len).ok_or(truncated(PeStructure::Headers))?;
        if address_of_entry_point < size_of_headers || address_of_entry_point >= size_of_image {
            return Err(PeError::EntryPointOutOfImage(address_of_entry_point));
        }

        let mut sections = Vec::with_capacity(usize::from(number_of_sections));
        let mut previous_end = u64::from(size_of_headers);
        for (index, entry) in (0..number_of_sections).zip(table.chunks_exact(SECTION_HEADER_SIZE)) {
            let section =
                SectionHeader::decode(entry).ok_or(truncated(PeStructure::SectionTable))?;
            let start = u64::from(section.virtual_address);
            // u32 + u32 in u64 cannot overflow.
            let end = start + u64::from(section.loaded_size());
            if start < u64::from(size_of_headers) || end > u64::from(size_of_image) {
                return Err(PeError::SectionOutOfImage { index });
            }
            if start < previous_end {
                return Err(PeError::SectionOverlap { index });
            }
            previous_end = end;
            let copy = section.file_copy_size();
            if copy > 0 {
                let at = to_usize(section.pointer_to_raw_data);
                at.and_then(|at| slice(bytes, at, to_usize(copy)?))
                    .ok_or(truncated(PeStructure::SectionData(index)))?;
            }
            sections.push(section);
        }

        let mut image = PeImage {
            data: bytes,
            machine: file_machine,
            characteristics,
            subsystem,
            dll_characteristics,
            size_of_image,
            size_of_headers,
            address_of_entry_point,
            image_base,
            section_alignment,
            file_alignment,
            data_directories,
            sections,
            relocations: None,
        };
        image.relocations = image.locate_relocations()?;
        Ok(image)
    }

    /// Finds the file bytes of the base relocation directory and validates every block in it; `None` when the
    /// image is stripped (`IMAGE_FILE_RELOCS_STRIPPED`, the directory is then ignored) or has no directory.
    fn locate_relocations(&self) -> Result<Option<&'a [u8]>, PeError> {
        let dir = self.data_directories[IMAGE_DIRECTORY_ENTRY_BASERELOC];
        if self.characteristics & IMAGE_FILE_RELOCS_STRIPPED != 0 || dir.size == 0 {
            return Ok(None);
        }
        let start = u64::from(dir.virtual_address);
        let end = start + u64::from(dir.size);
        if end > u64::from(self.size_of_image) {
            return Err(PeError::DirectoryOutOfImage {
                index: IMAGE_DIRECTORY_ENTRY_BASERELOC,
            });
        }
        let bytes = self
            .rva_to_file(dir.virtual_address, dir.size)
            .ok_or(PeError::RelocationDirectoryNotInFile)?;
        reloc::for_each(bytes, self.size_of_image, |_, _| Ok(()))?;
        Ok(Some(bytes))
    }

    /// Returns the file bytes that are loaded at `[rva, rva + len)`, if that range is entirely backed by the file
    /// within the headers or within one section's copied data.
    fn rva_to_file(&self, rva: u32, len: u32) -> Option<&'a [u8]> {
        let end = u64::from(rva) + u64::from(len);
        if end <= u64::from(self.size_of_headers) {
            return slice(self.data, to_usize(rva)?, to_usize(len)?);
        }
        let section = self.sections.iter().find(|s| {
            let s_start = u64::from(s.virtual_address);
            s_start <= u64::from(rva) && end <= s_start + u64::from(s.file_copy_size())
        })?;
        let offset =
            u64::from(section.pointer_to_raw_data) + u64::from(rva - section.virtual_address);
        slice(self.data, usize::try_from(offset).ok()?, to_usize(len)?)
    }

    /// `SizeOfImage`: bytes the loaded image occupies (the length of the `dest` buffer for `load`).
    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }

    /// `SizeOfHeaders`: bytes of headers copied to the start of the image.
    pub fn size_of_headers(&self) -> u32 {
        self.size_of_headers
    }

    /// `ImageBase`: the preferred load address.
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    /// `AddressOfEntryPoint`: RVA of the entry point.
    pub fn address_of_entry_point(&self) -> u32 {
        self.address_of_entry_point
    }

    /// The UEFI subsystem (application, boot service driver, runtime driver).
    pub fn subsystem(&self) -> Subsystem {
        self.subsystem
    }

    /// COFF `Machine`.
    pub fn machine(&self) -> u16 {
        self.machine
    }

    /// COFF `Characteristics` (`IMAGE_FILE_*` flags).
    pub fn characteristics(&self) -> u16 {
        self.characteristics
    }

    /// Optional-header `DllCharacteristics` (`IMAGE_DLLCHARACTERISTICS_*` flags, e.g. NX_COMPAT).
    pub fn dll_characteristics(&self) -> u16 {
        self.dll_characteristics
    }

    /// `SectionAlignment` in bytes (a power of two).
    pub fn section_alignment(&self) -> u32 {
        self.section_alignment
    }

    /// `FileAlignment` in bytes, as found (informational: the loader copies from `PointerToRawData` directly).
    pub fn file_alignment(&self) -> u32 {
        self.file_alignment
    }

    /// Alignment in bytes the load address must have: `max(SectionAlignment, 4096)`.
    pub fn required_alignment(&self) -> u64 {
        u64::from(self.section_alignment).max(PAGE_SIZE)
    }

    /// Data directory `index` (0..16), or `None` if the header does not have that many.
    pub fn data_directory(&self, index: usize) -> Option<DataDirectory> {
        self.data_directories.get(index).copied()
    }

    /// True if the image can be loaded at an address other than `ImageBase`: not `IMAGE_FILE_RELOCS_STRIPPED`
    /// and a non-empty base relocation directory (which may contain only ABSOLUTE padding entries, as
    /// position-independent images such as the Linux EFI stub do).
    pub fn has_relocations(&self) -> bool {
        self.relocations.is_some()
    }

    /// True if COFF `Characteristics` has `IMAGE_FILE_RELOCS_STRIPPED`: the image must run at `ImageBase`.
    pub fn relocs_stripped(&self) -> bool {
        self.characteristics & IMAGE_FILE_RELOCS_STRIPPED != 0
    }

    /// True if [`PeImage::load`] accepts an address other than `ImageBase`: the image is not
    /// [`relocs_stripped`](PeImage::relocs_stripped). Without a relocation directory such an image is loaded
    /// with no fix-ups (treated as position-independent).
    pub fn can_relocate(&self) -> bool {
        !self.relocs_stripped()
    }

    /// The section table, in file order (ascending virtual addresses), for logging and memory protection.
    pub fn sections(&self) -> impl ExactSizeIterator<Item = &SectionHeader> + '_ {
        self.sections.iter()
    }
}

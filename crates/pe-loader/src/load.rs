//! Placing a parsed image in memory: [`PeImage::load`] and its result [`LoadedImage`].
//!
//! All checks that do not need the destination are done by `parse`; `load` checks the destination and address,
//! and only then writes: it zeroes `dest`, copies the headers and each section's file data, then applies base
//! relocations. A `load` that fails before writing leaves `dest` untouched; for a parsed image no error can occur
//! after writing has started (the relocation directory was fully validated by `parse`).

use log::debug;

use crate::error::PeError;
use crate::image::PeImage;
use crate::read::to_usize;
use crate::reloc;
use crate::subsystem::Subsystem;

/// Where and how an image was loaded: what the firmware needs for `EFI_LOADED_IMAGE_PROTOCOL` and to start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedImage {
    /// Absolute address of the entry point (`load_address + AddressOfEntryPoint`); the function has the UEFI
    /// image entry signature `EFI_STATUS (EFI_HANDLE, EFI_SYSTEM_TABLE *)` in the `efiapi` calling convention.
    pub entry_point: u64,
    /// Address the image was loaded at (`EFI_LOADED_IMAGE_PROTOCOL.ImageBase`); equals `ImageBase` only when
    /// loaded at the preferred base.
    pub image_base: u64,
    /// Bytes the image occupies (`SizeOfImage`, `EFI_LOADED_IMAGE_PROTOCOL.ImageSize`).
    pub size: u64,
    /// The image's subsystem.
    pub subsystem: Subsystem,
    /// `EFI_MEMORY_TYPE` the image's pages should have (`ImageCodeType`), from the subsystem.
    pub code_type: u32,
    /// `EFI_MEMORY_TYPE` for the image's data allocations (`ImageDataType`), from the subsystem.
    pub data_type: u32,
    /// Number of HIGHLOW/DIR64 fields patched (0 when loaded at the preferred base).
    pub relocations_applied: usize,
}

impl PeImage<'_> {
    /// Loads the image into `dest`, which the caller has placed at physical (= virtual) address `load_address`.
    ///
    /// `dest` must be exactly [`PeImage::size_of_image`] bytes and `load_address` a multiple of
    /// [`PeImage::required_alignment`]. The headers (`SizeOfHeaders` bytes) and each section's
    /// `min(SizeOfRawData, VirtualSize)` file bytes are copied to their RVAs; every other byte is zeroed
    /// (`.bss`, `VirtualSize > SizeOfRawData`, gaps). Then, if `load_address != ImageBase`, base relocations are
    /// applied for `delta = load_address - ImageBase` (wrapping).
    ///
    /// Relocation policy: an image with `IMAGE_FILE_RELOCS_STRIPPED` can run only at `ImageBase`, so any other
    /// address gives [`PeError::NeedsPreferredBase`] (before `dest` is touched): the caller should allocate pages
    /// at `ImageBase` and call `load` again there. An image without the flag but without a relocation directory
    /// is treated as position-independent and loaded anywhere with no fix-ups, as UEFI firmware in practice does
    /// and as the Linux EFI stub (no relocation directory, `ImageBase` 0) requires.
    ///
    /// Errors: [`PeError::DestinationSize`], [`PeError::NeedsPreferredBase`], [`PeError::MisalignedLoadAddress`],
    /// [`PeError::AddressOverflow`].
    pub fn load(&self, dest: &mut [u8], load_address: u64) -> Result<LoadedImage, PeError> {
        let size = to_usize(self.size_of_image).ok_or(PeError::AddressOverflow)?;
        if dest.len() != size {
            return Err(PeError::DestinationSize {
                expected: size,
                actual: dest.len(),
            });
        }
        let delta = load_address.wrapping_sub(self.image_base());
        if delta != 0 && !self.can_relocate() {
            return Err(PeError::NeedsPreferredBase {
                image_base: self.image_base(),
            });
        }
        let alignment = self.required_alignment();
        if load_address % alignment != 0 {
            return Err(PeError::MisalignedLoadAddress {
                load_address,
                alignment,
            });
        }
        load_address
            .checked_add(u64::from(self.size_of_image))
            .ok_or(PeError::AddressOverflow)?;

        dest.fill(0);
        // parse checked SizeOfHeaders <= SizeOfImage and <= file length; `get` keeps this panic-free regardless.
        let headers = to_usize(self.size_of_headers)
            .and_then(|len| Some((dest.get_mut(..len)?, self.data.get(..len)?)))
            .ok_or(PeError::InvalidSizeOfHeaders {
                size_of_headers: self.size_of_headers,
                headers_end: 0,
                size_of_image: self.size_of_image,
            })?;
        headers.0.copy_from_slice(headers.1);
        for (index, section) in self.sections().enumerate() {
            let copy = to_usize(section.file_copy_size()).ok_or(PeError::AddressOverflow)?;
            if copy == 0 {
                continue;
            }
            let out_of_image = PeError::SectionOutOfImage {
                index: u16::try_from(index).unwrap_or(u16::MAX),
            };
            let src_at = to_usize(section.pointer_to_raw_data).ok_or(out_of_image.clone())?;
            let dst_at = to_usize(section.virtual_address).ok_or(out_of_image.clone())?;
            // Both ranges were validated by parse; `get` keeps this panic-free regardless.
            let src = src_at
                .checked_add(copy)
                .and_then(|end| self.data.get(src_at..end))
                .ok_or(out_of_image.clone())?;
            let dst = dst_at
                .checked_add(copy)
                .and_then(|end| dest.get_mut(dst_at..end))
                .ok_or(out_of_image)?;
            dst.copy_from_slice(src);
        }

        let relocations_applied = match self.relocations {
            Some(dir) if delta != 0 => reloc::apply(dir, dest, delta)?,
            _ => 0,
        };
        debug!(
            "loaded {:?} image at {load_address:#x} (ImageBase {:#x}, {size:#x} bytes, {} sections, \
             {relocations_applied} relocations)",
            self.subsystem(),
            self.image_base(),
            self.sections().len()
        );
        if delta != 0 && self.relocations.is_none() {
            debug!("no relocation directory: image treated as position-independent");
        }

        let subsystem = self.subsystem();
        Ok(LoadedImage {
            entry_point: load_address + u64::from(self.address_of_entry_point),
            image_base: load_address,
            size: u64::from(self.size_of_image),
            subsystem,
            code_type: subsystem.code_memory_type(),
            data_type: subsystem.data_memory_type(),
            relocations_applied,
        })
    }
}

//! `GetMemoryMap()` (UEFI 2.10 section 7.2): a copy of the descriptor list in a shape the ABI shell can copy out.
//!
//! The descriptor stride is [`DESCRIPTOR_SIZE`] = 48 bytes, 8 more than `size_of::<EFI_MEMORY_DESCRIPTOR>()` (40).
//! The spec lets the firmware grow the descriptor and makes callers step by the returned `DescriptorSize`; a
//! stride that differs from the struct size (as edk2's 48 does) makes a caller that wrongly indexes an array of
//! structs fail at once on this firmware instead of silently on a future one. The extra bytes are zero.

use alloc::vec::Vec;
use core::mem::size_of;

use r_efi::efi;

use super::MemoryMap;
use crate::Status;

/// `DescriptorSize` reported by `GetMemoryMap()`: the byte stride between descriptors (see the module docs).
pub const DESCRIPTOR_SIZE: usize = 48;

const _: () = assert!(
    DESCRIPTOR_SIZE > size_of::<efi::MemoryDescriptor>() && DESCRIPTOR_SIZE.is_multiple_of(8)
);

/// Everything a successful `GetMemoryMap()` returns.
#[derive(Clone, Debug)]
pub struct MemoryMapSnapshot {
    /// The descriptors, sorted by `PhysicalStart`, adjacent equal ones merged, `VirtualStart` 0.
    pub descriptors: Vec<efi::MemoryDescriptor>,
    /// `MapKey`: the key `ExitBootServices()` must be given.
    pub map_key: usize,
    /// `DescriptorSize`: stride in bytes ([`DESCRIPTOR_SIZE`]).
    pub descriptor_size: usize,
    /// `DescriptorVersion`: `EFI_MEMORY_DESCRIPTOR_VERSION` (1).
    pub descriptor_version: u32,
}

impl MemoryMapSnapshot {
    /// `MemoryMapSize` on success: descriptors × `descriptor_size`, in bytes.
    pub fn map_size(&self) -> usize {
        self.descriptors.len() * self.descriptor_size
    }

    /// Encodes the map into `buffer` in UEFI (little-endian) layout with stride `descriptor_size`: `Type` u32 at
    /// 0, padding at 4, `PhysicalStart` at 8, `VirtualStart` at 16, `NumberOfPages` at 24, `Attribute` at 32, zeros
    /// up to the stride. Returns the bytes written ([`Self::map_size`]).
    ///
    /// Errors: `BUFFER_TOO_SMALL` if `buffer` is shorter than [`Self::map_size`] (nothing is written).
    pub fn write_to(&self, buffer: &mut [u8]) -> crate::Result<usize> {
        let size = self.map_size();
        let Some(out) = buffer.get_mut(..size) else {
            return Err(Status::BUFFER_TOO_SMALL);
        };
        out.fill(0);
        for (d, entry) in self
            .descriptors
            .iter()
            .zip(out.chunks_exact_mut(self.descriptor_size))
        {
            entry[0..4].copy_from_slice(&d.r#type.to_le_bytes());
            entry[8..16].copy_from_slice(&d.physical_start.to_le_bytes());
            entry[16..24].copy_from_slice(&d.virtual_start.to_le_bytes());
            entry[24..32].copy_from_slice(&d.number_of_pages.to_le_bytes());
            entry[32..40].copy_from_slice(&d.attribute.to_le_bytes());
        }
        Ok(size)
    }

    /// The encoding of [`Self::write_to`] as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = alloc::vec![0; self.map_size()];
        // Cannot fail: the vector has exactly `map_size()` bytes.
        let _ = self.write_to(&mut bytes);
        bytes
    }
}

/// `GetMemoryMap()` failed with `EFI_BUFFER_TOO_SMALL`; `needed` is the `MemoryMapSize` to report.
///
/// `needed` is exact for the current map. Per UEFI 2.10 section 7.2 the caller should allocate more, since
/// allocating its buffer may itself add descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes needed to hold the current map.
    pub needed: usize,
}

impl BufferTooSmall {
    /// The status to return: `EFI_BUFFER_TOO_SMALL`.
    pub fn status(&self) -> Status {
        Status::BUFFER_TOO_SMALL
    }
}

impl MemoryMap {
    /// Bytes `GetMemoryMap()` needs for the current map: descriptors × [`DESCRIPTOR_SIZE`].
    pub fn memory_map_size(&self) -> usize {
        self.regions.len() * DESCRIPTOR_SIZE
    }

    /// `GetMemoryMap()` for a caller buffer of `buffer_size` bytes. Reading the map changes nothing (not even
    /// the key) and is allowed after [`MemoryMap::lock`].
    ///
    /// Errors: [`BufferTooSmall`] with the needed size if `buffer_size` < [`Self::memory_map_size`].
    pub fn get_memory_map(&self, buffer_size: usize) -> Result<MemoryMapSnapshot, BufferTooSmall> {
        let needed = self.memory_map_size();
        if buffer_size < needed {
            return Err(BufferTooSmall { needed });
        }
        Ok(MemoryMapSnapshot {
            descriptors: self.regions.iter().map(|r| r.to_descriptor()).collect(),
            map_key: self.map_key,
            descriptor_size: DESCRIPTOR_SIZE,
            descriptor_version: efi::MEMORY_DESCRIPTOR_VERSION,
        })
    }
}

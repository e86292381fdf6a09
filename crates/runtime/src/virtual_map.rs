//! The virtual address map an OS passes to SetVirtualAddressMap, and ConvertPointer's lookup in it (UEFI 2.10
//! section 8.4).
//!
//! [`VirtualMap::new`] checks the ABI arguments and every descriptor that carries `EFI_MEMORY_RUNTIME` (the only
//! ones the firmware acts on; an OS may pass others, Linux passes its boot-services ranges too).
//! [`VirtualMap::check_against`] then compares the map with the firmware's own memory map, kept from
//! ExitBootServices in two heap-free [`Ranges`]: every runtime range of the firmware must get a virtual address
//! (else `EFI_NO_MAPPING`), and every runtime descriptor must describe memory the firmware's map knows (else
//! `EFI_NOT_FOUND`). An OS may add runtime descriptors of its own inside memory the firmware handed over (Linux
//! marks ranges it reserves inside boot-services data as runtime), so a descriptor need not match a firmware range
//! exactly. [`VirtualMap::convert`] is ConvertPointer: physical to virtual through the runtime descriptor that
//! contains the address.

use r_efi::efi::{Status, MEMORY_DESCRIPTOR_VERSION, MEMORY_RUNTIME};

/// Bytes of an `EFI_MEMORY_DESCRIPTOR` (the smallest `DescriptorSize` allowed).
pub const DESCRIPTOR_SIZE: usize = core::mem::size_of::<r_efi::efi::MemoryDescriptor>();
/// Most descriptors a map may have (a sanity bound on `MemoryMapSize`).
pub const MAX_DESCRIPTORS: usize = 1 << 16;
const PAGE: u64 = 4096;

/// Why SetVirtualAddressMap refused a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// `DescriptorVersion` is not `EFI_MEMORY_DESCRIPTOR_VERSION` (1).
    BadVersion(u32),
    /// `DescriptorSize` is below 40 bytes or not a multiple of 8.
    BadDescriptorSize(usize),
    /// `MemoryMapSize` is not a multiple of `DescriptorSize`, or describes too many descriptors.
    BadMapSize(usize),
    /// Runtime descriptor `index` has an unaligned address, no pages, or a range that overflows.
    BadDescriptor(usize),
    /// Runtime descriptor `index` describes memory that is not in the firmware's memory map.
    UnknownRange(usize),
    /// The firmware runtime range starting at this physical address has no virtual address in the map.
    NoMapping(u64),
    /// This firmware range was mapped in pieces with different offsets, but it must move as one block.
    SplitRange(u64),
}

impl MapError {
    /// The status SetVirtualAddressMap returns.
    pub fn status(&self) -> Status {
        match self {
            MapError::UnknownRange(_) => Status::NOT_FOUND,
            MapError::NoMapping(_) => Status::NO_MAPPING,
            _ => Status::INVALID_PARAMETER,
        }
    }
}

/// One descriptor, as far as the firmware cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// `PhysicalStart`.
    pub physical: u64,
    /// `VirtualStart`.
    pub virtual_start: u64,
    /// `NumberOfPages` in bytes.
    pub bytes: u64,
    /// `Attribute`.
    pub attribute: u64,
}

impl Descriptor {
    fn decode(b: &[u8]) -> Descriptor {
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        Descriptor {
            physical: u64_at(8),
            virtual_start: u64_at(16),
            bytes: u64_at(24).saturating_mul(PAGE),
            attribute: u64_at(32),
        }
    }

    fn is_runtime(&self) -> bool {
        self.attribute & MEMORY_RUNTIME != 0
    }

    fn contains(&self, address: u64) -> bool {
        address >= self.physical && address - self.physical < self.bytes
    }

    /// Virtual minus physical, as a wrapping offset.
    pub fn delta(&self) -> u64 {
        self.virtual_start.wrapping_sub(self.physical)
    }
}

/// A set of physical ranges `[start, end)` of fixed capacity `N`, kept without a heap: what the firmware remembers
/// of its memory map for SetVirtualAddressMap.
#[derive(Clone, Copy, Debug)]
pub struct Ranges<const N: usize> {
    ranges: [(u64, u64); N],
    len: usize,
}

impl<const N: usize> Ranges<N> {
    /// An empty set.
    pub const fn new() -> Self {
        Ranges {
            ranges: [(0, 0); N],
            len: 0,
        }
    }

    /// Adds `[start, end)` as a range of its own. Returns `false` (and adds nothing) when the set is full.
    pub fn push(&mut self, start: u64, end: u64) -> bool {
        if self.len == N {
            return false;
        }
        self.ranges[self.len] = (start, end);
        self.len += 1;
        true
    }

    /// Adds `[start, end)`, merged into the last range when they touch (for ranges added in ascending order).
    /// Returns `false` (and adds nothing) when a new range is needed and the set is full.
    pub fn push_merged(&mut self, start: u64, end: u64) -> bool {
        if let Some(last) = self.ranges[..self.len].last_mut() {
            if last.1 == start {
                last.1 = end;
                return true;
            }
        }
        self.push(start, end)
    }

    /// The ranges.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges[..self.len].iter().copied()
    }

    /// Whether `[start, end)` lies inside one range.
    pub fn contains(&self, start: u64, end: u64) -> bool {
        self.iter().any(|(s, e)| s <= start && end <= e)
    }
}

impl<const N: usize> Default for Ranges<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A checked SetVirtualAddressMap input.
#[derive(Clone, Copy, Debug)]
pub struct VirtualMap<'a> {
    bytes: &'a [u8],
    descriptor_size: usize,
}

impl<'a> VirtualMap<'a> {
    /// Checks `bytes` (`MemoryMapSize` bytes of `VirtualMap`) with `descriptor_size` and `version`.
    ///
    /// Errors: [`MapError::BadVersion`], [`MapError::BadDescriptorSize`], [`MapError::BadMapSize`],
    /// [`MapError::BadDescriptor`] for a runtime descriptor with an unaligned physical or virtual start, zero pages,
    /// or a physical or virtual end beyond 2^64.
    pub fn new(bytes: &'a [u8], descriptor_size: usize, version: u32) -> Result<Self, MapError> {
        if version != MEMORY_DESCRIPTOR_VERSION {
            return Err(MapError::BadVersion(version));
        }
        if descriptor_size < DESCRIPTOR_SIZE || descriptor_size % 8 != 0 {
            return Err(MapError::BadDescriptorSize(descriptor_size));
        }
        if bytes.len() % descriptor_size != 0 || bytes.len() / descriptor_size > MAX_DESCRIPTORS {
            return Err(MapError::BadMapSize(bytes.len()));
        }
        let map = VirtualMap {
            bytes,
            descriptor_size,
        };
        for (index, d) in map.descriptors().enumerate() {
            if !d.is_runtime() {
                continue;
            }
            let aligned = d.physical % PAGE == 0 && d.virtual_start % PAGE == 0;
            let fits = d.physical.checked_add(d.bytes).is_some()
                && d.virtual_start.checked_add(d.bytes).is_some()
                && d.bytes < u64::MAX;
            if !aligned || d.bytes == 0 || !fits {
                return Err(MapError::BadDescriptor(index));
            }
        }
        Ok(map)
    }

    /// Every descriptor, runtime or not.
    pub fn descriptors(&self) -> impl Iterator<Item = Descriptor> + 'a {
        self.bytes
            .chunks_exact(self.descriptor_size)
            .map(Descriptor::decode)
    }

    /// The descriptors with `EFI_MEMORY_RUNTIME`.
    pub fn runtime(&self) -> impl Iterator<Item = Descriptor> + 'a {
        self.descriptors().filter(Descriptor::is_runtime)
    }

    /// ConvertPointer: the virtual address of `physical`, or `None` if no runtime descriptor contains it.
    pub fn convert(&self, physical: u64) -> Option<u64> {
        self.runtime()
            .find(|d| d.contains(physical))
            .map(|d| physical.wrapping_add(d.delta()))
    }

    /// The one offset by which `[start, end)` moves, if runtime descriptors cover it all with that offset.
    pub fn delta_of(&self, start: u64, end: u64) -> Result<u64, MapError> {
        let mut at = start;
        let mut delta = None;
        while at < end {
            let d = self
                .runtime()
                .find(|d| d.contains(at))
                .ok_or(MapError::NoMapping(start))?;
            if delta.is_some_and(|delta| delta != d.delta()) {
                return Err(MapError::SplitRange(start));
            }
            delta = Some(d.delta());
            at = d.physical + d.bytes;
        }
        delta.ok_or(MapError::NoMapping(start))
    }

    /// Checks the map against the firmware's memory map: each range of `runtime` (the firmware's runtime ranges)
    /// moves as one block ([`Self::delta_of`]), and each runtime descriptor lies inside a range of `known` (the
    /// firmware's whole map).
    ///
    /// Errors: [`MapError::NoMapping`], [`MapError::SplitRange`], [`MapError::UnknownRange`].
    pub fn check_against<const R: usize, const K: usize>(
        &self,
        runtime: &Ranges<R>,
        known: &Ranges<K>,
    ) -> Result<(), MapError> {
        for (start, end) in runtime.iter() {
            self.delta_of(start, end)?;
        }
        for (index, d) in self.descriptors().enumerate() {
            if d.is_runtime() && !known.contains(d.physical, d.physical + d.bytes) {
                return Err(MapError::UnknownRange(index));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use r_efi::efi::{MEMORY_WB, RUNTIME_SERVICES_CODE};
    use std::vec::Vec;

    /// Encodes descriptors `(physical, virtual, pages, attribute)` with a 48-byte stride.
    fn map(descriptors: &[(u64, u64, u64, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(physical, virtual_start, pages, attribute) in descriptors {
            out.extend_from_slice(&RUNTIME_SERVICES_CODE.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            for v in [physical, virtual_start, pages, attribute] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&[0xee; 8]); // a larger DescriptorSize, as firmware may use
        }
        out
    }

    const RT: u64 = MEMORY_RUNTIME | MEMORY_WB;
    const HIGH: u64 = 0xffff_fffe_0000_0000;

    #[test]
    fn abi_arguments_are_checked() {
        let bytes = map(&[(0x10_0000, HIGH, 4, RT)]);
        assert_eq!(
            VirtualMap::new(&bytes, 48, 2).err(),
            Some(MapError::BadVersion(2))
        );
        assert_eq!(
            VirtualMap::new(&bytes, 32, 1).err(),
            Some(MapError::BadDescriptorSize(32))
        );
        assert_eq!(
            VirtualMap::new(&bytes, 44, 1).err(),
            Some(MapError::BadDescriptorSize(44))
        );
        assert_eq!(
            VirtualMap::new(&bytes[..47], 48, 1).err(),
            Some(MapError::BadMapSize(47))
        );
        assert!(VirtualMap::new(&bytes, 48, 1).is_ok());
        assert!(VirtualMap::new(&[], 48, 1).is_ok());
    }

    #[test]
    fn runtime_descriptors_must_be_page_aligned_and_non_empty() {
        for bad in [
            (0x10_0800, HIGH, 1, RT),
            (0x10_0000, HIGH + 8, 1, RT),
            (0x10_0000, HIGH, 0, RT),
            (0x10_0000, u64::MAX - 4095, 2, RT),
        ] {
            let bytes = map(&[(0, 0, 1, MEMORY_WB), bad]);
            assert_eq!(
                VirtualMap::new(&bytes, 48, 1).err(),
                Some(MapError::BadDescriptor(1)),
                "{bad:x?}"
            );
        }
        // The same shapes without EFI_MEMORY_RUNTIME are not the firmware's business.
        let bytes = map(&[(0x10_0800, 3, 0, MEMORY_WB)]);
        assert!(VirtualMap::new(&bytes, 48, 1).is_ok());
    }

    #[test]
    fn convert_uses_the_runtime_descriptor_containing_the_address() {
        let bytes = map(&[
            (0x10_0000, HIGH, 2, RT),
            (0x20_0000, HIGH + 0x10_0000, 1, RT),
            (0x30_0000, 0x77_0000, 1, MEMORY_WB),
        ]);
        let m = VirtualMap::new(&bytes, 48, 1).unwrap();
        assert_eq!(m.convert(0x10_0000), Some(HIGH));
        assert_eq!(m.convert(0x10_1fff), Some(HIGH + 0x1fff));
        assert_eq!(m.convert(0x10_2000), None);
        assert_eq!(m.convert(0x20_0010), Some(HIGH + 0x10_0010));
        assert_eq!(m.convert(0x30_0000), None, "not a runtime descriptor");
        // Moving down works too (wrapping delta).
        let bytes = map(&[(0x8000_0000, 0x1000, 1, RT)]);
        let m = VirtualMap::new(&bytes, 48, 1).unwrap();
        assert_eq!(m.convert(0x8000_0010), Some(0x1010));
    }

    #[test]
    fn every_firmware_range_needs_one_mapping() {
        let mut runtime = Ranges::<4>::new();
        runtime.push(0x10_0000, 0x10_3000);
        let mut known = Ranges::<4>::new();
        known.push_merged(0, 0x800_0000);
        let check = |descriptors: &[(u64, u64, u64, u64)]| {
            let bytes = map(descriptors);
            VirtualMap::new(&bytes, 48, 1)
                .unwrap()
                .check_against(&runtime, &known)
        };
        assert_eq!(check(&[(0x10_0000, HIGH, 3, RT)]), Ok(()));
        // In two pieces with one offset: fine.
        assert_eq!(
            check(&[(0x10_0000, HIGH, 1, RT), (0x10_1000, HIGH + 0x1000, 2, RT)]),
            Ok(())
        );
        // In two pieces moved apart: the image would break.
        assert_eq!(
            check(&[(0x10_0000, HIGH, 1, RT), (0x10_1000, HIGH + 0x9000, 2, RT)]),
            Err(MapError::SplitRange(0x10_0000))
        );
        // A page left out, or not marked runtime.
        let missing = check(&[(0x10_0000, HIGH, 2, RT)]);
        assert_eq!(missing, Err(MapError::NoMapping(0x10_0000)));
        assert_eq!(missing.unwrap_err().status(), Status::NO_MAPPING);
        assert_eq!(
            check(&[(0x10_0000, HIGH, 3, MEMORY_WB)]),
            Err(MapError::NoMapping(0x10_0000))
        );
        // An OS-made runtime descriptor inside known memory is accepted; one outside it is not.
        assert_eq!(
            check(&[
                (0x10_0000, HIGH, 3, RT),
                (0x40_0000, HIGH + 0x10_0000, 1, RT)
            ]),
            Ok(())
        );
        let unknown = check(&[
            (0x10_0000, HIGH, 3, RT),
            (0x900_0000, HIGH + 0x10_0000, 1, RT),
        ]);
        assert_eq!(unknown, Err(MapError::UnknownRange(1)));
        assert_eq!(unknown.unwrap_err().status(), Status::NOT_FOUND);
    }

    #[test]
    fn ranges_merge_contiguous_pushes_only_when_asked_and_refuse_overflow() {
        let mut r = Ranges::<2>::new();
        assert!(r.push_merged(0, 0x1000));
        assert!(r.push_merged(0x1000, 0x3000));
        assert!(r.push_merged(0x5000, 0x6000));
        assert!(!r.push_merged(0x8000, 0x9000));
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            [(0, 0x3000), (0x5000, 0x6000)]
        );
        assert!(r.contains(0x1000, 0x3000));
        assert!(!r.contains(0x2000, 0x5800));
        let mut separate = Ranges::<2>::new();
        assert!(separate.push(0, 0x1000));
        assert!(separate.push(0x1000, 0x3000));
        assert!(!separate.push(0x3000, 0x4000));
        assert_eq!(separate.iter().count(), 2);
    }
}

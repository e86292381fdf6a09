//! Base relocations (PE/COFF spec, "The .reloc Section (Image Only)").
//!
//! The directory is a sequence of blocks. Each block is `VirtualAddress: u32` (RVA of a 4 KiB page),
//! `SizeOfBlock: u32` (bytes including this 8-byte header), then `(SizeOfBlock - 8) / 2` little-endian `u16`
//! entries: type in bits 15..12, offset from the page in bits 11..0.
//!
//! Rules applied (everything else is an error, never skipped silently):
//! - a block needs `8 <= SizeOfBlock`, `SizeOfBlock` even, and must end inside the directory; a zero-sized block
//!   or trailing bytes too short for a block header are rejected;
//! - `IMAGE_REL_BASED_ABSOLUTE` (0) is padding and is skipped (its offset is not checked);
//! - `IMAGE_REL_BASED_HIGHLOW` (3): the 32-bit field at `VirtualAddress + offset` gets the low 32 bits of the delta
//!   added (wrapping, as the spec says "all 32 bits of the difference");
//! - `IMAGE_REL_BASED_DIR64` (10): the 64-bit field gets the 64-bit delta added (wrapping);
//! - any other type is [`PeError::UnsupportedRelocation`]; a field reaching past `SizeOfImage` is
//!   [`PeError::RelocationOutOfImage`].
//!
//! The directory is read from the (immutable) file bytes, not from the image being patched, so a relocation that
//! lands on the relocation table itself cannot change how later entries are read.

use crate::error::PeError;
use crate::read::{slice, u16_at, u32_at};

/// Relocation type `IMAGE_REL_BASED_ABSOLUTE`: padding, no fix-up.
pub const IMAGE_REL_BASED_ABSOLUTE: u8 = 0;
/// Relocation type `IMAGE_REL_BASED_HIGHLOW`: add the low 32 bits of the delta to a 32-bit field.
pub const IMAGE_REL_BASED_HIGHLOW: u8 = 3;
/// Relocation type `IMAGE_REL_BASED_DIR64`: add the delta to a 64-bit field.
pub const IMAGE_REL_BASED_DIR64: u8 = 10;

/// Size of a relocation block header (`VirtualAddress`, `SizeOfBlock`).
const BLOCK_HEADER_SIZE: usize = 8;

/// A fix-up to apply: the width of the patched field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixup {
    /// 32-bit field (`HIGHLOW`).
    HighLow,
    /// 64-bit field (`DIR64`).
    Dir64,
}

impl Fixup {
    /// Width in bytes of the patched field.
    fn width(self) -> u64 {
        match self {
            Fixup::HighLow => 4,
            Fixup::Dir64 => 8,
        }
    }
}

/// Walks every block and entry of the relocation directory `dir`, validating each, and calls `f(rva, fixup)` for
/// each non-ABSOLUTE entry, in directory order. Every `rva` passed satisfies `rva + width <= size_of_image`.
///
/// Returns the number of fix-ups visited. Errors: [`PeError::InvalidRelocationBlock`],
/// [`PeError::UnsupportedRelocation`], [`PeError::RelocationOutOfImage`], or whatever `f` returns.
pub(crate) fn for_each(
    dir: &[u8],
    size_of_image: u32,
    mut f: impl FnMut(u64, Fixup) -> Result<(), PeError>,
) -> Result<usize, PeError> {
    let mut offset = 0usize;
    let mut count = 0usize;
    while offset < dir.len() {
        let offset32 = u32::try_from(offset).unwrap_or(u32::MAX);
        let page_rva = u32_at(dir, offset);
        let size_of_block = u32_at(dir, offset + 4); // offset < dir.len() <= isize::MAX: no overflow
        let (Some(page_rva), Some(size_of_block)) = (page_rva, size_of_block) else {
            return Err(PeError::InvalidRelocationBlock {
                offset: offset32,
                size_of_block: size_of_block.unwrap_or(0),
            });
        };
        let invalid = PeError::InvalidRelocationBlock {
            offset: offset32,
            size_of_block,
        };
        let block_len = usize::try_from(size_of_block).map_err(|_| invalid.clone())?;
        if block_len < BLOCK_HEADER_SIZE || block_len % 2 != 0 {
            return Err(invalid);
        }
        let block = slice(dir, offset, block_len).ok_or(invalid)?;
        for entry_offset in (BLOCK_HEADER_SIZE..block_len).step_by(2) {
            // In bounds: block_len is even and `block` has exactly block_len bytes.
            let entry = u16_at(block, entry_offset).unwrap_or(0);
            let kind = (entry >> 12) as u8;
            let rva = u64::from(page_rva) + u64::from(entry & 0x0fff);
            let fixup = match kind {
                IMAGE_REL_BASED_ABSOLUTE => continue,
                IMAGE_REL_BASED_HIGHLOW => Fixup::HighLow,
                IMAGE_REL_BASED_DIR64 => Fixup::Dir64,
                _ => return Err(PeError::UnsupportedRelocation { kind, rva }),
            };
            if rva + fixup.width() > u64::from(size_of_image) {
                return Err(PeError::RelocationOutOfImage { rva });
            }
            f(rva, fixup)?;
            count += 1;
        }
        offset += block_len;
    }
    Ok(count)
}

/// Applies every relocation of `dir` to the loaded `image` (exactly `SizeOfImage` bytes) for `delta` = load
/// address - `ImageBase` (wrapping). Returns the number of fields patched.
///
/// Errors: those of [`for_each`]; since `PeImage::parse` already walked the directory, none occur for a parsed
/// image, and `image.len() == SizeOfImage` keeps every write in bounds.
pub(crate) fn apply(dir: &[u8], image: &mut [u8], delta: u64) -> Result<usize, PeError> {
    let size_of_image = u32::try_from(image.len()).unwrap_or(u32::MAX);
    for_each(dir, size_of_image, |rva, fixup| {
        let out_of_image = PeError::RelocationOutOfImage { rva };
        let at = usize::try_from(rva).map_err(|_| out_of_image.clone())?;
        match fixup {
            Fixup::HighLow => {
                let field: &mut [u8; 4] = image
                    .get_mut(at..at + 4)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(out_of_image)?;
                // Truncation intended: HIGHLOW adds the low 32 bits of the delta.
                let value = u32::from_le_bytes(*field).wrapping_add(delta as u32);
                *field = value.to_le_bytes();
            }
            Fixup::Dir64 => {
                let field: &mut [u8; 8] = image
                    .get_mut(at..at + 8)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(out_of_image)?;
                let value = u64::from_le_bytes(*field).wrapping_add(delta);
                *field = value.to_le_bytes();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn block(page: u32, entries: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&page.to_le_bytes());
        b.extend_from_slice(&(8 + 2 * entries.len() as u32).to_le_bytes());
        for e in entries {
            b.extend_from_slice(&e.to_le_bytes());
        }
        b
    }

    #[test]
    fn walks_blocks_and_skips_absolute() {
        let mut dir = block(0x1000, &[0xa008, 0x0000, 0x3010, 0x0123]);
        dir.extend(block(0x2000, &[0xa000, 0x0000]));
        let mut seen = Vec::new();
        let n = for_each(&dir, 0x3000, |rva, f| {
            seen.push((rva, f));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            seen,
            [
                (0x1008, Fixup::Dir64),
                (0x1010, Fixup::HighLow),
                (0x2000, Fixup::Dir64)
            ]
        );
    }

    #[test]
    fn rejects_bad_blocks() {
        let zero = [0u8; 8];
        assert_eq!(
            for_each(&zero, 0x1000, |_, _| Ok(())),
            Err(PeError::InvalidRelocationBlock {
                offset: 0,
                size_of_block: 0
            })
        );
        let mut odd = block(0x1000, &[0xa000]);
        odd[4] = 9;
        assert!(matches!(
            for_each(&odd, 0x2000, |_, _| Ok(())),
            Err(PeError::InvalidRelocationBlock {
                size_of_block: 9,
                ..
            })
        ));
        let mut long = block(0x1000, &[0xa000]);
        long[4] = 12;
        assert!(matches!(
            for_each(&long, 0x2000, |_, _| Ok(())),
            Err(PeError::InvalidRelocationBlock {
                size_of_block: 12,
                ..
            })
        ));
        let mut trailing = block(0x1000, &[0xa000]);
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            for_each(&trailing, 0x2000, |_, _| Ok(())),
            Err(PeError::InvalidRelocationBlock { offset: 10, .. })
        ));
    }

    #[test]
    fn rejects_unknown_types_and_out_of_image_targets() {
        assert_eq!(
            for_each(&block(0x1000, &[0x1004]), 0x2000, |_, _| Ok(())),
            Err(PeError::UnsupportedRelocation {
                kind: 1,
                rva: 0x1004
            })
        );
        assert_eq!(
            for_each(&block(0x1000, &[0xaff9]), 0x2000, |_, _| Ok(())),
            Err(PeError::RelocationOutOfImage { rva: 0x1ff9 })
        );
        assert_eq!(
            for_each(&block(0x1000, &[0xaff8]), 0x2000, |_, _| Ok(())),
            Ok(1)
        );
        assert_eq!(
            for_each(&block(0x1000, &[0x3ffd]), 0x2000, |_, _| Ok(())),
            Err(PeError::RelocationOutOfImage { rva: 0x1ffd })
        );
    }

    #[test]
    fn apply_patches_with_wrapping_delta() {
        let mut image = [0u8; 0x20];
        image[0..8].copy_from_slice(&0x1_4000_1000u64.to_le_bytes());
        image[8..12].copy_from_slice(&0x4000_2000u32.to_le_bytes());
        let dir = block(0, &[0xa000, 0x3008, 0x0000]);
        let delta = 0u64.wrapping_sub(0x1000);
        assert_eq!(apply(&dir, &mut image, delta), Ok(2));
        assert_eq!(
            u64::from_le_bytes(image[0..8].try_into().unwrap()),
            0x1_4000_0000
        );
        assert_eq!(
            u32::from_le_bytes(image[8..12].try_into().unwrap()),
            0x4000_1000
        );
        assert!(image[12..].iter().all(|&b| b == 0));
    }
}

//! The image relocation table: where the firmware image holds absolute pointers to itself, so that
//! SetVirtualAddressMap (UEFI 2.10 section 8.4) can move every one of them to the image's new virtual address.
//!
//! # Why
//!
//! The firmware image is one `EfiRuntimeServicesCode` region. Its code is position independent (every code and
//! data reference is RIP-relative), so it runs unchanged at any address *as a whole*. What is not position
//! independent are the 64-bit pointers the linker wrote into data: vtables, `&'static` references inside statics,
//! GOT entries. The build (`cargo xtask build`) lists the image offsets of those slots in this table; the firmware
//! copies the table into runtime memory at boot and, at SetVirtualAddressMap, adds the image's
//! virtual-minus-physical delta to each slot ([`apply`]).
//!
//! A slot is moved only if its *current* value still points into the image's physical range: a slot the linker
//! initialised with an image address but the firmware later overwrote with something else (null, a pointer to
//! runtime data) is left alone. Pointers the firmware stores at run time in slots the linker did not write are not
//! in the table; the firmware converts those itself with ConvertPointer.
//!
//! # Format (little-endian)
//!
//! ```text
//! table   = offset:u32 * count  trailer
//! trailer = "VMFWRELO"(8) count:u32 checksum:u32      (TRAILER_SIZE = 16 bytes)
//! ```
//!
//! Each offset is a byte offset from the image's first byte to an 8-byte slot; offsets are strictly increasing.
//! `checksum` is FNV-1a (32-bit) over the `4 * count` offset bytes. In the flash image the table ends exactly where
//! the image copy starts (`rom_image_lma`), so the firmware finds the trailer at `rom_image_lma - 16`.

use alloc::vec::Vec;

/// The trailer's magic bytes.
pub const MAGIC: [u8; 8] = *b"VMFWRELO";
/// Bytes of the trailer.
pub const TRAILER_SIZE: usize = 16;
/// Most slots a table may list (a sanity bound for a table read from flash).
pub const MAX_ENTRIES: usize = 1 << 20;

/// Why table bytes were rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The trailer's magic bytes are wrong (no table was written).
    NoTable,
    /// The entry count exceeds [`MAX_ENTRIES`] or the bytes available.
    BadCount(u32),
    /// The checksum does not match the offsets.
    BadChecksum,
    /// An offset is not below the image size minus 8, or offsets are not strictly increasing; the entry index.
    BadOffset(usize),
}

/// FNV-1a, 32-bit, over `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Encodes `offsets` (strictly increasing) as a table: the offset bytes followed by the trailer.
pub fn encode(offsets: &[u32]) -> Vec<u8> {
    let mut out: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
    let sum = checksum(&out);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Decodes a trailer: the number of entries and the checksum.
///
/// Errors: [`TableError::NoTable`] for wrong magic, [`TableError::BadCount`] above [`MAX_ENTRIES`].
pub fn parse_trailer(trailer: &[u8; TRAILER_SIZE]) -> Result<(usize, u32), TableError> {
    if trailer[..8] != MAGIC {
        return Err(TableError::NoTable);
    }
    let count = u32::from_le_bytes([trailer[8], trailer[9], trailer[10], trailer[11]]);
    if count as usize > MAX_ENTRIES {
        return Err(TableError::BadCount(count));
    }
    let sum = u32::from_le_bytes([trailer[12], trailer[13], trailer[14], trailer[15]]);
    Ok((count as usize, sum))
}

/// Checks the offset bytes of a table (without trailer) against `sum` and an image of `image_len` bytes.
///
/// Errors: [`TableError::BadCount`] if `entries` is not a whole number of offsets, [`TableError::BadChecksum`],
/// [`TableError::BadOffset`] for an offset whose slot does not fit the image or that does not increase.
pub fn validate(entries: &[u8], sum: u32, image_len: usize) -> Result<(), TableError> {
    if entries.len() % 4 != 0 {
        return Err(TableError::BadCount((entries.len() / 4) as u32));
    }
    if checksum(entries) != sum {
        return Err(TableError::BadChecksum);
    }
    let mut previous = None;
    for (i, offset) in offsets(entries).enumerate() {
        let fits = (offset as usize)
            .checked_add(8)
            .is_some_and(|end| end <= image_len);
        if !fits || previous.is_some_and(|p| offset <= p) {
            return Err(TableError::BadOffset(i));
        }
        previous = Some(offset);
    }
    Ok(())
}

/// The offsets of validated table bytes.
pub fn offsets(entries: &[u8]) -> impl Iterator<Item = u32> + '_ {
    entries
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Moves every listed slot of the image at `base` that still points into `[base, base + len)` by `delta` (wrapping
/// addition: a move to a lower address is a large `delta`). Returns the number of slots moved.
///
/// Reads and writes each slot unaligned and calls nothing, so it is safe to run as the very last step of
/// SetVirtualAddressMap, when the image's data already describes addresses that may not be mapped yet.
///
/// # Safety
/// `entries` passed [`validate`] for `len`; `[base, base + len)` is the image, readable and writable, and no Rust
/// reference to any slot is live during the call.
pub unsafe fn apply(base: *mut u8, len: usize, entries: &[u8], delta: u64) -> usize {
    let start = base as u64;
    let end = start + len as u64;
    let mut moved = 0;
    for offset in offsets(entries) {
        // SAFETY: `validate` bounded `offset + 8` by `len`; the caller guarantees the image is accessible.
        unsafe {
            let slot = base.add(offset as usize) as *mut u64;
            let value = slot.read_unaligned();
            if (start..end).contains(&value) {
                slot.write_unaligned(value.wrapping_add(delta));
                moved += 1;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn split(table: &[u8]) -> (&[u8], [u8; TRAILER_SIZE]) {
        let (entries, trailer) = table.split_at(table.len() - TRAILER_SIZE);
        (entries, trailer.try_into().unwrap())
    }

    #[test]
    fn encode_then_parse_roundtrips() {
        let table = encode(&[0, 8, 40]);
        let (entries, trailer) = split(&table);
        let (count, sum) = parse_trailer(&trailer).unwrap();
        assert_eq!(count, 3);
        assert_eq!(validate(entries, sum, 48), Ok(()));
        assert_eq!(offsets(entries).collect::<Vec<_>>(), [0, 8, 40]);
    }

    #[test]
    fn corrupt_tables_are_refused() {
        let table = encode(&[0, 8, 40]);
        let (entries, mut trailer) = split(&table);
        let (_, sum) = parse_trailer(&trailer).unwrap();
        assert_eq!(validate(entries, sum, 47), Err(TableError::BadOffset(2)));
        assert_eq!(validate(entries, sum ^ 1, 48), Err(TableError::BadChecksum));
        let unsorted = encode(&[8, 8]);
        let (e, t) = split(&unsorted);
        let (_, s) = parse_trailer(&t).unwrap();
        assert_eq!(validate(e, s, 64), Err(TableError::BadOffset(1)));
        trailer[0] = b'X';
        assert_eq!(parse_trailer(&trailer), Err(TableError::NoTable));
        let mut huge = [0u8; TRAILER_SIZE];
        huge[..8].copy_from_slice(&MAGIC);
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_trailer(&huge), Err(TableError::BadCount(u32::MAX)));
    }

    #[test]
    fn apply_moves_only_slots_that_still_point_into_the_image() {
        let mut image = vec![0u8; 64];
        let base = image.as_mut_ptr();
        let start = base as u64;
        let put = |image: &mut [u8], at: usize, v: u64| {
            image[at..at + 8].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut image, 0, start + 16); // points into the image: moved
        put(&mut image, 9, start + 63); // unaligned slot, last byte of the image: moved
        put(&mut image, 24, 0); // overwritten with null: left alone
        put(&mut image, 32, start + 64); // one past the end: left alone
        put(&mut image, 48, 0x1234); // not listed, in range or not: never touched
        let table = encode(&[0, 9, 24, 32]);
        let (entries, trailer) = split(&table);
        let (_, sum) = parse_trailer(&trailer).unwrap();
        validate(entries, sum, image.len()).unwrap();
        let delta = 0xffff_8000_0000_0000u64.wrapping_sub(start);
        // SAFETY: `image` is a live buffer of `len` bytes and no reference to it is used during the call.
        let moved = unsafe { apply(base, image.len(), entries, delta) };
        let get = |at: usize| u64::from_le_bytes(image[at..at + 8].try_into().unwrap());
        assert_eq!(moved, 2);
        assert_eq!(get(0), 0xffff_8000_0000_0010);
        assert_eq!(get(9), 0xffff_8000_0000_003f);
        assert_eq!(get(24), 0);
        assert_eq!(get(32), start + 64);
        assert_eq!(get(48), 0x1234);
    }
}

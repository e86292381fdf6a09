//! Bounds-checked little-endian field reads from a byte slice.
//!
//! Every read computes its end with `checked_add` and compares it with the slice length, so a read of any offset
//! either returns the field or `None`; callers turn `None` into the precise [`crate::PeError`].

/// Returns `data[offset..offset + len]`, or `None` if that range overflows or leaves `data`.
pub(crate) fn slice(data: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    let end = offset.checked_add(len)?;
    data.get(offset..end)
}

/// Reads the little-endian `u16` at `offset`.
pub(crate) fn u16_at(data: &[u8], offset: usize) -> Option<u16> {
    let b = slice(data, offset, 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Reads the little-endian `u32` at `offset`.
pub(crate) fn u32_at(data: &[u8], offset: usize) -> Option<u32> {
    let b = slice(data, offset, 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads the little-endian `u64` at `offset`.
pub(crate) fn u64_at(data: &[u8], offset: usize) -> Option<u64> {
    let b = slice(data, offset, 8)?;
    let mut raw = [0u8; 8];
    raw.copy_from_slice(b);
    Some(u64::from_le_bytes(raw))
}

/// Converts a 32-bit file field to `usize`; `None` only on targets whose `usize` is narrower than 32 bits.
pub(crate) fn to_usize(value: u32) -> Option<usize> {
    usize::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_rejects_out_of_range() {
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_at(&data, 0), Some(0x0201));
        assert_eq!(u32_at(&data, 1), Some(0x0504_0302));
        assert_eq!(u64_at(&data, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(u64_at(&data, 2), None);
        assert_eq!(u16_at(&data, 8), None);
        assert_eq!(slice(&data, usize::MAX, 2), None);
        assert_eq!(slice(&data, 9, 0), Some(&[][..]));
    }
}

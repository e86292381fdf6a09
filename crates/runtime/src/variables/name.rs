//! Variable names: NUL-terminated UCS-2 strings (UEFI 2.10 section 8.2, `VariableName`).
//!
//! Invariant of [`VariableName`]: the slice holds at least one non-NUL code unit followed by exactly one NUL, which
//! is its last element; its byte length (`2 * units`) is therefore even and at least 4.

use core::cmp::Ordering;

/// Why a variable name was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// No NUL terminator within the buffer (or the bytes given).
    MissingNul,
    /// The name is empty (its first code unit is NUL).
    Empty,
    /// A stored name's byte length was odd.
    OddLength,
}

/// A validated variable name: UCS-2 code units including the terminating NUL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariableName<'a>(&'a [u16]);

impl<'a> VariableName<'a> {
    /// Takes the name at the start of `buffer`: the units up to and including the first NUL.
    ///
    /// Errors: [`NameError::MissingNul`] if `buffer` has no NUL, [`NameError::Empty`] if the first unit is NUL.
    pub fn new(buffer: &'a [u16]) -> Result<Self, NameError> {
        let nul = buffer
            .iter()
            .position(|&u| u == 0)
            .ok_or(NameError::MissingNul)?;
        if nul == 0 {
            return Err(NameError::Empty);
        }
        Ok(VariableName(&buffer[..=nul]))
    }

    /// The code units, terminating NUL included.
    pub fn units(&self) -> &'a [u16] {
        self.0
    }

    /// Size in bytes, terminating NUL included (the `VariableNameSize` of GetNextVariableName).
    pub fn byte_len(&self) -> usize {
        self.0.len() * 2
    }

    /// Compares with a name stored as little-endian UCS-2 bytes (NUL included), unit by unit.
    pub(crate) fn cmp_stored(&self, stored: &[u8]) -> Ordering {
        let stored_units = stored
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        self.0.iter().copied().cmp(stored_units)
    }

    /// Whether this name equals the stored little-endian name bytes.
    pub(crate) fn eq_stored(&self, stored: &[u8]) -> bool {
        stored.len() == self.byte_len() && self.cmp_stored(stored) == Ordering::Equal
    }
}

/// Checks a stored (little-endian, NUL-included) name: even length, one non-NUL unit at least, NUL only at the end.
pub(crate) fn validate_stored(bytes: &[u8]) -> Result<(), NameError> {
    if bytes.len() % 2 != 0 {
        return Err(NameError::OddLength);
    }
    let mut units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    match units.next() {
        None => return Err(NameError::MissingNul),
        Some(0) => return Err(NameError::Empty),
        Some(_) => {}
    }
    let rest: usize = bytes.len() / 2 - 1;
    match units.position(|u| u == 0) {
        Some(i) if i + 1 == rest => Ok(()),
        _ => Err(NameError::MissingNul),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_stops_at_first_nul() {
        let buf = [b'A' as u16, b'b' as u16, 0, b'x' as u16];
        let n = VariableName::new(&buf).unwrap();
        assert_eq!(n.units(), &buf[..3]);
        assert_eq!(n.byte_len(), 6);
    }

    #[test]
    fn name_without_nul_is_rejected() {
        assert_eq!(
            VariableName::new(&[b'A' as u16, b'B' as u16]),
            Err(NameError::MissingNul)
        );
        assert_eq!(VariableName::new(&[]), Err(NameError::MissingNul));
    }

    #[test]
    fn empty_name_is_rejected() {
        assert_eq!(VariableName::new(&[0, 0]), Err(NameError::Empty));
    }

    #[test]
    fn stored_names_must_be_even_and_terminated_once() {
        assert_eq!(validate_stored(&[b'A', 0, 0, 0]), Ok(()));
        assert_eq!(validate_stored(&[b'A', 0, 0]), Err(NameError::OddLength));
        assert_eq!(
            validate_stored(&[b'A', 0, b'B', 0]),
            Err(NameError::MissingNul)
        );
        assert_eq!(
            validate_stored(&[b'A', 0, 0, 0, b'B', 0, 0, 0]),
            Err(NameError::MissingNul)
        );
        assert_eq!(validate_stored(&[0, 0]), Err(NameError::Empty));
    }

    #[test]
    fn stored_comparison_is_by_code_unit() {
        let a = [0x0141u16, 0];
        let n = VariableName::new(&a).unwrap();
        assert!(n.eq_stored(&[0x41, 0x01, 0, 0]));
        assert!(!n.eq_stored(&[0x41, 0x00, 0, 0]));
        assert_eq!(n.cmp_stored(&[0x42, 0x00, 0, 0]), Ordering::Greater);
    }
}

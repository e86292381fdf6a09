//! GUIDs as device paths store them (UEFI 2.10 appendix A: `Data1` u32, `Data2` u16, `Data3` u16 little endian,
//! then 8 bytes) and in text (`XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`, upper-case hex on output).

use core::fmt;

/// A GUID in its 16-byte in-memory (mixed-endian) layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Builds a GUID from its text fields: `Data1-Data2-Data3-Data4[0..2]-Data4[2..8]`.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// Parses `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (hex digits in either case); `None` otherwise.
    pub fn parse(text: &str) -> Option<Guid> {
        let b = text.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let digits = text.split('-').collect::<alloc::vec::Vec<_>>();
        let d1 = u32::from_str_radix(digits[0], 16).ok()?;
        let d2 = u16::from_str_radix(digits[1], 16).ok()?;
        let d3 = u16::from_str_radix(digits[2], 16).ok()?;
        let mut d4 = [0u8; 8];
        let tail = [digits[3], digits[4]].concat();
        for (i, byte) in d4.iter_mut().enumerate() {
            *byte = u8::from_str_radix(tail.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        // from_str_radix accepts a leading '+'; the fixed layout above does not.
        if text.contains('+') {
            return None;
        }
        Some(Guid::from_fields(d1, d2, d3, d4))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]]),
            g[8],
            g[9],
            g[10],
            g[11],
            g[12],
            g[13],
            g[14],
            g[15]
        )
    }
}

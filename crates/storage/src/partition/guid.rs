//! EFI GUIDs as stored on disk (UEFI 2.10 appendix A): `Data1` (u32), `Data2` (u16), `Data3` (u16) little-endian,
//! then `Data4` (8 bytes) in order. Text form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (upper-case hex).

use core::fmt;

/// A GUID in its 16-byte on-disk (mixed-endian) layout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID (an unused GPT entry's type).
    pub const ZERO: Guid = Guid([0; 16]);

    /// Builds a GUID from its text-form fields, e.g. `C12A7328-F81F-11D2-BA4B-00A0C93EC93B` is
    /// `from_fields(0xC12A7328, 0xF81F, 0x11D2, [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B])`.
    pub const fn from_fields(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Self {
        let a = data1.to_le_bytes();
        let b = data2.to_le_bytes();
        let c = data3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], data4[0], data4[1], data4[2], data4[3],
            data4[4], data4[5], data4[6], data4[7],
        ])
    }

    /// Reads the 16 on-disk bytes at the start of `bytes` (`None` if shorter).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.get(..16)?.try_into().ok().map(Guid)
    }

    /// True for the all-zero GUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9]
        )?;
        b[10..].iter().try_for_each(|x| write!(f, "{x:02X}"))
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// EFI System Partition type GUID `C12A7328-F81F-11D2-BA4B-00A0C93EC93B` (UEFI 2.10 table 5.7).
pub const EFI_SYSTEM_PARTITION_GUID: Guid = Guid::from_fields(
    0xC12A7328,
    0xF81F,
    0x11D2,
    [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
);

/// Partition containing a legacy MBR, `024DEE41-33E7-11D3-9D69-0008C781F39F` (UEFI 2.10 table 5.7).
pub const LEGACY_MBR_PARTITION_GUID: Guid = Guid::from_fields(
    0x024DEE41,
    0x33E7,
    0x11D3,
    [0x9D, 0x69, 0x00, 0x08, 0xC7, 0x81, 0xF3, 0x9F],
);

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn esp_guid_layout_and_text() {
        assert_eq!(EFI_SYSTEM_PARTITION_GUID.0[..4], [0x28, 0x73, 0x2A, 0xC1]);
        assert_eq!(
            EFI_SYSTEM_PARTITION_GUID.to_string(),
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
        );
        assert!(Guid::ZERO.is_zero());
        assert_eq!(Guid::from_slice(&[1; 15]), None);
    }
}

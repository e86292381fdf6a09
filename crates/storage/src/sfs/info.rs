//! The information structures of `EFI_FILE_PROTOCOL.GetInfo`/`SetInfo` (UEFI 2.10 sections 13.5.16-13.5.18) as
//! bytes, and FAT times as `EFI_TIME` (section 8.3).
//!
//! Layouts (little-endian, natural alignment of the C structures; callers' buffers need not be aligned, so every
//! field is copied byte-wise):
//! - `EFI_FILE_INFO`: `Size` u64 @0, `FileSize` u64 @8, `PhysicalSize` u64 @16, `CreateTime` @24,
//!   `LastAccessTime` @40, `ModificationTime` @56 (`EFI_TIME`, 16 bytes each), `Attribute` u64 @72, `FileName`
//!   NUL-terminated UCS-2 @80. `Size` counts the whole structure with the name and its NUL.
//! - `EFI_FILE_SYSTEM_INFO`: `Size` u64 @0, `ReadOnly` BOOLEAN @8, `VolumeSize` u64 @16, `FreeSpace` u64 @24,
//!   `BlockSize` u32 @32, `VolumeLabel` NUL-terminated UCS-2 @36.
//! - `EFI_FILE_SYSTEM_VOLUME_LABEL`: only the NUL-terminated UCS-2 label.
//! - `EFI_TIME`: `Year` u16 @0, `Month` @2, `Day` @3, `Hour` @4, `Minute` @5, `Second` @6, `Pad1` @7,
//!   `Nanosecond` u32 @8, `TimeZone` i16 @12, `Daylight` @14, `Pad2` @15.
//!
//! FAT stores local time without a zone, so times read from disk carry `EFI_UNSPECIFIED_TIMEZONE`. A time given to
//! `SetInfo` that is all zero means "leave unchanged"; any other must be a valid calendar time inside FAT's range
//! (1980-01-01 to 2107-12-31), else `EFI_INVALID_PARAMETER`.

use super::FsError;
use crate::fat::DateTime;
use alloc::string::String;
use alloc::vec::Vec;
use r_efi::efi::UNSPECIFIED_TIMEZONE;

/// An `EFI_TIME` (UEFI 2.10 section 8.3) without its padding bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// `Year` (1900..=9999).
    pub year: u16,
    /// `Month` (1..=12).
    pub month: u8,
    /// `Day` (1..=31).
    pub day: u8,
    /// `Hour` (0..=23).
    pub hour: u8,
    /// `Minute` (0..=59).
    pub minute: u8,
    /// `Second` (0..=59).
    pub second: u8,
    /// `Nanosecond` (0..=999,999,999).
    pub nanosecond: u32,
    /// `TimeZone`: minutes from UTC, or `EFI_UNSPECIFIED_TIMEZONE` (0x07FF).
    pub timezone: i16,
    /// `Daylight` flags.
    pub daylight: u8,
}

/// Bytes of `EFI_FILE_INFO` before `FileName` (`SIZE_OF_EFI_FILE_INFO`).
pub const FILE_INFO_HEADER: usize = 80;
/// Bytes of `EFI_FILE_SYSTEM_INFO` before `VolumeLabel` (`SIZE_OF_EFI_FILE_SYSTEM_INFO`).
pub const FS_INFO_HEADER: usize = 36;
/// Longest name accepted from a caller, in UTF-16 units (FAT long names hold 255; a path may be longer).
pub const MAX_NAME_UNITS: usize = 4096;

/// An `EFI_FILE_INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// `FileSize` in bytes.
    pub file_size: u64,
    /// `PhysicalSize`: bytes allocated on the volume.
    pub physical_size: u64,
    /// `CreateTime`.
    pub create_time: Time,
    /// `LastAccessTime`.
    pub last_access_time: Time,
    /// `ModificationTime`.
    pub modification_time: Time,
    /// `Attribute` (`EFI_FILE_*` bits).
    pub attribute: u64,
    /// `FileName`.
    pub file_name: String,
}

/// An `EFI_FILE_SYSTEM_INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfo {
    /// `ReadOnly`.
    pub read_only: bool,
    /// `VolumeSize` in bytes.
    pub volume_size: u64,
    /// `FreeSpace` in bytes.
    pub free_space: u64,
    /// `BlockSize`: the allocation unit (cluster) in bytes.
    pub block_size: u32,
    /// `VolumeLabel`.
    pub volume_label: String,
}

fn ucs2_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn put_ucs2(buf: &mut [u8], s: &str) {
    for (i, unit) in s.encode_utf16().chain([0]).enumerate() {
        buf[2 * i..2 * i + 2].copy_from_slice(&unit.to_le_bytes());
    }
}

/// The UCS-2 string at the start of `bytes`, up to its NUL. Errors: no NUL, invalid UTF-16, or longer than
/// [`MAX_NAME_UNITS`]: `EFI_INVALID_PARAMETER`.
pub fn read_ucs2(bytes: &[u8]) -> Result<String, FsError> {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .take(MAX_NAME_UNITS + 1)
        .collect();
    if units.len() > MAX_NAME_UNITS || units.len() * 2 + 2 > bytes.len() {
        return Err(FsError::InvalidParameter);
    }
    String::from_utf16(&units).map_err(|_| FsError::InvalidParameter)
}

fn put_time(buf: &mut [u8], t: &Time) {
    buf[0..2].copy_from_slice(&t.year.to_le_bytes());
    buf[2] = t.month;
    buf[3] = t.day;
    buf[4] = t.hour;
    buf[5] = t.minute;
    buf[6] = t.second;
    buf[7] = 0;
    buf[8..12].copy_from_slice(&t.nanosecond.to_le_bytes());
    buf[12..14].copy_from_slice(&t.timezone.to_le_bytes());
    buf[14] = t.daylight;
    buf[15] = 0;
}

fn get_time(b: &[u8]) -> Time {
    Time {
        year: u16::from_le_bytes([b[0], b[1]]),
        month: b[2],
        day: b[3],
        hour: b[4],
        minute: b[5],
        second: b[6],
        nanosecond: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        timezone: i16::from_le_bytes([b[12], b[13]]),
        daylight: b[14],
    }
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

impl FileInfo {
    /// `Size`: the encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        FILE_INFO_HEADER + 2 * (ucs2_len(&self.file_name) + 1)
    }

    /// Writes the structure to the start of `buf`; returns its length. Errors: `BufferTooSmall(len)`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, FsError> {
        let len = self.encoded_len();
        let out = buf.get_mut(..len).ok_or(FsError::BufferTooSmall(len))?;
        out[0..8].copy_from_slice(&(len as u64).to_le_bytes());
        out[8..16].copy_from_slice(&self.file_size.to_le_bytes());
        out[16..24].copy_from_slice(&self.physical_size.to_le_bytes());
        put_time(&mut out[24..40], &self.create_time);
        put_time(&mut out[40..56], &self.last_access_time);
        put_time(&mut out[56..72], &self.modification_time);
        out[72..80].copy_from_slice(&self.attribute.to_le_bytes());
        put_ucs2(&mut out[80..], &self.file_name);
        Ok(len)
    }

    /// Parses a caller's structure from `data` (`BufferSize` bytes). Errors: `EFI_BAD_BUFFER_SIZE` when `data`
    /// cannot hold the header and a NUL or is shorter than the `Size` it claims (as SetInfo reports it);
    /// `EFI_INVALID_PARAMETER` when `Size` is below the header plus a NUL or the name has no NUL inside `Size`.
    pub fn decode(data: &[u8]) -> Result<FileInfo, FsError> {
        if data.len() < FILE_INFO_HEADER + 2 {
            return Err(FsError::BadBufferSize);
        }
        let size = u64_at(data, 0);
        if size > data.len() as u64 {
            return Err(FsError::BadBufferSize);
        }
        if size < (FILE_INFO_HEADER + 2) as u64 {
            return Err(FsError::InvalidParameter);
        }
        let data = &data[..size as usize];
        Ok(FileInfo {
            file_size: u64_at(data, 8),
            physical_size: u64_at(data, 16),
            create_time: get_time(&data[24..40]),
            last_access_time: get_time(&data[40..56]),
            modification_time: get_time(&data[56..72]),
            attribute: u64_at(data, 72),
            file_name: read_ucs2(&data[80..])?,
        })
    }
}

impl FsInfo {
    /// `Size`: the encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        FS_INFO_HEADER + 2 * (ucs2_len(&self.volume_label) + 1)
    }

    /// Writes the structure to the start of `buf`; returns its length. Errors: `BufferTooSmall(len)`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, FsError> {
        let len = self.encoded_len();
        let out = buf.get_mut(..len).ok_or(FsError::BufferTooSmall(len))?;
        out.fill(0);
        out[0..8].copy_from_slice(&(len as u64).to_le_bytes());
        out[8] = self.read_only as u8;
        out[16..24].copy_from_slice(&self.volume_size.to_le_bytes());
        out[24..32].copy_from_slice(&self.free_space.to_le_bytes());
        out[32..36].copy_from_slice(&self.block_size.to_le_bytes());
        put_ucs2(&mut out[36..], &self.volume_label);
        Ok(len)
    }

    /// The `VolumeLabel` of a caller's structure (the only field SetInfo may change). Errors as
    /// [`FileInfo::decode`].
    pub fn decode_label(data: &[u8]) -> Result<String, FsError> {
        if data.len() < FS_INFO_HEADER + 2 {
            return Err(FsError::BadBufferSize);
        }
        let size = u64_at(data, 0);
        if size > data.len() as u64 {
            return Err(FsError::BadBufferSize);
        }
        if size < (FS_INFO_HEADER + 2) as u64 {
            return Err(FsError::InvalidParameter);
        }
        read_ucs2(&data[FS_INFO_HEADER..size as usize])
    }
}

/// Encodes an `EFI_FILE_SYSTEM_VOLUME_LABEL` into `buf`; returns its length. Errors: `BufferTooSmall(len)`.
pub fn encode_label(label: &str, buf: &mut [u8]) -> Result<usize, FsError> {
    let len = 2 * (ucs2_len(label) + 1);
    let out = buf.get_mut(..len).ok_or(FsError::BufferTooSmall(len))?;
    put_ucs2(out, label);
    Ok(len)
}

/// A FAT time as `EFI_TIME` (fields copied; zone unspecified, no daylight saving).
pub fn fat_to_efi(t: &DateTime) -> Time {
    Time {
        year: t.year,
        month: t.month,
        day: t.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second,
        nanosecond: t.millisecond as u32 * 1_000_000,
        timezone: UNSPECIFIED_TIMEZONE,
        daylight: 0,
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// True for an all-zero `EFI_TIME` ("leave unchanged" in SetInfo).
pub fn is_zero_time(t: &Time) -> bool {
    t.year == 0
        && t.month == 0
        && t.day == 0
        && t.hour == 0
        && t.minute == 0
        && t.second == 0
        && t.nanosecond == 0
}

/// An `EFI_TIME` as a FAT time (the zone is ignored: FAT keeps local time). Errors: `EFI_INVALID_PARAMETER` for
/// an invalid calendar time or one outside 1980..=2107.
pub fn efi_to_fat(t: &Time) -> Result<DateTime, FsError> {
    let valid = (1980..=2107).contains(&t.year)
        && (1..=12).contains(&t.month)
        && t.day >= 1
        && t.day <= days_in_month(t.year, t.month)
        && t.hour < 24
        && t.minute < 60
        && t.second < 60
        && t.nanosecond < 1_000_000_000;
    if !valid {
        return Err(FsError::InvalidParameter);
    }
    Ok(DateTime {
        year: t.year,
        month: t.month,
        day: t.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second,
        millisecond: (t.nanosecond / 1_000_000) as u16,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn time(year: u16, month: u8, day: u8) -> Time {
        fat_to_efi(&DateTime {
            year,
            month,
            day,
            hour: 13,
            minute: 7,
            second: 41,
            millisecond: 500,
        })
    }

    #[test]
    fn file_info_layout_and_roundtrip() {
        let info = FileInfo {
            file_size: 0x1234,
            physical_size: 0x2000,
            create_time: time(2024, 2, 29),
            last_access_time: time(2024, 3, 1),
            modification_time: time(2024, 3, 2),
            attribute: 0x21,
            file_name: "Ünï.txt".into(),
        };
        let mut buf = vec![0xEEu8; 200];
        let n = info.encode(&mut buf).unwrap();
        assert_eq!(n, 80 + 2 * 8);
        assert_eq!(u64_at(&buf, 0), n as u64);
        assert_eq!(u64_at(&buf, 8), 0x1234);
        assert_eq!(&buf[24..26], &2024u16.to_le_bytes());
        assert_eq!(buf[26], 2);
        assert_eq!(&buf[32..36], &500_000_000u32.to_le_bytes());
        assert_eq!(&buf[36..38], &0x07FFu16.to_le_bytes());
        assert_eq!(u64_at(&buf, 72), 0x21);
        assert_eq!(&buf[80..82], &0xDCu16.to_le_bytes());
        assert_eq!(&buf[94..96], &[0, 0]);
        assert_eq!(buf[96], 0xEE, "nothing written past Size");
        assert_eq!(FileInfo::decode(&buf[..n]).unwrap(), info);
        assert_eq!(
            info.encode(&mut buf[..n - 1]),
            Err(FsError::BufferTooSmall(n))
        );
    }

    #[test]
    fn malformed_file_info_is_rejected() {
        let info = FileInfo {
            file_size: 1,
            physical_size: 0,
            create_time: time(2000, 1, 1),
            last_access_time: time(2000, 1, 1),
            modification_time: time(2000, 1, 1),
            attribute: 0,
            file_name: "a".into(),
        };
        let mut buf = vec![0u8; 84];
        info.encode(&mut buf).unwrap();
        // Size larger than the buffer, Size too small, name without NUL, invalid UTF-16.
        let mut b = buf.clone();
        b[0] = 90;
        assert_eq!(FileInfo::decode(&b), Err(FsError::BadBufferSize));
        b[0] = 81;
        assert_eq!(FileInfo::decode(&b), Err(FsError::InvalidParameter));
        let mut c = buf.clone();
        c[82..84].copy_from_slice(&[b'b', 0]);
        assert_eq!(FileInfo::decode(&c), Err(FsError::InvalidParameter));
        let mut d = buf.clone();
        d[80..82].copy_from_slice(&0xD800u16.to_le_bytes());
        assert_eq!(FileInfo::decode(&d), Err(FsError::InvalidParameter));
        assert_eq!(FileInfo::decode(&buf[..40]), Err(FsError::BadBufferSize));
    }

    #[test]
    fn fs_info_and_label() {
        let info = FsInfo {
            read_only: true,
            volume_size: 64 << 20,
            free_space: 1 << 20,
            block_size: 4096,
            volume_label: "ESP".into(),
        };
        let mut buf = vec![0xEEu8; 64];
        let n = info.encode(&mut buf).unwrap();
        assert_eq!(n, 36 + 8);
        assert_eq!(buf[8], 1);
        assert_eq!(&buf[9..16], &[0; 7]);
        assert_eq!(u64_at(&buf, 16), 64 << 20);
        assert_eq!(&buf[32..36], &4096u32.to_le_bytes());
        assert_eq!(FsInfo::decode_label(&buf[..n]).unwrap(), "ESP");
        let mut l = [0u8; 8];
        assert_eq!(encode_label("ESP", &mut l), Ok(8));
        assert_eq!(read_ucs2(&l).unwrap(), "ESP");
        assert_eq!(
            encode_label("ESP", &mut l[..7]),
            Err(FsError::BufferTooSmall(8))
        );
    }

    #[test]
    fn time_conversion_checks_the_calendar() {
        let t = time(2024, 2, 29);
        let fat = efi_to_fat(&t).unwrap();
        assert_eq!(fat_to_efi(&fat), t);
        assert_eq!(
            efi_to_fat(&time(2023, 2, 29)),
            Err(FsError::InvalidParameter)
        );
        assert_eq!(
            efi_to_fat(&time(1979, 1, 1)),
            Err(FsError::InvalidParameter)
        );
        assert_eq!(
            efi_to_fat(&time(2024, 13, 1)),
            Err(FsError::InvalidParameter)
        );
        assert_eq!(
            efi_to_fat(&time(2024, 4, 31)),
            Err(FsError::InvalidParameter)
        );
        assert!(efi_to_fat(&time(2000, 2, 29)).is_ok());
        assert_eq!(
            efi_to_fat(&time(2100, 2, 29)),
            Err(FsError::InvalidParameter)
        );
        let zero = Time {
            timezone: 0,
            ..time(0, 0, 0)
        };
        assert!(!is_zero_time(&zero), "hour/minute are still set");
        let zero = Time {
            hour: 0,
            minute: 0,
            second: 0,
            nanosecond: 0,
            ..zero
        };
        assert!(is_zero_time(&zero));
    }
}

//! `EFI_LOAD_OPTION`, the content of `Boot####` variables (UEFI 2.10 section 3.1.3).
//!
//! Layout (little-endian, packed):
//! ```text
//! Attributes: u32 | FilePathListLength: u16 | Description: CHAR16[] NUL-terminated
//!   | FilePathList: FilePathListLength bytes of device paths | OptionalData: the rest
//! ```
//! `FilePathList[0]` is the path the boot manager loads; further paths are for the loaded image to interpret.
//! `OptionalData` is handed to the loaded image as its `LoadOptions`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::device_path::{self, DevicePathError, Node};

/// The option is active: the boot manager tries it (`LOAD_OPTION_ACTIVE`).
pub const ACTIVE: u32 = r_efi::efi::LOAD_OPTION_ACTIVE;
/// For `Driver####`: reconnect all controllers after loading (`LOAD_OPTION_FORCE_RECONNECT`).
pub const FORCE_RECONNECT: u32 = r_efi::efi::LOAD_OPTION_FORCE_RECONNECT;
/// The option is not shown in boot menus (`LOAD_OPTION_HIDDEN`); it is still booted.
pub const HIDDEN: u32 = r_efi::efi::LOAD_OPTION_HIDDEN;
/// The category bits (`LOAD_OPTION_CATEGORY`).
pub const CATEGORY: u32 = r_efi::efi::LOAD_OPTION_CATEGORY;
/// Category: a boot option, part of normal boot processing (`LOAD_OPTION_CATEGORY_BOOT`).
pub const CATEGORY_BOOT: u32 = r_efi::efi::LOAD_OPTION_CATEGORY_BOOT;
/// Category: an application, only launched from a menu (`LOAD_OPTION_CATEGORY_APP`).
pub const CATEGORY_APP: u32 = r_efi::efi::LOAD_OPTION_CATEGORY_APP;
/// Size of the fixed header (Attributes and FilePathListLength).
const HEADER: usize = 6;

/// Why bytes are not a valid `EFI_LOAD_OPTION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadOptionError {
    /// Shorter than the 6-byte header.
    TooShort {
        /// The length given.
        len: usize,
    },
    /// The description has no NUL terminator inside the variable.
    UnterminatedDescription,
    /// `FilePathListLength` runs past the end of the variable.
    FilePathListPastEnd {
        /// The declared length.
        declared: u16,
        /// Bytes available after the description.
        available: usize,
    },
    /// `FilePathList[0]` is not a well-formed device path within `FilePathListLength`.
    BadFilePath(DevicePathError),
}

impl fmt::Display for LoadOptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadOptionError::TooShort { len } => {
                write!(f, "{len} bytes, shorter than the 6-byte header")
            }
            LoadOptionError::UnterminatedDescription => {
                write!(f, "the description has no NUL terminator")
            }
            LoadOptionError::FilePathListPastEnd {
                declared,
                available,
            } => write!(
                f,
                "FilePathListLength {declared} exceeds the {available} bytes after the description"
            ),
            LoadOptionError::BadFilePath(e) => write!(f, "FilePathList[0]: {e}"),
        }
    }
}

/// A decoded `EFI_LOAD_OPTION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOption {
    /// `LOAD_OPTION_*` attribute bits.
    pub attributes: u32,
    /// The description shown to people (UCS-2 on disk; unpaired surrogates read as U+FFFD).
    pub description: String,
    /// The whole `FilePathList` (one or more device paths, each with its end node).
    pub file_path_list: Vec<u8>,
    /// `OptionalData`, passed to the image as its load options.
    pub optional_data: Vec<u8>,
}

impl LoadOption {
    /// An active boot option loading `path` (nodes, end node added), with `optional_data`.
    pub fn new(description: &str, path: &[Node], optional_data: Vec<u8>) -> LoadOption {
        LoadOption {
            attributes: ACTIVE | CATEGORY_BOOT,
            description: String::from(description),
            file_path_list: device_path::encode(path),
            optional_data,
        }
    }

    /// Decodes a variable's bytes. Errors: see [`LoadOptionError`].
    pub fn decode(bytes: &[u8]) -> Result<LoadOption, LoadOptionError> {
        if bytes.len() < HEADER {
            return Err(LoadOptionError::TooShort { len: bytes.len() });
        }
        let attributes = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let list_len = u16::from_le_bytes([bytes[4], bytes[5]]);
        let units: Vec<u16> = bytes[HEADER..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let nul = units
            .iter()
            .position(|&u| u == 0)
            .ok_or(LoadOptionError::UnterminatedDescription)?;
        let description = char::decode_utf16(units[..nul].iter().copied())
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        let list_start = HEADER + 2 * (nul + 1);
        let available = bytes.len() - list_start;
        let list_end = list_start + usize::from(list_len);
        if list_end > bytes.len() {
            return Err(LoadOptionError::FilePathListPastEnd {
                declared: list_len,
                available,
            });
        }
        let file_path_list = bytes[list_start..list_end].to_vec();
        device_path::instance_len(&file_path_list).map_err(LoadOptionError::BadFilePath)?;
        Ok(LoadOption {
            attributes,
            description,
            file_path_list,
            optional_data: bytes[list_end..].to_vec(),
        })
    }

    /// The variable's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.attributes.to_le_bytes());
        out.extend_from_slice(&(self.file_path_list.len() as u16).to_le_bytes());
        for unit in self.description.encode_utf16().chain(core::iter::once(0)) {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out.extend_from_slice(&self.file_path_list);
        out.extend_from_slice(&self.optional_data);
        out
    }

    /// The nodes of `FilePathList[0]` (the path to load). Errors only for an option built by hand with a bad list;
    /// decoded options were checked.
    pub fn path(&self) -> Result<Vec<Node>, DevicePathError> {
        device_path::parse(&self.file_path_list)
    }

    /// `FilePathList[0]`'s bytes, end node included.
    pub fn path_bytes(&self) -> &[u8] {
        let len =
            device_path::instance_len(&self.file_path_list).unwrap_or(self.file_path_list.len());
        &self.file_path_list[..len]
    }

    /// `LOAD_OPTION_ACTIVE` is set.
    pub fn is_active(&self) -> bool {
        self.attributes & ACTIVE != 0
    }

    /// `LOAD_OPTION_HIDDEN` is set.
    pub fn is_hidden(&self) -> bool {
        self.attributes & HIDDEN != 0
    }

    /// The category (`attributes & LOAD_OPTION_CATEGORY`).
    pub fn category(&self) -> u32 {
        self.attributes & CATEGORY
    }

    /// Whether normal boot processing tries this option: active and in the boot category (section 3.1.3:
    /// application-category options are only launched on request).
    pub fn is_bootable(&self) -> bool {
        self.is_active() && self.category() == CATEGORY_BOOT
    }
}

/// The UCS-2 bytes of `text` with a terminating NUL, as load options that carry a command line hold it.
pub fn ucs2_with_nul(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain(core::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> LoadOption {
        LoadOption::new(
            "UEFI disk",
            &[
                Node::pci_root(0),
                Node::Pci {
                    device: 3,
                    function: 0,
                },
            ],
            vec![0xde, 0xad],
        )
    }

    #[test]
    fn round_trip_and_exact_layout() {
        let option = sample();
        let bytes = option.encode();
        // Attributes ACTIVE, FilePathListLength 12 + 6 + 4 = 22, "UEFI disk" + NUL = 20 bytes.
        assert_eq!(&bytes[..6], &[1, 0, 0, 0, 22, 0]);
        assert_eq!(&bytes[6..8], &[b'U', 0]);
        assert_eq!(&bytes[24..26], &[0, 0]);
        assert_eq!(bytes.len(), 6 + 20 + 22 + 2);
        assert_eq!(&bytes[bytes.len() - 2..], &[0xde, 0xad]);
        assert_eq!(LoadOption::decode(&bytes).unwrap(), option);
        assert_eq!(option.path().unwrap().len(), 2);
        assert_eq!(option.path_bytes().len(), 22);
    }

    #[test]
    fn several_file_paths_and_no_optional_data() {
        let mut option = sample();
        option.optional_data.clear();
        let second = device_path::encode(&[Node::file_path("\\initrd")]);
        option.file_path_list.extend_from_slice(&second);
        let decoded = LoadOption::decode(&option.encode()).unwrap();
        assert_eq!(decoded, option);
        assert_eq!(decoded.path_bytes().len(), 22);
    }

    #[test]
    fn malformed_variables_are_rejected() {
        let good = sample().encode();
        assert_eq!(
            LoadOption::decode(&good[..5]),
            Err(LoadOptionError::TooShort { len: 5 })
        );
        // Description running to the end without a NUL.
        assert_eq!(
            LoadOption::decode(&[1, 0, 0, 0, 4, 0, b'a', 0, b'b', 0]),
            Err(LoadOptionError::UnterminatedDescription)
        );
        let mut long = good.clone();
        long[4] = 0xff;
        assert!(matches!(
            LoadOption::decode(&long),
            Err(LoadOptionError::FilePathListPastEnd { declared: 255, .. })
        ));
        // A list length that cuts the path before its end node.
        let mut short = good.clone();
        short[4] = 18;
        assert!(matches!(
            LoadOption::decode(&short),
            Err(LoadOptionError::BadFilePath(_))
        ));
        let mut empty = good;
        empty[4] = 0;
        assert!(matches!(
            LoadOption::decode(&empty),
            Err(LoadOptionError::BadFilePath(_))
        ));
    }

    #[test]
    fn attribute_helpers() {
        let mut option = sample();
        assert!(option.is_bootable() && !option.is_hidden());
        option.attributes |= HIDDEN;
        assert!(option.is_bootable() && option.is_hidden());
        option.attributes = ACTIVE | CATEGORY_APP;
        assert_eq!(option.category(), CATEGORY_APP);
        assert!(!option.is_bootable());
        option.attributes = CATEGORY_BOOT;
        assert!(!option.is_bootable());
    }

    #[test]
    fn command_lines_are_nul_terminated_ucs2() {
        assert_eq!(ucs2_with_nul("ab"), vec![b'a', 0, b'b', 0, 0, 0]);
        assert_eq!(ucs2_with_nul(""), vec![0, 0]);
    }
}

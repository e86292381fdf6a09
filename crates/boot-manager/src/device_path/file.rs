//! The file a device path names on a file system (UEFI 2.10 section 7.4, LoadImage: "the remaining device path
//! ... is a file path media device path"; section 10.3.5.4).
//!
//! After LoadDevicePath found the Simple File System handle, the rest of the path is one or more file path media
//! nodes. Several nodes are one path split in pieces (`\EFI`, `BOOT`, `BOOTX64.EFI`, or `\EFI\BOOT\` and
//! `BOOTX64.EFI`): they are concatenated with exactly one `\` between pieces. The result is what
//! `EFI_FILE_PROTOCOL.Open()` takes, relative to the volume's root directory.

use alloc::vec::Vec;
use core::fmt;

use super::Node;

const BACKSLASH: u16 = b'\\' as u16;

/// Why the remaining device path does not name a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilePathError {
    /// No file path node at all (the path names the volume or device itself).
    NoFileName,
    /// A node that is not a file path media node follows or precedes the file path nodes.
    NotAFilePathNode {
        /// Its type.
        node_type: u8,
        /// Its sub-type.
        sub_type: u8,
    },
    /// The file path nodes hold only separators or empty names.
    EmptyName,
}

impl fmt::Display for FilePathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilePathError::NoFileName => write!(f, "the device path names no file"),
            FilePathError::NotAFilePathNode { node_type, sub_type } => write!(
                f,
                "a device path node of type {node_type}/{sub_type} where only file path nodes may be"
            ),
            FilePathError::EmptyName => write!(f, "the file path nodes name no file"),
        }
    }
}

/// The file name (UCS-2, no NUL) the nodes of a remaining device path name together. Errors: no nodes
/// ([`FilePathError::NoFileName`]), a node other than a file path node, or names made only of separators.
pub fn file_name(nodes: &[Node]) -> Result<Vec<u16>, FilePathError> {
    if nodes.is_empty() {
        return Err(FilePathError::NoFileName);
    }
    let mut name: Vec<u16> = Vec::new();
    for node in nodes {
        let Node::FilePath(piece) = node else {
            let (node_type, sub_type) = node.kind();
            return Err(FilePathError::NotAFilePathNode {
                node_type,
                sub_type,
            });
        };
        let piece: &[u16] = piece;
        if piece.is_empty() {
            continue;
        }
        match (name.last() == Some(&BACKSLASH), piece[0] == BACKSLASH) {
            (true, true) => name.extend_from_slice(&piece[1..]),
            (false, false) if !name.is_empty() => {
                name.push(BACKSLASH);
                name.extend_from_slice(piece);
            }
            _ => name.extend_from_slice(piece),
        }
    }
    if name.iter().all(|&u| u == BACKSLASH) {
        return Err(FilePathError::EmptyName);
    }
    Ok(name)
}

/// Whether any node is a file path node (a boot option path that names a file, not only a device).
pub fn has_file_name(nodes: &[Node]) -> bool {
    nodes.iter().any(|n| matches!(n, Node::FilePath(_)))
}

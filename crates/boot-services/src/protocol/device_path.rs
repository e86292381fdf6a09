//! Device path bytes as the protocol engine sees them (UEFI 2.10 section 10.2, "EFI Device Path Protocol").
//!
//! A device path is a sequence of nodes, each `{ type: u8, sub_type: u8, length: u16 little-endian }` followed
//! by `length - 4` bytes of data. Type `0x7F` ends the path: sub-type `0xFF` ends the whole path, `0x01` ends one
//! instance of a multi-instance path. This module only walks and compares nodes; it never interprets their data.
//! LocateDevicePath() and the duplicate check of InstallMultipleProtocolInterfaces() compare the *first instance*
//! of each path.

/// Node type of end nodes.
pub const END_TYPE: u8 = 0x7F;
/// Sub-type of the node ending the entire device path.
pub const END_ENTIRE_SUBTYPE: u8 = 0xFF;
/// Sub-type of the node ending one instance of a multi-instance path.
pub const END_INSTANCE_SUBTYPE: u8 = 0x01;
/// Size in bytes of a node header (type, sub-type, 16-bit length).
pub const NODE_HEADER_LEN: usize = 4;

/// Why a byte slice is not a well-formed device path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePathError {
    /// Fewer than 4 bytes remain at `offset` where a node header must start.
    TruncatedHeader {
        /// Byte offset of the incomplete header.
        offset: usize,
    },
    /// The node at `offset` declares a length below the 4-byte header size.
    LengthTooSmall {
        /// Byte offset of the node.
        offset: usize,
        /// The declared length.
        length: u16,
    },
    /// The node at `offset` declares a length running past the end of the slice.
    LengthPastEnd {
        /// Byte offset of the node.
        offset: usize,
        /// The declared length.
        length: u16,
    },
}

/// One node: its header fields and its whole bytes (header included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node<'a> {
    /// Node type (1 hardware, 2 ACPI, 3 messaging, 4 media, 5 BIOS boot, 0x7F end).
    pub node_type: u8,
    /// Node sub-type.
    pub sub_type: u8,
    /// The node's bytes, `length` long, header included.
    pub bytes: &'a [u8],
}

impl Node<'_> {
    /// Whether this is an end node (either sub-type).
    pub fn is_end(&self) -> bool {
        self.node_type == END_TYPE
    }
}

/// Parses the node starting at `offset` of `path`.
pub fn node_at(path: &[u8], offset: usize) -> Result<Node<'_>, DevicePathError> {
    let header = path
        .get(offset..offset.saturating_add(NODE_HEADER_LEN))
        .ok_or(DevicePathError::TruncatedHeader { offset })?;
    let length = u16::from_le_bytes([header[2], header[3]]);
    if usize::from(length) < NODE_HEADER_LEN {
        return Err(DevicePathError::LengthTooSmall { offset, length });
    }
    let bytes = path
        .get(offset..offset + usize::from(length))
        .ok_or(DevicePathError::LengthPastEnd { offset, length })?;
    Ok(Node {
        node_type: header[0],
        sub_type: header[1],
        bytes,
    })
}

/// Length in bytes of the first instance of `path` *including* its end node (either end sub-type): the number
/// of bytes a reader must copy. Errors: any malformed node before the end node, or no end node at all
/// (`TruncatedHeader` at the slice's end).
pub fn instance_len(path: &[u8]) -> Result<usize, DevicePathError> {
    let mut offset = 0;
    loop {
        let node = node_at(path, offset)?;
        offset += node.bytes.len();
        if node.is_end() {
            return Ok(offset);
        }
    }
}

/// The nodes of the first instance of `path`, *excluding* its end node. Errors as [`instance_len`].
pub fn first_instance(path: &[u8]) -> Result<&[u8], DevicePathError> {
    let mut offset = 0;
    loop {
        let node = node_at(path, offset)?;
        if node.is_end() {
            return Ok(&path[..offset]);
        }
        offset += node.bytes.len();
    }
}

/// If the first instance of `prefix` is a whole-node prefix of the first instance of `path`, the number of
/// bytes of `path` it covers (where the remaining device path starts); otherwise `None`. Because node lengths
/// are part of the compared bytes, a byte-wise match of complete nodes always ends on a node boundary of `path`.
pub fn match_prefix(prefix: &[u8], path: &[u8]) -> Result<Option<usize>, DevicePathError> {
    let p = first_instance(prefix)?;
    let full = first_instance(path)?;
    Ok(full.starts_with(p).then_some(p.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn node(t: u8, s: u8, data: &[u8]) -> Vec<u8> {
        let mut v = alloc::vec![t, s];
        v.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
        v.extend_from_slice(data);
        v
    }
    fn end() -> Vec<u8> {
        node(END_TYPE, END_ENTIRE_SUBTYPE, &[])
    }

    #[test]
    fn instance_len_counts_through_end_node() {
        let mut p = node(2, 1, &[1, 2, 3, 4]);
        p.extend(end());
        p.extend([0xAA; 3]); // trailing garbage is not read
        assert_eq!(instance_len(&p), Ok(12));
        assert_eq!(first_instance(&p).map(|s| s.len()), Ok(8));
    }

    #[test]
    fn malformed_paths_are_reported() {
        assert_eq!(
            instance_len(&[1, 1]),
            Err(DevicePathError::TruncatedHeader { offset: 0 })
        );
        assert_eq!(
            instance_len(&[1, 1, 2, 0]),
            Err(DevicePathError::LengthTooSmall {
                offset: 0,
                length: 2
            })
        );
        assert_eq!(
            instance_len(&[1, 1, 9, 0, 0]),
            Err(DevicePathError::LengthPastEnd {
                offset: 0,
                length: 9
            })
        );
        // No end node: runs off the end.
        assert_eq!(
            instance_len(&node(1, 1, &[])),
            Err(DevicePathError::TruncatedHeader { offset: 4 })
        );
    }

    #[test]
    fn match_prefix_is_node_wise() {
        let a = [node(2, 1, &[0; 8]), end()].concat();
        let ab = [node(2, 1, &[0; 8]), node(1, 1, &[3, 0]), end()].concat();
        let other = [node(2, 1, &[1; 8]), end()].concat();
        assert_eq!(match_prefix(&a, &ab), Ok(Some(12)));
        assert_eq!(match_prefix(&ab, &a), Ok(None));
        assert_eq!(match_prefix(&other, &ab), Ok(None));
        let multi = [
            node(2, 1, &[0; 8]),
            node(END_TYPE, END_INSTANCE_SUBTYPE, &[]),
            node(1, 1, &[]),
        ]
        .concat();
        assert_eq!(match_prefix(&a, &multi), Ok(Some(12)));
    }
}

//! The path operations of `EFI_DEVICE_PATH_UTILITIES_PROTOCOL` (UEFI 2.10 section 10.5) on byte slices.
//!
//! `None` stands for a NULL pointer where the protocol accepts one. Every input path is validated first (nodes
//! within bounds, an end-of-entire-path node present), and every result is a well-formed path no longer than
//! [`MAX_PATH_BYTES`].

use alloc::vec::Vec;

use crate::node::{Node, Nodes, END_OF_INSTANCE, END_PATH, HEADER};
use crate::{path_size, Error, MAX_PATH_BYTES};

/// The path in `bytes` without its end node.
fn body(bytes: &[u8]) -> Result<&[u8], Error> {
    let size = path_size(bytes)?;
    Ok(&bytes[..size - HEADER])
}

fn checked(path: Vec<u8>) -> Result<Vec<u8>, Error> {
    if path.len() > MAX_PATH_BYTES {
        Err(Error::TooLong)
    } else {
        Ok(path)
    }
}

/// `DuplicateDevicePath()`: a copy of the path, end node included (bytes after it are not copied).
pub fn duplicate(path: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(path[..path_size(path)?].to_vec())
}

/// `AppendDevicePath()`: `first` without its end node, then `second`. With one of them absent, a copy of the
/// other; with both absent, the empty path (an end node). Errors: a malformed input; a result too long.
pub fn append_path(first: Option<&[u8]>, second: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let mut path = match first {
        Some(first) => body(first)?.to_vec(),
        None => Vec::new(),
    };
    match second {
        Some(second) => path.extend_from_slice(&second[..path_size(second)?]),
        None => path.extend_from_slice(&END_PATH),
    }
    checked(path)
}

/// `AppendDeviceNode()`: `path` without its end node, then the one node at the start of `node`, then an end node.
/// An absent `path` is the empty path; an absent `node` gives a copy of `path`. Errors: a malformed input; a
/// result too long.
pub fn append_node(path: Option<&[u8]>, node: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let mut out = match path {
        Some(path) => body(path)?.to_vec(),
        None => Vec::new(),
    };
    if let Some(node) = node {
        out.extend_from_slice(Node::parse(node)?.bytes);
    }
    out.extend_from_slice(&END_PATH);
    checked(out)
}

/// `AppendDevicePathInstance()`: `path` with its end node turned into an end-of-instance node, then `instance`.
/// An absent `path` gives a copy of `instance`. Errors: a malformed input; a result too long.
pub fn append_instance(path: Option<&[u8]>, instance: &[u8]) -> Result<Vec<u8>, Error> {
    let instance = &instance[..path_size(instance)?];
    let mut out = Vec::new();
    if let Some(path) = path {
        out.extend_from_slice(body(path)?);
        out.extend_from_slice(&END_OF_INSTANCE);
    }
    out.extend_from_slice(instance);
    checked(out)
}

/// `GetNextDevicePathInstance()`: a copy of the first instance of `path` closed by an end-of-entire-path node
/// (its size is the protocol's `DevicePathInstanceSize`), and the byte offset of the next instance in `path`, or
/// `None` when this was the last. Errors: a malformed path.
pub fn next_instance(path: &[u8]) -> Result<(Vec<u8>, Option<usize>), Error> {
    path_size(path)?;
    let mut offset = 0;
    for node in Nodes::new(path) {
        let node = node?;
        if node.is_end_of_instance() {
            let mut instance = path[..offset].to_vec();
            instance.extend_from_slice(&END_PATH);
            return Ok((instance, Some(offset + node.bytes.len())));
        }
        offset += node.bytes.len();
    }
    let mut instance = path[..offset].to_vec();
    instance.extend_from_slice(&END_PATH);
    Ok((instance, None))
}

/// `IsDevicePathMultiInstance()`: true when the path has an end-of-instance node; false for a malformed path.
pub fn is_multi_instance(path: &[u8]) -> bool {
    path_size(path).is_ok()
        && Nodes::new(path)
            .filter_map(Result::ok)
            .any(|n| n.is_end_of_instance())
}

/// `CreateDeviceNode()`: a zeroed node of `length` bytes with the given type and subtype; `None` when `length`
/// is below the 4-byte header.
pub fn create_node(node_kind: u8, sub_type: u8, length: u16) -> Option<Vec<u8>> {
    if usize::from(length) < HEADER {
        return None;
    }
    let mut node = alloc::vec![0u8; usize::from(length)];
    node[0] = node_kind;
    node[1] = sub_type;
    node[2..4].copy_from_slice(&length.to_le_bytes());
    Some(node)
}

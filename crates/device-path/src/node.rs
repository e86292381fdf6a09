//! Binary device path nodes (UEFI 2.10 section 10.2): the header, safe iteration over a path, and a builder.

use alloc::vec::Vec;

use crate::{Error, MAX_PATH_BYTES};

/// Device path node types (UEFI 2.10 section 10.3.1).
pub mod kind {
    /// Hardware device path.
    pub const HARDWARE: u8 = 0x01;
    /// ACPI device path.
    pub const ACPI: u8 = 0x02;
    /// Messaging device path.
    pub const MESSAGING: u8 = 0x03;
    /// Media device path.
    pub const MEDIA: u8 = 0x04;
    /// BIOS boot specification device path.
    pub const BBS: u8 = 0x05;
    /// End of hardware device path.
    pub const END: u8 = 0x7f;
}

/// End subtype: end of this instance of a multi-instance path.
pub const END_INSTANCE: u8 = 0x01;
/// End subtype: end of the entire path.
pub const END_ENTIRE: u8 = 0xff;
/// Bytes of a node header (Type, SubType, Length).
pub const HEADER: usize = 4;
/// The end-of-entire-path node.
pub const END_PATH: [u8; 4] = [kind::END, END_ENTIRE, 4, 0];
/// The end-of-instance node.
pub const END_OF_INSTANCE: [u8; 4] = [kind::END, END_INSTANCE, 4, 0];

/// One node, borrowed from a buffer whose bounds were checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node<'a> {
    /// `Type`.
    pub kind: u8,
    /// `SubType`.
    pub sub_type: u8,
    /// The bytes after the header (`Length - 4` of them).
    pub data: &'a [u8],
    /// The whole node, header included.
    pub bytes: &'a [u8],
}

impl<'a> Node<'a> {
    /// Parses the node at the start of `bytes` (bytes after it are ignored).
    ///
    /// Errors: [`Error::Truncated`] with fewer than 4 bytes, [`Error::BadLength`] for a Length below 4 or beyond
    /// `bytes` (offsets are 0).
    pub fn parse(bytes: &'a [u8]) -> Result<Node<'a>, Error> {
        Self::parse_at(bytes, 0)
    }

    fn parse_at(buffer: &'a [u8], offset: usize) -> Result<Node<'a>, Error> {
        let rest = buffer.get(offset..).unwrap_or(&[]);
        let header = rest.get(..HEADER).ok_or(Error::Truncated { offset })?;
        let length = u16::from_le_bytes([header[2], header[3]]);
        let bytes = rest
            .get(..usize::from(length))
            .filter(|_| usize::from(length) >= HEADER)
            .ok_or(Error::BadLength { offset, length })?;
        Ok(Node {
            kind: header[0],
            sub_type: header[1],
            data: &bytes[HEADER..],
            bytes,
        })
    }

    /// True for an end node of either subtype.
    pub fn is_end(&self) -> bool {
        self.kind == kind::END
    }

    /// True for the end-of-entire-path node.
    pub fn is_end_of_path(&self) -> bool {
        self.kind == kind::END && self.sub_type == END_ENTIRE
    }

    /// True for the end-of-instance node.
    pub fn is_end_of_instance(&self) -> bool {
        self.kind == kind::END && self.sub_type == END_INSTANCE
    }
}

/// The nodes of a path up to (not including) its end-of-entire-path node; end-of-instance nodes are yielded.
/// After an error the iterator is exhausted.
#[derive(Clone, Debug)]
pub struct Nodes<'a> {
    buffer: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> Nodes<'a> {
    /// Iterates the path in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Nodes<'a> {
        Nodes {
            buffer: bytes,
            offset: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Nodes<'a> {
    type Item = Result<Node<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let node = match Node::parse_at(self.buffer, self.offset) {
            Ok(node) => node,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.offset += node.bytes.len();
        if node.is_end_of_path() {
            self.done = true;
            return None;
        }
        if self.offset > MAX_PATH_BYTES {
            self.done = true;
            return Some(Err(Error::TooLong));
        }
        Some(Ok(node))
    }
}

/// `GetDevicePathSize()`: bytes of the path in `bytes`, end-of-entire-path node included.
///
/// Errors: a truncated or badly sized node, no end node within `bytes`, or a path above
/// [`MAX_PATH_BYTES`].
pub fn path_size(bytes: &[u8]) -> Result<usize, Error> {
    let mut offset = 0;
    loop {
        let node = Node::parse_at(bytes, offset)?;
        offset += node.bytes.len();
        if offset > MAX_PATH_BYTES {
            return Err(Error::TooLong);
        }
        if node.is_end_of_path() {
            return Ok(offset);
        }
    }
}

/// Builds one node: header first, fields appended in order, Length filled in by [`NodeBuilder::finish`].
#[derive(Debug)]
pub struct NodeBuilder {
    bytes: Vec<u8>,
}

impl NodeBuilder {
    /// A node of `kind`/`sub_type` with no data yet.
    pub fn new(kind: u8, sub_type: u8) -> NodeBuilder {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&[kind, sub_type, 0, 0]);
        NodeBuilder { bytes }
    }

    /// Appends a byte.
    pub fn u8(mut self, value: u8) -> Self {
        self.bytes.push(value);
        self
    }

    /// Appends a little-endian `u16`.
    pub fn u16(self, value: u16) -> Self {
        self.raw(&value.to_le_bytes())
    }

    /// Appends a little-endian `u32`.
    pub fn u32(self, value: u32) -> Self {
        self.raw(&value.to_le_bytes())
    }

    /// Appends a little-endian `u64`.
    pub fn u64(self, value: u64) -> Self {
        self.raw(&value.to_le_bytes())
    }

    /// Appends raw bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// The node bytes. Errors: [`Error::TooLong`] when the node exceeds `u16::MAX` bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, Error> {
        let length = u16::try_from(self.bytes.len()).map_err(|_| Error::TooLong)?;
        self.bytes[2..4].copy_from_slice(&length.to_le_bytes());
        Ok(self.bytes)
    }
}

/// Reads the fixed fields of a node's data in order; every read is bounds-checked.
#[derive(Debug)]
pub struct Fields<'a> {
    data: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Fields<'a> {
        Fields { data }
    }

    /// The next `n` bytes, or `None` if fewer remain.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.data.len() {
            return None;
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// The next little-endian `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    /// The next little-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }
}

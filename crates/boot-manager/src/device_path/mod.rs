//! Device paths as the boot manager and LoadImage read and build them (UEFI 2.10 sections 10.2-10.3).
//!
//! A device path is a sequence of nodes `{ type: u8, sub_type: u8, length: u16 LE, data }` ended by an end node
//! (type `0x7F`; sub-type `0xFF` ends the path, `0x01` ends one instance of a multi-instance path). [`parse`]
//! reads the first instance into typed [`Node`]s, [`encode`] writes nodes back followed by an end node; the two are
//! inverse for every well-formed path (unknown nodes are kept byte for byte as [`Node::Other`]).
//!
//! Submodules: [`file`] (the file name named by file-path media nodes, for LoadImage), [`expand`] (short-form
//! and device-only boot option paths, UEFI 2.10 section 3.1.2), and the text form for logs ([`Text`]).

pub mod expand;
pub mod file;
#[cfg(test)]
mod tests;
mod text;

use alloc::vec::Vec;
use core::fmt;

pub use text::{guid_text, Text};

/// Hardware device path node type.
pub const TYPE_HARDWARE: u8 = 0x01;
/// ACPI device path node type.
pub const TYPE_ACPI: u8 = 0x02;
/// Messaging device path node type.
pub const TYPE_MESSAGING: u8 = 0x03;
/// Media device path node type.
pub const TYPE_MEDIA: u8 = 0x04;
/// End node type.
pub const TYPE_END: u8 = 0x7F;
/// Hardware sub-type: PCI (function, device).
pub const SUBTYPE_PCI: u8 = 0x01;
/// Hardware sub-type: vendor-defined.
pub const SUBTYPE_VENDOR_HARDWARE: u8 = 0x04;
/// ACPI sub-type: `_HID` and `_UID`.
pub const SUBTYPE_ACPI: u8 = 0x01;
/// Media sub-type: hard drive partition.
pub const SUBTYPE_HARD_DRIVE: u8 = 0x01;
/// Media sub-type: vendor-defined media.
pub const SUBTYPE_VENDOR_MEDIA: u8 = 0x03;
/// Media sub-type: file path (a NUL-terminated UCS-2 path name).
pub const SUBTYPE_FILE_PATH: u8 = 0x04;
/// End sub-type: end of the entire device path.
pub const SUBTYPE_END_ENTIRE: u8 = 0xFF;
/// End sub-type: end of this instance of a multi-instance device path.
pub const SUBTYPE_END_INSTANCE: u8 = 0x01;
/// Compressed EISA ID of `PNP0A03` (PCI host bridge): `PciRoot(uid)` in text form.
pub const PNP0A03: u32 = 0x0A03_41D0;
/// Compressed EISA ID of `PNP0A08` (PCI Express host bridge): `PcieRoot(uid)` in text form.
pub const PNP0A08: u32 = 0x0A08_41D0;
/// Longest device path accepted (bytes, end node included): a sanity bound on caller and on-disk data.
pub const MAX_DEVICE_PATH: usize = 64 * 1024;

/// Why bytes are not a well-formed device path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePathError {
    /// Fewer than 4 bytes remain at `offset` where a node header must start (also: no end node at all).
    Truncated {
        /// Byte offset of the incomplete header.
        offset: usize,
    },
    /// The node at `offset` declares a length below 4 or running past the end of the bytes.
    BadLength {
        /// Byte offset of the node.
        offset: usize,
        /// The declared length.
        length: u16,
    },
    /// The path is longer than [`MAX_DEVICE_PATH`].
    TooLong,
}

impl fmt::Display for DevicePathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevicePathError::Truncated { offset } => {
                write!(
                    f,
                    "device path ends inside a node header at byte {offset} (no end node)"
                )
            }
            DevicePathError::BadLength { offset, length } => {
                write!(
                    f,
                    "device path node at byte {offset} has a bad length {length}"
                )
            }
            DevicePathError::TooLong => {
                write!(f, "device path longer than {MAX_DEVICE_PATH} bytes")
            }
        }
    }
}

/// A hard drive media node (UEFI 2.10 section 10.3.5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HardDrive {
    /// Partition number, 1-based (0 is the whole disk).
    pub partition_number: u32,
    /// First LBA of the partition.
    pub start: u64,
    /// Size in LBAs.
    pub size: u64,
    /// Partition signature: the GPT unique partition GUID, or the 32-bit MBR disk signature in the first 4 bytes.
    pub signature: [u8; 16],
    /// Partition format: 1 legacy MBR, 2 GPT.
    pub mbr_type: u8,
    /// Signature type: 0 none, 1 32-bit MBR signature, 2 GUID.
    pub signature_type: u8,
}

impl HardDrive {
    /// Whether `other` names the same partition, as a short-form path is matched (section 3.1.2): same partition
    /// number, format, signature type and signature (start and size may differ after a resize).
    pub fn same_partition(&self, other: &HardDrive) -> bool {
        self.partition_number == other.partition_number
            && self.mbr_type == other.mbr_type
            && self.signature_type == other.signature_type
            && self.signature == other.signature
    }
}

/// One device path node, typed where the boot manager needs its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// ACPI `_HID`/`_UID` node (2/1), e.g. `PciRoot(0x0)`.
    Acpi {
        /// Compressed EISA `_HID`.
        hid: u32,
        /// `_UID`.
        uid: u32,
    },
    /// PCI node (1/1): device and function on the bus the previous node leads to.
    Pci {
        /// Device (slot) number.
        device: u8,
        /// Function number.
        function: u8,
    },
    /// Hard drive media node (4/1).
    HardDrive(HardDrive),
    /// Vendor-defined media node (4/3): GUID and vendor data.
    VendorMedia {
        /// The vendor GUID (as stored: mixed-endian bytes).
        guid: [u8; 16],
        /// Vendor data following the GUID.
        data: Vec<u8>,
    },
    /// File path media node (4/4): UCS-2 path name up to its terminating NUL (a missing NUL is tolerated when
    /// reading; anything after the NUL is dropped).
    FilePath(Vec<u16>),
    /// Any other node, kept byte for byte.
    Other {
        /// Node type.
        node_type: u8,
        /// Node sub-type.
        sub_type: u8,
        /// The bytes after the 4-byte header.
        data: Vec<u8>,
    },
}

impl Node {
    /// A file path node for `path` (e.g. `\EFI\BOOT\BOOTX64.EFI`).
    pub fn file_path(path: &str) -> Node {
        Node::FilePath(path.encode_utf16().collect())
    }

    /// `PciRoot(uid)`: the ACPI node of a PCI host bridge (`PNP0A03`).
    pub fn pci_root(uid: u32) -> Node {
        Node::Acpi { hid: PNP0A03, uid }
    }

    /// Whether this is the ACPI node of a PCI or PCI Express host bridge.
    pub fn is_pci_root(&self) -> bool {
        matches!(self, Node::Acpi { hid, .. } if *hid == PNP0A03 || *hid == PNP0A08)
    }

    /// The node's (type, sub-type).
    pub fn kind(&self) -> (u8, u8) {
        match self {
            Node::Acpi { .. } => (TYPE_ACPI, SUBTYPE_ACPI),
            Node::Pci { .. } => (TYPE_HARDWARE, SUBTYPE_PCI),
            Node::HardDrive(_) => (TYPE_MEDIA, SUBTYPE_HARD_DRIVE),
            Node::VendorMedia { .. } => (TYPE_MEDIA, SUBTYPE_VENDOR_MEDIA),
            Node::FilePath(_) => (TYPE_MEDIA, SUBTYPE_FILE_PATH),
            Node::Other {
                node_type,
                sub_type,
                ..
            } => (*node_type, *sub_type),
        }
    }

    /// Decodes a node from its type, sub-type and data (the bytes after the header). Typed nodes whose data has
    /// the wrong size stay [`Node::Other`].
    pub fn decode(node_type: u8, sub_type: u8, data: &[u8]) -> Node {
        let u32_at =
            |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let u64_at = |at: usize| (u64::from(u32_at(at + 4)) << 32) | u64::from(u32_at(at));
        match (node_type, sub_type, data.len()) {
            (TYPE_ACPI, SUBTYPE_ACPI, 8) => Node::Acpi {
                hid: u32_at(0),
                uid: u32_at(4),
            },
            (TYPE_HARDWARE, SUBTYPE_PCI, 2) => Node::Pci {
                function: data[0],
                device: data[1],
            },
            (TYPE_MEDIA, SUBTYPE_HARD_DRIVE, 38) => {
                let mut signature = [0u8; 16];
                signature.copy_from_slice(&data[20..36]);
                Node::HardDrive(HardDrive {
                    partition_number: u32_at(0),
                    start: u64_at(4),
                    size: u64_at(12),
                    signature,
                    mbr_type: data[36],
                    signature_type: data[37],
                })
            }
            (TYPE_MEDIA, SUBTYPE_VENDOR_MEDIA, n) if n >= 16 => {
                let mut guid = [0u8; 16];
                guid.copy_from_slice(&data[..16]);
                Node::VendorMedia {
                    guid,
                    data: data[16..].to_vec(),
                }
            }
            (TYPE_MEDIA, SUBTYPE_FILE_PATH, n) if n % 2 == 0 => {
                let units = data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .take_while(|&u| u != 0)
                    .collect();
                Node::FilePath(units)
            }
            _ => Node::Other {
                node_type,
                sub_type,
                data: data.to_vec(),
            },
        }
    }

    /// Appends the node's bytes (header included) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut data = Vec::new();
        match self {
            Node::Acpi { hid, uid } => {
                data.extend_from_slice(&hid.to_le_bytes());
                data.extend_from_slice(&uid.to_le_bytes());
            }
            Node::Pci { device, function } => data.extend_from_slice(&[*function, *device]),
            Node::HardDrive(hd) => {
                data.extend_from_slice(&hd.partition_number.to_le_bytes());
                data.extend_from_slice(&hd.start.to_le_bytes());
                data.extend_from_slice(&hd.size.to_le_bytes());
                data.extend_from_slice(&hd.signature);
                data.extend_from_slice(&[hd.mbr_type, hd.signature_type]);
            }
            Node::VendorMedia { guid, data: vendor } => {
                data.extend_from_slice(guid);
                data.extend_from_slice(vendor);
            }
            Node::FilePath(units) => {
                for u in units.iter().chain(core::iter::once(&0)) {
                    data.extend_from_slice(&u.to_le_bytes());
                }
            }
            Node::Other { data: other, .. } => data.extend_from_slice(other),
        }
        let (node_type, sub_type) = self.kind();
        out.extend_from_slice(&[node_type, sub_type]);
        out.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
        out.extend_from_slice(&data);
    }
}

/// Length in bytes of the first instance of `path`, its end node included (the bytes a reader must copy).
pub fn instance_len(path: &[u8]) -> Result<usize, DevicePathError> {
    let mut offset = 0;
    loop {
        let header = path
            .get(offset..offset + 4)
            .ok_or(DevicePathError::Truncated { offset })?;
        let length = u16::from_le_bytes([header[2], header[3]]);
        let end = offset + usize::from(length);
        if length < 4 || end > path.len() {
            return Err(DevicePathError::BadLength { offset, length });
        }
        if end > MAX_DEVICE_PATH {
            return Err(DevicePathError::TooLong);
        }
        offset = end;
        if header[0] == TYPE_END {
            return Ok(offset);
        }
    }
}

/// The nodes of the first instance of `path` (its end node excluded).
pub fn parse(path: &[u8]) -> Result<Vec<Node>, DevicePathError> {
    let len = instance_len(path)?;
    let mut nodes = Vec::new();
    let mut offset = 0;
    while offset < len {
        let length = usize::from(u16::from_le_bytes([path[offset + 2], path[offset + 3]]));
        if path[offset] == TYPE_END {
            break;
        }
        nodes.push(Node::decode(
            path[offset],
            path[offset + 1],
            &path[offset + 4..offset + length],
        ));
        offset += length;
    }
    Ok(nodes)
}

/// The bytes of `nodes` followed by an end-entire node.
pub fn encode(nodes: &[Node]) -> Vec<u8> {
    let mut out = Vec::new();
    for node in nodes {
        node.encode_into(&mut out);
    }
    out.extend_from_slice(&[TYPE_END, SUBTYPE_END_ENTIRE, 4, 0]);
    out
}

/// Whether `prefix` is a whole-node prefix of `path`, comparing nodes as LocateDevicePath does (byte equality),
/// except that a PCI host bridge node matches another one with the same `_UID` whether it says `PNP0A03` or
/// `PNP0A08`.
pub fn starts_with(path: &[Node], prefix: &[Node]) -> bool {
    prefix.len() <= path.len()
        && path.iter().zip(prefix).all(|(a, b)| match (a, b) {
            (Node::Acpi { uid: ua, .. }, Node::Acpi { uid: ub, .. })
                if a.is_pci_root() && b.is_pci_root() =>
            {
                ua == ub
            }
            _ => a == b,
        })
}

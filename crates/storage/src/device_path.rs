//! Device path bytes (UEFI 2.10 section 10): appending a node to a parent path, and the text form of a path for
//! log lines (section 10.6.1, for the node types a storage stack meets; others print as `Path(type,subtype,hex)`).
//!
//! A device path is a sequence of nodes, each `Type` u8, `SubType` u8, `Length` u16 (little-endian, including the
//! 4-byte header), ended by the End Entire node `7F FF 04 00`. Parsing here never trusts a length: a node shorter
//! than 4 bytes or reaching past the buffer ends the walk (the text then ends in `/<malformed>`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::partition::guid::Guid;

/// The End Entire Device Path node.
pub const END_NODE: [u8; 4] = [0x7F, 0xFF, 0x04, 0x00];
/// Most nodes rendered or walked (a bound against hostile paths).
const MAX_NODES: usize = 64;

/// The nodes of `path` before its first end node, as `(type, subtype, node bytes)`; `Err(())` as the last item
/// when a node is malformed.
fn nodes(path: &[u8]) -> impl Iterator<Item = Result<(u8, u8, &[u8]), ()>> {
    let mut at = 0usize;
    let mut done = false;
    core::iter::from_fn(move || {
        if done {
            return None;
        }
        let header = path.get(at..at + 4);
        let len = header.map(|h| u16::from_le_bytes([h[2], h[3]]) as usize);
        match (header, len) {
            (Some(h), Some(len)) if len >= 4 && at + len <= path.len() => {
                if h[0] == 0x7F {
                    done = true;
                    return None;
                }
                let node = &path[at..at + len];
                at += len;
                Some(Ok((h[0], h[1], node)))
            }
            _ => {
                done = true;
                Some(Err(()))
            }
        }
    })
    .take(MAX_NODES)
}

/// The bytes of `parent` up to (not including) its first end node, then `node`, then an End Entire node.
/// A malformed `parent` contributes its well-formed leading nodes only.
pub fn append_node(parent: &[u8], node: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parent.len() + node.len() + 4);
    for (_, _, bytes) in nodes(parent).map_while(Result::ok) {
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(node);
    out.extend_from_slice(&END_NODE);
    out
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

/// Text of one node (section 10.6.1.x), or `None` to use the generic form.
fn node_text(kind: u8, subtype: u8, n: &[u8]) -> Option<String> {
    Some(match (kind, subtype, n.len()) {
        // ACPI: PNP0A03 is PciRoot, PNP0A08 PcieRoot (section 10.6.1.2).
        (2, 1, 12) => match u32_at(n, 4) {
            0x0A03_41D0 => format!("PciRoot({:#x})", u32_at(n, 8)),
            0x0A08_41D0 => format!("PcieRoot({:#x})", u32_at(n, 8)),
            hid => format!("Acpi({hid:#x},{:#x})", u32_at(n, 8)),
        },
        // Hardware PCI: Function at +4, Device at +5.
        (1, 1, 6) => format!("Pci({:#x},{:#x})", n[5], n[4]),
        // Messaging SCSI, SATA, NVMe namespace.
        (3, 2, 8) => format!("Scsi({:#x},{:#x})", u16_at(n, 4), u16_at(n, 6)),
        (3, 18, 10) => format!(
            "Sata({:#x},{:#x},{:#x})",
            u16_at(n, 4),
            u16_at(n, 6),
            u16_at(n, 8)
        ),
        (3, 23, 16) => format!("NVMe({:#x},{:016X})", u32_at(n, 4), u64_at(n, 8)),
        // Media Hard Drive.
        (4, 1, 42) => {
            let (number, start, size) = (u32_at(n, 4), u64_at(n, 8), u64_at(n, 16));
            let signature = match (n[40], n[41]) {
                (1, 1) => format!("MBR,{:#x}", u32_at(n, 24)),
                (2, 2) => format!("GPT,{}", Guid::from_slice(&n[24..40])?),
                (format, kind) => format!("{format},{kind}"),
            };
            format!("HD({number},{signature},{start:#x},{size:#x})")
        }
        // Media File Path: a NUL-terminated UCS-2 string.
        (4, 4, len) if len >= 6 => {
            let units = n[4..]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0);
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => return None,
    })
}

/// The text form of `path` (e.g. `PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,<guid>,0x800,0x1F800)`); the empty path
/// (only an end node) is `<end>`.
pub fn to_text(path: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for node in nodes(path) {
        match node {
            Ok((kind, subtype, n)) => {
                parts.push(node_text(kind, subtype, n).unwrap_or_else(|| {
                    let hex: String = n[4..].iter().map(|b| format!("{b:02X}")).collect();
                    format!("Path({kind},{subtype},{hex})")
                }))
            }
            Err(()) => parts.push(String::from("<malformed>")),
        }
    }
    if parts.is_empty() {
        String::from("<end>")
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::{HardDriveNode, PartitionFormat, SignatureType};
    use alloc::vec;

    fn pci_path() -> Vec<u8> {
        let mut p = vec![2, 1, 12, 0];
        p.extend_from_slice(&0x0A03_41D0u32.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&[1, 1, 6, 0, 0, 3]);
        p.extend_from_slice(&END_NODE);
        p
    }

    #[test]
    fn text_of_a_partition_path() {
        let mut sig = [0u8; 16];
        sig[..4].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        let hd = HardDriveNode {
            partition_number: 1,
            partition_start: 2048,
            partition_size: 0x1F800,
            partition_signature: sig,
            partition_format: PartitionFormat::Mbr,
            signature_type: SignatureType::Mbr,
        };
        let path = append_node(&pci_path(), &hd.to_bytes());
        assert_eq!(
            to_text(&path),
            "PciRoot(0x0)/Pci(0x3,0x0)/HD(1,MBR,0x12345678,0x800,0x1f800)"
        );
        assert_eq!(path.len(), 12 + 6 + 42 + 4);
        assert_eq!(&path[path.len() - 4..], &END_NODE);
        let gpt = HardDriveNode {
            partition_signature: crate::partition::guid::EFI_SYSTEM_PARTITION_GUID.0,
            partition_format: PartitionFormat::Gpt,
            signature_type: SignatureType::Guid,
            ..hd
        };
        assert_eq!(
            to_text(&append_node(&pci_path(), &gpt.to_bytes())),
            "PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,C12A7328-F81F-11D2-BA4B-00A0C93EC93B,0x800,0x1f800)"
        );
    }

    #[test]
    fn unknown_and_malformed_nodes() {
        let mut p = vec![5, 1, 6, 0, 0xAB, 0xCD];
        p.extend_from_slice(&END_NODE);
        assert_eq!(to_text(&p), "Path(5,1,ABCD)");
        assert_eq!(to_text(&END_NODE), "<end>");
        // Length 2 (< header) and a length past the buffer.
        assert_eq!(to_text(&[1, 1, 2, 0]), "<malformed>");
        let mut q = pci_path();
        q.truncate(14);
        assert_eq!(to_text(&q), "PciRoot(0x0)/<malformed>");
        // append_node keeps only the well-formed prefix.
        assert_eq!(append_node(&q, &[]), {
            let mut v = pci_path()[..12].to_vec();
            v.extend_from_slice(&END_NODE);
            v
        });
    }
}

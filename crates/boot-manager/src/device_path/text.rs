//! The text form of device paths for logs and reports (UEFI 2.10 section 10.6, for the nodes the boot manager
//! meets; any other node prints in the generic `Path(type,subtype,hexdata)` form).

use core::fmt;

use super::{HardDrive, Node, PNP0A03, PNP0A08};

/// Displays nodes as `PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,<guid>,0x800,0x20000)/\EFI\BOOT\BOOTX64.EFI`.
pub struct Text<'a>(pub &'a [Node]);

/// Writes a GUID stored in its mixed-endian byte layout in the registry format
/// (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn guid_text(f: &mut dyn fmt::Write, g: &[u8; 16]) -> fmt::Result {
    write!(
        f,
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9]
    )?;
    for b in &g[10..] {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn hard_drive(f: &mut fmt::Formatter<'_>, hd: &HardDrive) -> fmt::Result {
    write!(f, "HD({},", hd.partition_number)?;
    match (hd.mbr_type, hd.signature_type) {
        (2, 2) => {
            f.write_str("GPT,")?;
            guid_text(f, &hd.signature)?;
        }
        (1, 1) => {
            let sig = u32::from_le_bytes([
                hd.signature[0],
                hd.signature[1],
                hd.signature[2],
                hd.signature[3],
            ]);
            write!(f, "MBR,{sig:#010x}")?;
        }
        (format, kind) => write!(f, "{format},{kind}")?,
    }
    write!(f, ",{:#x},{:#x})", hd.start, hd.size)
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(end)");
        }
        for (i, node) in self.0.iter().enumerate() {
            let file_after_file = i > 0
                && matches!(
                    (&self.0[i - 1], node),
                    (Node::FilePath(_), Node::FilePath(_))
                );
            if i > 0 && !file_after_file {
                f.write_str("/")?;
            }
            match node {
                Node::Acpi { hid, uid } if *hid == PNP0A03 => write!(f, "PciRoot({uid:#x})")?,
                Node::Acpi { hid, uid } if *hid == PNP0A08 => write!(f, "PcieRoot({uid:#x})")?,
                Node::Acpi { hid, uid } => write!(f, "Acpi({hid:#x},{uid:#x})")?,
                Node::Pci { device, function } => write!(f, "Pci({device:#x},{function:#x})")?,
                Node::HardDrive(hd) => hard_drive(f, hd)?,
                Node::VendorMedia { guid, data } => {
                    f.write_str("VenMedia(")?;
                    guid_text(f, guid)?;
                    if !data.is_empty() {
                        f.write_str(",")?;
                        for b in data {
                            write!(f, "{b:02X}")?;
                        }
                    }
                    f.write_str(")")?;
                }
                Node::FilePath(units) => {
                    for c in char::decode_utf16(units.iter().copied()) {
                        write!(f, "{}", c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
                    }
                }
                Node::Other {
                    node_type,
                    sub_type,
                    data,
                } => {
                    write!(f, "Path({node_type},{sub_type},")?;
                    for b in data {
                        write!(f, "{b:02X}")?;
                    }
                    f.write_str(")")?;
                }
            }
        }
        Ok(())
    }
}

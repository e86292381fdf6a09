//! Messaging device path nodes (type 3, UEFI 2.10 section 10.3.4) and their text (section 10.6.1.4), except the
//! network ones (`MAC`, `IPv4`, `IPv6`: [`crate::network`]) and vendor nodes ([`crate::vendor`]):
//! `Ata(Primary|Secondary,Master|Slave,Lun)`, `Scsi(Pun,Lun)`, `Fibre(WWN,Lun)`, `USB(Port,Interface)`,
//! `UsbClass(Vid,Pid,Class,SubClass,Protocol)`, `Unit(Lun)`, `Sata(Hba,PortMultiplier,Lun)`, `Vlan(Id)`,
//! `NVMe(Nsid,EUI-64)`, `Uri(Text)`, `SD(Slot)`, `eMMC(Slot)`, `Uart(Baud,DataBits,Parity,StopBits)`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::node::{kind, Fields, Node, NodeBuilder};
use crate::text::{name_of, parse_u64, Args};
use crate::{network, vendor, Error, TextOptions};

/// Subtype: ATAPI.
pub const ATAPI: u8 = 1;
/// Subtype: SCSI.
pub const SCSI: u8 = 2;
/// Subtype: Fibre Channel.
pub const FIBRE: u8 = 3;
/// Subtype: USB.
pub const USB: u8 = 5;
/// Subtype: vendor.
pub const VENDOR: u8 = 10;
/// Subtype: UART.
pub const UART: u8 = 14;
/// Subtype: USB class.
pub const USB_CLASS: u8 = 15;
/// Subtype: device logical unit.
pub const LOGICAL_UNIT: u8 = 17;
/// Subtype: SATA.
pub const SATA: u8 = 18;
/// Subtype: VLAN.
pub const VLAN: u8 = 20;
/// Subtype: NVM Express namespace.
pub const NVME: u8 = 23;
/// Subtype: URI.
pub const URI: u8 = 24;
/// Subtype: SD.
pub const SD: u8 = 26;
/// Subtype: eMMC.
pub const EMMC: u8 = 29;

const CHANNEL: [(&str, u8); 2] = [("Primary", 0), ("Secondary", 1)];
const DRIVE: [(&str, u8); 2] = [("Master", 0), ("Slave", 1)];
const PARITY: [(&str, u8); 6] = [("D", 0), ("N", 1), ("E", 2), ("O", 3), ("M", 4), ("S", 5)];
const STOP_BITS: [(&str, u8); 4] = [("D", 0), ("1", 1), ("1.5", 2), ("2", 3)];

fn push_named(out: &mut String, names: &[(&'static str, u8)], value: u8) {
    match name_of(names, value) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "0x{value:X}");
        }
    }
}

/// True when `text` reads back verbatim as the argument of `Uri()`: printable ASCII without parentheses.
fn is_uri_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x21..0x7f).contains(&b) && b != b'(' && b != b')')
}

/// Writes the keyword form of a messaging node; false when it has none that carries every byte.
pub fn to_text(node: &Node, opts: TextOptions, out: &mut String) -> bool {
    let mut f = Fields::new(node.data);
    let exact = |len: usize| node.data.len() == len;
    match node.sub_type {
        ATAPI if exact(4) => {
            let (Some(channel), Some(drive), Some(lun)) = (f.u8(), f.u8(), f.u16()) else {
                return false;
            };
            if opts.display_only {
                let _ = write!(out, "Ata(0x{lun:X})");
            } else {
                out.push_str("Ata(");
                push_named(out, &CHANNEL, channel);
                out.push(',');
                push_named(out, &DRIVE, drive);
                let _ = write!(out, ",0x{lun:X})");
            }
        }
        SCSI if exact(4) => {
            let (Some(pun), Some(lun)) = (f.u16(), f.u16()) else {
                return false;
            };
            let _ = write!(out, "Scsi(0x{pun:X},0x{lun:X})");
        }
        FIBRE if exact(20) => {
            let (Some(0), Some(wwn), Some(lun)) = (f.u32(), f.u64(), f.u64()) else {
                return false;
            };
            let _ = write!(out, "Fibre(0x{wwn:X},0x{lun:X})");
        }
        USB if exact(2) => {
            let _ = write!(out, "USB(0x{:X},0x{:X})", node.data[0], node.data[1]);
        }
        USB_CLASS if exact(7) => {
            let (Some(vid), Some(pid)) = (f.u16(), f.u16()) else {
                return false;
            };
            let (class, sub, protocol) = (node.data[4], node.data[5], node.data[6]);
            let _ = write!(
                out,
                "UsbClass(0x{vid:X},0x{pid:X},0x{class:X},0x{sub:X},0x{protocol:X})"
            );
        }
        LOGICAL_UNIT if exact(1) => {
            let _ = write!(out, "Unit(0x{:X})", node.data[0]);
        }
        SATA if exact(6) => {
            let (Some(hba), Some(pm), Some(lun)) = (f.u16(), f.u16(), f.u16()) else {
                return false;
            };
            let _ = write!(out, "Sata(0x{hba:X},0x{pm:X},0x{lun:X})");
        }
        VLAN if exact(2) => {
            let Some(vlan) = f.u16() else { return false };
            let _ = write!(out, "Vlan({vlan})");
        }
        NVME if exact(12) => {
            let (Some(nsid), Some(eui)) = (f.u32(), f.array::<8>()) else {
                return false;
            };
            let _ = write!(out, "NVMe(0x{nsid:X},");
            // The EUI-64 is stored as a little-endian 64-bit value and written most significant byte first.
            for (i, b) in eui.iter().rev().enumerate() {
                let _ = write!(out, "{}{b:02X}", if i == 0 { "" } else { "-" });
            }
            out.push(')');
        }
        URI if is_uri_text(node.data) => {
            out.push_str("Uri(");
            out.extend(node.data.iter().map(|&b| char::from(b)));
            out.push(')');
        }
        SD | EMMC if exact(1) => {
            let name = if node.sub_type == SD { "SD" } else { "eMMC" };
            let _ = write!(out, "{name}(0x{:X})", node.data[0]);
        }
        UART if exact(15) => return uart_to_text(&mut f, out),
        VENDOR => return vendor::to_text("VenMsg", node, opts, out),
        _ => return network::to_text(node, opts, out),
    }
    true
}

fn uart_to_text(f: &mut Fields, out: &mut String) -> bool {
    let (Some(0), Some(baud), Some(data_bits), Some(parity), Some(stop)) =
        (f.u32(), f.u64(), f.u8(), f.u8(), f.u8())
    else {
        return false;
    };
    let (Some(parity), Some(stop)) = (name_of(&PARITY, parity), name_of(&STOP_BITS, stop)) else {
        return false;
    };
    out.push_str("Uart(");
    match baud {
        0 => out.push_str("DEFAULT"),
        _ => {
            let _ = write!(out, "{baud}");
        }
    }
    match data_bits {
        0 => out.push_str(",DEFAULT"),
        _ => {
            let _ = write!(out, ",{data_bits}");
        }
    }
    let _ = write!(out, ",{parity},{stop})");
    true
}

fn uart_from_text(inner: &str) -> Result<Vec<u8>, Error> {
    let a = Args::new("Uart", inner);
    a.expect(4, 4)?;
    let default_or = |i: usize| -> Result<u64, Error> {
        match a.str(i) {
            "DEFAULT" => Ok(0),
            _ => a.num(i),
        }
    };
    let baud = default_or(0)?;
    let data_bits = u8::try_from(default_or(1)?).map_err(|_| a.bad(1))?;
    NodeBuilder::new(kind::MESSAGING, UART)
        .u32(0)
        .u64(baud)
        .u8(data_bits)
        .u8(a.named(2, &PARITY)?)
        .u8(a.named(3, &STOP_BITS)?)
        .finish()
}

fn nvme_from_text(inner: &str) -> Result<Vec<u8>, Error> {
    let a = Args::new("NVMe", inner);
    a.expect(2, 2)?;
    let mut eui = [0u8; 8];
    let parts: Vec<&str> = a.str(1).split('-').collect();
    if parts.len() != 8 {
        return Err(a.bad(1));
    }
    for (slot, part) in eui.iter_mut().rev().zip(&parts) {
        let ok = part.len() == 2 && part.bytes().all(|b| b.is_ascii_hexdigit());
        *slot = parse_u64(&alloc::format!("0x{part}"))
            .filter(|_| ok)
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(|| a.bad(1))?;
    }
    NodeBuilder::new(kind::MESSAGING, NVME)
        .u32(a.num(0)?)
        .raw(&eui)
        .finish()
}

/// Builds the messaging node for `keyword(inner)`; `None` when the keyword is not a messaging one.
pub fn from_text(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let node = |sub| NodeBuilder::new(kind::MESSAGING, sub);
    let fixed = |name: &'static str, count: usize| {
        let a = Args::new(name, inner);
        a.expect(count, count).map(|()| a)
    };
    Some(match keyword {
        "Ata" => (|| {
            let a = Args::new("Ata", inner);
            a.expect(1, 3)?;
            if a.len() == 1 {
                return node(ATAPI).u8(0).u8(0).u16(a.num(0)?).finish();
            }
            a.expect(3, 3)?;
            node(ATAPI)
                .u8(a.named(0, &CHANNEL)?)
                .u8(a.named(1, &DRIVE)?)
                .u16(a.num(2)?)
                .finish()
        })(),
        "Scsi" => fixed("Scsi", 2).and_then(|a| node(SCSI).u16(a.num(0)?).u16(a.num(1)?).finish()),
        "Fibre" => fixed("Fibre", 2)
            .and_then(|a| node(FIBRE).u32(0).u64(a.num(0)?).u64(a.num(1)?).finish()),
        "USB" => fixed("USB", 2).and_then(|a| node(USB).u8(a.num(0)?).u8(a.num(1)?).finish()),
        "UsbClass" => fixed("UsbClass", 5).and_then(|a| {
            node(USB_CLASS)
                .u16(a.num(0)?)
                .u16(a.num(1)?)
                .u8(a.num(2)?)
                .u8(a.num(3)?)
                .u8(a.num(4)?)
                .finish()
        }),
        "Unit" => fixed("Unit", 1).and_then(|a| node(LOGICAL_UNIT).u8(a.num(0)?).finish()),
        "Sata" => fixed("Sata", 3).and_then(|a| {
            node(SATA)
                .u16(a.num(0)?)
                .u16(a.num(1)?)
                .u16(a.num(2)?)
                .finish()
        }),
        "Vlan" => fixed("Vlan", 1).and_then(|a| node(VLAN).u16(a.num(0)?).finish()),
        "NVMe" => nvme_from_text(inner),
        "Uri" => {
            if is_uri_text(inner.as_bytes()) {
                node(URI).raw(inner.as_bytes()).finish()
            } else {
                Err(Error::BadArgument {
                    keyword: "Uri",
                    index: 0,
                })
            }
        }
        "SD" => fixed("SD", 1).and_then(|a| node(SD).u8(a.num(0)?).finish()),
        "eMMC" => fixed("eMMC", 1).and_then(|a| node(EMMC).u8(a.num(0)?).finish()),
        "Uart" => uart_from_text(inner),
        "VenMsg" => vendor::from_text("VenMsg", kind::MESSAGING, VENDOR, inner),
        _ => {
            return vendor::messaging_shortcut(keyword, inner)
                .or_else(|| network::from_text(keyword, inner))
        }
    })
}

//! Hardware device path nodes (type 1, UEFI 2.10 section 10.3.2) and their text (section 10.6.1.2):
//! `Pci(Device,Function)`, `PcCard(Function)`, `MemoryMapped(Type,Start,End)`, `VenHw(Guid[,Data])`,
//! `Ctrl(Controller)`, `BMC(Type,BaseAddress)`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::node::{kind, Fields, Node, NodeBuilder};
use crate::text::Args;
use crate::{vendor, Error, TextOptions};

/// Subtype: PCI.
pub const PCI: u8 = 1;
/// Subtype: PC card.
pub const PCCARD: u8 = 2;
/// Subtype: memory mapped.
pub const MEMORY_MAPPED: u8 = 3;
/// Subtype: vendor.
pub const VENDOR: u8 = 4;
/// Subtype: controller.
pub const CONTROLLER: u8 = 5;
/// Subtype: baseboard management controller.
pub const BMC: u8 = 6;

/// Writes the keyword form of a hardware node; false when it has none that carries every byte.
pub fn to_text(node: &Node, opts: TextOptions, out: &mut String) -> bool {
    let mut f = Fields::new(node.data);
    let exact = |len: usize| node.data.len() == len;
    match node.sub_type {
        PCI if exact(2) => {
            let (function, device) = (node.data[0], node.data[1]);
            let _ = write!(out, "Pci(0x{device:X},0x{function:X})");
        }
        PCCARD if exact(1) => {
            let _ = write!(out, "PcCard(0x{:X})", node.data[0]);
        }
        MEMORY_MAPPED if exact(20) => {
            let (t, start, end) = (f.u32(), f.u64(), f.u64());
            let (Some(t), Some(start), Some(end)) = (t, start, end) else {
                return false;
            };
            let _ = write!(out, "MemoryMapped(0x{t:X},0x{start:X},0x{end:X})");
        }
        VENDOR => return vendor::to_text("VenHw", node, opts, out),
        CONTROLLER if exact(4) => {
            let Some(controller) = f.u32() else {
                return false;
            };
            let _ = write!(out, "Ctrl(0x{controller:X})");
        }
        BMC if exact(9) => {
            let (Some(t), Some(base)) = (f.u8(), f.u64()) else {
                return false;
            };
            let _ = write!(out, "BMC(0x{t:X},0x{base:X})");
        }
        _ => return false,
    }
    true
}

/// Builds the hardware node for `keyword(inner)`; `None` when the keyword is not a hardware one.
pub fn from_text(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let node = |sub| NodeBuilder::new(kind::HARDWARE, sub);
    Some(match keyword {
        "Pci" => (|| {
            let a = Args::new("Pci", inner);
            a.expect(2, 2)?;
            let device: u8 = a.num(0)?;
            let function: u8 = a.num(1)?;
            node(PCI).u8(function).u8(device).finish()
        })(),
        "PcCard" => (|| {
            let a = Args::new("PcCard", inner);
            a.expect(1, 1)?;
            node(PCCARD).u8(a.num(0)?).finish()
        })(),
        "MemoryMapped" => (|| {
            let a = Args::new("MemoryMapped", inner);
            a.expect(3, 3)?;
            node(MEMORY_MAPPED)
                .u32(a.num(0)?)
                .u64(a.num(1)?)
                .u64(a.num(2)?)
                .finish()
        })(),
        "VenHw" => vendor::from_text("VenHw", kind::HARDWARE, VENDOR, inner),
        "Ctrl" => (|| {
            let a = Args::new("Ctrl", inner);
            a.expect(1, 1)?;
            node(CONTROLLER).u32(a.num(0)?).finish()
        })(),
        "BMC" => (|| {
            let a = Args::new("BMC", inner);
            a.expect(2, 2)?;
            node(BMC).u8(a.num(0)?).u64(a.num(1)?).finish()
        })(),
        _ => return None,
    })
}

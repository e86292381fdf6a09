//! QEMU's fw_cfg `bootorder` file: the devices given `bootindex=` (and `-boot order=`), highest priority first.
//!
//! Source: QEMU `softmmu/bootdevice.c` (`get_boot_devices_list`) and `hw/core/qdev.c` / `hw/pci/pci.c` (the
//! OpenFirmware device paths). Format: one OpenFirmware path per line, lines separated by `\n`, the file ends with
//! a NUL. A last line `HALT` means `-boot strict=on`: only the listed devices may be booted.
//!
//! A path is a sequence of `/name@unit-address` components. Those this parser classifies:
//! - `/pci@i0cf8/...`: a device below the PCI host bridge whose configuration ports are at I/O 0xcf8 (q35 and pc).
//!   Each following component is a PCI function, `name@slot[,function]` with hexadecimal numbers; while the
//!   component is named `pci-bridge` (QEMU's name for every PCI-to-PCI bridge class, PCIe root and switch ports
//!   included) the next component is a function behind it. The components after the first non-bridge function
//!   (`disk@0,0`, `channel@0/disk@2,3`, `drive@0/disk@0`, ...) address something inside that device; they are
//!   kept as text. Examples: `/pci@i0cf8/scsi@3/disk@0,0` (virtio-blk in slot 3),
//!   `/pci@i0cf8/pci-bridge@1c,2/scsi@0/disk@0,0` (behind a root port), `/pci@i0cf8/ethernet@4/ethernet-phy@0`.
//! - `/rom@genroms/FILE`: an option ROM; `linuxboot_dma.bin` and `linuxboot.bin` are QEMU's `-kernel` loader,
//!   which QEMU lists with boot index 0.
//! - anything else (ISA floppies, other host bridges, unknown shapes) is kept as text for the log.
//!
//! The parser never fails on content: every line is classified, malformed ones as [`BootEntry::Other`]. Input
//! size and line count are bounded ([`MAX_ENTRIES`]).

#[cfg(test)]
mod tests;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The fw_cfg file name.
pub const BOOTORDER_FILE: &str = "bootorder";
/// Lines beyond this many are ignored (QEMU lists one line per bootable device; 256 is far more than a machine has).
pub const MAX_ENTRIES: usize = 256;
/// Components beyond this many in one path make it [`BootEntry::Other`] (a sanity bound on bridge depth).
pub const MAX_COMPONENTS: usize = 32;
/// The OpenFirmware name of the host bridge at I/O 0xcf8 with its unit address.
const PCI_HOST: &str = "pci@i0cf8";
/// QEMU's OpenFirmware name of every PCI-to-PCI bridge.
const PCI_BRIDGE: &str = "pci-bridge";

/// A PCI function on the path: its device (slot) and function numbers on the bus above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciSlot {
    /// Device number, 0..=31.
    pub device: u8,
    /// Function number, 0..=7.
    pub function: u8,
}

/// One line of the bootorder file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootEntry {
    /// A device below the host bridge at I/O 0xcf8.
    Pci {
        /// The functions from the root bus down: zero or more bridges, then the device.
        functions: Vec<PciSlot>,
        /// The rest of the path inside the device, e.g. `/disk@0,0` (empty when there is none).
        rest: String,
    },
    /// An option ROM (`/rom@genroms/NAME`).
    Rom {
        /// The ROM's file name, e.g. `linuxboot_dma.bin`.
        name: String,
    },
    /// A path this parser does not classify, as text.
    Other(String),
}

impl BootEntry {
    /// Whether this is QEMU's `-kernel` loader ROM (`linuxboot_dma.bin` or `linuxboot.bin`), which QEMU lists
    /// with boot index 0 when `-kernel` is given.
    pub fn is_kernel_loader(&self) -> bool {
        matches!(self, BootEntry::Rom { name } if name == "linuxboot_dma.bin" || name == "linuxboot.bin")
    }
}

impl core::fmt::Display for BootEntry {
    /// `PCI 1c.2/00.0 /disk@0,0`, `ROM linuxboot_dma.bin`, or the path of an unclassified entry.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootEntry::Pci { functions, rest } => {
                f.write_str("PCI ")?;
                for (i, slot) in functions.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "/" };
                    write!(f, "{sep}{:02x}.{:x}", slot.device, slot.function)?;
                }
                if !rest.is_empty() {
                    write!(f, " {rest}")?;
                }
                Ok(())
            }
            BootEntry::Rom { name } => write!(f, "ROM {name}"),
            BootEntry::Other(path) => f.write_str(path),
        }
    }
}

/// The parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootOrderFile {
    /// The entries, highest priority first (QEMU sorts them by boot index).
    pub entries: Vec<BootEntry>,
    /// The file ended with `HALT` (`-boot strict=on`): devices not listed must not be booted.
    pub strict: bool,
}

/// Parses the bootorder file's bytes (NUL-terminated text; bytes after the first NUL are ignored, as are empty
/// lines and lines that are not UTF-8).
pub fn parse_bootorder(bytes: &[u8]) -> BootOrderFile {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut file = BootOrderFile::default();
    for line in bytes[..end].split(|&b| b == b'\n') {
        let Ok(line) = core::str::from_utf8(line) else {
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "HALT" {
            file.strict = true;
            continue;
        }
        if file.entries.len() == MAX_ENTRIES {
            break;
        }
        file.entries.push(parse_path(line));
    }
    file
}

/// Splits `name@unit` (a name may contain commas, e.g. `pci1af4,1001`, but no `@`).
fn split_component(component: &str) -> (&str, Option<&str>) {
    match component.split_once('@') {
        Some((name, unit)) => (name, Some(unit)),
        None => (component, None),
    }
}

/// Parses a PCI unit address `slot[,function]` (hexadecimal).
fn parse_pci_unit(unit: &str) -> Option<PciSlot> {
    let (slot, function) = match unit.split_once(',') {
        Some((s, f)) => (s, f),
        None => (unit, "0"),
    };
    let device = u8::from_str_radix(slot, 16).ok().filter(|&d| d < 32)?;
    let function = u8::from_str_radix(function, 16).ok().filter(|&f| f < 8)?;
    Some(PciSlot { device, function })
}

/// Classifies one OpenFirmware path.
pub fn parse_path(path: &str) -> BootEntry {
    let other = || BootEntry::Other(path.to_string());
    let Some(stripped) = path.strip_prefix('/') else {
        return other();
    };
    let components: Vec<&str> = stripped.split('/').collect();
    if components.len() > MAX_COMPONENTS || components.iter().any(|c| c.is_empty()) {
        return other();
    }
    match components.as_slice() {
        ["rom@genroms", name] => BootEntry::Rom {
            name: name.to_string(),
        },
        [host, rest @ ..] if *host == PCI_HOST && !rest.is_empty() => {
            let mut functions = Vec::new();
            let mut used = 0;
            for component in rest {
                let (name, unit) = split_component(component);
                let Some(slot) = unit.and_then(parse_pci_unit) else {
                    return other();
                };
                functions.push(slot);
                used += 1;
                if name != PCI_BRIDGE {
                    break;
                }
            }
            let rest: String = rest[used..].iter().flat_map(|c| ["/", c]).collect();
            BootEntry::Pci { functions, rest }
        }
        _ => other(),
    }
}

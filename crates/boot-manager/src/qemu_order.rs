//! `BootOrder` after QEMU's `bootorder` file: the devices given `bootindex=` come first, in QEMU's order, then the
//! rest in their previous order (the policy of OVMF's `SetBootOrderFromQemu`).
//!
//! Matching: a PCI entry (`/pci@i0cf8/pci-bridge@1c/scsi@0/disk@0,0`) becomes the device path prefix
//! `PciRoot(0x0)/Pci(0x1c,0x0)/Pci(0x0,0x0)`; an option matches when its full path (a short-form path expanded
//! against the devices present, [`crate::device_path::expand::resolved`]) starts with that prefix. The part inside
//! the PCI device (`/disk@0,0`: a SCSI target and LUN, an IDE drive) is not compared, so all the disks of one
//! controller match its entry. QEMU's `-kernel` loader ROM (`/rom@genroms/linuxboot_dma.bin`) matches the `-kernel`
//! option. Other entries match nothing.
//!
//! With `HALT` at the end of the file (`-boot strict=on`) only the options matched by an entry may be booted; the
//! caller restricts the boot sequence to [`QemuOrder::listed`].

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use qemu::bootorder::{BootEntry, BootOrderFile};

use crate::device_path::{starts_with, Node};
use crate::refresh::is_kernel_path;

/// The device path prefix a PCI bootorder entry stands for (`None` for other entries).
pub fn pci_prefix(entry: &BootEntry) -> Option<Vec<Node>> {
    let BootEntry::Pci { functions, .. } = entry else {
        return None;
    };
    let mut prefix = alloc::vec![Node::pci_root(0)];
    prefix.extend(functions.iter().map(|f| Node::Pci {
        device: f.device,
        function: f.function,
    }));
    Some(prefix)
}

/// Whether the option whose full path is `path` is the device `entry` names.
pub fn matches(entry: &BootEntry, path: &[Node]) -> bool {
    match entry {
        BootEntry::Pci { .. } => pci_prefix(entry).is_some_and(|prefix| starts_with(path, &prefix)),
        BootEntry::Rom { .. } => entry.is_kernel_loader() && is_kernel_path(path),
        BootEntry::Other(_) => false,
    }
}

/// The result of applying the bootorder file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QemuOrder {
    /// The new `BootOrder`.
    pub order: Vec<u16>,
    /// The options some entry matched, in the file's order (the only bootable ones in strict mode).
    pub listed: Vec<u16>,
}

/// Reorders `order` by the bootorder `file`, given each option's full path (`paths`; options without an entry
/// there match no device).
pub fn apply(order: &[u16], paths: &BTreeMap<u16, Vec<Node>>, file: &BootOrderFile) -> QemuOrder {
    let mut listed: Vec<u16> = Vec::new();
    for entry in &file.entries {
        for &number in order {
            if !listed.contains(&number) && paths.get(&number).is_some_and(|p| matches(entry, p)) {
                listed.push(number);
            }
        }
    }
    let mut result = listed.clone();
    for &number in order {
        if !result.contains(&number) {
            result.push(number);
        }
    }
    QemuOrder {
        order: result,
        listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_path::{HardDrive, PNP0A08};
    use crate::refresh::kernel_loader_path;
    use alloc::vec;
    use qemu::bootorder::parse_bootorder;

    fn esp(pci: &[(u8, u8)]) -> Vec<Node> {
        let mut path = vec![Node::pci_root(0)];
        path.extend(
            pci.iter()
                .map(|&(device, function)| Node::Pci { device, function }),
        );
        path.push(Node::HardDrive(HardDrive {
            partition_number: 1,
            start: 1,
            size: 1,
            signature: [1; 16],
            mbr_type: 2,
            signature_type: 2,
        }));
        path
    }

    fn paths() -> BTreeMap<u16, Vec<Node>> {
        BTreeMap::from([
            (0, esp(&[(3, 0)])),
            (1, esp(&[(4, 0)])),
            (2, esp(&[(0x1c, 0), (0, 0)])),
            (3, kernel_loader_path()),
            (4, vec![Node::file_path("\\EFI\\x.efi")]),
        ])
    }

    #[test]
    fn bootindex_devices_first_in_qemu_order_then_the_rest() {
        let file = parse_bootorder(
            b"/pci@i0cf8/pci-bridge@1c/scsi@0/disk@0,0\n/pci@i0cf8/scsi@4/disk@0,0\n/pci@i0cf8/ethernet@5/ethernet-phy@0\0",
        );
        let result = apply(&[4, 3, 0, 1, 2], &paths(), &file);
        assert_eq!(result.listed, vec![2, 1]);
        assert_eq!(result.order, vec![2, 1, 4, 3, 0]);
    }

    #[test]
    fn the_kernel_rom_matches_the_kernel_option_and_strict_is_left_to_the_caller() {
        let file =
            parse_bootorder(b"/rom@genroms/linuxboot_dma.bin\n/pci@i0cf8/scsi@3/disk@0,0\nHALT\0");
        assert!(file.strict);
        let result = apply(&[0, 1, 3], &paths(), &file);
        assert_eq!(result.listed, vec![3, 0]);
        assert_eq!(result.order, vec![3, 0, 1]);
    }

    #[test]
    fn prefixes_compare_whole_pci_nodes() {
        let entry = qemu::bootorder::parse_path("/pci@i0cf8/scsi@3,1/disk@0,0");
        assert!(!matches(&entry, &esp(&[(3, 0)])));
        assert!(matches(&entry, &esp(&[(3, 1)])));
        // A PcieRoot path matches too.
        let mut pcie = esp(&[(3, 1)]);
        pcie[0] = Node::Acpi {
            hid: PNP0A08,
            uid: 0,
        };
        assert!(matches(&entry, &pcie));
        // An entry for a bridge alone does not name the device behind it... but is its prefix, so it matches it.
        let bridge = qemu::bootorder::parse_path("/pci@i0cf8/pci-bridge@1c");
        assert!(matches(&bridge, &esp(&[(0x1c, 0), (0, 0)])));
        assert!(!matches(&BootEntry::Other("/x".into()), &esp(&[(3, 0)])));
    }

    #[test]
    fn an_empty_file_keeps_the_order() {
        let result = apply(&[2, 0], &paths(), &BootOrderFile::default());
        assert_eq!(
            result,
            QemuOrder {
                order: vec![2, 0],
                listed: vec![]
            }
        );
    }
}

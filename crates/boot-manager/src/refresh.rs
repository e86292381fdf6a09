//! Boot options for the devices present: which `Boot####` variables to create, rewrite or delete on this boot,
//! and the `BootOrder` that results (what edk2's platform boot managers call "refreshing all boot options").
//!
//! The boot manager creates one option per bootable device it finds (every Simple File System, every disk without
//! one, QEMU's `-kernel`). It marks them so they can be told apart from options that operating systems or people
//! created, which it never touches:
//! - device options carry [`AUTO_CREATED`] as their whole `OptionalData` (a GUID, not load options: the boot
//!   manager passes no load options to the image for them);
//! - the `-kernel` option's path is the vendor media node [`KERNEL_LOADER_GUID`] (its `OptionalData` is the
//!   `-append` command line, which is passed).
//!
//! Rules of [`refresh`]: a wanted option whose path equals an existing automatic option's keeps that number
//! (rewritten only if its description or data changed, attributes kept as found); a new one takes the lowest free
//! number and goes to the end of `BootOrder`; automatic options no device wants any more are deleted. `BootOrder`
//! loses numbers without a variable and duplicates, and the `-kernel` option goes first (QEMU boots `-kernel`
//! before any disk, as OVMF does).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::device_path::Node;
use crate::load_option::{ucs2_with_nul, LoadOption};

/// `OptionalData` of options created for devices (GUID 857a4c7c-ddfb-444e-b25b-7d8883310de6, mixed-endian bytes).
pub const AUTO_CREATED: [u8; 16] = [
    0x7c, 0x4c, 0x7a, 0x85, 0xfb, 0xdd, 0x4e, 0x44, 0xb2, 0x5b, 0x7d, 0x88, 0x83, 0x31, 0x0d, 0xe6,
];
/// Vendor media GUID of the device path of QEMU's `-kernel` (0a3960b2-7237-4ee9-8d2c-52d0fa72a3a2): the firmware
/// installs a LoadFile protocol on a handle with the path `VenMedia(KERNEL_LOADER_GUID)`.
pub const KERNEL_LOADER_GUID: [u8; 16] = [
    0xb2, 0x60, 0x39, 0x0a, 0x37, 0x72, 0xe9, 0x4e, 0x8d, 0x2c, 0x52, 0xd0, 0xfa, 0x72, 0xa3, 0xa2,
];
/// Description of the `-kernel` option.
pub const KERNEL_DESCRIPTION: &str = "QEMU -kernel";

/// The device path of the `-kernel` loader (end node not included).
pub fn kernel_loader_path() -> Vec<Node> {
    alloc::vec![Node::VendorMedia {
        guid: KERNEL_LOADER_GUID,
        data: Vec::new(),
    }]
}

/// The `-kernel` boot option, with the `-append` command line as its load options.
pub fn kernel_option(command_line: &str) -> LoadOption {
    LoadOption::new(
        KERNEL_DESCRIPTION,
        &kernel_loader_path(),
        ucs2_with_nul(command_line),
    )
}

/// A boot option for a device found at boot (`path` to the disk or file system).
pub fn device_option(path: &[Node]) -> LoadOption {
    LoadOption::new(&device_description(path), path, AUTO_CREATED.to_vec())
}

/// Whether `path` is the `-kernel` loader's.
pub fn is_kernel_path(path: &[Node]) -> bool {
    matches!(path.first(), Some(Node::VendorMedia { guid, .. }) if *guid == KERNEL_LOADER_GUID)
}

/// Whether the boot manager created `option` (and may rewrite or delete it).
pub fn is_auto_created(option: &LoadOption) -> bool {
    option.optional_data == AUTO_CREATED || option.path().is_ok_and(|p| is_kernel_path(&p))
}

/// The load options the image of `option` gets: its `OptionalData`, except the [`AUTO_CREATED`] marker.
pub fn load_options(option: &LoadOption) -> &[u8] {
    if option.optional_data == AUTO_CREATED {
        &[]
    } else {
        &option.optional_data
    }
}

/// A short description of a device from its path: `UEFI disk PCI 03.0 partition 1`, with one `dd.f` per PCI
/// node from the root down.
pub fn device_description(path: &[Node]) -> String {
    let mut text = String::from("UEFI disk");
    let mut first_pci = true;
    for node in path {
        match node {
            Node::Pci { device, function } => {
                let _ = write!(
                    text,
                    "{}{device:02x}.{function:x}",
                    if first_pci { " PCI " } else { "/" }
                );
                first_pci = false;
            }
            Node::HardDrive(hd) => {
                let _ = write!(text, " partition {}", hd.partition_number);
            }
            _ => {}
        }
    }
    text
}

/// What to change in the variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    /// `Boot####` variables to write (new or changed), by number.
    pub writes: Vec<(u16, LoadOption)>,
    /// `Boot####` variables to delete.
    pub deletes: Vec<u16>,
    /// The new `BootOrder`.
    pub order: Vec<u16>,
}

/// Computes the changes for the options `wanted` now (in enumeration order), given the `Boot####` variables
/// that exist (`existing`, decoded) and the current `BootOrder`. See the module documentation for the rules.
pub fn refresh(
    existing: &BTreeMap<u16, LoadOption>,
    order: &[u16],
    wanted: &[LoadOption],
) -> Refresh {
    let mut result = Refresh::default();
    let mut used: BTreeSet<u16> = existing.keys().copied().collect();
    let mut matched = BTreeSet::new();
    let mut created = Vec::new();
    let mut kernel = None;
    for want in wanted {
        let found = existing.iter().find(|(n, option)| {
            !matched.contains(*n)
                && is_auto_created(option)
                && option.path_bytes() == want.path_bytes()
        });
        let number = match found {
            Some((&number, option)) => {
                matched.insert(number);
                let updated = LoadOption {
                    attributes: option.attributes,
                    ..want.clone()
                };
                if updated != *option {
                    result.writes.push((number, updated));
                }
                number
            }
            None => {
                let Some(number) = (0..=u16::MAX).find(|n| !used.contains(n)) else {
                    log::warn!(target: "boot_manager", "no free Boot#### number for \"{}\"", want.description);
                    continue;
                };
                used.insert(number);
                created.push(number);
                result.writes.push((number, want.clone()));
                number
            }
        };
        if want.path().is_ok_and(|p| is_kernel_path(&p)) {
            kernel = Some(number);
        }
    }
    for (&number, option) in existing {
        if is_auto_created(option) && !matched.contains(&number) {
            result.deletes.push(number);
        }
    }
    let mut seen = BTreeSet::new();
    let alive =
        |n: &u16| (existing.contains_key(n) && !result.deletes.contains(n)) || created.contains(n);
    result.order = order
        .iter()
        .chain(created.iter())
        .copied()
        .filter(|n| alive(n) && seen.insert(*n))
        .collect();
    if let Some(kernel) = kernel {
        result.order.retain(|&n| n != kernel);
        result.order.insert(0, kernel);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_path::HardDrive;
    use alloc::vec;

    fn esp(slot: u8) -> Vec<Node> {
        vec![
            Node::pci_root(0),
            Node::Pci {
                device: slot,
                function: 0,
            },
            Node::HardDrive(HardDrive {
                partition_number: 1,
                start: 2048,
                size: 4096,
                signature: [slot; 16],
                mbr_type: 2,
                signature_type: 2,
            }),
        ]
    }

    fn user_option() -> LoadOption {
        LoadOption::new(
            "Linux Boot Manager",
            &[Node::file_path("\\EFI\\systemd\\systemd-bootx64.efi")],
            vec![],
        )
    }

    #[test]
    fn descriptions_name_the_pci_chain_and_partition() {
        assert_eq!(
            device_description(&esp(3)),
            "UEFI disk PCI 03.0 partition 1"
        );
        let behind_bridge = [
            Node::pci_root(0),
            Node::Pci {
                device: 0x1c,
                function: 2,
            },
            Node::Pci {
                device: 0,
                function: 0,
            },
        ];
        assert_eq!(
            device_description(&behind_bridge),
            "UEFI disk PCI 1c.2/00.0"
        );
    }

    #[test]
    fn a_first_boot_creates_options_in_order_with_the_kernel_first() {
        let wanted = vec![
            device_option(&esp(3)),
            device_option(&esp(4)),
            kernel_option("console=ttyS0"),
        ];
        let r = refresh(&BTreeMap::new(), &[], &wanted);
        assert_eq!(
            r.writes.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(r.order, vec![2, 0, 1]);
        assert!(r.deletes.is_empty());
        assert_eq!(load_options(&r.writes[0].1), &[] as &[u8]);
        assert_eq!(
            load_options(&r.writes[2].1),
            ucs2_with_nul("console=ttyS0").as_slice()
        );
        assert!(r.writes.iter().all(|(_, o)| is_auto_created(o)));
    }

    #[test]
    fn the_same_devices_again_change_nothing() {
        let wanted = vec![device_option(&esp(3)), device_option(&esp(4))];
        let existing: BTreeMap<u16, LoadOption> = wanted
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, o)| (i as u16, o))
            .collect();
        let r = refresh(&existing, &[1, 0], &wanted);
        assert_eq!(
            r,
            Refresh {
                writes: vec![],
                deletes: vec![],
                order: vec![1, 0]
            }
        );
    }

    #[test]
    fn user_options_and_attributes_are_kept_gone_devices_deleted() {
        let mut disabled = device_option(&esp(3));
        disabled.attributes &= !crate::load_option::ACTIVE;
        let existing = BTreeMap::from([
            (0, disabled.clone()),
            (1, device_option(&esp(5))),
            (2, user_option()),
            (7, kernel_option("old")),
        ]);
        let wanted = vec![
            device_option(&esp(3)),
            device_option(&esp(4)),
            kernel_option("new"),
        ];
        let r = refresh(&existing, &[2, 1, 0, 9, 2, 7], &wanted);
        assert_eq!(r.deletes, vec![1]);
        // Boot0000 unchanged (its ACTIVE bit stays cleared), Boot0003 new, Boot0007 rewritten with the new line.
        assert_eq!(r.writes.len(), 2);
        assert_eq!(r.writes[0].0, 3);
        assert_eq!(r.writes[1].0, 7);
        assert_eq!(
            load_options(&r.writes[1].1),
            ucs2_with_nul("new").as_slice()
        );
        assert_eq!(r.order, vec![7, 2, 0, 3]);
    }

    #[test]
    fn numbers_fill_gaps() {
        let existing = BTreeMap::from([(0, user_option()), (2, user_option())]);
        let r = refresh(
            &existing,
            &[0, 2],
            &[device_option(&esp(3)), device_option(&esp(4))],
        );
        assert_eq!(
            r.writes.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(r.order, vec![0, 2, 1, 3]);
    }
}

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::expand::{candidates, resolved, DEFAULT_FILE_X64};
use super::file::{file_name, FilePathError};
use super::*;

fn gpt_partition(number: u32, seed: u8) -> Node {
    Node::HardDrive(HardDrive {
        partition_number: number,
        start: 0x800,
        size: 0x20000,
        signature: [seed; 16],
        mbr_type: 2,
        signature_type: 2,
    })
}

fn disk(slot: u8) -> Vec<Node> {
    vec![
        Node::pci_root(0),
        Node::Pci {
            device: slot,
            function: 0,
        },
    ]
}

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

#[test]
fn encode_and_parse_are_inverse() {
    let nodes = vec![
        Node::pci_root(0),
        Node::Pci {
            device: 0x1c,
            function: 2,
        },
        gpt_partition(1, 0xab),
        Node::VendorMedia {
            guid: [7; 16],
            data: vec![1, 2, 3],
        },
        Node::file_path("\\EFI\\BOOT\\BOOTX64.EFI"),
        Node::Other {
            node_type: TYPE_MESSAGING,
            sub_type: 2,
            data: vec![0, 0, 1, 0],
        },
    ];
    let bytes = encode(&nodes);
    assert_eq!(instance_len(&bytes), Ok(bytes.len()));
    assert_eq!(parse(&bytes).unwrap(), nodes);
    // Known layout of two nodes (UEFI 2.10 tables 10-6 and 10-2).
    let mut pci = Vec::new();
    Node::Pci {
        device: 3,
        function: 1,
    }
    .encode_into(&mut pci);
    assert_eq!(pci, [1, 1, 6, 0, 1, 3]);
    let mut root = Vec::new();
    Node::pci_root(0).encode_into(&mut root);
    assert_eq!(root, [2, 1, 12, 0, 0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0]);
}

#[test]
fn parse_stops_at_the_first_end_node_of_either_kind() {
    let mut bytes = Vec::new();
    Node::pci_root(0).encode_into(&mut bytes);
    bytes.extend_from_slice(&[TYPE_END, SUBTYPE_END_INSTANCE, 4, 0]);
    Node::pci_root(1).encode_into(&mut bytes);
    bytes.extend_from_slice(&[TYPE_END, SUBTYPE_END_ENTIRE, 4, 0]);
    assert_eq!(parse(&bytes).unwrap(), vec![Node::pci_root(0)]);
    assert_eq!(instance_len(&bytes), Ok(16));
}

#[test]
fn malformed_paths_are_errors_not_panics() {
    assert_eq!(parse(&[]), Err(DevicePathError::Truncated { offset: 0 }));
    assert_eq!(
        parse(&[1, 1, 3, 0]),
        Err(DevicePathError::BadLength {
            offset: 0,
            length: 3
        })
    );
    assert_eq!(
        parse(&[1, 1, 8, 0, 0, 0]),
        Err(DevicePathError::BadLength {
            offset: 0,
            length: 8
        })
    );
    assert_eq!(
        parse(&[1, 1, 6, 0, 0, 0]),
        Err(DevicePathError::Truncated { offset: 6 })
    );
    let long: Vec<u8> = core::iter::repeat_n([4u8, 4, 0xff, 0xff], 2)
        .flat_map(|h| {
            let mut node = h.to_vec();
            node.resize(0xffff, 0);
            node
        })
        .collect();
    assert_eq!(parse(&long), Err(DevicePathError::TooLong));
}

#[test]
fn typed_nodes_with_wrong_sizes_stay_other() {
    assert!(matches!(
        Node::decode(TYPE_HARDWARE, SUBTYPE_PCI, &[1]),
        Node::Other { .. }
    ));
    assert!(matches!(
        Node::decode(TYPE_MEDIA, SUBTYPE_HARD_DRIVE, &[0; 37]),
        Node::Other { .. }
    ));
    assert!(matches!(
        Node::decode(TYPE_MEDIA, SUBTYPE_FILE_PATH, b"a"),
        Node::Other { .. }
    ));
    // A file path without its NUL is read anyway; anything after a NUL is dropped.
    assert_eq!(
        Node::decode(TYPE_MEDIA, SUBTYPE_FILE_PATH, &[b'a', 0, 0, 0, b'b', 0]),
        Node::FilePath(units("a"))
    );
}

#[test]
fn text_form_for_logs() {
    let mut path = disk(3);
    path.push(Node::HardDrive(HardDrive {
        partition_number: 1,
        start: 0x800,
        size: 0x1000,
        signature: [
            0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
            0xc9, 0x3b,
        ],
        mbr_type: 2,
        signature_type: 2,
    }));
    path.push(Node::file_path("\\EFI\\BOOT"));
    path.push(Node::file_path("\\BOOTX64.EFI"));
    assert_eq!(
        Text(&path).to_string(),
        "PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,c12a7328-f81f-11d2-ba4b-00a0c93ec93b,0x800,0x1000)/\\EFI\\BOOT\\BOOTX64.EFI"
    );
    let mbr = Node::HardDrive(HardDrive {
        partition_number: 2,
        start: 1,
        size: 2,
        signature: [0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        mbr_type: 1,
        signature_type: 1,
    });
    let other = Node::Other {
        node_type: 3,
        sub_type: 0x17,
        data: vec![0xab],
    };
    assert_eq!(
        Text(&[mbr, other]).to_string(),
        "HD(2,MBR,0x12345678,0x1,0x2)/Path(3,23,AB)"
    );
    assert_eq!(Text(&[]).to_string(), "(end)");
}

#[test]
fn file_names_join_pieces_with_one_separator() {
    let join = |pieces: &[&str]| {
        let nodes: Vec<Node> = pieces.iter().map(|p| Node::file_path(p)).collect();
        file_name(&nodes).map(|u| alloc::string::String::from_utf16(&u).unwrap())
    };
    assert_eq!(
        join(&["\\EFI\\BOOT\\BOOTX64.EFI"]).unwrap(),
        "\\EFI\\BOOT\\BOOTX64.EFI"
    );
    assert_eq!(
        join(&["\\EFI", "BOOT", "BOOTX64.EFI"]).unwrap(),
        "\\EFI\\BOOT\\BOOTX64.EFI"
    );
    assert_eq!(
        join(&["\\EFI\\BOOT\\", "\\BOOTX64.EFI"]).unwrap(),
        "\\EFI\\BOOT\\BOOTX64.EFI"
    );
    assert_eq!(
        join(&["\\EFI\\", "", "BOOT\\", "BOOTX64.EFI"]).unwrap(),
        "\\EFI\\BOOT\\BOOTX64.EFI"
    );
    assert_eq!(join(&["\\", "\\"]), Err(FilePathError::EmptyName));
    assert_eq!(file_name(&[]), Err(FilePathError::NoFileName));
    assert_eq!(
        file_name(&[Node::file_path("a"), Node::pci_root(0)]),
        Err(FilePathError::NotAFilePathNode {
            node_type: TYPE_ACPI,
            sub_type: SUBTYPE_ACPI
        })
    );
}

fn file_systems() -> Vec<Vec<Node>> {
    let mut a = disk(3);
    a.push(gpt_partition(1, 0xaa));
    let mut b = disk(4);
    b.push(gpt_partition(1, 0xbb));
    let mut c = disk(4);
    c.push(gpt_partition(2, 0xcc));
    vec![a, b, c]
}

fn with(mut path: Vec<Node>, extra: &[Node]) -> Vec<Node> {
    path.extend_from_slice(extra);
    path
}

#[test]
fn short_form_hard_drive_paths_expand_to_the_matching_partition() {
    let fs = file_systems();
    let loader = Node::file_path("\\EFI\\systemd\\systemd-bootx64.efi");
    let option = vec![gpt_partition(1, 0xbb), loader.clone()];
    assert_eq!(
        candidates(&option, &fs),
        vec![with(fs[1].clone(), &[loader])]
    );
    // Without a file: the default file on that partition.
    assert_eq!(
        candidates(&[gpt_partition(2, 0xcc)], &fs),
        vec![with(fs[2].clone(), &[Node::file_path(DEFAULT_FILE_X64)])]
    );
    // The same signature with another partition number is another partition.
    assert!(candidates(&[gpt_partition(2, 0xbb)], &fs).is_empty());
    assert_eq!(
        resolved(&[gpt_partition(2, 0xbb)], &fs),
        vec![gpt_partition(2, 0xbb)]
    );
}

#[test]
fn short_form_file_paths_try_every_file_system() {
    let fs = file_systems();
    let file = Node::file_path("\\shell.efi");
    let found = candidates(core::slice::from_ref(&file), &fs);
    assert_eq!(found.len(), 3);
    assert_eq!(found[2], with(fs[2].clone(), &[file]));
}

#[test]
fn device_paths_get_the_default_file_on_each_file_system_below() {
    let fs = file_systems();
    let default = Node::file_path(DEFAULT_FILE_X64);
    assert_eq!(
        candidates(&disk(4), &fs),
        vec![
            with(fs[1].clone(), core::slice::from_ref(&default)),
            with(fs[2].clone(), core::slice::from_ref(&default))
        ]
    );
    // A file system's own path.
    assert_eq!(
        candidates(&fs[0], &fs),
        vec![with(fs[0].clone(), &[default])]
    );
    // Nothing below: the path itself (LoadFile devices, unreadable disks).
    assert_eq!(candidates(&disk(5), &fs), vec![disk(5)]);
    // A PcieRoot path matches the PciRoot paths the firmware installs.
    let pcie = vec![
        Node::Acpi {
            hid: PNP0A08,
            uid: 0,
        },
        Node::Pci {
            device: 3,
            function: 0,
        },
    ];
    assert_eq!(candidates(&pcie, &fs).len(), 1);
}

#[test]
fn full_paths_naming_a_file_are_used_as_they_are() {
    let path = with(disk(9), &[Node::file_path("\\a.efi")]);
    assert_eq!(candidates(&path, &file_systems()), vec![path.clone()]);
}

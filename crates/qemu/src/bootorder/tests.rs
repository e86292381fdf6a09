use alloc::string::ToString;
use alloc::vec;

use super::*;

fn slot(device: u8, function: u8) -> PciSlot {
    PciSlot { device, function }
}

#[test]
fn virtio_blk_on_the_root_bus() {
    assert_eq!(
        parse_path("/pci@i0cf8/scsi@3/disk@0,0"),
        BootEntry::Pci {
            functions: vec![slot(3, 0)],
            rest: "/disk@0,0".to_string()
        }
    );
}

#[test]
fn functions_behind_bridges_in_order() {
    assert_eq!(
        parse_path("/pci@i0cf8/pci-bridge@1c,2/pci-bridge@0/scsi@1f,7/channel@0/disk@2,3"),
        BootEntry::Pci {
            functions: vec![slot(0x1c, 2), slot(0, 0), slot(0x1f, 7)],
            rest: "/channel@0/disk@2,3".to_string()
        }
    );
}

#[test]
fn names_with_commas_and_no_rest() {
    assert_eq!(
        parse_path("/pci@i0cf8/pci8086,2922@1f,2"),
        BootEntry::Pci {
            functions: vec![slot(0x1f, 2)],
            rest: "".to_string()
        }
    );
}

#[test]
fn rom_entries_and_the_kernel_loader() {
    let kernel = parse_path("/rom@genroms/linuxboot_dma.bin");
    assert!(kernel.is_kernel_loader());
    assert!(parse_path("/rom@genroms/linuxboot.bin").is_kernel_loader());
    let other = parse_path("/rom@genroms/pxe-virtio.rom");
    assert_eq!(
        other,
        BootEntry::Rom {
            name: "pxe-virtio.rom".to_string()
        }
    );
    assert!(!other.is_kernel_loader());
}

#[test]
fn malformed_or_foreign_paths_are_other() {
    for path in [
        "pci@i0cf8/scsi@3",
        "/pci@i0cf8",
        "/pci@i0cf8/scsi@20/disk@0",
        "/pci@i0cf8/scsi@3,8",
        "/pci@i0cf8/scsi/disk@0",
        "/pci@i0cf8//scsi@3",
        "/isa/fdc@03f0/floppy@0",
        "/pci@i0cf8,1/scsi@3",
    ] {
        assert_eq!(
            parse_path(path),
            BootEntry::Other(path.to_string()),
            "{path}"
        );
    }
}

#[test]
fn the_file_keeps_order_stops_at_nul_and_notes_halt() {
    let bytes = b"/rom@genroms/linuxboot_dma.bin\n/pci@i0cf8/scsi@4/disk@0,0\n\n/pci@i0cf8/scsi@3/disk@0,0\nHALT\0/pci@i0cf8/scsi@5";
    let file = parse_bootorder(bytes);
    assert!(file.strict);
    assert_eq!(file.entries.len(), 3);
    assert!(file.entries[0].is_kernel_loader());
    assert_eq!(
        file.entries[2],
        BootEntry::Pci {
            functions: vec![slot(3, 0)],
            rest: "/disk@0,0".to_string()
        }
    );
}

#[test]
fn empty_and_binary_files_give_nothing() {
    assert_eq!(parse_bootorder(b""), BootOrderFile::default());
    assert_eq!(parse_bootorder(b"\0"), BootOrderFile::default());
    let file = parse_bootorder(&[0xff, 0xfe, b'\n', b'/', b'x']);
    assert_eq!(file.entries, vec![BootEntry::Other("/x".to_string())]);
}

#[test]
fn entries_are_bounded() {
    let mut text = alloc::string::String::new();
    for _ in 0..MAX_ENTRIES + 10 {
        text.push_str("/pci@i0cf8/scsi@3/disk@0,0\n");
    }
    assert_eq!(parse_bootorder(text.as_bytes()).entries.len(), MAX_ENTRIES);
    let deep: alloc::string::String =
        core::iter::repeat_n("/pci-bridge@1", MAX_COMPONENTS + 1).collect();
    let path = alloc::format!("/pci@i0cf8{deep}");
    assert!(matches!(parse_path(&path), BootEntry::Other(_)));
}

#[test]
fn entries_display_for_logs() {
    let entry = parse_path("/pci@i0cf8/pci-bridge@1c,2/scsi@0/disk@0,0");
    assert_eq!(entry.to_string(), "PCI 1c.2/00.0 /disk@0,0");
    assert_eq!(
        parse_path("/rom@genroms/linuxboot_dma.bin").to_string(),
        "ROM linuxboot_dma.bin"
    );
    assert_eq!(parse_path("/isa/fdc@03f0").to_string(), "/isa/fdc@03f0");
}

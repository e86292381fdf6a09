//! Fixed examples: the bytes each text stands for and the text each node is written as.

use super::{hex, reformat, DISPLAY, PLAIN, SHORT};
use crate::{node_to_text, path_to_text, text_to_node, text_to_path, Node};

/// `text` reads as `bytes` (a path, end node included) and `bytes` is written back as `text` with `opts`.
fn both_ways(text: &str, bytes: &str, opts: crate::TextOptions) {
    let bytes = hex(bytes);
    assert_eq!(text_to_path(text).unwrap(), bytes, "reading {text}");
    assert_eq!(
        path_to_text(&bytes, opts).unwrap(),
        text,
        "writing {bytes:02x?}"
    );
}

#[test]
fn pci_root_and_pci() {
    both_ways(
        "PciRoot(0x0)/Pci(0x1F,0x2)",
        "02010C00 D041030A 00000000  01010600 021F  7FFF0400",
        SHORT,
    );
    assert_eq!(
        reformat("PciRoot(0x0)/Pci(0x1F,0x2)", PLAIN),
        "Acpi(PNP0A03,0x0)/Pci(0x1F,0x2)"
    );
    // Decimal and lower-case hex read too; output is canonical.
    assert_eq!(
        reformat("PciRoot(0)/Pci(31,0x2)", SHORT),
        "PciRoot(0x0)/Pci(0x1F,0x2)"
    );
    assert_eq!(reformat("Acpi(PNP0A08,1)", SHORT), "PcieRoot(0x1)");
    assert_eq!(
        reformat("Acpi(0x1234D678,0)", SHORT),
        "Acpi(0x1234D678,0x0)"
    );
    assert_eq!(reformat("Acpi(QEM0002,0)", SHORT), "Acpi(QEM0002,0x0)");
}

#[test]
fn serial_console_path() {
    let text = "PciRoot(0x0)/Pci(0x1F,0x0)/Serial(0x0)/Uart(115200,8,N,1)/VenUtf8()";
    let bytes = text_to_path(text).unwrap();
    assert_eq!(path_to_text(&bytes, SHORT).unwrap(), text);
    assert_eq!(
        path_to_text(&bytes, PLAIN).unwrap(),
        "Acpi(PNP0A03,0x0)/Pci(0x1F,0x0)/Acpi(PNP0501,0x0)/Uart(115200,8,N,1)/\
         VenMsg(AD15A0D6-8BEC-4ACF-A073-D01DE77E2D88)"
    );
    // Uart: reserved u32, baud u64, data bits, parity 1 (N), stop bits 1.
    assert_eq!(
        text_to_node("Uart(115200,8,N,1)").unwrap(),
        hex("030E1300 00000000 00C2010000000000 08 01 01")
    );
    assert_eq!(
        reformat("Uart(DEFAULT,DEFAULT,D,D)", SHORT),
        "Uart(DEFAULT,DEFAULT,D,D)"
    );
    assert_eq!(reformat("Uart(9600,7,E,1.5)", SHORT), "Uart(9600,7,E,1.5)");
    for terminal in [
        "VenPcAnsi()",
        "VenVt100()",
        "VenVt100Plus()",
        "VenUtf8()",
        "DebugPort()",
    ] {
        assert_eq!(reformat(terminal, SHORT), terminal);
        assert!(reformat(terminal, PLAIN).starts_with("VenMsg("));
    }
    assert_eq!(
        reformat("UartFlowCtrl(Hardware)", SHORT),
        "UartFlowCtrl(Hardware)"
    );
    assert_eq!(
        reformat("UartFlowCtrl(XonXoff)", PLAIN),
        "VenMsg(37499A9D-542F-4C89-A026-35DA142094E4,02000000)"
    );
}

#[test]
fn hard_drive_nodes() {
    both_ways(
        "HD(1,MBR,0xBE1AFDFA,0x3F,0xFBFC1)",
        "04012A00 01000000 3F00000000000000 C1BF0F0000000000 \
         FAFD1ABE000000000000000000000000 01 01  7FFF0400",
        PLAIN,
    );
    both_ways(
        "HD(2,GPT,8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D,0x800,0x100000)",
        "04012A00 02000000 0008000000000000 0000100000000000 \
         268E8F8C6C9D6B4A9D5C3F5A2E1B0C0D 02 02  7FFF0400",
        PLAIN,
    );
    // No signature (type 0): the numeric form.
    assert_eq!(reformat("HD(3,0,0,0x1,0x2)", PLAIN), "HD(3,0,0,0x1,0x2)");
}

#[test]
fn file_paths_and_firmware_volumes() {
    both_ways(
        "\\EFI\\BOOT\\BOOTX64.EFI",
        "04043000 5C004500 46004900 5C004200 4F004F00 54005C00 42004F00 4F005400 \
         58003600 34002E00 45004600 49000000  7FFF0400",
        PLAIN,
    );
    let fv =
        "Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)";
    assert_eq!(reformat(fv, PLAIN), fv);
    assert_eq!(
        text_to_node("Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)").unwrap(),
        hex("04071400 C9BDB87CEBF8344FAAEA3EE4AF6516A1")
    );
    assert_eq!(reformat("Offset(0x0,0x1FF)", PLAIN), "Offset(0x0,0x1FF)");
    assert_eq!(
        reformat("CDROM(0x0,0x10,0x20)", PLAIN),
        "CDROM(0x0,0x10,0x20)"
    );
    let media = "Media(1AE31B7B-2F2F-4E1B-B8E4-0A1B2C3D4E5F)";
    assert_eq!(reformat(media, PLAIN), media);
    let ram = "RamDisk(0x1000,0x1FFF,0x0,77AB535A-45FC-624B-5560-F7B281D1F96E)";
    assert_eq!(reformat(ram, PLAIN), ram);
    // A file name with spaces and balanced parentheses stays readable.
    assert_eq!(
        reformat("\\EFI\\My Loader (x64)\\a.efi", PLAIN),
        "\\EFI\\My Loader (x64)\\a.efi"
    );
}

#[test]
fn storage_nodes() {
    both_ways("Scsi(0x1,0x2)", "03020800 0100 0200  7FFF0400", PLAIN);
    both_ways(
        "Sata(0x0,0xFFFF,0x0)",
        "03120A00 0000 FFFF 0000  7FFF0400",
        PLAIN,
    );
    // The EUI-64 is little-endian in the node and written most significant byte first.
    both_ways(
        "NVMe(0x1,00-11-22-33-44-55-66-77)",
        "03171000 01000000 7766554433221100  7FFF0400",
        PLAIN,
    );
    assert_eq!(
        reformat("Ata(Secondary,Slave,0x1)", PLAIN),
        "Ata(Secondary,Slave,0x1)"
    );
    assert_eq!(reformat("Ata(Secondary,Slave,0x1)", DISPLAY), "Ata(0x1)");
    assert_eq!(
        reformat("USB(0x1,0x0)/Unit(0x2)", PLAIN),
        "USB(0x1,0x0)/Unit(0x2)"
    );
    let class = "UsbClass(0x46F4,0x1,0x8,0x6,0x50)";
    assert_eq!(reformat(class, PLAIN), class);
    assert_eq!(reformat("Fibre(0x1122,0x3)", PLAIN), "Fibre(0x1122,0x3)");
    assert_eq!(reformat("SD(0x0)/eMMC(0x1)", PLAIN), "SD(0x0)/eMMC(0x1)");
}

#[test]
fn network_nodes() {
    both_ways(
        "MAC(525400123456,0x1)",
        "030B2500 525400123456 0000000000000000000000000000000000000000000000000000 01  7FFF0400",
        PLAIN,
    );
    let v4 = "IPv4(192.168.0.1,TCP,Static,10.0.0.2,10.0.0.1,255.255.255.0)";
    assert_eq!(reformat(v4, PLAIN), v4);
    assert_eq!(reformat(v4, DISPLAY), "IPv4(192.168.0.1)");
    assert_eq!(
        reformat("IPv4(1.2.3.4)", PLAIN),
        "IPv4(1.2.3.4,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)"
    );
    let v6 = "IPv6(FE80:0:0:0:5054:FF:FE12:3456,UDP,StatelessAutoConfigure,0:0:0:0:0:0:0:1,64,0:0:0:0:0:0:0:0)";
    assert_eq!(reformat(v6, PLAIN), v6);
    assert_eq!(
        reformat("IPv6(fe80::1,6,Static,::1,64,::)", PLAIN),
        "IPv6(FE80:0:0:0:0:0:0:1,TCP,Static,0:0:0:0:0:0:0:1,64,0:0:0:0:0:0:0:0)"
    );
    assert_eq!(reformat("Vlan(100)", PLAIN), "Vlan(100)");
    assert_eq!(
        reformat("Uri(http://10.0.2.2/boot.efi)", PLAIN),
        "Uri(http://10.0.2.2/boot.efi)"
    );
    // A port has no place in the text: the generic form keeps it.
    let mut node = text_to_node(v4).unwrap();
    node[12] = 80;
    let text = node_to_text(&Node::parse(&node).unwrap(), PLAIN);
    assert!(text.starts_with("Msg(12,"), "{text}");
    assert_eq!(text_to_node(&text).unwrap(), node);
}

#[test]
fn hardware_and_vendor_nodes() {
    let guid = "8C8F8E26-9D6C-4A6B-9D5C-3F5A2E1B0C0D";
    let ven = alloc::format!("VenHw({guid},0102AB)/Ctrl(0x0)/VenMedia({guid})/VenMsg({guid},00)");
    assert_eq!(reformat(&ven, SHORT), ven);
    assert_eq!(
        reformat("MemoryMapped(0xB,0x1000,0x1FFF)", PLAIN),
        "MemoryMapped(0xB,0x1000,0x1FFF)"
    );
    assert_eq!(
        reformat("PcCard(0x1)/BMC(0x1,0xCA2)", PLAIN),
        "PcCard(0x1)/BMC(0x1,0xCA2)"
    );
}

#[test]
fn acpi_expanded_nodes() {
    let ex = "AcpiEx(PNP0A03,PNP0A08,0x1,HID1,CID1,UID1)";
    assert_eq!(reformat(ex, PLAIN), ex);
    assert_eq!(reformat(ex, DISPLAY), "PcieRoot(UID1)");
    assert_eq!(
        reformat("AcpiExp(PNP0A03,0,UID7)", PLAIN),
        "AcpiExp(PNP0A03,0,UID7)"
    );
    assert_eq!(
        reformat("AcpiAdr(0x80010100,0x80010200)", PLAIN),
        "AcpiAdr(0x80010100,0x80010200)"
    );
    // AcpiExp is HIDSTR and CIDSTR empty, UIDSTR set: HID, UID 0, CID, "", "UID7", "".
    assert_eq!(
        text_to_node("AcpiExp(PNP0A03,0,UID7)").unwrap(),
        hex("02021700 D041030A 00000000 00000000 00 55494437 00 00")
    );
}

#[test]
fn generic_forms_and_instances() {
    assert_eq!(reformat("Msg(99,0102)", PLAIN), "Msg(99,0102)");
    assert_eq!(
        reformat("Path(9,1,AA)/HardwarePath(77)", PLAIN),
        "Path(9,1,AA)/HardwarePath(77)"
    );
    assert_eq!(reformat("BbsPath(1,0300)", PLAIN), "BbsPath(1,0300)");
    // A Pci node of the wrong length has no keyword form.
    assert_eq!(
        reformat("HardwarePath(1,000102)", PLAIN),
        "HardwarePath(1,000102)"
    );
    let multi = "PciRoot(0x0)/Pci(0x1,0x0),PciRoot(0x0)/Pci(0x2,0x0)";
    let bytes = text_to_path(multi).unwrap();
    assert_eq!(path_to_text(&bytes, SHORT).unwrap(), multi);
    assert_eq!(bytes[12 + 6..12 + 6 + 4], [0x7f, 0x01, 4, 0]);
    assert_eq!(text_to_path("").unwrap(), [0x7f, 0xff, 4, 0]);
    assert_eq!(path_to_text(&[0x7f, 0xff, 4, 0], PLAIN).unwrap(), "");
    assert_eq!(reformat(",", PLAIN), ",");
    assert_eq!(text_to_node("Path(127,1)").unwrap(), [0x7f, 1, 4, 0]);
    assert_eq!(
        node_to_text(&Node::parse(&[0x7f, 1, 4, 0]).unwrap(), PLAIN),
        ","
    );
}

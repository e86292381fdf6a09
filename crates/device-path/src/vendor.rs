//! Vendor-defined nodes of the hardware, messaging and media types (UEFI 2.10 sections 10.3.2.4, 10.3.4.18,
//! 10.3.5.3): a GUID then vendor data, written `VenHw(Guid[,Data])`, `VenMsg(...)`, `VenMedia(...)` with the
//! data as hex. Messaging vendor nodes with the GUIDs the specification names have shortcut keywords: terminal
//! types `VenPcAnsi()`, `VenVt100()`, `VenVt100Plus()`, `VenUtf8()`, and `UartFlowCtrl(None|Hardware|XonXoff)`,
//! `DebugPort()` (section 10.6.1.4).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::node::{kind, Node, NodeBuilder};
use crate::text::{name_of, push_hex, Args};
use crate::{Error, Guid, TextOptions};

/// Terminal type PC-ANSI (`EFI_PC_ANSI_GUID`).
pub const PC_ANSI: Guid = Guid::from_fields(
    0xe0c1_4753,
    0xf9be,
    0x11d2,
    [0x9a, 0x0c, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d],
);
/// Terminal type VT-100 (`EFI_VT_100_GUID`).
pub const VT100: Guid = Guid::from_fields(
    0xdfa6_6065,
    0xb419,
    0x11d3,
    [0x9a, 0x2d, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d],
);
/// Terminal type VT-100+ (`EFI_VT_100_PLUS_GUID`).
pub const VT100_PLUS: Guid = Guid::from_fields(
    0x7bae_c70b,
    0x57e0,
    0x4c76,
    [0x8e, 0x87, 0x2f, 0x9e, 0x28, 0x08, 0x83, 0x43],
);
/// Terminal type VT-UTF8 (`EFI_VT_UTF8_GUID`).
pub const VT_UTF8: Guid = Guid::from_fields(
    0xad15_a0d6,
    0x8bec,
    0x4acf,
    [0xa0, 0x73, 0xd0, 0x1d, 0xe7, 0x7e, 0x2d, 0x88],
);
/// UART flow control node (`DEVICE_PATH_MESSAGING_UART_FLOW_CONTROL`), data: a `u32` flow control map.
pub const UART_FLOW_CONTROL: Guid = Guid::from_fields(
    0x3749_9a9d,
    0x542f,
    0x4c89,
    [0xa0, 0x26, 0x35, 0xda, 0x14, 0x20, 0x94, 0xe4],
);
/// Debug port (`EFI_DEBUGPORT_PROTOCOL_GUID` as a device path node).
pub const DEBUG_PORT: Guid = Guid::from_fields(
    0xeba4_e8d2,
    0x3858,
    0x41ec,
    [0xa2, 0x81, 0x26, 0x47, 0xba, 0x96, 0x60, 0xd0],
);

/// Data-less messaging vendor nodes with a shortcut keyword.
const MESSAGING_SHORTCUTS: [(&str, Guid); 5] = [
    ("VenPcAnsi", PC_ANSI),
    ("VenVt100", VT100),
    ("VenVt100Plus", VT100_PLUS),
    ("VenUtf8", VT_UTF8),
    ("DebugPort", DEBUG_PORT),
];
/// `UartFlowCtrl` names of the flow control map values.
const FLOW_CONTROL: [(&str, u32); 3] = [("None", 0), ("Hardware", 1), ("XonXoff", 2)];

/// Writes a vendor node as `name(Guid[,Data])`, or its messaging shortcut; false when the node is shorter than a
/// GUID.
pub fn to_text(name: &str, node: &Node, opts: TextOptions, out: &mut String) -> bool {
    let Some((guid, data)) = node.data.split_first_chunk::<16>() else {
        return false;
    };
    let guid = Guid(*guid);
    if node.kind == kind::MESSAGING && opts.allow_shortcuts {
        if let Some(&(shortcut, _)) = MESSAGING_SHORTCUTS.iter().find(|(_, g)| *g == guid) {
            if data.is_empty() {
                let _ = write!(out, "{shortcut}()");
                return true;
            }
        }
        if guid == UART_FLOW_CONTROL {
            let map = <[u8; 4]>::try_from(data).map(u32::from_le_bytes);
            if let Some(flow) = map.ok().and_then(|m| name_of(&FLOW_CONTROL, m)) {
                let _ = write!(out, "UartFlowCtrl({flow})");
                return true;
            }
        }
    }
    let _ = write!(out, "{name}({guid}");
    if !data.is_empty() {
        out.push(',');
        push_hex(out, data);
    }
    out.push(')');
    true
}

/// Builds a vendor node of `node_kind`/`sub_type` from `Guid[,Data]`.
pub fn from_text(
    keyword: &'static str,
    node_kind: u8,
    sub_type: u8,
    inner: &str,
) -> Result<Vec<u8>, Error> {
    let a = Args::new(keyword, inner);
    a.expect(1, 2)?;
    NodeBuilder::new(node_kind, sub_type)
        .raw(&a.guid(0)?.0)
        .raw(&a.hex(1)?)
        .finish()
}

/// Builds the messaging vendor node of a shortcut keyword; `None` when `keyword` is not one.
pub fn messaging_shortcut(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let node = || NodeBuilder::new(kind::MESSAGING, crate::messaging::VENDOR);
    if let Some(&(name, guid)) = MESSAGING_SHORTCUTS.iter().find(|(n, _)| *n == keyword) {
        let a = Args::new(name, inner);
        return Some(a.expect(0, 0).and_then(|()| node().raw(&guid.0).finish()));
    }
    if keyword == "UartFlowCtrl" {
        let a = Args::new("UartFlowCtrl", inner);
        return Some((|| {
            a.expect(1, 1)?;
            let map = FLOW_CONTROL
                .iter()
                .find(|(n, _)| *n == a.str(0))
                .map(|&(_, v)| v)
                .ok_or_else(|| a.bad(0))?;
            node().raw(&UART_FLOW_CONTROL.0).u32(map).finish()
        })());
    }
    None
}

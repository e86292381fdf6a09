//! ACPI device path nodes (type 2, UEFI 2.10 section 10.3.3) and their text (section 10.6.1.3):
//! `Acpi(HID,UID)` with the shortcuts `PciRoot`, `PcieRoot`, `Floppy`, `Keyboard`, `Serial`, `ParallelPort`;
//! `AcpiEx(HID,CID,UID,HIDSTR,CIDSTR,UIDSTR)` and `AcpiExp(HID,CID,UIDSTR)`; `AcpiAdr(ADR[,ADR...])`.
//!
//! HIDs and CIDs are EISA IDs when they compress three letters (`PNP0A03` is `0x0A0341D0`: letters in bits 0-14,
//! the product number in bits 16-31) and are written that way; other values are written as numbers.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::node::{kind, Fields, Node, NodeBuilder};
use crate::text::{is_plain_arg, name_of, Args};
use crate::{Error, TextOptions};

/// Subtype: ACPI (`_HID`, `_UID`).
pub const ACPI: u8 = 1;
/// Subtype: expanded ACPI (`_HID`, `_UID`, `_CID` and their strings).
pub const EXPANDED: u8 = 2;
/// Subtype: `_ADR`.
pub const ADR: u8 = 3;

/// `PNP0A03`: PCI host bridge.
pub const PNP0A03: u32 = eisa(0x0a03);
/// `PNP0A08`: PCI Express host bridge.
pub const PNP0A08: u32 = eisa(0x0a08);

/// The EISA ID `PNPxxxx` of product number `product`.
pub const fn eisa(product: u16) -> u32 {
    ((product as u32) << 16) | 0x41d0
}

/// HIDs with a shortcut keyword.
const SHORTCUTS: [(&str, u32); 6] = [
    ("PciRoot", PNP0A03),
    ("PcieRoot", PNP0A08),
    ("Floppy", eisa(0x0604)),
    ("Keyboard", eisa(0x0301)),
    ("Serial", eisa(0x0501)),
    ("ParallelPort", eisa(0x0401)),
];

/// Writes an EISA ID as `AAA####` when it is one, else as a number.
fn push_id(out: &mut String, id: u32) {
    let letter = |shift: u32| (id >> shift) & 0x1f;
    let letters = [letter(10), letter(5), letter(0)];
    if id & 0x8000 == 0 && letters.iter().all(|l| (1..=26).contains(l)) {
        for l in letters {
            out.push(char::from(b'A' - 1 + l as u8));
        }
        let _ = write!(out, "{:04X}", id >> 16);
    } else {
        let _ = write!(out, "0x{id:X}");
    }
}

/// Reads `AAA####` (three upper-case letters, four hex digits) or a number.
fn parse_id(a: &Args, index: usize) -> Result<u32, Error> {
    let text = a.str(index).as_bytes();
    if text.len() == 7 && text[..3].iter().all(u8::is_ascii_uppercase) {
        let product = core::str::from_utf8(&text[3..])
            .ok()
            .filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|p| u16::from_str_radix(p, 16).ok())
            .ok_or_else(|| a.bad(index))?;
        let l = |i: usize| u32::from(text[i] - b'A' + 1);
        return Ok((u32::from(product) << 16) | (l(0) << 10) | (l(1) << 5) | l(2));
    }
    a.num(index)
}

/// The three strings of an expanded ACPI node: HIDSTR, UIDSTR, CIDSTR, each NUL-terminated, filling the rest.
fn strings(rest: &[u8]) -> Option<[&str; 3]> {
    let mut parts = rest.split(|&b| b == 0);
    let mut take = || {
        core::str::from_utf8(parts.next()?)
            .ok()
            .filter(|s| is_plain_arg(s))
    };
    let found = [take()?, take()?, take()?];
    // Exactly three terminators: what follows the third NUL must be nothing.
    (rest.last() == Some(&0) && rest.iter().filter(|&&b| b == 0).count() == 3).then_some(found)
}

/// Writes the keyword form of an ACPI node; false when it has none that carries every byte.
pub fn to_text(node: &Node, opts: TextOptions, out: &mut String) -> bool {
    let mut f = Fields::new(node.data);
    match node.sub_type {
        ACPI if node.data.len() == 8 => {
            let (Some(hid), Some(uid)) = (f.u32(), f.u32()) else {
                return false;
            };
            match name_of(&SHORTCUTS, hid).filter(|_| opts.allow_shortcuts) {
                Some(name) => {
                    let _ = write!(out, "{name}(0x{uid:X})");
                }
                None => {
                    out.push_str("Acpi(");
                    push_id(out, hid);
                    let _ = write!(out, ",0x{uid:X})");
                }
            }
            true
        }
        EXPANDED => {
            let (Some(hid), Some(uid), Some(cid)) = (f.u32(), f.u32(), f.u32()) else {
                return false;
            };
            let Some([hid_str, uid_str, cid_str]) = strings(f.rest()) else {
                return false;
            };
            if opts.display_only {
                expanded_display(out, opts, [hid, uid, cid], [hid_str, uid_str, cid_str]);
            } else if hid_str.is_empty() && cid_str.is_empty() && !uid_str.is_empty() && uid == 0 {
                out.push_str("AcpiExp(");
                push_id(out, hid);
                out.push(',');
                push_cid(out, cid);
                let _ = write!(out, ",{uid_str})");
            } else {
                out.push_str("AcpiEx(");
                push_id(out, hid);
                out.push(',');
                push_cid(out, cid);
                let _ = write!(out, ",0x{uid:X},{hid_str},{cid_str},{uid_str})");
            }
            true
        }
        ADR if !node.data.is_empty() && node.data.len() % 4 == 0 => {
            out.push_str("AcpiAdr(");
            for (i, adr) in node.data.chunks_exact(4).enumerate() {
                let adr = u32::from_le_bytes([adr[0], adr[1], adr[2], adr[3]]);
                let _ = write!(out, "{}0x{adr:X}", if i == 0 { "" } else { "," });
            }
            out.push(')');
            true
        }
        _ => false,
    }
}

fn push_cid(out: &mut String, cid: u32) {
    if cid == 0 {
        out.push('0');
    } else {
        push_id(out, cid);
    }
}

/// The display form of an expanded node: strings where present, `PciRoot`/`PcieRoot` when allowed.
fn expanded_display(out: &mut String, opts: TextOptions, [hid, uid, cid]: [u32; 3], s: [&str; 3]) {
    let [hid_str, uid_str, cid_str] = s;
    let root = if hid == PNP0A08 || cid == PNP0A08 {
        Some("PcieRoot")
    } else if hid == PNP0A03 || cid == PNP0A03 {
        Some("PciRoot")
    } else {
        None
    };
    let push_uid = |out: &mut String| {
        if uid_str.is_empty() {
            let _ = write!(out, "0x{uid:X}");
        } else {
            out.push_str(uid_str);
        }
    };
    if let Some(root) = root.filter(|_| opts.allow_shortcuts) {
        let _ = write!(out, "{root}(");
        push_uid(out);
        out.push(')');
        return;
    }
    out.push_str("AcpiEx(");
    if hid_str.is_empty() {
        push_id(out, hid);
    } else {
        out.push_str(hid_str);
    }
    out.push(',');
    if cid_str.is_empty() {
        push_cid(out, cid);
    } else {
        out.push_str(cid_str);
    }
    out.push(',');
    push_uid(out);
    out.push(')');
}

fn expanded_node(ids: [u32; 3], [hid_str, uid_str, cid_str]: [&str; 3]) -> Result<Vec<u8>, Error> {
    let [hid, uid, cid] = ids;
    NodeBuilder::new(kind::ACPI, EXPANDED)
        .u32(hid)
        .u32(uid)
        .u32(cid)
        .raw(hid_str.as_bytes())
        .u8(0)
        .raw(uid_str.as_bytes())
        .u8(0)
        .raw(cid_str.as_bytes())
        .u8(0)
        .finish()
}

/// Builds the ACPI node for `keyword(inner)`; `None` when the keyword is not an ACPI one.
pub fn from_text(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let acpi = |hid: u32, uid: u32| {
        NodeBuilder::new(kind::ACPI, ACPI)
            .u32(hid)
            .u32(uid)
            .finish()
    };
    if let Some(&(name, hid)) = SHORTCUTS.iter().find(|(n, _)| *n == keyword) {
        let a = Args::new(name, inner);
        return Some((|| {
            a.expect(1, 1)?;
            match a.num::<u32>(0) {
                Ok(uid) => acpi(hid, uid),
                // `PciRoot(UIDSTR)`: the display form of an expanded node with a UID string.
                Err(_) if is_plain_arg(a.str(0)) && !a.str(0).is_empty() => {
                    expanded_node([hid, 0, 0], ["", a.str(0), ""])
                }
                Err(e) => Err(e),
            }
        })());
    }
    Some(match keyword {
        "Acpi" => (|| {
            let a = Args::new("Acpi", inner);
            a.expect(2, 2)?;
            acpi(parse_id(&a, 0)?, a.num(1)?)
        })(),
        "AcpiEx" => (|| {
            let a = Args::new("AcpiEx", inner);
            a.expect(6, 6)?;
            let ids = [parse_id(&a, 0)?, a.num(2)?, parse_id(&a, 1)?];
            let s = [a.str(3), a.str(5), a.str(4)];
            for (i, text) in [(3, s[0]), (5, s[1]), (4, s[2])] {
                if !is_plain_arg(text) {
                    return Err(a.bad(i));
                }
            }
            expanded_node(ids, s)
        })(),
        "AcpiExp" => (|| {
            let a = Args::new("AcpiExp", inner);
            a.expect(3, 3)?;
            let uid_str = a.str(2);
            if !is_plain_arg(uid_str) {
                return Err(a.bad(2));
            }
            expanded_node([parse_id(&a, 0)?, 0, parse_id(&a, 1)?], ["", uid_str, ""])
        })(),
        "AcpiAdr" => (|| {
            let a = Args::new("AcpiAdr", inner);
            a.expect(1, 16_000)?;
            let mut node = NodeBuilder::new(kind::ACPI, ADR);
            for i in 0..a.len() {
                node = node.u32(a.num(i)?);
            }
            node.finish()
        })(),
        _ => return None,
    })
}

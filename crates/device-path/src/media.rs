//! Media device path nodes (type 4, UEFI 2.10 section 10.3.5) and their text (section 10.6.1.5):
//! `HD(Partition,MBR|GPT|Type,Signature,Start,Size)`, `CDROM(Entry,Start,Size)`, `VenMedia(Guid[,Data])`, the
//! file path itself (`\EFI\BOOT\BOOTX64.EFI`), `Media(Guid)`, `FvFile(Guid)`, `Fv(Guid)`, `Offset(Start,End)`,
//! `RamDisk(Start,End,Instance,TypeGuid)`.
//!
//! A file-path node is written verbatim when that reads back as the same node: its name must not contain `/` or
//! `,` (the separators of path text), must balance its parentheses and must not begin like `Keyword(`;
//! otherwise the generic `MediaPath(4,hex)` form is used.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::node::{kind, Fields, Node, NodeBuilder};
use crate::text::Args;
use crate::{vendor, Error, Guid, TextOptions};

/// Subtype: hard drive partition.
pub const HARD_DRIVE: u8 = 1;
/// Subtype: CD-ROM (El Torito) boot entry.
pub const CDROM: u8 = 2;
/// Subtype: vendor.
pub const VENDOR: u8 = 3;
/// Subtype: file path.
pub const FILE_PATH: u8 = 4;
/// Subtype: media protocol.
pub const MEDIA_PROTOCOL: u8 = 5;
/// Subtype: PI firmware file.
pub const FIRMWARE_FILE: u8 = 6;
/// Subtype: PI firmware volume.
pub const FIRMWARE_VOLUME: u8 = 7;
/// Subtype: relative offset range.
pub const OFFSET: u8 = 8;
/// Subtype: RAM disk.
pub const RAM_DISK: u8 = 9;

/// `HD()` partition format (`MBRType`) values.
const FORMAT_MBR: u8 = 1;
const FORMAT_GPT: u8 = 2;
/// `HD()` signature type values.
const SIGNATURE_MBR: u8 = 1;
const SIGNATURE_GUID: u8 = 2;

/// True when `text` begins with a keyword and `(`, so path text would read it as a keyword node.
pub fn looks_like_keyword(text: &str) -> bool {
    let name_len = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    name_len > 0 && text.as_bytes().get(name_len) == Some(&b'(')
}

/// True when a file name reads back verbatim from path text (see the module notes).
fn is_file_path_text(name: &str) -> bool {
    let mut depth = 0i32;
    for c in name.chars() {
        match c {
            '/' | ',' | '\0' => return false,
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    !name.is_empty() && depth == 0 && !looks_like_keyword(name)
}

/// The file name of a file-path node: UCS-2 code units closed by one NUL, valid UTF-16.
fn file_name(data: &[u8]) -> Option<String> {
    if data.len() < 2 || data.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]))
        .collect();
    let (&last, name) = units.split_last()?;
    if last != 0 {
        return None;
    }
    char::decode_utf16(name.iter().copied())
        .collect::<Result<String, _>>()
        .ok()
}

/// Writes the keyword form of a media node; false when it has none that carries every byte.
pub fn to_text(node: &Node, opts: TextOptions, out: &mut String) -> bool {
    let mut f = Fields::new(node.data);
    let exact = |len: usize| node.data.len() == len;
    match node.sub_type {
        HARD_DRIVE if exact(38) => return hard_drive(&mut f, out),
        CDROM if exact(20) => {
            let (Some(entry), Some(start), Some(size)) = (f.u32(), f.u64(), f.u64()) else {
                return false;
            };
            let _ = write!(out, "CDROM(0x{entry:X},0x{start:X},0x{size:X})");
        }
        VENDOR => return vendor::to_text("VenMedia", node, opts, out),
        FILE_PATH => match file_name(node.data).filter(|n| is_file_path_text(n)) {
            Some(name) => out.push_str(&name),
            None => return false,
        },
        MEDIA_PROTOCOL | FIRMWARE_FILE | FIRMWARE_VOLUME if exact(16) => {
            let name = match node.sub_type {
                MEDIA_PROTOCOL => "Media",
                FIRMWARE_FILE => "FvFile",
                _ => "Fv",
            };
            let Some(guid) = f.array() else { return false };
            let _ = write!(out, "{name}({})", Guid(guid));
        }
        OFFSET if exact(20) => {
            let (Some(0), Some(start), Some(end)) = (f.u32(), f.u64(), f.u64()) else {
                return false;
            };
            let _ = write!(out, "Offset(0x{start:X},0x{end:X})");
        }
        RAM_DISK if exact(34) => {
            let (Some(start), Some(end), Some(guid), Some(instance)) =
                (f.u64(), f.u64(), f.array(), f.u16())
            else {
                return false;
            };
            let _ = write!(
                out,
                "RamDisk(0x{start:X},0x{end:X},0x{instance:X},{})",
                Guid(guid)
            );
        }
        _ => return false,
    }
    true
}

fn hard_drive(f: &mut Fields, out: &mut String) -> bool {
    let (Some(partition), Some(start), Some(size), Some(signature)) =
        (f.u32(), f.u64(), f.u64(), f.array::<16>())
    else {
        return false;
    };
    let (Some(format), Some(signature_type)) = (f.u8(), f.u8()) else {
        return false;
    };
    let _ = write!(out, "HD({partition},");
    match (format, signature_type) {
        (FORMAT_MBR, SIGNATURE_MBR) if signature[4..].iter().all(|&b| b == 0) => {
            let mbr = u32::from_le_bytes([signature[0], signature[1], signature[2], signature[3]]);
            let _ = write!(out, "MBR,0x{mbr:08X}");
        }
        (FORMAT_GPT, SIGNATURE_GUID) => {
            let _ = write!(out, "GPT,{}", Guid(signature));
        }
        (0, t) if t != SIGNATURE_MBR && t != SIGNATURE_GUID && signature == [0; 16] => {
            let _ = write!(out, "{t},0");
        }
        _ => return false,
    }
    let _ = write!(out, ",0x{start:X},0x{size:X})");
    true
}

fn hard_drive_from_text(inner: &str) -> Result<Vec<u8>, Error> {
    let a = Args::new("HD", inner);
    a.expect(5, 5)?;
    let mut signature = [0u8; 16];
    let (format, signature_type) = match a.str(1) {
        "MBR" => {
            signature[..4].copy_from_slice(&a.num::<u32>(2)?.to_le_bytes());
            (FORMAT_MBR, SIGNATURE_MBR)
        }
        "GPT" => {
            signature = a.guid(2)?.0;
            (FORMAT_GPT, SIGNATURE_GUID)
        }
        _ => {
            signature[..4].copy_from_slice(&a.num::<u32>(2)?.to_le_bytes());
            (0, a.num(1)?)
        }
    };
    NodeBuilder::new(kind::MEDIA, HARD_DRIVE)
        .u32(a.num(0)?)
        .u64(a.num(3)?)
        .u64(a.num(4)?)
        .raw(&signature)
        .u8(format)
        .u8(signature_type)
        .finish()
}

/// Builds the file-path node for a node text that is not a keyword form.
pub fn file_path(text: &str) -> Result<Vec<u8>, Error> {
    let mut node = NodeBuilder::new(kind::MEDIA, FILE_PATH);
    for unit in text.encode_utf16().chain(core::iter::once(0)) {
        node = node.u16(unit);
    }
    node.finish()
}

/// Builds the media node for `keyword(inner)`; `None` when the keyword is not a media one.
pub fn from_text(keyword: &str, inner: &str) -> Option<Result<Vec<u8>, Error>> {
    let node = |sub| NodeBuilder::new(kind::MEDIA, sub);
    let guid_node = |name: &'static str, sub: u8| {
        let a = Args::new(name, inner);
        a.expect(1, 1)?;
        node(sub).raw(&a.guid(0)?.0).finish()
    };
    Some(match keyword {
        "HD" => hard_drive_from_text(inner),
        "CDROM" => (|| {
            let a = Args::new("CDROM", inner);
            a.expect(3, 3)?;
            node(CDROM)
                .u32(a.num(0)?)
                .u64(a.num(1)?)
                .u64(a.num(2)?)
                .finish()
        })(),
        "VenMedia" => vendor::from_text("VenMedia", kind::MEDIA, VENDOR, inner),
        "Media" => guid_node("Media", MEDIA_PROTOCOL),
        "FvFile" => guid_node("FvFile", FIRMWARE_FILE),
        "Fv" => guid_node("Fv", FIRMWARE_VOLUME),
        "Offset" => (|| {
            let a = Args::new("Offset", inner);
            a.expect(2, 2)?;
            node(OFFSET).u32(0).u64(a.num(0)?).u64(a.num(1)?).finish()
        })(),
        "RamDisk" => (|| {
            let a = Args::new("RamDisk", inner);
            a.expect(4, 4)?;
            node(RAM_DISK)
                .u64(a.num(0)?)
                .u64(a.num(1)?)
                .raw(&a.guid(3)?.0)
                .u16(a.num(2)?)
                .finish()
        })(),
        _ => return None,
    })
}

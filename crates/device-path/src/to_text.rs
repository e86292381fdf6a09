//! Binary to text (UEFI 2.10 section 10.6.3, `ConvertDeviceNodeToText` / `ConvertDevicePathToText`).

use alloc::string::String;
use core::fmt::Write;

use crate::node::{kind, Node, Nodes};
use crate::text::push_hex;
use crate::{acpi, hardware, media, messaging, Error, TextOptions};

/// The text of one node: its keyword form, `,` for an end-of-instance node, or the generic form of its type
/// when no keyword form carries it (see the crate notes). Never fails: every node has a generic form.
pub fn node_to_text(node: &Node, opts: TextOptions) -> String {
    let mut out = String::new();
    write_node(node, opts, &mut out);
    out
}

fn write_node(node: &Node, opts: TextOptions, out: &mut String) {
    let start = out.len();
    let written = match node.kind {
        kind::HARDWARE => hardware::to_text(node, opts, out),
        kind::ACPI => acpi::to_text(node, opts, out),
        kind::MESSAGING => messaging::to_text(node, opts, out),
        kind::MEDIA => media::to_text(node, opts, out),
        _ if node.is_end_of_instance() => {
            out.push(',');
            true
        }
        _ => false,
    };
    if !written {
        out.truncate(start);
        generic(node, out);
    }
}

/// `HardwarePath(Sub[,Hex])`, `AcpiPath`, `Msg`, `MediaPath`, `BbsPath`, or `Path(Type,Sub[,Hex])`.
fn generic(node: &Node, out: &mut String) {
    let name = match node.kind {
        kind::HARDWARE => "HardwarePath",
        kind::ACPI => "AcpiPath",
        kind::MESSAGING => "Msg",
        kind::MEDIA => "MediaPath",
        kind::BBS => "BbsPath",
        other => {
            let _ = write!(out, "Path({other},{}", node.sub_type);
            finish_generic(node, out);
            return;
        }
    };
    let _ = write!(out, "{name}({}", node.sub_type);
    finish_generic(node, out);
}

fn finish_generic(node: &Node, out: &mut String) {
    if !node.data.is_empty() {
        out.push(',');
        push_hex(out, node.data);
    }
    out.push(')');
}

/// The text of the path in `bytes`: node texts joined by `/`, instances by `,`; `""` for an empty path.
///
/// Errors: a malformed path (see [`crate::path_size`]).
pub fn path_to_text(bytes: &[u8], opts: TextOptions) -> Result<String, Error> {
    crate::path_size(bytes)?;
    let mut out = String::new();
    let mut first_of_instance = true;
    for node in Nodes::new(bytes) {
        let node = node?;
        if node.is_end_of_instance() {
            out.push(',');
            first_of_instance = true;
            continue;
        }
        if !first_of_instance {
            out.push('/');
        }
        first_of_instance = false;
        write_node(&node, opts, &mut out);
    }
    Ok(out)
}

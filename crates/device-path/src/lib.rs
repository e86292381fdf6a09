//! UEFI device paths (UEFI 2.10 chapter 10): parsing binary nodes with bounds checks, conversion to and from the
//! text form of section 10.6, and the path operations of the Device Path Utilities protocol (section 10.5).
//!
//! The firmware's `EFI_DEVICE_PATH_TO_TEXT_PROTOCOL`, `EFI_DEVICE_PATH_FROM_TEXT_PROTOCOL` and
//! `EFI_DEVICE_PATH_UTILITIES_PROTOCOL` are thin ABI shells over this crate: they copy the caller's bytes or
//! string in, call a function here and copy the result out into pool memory.
//!
//! # Shapes
//! - A **node** is `Type: u8, SubType: u8, Length: u16 (little endian, header included), data` ([`Node`]).
//! - A **path** is a sequence of nodes closed by the end-of-entire-path node `7F FF 04 00`; an end-of-instance node
//!   `7F 01 04 00` separates the instances of a multi-instance path. Functions taking a path take its bytes and
//!   read up to the first end-of-entire-path node; bytes after it are ignored.
//! - The **text** of a path joins node texts with `/` and instances with `,`; a node's text is `Keyword(arg,...)`
//!   or, for a file-path node, the path name itself (`\EFI\BOOT\BOOTX64.EFI`).
//!
//! # Text rules
//! - Numbers are written as `0x` + upper-case hex unless the specification's table says decimal (partition
//!   numbers, UART settings, VLAN ids, IPv6 prefix lengths, generic types and subtypes); GUIDs as
//!   `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`; IP addresses in dotted decimal (IPv4) or eight hex groups (IPv6).
//!   Reading accepts `0x`/`0X` hex or decimal for every number and either case for hex digits; keywords are
//!   case-sensitive, as in the specification.
//! - Text written with `display_only == false` is **lossless**: reading it back yields the same bytes. A node whose
//!   fields its keyword form cannot carry (reserved bytes set, an unexpected length, a port in an `IPv4` node, a
//!   file name containing `/`) is written in the generic form of its type instead: `HardwarePath(subtype,hex)`,
//!   `AcpiPath`, `Msg`, `MediaPath`, `BbsPath`, or `Path(type,subtype,hex)` for other types.
//! - `display_only == true` allows the shorter forms the specification marks for display (`Ata(lun)`,
//!   `IPv4(remote)`, ...), which may not read back.
//! - `allow_shortcuts == true` allows the shortcut keywords that name one value of a more general node:
//!   `PciRoot`, `PcieRoot`, `Floppy`, `Keyboard`, `Serial`, `ParallelPort` (ACPI HIDs) and `VenPcAnsi`, `VenVt100`,
//!   `VenVt100Plus`, `VenUtf8`, `UartFlowCtrl`, `DebugPort` (messaging vendor GUIDs). Without it the general
//!   keyword is written (`Acpi(PNP0A03,0x0)`, `VenMsg(E0C14753-...)`). Reading accepts both.
//!
//! # Invariants
//! - Nothing here panics on any input: every length is checked against the buffer before use, every loop is
//!   bounded by the input, and malformed input yields an [`Error`].
//! - Paths are at most [`MAX_PATH_BYTES`] long; a node is at most `u16::MAX` bytes.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;

mod acpi;
mod error;
mod from_text;
pub mod guid;
mod hardware;
mod media;
mod messaging;
mod network;
pub mod node;
mod text;
mod to_text;
pub mod utilities;
mod vendor;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use from_text::{text_to_node, text_to_path};
pub use guid::Guid;
pub use node::{path_size, Node, Nodes};
pub use to_text::{node_to_text, path_to_text};

/// Longest device path (in bytes, end node included) any function here reads or builds: a sanity bound against
/// runaway input; real paths are a few hundred bytes.
pub const MAX_PATH_BYTES: usize = 64 * 1024;

/// The two switches of `ConvertDeviceNodeToText`/`ConvertDevicePathToText` (UEFI 2.10 section 10.6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// `DisplayOnly`: shorter forms for display are allowed; the text may not read back to the same bytes.
    pub display_only: bool,
    /// `AllowShortcuts`: shortcut keywords (`PciRoot`, `VenPcAnsi`, ...) are allowed.
    pub allow_shortcuts: bool,
}

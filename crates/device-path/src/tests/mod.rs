//! Host tests: golden texts per node type, binary/text round trips (proptest), malformed input, utilities.

mod golden;
mod malformed;
mod roundtrip;
mod utilities;

use alloc::string::String;
use alloc::vec::Vec;

use crate::TextOptions;

/// Lossless text (what a caller passing `FALSE, FALSE` gets).
pub const PLAIN: TextOptions = TextOptions {
    display_only: false,
    allow_shortcuts: false,
};
/// Shortcut keywords allowed, still lossless.
pub const SHORT: TextOptions = TextOptions {
    display_only: false,
    allow_shortcuts: true,
};
/// Display forms and shortcuts (what the UEFI shell uses).
pub const DISPLAY: TextOptions = TextOptions {
    display_only: true,
    allow_shortcuts: true,
};

/// Text of the path `text` reads as, with `opts`.
pub fn reformat(text: &str, opts: TextOptions) -> String {
    let bytes = crate::text_to_path(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    crate::path_to_text(&bytes, opts).unwrap()
}

/// Bytes from a hex string with optional spaces.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    crate::text::parse_hex(&digits).expect("test hex")
}

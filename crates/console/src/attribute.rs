//! EFI text attributes (UEFI 2.10 section 12.4.7, `SetAttribute`) as ANSI SGR sequences (ECMA-48 8.3.117).
//!
//! An attribute is `foreground | background << 4`: foreground 0-15 (bit 3 = bright), background 0-7; bits above
//! 6 are reserved. EFI orders its eight colours black, blue, green, cyan, red, magenta, brown, light gray; ANSI
//! orders them black, red, green, yellow, blue, magenta, cyan, white, so blue and red (and cyan and brown) swap.
//! A bright foreground is sent as bold (SGR 1) with the normal colour, which every VT100-descended terminal
//! renders brighter; the background has no bright half in EFI.

use crate::sink::Sink;

/// Highest valid attribute (`EFI_TEXT_ATTR(EFI_WHITE, EFI_LIGHTGRAY)`).
pub const MAX: usize = 0x7f;
/// The attribute after reset: light gray on black.
pub const DEFAULT: u8 = 0x07;

/// ANSI colour number of each EFI colour 0-7.
const ANSI_OF_EFI: [u8; 8] = [0, 4, 2, 6, 1, 5, 3, 7];

/// Writes the SGR sequence that selects `attribute` from any previous state: reset, bold for a bright
/// foreground, foreground, background. Example: `0x1F` (white on blue) is `ESC [ 0 ; 1 ; 3 7 ; 4 4 m`.
pub fn write_sgr(attribute: u8, out: &mut impl Sink) {
    let fg = attribute & 0x0f;
    let bg = (attribute >> 4) & 0x07;
    out.put(b"\x1b[0;");
    if fg & 0x08 != 0 {
        out.put(b"1;");
    }
    out.put(&[
        b'3',
        b'0' + ANSI_OF_EFI[usize::from(fg & 7)],
        b';',
        b'4',
        b'0' + ANSI_OF_EFI[usize::from(bg)],
        b'm',
    ]);
}

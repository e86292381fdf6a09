//! A text screen on a terminal (UEFI 2.10 section 12.4, Simple Text Output): what `OutputString` sends for a
//! UCS-2 string and where the cursor ends up, and the ANSI sequences of the other members.
//!
//! # Output rules (`OutputString`, section 12.4.3)
//! - Text goes out as UTF-8: box drawing, block elements and every other BMP character unchanged; a surrogate
//!   pair as the one character it encodes.
//! - A lone surrogate, U+FFFE or U+FFFF is written as U+FFFD and counts as an unknown glyph; other control
//!   characters (C0 except the four below, DEL, C1) are skipped and count as unknown glyphs. The markers
//!   `NARROW_CHAR` (U+FFF1) and `WIDE_CHAR` (U+FFF2) are skipped silently: the terminal decides glyph widths.
//! - `CHAR_NULL` ends the string (the caller stops there), `CHAR_BACKSPACE` moves left unless at column 0,
//!   `CHAR_LINEFEED` moves down one row (at the last row the terminal scrolls and the row stays),
//!   `CHAR_CARRIAGE_RETURN` moves to column 0; they are sent as themselves. A tab advances to the next multiple
//!   of 8 columns with spaces.
//! - A character advances the cursor by its width ([`crate::width`]). Writing the last column wraps at once:
//!   the cursor goes to column 0 of the next row (scrolling at the last row) and `CR LF` is sent, so a terminal
//!   of exactly this width (which holds the cursor in the last column until the next character) and a wider
//!   one both stay in step. A wide character that does not fit in the last column wraps first.
//!
//! # Modes
//! [`MODES`]: 0 = 80x25 and 1 = 80x50 as the specification requires of modes 0 and 1, and 2 = 100x31. A serial
//! terminal cannot report its size, so the mode is the geometry the cursor arithmetic assumes.

use crate::attribute::{self, write_sgr};
use crate::sink::Sink;
use crate::width;

/// A text mode: columns and rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextMode {
    /// Columns (characters per row).
    pub columns: u16,
    /// Rows.
    pub rows: u16,
}

/// The text modes, by mode number.
pub const MODES: [TextMode; 3] = [
    TextMode {
        columns: 80,
        rows: 25,
    },
    TextMode {
        columns: 80,
        rows: 50,
    },
    TextMode {
        columns: 100,
        rows: 31,
    },
];

/// Tab stops every this many columns.
const TAB: u16 = 8;
const NARROW_CHAR: char = '\u{fff1}';
const WIDE_CHAR: char = '\u{fff2}';

/// A request the screen cannot honour: the specification's `EFI_UNSUPPORTED` (a mode number above the last
/// mode, a cursor position outside the mode, an attribute with reserved bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported;

/// What one `OutputString` call met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Written {
    /// Some character could not be shown as itself (`EFI_WARN_UNKNOWN_GLYPH`).
    pub unknown_glyph: bool,
}

/// One decoded unit of output.
enum Glyph {
    Print(char),
    Replacement,
    Skip,
    Unknown,
    Backspace,
    LineFeed,
    CarriageReturn,
    Tab,
}

fn classify(decoded: Result<char, core::char::DecodeUtf16Error>) -> Glyph {
    match decoded {
        Err(_) | Ok('\u{fffe}' | '\u{ffff}') => Glyph::Replacement,
        Ok('\u{8}') => Glyph::Backspace,
        Ok('\n') => Glyph::LineFeed,
        Ok('\r') => Glyph::CarriageReturn,
        Ok('\t') => Glyph::Tab,
        Ok(NARROW_CHAR | WIDE_CHAR) => Glyph::Skip,
        Ok(c) if c.is_control() => Glyph::Unknown,
        Ok(c) => Glyph::Print(c),
    }
}

/// Writes `value` in decimal.
fn put_decimal(out: &mut impl Sink, value: u16) {
    let mut digits = [0u8; 5];
    let mut at = digits.len();
    let mut v = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put(&digits[at..]);
}

/// The state of the screen: mode, cursor, attribute, cursor visibility (the `EFI_SIMPLE_TEXT_OUTPUT_MODE`
/// fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screen {
    mode: usize,
    column: u16,
    row: u16,
    attribute: u8,
    cursor_visible: bool,
}

impl Default for Screen {
    fn default() -> Self {
        Self::new()
    }
}

impl Screen {
    /// Mode 0, cursor at (0, 0), light gray on black, cursor visible.
    pub const fn new() -> Screen {
        Screen {
            mode: 0,
            column: 0,
            row: 0,
            attribute: attribute::DEFAULT,
            cursor_visible: true,
        }
    }

    /// `QueryMode`: the geometry of mode `number`, or [`Unsupported`].
    pub fn query_mode(number: usize) -> Result<TextMode, Unsupported> {
        MODES.get(number).copied().ok_or(Unsupported)
    }

    /// The current mode number (`Mode->Mode`).
    pub fn mode(&self) -> usize {
        self.mode
    }

    /// The current mode's geometry.
    pub fn text_mode(&self) -> TextMode {
        MODES[self.mode]
    }

    /// The cursor as (column, row), both from 0 (`Mode->CursorColumn`, `Mode->CursorRow`).
    pub fn cursor(&self) -> (u16, u16) {
        (self.column, self.row)
    }

    /// The current attribute (`Mode->Attribute`).
    pub fn attribute(&self) -> u8 {
        self.attribute
    }

    /// Whether the cursor is shown (`Mode->CursorVisible`).
    pub fn cursor_visible(&self) -> bool {
        self.cursor_visible
    }

    /// Sets the tracked cursor without sending anything: for where the terminal is known to be (e.g. after the
    /// firmware's own log lines). Values are clamped to the mode.
    pub fn assume_cursor(&mut self, column: u16, row: u16) {
        let mode = self.text_mode();
        self.column = column.min(mode.columns - 1);
        self.row = row.min(mode.rows - 1);
    }

    fn next_row(&mut self) {
        self.column = 0;
        self.row = (self.row + 1).min(self.text_mode().rows - 1);
    }

    fn print(&mut self, c: char, out: &mut impl Sink) {
        let columns = self.text_mode().columns;
        let w = width::columns(c);
        if w == 2 && self.column + 2 > columns {
            out.put(b"\r\n");
            self.next_row();
        }
        let mut utf8 = [0u8; 4];
        out.put(c.encode_utf8(&mut utf8).as_bytes());
        self.column += w;
        if self.column >= columns {
            out.put(b"\r\n");
            self.next_row();
        }
    }

    /// `OutputString` for the code units `text` (without the terminating NUL; a surrogate pair must not be split
    /// between two calls): sends the terminal bytes to `out` and moves the cursor (see the module notes).
    pub fn output(&mut self, text: &[u16], out: &mut impl Sink) -> Written {
        let mut written = Written::default();
        for decoded in char::decode_utf16(text.iter().copied()) {
            match classify(decoded) {
                Glyph::Print(c) => self.print(c, out),
                Glyph::Replacement => {
                    written.unknown_glyph = true;
                    self.print(char::REPLACEMENT_CHARACTER, out);
                }
                Glyph::Unknown => written.unknown_glyph = true,
                Glyph::Skip => {}
                Glyph::Backspace => {
                    if self.column > 0 {
                        out.put(b"\x08");
                        self.column -= 1;
                    }
                }
                Glyph::LineFeed => {
                    out.put(b"\n");
                    self.row = (self.row + 1).min(self.text_mode().rows - 1);
                }
                Glyph::CarriageReturn => {
                    out.put(b"\r");
                    self.column = 0;
                }
                Glyph::Tab => {
                    for _ in 0..TAB - self.column % TAB {
                        self.print(' ', out);
                    }
                }
            }
        }
        written
    }

    /// `TestString`: true when every character of `text` can be shown (no lone surrogate, no control character
    /// other than backspace, line feed, carriage return and tab, no noncharacter U+FFFE/U+FFFF).
    pub fn test_string(text: &[u16]) -> bool {
        char::decode_utf16(text.iter().copied())
            .all(|d| !matches!(classify(d), Glyph::Replacement | Glyph::Unknown))
    }

    /// `SetMode`: switches to mode `number`, clears the screen and homes the cursor.
    pub fn set_mode(&mut self, number: usize, out: &mut impl Sink) -> Result<(), Unsupported> {
        Self::query_mode(number)?;
        self.mode = number;
        self.clear(out);
        Ok(())
    }

    /// `ClearScreen`: erases the display in the current background colour (`ESC [ 2 J`) and homes the cursor
    /// (`ESC [ H`).
    pub fn clear(&mut self, out: &mut impl Sink) {
        out.put(b"\x1b[2J\x1b[H");
        self.column = 0;
        self.row = 0;
    }

    /// `SetCursorPosition`: `ESC [ row+1 ; column+1 H`. Errors: [`Unsupported`] outside the current mode.
    pub fn set_cursor(
        &mut self,
        column: usize,
        row: usize,
        out: &mut impl Sink,
    ) -> Result<(), Unsupported> {
        let mode = self.text_mode();
        if column >= usize::from(mode.columns) || row >= usize::from(mode.rows) {
            return Err(Unsupported);
        }
        // Both fit in u16: they are below the mode's u16 bounds.
        let (column, row) = (column as u16, row as u16);
        out.put(b"\x1b[");
        put_decimal(out, row + 1);
        out.put(b";");
        put_decimal(out, column + 1);
        out.put(b"H");
        self.column = column;
        self.row = row;
        Ok(())
    }

    /// `EnableCursor`: `ESC [ ? 25 h` (show) or `ESC [ ? 25 l` (hide).
    pub fn enable_cursor(&mut self, visible: bool, out: &mut impl Sink) {
        out.put(if visible { b"\x1b[?25h" } else { b"\x1b[?25l" });
        self.cursor_visible = visible;
    }

    /// `SetAttribute`: selects foreground and background ([`crate::attribute`]). Errors: [`Unsupported`] when a
    /// reserved bit (above bit 6) is set.
    pub fn set_attribute(
        &mut self,
        attribute: usize,
        out: &mut impl Sink,
    ) -> Result<(), Unsupported> {
        if attribute > attribute::MAX {
            return Err(Unsupported);
        }
        self.attribute = attribute as u8;
        write_sgr(self.attribute, out);
        Ok(())
    }

    /// `Reset`: the default attribute, the cursor shown, the screen cleared and the cursor at (0, 0); the mode
    /// stays.
    pub fn reset(&mut self, out: &mut impl Sink) {
        self.attribute = attribute::DEFAULT;
        write_sgr(self.attribute, out);
        self.enable_cursor(true, out);
        self.clear(out);
    }
}

/// How many of the first `max` units of `text` can go to one [`Screen::output`] call without splitting a
/// surrogate pair (at least 1 when `text` is not empty).
pub fn chunk_len(text: &[u16], max: usize) -> usize {
    let len = text.len().min(max.max(2));
    let high = |u: u16| (0xd800..0xdc00).contains(&u);
    if len < text.len() && len > 1 && high(text[len - 1]) {
        len - 1
    } else {
        len
    }
}

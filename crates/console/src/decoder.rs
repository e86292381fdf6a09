//! Terminal input to EFI keys: what a VT100/xterm-style terminal (or a Linux console, or a pipe) sends when keys
//! are pressed.
//!
//! | bytes | key |
//! |---|---|
//! | printable ASCII, UTF-8 sequences of BMP characters | that character |
//! | `CR`, `LF` (an `LF` right after a `CR` is dropped) | `CHAR_CARRIAGE_RETURN` |
//! | `DEL` (0x7F), `BS` (0x08) | `CHAR_BACKSPACE` |
//! | `TAB` and other control characters (Ctrl+letter) | that control character |
//! | `ESC [ A`/`B`/`C`/`D`/`H`/`F`, also with `ESC O` | Up, Down, Right, Left, Home, End |
//! | `ESC [ n ~`: 1/7 Home, 2 Insert, 3 Delete, 4/8 End, 5 PgUp, 6 PgDn, 11-15, 17-21, 23-26, 28-29, 31-34 | F1-F20 as numbered by xterm |
//! | `ESC O P`..`S`, `ESC [ P`..`S`, `ESC [ [ A`..`E` (Linux console) | F1-F4, F1-F5 |
//! | `ESC [ Z` | Shift+Tab |
//! | `ESC O` + keypad final (`M`, `j`..`y`, `X`) | Enter, `*+,-./`, digits, `=` |
//! | `ESC [ 1 ; m X`, `ESC [ n ; m ~` (xterm modifiers, m = 1 + Shift 1, Alt 2, Ctrl 4, Meta 8) | the key with `KeyShiftState` |
//! | `ESC` + a character or control character | that key with Alt |
//! | `ESC` alone for [`ESC_TIMEOUT_US`] | `SCAN_ESC` |
//!
//! Sequences the table does not name (bracketed paste markers, focus reports, private modes) are consumed and
//! dropped, as are invalid UTF-8 and characters outside the BMP (`UnicodeChar` is one UCS-2 unit).

use crate::keys::{chars, scan, shift, Key};

/// How long a lone `ESC` (or an unfinished sequence) waits for more bytes before it counts as the Escape key,
/// in microseconds. Terminals send a whole sequence in one write, so its bytes arrive together.
pub const ESC_TIMEOUT_US: u64 = 100_000;

const ESC: u8 = 0x1b;
/// Longest escape sequence kept; longer ones are dropped.
const MAX_SEQUENCE: usize = 16;

/// The decoder state: an unfinished escape sequence or UTF-8 character, and when its last byte came.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    pending: [u8; MAX_SEQUENCE],
    len: usize,
    last_byte_us: u64,
    after_cr: bool,
    /// An overlong sequence is being skipped up to its final byte.
    skipping: bool,
}

/// The key of a single byte outside any sequence (no CR/LF pairing).
fn byte_key(byte: u8) -> Option<Key> {
    match byte {
        b'\r' | b'\n' => Some(Key::char(chars::CARRIAGE_RETURN)),
        0x7f | 0x08 => Some(Key::char(chars::BACKSPACE)),
        0x01..=0x7e => Some(Key::char(u16::from(byte))),
        _ => None,
    }
}

/// `KeyShiftState` bits of an xterm modifier parameter (1 + bit mask).
fn xterm_modifiers(parameter: u16) -> u32 {
    let mask = parameter.saturating_sub(1);
    let mut bits = 0;
    for (bit, state) in [
        (1, shift::LEFT_SHIFT),
        (2, shift::LEFT_ALT),
        (4, shift::LEFT_CONTROL),
        (8, shift::LEFT_LOGO),
    ] {
        if mask & bit != 0 {
            bits |= state;
        }
    }
    bits
}

/// The function key of an xterm `ESC [ n ~` number.
fn tilde_key(n: u16) -> Option<u16> {
    Some(match n {
        1 | 7 => scan::HOME,
        2 => scan::INSERT,
        3 => scan::DELETE,
        4 | 8 => scan::END,
        5 => scan::PAGE_UP,
        6 => scan::PAGE_DOWN,
        11..=15 => scan::F1 + (n - 11),
        17..=21 => scan::F1 + 5 + (n - 17),
        23 | 24 => scan::F11 + (n - 23),
        25 | 26 => scan::F13 + (n - 25),
        28 | 29 => scan::F13 + 2 + (n - 28),
        31..=34 => scan::F13 + 4 + (n - 31),
        _ => return None,
    })
}

/// The key of a final byte shared by `ESC [` and `ESC O` (cursor keys, Home/End, F1-F4).
fn letter_key(final_byte: u8) -> Option<u16> {
    Some(match final_byte {
        b'A' => scan::UP,
        b'B' => scan::DOWN,
        b'C' => scan::RIGHT,
        b'D' => scan::LEFT,
        b'H' => scan::HOME,
        b'F' => scan::END,
        b'P'..=b'S' => scan::F1 + u16::from(final_byte - b'P'),
        _ => return None,
    })
}

/// The character of an `ESC O` keypad final in application keypad mode.
fn keypad_char(final_byte: u8) -> Option<u16> {
    Some(match final_byte {
        b'M' => chars::CARRIAGE_RETURN,
        b'X' => u16::from(b'='),
        b'j'..=b'o' => u16::from(b"*+,-./"[usize::from(final_byte - b'j')]),
        b'p'..=b'y' => u16::from(b'0' + (final_byte - b'p')),
        _ => return None,
    })
}

/// Parses `n;m;...` parameters (at most 4, each saturating at `u16::MAX`); `None` for anything else (private
/// markers, intermediates).
fn parameters(bytes: &[u8]) -> Option<[Option<u16>; 4]> {
    let mut out = [None; 4];
    if bytes.is_empty() {
        return Some(out);
    }
    for (slot, part) in bytes.split(|&b| b == b';').enumerate() {
        if slot >= out.len() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if !part.is_empty() {
            let value = part.iter().fold(0u16, |v, &d| {
                v.saturating_mul(10).saturating_add(u16::from(d - b'0'))
            });
            out[slot] = Some(value);
        }
    }
    Some(out)
}

/// Decodes a complete `ESC intro params final` sequence.
fn sequence_key(intro: u8, params: &[u8], final_byte: u8) -> Option<Key> {
    let p = parameters(params)?;
    let modifiers = p[1].map_or(0, xterm_modifiers);
    let key = match (intro, final_byte) {
        (b'[', b'~') => Key::scan(tilde_key(p[0]?)?),
        (b'[', b'Z') => Key::char(chars::TAB).with_shift(shift::LEFT_SHIFT),
        (b'O', f) if keypad_char(f).is_some() => Key::char(keypad_char(f)?),
        (_, f) => Key::scan(letter_key(f)?),
    };
    Some(key.with_shift(modifiers))
}

impl Decoder {
    /// A decoder with nothing pending.
    pub const fn new() -> Decoder {
        Decoder {
            pending: [0; MAX_SEQUENCE],
            len: 0,
            last_byte_us: 0,
            after_cr: false,
            skipping: false,
        }
    }

    /// True while an escape sequence or UTF-8 character is unfinished (the caller keeps calling
    /// [`Decoder::poll`] so a lone `ESC` is reported).
    pub fn is_pending(&self) -> bool {
        self.len > 0 || self.skipping
    }

    /// Forgets anything unfinished (`Reset`).
    pub fn reset(&mut self) {
        *self = Decoder::new();
    }

    /// Feeds one byte received at `now_us` (microseconds, any monotonic origin); decoded keys go to `emit`.
    pub fn push(&mut self, byte: u8, now_us: u64, emit: &mut impl FnMut(Key)) {
        self.last_byte_us = now_us;
        if self.skipping {
            match byte {
                0x20..=0x3f => return,
                0x40..=0x7e => {
                    self.skipping = false;
                    return;
                }
                _ => self.skipping = false,
            }
        }
        if self.len == 0 {
            self.fresh(byte, emit);
        } else if self.pending[0] == ESC {
            self.escape(byte, emit);
        } else {
            self.utf8(byte, emit);
        }
    }

    /// Reports what waited too long: a lone `ESC` as `SCAN_ESC`, `ESC [` / `ESC O` as Alt+`[` / Alt+`O`;
    /// other unfinished input is dropped. Call periodically with the current time.
    pub fn poll(&mut self, now_us: u64, emit: &mut impl FnMut(Key)) {
        if now_us.saturating_sub(self.last_byte_us) < ESC_TIMEOUT_US {
            return;
        }
        self.skipping = false;
        if self.len == 0 {
            return;
        }
        match self.pending[..self.len] {
            [ESC] => emit(Key::scan(scan::ESC)),
            [ESC, intro @ (b'[' | b'O')] => {
                emit(Key::char(u16::from(intro)).with_shift(shift::LEFT_ALT))
            }
            _ => {}
        }
        self.len = 0;
    }

    fn start(&mut self, byte: u8) {
        self.pending[0] = byte;
        self.len = 1;
    }

    /// Appends a byte of an escape sequence or UTF-8 character; an escape sequence too long to keep is skipped
    /// up to its final byte.
    fn keep(&mut self, byte: u8) {
        if self.len < MAX_SEQUENCE {
            self.pending[self.len] = byte;
            self.len += 1;
        } else {
            self.len = 0;
            self.skipping = true;
        }
    }

    /// A byte outside any sequence.
    fn fresh(&mut self, byte: u8, emit: &mut impl FnMut(Key)) {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            ESC | 0xc2..=0xf4 => self.start(byte),
            b'\n' if after_cr => {}
            _ => {
                if let Some(key) = byte_key(byte) {
                    emit(key);
                }
            }
        }
    }

    /// A byte after `ESC`.
    fn escape(&mut self, byte: u8, emit: &mut impl FnMut(Key)) {
        if self.len == 1 {
            match byte {
                b'[' | b'O' => self.keep(byte),
                ESC => emit(Key::scan(scan::ESC)),
                _ => {
                    self.len = 0;
                    match byte_key(byte) {
                        Some(key) => emit(key.with_shift(shift::LEFT_ALT)),
                        None => {
                            emit(Key::scan(scan::ESC));
                            self.fresh(byte, emit);
                        }
                    }
                }
            }
            return;
        }
        let intro = self.pending[1];
        // Linux console F1-F5: ESC [ [ A..E.
        if intro == b'[' && self.len == 2 && byte == b'[' {
            self.keep(byte);
            return;
        }
        if self.len == 3 && self.pending[2] == b'[' {
            self.len = 0;
            if let b'A'..=b'E' = byte {
                emit(Key::scan(scan::F1 + u16::from(byte - b'A')));
            }
            return;
        }
        match byte {
            0x20..=0x3f => self.keep(byte),
            0x40..=0x7e => {
                let len = self.len;
                self.len = 0;
                if let Some(key) = sequence_key(intro, &self.pending[2..len], byte) {
                    emit(key);
                }
            }
            ESC => self.start(ESC),
            _ => self.len = 0,
        }
    }

    /// A byte after a UTF-8 lead byte.
    fn utf8(&mut self, byte: u8, emit: &mut impl FnMut(Key)) {
        if !(0x80..=0xbf).contains(&byte) {
            self.len = 0;
            self.fresh(byte, emit);
            return;
        }
        self.keep(byte);
        let needed = match self.pending[0] {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        if self.len < needed {
            return;
        }
        let len = core::mem::take(&mut self.len);
        let decoded = core::str::from_utf8(&self.pending[..len])
            .ok()
            .and_then(|s| s.chars().next());
        if let Some(unit) = decoded.and_then(|c| u16::try_from(u32::from(c)).ok()) {
            emit(Key::char(unit));
        }
    }
}

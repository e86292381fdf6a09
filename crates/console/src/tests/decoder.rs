//! Terminal bytes to EFI keys.

use proptest::prelude::*;
use std::vec::Vec;

use crate::decoder::{Decoder, ESC_TIMEOUT_US};
use crate::keys::{chars, scan, shift, Key};

/// Keys from `bytes` arriving at time 0, then after the escape timeout.
fn keys(bytes: &[u8]) -> Vec<Key> {
    let mut d = Decoder::new();
    let mut got = Vec::new();
    for &b in bytes {
        d.push(b, 0, &mut |k| got.push(k));
    }
    d.poll(ESC_TIMEOUT_US, &mut |k| got.push(k));
    assert!(!d.is_pending());
    got
}

fn c(ch: char) -> Key {
    Key::char(ch as u16)
}

#[test]
fn characters_and_control_keys() {
    assert_eq!(keys(b"aZ~ "), [c('a'), c('Z'), c('~'), c(' ')]);
    assert_eq!(keys(b"\r"), [Key::char(chars::CARRIAGE_RETURN)]);
    // CR LF is one Enter; LF alone is Enter too.
    assert_eq!(keys(b"\r\n\n"), [Key::char(13), Key::char(13)]);
    assert_eq!(keys(b"\x7f\x08"), [Key::char(chars::BACKSPACE); 2]);
    assert_eq!(keys(b"\t\x03\x00"), [Key::char(chars::TAB), Key::char(3)]);
    // UTF-8: ä and a box-drawing character; a 4-byte character has no UCS-2 unit and is dropped.
    assert_eq!(keys("ä─😀x".as_bytes()), [c('ä'), c('─'), c('x')]);
    // Invalid UTF-8 is dropped without losing the next character.
    assert_eq!(keys(b"\xc3x\xe0\x80\x80y\x80"), [c('x'), c('y')]);
}

#[test]
fn cursor_and_editing_keys() {
    let table: [(&[u8], u16); 16] = [
        (b"\x1b[A", scan::UP),
        (b"\x1b[B", scan::DOWN),
        (b"\x1b[C", scan::RIGHT),
        (b"\x1b[D", scan::LEFT),
        (b"\x1bOA", scan::UP),
        (b"\x1b[H", scan::HOME),
        (b"\x1b[F", scan::END),
        (b"\x1bOH", scan::HOME),
        (b"\x1b[1~", scan::HOME),
        (b"\x1b[2~", scan::INSERT),
        (b"\x1b[3~", scan::DELETE),
        (b"\x1b[4~", scan::END),
        (b"\x1b[5~", scan::PAGE_UP),
        (b"\x1b[6~", scan::PAGE_DOWN),
        (b"\x1b[7~", scan::HOME),
        (b"\x1b[8~", scan::END),
    ];
    for (bytes, code) in table {
        assert_eq!(keys(bytes), [Key::scan(code)], "{bytes:?}");
    }
}

#[test]
fn function_keys_in_every_encoding() {
    let f = |n: u16| {
        Key::scan(if n <= 10 {
            scan::F1 + n - 1
        } else if n <= 12 {
            scan::F11 + n - 11
        } else {
            scan::F13 + n - 13
        })
    };
    for (i, fin) in [b'P', b'Q', b'R', b'S'].into_iter().enumerate() {
        let n = i as u16 + 1;
        assert_eq!(keys(&[0x1b, b'O', fin]), [f(n)]);
        assert_eq!(keys(&[0x1b, b'[', fin]), [f(n)]);
    }
    for (i, fin) in (b'A'..=b'E').enumerate() {
        assert_eq!(keys(&[0x1b, b'[', b'[', fin]), [f(i as u16 + 1)]);
    }
    let tilde = [
        (11, 1),
        (15, 5),
        (17, 6),
        (21, 10),
        (23, 11),
        (24, 12),
        (25, 13),
        (29, 16),
        (34, 20),
    ];
    for (code, n) in tilde {
        let seq = format!("\x1b[{code}~");
        assert_eq!(keys(seq.as_bytes()), [f(n)], "{seq:?}");
    }
    assert_eq!(f(12), Key::scan(0x16));
    assert_eq!(f(20), Key::scan(0x6f));
}

#[test]
fn modifiers_from_xterm_sequences_and_alt_prefix() {
    let ctrl = shift::VALID | shift::LEFT_CONTROL;
    assert_eq!(
        keys(b"\x1b[1;5A"),
        [Key::scan(scan::UP).with_shift(shift::LEFT_CONTROL)]
    );
    assert_eq!(keys(b"\x1b[1;5A")[0].shift_state, ctrl);
    assert_eq!(
        keys(b"\x1b[3;2~"),
        [Key::scan(scan::DELETE).with_shift(shift::LEFT_SHIFT)]
    );
    assert_eq!(
        keys(b"\x1b[1;8P")[0].shift_state,
        shift::VALID | shift::LEFT_SHIFT | shift::LEFT_ALT | shift::LEFT_CONTROL
    );
    assert_eq!(
        keys(b"\x1b[Z"),
        [Key::char(chars::TAB).with_shift(shift::LEFT_SHIFT)]
    );
    assert_eq!(keys(b"\x1bx"), [c('x').with_shift(shift::LEFT_ALT)]);
    assert_eq!(keys(b"\x1b\r"), [Key::char(13).with_shift(shift::LEFT_ALT)]);
}

#[test]
fn lone_escape_after_the_timeout() {
    let mut d = Decoder::new();
    let mut got = Vec::new();
    d.push(0x1b, 1_000, &mut |k| got.push(k));
    d.poll(1_000 + ESC_TIMEOUT_US - 1, &mut |k| got.push(k));
    assert!(got.is_empty() && d.is_pending());
    d.poll(1_000 + ESC_TIMEOUT_US, &mut |k| got.push(k));
    assert_eq!(got, [Key::scan(scan::ESC)]);
    assert!(!d.is_pending());
    // ESC ESC: the first is the Escape key at once, the second waits.
    assert_eq!(keys(b"\x1b\x1b"), [Key::scan(scan::ESC); 2]);
    assert_eq!(
        keys(b"\x1b\x1b[A"),
        [Key::scan(scan::ESC), Key::scan(scan::UP)]
    );
    // ESC [ alone is Alt+[ after the timeout.
    assert_eq!(keys(b"\x1b["), [c('[').with_shift(shift::LEFT_ALT)]);
    // An unfinished sequence with parameters is dropped.
    assert_eq!(keys(b"\x1b[12"), []);
}

#[test]
fn keypad_and_ignored_sequences() {
    assert_eq!(
        keys(b"\x1bOp\x1bOy\x1bOM\x1bOk"),
        [c('0'), c('9'), Key::char(13), c('+')]
    );
    // Bracketed paste markers, focus reports and private-mode replies are consumed.
    assert_eq!(keys(b"\x1b[200~ab\x1b[201~"), [c('a'), c('b')]);
    assert_eq!(keys(b"\x1b[I\x1b[?1;2c\x1b[99~z"), [c('z')]);
    // An overlong sequence is dropped and what follows decodes.
    assert_eq!(keys(b"\x1b[1111111111111111111111A q"), [c(' '), c('q')]);
    let mut d = Decoder::new();
    d.push(0x1b, 0, &mut |_| {});
    d.reset();
    assert!(!d.is_pending());
}

proptest! {
    #[test]
    fn any_bytes_decode_without_panic_and_settle(
        bytes in proptest::collection::vec(any::<u8>(), 0..200)
    ) {
        let got = keys(&bytes);
        for k in got {
            prop_assert!(k.scan_code != 0 || k.unicode_char != 0);
        }
    }

    #[test]
    fn printable_ascii_is_itself(text in "[ -~]{0,50}") {
        // Without ESC every printable byte is its own key.
        let want: Vec<Key> = text.bytes().map(|b| Key::char(u16::from(b))).collect();
        prop_assert_eq!(keys(text.as_bytes()), want);
    }
}

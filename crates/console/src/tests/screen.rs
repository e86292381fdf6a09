//! `OutputString` bytes and cursor tracking, and the ANSI sequences of the other Simple Text Output members.

use proptest::prelude::*;
use std::vec::Vec;

use crate::screen::{chunk_len, Screen, Unsupported, Written, MODES};
use crate::sink::ByteBuf;

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// Output `text` on `screen`; the bytes sent and what was met.
fn out(screen: &mut Screen, text: &[u16]) -> (Vec<u8>, Written) {
    let mut buf = ByteBuf::<8192>::new();
    let written = screen.output(text, &mut buf);
    assert_eq!(buf.dropped(), 0);
    (buf.as_bytes().to_vec(), written)
}

#[test]
fn ascii_and_line_ends() {
    let mut s = Screen::new();
    let (bytes, w) = out(&mut s, &units("Hi\r\nthere"));
    assert_eq!(bytes, b"Hi\r\nthere");
    assert_eq!(w, Written::default());
    assert_eq!(s.cursor(), (5, 1));
    // A line feed alone keeps the column (the terminal gets LF without CR).
    let (bytes, _) = out(&mut s, &units("\n"));
    assert_eq!(bytes, b"\n");
    assert_eq!(s.cursor(), (5, 2));
}

#[test]
fn box_drawing_blocks_and_surrogate_pairs_pass_as_utf8() {
    let mut s = Screen::new();
    let (bytes, w) = out(&mut s, &units("┌─█▒"));
    assert_eq!(bytes, "┌─█▒".as_bytes());
    assert!(!w.unknown_glyph);
    assert_eq!(s.cursor(), (4, 0));
    // U+1F600 is a surrogate pair in UCS-2/UTF-16 and two columns wide.
    let (bytes, _) = out(&mut s, &[0xd83d, 0xde00]);
    assert_eq!(bytes, [0xf0, 0x9f, 0x98, 0x80]);
    assert_eq!(s.cursor(), (6, 0));
    // A combining accent takes no column.
    out(&mut s, &units("e\u{301}"));
    assert_eq!(s.cursor(), (7, 0));
}

#[test]
fn invalid_units_and_controls() {
    let mut s = Screen::new();
    let (bytes, w) = out(&mut s, &[u16::from(b'a'), 0xd800, u16::from(b'b'), 0xdc00]);
    assert_eq!(bytes, "a\u{fffd}b\u{fffd}".as_bytes());
    assert!(w.unknown_glyph);
    assert_eq!(s.cursor(), (4, 0));
    // ESC and other control characters are skipped: an application cannot inject sequences.
    let (bytes, w) = out(&mut s, &[0x1b, u16::from(b'['), 0x01, 0x7f, 0x9b]);
    assert_eq!(bytes, b"[");
    assert!(w.unknown_glyph);
    // WIDE_CHAR / NARROW_CHAR markers are skipped silently.
    let (bytes, w) = out(&mut s, &[0xfff2, u16::from(b'x'), 0xfff1]);
    assert_eq!(bytes, b"x");
    assert!(!w.unknown_glyph);
    assert!(Screen::test_string(&units("ok ┌─┐ é\r\n\t")));
    assert!(!Screen::test_string(&[0xd800]));
    assert!(!Screen::test_string(&[0x1b]));
    assert!(!Screen::test_string(&[0xffff]));
}

#[test]
fn backspace_and_tab() {
    let mut s = Screen::new();
    let (bytes, _) = out(&mut s, &units("\u{8}ab\u{8}"));
    assert_eq!(bytes, b"ab\x08");
    assert_eq!(s.cursor(), (1, 0));
    let (bytes, _) = out(&mut s, &units("\tc"));
    assert_eq!(bytes, b"       c");
    assert_eq!(s.cursor(), (9, 0));
}

#[test]
fn wrap_at_the_last_column_and_scroll_at_the_last_row() {
    let mut s = Screen::new();
    let line = "x".repeat(80);
    let (bytes, _) = out(&mut s, &units(&line));
    assert_eq!(bytes, [line.as_bytes(), b"\r\n"].concat());
    assert_eq!(s.cursor(), (0, 1));
    // A wide character that does not fit in the last column wraps first.
    out(&mut s, &units(&"y".repeat(79)));
    assert_eq!(s.cursor(), (79, 1));
    let (bytes, _) = out(&mut s, &units("漢"));
    assert_eq!(bytes, [b"\r\n".as_slice(), "漢".as_bytes()].concat());
    assert_eq!(s.cursor(), (2, 2));
    // At the last row the terminal scrolls and the row stays.
    out(&mut s, &units(&"\r\n".repeat(30)));
    assert_eq!(s.cursor(), (0, 24));
    out(&mut s, &units(&line));
    assert_eq!(s.cursor(), (0, 24));
}

#[test]
fn modes_and_cursor_positions() {
    let mut s = Screen::new();
    let mut buf = ByteBuf::<64>::new();
    assert_eq!(Screen::query_mode(0).unwrap(), MODES[0]);
    assert_eq!((MODES[0].columns, MODES[0].rows), (80, 25));
    assert_eq!((MODES[1].columns, MODES[1].rows), (80, 50));
    assert_eq!(Screen::query_mode(3), Err(Unsupported));
    s.set_cursor(79, 24, &mut buf).unwrap();
    assert_eq!(buf.as_bytes(), b"\x1b[25;80H");
    assert_eq!(s.cursor(), (79, 24));
    assert_eq!(s.set_cursor(80, 0, &mut buf), Err(Unsupported));
    assert_eq!(s.set_cursor(0, 25, &mut buf), Err(Unsupported));
    assert_eq!(s.cursor(), (79, 24));
    buf.clear();
    s.set_mode(1, &mut buf).unwrap();
    assert_eq!(buf.as_bytes(), b"\x1b[2J\x1b[H");
    assert_eq!((s.mode(), s.cursor()), (1, (0, 0)));
    s.set_cursor(0, 49, &mut buf).unwrap();
    assert_eq!(s.set_mode(3, &mut buf), Err(Unsupported));
    assert_eq!((s.mode(), s.cursor()), (1, (0, 49)));
    s.set_mode(2, &mut buf).unwrap();
    assert_eq!(s.text_mode().columns, 100);
}

#[test]
fn attributes_cursor_visibility_reset() {
    let mut s = Screen::new();
    let mut buf = ByteBuf::<64>::new();
    // White (bright light gray) on blue.
    s.set_attribute(0x1f, &mut buf).unwrap();
    assert_eq!(buf.as_bytes(), b"\x1b[0;1;37;44m");
    buf.clear();
    // Yellow (bright brown) on red; EFI red is ANSI 1, EFI brown ANSI 3.
    s.set_attribute(0x4e, &mut buf).unwrap();
    assert_eq!(buf.as_bytes(), b"\x1b[0;1;33;41m");
    buf.clear();
    // Cyan on black, not bright.
    s.set_attribute(0x03, &mut buf).unwrap();
    assert_eq!(buf.as_bytes(), b"\x1b[0;36;40m");
    assert_eq!(s.set_attribute(0x80, &mut buf), Err(Unsupported));
    assert_eq!(s.attribute(), 0x03);
    buf.clear();
    s.enable_cursor(false, &mut buf);
    assert_eq!(buf.as_bytes(), b"\x1b[?25l");
    assert!(!s.cursor_visible());
    buf.clear();
    s.set_cursor(3, 3, &mut buf).unwrap();
    buf.clear();
    s.reset(&mut buf);
    assert_eq!(buf.as_bytes(), b"\x1b[0;37;40m\x1b[?25h\x1b[2J\x1b[H");
    assert_eq!(
        (s.attribute(), s.cursor(), s.cursor_visible()),
        (0x07, (0, 0), true)
    );
}

#[test]
fn chunks_never_split_a_surrogate_pair() {
    let text = [0x41, 0xd83d, 0xde00, 0x42];
    assert_eq!(chunk_len(&text, 2), 1);
    assert_eq!(chunk_len(&text, 3), 3);
    assert_eq!(chunk_len(&text, 100), 4);
    assert_eq!(chunk_len(&[0xd83d], 1), 1);
    assert_eq!(chunk_len(&[], 5), 0);
}

proptest! {
    #[test]
    fn any_text_gives_utf8_and_a_cursor_inside_the_mode(
        text in proptest::collection::vec(any::<u16>(), 0..300),
        mode in 0usize..3,
    ) {
        let mut s = Screen::new();
        let mut buf = ByteBuf::<64>::new();
        s.set_mode(mode, &mut buf).unwrap();
        let (bytes, _) = out(&mut s, &text);
        prop_assert!(core::str::from_utf8(&bytes).is_ok());
        let (column, row) = s.cursor();
        prop_assert!(column < MODES[mode].columns && row < MODES[mode].rows);
    }

    #[test]
    fn printable_ascii_wraps_every_80_columns(len in 0usize..3000) {
        let mut s = Screen::new();
        let (bytes, _) = out(&mut s, &units(&"a".repeat(len)));
        prop_assert_eq!(s.cursor(), ((len % 80) as u16, (len / 80).min(24) as u16));
        prop_assert_eq!(bytes.len(), len + 2 * (len / 80));
    }
}

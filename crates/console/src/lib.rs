//! The serial text console behind vmfw's Simple Text Output, Simple Text Input and Simple Text Input Ex protocols
//! (UEFI 2.10 sections 12.2-12.4), as pure state machines the firmware drives with bytes from and to a UART.
//!
//! - [`screen`]: a text screen of a [`screen::TextMode`] that turns `OutputString` UCS-2 into UTF-8 for a
//!   terminal, keeps the cursor position as the specification defines it (wrap at the last column, scroll at the
//!   last row) and emits ANSI sequences for ClearScreen, SetCursorPosition, EnableCursor and SetAttribute
//!   ([`attribute`]).
//! - [`decoder`]: turns the bytes a VT100/xterm-style terminal sends (UTF-8 text, control characters, `ESC [`
//!   and `ESC O` sequences with xterm modifiers) into EFI keys ([`keys`]); a lone ESC becomes `SCAN_ESC` after
//!   [`decoder::ESC_TIMEOUT_US`].
//! - [`keys`]: scan codes, shift-state bits, a fixed-capacity key queue.
//! - [`notify`]: the `RegisterKeyNotify` table and its matching rule.
//!
//! # Design
//! Nothing here allocates: the firmware runs the input side from a timer notification that may interrupt any
//! code, including the Rust allocator, so every buffer is fixed-size ([`sink::ByteBuf`], [`keys::KeyQueue`],
//! [`notify::Registrations`]) and overflow is counted, not grown. Time is passed in (microseconds), so tests
//! drive the escape timeout deterministically.
#![no_std]
#![deny(missing_docs)]

#[cfg(test)]
#[macro_use]
extern crate std;

pub mod attribute;
pub mod decoder;
pub mod keys;
pub mod notify;
pub mod screen;
pub mod sink;
pub mod width;

#[cfg(test)]
mod tests;
